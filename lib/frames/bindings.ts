// THE binding table: which protocol follows which, keyed by the lower layer's selector field
// (ethertype, IP protocol / next header). Building reads it one way (Ether under IPv4 => type
// 0x0800), parsing the other (type 0x0800 => parse IPv4). Add a protocol here and in PARSERS only.
import { parseArp } from './arp.ts';
import { parseDot1AD, parseDot1Q, parseEther } from './ethernet.ts';
import { parseIcmp, parseIcmpv6 } from './icmp.ts';
import { parseIPv4, parseIPv6 } from './ip.ts';
import {
  IPV6_EXTENSION_NUMBERS,
  IPV6_EXTENSION_PROTOCOLS,
  parseIpv6DestOpts,
  parseIpv6Fragment,
  parseIpv6HopByHop,
  parseIpv6Routing,
} from './ipv6-extensions.ts';
import { LENGTH_SELECTOR, parseLlc } from './llc.ts';
import type { Layer, Protocol } from './layer.ts';
import { parseTcp, parseUdp } from './transport.ts';

export interface Binding {
  lower: Protocol;
  /** The lower layer's field that selects the upper protocol (documentation; each layer knows its own). */
  field: 'type' | 'proto' | 'nextHeader';
  value: number;
  upper: Protocol;
}

const ETHERTYPES: ReadonlyArray<[number, Protocol]> = [
  [0x0800, 'IPv4'],
  [0x86dd, 'IPv6'],
  [0x0806, 'ARP'],
  [0x8100, 'Dot1Q'],
  [0x88a8, 'Dot1AD'],
  // Not an EtherType: a type/length field ≤ 1500 is an 802.3 length, and LLC follows (llc.ts).
  [LENGTH_SELECTOR, 'LLC'],
];

const IP_PROTOCOLS: ReadonlyArray<[number, Protocol]> = [
  [1, 'ICMP'],
  [6, 'TCP'],
  [17, 'UDP'],
  [58, 'ICMPv6'],
  [4, 'IPv4'], // IP-in-IP
  [41, 'IPv6'], // 6in4 / IPv6-in-IPv6
];

export const BINDINGS: readonly Binding[] = [
  ...(['Ether', 'Dot1Q', 'Dot1AD'] as const).flatMap((lower) =>
    ETHERTYPES.map(([value, upper]): Binding => ({ lower, field: 'type', value, upper })),
  ),
  ...IP_PROTOCOLS.map(([value, upper]): Binding => ({ lower: 'IPv4', field: 'proto', value, upper })),
  // IPv6 and each of its extension headers announce the next header the same way (RFC 8200 §4).
  ...(['IPv6', ...IPV6_EXTENSION_PROTOCOLS] as const).flatMap((lower) =>
    [...IP_PROTOCOLS, ...IPV6_EXTENSION_PROTOCOLS.map((p): [number, Protocol] => [IPV6_EXTENSION_NUMBERS[p], p])].map(
      ([value, upper]): Binding => ({ lower, field: 'nextHeader', value, upper }),
    ),
  ),
];

type Parser = (buf: Buffer, off: number, end: number) => Layer | string;

/** How each protocol reads itself; Raw has none (it is whatever is left). */
export const PARSERS: Partial<Record<Protocol, Parser>> = {
  Ether: parseEther,
  Dot1Q: parseDot1Q,
  Dot1AD: parseDot1AD,
  LLC: parseLlc,
  ARP: parseArp,
  IPv4: parseIPv4,
  IPv6: parseIPv6,
  IPv6HopByHop: parseIpv6HopByHop,
  IPv6Routing: parseIpv6Routing,
  IPv6Fragment: parseIpv6Fragment,
  IPv6DestOpts: parseIpv6DestOpts,
  ICMP: parseIcmp,
  ICMPv6: parseIcmpv6,
  UDP: parseUdp,
  TCP: parseTcp,
};

// Both directions indexed once, so neither building nor parsing scans the table per frame.
const selectorByPair = new Map<string, number>();
const protocolBySelector = new Map<Protocol, Map<number, Protocol>>();
for (const b of BINDINGS) {
  selectorByPair.set(`${b.lower}>${b.upper}`, b.value);
  let byValue = protocolBySelector.get(b.lower);
  if (!byValue) protocolBySelector.set(b.lower, (byValue = new Map()));
  byValue.set(b.value, b.upper);
}

/** The selector value `lower` must carry for `upper` to follow, or undefined if they are not bound. */
export function selectorFor(lower: Protocol, upper: Protocol): number | undefined {
  return selectorByPair.get(`${lower}>${upper}`);
}

/** The protocol a selector value announces after `lower`, or undefined (the rest is Raw). */
export function protocolAfter(lower: Protocol, value: number): Protocol | undefined {
  return protocolBySelector.get(lower)?.get(value);
}
