// RFC 2544 ("Benchmarking Methodology for Network Interconnect Devices") measurements as pure search
// logic: each one drives a trial function it is given — "offer this load, tell me what was sent,
// received and achieved" — and decides what to try next. The lab side (sending the frames through a
// real guest) lives in rfc2544-trials.ts; here a trial is only a function, so the searches are unit-
// tested with a fake device in milliseconds.
//
//   throughput      §26.1  the highest offered rate at which no frame is lost (binary search)
//   latency         §26.2  at the throughput rate
//   frame loss rate §26.3  loss at offered rates from the ceiling down, in steps, until two steps lose nothing
//   back-to-back    §26.4  the longest burst at top speed that arrives whole (binary search on burst length)
//
// Every trial keeps the rate that was offered next to the rate the generator achieved, so a slow
// generator is never blamed on the device: a trial whose generator fell short is flagged, and a
// throughput found at a rate the generator did not reach says so.
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
// Throughput

export interface ThroughputOptions extends LossCriterion {
  /** The highest rate offered (the search starts there). */
  maxPps: number;
  /** Stop when the pass/fail interval is this narrow, as a fraction of maxPps (e.g. 0.05). */
  resolution: number;
  /** Hard bound on trials (the search usually needs about log2(1/resolution) + 1). */
  maxTrials: number;
}

export interface ThroughputResult {
  /** The highest offered rate that passed (only the achieved rate when the generator fell short there); 0 when none did. */
  throughputPps: number;
  /** What the generator achieved in that trial (0 when none passed). */
  achievedPps: number;
  /** The lowest offered rate that failed (undefined when the ceiling passed). */
  failedAbovePps?: number;
  /** Why the search stopped where it did. */
  limitedBy: 'device' | 'ceiling' | 'generator';
  /** The passing trial at the throughput rate (its latency is the RFC's latency figure when run long enough). */
  best?: JudgedTrial;
  trials: JudgedTrial[];
}

/**
 * Binary search for the highest offered rate whose trial meets the loss criterion. The ceiling is
 * tried first: a device that passes there is "limited by the ceiling", and the figure is a lower
 * bound. Rates are rounded to whole frames/s.
 */
export async function searchThroughput(trial: Trial, opts: ThroughputOptions): Promise<ThroughputResult> {
  checkPositive('maxPps', opts.maxPps);
  if (!(opts.resolution > 0 && opts.resolution < 1))
    throw new RangeError(`resolution is ${opts.resolution}; use a fraction between 0 and 1, e.g. 0.05`);
  const trials: JudgedTrial[] = [];
  const run = async (pps: number) => {
    const t = judge(await trial(pps), opts);
    trials.push(t);
    return t;
  };

  const top = await run(Math.round(opts.maxPps));
  if (top.passed)
    return {
      throughputPps: credited(top),
      achievedPps: top.achievedPps,
      limitedBy: top.generatorShort ? 'generator' : 'ceiling',
      best: top,
      trials,
    };

  let lo = 0;
  let hi = top.offeredPps;
  let best: JudgedTrial | undefined;
  const step = Math.max(1, opts.resolution * opts.maxPps);
  while (hi - lo > step && trials.length < opts.maxTrials) {
    const mid = Math.round((lo + hi) / 2);
    if (mid <= lo || mid >= hi) break;
    const t = await run(mid);
    if (t.passed) [lo, best] = [mid, t];
    else hi = mid;
  }
  return {
    throughputPps: best ? credited(best) : 0,
    achievedPps: best?.achievedPps ?? 0,
    failedAbovePps: hi,
    limitedBy: best?.generatorShort ? 'generator' : 'device',
    best,
    trials,
  };
}

/** The rate a passing trial proves: the offered one, or only what the generator achieved when it fell short. */
function credited(t: JudgedTrial): number {
  return t.generatorShort ? Math.round(t.achievedPps) : t.offeredPps;
}

// ---------------------------------------------------------------------------------------------
// Frame loss rate

export interface FrameLossOptions {
  maxPps: number;
  /** Step down by this fraction of maxPps per trial (the RFC says 10 % or finer). */
  stepFraction: number;
  /** Stop after this many consecutive trials without loss (the RFC says 2). */
  stopAfterLossless: number;
  maxTrials: number;
  generatorShortfall?: number;
}

