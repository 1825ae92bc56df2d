// `wirelab run` as a network engineer sees it, on the real nested lab: one suite's vRouter-MAC test through a
// pipe (CI) and through a pseudo-terminal, then on a faulty image. The terminal shows each lab's
// progress as its own lines and ends with the summary table — never vitest's `stderr | file > test`
// headers; the second run of the same profile and image has a trend; `wirelab compare` names the
// verdict that changed between the good image and the faulty one; headless Chromium opens both
// rendered reports (labels, the failure's first line, the test's latency samples). One short run
// each (~20 s on a quiet machine).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../lib/report/run-summary.ts';
import { allureTests, bridgeProfile } from './wirelab-cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-terminal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLI = path.resolve('bin/wirelab.mjs');
const GREP = 'the vRouter MAC case: distinct';
const good = bridgeProfile(dir, 'l2-bridge');
const goodDir = path.join(dir, 'good');
const faultyDir = path.join(dir, 'faulty');

function runArgs(profile: string, reportDir: string): string[] {
  return [CLI, 'run', 'l2-bridge', '--profile', profile, '--report-dir', reportDir, '--grep', GREP];
}

/** Through a pipe, as CI runs it. */
async function piped(args: string[]) {
  const r = await execa(process.execPath, args, { reject: false, all: true, timeout: RUN_TIMEOUT - 20_000 });
  return { exitCode: r.exitCode, output: String(r.all) };
}

/** Through a pseudo-terminal (util-linux `script`), as a person at a terminal runs it. */
async function terminal(args: string[]) {
  const command = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = await execa('script', ['-qfec', command, '/dev/null'], { reject: false, all: true, timeout: RUN_TIMEOUT - 20_000 });
  return { exitCode: r.exitCode, output: String(r.all).replace(/\r\n/g, '\n') };
}

const VITEST_HEADER = /^(stdout|stderr) \| /m;
const SUMMARY_ROW = /^PASS\s+l2-bridge › the vRouter MAC case: distinct[^\n]*?left → right\s+50\s+0\s+[\d,.]+\s+[\d,.]+$/m;

/** A run is ~20 s alone; on a machine shared with other labs' timed measurements, boots wait for them. */
const RUN_TIMEOUT = 420_000;

function record(reportDir: string): RunRecord {
  return JSON.parse(readFileSync(path.join(reportDir, 'run.json'), 'utf8')) as RunRecord;
}

