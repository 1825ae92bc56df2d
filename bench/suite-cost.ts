// Benchmark: what a suite's traffic run costs wirelab as the frames grow 1×, 10×, 100×. One nested
// lab (the default profile) stays up; each run does what a suite test does with its traffic —
// runTraffic (captures on four points, injection from both hosts, frame-by-frame analysis) and the
// evidence (flow table, per-frame latency samples, histogram) — for a synthetic UDP flow each way.
//
// Metrics per scale: wall time of the run, and peak RSS of the wirelab process during it (sampled
// every 25 ms; the captures and injections run elsewhere, in the lab's namespace and containers).
// Baselines, for scale: the time the frames themselves take at the offered rate (frames / rate: what
// no instrument can beat), and the process's RSS at rest just before the run.
// Floors: wall time ≤ 2 × the frames' own time + 15 s; peak RSS ≤ 400 MB at every scale.
import { fileURLToPath } from 'node:url';
import type { CapturedFrame } from '../lib/flow-report.ts';
import type { Lab, Side } from '../lib/lab/lab.ts';
import { startLab } from '../lib/lab/start.ts';
import { readPcap } from '../lib/pcap.ts';
import { loadProfile } from '../lib/profile/load.ts';
import { flowTableHtml, latencyHistogramSvg, latencySamples } from '../lib/report-visuals.ts';
import { udpTemplate } from '../lib/templates.ts';
import { runTraffic, type FlowDefinition } from '../lib/traffic.ts';
import type { Benchmark, BenchmarkResult, BenchOptions, MetricSamples } from './benchmark.ts';

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
    `one suite-style traffic run (runTraffic + flow table + latency histogram) with ${SCALES.map((s) => `${s * BASE_FRAMES}`).join(' / ')} frames each way at ${RATE_PPS} pps on the nested lab: ` +
    'wall time vs the frames\' own time at that rate (count / rate), peak RSS of the wirelab process vs its RSS at rest before the run',
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

function flows(lab: Lab, count: number): FlowDefinition[] {
  const one = (from: Side, to: Side): FlowDefinition => ({ name: `${from}→${to}`, from, to, template: udpTemplate(lab, from, to), count, ratePps: RATE_PPS, size: 'imix' });
  return [one('left', 'right'), one('right', 'left')];
}

/** A suite test's traffic and evidence, minus the Allure calls (no vitest here). */
async function suiteStyleRun(lab: Lab, count: number, name: string): Promise<{ lost: number }> {
  const run = await runTraffic(lab, flows(lab, count), { name });
  flowTableHtml(run);
  const frames = (file: string): AsyncIterable<CapturedFrame> => readPcap(file);
  const series = await latencySamples(run.report.flows, { 'guest-left': frames(run.pcaps['guest-left']), 'guest-right': frames(run.pcaps['guest-right']) });
  latencyHistogramSvg(series);
  return { lost: run.report.flows.reduce((s, f) => s + f.lost, 0) };
}

async function measureSuiteCost(opts: BenchOptions): Promise<BenchmarkResult> {
  const lab = await startLab(loadProfile(PROFILE), { onProgress: (m) => opts.log(`suite-cost: ${m}`) });
  const wall = new Map<number, number[]>(SCALES.map((s) => [s, []]));
  const rss = new Map<number, number[]>(SCALES.map((s) => [s, []]));
  const restRss = new Map<number, number[]>(SCALES.map((s) => [s, []]));
  const lost = new Map<number, number[]>(SCALES.map((s) => [s, []]));
  try {
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      const timed = i >= opts.warmup;
      for (const scale of SCALES) {
        const count = scale * BASE_FRAMES;
        global.gc?.();
        const rest = process.memoryUsage.rss() / 2 ** 20;
        const t0 = performance.now();
        const { value, peakMb } = await withPeakRss(() => suiteStyleRun(lab, count, `cost-${scale}x-${i}`));
        const ms = performance.now() - t0;
        opts.log(`suite-cost: ${scale}× (${count} frames each way)${timed ? '' : ' [warm-up]'}: ${(ms / 1000).toFixed(1)} s, peak RSS ${peakMb.toFixed(0)} MB (at rest ${rest.toFixed(0)} MB), lost ${value.lost}`);
        if (!timed) continue;
        wall.get(scale)!.push(ms);
        rss.get(scale)!.push(peakMb);
        restRss.get(scale)!.push(rest);
        lost.get(scale)!.push(value.lost);
      }
    }
  } finally {
    await lab.down();
  }
  const metrics: MetricSamples[] = [];
  for (const scale of SCALES) {
    const ideal = ((scale * BASE_FRAMES) / RATE_PPS) * 1000;
    metrics.push({ metric: `${scale}× traffic run wall time`, unit: 'ms', wirelab: wall.get(scale)!, baseline: wall.get(scale)!.map(() => ideal), floor: { kind: 'max', value: 2 * ideal + 15_000 } });
  }
  for (const scale of SCALES) {
    metrics.push({ metric: `${scale}× peak RSS`, unit: 'MB', wirelab: rss.get(scale)!, baseline: restRss.get(scale)!, floor: { kind: 'max', value: RSS_FLOOR_MB } });
  }
  return { metrics, details: { baseFramesPerDirection: BASE_FRAMES, ratePps: RATE_PPS, scales: SCALES, frameSize: 'imix', lostPerRun: Object.fromEntries(lost) } };
}
