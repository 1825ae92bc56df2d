// Frame-by-frame analysis of one traffic run. Every test frame carries a signature (run id, flow id,
// sequence number), so the captures of the four points — the sending host, the guest's ingress
// port, the guest's egress port, the receiving host — can be joined per frame: loss, duplicates,
// reordering and latency are counted, not guessed from counters, and each frame that arrives is
// compared with the frame that was sent. Frames without a signature belong to no flow; those whose
// source MAC is not a traffic host's were emitted by the guest itself.
//
// Pure: bytes in, values out. Memory is O(frames sent) in typed arrays, never the captures themselves.
import { findSignature, parse, SIGNATURE_LENGTH } from '../frames/index.ts';
import { SIG_FLOW_ID, SIG_RUN_ID, SIG_SEQ } from '../frames/signature.ts';

export type Side = 'left' | 'right';
export type CapturePoint = 'left-host' | 'guest-left' | 'guest-right' | 'right-host';
export const CAPTURE_POINTS: readonly CapturePoint[] = ['left-host', 'guest-left', 'guest-right', 'right-host'];

export interface CapturedFrame {
  tsNs: bigint;
  data: Buffer;
}

export interface FlowSpec {
  flowId: number;
  name: string;
  from: Side;
  to: Side;
  count: number;
  /** The frame as sent with this sequence number (regenerated, never stored). */
  frameAt(seq: number): Buffer;
}

export interface Percentiles {
  samples: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface FrameDifference {
  seq: number;
  /** What differs, e.g. ['src MAC 02:..:01 → 02:..:99', 'TTL 64 → 63']. */
  changes: string[];
  sentSummary: string;
  receivedSummary: string;
  /** First differing bytes, as offset and hex of sent vs received. */
  firstDifferingBytes?: { offset: number; sent: string; received: string };
}

export interface RewriteCounts {
  /** Frames that arrived byte-identical to what was sent. */
  unchanged: number;
  srcMac: number;
  dstMac: number;
  /** Change of TTL / hop limit (received − sent) → frames. */
  hopLimitDelta: Record<string, number>;
  vlanTags: number;
  payload: number;
  length: number;
  /** Frames whose IPv4 header or L4 checksum is wrong on arrival. */
  badChecksum: number;
  /** Source and destination MACs the frames arrived with → frames (every arrival counted). */
  arrivedSrcMacs: Record<string, number>;
  arrivedDstMacs: Record<string, number>;
}

export interface FlowReport {
  flowId: number;
  name: string;
  from: Side;
  to: Side;
  sent: number;
  /** Distinct sequence numbers seen at each point. */
  received: Record<CapturePoint, number>;
  /** Sent but never seen at the receiving host. */
  lost: number;
  /** The first lost sequence numbers (up to 20). */
  lostSeqs: number[];
  /** Extra copies at the receiving host. */
  duplicated: number;
  reordered: { count: number; maxDisplacement: number };
  /** Guest ingress port → guest egress port, µs, one clock. Null when no frame crossed. */
  latencyUs: Percentiles | null;
  rewrites: RewriteCounts;
  /** The first frames that arrived different from what was sent (up to 5). */
  differences: FrameDifference[];
}

export interface ForeignFrames {
  point: CapturePoint;
  /** Frames whose source MAC is not a traffic host's: emitted by the guest (or something else on the path). */
  fromGuest: number;
  /** Unsigned frames from the traffic hosts' own stacks (ARP, ICMP errors, ...), forwarded or not. */
  fromHosts: number;
  /** Distinct summaries of the guest's frames with counts, most frequent first (up to 10). */
  guestSummaries: { summary: string; count: number }[];
}

export interface TrafficReport {
  flows: FlowReport[];
  foreign: ForeignFrames[];
  /** Frames the capture itself lost, per point (tcpdump's "dropped by kernel"). */
  captureDrops: Partial<Record<CapturePoint, number>>;
}

export interface AnalysisInput {
  runId: number;
  flows: FlowSpec[];
  /** MACs of the traffic hosts' data NICs (to tell their frames from the guest's). */
  hostMacs: string[];
  /**
   * IP addresses of the traffic hosts. A router forwards the hosts' own packets (an ICMP error, say)
   * with its own MAC as source: their IP source still tells they are the hosts', not the guest's.
   */
  hostAddresses?: string[];
  captures: Partial<Record<CapturePoint, AsyncIterable<CapturedFrame>>>;
  captureDrops?: Partial<Record<CapturePoint, number>>;
}

const NO_TS = -1;
const MAX_LISTED = 20;
const MAX_DIFFERENCES = 5;

/** Per-flow, per-point state in typed arrays indexed by sequence number. */
class FlowState {
  readonly seen: Record<CapturePoint, Uint8Array>;
  /** First-arrival capture time (ns, as a double: µs precision is plenty for latency) at the guest ports. */
  readonly ingressTs: Float64Array;
  readonly egressTs: Float64Array;
  duplicated = 0;
  reorderCount = 0;
  maxDisplacement = 0;
  highestSeq = -1;
  readonly rewrites: RewriteCounts = { unchanged: 0, srcMac: 0, dstMac: 0, hopLimitDelta: {}, vlanTags: 0, payload: 0, length: 0, badChecksum: 0, arrivedSrcMacs: {}, arrivedDstMacs: {} };
  readonly differences: FrameDifference[] = [];
  /** Where the signature sits in this flow's frames as sent (the fast path of the position check). */
  readonly signatureOffset: number;

