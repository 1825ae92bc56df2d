// How the policy suite sends its probes, so that a verdict comes from the policy and not from how much
// traffic the suite pushes into the guest at once:
// - the functional window: every flow the policy does not rate-limit, a few frames each, slowly (the
//   whole window stays far below what a guest under software emulation forwards without loss);
// - one rate window per rate-limited class: each of its frame kinds measured alone, one after another,
//   at a multiple of the declared rate (a class's limit is its own, so nothing else shares the guest
//   meanwhile); then the probes just outside the class at that same load, beside a baseline — traffic no
//   class matches, on the same path, at the same rate — so a probe's loss is judged against the path's
//   own loss: a rule written too wide limits the probe to the declared rate, far beyond what the path
//   alone loses. The same probes are also sent slowly in the functional window, where they must all cross.
//
// Pure: probes and their classification in, flows with their windows and shapes out.
import type { Side } from '../core/sides.ts';
import { classify, type Classification } from './classify.ts';
import type { Policy, PolicyClass } from './model.ts';
import { unmatchedFrame, type Probe } from './probes.ts';

/** Every non-rate flow: this many frames, at this rate, this size — the window lasts count / rate seconds. */
export const FUNCTIONAL_SHAPE = { count: 20, ratePps: 10, size: 128 } as const;
/** Rate windows: frames this large, offered at this multiple of the declared rate, for this long per segment. */
export const RATE_FRAME = 512;
export const RATE_OVERLOAD = 3;
export const RATE_SEGMENT_S = 4;
/** Between two segments of a rate window: a policer's bucket refills, the guest's queues drain. */
export const RATE_GAP_S = 0.5;
/** The most a rate segment offers per flow: well inside what a TCG guest forwards without loss. */
export const MAX_RATE_PPS = 600;
/**
 * A probe beside the baseline fails as "too wide" when it loses this share of what a limiter at the
 * declared rate would take from it (1 − 1/overload) more than the baseline lost: a quarter of two
 * thirds, far above the path's own loss at that load and far below a limiter's.
 */
export const TOO_WIDE_SHARE = 0.25;

export interface FlowShape {
  count: number;
  ratePps: number;
  size: number;
  /** After the window's start: segments of a rate window go one after another. */
  startMs: number;
}

export interface PlannedFlow {
  /** Unique within its window. */
  name: string;
  probe: Probe;
  expected: Classification;
  /** 'functional', or 'rate <class>'. */
  window: string;
  shape: FlowShape;
  /**
   * 'strict': judged alone (every frame as declared); 'beside-baseline': its loss judged against the baseline's
   * from the same side in the same segment; 'baseline': the path's own loss at that load, not judged itself.
   */
  judge: 'strict' | 'beside-baseline' | 'baseline';
}

export const FUNCTIONAL_WINDOW = 'functional';
export const rateWindow = (c: PolicyClass) => `rate ${c.name}`;

/** The declared rate of a rate-limit class in frames/s of the rate window's frames. */
export function declaredFps(c: PolicyClass | undefined): number | undefined {
  if (c?.behaviour.action !== 'rate-limit') return undefined;
  const { framesPerSecond, bitsPerSecond } = c.behaviour.rate;
  return framesPerSecond ?? bitsPerSecond! / (RATE_FRAME * 8);
}

/** The load a rate window offers per flow: the overload multiple of the declared rate, capped. */
export function rateShape(fps: number, startMs: number): FlowShape {
  const ratePps = Math.min(MAX_RATE_PPS, RATE_OVERLOAD * fps);
  return { count: Math.round(ratePps * RATE_SEGMENT_S), ratePps, size: RATE_FRAME, startMs };
}

/** The flows of a policy's probes, each in its window with its shape; `expected` is what the policy says of each probe's frame. */
export function planPolicyTraffic(policy: Policy, probes: readonly { probe: Probe; expected: Classification }[]): PlannedFlow[] {
  const flows: PlannedFlow[] = [];
  const segments = new Map<string, number>();
  const nextSegment = (window: string) => {
    const n = segments.get(window) ?? 0;
    segments.set(window, n + 1);
    return n * (RATE_SEGMENT_S + RATE_GAP_S) * 1000;
  };
  const besideBaseline: { probe: Probe; expected: Classification; of: PolicyClass }[] = [];
  for (const { probe, expected } of probes) {
    const limitedBy = declaredFps(expected.class) !== undefined ? expected.class! : undefined;
    if (limitedBy) {
      const window = rateWindow(limitedBy);
      flows.push({
        name: probe.name,
        probe,
        expected,
        window,
        shape: rateShape(declaredFps(limitedBy)!, nextSegment(window)),
        judge: 'strict',
      });
      continue;
    }
    flows.push({
      name: probe.name,
      probe,
      expected,
      window: FUNCTIONAL_WINDOW,
      shape: { ...FUNCTIONAL_SHAPE, startMs: 0 },
      judge: 'strict',
    });
    const source = policy.classes.find((c) => c.name === probe.of);
    if (declaredFps(source) !== undefined) besideBaseline.push({ probe, expected, of: source! });
  }
  // Each rate class's probes, all in one last segment of its window, with a baseline from each side they come from.
  for (const c of policy.classes) {
    const mine = besideBaseline.filter((x) => x.of === c);
    if (mine.length === 0) continue;
    const window = rateWindow(c);
    const shape = rateShape(declaredFps(c)!, nextSegment(window));
    const sides = [...new Set(mine.map((x) => x.probe.from))];
    const baselines = sides.flatMap((from) => baselineOf(policy, c, from));
    for (const { probe, expected } of mine) {
      const hasBaseline = baselines.some((b) => b.probe.from === probe.from);
      flows.push({ name: `${probe.name}, at the rate`, probe, expected, window, shape, judge: hasBaseline ? 'beside-baseline' : 'strict' });
    }
    for (const b of baselines) flows.push({ ...b, window, shape });
  }
  return flows;
}

/** Traffic no class matches from one side, that the policy forwards: the path's own loss. None when the default drops it. */
function baselineOf(policy: Policy, c: PolicyClass, from: Side): Omit<PlannedFlow, 'window' | 'shape'>[] {
  const frame = unmatchedFrame(policy, from);
  if (!frame) return [];
  const expected = classify(policy, frame, from);
  if (expected.behaviour !== 'role' && expected.behaviour.action !== 'forward') return [];
  const arrow = from === 'left' ? 'left→right' : 'right→left';
  const probe: Probe = {
    name: `${c.name}: baseline, UDP no class matches ${arrow}`,
    of: c.name,
    kind: 'unmatched',
    what: 'baseline, UDP no class matches',
    from,
    frame,
    variant: { l3: frame.l3, tagged: false },
  };
  return [{ name: probe.name, probe, expected, judge: 'baseline' }];
}
