// The smallest counterexample: when some cases of a row behave and others do not, which dimension
// values separate them — "frames with EtherType 0x8847 (MPLS) or 802.3 length + LLC never cross; not so
// with EtherType 0x0800 (IPv4), …". Deterministic, for each way of failing (the outcome's phrase), the
// simplest explanation that holds every such failure and no case that behaved:
//  1. values of one dimension (fewest values first, dimensions in the space's order);
//  2. values of several dimensions, one term each (independent faults that fail the same way);
//  3. the same once the values of one dimension that the fault spares are set aside, and the exception
//     named (a rule that cannot see through QinQ, a filter in one direction only);
//  4. values and pairs of values, as long as that is much shorter than the list of failures;
//  5. else: no dimension separates them (loss at random, or load), or the one or two cases named.
// A value counts against an explanation only through cases that behaved: a case that failed another
// way (a second fault) does not.
//
// Pure: cases and outcomes in, sentences out.
import { NOT_APPLICABLE, valueLabel, type FrameCase, type FrameSpace } from './frame-space.ts';
import type { CaseOutcome } from './judge.ts';

export interface JudgedCase {
  case: FrameCase;
  outcome: CaseOutcome;
}

export interface Explanation {
  /** "frames with DSCP 46 (EF) or DSCP 63, ECN CE arrive with DSCP 0; not so with DSCP 0, not ECN-capable" */
  statement: string;
  /** The phrase the failing cases share. */
  what: string;
  /** The failing cases it explains. */
  cases: number[];
  /** The separating values, dimension → values; empty when nothing separates them. */
  separatedBy: Array<{ dimension: string; values: string[] }>;
}

/** Values that must all hold (one, or a pair). */
type Term = ReadonlyArray<{ dimension: string; value: string }>;

/** More separating values than this explain nothing a reader can use. */
const MAX_TERMS = 8;

/** One explanation per way of failing, the most common first. */
export function explainFailures(space: FrameSpace, judged: readonly JudgedCase[]): Explanation[] {
  const byWhat = new Map<string, JudgedCase[]>();
  for (const j of judged) if (j.outcome.verdict === 'fail') byWhat.set(j.outcome.what!, [...(byWhat.get(j.outcome.what!) ?? []), j]);
  return [...byWhat.entries()]
    .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
    .map(([what, failing]) => explainOne(space, judged, what, failing));
}

const matches = (j: JudgedCase, term: Term) => term.every((t) => j.case[t.dimension] === t.value);

/** A term separates within `cases` when it matches some failure of this way and no case that behaved. */
function separates(cases: readonly JudgedCase[], failed: ReadonlySet<JudgedCase>, term: Term): boolean {
  const hits = cases.filter((j) => matches(j, term));
  return hits.some((j) => failed.has(j)) && hits.every((j) => j.outcome.verdict === 'fail');
}

/** The single values (of all dimensions but `except`) that separate within `cases`. */
function separatingValues(space: FrameSpace, cases: readonly JudgedCase[], failed: ReadonlySet<JudgedCase>, except?: string): Term[] {
  return space.dimensions
    .filter((d) => d.id !== except)
    .flatMap((d) => d.values.map((v): Term => [{ dimension: d.id, value: v.id }]))
    .filter((t) => separates(cases, failed, t));
}

/** A greedy cover of the failures by terms (a pair counts for less than a single value), or undefined. */
function greedyCover(failing: readonly JudgedCase[], terms: readonly Term[]): Term[] | undefined {
  const left = new Set(failing);
  const chosen: Term[] = [];
  while (left.size > 0) {
    let best: { term: Term; gain: number } | undefined;
    for (const term of terms) {
      const gain = [...left].filter((j) => matches(j, term)).length * (term.length === 1 ? 1 : 0.75);
      if (gain > 0 && (!best || gain > best.gain)) best = { term, gain };
    }
    if (!best) return undefined;
    chosen.push(best.term);
    for (const j of [...left]) if (matches(j, best.term)) left.delete(j);
  }
  return chosen;
}

