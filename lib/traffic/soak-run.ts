// A soak: constant traffic both ways through the guest for minutes to hours, joined frame by frame
// while it runs (lib/analysis/soak-join.ts) and reduced to a row per second, with the guest's health
// sampled every few seconds and the host canary beside it all. Memory and disk stay bounded: the
// frames are generated lazily and streamed into tcpreplay over SSH, the captures stream out of tcpdump
// into the join, and only a ring of pcap segments (and the segments around a failure) is kept as
// evidence. wirelab's own peak memory and the evidence's peak disk use are measured and reported.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { HostTrace } from '../core/host-trace.ts';
import type { RunId } from '../core/run-id.ts';
import { CAPTURE_POINTS, type CapturePoint, type Side } from '../core/sides.ts';
import { flow } from '../frames/index.ts';
import type { Emission, EmissionTally } from '../analysis/flow-report.ts';
import type { InjectionResult } from '../analysis/run.ts';
import { SoakJoin, type SoakFlow, type SoakFlowTotals, type SoakSecond } from '../analysis/soak-join.ts';
import type { HealthSample } from '../analysis/soak-verdict.ts';
import type { Lab } from '../lab/lab.ts';
import { streamCapture, type StreamedCapture } from './capture-stream.ts';
import { PcapRing } from './pcap-ring.ts';
import { streamFrames } from './stream-sender.ts';
import { udpTemplate } from './templates.ts';
import { canaryFor } from './traffic-run.ts';

export interface SoakOptions {
  ratePps: number;
  seconds: number;
  /** Bytes without FCS. */
  frameSize: number;
  healthSeconds: number;
  /** Called with each second as it is finished (progress, live checks). */
  onSecond?: (second: SoakSecond) => void;
}

/** wirelab's own cost of the soak: the CLI worker's memory and the evidence on disk, at their peaks. */
export interface SoakResources {
  peakRssMiB: number;
  peakHeapMiB: number;
  /** The pcap ring's peak size on disk. */
  peakDiskMiB: number;
  /** Frames the four captures streamed through the join. */
  framesJoined: number;
}

export interface SoakRun {
  runId: RunId;
  ratePps: number;
  frameSize: number;
  /** Wall clock of the first frame's schedule (ms since the epoch). */
  startMs: number;
  flows: SoakFlow[];
  seconds: SoakSecond[];
  totals: SoakFlowTotals[];
  health: HealthSample[];
  host?: HostTrace;
  emissions: EmissionTally[];
  emissionList: Emission[];
  captureDrops: Partial<Record<CapturePoint, number>>;
  injections: InjectionResult[];
  guestStopped?: { atS: number; why: string };
  /** The pcap segments kept as evidence, per capture point. */
  pcaps: Record<CapturePoint, string[]>;
  resources: SoakResources;
}

/** Frames after the last one is sent, for the slowest to arrive, before the captures stop. */
const SETTLE_MS = 2000;

/**
 * Neither a quiet-machine measurement nor registered busy work (lib/runtime/quiet-machine.ts): an hour's
 * hold either way would stop every other lab on the machine, whose timed windows wait at most 10 min for
 * busy work. The CPU gate sees the soak's load like any other; the soak's latency, and theirs, is judged
 * beside the host canary instead, second by second.
 */
