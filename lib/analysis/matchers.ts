// Checks on traffic reports, in the spirit of PTF's verify_packet: each says in one paragraph what a
// role promises and what the captures show — counts, the first offending frames' summaries, the
// first differing bytes — and, when frames went missing, where along the path they vanished and how
// fast the generator really sent, so a slow generator is never blamed on the guest.
//
// Pure: reports in, { pass, message } out. fixtures/matchers.ts registers these as vitest matchers
// (`expect(run).toDeliverAll()`); here they are plain functions so they can be tested without vitest.
//
// Every flow check takes a FlowReport, a whole TrafficReport (every flow must pass), or a TrafficRun
// (every flow, with the run's injection results and capture drops as context).
import type { CapturePoint, FlowReport, FrameDifference, RewriteCounts, Side, TrafficReport } from './flow-report.ts';
import type { InjectionResult } from '../traffic/injector.ts';
import type { TrafficRun } from '../traffic/traffic-run.ts';

export interface MatchResult {
  pass: boolean;
  /** When `pass` is false: why the check failed. When true: what was observed (for `.not`). */
  message: string;
}

/** What helps explain a failure without being part of the flow report itself. */
export interface MatchContext {
  /** The injections of the run: the achieved vs requested rate of each side's generator. */
  injections?: readonly InjectionResult[];
  /** Frames each capture lost (tcpdump's "dropped by kernel"). */
  captureDrops?: Partial<Record<CapturePoint, number>>;
}

export type FlowSubject = FlowReport | TrafficReport | TrafficRun;
export type ReportSubject = TrafficReport | TrafficRun;

export interface L3RewriteExpectation {
  /** The guest NIC the frames enter by (the senders' next hop): must not appear as the source. */
  ingressGuestMac: string;
  /** The guest NIC the frames leave by: the source MAC every forwarded frame must carry. */
  egressGuestMac: string;
  /** The receiver (or the next router): the destination MAC every forwarded frame must carry. */
  nextHopMac: string;
}

export interface LatencyLimits {
  p50?: number;
  p90?: number;
  p99?: number;
  max?: number;
  /** Unit of the limits above. */
  unit: 'ms' | 'us';
}

export interface GuestEmissionOptions {
  /**
   * Frames the role may emit: layer names matched against the frame summary's layers (`'ARP'`,
   * `'ICMPv6 NS'`, `'ICMPv6'`), or a predicate on the summary and where it was seen.
   */
  allow?: readonly string[] | ((summary: string, point: CapturePoint) => boolean);
}

// ---------------------------------------------------------------------------------------------
// The checks

/** No loss: every frame sent arrived at the receiving host. */
export function deliverAll(subject: FlowSubject, context?: MatchContext | TrafficRun): MatchResult {
  return eachFlow(subject, context, 'toDeliverAll', (f, ctx) => {
    const arrived = f.sent - f.lost;
    if (f.lost === 0) return ok(`${flowName(f)}: all ${n(f.sent)} frames sent arrived at the ${f.to} host.`);
    const pct = f.sent > 0 ? ` (${percent(f.lost, f.sent)})` : '';
    return fail(
      [
        `Expected every frame of ${flowName(f)} to arrive at the ${f.to} host, but ${n(f.lost)} of ${n(f.sent)} were lost${pct} and ${n(arrived)} arrived.`,
        `Lost ${seqList(f.lostSeqs, f.lost)}.`,
        wherePathLost(f, ctx),
        injectionNote(f, ctx),
        captureDropNote(f, ctx),
      ],
    );
  });
}

/**
 * Nothing arrives at the receiving host (a frame the role must drop, e.g. TTL ≤ 1 through an L3
 * forwarder). Fails, too, when no frame was even seen leaving the sender: that would prove nothing.
 */
