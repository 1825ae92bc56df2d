// RFC 2544 ("Benchmarking Methodology for Network Interconnect Devices") measurements as pure search
// logic: each one drives a trial function it is given — "offer this load, tell me what was sent,
// received and achieved" — and decides what to try next. The lab side (sending the frames through a
// real guest, measuring the lab's ceiling) lives in trials.ts; here a trial is only a function, so the
// searches are unit-tested with a fake device in milliseconds.
//
//   throughput      §26.1  NDR (no loss) and PDR (loss within a declared ratio) from one search, each
//                          confirmed by repeat trials at its final rate (as NFVbench / CSIT MLRsearch, VSPERF)
//   latency         §26.2  at the NDR
//   frame loss rate §26.3  loss at offered rates from the ceiling down, in steps, until two steps lose nothing
//   back-to-back    §26.4  the longest burst at top speed that arrives whole (binary search on burst length)
//
// Every trial keeps the rate that was offered next to the rate the generator achieved, so a slow
// generator is never blamed on the device: a trial whose generator fell short is flagged, and a
// bound found at a rate the generator did not reach is credited only with what it sent, and says so.
import type { Percentiles } from '../analysis/flow-report.ts';

/** RFC 2544 §9.1 frame sizes for Ethernet, on the wire (with the 4-byte FCS). */
export const RFC2544_FRAME_SIZES = [64, 128, 256, 512, 1024, 1280, 1518] as const;
/** Captures and senders never see the FCS: a 64-byte frame on the wire is 60 bytes to build. */
export const FCS_BYTES = 4;

export function frameBytesWithoutFcs(wireSize: number): number {
  return wireSize - FCS_BYTES;
}

/** What one trial observed. Rates are frames/s of the whole offered load. */
export interface TrialResult {
  /** The rate the trial was asked to offer. */
  offeredPps: number;
  /** The rate the generator actually sent at (tcpreplay's own figure). */
  achievedPps: number;
  sent: number;
  received: number;
  /** sent − received (never negative). */
  lost: number;
  latencyUs?: Percentiles | null;
  /** Frames the captures themselves dropped: counts may be low when this is not 0. */
  captureDrops?: number;
}

export type Trial = (offeredPps: number) => Promise<TrialResult>;

/** The highest rate a search offers: what this lab can send through its own path, or what the profile says. */
export interface LabCeiling {
  /** Frame size on the wire. */
  wireSize: number;
  /** Frames/s per direction. */
  pps: number;
  /** 'measured': a top-speed burst through the lab; 'profile': the profile's (or an override's) maxPps. */
  source: 'measured' | 'profile';
  /** The slower side's generator at top speed (measured only). */
  generatorPps?: number;
  /** Share of the burst's frames that reached the guest's ports: the lab's own path (measured only). */
  deliveredShare?: number;
  /** Frames the captures dropped during the measurement. */
  captureDrops?: number;
}

/** A trial with the verdict the search gave it. */
export interface JudgedTrial extends TrialResult {
  passed: boolean;
  lossRatio: number;
  /** The generator achieved less than `generatorShortfall` of the offered rate. */
  generatorShort: boolean;
}

export interface LossCriterion {
  /** Loss ratio still counted as "no loss" (0 = the RFC's zero loss; e.g. 0.001 = 0.1 %). */
  lossTolerance: number;
  /** Achieved/offered below this marks the generator as short (default 0.9). */
  generatorShortfall?: number;
}

export function lossRatio(r: Pick<TrialResult, 'sent' | 'lost'>): number {
  return r.sent > 0 ? r.lost / r.sent : 0;
}

export function judge(r: TrialResult, c: LossCriterion): JudgedTrial {
  const ratio = lossRatio(r);
  const passed = r.sent > 0 && (c.lossTolerance === 0 ? r.lost === 0 : ratio <= c.lossTolerance);
  return {
    ...r,
    passed,
    lossRatio: ratio,
    generatorShort: r.offeredPps > 0 && r.achievedPps < r.offeredPps * (c.generatorShortfall ?? 0.9),
  };
}

// ---------------------------------------------------------------------------------------------
// Throughput: NDR and PDR from one search (MLRsearch-like)

