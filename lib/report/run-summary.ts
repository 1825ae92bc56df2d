// A run as a record and as the table the terminal ends with: each test's verdict, its headline numbers
// per direction (frames, loss, p50/p99 latency; RFC 2544 throughput where measured), and the failure's
// first line. The same record goes into the run history and is what `wirelab compare` reads.
//
// Pure: records in, text out.
import { byDirection, type TestHeadline } from './run-events.ts';

/** `inconclusive`: a clock-bound check failed while the host stalled, in every try (lib/analysis/host-stall.ts): no verdict. */
export type TestState = 'passed' | 'failed' | 'inconclusive' | 'skipped';

export interface TestRecord {
  /** The suite file's label (`l2-bridge`). */
  suite: string;
  /** The test's full name inside its file (describe blocks included). */
  name: string;
  state: TestState;
  durationMs: number;
  /** A failure's (or an inconclusive outcome's) first line: what failed and the likely cause, or the host's stall. */
  headline?: string;
  numbers?: TestHeadline;
}

/** One `wirelab run`: where it ran, on what, and every test's outcome. */
export interface RunRecord {
  /** ISO time the run started. */
  startedAt: string;
  durationMs: number;
  profile: { name: string; file: string };
  role: string;
  labKind: string;
  /** The service image: its name (reference name or file) and content digest. */
  image: { name: string; digest: string };
  exitCode: number;
  /** The frame space's seed the run's contract cases came from (`wirelab run --seed` replays it). */
  seed?: number;
  tests: TestRecord[];
}

const VERDICT_WORD: Record<TestState, string> = { passed: 'PASS', failed: 'FAIL', inconclusive: 'INCONCLUSIVE', skipped: 'SKIP' };

/** The width test names are cut to in the table (the full name is in the report). */
const NAME_WIDTH = 52;

export function counts(tests: readonly TestRecord[]): Record<TestState, number> {
  const c: Record<TestState, number> = { passed: 0, failed: 0, inconclusive: 0, skipped: 0 };
  for (const t of tests) c[t.state]++;
  return c;
}

/** The table's lines: a header, one line per direction of each test, the failure headline under a failed test. */
export function summaryTable(tests: readonly TestRecord[]): string[] {
  const rows: string[][] = [['verdict', 'test', 'direction', 'frames', 'lost', 'p50 µs', 'p99 µs']];
  const notes = new Map<number, string>();
  for (const t of tests) {
    if (t.state === 'skipped') continue;
    const verdict = VERDICT_WORD[t.state];
    const name = cut(`${t.suite} › ${t.name}`, NAME_WIDTH);
    const directions = byDirection(t.numbers?.flows ?? []);
    if (directions.length === 0) rows.push([verdict, name, '–', '', '', '', '']);
    directions.forEach((d, i) => {
      rows.push([
        i === 0 ? verdict : '',
        i === 0 ? name : '',
        `${d.from} → ${d.to}`,
        n(d.sent),
        d.lost === 0 ? '0' : `${n(d.lost)} (${percent(d.lost, d.sent)})`,
        us(d.p50Us),
        us(d.p99Us),
      ]);
    });
    for (const tp of t.numbers?.throughput ?? []) rows.push(['', '', `throughput ${tp.frameSize} B`, `${n(tp.pps)} fps`, '', '', '']);
    if ((t.state === 'failed' || t.state === 'inconclusive') && t.headline) notes.set(rows.length - 1, `↳ ${t.headline}`);
  }
  const numeric = [false, false, false, true, true, true, true];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines: string[] = [];
  rows.forEach((r, i) => {
    lines.push(
      r
        .map((cell, c) => (numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    );
    const note = notes.get(i);
    if (note) lines.push(`${' '.repeat(widths[0]! + 2)}${note}`);
  });
  return lines;
}

/** The line that names the run: counts, time, image and lab. */
export function runLine(record: RunRecord): string {
  const c = counts(record.tests);
  const parts = [
    `${c.passed} passed`,
    `${c.failed} failed`,
    ...(c.inconclusive > 0 ? [`${c.inconclusive} inconclusive (the host stalled)`] : []),
    ...(c.skipped > 0 ? [`${c.skipped} skipped`] : []),
  ];
  return (
    `${parts.join(', ')} in ${(record.durationMs / 1000).toFixed(1)} s — image ${record.image.name} ` +
    `(${shortDigest(record.image.digest)}), ${record.role} on a ${record.labKind} lab (${record.profile.name})`
  );
}

export function shortDigest(digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return hex.length > 12 ? `sha256:${hex.slice(0, 12)}` : digest;
}

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

function n(x: number): string {
  return x.toLocaleString('en-US');
}

function us(v: number | null): string {
  if (v === null) return '–';
  return v >= 100 ? n(Math.round(v)) : String(Number(v.toPrecision(3)));
}

function percent(part: number, whole: number): string {
  const p = whole > 0 ? (part / whole) * 100 : 0;
  return `${p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toPrecision(2)}%`;
}
