import { getStatusFromError } from 'allure-js-commons/sdk';
import { describe, expect, it } from 'vitest';
import { INCONCLUSIVE } from '../../lib/analysis/host-stall.ts';
import { runExitCode } from '../../lib/cli/run-suites.ts';
import { compareRuns } from '../../lib/report/run-history.ts';
import { runLine, summaryTable, type RunRecord, type TestRecord } from '../../lib/report/run-summary.ts';

const headline = "inconclusive — the host stalled 124 ms at 08:01:02.345 UTC; not the image's verdict: latency through the guest too high";

function record(state: TestRecord['state']): RunRecord {
  return {
    startedAt: '2026-12-06T08:00:00.000Z',
    durationMs: 60_000,
    profile: { name: 'p', file: 'p.yaml' },
    role: 'l2-bridge',
    labKind: 'nested',
    image: { name: 'l2-bridge', digest: 'sha256:00' },
    exitCode: 0,
    tests: [
      { suite: 'l2-bridge', name: 'unicast', state: 'passed', durationMs: 1 },
      {
        suite: 'l2-bridge',
        name: "the profile's load",
        state,
        durationMs: 1,
        ...(state === 'inconclusive' ? { headline } : {}),
        numbers: {
          flows: [{ name: 'load', from: 'left', to: 'right', sent: 1000, lost: 0, p50Us: 300, p99Us: state === 'passed' ? 900 : 124_000 }],
        },
      },
    ],
  };
}

describe('the inconclusive outcome', () => {
  it('the table says INCONCLUSIVE with the stall, the run line counts it apart', () => {
    const r = record('inconclusive');
    const table = summaryTable(r.tests).join('\n');
    expect(table).toMatch(/^INCONCLUSIVE\s+l2-bridge › the profile's load/m);
    expect(table).toContain(`↳ ${headline}`);
    expect(runLine(r)).toMatch(/^1 passed, 0 failed, 1 inconclusive \(the host stalled\) in 60.0 s/);
  });

  it('exit 3 when no test failed but one ended inconclusive; 1 when one failed too, or something broke outside the tests', () => {
    const tests = (...states: TestRecord['state'][]) => states.map((state) => ({ suite: 's', name: state, state, durationMs: 1 }));
    expect(runExitCode(1, { durationMs: 1, errors: [], tests: tests('passed', 'inconclusive') })).toBe(3);
    expect(runExitCode(1, { durationMs: 1, errors: [], tests: tests('failed', 'inconclusive') })).toBe(1);
    expect(runExitCode(1, { durationMs: 1, errors: ['suite: boom'], tests: tests('inconclusive') })).toBe(1);
    expect(runExitCode(0, { durationMs: 1, errors: [], tests: tests('passed') })).toBe(0);
    expect(runExitCode(1, undefined)).toBe(1);
  });

  it('a test that went from passed to inconclusive is no regression, and its numbers are not compared', () => {
    const cmp = compareRuns(record('passed'), record('inconclusive'));
    expect(cmp.verdicts.map((v) => `${v.before} → ${v.after}`)).toEqual(['passed → inconclusive']);
    expect(cmp.numbers).toEqual([]);
    expect(cmp.regressed).toBe(false);
    expect(compareRuns(record('passed'), record('failed')).regressed).toBe(true);
  });

  it('is "broken" to Allure, not "failed": an inconclusive error has not the shape of an assertion', () => {
    const error = new Error(`${headline}\n\nThe checks as measured in the last try:\nlatency through the guest too high`);
    error.name = INCONCLUSIVE.name;
    error.stack = `${error.name}: ${error.message}`;
    expect(getStatusFromError(error)).toBe('broken');
    const failure = Object.assign(new Error('latency through the guest too high'), { matcherResult: { pass: false } });
    expect(getStatusFromError(failure)).toBe('failed');
  });
});
