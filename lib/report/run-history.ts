// Regressions over time: a small history of runs per profile and image, and what changed between two
// runs — verdicts that flipped, and headline numbers (loss, p50/p99 latency per direction, RFC 2544
// throughput) that moved beyond the noise of a software-emulated lab. `wirelab run` keeps the
// history and says what changed since the previous run; `wirelab compare <runA> <runB>` prints it
// for any two runs ("image v2 vs v1").
//
// Pure: records in, records and text out.
import { byDirection, type DirectionHeadline } from './run-events.ts';
import { escapeXml, htmlTablePage } from './visuals.ts';
import type { RunRecord, TestRecord, TestState } from './run-summary.ts';

/** Runs kept per profile and image: enough for a trend, small enough to read at every run. */
export const HISTORY_LIMIT = 20;

/**
 * What counts as moved, not noise: latency under TCG varies by tens of percent from run to run, so a
 * percentile must change by both a share and an absolute amount; loss must appear, vanish, or change
 * by a percentage point; throughput by a share.
 */
export const NOISE = {
  latencyShare: 0.5,
  p50Us: 500,
  p99Us: 2000,
  lossPoints: 1,
  throughputShare: 0.1,
} as const;

/** The file name a profile and image's history is kept under: both names, made safe for a path. */
export function historyKey(run: Pick<RunRecord, 'profile' | 'image'>): string {
  const safe = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'unnamed';
  return `${safe(run.profile.name)}--${safe(run.image.name)}`;
}

/** The history with this run added at the end, the oldest dropped beyond `limit`. */
export function appendRun(history: readonly RunRecord[], run: RunRecord, limit = HISTORY_LIMIT): RunRecord[] {
  return [...history, run].slice(-limit);
}

export interface VerdictChange {
  test: string;
  before: TestState | 'absent';
  after: TestState | 'absent';
  /** The failure's first line in the later run, if it failed. */
  headline?: string;
}

export interface NumberChange {
  test: string;
  /** `left → right`, or `throughput 64 B`. */
  where: string;
  what: 'loss' | 'p50' | 'p99' | 'throughput';
  before: number | null;
  after: number | null;
  /** The unit the numbers are in: frames (loss, with the share), µs, frames/s. */
  unit: 'frames' | 'µs' | 'fps';
  /** Frames sent, for a loss's share. */
  sent?: { before: number; after: number };
}

export interface RunComparison {
  before: RunRecord;
  after: RunRecord;
  verdicts: VerdictChange[];
  numbers: NumberChange[];
  /** A test that passed before fails now (or is gone), or a number got worse beyond the noise. */
  regressed: boolean;
}

function testKey(t: Pick<TestRecord, 'suite' | 'name'>): string {
  return `${t.suite} › ${t.name}`;
}

export function compareRuns(before: RunRecord, after: RunRecord): RunComparison {
  const verdicts: VerdictChange[] = [];
  const numbers: NumberChange[] = [];
  const earlier = new Map(before.tests.map((t) => [testKey(t), t]));
  const later = new Map(after.tests.map((t) => [testKey(t), t]));
  for (const key of new Set([...earlier.keys(), ...later.keys()])) {
    const a = earlier.get(key);
    const b = later.get(key);
    const was = a?.state ?? 'absent';
    const is = b?.state ?? 'absent';
    if (was !== is) verdicts.push({ test: key, before: was, after: is, ...(b?.headline ? { headline: b.headline } : {}) });
    if (a && b && a.state !== 'inconclusive' && b.state !== 'inconclusive') numbers.push(...numberChanges(key, a, b));
  }
  // An inconclusive test (the host stalled) is no verdict: neither a regression nor numbers to compare.
  const regressed =
    verdicts.some((v) => v.before === 'passed' && v.after !== 'passed' && v.after !== 'skipped' && v.after !== 'inconclusive') ||
    numbers.some(isWorse);
  return { before, after, verdicts, numbers, regressed };
}

