// A capture's evidence with bounded disk: the frames go into pcap segments of SEGMENT_S seconds; the
// last KEEP_SEGMENTS are kept, and so is every segment holding a moment someone asked to keep (the
// second a soak check failed, at most MAX_PINNED). Older segments are removed as new ones begin.
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { createPcapWriter, type PcapWriter } from '../pcap/pcap.ts';

const SEGMENT_S = 15;
const KEEP_SEGMENTS = 4;
const MAX_PINNED = 4;

interface Segment {
  file: string;
  fromNs: bigint;
  pinned: boolean;
}

export class PcapRing {
  private readonly segments: Segment[] = [];
  private writer: PcapWriter | undefined;
  private closing: Promise<void>[] = [];
  /** Moments to keep, pinned once their segment exists. */
  private readonly wanted: bigint[] = [];
  peakBytes = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
  ) {}

  write(data: Buffer, tsNs: bigint): void {
    const current = this.segments.at(-1);
    if (!current || tsNs - current.fromNs >= BigInt(SEGMENT_S * 1e9)) this.rotate(tsNs);
    this.writer!.write(data, tsNs);
  }

  /** Keep the segment that holds this moment (a failure's second), whenever it is written. */
  keep(tsNs: bigint): void {
    if (this.wanted.length < MAX_PINNED) this.wanted.push(tsNs);
    this.pin();
  }

  private rotate(tsNs: bigint): void {
    if (this.writer) this.closing.push(this.writer.close());
    const file = path.join(this.dir, `${this.name}-${this.segments.length + 1}.pcap`);
    this.segments.push({ file, fromNs: tsNs, pinned: false });
    this.writer = createPcapWriter(file);
    this.pin();
    this.measure();
    const unpinned = this.segments.filter((s) => !s.pinned && s.file !== file);
    for (const old of unpinned.slice(0, Math.max(0, unpinned.length - (KEEP_SEGMENTS - 1)))) {
      rmSync(old.file, { force: true });
      this.segments.splice(this.segments.indexOf(old), 1);
    }
  }

  private pin(): void {
    for (const at of this.wanted) {
      const seg = [...this.segments].reverse().find((s) => s.fromNs <= at);
      if (seg) seg.pinned = true;
    }
  }

  /** Bytes on disk now; the peak is kept. */
  measure(): number {
    let bytes = 0;
    for (const s of this.segments) {
      try {
        bytes += statSync(s.file).size;
      } catch {
        // not flushed yet
      }
    }
    this.peakBytes = Math.max(this.peakBytes, bytes);
    return bytes;
  }

  async close(): Promise<string[]> {
    if (this.writer) this.closing.push(this.writer.close());
    await Promise.all(this.closing);
    this.measure();
    return this.segments.map((s) => s.file);
  }
}
