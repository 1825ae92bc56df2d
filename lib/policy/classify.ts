// Which class of a policy a frame belongs to: the header fields a class can match, read from a parsed
// frame, tried against each class in order (the first match wins, as in a firewall's rule list).
// The suite classifies the very frames it sends, so what a flow is expected to do is always derived
// from the declared policy, never written down a second time.
//
// Pure: a parsed frame in, a class (or the default) out.
import type { Side } from '../core/sides.ts';
import type { Packet } from '../frames/index.ts';
import { inRange } from './addresses.ts';
import { appliesFrom, type Behaviour, type ClassMatch, type FrameFields, type Policy, type PolicyClass } from './model.ts';

/** The fields of one frame that classes match on. */
export type FrameFacts = FrameFields;

export function factsOf(packet: Packet): FrameFacts {
  const facts: FrameFacts = {};
  const tag = packet.get('Dot1AD') ?? packet.get('Dot1Q');
  if (tag) facts.vlan = tag.vlan;
  const v4 = packet.get('IPv4');
  const v6 = packet.get('IPv6');
  if (v4) Object.assign(facts, { l3: 'ipv4', srcIp: v4.src, dstIp: v4.dst, dscp: v4.tos >> 2, fragment: v4.mf || v4.fragOffset > 0 });
  else if (v6)
    Object.assign(facts, {
      l3: 'ipv6',
      srcIp: v6.src,
      dstIp: v6.dst,
      dscp: v6.trafficClass >> 2,
      fragment: packet.get('IPv6Fragment') !== undefined,
    });
  else if (packet.get('ARP')) facts.l3 = 'arp';
  const l4 = packet.get('UDP') ?? packet.get('TCP');
  if (l4) Object.assign(facts, { l4: l4.kind === 'UDP' ? 'udp' : 'tcp', srcPort: l4.sport, dstPort: l4.dport });
  else if (packet.get('ICMP') || packet.get('ICMPv6Echo')) facts.l4 = 'icmp';
  return facts;
}

/** Whether one class matches a frame sent from `from`. */
export function matches(match: ClassMatch, facts: FrameFacts, from: Side): boolean {
  if (!appliesFrom(match, from)) return false;
  if (match.l3 !== undefined && match.l3 !== facts.l3) return false;
  if (match.l4 !== undefined && match.l4 !== facts.l4) return false;
  if (match.srcPort !== undefined && match.srcPort !== facts.srcPort) return false;
  if (match.dstPort !== undefined && match.dstPort !== facts.dstPort) return false;
  if (match.vlan !== undefined && match.vlan !== facts.vlan) return false;
  if (match.dscp !== undefined && match.dscp !== facts.dscp) return false;
  if (match.fragment !== undefined && match.fragment !== (facts.fragment ?? false)) return false;
  if (match.srcIp !== undefined && !inRange(facts.srcIp, match.srcIp)) return false;
  if (match.dstIp !== undefined && !inRange(facts.dstIp, match.dstIp)) return false;
  return true;
}

/** What the policy says of a frame: its class, or none (then `behaviour` is the default's). */
export interface Classification {
  class?: PolicyClass;
  /** 'role': the role's own contract applies (for an l2-bridge: forwarded byte-exact). */
  behaviour: Behaviour | 'role';
}

export function classify(policy: Policy, facts: FrameFacts, from: Side): Classification {
  const hit = policy.classes.find((c) => matches(c.match, facts, from));
  if (hit) return { class: hit, behaviour: hit.behaviour };
  if (policy.default === 'drop') return { behaviour: { action: 'drop' } };
  if (policy.default === 'forward') return { behaviour: { action: 'forward', mayChange: [] } };
  return { behaviour: 'role' };
}
