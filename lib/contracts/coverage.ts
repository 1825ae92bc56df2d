// The coverage matrix of a contract run: for every dimension and value of the frame space, how many
// cases and frames were sent with it and how many behaved as promised. It shows what a
// qualification is worth — which kinds of frame were tried — and where the failures sit.
//
// Pure: judged cases in, a matrix (and its text and CSV forms) out.
import { NOT_APPLICABLE, type FrameSpace } from './frame-space.ts';
import type { CaseOutcome } from './judge.ts';
import type { PlannedCase } from './plan.ts';

export interface CoverageCell {
  dimension: string;
  value: string;
  label: string;
  cases: number;
  frames: number;
  /** Cases that behaved as promised, failed, or whose row promises either way (reported only). */
  behaved: number;
  failed: number;
  either: number;
}

export function coverageMatrix(
  space: FrameSpace,
  judged: ReadonlyArray<{ planned: PlannedCase; outcome: CaseOutcome; frames: number }>,
): CoverageCell[] {
  const cells: CoverageCell[] = [];
  for (const d of space.dimensions) {
    for (const v of d.values) {
      const mine = judged.filter((j) => j.planned.case[d.id] === v.id);
      cells.push({
        dimension: d.id,
        value: v.id,
        label: v.label,
        cases: mine.length,
        frames: mine.reduce((sum, j) => sum + j.frames, 0),
        behaved: mine.filter((j) => j.outcome.verdict === 'pass').length,
        failed: mine.filter((j) => j.outcome.verdict === 'fail').length,
        either: mine.filter((j) => j.outcome.verdict === 'either').length,
      });
    }
  }
  return cells;
}

/** Values of the space no case tried: what the qualification did not cover. */
export function untried(cells: readonly CoverageCell[]): CoverageCell[] {
  return cells.filter((c) => c.cases === 0);
}

/** The matrix as an aligned text table (dimension, value, cases, frames, behaved, failed). */
export function coverageText(space: FrameSpace, cells: readonly CoverageCell[]): string {
  const header = ['dimension', 'value', 'cases', 'frames', 'as promised', 'failed', 'either'];
  const rows = cells.map((c) => [
    space.dimensions.find((d) => d.id === c.dimension)!.label,
    c.label,
    String(c.cases),
    String(c.frames),
    String(c.behaved),
    String(c.failed),
    String(c.either),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => (i < 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function coverageCsv(cells: readonly CoverageCell[]): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return [
    'dimension,value,label,cases,frames,as_promised,failed,either',
    ...cells.map((c) => [c.dimension, c.value, q(c.label), c.cases, c.frames, c.behaved, c.failed, c.either].join(',')),
  ].join('\n');
}

export { NOT_APPLICABLE };
