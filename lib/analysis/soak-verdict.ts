// A soak's checks, from its rows per second (lib/analysis/soak-join.ts) and the guest's health over
// time: every check names the second it first failed and the likely cause. Loss bursts (and a guest
// that stopped forwarding), duplicates, reordering, the latency tail per second and the median's drift
// from the soak's first seconds — the latency judged beside the host canary, so a second in which the
// host stalled is the host's — the guest's memory and QEMU's RSS growth, and a guest that stopped.
//
// Pure: rows and samples in, match results out.
import type { MatchResult } from './matchers.ts';
import type { SoakCell, SoakSecond } from './soak-join.ts';

export interface SoakBounds {
  /** Frames lost in any one second, per direction. */
  maxLostPerSecond: number;
  /** Per-second p99 through the guest, ms. */
  latencyP99Ms: number;
  /** Per-second median above the soak's first seconds' median, ms. */
  latencyDriftMs: number;
  /** Growth of the guest's used memory and of QEMU's RSS over the soak, MiB. */
  memoryGrowthMiB: number;
  rssGrowthMiB: number;
}

/** The guest's health at one moment of the soak. */
export interface HealthSample {
  /** Seconds into the soak. */
  atS: number;
  /** From the guest (virtio balloon statistics): total − available, and available. */
  memUsedMiB?: number;
  memAvailableMiB?: number;
  /** QEMU's resident memory on the host. */
  rssMiB?: number;
}

export interface SoakInput {
  flows: readonly { name: string; from: string; to: string }[];
  seconds: readonly SoakSecond[];
  health: readonly HealthSample[];
  bounds: SoakBounds;
  /** Set when the guest stopped during the soak: when, and why. */
  guestStopped?: { atS: number; why: string };
}

/** The first seconds whose median latency is the baseline the drift is measured from. */
export const DRIFT_BASELINE_S = 10;
/** A drift must hold this many seconds in a row: one slow second is not a trend. */
const DRIFT_SECONDS = 3;

export interface SoakCheck {
  name: string;
  result: MatchResult;
}

export function soakChecks(input: SoakInput): SoakCheck[] {
  return [
    { name: 'no loss burst, forwarding all the way', result: lossCheck(input) },
    { name: 'no duplicates', result: countCheck(input, 'duplicated', 'duplicated', 'the guest sends some frames twice') },
    { name: 'no reordering', result: countCheck(input, 'reordered', 'reordered', 'the guest reorders frames under sustained load') },
    { name: 'latency p99 per second within the bound', result: tailCheck(input) },
    { name: 'no latency drift', result: driftCheck(input) },
    { name: "the guest's memory does not grow", result: growthCheck(input, 'memUsedMiB', "the guest's used memory", 'memoryGrowthMiB') },
    { name: "QEMU's resident memory does not grow", result: growthCheck(input, 'rssMiB', "QEMU's resident memory (RSS)", 'rssGrowthMiB') },
    { name: 'the guest keeps running', result: runningCheck(input) },
  ];
}

/** Seconds whose latency the host explains: the raw tail above the bound, but within it with the host's stalls taken out. */
export function hostExcusedSeconds(input: Pick<SoakInput, 'seconds' | 'bounds'>): number[] {
  const boundUs = input.bounds.latencyP99Ms * 1000;
  return input.seconds
    .filter((s) => s.flows.some((c) => (c.latencyUs?.p99 ?? 0) > boundUs && (c.hostFreeLatencyUs?.p99 ?? 0) <= boundUs))
    .map((s) => s.second);
}

function pass(headline: string): MatchResult {
  return { pass: true, headline, message: headline };
}

function fail(headline: string, details: string): MatchResult {
  return { pass: false, headline, message: `${headline}\n${details}` };
}

function direction(input: SoakInput, i: number): string {
  return `${input.flows[i]!.from}→${input.flows[i]!.to}`;
}

