// All-pairs combination of a frame space (combinatorial test design): every value of every
// dimension meets every value of every other dimension in at least one case, wherever the space's
// conditions allow the two together. Hundreds of cases instead of the millions of the full product,
// and any fault that depends on one or two dimensions is exercised.
//
// Greedy, in the AETG manner: each new case starts from a pair not yet covered and fills the other
// dimensions with the value that covers the most new pairs; ties are broken by a seeded generator,
// so a seed always yields the same cases (`wirelab run --seed N` replays a run) and different seeds
// try different higher-order combinations.
//
// Pure: a space and a seed in, cases out.
import { allowed, applies, holds, NOT_APPLICABLE, type Condition, type FrameCase, type FrameSpace } from './frame-space.ts';

/** A small, fast, seeded generator (mulberry32): the same seed, the same sequence on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Assigned = Record<string, string>;

const pairKey = (a: string, av: string, b: string, bv: string) => `${a}=${av}|${b}=${bv}`;

/**
 * Whether a partial case can be completed to a valid case (depth-first over the unassigned
 * dimensions, in declaration order). `fixed` pins dimensions to values out of order.
 */
function completion(
  space: FrameSpace,
  fixed: Readonly<Assigned>,
  pick: (options: string[]) => string[],
  accept: (c: FrameCase) => boolean = () => true,
): Assigned | undefined {
  const dims = space.dimensions;
  // The conditions each pinned dimension needs (its own `when`, its pinned value's `requires`): a
  // branch that already breaks one is cut at once instead of being walked to the end.
  const pinnedNeeds = dims
    .map((d, index) => ({ d, index, value: fixed[d.id] }))
    .filter((p) => p.value !== undefined)
    .map(({ d, index, value }) => ({
      index,
      when: d.when ?? [],
      requires: value === NOT_APPLICABLE ? [] : (d.values.find((v) => v.id === value)?.requires ?? []),
      notApplicable: value === NOT_APPLICABLE,
    }));
  const broken = (i: number, assigned: Assigned): boolean =>
    pinnedNeeds.some((p) => {
      if (p.index < i) return false;
      const states = p.when.map((c: Condition) => holds(c, assigned));
      if (p.notApplicable) return states.length > 0 && states.every((x) => x === true);
      return states.some((x) => x === false) || p.requires.some((c: Condition) => holds(c, assigned) === false);
    });
  // Depth-first, assigning in place and undoing on the way back (this runs tens of thousands of times per plan).
  const assigned: Assigned = {};
  const walk = (i: number): boolean => {
    if (i === dims.length) return accept(assigned);
    if (broken(i, assigned)) return false;
    const d = dims[i]!;
    const pinned = fixed[d.id];
    if (!applies(d, assigned)) {
      if (pinned !== undefined && pinned !== NOT_APPLICABLE) return false;
      assigned[d.id] = NOT_APPLICABLE;
      if (walk(i + 1)) return true;
      delete assigned[d.id];
      return false;
    }
    if (pinned === NOT_APPLICABLE) return false;
    const candidates = pinned !== undefined ? [pinned] : pick(d.values.map((v) => v.id));
    for (const id of candidates) {
      const value = d.values.find((v) => v.id === id);
      if (!value || !allowed(value, assigned)) continue;
      assigned[d.id] = id;
      if (walk(i + 1)) return true;
      delete assigned[d.id];
    }
    return false;
  };
  return walk(0) ? { ...assigned } : undefined;
}

/** Every pair of (dimension, value) that some valid case contains. */
export function feasiblePairs(space: FrameSpace, accept?: (c: FrameCase) => boolean): Set<string> {
  const pairs = new Set<string>();
  const dims = space.dimensions;
  for (let i = 0; i < dims.length; i++) {
    for (let j = i + 1; j < dims.length; j++) {
      for (const a of dims[i]!.values) {
        for (const b of dims[j]!.values) {
          if (completion(space, { [dims[i]!.id]: a.id, [dims[j]!.id]: b.id }, (o) => o, accept)) {
            pairs.add(pairKey(dims[i]!.id, a.id, dims[j]!.id, b.id));
          }
        }
      }
    }
  }
  return pairs;
}