export function deliverNone(subject: FlowSubject, context?: MatchContext | TrafficRun): MatchResult {
  return eachFlow(subject, context, 'toDeliverNone', (f, ctx) => {
    const arrived = f.sent - f.lost;
    const p = pathOf(f);
    const offered = f.received[p.ingress];
    const leftSender = Math.max(f.received[p.sender], offered);
    if (arrived === 0 && offered > 0) return ok(`${flowName(f)}: none of ${n(f.sent)} frames arrived at the ${f.to} host (${n(offered)} reached the guest's ${f.from} port and were dropped there).`);
    if (arrived === 0) {
      // Passing here would prove nothing: the guest never saw a frame to drop.
      const seen = leftSender > 0 ? `${n(leftSender)} left the ${f.from} host but none reached the guest's ${f.from} port: the lab stopped them, not the guest` : `none was seen leaving the ${f.from} host either (${n(f.sent)} scheduled)`;
      return fail([`Expected no frame of ${flowName(f)} to arrive at the ${f.to} host, and none did — but ${seen}, so this proves nothing about the guest.`, injectionNote(f, ctx)]);
    }
    const seenChanged = f.differences.length > 0 ? ` Arrived for example: ${describeDifferences(f.differences, 2)}` : '';
    return fail([
      `Expected no frame of ${flowName(f)} to arrive at the ${f.to} host, but ${n(arrived)} of ${n(f.sent)} did: the guest's ${f.to} port emitted ${n(f.received[p.egress])} of the ${n(offered)} that reached its ${f.from} port, so the guest forwarded frames it must drop.${seenChanged}`,
      f.lostSeqs.length > 0 ? `The first sequence numbers that were dropped, as expected: ${f.lostSeqs.slice(0, 5).join(', ')}.` : `Not one was dropped.`,
    ]);
  });
}

/** Byte-exact delivery (l2-bridge): no MAC, TTL, VLAN tag, length or payload change in any frame that arrived. */
export function arriveUnchanged(subject: FlowSubject, context?: MatchContext | TrafficRun): MatchResult {
  return eachFlow(subject, context, 'toArriveUnchanged', (f, ctx) => {
    const arrived = f.sent - f.lost;
    if (arrived === 0) {
      return fail([`Expected the frames of ${flowName(f)} to arrive byte-exact, but none of ${n(f.sent)} arrived, so there is nothing to compare.`, injectionNote(f, ctx)]);
    }
    const changed = arrived - f.rewrites.unchanged;
    if (changed === 0) return ok(`${flowName(f)}: all ${n(arrived)} frames that arrived are byte-identical to what was sent.`);
    return fail([
      `Expected every frame of ${flowName(f)} to arrive byte-exact (MACs, TTL/hop limit, VLAN tags, payload unchanged), but ${n(changed)} of ${n(arrived)} that arrived were changed: ${rewriteTally(f.rewrites)}.`,
      `First: ${describeDifferences(f.differences, 3)}`,
    ]);
  });
}

/**
 * L3 forwarding (l3-forwarder): every frame that arrived carries the guest's egress NIC as source
 * MAC and the next hop as destination MAC, has its TTL / hop limit lowered by exactly one, valid
 * checksums, and its VLAN tags, length and payload unchanged.
 */
