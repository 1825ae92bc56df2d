// The frames the policy suite sends, derived from the declared policy alone: for each class, a frame
// inside it from each side the class applies to — once for every value of the dimensions the class
// leaves open (IPv4 and IPv6, untagged and 802.1Q-tagged), since a class that names no `l3` or `vlan`
// promises its behaviour for all of them — and probes just outside it: the neighbouring port, VLAN,
// DSCP or address, the other transport protocol, the other direction. A rule written too wide (a port
// range, a missing direction) shows as a probe that should have crossed and did not; a rule written
// too narrow (IPv4 only, untagged only) as an in-class frame that should not have crossed and did.
// What each probe must do is not decided here: the suite classifies the frame it built (classify.ts).
//
// Pure: a policy in, frame descriptions out.
import { otherSide, SIDES, type Side } from '../core/sides.ts';
import { addressPast, familyOf, hostIn, parseIpRange } from './addresses.ts';
import { classify } from './classify.ts';
import {
  appliesFrom,
  type ClassMatch,
  type FrameFields,
  type L3Protocol,
  type L4Protocol,
  type Policy,
  type PolicyClass,
} from './model.ts';

/** A frame to send, as fields: what is not given is the lab's default (the hosts' addresses, DSCP 0, untagged). */
export interface ProbeFrame extends FrameFields {
  l3: L3Protocol;
}

/** Where a frame lies along the dimensions a class may leave open. */
export interface Variant {
  l3: L3Protocol;
  tagged: boolean;
}

export interface Probe {
  /** Unique within the policy: "block-telnet: dstPort 24 (next to 23) left→right". */
  name: string;
  /** The class it was derived from. */
  of: string;
  /** Inside the class, just outside it (and what differs), or in no class at all (the default's traffic). */
  kind: 'in-class' | 'neighbour' | 'unmatched';
  what: string;
  from: Side;
  frame: ProbeFrame;
  variant: Variant;
}

/** What the lab's role carries, so what an open dimension ranges over. */
export interface ProbeOptions {
  /** 802.1Q-tagged frames are the role's traffic (an l2-bridge carries them; a router's untagged links do not). */
  tagged: boolean;
  /** IPv6 frames are the lab's traffic. */
  ipv6: boolean;
}

const DEFAULT_OPTIONS: ProbeOptions = { tagged: true, ipv6: true };

/** Source and destination ports of a class's frames where the class leaves them open (distinct per class). */
const FREE_SRC_PORT = 30_000;
const FREE_DST_PORT = 40_000;
/** The VLAN id of tagged frames where a class leaves the VLAN open: the first from here that no class names. */
const FIRST_FREE_VLAN = 100;

/** The in-class frame of a class at its base values: IPv4 (or its addresses' family), untagged where left open. */
export function inClassFrame(c: PolicyClass, index: number): ProbeFrame {
  const m = c.match;
  const l3 = m.l3 ?? addressFamily(m) ?? 'ipv4';
  const frame: ProbeFrame = { l3 };
  if (l3 === 'arp') return withOptional(frame, { vlan: m.vlan });
  const l4 = m.l4 ?? 'udp';
  return withOptional(
    { ...frame, l4 },
    {
      srcIp: m.srcIp ? hostIn(parseIpRange(m.srcIp)!) : undefined,
      dstIp: m.dstIp ? hostIn(parseIpRange(m.dstIp)!) : undefined,
      srcPort: l4 === 'icmp' ? undefined : (m.srcPort ?? FREE_SRC_PORT + index),
      dstPort: l4 === 'icmp' ? undefined : (m.dstPort ?? FREE_DST_PORT + index),
      vlan: m.vlan,
      dscp: m.dscp,
      fragment: m.fragment,
    },
  );
}

/**
 * The values each open dimension of a class is probed at, base value first: `l3` over IPv4 and IPv6
 * (and ARP when nothing else in the match needs IP), `vlan` over untagged and one 802.1Q tag.
 */
export function openDimensions(m: ClassMatch, opts: ProbeOptions = DEFAULT_OPTIONS): { l3: L3Protocol[]; tagged: boolean[] } {
  const fixedL3 = m.l3 ?? addressFamily(m);
  const ipOnly =
    m.l4 !== undefined || m.dscp !== undefined || m.srcPort !== undefined || m.dstPort !== undefined || m.fragment !== undefined;
  const l3: L3Protocol[] = fixedL3 ? [fixedL3] : ['ipv4', ...(opts.ipv6 ? (['ipv6'] as const) : []), ...(ipOnly ? [] : (['arp'] as const))];
  const tagged = m.vlan === undefined && opts.tagged ? [false, true] : [m.vlan !== undefined];
  return { l3, tagged };
}

