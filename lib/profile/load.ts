// Loading a lab profile: read the YAML, check every field against the schema and the rules that span
// fields (one image source, distinct MACs, addresses in 198.18.0.0/15, files that exist), and return a
// typed, defaults-filled profile. All problems are reported at once in a ProfileError; nothing is
// created before a profile is valid.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { ProfileError, type ProfileProblem } from '../core/errors.ts';
import { REFERENCE_VARIANTS } from '../images/reference-image.ts';
import {
  ipv6Groups,
  normalizeMac,
  parseCidr,
  parseCidr6,
  sameSubnet,
  sameSubnet6,
  subnetsOverlap,
  VROUTER_MAC,
  type Cidr,
} from '../core/addressing.ts';
import { patternProblem } from './patterns.ts';

/** A path on a bench host, as it reaches commands there: absolute, plain characters, no '..' segment. */
const BENCH_HOST_PATH = /^(?!.*(^|\/)\.\.(\/|$))\/[A-Za-z0-9._+/-]{1,255}$/;

/** The container engine's address pool in a nested lab (lib/runtime/docker-engine.ts). */
const MANAGEMENT_POOL: Cidr = { address: '198.19.0.0', prefix: 16 };
import { profileSchema } from './fields.ts';
import { policyFromRaw, policyProblems } from './policy-fields.ts';
import { validate, closest, type SchemaProblem } from './schema-engine.ts';
import type { LabProfile, RawProfile } from './types.ts';

export function loadProfile(file: string): LabProfile {
  const shown = file; // errors name the file as the user gave it
  let text: string;
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ProfileError([
      {
        file: shown,
        path: '',
        message: 'cannot be read (no such file).',
        fix: 'give the path of a YAML lab profile, e.g. lab-profiles/nested-l2-bridge.yaml.',
      },
    ]);
  }
  return parseProfile(text, file, shown);
}

/** A profile needs no aliases at all; a few are tolerated, not an exponential expansion. */
const MAX_ALIAS_COUNT = 50;

/** Parse and validate profile text. `file` resolves relative paths; `shown` is how errors name it. */
export function parseProfile(text: string, file: string, shown = file): LabProfile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ProfileError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          file: pos ? `${shown}:${pos.line}:${pos.col}` : shown,
          path: '',
          message: `is not valid YAML: ${e.message.split('\n')[0]}`,
          fix: 'correct the YAML syntax at that line (indentation with spaces, `key: value`).',
        };
      }),
    );
  }
  let data: unknown;
  try {
    // Aliases are expanded: a few nested ones (an "alias bomb") would expand to billions of nodes.
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new ProfileError([
      {
        file: shown,
        path: '',
        message: `could not be read: ${(e as Error).message.split('\n')[0]} (more than ${MAX_ALIAS_COUNT} alias expansions).`,
        fix: 'write the values out instead of nesting YAML aliases (*name) inside anchored collections.',
      },
    ]);
  }
  const schemaProblems: SchemaProblem[] = [];
  const raw = validate(profileSchema, data ?? undefined, '', schemaProblems) as RawProfile | undefined;
  if (data === null || data === undefined) {
    throw new ProfileError([{ file: shown, path: '', message: 'is empty.', fix: 'start from lab-profiles/nested-l2-bridge.yaml.' }]);
  }
  // Cross-field rules run even when some fields failed, so the user sees every problem in one go;
  // a rule whose fields are broken stays silent (the field's own problem is already reported).
  if (raw) {
    const broken = new Set(schemaProblems.map((p) => p.path));
    schemaProblems.push(...crossFieldProblems(raw, path.dirname(file)).filter((p) => !broken.has(p.path)));
  }

  if (schemaProblems.length > 0) {
    const lineOf = (p: string): string => {
      const node = nodeAt(doc.contents as Node | null, p);
      const start = node?.range?.[0];
      return start === undefined ? shown : `${shown}:${lineCounter.linePos(start).line}`;
    };
    const problems: ProfileProblem[] = schemaProblems.map((p) => ({ file: lineOf(p.path), path: p.path, message: p.message, fix: p.fix }));
    throw new ProfileError(problems);
  }
  return finish(raw!, file);
}