export function beL3Rewritten(subject: FlowSubject, expected: L3RewriteExpectation, context?: MatchContext | TrafficRun): MatchResult {
  const want = {
    ingress: normalizeMac(expected.ingressGuestMac, 'ingressGuestMac'),
    egress: normalizeMac(expected.egressGuestMac, 'egressGuestMac'),
    nextHop: normalizeMac(expected.nextHopMac, 'nextHopMac'),
  };
  return eachFlow(subject, context, 'toBeL3Rewritten', (f, ctx) => {
    const arrived = f.sent - f.lost;
    const promise = `src MAC = the guest's egress NIC ${want.egress}, dst MAC = the next hop ${want.nextHop}, TTL/hop limit −1, valid checksums, payload intact`;
    if (arrived === 0) {
      return fail([`Expected the frames of ${flowName(f)} to arrive L3-forwarded (${promise}), but none of ${n(f.sent)} arrived, so there is nothing to check.`, injectionNote(f, ctx)]);
    }
    const r = f.rewrites;
    const problems: string[] = [];
    if (r.unchanged > 0) problems.push(`${n(r.unchanged)} arrived unchanged (forwarded as a bridge would, not routed)`);
    if (r.srcMac < arrived) problems.push(`${n(arrived - r.srcMac)} kept the sender's source MAC`);
    if (r.dstMac < arrived) problems.push(`${n(arrived - r.dstMac)} kept the destination MAC they were sent with`);
    const otherDeltas = Object.entries(r.hopLimitDelta).filter(([d]) => d !== '-1');
    const changedHop = Object.values(r.hopLimitDelta).reduce((a, b) => a + b, 0);
    if (changedHop < arrived) problems.push(`${n(arrived - changedHop)} kept their TTL/hop limit`);
    for (const [delta, count] of otherDeltas) problems.push(`${n(count)} had their TTL/hop limit changed by ${signed(Number(delta))} instead of −1`);
    if (r.badChecksum > 0) problems.push(`${n(r.badChecksum)} arrived with a bad checksum`);
    if (r.payload > 0) problems.push(`${n(r.payload)} had their payload changed`);
    if (r.length > 0) problems.push(`${n(r.length)} changed length`);
    if (r.vlanTags > 0) problems.push(`${n(r.vlanTags)} had their VLAN tags changed`);
    // Every arrival's MACs are counted: each must carry the egress NIC as source and the next hop as destination.
    const others = (counts: Record<string, number>, wanted: string) => Object.entries(counts).filter(([mac]) => mac !== wanted);
    for (const [mac, count] of others(r.arrivedSrcMacs, want.egress)) problems.push(`${n(count)} arrived with source MAC ${mac} instead of the egress NIC's ${want.egress}${mac === want.ingress ? ' (the ingress NIC)' : ''}`);
    for (const [mac, count] of others(r.arrivedDstMacs, want.nextHop)) problems.push(`${n(count)} arrived with destination MAC ${mac} instead of the next hop's ${want.nextHop}`);
    // The counts say *that* a MAC changed; the recorded differences say to what.
    const wrong = f.differences.map((d) => ({ d, why: l3Offence(d, want) })).filter((x) => x.why.length > 0);
    for (const why of new Set(wrong.flatMap((x) => x.why.filter((w) => w.startsWith('src MAC') || w.startsWith('dst MAC'))))) {
      problems.push(`${why} (in ${wrong.filter((x) => x.why.includes(why)).length} of the ${f.differences.length} frames recorded)`);
    }
    if (problems.length === 0) {
      return ok(`${flowName(f)}: all ${n(arrived)} frames that arrived were L3-forwarded (${promise}).`);
    }
    const first = wrong.length > 0 ? `First offending: ${describeDifferences(wrong.map((x) => x.d), 3)}` : f.differences.length > 0 ? `For example: ${describeDifferences(f.differences, 1)}` : '';
    return fail([`Expected every frame of ${flowName(f)} to arrive L3-forwarded (${promise}), but of ${n(arrived)} that arrived ${problems.join('; ')}.`, first]);
  });
}

/** No frame arrives twice. */
export function noDuplicates(subject: FlowSubject, context?: MatchContext | TrafficRun): MatchResult {
  return eachFlow(subject, context, 'toHaveNoDuplicates', (f) => {
    const arrived = f.sent - f.lost;
    if (f.duplicated === 0) return ok(`${flowName(f)}: no duplicates among ${n(arrived)} frames that arrived.`);
    const p = pathOf(f);
    const atEgress = f.received[p.egress];
    return fail([
      `Expected each frame of ${flowName(f)} to arrive once, but ${n(f.duplicated)} extra ${f.duplicated === 1 ? 'copy' : 'copies'} arrived at the ${f.to} host on top of ${n(arrived)} distinct frames (${percent(f.duplicated, Math.max(arrived, 1))}).`,
      atEgress > 0 ? `The guest's ${f.to} port saw ${n(atEgress)} distinct frames of the flow.` : '',
    ]);
  });
}

