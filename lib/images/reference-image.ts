// Reference service images: small kernel + initramfs guests built on this machine from Debian
// packages (the cloud kernel and its modules, busybox-static, iproute2's tc). Each variant is a
// known-good or known-faulty service, so wirelab's suites can be shown to pass and to fail.
// Images are cached by a digest of everything that goes into them and written atomically.
import { repoPath } from '../core/paths.ts';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, realpath } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type CpioEntry, writeCpio } from './cpio.ts';
import { WirelabError } from '../core/errors.ts';
import { run } from '../runtime/exec.ts';

import type { GuestRole } from '../core/roles.ts';
import { writeAtomically } from '../runtime/atomic-file.ts';

export interface ReferenceVariant {
  name: string;
  role: GuestRole;
  description: string;
  /** The deliberate defect of a faulty variant (its id, as the guest's init script knows it). */
  fault?: string;
  /** Its own init script in images/guest/ instead of init.sh. */
  init?: string;
  /** Kernel modules it needs beyond GUEST_MODULES. */
  extraModules?: readonly string[];
  /** A policy script in images/guest/ that init.sh sources once the bridge is built (a firewall's rules). */
  policy?: string;
  /** Real tools it needs beyond tc and ip, copied from this machine with their libraries. */
  tools?: readonly ('nft' | 'bridge')[];
}

export interface BuiltImage {
  name: string;
  role: GuestRole;
  kernel: string;
  initrd: string;
  digest: string;
  /** Regex source matching the console line the guest prints once it really works. */
  readyPattern: string;
  /** Kernel command line the image expects (serial console on ttyS0, quiet, exit on panic). */
  append: string;
}

/**
 * What a policy image needs beyond GUEST_MODULES: nftables (its bridge family is in nf_tables; the bridge's own
 * meta expression, which `iifname` and `tcp dport` need, is nft_meta_bridge; connection tracking of bridged frames,
 * nf_conntrack_bridge, and its `ct state` match, nft_ct) and tc's policer with the flower classifier (it matches
 * inside an 802.1Q tag).
 */
const FIREWALL_MODULES: readonly string[] = ['nf_tables', 'nft_meta_bridge', 'nf_conntrack_bridge', 'nft_ct', 'act_police', 'cls_flower'];

/** The contract negative controls' faults (images/guest/contract-faults.sh): nftables, NAT, bridge netfilter, tc flower + pedit. */
const CONTRACT_FAULT_MODULES: readonly string[] = ['nf_tables', 'nft_meta_bridge', 'nft_chain_nat', 'nft_masq', 'cls_flower', 'act_csum'];

/** A negative control of a role contract: faults on kinds of frame no fixed menu sends (images/guest/contract-faults.sh). */
function contractFault(
  name: string,
  role: GuestRole,
  fault: string,
  description: string,
  more: Partial<ReferenceVariant> = {},
): ReferenceVariant {
  return { name, role, fault, policy: 'contract-faults.sh', tools: ['nft'], extraModules: CONTRACT_FAULT_MODULES, description, ...more };
}

