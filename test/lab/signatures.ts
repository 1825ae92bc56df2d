// Which runs' test frames a capture holds: the run tag of every wirelab signature in a pcap (a frame
// may quote another's, as an ICMP error does, so every occurrence counts), with counts. Cross-talk
// between labs shows as a run id that is not the capturing lab's own.
import { readSignature, SIGNATURE_LENGTH, SIGNATURE_MAGIC } from '../../lib/frames/index.ts';
import { readPcap } from '../../lib/pcap/pcap.ts';

export async function signatureRunIds(file: string): Promise<Map<number, number>> {
  const ids = new Map<number, number>();
  for await (const frame of readPcap(file)) {
    for (
      let off = frame.data.indexOf(SIGNATURE_MAGIC);
      off >= 0 && off + SIGNATURE_LENGTH <= frame.data.length;
      off = frame.data.indexOf(SIGNATURE_MAGIC, off + 1)
    ) {
      const { runTag } = readSignature(frame.data, off);
      ids.set(runTag, (ids.get(runTag) ?? 0) + 1);
    }
  }
  return ids;
}
