// RFC 2544-style performance measurements of the profile's guest: throughput (the highest offered
// rate without loss), latency at that rate, frame loss rate over offered load, and back-to-back burst
// length — for each frame size, with UDP both ways at once. Runs only when asked for
// (`wirelab run rfc2544 --profile …`): it is in no role's default list.
//
// Knobs (environment, each WIRELAB_RFC2544_<NAME>; see docs/scale.md): TRIAL_S (seconds per trial,
// default 1 — the RFC says 60, and 120 for latency), MIN_FRAMES (fewest frames per direction in a
// trial, default 100: a low rate runs longer), MAX_PPS (ceiling on the offered rate, frames/s
// per direction), LOSS_TOLERANCE (0 = the RFC's zero loss), SIZES, RESOLUTION, MAX_TRIALS, LOSS_STEP,
// LOSS_STEPS, MAX_BURST, BURST_REPEATS (the RFC says 50), MIN_THROUGHPUT_PPS, MIN_BURST.
//
// What fails: no offered rate meets the loss criterion (or the throughput is below MIN_THROUGHPUT_PPS);
// the lowest rate of the loss sweep still loses frames; no burst of MIN_BURST frames (default 1)
// arrives whole. Every rate is shown offered next to achieved, so a slow generator is never read as
// a slow guest.
import * as allure from 'allure-js-commons';
import {
  frameLossSweep,
  rfc2544ConfigFromEnv,
  searchBackToBack,
  searchThroughput,
  type Rfc2544Config,
  type TrialResult,
} from '../lib/rfc2544/search.ts';
import {
  backToBackChartSvg,
  backToBackTable,
  frameLossChartSvg,
  frameLossTable,
  latencyChartSvg,
  tableHtml,
  tableMarkdown,
  throughputChartSvg,
  throughputTable,
  trialsTable,
  type SizeResults,
  type Table,
} from '../lib/rfc2544/report.ts';
import { burstTrial, rateTrial, type TrialContext } from '../lib/rfc2544/trials.ts';
import type { Lab } from '../lib/lab/lab.ts';
import { describe, expect, test } from '../fixtures/lab.ts';
import { recordThroughput } from '../fixtures/headline.ts';
import { reportProgress } from '../fixtures/progress.ts';

const config: Rfc2544Config = rfc2544ConfigFromEnv(process.env);
const minBurst = Number(process.env.WIRELAB_RFC2544_MIN_BURST ?? 1);
const criterion = config.lossTolerance === 0 ? 'zero loss' : `loss at most ${(config.lossTolerance * 100).toFixed(3)} %`;

/** Generous per-test bounds: every trial bounded by its own timeouts, a few seconds of set-up each. */
/** A low-rate trial runs until it has sent minFrames; the searches go down to about half the resolution. */
const longestTrialS = Math.max(config.trialSeconds, config.minFrames / Math.max(1, (config.resolution * config.maxPps) / 2));
const perTrialMs = (longestTrialS * 3 + 20) * 1000;
const THROUGHPUT_TIMEOUT = config.sizes.length * (config.maxTrials + 2) * perTrialMs;
const LOSS_TIMEOUT = config.sizes.length * (config.lossSteps + 1) * perTrialMs;
const BURST_TIMEOUT = config.sizes.length * config.burstRepeats * (config.maxTrials + 1) * 30_000;

function context(lab: Lab, wireSize: number, label: string): TrialContext {
  return {
    lab,
    wireSize,
    label,
    onTrial: (what: string, r: TrialResult) =>
      reportProgress(
        lab,
        'traffic',
        `rfc2544 ${what}: achieved ${Math.round(r.achievedPps)} pps, sent ${r.sent}, lost ${r.lost}${r.latencyUs ? `, p99 ${Math.round(r.latencyUs.p99)} µs` : ''}`,
      ),
  };
}

async function attachResults(what: string, results: SizeResults[], tables: Table[], charts: [string, string][]): Promise<void> {
  for (const table of tables) {
    console.error(tableMarkdown(table));
    await allure.attachment(table.title, tableHtml(table), { contentType: 'text/html', fileExtension: 'html' });
  }
  for (const [name, svg] of charts) await allure.attachment(name, svg, { contentType: 'image/svg+xml', fileExtension: 'svg' });
  await allure.attachment(`${what} results (JSON)`, JSON.stringify({ config, results }, null, 2), {
    contentType: 'application/json',
    fileExtension: 'json',
  });
}

function describeConfig(): void {
  allure.parameter('frame sizes (wire bytes)', config.sizes.join(', '));
  allure.parameter('trial length (s)', String(config.trialSeconds));
  allure.parameter('offered-rate ceiling (frames/s per direction)', String(config.maxPps));
  allure.parameter('loss criterion', criterion);
}