export interface NdrPdrOptions {
  /** The highest rate offered (the lab's measured ceiling, or the profile's): the search starts there. */
  ceilingPps: number;
  /** Loss ratio the PDR may have, e.g. 0.005; the NDR has none. */
  pdrLossRatio: number;
  /** A bound is found when its last pass and first fail are this fraction of the first fail apart (e.g. 0.05). */
  resolution: number;
  /** Lowest rate tried: losing frames even there means the bound is 0. */
  minPps: number;
  /** Bound on all trials of the search, confirmations included. */
  maxTrials: number;
  /** Repeats at each final rate; one that fails makes that rate a failing one and the search goes on below it. */
  confirmTrials: number;
  generatorShortfall?: number;
}

export type SearchPurpose = 'ceiling' | 'guess' | 'ndr' | 'pdr' | 'confirm ndr' | 'confirm pdr';

export interface SearchTrial extends JudgedTrial {
  /** Met the PDR's loss ratio (`passed` is the NDR's zero loss). */
  pdrPassed: boolean;
  /** Why the search ran it. */
  purpose: SearchPurpose;
}

export interface Spread {
  min: number;
  max: number;
}

/** How the trials at one rate differed: the search's own and its confirmations. */
export interface TrialSpread {
  trials: number;
  lossRatio: Spread;
  achievedPps: Spread;
  /** Frames/s per direction that came out of the guest (achieved × (1 − loss ratio)). */
  forwardingPps: Spread;
}

export interface RateBound {
  /**
   * The highest offered rate meeting the criterion in every trial there — only the achieved rate when the
   * generator fell short in all of them; 0 when none did.
   */
  ratePps: number;
  /** The best rate the generator achieved in the trials at that rate (0 when none passed). */
  achievedPps: number;
  /** The generator fell short in every trial there: `ratePps` is what it achieved, not what was offered. */
  generatorShort: boolean;
  /** The lowest offered rate that failed (undefined when the ceiling passed). */
  failedAbovePps?: number;
  limitedBy: 'device' | 'ceiling' | 'generator';
  /** Every trial at the final rate (the search's and the confirmations); all met the criterion. */
  atRate: SearchTrial[];
  spread?: TrialSpread;
  /** Rates that passed once and then failed a confirmation (the search went on below them). */
  unconfirmed: number[];
}

export interface NdrPdrResult {
  ceilingPps: number;
  pdrLossRatio: number;
  /** Zero loss. */
  ndr: RateBound;
  /** Loss at most pdrLossRatio. */
  pdr: RateBound;
  trials: SearchTrial[];
  /** The trial budget ran out before both bounds were found to the resolution and confirmed. */
  budgetExhausted: boolean;
}

type Criterion = (t: SearchTrial) => boolean;
const NDR: Criterion = (t) => t.passed;
const PDR: Criterion = (t) => t.pdrPassed;

/**
 * NDR and PDR in one search, reusing every trial for both: a trial that loses nothing passes both; one
 * within the PDR ratio passes the PDR and bounds the NDR from above. The ceiling comes first; when it
 * fails, the rate the guest forwarded there is the next guess (a saturated device forwards at about its
 * limit); then bisection for the NDR, then for the PDR inside what the NDR's trials already showed.
 * Each final rate is confirmed by repeat trials; a failed repeat turns that rate into a failing one.
 */
