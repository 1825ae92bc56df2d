// What the host itself did while a timed measurement ran: the instrument measured beside the guest.
// A canary (lib/runtime/host-canary.ts) records when the host could not run a waiting process on time
// (the host stalled: another load, the hypervisor's steal) and when it held the guest's own threads
// off the CPU, plus the CPUs' idle and steal share per second. lib/analysis/host-stall.ts judges
// latency, gaps and outages beside it. Times are wall-clock ms since the epoch with µs precision:
// the clock tcpdump stamps frames with, so frames and stalls are compared directly.

/** One span during which the host stalled. */
export interface HostStall {
  fromMs: number;
  toMs: number;
  /** `host`: the canary itself woke late (every process stalled); `guest-cpu`: the guest's threads waited for a CPU. */
  source: 'host' | 'guest-cpu';
}

/** One second of the host, as the canary saw it. */
export interface HostSecond {
  /** The second's start (ms since the epoch). */
  atMs: number;
  /** Share of all CPU time idle (idle + iowait) and stolen by the hypervisor (0..1). */
  idle: number;
  steal: number;
  /** The canary's largest wake-up lateness and the guest threads' largest wait for a CPU in this second, ms. */
  maxLateMs: number;
  maxGuestWaitMs: number;
}

export interface HostTrace {
  startMs: number;
  endMs: number;
  /** The canary's sampling period and the lateness it calls a stall, ms. */
  periodMs: number;
  stallMs: number;
  stalls: HostStall[];
  seconds: HostSecond[];
  /** Whether the guest's own threads were watched (QEMU's pid known on this machine). */
  guestWatched: boolean;
  /** Set when the canary could not run (the judgement then has nothing to go by). */
  unavailable?: string;
}

/** How long the host stalled within [fromMs, toMs], every stall counted once where several overlap (stalls sorted by start). */
export function stalledMsWithin(stalls: readonly HostStall[], fromMs: number, toMs: number): number {
  let total = 0;
  let coveredTo = fromMs;
  for (const s of stalls) {
    if (s.fromMs > toMs) break;
    const a = Math.max(coveredTo, s.fromMs);
    const b = Math.min(toMs, s.toMs);
    if (b > a) total += b - a;
    coveredTo = Math.max(coveredTo, b);
  }
  return total;
}