function numberChanges(test: string, a: TestRecord, b: TestRecord): NumberChange[] {
  const out: NumberChange[] = [];
  const directions = (t: TestRecord) => new Map(byDirection(t.numbers?.flows ?? []).map((d) => [`${d.from} → ${d.to}`, d]));
  const da = directions(a);
  const db = directions(b);
  for (const [where, x] of da) {
    const y = db.get(where);
    if (!y) continue;
    if (lossMoved(x, y))
      out.push({ test, where, what: 'loss', before: x.lost, after: y.lost, unit: 'frames', sent: { before: x.sent, after: y.sent } });
    for (const what of ['p50', 'p99'] as const) {
      const [p, q] = what === 'p50' ? [x.p50Us, y.p50Us] : [x.p99Us, y.p99Us];
      if (latencyMoved(p, q, what === 'p50' ? NOISE.p50Us : NOISE.p99Us)) out.push({ test, where, what, before: p, after: q, unit: 'µs' });
    }
  }
  const throughputs = (t: TestRecord) => new Map((t.numbers?.throughput ?? []).map((x) => [x.frameSize, x.pps]));
  const ta = throughputs(a);
  const tb = throughputs(b);
  for (const [size, pps] of ta) {
    const now = tb.get(size);
    if (now === undefined) continue;
    if (Math.abs(now - pps) > NOISE.throughputShare * Math.max(pps, 1))
      out.push({ test, where: `throughput ${size} B`, what: 'throughput', before: pps, after: now, unit: 'fps' });
  }
  return out;
}

function lossShare(d: DirectionHeadline): number {
  return d.sent > 0 ? (100 * d.lost) / d.sent : 0;
}

function lossMoved(x: DirectionHeadline, y: DirectionHeadline): boolean {
  if ((x.lost === 0) !== (y.lost === 0)) return true;
  return Math.abs(lossShare(x) - lossShare(y)) >= NOISE.lossPoints;
}

function latencyMoved(p: number | null, q: number | null, absoluteUs: number): boolean {
  if (p === null || q === null) return (p === null) !== (q === null);
  return Math.abs(q - p) > absoluteUs && Math.abs(q - p) > NOISE.latencyShare * p;
}

function isWorse(c: NumberChange): boolean {
  if (c.before === null || c.after === null) return c.after === null && c.what !== 'loss';
  if (c.what === 'throughput') return c.after < c.before;
  if (c.what === 'loss' && c.sent) return c.after / Math.max(1, c.sent.after) > c.before / Math.max(1, c.sent.before);
  return c.after > c.before;
}

/** The comparison for a person: which run is which, each verdict that changed, each number that moved. */
export function comparisonLines(cmp: RunComparison): string[] {
  const name = (r: RunRecord) => `${r.image.name} ${r.image.digest.replace(/^sha256:/, '').slice(0, 12)} at ${r.startedAt}`;
  const lines = [`before: ${name(cmp.before)}`, `after:  ${name(cmp.after)}`];
  if (cmp.verdicts.length === 0 && cmp.numbers.length === 0) {
    lines.push('No verdict changed and no headline number moved beyond the noise.');
    return lines;
  }
  if (cmp.verdicts.length > 0) lines.push('', `Verdicts that changed (${cmp.verdicts.length}):`);
  for (const v of cmp.verdicts) {
    const arrow = `${v.before} → ${v.after === 'failed' ? 'FAILED' : v.after}`;
    lines.push(`  ${arrow.padEnd(20)} ${v.test}${v.headline ? `\n  ${' '.repeat(20)} ${v.headline}` : ''}`);
  }
  if (cmp.numbers.length > 0) lines.push('', `Numbers that moved beyond the noise (${cmp.numbers.length}):`);
  for (const c of cmp.numbers) {
    const worse = isWorse(c) ? 'worse' : 'better';
    lines.push(`  ${c.what.padEnd(10)} ${fmt(c, 'before')} → ${fmt(c, 'after')} (${worse})  ${c.test}, ${c.where}`);
  }
  lines.push('', cmp.regressed ? 'Regressed.' : 'No regression.');
  return lines;
}

