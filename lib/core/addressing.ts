// Addresses a lab may use. Lab traffic must stay inside the RFC 2544 benchmarking range
// 198.18.0.0/15 and locally administered MACs, so nothing a test sends can ever collide with a real
// network's addresses.
import { createHash } from 'node:crypto';

/** The MAC the OpenContrail vRouter shows to every VM (the guide's "same MAC" case). */
export const VROUTER_MAC = '00:01:00:5e:00:00';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
export const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** 198.18.0.0/15 (RFC 2544's benchmarking range) as base and prefix: 198.18.0.0 = 0xc6120000. */
export const BENCHMARK_NET = { base: 0xc6120000, prefix: 15, text: '198.18.0.0/15' } as const;

export function ipv4ToInt(text: string): number {
  const m = IPV4.exec(text);
  if (!m) throw new Error(`not an IPv4 address: ${text}`);
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) throw new Error(`not an IPv4 address: ${text}`);
  return ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  address: string;
  prefix: number;
}

/** The address of an address with or without a prefix: `198.18.0.1/24` → `198.18.0.1`. */
export function addressOf(cidrOrAddress: string): string {
  const slash = cidrOrAddress.indexOf('/');
  return slash < 0 ? cidrOrAddress : cidrOrAddress.slice(0, slash);
}

export function parseCidr(text: string): Cidr | null {
  const [address, prefixText, ...rest] = text.split('/');
  if (rest.length || !address || prefixText === undefined || !/^\d{1,2}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > 32) return null;
  try {
    ipv4ToInt(address);
  } catch {
    return null;
  }
  return { address, prefix };
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** True when the address lies in 198.18.0.0/15. */
export function inBenchmarkRange(address: string): boolean {
  return (ipv4ToInt(address) & maskOf(BENCHMARK_NET.prefix)) >>> 0 === BENCHMARK_NET.base;
}

/**
 * True when the whole subnet of `cidr` lies in 198.18.0.0/15: the address and its prefix. A host given
 * 198.18.0.1/1 would route 128.0.0.0/1 over the lab, and /0 would replace its default route.
 */
export function subnetInBenchmarkRange(cidr: Cidr): boolean {
  return cidr.prefix >= BENCHMARK_NET.prefix && inBenchmarkRange(cidr.address);
}

/** True when two subnets share an address (the shorter prefix decides). */
export function subnetsOverlap(a: Cidr, b: Cidr): boolean {
  const mask = maskOf(Math.min(a.prefix, b.prefix));
  return (ipv4ToInt(a.address) & mask) >>> 0 === (ipv4ToInt(b.address) & mask) >>> 0;
}

export function sameSubnet(a: Cidr, b: Cidr): boolean {
  if (a.prefix !== b.prefix) return false;
  const mask = maskOf(a.prefix);
  return (ipv4ToInt(a.address) & mask) >>> 0 === (ipv4ToInt(b.address) & mask) >>> 0;
}

export function isMulticastMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

/** A stable, locally administered unicast MAC derived from a seed (run id + role of the NIC). */
export function generatedMac(seed: string): string {
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 6);
  bytes[0] = (bytes[0]! & 0xfc) | 0x02; // unicast, locally administered
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function normalizeMac(mac: string): string {
  return mac.toLowerCase();
}

/** The IPv6 documentation prefix 2001:db8::/32 (RFC 3849): the only IPv6 lab traffic may use. */
export const DOCUMENTATION_NET6 = { text: '2001:db8::/32' } as const;

/** The eight 16-bit groups of an IPv6 address in text form (with ::), or null. */
export function ipv6Groups(text: string): number[] | null {
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.split('::').length > 2) return null;
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':') : []);
  const a = parse(head);
  const b = parse(tail);
  if ([...a, ...b].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const missing = 8 - a.length - b.length;
  if ((tail === undefined && missing !== 0) || (tail !== undefined && missing < 1)) return null;
  return [...a, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...b].map((g) => parseInt(g, 16));
}

/** An IPv6 address with a prefix length, or null. */
export function parseCidr6(text: string): { address: string; prefix: number; groups: number[] } | null {
  const [address, prefixText, ...rest] = text.split('/');
  if (rest.length || !address || prefixText === undefined || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  const groups = ipv6Groups(address);
  return groups && prefix <= 128 ? { address, prefix, groups } : null;
}

/** True when the address lies in 2001:db8::/32. */
export function inDocumentationRange6(groups: readonly number[]): boolean {
  return groups[0] === 0x2001 && groups[1] === 0x0db8;
}

/** True when two IPv6 addresses share their first `prefix` bits. */
export function sameSubnet6(a: readonly number[], b: readonly number[], prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit++) {
    const g = bit >> 4;
    const mask = 0x8000 >> (bit & 15);
    if ((a[g]! & mask) !== (b[g]! & mask)) return false;
  }
  return true;
}

/** An IP address (v4 or v6, with or without a prefix) in one canonical form, for comparing addresses written differently. */
export function canonicalIp(text: string): string {
  const address = addressOf(text);
  const groups = address.includes(':') ? ipv6Groups(address) : null;
  return groups ? groups.map((g) => g.toString(16)).join(':') : address;
}
