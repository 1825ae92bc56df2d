// One traffic run through the lab: start captures on all four points and confirm they listen, send
// every flow from its traffic host (both sides at once), let the last frame arrive, stop the
// captures, and join them frame by frame into a report. The pcaps stay in the run's work directory
// as evidence.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startLocalCapture, startRemoteCapture, type Capture, type CaptureResult } from './capture.ts';
import { analyzeTraffic, type SentFlow, type TrafficReport } from '../analysis/flow-report.ts';
import type { AnalysedRun } from '../analysis/run.ts';
import type { RunId } from '../core/run-id.ts';
import { flow, type Flow, type FlowFrame, type FlowVary, type Packet } from '../frames/index.ts';
import { injectFrames, type InjectionResult } from './injector.ts';
import type { Lab } from '../lab/lab.ts';
import { readPcap } from '../pcap/pcap.ts';
import { recordPhase, timedPhase } from '../runtime/phases.ts';
import { asBusyWork, onQuietMachine, type QuietWait } from '../runtime/quiet-machine.ts';
import { startHostCanary, type HostCanary } from '../runtime/host-canary.ts';
import type { HostTrace } from '../core/host-trace.ts';
import { CAPTURE_POINTS, hostPoint, SIDES, type CapturePoint, type Side } from '../core/sides.ts';
import type { TimedFrame } from '../core/timed-frame.ts';

export interface FlowDefinition {
  name: string;
  from: Side;
  to: Side;
  /** Headers down to L4; the signature (and padding to `size`) is added. */
  template: Packet;
  count: number;
  ratePps: number;
  /** Frame size without FCS (60..9216), or 'imix'. */
  size: number | 'imix';
  vary?: FlowVary;
  /** Frames sent back to back, this many at a time (see FlowOptions.burst). */
  burst?: number;
  /** When the flow's first frame leaves, after the window's start: flows one after another in one window. */
  startMs?: number;
}

/** What one traffic run produced: the report, how the generators did, and the evidence. */
export interface TrafficRun extends AnalysedRun {
  name: string;
  /** The lab's run id: what the run's frames carry in their signatures. */
  runId: RunId;
  report: TrafficReport;
  injections: InjectionResult[];
  /** One pcap per capture point. */
  pcaps: Record<CapturePoint, string>;
  /** A timed run: how long it waited for a quiet machine, and how idle the CPUs were at its start. */
  quiet?: QuietWait;
  /** The host beside the run (its stalls, its CPUs), when the canary ran: what clock-bound checks are judged beside. */
  host?: HostTrace;
}

export interface TrafficOptions {
  /** Names the run's pcaps; unique per test. */
  name: string;
  /** How long to keep capturing after the last frame was sent (frames still in flight). */
  settleMs?: number;
  /** Send as fast as the generator can (tcpreplay --topspeed), ignoring the flows' rates: bursts. */
  topSpeed?: boolean;
  /**
   * Latency or loss at a rate is asserted on this run: it runs alone on the machine, with other labs'
   * boots and traffic held back (lib/runtime/quiet-machine.ts). Otherwise it is busy work that may overlap them.
   */
  timed?: boolean;
  /** Spread the flows of each side over one frame interval, so they interleave (see interleaveOffsets). */
  interleave?: boolean;
  /** Measure the host beside the run (lib/runtime/host-canary.ts); default: for timed runs. */
  canary?: boolean;
  /** Called once every capture listens, as the frames start on their way to the traffic hosts (outage timing). */
  onInjecting?: () => void;
}

export function runTraffic(lab: Lab, definitions: FlowDefinition[], opts: TrafficOptions): Promise<TrafficRun> {
  const what = `traffic run '${opts.name}' of lab ${lab.runId}`;
  if (!opts.timed) return asBusyWork(what, () => sendAndCapture(lab, definitions, opts));
  return onQuietMachine(what, async (quiet) => ({ ...(await sendAndCapture(lab, definitions, opts)), quiet }));
}

