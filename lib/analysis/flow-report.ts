// Frame-by-frame analysis of one traffic run: the one frame join. Every test frame carries a
// signature (run tag, flow id, sequence number), so the captures of the four points — the sending
// host, the guest's ingress port, the guest's egress port, the receiving host — are joined per
// frame: loss, duplicates, reflections, reordering and per-frame latency are counted, not guessed
// from counters, and each frame that arrives is compared with the frame that was sent, field by
// field. Frames without a signature belong to no flow: those a traffic host sent are the hosts'
// own; every other one the guest sent by itself, and is classified (lib/analysis/emissions.ts).
//
// Three kinds of frame are joined to a test frame without being one: the ICMP errors the guest sent
// about it (they quote its signature), the IPv4 fragments a router made of it (reassembled, then
// compared), and a copy the guest corrupted (no longer signed, but recognisably the frame).
//
// Everything a reader of the results needs is kept here as data — per-frame latencies, per-frame
// differences, emissions — so matchers and report visuals read it and never re-join or re-parse.
//
// Pure: bytes in, values out. Memory is O(frames sent) in typed arrays, never the captures themselves.
import { addressOf, canonicalIp } from '../core/addressing.ts';
import { runTag, type RunId } from '../core/run-id.ts';
import { CAPTURE_POINTS, flowPath, guestPoint, hostPoint, sideOf, SIDES, type CapturePoint, type Side } from '../core/sides.ts';
import type { TimedFrame } from '../core/timed-frame.ts';
import { findSignature, parse, type Flow, type Packet } from '../frames/index.ts';
import { SIG_FLOW_ID, SIG_RUN_TAG, SIG_SEQ } from '../frames/signature.ts';
import { corruptionLimit, differingBytes } from './corruption.ts';
import { classifyEmission, EMISSION_CLASSES, routingProtocolOf, type EmissionClass } from './emissions.ts';
import { icmpErrorOf, type IcmpErrorFacts } from './icmp-quotes.ts';
import { fragmentOf, reassemble, type HeldFragment } from './reassembly.ts';

/** A flow as it was sent: the sides, and its frames (regenerated on demand, never stored). */
export interface SentFlow {
  name: string;
  from: Side;
  to: Side;
  frames: Flow;
}

