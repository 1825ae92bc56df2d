// The soak's frame join, on line and in bounded memory: the same signature join as flow-report.ts —
// every test frame followed from the sending host through the guest's two ports to the receiving
// host — but fed frame by frame while the captures stream in, for as long as the soak lasts, and
// reduced to one row per second per flow: frames sent, delivered, lost (and where they vanished),
// duplicated, reordered, and the latency through the guest (beside the host canary's stalls). What
// the guest sends by itself is attributed as flow-report.ts does, over the whole soak.
//
// Memory: per flow a ring of the last RING_SECONDS of frames (typed arrays), a row per finished second
// and a latency histogram for the whole soak; unsigned frames are held HOLD_S at most. Nothing grows
// with the soak's length but the rows (a few hundred bytes per second).
//
// Pure: frames in, rows out. The caller finishes seconds as the wall clock passes them.
import { addressOf } from '../core/addressing.ts';
import { runTag, type RunId } from '../core/run-id.ts';
import { CAPTURE_POINTS, flowPath, guestPoint, hostPoint, SIDES, type CapturePoint, type Side } from '../core/sides.ts';
import { stalledMsWithin, type HostStall } from '../core/host-trace.ts';
import { findSignature, type Flow } from '../frames/index.ts';
import { SIG_FLOW_ID, SIG_SEQ } from '../frames/signature.ts';
import type { EmissionClass } from './emissions.ts';
import {
  guestFrameClass,
  l4PayloadOffset,
  macAt,
  MAX_EMISSIONS_LISTED,
  routedContentKey,
  type Emission,
  type EmissionTally,
  type LabAddresses,
  type Percentiles,
} from './flow-report.ts';
import { latencyWithoutHost } from './host-stall.ts';

/** A frame is called lost once its sender has sent this many seconds more after it (a slow guest's frames still count). */
export const HOLD_S = 5;
/** Seconds of frames each flow's ring holds: the hold, and a margin for a join that falls behind. */
const RING_SECONDS = HOLD_S + 10;
const NO_TS = -1;

/** A flow of the soak: constant rate from its start, so a frame's second is its sequence number over the rate. */
export interface SoakFlow {
  name: string;
  from: Side;
  to: Side;
  ratePps: number;
  frames: Flow;
}

/** One flow in one second of the soak. */
export interface SoakCell {
  sent: number;
  delivered: number;
  lost: number;
  /**
   * Of the lost: never seen leaving the sender; seen leaving it but never at the guest's ingress port (a tap
   * shows only what the guest takes from its NIC); entering but not leaving the guest; leaving it but not arriving.
   */
  lostAtSender: number;
  lostBeforeGuest: number;
  lostInGuest: number;
  lostAfterGuest: number;
  duplicated: number;
  reordered: number;
  /** Through the guest (ingress → egress port), µs. */
  latencyUs: Percentiles | null;
  /** The same beside the host canary: the median of the frames the host left alone, the tail less the host's stalls. */
  hostFreeLatencyUs: Percentiles | null;
  /** ms the host stalled during this second (0 when it did not, or was not watched). */
  hostStalledMs: number;
}

export interface SoakSecond {
  /** Seconds since the soak's first frame was scheduled. */
  second: number;
  /** One cell per flow, in the soak's flow order. */
  flows: SoakCell[];
}

/** The whole soak per flow: what the summary table and the run history show. */
export interface SoakFlowTotals {
  name: string;
  from: Side;
  to: Side;
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Over the whole soak, from a histogram (2 % resolution). */
  latencyUs: Percentiles | null;
}

/** Per flow: the last RING_SECONDS of frames, indexed by sequence number modulo the ring's size. */
class FlowRing {
  readonly size: number;
  readonly seqAt: Float64Array;
  readonly seen: Record<CapturePoint, Uint8Array>;
  readonly ingressTs: Float64Array;
  readonly egressTs: Float64Array;
  readonly path;
  /** Where the signature sits in this flow's frames as sent (the fast path of the position check). */
  readonly signatureOffset: number;
  highestSeq = -1;
  /** The highest sequence number seen leaving the sender: how far the generator has got (it may lag its schedule). */
  sentMax = -1;
  /** Reordered frames by the second they belong to, until that second is finished. */
  readonly reorderedBySecond = new Map<number, number>();
  readonly histogram = new LogHistogram();
  totals = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0 };

  constructor(readonly flow: SoakFlow) {
    this.size = Math.max(1, Math.ceil(flow.ratePps * RING_SECONDS));
    this.seqAt = new Float64Array(this.size).fill(NO_TS);
    this.seen = Object.fromEntries(CAPTURE_POINTS.map((p) => [p, new Uint8Array(this.size)])) as Record<CapturePoint, Uint8Array>;
    this.ingressTs = new Float64Array(this.size);
    this.egressTs = new Float64Array(this.size);
    this.path = flowPath(flow);
    this.signatureOffset = flow.frames.count > 0 ? findSignature(flow.frames.frameAt(0)) : -1;
  }

  secondOf(seq: number): number {
    return Math.floor(seq / this.flow.ratePps);
  }
}

