// Benchmark: what a suite's traffic run costs wirelab as the frames and the flows grow 1×, 10×, 100×.
// One nested lab (the default profile) stays up; each run does what a suite test does with its
// traffic — runTraffic (captures on four points, injection from both hosts, frame-by-frame analysis)
// and the evidence (flow table, per-frame latency samples, histogram). Two shapes per scale s:
//   - frames: one UDP flow each way with s × 100 frames;
//   - flows:  s UDP flows each way (own ports) with 100 frames each, sharing the same rate,
// so both carry the same frames in the same time and differ in how many flows the analysis and the
// report keep apart (at 1× the shapes are the same run).
//
// Metrics per scale: wall time of the run, and peak RSS of the wirelab process during it (sampled
// every 25 ms; the captures and injections run elsewhere, in the lab's namespace and containers).
// Baselines, for scale: the time the frames themselves take at the offered rate (frames / rate: what
// no instrument can beat), and the process's RSS at rest just before the run.
// Floors: wall time ≤ 2 × the frames' own time + 15 s; peak RSS ≤ 400 MB at every scale.
import { fileURLToPath } from 'node:url';

import type { Lab } from '../lib/lab/lab.ts';
import { startLab } from '../lib/lab/start.ts';
import { loadProfile } from '../lib/profile/load.ts';
import { flowTableHtml, latencyHistogramSvg, latencySeries } from '../lib/report/visuals.ts';
import { udpTemplate } from '../lib/traffic/templates.ts';
import { runTraffic, type FlowDefinition } from '../lib/traffic/traffic-run.ts';
import type { Benchmark, BenchmarkResult, BenchOptions, MetricSamples } from './benchmark.ts';
import type { Side } from '../lib/core/sides.ts';

const PROFILE = fileURLToPath(new URL('../lab-profiles/nested-l2-bridge.yaml', import.meta.url));
/** 1× is a functional suite test's traffic: 100 frames each way. */
const BASE_FRAMES = 100;
const SCALES = [1, 10, 100] as const;
/** Per direction; within what the TCG reference guest forwards without loss. */
const RATE_PPS = 500;
const RSS_FLOOR_MB = 400;
const SAMPLE_MS = 25;

export const suiteCost: Benchmark = {
  name: 'suite-cost',
  baseline: 'frames alone',
  compares:
    `one suite-style traffic run (runTraffic + flow table + latency histogram) at ${SCALES.map((s) => `${s * BASE_FRAMES}`).join(' / ')} frames each way (${RATE_PPS} pps each way, IMIX), ` +
    "as one flow each way (frames) and as 10 / 100 flows each way (flows), on the nested lab: wall time vs the frames' own time at that rate (count / rate), " +
    'peak RSS of the wirelab process vs its RSS at rest before the run',
  run: measureSuiteCost,
};

/** Peak RSS (MB) of this process while `work` runs, sampled every SAMPLE_MS. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ value: T; peakMb: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, SAMPLE_MS);
  try {
    const value = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, peakMb: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

type Shape = 'frames' | 'flows';

/** `scale` × 100 frames each way, as one flow each way ('frames') or as `scale` flows each way ('flows'). */
function flows(lab: Lab, shape: Shape, scale: number): FlowDefinition[] {
  const perDirection = shape === 'frames' ? 1 : scale;
  const count = shape === 'frames' ? scale * BASE_FRAMES : BASE_FRAMES;
  const defs: FlowDefinition[] = [];
  for (const [from, to] of [
    ['left', 'right'],
    ['right', 'left'],
  ] as [Side, Side][]) {
    for (let i = 0; i < perDirection; i++) {
      const template = udpTemplate(lab, from, to, { sport: 10_000 + i, dport: 20_000 + i });
      defs.push({ name: `${from}→${to} #${i + 1}`, from, to, template, count, ratePps: RATE_PPS / perDirection, size: 'imix' });
    }
  }
  return defs;
}