/** Loss ratio at offered rates from maxPps downwards, until `stopAfterLossless` steps in a row lose nothing. */
export async function frameLossSweep(trial: Trial, opts: FrameLossOptions): Promise<JudgedTrial[]> {
  checkPositive('maxPps', opts.maxPps);
  if (!(opts.stepFraction > 0 && opts.stepFraction <= 1))
    throw new RangeError(`stepFraction is ${opts.stepFraction}; use a fraction in (0, 1], e.g. 0.1`);
  const trials: JudgedTrial[] = [];
  let lossless = 0;
  for (let i = 0; i < opts.maxTrials; i++) {
    const pps = Math.round(opts.maxPps * (1 - i * opts.stepFraction));
    if (pps <= 0) break;
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

// ---------------------------------------------------------------------------------------------
// Configuration from the environment (the suite's knobs)

export interface Rfc2544Config {
  /** Frame sizes on the wire (with FCS). */
  sizes: number[];
  /** Seconds per trial (throughput, loss, latency). */
  trialSeconds: number;
  /** Fewest frames per direction in a rate trial (a low rate then runs longer): a few frames prove little about loss. */
  minFrames: number;
  /** Ceiling on the offered rate, frames/s per direction. */
  maxPps: number;
  lossTolerance: number;
  resolution: number;
  maxTrials: number;
  /** Frame-loss sweep: step as a fraction of maxPps, and how many steps at most. */
  lossStep: number;
  lossSteps: number;
  maxBurst: number;
  burstRepeats: number;
  /** When set, the throughput test fails below this rate (frames/s per direction). */
  minThroughputPps?: number;
}

export const RFC2544_DEFAULTS: Rfc2544Config = {
  sizes: [...RFC2544_FRAME_SIZES],
  trialSeconds: 1,
  minFrames: 100,
  maxPps: 1000,
  lossTolerance: 0,
  resolution: 0.05,
  maxTrials: 10,
  lossStep: 0.2,
  lossSteps: 5,
  maxBurst: 1000,
  burstRepeats: 1,
};

/** The knobs, each `WIRELAB_RFC2544_<NAME>`; a bad value fails naming the variable, the value and what is allowed. */
export function rfc2544ConfigFromEnv(env: Record<string, string | undefined>): Rfc2544Config {
  const c = { ...RFC2544_DEFAULTS, sizes: [...RFC2544_DEFAULTS.sizes] };
  const num = (name: string, fallback: number, ok: (n: number) => boolean, allowed: string): number => {
    const raw = env[`WIRELAB_RFC2544_${name}`];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || !ok(n)) throw new RangeError(`WIRELAB_RFC2544_${name} is ${JSON.stringify(raw)}; use ${allowed}.`);
    return n;
  };
  const sizes = env.WIRELAB_RFC2544_SIZES;
  if (sizes) {
    c.sizes = sizes.split(',').map((s) => Number(s.trim()));
    if (c.sizes.some((s) => !Number.isInteger(s) || s < 64 || s > 9220))
      throw new RangeError(
        `WIRELAB_RFC2544_SIZES is ${JSON.stringify(sizes)}; use comma-separated frame sizes on the wire, 64..9220, e.g. 64,512,1518.`,
      );
  }
  c.trialSeconds = num(
    'TRIAL_S',
    c.trialSeconds,
    (n) => n > 0 && n <= 600,
    'seconds per trial, above 0 and at most 600 (the RFC says 60; 120 for latency)',
  );
  c.minFrames = num(
    'MIN_FRAMES',
    c.minFrames,
    (n) => Number.isInteger(n) && n >= 1 && n <= 10_000_000,
    'an integer number of frames per direction, 1..10000000',
  );
  c.maxPps = num('MAX_PPS', c.maxPps, (n) => n >= 1 && n <= 10_000_000, 'a ceiling in frames/s per direction, 1..10000000');
  c.lossTolerance = num(
    'LOSS_TOLERANCE',
    c.lossTolerance,
    (n) => n >= 0 && n < 1,
    'a loss ratio in [0, 1), e.g. 0.001 for 0.1 % (0 = zero loss, the RFC)',
  );
  c.resolution = num('RESOLUTION', c.resolution, (n) => n > 0 && n < 1, 'a fraction of the ceiling in (0, 1), e.g. 0.05');
  c.maxTrials = num('MAX_TRIALS', c.maxTrials, (n) => Number.isInteger(n) && n >= 1 && n <= 100, 'an integer 1..100');
  c.lossStep = num('LOSS_STEP', c.lossStep, (n) => n > 0 && n <= 1, 'a fraction of the ceiling in (0, 1], e.g. 0.1 (the RFC)');
  c.lossSteps = num('LOSS_STEPS', c.lossSteps, (n) => Number.isInteger(n) && n >= 1 && n <= 100, 'an integer 1..100');
  c.maxBurst = num(
    'MAX_BURST',
    c.maxBurst,
    (n) => Number.isInteger(n) && n >= 1 && n <= 10_000_000,
    'an integer number of frames, 1..10000000',
  );
  c.burstRepeats = num(
    'BURST_REPEATS',
    c.burstRepeats,
    (n) => Number.isInteger(n) && n >= 1 && n <= 100,
    'an integer 1..100 (the RFC says 50)',
  );
  const min = num('MIN_THROUGHPUT_PPS', -1, (n) => n >= 0, 'frames/s per direction, 0 or more');
  if (min >= 0) c.minThroughputPps = min;
  return c;
}