/** Where most of a second's lost frames vanished, as a reader wants it said. */
function where(c: SoakCell): string {
  const most = Math.max(c.lostAtSender, c.lostBeforeGuest, c.lostInGuest, c.lostAfterGuest);
  if (most === c.lostInGuest) return 'inside the guest (they entered it and never left)';
  if (most === c.lostBeforeGuest) return "at the guest's ingress port (they left the sender but the guest never took them from its NIC)";
  if (most === c.lostAfterGuest) return "after the guest (they left it but never reached the receiving host: the lab's side)";
  return 'at the sender (never seen leaving it: the traffic generator fell behind or stopped)';
}

function lossCheck(input: SoakInput): MatchResult {
  const { maxLostPerSecond } = input.bounds;
  let withLoss = 0;
  let first: { second: number; flow: number; cell: SoakCell } | undefined;
  for (const s of input.seconds) {
    const bad = s.flows.findIndex((c) => c.lost > maxLostPerSecond);
    if (bad < 0) continue;
    withLoss++;
    first ??= { second: s.second, flow: bad, cell: s.flows[bad]! };
  }
  if (!first) return pass(`no second lost more than ${maxLostPerSecond} frame(s) in either direction over ${input.seconds.length} s`);
  const i = first.flow;
  const lostAll = input.seconds.reduce((n, s) => n + s.flows[i]!.lost, 0);
  const stop = stoppedAt(input.seconds, i);
  if (stop) {
    const both = input.flows.length > 1 && input.flows.every((_, k) => stoppedAt(input.seconds, k) !== undefined);
    const silent = input.seconds.filter((s) => s.second > stop.second).length;
    return fail(
      `the guest stopped forwarding at second ${stop.second} of the soak (${both ? 'both directions' : direction(input, i)}): no frame ` +
        `delivered in the ${silent} s after it, to the end; the frames vanished ${where(stop.flows[i]!)}`,
      `${lostAll} frames lost ${direction(input, i)} in all.`,
    );
  }
  return fail(
    `loss burst at second ${first.second} of the soak: ${first.cell.lost} of ${first.cell.sent} frames lost ${direction(input, i)} ` +
      `(soak.maxLostPerSecond ${maxLostPerSecond}), ${where(first.cell)}`,
    `${withLoss} second(s) with loss above the bound; ${lostAll} frames lost ${direction(input, i)} in all.`,
  );
}

/** The second a flow stopped in: it lost frames, and in at least two seconds after it to the end nothing was delivered. */
function stoppedAt(seconds: readonly SoakSecond[], flow: number): SoakSecond | undefined {
  let last = seconds.length - 1;
  while (last >= 0 && seconds[last]!.flows[flow]!.delivered === 0) last--;
  // seconds[last] delivered something (or none did); the stop began where loss began, in it or the next.
  const after = seconds.length - 1 - last;
  if (after < 2) return undefined;
  const at = last >= 0 && seconds[last]!.flows[flow]!.lost > 0 ? seconds[last]! : seconds[last + 1]!;
  return at;
}

function countCheck(input: SoakInput, key: 'duplicated' | 'reordered', word: string, cause: string): MatchResult {
  for (const s of input.seconds) {
    const i = s.flows.findIndex((c) => c[key] > 0);
    if (i >= 0) {
      const total = input.seconds.reduce((n, x) => n + x.flows.reduce((m, c) => m + c[key], 0), 0);
      return fail(
        `${s.flows[i]![key]} frames ${word} ${direction(input, i)} at second ${s.second} of the soak: ${cause}`,
        `${total} frames ${word} over the soak.`,
      );
    }
  }
  return pass(`no frame ${word} over ${input.seconds.length} s`);
}