/** Every probe of a policy: each class's in-class frames over its open dimensions, its neighbours, without repeats. */
export function policyProbes(policy: Policy, options: Partial<ProbeOptions> = {}): Probe[] {
  const opts = { ...DEFAULT_OPTIONS, ...options };
  const vlan = freeVlan(policy);
  const probes: Probe[] = [];
  const seen = new Set<string>();
  const add = (p: Omit<Probe, 'name' | 'variant'>) => {
    const key = `${p.from}:${JSON.stringify(p.frame)}`;
    if (seen.has(key)) return;
    seen.add(key);
    const variant = { l3: p.frame.l3, tagged: p.frame.vlan !== undefined };
    probes.push({ ...p, variant, name: `${p.of}: ${p.what} ${p.from === 'left' ? 'left→right' : 'right→left'}` });
  };
  policy.classes.forEach((c, i) => {
    const frame = inClassFrame(c, i);
    const dims = openDimensions(c.match, opts);
    const sides = SIDES.filter((s) => appliesFrom(c.match, s));
    for (const from of sides) {
      for (const l3 of dims.l3)
        for (const tagged of dims.tagged) {
          const variant = variantFrame(frame, l3, c.match.vlan === undefined && tagged ? vlan : undefined);
          add({ of: c.name, kind: 'in-class', what: variantName(variant, frame), from, frame: variant });
        }
      for (const [what, neighbour] of neighbours(c, frame)) add({ of: c.name, kind: 'neighbour', what, from, frame: neighbour });
    }
    // A one-way class: the same frame from the other side is outside it.
    if (sides.length === 1) add({ of: c.name, kind: 'neighbour', what: 'the other direction', from: otherSide(sides[0]!), frame });
  });
  // Traffic no class matches, both ways: what the default (or the role) decides.
  for (const from of SIDES) {
    const frame = unmatchedFrame(policy, from);
    if (frame) add({ of: 'no class', kind: 'unmatched', what: 'UDP no class matches', from, frame });
  }
  return probes;
}

/** A UDP frame no class matches from this side (a free destination port from 45000), if there is one. */
export function unmatchedFrame(policy: Policy, from: Side): ProbeFrame | undefined {
  for (let dstPort = 45_000; dstPort < 45_100; dstPort++) {
    const frame: ProbeFrame = { l3: 'ipv4', l4: 'udp', srcPort: 44_000, dstPort };
    if (!classify(policy, frame, from).class) return frame;
  }
  return undefined;
}

/** The base frame in another network protocol and tagging: transport, ports and DSCP kept (ARP has none of them). */
function variantFrame(base: ProbeFrame, l3: L3Protocol, vlan: number | undefined): ProbeFrame {
  const out: ProbeFrame = l3 === base.l3 ? { ...base } : l3 === 'arp' ? withOptional({ l3 }, { vlan: base.vlan }) : { ...base, l3 };
  if (vlan !== undefined) out.vlan = vlan;
  return out;
}

/** "in class", "in class, IPv6", "in class, 802.1Q VLAN 100", "in class, IPv6 in 802.1Q VLAN 100". */
function variantName(frame: ProbeFrame, base: ProbeFrame): string {
  const parts: string[] = [];
  if (frame.l3 !== base.l3) parts.push(L3_NAMES[frame.l3]);
  if (frame.vlan !== base.vlan) parts.push(`${parts.length > 0 ? 'in ' : ''}802.1Q VLAN ${frame.vlan}`);
  return parts.length === 0 ? 'in class' : `in class, ${parts.join(' ')}`;
}

export const L3_NAMES: Record<L3Protocol, string> = { ipv4: 'IPv4', ipv6: 'IPv6', arp: 'ARP' };

/** Frames that differ from the in-class frame in one matched field, just outside the class. */
function neighbours(c: PolicyClass, frame: ProbeFrame): [string, ProbeFrame][] {
  const m = c.match;
  const out: [string, ProbeFrame][] = [];
  const next = (v: number, max: number) => (v < max ? v + 1 : v - 1);
  if (m.dstPort !== undefined)
    out.push([`dstPort ${next(m.dstPort, 65535)} (next to ${m.dstPort})`, { ...frame, dstPort: next(m.dstPort, 65535) }]);
  if (m.srcPort !== undefined)
    out.push([`srcPort ${next(m.srcPort, 65535)} (next to ${m.srcPort})`, { ...frame, srcPort: next(m.srcPort, 65535) }]);
  if (m.vlan !== undefined) out.push([`vlan ${next(m.vlan, 4094)} (next to ${m.vlan})`, { ...frame, vlan: next(m.vlan, 4094) }]);
  if (m.dscp !== undefined) out.push([`dscp ${next(m.dscp, 63)} (next to ${m.dscp})`, { ...frame, dscp: next(m.dscp, 63) }]);
  if (m.fragment !== undefined) out.push([m.fragment ? 'unfragmented' : 'a first fragment', { ...frame, fragment: !m.fragment }]);
  if (m.l4 !== undefined) {
    const other: L4Protocol = m.l4 === 'udp' ? 'tcp' : 'udp';
    const ports = m.l4 === 'icmp' ? { srcPort: FREE_SRC_PORT, dstPort: FREE_DST_PORT } : {};
    out.push([`${other} instead of ${m.l4}`, { ...frame, l4: other, ...ports }]);
  }
  for (const key of ['srcIp', 'dstIp'] as const) {
    const cidr = m[key];
    const past = cidr ? addressPast(parseIpRange(cidr)!) : undefined;
    if (cidr && past) out.push([`${key} ${past} (just outside ${cidr})`, { ...frame, [key]: past }]);
  }
  return out;
}

/** The IP family a class's addresses fix, if it names any. */
function addressFamily(m: ClassMatch): L3Protocol | undefined {
  const address = m.srcIp ?? m.dstIp;
  return address === undefined ? undefined : familyOf(address);
}

function freeVlan(policy: Policy): number {
  const named = new Set(policy.classes.map((c) => c.match.vlan));
  let vlan = FIRST_FREE_VLAN;
  while (named.has(vlan)) vlan++;
  return vlan;
}

function withOptional(frame: ProbeFrame, fields: Partial<ProbeFrame>): ProbeFrame {
  const out = { ...frame } as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out as unknown as ProbeFrame;
}
