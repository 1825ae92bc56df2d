// Realistic reference service images: BIOS-bootable Debian bookworm qcow2 disks with systemd, udev and
// IPv6 at Debian's defaults, built on this machine from Debian packages without mounting anything, and
// cached by content outside the repository. Recipes live in images/disk/ (README.md there: each image
// and its contract). Two cached layers: a base rootfs tarball (debootstrap minbase + the common
// packages), and per image its qcow2 (its packages, files and setup script on top, then a FAT boot
// partition with syslinux and an ext4 root built from the tree by `mke2fs -d`).
//
// Build by hand: npx tsx -e "import('./lib/images/disk-image.ts').then(m=>m.buildDiskImage('debian-bridge-brctl'))"
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { WirelabError } from '../core/errors.ts';
import { repoPath } from '../core/paths.ts';
import type { GuestRole } from '../core/roles.ts';
import { run } from '../runtime/exec.ts';
import { withFileLock } from '../runtime/file-lock.ts';
import { readyPatternFor } from './reference-image.ts';
import { debianMirror } from './debian-base-image.ts';
import { writeAtomically } from '../runtime/atomic-file.ts';
import { processAlive } from '../runtime/ledger.ts';

export interface DiskImageSpec {
  name: string;
  role: GuestRole;
  description: string;
  /** The deliberate defect of a faulty variant (a negative control). */
  fault?: string;
  /** A faulty variant is one small change over this good image: its recipe is applied first. */
  from?: string;
}

export interface BuiltDiskImage {
  name: string;
  role: GuestRole;
  /** The cached qcow2 (never modify it: wirelab boots it through an overlay). */
  disk: string;
  digest: string;
  /** Regex source matching the console line the image prints once its role really works. */
  readyPattern: string;
  /** The guest kernel's version (from the image's /boot). */
  kernel: string;
  /** False when the image came from the cache. */
  built: boolean;
  /** How long the build took (this call's, or the cached image's recorded one). */
  buildMs: number;
  /** The base rootfs: false when it came from the cache; its build time when built now. */
  base: { built: boolean; buildMs: number };
}

export const DISK_IMAGES: readonly DiskImageSpec[] = Object.freeze(
  [
    {
      name: 'debian-bridge-brctl',
      role: 'l2-bridge',
      description:
        'Linux bridge made as the OpenContrail guide makes it: bridge-utils and an rc.local (brctl addbr/addif); STP off, NIC MTU 1508.',
    },
    {
      name: 'debian-bridge-ovs',
      role: 'l2-bridge',
      description: 'Open vSwitch bridge br0 with eth0 and eth1 as ports, the NORMAL action, no STP; NIC MTU 1508.',
    },
    {
      name: 'debian-router',
      role: 'l3-forwarder',
      description:
        'Dual-stack kernel router: IPv4 and IPv6 forwarding, rp_filter off (sysctl.d); eth0 198.18.1.1/24 + 2001:db8:1::1/64, ' +
        'eth1 198.18.2.1/24 + 2001:db8:2::1/64 with MTU 1400 (ifupdown); FRR runs OSPF on both (hellos every 5 s).',
    },
    {
      name: 'debian-monitor',
      role: 'monitor',
      description:
        'Passive analyzer: NICs up, promiscuous, no addresses, ARP and IPv6 off; prints rx counters on the console when they change.',
    },
    {
      name: 'debian-firewall-nftables',
      role: 'l2-bridge',
      description:
        'Transparent firewall with the policy of lab-profiles/nested-policy-debian-firewall.yaml: the brctl bridge, nftables ' +
        "(bridge family, /etc/nftables.conf loaded by Debian's nftables.service) and a tc policer in rc.local.",
    },
    {
      name: 'debian-gateway',
      role: 'l3-forwarder',
      description:
        'Routed gateway with the policy of lab-profiles/nested-policy-debian-gateway.yaml: the debian-router addresses, a ' +
        'stateful nftables firewall (inet family) on what it forwards, and haproxy as a reverse proxy for HTTP from the left ' +
        '(nftables redirects port 80 to it) that blocks SQL injection with a 403 and tags /api/ requests X-Forwarded-Proto: http.',
    },
    {
      name: 'debian-gateway-faulty',
      role: 'l3-forwarder',
      from: 'debian-gateway',
      fault: 'oneway-snmp noreply-udp sqli-headers-only wrong-header',
      description:
        'The gateway with one mistake per class: SNMP dropped from the left only, the replies of UDP exchanges dropped, the ' +
        'SQL-injection filter looking at the headers only, API requests tagged X-Forwarded-Proto: https.',
    },
    {
      name: 'debian-bridge-stp',
      role: 'l2-bridge',
      from: 'debian-bridge-brctl',
      fault: 'stp',
      description: 'The brctl bridge with STP on: sends BPDUs to 01:80:c2:00:00:00 and forwards only after 30 s.',
    },
    {
      name: 'debian-bridge-hairpin',
      role: 'l2-bridge',
      from: 'debian-bridge-brctl',
      fault: 'hairpin',
      description: 'The brctl bridge with hairpin mode on both ports: flooded frames also go back out of the port they came in on.',
    },
    {
      name: 'debian-bridge-skew',
      role: 'l2-bridge',
      from: 'debian-bridge-brctl',
      fault: 'skew',
      description: 'The brctl bridge plus 3 ms of netem delay on eth1 egress: left to right is 3 ms slower than right to left.',
    },
    {
      name: 'debian-bridge-dhcp',
      role: 'l2-bridge',
      from: 'debian-bridge-brctl',
      fault: 'dhcp',
      description: 'The brctl bridge running dhclient on br0: it broadcasts DHCP discovers out of both ports.',
    },
  ].map((s) => Object.freeze(s as DiskImageSpec)),
);