export async function runSoak(lab: Lab, opts: SoakOptions): Promise<SoakRun> {
  const dir = path.join(lab.workDir, 'captures', 'soak');
  mkdirSync(dir, { recursive: true });
  const count = Math.max(1, Math.round(opts.ratePps * opts.seconds));
  const one = (from: Side, to: Side, flowId: number): SoakFlow => ({
    name: `soak ${from}→${to}`,
    from,
    to,
    ratePps: opts.ratePps,
    frames: flow({ template: udpTemplate(lab, from, to), runId: lab.runId, flowId, count, ratePps: opts.ratePps, size: opts.frameSize }),
  });
  const flows = [one('left', 'right', 1), one('right', 'left', 2)];
  const join = new SoakJoin(lab.runId, flows, {
    hosts: { left: lab.hosts.left, right: lab.hosts.right },
    guestMacs: { left: lab.ports.left.guestMac, right: lab.ports.right.guestMac },
  });
  const canary = await canaryFor(lab);
  const resources: SoakResources = { peakRssMiB: 0, peakHeapMiB: 0, peakDiskMiB: 0, framesJoined: 0 };
  const rings = Object.fromEntries(CAPTURE_POINTS.map((p) => [p, new PcapRing(dir, p)])) as Record<CapturePoint, PcapRing>;
  const captures: StreamedCapture[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    // The hosts' captures listen first (as for every traffic run): no unsigned frame slips past them.
    captures.push(...(await Promise.all([streamCapture(lab, 'left-host'), streamCapture(lab, 'right-host')])));
    captures.push(...(await Promise.all([streamCapture(lab, 'guest-left'), streamCapture(lab, 'guest-right')])));
    const consumed = captures.map(async (c) => {
      for await (const r of c.records) {
        join.add(c.point, r.tsNs, r.data);
        rings[c.point].write(r.data, r.tsNs);
        resources.framesJoined++;
      }
    });

    const startMs = Date.now();
    const health: HealthSample[] = [];
    let guestStopped: SoakRun['guestStopped'];
    const sampleHealth = async () => {
      const h = await lab.guest.health?.().catch(() => undefined);
      if (!h) return;
      const used = h.memTotalMiB !== undefined && h.memAvailableMiB !== undefined ? h.memTotalMiB - h.memAvailableMiB : undefined;
      health.push({
        atS: (Date.now() - startMs) / 1000,
        ...(used !== undefined ? { memUsedMiB: used } : {}),
        ...(h.memAvailableMiB !== undefined ? { memAvailableMiB: h.memAvailableMiB } : {}),
        ...(h.rssMiB !== undefined ? { rssMiB: h.rssMiB } : {}),
      });
    };
    const finishUpTo = (second: number) => {
      const before = join.seconds.length;
      join.finishThrough(second, canary?.recentStalls(startMs + (second - 30) * 1000));
      for (const s of join.seconds.slice(before)) {
        opts.onSecond?.(s);
        if (s.flows.some((c) => c.lost > 0))
          for (const ring of Object.values(rings)) ring.keep(BigInt(startMs + s.second * 1000) * 1_000_000n);
      }
    };
    const tick = () => {
      const now = Date.now();
      finishUpTo(join.finishableSecond());
      join.attributeUnsigned();
      const mem = process.memoryUsage();
      resources.peakRssMiB = Math.max(resources.peakRssMiB, mem.rss / 1048576);
      resources.peakHeapMiB = Math.max(resources.peakHeapMiB, mem.heapUsed / 1048576);
      const disk = Object.values(rings).reduce((n, r) => n + r.measure(), 0);
      resources.peakDiskMiB = Math.max(resources.peakDiskMiB, disk / 1048576);
      const why = lab.guest.stopped?.();
      if (why && !guestStopped) guestStopped = { atS: (now - startMs) / 1000, why };
    };
    timers.push(setInterval(tick, 1000));
    void sampleHealth();
    timers.push(setInterval(() => void sampleHealth(), opts.healthSeconds * 1000));

    const timeoutMs = opts.seconds * 2000 + 60_000;
    const injections = await Promise.all(
      flows.map((f) => streamFrames(lab.hosts[f.from], f.frames, { requestedPps: opts.ratePps, timeoutMs })),
    );
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    for (const t of timers) clearInterval(t);
    await sampleHealth();
    const stats = await Promise.all(captures.map((c) => c.stop()));
    await Promise.all(consumed);
    tick();
    finishUpTo(join.lastSecond);
    join.attributeUnsigned(true);
    const host = await canary?.stop();
    const kept = await Promise.all(CAPTURE_POINTS.map((p) => rings[p].close()));
    resources.peakDiskMiB = Math.max(resources.peakDiskMiB, CAPTURE_POINTS.reduce((n, p) => n + rings[p].peakBytes, 0) / 1048576);
    return {
      runId: lab.runId,
      ratePps: opts.ratePps,
      frameSize: opts.frameSize,
      startMs,
      flows,
      seconds: join.seconds,
      totals: join.totals(),
      health,
      ...(host ? { host } : {}),
      emissions: join.emissions,
      emissionList: join.emissionList,
      captureDrops: Object.fromEntries(captures.map((c, i) => [c.point, stats[i]!.droppedByKernel])),
      injections,
      ...(guestStopped ? { guestStopped } : {}),
      pcaps: Object.fromEntries(CAPTURE_POINTS.map((p, i) => [p, kept[i]!])) as Record<CapturePoint, string[]>,
      resources,
    };
  } finally {
    for (const t of timers) clearInterval(t);
    await Promise.all(captures.map((c) => c.stop().catch(() => undefined)));
    await canary?.stop();
  }
}
