// pcap files: a streaming writer (nanosecond or microsecond timestamps) and a streaming reader
// built on the `pcap-parser` package. Neither holds a capture in memory: the writer batches
// records into 256 KiB chunks, the reader keeps at most a few thousand parsed frames queued and
// pauses the input while the consumer catches up.
//
// pcap-parser 0.2 knows only the microsecond magic (0xa1b2c3d4) and reports the fraction field as
// "microseconds". The reader therefore puts a small Transform in front of it that rewrites the
// nanosecond magic (0xa1b23c4d, either byte order) to the microsecond one and remembers that the
// fraction is in nanoseconds. pcapng is not supported (tcpdump writes classic pcap by default).
import { createReadStream, createWriteStream } from 'node:fs';
import { type Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { WirelabError } from '../core/errors.ts';

export const LINKTYPE_ETHERNET = 1;
const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
const PCAPNG_MAGIC = 0x0a0d0d0a;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
/** tcpdump's largest snapshot length; a longer record length means a corrupt file, not a big frame. */
const MAX_RECORD = 262_144;

export interface PcapRecord {
  /** Capture time in ns since the epoch (microsecond files: a multiple of 1000). */
  tsNs: bigint;
  /** The captured bytes. A view into the reader's input chunk: copy it to keep it for long. */
  data: Buffer;
  /** Length of the frame on the wire (more than data.length when the capture was cut at snaplen). */
  origLen: number;
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface PcapWriterOptions {
  /** Timestamp resolution in the file; 'ns' (default) uses magic 0xa1b23c4d. */
  precision?: 'ns' | 'us';
  snapLen?: number;
  linkType?: number;
}

const CHUNK = 256 * 1024;

export class PcapWriter {
  private readonly out: Writable;
  private readonly name: string;
  private readonly nano: boolean;
  private chunk = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private failure: Error | undefined;
  private closed = false;
  /** Frames written so far. */
  count = 0;

  constructor(out: Writable, name: string, options: PcapWriterOptions = {}) {
    this.out = out;
    this.name = name;
    this.nano = (options.precision ?? 'ns') === 'ns';
    out.on('error', (e: Error) => (this.failure ??= e));
    const header = this.chunk;
    header.writeUInt32LE(this.nano ? MAGIC_NANO : MAGIC_MICRO, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeInt32LE(0, 8); // thiszone
    header.writeUInt32LE(0, 12); // sigfigs
    header.writeUInt32LE(options.snapLen ?? MAX_RECORD, 16);
    header.writeUInt32LE(options.linkType ?? LINKTYPE_ETHERNET, 20);
    this.pos = GLOBAL_HEADER;
  }

  /**
   * Appends one frame. `tsNs` is a bigint (ns since the epoch) or a number of ns (exact below
   * 2^53 ns, i.e. relative times). Returns false when the output wants the caller to await drained().
   */
  write(data: Uint8Array, tsNs: bigint | number, origLen = data.length): boolean {
    if (this.closed) throw new WirelabError(`${this.name}: write after close.`);
    let sec: number;
    let frac: number;
    if (typeof tsNs === 'bigint') {
      sec = Number(tsNs / 1_000_000_000n);
      frac = Number(tsNs % 1_000_000_000n);
    } else {
      sec = Math.floor(tsNs / 1e9);
      frac = tsNs - sec * 1e9;
    }
    if (!this.nano) frac = Math.floor(frac / 1000);
    const need = RECORD_HEADER + data.length;
    if (this.pos + need > CHUNK) this.flush();
    let chunk = this.chunk;
    let at = this.pos;
    if (need > CHUNK) {
      chunk = Buffer.allocUnsafe(need); // a jumbo record gets its own chunk
      at = 0;
    }
    chunk.writeUInt32LE(sec >>> 0, at);
    chunk.writeUInt32LE(frac, at + 4);
    chunk.writeUInt32LE(data.length, at + 8);
    chunk.writeUInt32LE(origLen, at + 12);
    chunk.set(data, at + RECORD_HEADER);
    if (need > CHUNK) this.out.write(chunk);
    else this.pos += need;
    this.count++;
    return !this.out.writableNeedDrain;
  }

  /** Resolves when the output has room again (after write() returned false). */
  async drained(): Promise<void> {
    this.throwIfFailed();
    if (!this.out.writableNeedDrain) return;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        this.out.off('drain', onDrain);
        this.out.off('error', onError);
      };
      const onDrain = () => (cleanup(), resolve());
      const onError = (e: Error) => (cleanup(), reject(this.wrap(e)));
      this.out.on('drain', onDrain);
      this.out.on('error', onError);
    });
  }

  /** Flushes, ends the output and waits until it is written (a file: closed). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.throwIfFailed();
    this.flush();
    this.closed = true;
    await new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.wrap(this.failure));
      this.out.once('error', (e: Error) => reject(this.wrap(e)));
      this.out.end(() => resolve());
    });
    this.throwIfFailed();
  }

  /** Hands the buffered records to the output now (they are otherwise sent in 256 KiB chunks). */
  flush(): void {
    if (this.pos === 0) return;
    this.out.write(this.chunk.subarray(0, this.pos));
    this.chunk = Buffer.allocUnsafe(CHUNK); // the stream keeps the old one until written
    this.pos = 0;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.wrap(this.failure);
  }

  private wrap(e: Error): WirelabError {
    return new WirelabError(`${this.name}: cannot write the capture (${e.message}).`, { cause: e });
  }
}

