// Benchmarks: injection rate of 64-byte frames (60 bytes without FCS) from one traffic host.
//
// One traffic host (the container, eth1 on br0 of a namespace of the bench's own, exactly as the lab
// starts it) sends with three senders, taking turns in every round so that a busy spell on the shared
// machine does not always hit the same one:
//   - wirelab: injectFrames(host, flow, {requestedPps: 'max'}) — frames generated lazily, streamed
//     into a pcap on the host over ssh, replayed by tcpreplay --topspeed --preload-pcap;
//   - scapy: the notebook way — build the frames as scapy packets, one sendp() on eth1;
//   - plain tcpreplay --topspeed of the same frames' pcap, already on the host.
// "Sent" means on the wire: the count is rx_packets of the bridge-side veth end (frames that crossed
// the veth into the bridge), not what the sender believes it sent.
//
// Scapy runs in the same container: a derived image (the traffic-host image + Debian's python3-scapy,
// built locally) — same NIC, same veth, same bridge, same CPU share as wirelab. A scapy in a netns on
// the host would have its own veth and no container, so a difference could be blamed on the path.
//
// Two Benchmark objects (one per baseline: the table names one baseline per benchmark) read one shared
// measurement, so all three senders really are measured side by side in one session.
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { addressOf } from '../lib/core/addressing.ts';
import { Ether, flow, IPv4, stack as layers, UDP } from '../lib/frames/index.ts';
import { injectFrames, parseTcpreplayOutput } from '../lib/traffic/injector.ts';
import type { TimedFrame } from '../lib/core/timed-frame.ts';
import { runTag } from '../lib/core/run-id.ts';
import { writePcap } from '../lib/pcap/pcap.ts';
import { UndoStack } from '../lib/runtime/teardown.ts';
import type { TrafficHost } from '../lib/lab/nested/traffic-host.ts';
import type { Benchmark, BenchmarkResult, BenchOptions } from './benchmark.ts';
import {
  benchWorkDir,
  createBenchNetns,
  ensureScapyImage,
  linkCounters,
  newBenchId,
  benchRunId,
  startBenchHost,
  withBenchRun,
} from './bench-env.ts';
import { median } from './stats.ts';

/**
 * Frames per run: wirelab and plain tcpreplay send 200k, the scapy loop 10k (it sends about 1k frames/s
 * here, and its cost is per frame, so 10k give its rate in ~20 s a run).
 */
const FRAMES = 200_000;
const SCAPY_FRAMES = 10_000;
const FRAME_SIZE = 60;
/** Floors on wirelab's median rate: at least this, and at least SCAPY_FACTOR × scapy's median in the same run. */
const MIN_PPS = 50_000;
const SCAPY_FACTOR = 10;
/** Time bounds per send (the frame counts bound them too). */
const REPLAY_TIMEOUT_S = 60;
const SCAPY_TIMEOUT_S = 300;

const HOST = { mac: '02:00:00:b0:00:01', ipv4: '198.18.0.1/24' };
/** Nobody has this MAC: the bridge floods the frames to its other ports (there are none) and drops them. */
const SINK = { mac: '02:00:00:b0:00:fe', ipv4: '198.18.0.254' };
const SCAPY_SCRIPT = fileURLToPath(new URL('./baseline/scapy-sendp.py', import.meta.url));

interface SendSample {
  sender: 'wirelab' | 'scapy' | 'tcpreplay';
  /** Frames the sender was given. */
  frames: number;
  /** rx_packets delta of the bridge-side veth end. */
  onWire: number;
  /** Seconds of the whole job: wirelab = generate + upload + replay (+ ssh round trips); scapy = build + sendp. */
  totalS: number;
  /** Seconds of sending only: tcpreplay's own "sent in" time; scapy's sendp() call. */
  sendS: number;
  rxDropped: number;
  load1m: number;
}

interface InjectionSession {
  samples: SendSample[];
  details: Record<string, unknown>;
}

let session: Promise<InjectionSession> | undefined;

/** Measure once per process; both benchmarks below report from the same session. */
function measureOnce(opts: BenchOptions): Promise<InjectionSession> {
  session ??= measureInjection(opts);
  return session;
}

const rate = (s: SendSample, seconds: number) => s.onWire / seconds;
const of = (samples: SendSample[], sender: SendSample['sender']) => samples.filter((s) => s.sender === sender);

