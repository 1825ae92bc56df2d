// The test-frame signature: 18 bytes right after the L4 header, so it survives an L3 rewrite
// (MACs, TTL and checksums change; the payload does not) and lets two captures be joined frame by frame.
//
//   offset  size  field
//   0       4     magic "WLB1" (0x574c4231)
//   4       4     run tag      (u32, big endian like every field: the run id's hex digits, lib/core/run-id.ts)
//   8       2     flow id      (u16)
//   10      4     sequence     (u32, per flow, from 0)
//   14      4     send-time slot: low 32 bits of the sender's clock in ns, 0 = not stamped
//
// Why only 18 bytes and a 4-byte magic: an untagged IPv4/UDP frame of 60 bytes (64 on the wire,
// Ethernet's minimum and IMIX's small size) has exactly 18 bytes after its headers. A 4-byte
// magic alone would match random payload now and then; matching it together with the run tag
// (findSignature's `runTag`) makes a false match a 1-in-2^64 event.

export const SIGNATURE_LENGTH = 18;
export const SIGNATURE_MAGIC = Buffer.from('WLB1', 'latin1');
const MAGIC_WORD = 0x574c4231;

/** Offsets of the fields inside the signature, for readers that want no object per frame. */
export const SIG_RUN_TAG = 4;
export const SIG_FLOW_ID = 8;
export const SIG_SEQ = 10;
export const SIG_SEND_TIME = 14;

export interface Signature {
  /** The run's id as a number (`runTag` of lib/core/run-id.ts). */
  runTag: number;
  flowId: number;
  seq: number;
  /** Low 32 bits of the send time in ns (0 = not stamped). */
  sendTime32?: number;
}

export function writeSignature(buf: Buffer, off: number, sig: Signature): void {
  buf.writeUInt32BE(MAGIC_WORD, off);
  buf.writeUInt32BE(sig.runTag >>> 0, off + SIG_RUN_TAG);
  buf.writeUInt16BE(sig.flowId, off + SIG_FLOW_ID);
  buf.writeUInt32BE(sig.seq >>> 0, off + SIG_SEQ);
  buf.writeUInt32BE((sig.sendTime32 ?? 0) >>> 0, off + SIG_SEND_TIME);
}

export function signatureBytes(sig: Signature): Buffer {
  const buf = Buffer.alloc(SIGNATURE_LENGTH);
  writeSignature(buf, 0, sig);
  return buf;
}

/**
 * Offset of the first signature in a frame, or -1. With `runTag`, only that run's signatures count.
 * `from` lets a caller that knows the usual offset (42 for IPv4/UDP) start there; the search still
 * covers the whole frame when nothing is found after it.
 */
export function findSignature(bytes: Buffer, runTag?: number, from = 0): number {
  const last = bytes.length - SIGNATURE_LENGTH;
  // Fast path: the signature usually sits at `from` exactly.
  if (from <= last && matchesAt(bytes, from, runTag)) return from;
  for (let off = bytes.indexOf(SIGNATURE_MAGIC, 0); off >= 0 && off <= last; off = bytes.indexOf(SIGNATURE_MAGIC, off + 1)) {
    if (matchesAt(bytes, off, runTag)) return off;
  }
  return -1;
}

function matchesAt(bytes: Buffer, off: number, runTag: number | undefined): boolean {
  return bytes.readUInt32BE(off) === MAGIC_WORD && (runTag === undefined || bytes.readUInt32BE(off + SIG_RUN_TAG) === runTag >>> 0);
}

export function readSignature(bytes: Buffer, off: number): Signature {
  return {
    runTag: bytes.readUInt32BE(off + SIG_RUN_TAG),
    flowId: bytes.readUInt16BE(off + SIG_FLOW_ID),
    seq: bytes.readUInt32BE(off + SIG_SEQ),
    sendTime32: bytes.readUInt32BE(off + SIG_SEND_TIME),
  };
}

/**
 * The full send time in ns from the 32-bit slot, taking the value closest to `nearNs` (e.g. the
 * capture timestamp of the same frame; the slot wraps every 4.29 s).
 */
export function unwrapSendTime(sendTime32: number, nearNs: bigint): bigint {
  const wrap = 1n << 32n;
  const base = nearNs - (nearNs % wrap);
  let t = base + BigInt(sendTime32 >>> 0);
  if (t - nearNs > wrap / 2n) t -= wrap;
  else if (nearNs - t > wrap / 2n) t += wrap;
  return t;
}
