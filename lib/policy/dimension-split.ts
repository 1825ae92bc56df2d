// When a class's in-class frames behave as declared for some values of an open dimension and not for
// others — IPv4 dropped but IPv6 crossing, untagged frames dropped but tagged ones crossing — the
// class's failure says so in one line, naming the dimension and the values that separate them ("IPv6
// frames cross, IPv4 are dropped — the rule matches IPv4 only"), instead of one line per frame kind.
// The search is deterministic: each dimension alone first, then the failing combinations.
//
// Pure: per-variant outcomes in, match results out.
import { flowPath, type Side } from '../core/sides.ts';
import type { FlowResult } from '../analysis/flow-report.ts';
import type { MatchResult } from '../analysis/matchers.ts';
import { describeRate, type Behaviour } from './model.ts';
import { L3_NAMES, type Probe, type Variant } from './probes.ts';

/** How one in-class frame kind fared: its flow, what the policy declares for it, and its failing checks. */
export interface VariantOutcome {
  probe: Probe;
  result: FlowResult;
  behaviour: Behaviour;
  failures: MatchResult[];
}

export interface DimensionSplit {
  result: MatchResult;
  /** The flows whose failures the split stands for (their details are in its message). */
  folded: string[];
}

type Dimension = keyof Variant;
const DIMENSIONS: readonly Dimension[] = ['l3', 'tagged'];

/**
 * One split per side (or one for both ways when they read the same) where the variants of a class disagree;
 * where every variant from a side fails, one result too: the first variant's headline, standing for them all
 * (a class dropped from one side only, a wrong rewrite value, a missing policer hold for every kind of frame).
 */
export function splitByDimension(className: string, outcomes: readonly VariantOutcome[]): DimensionSplit[] {
  const perSide = (['left', 'right'] as const)
    .map((side) => ({ side, split: splitOneSide(outcomes.filter((o) => o.probe.from === side && o.probe.kind === 'in-class')) }))
    .filter((x): x is { side: Side; split: SideSplit } => x.split !== undefined);
  const label = (dir: string) => `class "${className}" ${dir}`;
  const [a, b] = perSide;
  if (a && b && a.split.text !== undefined && a.split.text === b.split.text)
    return [split(`${label('both ways')}: ${a.split.text}`, [...a.split.failing, ...b.split.failing])];
  return perSide.map(({ side, split: s }) =>
    split(
      s.text === undefined ? s.failing[0]!.failures[0]!.headline : `${label(side === 'left' ? 'left→right' : 'right→left')}: ${s.text}`,
      s.failing,
    ),
  );
}

interface SideSplit {
  /** What separates the frames that behave from those that do not; undefined when none behaves. */
  text?: string;
  failing: VariantOutcome[];
}

function splitOneSide(outcomes: readonly VariantOutcome[]): SideSplit | undefined {
  const failing = outcomes.filter((o) => o.failures.length > 0);
  const passing = outcomes.filter((o) => o.failures.length === 0);
  if (failing.length === 0) return undefined;
  if (passing.length === 0) return failing.length > 1 ? { failing } : undefined;
  const failPhrase = common(failing.map(failedPhrase)) ?? 'do not behave as declared';
  const passPhrase = common(passing.map((o) => declaredPhrase(o.behaviour))) ?? 'behave as declared';
  for (const dim of DIMENSIONS) {
    const failValues = distinct(failing.map((o) => o.probe.variant[dim]));
    const passValues = distinct(passing.map((o) => o.probe.variant[dim]));
    if (failValues.some((v) => passValues.includes(v))) continue;
    const fails = valueNames(dim, failValues);
    const passes = valueNames(dim, passValues);
    const scope = dim === 'tagged' ? `${passes} frames` : passes;
    return { text: `${fails} frames ${failPhrase}, ${passes} ${passPhrase} — the rule matches ${scope} only.`, failing };
  }
  const kinds = failing.map((o) => variantName(o.probe.variant)).join(', ');
  return { text: `${kinds} frames ${failPhrase}, the class's other frames ${passPhrase} — the rule misses ${kinds} frames.`, failing };
}

function split(headline: string, folded: VariantOutcome[]): DimensionSplit {
  const details = folded.flatMap((o) => o.failures.map((f) => `  ${o.probe.name}: ${f.message.replace(/\n/g, '\n    ')}`));
  return {
    result: { pass: false, headline, message: [headline, ...details].join('\n') },
    folded: folded.map((o) => o.probe.name),
  };
}

/** What the frames did that the class does not declare, in a few words. */
function failedPhrase(o: VariantOutcome): string {
  const f = o.result;
  const p = flowPath(f);
  const reached = f.received[p.ingress];
  const crossed = f.received[p.egress];
  if (reached === 0) return 'never reach the guest';
  if (crossed === 0) return 'are dropped';
  switch (o.behaviour.action) {
    case 'drop':
      return 'cross';
    case 'rate-limit':
      return `miss the declared ${describeRate(o.behaviour.rate)}`;
    case 'rewrite':
      return Object.keys(f.rewrites.changeSets).length === 0 ? 'cross unchanged' : 'arrive rewritten wrongly';
    case 'forward':
      return crossed < reached ? 'are partly dropped' : 'arrive changed';
  }
}

/** What the class declares, said of the frames that did it. */
function declaredPhrase(b: Behaviour): string {
  switch (b.action) {
    case 'drop':
      return 'are dropped';
    case 'forward':
      return 'cross';
    case 'rewrite':
      return `arrive with ${Object.entries(b.set)
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(', ')}`;
    case 'rate-limit':
      return `are limited to ${describeRate(b.rate)}`;
  }
}

function valueNames(dim: Dimension, values: (string | boolean)[]): string {
  const names = values.map((v) => (dim === 'l3' ? L3_NAMES[v as Variant['l3']] : v ? '802.1Q-tagged' : 'untagged'));
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function variantName(v: Variant): string {
  return `${L3_NAMES[v.l3]} ${v.tagged ? '802.1Q-tagged' : 'untagged'}`;
}

function distinct<T>(values: T[]): T[] {
  return [...new Set(values)];
}

function common(values: string[]): string | undefined {
  return values.every((v) => v === values[0]) ? values[0] : undefined;
}