export const injectionVsScapy: Benchmark = {
  name: 'injection-vs-scapy',
  baseline: 'scapy sendp',
  compares:
    `64-byte frames on the wire per second from one traffic host (rx_packets of the bridge-side veth): wirelab injectFrames ` +
    `(${FRAMES.toLocaleString('en')} frames, requestedPps 'max') vs a scapy build+sendp() loop (${SCAPY_FRAMES.toLocaleString('en')} frames) ` +
    `in the same container on the same eth1; floors: ≥ ${MIN_PPS.toLocaleString('en')} frames/s and ≥ ${SCAPY_FACTOR}× scapy's median`,
  async run(opts): Promise<BenchmarkResult> {
    const { samples, details } = await measureOnce(opts);
    const wl = of(samples, 'wirelab');
    const scapy = of(samples, 'scapy');
    const floor = (scapyRates: number[]) => ({ kind: 'min' as const, value: Math.max(MIN_PPS, SCAPY_FACTOR * median(scapyRates)) });
    const scapyTotal = scapy.map((s) => rate(s, s.totalS));
    const scapySend = scapy.map((s) => rate(s, s.sendS));
    return {
      metrics: [
        {
          metric: `64B inject, whole job (floor: max(50k, ${SCAPY_FACTOR}× scapy))`,
          unit: 'frames/s',
          wirelab: wl.map((s) => rate(s, s.totalS)),
          baseline: scapyTotal,
          floor: floor(scapyTotal),
        },
        {
          metric: `64B inject, sending only (floor: max(50k, ${SCAPY_FACTOR}× scapy))`,
          unit: 'frames/s',
          wirelab: wl.map((s) => rate(s, s.sendS)),
          baseline: scapySend,
          floor: floor(scapySend),
        },
      ],
      details,
    };
  },
};

export const injectionVsTcpreplay: Benchmark = {
  name: 'injection-vs-tcpreplay',
  baseline: 'tcpreplay --topspeed',
  compares:
    `64-byte frames on the wire per second from one traffic host: wirelab injectFrames (${FRAMES.toLocaleString('en')} frames, 'max') ` +
    `vs plain \`tcpreplay --intf1=eth1 --topspeed\` of the same frames' pcap already on the host (no upload, no --preload-pcap), same session`,
  async run(opts): Promise<BenchmarkResult> {
    const { samples, details } = await measureOnce(opts);
    const wl = of(samples, 'wirelab');
    const plain = of(samples, 'tcpreplay').map((s) => rate(s, s.sendS));
    return {
      metrics: [
        {
          metric: '64B inject, wirelab whole job vs replay of a pcap already there',
          unit: 'frames/s',
          wirelab: wl.map((s) => rate(s, s.totalS)),
          baseline: plain,
        },
        { metric: '64B inject, sending only', unit: 'frames/s', wirelab: wl.map((s) => rate(s, s.sendS)), baseline: plain },
      ],
      details,
    };
  },
};

