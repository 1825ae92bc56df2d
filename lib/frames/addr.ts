// Address text <-> wire bytes for MAC, IPv4 and IPv6. Writers take the text form users write in
// suites; readers give back the canonical text form (lower-case MAC, RFC 5952 IPv6), so a parsed
// address compares equal to what scapy or `ip` prints.
import { WirelabError } from '../core/errors.ts';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function writeMac(buf: Uint8Array, off: number, mac: string): void {
  const parts = mac.split(':');
  if (parts.length !== 6) throw badAddress('MAC', mac, 'six hex pairs like 02:00:00:00:00:01');
  for (let i = 0; i < 6; i++) {
    const part = parts[i] as string;
    const byte = parseInt(part, 16);
    if (!/^[0-9a-fA-F]{1,2}$/.test(part) || Number.isNaN(byte)) {
      throw badAddress('MAC', mac, 'six hex pairs like 02:00:00:00:00:01');
    }
    buf[off + i] = byte;
  }
}

export function readMac(buf: Uint8Array, off: number): string {
  return `${HEX[buf[off]!]}:${HEX[buf[off + 1]!]}:${HEX[buf[off + 2]!]}:${HEX[buf[off + 3]!]}:${HEX[buf[off + 4]!]}:${HEX[buf[off + 5]!]}`;
}

export function writeIPv4(buf: Uint8Array, off: number, ip: string): void {
  const parts = ip.split('.');
  if (parts.length !== 4) throw badAddress('IPv4', ip, 'a dotted quad like 198.18.0.1');
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    const n = Number(part);
    if (!/^\d{1,3}$/.test(part) || n > 255) throw badAddress('IPv4', ip, 'a dotted quad like 198.18.0.1');
    buf[off + i] = n;
  }
}

export function readIPv4(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** Writes an IPv6 address given in any RFC 4291 text form (with `::`, without embedded IPv4). */
export function writeIPv6(buf: Uint8Array, off: number, ip: string): void {
  const groups = ipv6Groups(ip);
  for (let i = 0; i < 8; i++) {
    const g = groups[i] as number;
    buf[off + 2 * i] = g >> 8;
    buf[off + 2 * i + 1] = g & 0xff;
  }
}

function ipv6Groups(ip: string): number[] {
  const halves = ip.split('::');
  const hint = 'eight hex groups, optionally with one "::", like 2001:db8::1';
  if (halves.length > 2) throw badAddress('IPv6', ip, hint);
  const parse = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').map((g) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw badAddress('IPv6', ip, hint);
          return parseInt(g, 16);
        });
  const head = parse(halves[0] as string);
  if (halves.length === 1) {
    if (head.length !== 8) throw badAddress('IPv6', ip, hint);
    return head;
  }
  const tail = parse(halves[1] as string);
  const missing = 8 - head.length - tail.length;
  if (missing < 1) throw badAddress('IPv6', ip, hint);
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function readIPv6(buf: Uint8Array, off: number): string {
  const g: number[] = new Array(8);
  for (let i = 0; i < 8; i++) g[i] = (buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!;
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number) =>
    g
      .slice(a, b)
      .map((x) => x.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

function badAddress(kind: string, value: string, expected: string): WirelabError {
  return new WirelabError(`Invalid ${kind} address '${value}': expected ${expected}.`, { exitCode: 2 });
}
