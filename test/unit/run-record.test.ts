// A run as data, from the worker's console line to the history: lab events survive the console and
// other lines are not taken for them; the summary table shows each test's verdict and numbers per
// direction; the history is bounded; a comparison names the verdicts that flipped and the numbers
// that moved beyond the noise (and only those); the Allure results get labels, a stable history id
// and each test's trend.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { annotateAllureResults, loadHistory, readRunRecord, saveRun } from '../../lib/cli/run-record.ts';
import { runSummaryText } from '../../lib/cli/run-suites.ts';
import { byDirection, decodeLabEvent, encodeLabEvent, suiteLabel, type FlowHeadline } from '../../lib/report/run-events.ts';
import { appendRun, compareRuns, comparisonHtml, comparisonLines, historyKey } from '../../lib/report/run-history.ts';
import { summaryTable, type RunRecord, type TestRecord } from '../../lib/report/run-summary.ts';
import { fileTempDir } from '../temp-dir.ts';

function flow(from: 'left' | 'right', over: Partial<FlowHeadline> = {}): FlowHeadline {
  return { name: `unicast ${from}`, from, to: from === 'left' ? 'right' : 'left', sent: 100, lost: 0, p50Us: 400, p99Us: 900, ...over };
}

function test(name: string, over: Partial<TestRecord> = {}): TestRecord {
  return { suite: 'l2-bridge', name, state: 'passed', durationMs: 1200, numbers: { flows: [flow('left'), flow('right')] }, ...over };
}

function run(tests: TestRecord[], over: Partial<RunRecord> = {}): RunRecord {
  return {
    startedAt: '2026-12-02T13:00:00.000Z',
    durationMs: 40_000,
    profile: { name: 'nested-l2-bridge', file: 'lab-profiles/nested-l2-bridge.yaml' },
    role: 'l2-bridge',
    labKind: 'nested',
    image: { name: 'l2-bridge', digest: 'ab'.repeat(32) },
    exitCode: tests.some((t) => t.state === 'failed') ? 1 : 0,
    tests,
    ...over,
  };
}

describe('lab events on the console', () => {
  it('round-trip through a console line; other lines, and marked lines that are not events, are not events', () => {
    const event = { lab: 'l2-bridge #2', stage: 'ready', detail: 'lab wl-1a2b3c up in 7.1 s' } as const;
    expect(decodeLabEvent(`${encodeLabEvent(event)}\n`)).toEqual(event);
    expect(decodeLabEvent('wirelab: guest ready after 3.1 s')).toBeUndefined();
    expect(decodeLabEvent('wirelab-event {not json')).toBeUndefined();
    expect(decodeLabEvent('wirelab-event {"lab":"x","stage":"dancing","detail":""}')).toBeUndefined();
  });

  it('labels a suite by its file and adds up each direction, with its worst percentiles', () => {
    expect(suiteLabel('/work/suites/l2-bridge-vrouter-mac.test.ts')).toBe('l2-bridge-vrouter-mac');
    const [lr, rl] = byDirection([flow('left'), flow('right', { p99Us: null }), flow('left', { lost: 5, p50Us: 700, p99Us: 800 })]);
    expect(lr).toMatchObject({ from: 'left', flows: 2, sent: 200, lost: 5, p50Us: 700, p99Us: 900 });
    expect(rl).toMatchObject({ from: 'right', flows: 1, p99Us: null });
  });
});