/** Bump when the build changes in a way the recipe files and the layout below do not capture. */
const FORMAT = 'wirelab-disk-image/1';
const SUITE = 'bookworm';
const RECIPES_DIR = repoPath('images', 'disk');
/** Disk layout and boot: one place, part of every image's digest. */
const LAYOUT = Object.freeze({
  bootMiB: 64,
  rootMiB: 2048,
  append: 'console=ttyS0 net.ifnames=0 biosdevname=0',
});

/** Time budgets of the external commands (2 cores; debootstrap and apt fetch from the mirror). */
const BUDGET_MS = {
  debootstrap: 20 * 60_000,
  apt: 10 * 60_000,
  script: 10 * 60_000,
  tar: 5 * 60_000,
  mkfs: 5 * 60_000,
  convert: 10 * 60_000,
  quick: 60_000,
  baseLock: 30 * 60_000,
  imageLock: 45 * 60_000,
} as const;

/** A clean environment inside the chroot: the host's variables (TMPDIR, locale, …) do not apply there. */
const CHROOT_ENV = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/root',
  'LC_ALL=C',
  'TMPDIR=/tmp',
  'DEBIAN_FRONTEND=noninteractive',
];

/** Host tools the build needs and the Debian package of each. */
const HOST_TOOLS: readonly (readonly [string, string])[] = [
  ['debootstrap', 'debootstrap'],
  ['unshare', 'util-linux'],
  ['zstd', 'zstd'],
  ['mkfs.fat', 'dosfstools'],
  ['syslinux', 'syslinux'],
  ['mcopy', 'mtools'],
  ['sfdisk', 'fdisk'],
  ['mke2fs', 'e2fsprogs'],
  ['qemu-img', 'qemu-utils'],
];
const MBR_CANDIDATES = ['/usr/lib/SYSLINUX/mbr.bin', '/usr/lib/syslinux/mbr/mbr.bin'];

export function findDiskImage(name: string): DiskImageSpec {
  const spec = DISK_IMAGES.find((s) => s.name === name);
  if (!spec) {
    throw new WirelabError(`Unknown disk image '${name}'. Fix: use one of ${DISK_IMAGES.map((s) => s.name).join(', ')}.`, { exitCode: 2 });
  }
  return spec;
}

/** Where the images are cached: outside the repository, so a CI machine keeps them between runs. */
export function diskCacheDir(): string {
  return resolve(process.env.WIRELAB_DISK_CACHE_DIR || '/var/cache/wirelab/disk-images');
}

/** The recipe chain of an image: base first, then the good image a variant starts from, then its own. */
export function recipeChain(name: string): DiskImageSpec[] {
  const chain: DiskImageSpec[] = [];
  for (let spec: DiskImageSpec | undefined = findDiskImage(name); spec; spec = spec.from ? findDiskImage(spec.from) : undefined) {
    if (chain.includes(spec)) throw new Error(`disk image recipes: '${name}' inherits from itself`);
    chain.unshift(spec);
  }
  return chain;
}

