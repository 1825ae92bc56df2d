// A role's contract on one lab: for every row of its table, the pairwise cases of the part of the
// frame space that row covers (seeded) — so every pair of values is tried within every class of
// frames, and a rule list's later classes are not starved by the earlier ones — each with the frame
// it stands for. One flow per case; the suites send them all in the functional window and judge each
// row's cases in the row's own test. Rows promising either behaviour get each value once.
//
// Pure: settings, the lab's addresses and a seed in, a plan out.
import { caseFrame, type CaseFrame, type ContractAddressing } from './case-frames.ts';
import { NOT_APPLICABLE, valueLabel, type Condition, type FrameCase, type FrameSpace } from './frame-space.ts';
import { pairwiseCases } from './pairwise.ts';
import { contractFor, rowOf, type ContractRow, type RoleContract } from './role-contracts.ts';
import type { ContractSettings } from './settings.ts';

export interface PlannedCase {
  /** 1-based, stable for a seed: "case 17". */
  index: number;
  case: FrameCase;
  row: ContractRow;
  frame: CaseFrame;
  /** The flow's name: "case 17 left→right: known-unicast ipv4 vid-100 pcp-5 …". */
  name: string;
}

export interface ContractPlan {
  contract: RoleContract;
  seed: number;
  cases: PlannedCase[];
  /** Pairs of dimension values some valid case can hold, and how many the cases cover. */
  pairs: { feasible: number; covered: number };
}

export function planContract(settings: ContractSettings, lab: ContractAddressing, seed: number): ContractPlan {
  const contract = contractFor(settings);
  const cases: FrameCase[] = [];
  const pairs = { feasible: 0, covered: 0 };
  const seen = new Set<string>();
  contract.rows.forEach((row, r) => {
    for (const [a, alternative] of row.when.entries()) {
      const space = regionOf(contract, r, alternative);
      const result = pairwiseCases(space, (seed + 7919 * (r + 1) + 104_729 * a) >>> 0, {
        accept: (c) => rowOf(contract, c) === row,
        strength: row.behaviour.kind === 'either' ? 1 : 2,
      });
      pairs.feasible += result.feasiblePairs;
      pairs.covered += result.coveredPairs;
      for (const c of result.cases) {
        const key = JSON.stringify(c);
        if (seen.has(key)) continue;
        seen.add(key);
        cases.push(c);
      }
    }
  });
  const planned = cases.map((c, i): PlannedCase => {
    const index = i + 1;
    const frame = caseFrame(c, index, settings, lab);
    return { index, case: c, row: rowOf(contract, c), frame, name: caseName(contract, index, c, frame) };
  });
  return { contract, seed, cases: planned, pairs };
}

/**
 * The part of the space a row's alternative covers: its conditions narrow the dimensions' values, and
 * so do the earlier rows it must not fall into, wherever one of their conditions is all that is left
 * (the rest the generator's accept check settles).
 */
function regionOf(contract: RoleContract, rowIndex: number, alternative: readonly Condition[]): FrameSpace {
  const domains = new Map(contract.space.dimensions.map((d) => [d.id, new Set(d.values.map((v) => v.id))]));
  const narrow = (c: Condition, keep: boolean) => {
    const domain = domains.get(c.dimension)!;
    for (const v of [...domain]) if (c.oneOf.includes(v) !== keep) domain.delete(v);
  };
  for (const c of alternative) narrow(c, true);
  const alwaysTrue = (c: Condition) => [...domains.get(c.dimension)!].every((v) => c.oneOf.includes(v));
  for (let changed = true; changed;) {
    changed = false;
    for (const earlier of contract.rows.slice(0, rowIndex)) {
      for (const conditions of earlier.when) {
        const open = conditions.filter((c) => !alwaysTrue(c));
        if (open.length !== 1) continue;
        const before = domains.get(open[0]!.dimension)!.size;
        narrow(open[0]!, false);
        if (domains.get(open[0]!.dimension)!.size !== before) changed = true;
      }
    }
  }
  return {
    name: contract.space.name,
    dimensions: contract.space.dimensions.map((d) => ({ ...d, values: d.values.filter((v) => domains.get(d.id)!.has(v.id)) })),
  };
}

function caseName(contract: RoleContract, index: number, c: FrameCase, frame: CaseFrame): string {
  const values = contract.space.dimensions
    .filter((d) => d.id !== 'direction' && c[d.id] !== NOT_APPLICABLE)
    .map((d) => c[d.id])
    .join(' ');
  return `case ${index} ${frame.from === 'left' ? 'left→right' : 'right→left'}: ${values}`;
}

/** A case's values as a reader names them, one per applicable dimension. */
export function describeCase(contract: RoleContract, c: FrameCase): string {
  return contract.space.dimensions
    .filter((d) => c[d.id] !== NOT_APPLICABLE)
    .map((d) => valueLabel(contract.space, d.id, c[d.id]!))
    .join(', ');
}
