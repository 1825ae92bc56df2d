// The traffic-host container image: a small Debian that wirelab reaches over SSH to inject and capture
// frames, built here from the recipe in images/traffic-host/ (container-image.ts), cached by content.
//
// Build by hand: npx tsx -e "import('./lib/images/traffic-host-image.ts').then(m=>m.ensureTrafficHostImage())"
import { repoPath } from '../core/paths.ts';
import { ensureRecipeImage, recipeHash, recipeImageTag, type ImageRecipe } from './container-image.ts';

/** Directory holding the Dockerfile and the files it copies. */
export const TRAFFIC_HOST_RECIPE_DIR = repoPath('images', 'traffic-host') + '/';

const RECIPE: ImageRecipe = {
  repository: 'wirelab/traffic-host',
  dir: TRAFFIC_HOST_RECIPE_DIR,
  lockFile: '/var/lib/wirelab/locks/traffic-host-image.lock',
  buildHint:
    `Fix: on a machine with debootstrap and a reachable Debian mirror in apt's sources, run ` +
    `npx tsx -e "import('./lib/images/traffic-host-image.ts').then(m=>m.ensureTrafficHostImage())" (takes about a minute).`,
};

/** Short content hash of the whole recipe: base rootfs parameters and every file of the build context. */
export function trafficHostRecipeHash(): Promise<string> {
  return recipeHash(RECIPE);
}

export function trafficHostImageTag(): Promise<string> {
  return recipeImageTag(RECIPE);
}

let ensuring: Promise<string> | undefined;

/** The local traffic-host image tag, built first if it is missing. Concurrent callers share one build. */
export function ensureTrafficHostImage(): Promise<string> {
  ensuring ??= ensureRecipeImage(RECIPE).catch((e) => {
    ensuring = undefined;
    throw e;
  });
  return ensuring;
}
