// A container image built here from a recipe folder (a Dockerfile and the files it copies) on top of
// the Debian base (debian-base-image.ts). Its tag carries a hash of the base's parameters and every
// file of the recipe, so a changed recipe builds a new image and an unchanged one is reused. Builds
// of one image are serialized across processes by a lock file; `docker build` tags only on success,
// so a failed build leaves no half-built image behind.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WirelabError } from '../core/errors.ts';
import { docker, ensureDockerEngine, imageExists } from '../runtime/docker-engine.ts';
import { withFileLock } from '../runtime/file-lock.ts';
import { DEBIAN_BASE, ensureDebianBaseImage } from './debian-base-image.ts';

export interface ImageRecipe {
  /** The image's repository name, e.g. wirelab/traffic-host. */
  repository: string;
  /** Folder holding the Dockerfile and the files it copies (ends with /). */
  dir: string;
  /** Lock file serializing builds of this image across processes. */
  lockFile: string;
  /** What the user can run to build it by hand (in the error of a failed build). */
  buildHint: string;
}

const BUILD_BUDGET_MS = 15 * 60_000;

/** Short content hash of the whole recipe: base rootfs parameters and every file of the build context. */
export async function recipeHash(recipe: ImageRecipe): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(DEBIAN_BASE));
  for (const name of (await readdir(recipe.dir)).sort()) hash.update(`\0${name}\0`).update(await readFile(join(recipe.dir, name)));
  return hash.digest('hex').slice(0, 12);
}

export async function recipeImageTag(recipe: ImageRecipe): Promise<string> {
  return `${recipe.repository}:${await recipeHash(recipe)}`;
}

/** The image's local tag, built first if it is missing. */
export async function ensureRecipeImage(recipe: ImageRecipe, onBuild: (tag: string) => void = () => {}): Promise<string> {
  await ensureDockerEngine();
  const tag = await recipeImageTag(recipe);
  if (await imageExists(tag)) return tag;
  // Other processes (parallel test files, other runs) may build the same image: one at a time.
  return withFileLock(recipe.lockFile, { timeoutMs: BUILD_BUDGET_MS, purpose: `another build of ${recipe.repository}` }, async () => {
    if (await imageExists(tag)) return tag;
    onBuild(tag);
    try {
      const base = await ensureDebianBaseImage();
      await docker(
        ['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${base}`, '--label', `wirelab.recipe=${tag}`, '-t', tag, recipe.dir],
        { timeoutMs: BUILD_BUDGET_MS },
      );
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new WirelabError(`The image ${tag} is missing and could not be built: ${why} ${recipe.buildHint}`, { cause: e });
    }
    return tag;
  });
}
