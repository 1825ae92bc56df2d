// The policy of an in-line service (a transparent firewall, a shaper, a marker): traffic classes a
// network engineer would write — matched by protocol, addresses, ports, VLAN and direction — each
// with the behaviour the image declares for it. Classes are tried in order and the first match
// wins, as in a firewall's rule list; traffic no class matches follows the policy's default.
//
// Pure data: the profile schema (lib/profile/policy-fields.ts) produces it, lib/policy/classify.ts reads it;
// the request classes (HTTP) and exchanges (UDP) of a service that acts on what connections carry are here too.
import type { Side } from '../core/sides.ts';

export const DIRECTIONS = ['both', 'left-to-right', 'right-to-left'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const L3_PROTOCOLS = ['ipv4', 'ipv6', 'arp'] as const;
export type L3Protocol = (typeof L3_PROTOCOLS)[number];

export const L4_PROTOCOLS = ['udp', 'tcp', 'icmp'] as const;
export type L4Protocol = (typeof L4_PROTOCOLS)[number];

/** The fields of a frame that classes match on: a class's match, a frame's facts and a probe share them. */
export interface FrameFields {
  l3?: L3Protocol;
  l4?: L4Protocol;
  /** IPv4 or IPv6 addresses of a frame, or CIDRs (inside 198.18.0.0/15 or 2001:db8::/32) in a class's match. */
  srcIp?: string;
  dstIp?: string;
  srcPort?: number;
  dstPort?: number;
  /** The outermost 802.1Q VLAN id. */
  vlan?: number;
  /** The DSCP (0–63) of the IPv4 TOS or IPv6 traffic class. */
  dscp?: number;
  /** An IP fragment: IPv4 with MF set or an offset, IPv6 with a Fragment header. */
  fragment?: boolean;
}

/** What a class matches; every field given must match (fields left out match anything). Addresses are CIDRs here. */
export interface ClassMatch extends FrameFields {
  direction: Direction;
}

/**
 * Header fields a policy can name: set by a rewrite, or allowed to change on a forwarded class. Addresses
 * and ports change under NAT (a routed gateway's `mayChange`).
 */
export const REWRITABLE_FIELDS = ['dscp', 'vlan', 'ttl', 'srcMac', 'dstMac', 'srcIp', 'dstIp', 'srcPort', 'dstPort'] as const;
export type RewritableField = (typeof REWRITABLE_FIELDS)[number];

export interface RewriteValues {
  dscp?: number;
  vlan?: number;
  ttl?: number;
  srcMac?: string;
  dstMac?: string;
}

export interface RateLimit {
  bitsPerSecond?: number;
  framesPerSecond?: number;
  /** Allowed deviation of the achieved rate from the declared one, as a fraction (0.15 = ±15 %). */
  tolerance: number;
}

export const ACTIONS = ['forward', 'drop', 'rate-limit', 'rewrite'] as const;
export type ActionKind = (typeof ACTIONS)[number];

export type Behaviour =
  /** Delivered, byte-exact except the named fields. */
  | { action: 'forward'; mayChange: RewritableField[] }
  | { action: 'drop' }
  /** Delivered up to the rate; what crosses is byte-exact. */
  | { action: 'rate-limit'; rate: RateLimit }
  /** Delivered with the named fields set to the given values, nothing else changed. */
  | { action: 'rewrite'; set: RewriteValues };

export interface PolicyClass {
  name: string;
  match: ClassMatch;
  behaviour: Behaviour;
}

/** What traffic no class matches gets: the role's own contract, or a declared action. */
export const DEFAULT_ACTIONS = ['role', 'forward', 'drop'] as const;
export type DefaultAction = (typeof DEFAULT_ACTIONS)[number];

/** Real TCP connections the service must let through, or block (a stateful firewall's promise). */
export interface ConnectionExpectation {
  name: string;
  /** The side whose host opens the connections (the server listens on the other). */
  from: Side;
  port: number;
  expect: 'connect' | 'blocked';
  count: number;
  bytes: number;
}

/** What an HTTP request class does (lib/policy/requests.ts): let it through, block it, or change one header. */
export const REQUEST_ACTIONS = ['forward', 'block', 'rewrite-header'] as const;
export type RequestActionKind = (typeof REQUEST_ACTIONS)[number];

/** How the client sees a blocked request: its connection reset, no answer at all, or an error page. */
export const BLOCKED_AS = ['reset', 'timeout', 'error-page'] as const;
export type BlockedAs = (typeof BLOCKED_AS)[number];

/** Which requests belong to a class; every field given must match. Substrings are case-sensitive unless `ignoreCase`. */
export interface RequestMatch {
  direction: Direction;
  method?: string;
  /** The request target's path, exactly (without the query). */
  path?: string;
  pathPrefix?: string;
  /** A header present (name case-insensitive), its value containing `contains` when given. */
  header?: { name: string; contains?: string };
  bodyContains?: string;
  /** Anywhere in the request: its line, headers or body (what a string-matching DPI engine inspects). */
  contains?: string;
  ignoreCase: boolean;
}

/** The one header a rewrite-header class changes: set to a value (added or replaced), or removed. */
export interface HeaderChange {
  name: string;
  set?: string;
  remove: boolean;
}

export type RequestBehaviour =
  /** The server receives the request as sent, the client the response as sent (hop-by-hop headers aside). */
  | { action: 'forward' }
  /** The server never sees it; the client sees `blockedAs` (an error page with this status). */
  | { action: 'block'; blockedAs: BlockedAs; status: number }
  /** The server sees the request with exactly this header change; the response comes back as sent. */
  | { action: 'rewrite-header'; header: HeaderChange };

export interface RequestClass {
  name: string;
  match: RequestMatch;
  behaviour: RequestBehaviour;
}

/** HTTP through the service: a server on one traffic host, a client on the other; requests no class matches are forwarded. */
export interface RequestPolicy {
  port: number;
  classes: RequestClass[];
}

/** UDP request/response through the service (a DNS-like exchange): each request answered, or none. */
export interface ExchangeExpectation {
  name: string;
  /** The side whose host sends the requests (the responder listens on the other). */
  from: Side;
  port: number;
  expect: 'answered' | 'blocked';
  count: number;
}

export interface Policy {
  default: DefaultAction;
  classes: PolicyClass[];
  connections: ConnectionExpectation[];
  requests?: RequestPolicy;
  exchanges: ExchangeExpectation[];
}

/** Whether a class applies to frames sent from this side. */
export function appliesFrom(match: ClassMatch, from: Side): boolean {
  return match.direction === 'both' || match.direction === (from === 'left' ? 'left-to-right' : 'right-to-left');
}

/** A behaviour as the report's "declared" column says it. */
export function describeBehaviour(b: Behaviour): string {
  switch (b.action) {
    case 'forward':
      return b.mayChange.length > 0 ? `forward (may change ${b.mayChange.join(', ')})` : 'forward byte-exact';
    case 'drop':
      return 'drop';
    case 'rate-limit':
      return `rate-limit to ${describeRate(b.rate)} ±${Math.round(b.rate.tolerance * 100)} %`;
    case 'rewrite':
      return `rewrite ${Object.entries(b.set)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ')}`;
  }
}

export function describeRate(rate: RateLimit): string {
  if (rate.framesPerSecond !== undefined) return `${rate.framesPerSecond} frames/s`;
  const bits = rate.bitsPerSecond ?? 0;
  return bits >= 1e6 ? `${bits / 1e6} Mbit/s` : bits >= 1e3 ? `${bits / 1e3} kbit/s` : `${bits} bit/s`;
}

/** A class's match as one line: "tcp dstPort 23, left→right". */
export function describeMatch(m: ClassMatch): string {
  const parts: string[] = [];
  if (m.l3) parts.push(m.l3);
  if (m.l4) parts.push(m.l4);
  if (m.vlan !== undefined) parts.push(`vlan ${m.vlan}`);
  if (m.srcIp) parts.push(`from ${m.srcIp}`);
  if (m.dstIp) parts.push(`to ${m.dstIp}`);
  if (m.srcPort !== undefined) parts.push(`srcPort ${m.srcPort}`);
  if (m.dstPort !== undefined) parts.push(`dstPort ${m.dstPort}`);
  if (m.dscp !== undefined) parts.push(`dscp ${m.dscp}`);
  if (m.fragment !== undefined) parts.push(m.fragment ? 'fragments' : 'unfragmented');
  const dir = m.direction === 'both' ? 'both ways' : m.direction === 'left-to-right' ? 'left→right' : 'right→left';
  return `${parts.join(' ') || 'any'}, ${dir}`;
}