/** The YAML node at a dotted path (or its nearest existing parent), for line numbers in errors. */
function nodeAt(root: Node | null, dotted: string): Node | null {
  let node = root;
  // `policy.classes[2].rate` → policy, classes, 2, rate (a list item by its index).
  const keys = dotted ? dotted.split('.').flatMap((k) => k.split(/\[(\d+)\]/).filter(Boolean)) : [];
  for (const key of keys) {
    if (!node || !(isMap(node) || isSeq(node))) return node;
    const next = node.get(isSeq(node) ? Number(key) : key, true) as Node | undefined;
    if (!next) {
      // The key itself may be the problem (unknown field): point at the key.
      const pair = isMap(node) ? node.items.find((i) => (i.key as { value?: unknown })?.value === key) : undefined;
      return (pair?.key as Node | undefined) ?? node;
    }
    node = next;
  }
  return node;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Rules across fields. `p` may be partial (fields that failed their own checks are absent). */
function crossFieldProblems(p: DeepPartial<RawProfile>, baseDir: string): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const add = (fieldPath: string, message: string, fix: string) => problems.push({ path: fieldPath, message, fix });

  // The guest image: exactly one source, and its files exist.
  const image = p.guest?.image ?? {};
  const sources = [image.reference && 'reference', (image.kernel || image.initrd) && 'kernel', image.disk && 'disk'].filter(Boolean);
  if (sources.length !== 1) {
    add(
      'guest.image',
      sources.length === 0 ? 'names no image.' : `names ${sources.length} image sources (${sources.join(', ')}); it must name exactly one.`,
      'give exactly one of `reference: l2-bridge`, `kernel:` with `initrd:`, or `disk: path/to/image.qcow2`.',
    );
  }
  if (image.reference) {
    const names = REFERENCE_VARIANTS.map((v) => v.name);
    if (!names.includes(image.reference)) {
      const guess = closest(image.reference, names);
      add(
        'guest.image.reference',
        `is "${image.reference}", which is not a wirelab reference image.`,
        `use one of ${names.join(', ')}${guess ? ` (did you mean '${guess}'?)` : ''}.`,
      );
    } else {
      const variant = REFERENCE_VARIANTS.find((v) => v.name === image.reference)!;
      if (variant.role !== p.role)
        add(
          'role',
          `is "${p.role}", but the reference image '${variant.name}' is a ${variant.role}.`,
          `set role: ${variant.role}, or pick a ${p.role} reference image.`,
        );
    }
  }
  if (image.kernel && !image.initrd)
    add('guest.image.initrd', 'is missing; a `kernel` image needs its initramfs.', 'add `initrd: path/to/initrd.img`.');
  if (image.initrd && !image.kernel)
    add('guest.image.kernel', 'is missing; an `initrd` needs its kernel.', 'add `kernel: path/to/vmlinuz`.');
  // On a bench host over SSH the disk is a path there: checked there (by the run), never here.
  const diskOnBenchHost = p.kind === 'host' && p.host?.connection === 'ssh';
  if (image.disk && diskOnBenchHost && !BENCH_HOST_PATH.test(image.disk))
    add(
      'guest.image.disk',
      `is "${image.disk}"; on a bench host over SSH it is a path on the bench host, and it must be absolute, without '..' and ` +
        'without spaces or shell characters.',
      'give the absolute path on the bench host, e.g. /var/lib/wirelab/images/service.qcow2 (with `upload:` naming a local file ' +
        'to put there).',
    );
  if (image.upload && !(diskOnBenchHost && image.disk))
    add(
      'guest.image.upload',
      'is set, but it only applies to a `disk` on a bench host over SSH (kind: host, host.connection: ssh).',
      'remove it, or name the bench host path in `disk:` and reach the bench host over SSH.',
    );
  for (const key of ['kernel', 'initrd', 'disk', 'upload'] as const) {
    const rel = image[key];
    if (key === 'disk' && diskOnBenchHost) continue;
    if (rel && !existsSync(path.resolve(baseDir, rel))) {
      add(
        `guest.image.${key}`,
        `is "${rel}", but no file is there (looked in ${path.resolve(baseDir, rel)}).`,
        'correct the path (relative paths are relative to the profile file) or build the image first.',
      );
    }
  }

  // MACs: every NIC in the lab distinct, or bridges learn one station on two ports and frames vanish.
  const macs: [string, string | undefined][] = [
    ['guest.nics.left.mac', p.guest?.nics?.left?.mac],
    ['guest.nics.right.mac', p.guest?.nics?.right?.mac],
    ['trafficHosts.left.mac', p.trafficHosts?.left?.mac],
    ['trafficHosts.right.mac', p.trafficHosts?.right?.mac],
  ];
  const seen = new Map<string, string>();
  for (const [fieldPath, value] of macs) {
    if (!value) continue;
    const m = normalizeMac(value);
    const first = seen.get(m);
    if (first) {
      const vrouter =
        m === VROUTER_MAC
          ? " (the vRouter's shared MAC: a transparent service sees a loop and nothing flows; the l2-bridge suite shows that case by " +
            'itself)'
          : '';
      add(
        fieldPath,
        `is ${value}, the same MAC as '${first}'${vrouter}.`,
        'give every NIC its own MAC, or leave the MACs out to have distinct ones generated ("auto-configured").',
      );
    } else seen.set(m, fieldPath);
  }

  // Addresses: the two sides must fit the role's topology.
  const left = parseCidr(p.trafficHosts?.left?.ipv4 ?? '');
  const right = parseCidr(p.trafficHosts?.right?.ipv4 ?? '');
  if (left && right) problems.push(...topologyProblems(p, left, right));

  // In a nested lab, 198.19.0.0/16 is the container engine's management pool (where wirelab reaches
  // the traffic hosts over SSH): lab addresses there would collide with it.
  if (p.kind === 'nested') {
    for (const side of ['left', 'right'] as const) {
      const cidr = parseCidr(p.trafficHosts?.[side]?.ipv4 ?? '');
      if (cidr && subnetsOverlap(cidr, MANAGEMENT_POOL))
        add(
          `trafficHosts.${side}.ipv4`,
          `is ${p.trafficHosts?.[side]?.ipv4}, a subnet that overlaps 198.19.0.0/16, which a nested lab keeps for the container ` +
            `engine's management network.`,
          'use a subnet inside 198.18.0.0/16 (a prefix of 16 or longer), e.g. 198.18.0.1/24.',
        );
    }
  }

  problems.push(...ipv6Problems(p));
  problems.push(...monitorProblems(p));

  if (p.policy) problems.push(...policyProblems(p.policy as Parameters<typeof policyProblems>[0], p.role));

  if (p.soak?.framesPerSecond !== undefined && p.soak.ndrFraction !== undefined)
    add(
      'soak.ndrFraction',
      `is ${p.soak.ndrFraction}, but soak.framesPerSecond (${p.soak.framesPerSecond}) names the rate too; the soak runs at one rate.`,
      'keep one of them: framesPerSecond for a fixed rate, or ndrFraction for a share of the NDR measured first.',
    );

  // Sections that belong to one kind only.
  if (p.kind === 'nested' && p.host)
    add(
      'host',
      'is set, but this is a `nested` profile; the section is only for `kind: host`.',
      'remove the `host` section, or set `kind: host`.',
    );
  if (p.kind === 'host') {
    if (!p.host)
      add(
        'host',
        'is missing; a `host` profile needs the bench host section.',
        'add `host:` with managementNic, dataNics and (for a remote host) ssh.',
      );
    else {
      if (!p.host.managementNic)
        add('host.managementNic', 'is missing.', 'name the NIC that carries the management address, e.g. eth0; wirelab never touches it.');
      if (p.host.connection === 'ssh' && !p.host.ssh)
        add(
          'host.ssh',
          'is missing, but `connection: ssh` needs it.',
          'add `ssh:` with address, hostKey and privateKeyFile, or set `connection: local`.',
        );
      if (p.host.connection === 'ssh' && p.host.netns)
        add('host.netns', 'is set, but it only applies to `connection: local`.', 'remove it, or set `connection: local`.');
      const mgmt = p.host.managementNic;
      for (const side of ['left', 'right'] as const) {
        if (mgmt && p.host.dataNics?.[side] === mgmt)
          add(
            `host.dataNics.${side}`,
            `is ${mgmt}, the management NIC; enslaving it to a bridge would cut the operator off.`,
            `use the ${side} data NIC (e.g. ${side === 'left' ? 'eth1' : 'eth2'}).`,
          );
      }
      if (p.host.dataNics?.left === p.host.dataNics?.right)
        add(
          'host.dataNics.right',
          `is ${p.host.dataNics?.right}, the same NIC as the left side.`,
          'use two different NICs, e.g. eth1 and eth2.',
        );
      if (p.host.bridges?.left === p.host.bridges?.right)
        add(
          'host.bridges.right',
          `is ${p.host.bridges?.right}, the same bridge as the left side: both data NICs would be one segment and frames would ` +
            'bypass the guest.',
          'use two different bridge names, e.g. br0 and br1.',
        );
    }
    for (const side of ['left', 'right'] as const) {
      if (!p.trafficHosts?.[side]?.ssh)
        add(
          `trafficHosts.${side}.ssh`,
          'is missing; on a bench host the traffic hosts are reached over SSH.',
          'add `ssh:` with address and hostKey.',
        );
    }
  } else {
    for (const side of ['left', 'right'] as const) {
      if (p.trafficHosts?.[side]?.ssh)
        add(
          `trafficHosts.${side}.ssh`,
          'is set, but in a nested lab the traffic hosts are containers wirelab creates.',
          'remove it, or use `kind: host`.',
        );
    }
  }
  return problems;
}