export const REFERENCE_VARIANTS: readonly ReferenceVariant[] = Object.freeze(
  [
    {
      name: 'l2-bridge',
      role: 'l2-bridge',
      description: 'Transparent bridge of its two NICs: STP off, no VLAN filtering, byte-exact both ways.',
    },
    {
      name: 'l2-bridge-oneway',
      role: 'l2-bridge',
      fault: 'oneway',
      description: 'Drops everything left to right; right to left still passes.',
    },
    {
      name: 'l2-bridge-macrewrite',
      role: 'l2-bridge',
      fault: 'macrewrite',
      description: 'Rewrites the source MAC of every frame it forwards (tc pedit).',
    },
    {
      name: 'l2-bridge-delay',
      role: 'l2-bridge',
      fault: 'delay',
      description: 'Adds about 250 ms of one-way delay in each direction (netem): above the default 100 ms latency bound.',
    },
    {
      name: 'l2-bridge-lossy',
      role: 'l2-bridge',
      fault: 'lossy',
      description: 'Loses about 5 % of frames at random, both directions (netem).',
    },
    { name: 'l2-bridge-slowboot', role: 'l2-bridge', fault: 'slowboot', description: 'Prints its ready line only about 40 s after boot.' },
    {
      name: 'l2-bridge-liar',
      role: 'l2-bridge',
      fault: 'liar',
      description: 'Prints its ready line at once but forwards only about 8 s later.',
    },
    {
      name: 'l2-bridge-nohalt',
      role: 'l2-bridge',
      fault: 'nohalt',
      description: 'Ignores the ACPI power button: only a hard stop ends it.',
    },
    {
      name: 'l2-bridge-norestart',
      role: 'l2-bridge',
      fault: 'norestart',
      description:
        'Forwards until its service is restarted (`wirelab-restart-service` on the console); after the restart, left to right ' +
        'stays down (its left port drops what comes in), right to left comes back.',
    },
    {
      name: 'l2-bridge-nolearn',
      role: 'l2-bridge',
      fault: 'nolearn',
      description:
        "Learns no MACs (ageing time 0, floods every frame): with the vRouter's one MAC on both sides it still forwards, where the " +
        "guide's service sees a loop.",
    },
    {
      name: 'l2-bridge-reflect',
      role: 'l2-bridge',
      fault: 'reflect',
      description:
        'Hairpin mode on both bridge ports: flooded frames (broadcast, unknown unicast) also go back out of the port they came in by.',
    },
    {
      name: 'l2-bridge-reorder',
      role: 'l2-bridge',
      fault: 'reorder',
      description: 'Half the frames wait 1 ms (netem reorder), both ways: frames closer together than that arrive out of order.',
    },
    {
      name: 'l2-bridge-skew',
      role: 'l2-bridge',
      fault: 'skew',
      description: 'Adds 3 ms of delay left to right only (netem on its right NIC): the median shifts in one direction.',
    },
    {
      name: 'l2-bridge-ipv6',
      role: 'l2-bridge',
      fault: 'ipv6',
      description: "Leaves IPv6 at the kernel's default: its bridge and ports autoconfigure link-local addresses (RS, DAD, MLD).",
    },
    {
      name: 'l2-bridge-stp',
      role: 'l2-bridge',
      fault: 'stp',
      description: 'Runs the spanning tree on its bridge: BPDUs every hello time.',
    },
    { name: 'l2-bridge-dhcp', role: 'l2-bridge', fault: 'dhcp', description: 'Runs a DHCP client on its bridge: DHCP discovers.' },
    {
      name: 'l2-bridge-igmp',
      role: 'l2-bridge',
      fault: 'igmp',
      description: 'Has an address on its bridge and joins a multicast group: IGMP membership reports.',
    },
    {
      name: 'l2-bridge-arp',
      role: 'l2-bridge',
      fault: 'arp',
      description: 'Has an address on its bridge and announces it: gratuitous ARP every 3 s.',
    },
    {
      name: 'l2-bridge-spoof',
      role: 'l2-bridge',
      fault: 'spoof',
      description: "Announces the left traffic host's address (198.18.0.1) as its own: spoofed gratuitous ARP every 3 s.",
    },
    {
      name: 'l2-bridge-ping',
      role: 'l2-bridge',
      fault: 'ping',
      description: 'Has an address on its bridge and pings a multicast group every 3 s (a health check of its own).',
    },
    {
      name: 'l2-bridge-stopfwd',
      role: 'l2-bridge',
      fault: 'stopfwd',
      description: 'Forwards for 20 s after its ready line, then nothing either way (a soak fault: a data path that hangs).',
    },
    {
      name: 'l2-bridge-leak',
      role: 'l2-bridge',
      fault: 'leak',
      description: 'Forwards correctly but allocates 2 MiB more memory every second and never frees it (a soak fault: a leak).',
    },
    {
      name: 'l2-bridge-slowdown',
      role: 'l2-bridge',
      fault: 'slowdown',
      description: 'Forwards correctly with 1 ms more delay each way every second since its ready line (a soak fault: a growing queue).',
    },
    {
      name: 'l3-forwarder',
      role: 'l3-forwarder',
      description:
        'IPv4 router: left 198.18.1.1/24, right 198.18.2.1/24 (wirelab.left=/wirelab.right= on the kernel command line), TTL-1, MAC ' +
        'rewrite.',
    },
    {
      name: 'monitor',
      role: 'monitor',
      description: 'Passive analyzer: promiscuous NICs, no addresses, ARP off; prints rx counters when they change.',
    },
    {
      name: 'monitor-chatty',
      role: 'monitor',
      fault: 'chatty',
      description: 'A monitor that also sends a gratuitous ARP on its left NIC every few seconds.',
    },
    {
      name: 'l2-bridge-firewall',
      role: 'l2-bridge',
      policy: 'firewall.sh',
      tools: ['nft'],
      extraModules: FIREWALL_MODULES,
      description:
        'Transparent firewall with the policy of lab-profiles/nested-policy-firewall.yaml: nftables (bridge family) drops telnet ' +
        'left→right, SNMP both ways and VLAN 3000, marks voice left→right DSCP 46, lets TCP port 8080 be opened from the left ' +
        'only (connection tracking) — IPv4 and IPv6, tagged or not; a tc policer limits bulk UDP to 256 kbit/s.',
    },
    {
      name: 'l2-bridge-firewall-faulty',
      role: 'l2-bridge',
      fault: 'wideport oneway-snmp wrong-dscp noshape noreply',
      policy: 'firewall.sh',
      tools: ['nft'],
      extraModules: FIREWALL_MODULES,
      description:
        'The firewall with one mistake per class: its telnet rule also drops port 24, SNMP is dropped only from the left, voice ' +
        'is marked DSCP 34 instead of 46, the bulk policer is missing, and it drops the replies (SYN-ACKs) of port-8080 connections.',
    },
    contractFault(
      'l2-bridge-ipfilter',
      'l2-bridge',
      'ethertypes xmas laterfrag',
      'An "IP-only" filtering bridge: drops frames of EtherTypes other than IPv4, IPv6, ARP and VLAN tags (MPLS, experimental, ' +
        '802.3/LLC), TCP segments with FIN+PSH+URG, and IPv4 fragments after the first (nftables, bridge family).',
    ),
    contractFault(
      'l2-bridge-scrubber',
      'l2-bridge',
      'dscp ttl udpzero',
      'A "normalising" bridge: bleaches DSCP to 0, drops IPv4/IPv6 with TTL or hop limit below 2 and UDP without a checksum.',
    ),
    contractFault(
      'l2-bridge-vlanaware',
      'l2-bridge',
      'vlanaware',
      'A VLAN-aware bridge (vlan_filtering) with only VLAN 100 on its ports: other VLANs are dropped, VLAN 1 and priority-tagged ' +
        'frames leave untagged (VLAN 1 is the untagged PVID).',
      { tools: ['nft', 'bridge'] },
    ),
    contractFault(
      'l2-bridge-brnf',
      'l2-bridge',
      'brnf',
      'Bridge netfilter on (br_netfilter, bridge-nf-call-iptables=1), as Docker and many firewalls leave it: IPv4 with a bad ' +
        'header checksum is dropped silently.',
      { extraModules: [...CONTRACT_FAULT_MODULES, 'br_netfilter'] },
    ),
    contractFault(
      'l2-bridge-noflood',
      'l2-bridge',
      'noflood relay-reserved',
      'Floods no unknown unicast (unicast_flood off on both ports) and relays 802.1X and LLDP frames (group_fwd_mask 0x4008).',
    ),
    contractFault(
      'l2-bridge-corrupt',
      'l2-bridge',
      'corrupt ipv6ext small',
      'Overwrites a payload byte of every IPv4/UDP frame it forwards (tc pedit), drops IPv6 with hop-by-hop, destination-options ' +
        'or routing headers, and drops frames shorter than 500 bytes.',
    ),
    contractFault(
      'l3-forwarder-nat',
      'l3-forwarder',
      'nat',
      'Translates what it routes (nftables masquerade, IPv4 and IPv6): packets leave with its own address as their source.',
    ),
    contractFault(
      'l3-forwarder-strict',
      'l3-forwarder',
      'dscp exthdr',
      'Bleaches DSCP to 0 (IPv4 and IPv6) and drops IPv4 packets with options and IPv6 packets with hop-by-hop or ' +
        'destination-options headers.',
    ),
    contractFault(
      'l3-forwarder-quiet',
      'l3-forwarder',
      'quiet6 pmtu4',
      'Sends no ICMPv6 Time Exceeded and no ICMP Fragmentation Needed (a PMTU black hole for IPv4): it drops them on output.',
    ),
    contractFault(
      'l3-forwarder-leaky',
      'l3-forwarder',
      'directed nofrag',
      'Forwards directed broadcasts to the other subnet (bc_forwarding) and drops IPv4 packets that would need fragmenting instead ' +
        'of fragmenting them.',
    ),
    {
      name: 'monitor-fake',
      role: 'monitor',
      fault: 'fake',
      description: 'Reports counts that grow by 13 a second whatever arrives; its NICs never come up.',
    },
    {
      name: 'monitor-nopromisc',
      role: 'monitor',
      fault: 'nopromisc',
      description: 'Its NICs are not promiscuous: it receives (and counts) only frames to broadcast, multicast or its own MACs.',
    },
    {
      name: 'l2-bridge-firewall-narrow',
      role: 'l2-bridge',
      fault: 'v4only untagged-only',
      policy: 'firewall.sh',
      tools: ['nft'],
      extraModules: FIREWALL_MODULES,
      description:
        'The firewall with two rules written too narrow for classes that leave a dimension open: its telnet rule matches IPv4 ' +
        'only (IPv6 telnet crosses), its SNMP rule checks the EtherType (802.1Q-tagged SNMP crosses). Everything else as the good one.',
    },
    {
      name: 'l2-bridge-persistent-net',
      role: 'l2-bridge',
      fault: 'persistent-net',
      init: 'init-persistent-net.sh',
      extraModules: ['virtio_blk'],
      description:
        'Names its NICs by the 70-persistent-net.rules on its disk (/dev/vda) as udev does, then bridges eth0/eth1 by name: a ' +
        'leftover rules file with other MACs breaks it (boot it with the image attached).',
    },
  ].map((v) => Object.freeze(v as ReferenceVariant)),
);

