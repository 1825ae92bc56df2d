// The RFC 2544 measurement settings, declared once: each knob's range, default and meaning. The same
// table becomes the profile's `rfc2544` section (lib/profile/fields.ts: schema-checked, documented in
// docs/profile-reference.md), the `wirelab run` flags, and the WIRELAB_RFC2544_<NAME> environment
// overrides. Precedence: flag (passed on as its environment variable) > environment > profile > default.
//
// Pure: plain values in, a checked configuration out.
import { RFC2544_FRAME_SIZES } from './search.ts';

/** Everything the RFC 2544 suite is told. Rates are frames/s per direction. */
export interface Rfc2544Config {
  /** Frame sizes on the wire (with FCS). */
  sizes: number[];
  /** Seconds per trial (throughput, loss, latency). */
  trialSeconds: number;
  /** Fewest frames per direction in a rate trial (a low rate then runs longer): a few frames prove little about loss. */
  minFrames: number;
  /** Ceiling on the offered rate; left out, the ceiling is measured on the lab for each frame size. */
  maxPps?: number;
  /** Frames per direction in the top-speed burst that measures the ceiling. */
  ceilingFrames: number;
  /** The partial drop rate's loss ratio (PDR); the NDR is always zero loss. */
  pdrLossRatio: number;
  /** The searches stop when the interval is this fraction of its upper end. */
  resolution: number;
  /** Lowest rate a search goes down to before it says "none". */
  minPps: number;
  /** Bound on the trials of one NDR/PDR search, confirm trials included. */
  maxTrials: number;
  /** Repeat trials at each final rate (the confirmation, with its spread reported). */
  confirmTrials: number;
  /** Frame-loss sweep: each step offers (1 − lossStep) of the previous rate; at most lossSteps steps. */
  lossStep: number;
  lossSteps: number;
  /** Longest burst tried; left out, the ceiling burst's length. */
  maxBurst?: number;
  burstRepeats: number;
  /** When set, the throughput test fails below this NDR. */
  minNdrPps?: number;
  /** The back-to-back test fails when no burst this long arrives whole. */
  minBurst: number;
}

/** One numeric knob: its profile field, its environment variable, its `wirelab run` flag. */
export interface Rfc2544Knob {
  field: Exclude<keyof Rfc2544Config, 'sizes'>;
  env: string;
  flag: string;
  min: number;
  max: number;
  integer?: boolean;
  default?: number;
  doc: string;
}

export const RFC2544_ENV_PREFIX = 'WIRELAB_RFC2544_';

/** Numeric knobs; `sizes` is the one list (RFC2544_SIZES_KNOB). */
export const RFC2544_KNOBS: readonly Rfc2544Knob[] = [
  {
    field: 'trialSeconds',
    env: 'TRIAL_S',
    flag: 'trial-seconds',
    min: 0.1,
    max: 600,
    default: 1,
    doc: 'Seconds per trial (throughput, latency, loss). The RFC says 60, and 120 for latency.',
  },
  {
    field: 'minFrames',
    env: 'MIN_FRAMES',
    flag: 'min-frames',
    min: 1,
    max: 10_000_000,
    integer: true,
    default: 100,
    doc: 'Fewest frames per direction in a rate trial: a low rate runs longer (25 frames prove little about loss).',
  },
  {
    field: 'maxPps',
    env: 'MAX_PPS',
    flag: 'max-pps',
    min: 1,
    max: 100_000_000,
    doc:
      'Ceiling on the offered rate (frames/s per direction). Left out: measured on the lab for each frame size, as the rate the ' +
      "generator achieves at top speed through the lab's path (what the lab can offer at all).",
  },
  {
    field: 'ceilingFrames',
    env: 'CEILING_FRAMES',
    flag: 'ceiling-frames',
    min: 100,
    max: 10_000_000,
    integer: true,
    default: 10_000,
    doc: 'Frames per direction in the top-speed burst that measures the ceiling.',
  },
  {
    field: 'pdrLossRatio',
    env: 'PDR_LOSS_RATIO',
    flag: 'pdr-loss-ratio',
    min: 0.000001,
    max: 0.5,
    default: 0.005,
    doc: 'Loss ratio of the partial drop rate (PDR), e.g. 0.005 = 0.5 % (as CSIT). The NDR is zero loss.',
  },
  {
    field: 'resolution',
    env: 'RESOLUTION',
    flag: 'resolution',
    min: 0.001,
    max: 0.5,
    default: 0.05,
    doc: 'A search stops when its interval (last pass to first fail) is this fraction of the failing rate.',
  },
  {
    field: 'minPps',
    env: 'MIN_PPS',
    flag: 'min-pps',
    min: 1,
    max: 10_000_000,
    default: 50,
    doc: 'Lowest rate a search tries: an image that loses frames even there has an NDR (or PDR) of 0.',
  },
  {
    field: 'maxTrials',
    env: 'MAX_TRIALS',
    flag: 'max-trials',
    min: 1,
    max: 200,
    integer: true,
    default: 16,
    doc: 'Bound on the trials of one NDR/PDR search per frame size, confirm trials included.',
  },
  {
    field: 'confirmTrials',
    env: 'CONFIRM_TRIALS',
    flag: 'confirm-trials',
    min: 0,
    max: 20,
    integer: true,
    default: 1,
    doc:
      'Repeat trials at each final rate (NDR and PDR). A failed repeat resumes the search below that rate; the spread of the ' +
      'trials at the final rate is reported.',
  },
  {
    field: 'lossStep',
    env: 'LOSS_STEP',
    flag: 'loss-step',
    min: 0.01,
    max: 0.9,
    default: 0.3,
    doc: 'Frame-loss sweep: each step offers (1 − this) of the previous rate, from the ceiling down.',
  },
  {
    field: 'lossSteps',
    env: 'LOSS_STEPS',
    flag: 'loss-steps',
    min: 1,
    max: 100,
    integer: true,
    default: 12,
    doc: 'Frame-loss sweep: most steps (it stops earlier after two loss-free steps in a row).',
  },
  {
    field: 'maxBurst',
    env: 'MAX_BURST',
    flag: 'max-burst',
    min: 1,
    max: 10_000_000,
    integer: true,
    doc: 'Longest back-to-back burst tried (frames per direction). Left out: the ceiling burst’s length (`ceilingFrames`).',
  },
  {
    field: 'burstRepeats',
    env: 'BURST_REPEATS',
    flag: 'burst-repeats',
    min: 1,
    max: 100,
    integer: true,
    default: 1,
    doc: 'Back-to-back searches averaged (the RFC says 50).',
  },
  {
    field: 'minNdrPps',
    env: 'MIN_NDR_PPS',
    flag: 'min-ndr-pps',
    min: 0,
    max: 100_000_000,
    doc: "The throughput test fails when a frame size's NDR is below this (e.g. the service's datasheet figure).",
  },
  {
    field: 'minBurst',
    env: 'MIN_BURST',
    flag: 'min-burst',
    min: 0,
    max: 10_000_000,
    integer: true,
    default: 1,
    doc: 'The back-to-back test fails when no burst this long arrives whole.',
  },
];

