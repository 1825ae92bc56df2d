// The Internet checksum (RFC 1071). Sums are kept unfolded (plain integers) as long as possible:
// adding and subtracting 16-bit words is then exact, which lets a flow precompute a template's
// sum once and add only the words that change per frame (see flow.ts).

/** Sum of the big-endian 16-bit words in [start, end); an odd last byte counts as its high byte. */
export function sum16(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Folds carries back in (ones' complement addition): a positive sum becomes 1..0xffff. */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

export function checksumOf(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** True when a region that includes its own checksum field sums to 0xffff (the receiver's check). */
export function sumIsValid(sum: number): boolean {
  return fold(sum) === 0xffff;
}

/**
 * Sum of the pseudo-header that UDP, TCP and ICMPv6 checksums cover, read from the IP header
 * already written at `ipOff` (version from its first nibble).
 */
export function pseudoHeaderSum(buf: Uint8Array, ipOff: number, protocol: number, l4Length: number): number {
  const version = buf[ipOff]! >> 4;
  if (version === 4) return sum16(buf, ipOff + 12, ipOff + 20) + protocol + l4Length;
  // IPv6: 32-bit length and next header, both as whole words.
  return sum16(buf, ipOff + 8, ipOff + 40) + (l4Length >>> 16) + (l4Length & 0xffff) + protocol;
}

/** Checksum of a transport message at [off, end) with its IP pseudo-header (UDP, TCP, ICMPv6). */
export function transportSum(buf: Uint8Array, off: number, end: number, ipOff: number, protocol: number): number {
  return pseudoHeaderSum(buf, ipOff, protocol, end - off) + sum16(buf, off, end);
}