  constructor(readonly spec: FlowSpec) {
    const n = spec.count;
    this.signatureOffset = n > 0 ? findSignature(spec.frameAt(0)) : -1;
    this.seen = { 'left-host': new Uint8Array(n), 'guest-left': new Uint8Array(n), 'guest-right': new Uint8Array(n), 'right-host': new Uint8Array(n) };
    this.ingressTs = new Float64Array(n).fill(NO_TS);
    this.egressTs = new Float64Array(n).fill(NO_TS);
  }

  get ingressPoint(): CapturePoint {
    return this.spec.from === 'left' ? 'guest-left' : 'guest-right';
  }

  get egressPoint(): CapturePoint {
    return this.spec.to === 'left' ? 'guest-left' : 'guest-right';
  }

  get receiverPoint(): CapturePoint {
    return this.spec.to === 'left' ? 'left-host' : 'right-host';
  }
}

export async function analyzeTraffic(input: AnalysisInput): Promise<TrafficReport> {
  const states = new Map(input.flows.map((f) => [f.flowId, new FlowState(f)]));
  const hostMacs = new Set(input.hostMacs.map((m) => m.toLowerCase()));
  const hostAddresses = new Set(input.hostAddresses ?? []);
  const fromHost = (data: Buffer): boolean => {
    if (hostMacs.has(macAt(data, 6))) return true;
    if (hostAddresses.size === 0) return false;
    const packet = parse(data);
    const ip = packet.get('IPv4') ?? packet.get('IPv6');
    return ip !== undefined && hostAddresses.has(ip.src);
  };
  const foreign: ForeignFrames[] = [];

  for (const point of CAPTURE_POINTS) {
    const frames = input.captures[point];
    if (!frames) continue;
    const summaries = new Map<string, number>();
    const tally: ForeignFrames = { point, fromGuest: 0, fromHosts: 0, guestSummaries: [] };
    for await (const frame of frames) {
      let off = findSignature(frame.data, input.runId, 42);
      let state = off >= 0 ? states.get(frame.data.readUInt16BE(off + SIG_FLOW_ID)) : undefined;
      // A signature quoted inside another frame (an ICMP error carries the datagram that caused it)
      // does not make that frame a test frame: the signature must open the frame's L4 payload.
      if (state && off !== state.signatureOffset && off !== l4PayloadOffset(frame.data)) {
        state = undefined;
        off = -1;
      }
      const seq = off >= 0 ? frame.data.readUInt32BE(off + SIG_SEQ) : -1;
      if (!state || seq >= state.spec.count) {
        if (off >= 0 && frame.data.readUInt32BE(off + SIG_RUN_ID) === input.runId >>> 0) continue; // a signed frame of an unknown flow: not foreign
        if (fromHost(frame.data)) tally.fromHosts++;
        else {
          tally.fromGuest++;
          const summary = safeSummary(frame.data);
          summaries.set(summary, (summaries.get(summary) ?? 0) + 1);
        }
        continue;
      }
      recordFrame(state, point, seq, frame);
    }
    tally.guestSummaries = [...summaries].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([summary, count]) => ({ summary, count }));
    foreign.push(tally);
  }

  return { flows: [...states.values()].map(finishFlow), foreign, captureDrops: input.captureDrops ?? {} };
}

function recordFrame(state: FlowState, point: CapturePoint, seq: number, frame: CapturedFrame): void {
  const seen = state.seen[point];
  const ts = Number(frame.tsNs);
  if (point === state.ingressPoint) {
    if (seen[seq] === 0) state.ingressTs[seq] = ts;
  } else if (point === state.egressPoint) {
    if (seen[seq] === 0) state.egressTs[seq] = ts;
  }
  if (point === state.receiverPoint) {
    if (seen[seq] !== 0) state.duplicated++;
    else {
      // Reordering as RFC 4737 counts it: a frame is reordered when a later one arrived before it.
      if (seq < state.highestSeq) {
        state.reorderCount++;
        state.maxDisplacement = Math.max(state.maxDisplacement, state.highestSeq - seq);
      } else state.highestSeq = seq;
      compareWithSent(state, seq, frame.data);
    }
  }
  if (seen[seq]! < 255) seen[seq]!++;
}