async function measureInjection(opts: BenchOptions): Promise<InjectionSession> {
  const benchId = newBenchId();
  const runId = benchRunId(benchId);
  opts.log(`injection: building or checking the scapy variant of the traffic-host image`);
  const image = await ensureScapyImage();
  const stack = new UndoStack(benchId);
  const loadBefore = os.loadavg();

  return withBenchRun(benchId, stack, opts.log, async () => {
    opts.log(`injection: ${benchId}: namespace with br0, one traffic host (${image})`);
    await createBenchNetns(benchId, ['br0'], stack);
    const workDir = await benchWorkDir(benchId, stack);
    const host = await startBenchHost({ benchId, side: 'left', bridge: 'br0', ...HOST, workDir, stack, image });

    const template = layers(
      Ether({ src: HOST.mac, dst: SINK.mac }),
      IPv4({ src: addressOf(HOST.ipv4), dst: SINK.ipv4 }),
      UDP({ sport: 10_000, dport: 20_000 }),
    );
    // ratePps only sets the pcap timestamps; at 'max' tcpreplay ignores them.
    const frames = function* (): Generator<TimedFrame> {
      for (const f of flow({ template, runId, flowId: 1, count: FRAMES, ratePps: 1_000_000, size: FRAME_SIZE })) yield f;
    };

    // The plain tcpreplay baseline replays the same frames from a pcap already on the host.
    const plainPcap = `/tmp/${benchId}-plain.pcap`;
    await uploadPcap(host, plainPcap, frames());
    const scapyScript = await readFile(SCAPY_SCRIPT);
    const versions = {
      tcpreplay: (await host.ssh.exec(['tcpreplay', '--version'])).stdout.toString().split('\n')[0]?.trim(),
      scapy: (await host.ssh.exec(['python3', '-c', 'import scapy; print(scapy.VERSION)'])).stdout.toString().trim(),
    };

    const senders: Record<SendSample['sender'], () => Promise<SendSample>> = {
      wirelab: () =>
        measureSend(benchId, host, 'wirelab', FRAMES, async () => {
          const t0 = performance.now();
          const r = await injectFrames(host, frames(), {
            requestedPps: 'max',
            timeoutMs: REPLAY_TIMEOUT_S * 1000,
            name: `${benchId}-wirelab`,
          });
          return { totalS: (performance.now() - t0) / 1000, sendS: r.durationS };
        }),
      scapy: () =>
        measureSend(benchId, host, 'scapy', SCAPY_FRAMES, async () => {
          const argv = [String(SCAPY_FRAMES), host.dataIf, HOST.mac, SINK.mac, addressOf(HOST.ipv4), SINK.ipv4, String(runTag(runId))];
          const r = await host.ssh.execOk(['timeout', String(SCAPY_TIMEOUT_S), 'python3', '-', ...argv], {
            stdin: scapyScript,
            timeoutMs: (SCAPY_TIMEOUT_S + 10) * 1000,
          });
          const out = JSON.parse(r.stdout.toString().trim().split('\n').pop()!) as {
            frames: number;
            frameBytes: number;
            buildS: number;
            sendS: number;
          };
          if (out.frameBytes !== FRAME_SIZE) throw new Error(`scapy built ${out.frameBytes}-byte frames, expected ${FRAME_SIZE}`);
          return { totalS: out.buildS + out.sendS, sendS: out.sendS };
        }),
      tcpreplay: () =>
        measureSend(benchId, host, 'tcpreplay', FRAMES, async () => {
          const r = await host.ssh.exec(
            ['timeout', String(REPLAY_TIMEOUT_S), 'tcpreplay', `--intf1=${host.dataIf}`, '--topspeed', plainPcap],
            { timeoutMs: (REPLAY_TIMEOUT_S + 10) * 1000 },
          );
          const text = `${r.stdout.toString()}\n${r.stderr}`;
          if (r.code !== 0) throw new Error(`plain tcpreplay exited ${r.code}: ${text.trim().split('\n').slice(-2).join(' | ')}`);
          const stats = parseTcpreplayOutput(text);
          return { totalS: stats.durationS, sendS: stats.durationS };
        }),
    };

    const samples: SendSample[] = [];
    const order: SendSample['sender'][] = ['wirelab', 'scapy', 'tcpreplay'];
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      const timed = i >= opts.warmup;
      const label = timed ? `run ${i - opts.warmup + 1}/${opts.runs}` : `warm-up ${i + 1}/${opts.warmup}`;
      // Rotate who goes first: wirelab, scapy, tcpreplay; then scapy, tcpreplay, wirelab; ...
      for (const sender of [...order.slice(i % 3), ...order.slice(0, i % 3)]) {
        const s = await senders[sender]();
        opts.log(
          `injection ${label} ${sender.padEnd(9)}: ${s.onWire}/${s.frames} on the wire, ${Math.round(rate(s, s.totalS)).toLocaleString('en')} frames/s whole job, ` +
            `${Math.round(rate(s, s.sendS)).toLocaleString('en')} sending (load ${s.load1m.toFixed(2)})`,
        );
        if (timed) samples.push(s);
      }
    }
    await host.ssh.exec(['rm', '-f', plainPcap]);

    return {
      samples,
      details: {
        benchId,
        frameBytes: FRAME_SIZE,
        framesPerRun: { wirelab: FRAMES, tcpreplay: FRAMES, scapy: SCAPY_FRAMES },
        onWireCount: 'rx_packets delta of the bridge-side veth end in the bench namespace',
        scapyPlacement: `same traffic-host container (image ${image}: traffic-host image + Debian python3-scapy), same eth1/veth/bridge`,
        wirelabCommand:
          "injectFrames(host, flow, {requestedPps: 'max'}): writePcap → ssh `cp /dev/stdin` → tcpreplay --intf1=eth1 --preload-pcap --topspeed",
        tcpreplayCommand: `tcpreplay --intf1=eth1 --topspeed ${plainPcap}`,
        versions,
        samples,
        loadAverage1m: { before: loadBefore[0], after: os.loadavg()[0] },
      },
    };
  });
}

/** Stream frames into a pcap file on the host over ssh. */
async function uploadPcap(host: TrafficHost, remoteFile: string, frames: Iterable<TimedFrame>): Promise<void> {
  const stream = new PassThrough();
  const upload = host.ssh.exec(['cp', '/dev/stdin', remoteFile], { stdin: stream, timeoutMs: 60_000 });
  await writePcap(stream, frames, { precision: 'us' });
  const r = await upload;
  if (r.code !== 0) throw new Error(`could not upload ${remoteFile}: ${r.stderr.trim()}`);
}

/** One send, counted on the wire: the bridge-side veth's rx_packets before and after (once it settles). */
async function measureSend(
  netns: string,
  host: TrafficHost,
  sender: SendSample['sender'],
  frames: number,
  send: () => Promise<{ totalS: number; sendS: number }>,
): Promise<SendSample> {
  const before = await linkCounters(netns, host.bridgePort);
  const { totalS, sendS } = await send();
  const after = await settledCounters(netns, host.bridgePort);
  const onWire = after.rxPackets - before.rxPackets;
  // A few frames too many would be the host's own (none expected: no IPv6, no ARP to a silent sink).
  if (onWire < frames * 0.99 || onWire > frames + 100) {
    throw new Error(
      `${sender}: ${onWire} frames reached the bridge of ${frames} sent (rx_dropped +${after.rxDropped - before.rxDropped}); the rate would be meaningless`,
    );
  }
  return { sender, frames, onWire, totalS, sendS, rxDropped: after.rxDropped - before.rxDropped, load1m: os.loadavg()[0]! };
}

/** Counters once two reads 20 ms apart agree (frames still in the veth's backlog are counted). */
async function settledCounters(netns: string, ifname: string) {
  let last = await linkCounters(netns, ifname);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const now = await linkCounters(netns, ifname);
    if (now.rxPackets === last.rxPackets) return now;
    last = now;
  }
  return last;
}