/** Kernel modules every image loads (their dependencies are added from modules.dep). */
export const GUEST_MODULES: readonly string[] = [
  'virtio_pci',
  'virtio_net',
  'bridge',
  '8021q',
  'sch_netem',
  'sch_ingress',
  'act_pedit',
  'act_gact',
  'cls_matchall',
  'cls_u32',
  'evdev',
  'button',
  // The memory balloon's driver: the guest's memory statistics for the soak's health checks.
  'virtio_balloon',
];

export const DEFAULT_APPEND = 'console=ttyS0 quiet panic=-1';

/** Bump when the image layout changes in a way the inputs below do not capture. */
const IMAGE_FORMAT = 'wirelab-guest-image/1';

const GUEST_DIR = repoPath('images', 'guest');

export function findReferenceVariant(name: string): ReferenceVariant {
  const variant = REFERENCE_VARIANTS.find((v) => v.name === name);
  if (!variant) {
    throw new WirelabError(`Unknown reference image '${name}'. Fix: use one of ${REFERENCE_VARIANTS.map((v) => v.name).join(', ')}.`, {
      exitCode: 2,
    });
  }
  return variant;
}

export function readyPatternFor(role: GuestRole): string {
  return `wirelab-guest: ready role=${role.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`;
}

/** Modules in load order: each one after everything it depends on (from modules.dep text). */
export function resolveModuleOrder(modulesDep: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    deps.set(
      path,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
    byName.set(moduleName(path), path);
  }
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (path: string): void => {
    if (order.includes(path)) return;
    if (visiting.has(path)) throw new Error(`modules.dep: dependency cycle at ${path}`);
    visiting.add(path);
    for (const dep of deps.get(path) ?? []) visit(dep);
    visiting.delete(path);
    order.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(name.replace(/-/g, '_'));
    if (!path)
      throw new WirelabError(
        `Kernel module '${name}' is not in modules.dep. Fix: install the Debian cloud kernel (linux-image-cloud-amd64).`,
      );
    visit(path);
  }
  return order;
}

