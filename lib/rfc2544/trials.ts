// RFC 2544 trials on a real lab: each one is a traffic run (lib/traffic/traffic-run.ts) of UDP frames of one size
// both ways at once through the guest, reduced to what the searches in search.ts need — offered and
// achieved rate, frames sent and received, latency, capture drops — and the lab's ceiling, measured
// once per frame size. Rates are frames/s per direction.
import type { TrafficRun } from '../traffic/traffic-run.ts';
import { runTraffic, type FlowDefinition } from '../traffic/traffic-run.ts';
import type { Percentiles } from '../analysis/flow-report.ts';
import type { Lab } from '../lab/lab.ts';
import { frameBytesWithoutFcs, type BurstTrial, type LabCeiling, type Trial, type TrialResult } from './search.ts';
import { udpTemplate } from '../traffic/templates.ts';
import { flowPath, type Side } from '../core/sides.ts';

/** Burst flows are scheduled this densely; with top speed on, the generator ignores the schedule anyway. */
const BURST_SCHEDULE_PPS = 1_000_000;

export interface TrialContext {
  lab: Lab;
  /** Frame size on the wire (with FCS). */
  wireSize: number;
  /** Names the trials' pcaps, e.g. 'throughput'. */
  label: string;
  /** Called after every trial (progress on the terminal). */
  onTrial?: (what: string, result: TrialResult) => void;
}

let trialCounter = 0;

function flowsBothWays(lab: Lab, wireSize: number, count: number, ratePps: number): FlowDefinition[] {
  const size = frameBytesWithoutFcs(wireSize);
  const one = (from: Side, to: Side): FlowDefinition => ({
    name: `${wireSize}B ${from}→${to}`,
    from,
    to,
    template: udpTemplate(lab, from, to),
    count,
    ratePps,
    size,
  });
  return [one('left', 'right'), one('right', 'left')];
}

/**
 * A trial at an offered rate per direction, lasting `seconds` — or longer at a low rate, so that it
 * sends at least `minFrames` each way (with 25 frames, a guest that drops 5 % passes one trial in 4).
 */
export function rateTrial(ctx: TrialContext, seconds: number, minFrames = 1): Trial {
  return async (offeredPps) => {
    const count = Math.max(1, minFrames, Math.round(offeredPps * seconds));
    const name = `rfc2544-${ctx.label}-${ctx.wireSize}B-${offeredPps}pps-${++trialCounter}`;
    const run = await runTraffic(ctx.lab, flowsBothWays(ctx.lab, ctx.wireSize, count, offeredPps), { name, timed: true });
    const result = trialResult(run, offeredPps);
    ctx.onTrial?.(`${ctx.label} ${ctx.wireSize} B at ${offeredPps} pps`, result);
    return result;
  };
}

/** A burst of `frames` frames each way at the generator's top speed. */
export function burstTrial(ctx: TrialContext): BurstTrial {
  return async (frames) => {
    const name = `rfc2544-${ctx.label}-${ctx.wireSize}B-burst${frames}-${++trialCounter}`;
    const run = await runTraffic(ctx.lab, flowsBothWays(ctx.lab, ctx.wireSize, frames, BURST_SCHEDULE_PPS), {
      name,
      topSpeed: true,
      timed: true,
    });
    const result = trialResult(run, 0);
    ctx.onTrial?.(`${ctx.label} ${ctx.wireSize} B burst of ${frames}`, result);
    return result;
  };
}

/** Ceilings measured on a lab, per frame size: once per lab, shared by the suite's tests. */
const ceilings = new WeakMap<Lab, Map<number, Promise<LabCeiling>>>();

/**
 * What the lab can offer at all for one frame size: a burst of `frames` each way at the generator's top
 * speed, captured where it enters the guest. The ceiling is the slower side's achieved rate times the
 * share of frames the lab's own path (host NIC → bridge → the guest's port) delivered.
 */
export function measureCeiling(ctx: TrialContext, frames: number): Promise<LabCeiling> {
  let perLab = ceilings.get(ctx.lab);
  if (!perLab) ceilings.set(ctx.lab, (perLab = new Map()));
  let measuring = perLab.get(ctx.wireSize);
  if (!measuring) {
    measuring = (async () => {
      const name = `rfc2544-ceiling-${ctx.wireSize}B-${++trialCounter}`;
      const run = await runTraffic(ctx.lab, flowsBothWays(ctx.lab, ctx.wireSize, frames, BURST_SCHEDULE_PPS), {
        name,
        topSpeed: true,
        timed: true,
      });
      const ceiling = ceilingFromBurst(run, ctx.wireSize);
      ctx.onTrial?.(`ceiling ${ctx.wireSize} B (top-speed burst of ${frames})`, trialResult(run, 0));
      return ceiling;
    })();
    perLab.set(ctx.wireSize, measuring);
  }
  return measuring;
}

/** The ceiling a top-speed burst shows: the slower generator, scaled by what reached the guest's ports. */
export function ceilingFromBurst(run: Pick<TrafficRun, 'report' | 'injections'>, wireSize: number): LabCeiling {
  const generatorPps = run.injections.length > 0 ? Math.min(...run.injections.map((i) => i.achievedPps)) : 0;
  const shares = run.report.flows.map((f) => (f.sent > 0 ? f.received[flowPath(f).ingress] / f.sent : 0));
  const deliveredShare = shares.length > 0 ? Math.min(...shares) : 0;
  const captureDrops = Object.values(run.report.captureDrops).reduce<number>((s, v) => s + (v ?? 0), 0);
  return {
    wireSize,
    pps: Math.max(1, Math.round(generatorPps * deliveredShare)),
    source: 'measured',
    generatorPps,
    deliveredShare,
    captureDrops,
  };
}

/**
 * One traffic run as a trial: frames of both directions added up; the achieved rate is the slower
 * direction's (per direction, like the offered rate); latency is the worse direction's per percentile.
 */
export function trialResult(run: Pick<TrafficRun, 'report' | 'injections'>, offeredPps: number): TrialResult {
  const flows = run.report.flows;
  const sent = flows.reduce((s, f) => s + f.sent, 0);
  const lost = flows.reduce((s, f) => s + f.lost, 0);
  const achieved = run.injections.length > 0 ? Math.min(...run.injections.map((i) => i.achievedPps)) : 0;
  const captureDrops = Object.values(run.report.captureDrops).reduce<number>((s, v) => s + (v ?? 0), 0);
  return {
    offeredPps,
    achievedPps: achieved,
    sent,
    received: sent - lost,
    lost,
    latencyUs: worstLatency(flows.map((f) => f.latencyUs)),
    captureDrops,
  };
}

function worstLatency(list: (Percentiles | null)[]): Percentiles | null {
  const present = list.filter((p): p is Percentiles => p !== null);
  if (present.length === 0) return null;
  const worst = (k: keyof Percentiles) => Math.max(...present.map((p) => p[k]));
  return {
    samples: present.reduce((s, p) => s + p.samples, 0),
    min: Math.min(...present.map((p) => p.min)),
    p50: worst('p50'),
    p90: worst('p90'),
    p99: worst('p99'),
    max: worst('max'),
  };
}