interface HeldFrame {
  point: CapturePoint;
  tsNs: bigint;
  data: Buffer;
}

export class SoakJoin {
  private readonly tag: number;
  private readonly rings: FlowRing[];
  private readonly byFlowId = new Map<number, FlowRing>();
  /** The next second to finish. */
  private nextSecond = 0;
  readonly seconds: SoakSecond[] = [];
  // What the guest sends by itself: unsigned frames held until the hosts' captures have had their say.
  private readonly held: HeldFrame[] = [];
  private readonly hostKeys = new Map<string, bigint>();
  /** The latest capture time processed per point: the hosts' tell how far their captures have been read. */
  private readonly latestNs = new Map<CapturePoint, bigint>();
  private readonly hostMacs: Map<string, Side>;
  private readonly hostIps: Set<string>;
  readonly emissions: EmissionTally[] = CAPTURE_POINTS.map((point) => ({
    point,
    fromGuest: 0,
    byClass: {},
    bySourceMac: {},
    fromHosts: 0,
  }));
  readonly emissionList: Emission[] = [];

  constructor(
    runId: RunId,
    readonly flows: readonly SoakFlow[],
    lab: LabAddresses,
  ) {
    this.tag = runTag(runId);
    this.rings = flows.map((f) => new FlowRing(f));
    this.rings.forEach((r) => this.byFlowId.set(r.flow.frames.flowId, r));
    this.hostMacs = new Map(SIDES.map((side) => [lab.hosts[side].mac.toLowerCase(), side]));
    this.hostIps = new Set(SIDES.map((side) => addressOf(lab.hosts[side].ipv4)));
  }

  /**
   * The last second that can be finished now: every sender has sent HOLD_S seconds of frames after it
   * (by the sender's own capture, so a generator that lags its schedule never has its frames called lost).
   */
  finishableSecond(): number {
    return Math.min(...this.rings.map((r) => Math.floor(r.sentMax / r.flow.ratePps))) - HOLD_S;
  }

  /** The seconds the soak lasts: its longest flow. */
  get lastSecond(): number {
    return Math.max(...this.rings.map((r) => r.secondOf(r.flow.frames.count - 1)));
  }

  /** One captured frame, from any point, in capture order per point. */
  add(point: CapturePoint, tsNs: bigint, data: Buffer): void {
    if (tsNs > (this.latestNs.get(point) ?? 0n)) this.latestNs.set(point, tsNs);
    const off = findSignature(data, this.tag, 42);
    const ring = off >= 0 ? this.byFlowId.get(data.readUInt16BE(off + SIG_FLOW_ID)) : undefined;
    // A signature quoted inside another frame (an ICMP error) does not make that frame a test frame.
    if (ring && (off === ring.signatureOffset || off === l4PayloadOffset(data))) {
      const seq = data.readUInt32BE(off + SIG_SEQ);
      if (seq < ring.flow.frames.count) this.record(ring, point, seq, Number(tsNs));
      return;
    }
    if (off >= 0 && !ring) return; // a signed frame of this run but of no soak flow
    this.holdUnsigned(point, tsNs, data);
  }

  private record(ring: FlowRing, point: CapturePoint, seq: number, ts: number): void {
    const second = ring.secondOf(seq);
    if (second < this.nextSecond) return; // its second is finished: a frame later than the hold counts as lost
    const slot = seq % ring.size;
    if (ring.seqAt[slot] !== seq) {
      // The slot holds an older frame whose second is not finished yet: the join fell behind; finish up to it.
      if (ring.seqAt[slot] !== NO_TS) this.finishThrough(ring.secondOf(ring.seqAt[slot]!), undefined);
      for (const p of CAPTURE_POINTS) ring.seen[p][slot] = 0;
      ring.seqAt[slot] = seq;
      ring.ingressTs[slot] = NO_TS;
      ring.egressTs[slot] = NO_TS;
    }
    const seen = ring.seen[point];
    const { path } = ring;
    if (point === path.sender && seq > ring.sentMax) ring.sentMax = seq;
    if (point === path.ingress && seen[slot] === 0) ring.ingressTs[slot] = ts;
    if (point === path.egress && seen[slot] === 0) ring.egressTs[slot] = ts;
    if (point === path.receiver && seen[slot] === 0) {
      // Reordering as RFC 4737 counts it: a frame is reordered when a later one arrived before it.
      if (seq < ring.highestSeq) ring.reorderedBySecond.set(second, (ring.reorderedBySecond.get(second) ?? 0) + 1);
      else ring.highestSeq = seq;
    }
    if (seen[slot]! < 255) seen[slot]!++;
  }