export interface Percentiles {
  samples: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** One field a frame arrived with that differs from how it was sent. */
export type FieldChange =
  | { field: 'srcMac'; sent: string; received: string }
  | { field: 'dstMac'; sent: string; received: string }
  | { field: 'hopLimit'; sent: number; received: number }
  | { field: 'length'; sent: number; received: number }
  | { field: 'vlanTags'; sent: number[]; received: number[] }
  | { field: 'payload'; offset?: number }
  | { field: 'dscp'; sent: number; received: number }
  | { field: 'ecn'; sent: number; received: number }
  | { field: 'vlanPriority'; sent: string; received: string }
  | { field: 'srcIp'; sent: string; received: string }
  | { field: 'dstIp'; sent: string; received: string }
  | { field: 'srcPort'; sent: number; received: number }
  | { field: 'dstPort'; sent: number; received: number }
  | { field: 'ipFlags'; sent: string; received: string }
  | { field: 'checksum'; bad: string[] }
  | { field: 'other' };

export interface FrameDifference {
  seq: number;
  changes: FieldChange[];
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
  /** Frames whose IP DSCP changed. */
  dscp: number;
  /** Source and destination MACs the frames arrived with → frames (every arrival counted). */
  arrivedSrcMacs: Record<string, number>;
  arrivedDstMacs: Record<string, number>;
  /** The IP DSCP, TTL / hop limit and VLAN ids ('' untagged, '300', '200.100' QinQ) of every arrival → frames. */
  arrivedDscp: Record<string, number>;
  arrivedHopLimit: Record<string, number>;
  arrivedVlans: Record<string, number>;
  /** The set of fields changed in a frame ('dscp', 'dscp+srcMac', … in a fixed order) → frames: what changed together, per frame. */
  changeSets: Record<string, number>;
}

export interface Reflections {
  /** Frames seen leaving the guest on the port they entered it by (a second sighting there). */
  atIngressPort: number;
  /** Frames seen arriving back at their sender (a second sighting at the sending host). */
  atSender: number;
  /** The first reflected sequence numbers (up to 20). */
  seqs: number[];
}

export interface FlowResult {
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
  reflected: Reflections;
  reordered: { count: number; maxDisplacement: number };
  /** Guest ingress port → guest egress port, µs, one clock. Null when no frame crossed. */
  latencyUs: Percentiles | null;
  /** The same latencies per frame, in sequence order (frames seen at both ports only). */
  latencySamplesUs: number[];
  /** When each of those frames entered the guest (ns since the epoch, as doubles), in the same order: set beside a host trace. */
  latencyIngressNs?: number[];
  /**
   * The lab's own path without the guest: sending host's NIC → the guest's ingress port, µs. Meaningful
   * only where both are captured on one clock (the nested lab); null when no frame was seen at both.
   */
  instrumentUs: Percentiles | null;
  rewrites: RewriteCounts;
  /**
   * When each frame that left the guest's egress port did so, µs after the flow's first frame entered its
   * ingress port (one clock), in sequence order: the achieved rate over time.
   */
  egressTimesUs: number[];
  /** The same span at the ingress port: when each frame entered the guest, µs after the first (the offered rate). */
  ingressTimesUs: number[];
  /** Bytes (Ethernet header to the end, no FCS) of the distinct frames that entered the guest's ingress port / left its egress port. */
  ingressBytes: number;
  egressBytes: number;
  /** The first frames that arrived different from what was sent (up to 5). */
  differences: FrameDifference[];
  /** Runs of consecutive frames lost at the receiving host, the longest first (up to 20): outages. */
  lossRuns: LossRun[];
  /** ICMP / ICMPv6 errors the guest sent about this flow's frames (they quote a frame's signature), as seen at each point. */
  icmpErrors: IcmpErrorSeen[];
  /** IPv4 datagrams of this flow that arrived at the receiving host in fragments the guest made, reassembled and compared. */
  fragmented: FragmentationSeen;
  /** Frames that arrived at the receiving host changed beyond their signature: corrupted copies, not losses. */
  corrupted: number;
}

/** An ICMP error about a test frame, where it was seen. */
export interface IcmpErrorSeen extends Omit<IcmpErrorFacts, 'quoteOffset' | 'dstIp'> {
  point: CapturePoint;
  /** The quoted frame's sequence number. */
  seq: number;
}

export interface FragmentationSeen {
  /** Datagrams that arrived as fragments, complete (reassembled) or not. */
  datagrams: number;
  incomplete: number;
  fragments: number;
  /** The largest fragment's IPv4 total length: bounded by the egress MTU. */
  largestFragment: number;
}

/** Consecutive sequence numbers that never reached the receiving host: an outage, seen frame by frame. */
export interface LossRun {
  firstSeq: number;
  lastSeq: number;
  frames: number;
  /** When the first lost frame left its sender (ns: the sender's capture, else its schedule). */
  fromNs: number;
  /** When the first frame delivered again left its sender; null when none was (the direction stayed down). */
  resumedNs: number | null;
  /** Frames after the run that arrived after a later one (RFC 4737), i.e. reordering after recovery. */
  reorderedAfter: number;
}

/** A frame the guest sent by itself. */
export interface Emission {
  point: CapturePoint;
  tsNs: bigint;
  class: EmissionClass;
  srcMac: string;
  summary: string;
  /** For routing-protocol emissions: which protocol (OSPF, RIP, …). */
  protocol?: string;
}

export interface EmissionTally {
  point: CapturePoint;
  /** Frames the guest sent by itself, seen at this point. */
  fromGuest: number;
  byClass: Partial<Record<EmissionClass, number>>;
  /** Source MAC → frames. */
  bySourceMac: Record<string, number>;
  /** Unsigned frames the traffic hosts' own stacks sent (ARP, ICMP errors, ...), forwarded or not. */
  fromHosts: number;
}

export interface TrafficReport {
  flows: FlowResult[];
  /** Per capture point: what the guest sent by itself, and how much of the hosts' own traffic was seen. */
  emissions: EmissionTally[];
  /** The guest's own frames, in capture order per point (the first MAX_EMISSIONS_LISTED). */
  emissionList: Emission[];
  /** Frames the capture itself lost, per point (tcpdump's "dropped by kernel"). */
  captureDrops: Partial<Record<CapturePoint, number>>;
}

export interface LabAddresses {
  /** The traffic hosts' data NICs: MAC, IPv4 address (with or without prefix), and IPv6 address (without prefix) if any. */
  hosts: Record<Side, { mac: string; ipv4: string; ipv6?: string }>;
  /** The guest's NIC MACs, to tell its NICs from its other interfaces (a bridge's own MAC). */
  guestMacs?: Record<Side, string>;
}

export interface AnalysisInput extends LabAddresses {
  runId: RunId;
  flows: SentFlow[];
  captures: Partial<Record<CapturePoint, AsyncIterable<TimedFrame>>>;
  captureDrops?: Partial<Record<CapturePoint, number>>;
}

const NO_TS = -1;
const MAX_LISTED = 20;
const MAX_DIFFERENCES = 5;
export const MAX_EMISSIONS_LISTED = 1000;

/** Per-flow, per-point state in typed arrays indexed by sequence number. */
class FlowState {
  /** Sightings of each sequence number at each point (saturating at 255). */
  readonly seen: Record<CapturePoint, Uint8Array>;
  /** First-sighting capture time (ns, as a double: µs precision is plenty for latency) at the sender and the guest ports. */
  readonly senderTs: Float64Array;
  readonly ingressTs: Float64Array;
  readonly egressTs: Float64Array;
  /** Sequence numbers in the order they first reached the receiving host. */
  readonly arrivals: Int32Array;
  arrived = 0;
  duplicated = 0;
  ingressBytes = 0;
  egressBytes = 0;
  reorderCount = 0;
  maxDisplacement = 0;
  highestSeq = -1;
  readonly reflected: Reflections = { atIngressPort: 0, atSender: 0, seqs: [] };
  readonly rewrites: RewriteCounts = {
    unchanged: 0,
    srcMac: 0,
    dstMac: 0,
    hopLimitDelta: {},
    vlanTags: 0,
    payload: 0,
    length: 0,
    badChecksum: 0,
    dscp: 0,
    arrivedSrcMacs: {},
    arrivedDstMacs: {},
    arrivedDscp: {},
    arrivedHopLimit: {},
    arrivedVlans: {},
    changeSets: {},
  };
  readonly differences: FrameDifference[] = [];
  readonly icmpErrors: IcmpErrorSeen[] = [];
  readonly fragmented: FragmentationSeen = { datagrams: 0, incomplete: 0, fragments: 0, largestFragment: 0 };
  corrupted = 0;
  /** Where the signature sits in this flow's frames as sent (the fast path of the position check). */
  readonly signatureOffset: number;
  /** The flow's frames are ICMP errors themselves (how they are carried is the test): the signature sits where a quote would. */
  readonly sentIsIcmpError: boolean;
  /**
   * Where an echo request's ICMP type byte sits (-1: not an echo request): an echo reply carrying its
   * signature is the receiver's answer.
   */
  readonly echoTypeOffset: number;
  readonly path;