/** A suite test's traffic and evidence, minus the Allure calls (no vitest here). */
async function suiteStyleRun(lab: Lab, shape: Shape, scale: number, name: string): Promise<{ lost: number }> {
  const run = await runTraffic(lab, flows(lab, shape, scale), { name });
  flowTableHtml(run);
  latencyHistogramSvg(latencySeries(run.report));
  return { lost: run.report.flows.reduce((s, f) => s + f.lost, 0) };
}

/** The runs of one iteration: every scale as frames, and the scales above 1× as flows too. */
const RUNS: readonly { shape: Shape; scale: number }[] = [
  ...SCALES.map((scale) => ({ shape: 'frames' as const, scale })),
  ...SCALES.filter((s) => s > 1).map((scale) => ({ shape: 'flows' as const, scale })),
];

const label = (r: { shape: Shape; scale: number }) => (r.shape === 'frames' ? `${r.scale}× frames` : `${r.scale}× flows`);

async function measureSuiteCost(opts: BenchOptions): Promise<BenchmarkResult> {
  const lab = await startLab(loadProfile(PROFILE), { onProgress: (m) => opts.log(`suite-cost: ${m}`) });
  const keys = RUNS.map(label);
  const wall = new Map<string, number[]>(keys.map((k) => [k, []]));
  const rss = new Map<string, number[]>(keys.map((k) => [k, []]));
  const restRss = new Map<string, number[]>(keys.map((k) => [k, []]));
  const lost = new Map<string, number[]>(keys.map((k) => [k, []]));
  try {
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      const timed = i >= opts.warmup;
      for (const r of RUNS) {
        const key = label(r);
        global.gc?.();
        const rest = process.memoryUsage.rss() / 2 ** 20;
        const t0 = performance.now();
        const { value, peakMb } = await withPeakRss(() => suiteStyleRun(lab, r.shape, r.scale, `cost-${r.shape}-${r.scale}x-${i}`));
        const ms = performance.now() - t0;
        const what =
          r.shape === 'frames' ? `1 flow × ${r.scale * BASE_FRAMES} frames each way` : `${r.scale} flows × ${BASE_FRAMES} frames each way`;
        opts.log(
          `suite-cost: ${key} (${what})${timed ? '' : ' [warm-up]'}: ${(ms / 1000).toFixed(1)} s, peak RSS ${peakMb.toFixed(0)} MB (at rest ${rest.toFixed(0)} MB), lost ${value.lost}`,
        );
        if (!timed) continue;
        wall.get(key)!.push(ms);
        rss.get(key)!.push(peakMb);
        restRss.get(key)!.push(rest);
        lost.get(key)!.push(value.lost);
      }
    }
  } finally {
    await lab.down();
  }
  const metrics: MetricSamples[] = [];
  for (const r of RUNS) {
    const ideal = ((r.scale * BASE_FRAMES) / RATE_PPS) * 1000;
    metrics.push({
      metric: `${label(r)} traffic run wall time`,
      unit: 'ms',
      wirelab: wall.get(label(r))!,
      baseline: wall.get(label(r))!.map(() => ideal),
      floor: { kind: 'max', value: 2 * ideal + 15_000 },
    });
  }
  for (const r of RUNS) {
    metrics.push({
      metric: `${label(r)} peak RSS`,
      unit: 'MB',
      wirelab: rss.get(label(r))!,
      baseline: restRss.get(label(r))!,
      floor: { kind: 'max', value: RSS_FLOOR_MB },
    });
  }
  return {
    metrics,
    details: {
      baseFramesPerDirection: BASE_FRAMES,
      ratePpsPerDirection: RATE_PPS,
      scales: SCALES,
      shapes: { frames: 'one flow each way, scale × 100 frames', flows: 'scale flows each way, 100 frames each, same total rate' },
      frameSize: 'imix',
      lostPerRun: Object.fromEntries(lost),
    },
  };
}