  /**
   * Finish every second up to `second` (inclusive): its frames are counted, those not delivered are lost.
   * `stalls`: the host canary's stalls so far, to judge the latency beside.
   */
  finishThrough(second: number, stalls: readonly HostStall[] | undefined): void {
    const last = Math.min(second, this.lastSecond);
    for (; this.nextSecond <= last; this.nextSecond++) {
      const s = this.nextSecond;
      this.seconds.push({ second: s, flows: this.rings.map((ring) => this.finishCell(ring, s, stalls)) });
    }
  }

  private finishCell(ring: FlowRing, second: number, stalls: readonly HostStall[] | undefined): SoakCell {
    const rate = ring.flow.ratePps;
    const first = Math.ceil(second * rate);
    const end = Math.min(ring.flow.frames.count, Math.ceil((second + 1) * rate));
    const cell: SoakCell = {
      sent: Math.max(0, end - first),
      delivered: 0,
      lost: 0,
      lostAtSender: 0,
      lostBeforeGuest: 0,
      lostInGuest: 0,
      lostAfterGuest: 0,
      duplicated: 0,
      reordered: ring.reorderedBySecond.get(second) ?? 0,
      latencyUs: null,
      hostFreeLatencyUs: null,
      hostStalledMs: 0,
    };
    ring.reorderedBySecond.delete(second);
    const samples: number[] = [];
    const ingressNs: number[] = [];
    const { path } = ring;
    for (let seq = first; seq < end; seq++) {
      const slot = seq % ring.size;
      const mine = ring.seqAt[slot] === seq;
      const atReceiver = mine ? ring.seen[path.receiver][slot]! : 0;
      if (atReceiver > 0) {
        cell.delivered++;
        cell.duplicated += atReceiver - 1;
      } else {
        cell.lost++;
        if (!mine || ring.seen[path.sender][slot] === 0) cell.lostAtSender++;
        else if (ring.seen[path.ingress][slot] === 0) cell.lostBeforeGuest++;
        else if (ring.seen[path.egress][slot] === 0) cell.lostInGuest++;
        else cell.lostAfterGuest++;
      }
      if (mine && ring.ingressTs[slot] !== NO_TS && ring.egressTs[slot] !== NO_TS) {
        const us = (ring.egressTs[slot]! - ring.ingressTs[slot]!) / 1000;
        samples.push(us);
        ingressNs.push(ring.ingressTs[slot]!);
        ring.histogram.add(us);
      }
      if (mine) ring.seqAt[slot] = NO_TS;
    }
    cell.latencyUs = percentilesOf(samples);
    cell.hostFreeLatencyUs = cell.latencyUs;
    if (stalls && stalls.length > 0 && ingressNs.length > 0) {
      const fromMs = Math.min(...ingressNs) / 1e6;
      const toMs = fromMs + 1000 + (cell.latencyUs?.max ?? 0) / 1000;
      const near = stalls.filter((s) => s.toMs > fromMs && s.fromMs < toMs);
      if (near.length > 0) {
        cell.hostFreeLatencyUs = latencyWithoutHost(samples, ingressNs, { stalls: near }).latencyUs;
        cell.hostStalledMs = stalledMsWithin(
          [...near].sort((a, b) => a.fromMs - b.fromMs),
          fromMs,
          toMs,
        );
      }
    }
    const t = ring.totals;
    t.sent += cell.sent;
    t.delivered += cell.delivered;
    t.lost += cell.lost;
    t.duplicated += cell.duplicated;
    t.reordered += cell.reordered;
    return cell;
  }

