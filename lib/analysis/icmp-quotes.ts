// ICMP and ICMPv6 errors that quote a test frame: a router's answer to a frame it would not forward
// (Time Exceeded, Fragmentation Needed, Packet Too Big, Destination Unreachable). The error carries the
// offending datagram's beginning (RFC 792: the IP header and 8 bytes; RFC 1812 §4.3.2.3 and RFC 4443
// §2.4: as much as fits), so the quoted signature names the very frame that was answered.
//
// Pure: bytes in, values out.
import { readIPv4, readIPv6 } from '../frames/addr.ts';

export interface IcmpErrorFacts {
  version: 4 | 6;
  type: number;
  code: number;
  /** The MTU an ICMPv4 Fragmentation Needed (RFC 1191) or an ICMPv6 Packet Too Big carries; else undefined. */
  mtu?: number;
  /** Who sent the error: the IP source address and the frame's source MAC. */
  srcIp: string;
  dstIp: string;
  srcMac: string;
  /** Where the quoted datagram starts in the frame. */
  quoteOffset: number;
}

const ICMPV4_ERRORS = new Set([3, 4, 5, 11, 12]);
const ICMPV6_ERRORS = new Set([1, 2, 3, 4]);

/** The error's facts when the frame is an ICMP or ICMPv6 error message (untagged or tagged), else undefined. */
export function icmpErrorOf(data: Buffer): IcmpErrorFacts | undefined {
  let off = 12;
  let type = data.length >= 14 ? data.readUInt16BE(12) : 0;
  while ((type === 0x8100 || type === 0x88a8) && data.length >= off + 6) {
    off += 4;
    type = data.readUInt16BE(off);
  }
  const l3 = off + 2;
  const srcMac = [...data.subarray(6, 12)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  if (type === 0x0800 && data.length >= l3 + 20 && data[l3]! >> 4 === 4) {
    const ihl = (data[l3]! & 0x0f) * 4;
    const fragment = data.readUInt16BE(l3 + 6) & 0x1fff;
    const icmp = l3 + ihl;
    if (data[l3 + 9] !== 1 || fragment !== 0 || data.length < icmp + 8) return undefined;
    const t = data[icmp]!;
    if (!ICMPV4_ERRORS.has(t)) return undefined;
    const code = data[icmp + 1]!;
    return {
      version: 4,
      type: t,
      code,
      ...(t === 3 && code === 4 ? { mtu: data.readUInt16BE(icmp + 6) } : {}),
      srcIp: readIPv4(data, l3 + 12),
      dstIp: readIPv4(data, l3 + 16),
      srcMac,
      quoteOffset: icmp + 8,
    };
  }
  if (type === 0x86dd && data.length >= l3 + 48 && data[l3 + 6] === 58) {
    const icmp = l3 + 40;
    const t = data[icmp]!;
    if (!ICMPV6_ERRORS.has(t)) return undefined;
    return {
      version: 6,
      type: t,
      code: data[icmp + 1]!,
      ...(t === 2 ? { mtu: data.readUInt32BE(icmp + 4) } : {}),
      srcIp: readIPv6(data, l3 + 8),
      dstIp: readIPv6(data, l3 + 24),
      srcMac,
      quoteOffset: icmp + 8,
    };
  }
  return undefined;
}

/** An error as a reader names it: "ICMP Time Exceeded (11/0)", "ICMPv6 Packet Too Big (2/0, MTU 1400)". */
export function describeIcmpError(e: { version: 4 | 6; type: number; code: number; mtu?: number }): string {
  const names4: Record<number, string> = {
    3: 'Destination Unreachable',
    4: 'Source Quench',
    5: 'Redirect',
    11: 'Time Exceeded',
    12: 'Parameter Problem',
  };
  const names6: Record<number, string> = { 1: 'Destination Unreachable', 2: 'Packet Too Big', 3: 'Time Exceeded', 4: 'Parameter Problem' };
  const name = (e.version === 4 ? names4 : names6)[e.type] ?? `type ${e.type}`;
  const special = e.version === 4 && e.type === 3 && e.code === 4 ? ' Fragmentation Needed' : '';
  const mtu = e.mtu !== undefined ? `, MTU ${e.mtu}` : '';
  return `${e.version === 4 ? 'ICMP' : 'ICMPv6'} ${name}${special} (${e.type}/${e.code}${mtu})`;
}
