// The RFC 2544 suite on the real lab, through `wirelab run rfc2544` (short trials, two frame sizes,
// the throughput test only): the good reference bridge finds a clearly higher zero-loss throughput
// than the lossy variant (which loses ~5 % at every rate, so it should find about nothing — and its
// run fails saying so); the results reach the Allure report as tables, plots and JSON.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Rfc2544Config } from '../../lib/rfc2544.ts';
import type { SizeResults } from '../../lib/rfc2544-report.ts';
import { allureTests, bridgeProfile, wirelab } from './wirelab-cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-rfc2544-'));
/** Short and cheap: a 1 s trial, a low ceiling (the good bridge passes there at once), coarse resolution. */
const KNOBS = { WIRELAB_RFC2544_SIZES: '64,1518', WIRELAB_RFC2544_TRIAL_S: '1', WIRELAB_RFC2544_MAX_PPS: '400', WIRELAB_RFC2544_RESOLUTION: '0.1' };

async function throughputOf(reference: string) {
  const reportDir = path.join(dir, reference);
  const run = await wirelab(['run', 'rfc2544', '--profile', bridgeProfile(dir, reference), '--report-dir', reportDir, '--grep', 'throughput'], path.join(dir, `${reference}.json`), KNOBS);
  const tests = allureTests(path.join(reportDir, 'allure-results'));
  const test = tests.find((t) => /^throughput/.test(t.name));
  if (!test) throw new Error(`no throughput test in the report of ${reference}:\n${run.output.slice(-3000)}`);
  const json = test.attachments.find((a) => a.name === 'throughput results (JSON)');
  if (!json) throw new Error(`no results JSON attached for ${reference}: ${test.attachments.map((a) => a.name).join(', ')}`);
  const { config, results } = JSON.parse(readFileSync(json.file, 'utf8')) as { config: Rfc2544Config; results: SizeResults[] };
  return { run, test, config, results, bySize: new Map(results.map((r) => [r.wireSize, r.throughput!])) };
}

describe('RFC 2544 suite through wirelab run', () => {
  it('the good bridge passes with a throughput clearly above the lossy variant, which finds ~0 and fails naming the loss', async () => {
    const good = await throughputOf('l2-bridge');
    expect(good.config).toMatchObject({ sizes: [64, 1518], trialSeconds: 1, maxPps: 400, lossTolerance: 0 });
    expect(good.run.tests.find((t) => /throughput/.test(t.name))?.status, good.run.output.slice(-3000)).toBe('passed');
    expect(good.run.exitCode).toBe(0);
    for (const size of [64, 1518]) {
      const t = good.bySize.get(size)!;
      expect(t.throughputPps, `good bridge, ${size} B`).toBeGreaterThanOrEqual(200);
      // Offered and achieved are both recorded for every trial.
      for (const trial of t.trials) expect(trial.achievedPps).toBeGreaterThan(0);
    }
    // The report carries the tables, the plots and the results.
    const names = good.test.attachments.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['RFC 2544 throughput and latency', 'RFC 2544 trials (every trial, in order)', 'throughput by frame size', 'latency at the throughput rate']));
    const table = readFileSync(good.test.attachments.find((a) => a.name === 'RFC 2544 throughput and latency')!.file, 'utf8');
    expect(table).toMatch(/achieved \/ offered/);
    expect(readFileSync(good.test.attachments.find((a) => a.name === 'throughput by frame size')!.file, 'utf8')).toMatch(/<polyline /);

    const lossy = await throughputOf('l2-bridge-lossy');
    expect(lossy.run.exitCode).toBe(1);
    const failed = lossy.run.tests.find((t) => /throughput/.test(t.name))!;
    expect(failed.status).toBe('failed');
    expect(failed.message).toMatch(/no offered rate met zero loss .* lost \d+ of \d+ frames/);
    for (const size of [64, 1518]) {
      const g = good.bySize.get(size)!.throughputPps;
      const l = lossy.bySize.get(size)!.throughputPps;
      expect(l, `lossy ${size} B: ${l} pps vs good ${g} pps`).toBeLessThanOrEqual(g / 4);
      expect(lossy.bySize.get(size)!.trials.filter((t) => !t.passed).every((t) => t.lost > 0)).toBe(true);
    }
  });
});
