// Benchmark: the traffic instrument's own latency floor — what wirelab reports as latency when the
// guest takes no time at all.
//
// Latency is measured exactly as the suites measure it (runTraffic: captures on the two points that
// stand for the guest's ports, on one clock, joined frame by frame by signature; analyzeTraffic's
// latencyUs), but the guest is replaced by a veth pair:
//
//   netns wlb-xxxxxx:  left host ─ br0 ─ p0 ═══ veth ═══ p1 ─ br1 ─ right host
//                                       ↑ capture       ↑ capture   ("guest ports")
//
// A StartedLab without a guest (NO_GUEST) lets runTraffic and udpTemplate run unchanged. Each run
// sends one flow each way at a moderate rate; its sample is the worse of the two flows' p50.
// Baseline, for scale: ping between the same two hosts over the same path, RTT/2 (what one would
// measure without wirelab; it includes both hosts' IP stacks, twice).
// Floor: wirelab's p50 ≤ 50 µs.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { run } from '../lib/runtime/exec.ts';
import type { FlowResult } from '../lib/analysis/flow-report.ts';
import type { GuestPort, Lab } from '../lib/lab/lab.ts';
import { loadProfile } from '../lib/profile/load.ts';
import type { LabProfile } from '../lib/profile/types.ts';
import { UndoStack } from '../lib/runtime/teardown.ts';
import { StartedLab, type HaltableGuest } from '../lib/lab/started-lab.ts';
import { udpTemplate } from '../lib/traffic/templates.ts';
import { runTraffic } from '../lib/traffic/traffic-run.ts';
import type { TrafficHost } from '../lib/lab/nested/traffic-host.ts';
import type { Benchmark, BenchmarkResult, BenchOptions } from './benchmark.ts';
import { benchWorkDir, createBenchNetns, benchRunId, newBenchId, startBenchHost, withBenchRun } from './bench-env.ts';
import { median } from './stats.ts';
import type { Side } from '../lib/core/sides.ts';

/** The profile the suites' default lab uses: its role (l2-bridge: frames go MAC to MAC) and host addresses. */
const PROFILE = fileURLToPath(new URL('../lab-profiles/nested-l2-bridge.yaml', import.meta.url));
const FRAMES_PER_FLOW = 2_000;
const RATE_PPS = 1_000;
const P50_FLOOR_US = 50;
/** At least this share of each flow's frames must be seen on both ports for its percentiles to count. */
const MIN_SAMPLE_SHARE = 0.5;
const PING = { count: 200, intervalS: '0.005', timeoutS: 20 };
const SIDES: readonly Side[] = ['left', 'right'];
const BRIDGE: Record<Side, string> = { left: 'br0', right: 'br1' };
const HOST_MAC: Record<Side, string> = { left: '02:00:00:b1:00:01', right: '02:00:00:b1:00:02' };
const PORT_MAC: Record<Side, string> = { left: '02:00:00:b1:00:10', right: '02:00:00:b1:00:11' };

export const latencyFloor: Benchmark = {
  name: 'latency-floor',
  baseline: 'ping RTT/2',
  compares:
    `latency as the suites measure it (runTraffic: captures on two points on one clock, joined by signature, analyzeTraffic latencyUs p50) ` +
    `on a direct veth path with no guest, ${FRAMES_PER_FLOW} frames each way at ${RATE_PPS} pps per run, vs ping RTT/2 between the same hosts; floor p50 ≤ ${P50_FLOOR_US} µs`,
  run: measureLatencyFloor,
};

/** Where the guest would be there is a veth pair: no console, nothing to halt. */
const NO_GUEST: HaltableGuest = {
  readyAfterMs: 0,
  console: () => '',
  consoleTail: () => [],
  consoleMark: () => 0,
  waitForConsole: () => Promise.reject(new Error('the direct path has no guest console')),
  halt: () => Promise.resolve({ graceful: true, ms: 0 }),
  resetGuest: () => Promise.reject(new Error('the direct path has no guest to reset')),
  setGuestLink: () => Promise.reject(new Error('the direct path has no guest NIC')),
  typeOnConsole: () => Promise.reject(new Error('the direct path has no guest console')),
};

interface RunSample {
  p50Us: number;
  pingHalfRttUs: number;
  flows: { name: string; sent: number; lostAtReceiver: number; latencyUs: FlowResult['latencyUs'] }[];
  captureDrops: Record<string, number | undefined>;
  injectedPps: number[];
  load1m: number;
}

