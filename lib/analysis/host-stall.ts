// Judging a clock-bound check beside the host's own stalls (lib/core/host-trace.ts). A latency
// excursion, a readiness gap or an outage that the canary shows at the same moment is the host's, not
// the image's: the check is re-measured, or ends inconclusive. What the canary does not show stays the
// image's. What the host can have cost:
//  - a frame's latency: the time the host stalled while it crossed the guest — and for the tail, also
//    since the queue it waited in began (the backlog a stall leaves delays the frames after it);
//    the median is taken from the frames the host left alone, so a frame that waits in the guest by
//    design (a delay queue, a skew) keeps its delay, busy host or not;
//  - a span of guest work (the gap after a readiness claim, an outage, a halt): the time within it the
//    host stalled, all stalls added up (without counting overlaps twice): the guest was working throughout.
//
// Pure: traces and flow results in, values and sentences out.
import { stalledMsWithin as stalledWithin, type HostStall, type HostTrace } from '../core/host-trace.ts';
import { percentiles, type FlowResult, type Percentiles } from './flow-report.ts';

/** The stall a check is excused by: how long, when, and what the canary saw. */
export interface HostExcuse {
  stallMs: number;
  atMs: number;
  source: HostStall['source'];
}

/** The longest single stall overlapping [fromMs, toMs], with the part of it inside. */
export function longestStallWithin(trace: HostTrace, fromMs: number, toMs: number): HostExcuse | undefined {
  let best: HostExcuse | undefined;
  for (const s of stallsOverlapping(trace, fromMs, toMs)) {
    const ms = Math.min(toMs, s.toMs) - Math.max(fromMs, s.fromMs);
    if (ms > 0 && (!best || ms > best.stallMs)) best = { stallMs: ms, atMs: s.fromMs, source: s.source };
  }
  return best;
}

/** How long the host stalled within [fromMs, toMs], every stall counted once where several overlap. */
export function stalledMsWithin(trace: HostTrace, fromMs: number, toMs: number): number {
  return stalledWithin(trace.stalls, fromMs, toMs);
}

/** Stalls that overlap the span, by start (the trace keeps them sorted). */
function stallsOverlapping(trace: HostTrace, fromMs: number, toMs: number): HostStall[] {
  const out: HostStall[] = [];
  for (const s of trace.stalls) {
    if (s.fromMs > toMs) break;
    if (s.toMs > fromMs) out.push(s);
  }
  return out;
}

/** Fewest frames the host left alone (no stall during their crossing) for their median to stand for the flow's. */
export const MIN_UNDISTURBED = { frames: 20, share: 0.05 };

/**
 * The flow as the image alone would have made it, as far as the canary can tell (needs the frames'
 * ingress times; a flow without them, or a trace without stalls, is returned as it is):
 *  - the median from the frames the host left alone — no stall while they crossed — when there are
 *    enough of them, else each frame's latency less the time the host stalled while it crossed (a frame
 *    that waits in the guest by design, a delay queue, keeps its delay either way);
 *  - the tail from each frame's latency less the time the host stalled since the queue it waited in
 *    began (a backlog a stall left), or while it crossed.
 */
export function withoutHostStalls(flow: FlowResult, trace: HostTrace): FlowResult {
  const at = flow.latencyIngressNs;
  if (!at || at.length !== flow.latencySamplesUs.length || trace.stalls.length === 0) return flow;
  const { samplesUs, latencyUs } = latencyWithoutHost(flow.latencySamplesUs, at, trace);
  return { ...flow, latencySamplesUs: samplesUs, latencyUs };
}

/** withoutHostStalls on bare samples (µs) and the frames' ingress times (ns): the corrected samples and their percentiles. */
export function latencyWithoutHost(
  samplesUs: readonly number[],
  ingressNs: readonly number[],
  trace: Pick<HostTrace, 'stalls'>,
): { samplesUs: number[]; latencyUs: Percentiles | null; undisturbed: number } {
  const undisturbed: number[] = [];
  const crossing: number[] = [];
  let queueSinceMs = 0;
  const corrected = samplesUs.map((us, i) => {
    const fromMs = ingressNs[i]! / 1e6;
    const toMs = fromMs + us / 1000;
    const during = stalledWithin(trace.stalls, fromMs, toMs);
    if (during === 0) undisturbed.push(us);
    crossing.push(Math.max(0, us - during * 1000));
    // The tail: a frame that waited behind the one before it — that one was still inside when it came, and it left
    // sooner after it than it came after it — belongs to the same queue; the stalls since that queue began are what
    // held it up (the backlog a stall leaves). A delay line keeps its frames' spacing: each is a queue of its own.
    const prevFrom = i > 0 ? ingressNs[i - 1]! / 1e6 : -Infinity;
    const prevTo = i > 0 ? prevFrom + samplesUs[i - 1]! / 1000 : -Infinity;
    const queued = prevTo > fromMs && toMs - prevTo < 0.75 * (fromMs - prevFrom);
    if (!queued) queueSinceMs = fromMs;
    return Math.max(0, us - stalledWithin(trace.stalls, Math.min(queueSinceMs, fromMs), toMs) * 1000);
  });
  const all = percentiles(corrected);
  const enough = undisturbed.length >= Math.max(MIN_UNDISTURBED.frames, MIN_UNDISTURBED.share * corrected.length);
  // The median: of the frames the host left alone; too few of those, of each frame less the stalls it crossed.
  const p50 = enough ? percentiles(undisturbed)!.p50 : percentiles(crossing)?.p50;
  return { samplesUs: corrected, latencyUs: all && p50 !== undefined ? { ...all, p50 } : all, undisturbed: undisturbed.length };
}

