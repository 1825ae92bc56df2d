// IPv4 fragments a router made of a test frame, joined back to it. The first fragment carries the
// signature (it follows the transport header), the later ones only payload; all share the source,
// destination, protocol and identification (RFC 791). Reassembled, the datagram must be the one that
// was sent, routed: that is what "fragmented correctly" means.
//
// Pure: bytes in, values out.

/** The fragment facts of an IPv4 frame (untagged or tagged), or undefined when it is not a fragment. */
export interface FragmentFacts {
  /** Source, destination, protocol and identification: what the fragments of one datagram share. */
  key: string;
  /** Offset of the IPv4 header in the frame, its length, and the datagram's payload carried here. */
  ipOffset: number;
  headerLength: number;
  /** Byte offset of this fragment's payload in the datagram, and whether more follow. */
  offset: number;
  more: boolean;
  /** The fragment's IPv4 total length (what the egress MTU bounds). */
  totalLength: number;
}

export function fragmentOf(data: Buffer): FragmentFacts | undefined {
  let off = 12;
  let type = data.length >= 14 ? data.readUInt16BE(12) : 0;
  while ((type === 0x8100 || type === 0x88a8) && data.length >= off + 6) {
    off += 4;
    type = data.readUInt16BE(off);
  }
  const ip = off + 2;
  if (type !== 0x0800 || data.length < ip + 20 || data[ip]! >> 4 !== 4) return undefined;
  const flags = data.readUInt16BE(ip + 6);
  const more = (flags & 0x2000) !== 0;
  const offset = (flags & 0x1fff) * 8;
  if (!more && offset === 0) return undefined;
  const headerLength = (data[ip]! & 0x0f) * 4;
  const totalLength = data.readUInt16BE(ip + 2);
  const key = `${data.subarray(ip + 12, ip + 20).toString('hex')}:${data[ip + 9]}:${data.readUInt16BE(ip + 4)}`;
  return { key, ipOffset: ip, headerLength, offset, more, totalLength };
}

/** A fragment as kept until its datagram is complete. */
export interface HeldFragment {
  facts: FragmentFacts;
  data: Buffer;
}

/**
 * The datagram rebuilt from its fragments, framed like the first one (its link header, its IP header
 * with the fragment fields cleared, the total length and header checksum set), or undefined while a
 * piece is missing.
 */
export function reassemble(fragments: readonly HeldFragment[]): Buffer | undefined {
  const sorted = [...fragments].sort((a, b) => a.facts.offset - b.facts.offset);
  const first = sorted[0];
  if (!first || first.facts.offset !== 0) return undefined;
  const pieces: Buffer[] = [];
  let expected = 0;
  let last = false;
  for (const f of sorted) {
    const start = f.facts.ipOffset + f.facts.headerLength;
    const payload = f.data.subarray(start, f.facts.ipOffset + f.facts.totalLength);
    if (f.facts.offset !== expected) {
      if (f.facts.offset < expected) continue; // a duplicate or an overlap: keep the first copy
      return undefined; // a hole
    }
    pieces.push(payload);
    expected += payload.length;
    last = !f.facts.more;
  }
  if (!last) return undefined;
  const { ipOffset, headerLength } = first.facts;
  const header = Buffer.from(first.data.subarray(0, ipOffset + headerLength));
  const datagram = Buffer.concat([header, ...pieces]);
  datagram.writeUInt16BE(headerLength + expected, ipOffset + 2);
  datagram.writeUInt16BE(datagram.readUInt16BE(ipOffset + 6) & 0x4000, ipOffset + 6); // DF kept, MF and offset cleared
  datagram.writeUInt16BE(0, ipOffset + 10);
  let sum = 0;
  for (let i = ipOffset; i < ipOffset + headerLength; i += 2) sum += datagram.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  datagram.writeUInt16BE(~sum & 0xffff, ipOffset + 10);
  return datagram;
}