async function sendAndCapture(lab: Lab, definitions: FlowDefinition[], opts: TrafficOptions): Promise<TrafficRun> {
  const interleaved = opts.interleave ? interleaveOffsets(definitions) : definitions.map(() => 0n);
  const offsets = definitions.map((d, i) => interleaved[i]! + BigInt(Math.round((d.startMs ?? 0) * 1e6)));
  const flows = definitions.map((d, i) => ({
    def: d,
    flow: flow({
      template: d.template,
      runId: lab.runId,
      flowId: i + 1,
      count: d.count,
      ratePps: d.ratePps,
      size: d.size,
      vary: d.vary,
      burst: d.burst,
      startNs: offsets[i],
    }),
  }));
  // The frames' own time at the rates asked: the part of this window no tool can make shorter.
  const framesMs = Math.max(...flows.map((f, i) => Number(offsets[i]!) / 1e6 + (f.def.count / f.def.ratePps) * 1000));
  const trafficStartMs = Date.now();
  const canary = (opts.canary ?? opts.timed) ? await canaryFor(lab) : undefined;
  let host: HostTrace | undefined;
  let session: CaptureSession;
  try {
    session = await startCaptureSession(lab, opts.name);
  } catch (e) {
    await canary?.stop();
    throw e;
  }
  let injections: InjectionResult[];
  try {
    opts.onInjecting?.();
    injections = await Promise.all(
      SIDES.filter((side) => flows.some((f) => f.def.from === side)).map((side) => {
        const mine = flows.filter((f) => f.def.from === side);
        const durationMs = Math.max(...mine.map((f) => (f.def.startMs ?? 0) + (f.def.count / f.def.ratePps) * 1000));
        const requested = mine.reduce((sum, f) => sum + f.def.ratePps, 0);
        return injectFrames(lab.hosts[side], mergeBySendTime(mine.map((f) => f.flow)), {
          requestedPps: opts.topSpeed ? 'max' : requested,
          timeoutMs: Math.max(10_000, durationMs * 3 + 5000),
          // The run id in the remote file's name (and so in tcpreplay's arguments): a reaper finds what a killed run left.
          name: `wirelab-${lab.runId}-${fileSafe(opts.name)}-${side}`,
        });
      }),
    );
    await settle(lab, session.pcaps, opts.settleMs ?? 500);
  } finally {
    await session.stop();
    host = await canary?.stop();
    recordPhase({ kind: 'traffic', label: opts.name, startMs: trafficStartMs, endMs: Date.now(), requestedMs: framesMs });
  }
  const sent: SentFlow[] = flows.map(({ def, flow: frames }) => ({ name: def.name, from: def.from, to: def.to, frames }));
  const report = await timedPhase('analysis', opts.name, () => session.analyze(sent));
  const guestStopped = lab.guest.stopped?.();
  return {
    name: opts.name,
    runId: lab.runId,
    report,
    injections,
    pcaps: session.pcaps,
    ...(guestStopped ? { guestStopped } : {}),
    ...(host ? { host } : {}),
  };
}

/** The canary where the guest runs on this machine (its ports captured here); none for a remote bench host. */
export function canaryFor(lab: Lab): Promise<HostCanary> | undefined {
  if (lab.ports.left.ssh) return undefined;
  return startHostCanary({ guestPids: lab.guest.pid === undefined ? [] : [lab.guest.pid] });
}

/**
 * Flows sent together start at evenly spread offsets within one frame interval of the fastest of
 * them, so their frames interleave instead of leaving in clumps at the same instants.
 */
function interleaveOffsets(definitions: FlowDefinition[]): bigint[] {
  const offsets: bigint[] = [];
  for (const side of SIDES) {
    const mine = definitions.map((d, i) => ({ d, i })).filter((x) => x.d.from === side);
    const intervalNs = 1e9 / Math.max(...mine.map((x) => x.d.ratePps));
    mine.forEach((x, j) => (offsets[x.i] = BigInt(Math.round((j * intervalNs) / mine.length))));
  }
  return offsets;
}

/** Captures on all four points of a lab, listening, written under the lab's work directory. */
export interface CaptureSession {
  readonly pcaps: Record<CapturePoint, string>;
  /** Stop every capture (idempotent). */
  stop(): Promise<void>;
  /**
   * Join what was captured, frame by frame, for these flows (stops the captures first). Frames `setAside`
   * says are part of something else (a proxy's own connections) are left out of the join.
   */
  analyze(flows: SentFlow[], setAside?: (frame: Buffer) => boolean): Promise<TrafficReport>;
}

