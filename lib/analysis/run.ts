// What a traffic run hands its checks besides the flow report: how each side's generator did.
// A check that knows the achieved rate never blames a slow generator on the guest.
import type { Side } from '../core/sides.ts';
import type { TrafficReport } from './flow-report.ts';

export interface InjectionResult {
  side: Side;
  frames: number;
  /** Frames tcpreplay reports sent and failed. */
  sent: number;
  failed: number;
  requestedPps: number | 'max';
  achievedPps: number;
  durationS: number;
}

/** A flow report with its injections: what lib/traffic/traffic-run.ts's TrafficRun carries for the checks. */
export interface AnalysedRun {
  report: TrafficReport;
  injections: readonly InjectionResult[];
  /** Set when the guest was no longer running at the end of the run (e.g. "QEMU exited (killed by SIGKILL)"). */
  guestStopped?: string;
}