  private holdUnsigned(point: CapturePoint, tsNs: bigint, data: Buffer): void {
    const side = this.hostMacs.get(macAt(data, 6));
    if (side !== undefined && point === hostPoint(side)) {
      // A traffic host's own frame, seen where it was sent: its forwarded copies are the host's too.
      this.hostKeys.set(routedContentKey(data), tsNs);
      this.emissions[CAPTURE_POINTS.indexOf(point)]!.fromHosts++;
      return;
    }
    if (this.held.length < MAX_HELD) this.held.push({ point, tsNs, data: Buffer.from(data) });
    else this.countGuestFrame(guestPoint('left'), 'other', '', undefined);
  }

  /**
   * Decide the unsigned frames captured HOLD_S before what both hosts' captures have been read up to
   * (or all, at the end): a traffic host's (seen leaving it) or the guest's own.
   */
  attributeUnsigned(all = false): void {
    const hosts = SIDES.map((side) => this.latestNs.get(hostPoint(side)) ?? 0n);
    const read = hosts.reduce((a, b) => (a < b ? a : b));
    const beforeNs = all ? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n : read - BigInt(HOLD_S * 1e9);
    let kept = 0;
    for (const f of this.held) {
      if (f.tsNs >= beforeNs) {
        this.held[kept++] = f;
        continue;
      }
      const tally = this.emissions[CAPTURE_POINTS.indexOf(f.point)]!;
      if (this.hostKeys.has(routedContentKey(f.data))) {
        tally.fromHosts++;
        continue;
      }
      const srcMac = macAt(f.data, 6);
      const { kind, summary, protocol } = guestFrameClass(f.data, this.hostMacs.has(srcMac), this.hostIps);
      const listed = { point: f.point, tsNs: f.tsNs, class: kind, srcMac, summary, ...(protocol ? { protocol } : {}) };
      this.countGuestFrame(f.point, kind, srcMac, listed);
    }
    this.held.length = kept;
    const forgetBefore = beforeNs - BigInt(KEY_MEMORY_S * 1e9);
    for (const [key, ts] of this.hostKeys) if (ts < forgetBefore) this.hostKeys.delete(key);
  }

  private countGuestFrame(point: CapturePoint, kind: EmissionClass, srcMac: string, listed: Emission | undefined): void {
    const tally = this.emissions[CAPTURE_POINTS.indexOf(point)]!;
    tally.fromGuest++;
    tally.byClass[kind] = (tally.byClass[kind] ?? 0) + 1;
    if (srcMac) tally.bySourceMac[srcMac] = (tally.bySourceMac[srcMac] ?? 0) + 1;
    if (listed && this.emissionList.length < MAX_EMISSIONS_LISTED) this.emissionList.push(listed);
  }

  /** The whole soak per flow. */
  totals(): SoakFlowTotals[] {
    return this.rings.map((r) => ({
      name: r.flow.name,
      from: r.flow.from,
      to: r.flow.to,
      ...r.totals,
      latencyUs: r.histogram.percentiles(),
    }));
  }

  /** Frames held in memory right now (the join's working set, for the memory measurement). */
  get heldFrames(): number {
    return this.held.length + this.hostKeys.size;
  }
}

/** Unsigned frames held at most; beyond it they count as the guest's, unclassified (a pathological flood). */
const MAX_HELD = 50_000;
/** How long a traffic host's own frame is remembered, to recognise its forwarded copies. */
const KEY_MEMORY_S = 30;

function percentilesOf(values: number[]): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { samples: sorted.length, min: sorted[0]!, p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1]! };
}

/** Latencies over a whole soak in log-spaced bins (2 % wide): percentiles in constant memory. */
class LogHistogram {
  private readonly bins = new Map<number, number>();
  private n = 0;
  private lo = Infinity;
  private hi = -Infinity;

  add(us: number): void {
    const bin = us <= 1 ? 0 : Math.ceil(Math.log(us) / LOG_STEP);
    this.bins.set(bin, (this.bins.get(bin) ?? 0) + 1);
    this.n++;
    this.lo = Math.min(this.lo, us);
    this.hi = Math.max(this.hi, us);
  }

  percentiles(): Percentiles | null {
    if (this.n === 0) return null;
    const sorted = [...this.bins.entries()].sort((a, b) => a[0] - b[0]);
    const at = (p: number) => {
      const rank = Math.max(1, Math.ceil((p / 100) * this.n));
      let seen = 0;
      for (const [bin, count] of sorted) {
        seen += count;
        if (seen >= rank) return Math.min(this.hi, Math.max(this.lo, Math.exp(bin * LOG_STEP)));
      }
      return this.hi;
    };
    return { samples: this.n, min: this.lo, p50: at(50), p90: at(90), p99: at(99), max: this.hi };
  }
}

const LOG_STEP = Math.log(1.02);