/** IPv6 on the traffic hosts: both or neither; a router's sides in two subnets with a gateway each, a bridge's in one. */
function ipv6Problems(p: DeepPartial<RawProfile>): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const add = (fieldPath: string, message: string, fix: string) => problems.push({ path: fieldPath, message, fix });
  const left = parseCidr6(p.trafficHosts?.left?.ipv6 ?? '');
  const right = parseCidr6(p.trafficHosts?.right?.ipv6 ?? '');
  for (const side of ['left', 'right'] as const) {
    const other = side === 'left' ? 'right' : 'left';
    if (p.trafficHosts?.[side]?.ipv6 && !p.trafficHosts?.[other]?.ipv6)
      add(
        `trafficHosts.${other}.ipv6`,
        'is missing, but the other traffic host has an IPv6 address.',
        'give both traffic hosts an IPv6 address, or neither.',
      );
    const gw = p.trafficHosts?.[side]?.gateway6;
    const mine = side === 'left' ? left : right;
    if (gw && !p.trafficHosts?.[side]?.ipv6)
      add(
        `trafficHosts.${side}.gateway6`,
        'is set, but the host has no IPv6 address.',
        `add trafficHosts.${side}.ipv6, or remove gateway6.`,
      );
    const g = gw ? ipv6Groups(gw) : null;
    if (g && mine && !sameSubnet6(g, mine.groups, mine.prefix))
      add(
        `trafficHosts.${side}.gateway6`,
        `is ${gw}, outside the host's subnet ${p.trafficHosts?.[side]?.ipv6}.`,
        "use the router's address on this host's subnet.",
      );
    if (p.role === 'l3-forwarder' && mine && !gw)
      add(
        `trafficHosts.${side}.gateway6`,
        'is missing; an l3-forwarder lab routes IPv6 through the guest too.',
        "set it to the guest's IPv6 address on this side.",
      );
  }
  if (left && right) {
    const shared = left.prefix === right.prefix && sameSubnet6(left.groups, right.groups, left.prefix);
    if (p.role === 'l3-forwarder' && shared)
      add(
        'trafficHosts.right.ipv6',
        'is in the same IPv6 subnet as the left host; an L3 forwarder joins two subnets.',
        'use another subnet, e.g. 2001:db8:2::2/64.',
      );
    if (p.role !== 'l3-forwarder' && !shared)
      add(
        'trafficHosts.right.ipv6',
        `is not in the left host's IPv6 subnet; through the ${p.role} both hosts share one.`,
        'use one subnet, e.g. 2001:db8:1::1/64 and 2001:db8:1::2/64.',
      );
  }
  return problems;
}