  constructor(
    readonly flowId: number,
    readonly spec: SentFlow,
  ) {
    const n = spec.frames.count;
    this.signatureOffset = n > 0 ? findSignature(spec.frames.frameAt(0)) : -1;
    this.echoTypeOffset = n > 0 ? echoRequestTypeOffset(spec.frames.frameAt(0), this.signatureOffset) : -1;
    this.sentIsIcmpError = n > 0 && icmpErrorOf(spec.frames.frameAt(0))?.quoteOffset === this.signatureOffset;
    this.seen = Object.fromEntries(CAPTURE_POINTS.map((p) => [p, new Uint8Array(n)])) as Record<CapturePoint, Uint8Array>;
    this.senderTs = new Float64Array(n).fill(NO_TS);
    this.ingressTs = new Float64Array(n).fill(NO_TS);
    this.egressTs = new Float64Array(n).fill(NO_TS);
    this.arrivals = new Int32Array(n);
    this.path = flowPath(spec);
  }
}

/** An unsigned frame, kept until every capture has been read (its provenance needs the hosts' captures). */
interface UnsignedFrame {
  point: CapturePoint;
  tsNs: bigint;
  data: Buffer;
  /** It names a flow of this analysis but a sequence number the flow never sent: a copy whose signature was damaged. */
  damaged?: boolean;
}

export async function analyzeTraffic(input: AnalysisInput): Promise<TrafficReport> {
  const tag = runTag(input.runId);
  const states = new Map(input.flows.map((f) => [f.frames.flowId, new FlowState(f.frames.flowId, f)]));
  const unsigned: UnsignedFrame[] = [];
  let unsignedOverflow = 0;

  const hostIps = new Set(
    SIDES.flatMap((side) => [addressOf(input.hosts[side].ipv4), ...(input.hosts[side].ipv6 ? [canonicalIp(input.hosts[side].ipv6!)] : [])]),
  );
  const firstFragments: FirstFragment[] = [];
  // Datagrams whose first fragment carries this run's signature (of any flow, even one this analysis
  // does not know): their later fragments are test traffic too, never the guest's own frames.
  const signedDatagrams = new Set<string>();
  for (const point of CAPTURE_POINTS) {
    const frames = input.captures[point];
    if (!frames) continue;
    for await (const frame of frames) {
      let off = findSignature(frame.data, tag, 42);
      let state = off >= 0 ? states.get(frame.data.readUInt16BE(off + SIG_FLOW_ID)) : undefined;
      // A signature quoted inside an ICMP error (it carries the datagram that caused it) does not make that
      // frame a test frame. Elsewhere a signature off its place is the frame's own, moved: a tag removed or
      // added in front of it.
      const error = state && off !== state.signatureOffset ? icmpErrorOf(frame.data) : undefined;
      if (state && error && off >= error.quoteOffset && !(state.sentIsIcmpError && off === error.quoteOffset)) {
        const quotedSeq = frame.data.readUInt32BE(off + SIG_SEQ);
        // The guest's errors about a test frame belong to its flow; a traffic host's (port unreachable) do not.
        if (!hostIps.has(canonicalIp(error.srcIp)) && quotedSeq < state.spec.frames.count) noteIcmpError(state, point, quotedSeq, error);
        state = undefined;
        off = -1;
      }
      // An echo reply that carries a request's payload is the receiving host's answer, not the request.
      if (state && off >= 8 && state.echoTypeOffset >= 0 && ECHO_REPLY_TYPES.has(frame.data[off - 8]!)) {
        state = undefined;
        off = -1;
      }
      const seq = off >= 0 ? frame.data.readUInt32BE(off + SIG_SEQ) : -1;
      if (state && seq < state.spec.frames.count) {
        const first = routerMadeFirstFragment(state, point, seq, frame.data);
        if (first) firstFragments.push(first);
        recordFrame(state, point, seq, frame, first !== undefined);
        continue;
      }
      if (state && seq >= state.spec.frames.count && off === state.signatureOffset) {
        if (unsigned.length < MAX_UNSIGNED_KEPT) unsigned.push({ point, tsNs: frame.tsNs, data: frame.data, damaged: true });
        continue;
      }
      if (off >= 0 && frame.data.readUInt32BE(off + SIG_RUN_TAG) === tag) {
        // A signed frame of an unknown flow; if it is a first fragment, its later fragments are test traffic too.
        const fragment = fragmentOf(frame.data);
        if (fragment && fragment.offset === 0) signedDatagrams.add(`${point}|${fragment.key}`);
        continue;
      }
      if (unsigned.length < MAX_UNSIGNED_KEPT) unsigned.push({ point, tsNs: frame.tsNs, data: frame.data });
      else unsignedOverflow++;
    }
  }

  for (const first of firstFragments) signedDatagrams.add(`${first.point}|${first.held.facts.key}`);
  const joined = joinFragments(firstFragments, unsigned, signedDatagrams);
  const corrupted = joinCorruptedCopies(states, unsigned, joined, input, tag);
  const unattributed = unsigned.filter((f) => !joined.has(f) && !corrupted.has(f));
  const { emissions, emissionList } = attributeUnsigned(unattributed, unsignedOverflow, input);
  return {
    flows: [...states.values()].map(finishFlow),
    emissions,
    emissionList,
    captureDrops: input.captureDrops ?? {},
  };
}

/** A first fragment the guest made of a test frame, seen at a point: the rest of its datagram is looked for. */
interface FirstFragment {
  state: FlowState;
  point: CapturePoint;
  seq: number;
  held: HeldFragment;
}

const MAX_ICMP_ERRORS_KEPT = 50;

function noteIcmpError(state: FlowState, point: CapturePoint, seq: number, e: IcmpErrorFacts): void {
  if (state.icmpErrors.length >= MAX_ICMP_ERRORS_KEPT) return;
  const { quoteOffset: _q, dstIp: _d, ...facts } = e;
  state.icmpErrors.push({ ...facts, point, seq });
}

/** A signed frame that is a fragment although the frame sent was not: the guest fragmented it. */
function routerMadeFirstFragment(state: FlowState, point: CapturePoint, seq: number, data: Buffer): FirstFragment | undefined {
  const facts = fragmentOf(data);
  if (!facts || facts.offset !== 0 || fragmentOf(state.spec.frames.frameAt(seq))) return undefined;
  return { state, point, seq, held: { facts, data } };
}

/**
 * Joins the later fragments (unsigned) to the first ones (signed) by the datagram they share, at the
 * same point; at the receiving host the datagram is rebuilt and compared with the frame sent. Returns
 * the unsigned frames that were fragments of test frames: they are the test frames', not emissions.
 */
function joinFragments(firsts: FirstFragment[], unsigned: UnsignedFrame[], signed: ReadonlySet<string>): Set<UnsignedFrame> {
  const joined = new Set<UnsignedFrame>();
  if (signed.size === 0) return joined;
  const loose = new Map<string, UnsignedFrame[]>();
  for (const f of unsigned) {
    const facts = fragmentOf(f.data);
    if (!facts || facts.offset === 0) continue;
    const key = `${f.point}|${facts.key}`;
    if (signed.has(key)) joined.add(f);
    loose.set(key, [...(loose.get(key) ?? []), f]);
  }
  for (const first of firsts) {
    const rest = loose.get(`${first.point}|${first.held.facts.key}`) ?? [];
    if (first.point !== first.state.path.receiver) continue;
    const pieces: HeldFragment[] = [first.held, ...rest.map((f) => ({ facts: fragmentOf(f.data)!, data: f.data }))];
    const seen = first.state.fragmented;
    seen.datagrams++;
    seen.fragments += pieces.length;
    seen.largestFragment = Math.max(seen.largestFragment, ...pieces.map((p) => p.facts.totalLength));
    const datagram = reassemble(pieces);
    if (!datagram) seen.incomplete++;
    compareWithSent(first.state, first.seq, datagram ?? first.held.data);
  }
  return joined;
}

/**
 * Recognises unsigned frames that are corrupted copies of test frames not seen at their point (the
 * guest's egress port or the receiving host): same length, at most an eighth of the bytes changed. They
 * count as arrivals with their payload changed, not as losses. Returns the frames so joined.
 */
function joinCorruptedCopies(
  states: Map<number, FlowState>,
  unsigned: UnsignedFrame[],
  skip: Set<UnsignedFrame>,
  lab: LabAddresses,
  tag: number,
): Set<UnsignedFrame> {
  const matched = new Set<UnsignedFrame>();
  const localHostMac = new Map<CapturePoint, string>(
    CAPTURE_POINTS.map((p) => [p, lab.hosts[sideOf(p)].mac.toLowerCase()] as [CapturePoint, string]),
  );
  const candidatesAt = new Map<CapturePoint, FlowState[]>();
  for (const state of states.values()) {
    for (const point of [state.path.egress, state.path.receiver]) candidatesAt.set(point, [...(candidatesAt.get(point) ?? []), state]);
  }
  let budget = MAX_CORRUPTION_COMPARISONS;
  for (const f of unsigned) {
    if (skip.has(f) || budget <= 0) continue;
    // A frame with the source MAC of the host on its own side is that host's; one that holds this run's
    // signature intact is another frame's copy or answer (an echo reply, an ICMP error's quote): neither
    // is a corrupted copy. A signature that names a sequence number never sent was damaged in place.
    if (macAt(f.data, 6) === localHostMac.get(f.point) || (!f.damaged && findSignature(f.data, tag) >= 0)) continue;
    const limit = corruptionLimit(f.data.length);
    for (const state of candidatesAt.get(f.point) ?? []) {
      const seq = closestUnseen(state, f, limit, () => budget--);
      if (seq === undefined) continue;
      if (f.point === state.path.receiver) state.corrupted++;
      recordFrame(state, f.point, seq, f, false);
      matched.add(f);
      break;
    }
  }
  return matched;
}

const MAX_CORRUPTION_COMPARISONS = 20_000;
const MAX_SEQS_TRIED = 64;

/** The sequence number of the sent frame this one is a corrupted copy of, among those not seen at its point. */
function closestUnseen(state: FlowState, f: UnsignedFrame, limit: number, spend: () => void): number | undefined {
  const count = state.spec.frames.count;
  const seen = state.seen[f.point];
  const tryOne = (seq: number) => {
    if (seq < 0 || seq >= count || seen[seq] !== 0 || state.spec.frames.sizeOf(seq) !== f.data.length) return false;
    spend();
    return differingBytes(state.spec.frames.frameAt(seq), f.data, limit) <= limit;
  };
  // The sequence number the frame still says it is, when that part survived; else the first unseen ones.
  const claimed =
    state.signatureOffset >= 0 && f.data.length >= state.signatureOffset + SIG_SEQ + 4
      ? f.data.readUInt32BE(state.signatureOffset + SIG_SEQ)
      : -1;
  if (tryOne(claimed)) return claimed;
  let tried = 0;
  for (let seq = 0; seq < count && tried < MAX_SEQS_TRIED; seq++) {
    if (seen[seq] !== 0 || state.spec.frames.sizeOf(seq) !== f.data.length) continue;
    tried++;
    if (tryOne(seq)) return seq;
  }
  return undefined;
}

const ECHO_REPLY_TYPES = new Set([0, 129]);

/** The ICMP type byte's offset when the frame is an ICMP or ICMPv6 echo request right before the signature, else -1. */
function echoRequestTypeOffset(frame: Buffer, signatureOffset: number): number {
  const at = signatureOffset - 8;
  if (at < 0 || (frame[at] !== 8 && frame[at] !== 128)) return -1;
  const packet = parse(frame);
  const icmp = packet.layers.findIndex((l) => l.kind === 'ICMP' || l.kind === 'ICMPv6Echo');
  return icmp >= 0 && packet.starts?.[icmp] === at ? at : -1;
}

/** Unsigned frames kept for attribution; beyond this a run is pathological and the rest count as the guest's. */
const MAX_UNSIGNED_KEPT = 200_000;

/**
 * Which unsigned frames the traffic hosts sent, and which the guest sent by itself. A host's own
 * frame is seen at its own capture with its own source MAC; the same frame seen elsewhere (forwarded,
 * perhaps routed) is the host's too — matched by its content from the L3 header on, with the fields
 * a router rewrites (TTL or hop limit, IPv4 header checksum) left out. Everything else is the guest's.
 */
function attributeUnsigned(
  frames: UnsignedFrame[],
  overflow: number,
  lab: LabAddresses,
): { emissions: EmissionTally[]; emissionList: Emission[] } {
  const hostMacs = new Map(SIDES.map((side) => [lab.hosts[side].mac.toLowerCase(), side]));
  const hostIps = new Set(SIDES.map((side) => addressOf(lab.hosts[side].ipv4)));
  const sentByHosts = new Set<string>();
  for (const f of frames) {
    const side = hostMacs.get(macAt(f.data, 6));
    if (side !== undefined && f.point === hostPoint(side)) sentByHosts.add(routedContentKey(f.data));
  }
  const tallies = new Map<CapturePoint, EmissionTally>(
    CAPTURE_POINTS.map((point) => [point, { point, fromGuest: 0, byClass: {}, bySourceMac: {}, fromHosts: 0 }]),
  );
  const emissionList: Emission[] = [];
  for (const f of frames) {
    const tally = tallies.get(f.point)!;
    const srcMac = macAt(f.data, 6);
    const hostSide = hostMacs.get(srcMac);
    if ((hostSide !== undefined && f.point === hostPoint(hostSide)) || sentByHosts.has(routedContentKey(f.data))) {
      tally.fromHosts++;
      continue;
    }
    const { kind, summary, protocol } = guestFrameClass(f.data, hostSide !== undefined, hostIps);
    tally.fromGuest++;
    tally.byClass[kind] = (tally.byClass[kind] ?? 0) + 1;
    tally.bySourceMac[srcMac] = (tally.bySourceMac[srcMac] ?? 0) + 1;
    if (emissionList.length < MAX_EMISSIONS_LISTED) {
      emissionList.push({ point: f.point, tsNs: f.tsNs, class: kind, srcMac, summary, ...(protocol ? { protocol } : {}) });
    }
  }
  // Frames beyond what could be kept are counted as the guest's at the guest ports, unclassified.
  if (overflow > 0) {
    const tally = tallies.get(guestPoint('left'))!;
    tally.fromGuest += overflow;
    tally.byClass.other = (tally.byClass.other ?? 0) + overflow;
  }
  return { emissions: [...tallies.values()], emissionList };
}

/**
 * The class of a frame the guest sent by itself: 'spoofed' when it carries a traffic host's MAC or
 * claims a host's IP address, else what it is (lib/analysis/emissions.ts); and a one-line summary.
 */
export function guestFrameClass(
  data: Buffer,
  carriesHostMac: boolean,
  hostIps: ReadonlySet<string>,
): { kind: EmissionClass; summary: string; protocol?: string } {
  const packet = safeParse(data);
  const ip = packet?.get('IPv4') ?? packet?.get('IPv6');
  const arp = packet?.get('ARP');
  const claimsHostIp = (ip !== undefined && hostIps.has(ip.src)) || (arp !== undefined && hostIps.has(arp.psrc));
  const kind: EmissionClass = carriesHostMac || claimsHostIp ? 'spoofed' : packet ? classifyEmission(packet) : 'other';
  // Which routing protocol a routing-protocol frame speaks (OSPF, RIP, …), for the report.
  const protocol = kind === 'routing-protocol' && packet ? routingProtocolOf(packet) : undefined;
  return { kind, summary: packet ? packet.summary() : unparsable(data), ...(protocol ? { protocol } : {}) };
}

/** The frame from its L3 header on, with TTL / hop limit and the IPv4 header checksum zeroed (how a forwarded copy is recognised). */
export function routedContentKey(data: Buffer): string {
  let off = 12;
  let type = data.length >= 14 ? data.readUInt16BE(12) : 0;
  while ((type === 0x8100 || type === 0x88a8) && data.length >= off + 6) {
    off += 4;
    type = data.readUInt16BE(off);
  }
  const l3 = Buffer.from(data.subarray(off + 2));
  if (type === 0x0800 && l3.length >= 20) {
    l3[8] = 0;
    l3[10] = 0;
    l3[11] = 0;
  } else if (type === 0x86dd && l3.length >= 40) l3[7] = 0;
  return `${type}:${l3.toString('latin1')}`;
}

/** Records a sighting; `compareLater` (a first fragment) leaves the comparison with the sent frame to the reassembly. */
function recordFrame(state: FlowState, point: CapturePoint, seq: number, frame: TimedFrame, compareLater: boolean): void {
  const seen = state.seen[point];
  const ts = Number(frame.tsNs);
  const { path } = state;
  if (point === path.ingress) {
    if (seen[seq] === 0) {
      state.ingressTs[seq] = ts;
      state.ingressBytes += frame.data.length;
    } else if (path.ingress !== path.egress) noteReflection(state, seq, 'atIngressPort');
  } else if (point === path.egress) {
    if (seen[seq] === 0) {
      state.egressTs[seq] = ts;
      state.egressBytes += frame.data.length;
    }
  }
  if (point === path.sender) {
    if (seen[seq] === 0) state.senderTs[seq] = ts;
    else noteReflection(state, seq, 'atSender');
  }
  if (point === path.receiver) {
    if (seen[seq] !== 0) state.duplicated++;
    else {
      state.arrivals[state.arrived++] = seq;
      // Reordering as RFC 4737 counts it: a frame is reordered when a later one arrived before it.
      if (seq < state.highestSeq) {
        state.reorderCount++;
        state.maxDisplacement = Math.max(state.maxDisplacement, state.highestSeq - seq);
      } else state.highestSeq = seq;
      if (!compareLater) compareWithSent(state, seq, frame.data);
    }
  }
  if (seen[seq]! < 255) seen[seq]!++;
}

function noteReflection(state: FlowState, seq: number, where: 'atIngressPort' | 'atSender'): void {
  state.reflected[where]++;
  if (state.reflected.seqs.length < MAX_LISTED && !state.reflected.seqs.includes(seq)) state.reflected.seqs.push(seq);
}

function compareWithSent(state: FlowState, seq: number, received: Buffer): void {
  const sent = state.spec.frames.frameAt(seq);
  const r = state.rewrites;
  const src = macAt(received, 6);
  const dst = macAt(received, 0);
  r.arrivedSrcMacs[src] = (r.arrivedSrcMacs[src] ?? 0) + 1;
  r.arrivedDstMacs[dst] = (r.arrivedDstMacs[dst] ?? 0) + 1;
  const ip = ipFieldsOf(received);
  bump(r.arrivedVlans, ip.vlans.join('.'));
  if (ip.dscp !== undefined) bump(r.arrivedDscp, String(ip.dscp));
  if (ip.hopLimit !== undefined) bump(r.arrivedHopLimit, String(ip.hopLimit));
  if (sent.equals(received)) {
    r.unchanged++;
    return;
  }
  const a = parse(sent);
  const b = parse(received);
  const changes = fieldChanges(sent, received, a, b);
  for (const c of changes) {
    if (c.field === 'srcMac') r.srcMac++;
    else if (c.field === 'dstMac') r.dstMac++;
    else if (c.field === 'hopLimit') {
      const delta = String(c.received - c.sent);
      r.hopLimitDelta[delta] = (r.hopLimitDelta[delta] ?? 0) + 1;
    } else if (c.field === 'vlanTags') r.vlanTags++;
    else if (c.field === 'length') r.length++;
    else if (c.field === 'payload') r.payload++;
    else if (c.field === 'checksum') r.badChecksum++;
    else if (c.field === 'dscp') r.dscp++;
  }
  bump(r.changeSets, changes.map((c) => c.field).join('+'));
  if (state.differences.length < MAX_DIFFERENCES) {
    state.differences.push({
      seq,
      changes,
      sentSummary: a.summary(),
      receivedSummary: b.summary(),
      firstDifferingBytes: firstDifference(sent, received),
    });
  }
}

/** What differs between a frame as sent and as received, field by field. */
function fieldChanges(sent: Buffer, received: Buffer, a: Packet, b: Packet): FieldChange[] {
  const changes: FieldChange[] = [];
  const ea = a.get('Ether');
  const eb = b.get('Ether');
  if (ea && eb && ea.src !== eb.src) changes.push({ field: 'srcMac', sent: ea.src, received: eb.src });
  if (ea && eb && ea.dst !== eb.dst) changes.push({ field: 'dstMac', sent: ea.dst, received: eb.dst });
  const ha = a.hopLimit();
  const hb = b.hopLimit();
  if (ha !== undefined && hb !== undefined && ha !== hb) changes.push({ field: 'hopLimit', sent: ha, received: hb });
  const fa = ipFieldsOf(sent);
  const fb = ipFieldsOf(received);
  if (fa.dscp !== undefined && fb.dscp !== undefined && fa.dscp !== fb.dscp)
    changes.push({ field: 'dscp', sent: fa.dscp, received: fb.dscp });
  if (fa.ecn !== undefined && fb.ecn !== undefined && fa.ecn !== fb.ecn) changes.push({ field: 'ecn', sent: fa.ecn, received: fb.ecn });
  if (a.vlans().join('.') !== b.vlans().join('.')) changes.push({ field: 'vlanTags', sent: a.vlans(), received: b.vlans() });
  else if (fa.priorities.join('.') !== fb.priorities.join('.')) {
    changes.push({ field: 'vlanPriority', sent: fa.priorities.join('.'), received: fb.priorities.join('.') });
  }
  const ipA = a.get('IPv4') ?? a.get('IPv6');
  const ipB = b.get('IPv4') ?? b.get('IPv6');
  if (ipA && ipB && ipA.kind === ipB.kind) {
    if (ipA.src !== ipB.src) changes.push({ field: 'srcIp', sent: ipA.src, received: ipB.src });
    if (ipA.dst !== ipB.dst) changes.push({ field: 'dstIp', sent: ipA.dst, received: ipB.dst });
  }
  const v4a = a.get('IPv4');
  const v4b = b.get('IPv4');
  if (v4a && v4b && ipFlagsText(v4a) !== ipFlagsText(v4b))
    changes.push({ field: 'ipFlags', sent: ipFlagsText(v4a), received: ipFlagsText(v4b) });
  const l4a = a.get('UDP') ?? a.get('TCP');
  const l4b = b.get('UDP') ?? b.get('TCP');
  if (l4a && l4b && l4a.kind === l4b.kind) {
    if (l4a.sport !== l4b.sport) changes.push({ field: 'srcPort', sent: l4a.sport, received: l4b.sport });
    if (l4a.dport !== l4b.dport) changes.push({ field: 'dstPort', sent: l4a.dport, received: l4b.dport });
  }
  if (sent.length !== received.length) changes.push({ field: 'length', sent: sent.length, received: received.length });
  else {
    // From the signature on (as sent) nothing may change for any role: a changed byte there is corruption,
    // whether or not the signature itself survived.
    const from = findSignature(sent, undefined, 42);
    if (from >= 0 && !sent.subarray(from).equals(received.subarray(from))) {
      let at = from;
      while (at < sent.length && sent[at] === received[at]) at++;
      changes.push({ field: 'payload', offset: at });
    }
  }
  // A checksum that was already wrong when sent (a test of bad checksums) is not a change.
  const sentBad = new Set(a.checksumErrors());
  const bad = b.checksumErrors().filter((kind) => !sentBad.has(kind));
  if (bad.length > 0) changes.push({ field: 'checksum', bad });
  if (changes.length === 0) changes.push({ field: 'other' });
  return changes;
}

function ipFlagsText(ip: { df: boolean; mf: boolean; fragOffset: number }): string {
  return [ip.df ? 'DF' : '', ip.mf ? 'MF' : '', ip.fragOffset ? `offset ${ip.fragOffset * 8}` : ''].filter(Boolean).join(' ') || 'none';
}

/** A change as a reader wants it: "src MAC 02:…:01 → 02:…:99". */
export function describeChange(c: FieldChange): string {
  switch (c.field) {
    case 'srcMac':
      return `src MAC ${c.sent} → ${c.received}`;
    case 'dstMac':
      return `dst MAC ${c.sent} → ${c.received}`;
    case 'hopLimit':
      return `TTL/hop limit ${c.sent} → ${c.received}`;
    case 'vlanTags':
      return `VLAN tags [${c.sent.join(', ')}] → [${c.received.join(', ')}]`;
    case 'length':
      return `length ${c.sent} → ${c.received}`;
    case 'payload':
      return c.offset !== undefined ? `payload changed from byte ${c.offset} on` : 'payload changed';
    case 'dscp':
      return `DSCP ${c.sent} → ${c.received}`;
    case 'ecn':
      return `ECN ${c.sent} → ${c.received}`;
    case 'vlanPriority':
      return `VLAN priority (PCP/DEI) ${c.sent} → ${c.received}`;
    case 'srcIp':
      return `source address ${c.sent} → ${c.received}`;
    case 'dstIp':
      return `destination address ${c.sent} → ${c.received}`;
    case 'srcPort':
      return `source port ${c.sent} → ${c.received}`;
    case 'dstPort':
      return `destination port ${c.sent} → ${c.received}`;
    case 'ipFlags':
      return `IPv4 flags ${c.sent} → ${c.received}`;
    case 'checksum':
      return `bad checksum: ${c.bad.join(', ')}`;
    case 'other':
      return 'other header bytes changed';
  }
}

const L4_KINDS = new Set(['UDP', 'TCP', 'ICMP', 'ICMPv6Echo']);

/** Offset of the first L4 layer's payload (after its header), or -1. */
export function l4PayloadOffset(data: Buffer): number {
  const packet = parse(data);
  const i = packet.layers.findIndex((l) => L4_KINDS.has(l.kind));
  if (i < 0 || !packet.starts) return -1;
  return packet.starts[i]! + packet.layers[i]!.headerLength();
}

function firstDifference(a: Buffer, b: Buffer): FrameDifference['firstDifferingBytes'] {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  if (i === n && a.length === b.length) return undefined;
  return { offset: i, sent: a.subarray(i, i + 8).toString('hex'), received: b.subarray(i, i + 8).toString('hex') };
}

function finishFlow(state: FlowState): FlowResult {
  const { spec, path } = state;
  const count = spec.frames.count;
  const received = Object.fromEntries(CAPTURE_POINTS.map((p) => [p, countSeen(state.seen[p])])) as Record<CapturePoint, number>;
  const atReceiver = state.seen[path.receiver];
  const lostSeqs: number[] = [];
  let lost = 0;
  for (let seq = 0; seq < count; seq++) {
    if (atReceiver[seq] === 0) {
      lost++;
      if (lostSeqs.length < MAX_LISTED) lostSeqs.push(seq);
    }
  }
  const latencySamplesUs = timeBetween(state.ingressTs, state.egressTs);
  return {
    flowId: state.flowId,
    name: spec.name,
    from: spec.from,
    to: spec.to,
    sent: count,
    received,
    lost,
    lostSeqs,
    duplicated: state.duplicated,
    reflected: state.reflected,
    reordered: { count: state.reorderCount, maxDisplacement: state.maxDisplacement },
    latencyUs: percentiles(latencySamplesUs),
    latencySamplesUs,
    latencyIngressNs: sightedAtBoth(state.ingressTs, state.egressTs),
    instrumentUs: percentiles(timeBetween(state.senderTs, state.ingressTs)),
    ...crossingTimes(state.ingressTs, state.egressTs),
    ingressBytes: state.ingressBytes,
    egressBytes: state.egressBytes,
    rewrites: state.rewrites,
    differences: state.differences,
    lossRuns: lossRuns(state),
    icmpErrors: state.icmpErrors,
    fragmented: state.fragmented,
    corrupted: state.corrupted,
  };
}

const MAX_LOSS_RUNS = 20;

/** The runs of consecutive frames lost at the receiver, with when they began and ended on the sender's clock. */
function lossRuns(state: FlowState): LossRun[] {
  const atReceiver = state.seen[state.path.receiver];
  const count = state.spec.frames.count;
  const sentAt = (seq: number) => (state.senderTs[seq] !== NO_TS ? state.senderTs[seq]! : Number(state.spec.frames.sendTimeOf(seq)));
  const runs: LossRun[] = [];
  for (let seq = 0; seq < count; seq++) {
    if (atReceiver[seq] !== 0) continue;
    const first = seq;
    while (seq + 1 < count && atReceiver[seq + 1] === 0) seq++;
    const resumed = seq + 1 < count ? sentAt(seq + 1) : null;
    runs.push({ firstSeq: first, lastSeq: seq, frames: seq - first + 1, fromNs: sentAt(first), resumedNs: resumed, reorderedAfter: 0 });
  }
  runs.sort((a, b) => b.frames - a.frames || a.firstSeq - b.firstSeq);
  const kept = runs.slice(0, MAX_LOSS_RUNS);
  for (const run of kept) run.reorderedAfter = reorderedAfter(state, run.lastSeq);
  return kept;
}

/** Of the frames after `seq` that arrived, how many arrived after a later-numbered one (RFC 4737). */
function reorderedAfter(state: FlowState, seq: number): number {
  let highest = -1;
  let reordered = 0;
  for (let i = 0; i < state.arrived; i++) {
    const s = state.arrivals[i]!;
    if (s <= seq) continue;
    if (s < highest) reordered++;
    else highest = s;
  }
  return reordered;
}

/** Per sequence number seen at both points: the time from the first to the second, µs. */
function timeBetween(from: Float64Array, to: Float64Array): number[] {
  const out: number[] = [];
  for (let seq = 0; seq < from.length; seq++) {
    const a = from[seq]!;
    const b = to[seq]!;
    if (a !== NO_TS && b !== NO_TS) out.push((b - a) / 1000);
  }
  return out;
}

/** Per sequence number seen at both points: when it was seen at the first (ns), in the order of timeBetween's samples. */
function sightedAtBoth(from: Float64Array, to: Float64Array): number[] {
  const out: number[] = [];
  for (let seq = 0; seq < from.length; seq++) if (from[seq] !== NO_TS && to[seq] !== NO_TS) out.push(from[seq]!);
  return out;
}

/** Ingress and egress sightings, µs after the flow's first frame entered the guest, in sequence order. */
function crossingTimes(ingress: Float64Array, egress: Float64Array): { ingressTimesUs: number[]; egressTimesUs: number[] } {
  let first = Infinity;
  for (const t of ingress) if (t !== NO_TS && t < first) first = t;
  const since = (ts: Float64Array) => (Number.isFinite(first) ? [...ts].filter((t) => t !== NO_TS).map((t) => (t - first) / 1000) : []);
  return { ingressTimesUs: since(ingress), egressTimesUs: since(egress) };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/**
 * The VLAN ids, IP DSCP and TTL / hop limit of a frame, read from its bytes without a full parse (every
 * arrival is read, most of them byte-identical to what was sent).
 */
export function ipFieldsOf(data: Buffer): { vlans: number[]; priorities: string[]; dscp?: number; ecn?: number; hopLimit?: number } {
  const vlans: number[] = [];
  const priorities: string[] = [];
  let off = 12;
  let type = data.length >= 14 ? data.readUInt16BE(12) : 0;
  while ((type === 0x8100 || type === 0x88a8) && data.length >= off + 6) {
    const tci = data.readUInt16BE(off + 2);
    vlans.push(tci & 0x0fff);
    priorities.push(`${tci >> 13}${tci & 0x1000 ? '+DEI' : ''}`);
    off += 4;
    type = data.readUInt16BE(off);
  }
  const l3 = off + 2;
  if (type === 0x0800 && data.length >= l3 + 20) {
    return { vlans, priorities, dscp: data[l3 + 1]! >> 2, ecn: data[l3 + 1]! & 3, hopLimit: data[l3 + 8]! };
  }
  if (type === 0x86dd && data.length >= l3 + 40) {
    const tc = (data.readUInt16BE(l3) >> 4) & 0xff;
    return { vlans, priorities, dscp: tc >> 2, ecn: tc & 3, hopLimit: data[l3 + 7]! };
  }
  return { vlans, priorities };
}

function countSeen(seen: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < seen.length; i++) if (seen[i] !== 0) n++;
  return n;
}

export function percentiles(values: ArrayLike<number>): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  // Nearest-rank percentile: the smallest value with at least p% of samples at or below it.
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { samples: sorted.length, min: sorted[0]!, p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1]! };
}

export function macAt(buf: Buffer, off: number): string {
  if (buf.length < off + 6) return '';
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(buf[off + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

function safeParse(data: Buffer): Packet | undefined {
  try {
    return parse(data);
  } catch {
    return undefined;
  }
}

function unparsable(data: Buffer): string {
  return `${data.length}-byte frame (unparsable)`;
}

/** Every emission class, for readers that list them in a fixed order. */
export { EMISSION_CLASSES };