/** Single-value terms grouped by dimension, in the space's order. */
function grouped(space: FrameSpace, terms: readonly Term[]): Array<{ dimension: string; values: string[] }> {
  const byDimension = new Map<string, string[]>();
  for (const [t] of terms.filter((x) => x.length === 1))
    byDimension.set(t!.dimension, [...(byDimension.get(t!.dimension) ?? []), t!.value]);
  return space.dimensions.filter((d) => byDimension.has(d.id)).map((d) => ({ dimension: d.id, values: byDimension.get(d.id)! }));
}

function groupPhrases(space: FrameSpace, groups: ReadonlyArray<{ dimension: string; values: readonly string[] }>): string[] {
  return groups.map((g) =>
    listOf(
      g.values.map((v) => valueLabel(space, g.dimension, v)),
      'or',
    ),
  );
}

function explainOne(space: FrameSpace, judged: readonly JudgedCase[], what: string, failing: JudgedCase[]): Explanation {
  const failed = new Set(failing);
  const cases = failing.map((j) => j.outcome.index);
  const some = failing.length < judged.length;
  const singles = separatingValues(space, judged, failed);

  // 1. One dimension: the fewest of its separating values that hold every failure.
  let best: { dimension: string; terms: Term[] } | undefined;
  for (const d of space.dimensions) {
    const chosen = greedyCover(
      failing,
      singles.filter((t) => t[0]!.dimension === d.id),
    );
    if (chosen && (!best || chosen.length < best.terms.length)) best = { dimension: d.id, terms: chosen };
  }
  if (best && some) {
    const values = best.terms.map((t) => t[0]!.value);
    const others = othersOf(space, judged, best.dimension, values);
    const rest =
      others.length > 0
        ? `; not so with ${listOf(
            others.map((v) => valueLabel(space, best!.dimension, v)),
            'or',
          )}`
        : '';
    return {
      what,
      cases,
      separatedBy: [{ dimension: best.dimension, values }],
      statement: `frames with ${listOf(
        values.map((v) => valueLabel(space, best!.dimension, v)),
        'or',
      )} ${what}${rest}`,
    };
  }

  // 2. Values of several dimensions, one term each.
  const several = some ? greedyCover(failing, singles) : undefined;
  if (several && several.length <= MAX_TERMS) {
    const groups = grouped(space, several);
    return {
      what,
      cases,
      separatedBy: groups,
      statement: `frames with ${groupPhrases(space, groups).join(', or with ')} ${what}; not so with the other frames`,
    };
  }

  // 3. A fault that spares some values of one dimension.
  const exception = some ? explainWithException(space, judged, failed, failing) : undefined;
  if (exception) {
    const { dimension, spared, groups } = exception;
    return {
      what,
      cases,
      separatedBy: [...groups, { dimension, values: spared }],
      statement:
        `frames with ${groupPhrases(space, groups).join(', or with ')} ${what}, except with ` +
        `${listOf(
          spared.map((v) => valueLabel(space, dimension, v)),
          'or',
        )}; not so with the other frames`,
    };
  }

  // 4. Values and pairs of values, kept short against the failures; a pair behind one or two failures is chance.
  const pairs: Term[] = [];
  const dims = space.dimensions;
  for (let i = 0; i < dims.length; i++) {
    for (let k = i + 1; k < dims.length; k++) {
      for (const a of dims[i]!.values) {
        for (const b of dims[k]!.values) {
          const term = [
            { dimension: dims[i]!.id, value: a.id },
            { dimension: dims[k]!.id, value: b.id },
          ];
          if (separates(judged, failed, term)) pairs.push(term);
        }
      }
    }
  }
  const mixed = some ? greedyCover(failing, [...singles, ...pairs]) : undefined;
  // One pair that holds two failures and no case that behaved is a cause; one failure is only itself.
  const onlyChancePairs =
    mixed !== undefined && mixed.every((t) => t.length > 1) && (failing.length === 1 || (failing.length === 2 && mixed.length > 1));
  if (mixed && !onlyChancePairs && mixed.length <= Math.min(MAX_TERMS, Math.ceil(failing.length / 2))) {
    const groups = grouped(space, mixed);
    const pairTerms = mixed.filter((t) => t.length > 1);
    const phrases = [
      ...groupPhrases(space, groups),
      ...pairTerms.map((term) => term.map((t) => valueLabel(space, t.dimension, t.value)).join(' and ')),
    ];
    return {
      what,
      cases,
      separatedBy: [...groups, ...pairTerms.flatMap((term) => term.map((t) => ({ dimension: t.dimension, values: [t.value] })))],
      statement: `frames with ${phrases.join(', or with ')} ${what}; not so with the other frames`,
    };
  }

  // 5. Nothing separates them.
  return {
    what,
    cases,
    separatedBy: [],
    statement: !some
      ? `frames of every kind tried ${what} (all ${judged.length} cases)`
      : failing.length <= 2
        ? `${failing.length} of ${judged.length} cases ${what}: ${failing.map((j) => caseValues(space, j.case)).join('; ')}`
        : `${failing.length} of ${judged.length} cases ${what}, with no dimension value separating them from the rest ` +
          '(at random, or under load?)',
  };
}