function compareWithSent(state: FlowState, seq: number, received: Buffer): void {
  const sent = state.spec.frameAt(seq);
  const r = state.rewrites;
  const src = macAt(received, 6);
  const dst = macAt(received, 0);
  r.arrivedSrcMacs[src] = (r.arrivedSrcMacs[src] ?? 0) + 1;
  r.arrivedDstMacs[dst] = (r.arrivedDstMacs[dst] ?? 0) + 1;
  if (sent.equals(received)) {
    r.unchanged++;
    return;
  }
  const a = parse(sent);
  const b = parse(received);
  const changes: string[] = [];
  const ea = a.get('Ether');
  const eb = b.get('Ether');
  if (ea && eb && ea.src !== eb.src) {
    r.srcMac++;
    changes.push(`src MAC ${ea.src} → ${eb.src}`);
  }
  if (ea && eb && ea.dst !== eb.dst) {
    r.dstMac++;
    changes.push(`dst MAC ${ea.dst} → ${eb.dst}`);
  }
  const ha = a.hopLimit();
  const hb = b.hopLimit();
  if (ha !== undefined && hb !== undefined && ha !== hb) {
    const delta = String(hb - ha);
    r.hopLimitDelta[delta] = (r.hopLimitDelta[delta] ?? 0) + 1;
    changes.push(`TTL/hop limit ${ha} → ${hb}`);
  }
  if (a.vlans().join('.') !== b.vlans().join('.')) {
    r.vlanTags++;
    changes.push(`VLAN tags [${a.vlans().join(', ')}] → [${b.vlans().join(', ')}]`);
  }
  if (sent.length !== received.length) {
    r.length++;
    changes.push(`length ${sent.length} → ${received.length}`);
  }
  const payloadA = payloadOf(sent);
  const payloadB = payloadOf(received);
  if (payloadA && payloadB && !payloadA.equals(payloadB)) {
    r.payload++;
    changes.push('payload changed');
  }
  const bad = b.checksumErrors();
  if (bad.length > 0) {
    r.badChecksum++;
    changes.push(`bad checksum: ${bad.join(', ')}`);
  }
  if (changes.length === 0) changes.push('other header bytes changed');
  if (state.differences.length < MAX_DIFFERENCES) {
    state.differences.push({ seq, changes, sentSummary: a.summary(), receivedSummary: b.summary(), firstDifferingBytes: firstDifference(sent, received) });
  }
}

const L4_KINDS = new Set(['UDP', 'TCP', 'ICMP', 'ICMPv6Echo']);

/** Offset of the first L4 layer's payload (after its header), or -1. */
function l4PayloadOffset(data: Buffer): number {
  const packet = parse(data);
  const i = packet.layers.findIndex((l) => L4_KINDS.has(l.kind));
  if (i < 0 || !packet.starts) return -1;
  return packet.starts[i]! + packet.layers[i]!.headerLength();
}

/** The bytes from the signature to the end: what no role may change. */
function payloadOf(frame: Buffer): Buffer | undefined {
  const off = findSignature(frame, undefined, 42);
  return off >= 0 ? frame.subarray(off + SIGNATURE_LENGTH) : undefined;
}

function firstDifference(a: Buffer, b: Buffer): FrameDifference['firstDifferingBytes'] {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  if (i === n && a.length === b.length) return undefined;
  return { offset: i, sent: a.subarray(i, i + 8).toString('hex'), received: b.subarray(i, i + 8).toString('hex') };
}

function finishFlow(state: FlowState): FlowReport {
  const { spec } = state;
  const received = Object.fromEntries(CAPTURE_POINTS.map((p) => [p, countSeen(state.seen[p])])) as Record<CapturePoint, number>;
  const atReceiver = state.seen[state.receiverPoint];
  const lostSeqs: number[] = [];
  let lost = 0;
  for (let seq = 0; seq < spec.count; seq++) {
    if (atReceiver[seq] === 0) {
      lost++;
      if (lostSeqs.length < MAX_LISTED) lostSeqs.push(seq);
    }
  }
  const latencies: number[] = [];
  for (let seq = 0; seq < spec.count; seq++) {
    const a = state.ingressTs[seq]!;
    const b = state.egressTs[seq]!;
    if (a !== NO_TS && b !== NO_TS) latencies.push((b - a) / 1000);
  }
  return {
    flowId: spec.flowId,
    name: spec.name,
    from: spec.from,
    to: spec.to,
    sent: spec.count,
    received,
    lost,
    lostSeqs,
    duplicated: state.duplicated,
    reordered: { count: state.reorderCount, maxDisplacement: state.maxDisplacement },
    latencyUs: percentiles(latencies),
    rewrites: state.rewrites,
    differences: state.differences,
  };
}

function countSeen(seen: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < seen.length; i++) if (seen[i] !== 0) n++;
  return n;
}

export function percentiles(values: number[]): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  // Nearest-rank percentile: the smallest value with at least p% of samples at or below it.
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { samples: sorted.length, min: sorted[0]!, p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1]! };
}

function macAt(buf: Buffer, off: number): string {
  if (buf.length < off + 6) return '';
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(buf[off + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

function safeSummary(data: Buffer): string {
  try {
    return parse(data).summary();
  } catch {
    return `${data.length}-byte frame (unparsable)`;
  }
}