/** Debian package names of a `packages` file: one or more a line, `#` starts a comment. */
export function parsePackageList(text: string): string[] {
  return text
    .split('\n')
    .flatMap((line) => line.replace(/#.*/, '').trim().split(/\s+/))
    .filter(Boolean);
}

interface RecipeEntry {
  /** Relative to the recipe directory, '/'-separated. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Normalized (0755 or 0644): a checkout's umask must not change the image or its digest. */
  mode: number;
  data?: Buffer;
  target?: string;
}

/** Every entry below `dir`, sorted by path (an absent directory has none). */
async function readRecipeTree(dir: string, prefix = ''): Promise<RecipeEntry[]> {
  const names = (await readdir(join(dir, prefix)).catch(() => [] as string[])).sort();
  const entries: RecipeEntry[] = [];
  for (const name of names) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const full = join(dir, rel);
    const st = await lstat(full);
    if (st.isSymbolicLink()) entries.push({ path: rel, type: 'symlink', mode: 0o777, target: await readlink(full) });
    else if (st.isDirectory()) entries.push({ path: rel, type: 'dir', mode: 0o755 }, ...(await readRecipeTree(dir, rel)));
    else entries.push({ path: rel, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, data: await readFile(full) });
  }
  return entries;
}

function hashEntries(hash: ReturnType<typeof createHash>, label: string, entries: RecipeEntry[]): void {
  for (const e of entries) {
    hash.update(`\0${label}/${e.path}\0${e.type}\0${e.mode.toString(8)}\0`);
    hash.update(e.data ?? e.target ?? '');
  }
}

const isBaseBuildInput = (e: RecipeEntry): boolean => e.path !== 'finalize.sh';

/** Digest of the base rootfs: format, suite, and base/ (packages, rootfs/, setup.sh). */
export async function baseDigest(): Promise<string> {
  const hash = createHash('sha256').update(`${FORMAT}\0base\0${SUITE}\0minbase`);
  hashEntries(hash, 'base', (await readRecipeTree(join(RECIPES_DIR, 'base'))).filter(isBaseBuildInput));
  return hash.digest('hex');
}

/** Digest of an image: format, layout, base digest, base/finalize.sh and every recipe of its chain. */
export async function diskImageDigest(name: string): Promise<string> {
  const chain = recipeChain(name);
  const spec = chain.at(-1)!;
  const hash = createHash('sha256').update(
    `${FORMAT}\0image\0${spec.name}\0${spec.role}\0${JSON.stringify(LAYOUT)}\0${await baseDigest()}`,
  );
  hashEntries(
    hash,
    'base',
    (await readRecipeTree(join(RECIPES_DIR, 'base'))).filter((e) => !isBaseBuildInput(e)),
  );
  for (const link of chain) hashEntries(hash, link.name, await readRecipeTree(join(RECIPES_DIR, link.name)));
  return hash.digest('hex');
}

export interface DiskBuildOptions {
  /** Defaults to diskCacheDir(). */
  cacheDir?: string;
  /** Progress lines (a build takes minutes). */
  log?: (line: string) => void;
}

interface Manifest {
  name: string;
  role: GuestRole;
  digest: string;
  kernel: string;
  buildMs: number;
  builtAt: string;
}

/** Build (or take from the cache) the named disk image. Concurrent callers build it once. */
export async function buildDiskImage(name: string, opts: DiskBuildOptions = {}): Promise<BuiltDiskImage> {
  const spec = findDiskImage(name);
  const cacheDir = resolve(opts.cacheDir ?? diskCacheDir());
  const log = opts.log ?? (() => {});
  const digest = await diskImageDigest(name);
  const stem = join(cacheDir, `${spec.name}-${digest.slice(0, 16)}`);
  const disk = `${stem}.qcow2`;
  const result = (manifest: Manifest, built: boolean, base: BuiltDiskImage['base']): BuiltDiskImage => ({
    name: spec.name,
    role: spec.role,
    disk,
    digest,
    readyPattern: readyPatternFor(spec.role),
    kernel: manifest.kernel,
    built,
    buildMs: manifest.buildMs,
    base,
  });
  const cached = await readManifest(stem);
  if (cached && existsSync(disk)) return linkLatest(cacheDir, spec.name, disk, result(cached, false, { built: false, buildMs: 0 }));

  await checkHostTools();
  await mkdir(cacheDir, { recursive: true });
  const lock = join(cacheDir, 'locks', `${spec.name}.lock`);
  return withFileLock(lock, { timeoutMs: BUDGET_MS.imageLock, purpose: `another build of the disk image ${spec.name}` }, async () => {
    const again = await readManifest(stem);
    if (again && existsSync(disk)) return result(again, false, { built: false, buildMs: 0 });
    const t0 = Date.now();
    const base = await ensureBase(cacheDir, log);
    const manifest = await withBuildDir(cacheDir, spec.name, async (dir) => {
      log(`disk image ${spec.name}: building from ${base.tarball}`);
      const kernel = await buildImage(spec, base.tarball, dir, disk, log);
      const m: Manifest = { name: spec.name, role: spec.role, digest, kernel, buildMs: Date.now() - t0, builtAt: new Date().toISOString() };
      // The manifest last: a qcow2 without one is rebuilt, so an interrupted write is never taken as done.
      await writeAtomically(`${stem}.json`, JSON.stringify(m, null, 2) + '\n');
      return m;
    });
    log(`disk image ${spec.name}: ${disk} in ${(manifest.buildMs / 1000).toFixed(1)} s`);
    return linkLatest(cacheDir, spec.name, disk, result(manifest, true, { built: base.built, buildMs: base.buildMs }));
  });
}

/**
 * `<name>.qcow2` in the cache, a link to the image's current build: what a shipped profile names
 * (lab-profiles/nested-policy-debian-*.yaml), so it needs no digest. Replaced atomically.
 */
async function linkLatest<T>(cacheDir: string, name: string, disk: string, value: T): Promise<T> {
  const link = join(cacheDir, `${name}.qcow2`);
  const tmp = `${link}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  await symlink(basename(disk), tmp);
  await rename(tmp, link);
  return value;
}

async function readManifest(stem: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(`${stem}.json`, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** The base rootfs tarball, built first if missing (under its own lock: every image build needs it). */
async function ensureBase(cacheDir: string, log: (line: string) => void): Promise<{ tarball: string; built: boolean; buildMs: number }> {
  const tarball = join(cacheDir, `base-${SUITE}-${(await baseDigest()).slice(0, 16)}.tar.zst`);
  if (existsSync(tarball)) return { tarball, built: false, buildMs: 0 };
  const lock = join(cacheDir, 'locks', 'base.lock');
  return withFileLock(lock, { timeoutMs: BUDGET_MS.baseLock, purpose: "another build of the disk images' base rootfs" }, async () => {
    if (existsSync(tarball)) return { tarball, built: false, buildMs: 0 };
    const t0 = Date.now();
    await withBuildDir(cacheDir, 'base', async (dir) => {
      const tree = join(dir, 'tree');
      const packages = parsePackageList(await readFile(join(RECIPES_DIR, 'base', 'packages'), 'utf8'));
      const mirror = await debianMirror(SUITE);
      log(`disk images base: debootstrap ${SUITE} minbase + ${packages.join(' ')}`);
      // In a mount and pid namespace of its own: whatever debootstrap mounts in the tree, and whatever a
      // package's script starts, ends with it, even when the build is interrupted.
      await run(
        'unshare',
        [
          ...ISOLATE,
          'env',
          '-i',
          ...CHROOT_ENV,
          'debootstrap',
          '--variant=minbase',
          `--include=${packages.join(',')}`,
          SUITE,
          tree,
          mirror,
        ],
        {
          timeoutMs: BUDGET_MS.debootstrap,
        },
      );
      await withBuildGuards(tree, async () => {
        await copyRecipeFiles(join(RECIPES_DIR, 'base', 'rootfs'), tree);
        await runRecipeScript(tree, join(RECIPES_DIR, 'base', 'setup.sh'), 'base');
      });
      log('disk images base: packing the rootfs');
      const tmp = join(dir, 'base.tar.zst');
      await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--zstd', '-C', tree, '-cf', tmp, '.'], {
        timeoutMs: BUDGET_MS.tar,
      });
      await rename(tmp, tarball);
    });
    const buildMs = Date.now() - t0;
    log(`disk images base: ${tarball} in ${(buildMs / 1000).toFixed(1)} s`);
    return { tarball, built: true, buildMs };
  });
}

/** unshare(1) options: private mounts, a pid namespace whose processes all die when its first one does. */
const ISOLATE = ['--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child', '--'];

/** Run argv inside the tree (chroot), with /proc and /sys of a private mount namespace. */
async function inChroot(tree: string, argv: string[], timeoutMs: number, env: string[] = []): Promise<void> {
  const script = 'root=$1; shift; mount -t proc proc "$root/proc" && mount -t sysfs sysfs "$root/sys" && exec chroot "$root" "$@"';
  await run('unshare', [...ISOLATE, 'env', '-i', ...CHROOT_ENV, ...env, 'sh', '-c', script, 'sh', tree, ...argv], { timeoutMs });
}

/**
 * Build-time only: the host's resolver (apt reaches the mirror from the chroot) and a policy-rc.d that
 * stops package scripts from starting daemons in the tree. Both are undone whatever happens.
 */
async function withBuildGuards<T>(tree: string, work: () => Promise<T>): Promise<T> {
  const resolvConf = join(tree, 'etc', 'resolv.conf');
  const policy = join(tree, 'usr', 'sbin', 'policy-rc.d');
  const hadResolvConf = await lstat(resolvConf).then(
    () => true,
    () => false,
  );
  const savedResolvConf = hadResolvConf ? await readFile(resolvConf).catch(() => undefined) : undefined;
  await rm(resolvConf, { force: true });
  await copyFile('/etc/resolv.conf', resolvConf).catch(() => writeFile(resolvConf, ''));
  await writeFile(policy, '#!/bin/sh\n# wirelab disk image build: no daemon starts in the build tree.\nexit 101\n', { mode: 0o755 });
  try {
    return await work();
  } finally {
    await rm(policy, { force: true });
    await rm(resolvConf, { force: true });
    if (savedResolvConf !== undefined) await writeFile(resolvConf, savedResolvConf);
  }
}

/** Copy a recipe's rootfs/ over the tree (owned by root, modes normalized). */
async function copyRecipeFiles(from: string, tree: string): Promise<void> {
  for (const e of await readRecipeTree(from)) {
    const to = join(tree, e.path);
    if (e.type === 'dir') {
      await mkdir(to, { recursive: true });
      continue;
    }
    await rm(to, { force: true });
    if (e.type === 'symlink') await symlink(e.target!, to);
    else {
      await writeFile(to, e.data!);
      await chmod(to, e.mode);
    }
  }
}

/** Run a recipe's shell script (sh -eu) inside the tree, if the recipe has one. */
async function runRecipeScript(tree: string, script: string, image: string): Promise<void> {
  if (!existsSync(script)) return;
  const inTree = `/tmp/wirelab-recipe-${randomBytes(4).toString('hex')}.sh`;
  await copyFile(script, join(tree, inTree));
  try {
    await inChroot(tree, ['sh', '-eu', inTree], BUDGET_MS.script, [`WIRELAB_IMAGE=${image}`]);
  } finally {
    await rm(join(tree, inTree), { force: true });
  }
}

/** The image's tree from the base, its recipes applied, then the disk: returns the kernel version. */
async function buildImage(spec: DiskImageSpec, tarball: string, dir: string, disk: string, log: (line: string) => void): Promise<string> {
  const tree = join(dir, 'tree');
  await mkdir(tree);
  await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--zstd', '-C', tree, '-xpf', tarball], {
    timeoutMs: BUDGET_MS.tar,
  });
  const chain = recipeChain(spec.name);
  const packages = [
    ...new Set(
      (await Promise.all(chain.map((s) => readFile(join(RECIPES_DIR, s.name, 'packages'), 'utf8').catch(() => '')))).flatMap(
        parsePackageList,
      ),
    ),
  ];
  const rootUuid = randomUUID();
  await withBuildGuards(tree, async () => {
    if (packages.length) {
      log(`disk image ${spec.name}: apt-get install ${packages.join(' ')}`);
      await aptInstall(tree, packages);
    }
    for (const link of chain) {
      await copyRecipeFiles(join(RECIPES_DIR, link.name, 'rootfs'), tree);
      await runRecipeScript(tree, join(RECIPES_DIR, link.name, 'setup.sh'), spec.name);
    }
    await writeFile(join(tree, 'etc', 'hostname'), `${spec.name}\n`);
    await writeFile(
      join(tree, 'etc', 'hosts'),
      [
        `127.0.0.1\tlocalhost`,
        `127.0.1.1\t${spec.name}`,
        '::1\tlocalhost ip6-localhost ip6-loopback',
        'ff02::1\tip6-allnodes',
        'ff02::2\tip6-allrouters',
        '',
      ].join('\n'),
    );
    await writeFile(join(tree, 'etc', 'fstab'), `UUID=${rootUuid}\t/\text4\terrors=remount-ro\t0\t1\n`);
    await runRecipeScript(tree, join(RECIPES_DIR, 'base', 'finalize.sh'), spec.name);
  });
  await checkTree(tree, spec.name);
  const kernel = await kernelOf(tree);
  log(`disk image ${spec.name}: assembling the disk (kernel ${kernel})`);
  await assembleDisk(tree, kernel, rootUuid, dir, disk);
  return kernel;
}

/** apt-get install in the tree; lists older than the mirror (a point release) are refreshed once. */
async function aptInstall(tree: string, packages: string[]): Promise<void> {
  const install = ['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...packages];
  try {
    await inChroot(tree, install, BUDGET_MS.apt);
  } catch {
    await inChroot(tree, ['apt-get', 'update', '-q'], BUDGET_MS.apt);
    await inChroot(tree, install, BUDGET_MS.apt);
  }
}

/** What every image promises about itself, checked on the finished tree. */
async function checkTree(tree: string, name: string): Promise<void> {
  const problems: string[] = [];
  if (existsSync(join(tree, 'etc/udev/rules.d/70-persistent-net.rules'))) problems.push('/etc/udev/rules.d/70-persistent-net.rules exists');
  const machineId = await readFile(join(tree, 'etc/machine-id'), 'utf8').catch(() => undefined);
  if (machineId !== '') problems.push('/etc/machine-id is not empty');
  if (existsSync(join(tree, 'usr/sbin/policy-rc.d'))) problems.push("the build's policy-rc.d is still there");
  const keys = (await readdir(join(tree, 'etc/ssh')).catch(() => [] as string[])).filter((f) => f.startsWith('ssh_host_'));
  if (keys.length) problems.push(`build-time SSH host keys: ${keys.join(', ')}`);
  if (problems.length)
    throw new WirelabError(
      `Disk image ${name}: its tree breaks the image contract: ${problems.join('; ')}. Fix: the recipe in images/disk/${name}/.`,
    );
}

/** The one kernel version in the tree's /boot (vmlinuz-V with initrd.img-V). */
async function kernelOf(tree: string): Promise<string> {
  const boot = await readdir(join(tree, 'boot'));
  const versions = boot
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => boot.includes(`initrd.img-${v}`));
  if (versions.length !== 1)
    throw new WirelabError(`The image tree's /boot holds ${versions.length} kernels with an initramfs (${boot.join(', ')}); expected one.`);
  return versions[0]!;
}

/**
 * The disk, with nothing mounted: an MBR (syslinux's boot code) with a bootable FAT partition (syslinux,
 * kernel, initramfs, syslinux.cfg) and an ext4 root made from the tree, then a compressed qcow2.
 */
async function assembleDisk(tree: string, kernel: string, rootUuid: string, dir: string, disk: string): Promise<void> {
  const mib = 1024 * 1024;
  const bootStartMiB = 1;
  const rootStartMiB = bootStartMiB + LAYOUT.bootMiB;
  const boot = join(dir, 'boot.img');
  // -h: the partition's offset in sectors, which the FAT boot sector needs to find syslinux on the disk.
  await run('mkfs.fat', ['-F', '16', '-n', 'BOOT', '-h', String(bootStartMiB * 2048), '-C', boot, String(LAYOUT.bootMiB * 1024)], {
    timeoutMs: BUDGET_MS.mkfs,
  });
  await run('syslinux', ['--install', boot], { timeoutMs: BUDGET_MS.quick });
  const cfg = join(dir, 'syslinux.cfg');
  await writeFile(
    cfg,
    [
      'SERIAL 0 115200',
      'DEFAULT debian',
      'PROMPT 0',
      'TIMEOUT 0',
      'LABEL debian',
      '  KERNEL /vmlinuz',
      '  INITRD /initrd.img',
      `  APPEND root=UUID=${rootUuid} ro ${LAYOUT.append}`,
      '',
    ].join('\n'),
  );
  for (const [from, to] of [
    [join(tree, 'boot', `vmlinuz-${kernel}`), '::/vmlinuz'],
    [join(tree, 'boot', `initrd.img-${kernel}`), '::/initrd.img'],
    [cfg, '::/syslinux.cfg'],
  ]) {
    await run('mcopy', ['-o', '-i', boot, from!, to!], { timeoutMs: BUDGET_MS.quick });
  }

  const root = join(dir, 'root.img');
  await createSparse(root, LAYOUT.rootMiB * mib);
  await run(
    'mke2fs',
    ['-q', '-F', '-t', 'ext4', '-L', 'root', '-U', rootUuid, '-d', tree, '-E', 'lazy_itable_init=1,lazy_journal_init=1', root],
    {
      timeoutMs: BUDGET_MS.mkfs,
    },
  );

  const raw = join(dir, 'disk.raw');
  await createSparse(raw, (rootStartMiB + LAYOUT.rootMiB) * mib);
  const table = [
    'label: dos',
    'unit: sectors',
    '',
    `start=${bootStartMiB * 2048}, size=${LAYOUT.bootMiB * 2048}, type=e, bootable`,
    `start=${rootStartMiB * 2048}, type=83`,
    '',
  ].join('\n');
  await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', raw], { input: table, timeoutMs: BUDGET_MS.quick });
  await run('dd', [`if=${await mbrCode()}`, `of=${raw}`, 'bs=440', 'count=1', 'conv=notrunc', 'status=none'], {
    timeoutMs: BUDGET_MS.quick,
  });
  await run('dd', [`if=${boot}`, `of=${raw}`, 'bs=1M', `seek=${bootStartMiB}`, 'conv=notrunc,sparse', 'status=none'], {
    timeoutMs: BUDGET_MS.mkfs,
  });
  await run('dd', [`if=${root}`, `of=${raw}`, 'bs=1M', `seek=${rootStartMiB}`, 'conv=notrunc,sparse', 'status=none'], {
    timeoutMs: BUDGET_MS.mkfs,
  });
  await rm(root);
  const tmp = join(dir, 'disk.qcow2');
  await run('qemu-img', ['convert', '-c', '-O', 'qcow2', raw, tmp], { timeoutMs: BUDGET_MS.convert });
  await rename(tmp, disk);
}

async function createSparse(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
}

async function mbrCode(): Promise<string> {
  const found = MBR_CANDIDATES.find((p) => existsSync(p));
  if (!found)
    throw new WirelabError(`syslinux's MBR boot code is missing (${MBR_CANDIDATES.join(' or ')}). Fix: apt-get install syslinux.`);
  return found;
}

async function checkHostTools(): Promise<void> {
  const missing: string[] = [];
  for (const [tool, pkg] of HOST_TOOLS) {
    const r = await run('sh', ['-c', 'command -v "$1"', 'sh', tool], { allowFailure: true });
    if (r.exitCode !== 0 && !missing.includes(pkg)) missing.push(pkg);
  }
  if (!MBR_CANDIDATES.some((p) => existsSync(p)) && !missing.includes('syslinux')) missing.push('syslinux');
  if (missing.length)
    throw new WirelabError(
      `Cannot build the Debian disk images: missing tools. Fix: apt-get install ${missing.join(' ')} (or run scripts/setup.sh).`,
    );
}

/**
 * A build directory in the cache's tmp/ (same filesystem as the results, so the final rename is atomic),
 * removed afterwards whatever happens; directories left by builds whose process died are removed first.
 */
async function withBuildDir<T>(cacheDir: string, label: string, work: (dir: string) => Promise<T>): Promise<T> {
  const tmpRoot = join(cacheDir, 'tmp');
  await mkdir(tmpRoot, { recursive: true });
  for (const name of await readdir(tmpRoot)) {
    const pid = Number(/^[\w-]+?-(\d+)-[0-9a-f]+$/.exec(name)?.[1]);
    if (pid && !processAlive(pid)) await rm(join(tmpRoot, name), { recursive: true, force: true });
  }
  const dir = join(tmpRoot, `${label}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir);
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
