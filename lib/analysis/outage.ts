// The outage a disruption (a service restart, a guest reboot, a NIC flap) causes, per direction,
// read frame by frame from a constant-rate traffic run: from the first frame lost to the first
// delivered again (on the sender's clock: both are seen leaving the same host), the frames lost, and
// the reordering after recovery — as RFC 6201's reset time and sonic-mgmt's advanced reboot measure it.
// A direction whose frames never come back within the run "stayed down".
//
// Pure: a flow report in, values and sentences out.
import type { FlowResult, LossRun } from './flow-report.ts';

export interface DirectionOutage {
  /** e.g. "left→right". */
  direction: string;
  sent: number;
  lost: number;
  /** The longest run of consecutive frames lost (undefined: nothing was lost). */
  run?: LossRun;
  /** First lost → first delivered again, seconds (0 when nothing was lost; undefined when it stayed down). */
  outageS?: number;
  stayedDown: boolean;
  /** Frames reordered after the outage (after the longest loss run). */
  reorderedAfter: number;
  /** Seconds from the first lost frame to the end of the run (the frames lost in a row at the run's rate), when it stayed down. */
  downForAtLeastS?: number;
}

export interface OutageBounds {
  maxOutageSeconds: number;
  maxReorderedAfter: number;
}

/** The outage of one direction: its longest run of lost frames, in a run at a constant `ratePps`. */
export function directionOutage(flow: FlowResult, ratePps: number): DirectionOutage {
  const run = flow.lossRuns[0];
  const direction = `${flow.from}→${flow.to}`;
  if (!run) return { direction, sent: flow.sent, lost: flow.lost, outageS: 0, stayedDown: false, reorderedAfter: flow.reordered.count };
  const stayedDown = run.resumedNs === null;
  return {
    direction,
    sent: flow.sent,
    lost: flow.lost,
    run,
    outageS: stayedDown ? undefined : (run.resumedNs! - run.fromNs) / 1e9,
    stayedDown,
    reorderedAfter: run.reorderedAfter,
    downForAtLeastS: stayedDown ? run.frames / ratePps : undefined,
  };
}

/** What is wrong with the outages of `what` (e.g. "the service restart"), each a sentence naming the direction; [] when within bounds. */
export function outageProblems(what: string, outages: readonly DirectionOutage[], bounds: OutageBounds): string[] {
  const problems: string[] = [];
  for (const o of outages) {
    if (o.stayedDown) {
      const down = o.downForAtLeastS === undefined ? '' : ` for the ${o.downForAtLeastS.toFixed(1)} s left of the run`;
      problems.push(
        `${o.direction} stayed down after ${what}: no frame was delivered again${down} once frames began to be lost ` +
          `(from frame ${o.run!.firstSeq} on; ${o.lost} of ${o.sent} lost) — the service did not come back in that direction`,
      );
      continue;
    }
    if (o.run?.firstSeq === 0)
      problems.push(`${o.direction}: frames were lost from the first one on, so ${what} came before the traffic — not measured`);
    if ((o.outageS ?? 0) > bounds.maxOutageSeconds)
      problems.push(
        `${o.direction}: ${what} interrupted traffic for ${o.outageS!.toFixed(2)} s (first lost → first delivered again, ` +
          `${o.run!.frames} frames in a row), above the bound of ${bounds.maxOutageSeconds} s (restart.maxOutageSeconds)`,
      );
    if (o.reorderedAfter > bounds.maxReorderedAfter)
      problems.push(
        `${o.direction}: ${o.reorderedAfter} frames arrived out of order after recovering from ${what}, above the bound of ` +
          `${bounds.maxReorderedAfter} (restart.maxReorderedAfter)`,
      );
  }
  return problems;
}

/** One line per direction, for the report and the terminal. */
export function describeOutage(o: DirectionOutage): string {
  if (!o.run) return `${o.direction}: no frame lost (${o.sent} sent)`;
  const span = o.stayedDown ? 'stayed down' : `outage ${o.outageS!.toFixed(3)} s`;
  return (
    `${o.direction}: ${span}, first lost frame ${o.run.firstSeq}, ${o.run.frames} lost in a row, ${o.lost} of ${o.sent} lost in all, ` +
    `${o.reorderedAfter} reordered after recovery`
  );
}
