// The frames the policy suite sends, derived from the declared policy alone: for each class, a frame
// inside it from each side the class applies to, and probes just outside it — the neighbouring port,
// VLAN, DSCP or address, the other transport protocol, the other direction — so a rule written too
// wide (a port range, a missing direction) shows as a probe that should have crossed and did not.
// What each probe must do is not decided here: the suite classifies the frame it built (classify.ts).
//
// Pure: a policy in, frame descriptions out.
import { BENCHMARK_NET, intToIpv4, ipv4ToInt, parseCidr } from '../core/addressing.ts';
import { otherSide, SIDES, type Side } from '../core/sides.ts';
import { classify } from './classify.ts';
import { appliesFrom, type FrameFields, type L3Protocol, type L4Protocol, type Policy, type PolicyClass } from './model.ts';

/** A frame to send, as fields: what is not given is the lab's default (the hosts' addresses, DSCP 0, untagged). */
export interface ProbeFrame extends FrameFields {
  l3: L3Protocol;
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
}

/** Source and destination ports of a class's frames where the class leaves them open (distinct per class). */
const FREE_SRC_PORT = 30_000;
const FREE_DST_PORT = 40_000;

/** The in-class frame of a class: its fields, and free values where it matches anything. */
export function inClassFrame(c: PolicyClass, index: number): ProbeFrame {
  const m = c.match;
  const l3 = m.l3 ?? 'ipv4';
  const frame: ProbeFrame = { l3 };
  if (l3 === 'arp') return withOptional(frame, { vlan: m.vlan });
  const l4 = m.l4 ?? 'udp';
  return withOptional(
    { ...frame, l4 },
    {
      srcIp: m.srcIp ? firstAddress(m.srcIp) : undefined,
      dstIp: m.dstIp ? firstAddress(m.dstIp) : undefined,
      srcPort: l4 === 'icmp' ? undefined : (m.srcPort ?? FREE_SRC_PORT + index),
      dstPort: l4 === 'icmp' ? undefined : (m.dstPort ?? FREE_DST_PORT + index),
      vlan: m.vlan,
      dscp: m.dscp,
    },
  );
}

/** Every probe of a policy: each class's in-class frames and its neighbours, without repeats. */
export function policyProbes(policy: Policy): Probe[] {
  const probes: Probe[] = [];
  const seen = new Set<string>();
  const add = (p: Omit<Probe, 'name'>) => {
    const key = `${p.from}:${JSON.stringify(p.frame)}`;
    if (seen.has(key)) return;
    seen.add(key);
    probes.push({ ...p, name: `${p.of}: ${p.what} ${p.from === 'left' ? 'left→right' : 'right→left'}` });
  };
  policy.classes.forEach((c, i) => {
    const frame = inClassFrame(c, i);
    const sides = SIDES.filter((s) => appliesFrom(c.match, s));
    for (const from of sides) {
      add({ of: c.name, kind: 'in-class', what: 'in class', from, frame });
      for (const [what, neighbour] of neighbours(c, frame)) add({ of: c.name, kind: 'neighbour', what, from, frame: neighbour });
    }
    // A one-way class: the same frame from the other side is outside it.
    if (sides.length === 1) add({ of: c.name, kind: 'neighbour', what: 'the other direction', from: otherSide(sides[0]!), frame });
  });
  // Traffic no class matches, both ways: what the default (or the role) decides.
  for (const from of SIDES) {
    let dstPort = 45_000;
    const unmatched = () => ({ l3: 'ipv4' as const, l4: 'udp' as const, srcPort: 44_000, dstPort });
    while (dstPort < 45_100 && classify(policy, unmatched(), from).class) dstPort++;
    if (!classify(policy, unmatched(), from).class)
      add({ of: 'no class', kind: 'unmatched', what: 'UDP no class matches', from, frame: unmatched() });
  }
  return probes;
}

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
  if (m.l4 !== undefined) {
    const other: L4Protocol = m.l4 === 'udp' ? 'tcp' : 'udp';
    const ports = m.l4 === 'icmp' ? { srcPort: FREE_SRC_PORT, dstPort: FREE_DST_PORT } : {};
    out.push([`${other} instead of ${m.l4}`, { ...frame, l4: other, ...ports }]);
  }
  for (const key of ['srcIp', 'dstIp'] as const) {
    const cidr = m[key];
    const past = cidr ? addressPast(cidr) : undefined;
    if (cidr && past) out.push([`${key} ${past} (just outside ${cidr})`, { ...frame, [key]: past }]);
  }
  return out;
}

function withOptional(frame: ProbeFrame, fields: Partial<ProbeFrame>): ProbeFrame {
  const out = { ...frame } as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out as unknown as ProbeFrame;
}

function range(cidr: string): { first: number; last: number } {
  const c = parseCidr(cidr.includes('/') ? cidr : `${cidr}/32`)!;
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  const first = (ipv4ToInt(c.address) & mask) >>> 0;
  return { first, last: (first | (~mask >>> 0)) >>> 0 };
}

/** A host address inside the CIDR (its first, or the address itself for a /31–/32). */
function firstAddress(cidr: string): string {
  const { first, last } = range(cidr);
  return intToIpv4(last - first >= 2 ? first + 1 : first);
}

/** The first address after the CIDR, if it is still inside 198.18.0.0/15 (else the one before it). */
function addressPast(cidr: string): string | undefined {
  const { first, last } = range(cidr);
  const netEnd = BENCHMARK_NET.base + 2 ** (32 - BENCHMARK_NET.prefix) - 1;
  if (last < netEnd) return intToIpv4(last + 1);
  if (first > BENCHMARK_NET.base) return intToIpv4(first - 1);
  return undefined;
}
