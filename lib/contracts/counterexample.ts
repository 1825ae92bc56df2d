// The smallest counterexample: when some cases of a row behave and others do not, which dimension
// values separate them — "frames with EtherType 0x8847 (MPLS) or EtherType 0x88b5 never cross; the
// other EtherTypes do". Deterministic: for each way of failing (the outcome's phrase), find the values
// of one dimension whose cases all failed that way and that together hold every such failure (fewest
// values first, dimensions in the space's order); failing that, values of several dimensions and pairs
// of values (faults that fail the same way, or a fault that spares some frames), as long as that is
// much shorter than the list of failures; failing that, say that no dimension separates them (loss at
// random, or load).
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

type Term = Array<{ dimension: string; value: string }>;

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

function explainOne(space: FrameSpace, judged: readonly JudgedCase[], what: string, failing: JudgedCase[]): Explanation {
  const failed = new Set(failing);
  const matches = (j: JudgedCase, term: Term) => term.every((t) => j.case[t.dimension] === t.value);
  // A term is pure when every case it matches failed this way.
  // A term separates when it matches some case that failed this way and no case that behaved: cases
  // that failed another way do not count against it (two faults may overlap on a case).
  const pure = (term: Term) => {
    const hits = judged.filter((j) => matches(j, term));
    return hits.some((j) => failed.has(j)) && hits.every((j) => j.outcome.verdict === 'fail');
  };
  const cover = (terms: Term[]): Term[] | undefined => {
    const left = new Set(failing);
    const chosen: Term[] = [];
    while (left.size > 0) {
      let best: { term: Term; gain: number } | undefined;
      for (const term of terms) {
        // A pair counts for less than a single value: the simpler cause wins a tie and most near-ties.
        const gain = [...left].filter((j) => matches(j, term)).length * (term.length === 1 ? 1 : 0.75);
        if (gain > 0 && (!best || gain > best.gain)) best = { term, gain };
      }
      if (!best) return undefined;
      chosen.push(best.term);
      for (const j of [...left]) if (matches(j, best.term)) left.delete(j);
    }
    return chosen;
  };
  const cases = failing.map((j) => j.outcome.index);
  // One dimension: its pure values, the fewest that hold every failure.
  let best: { dimension: string; terms: Term[] } | undefined;
  for (const d of space.dimensions) {
    const terms = d.values.map((v) => [{ dimension: d.id, value: v.id }]).filter(pure);
    const chosen = cover(terms);
    if (chosen && (!best || chosen.length < best.terms.length)) best = { dimension: d.id, terms: chosen };
  }
  if (best && failing.length < judged.length) {
    const values = best.terms.map((t) => t[0]!.value);
    const others = othersOf(space, judged, best.dimension, values);
    const d = space.dimensions.find((x) => x.id === best!.dimension)!;
    const labels = values.map((v) => valueLabel(space, d.id, v));
    const rest =
      others.length > 0
        ? `; not so with ${listOf(
            others.map((v) => valueLabel(space, d.id, v)),
            'or',
          )}`
        : '';
    return {
      what,
      cases,
      separatedBy: [{ dimension: d.id, values }],
      statement: `frames with ${listOf(labels, 'or')} ${what}${rest}`,
    };
  }
  // Values of several dimensions, and pairs of values where one value alone is not the cause (faults that
  // fail the same way, or a fault that spares some frames): a greedy cover, single values preferred. It
  // must be short against the failures it explains, or it only restates them case by case.
  const dims = space.dimensions;
  const singles = dims.flatMap((d) => d.values.map((v) => [{ dimension: d.id, value: v.id }])).filter(pure);
  const pairs: Term[] = [];
  for (let i = 0; i < dims.length; i++) {
    for (let k = i + 1; k < dims.length; k++) {
      for (const a of dims[i]!.values) {
        for (const b of dims[k]!.values) {
          const term = [
            { dimension: dims[i]!.id, value: a.id },
            { dimension: dims[k]!.id, value: b.id },
          ];
          if (failing.some((j) => matches(j, term)) && pure(term)) pairs.push(term);
        }
      }
    }
  }
  const mixed = failing.length < judged.length ? cover([...singles, ...pairs]) : undefined;
  // A pair of values behind one or two failures is as likely chance as cause: it explains nothing then.
  const onlyChancePairs = mixed !== undefined && failing.length <= 2 && mixed.every((t) => t.length > 1);
  if (mixed && !onlyChancePairs && mixed.length <= Math.min(MAX_TERMS, Math.ceil(failing.length / 2))) {
    const byDimension = new Map<string, string[]>();
    for (const term of mixed.filter((t) => t.length === 1)) {
      byDimension.set(term[0]!.dimension, [...(byDimension.get(term[0]!.dimension) ?? []), term[0]!.value]);
    }
    const groups = dims.filter((d) => byDimension.has(d.id)).map((d) => [d.id, byDimension.get(d.id)!] as const);
    const phrases = [
      ...groups.map(([d, values]) =>
        listOf(
          values.map((v) => valueLabel(space, d, v)),
          'or',
        ),
      ),
      ...mixed.filter((t) => t.length > 1).map((term) => term.map((t) => valueLabel(space, t.dimension, t.value)).join(' and ')),
    ];
    return {
      what,
      cases,
      separatedBy: [
        ...groups.map(([dimension, values]) => ({ dimension, values: [...values] })),
        ...mixed.filter((t) => t.length > 1).flatMap((term) => term.map((t) => ({ dimension: t.dimension, values: [t.value] }))),
      ],
      statement: `frames with ${phrases.join(', or with ')} ${what}; not so with the other frames`,
    };
  }
  const all = failing.length === judged.length;
  return {
    what,
    cases,
    separatedBy: [],
    statement: all
      ? `frames of every kind tried ${what} (all ${judged.length} cases)`
      : failing.length <= 2
        ? `${failing.length} of ${judged.length} cases ${what}: ${failing.map((j) => caseValues(space, j.case)).join('; ')}`
        : `${failing.length} of ${judged.length} cases ${what}, with no dimension value separating them from the rest (at random, or under load?)`,
  };
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