function pairsOf(space: FrameSpace, c: Readonly<Assigned>): string[] {
  const dims = space.dimensions;
  const out: string[] = [];
  for (let i = 0; i < dims.length; i++) {
    const av = c[dims[i]!.id];
    if (av === undefined || av === NOT_APPLICABLE) continue;
    for (let j = i + 1; j < dims.length; j++) {
      const bv = c[dims[j]!.id];
      if (bv !== undefined && bv !== NOT_APPLICABLE) out.push(pairKey(dims[i]!.id, av, dims[j]!.id, bv));
    }
  }
  return out;
}

export interface PairwiseResult {
  cases: FrameCase[];
  /** Pairs that some valid case can contain, and how many of them the cases cover (all, by construction). */
  feasiblePairs: number;
  coveredPairs: number;
}

export interface PairwiseOptions {
  /** Only cases this accepts are valid (conditions the dimensions' declarations cannot state). */
  accept?: (c: FrameCase) => boolean;
  /** Cover single values only (each value in at least one case), not pairs. */
  strength?: 1 | 2;
  /** Candidate cases tried per step; the one covering the most new pairs is kept. */
  candidates?: number;
  maxCases?: number;
}

/** Cases covering every feasible pair of values (or every value), seeded and reproducible. */
export function pairwiseCases(space: FrameSpace, seed: number, options: PairwiseOptions = {}): PairwiseResult {
  const random = seededRandom(seed);
  const accept = options.accept ?? (() => true);
  const candidates = options.candidates ?? 4;
  const shuffle = <T>(xs: T[]): T[] => {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
  const dims = space.dimensions;
  const singles = (c: Readonly<Assigned>) =>
    dims.filter((d) => c[d.id] !== undefined && c[d.id] !== NOT_APPLICABLE).map((d) => `${d.id}=${c[d.id]}`);
  const itemsOf = options.strength === 1 ? singles : (c: Readonly<Assigned>) => pairsOf(space, c);
  const feasible =
    options.strength === 1
      ? new Set(
          dims.flatMap((d) => d.values.filter((v) => completion(space, { [d.id]: v.id }, (o) => o, accept)).map((v) => `${d.id}=${v.id}`)),
        )
      : feasiblePairs(space, accept);
  const uncovered = new Set(feasible);
  const cases: FrameCase[] = [];
  const maxCases = options.maxCases ?? 2000;
  // Starting points are taken in a seeded order, so the same seed gives the same cases.
  const startOf = (item: string): Assigned => Object.fromEntries(item.split('|').map((p) => p.split('=') as [string, string]));
  const candidate = (start: Assigned): Assigned | undefined => {
    const fixed: Assigned = { ...start };
    for (const d of shuffle([...dims])) {
      if (fixed[d.id] !== undefined) continue;
      let best: { id: string; gain: number } | undefined;
      for (const v of shuffle(d.values.map((x) => x.id))) {
        const trial = { ...fixed, [d.id]: v };
        if (!completion(space, trial, (o) => o, accept)) continue;
        const gain = itemsOf(trial).filter((p) => uncovered.has(p)).length;
        if (!best || gain > best.gain) best = { id: v, gain };
      }
      // No value fits with what is fixed: the dimension does not apply here (completion decides).
      if (best) fixed[d.id] = best.id;
    }
    return completion(space, fixed, (o) => o, accept) ?? completion(space, start, shuffle, accept);
  };
  while (uncovered.size > 0 && cases.length < maxCases) {
    // Each new case starts from an uncovered item; of a few candidates, the one covering the most wins.
    const starts = shuffle([...uncovered].slice(0, 64)).slice(0, candidates);
    let best: { full: Assigned; gain: number } | undefined;
    for (const start of starts) {
      const full = candidate(startOf(start));
      if (!full) {
        uncovered.delete(start); // cannot happen for a feasible item; never loop on it
        continue;
      }
      const gain = itemsOf(full).filter((p) => uncovered.has(p)).length;
      if (!best || gain > best.gain) best = { full, gain };
    }
    if (!best) continue;
    for (const p of itemsOf(best.full)) uncovered.delete(p);
    cases.push(Object.freeze(best.full));
  }
  return { cases, feasiblePairs: feasible.size, coveredPairs: feasible.size - uncovered.size };
}