/** Opens a pcap writer on a file path (created or truncated) or on a Writable (e.g. tcpreplay's stdin). */
export function createPcapWriter(target: string | Writable, options: PcapWriterOptions = {}): PcapWriter {
  if (typeof target === 'string') return new PcapWriter(createWriteStream(target), target, options);
  return new PcapWriter(target, 'pcap output stream', options);
}

/** Writes all frames (sync or async iterable) and closes; returns how many were written. */
export async function writePcap(
  target: string | Writable,
  frames: Iterable<{ data: Uint8Array; tsNs: bigint | number }> | AsyncIterable<{ data: Uint8Array; tsNs: bigint | number }>,
  options: PcapWriterOptions = {},
): Promise<number> {
  const writer = createPcapWriter(target, options);
  try {
    for await (const f of frames) if (!writer.write(f.data, f.tsNs)) await writer.drained();
  } finally {
    await writer.close();
  }
  return writer.count;
}

// ---------------------------------------------------------------------------------------------
// Reader

interface PcapParserGlobalHeader {
  magicNumber: number;
  majorVersion: number;
  minorVersion: number;
  snapshotLength: number;
  linkLayerType: number;
}
interface PcapParserPacket {
  header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number };
  data: Buffer;
}
interface PcapParser {
  on(event: 'globalHeader', fn: (h: PcapParserGlobalHeader) => void): void;
  on(event: 'packetHeader', fn: (h: PcapParserPacket['header']) => void): void;
  on(event: 'packet', fn: (p: PcapParserPacket) => void): void;
  on(event: 'error', fn: (e: Error) => void): void;
  on(event: 'end', fn: () => void): void;
  removeAllListeners(): void;
}
const pcapParser = createRequire(import.meta.url)('pcap-parser') as { parse(input: Readable): PcapParser };

/**
 * Rewrites the nanosecond magic to the microsecond one (which pcap-parser knows), notes which it
 * saw, and counts the bytes that pass so the reader can tell a truncated file from a complete one.
 */
class MagicNormalizer extends Transform {
  nano = false;
  /** The first four bytes as read (big-endian word), once seen. */
  magic: number | undefined;
  bytes = 0;
  private head = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.magic !== undefined) return done(null, chunk);
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < 4) return done();
    const head = this.head;
    this.head = Buffer.alloc(0);
    this.magic = head.readUInt32BE(0);
    if (this.magic === 0x4d3cb2a1) {
      this.nano = true;
      head.writeUInt32BE(0xd4c3b2a1, 0);
    } else if (this.magic === MAGIC_NANO) {
      this.nano = true;
      head.writeUInt32BE(MAGIC_MICRO, 0);
    }
    done(null, head);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.head.length ? this.head : undefined);
  }
}