/** Frames arrive in the order they were sent (RFC 4737 reordering: none arrives after a later one). */
export function arriveInOrder(subject: FlowSubject, context?: MatchContext | TrafficRun): MatchResult {
  return eachFlow(subject, context, 'toArriveInOrder', (f) => {
    const arrived = f.sent - f.lost;
    const { count, maxDisplacement } = f.reordered;
    if (count === 0) return ok(`${flowName(f)}: all ${n(arrived)} frames that arrived came in the order sent.`);
    return fail([
      `Expected the frames of ${flowName(f)} to arrive in the order sent, but ${n(count)} of ${n(arrived)} arrived after a frame sent later (${percent(count, Math.max(arrived, 1))}); the largest displacement was ${n(maxDisplacement)} ${maxDisplacement === 1 ? 'position' : 'positions'}.`,
    ]);
  });
}

/** Latency through the guest (its ingress port → its egress port, one clock) under the given percentiles. */
export function latencyUnder(subject: FlowSubject, limits: LatencyLimits, context?: MatchContext | TrafficRun): MatchResult {
  const keys = (['p50', 'p90', 'p99', 'max'] as const).filter((k) => limits[k] !== undefined);
  if (keys.length === 0) throw new TypeError('toHaveLatencyUnder needs at least one limit: { p50, p90, p99 or max, unit: "ms" | "us" }');
  if (limits.unit !== 'ms' && limits.unit !== 'us') throw new TypeError(`toHaveLatencyUnder: unit must be 'ms' or 'us', got ${JSON.stringify(limits.unit)}`);
  for (const k of keys) {
    const v = limits[k]!;
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new TypeError(`toHaveLatencyUnder: ${k} must be a positive number of ${limits.unit}, got ${JSON.stringify(v)}`);
  }
  const toUs = limits.unit === 'ms' ? 1000 : 1;
  const wanted = keys.map((k) => `${k} under ${limits[k]} ${unitName(limits.unit)}`).join(', ');
  return eachFlow(subject, context, 'toHaveLatencyUnder', (f, ctx) => {
    const p = pathOf(f);
    const where = `the guest's ${f.from} port → its ${f.to} port`;
    const lat = f.latencyUs;
    if (!lat) {
      return fail([
        `Expected the latency of ${flowName(f)} through the guest (${where}) to have ${wanted}, but no frame was seen at both ports (${n(f.received[p.ingress])} at the ${f.from}, ${n(f.received[p.egress])} at the ${f.to}), so there is no latency to judge.`,
        injectionNote(f, ctx),
      ]);
    }
    const over = keys.filter((k) => lat[k] > limits[k]! * toUs);
    const observed = `p50 ${fmtLatency(lat.p50, limits.unit)}, p90 ${fmtLatency(lat.p90, limits.unit)}, p99 ${fmtLatency(lat.p99, limits.unit)}, max ${fmtLatency(lat.max, limits.unit)} over ${n(lat.samples)} frames`;
    if (over.length === 0) return ok(`${flowName(f)}: latency through the guest (${where}) ${observed}, within ${wanted}.`);
    return fail([
      `Expected the latency of ${flowName(f)} through the guest (${where}) to have ${wanted}, but ${over.map((k) => `${k} was ${fmtLatency(lat[k], limits.unit)}`).join(' and ')} (${observed}).`,
      injectionNote(f, ctx, true),
      captureDropNote(f, ctx),
    ]);
  });
}