/**
 * A cover of the failures by values of other dimensions once the values of one dimension that no failure
 * has are set aside — provided that sets aside a minority of its values, spares some case a term would
 * otherwise hold, and keeps the explanation short. The fewest terms win.
 */
function explainWithException(
  space: FrameSpace,
  judged: readonly JudgedCase[],
  failed: ReadonlySet<JudgedCase>,
  failing: readonly JudgedCase[],
): { dimension: string; spared: string[]; groups: Array<{ dimension: string; values: string[] }> } | undefined {
  let best: { dimension: string; spared: string[]; groups: Array<{ dimension: string; values: string[] }>; size: number } | undefined;
  for (const e of space.dimensions) {
    const hit = new Set(failing.map((j) => j.case[e.id]));
    const candidates = e.values.map((v) => v.id).filter((v) => !hit.has(v));
    if (candidates.length === 0 || candidates.length * 2 > e.values.length) continue;
    const inside = judged.filter((j) => !candidates.includes(j.case[e.id] ?? ''));
    const chosen = greedyCover(failing, separatingValues(space, inside, failed, e.id));
    if (!chosen || chosen.length > MAX_TERMS) continue;
    const spared = candidates.filter((v) =>
      judged.some((j) => j.case[e.id] === v && j.outcome.verdict === 'pass' && chosen.some((t) => matches(j, t))),
    );
    if (spared.length === 0) continue;
    if (!best || chosen.length < best.size) best = { dimension: e.id, spared, groups: grouped(space, chosen), size: chosen.length };
  }
  return best && { dimension: best.dimension, spared: best.spared, groups: best.groups };
}

/** A case's values in a few words (its applicable dimensions' value labels). */
function caseValues(space: FrameSpace, c: FrameCase): string {
  return space.dimensions
    .filter((d) => c[d.id] !== undefined && c[d.id] !== NOT_APPLICABLE)
    .map((d) => valueLabel(space, d.id, c[d.id]!))
    .join(', ');
}

/** The other values of a dimension seen in the judged cases (not failing this way), in declaration order. */
function othersOf(space: FrameSpace, judged: readonly JudgedCase[], dimension: string, values: readonly string[]): string[] {
  const seen = new Set(judged.map((j) => j.case[dimension]).filter((v): v is string => v !== undefined && v !== NOT_APPLICABLE));
  const d = space.dimensions.find((x) => x.id === dimension)!;
  return d.values.map((v) => v.id).filter((v) => seen.has(v) && !values.includes(v));
}

function listOf(items: readonly string[], joiner: 'and' | 'or'): string {
  if (items.length <= 1) return items.join('');
  if (items.length > 4) return `${items.slice(0, 3).join(', ')} ${joiner} ${items.length - 3} more`;
  return `${items.slice(0, -1).join(', ')} ${joiner} ${items[items.length - 1]}`;
}