/** A monitor's report line must carry its counts, or a report proves nothing about what it received. */
function monitorProblems(p: DeepPartial<RawProfile>): SchemaProblem[] {
  const pattern = p.guest?.monitorReportPattern;
  if (p.role !== 'monitor' || typeof pattern !== 'string' || patternProblem(pattern)) return [];
  const groups = new Set([...pattern.matchAll(/\(\?<([A-Za-z][A-Za-z0-9]*)>/g)].map((m) => m[1]));
  if (groups.has('frames') || (groups.has('left') && groups.has('right'))) return [];
  return [
    {
      path: 'guest.monitorReportPattern',
      message:
        `is "${pattern}", which names no count: a monitor is judged by what it counts, and a report line alone proves nothing ` +
        '(a monitor that prints without receiving would pass).',
      fix: 'capture the count as a named group: (?<frames>\\d+) for all data NICs together, or (?<left>\\d+) and (?<right>\\d+) per NIC.',
    },
  ];
}

function topologyProblems(p: DeepPartial<RawProfile>, left: Cidr, right: Cidr): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const add = (fieldPath: string, message: string, fix: string) => problems.push({ path: fieldPath, message, fix });
  if (left.address === right.address)
    add(
      'trafficHosts.right.ipv4',
      `is ${p.trafficHosts?.right?.ipv4}, the same address as the left traffic host.`,
      'give each traffic host its own address.',
    );
  if (p.role === 'l3-forwarder') {
    if (sameSubnet(left, right))
      add(
        'trafficHosts.right.ipv4',
        `is in the same subnet as the left traffic host; an L3 forwarder joins two different subnets.`,
        'put the right traffic host in another subnet, e.g. 198.18.2.2/24, with gateway 198.18.2.1.',
      );
    for (const side of ['left', 'right'] as const) {
      if (!p.trafficHosts?.[side]?.gateway)
        add(
          `trafficHosts.${side}.gateway`,
          'is missing; an l3-forwarder lab routes each side through the guest.',
          `set it to the guest's address on the ${side} side, e.g. ${side === 'left' ? '198.18.1.1' : '198.18.2.1'}.`,
        );
    }
  } else if (p.role && !sameSubnet(left, right)) {
    add(
      'trafficHosts.right.ipv4',
      `is not in the left traffic host's subnet; through the ${p.role} both traffic hosts share one subnet.`,
      `use the same subnet on both sides, e.g. 198.18.0.1/24 and 198.18.0.2/24.`,
    );
  }
  return problems;
}

function finish(raw: RawProfile, file: string): LabProfile {
  const baseDir = path.dirname(path.resolve(file));
  const resolve = (rel?: string) => (rel ? path.resolve(baseDir, rel) : undefined);
  const image = raw.guest.image;
  const { policy, ...rest } = raw;
  return {
    ...rest,
    ...(policy ? { policy: policyFromRaw(policy) } : {}),
    file: path.resolve(file),
    guest: {
      ...raw.guest,
      image: image.reference
        ? { kind: 'reference', reference: image.reference }
        : image.disk
          ? raw.kind === 'host' && raw.host?.connection === 'ssh'
            ? { kind: 'disk', disk: image.disk, ...(image.upload ? { upload: resolve(image.upload)! } : {}) }
            : { kind: 'disk', disk: resolve(image.disk)! }
          : { kind: 'kernel', kernel: resolve(image.kernel)!, initrd: resolve(image.initrd)!, append: image.append! },
    },
  };
}
