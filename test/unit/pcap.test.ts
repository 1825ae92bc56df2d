// pcap writer and reader: our own files (both precisions, both byte orders), streams, broken
// inputs, and files written by real tcpdump (it rewrites ours, so no root or network is needed).
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { WirelabError } from '../../lib/core/errors.ts';
import { Ether, flow, IPv4, stack, UDP } from '../../lib/frames/index.ts';
import { createPcapWriter, type PcapRecord, readPcap, writePcap } from '../../lib/pcap/pcap.ts';

const dir = mkdtempSync(join(tmpdir(), 'wlf-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);

const template = stack(
  Ether({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }),
  IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }),
  UDP({ sport: 1000, dport: 2000 }),
);
const T0 = 1_700_000_000_123_456_789n;
/** Varied frames: IMIX sizes, timestamps 1.000001 ms apart so microsecond files round visibly. */
const frames = (n: number) =>
  Array.from(flow({ template, runId: 'wl-000001', flowId: 2, count: n, ratePps: 999_999, size: 'imix' }), (f) => ({
    data: f.data,
    tsNs: T0 + f.tsNs,
  }));

async function readAll(source: Parameters<typeof readPcap>[0], options?: Parameters<typeof readPcap>[1]): Promise<PcapRecord[]> {
  const out: PcapRecord[] = [];
  for await (const r of readPcap(source, options)) out.push({ ...r, data: Buffer.from(r.data) });
  return out;
}

async function readError(source: Parameters<typeof readPcap>[0]): Promise<{ error: WirelabError; records: number }> {
  let records = 0;
  try {
    for await (const _ of readPcap(source)) records++;
  } catch (e) {
    expect(e).toBeInstanceOf(WirelabError);
    return { error: e as WirelabError, records };
  }
  throw new Error('expected readPcap to fail');
}

describe('pcap round trip', () => {
  it.each(['ns', 'us'] as const)('writes and reads back %s timestamps, data and lengths', async (precision) => {
    const input = frames(50);
    const path = file(`round-${precision}.pcap`);
    expect(await writePcap(path, input, { precision })).toBe(50);
    const header = readFileSync(path).subarray(0, 4).toString('hex');
    expect(header).toBe(precision === 'ns' ? '4d3cb2a1' : 'd4c3b2a1');
    const back = await readAll(path);
    expect(back).toHaveLength(50);
    back.forEach((r, i) => {
      const want = precision === 'ns' ? input[i]!.tsNs : (input[i]!.tsNs / 1000n) * 1000n;
      expect(r.tsNs).toBe(want);
      expect(r.data.equals(input[i]!.data)).toBe(true);
      expect(r.origLen).toBe(input[i]!.data.length);
    });
  });

  it('keeps the original length of a frame cut at snaplen', async () => {
    const path = file('snap.pcap');
    const w = createPcapWriter(path, { snapLen: 64 });
    const frame = frames(7)[6]!.data; // the 1514-byte one
    w.write(frame.subarray(0, 64), 5n, frame.length);
    await w.close();
    const [r] = await readAll(path);
    expect(r).toMatchObject({ tsNs: 5n, origLen: 1514 });
    expect(r!.data).toHaveLength(64);
  });

  it('reads a big-endian nanosecond file', async () => {
    const header = Buffer.alloc(24);
    header.writeUInt32BE(0xa1b23c4d, 0);
    header.writeUInt16BE(2, 4);
    header.writeUInt16BE(4, 6);
    header.writeUInt32BE(65535, 16);
    header.writeUInt32BE(1, 20); // Ethernet
    const record = Buffer.alloc(16 + 60);
    record.writeUInt32BE(1_700_000_000, 0);
    record.writeUInt32BE(999_999_999, 4);
    record.writeUInt32BE(60, 8);
    record.writeUInt32BE(60, 12);
    record.fill(0xab, 16);
    writeFileSync(file('be.pcap'), Buffer.concat([header, record]));
    const [r] = await readAll(file('be.pcap'));
    expect(r?.tsNs).toBe(1_700_000_000_999_999_999n);
    expect(r?.data).toEqual(Buffer.alloc(60, 0xab));
  });

  it('streams through a Writable and from a Readable', async () => {
    const pipe = new PassThrough();
    const input = frames(30);
    const reading = readAll(pipe, { name: 'test pipe' });
    await writePcap(pipe, input);
    const back = await reading;
    expect(back.map((r) => r.data.toString('hex'))).toEqual(input.map((f) => f.data.toString('hex')));
  });

  it('yields frames before the input ends (streams, never reads it whole)', async () => {
    const pipe = new PassThrough();
    const writer = createPcapWriter(pipe);
    for (const f of frames(5)) writer.write(f.data, f.tsNs);
    writer.flush(); // hand the buffered records to the pipe without ending it
    const it = readPcap(pipe)[Symbol.asyncIterator]();
    expect((await it.next()).value?.data).toHaveLength(60); // the writer has not closed yet
    await it.return(undefined);
    expect(pipe.destroyed).toBe(true); // an early stop releases the input
  });

  it('pauses its input while the consumer lags: the writer feels backpressure', async () => {
    const pipe = new PassThrough();
    const writer = createPcapWriter(pipe);
    const it = readPcap(pipe)[Symbol.asyncIterator]();
    const first = it.next();
    const f = flow({ template, runId: 'wl-000001', flowId: 2, count: 200_000, ratePps: 1e6, size: 60 });
    let pushedBack = -1;
    for (const x of f) {
      if (!writer.write(x.data, x.tsNs)) {
        await Promise.race([writer.drained(), new Promise((resolve) => setTimeout(resolve, 200))]);
        if (pipe.writableNeedDrain) {
          pushedBack = x.seq; // the reader stopped taking data although the input had more
          break;
        }
      }
    }
    expect((await first).value?.data.readUInt32BE(42 + 10)).toBe(0);
    expect(pushedBack).toBeGreaterThan(0);
    expect(pushedBack).toBeLessThan(50_000); // ~20k here: the 4096-frame queue plus stream buffers
    await it.return(undefined);
  });
});