describe('rfc2544', () => {
  test(
    `throughput (highest rate without loss) and latency at it, per frame size`,
    async ({ lab }) => {
      describeConfig();
      const results: SizeResults[] = [];
      for (const wireSize of config.sizes) {
        const ctx = context(lab, wireSize, 'throughput');
        const throughput = await allure.step(`throughput, ${wireSize}-byte frames`, () =>
          searchThroughput(rateTrial(ctx, config.trialSeconds, config.minFrames), config),
        );
        const entry: SizeResults = { wireSize, throughput };
        if (throughput.throughputPps > 0) {
          // RFC 2544 §26.2: latency in a trial of its own at the throughput rate.
          const latency = await allure.step(`latency at ${throughput.throughputPps} pps, ${wireSize}-byte frames`, () =>
            rateTrial({ ...ctx, label: 'latency' }, config.trialSeconds, config.minFrames)(throughput.throughputPps),
          );
          entry.latency = {
            ...latency,
            passed: latency.lost === 0,
            lossRatio: latency.sent > 0 ? latency.lost / latency.sent : 0,
            generatorShort: latency.achievedPps < latency.offeredPps * 0.9,
          };
        }
        results.push(entry);
      }
      await attachResults(
        'throughput',
        results,
        [throughputTable(results, criterion), trialsTable(results)],
        [
          ['throughput by frame size', throughputChartSvg(results)],
          ['latency at the throughput rate', latencyChartSvg(results)],
        ],
      );

      recordThroughput(results.map((r) => ({ frameSize: r.wireSize, pps: r.throughput!.throughputPps })));
      const floor = config.minThroughputPps;
      for (const r of results) {
        const t = r.throughput!;
        const lowest = Math.min(...t.trials.map((x) => x.offeredPps));
        const lowestTrial = t.trials.find((x) => x.offeredPps === lowest)!;
        expect(
          t.throughputPps,
          `${r.wireSize}-byte frames: no offered rate met ${criterion} — the lowest tried, ${lowest} pps per direction, lost ${lowestTrial.lost} of ${lowestTrial.sent} frames (generator achieved ${Math.round(lowestTrial.achievedPps)} pps)`,
        ).toBeGreaterThan(0);
        if (floor !== undefined) {
          expect(
            t.throughputPps,
            `${r.wireSize}-byte frames: throughput ${t.throughputPps} pps per direction is below WIRELAB_RFC2544_MIN_THROUGHPUT_PPS=${floor}`,
          ).toBeGreaterThanOrEqual(floor);
        }
      }
    },
    THROUGHPUT_TIMEOUT,
  );

  test(
    'frame loss rate over offered load, per frame size',
    async ({ lab }) => {
      describeConfig();
      const results: SizeResults[] = [];
      for (const wireSize of config.sizes) {
        const ctx = context(lab, wireSize, 'loss');
        const frameLoss = await allure.step(`frame loss sweep, ${wireSize}-byte frames`, () =>
          frameLossSweep(rateTrial(ctx, config.trialSeconds, config.minFrames), {
            maxPps: config.maxPps,
            stepFraction: config.lossStep,
            stopAfterLossless: 2,
            maxTrials: config.lossSteps,
          }),
        );
        results.push({ wireSize, frameLoss });
      }
      await attachResults(
        'frame loss',
        results,
        [frameLossTable(results), trialsTable(results)],
        [['frame loss rate over offered load', frameLossChartSvg(results)]],
      );

      for (const r of results) {
        const last = r.frameLoss![r.frameLoss!.length - 1]!;
        expect(
          last.lossRatio,
          `${r.wireSize}-byte frames: even at the lowest offered rate of the sweep, ${last.offeredPps} pps per direction (achieved ${Math.round(last.achievedPps)}), ${last.lost} of ${last.sent} frames were lost`,
        ).toBeLessThanOrEqual(config.lossTolerance);
      }
    },
    LOSS_TIMEOUT,
  );

  test(
    'back-to-back: the longest burst at top speed that arrives whole, per frame size',
    async ({ lab }) => {
      describeConfig();
      allure.parameter('longest burst tried (frames)', String(config.maxBurst));
      const results: SizeResults[] = [];
      for (const wireSize of config.sizes) {
        const backToBack = await allure.step(`back-to-back, ${wireSize}-byte frames`, () =>
          searchBackToBack(burstTrial(context(lab, wireSize, 'burst')), {
            maxFrames: config.maxBurst,
            resolution: config.resolution,
            maxTrials: config.maxTrials,
            repeats: config.burstRepeats,
            lossTolerance: config.lossTolerance,
          }),
        );
        results.push({ wireSize, backToBack });
      }
      await attachResults(
        'back-to-back',
        results,
        [backToBackTable(results), trialsTable(results)],
        [['back-to-back frames by frame size', backToBackChartSvg(results)]],
      );

      for (const r of results) {
        expect(
          r.backToBack!.frames,
          `${r.wireSize}-byte frames: no burst of ${minBurst} frame(s) at top speed arrived whole (per repeat: ${r.backToBack!.perRepeat.join(', ')})`,
        ).toBeGreaterThanOrEqual(minBurst);
      }
    },
    BURST_TIMEOUT,
  );
});