export async function searchNdrPdr(trial: Trial, opts: NdrPdrOptions): Promise<NdrPdrResult> {
  checkPositive('ceilingPps', opts.ceilingPps);
  checkPositive('minPps', opts.minPps);
  if (!(opts.resolution > 0 && opts.resolution < 1))
    throw new RangeError(`resolution is ${opts.resolution}; use a fraction between 0 and 1, e.g. 0.05`);
  if (!(opts.pdrLossRatio > 0 && opts.pdrLossRatio < 1))
    throw new RangeError(`pdrLossRatio is ${opts.pdrLossRatio}; use a loss ratio between 0 and 1, e.g. 0.005`);
  const trials: SearchTrial[] = [];
  const budgetLeft = () => trials.length < opts.maxTrials;
  const run = async (pps: number, purpose: SearchPurpose): Promise<SearchTrial> => {
    const judged = judge(await trial(pps), { lossTolerance: 0, generatorShortfall: opts.generatorShortfall });
    const t = { ...judged, pdrPassed: judged.sent > 0 && judged.lossRatio <= opts.pdrLossRatio, purpose };
    trials.push(t);
    return t;
  };

  const top = await run(Math.round(opts.ceilingPps), 'ceiling');
  const guess = Math.round(top.achievedPps * (1 - top.lossRatio));
  if (!top.passed && budgetLeft() && guess >= opts.minPps && guess < top.offeredPps) await run(guess, 'guess');

  let unfinished = false;
  for (const [name, meets] of [
    ['ndr', NDR],
    ['pdr', PDR],
  ] as const) {
    for (;;) {
      // Bisect until the bracket is narrow enough (or nothing passes even at the floor), keeping trials for this bound's
      // confirmation (the PDR's often needs none: its rate is the NDR's, already repeated, or its trials are already there).
      while (trials.length < opts.maxTrials - opts.confirmTrials) {
        const { lo, hi } = bracket(trials, meets);
        if (hi === undefined) break;
        const loRate = lo?.offeredPps ?? 0;
        if (lo ? hi - loRate <= opts.resolution * hi : hi <= opts.minPps) break;
        const mid = lo ? Math.round((loRate + hi) / 2) : Math.max(Math.round(opts.minPps), Math.round(hi / 2));
        if (mid <= loRate || mid >= hi) break;
        await run(mid, name);
      }
      const { lo } = bracket(trials, meets);
      if (!lo) break;
      // Confirm: the final rate needs 1 + confirmTrials passing trials; a failing one moves the bracket below it.
      let confirmed = true;
      while (trials.filter((t) => t.offeredPps === lo.offeredPps).length < 1 + opts.confirmTrials) {
        if (!budgetLeft()) {
          unfinished = true;
          break;
        }
        if (!meets(await run(lo.offeredPps, `confirm ${name}`))) {
          confirmed = false;
          break;
        }
      }
      if (confirmed || !budgetLeft()) break;
    }
  }
  return {
    ceilingPps: Math.round(opts.ceilingPps),
    pdrLossRatio: opts.pdrLossRatio,
    ndr: rateBound(trials, NDR, 'confirm ndr'),
    pdr: rateBound(trials, PDR, 'confirm pdr'),
    trials,
    budgetExhausted: unfinished || !resolved(trials, NDR, opts) || !resolved(trials, PDR, opts),
  };
}

/** The bound is known to the resolution: passed at the ceiling, failed at the floor, or a narrow bracket. */
function resolved(trials: readonly SearchTrial[], meets: Criterion, opts: NdrPdrOptions): boolean {
  const { lo, hi } = bracket(trials, meets);
  if (hi === undefined) return true;
  if (!lo) return hi <= opts.minPps;
  return hi - lo.offeredPps <= opts.resolution * hi;
}

/** From every trial so far: the lowest failing offered rate, and the best passing trial below it. */
function bracket(trials: readonly SearchTrial[], meets: Criterion): { lo?: SearchTrial; hi?: number } {
  const failing = trials.filter((t) => !meets(t)).map((t) => t.offeredPps);
  const hi = failing.length > 0 ? Math.min(...failing) : undefined;
  let lo: SearchTrial | undefined;
  for (const t of trials) if (meets(t) && (hi === undefined || t.offeredPps < hi) && (!lo || t.offeredPps > lo.offeredPps)) lo = t;
  return { lo, hi };
}

function rateBound(trials: readonly SearchTrial[], meets: Criterion, confirmPurpose: SearchPurpose): RateBound {
  const { lo, hi } = bracket(trials, meets);
  const unconfirmed = [...new Set(trials.filter((t) => t.purpose === confirmPurpose && !meets(t)).map((t) => t.offeredPps))];
  if (!lo) return { ratePps: 0, achievedPps: 0, generatorShort: false, failedAbovePps: hi, limitedBy: 'device', atRate: [], unconfirmed };
  const atRate = trials.filter((t) => t.offeredPps === lo.offeredPps);
  // One trial that really offered the rate (and, like all there, met the criterion) proves it; else only what was sent counts.
  const short = atRate.every((t) => t.generatorShort);
  const best = Math.max(...atRate.map((t) => t.achievedPps));
  return {
    ratePps: short ? Math.round(best) : lo.offeredPps,
    achievedPps: best,
    generatorShort: short,
    failedAbovePps: hi,
    // The generator is the limit only where nothing failed: above a failing rate, the device is.
    limitedBy: hi !== undefined ? 'device' : short ? 'generator' : 'ceiling',
    atRate,
    spread: spreadOf(atRate),
    unconfirmed,
  };
}