/** The guest emits no frames of its own, except those `allow` admits (an L3 forwarder's ARP for its next hop). */
export function noGuestEmissions(subject: ReportSubject, options: GuestEmissionOptions = {}): MatchResult {
  const report = asReport(subject, 'toHaveNoGuestEmissions');
  const allowed = allowPredicate(options.allow);
  const allowText = options.allow === undefined ? '' : typeof options.allow === 'function' ? ' (except those the allow predicate admits)' : ` (except ${options.allow.join(', ')})`;
  let allowedCount = 0;
  let offendingTotal = 0;
  const perPoint: string[] = [];
  for (const x of report.foreign) {
    if (x.fromGuest === 0) continue;
    let offending = 0;
    const listed: string[] = [];
    for (const s of x.guestSummaries) {
      if (allowed(s.summary, x.point)) allowedCount += s.count;
      else {
        offending += s.count;
        listed.push(`${n(s.count)} × \`${s.summary}\``);
      }
    }
    // Beyond the listed summaries the report keeps only a count: those frames cannot be shown to be allowed.
    const unlisted = x.fromGuest - x.guestSummaries.reduce((a, s) => a + s.count, 0);
    if (unlisted > 0) {
      offending += unlisted;
      listed.push(`${n(unlisted)} more of other kinds`);
    }
    if (offending === 0) continue;
    offendingTotal += offending;
    perPoint.push(`at ${pointName(x.point)} ${n(offending)}: ${listed.join(', ')}`);
  }
  const allowedNote = allowedCount > 0 ? ` ${n(allowedCount)} allowed frames were seen.` : '';
  if (offendingTotal === 0) {
    const points = report.foreign.map((x) => x.point).join(', ') || 'no capture points';
    return { pass: true, message: `The guest emitted no frames of its own${allowText} at any capture point (${points}).${allowedNote}` };
  }
  const drops = Object.entries(report.captureDrops).filter(([, v]) => (v ?? 0) > 0);
  return {
    pass: false,
    message: joinSentences([
      `Expected the guest to emit no frames of its own${allowText}, but frames whose source MAC is not a traffic host's were seen ${perPoint.join('; ')}.`,
      perPoint.length > 1 ? 'A frame the guest emits is usually seen twice: at its port and at the traffic host on the same bridge.' : '',
      allowedNote.trim(),
      drops.length > 0 ? `(Captures also lost frames: ${drops.map(([p, v]) => `${n(v!)} at ${pointName(p as CapturePoint)}`).join(', ')}.)` : '',
    ]),
  };
}

// ---------------------------------------------------------------------------------------------
// Subjects and context

interface Verdict {
  pass: boolean;
  message: string;
}

const ok = (message: string): Verdict => ({ pass: true, message });
const fail = (sentences: string[]): Verdict => ({ pass: false, message: joinSentences(sentences) });

function eachFlow(subject: FlowSubject, context: MatchContext | TrafficRun | undefined, matcher: string, check: (f: FlowReport, ctx: MatchContext) => Verdict): MatchResult {
  let flows: FlowReport[];
  let ctx: MatchContext = toContext(context);
  if (isFlowReport(subject)) flows = [subject];
  else {
    const report = asReport(subject, matcher);
    flows = report.flows;
    ctx = { captureDrops: report.captureDrops, ...(isRun(subject) ? { injections: subject.injections } : {}), ...stripUndefined(ctx) };
    if (flows.length === 0) return { pass: false, message: `${matcher}: the traffic report has no flows, so there is nothing to check.` };
  }
  const verdicts = flows.map((f) => check(f, ctx));
  const failed = verdicts.filter((v) => !v.pass);
  // One paragraph per flow that failed; a passing report lists every flow (what `.not` shows).
  return failed.length > 0 ? { pass: false, message: failed.map((v) => v.message).join('\n\n') } : { pass: true, message: verdicts.map((v) => v.message).join('\n') };
}