describe('the summary table', () => {
  it("a line per direction, the failure's headline under a failed test, skipped tests left out", () => {
    const lines = summaryTable([
      test('unicast both ways'),
      test('ARP both ways', {
        state: 'failed',
        headline: 'ARP request right→left: 12 of 100 lost',
        numbers: { flows: [flow('right', { lost: 12 })] },
      }),
      test('VLAN', { state: 'skipped' }),
      test('halts', { numbers: undefined }),
    ]);
    expect(lines[0]).toMatch(/^verdict\s+test\s+direction\s+frames\s+lost\s+p50 µs\s+p99 µs$/);
    expect(lines[1]).toMatch(/^PASS\s+l2-bridge › unicast both ways\s+left → right\s+100\s+0\s+400\s+900$/);
    expect(lines[2]).toMatch(/^\s+right → left\s+100\s+0\s+400\s+900$/);
    expect(lines[3]).toMatch(/^FAIL\s+l2-bridge › ARP both ways\s+right → left\s+100\s+12 \(12%\)/);
    expect(lines[4]).toMatch(/^\s+↳ ARP request right→left: 12 of 100 lost$/);
    expect(lines[5]).toMatch(/^PASS\s+l2-bridge › halts\s+–$/);
    expect(lines.join('\n')).not.toContain('VLAN');
  });

  it('the run text names the counts, the image, the report and what changed since the previous run', () => {
    const before = run([test('unicast both ways')]);
    const after = run([test('unicast both ways', { state: 'failed', headline: 'lost 3 frames' })]);
    const text = runSummaryText(after, before, { report: '/somewhere/allure-report/index.html' });
    expect(text).toContain('0 passed, 1 failed in 40.0 s — image l2-bridge (sha256:abababababab)');
    expect(text).toMatch(/Since the previous run[^\n]*\n[\s\S]*passed → FAILED\s+l2-bridge › unicast both ways/);
    expect(text).toContain('report: /somewhere/allure-report/index.html — one self-contained file; open it in a browser');
  });
});

describe('history and comparison', () => {
  it('keeps the last runs only, under a key made of the profile and image names', () => {
    let history: RunRecord[] = [];
    for (let i = 0; i < 25; i++) history = appendRun(history, run([], { durationMs: i }), 20);
    expect(history).toHaveLength(20);
    expect(history[0]!.durationMs).toBe(5);
    expect(historyKey(run([], { profile: { name: 'My Bench/Host', file: '' }, image: { name: 'vyos 1.4.qcow2', digest: '' } }))).toBe(
      'my-bench-host--vyos-1.4.qcow2',
    );
  });

  it('names a verdict that flipped, loss that appeared and latency that moved; ignores noise', () => {
    const before = run([test('unicast'), test('ARP'), test('gone')]);
    const after = run([
      test('unicast', { numbers: { flows: [flow('left', { p50Us: 520, p99Us: 1500 }), flow('right', { p50Us: 4000 })] } }),
      test('ARP', {
        state: 'failed',
        headline: 'ARP left→right: 7 of 100 lost',
        numbers: { flows: [flow('left', { lost: 7 }), flow('right')] },
      }),
      test('new'),
    ]);
    const cmp = compareRuns(before, after);
    expect(cmp.verdicts).toEqual([
      { test: 'l2-bridge › ARP', before: 'passed', after: 'failed', headline: 'ARP left→right: 7 of 100 lost' },
      { test: 'l2-bridge › gone', before: 'passed', after: 'absent' },
      { test: 'l2-bridge › new', before: 'absent', after: 'passed' },
    ]);
    // 400 → 520 µs (p50) and 900 → 1500 µs (p99) are noise under TCG; 400 → 4000 µs is not.
    expect(cmp.numbers.map((c) => `${c.test} ${c.where} ${c.what} ${c.before}→${c.after}`)).toEqual([
      'l2-bridge › unicast right → left p50 400→4000',
      'l2-bridge › ARP left → right loss 0→7',
    ]);
    expect(cmp.regressed).toBe(true);
    const text = comparisonLines(cmp).join('\n');
    expect(text).toMatch(/passed → FAILED\s+l2-bridge › ARP\n\s+ARP left→right: 7 of 100 lost/);
    expect(text).toMatch(/p50\s+400 µs → 4,000 µs \(worse\)\s+l2-bridge › unicast, right → left/);
    expect(comparisonHtml(cmp)).toContain('<td class="alert">failed</td>');
  });

  it('a fixed test and a faster guest are no regression; the same run twice changes nothing', () => {
    const before = run([
      test('ARP', { state: 'failed' }),
      test('load', { numbers: { flows: [], throughput: [{ frameSize: 64, pps: 1000 }] } }),
    ]);
    const after = run([test('ARP'), test('load', { numbers: { flows: [], throughput: [{ frameSize: 64, pps: 2000 }] } })]);
    const cmp = compareRuns(before, after);
    expect(cmp.verdicts.map((v) => `${v.before}→${v.after}`)).toEqual(['failed→passed']);
    expect(cmp.numbers.map((c) => c.what)).toEqual(['throughput']);
    expect(cmp.regressed).toBe(false);
    expect(comparisonLines(compareRuns(after, after)).at(-1)).toBe('No verdict changed and no headline number moved beyond the noise.');
  });
});

