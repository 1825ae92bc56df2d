// The traffic-host container image. No registry is reachable, so it is built locally in two layers:
// a Debian bookworm minbase rootfs (debootstrap against the mirror apt is configured with, then
// `docker import`), and the recipe in images/traffic-host/ on top (`docker build`). Its tag carries a
// hash of the recipe, so a changed recipe builds a new image and an unchanged one is reused.
//
// Build by hand: npx tsx -e "import('./lib/images/traffic-host-image.ts').then(m=>m.ensureTrafficHostImage())"
import { repoPath } from '../core/paths.ts';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { docker, ensureDockerEngine, imageExists } from '../runtime/docker-engine.ts';
import { WirelabError } from '../core/errors.ts';
import { run } from '../runtime/exec.ts';
import { withFileLock } from '../runtime/file-lock.ts';

/** Directory holding the Dockerfile and the files it copies. */
export const TRAFFIC_HOST_RECIPE_DIR = repoPath('images', 'traffic-host') + '/';
const BASE = { suite: 'bookworm', variant: 'minbase' } as const;
const BUILD_LOCK = '/var/lib/wirelab/locks/traffic-host-image.lock';
const BUILD_BUDGET_MS = 15 * 60_000;
const BUILD_HINT =
  `Fix: on a machine with debootstrap and a reachable Debian mirror in apt's sources, run ` +
  `npx tsx -e "import('./lib/images/traffic-host-image.ts').then(m=>m.ensureTrafficHostImage())" (takes about a minute).`;

/** Short content hash of the whole recipe: base rootfs parameters and every file of the build context. */
export async function trafficHostRecipeHash(): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(BASE));
  for (const name of (await readdir(TRAFFIC_HOST_RECIPE_DIR)).sort()) {
    hash.update(`\0${name}\0`).update(await readFile(join(TRAFFIC_HOST_RECIPE_DIR, name)));
  }
  return hash.digest('hex').slice(0, 12);
}

export async function trafficHostImageTag(): Promise<string> {
  return `wirelab/traffic-host:${await trafficHostRecipeHash()}`;
}

function baseImageTag(): string {
  const hash = createHash('sha256').update(JSON.stringify(BASE)).digest('hex').slice(0, 12);
  return `wirelab/debian-${BASE.variant}:${BASE.suite}-${hash}`;
}

let ensuring: Promise<string> | undefined;

/** The local traffic-host image tag, built first if it is missing. Concurrent callers share one build. */
export function ensureTrafficHostImage(): Promise<string> {
  ensuring ??= ensureOnce().catch((e) => {
    ensuring = undefined;
    throw e;
  });
  return ensuring;
}

async function ensureOnce(): Promise<string> {
  await ensureDockerEngine();
  const tag = await trafficHostImageTag();
  if (await imageExists(tag)) return tag;
  // Other processes (parallel test files, other runs) may build the same image: one at a time.
  return withFileLock(BUILD_LOCK, { timeoutMs: BUILD_BUDGET_MS, purpose: 'another build of the traffic-host image' }, async () => {
    if (await imageExists(tag)) return tag;
    try {
      await buildTrafficHostImage(tag);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new WirelabError(`The traffic-host image ${tag} is missing and could not be built: ${why} ${BUILD_HINT}`, { cause: e });
    }
    return tag;
  });
}

async function buildTrafficHostImage(tag: string): Promise<void> {
  const base = baseImageTag();
  if (!(await imageExists(base))) await importBaseImage(base);
  // `docker build` tags only on success, so a failed build leaves no half-built image behind.
  await docker(
    [
      'build',
      '--network',
      'host',
      '--build-arg',
      `BASE_IMAGE=${base}`,
      '--label',
      `wirelab.recipe=${tag}`,
      '-t',
      tag,
      TRAFFIC_HOST_RECIPE_DIR,
    ],
    { timeoutMs: BUILD_BUDGET_MS },
  );
}

/** debootstrap a minbase rootfs in a temporary directory and import it as `tag`. */
async function importBaseImage(tag: string): Promise<void> {
  const mirror = await debianMirror(BASE.suite);
  const tmp = await mkdtemp('/var/tmp/wirelab-traffic-host-');
  try {
    const rootfs = join(tmp, 'rootfs');
    await run('debootstrap', [`--variant=${BASE.variant}`, BASE.suite, rootfs, mirror], { timeoutMs: BUILD_BUDGET_MS });
    const tarball = join(tmp, 'rootfs.tar');
    await run('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.'], { timeoutMs: BUILD_BUDGET_MS });
    await docker(['import', tarball, tag], { timeoutMs: BUILD_BUDGET_MS });
  } finally {
    await unmountBelow(tmp);
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The Debian mirror apt on this machine uses (never a hard-coded host): the repository whose release is
 * `suite`, or else any main (non-updates, non-security) Debian repository.
 */
export async function debianMirror(suite: string): Promise<string> {
  const r = await run('apt-get', ['indextargets', '--format', '$(REPO_URI)\t$(RELEASE)\t$(IDENTIFIER)']);
  const repos = r.stdout
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([uri, release, identifier]) => uri && release && identifier === 'Packages')
    .map(([uri, release]) => ({ uri: uri!, release: release! }));
  const match = repos.find((x) => x.release === suite) ?? repos.find((x) => !x.release.includes('-') && !x.uri.includes('security'));
  if (!match) {
    throw new WirelabError(
      `apt has no Debian repository configured (apt-get indextargets lists none). Fix: add a Debian mirror to /etc/apt/sources.list ` +
        `and run 'apt-get update'.`,
    );
  }
  return match.uri;
}

/** A failed debootstrap can leave /proc or /sys mounted inside the rootfs: unmount before removing it. */
async function unmountBelow(dir: string): Promise<void> {
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  const below = mounts
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length); // deepest first
  for (const mountPoint of below) await run('umount', ['-l', mountPoint], { allowFailure: true });
}