function tailCheck(input: SoakInput): MatchResult {
  const boundUs = input.bounds.latencyP99Ms * 1000;
  const excused = hostExcusedSeconds(input);
  for (const s of input.seconds) {
    const i = s.flows.findIndex((c) => (c.hostFreeLatencyUs?.p99 ?? 0) > boundUs);
    if (i < 0) continue;
    const c = s.flows[i]!;
    const host = c.hostStalledMs > 0 ? ` (the host stalled ${Math.round(c.hostStalledMs)} ms in that second; taken out, still above)` : '';
    return fail(
      `latency through the guest too high at second ${s.second} of the soak: p99 ${ms(c.hostFreeLatencyUs!.p99)} ms ` +
        `${direction(input, i)} (bound ${input.bounds.latencyP99Ms} ms, soak.latencyP99Ms)${host}`,
      `p50 ${ms(c.latencyUs!.p50)} ms, max ${ms(c.latencyUs!.max)} ms in that second.`,
    );
  }
  const note = excused.length ? `; ${excused.length} second(s) above it only while the host stalled (the host's)` : '';
  return pass(`p99 within ${input.bounds.latencyP99Ms} ms in every second${note}`);
}

function driftCheck(input: SoakInput): MatchResult {
  const { latencyDriftMs } = input.bounds;
  for (let i = 0; i < input.flows.length; i++) {
    const p50 = (s: SoakSecond) => s.flows[i]!.hostFreeLatencyUs?.p50;
    const early = input.seconds
      .filter((s) => s.second < DRIFT_BASELINE_S)
      .map(p50)
      .filter((v): v is number => v !== undefined);
    if (early.length === 0) continue;
    const baseline = median(early);
    let run = 0;
    for (const s of input.seconds) {
      const v = p50(s);
      run = v !== undefined && v - baseline > latencyDriftMs * 1000 ? run + 1 : 0;
      if (run < DRIFT_SECONDS) continue;
      const from = s.second - DRIFT_SECONDS + 1;
      const last = input.seconds.at(-1)!;
      return fail(
        `latency drifts ${direction(input, i)}: from second ${from} of the soak the median is ${ms(v! - baseline)} ms above the first ` +
          `${DRIFT_BASELINE_S} s (${ms(baseline)} → ${ms(v!)} ms; bound ${latencyDriftMs} ms, soak.latencyDriftMs): ` +
          'the guest slows down over time',
        `median at the end (second ${last.second}): ${endMedian(last, i)} ms.`,
      );
    }
  }
  return pass(`the median stayed within ${latencyDriftMs} ms of the first ${DRIFT_BASELINE_S} s's`);
}

function growthCheck(input: SoakInput, key: 'memUsedMiB' | 'rssMiB', what: string, field: 'memoryGrowthMiB' | 'rssGrowthMiB'): MatchResult {
  const samples = input.health.filter((h) => h[key] !== undefined);
  if (samples.length < 2) return pass(`${what}: not measured (${samples.length} sample(s); the guest gives no balloon statistics?)`);
  const first = samples[0]!;
  const bound = input.bounds[field];
  for (const h of samples) {
    const growth = h[key]! - first[key]!;
    if (growth > bound)
      return fail(
        `${what} grew by ${growth.toFixed(1)} MiB by second ${Math.round(h.atS)} of the soak (${first[key]!.toFixed(1)} → ` +
          `${h[key]!.toFixed(1)} MiB), above soak.${field} ${bound} MiB: the guest leaks memory`,
        `last sample: ${samples.at(-1)![key]!.toFixed(1)} MiB at second ${Math.round(samples.at(-1)!.atS)}.`,
      );
  }
  const last = samples.at(-1)!;
  return pass(`${what} ${first[key]!.toFixed(1)} → ${last[key]!.toFixed(1)} MiB over the soak (bound +${bound} MiB)`);
}

function runningCheck(input: SoakInput): MatchResult {
  const s = input.guestStopped;
  if (!s) return pass('the guest ran the whole soak');
  return fail(`the guest stopped at second ${Math.round(s.atS)} of the soak: ${s.why}`, 'Its console is attached.');
}

function endMedian(last: SoakSecond, flow: number): string {
  const lat = last.flows[flow]!.hostFreeLatencyUs;
  return lat ? ms(lat.p50) : '–';
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function ms(us: number): string {
  return (us / 1000).toFixed(us >= 10_000 ? 0 : 2);
}