async function measureLatencyFloor(opts: BenchOptions): Promise<BenchmarkResult> {
  const profile = loadProfile(PROFILE);
  const benchId = newBenchId();
  const stack = new UndoStack(benchId);
  const loadBefore = os.loadavg();

  const samples = await withBenchRun(benchId, stack, opts.log, async () => {
    opts.log(`latency-floor: ${benchId}: br0 ═ veth ═ br1 and a traffic host on each bridge`);
    const lab = await directPathLab(benchId, profile, stack);
    const runs: RunSample[] = [];
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      const timed = i >= opts.warmup;
      const label = timed ? `run ${i - opts.warmup + 1}/${opts.runs}` : `warm-up ${i + 1}/${opts.warmup}`;
      const sample = await oneRun(lab, i);
      opts.log(
        `latency-floor ${label}: p50 ${sample.p50Us.toFixed(1)} µs (flows: ${sample.flows.map((f) => `${f.name} p50 ${f.latencyUs?.p50.toFixed(1)} p99 ${f.latencyUs?.p99.toFixed(1)}`).join(', ')}), ` +
          `ping RTT/2 ${sample.pingHalfRttUs.toFixed(1)} µs, capture drops ${JSON.stringify(sample.captureDrops)} (load ${sample.load1m.toFixed(2)})`,
      );
      if (timed) runs.push(sample);
    }
    return runs;
  });

  return {
    metrics: [
      {
        metric: `latency p50, bare veth path (floor: ≤ ${P50_FLOOR_US} µs)`,
        unit: 'µs',
        wirelab: samples.map((s) => s.p50Us),
        baseline: samples.map((s) => s.pingHalfRttUs),
        floor: { kind: 'max', value: P50_FLOOR_US },
      },
    ],
    details: {
      benchId,
      path: 'left host eth1 ─ br0 ─ p0 ═ veth ═ p1 ─ br1 ─ right host eth1, in netns wlb-xxxxxx; captures on p0 and p1 (tcpdump, nanosecond stamps)',
      perRun: `${FRAMES_PER_FLOW} frames each way at ${RATE_PPS} pps, 60-byte UDP; sample = the worse of the two flows' p50`,
      ping: `ping -n -c ${PING.count} -i ${PING.intervalS} from the left host to the right host; sample = median RTT / 2`,
      p90Us: median(samples.flatMap((s) => s.flows.map((f) => f.latencyUs?.p90 ?? Number.NaN))),
      p99Us: median(samples.flatMap((s) => s.flows.map((f) => f.latencyUs?.p99 ?? Number.NaN))),
      samples,
      loadAverage1m: { before: loadBefore[0], after: os.loadavg()[0] },
    },
  };
}

/** The namespace, the veth "guest", two traffic hosts; everything registered on `stack`. */
async function directPathLab(benchId: string, profile: LabProfile, stack: UndoStack): Promise<Lab> {
  await createBenchNetns(benchId, [BRIDGE.left, BRIDGE.right], stack);
  const port: Record<Side, string> = { left: `${benchId}-p0`, right: `${benchId}-p1` };
  // Inside the bench's namespace: deleting the namespace deletes the pair too.
  await run(
    'ip',
    ['link', 'add', port.left, 'address', PORT_MAC.left, 'type', 'veth', 'peer', 'name', port.right, 'address', PORT_MAC.right],
    { netns: benchId },
  );
  for (const side of SIDES) await run('ip', ['link', 'set', port[side], 'master', BRIDGE[side], 'up'], { netns: benchId });

  const workDir = await benchWorkDir(benchId, stack);
  // Both at once, as the nested lab does; wait for both so that none is still starting during an unwind.
  const settled = await Promise.allSettled(
    SIDES.map((side) =>
      startBenchHost({ benchId, side, bridge: BRIDGE[side], mac: HOST_MAC[side], ipv4: profile.trafficHosts[side].ipv4, workDir, stack }),
    ),
  );
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [left, right] = settled.map((s) => (s as PromiseFulfilledResult<TrafficHost>).value);
  const hosts = { left: left!, right: right! };
  const ports = Object.fromEntries(
    SIDES.map((side) => [side, { side, netns: benchId, ifname: port[side], bridge: BRIDGE[side], guestMac: PORT_MAC[side] }]),
  ) as Record<Side, GuestPort>;
  // Everything is ready once the lab exists: there is no guest to wait for.
  const now = Date.now();
  return new StartedLab(benchRunId(benchId), profile, NO_GUEST, ports, hosts, { guestReadyAtMs: now, hostsReadyAtMs: now }, workDir, stack);
}

async function oneRun(lab: Lab, index: number): Promise<RunSample> {
  const flows = [
    {
      name: 'left→right',
      from: 'left' as const,
      to: 'right' as const,
      template: udpTemplate(lab, 'left', 'right'),
      count: FRAMES_PER_FLOW,
      ratePps: RATE_PPS,
      size: 60,
    },
    {
      name: 'right→left',
      from: 'right' as const,
      to: 'left' as const,
      template: udpTemplate(lab, 'right', 'left'),
      count: FRAMES_PER_FLOW,
      ratePps: RATE_PPS,
      size: 60,
    },
  ];
  const traffic = await runTraffic(lab, flows, { name: `latency-floor-${index}`, settleMs: 300 });
  const { report } = traffic;
  // A frame missing from a capture (tcpdump's "dropped by kernel" on a busy machine) has no latency
  // sample; that is the capture's loss, not the path's, and is kept in the details. Too few samples
  // would make the percentile meaningless.
  for (const f of report.flows) {
    const samples = f.latencyUs?.samples ?? 0;
    if (samples < f.sent * MIN_SAMPLE_SHARE) {
      throw new Error(
        `flow ${f.name}: only ${samples} of ${f.sent} frames were captured on both ports (capture drops ${JSON.stringify(report.captureDrops)}); too few for a latency`,
      );
    }
  }
  return {
    p50Us: Math.max(...report.flows.map((f) => f.latencyUs!.p50)),
    pingHalfRttUs: await pingHalfRttUs(lab),
    flows: report.flows.map((f) => ({ name: f.name, sent: f.sent, lostAtReceiver: f.lost, latencyUs: f.latencyUs })),
    captureDrops: report.captureDrops,
    injectedPps: traffic.injections.map((inj) => inj.achievedPps),
    load1m: os.loadavg()[0]!,
  };
}

/** Median ping RTT / 2 from the left host to the right one, in µs. */
async function pingHalfRttUs(lab: Lab): Promise<number> {
  const target = lab.hosts.right.ipv4.split('/')[0]!;
  const r = await lab.hosts.left.ssh.execOk(
    ['timeout', String(PING.timeoutS), 'ping', '-n', '-c', String(PING.count), '-i', PING.intervalS, target],
    { timeoutMs: (PING.timeoutS + 5) * 1000 },
  );
  const rtts = [...r.stdout.toString().matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
  if (rtts.length < PING.count / 2) throw new Error(`ping ${target} answered ${rtts.length} of ${PING.count}`);
  return median(rtts) / 2;
}
