// Benchmarks: decode rate of a capture, frames per second, on one file written by writePcap (a flow
// of 500k 60-byte signed frames, nanosecond pcap):
//   - wirelab, the analysis path: readPcap + findSignature (what analyzeTraffic does per frame);
//   - wirelab, full decode: readPcap + parse (every layer);
//   - scapy: rdpcap() with Debian's python3-scapy — on the first 10k frames only: it decodes about 2k
//     frames/s here, so the whole file would take minutes per run (its cost is per frame, so the rate
//     of a prefix is the rate of the file);
//   - tshark: `tshark -n -r FILE` (full dissection, one summary line per frame, to /dev/null) on the
//     whole file, when tshark is installed. Its process start is included (measured alone in details).
// wirelab runs in this process (no start-up); scapy's time is measured inside Python after the import.
// The four take turns in every round. Floor: each wirelab decode ≥ 3× scapy's median.
//
// Two Benchmark objects (one per baseline) read one shared measurement.
import { runTag, type RunId } from '../lib/core/run-id.ts';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveCommand, run } from '../lib/runtime/exec.ts';
import { Ether, findSignature, flow, IPv4, parse, stack as layers, UDP } from '../lib/frames/index.ts';
import { readPcap, writePcap } from '../lib/pcap/pcap.ts';
import type { Benchmark, BenchmarkResult, BenchOptions } from './benchmark.ts';
import { median } from './stats.ts';

const FRAMES = 500_000;
const SCAPY_PREFIX = 10_000;
const RUN_ID: RunId = 'wl-b0dec0';
/** Floor: wirelab's decode rate at least this many times scapy's. */
const SCAPY_FACTOR = 3;
const PYTHON = '/usr/bin/python3'; // Debian's, which has scapy (the python3 on PATH may not)
const SCAPY_SCRIPT = fileURLToPath(new URL('./baseline/scapy-rdpcap.py', import.meta.url));
const TOOL_TIMEOUT_MS = 180_000;

type Decoder = 'wirelab-signature' | 'wirelab-parse' | 'scapy' | 'tshark';

interface DecodeSample {
  decoder: Decoder;
  frames: number;
  seconds: number;
  framesPerS: number;
  load1m: number;
}

interface DecodeSession {
  samples: DecodeSample[];
  tshark: boolean;
  details: Record<string, unknown>;
}

let session: Promise<DecodeSession> | undefined;

function measureOnce(opts: BenchOptions): Promise<DecodeSession> {
  session ??= measureDecode(opts);
  return session;
}

const rates = (samples: DecodeSample[], decoder: Decoder) => samples.filter((s) => s.decoder === decoder).map((s) => s.framesPerS);

export const decodeVsScapy: Benchmark = {
  name: 'decode-vs-scapy',
  baseline: 'scapy rdpcap',
  compares:
    `frames decoded per second from one pcap of ${FRAMES.toLocaleString('en')} 60-byte frames written by writePcap: wirelab readPcap+findSignature ` +
    `(the analysis path) and readPcap+parse (every layer) vs scapy rdpcap on the first ${SCAPY_PREFIX.toLocaleString('en')} frames; floor ≥ ${SCAPY_FACTOR}× scapy's median`,
  async run(opts): Promise<BenchmarkResult> {
    const { samples, details } = await measureOnce(opts);
    const scapy = rates(samples, 'scapy');
    const floor = { kind: 'min' as const, value: SCAPY_FACTOR * median(scapy) };
    return {
      metrics: [
        {
          metric: `decode, readPcap+findSignature (floor: ${SCAPY_FACTOR}× scapy)`,
          unit: 'frames/s',
          wirelab: rates(samples, 'wirelab-signature'),
          baseline: scapy,
          floor,
        },
        {
          metric: `decode, readPcap+parse (floor: ${SCAPY_FACTOR}× scapy)`,
          unit: 'frames/s',
          wirelab: rates(samples, 'wirelab-parse'),
          baseline: scapy,
          floor,
        },
      ],
      details,
    };
  },
};

export const decodeVsTshark: Benchmark = {
  name: 'decode-vs-tshark',
  baseline: 'tshark -r',
  compares:
    `frames decoded per second from the same pcap (${FRAMES.toLocaleString('en')} frames): wirelab readPcap+findSignature and readPcap+parse ` +
    'vs `tshark -n -r FILE` (full dissection, summary lines to /dev/null, process start included); no rows when tshark is not installed',
  async run(opts): Promise<BenchmarkResult> {
    const { samples, tshark, details } = await measureOnce(opts);
    if (!tshark) {
      opts.log('decode-vs-tshark: tshark is not installed (apt-get install -y tshark); no rows');
      return { metrics: [], details: { ...details, skipped: 'tshark is not installed' } };
    }
    const baseline = rates(samples, 'tshark');
    return {
      metrics: [
        { metric: 'decode, readPcap+findSignature', unit: 'frames/s', wirelab: rates(samples, 'wirelab-signature'), baseline },
        { metric: 'decode, readPcap+parse', unit: 'frames/s', wirelab: rates(samples, 'wirelab-parse'), baseline },
      ],
      details,
    };
  },
};

