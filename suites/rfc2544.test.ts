// RFC 2544-style performance measurements of the profile's guest: throughput as NDR (no loss) and PDR
// (loss within a declared ratio) from one search with confirm trials, latency at the NDR, frame loss
// rate over offered load, and back-to-back burst length — for each frame size, with UDP both ways at
// once. Runs only when asked for (`wirelab run rfc2544 --profile …`): it is in no role's default list.
//
// The search ceiling is what this lab can offer: measured once per frame size as the generator's top
// speed through the lab's own path (unless the profile's `rfc2544.maxPps` sets it). The settings are
// the profile's `rfc2544` section, `wirelab run` flags, or WIRELAB_RFC2544_<NAME> overrides
// (lib/rfc2544/config.ts; docs/scale.md).
//
// What fails: a frame size with no loss-free rate (NDR 0), or an NDR below `minNdrPps`; the lowest
// rate of the loss sweep still loses frames; no burst of `minBurst` frames arrives whole. Every rate
// is shown offered next to achieved, so a slow generator is never read as a slow guest.
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { DEFAULT_PROFILE } from '../lib/core/paths.ts';
import { loadProfile } from '../lib/profile/load.ts';
import { rfc2544Config, type Rfc2544Config } from '../lib/rfc2544/config.ts';
import { frameLossSweep, searchBackToBack, searchNdrPdr, type LabCeiling, type TrialResult } from '../lib/rfc2544/search.ts';
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
import { burstTrial, measureCeiling, rateTrial, type TrialContext } from '../lib/rfc2544/trials.ts';
import type { Lab } from '../lib/lab/lab.ts';
import { describe, expect, test } from '../fixtures/lab.ts';
import { recordThroughput } from '../fixtures/headline.ts';
import { reportProgress } from '../fixtures/progress.ts';

const profile = loadProfile(path.resolve(process.env.WIRELAB_PROFILE ?? DEFAULT_PROFILE));
const config: Rfc2544Config = rfc2544Config(profile.rfc2544, process.env);
const pdrText = `${+(config.pdrLossRatio * 100).toFixed(4)} %`;

/**
 * Generous per-test bounds (every trial is bounded by its own timeouts): a low-rate trial runs until it
 * has sent minFrames; a trial may wait up to a minute for a quiet machine; a short generator stretches it.
 */
const longestTrialS = Math.max(config.trialSeconds, config.minFrames / config.minPps);
const perTrialMs = (longestTrialS * 4 + 90) * 1000;
const CEILING_MS = 120_000;
const THROUGHPUT_TIMEOUT = config.sizes.length * ((config.maxTrials + 2) * perTrialMs + CEILING_MS);
const LOSS_TIMEOUT = config.sizes.length * ((config.lossSteps + 1) * perTrialMs + CEILING_MS);
const BURST_TIMEOUT = config.sizes.length * (config.burstRepeats * (config.maxTrials + 1) * 90_000 + CEILING_MS);

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

/** The profile's ceiling, or the lab's measured one for this frame size (measured once, shared by the tests). */
async function ceilingFor(lab: Lab, wireSize: number): Promise<LabCeiling> {
  if (config.maxPps !== undefined) return { wireSize, pps: config.maxPps, source: 'profile' };
  return allure.step(`ceiling, ${wireSize}-byte frames (top-speed burst of ${config.ceilingFrames})`, () =>
    measureCeiling(context(lab, wireSize, 'ceiling'), config.ceilingFrames),
  );
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
  allure.parameter(
    'offered-rate ceiling (frames/s per direction)',
    config.maxPps === undefined ? 'measured on the lab per frame size' : `${config.maxPps} (profile)`,
  );
  allure.parameter('PDR loss ratio', pdrText);
  allure.parameter('confirm trials at each final rate', String(config.confirmTrials));
}

