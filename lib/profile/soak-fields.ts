// The profile's `soak` section: the soak suite (`wirelab run soak`, only when named) — constant traffic
// both ways for minutes to hours at a fraction of the RFC 2544 NDR or a fixed rate, checked per second,
// with the guest's health over time. One declaration validates it and documents it
// (docs/profile-reference.md is generated from it).
import type { ObjectSpec } from './schema-engine.ts';

/** The soak's rate when the profile names none: low enough for any guest under software emulation. */
export const DEFAULT_SOAK_PPS = 200;

export const soakSchema: ObjectSpec = {
  type: 'object',
  doc:
    'The soak suite (`wirelab run soak`, only when named): constant traffic both ways for `minutes`, checked second by second — ' +
    'loss bursts, duplicates, reordering, the latency tail and its drift — with the guest’s memory (virtio balloon statistics) ' +
    'and QEMU’s resident memory sampled throughout; every failure names the second it began. The rate is `framesPerSecond`, ' +
    `or \`ndrFraction\` of the NDR measured first (RFC 2544 settings from \`rfc2544\`), or ${DEFAULT_SOAK_PPS} frames/s.`,
  fields: {
    minutes: { type: 'number', min: 0.25, max: 24 * 60, default: 10, doc: 'How long the traffic runs (fractions allowed: 0.5 is 30 s).' },
    framesPerSecond: {
      type: 'number',
      min: 1,
      max: 1_000_000,
      doc: 'Frames/s per direction. Leave out to use `ndrFraction` or the default.',
      example: '500',
    },
    ndrFraction: {
      type: 'number',
      min: 0.01,
      max: 1,
      doc:
        'A fraction of the NDR (no-drop rate) that the soak measures first for its frame size, as FD.io CSIT soaks at a ' +
        'fraction of the NDR. Not with `framesPerSecond`.',
      example: '0.5',
    },
    frameSize: { type: 'number', integer: true, min: 60, max: 1514, default: 128, doc: 'Frame size in bytes, without the FCS.' },
    maxLostPerSecond: {
      type: 'number',
      integer: true,
      min: 0,
      max: 1_000_000,
      default: 0,
      doc: 'Frames a direction may lose in any one second; above it the soak fails with a loss burst at that second.',
    },
    latencyP99Ms: {
      type: 'number',
      min: 0.001,
      max: 60_000,
      default: 100,
      doc: "Bound on each second's 99th-percentile latency through the guest, in ms (a second in which the host stalled is the host's).",
    },
    latencyDriftMs: {
      type: 'number',
      min: 0.001,
      max: 60_000,
      default: 5,
      doc: "Bound on how far a second's median latency may rise above the soak's first 10 s (3 seconds in a row), in ms.",
    },
    memoryGrowthMiB: {
      type: 'number',
      min: 0.1,
      max: 1_000_000,
      default: 32,
      doc: "Bound on the growth of the guest's used memory over the soak (from its virtio balloon statistics), in MiB.",
    },
    rssGrowthMiB: {
      type: 'number',
      min: 0.1,
      max: 1_000_000,
      default: 64,
      doc: "Bound on the growth of QEMU's resident memory on the host over the soak, in MiB.",
    },
    healthSeconds: {
      type: 'number',
      min: 1,
      max: 600,
      default: 5,
      doc: "How often the guest's health (memory, QEMU's RSS) is sampled, in seconds.",
    },
  },
};

export interface SoakSettings {
  minutes: number;
  framesPerSecond?: number;
  ndrFraction?: number;
  frameSize: number;
  maxLostPerSecond: number;
  latencyP99Ms: number;
  latencyDriftMs: number;
  memoryGrowthMiB: number;
  rssGrowthMiB: number;
  healthSeconds: number;
}