async function measureDecode(opts: BenchOptions): Promise<DecodeSession> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-bench-decode-'));
  try {
    const file = path.join(dir, 'flow.pcap');
    const oneFrame = path.join(dir, 'one.pcap');
    const t0 = performance.now();
    const written = await writeFlowPcap(file, FRAMES);
    opts.log(`decode: wrote ${written.toLocaleString('en')} frames to ${file} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    await writeFlowPcap(oneFrame, 1);

    const tshark = await haveCommand('tshark');
    const decoders: Record<Decoder, () => Promise<{ frames: number; seconds: number }>> = {
      'wirelab-signature': () => timeInProcess(() => decodeSignatures(file)),
      'wirelab-parse': () => timeInProcess(() => decodeLayers(file)),
      scapy: () => scapyRdpcap(file, SCAPY_PREFIX),
      tshark: async () => ({ frames: FRAMES, seconds: await tsharkSeconds(file) }),
    };
    const order: Decoder[] = ['wirelab-signature', 'wirelab-parse', 'scapy', ...(tshark ? ['tshark' as const] : [])];
    const expected: Record<Decoder, number> = { 'wirelab-signature': FRAMES, 'wirelab-parse': FRAMES, scapy: SCAPY_PREFIX, tshark: FRAMES };

    const samples: DecodeSample[] = [];
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      const timed = i >= opts.warmup;
      const label = timed ? `run ${i - opts.warmup + 1}/${opts.runs}` : `warm-up ${i + 1}/${opts.warmup}`;
      for (const decoder of [...order.slice(i % order.length), ...order.slice(0, i % order.length)]) {
        const { frames, seconds } = await decoders[decoder]();
        if (frames !== expected[decoder]) throw new Error(`${decoder} decoded ${frames} frames, expected ${expected[decoder]}`);
        const s: DecodeSample = { decoder, frames, seconds, framesPerS: frames / seconds, load1m: os.loadavg()[0]! };
        opts.log(
          `decode ${label} ${decoder.padEnd(17)}: ${frames.toLocaleString('en')} frames in ${seconds.toFixed(2)} s = ${Math.round(s.framesPerS).toLocaleString('en')} frames/s (load ${s.load1m.toFixed(2)})`,
        );
        if (timed) samples.push(s);
      }
    }

    const details: Record<string, unknown> = {
      file: { frames: FRAMES, frameBytes: 60, writer: 'writePcap (nanosecond pcap)' },
      scapy: { python: PYTHON, prefixFrames: SCAPY_PREFIX, note: 'rdpcap(file, count=prefix); time measured in Python after the import' },
      samples,
    };
    if (tshark) {
      const version = (await run('tshark', ['--version'])).stdout.split('\n')[0];
      const startup = [await tsharkSeconds(oneFrame), await tsharkSeconds(oneFrame), await tsharkSeconds(oneFrame)];
      details.tshark = { version, command: 'tshark -n -r FILE > /dev/null', startupSecondsOnOneFrameFile: startup };
    }
    return { samples, tshark, details };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A flow's frames as a capture would hold them: 100k frames/s from now on. */
async function writeFlowPcap(file: string, count: number): Promise<number> {
  const template = layers(
    Ether({ src: '02:00:00:b0:00:01', dst: '02:00:00:b0:00:02' }),
    IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }),
    UDP({ sport: 10_000, dport: 20_000 }),
  );
  const start = BigInt(Date.now()) * 1_000_000n;
  const frames = function* () {
    for (const f of flow({ template, runId: RUN_ID, flowId: 1, count, ratePps: 100_000, size: 60 }))
      yield { tsNs: start + f.tsNs, data: f.data };
  };
  return writePcap(file, frames());
}

async function timeInProcess(decode: () => Promise<number>): Promise<{ frames: number; seconds: number }> {
  const t0 = performance.now();
  const frames = await decode();
  return { frames, seconds: (performance.now() - t0) / 1000 };
}

/** What analyzeTraffic does first with every captured frame: find this run's signature. */
async function decodeSignatures(file: string): Promise<number> {
  let signed = 0;
  for await (const record of readPcap(file)) if (findSignature(record.data, runTag(RUN_ID), 42) >= 0) signed++;
  return signed;
}

/** Every layer of every frame. */
async function decodeLayers(file: string): Promise<number> {
  let udp = 0;
  for await (const record of readPcap(file)) if (parse(record.data).layers[2]?.kind === 'UDP') udp++;
  return udp;
}

async function scapyRdpcap(file: string, count: number): Promise<{ frames: number; seconds: number }> {
  const r = await run(PYTHON, [SCAPY_SCRIPT, file, String(count)], { timeoutMs: TOOL_TIMEOUT_MS });
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { frames: number; udp: number; seconds: number };
  return { frames: out.udp, seconds: out.seconds };
}

/** Wall time of `tshark -n -r FILE` with its output thrown away (not buffered in this process). */
function tsharkSeconds(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('tshark', ['-n', '-r', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS); // by its own pid
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve((performance.now() - t0) / 1000);
      else reject(new Error(`tshark -n -r ${file} exited ${code}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`));
    });
  });
}