function fmt(c: NumberChange, when: 'before' | 'after'): string {
  const v = c[when];
  if (v === null) return '–';
  const text = `${Math.round(v).toLocaleString('en-US')} ${c.unit}`;
  const sent = c.sent?.[when];
  return sent ? `${text} (${((100 * v) / sent).toFixed(1)} %)` : text;
}

/** One test's last runs, oldest first: for the history attachment of its report. */
export function testTrend(history: readonly RunRecord[], suite: string, name: string): { run: RunRecord; test: TestRecord | undefined }[] {
  return history.map((run) => ({ run, test: run.tests.find((t) => t.suite === suite && t.name === name) }));
}

/** A test's trend as a small HTML page (an Allure attachment): one row per run and direction, newest first. */
export function trendHtml(testName: string, trend: ReturnType<typeof testTrend>): string {
  const head = ['run started', 'image', 'verdict', 'direction', 'frames', 'lost', 'p50 µs', 'p99 µs']
    .map((t) => `<th>${escapeXml(t)}</th>`)
    .join('');
  const rows: string[] = [];
  for (const { run, test } of [...trend].reverse()) {
    const cells = [run.startedAt, `${run.image.name} ${run.image.digest.replace(/^sha256:/, '').slice(0, 12)}`, test?.state ?? 'not run'];
    const directions = byDirection(test?.numbers?.flows ?? []);
    const numbers = directions.map((d) => [`${d.from} → ${d.to}`, String(d.sent), String(d.lost), us(d.p50Us), us(d.p99Us)]);
    for (const tp of test?.numbers?.throughput ?? []) numbers.push([`throughput ${tp.frameSize} B`, `${tp.pps} fps`, '', '', '']);
    if (numbers.length === 0) numbers.push(['–', '', '', '', '']);
    numbers.forEach((nums, i) => {
      const alert = test?.state === 'failed' ? ' class="alert"' : '';
      const lead = (i === 0 ? cells : ['', '', '']).map((c, k) => `<td${k === 2 ? alert : ''}>${escapeXml(c)}</td>`);
      rows.push(`<tr>${lead.join('')}${nums.map((c, k) => `<td${k > 0 ? ' class="num"' : ''}>${escapeXml(c)}</td>`).join('')}</tr>`);
    });
  }
  const note = `The last ${trend.length} run(s) of this profile and image, newest first (kept: ${HISTORY_LIMIT}).`;
  return htmlTablePage(`History: ${testName}`, head, rows.join('\n'), [note]);
}

function us(v: number | null): string {
  return v === null ? '–' : String(Math.round(v));
}

/** The comparison as a small HTML page: the verdicts that changed, then the numbers that moved. */
export function comparisonHtml(cmp: RunComparison): string {
  const head = ['test', 'what', 'before', 'after', ''].map((t) => `<th>${escapeXml(t)}</th>`).join('');
  const rows = [
    ...cmp.verdicts.map((v) => {
      const worse = v.before === 'passed' && v.after !== 'passed';
      return row([v.test, 'verdict', v.before, v.after, v.headline ?? ''], worse);
    }),
    ...cmp.numbers.map((c) =>
      row([`${c.test}, ${c.where}`, c.what, fmt(c, 'before'), fmt(c, 'after'), isWorse(c) ? 'worse' : 'better'], isWorse(c)),
    ),
  ];
  const lines = comparisonLines(cmp);
  return htmlTablePage(`wirelab compare: ${cmp.regressed ? 'regressed' : 'no regression'}`, head, rows.join('\n'), lines.slice(0, 2));
}

function row(cells: string[], alert: boolean): string {
  return `<tr>${cells.map((c, i) => `<td${alert && i >= 2 ? ' class="alert"' : ''}>${escapeXml(c)}</td>`).join('')}</tr>`;
}