describe('broken inputs fail with a clear error naming the file', () => {
  it('a truncated file: every complete frame first, then the error', async () => {
    const path = file('cut.pcap');
    await writePcap(path, frames(10));
    const whole = readFileSync(path);
    writeFileSync(path, whole.subarray(0, whole.length - 5));
    const { error, records } = await readError(path);
    expect(records).toBe(9);
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/truncated after 9 complete frames/);
  });

  it('a text file', async () => {
    writeFileSync(file('notes.txt'), 'this is not a capture, just some text\n');
    const { error } = await readError(file('notes.txt'));
    expect(error.message).toBe(`${file('notes.txt')}: not a pcap file (magic 0x74686973).`);
  });

  it('a pcapng file', async () => {
    writeFileSync(file('x.pcapng'), Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex'));
    expect((await readError(file('x.pcapng'))).error.message).toMatch(/pcapng file; convert it/);
  });

  it('an empty file, a missing file, a non-Ethernet link type, a corrupt record length', async () => {
    writeFileSync(file('empty.pcap'), '');
    expect((await readError(file('empty.pcap'))).error.message).toMatch(/empty\.pcap: not a pcap file: 0 bytes/);
    expect((await readError(file('missing.pcap'))).error.message).toMatch(/missing\.pcap: cannot read it \(ENOENT/);
    const sll = createPcapWriter(file('sll.pcap'), { linkType: 113 });
    sll.write(Buffer.alloc(20), 0n);
    await sll.close();
    expect((await readError(file('sll.pcap'))).error.message).toMatch(/link type 113 is not Ethernet/);
    const bad = readFileSync(file('sll.pcap'));
    bad.writeUInt32LE(113 - 112, 20);
    bad.writeUInt32LE(0x7fffffff, 24 + 8);
    writeFileSync(file('corrupt.pcap'), bad);
    expect((await readError(file('corrupt.pcap'))).error.message).toMatch(/record 1 claims 2147483647 captured bytes/);
  });
});

describe('files written by tcpdump', () => {
  const TCPDUMP = '/usr/bin/tcpdump';

  it.each([
    ['nano', ['--time-stamp-precision=nano'], (t: bigint) => t],
    ['micro', [], (t: bigint) => (t / 1000n) * 1000n],
  ] as const)('reads a %s pcap tcpdump rewrote from ours', async (_label, precision, expectedTs) => {
    if (!existsSync(TCPDUMP)) throw new Error(`${TCPDUMP} is missing: apt-get install tcpdump.`);
    const input = frames(40);
    const ours = file(`ours-${_label}.pcap`);
    const theirs = file(`theirs-${_label}.pcap`);
    await writePcap(ours, input);
    // tcpdump reads our nanosecond file and writes its own (a filter keeps it honest: it parses every frame).
    execFileSync(TCPDUMP, ['-nn', ...precision, '-r', ours, '-w', theirs, 'udp'], { stdio: 'pipe', timeout: 10_000 });
    const back = await readAll(createReadStream(theirs), { name: theirs });
    expect(back).toHaveLength(40);
    back.forEach((r, i) => {
      expect(r.tsNs).toBe(expectedTs(input[i]!.tsNs));
      expect(r.data.equals(input[i]!.data)).toBe(true);
    });
  });
});