function toContext(context: MatchContext | TrafficRun | undefined): MatchContext {
  if (!context) return {};
  if (isRun(context)) return { injections: context.injections, captureDrops: context.report.captureDrops };
  return context;
}

function stripUndefined(ctx: MatchContext): MatchContext {
  return Object.fromEntries(Object.entries(ctx).filter(([, v]) => v !== undefined));
}

function isRun(x: unknown): x is TrafficRun {
  return typeof x === 'object' && x !== null && 'report' in x && 'injections' in x;
}

function isFlowReport(x: unknown): x is FlowReport {
  return typeof x === 'object' && x !== null && 'flowId' in x && 'rewrites' in x;
}

function asReport(subject: unknown, matcher: string): TrafficReport {
  if (isRun(subject)) return subject.report;
  if (typeof subject === 'object' && subject !== null && Array.isArray((subject as TrafficReport).flows) && Array.isArray((subject as TrafficReport).foreign)) return subject as TrafficReport;
  const got = subject === null ? 'null' : Array.isArray(subject) ? 'an array' : typeof subject === 'object' ? `an object with keys ${Object.keys(subject).slice(0, 6).join(', ')}` : typeof subject;
  const accepts = matcher === 'toHaveNoGuestEmissions' ? 'a TrafficReport or a TrafficRun' : 'a FlowReport, a TrafficReport or a TrafficRun';
  throw new TypeError(`${matcher} expects ${accepts}; got ${got}.`);
}

// ---------------------------------------------------------------------------------------------
// Pieces of the messages

interface FlowPath {
  sender: CapturePoint;
  ingress: CapturePoint;
  egress: CapturePoint;
  receiver: CapturePoint;
}

function pathOf(f: { from: Side; to: Side }): FlowPath {
  return { sender: `${f.from}-host`, ingress: `guest-${f.from}`, egress: `guest-${f.to}`, receiver: `${f.to}-host` };
}

export function pointName(p: CapturePoint): string {
  switch (p) {
    case 'left-host':
      return 'the left host';
    case 'right-host':
      return 'the right host';
    case 'guest-left':
      return "the guest's left port";
    case 'guest-right':
      return "the guest's right port";
  }
}

function flowName(f: FlowReport): string {
  return `flow "${f.name}" (${f.from} → ${f.to})`;
}

/**
 * Where the lost frames vanished, from the distinct frames seen at each point along the path. A
 * frame seen further along must have passed the earlier points, so each count is raised to the
 * largest one after it (a capture that missed frames does not move the blame).
 */
function wherePathLost(f: FlowReport, ctx: MatchContext): string {
  const p = pathOf(f);
  const raw = [f.sent, f.received[p.sender], f.received[p.ingress], f.received[p.egress], f.received[p.receiver]];
  const passed = raw.map((_, i) => Math.min(f.sent, Math.max(...raw.slice(i))));
  const along = `${n(f.sent)} sent, ${n(raw[1]!)} seen leaving the ${f.from} host, ${n(raw[2]!)} at the guest's ${f.from} (ingress) port, ${n(raw[3]!)} at its ${f.to} (egress) port, ${n(raw[4]!)} at the ${f.to} host`;
  const stages = [
    `${n(passed[0]! - passed[1]!)} never left the ${f.from} host (the generator did not send them: not the guest's fault)`,
    `${n(passed[1]! - passed[2]!)} left the ${f.from} host but never reached the guest (lost before its ingress port: not the guest's fault)`,
    `${n(passed[2]! - passed[3]!)} reached the guest's ingress port but never left its egress port: dropped inside the guest`,
    `${n(passed[3]! - passed[4]!)} left the guest but never reached the ${f.to} host`,
  ].filter((_, i) => passed[i]! - passed[i + 1]! > 0);
  const missed = raw.slice(1, 4).flatMap((c, i) => (c < passed[i + 1]! ? [[p.sender, p.ingress, p.egress][i]!] : []));
  const missedNote = missed.length > 0 ? ` (the capture at ${missed.map(pointName).join(' and ')} saw fewer than passed it${missed.some((m) => (ctx.captureDrops?.[m] ?? 0) > 0) ? ', having dropped frames' : ''})` : '';
  return `Along the path: ${along} — so ${stages.join('; ')}${missedNote}.`;
}