/** Start the four captures and return once each is listening; their stop is on the lab's undo stack too. */
export async function startCaptureSession(lab: Lab, name: string): Promise<CaptureSession> {
  const dir = path.join(lab.workDir, 'captures', fileSafe(name));
  mkdirSync(dir, { recursive: true });
  const pcaps = Object.fromEntries(CAPTURE_POINTS.map((p) => [p, path.join(dir, `${p}.pcap`)])) as Record<CapturePoint, string>;
  const remote = (side: Side): Promise<Capture> =>
    startRemoteCapture({
      label: `the ${side} traffic host`,
      ssh: lab.hosts[side].ssh,
      ifname: lab.hosts[side].dataIf,
      file: pcaps[hostPoint(side)],
      stack: lab.stack,
      runId: lab.runId,
      // A bench lab's traffic hosts are the user's machines, without wirelab's run-until-eof: the same logic inline.
      stopper: lab.profile.kind === 'host' ? 'inline' : 'installed',
    });
  // The hosts' captures listen first: every unsigned frame later seen at a guest port can then be
  // told the hosts' (seen leaving a host) or the guest's own; none slipped past a capture not yet up.
  const [left, right] = await Promise.all([remote('left'), remote('right')]);
  const [guestLeft, guestRight] = await Promise.all([
    captureGuestPort(lab, 'left', pcaps['guest-left']),
    captureGuestPort(lab, 'right', pcaps['guest-right']),
  ]);
  const captures: Capture[] = [left, guestLeft, guestRight, right];
  let stopped: Promise<CaptureResult[]> | undefined;
  const stop = () => (stopped ??= Promise.all(captures.map((c) => c.stop())));
  return {
    pcaps,
    stop: async () => void (await stop()),
    analyze: async (flows, setAside) => {
      const results = await stop();
      const read = (file: string) => (setAside ? without(readPcap(file), setAside) : readPcap(file));
      return analyzeTraffic({
        runId: lab.runId,
        flows,
        hosts: { left: lab.hosts.left, right: lab.hosts.right },
        guestMacs: { left: lab.ports.left.guestMac, right: lab.ports.right.guestMac },
        captures: Object.fromEntries(CAPTURE_POINTS.map((p) => [p, read(pcaps[p])])),
        captureDrops: Object.fromEntries(CAPTURE_POINTS.map((p, i) => [p, results[i]?.droppedByKernel ?? 0])),
      });
    },
  };
}

async function* without(frames: AsyncIterable<TimedFrame>, setAside: (frame: Buffer) => boolean): AsyncIterable<TimedFrame> {
  for await (const frame of frames) if (!setAside(frame.data)) yield frame;
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** A guest port is captured where it is: on this machine, or on a remote bench host over SSH. */
function captureGuestPort(lab: Lab, side: Side, file: string): Promise<Capture> {
  const port = lab.ports[side];
  const label = `the guest's ${side} port`;
  return port.ssh
    ? startRemoteCapture({ label, ssh: port.ssh, ifname: port.ifname, file, stack: lab.stack, stopper: 'inline', runId: lab.runId })
    : startLocalCapture({ label, netns: port.netns, ifname: port.ifname, file, stack: lab.stack });
}

/**
 * Wait for the frames still in flight: at least `minMs`, then until the guest-port captures on this
 * machine have not grown for a quiet spell (twice the profile's latency bound, at least 0.5 s), at
 * most 5 s more. A slow guest under load thus gets its last frames counted instead of called lost.
 */
async function settle(lab: Lab, pcaps: Record<CapturePoint, string>, minMs: number): Promise<void> {
  await new Promise((r) => setTimeout(r, minMs));
  const local = (['guest-left', 'guest-right'] as const)
    .filter((p) => !lab.ports[p === 'guest-left' ? 'left' : 'right'].ssh)
    .map((p) => pcaps[p]);
  if (local.length === 0) return;
  const quietMs = Math.max(500, 2 * lab.profile.expect.latencyP99Ms);
  const size = () => local.reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
  const giveUpAt = Date.now() + 5000 + quietMs;
  let last = size();
  let quietSince = Date.now();
  while (Date.now() < giveUpAt && Date.now() - quietSince < quietMs) {
    await new Promise((r) => setTimeout(r, 100));
    const now = size();
    if (now !== last) [last, quietSince] = [now, Date.now()];
  }
}

/** Interleave several lazy flows into one schedule ordered by send time (a k-way merge, still lazy). */
function* mergeBySendTime(flows: Flow[]): Generator<FlowFrame> {
  const iterators = flows.map((f) => f[Symbol.iterator]());
  const heads = iterators.map((it) => it.next());
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]!;
      if (!h.done && (best < 0 || h.value.tsNs < (heads[best]!.value as FlowFrame).tsNs)) best = i;
    }
    if (best < 0) return;
    yield heads[best]!.value as FlowFrame;
    heads[best] = iterators[best]!.next();
  }
}