export const RFC2544_SIZES_KNOB = {
  env: 'SIZES',
  flag: 'sizes',
  min: 64,
  max: 9220,
  doc: 'Frame sizes on the wire (with the FCS), 64..9220; default the RFC’s seven (64, 128, 256, 512, 1024, 1280, 1518).',
} as const;

/** The profile's `rfc2544` section as validated (unset knobs absent). */
export type Rfc2544Settings = Partial<Rfc2544Config>;

/** Profile settings, then the environment's overrides; a bad variable fails naming it, its value and what is allowed. */
export function rfc2544Config(profile: Rfc2544Settings, env: Record<string, string | undefined>): Rfc2544Config {
  const c: Record<string, unknown> = { sizes: [...RFC2544_FRAME_SIZES] };
  for (const k of RFC2544_KNOBS) if (k.default !== undefined) c[k.field] = k.default;
  for (const [key, value] of Object.entries(profile)) if (value !== undefined) c[key] = Array.isArray(value) ? [...value] : value;

  const sizesVar = RFC2544_ENV_PREFIX + RFC2544_SIZES_KNOB.env;
  const sizes = env[sizesVar];
  if (sizes) {
    const list = sizes.split(',').map((s) => Number(s.trim()));
    if (list.some((s) => !Number.isInteger(s) || s < RFC2544_SIZES_KNOB.min || s > RFC2544_SIZES_KNOB.max))
      throw new RangeError(
        `${sizesVar} is ${JSON.stringify(sizes)}; use comma-separated frame sizes on the wire, 64..9220, e.g. 64,512,1518.`,
      );
    c.sizes = list;
  }
  for (const k of RFC2544_KNOBS) {
    const name = RFC2544_ENV_PREFIX + k.env;
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < k.min || n > k.max || (k.integer && !Number.isInteger(n)))
      throw new RangeError(`${name} is ${JSON.stringify(raw)}; use ${allowed(k)} (${k.doc.split('.')[0]}).`);
    c[k.field] = n;
  }
  return c as unknown as Rfc2544Config;
}

/** "an integer 1..100" — what a knob allows, for messages. */
export function allowed(k: Pick<Rfc2544Knob, 'min' | 'max' | 'integer'>): string {
  return `${k.integer ? 'an integer' : 'a number'} ${k.min}..${k.max}`;
}

/** The `wirelab run` flags of the suite, one per setting, each passed on as its environment override. */
export function rfc2544Flags(): { flag: string; env: string; what: string; doc: string }[] {
  return [
    { flag: RFC2544_SIZES_KNOB.flag, env: RFC2544_ENV_PREFIX + RFC2544_SIZES_KNOB.env, what: '<list>', doc: RFC2544_SIZES_KNOB.doc },
    ...RFC2544_KNOBS.map((k) => ({
      flag: k.flag,
      env: RFC2544_ENV_PREFIX + k.env,
      what: `<${allowed(k).replace(/^an? /, '')}>`,
      doc: k.doc,
    })),
  ];
}