function moduleName(path: string): string {
  return basename(path)
    .replace(/\.ko(\.(xz|zst|gz))?$/, '')
    .replace(/-/g, '_');
}

/** Shared libraries from `ldd` output: resolved paths plus the dynamic loader. */
export function parseLdd(text: string): string[] {
  const libs: string[] = [];
  for (const line of text.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

/** Digest of an image: its format, the kernel and the exact initramfs content. */
export function imageDigest(kernel: Buffer, initramfs: Buffer): string {
  const h = createHash('sha256');
  h.update(IMAGE_FORMAT + '\0');
  h.update(createHash('sha256').update(kernel).digest());
  h.update(createHash('sha256').update(initramfs).digest());
  return h.digest('hex');
}

/** The variant settings the init script sources. */
export function variantEnv(variant: ReferenceVariant): string {
  // A policy image's faults are a list ("wideport noshape"): quoted, so sourcing the file keeps it whole.
  const fault = variant.fault?.includes(' ') ? `'${variant.fault}'` : (variant.fault ?? '');
  return [`VARIANT=${variant.name}`, `ROLE=${variant.role}`, `FAULT=${fault}`, ''].join('\n');
}

/** Where this machine's parts of a guest image are. */
export interface HostParts {
  kernel: string;
  modulesDir: string;
  busybox: string;
  tc: string;
  ip: string;
  nft: string;
  bridge: string;
}

export async function findHostParts(): Promise<HostParts> {
  const kernels = (await readdir('/boot').catch(() => [] as string[]))
    .filter((f) => /^vmlinuz-.*-cloud-amd64$/.test(f))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const kernel = kernels.at(-1);
  const missing = (what: string, pkg: string): WirelabError =>
    new WirelabError(`Cannot build a reference image: ${what} is missing. Fix: apt-get install ${pkg}.`);
  if (!kernel) throw missing('the Debian cloud kernel (/boot/vmlinuz-*-cloud-amd64)', 'linux-image-cloud-amd64');
  const version = kernel.slice('vmlinuz-'.length);
  const parts = {
    kernel: join('/boot', kernel),
    modulesDir: join('/lib/modules', version),
    busybox: '/bin/busybox',
    tc: '/usr/sbin/tc',
    ip: '/bin/ip',
    nft: '/usr/sbin/nft',
    bridge: '/sbin/bridge',
  };
  if (!existsSync(join(parts.modulesDir, 'modules.dep'))) throw missing(`${parts.modulesDir}/modules.dep`, 'linux-image-cloud-amd64');
  if (!existsSync(parts.busybox)) throw missing('busybox', 'busybox-static');
  if (!existsSync(parts.tc)) throw missing('tc', 'iproute2');
  // A dynamically linked busybox would not run in the initramfs (it carries no libraries for it).
  const ldd = await run('ldd', [parts.busybox], { allowFailure: true });
  if (ldd.exitCode === 0) throw missing('a statically linked busybox', 'busybox-static');
  return parts;
}

/** Every file of the variant's initramfs (pure of the cache; reads the host parts). */
export async function imageEntries(variant: ReferenceVariant, host: HostParts): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  const addFile = async (path: string, from: string, mode: number): Promise<void> => {
    entries.push({ type: 'file', path, mode, data: await readFile(from) });
  };
  for (const dir of ['proc', 'sys', 'dev', 'tmp', 'run', 'root', 'sbin', 'usr/bin']) entries.push({ type: 'dir', path: dir, mode: 0o755 });
  // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
  entries.push({ type: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 });
  entries.push({ type: 'char', path: 'dev/null', mode: 0o666, major: 1, minor: 3 });
  await addFile('init', join(GUEST_DIR, variant.init ?? 'init.sh'), 0o755);
  await addFile('etc/acpi/PWRF/00000080', join(GUEST_DIR, 'power-button.sh'), 0o755);
  await addFile('bin/busybox', host.busybox, 0o755);
  entries.push({ type: 'symlink', path: 'bin/sh', target: 'busybox' });
  entries.push({ type: 'file', path: 'etc/wirelab/variant.env', mode: 0o644, data: Buffer.from(variantEnv(variant)) });

  const modules = resolveModuleOrder(await readFile(join(host.modulesDir, 'modules.dep'), 'utf8'), [
    ...GUEST_MODULES,
    ...(variant.extraModules ?? []),
  ]);
  for (const m of modules) await addFile(join('lib/modules', m), join(host.modulesDir, m), 0o644);
  entries.push({ type: 'file', path: 'etc/wirelab/modules.list', mode: 0o644, data: Buffer.from(modules.join('\n') + '\n') });

  // The real tc and ip (busybox's cut-down ones run first, so these are called by path) and the
  // shared libraries they link, at the paths their loader looks for them.
  await addFile('usr/sbin/tc', host.tc, 0o755);
  await addFile('usr/sbin/ip-iproute2', host.ip, 0o755);
  const binaries = [host.tc, host.ip];
  if (variant.tools?.includes('nft')) {
    if (!existsSync(host.nft))
      throw new WirelabError(`Cannot build the reference image '${variant.name}': nft is missing. Fix: apt-get install nftables.`);
    await addFile('usr/sbin/nft', host.nft, 0o755);
    binaries.push(host.nft);
  }
  if (variant.tools?.includes('bridge')) {
    await addFile('usr/sbin/bridge', host.bridge, 0o755);
    binaries.push(host.bridge);
  }
  if (variant.policy) await addFile('etc/wirelab/policy.sh', join(GUEST_DIR, variant.policy), 0o644);
  const libs = new Set<string>();
  for (const binary of binaries) for (const lib of parseLdd((await run('ldd', [binary])).stdout)) libs.add(lib);
  for (const lib of [...libs].sort()) await addFile(lib, await realpath(lib), 0o755);
  return entries;
}

export interface BuildOptions {
  /** Defaults to $WIRELAB_CACHE_DIR, else images/cache/ under the repository root. */
  cacheDir?: string;
}

export function defaultCacheDir(): string {
  return process.env.WIRELAB_CACHE_DIR || resolve(GUEST_DIR, '../cache');
}

/** Build (or reuse from the cache) the named reference image. */
export async function buildReferenceImage(name: string, opts: BuildOptions = {}): Promise<BuiltImage> {
  const variant = findReferenceVariant(name);
  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir());
  const host = await findHostParts();
  const kernel = await readFile(host.kernel);
  const archive = writeCpio(await imageEntries(variant, host));
  const digest = imageDigest(kernel, archive);
  const short = digest.slice(0, 16);
  await mkdir(cacheDir, { recursive: true });

  const kernelDigest = createHash('sha256').update(kernel).digest('hex').slice(0, 16);
  const kernelPath = join(cacheDir, `vmlinuz-${kernelDigest}`);
  if (!existsSync(kernelPath)) await writeAtomically(kernelPath, kernel);
  const initrdPath = join(cacheDir, `${variant.name}-${short}.initrd.gz`);
  if (!existsSync(initrdPath)) await writeAtomically(initrdPath, gzipSync(archive, { level: 6 }));

  return {
    name: variant.name,
    role: variant.role,
    kernel: kernelPath,
    initrd: initrdPath,
    digest,
    readyPattern: readyPatternFor(variant.role),
    append: DEFAULT_APPEND,
  };
}