function injectionNote(f: FlowReport, ctx: MatchContext, onlyIfShort = false): string {
  const inj = ctx.injections?.find((i) => i.side === f.from);
  if (!inj) {
    if (onlyIfShort) return '';
    return ctx.injections ? `There is no injection result from the ${f.from} host.` : 'The injection rate is unknown (pass the TrafficRun as context to see it).';
  }
  const failed = inj.failed > 0 ? `; tcpreplay failed to send ${n(inj.failed)} of ${n(inj.frames)} frames` : '';
  if (inj.requestedPps === 'max') {
    return onlyIfShort && !failed ? '' : `The ${f.from} host's injection ran at ${n(Math.round(inj.achievedPps))} pps (top speed requested)${failed}.`;
  }
  const ratio = inj.requestedPps > 0 ? inj.achievedPps / inj.requestedPps : 1;
  const short = ratio < 0.9;
  if (onlyIfShort && !short && !failed) return '';
  const verdict = short ? ' — the generator fell short of the requested rate, so the guest was offered less than intended' : '';
  return `The ${f.from} host's injection achieved ${n(Math.round(inj.achievedPps))} of ${n(inj.requestedPps)} pps requested (${Math.round(ratio * 100)}%)${verdict}${failed}.`;
}

function captureDropNote(f: FlowReport, ctx: MatchContext): string {
  const p = pathOf(f);
  const drops = [p.sender, p.ingress, p.egress, p.receiver].filter((pt, i, all) => all.indexOf(pt) === i && (ctx.captureDrops?.[pt] ?? 0) > 0);
  if (drops.length === 0) return '';
  return `The captures themselves dropped frames (${drops.map((pt) => `${n(ctx.captureDrops![pt]!)} at ${pointName(pt)}`).join(', ')}): counts there may be low.`;
}

function rewriteTally(r: RewriteCounts): string {
  const parts: string[] = [];
  if (r.srcMac) parts.push(`src MAC in ${n(r.srcMac)}`);
  if (r.dstMac) parts.push(`dst MAC in ${n(r.dstMac)}`);
  for (const [delta, count] of Object.entries(r.hopLimitDelta)) parts.push(`TTL/hop limit ${signed(Number(delta))} in ${n(count)}`);
  if (r.vlanTags) parts.push(`VLAN tags in ${n(r.vlanTags)}`);
  if (r.length) parts.push(`length in ${n(r.length)}`);
  if (r.payload) parts.push(`payload in ${n(r.payload)}`);
  if (r.badChecksum) parts.push(`bad checksum in ${n(r.badChecksum)}`);
  return parts.length > 0 ? parts.join(', ') : 'other header bytes';
}

/** The listed differences as sentences: what was sent, what arrived, what changed, the first differing bytes. */
export function describeDifferences(diffs: readonly FrameDifference[], max: number): string {
  if (diffs.length === 0) return '(no differing frame was recorded).';
  return diffs
    .slice(0, max)
    .map((d) => {
      const bytes = d.firstDifferingBytes ? `; first differing bytes at offset ${d.firstDifferingBytes.offset}: sent ${d.firstDifferingBytes.sent || '(end)'}, received ${d.firstDifferingBytes.received || '(end)'}` : '';
      return `seq ${d.seq} was sent as \`${d.sentSummary}\` and arrived as \`${d.receivedSummary}\` (${d.changes.join('; ')}${bytes}).`;
    })
    .join(' ');
}