/** The longest stall met by the frames of these flows whose latency is above `aboveUs` (what explains an excursion). */
export function stallBehindExcursion(flows: readonly FlowResult[], trace: HostTrace, aboveUs: number): HostExcuse | undefined {
  let best: HostExcuse | undefined;
  for (const flow of flows) {
    const at = flow.latencyIngressNs;
    if (!at) continue;
    flow.latencySamplesUs.forEach((us, i) => {
      if (us <= aboveUs) return;
      const fromMs = at[i]! / 1e6;
      const stall = longestStallWithin(trace, fromMs, fromMs + us / 1000);
      if (stall && (!best || stall.stallMs > best.stallMs)) best = stall;
    });
  }
  return best;
}

/** The longest stall of the whole trace (for a span judged by the sum: the one a reader should see). */
export function longestStall(trace: HostTrace, fromMs = trace.startMs, toMs = trace.endMs): HostExcuse | undefined {
  return longestStallWithin(trace, fromMs, toMs);
}

/** "the host stalled 124 ms at 08:01:02.345 UTC (2.4 s into the window)". */
export function describeExcuse(excuse: HostExcuse, windowStartMs?: number, total?: number): string {
  const clock = new Date(excuse.atMs).toISOString().slice(11, 23);
  const into = windowStartMs === undefined ? '' : ` (${((excuse.atMs - windowStartMs) / 1000).toFixed(1)} s into the measurement)`;
  const what = excuse.source === 'host' ? 'the host stalled' : "the host held the guest's threads off the CPU";
  const sum = total !== undefined && total > excuse.stallMs + 0.5 ? `, ${Math.round(total)} ms in all` : '';
  return `${what} ${Math.round(excuse.stallMs)} ms at ${clock} UTC${into}${sum}`;
}

/** The trace in a few lines, for the report beside the guest's latency. */
export function hostTraceText(trace: HostTrace): string {
  if (trace.unavailable) return `host canary: not measured (${trace.unavailable})`;
  const span = (trace.endMs - trace.startMs) / 1000;
  const host = trace.stalls.filter((s) => s.source === 'host');
  const guest = trace.stalls.filter((s) => s.source === 'guest-cpu');
  const longest = (list: HostStall[]) => (list.length ? `${Math.max(...list.map((s) => s.toMs - s.fromMs)).toFixed(1)} ms` : '–');
  const idle = trace.seconds.map((s) => s.idle);
  const steal = trace.seconds.map((s) => s.steal);
  const pct = (v: number) => `${Math.round(v * 100)} %`;
  const lines = [
    `host canary over ${span.toFixed(1)} s (a look every ${trace.periodMs} ms; a stall is ≥ ${trace.stallMs} ms late):`,
    `  the canary woke late ${host.length} time(s), longest ${longest(host)}`,
    trace.guestWatched
      ? `  the guest's threads waited for a CPU ≥ 1 ms ${guest.length} time(s), longest ${longest(guest)}`
      : "  the guest's threads: not watched (the guest does not run on this machine)",
    idle.length
      ? `  CPU idle per second: ${pct(Math.min(...idle))}–${pct(Math.max(...idle))}; ` +
        `stolen by the hypervisor: up to ${pct(Math.max(...steal))}`
      : '  CPU idle per second: the window was shorter than a second',
    `  ${stalledMsWithin(trace, trace.startMs, trace.endMs).toFixed(0)} ms stalled in all`,
  ];
  return lines.join('\n');
}

/** How an inconclusive outcome is told from a failure: the error's name and its first words (Allure: "broken"). */
export const INCONCLUSIVE = { name: 'HostStalled', prefix: 'inconclusive — ' } as const;

export function isInconclusive(message: string | undefined): boolean {
  return message !== undefined && message.replace(/^HostStalled: /, '').startsWith(INCONCLUSIVE.prefix);
}

/** The first line of an inconclusive outcome: the last stall, how many tries, and what the image was about to be blamed for. */
export function inconclusiveHeadline(stalls: readonly string[], failed: string): string {
  const tries = stalls.length === 1 ? '' : ` (and in each of the ${stalls.length - 1} tries before it)`;
  return `${INCONCLUSIVE.prefix}${stalls.at(-1)}${tries}; not the image's verdict: ${failed}`;
}
