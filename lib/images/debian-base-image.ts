// The Debian base every container image of wirelab starts from: a bookworm minbase rootfs made by
// debootstrap against the mirror apt on this machine is configured with (no registry is reachable),
// imported with `docker import`. Its tag carries a hash of its parameters, so it is built once per
// machine and shared by the traffic-host and bench-host images.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { WirelabError } from '../core/errors.ts';
import { docker, imageExists } from '../runtime/docker-engine.ts';
import { run } from '../runtime/exec.ts';

export const DEBIAN_BASE = { suite: 'bookworm', variant: 'minbase' } as const;
const BUILD_BUDGET_MS = 15 * 60_000;

export function debianBaseImageTag(): string {
  const hash = createHash('sha256').update(JSON.stringify(DEBIAN_BASE)).digest('hex').slice(0, 12);
  return `wirelab/debian-${DEBIAN_BASE.variant}:${DEBIAN_BASE.suite}-${hash}`;
}

/** The base image's tag, imported first if it is missing (callers serialize with their own build lock). */
export async function ensureDebianBaseImage(): Promise<string> {
  const tag = debianBaseImageTag();
  if (!(await imageExists(tag))) await importBaseImage(tag);
  return tag;
}

/** debootstrap a minbase rootfs in a temporary directory and import it as `tag`. */
async function importBaseImage(tag: string): Promise<void> {
  const mirror = await debianMirror(DEBIAN_BASE.suite);
  const tmp = await mkdtemp('/var/tmp/wirelab-debian-base-');
  try {
    const rootfs = join(tmp, 'rootfs');
    await run('debootstrap', [`--variant=${DEBIAN_BASE.variant}`, DEBIAN_BASE.suite, rootfs, mirror], { timeoutMs: BUILD_BUDGET_MS });
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