describe('the terminal, the history and compare on real runs', () => {
  it(
    'through a pipe: plain progress lines per lab, no vitest headers, the summary table, JUnit and labelled Allure results',
    async () => {
      const r = await piped(runArgs(good, goodDir));
      expect(r.exitCode, r.output.slice(-3000)).toBe(0);
      expect(r.output).not.toMatch(VITEST_HEADER);
      expect(r.output).not.toContain('\x1b[');
      for (const stage of [
        /^\[l2-bridge\] booting: /m,
        /^\[l2-bridge\] ready: lab wl-[0-9a-f]+ up in \d+\.\d s/m,
        /^\[l2-bridge\] traffic: /m,
      ])
        expect(r.output).toMatch(stage);
      expect(r.output).toMatch(/^\[l2-bridge\] halting: /m);
      expect(r.output).toMatch(/^PASS l2-bridge › the vRouter MAC case: distinct .* \(\d+\.\d s\)$/m);
      expect(r.output).toMatch(/^wirelab run: 1 passed, 0 failed, \d+ skipped in [\d.]+ s — image l2-bridge \(/m);
      expect(r.output).toMatch(SUMMARY_ROW);
      expect(r.output).toMatch(/^report: .*allure-report\/index\.html — one self-contained file; open it in a browser/m);

      // The test has latency samples: the numbers, and the histogram agrees.
      const arp = record(goodDir).tests.find((t) => t.name.startsWith(GREP))!;
      expect(arp.numbers!.flows).toHaveLength(2);
      for (const f of arp.numbers!.flows) expect(f.p50Us, f.name).toBeGreaterThan(0);
      const allure = allureTests(path.join(goodDir, 'allure-results')).find((t) => t.name.startsWith(GREP))!;
      const histograms = allure.attachments.filter((a) => a.name.endsWith('latency histogram'));
      expect(histograms.length).toBeGreaterThanOrEqual(1);
      for (const h of histograms) expect(readFileSync(h.file, 'utf8')).not.toContain('no latency to show');
      const labels = resultLabels(goodDir, allure.name);
      expect(labels).toMatchObject({ role: 'l2-bridge', image: 'l2-bridge', 'lab kind': 'nested', profile: 'l2-bridge' });
      expect(labels['image digest']).toMatch(/^[0-9a-f]{64}$/);
      expect(labels).not.toHaveProperty('language');
      expect(readFileSync(path.join(goodDir, 'junit.xml'), 'utf8')).toMatch(
        /<testcase [^>]*name="l2-bridge &gt; the vRouter MAC case|<testcase [^>]*the vRouter MAC case/,
      );
    },
    RUN_TIMEOUT,
  );

  it(
    'through a pseudo-terminal: the lab line redrawn in place, the same summary, and a trend on the second run',
    async () => {
      const r = await terminal(runArgs(good, goodDir));
      expect(r.exitCode, r.output.slice(-3000)).toBe(0);
      expect(r.output).not.toMatch(VITEST_HEADER);
      // The lab's line, erased (cursor up N lines, clear to the end) and drawn again.
      const ESC = String.fromCharCode(27);
      expect(r.output).toMatch(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J\\[l2-bridge\\] `));
      expect(r.output).toMatch(SUMMARY_ROW);
      expect(r.output).toMatch(/^Since the previous run of this profile and image \(/m);

      const history = JSON.parse(readFileSync(path.join(goodDir, 'history', 'l2-bridge--l2-bridge.json'), 'utf8')) as RunRecord[];
      expect(history).toHaveLength(2);
      const allureHistory = readFileSync(path.join(goodDir, 'history', 'l2-bridge--l2-bridge.allure.jsonl'), 'utf8')
        .trim()
        .split('\n');
      expect(allureHistory).toHaveLength(2);
      const arp = allureTests(path.join(goodDir, 'allure-results')).find((t) => t.name.startsWith(GREP))!;
      const trend = arp.attachments.find((a) => a.name === 'history: last 2 run(s)');
      expect(trend, arp.attachments.map((a) => a.name).join(', ')).toBeDefined();
      expect(readFileSync(trend!.file, 'utf8').match(/<td>passed<\/td>/g)).toHaveLength(2);
    },
    RUN_TIMEOUT,
  );

  it(
    'a faulty image fails with its headline in the table, and compare names the verdict that changed',
    async () => {
      const r = await piped(runArgs(bridgeProfile(dir, 'l2-bridge-oneway'), faultyDir));
      expect(r.exitCode, r.output.slice(-3000)).toBe(1);
      expect(r.output).toMatch(/^FAIL\s+l2-bridge › the vRouter MAC case[^\n]*left → right\s+50\s+50 \(100%\)/m);
      expect(r.output).toMatch(/^\s+↳ .*left→right/m);
      expect(existsSync(path.join(faultyDir, 'allure-report', 'index.html'))).toBe(true);

      const compare = await piped([CLI, 'compare', goodDir, faultyDir, '--html', path.join(dir, 'compare.html')]);
      expect(compare.exitCode, compare.output).toBe(1);
      expect(compare.output).toMatch(/^ {2}passed → FAILED\s+l2-bridge › the vRouter MAC case/m);
      expect(compare.output).toMatch(
        /^ {2}loss\s+0 frames \(0\.0 %\) → 50 frames \(100\.0 %\) \(worse\)\s+l2-bridge › the vRouter MAC case.*left → right$/m,
      );
      expect(compare.output).toMatch(/^Regressed\.$/m);
      expect(readFileSync(path.join(dir, 'compare.html'), 'utf8')).toContain('wirelab compare: regressed');
    },
    RUN_TIMEOUT,
  );

  it("the rendered reports in headless Chromium: the failure's first line under 300 characters, labels naming role and image, latency samples", async () => {
    const failed = await renderedTestPage(faultyDir, GREP);
    expect(failed).toMatch(/\bFailed\b/);
    for (const label of ['role l2-bridge', 'image l2-bridge-oneway', 'lab kind nested', 'profile l2-bridge-oneway'])
      expect(failed).toContain(label);
    const result = resultOf(faultyDir, GREP);
    expect(result.status, "a qualification failure is the image's fault (failed), not wirelab's (broken)").toBe('failed');
    const message = result.statusDetails?.message ?? '';
    const firstLine = message.split('\n')[0]!;
    expect(firstLine.length).toBeGreaterThan(20);
    expect(firstLine.length).toBeLessThan(300);
    expect(failed).toContain(firstLine.replace(/\s+/g, ' ').trim());

    const passed = await renderedTestPage(goodDir, GREP);
    expect(passed).toMatch(/\bPassed\b/);
    expect(passed).toContain('vrouter-distinct-macs: latency histogram');
    // The second run's report has the first in Allure's history (its trend), measured parameters notwithstanding.
    expect(passed).toMatch(/\bHistory 1\b/);
    // The histogram the report embeds for the test has a series for each of its two flows, none empty.
    const histograms = embeddedAttachments(goodDir, 'svg').filter((svg) =>
      svg.includes('<title>Latency through the guest — vrouter-distinct-macs</title>'),
    );
    expect(histograms).toHaveLength(1);
    expect(histograms[0]!.match(/<path data-flow=/g)).toHaveLength(2);
    expect(histograms[0]).not.toContain('no samples');
  });
});

/** The text a test's page of a rendered report shows in headless Chromium (route `#<test result id>`). */
async function renderedTestPage(reportDir: string, namePrefix: string): Promise<string> {
  const report = path.join(reportDir, 'allure-report');
  const { byId } = JSON.parse(readFileSync(path.join(report, 'test-results.json'), 'utf8')) as {
    byId: Record<string, { id: string; name: string }>;
  };
  const test = Object.values(byId).find((t) => t.name.startsWith(namePrefix));
  if (!test) throw new Error(`no test named ${namePrefix}… in ${report}`);
  const url = `file://${path.join(report, 'index.html')}#${test.id}`;
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--virtual-time-budget=20000', '--dump-dom', url];
  const dom = String((await execa('chromium', flags, { timeout: 120_000 })).stdout);
  const body = dom.replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/g, '');
  return body
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

/** The attachments a single-file report embeds, decoded, of one file type. */
function embeddedAttachments(reportDir: string, ext: string): string[] {
  const html = readFileSync(path.join(reportDir, 'allure-report', 'index.html'), 'utf8');
  const embedded = new RegExp(`d\\("data/attachments/[0-9a-f]+\\.${ext}","([A-Za-z0-9+/=]+)"\\)`, 'g');
  return [...html.matchAll(embedded)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
}

/** The Allure result of the test whose name starts with `namePrefix`. */
function resultOf(reportDir: string, namePrefix: string): { status: string; statusDetails?: { message?: string } } {
  const results = path.join(reportDir, 'allure-results');
  for (const file of readdirSync(results).filter((f) => f.endsWith('-result.json'))) {
    const r = JSON.parse(readFileSync(path.join(results, file), 'utf8')) as {
      name: string;
      status: string;
      statusDetails?: { message?: string };
    };
    if (r.name.startsWith(namePrefix)) return r;
  }
  throw new Error(`no Allure result named ${namePrefix}…`);
}

/** An Allure result's labels by name. */
function resultLabels(reportDir: string, testName: string): Record<string, string> {
  const results = path.join(reportDir, 'allure-results');
  for (const file of readdirSync(results).filter((f) => f.endsWith('-result.json'))) {
    const r = JSON.parse(readFileSync(path.join(results, file), 'utf8')) as { name: string; labels: { name: string; value: string }[] };
    if (r.name === testName) return Object.fromEntries(r.labels.map((l) => [l.name, l.value]));
  }
  throw new Error(`no Allure result named ${testName}`);
}