export interface PcapReadOptions {
  /** Names the input in errors when it is a stream (a path names itself). */
  name?: string;
  /** Link type the frames must have; default Ethernet (1). */
  linkType?: number;
}

/** At most this many parsed frames wait for the consumer before the input is paused. */
const QUEUE_HIGH = 4096;

/**
 * Streams the records of a pcap file or stream: `for await (const r of readPcap('x.pcap'))`.
 * Throws a WirelabError naming the input for a non-pcap, pcapng, non-Ethernet or truncated input
 * (after yielding every complete record before the problem). The reader owns `source`: it is
 * destroyed when iteration ends early.
 */
export async function* readPcap(source: string | Readable, options: PcapReadOptions = {}): AsyncGenerator<PcapRecord> {
  const name = typeof source === 'string' ? source : (options.name ?? 'pcap input stream');
  const wantLink = options.linkType ?? LINKTYPE_ETHERNET;
  const input = typeof source === 'string' ? createReadStream(source, { highWaterMark: 1024 * 1024 }) : source;
  const normalizer = new MagicNormalizer();
  const parser = pcapParser.parse(normalizer);

  let queue: PcapRecord[] = [];
  let failure: WirelabError | undefined;
  let ended = false;
  let sawHeader = false;
  let consumed = GLOBAL_HEADER; // bytes explained by the header and complete records
  let frames = 0;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (message: string, cause?: unknown) => {
    if (failure) return;
    failure = new WirelabError(`${name}: ${message}`, { cause });
    input.unpipe(normalizer);
    notify();
  };

  input.on('error', (e: Error) => fail(`cannot read it (${e.message}).`, e));
  parser.on('globalHeader', (h) => {
    sawHeader = true;
    if (h.majorVersion !== 2) fail(`pcap version ${h.majorVersion}.${h.minorVersion} is not supported (2.4 expected).`);
    else if (h.linkLayerType !== wantLink) {
      fail(
        `link type ${h.linkLayerType} is not ${wantLink === LINKTYPE_ETHERNET ? 'Ethernet (1)' : wantLink}; capture on an Ethernet ` +
          `interface (not 'any').`,
      );
    }
  });
  parser.on('packetHeader', (h) => {
    if (h.capturedLength > MAX_RECORD) {
      fail(`record ${frames + 1} claims ${h.capturedLength} captured bytes (more than ${MAX_RECORD}): the file is corrupt.`);
    }
  });
  parser.on('packet', (p) => {
    if (failure) return;
    const h = p.header;
    const frac = normalizer.nano ? h.timestampMicroseconds : h.timestampMicroseconds * 1000;
    queue.push({ tsNs: BigInt(h.timestampSeconds) * 1_000_000_000n + BigInt(frac), data: p.data, origLen: h.originalLength });
    consumed += RECORD_HEADER + h.capturedLength;
    frames++;
    if (queue.length >= QUEUE_HIGH) normalizer.pause();
    notify();
  });
  parser.on('error', (e) => {
    const magic = normalizer.magic;
    if (magic === PCAPNG_MAGIC) fail(`this is a pcapng file; convert it with 'tcpdump -r IN -w OUT' (classic pcap).`, e);
    else fail(`not a pcap file (magic 0x${(magic ?? 0).toString(16).padStart(8, '0')}).`, e);
  });
  parser.on('end', () => {
    if (!sawHeader) fail(`not a pcap file: ${normalizer.bytes} bytes, shorter than the 24-byte pcap header.`);
    else if (normalizer.bytes !== consumed) {
      fail(`truncated after ${frames} complete frames (${normalizer.bytes - consumed} bytes of an incomplete record at the end).`);
    }
    ended = true;
    notify();
  });
  input.pipe(normalizer);

  try {
    for (;;) {
      if (queue.length > 0) {
        const batch = queue;
        queue = [];
        if (normalizer.isPaused() && !failure) normalizer.resume();
        for (let i = 0; i < batch.length; i++) yield batch[i]!;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    parser.removeAllListeners();
    input.unpipe(normalizer);
    normalizer.destroy();
    input.destroy();
  }
}