describe('rfc2544', () => {
  test(
    `throughput (NDR and PDR, confirmed) and latency at the NDR, per frame size`,
    async ({ lab }) => {
      describeConfig();
      const results: SizeResults[] = [];
      for (const wireSize of config.sizes) {
        const ceiling = await ceilingFor(lab, wireSize);
        const ctx = context(lab, wireSize, 'throughput');
        const throughput = await allure.step(`NDR and PDR, ${wireSize}-byte frames, ceiling ${ceiling.pps} pps`, () =>
          searchNdrPdr(rateTrial(ctx, config.trialSeconds, config.minFrames), { ...config, ceilingPps: ceiling.pps }),
        );
        const entry: SizeResults = { wireSize, ceiling, throughput };
        const ndr = throughput.ndr.ratePps;
        if (ndr > 0) {
          // RFC 2544 §26.2: latency in a trial of its own at the throughput rate.
          const latency = await allure.step(`latency at ${ndr} pps, ${wireSize}-byte frames`, () =>
            rateTrial({ ...ctx, label: 'latency' }, config.trialSeconds, config.minFrames)(ndr),
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
        [throughputTable(results), trialsTable(results)],
        [
          ['NDR and PDR by frame size', throughputChartSvg(results)],
          ['latency at the NDR', latencyChartSvg(results)],
        ],
      );

      recordThroughput(results.map((r) => ({ frameSize: r.wireSize, pps: r.throughput!.ndr.ratePps })));
      for (const r of results) {
        const t = r.throughput!;
        // The lowest rate that lost frames: where the search gave up.
        const failing = t.trials.filter((x) => !x.passed);
        const lowest = failing.reduce((a, b) => (b.offeredPps < a.offeredPps ? b : a), failing[0] ?? t.trials[0]!);
        const unconfirmed =
          t.ndr.unconfirmed.length > 0
            ? ` — ${t.ndr.unconfirmed.join(', ')} pps passed once but lost frames when repeated` +
              `${t.budgetExhausted ? ', and the trial budget (maxTrials) ran out below it' : ''}`
            : '';
        expect(
          t.ndr.ratePps,
          `${r.wireSize}-byte frames: no rate without loss (NDR 0) — the lowest rate that lost frames, ${lowest.offeredPps} pps per ` +
            `direction (achieved ${Math.round(lowest.achievedPps)}), lost ${lowest.lost} of ${lowest.sent}${unconfirmed}: the image ` +
            `drops frames at this load and below (PDR at ≤ ${pdrText} loss: ${t.pdr.ratePps} pps)`,
        ).toBeGreaterThan(0);
        if (config.minNdrPps !== undefined) {
          expect(
            t.ndr.ratePps,
            `${r.wireSize}-byte frames: NDR ${t.ndr.ratePps} pps per direction is below rfc2544.minNdrPps ${config.minNdrPps} ` +
              `(limited by ${t.ndr.limitedBy}; ceiling ${t.ceilingPps} pps)`,
          ).toBeGreaterThanOrEqual(config.minNdrPps);
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
        const ceiling = await ceilingFor(lab, wireSize);
        const ctx = context(lab, wireSize, 'loss');
        const frameLoss = await allure.step(`frame loss sweep, ${wireSize}-byte frames, from ${ceiling.pps} pps`, () =>
          frameLossSweep(rateTrial(ctx, config.trialSeconds, config.minFrames), {
            maxPps: ceiling.pps,
            stepFraction: config.lossStep,
            stopAfterLossless: 2,
            maxTrials: config.lossSteps,
            minPps: config.minPps,
          }),
        );
        results.push({ wireSize, ceiling, frameLoss });
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
          last.lost,
          `${r.wireSize}-byte frames: even at the lowest offered rate of the sweep, ${last.offeredPps} pps per direction (achieved ${Math.round(last.achievedPps)}), ${last.lost} of ${last.sent} frames were lost`,
        ).toBe(0);
      }
    },
    LOSS_TIMEOUT,
  );

  test(
    'back-to-back: the longest burst at top speed that arrives whole, per frame size',
    async ({ lab }) => {
      describeConfig();
      const maxFrames = config.maxBurst ?? config.ceilingFrames;
      allure.parameter('longest burst tried (frames)', String(maxFrames));
      const results: SizeResults[] = [];
      for (const wireSize of config.sizes) {
        const backToBack = await allure.step(`back-to-back, ${wireSize}-byte frames`, () =>
          searchBackToBack(burstTrial(context(lab, wireSize, 'burst')), {
            maxFrames,
            resolution: config.resolution,
            maxTrials: config.maxTrials,
            repeats: config.burstRepeats,
            lossTolerance: 0,
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
          `${r.wireSize}-byte frames: no burst of ${config.minBurst} frame(s) at top speed arrived whole (per repeat: ${r.backToBack!.perRepeat.join(', ')})`,
        ).toBeGreaterThanOrEqual(config.minBurst);
      }
    },
    BURST_TIMEOUT,
  );
});
