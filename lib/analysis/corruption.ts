// A test frame that arrives with some of its bytes changed — inside the signature, too — is a frame
// the guest corrupted, not one it lost. It no longer joins by its signature, so it is recognised by
// its likeness to a frame that was sent and not seen at that point: the same length, and most bytes
// the same.
//
// Pure: bytes in, values out.

/** At most this share of a frame's bytes may differ for it to count as a corrupted copy (an eighth). */
export function corruptionLimit(length: number): number {
  return Math.max(4, Math.floor(length / 8));
}

/** How many bytes two equal-length frames differ in, counting no further than `limit` + 1. */
export function differingBytes(a: Buffer, b: Buffer, limit: number): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && ++n > limit) return n;
  }
  return n;
}
