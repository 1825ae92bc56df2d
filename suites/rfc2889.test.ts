// RFC 2889 measurements of an l2-bridge image that learns MACs: address caching capacity (how many
// stations it holds before it floods), address learning rate, and broadcast forwarding rate — each
// with a result table in the report. Runs only when named: `wirelab run rfc2889`.
//
// With two ports, learning shows as filtering: a test frame from the left to a station the bridge
// learned on its left port must not come out on the right (lib/rfc2889/trials.ts). An image that
// learns nothing lets every such frame through: it is reported as flooding, and the capacity and
// learning-rate tests fail naming it. Trial length, confirmations, the PDR ratio and the search's
// resolution come from the profile's rfc2544 section (and its flags); the ceiling is the lab's, for
// 64-byte frames, as the RFC 2544 suite measures it.
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { DEFAULT_PROFILE } from '../lib/core/paths.ts';
import type { Lab } from '../lib/lab/lab.ts';
import { loadProfile } from '../lib/profile/load.ts';
import { rfc2544Config } from '../lib/rfc2544/config.ts';
import { tableHtml, tableMarkdown, trialsTable, type Table } from '../lib/rfc2544/report.ts';
import { searchBackToBack, searchNdrPdr, type TrialResult } from '../lib/rfc2544/search.ts';
import { measureCeiling } from '../lib/rfc2544/trials.ts';
import { broadcastTable, capacityTable, floods, learningRateTable, type Rfc2889Results } from '../lib/rfc2889/report.ts';
import { broadcastTrial, capacityTrial, learningRateTrial, type Rfc2889Context } from '../lib/rfc2889/trials.ts';
import { describe, expect, test } from '../fixtures/lab.ts';

const profile = loadProfile(path.resolve(process.env.WIRELAB_PROFILE ?? DEFAULT_PROFILE));
const config = rfc2544Config(profile.rfc2544, process.env);

/** A profile setting of the rfc2889 section, or its WIRELAB_RFC2889_<NAME> override (a whole number above 0). */
function setting(name: keyof typeof profile.rfc2889, variable: string): number {
  const raw = process.env[`WIRELAB_RFC2889_${variable}`];
  if (raw === undefined || raw === '') return profile.rfc2889[name];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`WIRELAB_RFC2889_${variable} is ${JSON.stringify(raw)}; use a whole number above 0.`);
  return n;
}

/** Most stations tried (RFC 2889 starts from the device's claimed table size; Linux bridges have no fixed one). */
const MAX_STATIONS = setting('maxStations', 'MAX_STATIONS');
/** Learning frames per second while the capacity is searched: low, so the rate never limits it. */
const CAPACITY_RATE_PPS = setting('capacityRatePps', 'CAPACITY_RATE_PPS');
/** Stations per learning-rate trial. */
const LEARNING_STATIONS = setting('learningStations', 'LEARNING_STATIONS');
const TIMEOUT = 900_000;

const results: Rfc2889Results = { capacityRatePps: CAPACITY_RATE_PPS };

function context(lab: Lab): Rfc2889Context {
  return {
    lab,
    onTrial: (what: string, r: TrialResult) =>
      console.error(`rfc2889: ${what}: achieved ${Math.round(r.achievedPps)} pps, ${r.sent} sent, ${r.lost} lost or flooded`),
  };
}

async function ceiling(lab: Lab): Promise<number> {
  if (config.maxPps !== undefined) return config.maxPps;
  return (await measureCeiling({ lab, wireSize: 64, label: 'ceiling' }, config.ceilingFrames)).pps;
}

async function attach(table: Table, json: unknown): Promise<void> {
  console.error(tableMarkdown(table));
  await allure.attachment(table.title, tableHtml(table), { contentType: 'text/html', fileExtension: 'html' });
  await allure.attachment(`${table.title} (JSON)`, JSON.stringify(json, null, 2), {
    contentType: 'application/json',
    fileExtension: 'json',
  });
}

describe('rfc2889', () => {
  test(
    'address caching capacity: the most stations held without flooding',
    async ({ lab }) => {
      allure.parameter('most stations tried', String(MAX_STATIONS));
      allure.parameter('learning rate (frames/s)', String(CAPACITY_RATE_PPS));
      results.capacity = await searchBackToBack(capacityTrial(context(lab), CAPACITY_RATE_PPS), {
        maxFrames: MAX_STATIONS,
        resolution: config.resolution,
        maxTrials: Math.min(config.maxTrials, 8),
        repeats: 1,
        lossTolerance: 0,
      });
      await attach(capacityTable(results), results.capacity);
      const c = results.capacity;
      const top = c.trials[0]!;
      expect(
        floods(c),
        `the bridge floods: all ${top.sent} test frames to the ${top.sent} stations it had just seen on its left port went out ` +
          `of its right port (and so in every trial, down to ${Math.min(...c.trials.map((t) => t.frames))} stations) — it learns ` +
          'no MACs, as a hub or a bridge with ageing time 0',
      ).toBe(false);
      expect(
        c.frames,
        `no station was held: even ${Math.min(...c.trials.map((t) => t.frames))} stations' test frames flooded`,
      ).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  test(
    'address learning rate: the fastest learning without flooding',
    async ({ lab }) => {
      const stations = Math.max(1, Math.min(LEARNING_STATIONS, results.capacity?.frames || LEARNING_STATIONS));
      results.learningAddresses = stations;
      allure.parameter('stations per trial', String(stations));
      results.learningRate = await searchNdrPdr(learningRateTrial(context(lab), stations), {
        ...config,
        ceilingPps: await ceiling(lab),
      });
      await attach(learningRateTable(results), results.learningRate);
      await allure.attachment('RFC 2889 learning trials', tableHtml(trialsTable([{ wireSize: 64, throughput: results.learningRate }])), {
        contentType: 'text/html',
        fileExtension: 'html',
      });
      const t = results.learningRate;
      const lowest = t.trials.reduce((a, b) => (b.offeredPps < a.offeredPps ? b : a));
      expect(
        t.ndr.ratePps,
        `no learning rate without flooding: even at ${lowest.offeredPps} frames/s, ${lowest.lost} of ${lowest.sent} test frames to ` +
          `just-learned stations went through${floods(results.capacity) ? ' — the bridge floods (learns no MACs)' : ''}`,
      ).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  test(
    'broadcast forwarding rate',
    async ({ lab }) => {
      results.broadcast = await searchNdrPdr(broadcastTrial(context(lab), config.trialSeconds, config.minFrames), {
        ...config,
        ceilingPps: await ceiling(lab),
      });
      await attach(broadcastTable(results), results.broadcast);
      const t = results.broadcast;
      const lowest = t.trials.reduce((a, b) => (b.offeredPps < a.offeredPps ? b : a));
      expect(
        t.ndr.ratePps,
        `no broadcast rate without loss: even at ${lowest.offeredPps} frames/s per direction, ${lowest.lost} of ${lowest.sent} ` +
          'broadcast frames were lost',
      ).toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});