describe('the run record on disk', () => {
  const scratch = fileTempDir('wirelab-run-record-');
  it('saves run.json and a bounded history; reads a run from its directory; refuses a directory without one', async () => {
    const dir = mkdtempSync(path.join(scratch, 'record-'));
    const first = run([test('unicast')]);
    await saveRun(dir, first, loadHistory(dir, first));
    await saveRun(dir, { ...first, durationMs: 1 }, loadHistory(dir, first));
    expect(loadHistory(dir, first).map((r) => r.durationMs)).toEqual([40_000, 1]);
    expect(readRunRecord(dir).durationMs).toBe(1);
    expect(() => readRunRecord(path.join(dir, 'history'))).toThrow(
      /holds no wirelab run record \(run\.json\)\. Fix: name the --report-dir/,
    );
    writeFileSync(path.join(dir, 'bad.json'), '{"tests": 3}');
    expect(() => readRunRecord(path.join(dir, 'bad.json'))).toThrow(/is not a wirelab run record/);
  });

  it("labels every Allure result with role, image, digest, lab kind and profile, and attaches the test's trend", () => {
    const dir = mkdtempSync(path.join(scratch, 'allure-'));
    const result = {
      name: 'unicast',
      fullName: 'wirelab:suites/l2-bridge.test.ts#l2-bridge unicast',
      parameters: [{ name: 'forwarding gap', value: '0.31 s' }] as { name: string; value: string; excluded?: boolean }[],
      labels: [
        { name: 'language', value: 'javascript' },
        { name: 'framework', value: 'vitest' },
        { name: 'parentSuite', value: 'l2-bridge' },
      ],
      attachments: [] as { name: string; source: string }[],
    };
    writeFileSync(path.join(dir, 'x-result.json'), JSON.stringify(result));
    const now = run([test('unicast')]);
    const history = [run([test('unicast', { state: 'failed' })], { startedAt: '2026-12-01T00:00:00.000Z' }), now];
    expect(annotateAllureResults(dir, now, history)).toBe(1);
    const out = JSON.parse(readFileSync(path.join(dir, 'x-result.json'), 'utf8')) as typeof result;
    expect(out.labels).toEqual([
      { name: 'parentSuite', value: 'l2-bridge' },
      { name: 'role', value: 'l2-bridge' },
      { name: 'image', value: 'l2-bridge' },
      { name: 'image digest', value: 'ab'.repeat(32) },
      { name: 'lab kind', value: 'nested' },
      { name: 'profile', value: 'nested-l2-bridge' },
    ]);
    // Shown, but not part of Allure's history key: a measured gap must not split a test's trend.
    expect(out.parameters).toEqual([{ name: 'forwarding gap', value: '0.31 s', excluded: true }]);
    expect(out.attachments.map((a) => a.name)).toEqual(['history: last 2 run(s)']);
    const trend = readFileSync(path.join(dir, out.attachments[0]!.source), 'utf8');
    expect(trend.indexOf('2026-12-02T13:00')).toBeLessThan(trend.indexOf('2026-12-01T00:00')); // newest first
    expect(trend).toContain('<td class="alert">failed</td>');
    expect(readdirSync(dir)).toHaveLength(2);
  });
});