/** Loss, achieved and forwarded rate over trials at one rate: how much a repeat differs. */
export function spreadOf(trials: readonly TrialResult[]): TrialSpread | undefined {
  if (trials.length === 0) return undefined;
  const range = (f: (t: TrialResult) => number): Spread => ({ min: Math.min(...trials.map(f)), max: Math.max(...trials.map(f)) });
  return {
    trials: trials.length,
    lossRatio: range(lossRatio),
    achievedPps: range((t) => t.achievedPps),
    forwardingPps: range((t) => t.achievedPps * (1 - lossRatio(t))),
  };
}

// ---------------------------------------------------------------------------------------------
// Frame loss rate

export interface FrameLossOptions {
  maxPps: number;
  /** Each step offers (1 − stepFraction) of the previous rate (geometric: a guest far below the ceiling is reached in a few steps). */
  stepFraction: number;
  /** Stop after this many consecutive trials without loss (the RFC says 2). */
  stopAfterLossless: number;
  maxTrials: number;
  /** Never below this rate. */
  minPps?: number;
  generatorShortfall?: number;
}

/** Loss ratio at offered rates from maxPps downwards, until `stopAfterLossless` steps in a row lose nothing. */
export async function frameLossSweep(trial: Trial, opts: FrameLossOptions): Promise<JudgedTrial[]> {
  checkPositive('maxPps', opts.maxPps);
  if (!(opts.stepFraction > 0 && opts.stepFraction < 1))
    throw new RangeError(`stepFraction is ${opts.stepFraction}; use a fraction in (0, 1), e.g. 0.3`);
  const trials: JudgedTrial[] = [];
  let lossless = 0;
  for (let i = 0; i < opts.maxTrials; i++) {
    const pps = Math.round(opts.maxPps * (1 - opts.stepFraction) ** i);
    if (pps <= 0 || pps < (opts.minPps ?? 1)) break;
    const t = judge(await trial(pps), { lossTolerance: 0, generatorShortfall: opts.generatorShortfall });
    trials.push(t);
    lossless = t.lost === 0 && t.sent > 0 ? lossless + 1 : 0;
    if (lossless >= opts.stopAfterLossless) break;
  }
  return trials;
}

// ---------------------------------------------------------------------------------------------
// Back-to-back

/** One burst of `frames` frames at top speed; offeredPps is meaningless there and is reported as 0. */
export type BurstTrial = (frames: number) => Promise<TrialResult>;

export interface BackToBackOptions extends LossCriterion {
  /** The longest burst tried (the search starts there). */
  maxFrames: number;
  /** Stop when the interval is this narrow, as a fraction of maxFrames (at least 1 frame). */
  resolution: number;
  maxTrials: number;
  /** Independent searches whose results are averaged (the RFC says 50; 1 for a quick look). */
  repeats: number;
}

export interface BurstTrialRecord extends JudgedTrial {
  frames: number;
}

export interface BackToBackResult {
  /** Mean over the repeats of the longest whole burst. */
  frames: number;
  /** Each repeat's longest whole burst. */
  perRepeat: number[];
  limitedBy: 'device' | 'ceiling';
  trials: BurstTrialRecord[];
}

/** Binary search on burst length: the longest burst that arrives whole, averaged over `repeats` searches. */
export async function searchBackToBack(trial: BurstTrial, opts: BackToBackOptions): Promise<BackToBackResult> {
  checkPositive('maxFrames', opts.maxFrames);
  checkPositive('repeats', opts.repeats);
  const trials: BurstTrialRecord[] = [];
  const perRepeat: number[] = [];
  let ceilingHit = true;
  for (let r = 0; r < opts.repeats; r++) {
    const run = async (frames: number) => {
      const t = { ...judge(await trial(frames), opts), frames, generatorShort: false };
      trials.push(t);
      return t;
    };
    const budget = trials.length + opts.maxTrials;
    const top = await run(Math.round(opts.maxFrames));
    if (top.passed) {
      perRepeat.push(top.frames);
      continue;
    }
    ceilingHit = false;
    let lo = 0;
    let hi = top.frames;
    const step = Math.max(1, Math.round(opts.resolution * opts.maxFrames));
    while (hi - lo > step && trials.length < budget) {
      const mid = Math.floor((lo + hi) / 2);
      if (mid <= lo) break;
      if ((await run(mid)).passed) lo = mid;
      else hi = mid;
    }
    perRepeat.push(lo);
  }
  const mean = perRepeat.reduce((a, b) => a + b, 0) / perRepeat.length;
  return { frames: Math.round(mean), perRepeat, limitedBy: ceilingHit ? 'ceiling' : 'device', trials };
}

function checkPositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} is ${value}; use a number above 0`);
}
