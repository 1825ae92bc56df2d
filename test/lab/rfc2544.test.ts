// The RFC 2544 suite on the real lab, through `wirelab run rfc2544` (short trials, low ceilings):
// the good reference bridge passes all three measurements, with a zero-loss throughput clearly above
// the lossy variant's (which loses ~5 % at every rate, so it finds about nothing); the lossy run fails
// each measurement naming the loss. The results reach the Allure report as tables, plots and JSON.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Rfc2544Config } from '../../lib/rfc2544/search.ts';
import type { SizeResults } from '../../lib/rfc2544/report.ts';
import { allureTests, bridgeProfile, wirelab } from './wirelab-cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-rfc2544-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/**
 * Short and cheap: 1 s trials, low ceilings (the good bridge passes at once), coarse resolution, a
 * three-step loss sweep. A burst of 100 frames each way must arrive whole (the good bridge buffers
 * 200; the lossy one loses a frame in almost every burst of that size).
 */
const KNOBS = {
  WIRELAB_RFC2544_TRIAL_S: '1',
  WIRELAB_RFC2544_MAX_PPS: '400',
  WIRELAB_RFC2544_RESOLUTION: '0.1',
  WIRELAB_RFC2544_LOSS_STEPS: '3',
  WIRELAB_RFC2544_MAX_BURST: '200',
  WIRELAB_RFC2544_MIN_BURST: '100',
};

async function rfc2544(reference: string, sizes: string) {
  const reportDir = path.join(dir, reference);
  const run = await wirelab(
    ['run', 'rfc2544', '--profile', bridgeProfile(dir, reference), '--report-dir', reportDir],
    path.join(dir, `${reference}.json`),
    { ...KNOBS, WIRELAB_RFC2544_SIZES: sizes },
  );
  const tests = allureTests(path.join(reportDir, 'allure-results'));
  const test = tests.find((t) => /^throughput/.test(t.name));
  if (!test) throw new Error(`no throughput test in the report of ${reference}:\n${run.output.slice(-3000)}`);
  const json = test.attachments.find((a) => a.name === 'throughput results (JSON)');
  if (!json) throw new Error(`no results JSON attached for ${reference}: ${test.attachments.map((a) => a.name).join(', ')}`);
  const { config, results } = JSON.parse(readFileSync(json.file, 'utf8')) as { config: Rfc2544Config; results: SizeResults[] };
  const outcome = (name: RegExp) => {
    const t = run.tests.find((x) => name.test(x.name));
    if (!t) throw new Error(`no test matching ${name} ran for ${reference}:\n${run.output.slice(-3000)}`);
    return t;
  };
  return { run, test, config, outcome, bySize: new Map(results.map((r) => [r.wireSize, r.throughput!])) };
}

describe('RFC 2544 suite through wirelab run', () => {
  it('the good bridge passes, with a throughput clearly above the lossy variant, which finds ~0 and fails every measurement naming the loss', async () => {
    const good = await rfc2544('l2-bridge', '64,1518');
    expect(good.config).toMatchObject({ sizes: [64, 1518], trialSeconds: 1, maxPps: 400, lossTolerance: 0 });
    expect(
      good.run.tests.filter((t) => t.status !== 'passed'),
      good.run.output.slice(-3000),
    ).toEqual([]);
    expect(good.run.tests).toHaveLength(3);
    expect(good.run.exitCode).toBe(0);
    for (const size of [64, 1518]) {
      const t = good.bySize.get(size)!;
      expect(t.throughputPps, `good bridge, ${size} B`).toBeGreaterThanOrEqual(100);
      // Offered and achieved are both recorded for every trial.
      for (const trial of t.trials) expect(trial.achievedPps).toBeGreaterThan(0);
    }
    // The report carries the tables, the plots and the results.
    const names = good.test.attachments.map((a) => a.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'RFC 2544 throughput and latency',
        'RFC 2544 trials (every trial, in order)',
        'throughput by frame size',
        'latency at the throughput rate',
      ]),
    );
    const table = readFileSync(good.test.attachments.find((a) => a.name === 'RFC 2544 throughput and latency')!.file, 'utf8');
    expect(table).toMatch(/achieved \/ offered/);
    expect(readFileSync(good.test.attachments.find((a) => a.name === 'throughput by frame size')!.file, 'utf8')).toMatch(/<polyline /);

    const lossy = await rfc2544('l2-bridge-lossy', '64');
    expect(lossy.run.exitCode).toBe(1);
    expect(lossy.outcome(/throughput/)).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/no offered rate met zero loss .* lost \d+ of \d+ frames/),
    });
    expect(lossy.outcome(/frame loss rate/)).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/even at the lowest offered rate of the sweep, \d+ pps .* \d+ of \d+ frames were lost/),
    });
    expect(lossy.outcome(/back-to-back/)).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/no burst of 100 frame\(s\) at top speed arrived whole/),
    });
    const g = good.bySize.get(64)!.throughputPps;
    const l = lossy.bySize.get(64)!.throughputPps;
    expect(l, `lossy: ${l} pps vs good ${g} pps`).toBeLessThanOrEqual(g / 4);
    expect(
      lossy.bySize
        .get(64)!
        .trials.filter((t) => !t.passed)
        .every((t) => t.lost > 0),
    ).toBe(true);
  });
});
