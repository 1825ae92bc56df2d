// RFC 2889 ("Benchmarking Methodology for LAN Switching Devices") trials for an l2-bridge on a real
// lab, each reduced to the TrialResult the searches in lib/rfc2544/search.ts drive:
//   - learning: `addresses` stations on the left send one frame each (learning frames) at a rate;
//     then a test frame goes from the left to each of them. A bridge that learned a station filters
//     the test frame (its destination is on the port it came in by); one it did not learn floods it
//     out of its other port, where the right host sees it. With two ports, filtering is how learning
//     shows — so a test frame reaching the right host counts as "lost" to the search: an unlearned
//     station. (The lab's own bridges learn nothing — ageing time 0 — so they never filter for the guest.)
//   - broadcast: frames to ff:ff:ff:ff:ff:ff from both hosts at once, counted at the other host.
// Every learning trial uses stations never used before, so what the guest learned earlier cannot help.
import { flowPath } from '../core/sides.ts';
import type { Side } from '../core/sides.ts';
import { Ether, IPv4, stack, UDP } from '../frames/index.ts';
import type { Lab } from '../lab/lab.ts';
import { broadcastTemplate } from '../traffic/templates.ts';
import { runTraffic, type FlowDefinition } from '../traffic/traffic-run.ts';
import type { BurstTrial, Trial, TrialResult } from '../rfc2544/search.ts';
import { trialResult } from '../rfc2544/trials.ts';

/** 64-byte frames on the wire (60 built), as RFC 2889 asks for its address tests. */
const FRAME_BYTES = 60;
/** Test frames start this long after the last learning frame, so the guest has taken in the addresses. */
const LEARN_SETTLE_MS = 300;

let trialCounter = 0;

export interface LearningTrialResult extends TrialResult {
  /** Learning frames that reached the guest's left port (the stations it was offered). */
  offeredStations: number;
}

export interface Rfc2889Context {
  lab: Lab;
  onTrial?: (what: string, r: TrialResult) => void;
}

/** A block of station MACs no earlier trial used: 02:cf:<trial>:00:00:00 upwards. */
function stationBase(trial: number): string {
  return `02:cf:${((trial >> 8) & 0xff).toString(16).padStart(2, '0')}:${(trial & 0xff).toString(16).padStart(2, '0')}:00:00`;
}

/** One learning trial: `addresses` stations learned at `ratePps`, then one test frame to each at the same rate. */
export async function learningTrial(ctx: Rfc2889Context, addresses: number, ratePps: number): Promise<LearningTrialResult> {
  const { lab } = ctx;
  const n = ++trialCounter;
  const base = stationBase(n);
  const left = lab.hosts.left;
  const right = lab.hosts.right;
  const ip = (cidr: string) => cidr.split('/')[0]!;
  const learnMs = (addresses / ratePps) * 1000;
  const flows: FlowDefinition[] = [
    {
      name: `learning ${addresses} stations`,
      from: 'left',
      to: 'right',
      template: stack(
        Ether({ src: base, dst: right.mac }),
        IPv4({ src: ip(left.ipv4), dst: ip(right.ipv4) }),
        UDP({ sport: 10_889, dport: 20_889 }),
      ),
      count: addresses,
      ratePps,
      size: FRAME_BYTES,
      vary: { srcMac: addresses },
    },
    {
      name: `test frames to ${addresses} stations`,
      from: 'left',
      to: 'right',
      template: stack(
        Ether({ src: left.mac, dst: base }),
        IPv4({ src: ip(left.ipv4), dst: ip(right.ipv4) }),
        UDP({ sport: 10_890, dport: 20_890 }),
      ),
      count: addresses,
      ratePps,
      size: FRAME_BYTES,
      vary: { dstMac: addresses },
      startMs: learnMs + LEARN_SETTLE_MS,
    },
  ];
  const run = await runTraffic(lab, flows, { name: `rfc2889-learning-${addresses}-${ratePps}pps-${n}`, timed: true });
  const [learning, test] = run.report.flows;
  const leaked = test!.received[flowPath(test!).receiver];
  // The left host sends both flows one after the other, with a pause between: the rate is all its frames over its time sending.
  const inj = run.injections[0];
  const achieved = inj ? inj.sent / Math.max(0.001, inj.durationS - LEARN_SETTLE_MS / 1000) : 0;
  const result: LearningTrialResult = {
    offeredPps: ratePps,
    achievedPps: achieved,
    sent: addresses,
    received: addresses - leaked,
    lost: leaked,
    offeredStations: learning!.received[flowPath(learning!).ingress],
    captureDrops: Object.values(run.report.captureDrops).reduce<number>((s, v) => s + (v ?? 0), 0),
  };
  ctx.onTrial?.(`learning ${addresses} stations at ${ratePps} pps`, result);
  return result;
}

/** The learning trial as the searches see it: on the number of stations (capacity) or on the rate (learning rate). */
export function capacityTrial(ctx: Rfc2889Context, ratePps: number): BurstTrial {
  return (addresses) => learningTrial(ctx, addresses, ratePps);
}

export function learningRateTrial(ctx: Rfc2889Context, addresses: number): Trial {
  return (ratePps) => learningTrial(ctx, addresses, ratePps);
}

/** Broadcast frames from both hosts at once at a rate per direction, for `seconds` (at least `minFrames` each). */
export function broadcastTrial(ctx: Rfc2889Context, seconds: number, minFrames: number): Trial {
  return async (ratePps) => {
    const count = Math.max(minFrames, Math.round(ratePps * seconds));
    const one = (from: Side, to: Side): FlowDefinition => ({
      name: `broadcast ${from}→${to}`,
      from,
      to,
      template: broadcastTemplate(ctx.lab, from),
      count,
      ratePps,
      size: FRAME_BYTES,
    });
    const run = await runTraffic(ctx.lab, [one('left', 'right'), one('right', 'left')], {
      name: `rfc2889-broadcast-${ratePps}pps-${++trialCounter}`,
      timed: true,
    });
    const result = trialResult(run, ratePps);
    ctx.onTrial?.(`broadcast at ${ratePps} pps`, result);
    return result;
  };
}
