// The RFC 2544 suite on the real lab, through `wirelab run rfc2544` (short trials, one frame size, the
// ceiling measured on the lab): the good reference bridge's NDR is found below the measured ceiling
// and confirmed; the lossy variant (~5 % random loss at every rate) gets NDR 0 — failing the
// throughput test, naming the loss — while its PDR at a 10 % ratio is reported. The results reach the
// Allure report as tables, plots and JSON.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Rfc2544Config } from '../../lib/rfc2544/config.ts';
import type { SizeResults } from '../../lib/rfc2544/report.ts';
import { allureTests, bridgeProfile, wirelab } from './wirelab-cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-rfc2544-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Short and cheap: one size, 0.5 s trials, coarse resolution, a floor the lossy search reaches quickly. */
const FLAGS = [
  ...['--sizes', '64', '--trial-seconds', '0.5', '--ceiling-frames', '5000'],
  ...['--resolution', '0.15', '--max-trials', '16', '--min-pps', '300'],
];
/** Two runs of a boot and about ten trials each; a trial may wait for a quiet machine. */
const TIMEOUT_MS = 600_000;

async function throughput(reference: string, extra: string[]) {
  const reportDir = path.join(dir, reference);
  const run = await wirelab(
    ['run', 'rfc2544', '--grep', 'throughput', '--profile', bridgeProfile(dir, reference), '--report-dir', reportDir, ...FLAGS, ...extra],
    path.join(dir, `${reference}.json`),
  );
  const tests = allureTests(path.join(reportDir, 'allure-results'));
  const test = tests.find((t) => /^throughput/.test(t.name));
  if (!test) throw new Error(`no throughput test in the report of ${reference}:\n${run.output.slice(-3000)}`);
  const json = test.attachments.find((a) => a.name === 'throughput results (JSON)');
  if (!json) throw new Error(`no results JSON attached for ${reference}: ${test.attachments.map((a) => a.name).join(', ')}`);
  const { config, results } = JSON.parse(readFileSync(json.file, 'utf8')) as { config: Rfc2544Config; results: SizeResults[] };
  const outcome = run.tests.find((x) => /throughput/.test(x.name));
  if (!outcome) throw new Error(`the throughput test did not run for ${reference}:\n${run.output.slice(-3000)}`);
  return { run, test, config, outcome, result: results[0]! };
}

describe('RFC 2544 throughput through wirelab run', () => {
  it(
    'the good bridge has an NDR below the measured ceiling, confirmed; the lossy variant gets NDR 0 and fails naming the loss, its PDR reported',
    async () => {
      const good = await throughput('l2-bridge', []);
      expect(good.config).toMatchObject({ sizes: [64], trialSeconds: 0.5, confirmTrials: 1, pdrLossRatio: 0.005 });
      expect(good.outcome, good.run.output.slice(-3000)).toMatchObject({ status: 'passed' });
      expect(good.run.exitCode).toBe(0);
      const g = good.result.throughput!;
      // The ceiling is the lab's own (measured), and the image's NDR is its own limit, well below it.
      expect(good.result.ceiling).toMatchObject({ source: 'measured' });
      expect(g.ceilingPps).toBe(good.result.ceiling!.pps);
      expect(g.ndr.ratePps, `good NDR ${g.ndr.ratePps} vs ceiling ${g.ceilingPps}`).toBeGreaterThan(0);
      expect(g.ndr.ratePps).toBeLessThan(g.ceilingPps * 0.8);
      expect(g.ndr.limitedBy).not.toBe('ceiling');
      expect(g.pdr.ratePps).toBeGreaterThanOrEqual(g.ndr.ratePps);
      // Confirmed: at least the search's trial and one repeat at the final rate, with their spread.
      const trialsSeen = g.trials.map((t) => `${t.purpose} ${t.offeredPps}: ${t.lost}/${t.sent}`).join('; ');
      expect(g.ndr.spread?.trials, `NDR not confirmed; trials: ${trialsSeen}`).toBeGreaterThanOrEqual(2);
      for (const trial of g.trials) expect(trial.achievedPps).toBeGreaterThan(0);
      const names = good.test.attachments.map((a) => a.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'RFC 2544 throughput: NDR and PDR, latency at the NDR',
          'RFC 2544 trials (every trial, in order)',
          'NDR and PDR by frame size',
          'latency at the NDR',
        ]),
      );
      const table = readFileSync(
        good.test.attachments.find((a) => a.name === 'RFC 2544 throughput: NDR and PDR, latency at the NDR')!.file,
        'utf8',
      );
      expect(table).toMatch(/measured: generator/);
      expect(table).toMatch(/2 trials: loss/);

      const lossy = await throughput('l2-bridge-lossy', ['--pdr-loss-ratio', '0.1']);
      expect(lossy.run.exitCode).toBe(1);
      expect(lossy.outcome).toMatchObject({
        status: 'failed',
        message: expect.stringMatching(
          /64-byte frames: no rate without loss \(NDR 0\) — the lowest rate that lost frames, \d+ pps .* lost \d+ of \d+.*: the image drops frames at this load and below/,
        ),
      });
      const l = lossy.result.throughput!;
      expect(l.ndr.ratePps, `lossy NDR ${l.ndr.ratePps} vs good ${g.ndr.ratePps}`).toBeLessThan(g.ndr.ratePps / 4);
      // Where the NDR is 0, the PDR at a 10 % loss ratio is still measured and reported.
      expect(l.pdr.ratePps).toBeGreaterThan(0);
      expect(lossy.outcome.message).toMatch(/PDR at ≤ 10 % loss: [1-9]\d* pps/);
    },
    TIMEOUT_MS,
  );
});
