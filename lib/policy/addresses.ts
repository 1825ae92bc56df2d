// The addresses a policy class matches on: IPv4 or IPv6, an address or a CIDR, as one range of
// integers (BigInt, so both families share the arithmetic). Lab traffic stays in 198.18.0.0/15 and
// 2001:db8::/32 (RFC 3849's documentation prefix), so a class's range must lie inside one of them,
// and the probe just past a range is taken inside it too.
//
// Pure: text in, ranges and text out.
import { intToIpv4, ipv4ToInt } from '../core/addressing.ts';
import { readIPv6, writeIPv6 } from '../frames/addr.ts';

export type IpFamily = 'ipv4' | 'ipv6';

/** An address or CIDR as the range of addresses it covers. */
export interface IpRange {
  family: IpFamily;
  first: bigint;
  last: bigint;
}

const BITS: Record<IpFamily, number> = { ipv4: 32, ipv6: 128 };

/** The ranges lab traffic may use, per family. */
export const LAB_RANGES: Record<IpFamily, { text: string; range: IpRange }> = {
  ipv4: { text: '198.18.0.0/15', range: parseIpRange('198.18.0.0/15')! },
  ipv6: { text: '2001:db8::/32', range: parseIpRange('2001:db8::/32')! },
};

/** The family of an address text (with or without a prefix), by its form alone. */
export function familyOf(text: string): IpFamily {
  return text.includes(':') ? 'ipv6' : 'ipv4';
}

/** `198.18.0.0/24`, `198.18.0.1`, `2001:db8:5::/48` or `2001:db8::1` as a range; null when it is neither family's form. */
export function parseIpRange(text: string): IpRange | null {
  const [address, prefixText, ...rest] = text.split('/');
  if (rest.length > 0 || !address) return null;
  const family = familyOf(address);
  const bits = BITS[family];
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return null;
  const value = toBigInt(address, family);
  if (value === null) return null;
  const host = (1n << BigInt(bits - prefix)) - 1n;
  const first = value & ~host & ((1n << BigInt(bits)) - 1n);
  return { family, first, last: first | host };
}

/** Whether an address (text) lies in a CIDR (text); an address of the other family never does. */
export function inRange(address: string | undefined, cidr: string): boolean {
  const range = parseIpRange(cidr);
  if (!address || !range || familyOf(address) !== range.family) return false;
  const a = toBigInt(address, range.family);
  return a !== null && a >= range.first && a <= range.last;
}

/** Whether a range lies wholly inside the lab's range of its family. */
export function inLabRange(range: IpRange): boolean {
  const lab = LAB_RANGES[range.family].range;
  return range.first >= lab.first && range.last <= lab.last;
}

/** A host address inside the range: its second address when the range has room, else its first. */
export function hostIn(range: IpRange): string {
  return toText(range.last - range.first >= 2n ? range.first + 1n : range.first, range.family);
}

/** The first address after the range, while still in the lab's range (else the one before it; undefined when neither is). */
export function addressPast(range: IpRange): string | undefined {
  const lab = LAB_RANGES[range.family].range;
  if (range.last < lab.last) return toText(range.last + 1n, range.family);
  if (range.first > lab.first) return toText(range.first - 1n, range.family);
  return undefined;
}

function toBigInt(address: string, family: IpFamily): bigint | null {
  try {
    if (family === 'ipv4') return BigInt(ipv4ToInt(address));
    const bytes = new Uint8Array(16);
    writeIPv6(bytes, 0, address);
    return bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
  } catch {
    return null;
  }
}

function toText(value: bigint, family: IpFamily): string {
  if (family === 'ipv4') return intToIpv4(Number(value));
  const bytes = new Uint8Array(16);
  for (let i = 15, v = value; i >= 0; i--, v >>= 8n) bytes[i] = Number(v & 0xffn);
  return readIPv6(bytes, 0);
}