// The change texts are written by flow-report.ts's compareWithSent; test/unit/matchers.test.ts runs
// analyzeTraffic itself, so a change of wording there fails a test here.
const SRC_CHANGE = /^src MAC (\S+) → (\S+)$/;
const DST_CHANGE = /^dst MAC (\S+) → (\S+)$/;
const HOP_CHANGE = /^TTL\/hop limit (\d+) → (\d+)$/;

/** Why one recorded difference is not a correct L3 rewrite (empty when it is). */
function l3Offence(d: FrameDifference, want: { ingress: string; egress: string; nextHop: string }): string[] {
  const why: string[] = [];
  const src = firstMatch(d.changes, SRC_CHANGE);
  const dst = firstMatch(d.changes, DST_CHANGE);
  const hop = firstMatch(d.changes, HOP_CHANGE);
  if (!src) why.push('source MAC unchanged');
  else if (src[2] !== want.egress) {
    why.push(src[2] === want.ingress ? `src MAC is the guest's ingress NIC ${want.ingress}, not its egress NIC ${want.egress}` : `src MAC ${src[2]} is not the guest's egress NIC ${want.egress}`);
  }
  if (!dst) why.push('destination MAC unchanged');
  else if (dst[2] !== want.nextHop) why.push(`dst MAC ${dst[2]} is not the next hop ${want.nextHop}`);
  if (!hop) why.push('TTL/hop limit unchanged');
  else if (Number(hop[2]) !== Number(hop[1]) - 1) why.push(`TTL/hop limit ${hop[1]} → ${hop[2]}`);
  for (const c of d.changes) if (!SRC_CHANGE.test(c) && !DST_CHANGE.test(c) && !HOP_CHANGE.test(c)) why.push(c);
  return why;
}

function firstMatch(changes: readonly string[], re: RegExp): RegExpExecArray | null {
  for (const c of changes) {
    const m = re.exec(c);
    if (m) return m;
  }
  return null;
}

function allowPredicate(allow: GuestEmissionOptions['allow']): (summary: string, point: CapturePoint) => boolean {
  if (allow === undefined) return () => false;
  if (typeof allow === 'function') return allow;
  const names = allow.map((a) => a.trim().toLowerCase());
  // A summary is "Ether a > b / ARP who-has …": an entry matches a layer's name at the start of a part.
  return (summary) =>
    summary
      .toLowerCase()
      .split(' / ')
      .some((part) => names.some((name) => part === name || part.startsWith(`${name} `)));
}

function normalizeMac(mac: string, option: string): string {
  const m = typeof mac === 'string' ? mac.trim().toLowerCase() : '';
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(m)) throw new TypeError(`toBeL3Rewritten: ${option} must be a MAC address like 02:00:00:00:00:01, got ${JSON.stringify(mac)}`);
  return m;
}

function seqList(seqs: readonly number[], total: number): string {
  if (seqs.length === 0) return 'frames (their sequence numbers were not recorded)';
  const more = total > seqs.length ? `, … (the first ${seqs.length} of ${n(total)})` : '';
  return `${seqs.length === 1 && total === 1 ? 'seq' : 'seqs'} ${seqs.join(', ')}${more}`;
}

function joinSentences(parts: string[]): string {
  return parts.filter((s) => s.length > 0).join(' ');
}

function n(x: number): string {
  return x.toLocaleString('en-US');
}

function percent(part: number, whole: number): string {
  const p = (part / whole) * 100;
  return `${p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toPrecision(2)}%`;
}

function signed(x: number): string {
  return x > 0 ? `+${x}` : x < 0 ? `−${-x}` : '0';
}

function unitName(unit: 'ms' | 'us'): string {
  return unit === 'ms' ? 'ms' : 'µs';
}

function fmtLatency(us: number, unit: 'ms' | 'us'): string {
  const v = unit === 'ms' ? us / 1000 : us;
  return `${Number(v.toPrecision(3))} ${unitName(unit)}`;
}
