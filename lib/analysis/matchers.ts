// Checks on traffic reports, in the spirit of PTF's verify_packet: each says what a role promises
// and what the captures show. A failure's first line (its headline) says what failed and the
// likely cause in one sentence; the paragraph after it gives counts, the first offending frames'
// summaries and differing bytes, where along the path frames vanished, and how fast the generator
// really sent, so a slow generator is never blamed on the guest.
//
// Pure: reports in, { pass, headline, message } out. fixtures/ registers these as vitest matchers
// (`expect(run).toDeliverAll()`) and aggregates them per test (fixtures/verdict.ts); here they are
// plain functions so they can be tested without vitest.
//
// Every flow check takes a FlowResult, a whole TrafficReport (every flow must pass), or an
// AnalysedRun (every flow, with the run's injection results and capture drops as context).
import type { GuestRole } from '../core/roles.ts';
import { flowPath, pointName, type CapturePoint } from '../core/sides.ts';
import { EMISSION_CLASSES, EMISSION_FACTS, roleMayEmit, type EmissionClass } from './emissions.ts';
import {
  describeChange,
  type FieldChange,
  type FlowResult,
  type FrameDifference,
  type RewriteCounts,
  type TrafficReport,
} from './flow-report.ts';
import type { AnalysedRun, InjectionResult } from './run.ts';

export interface MatchResult {
  pass: boolean;
  /** One sentence: on failure, what failed and the likely cause; on a pass, what was observed. */
  headline: string;
  /** The headline, then (on failure) the details as one paragraph per failing flow. */
  message: string;
}

/** What helps explain a failure without being part of the flow report itself. */
export interface MatchContext {
  /** The injections of the run: the achieved vs requested rate of each side's generator. */
  injections?: readonly InjectionResult[];
  /** Frames each capture lost (tcpdump's "dropped by kernel"). */
  captureDrops?: Partial<Record<CapturePoint, number>>;
  /** Why the guest stopped during the run, if it did: then it, not the lab, is why frames did not cross. */
  guestStopped?: string;
}

export type FlowSubject = FlowResult | TrafficReport | AnalysedRun;
export type ReportSubject = TrafficReport | AnalysedRun;

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
  /** Why the limits are what they are (e.g. "the lab's floor 0.2 ms + 2 ms"), for the message. */
  basis?: string;
}

export interface EmissionOptions {
  /** The role whose contract decides what the guest may emit by itself (reported, not failed). */
  role?: GuestRole;
  /** Further classes the profile tolerates for an accepted image (`expect.guestMayEmit`). */
  tolerate?: readonly EmissionClass[];
  /** The guest's NIC MACs, to tell its NICs from its other interfaces (its bridge). */
  guestMacs?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// The flow checks

/** No loss: every frame sent arrived at the receiving host. */
export function deliverAll(subject: FlowSubject, context?: MatchContext | AnalysedRun): MatchResult {
  return eachFlow(subject, context, 'toDeliverAll', (f, ctx) => {
    const arrived = f.sent - f.lost;
    if (f.lost === 0) return ok(`${flowName(f)}: all ${n(f.sent)} frames sent arrived at the ${f.to} host.`);
    const pct = f.sent > 0 ? ` (${percent(f.lost, f.sent)})` : '';
    return fail(`${flowName(f)}: ${n(f.lost)} of ${n(f.sent)} frames lost, ${lossCause(f, ctx)}.`, [
      `Expected every frame of ${flowName(f)} to arrive at the ${f.to} host, but ${n(f.lost)} of ${n(f.sent)} were lost${pct} and ` +
        `${n(arrived)} arrived.`,
      `Lost ${seqList(f.lostSeqs, f.lost)}.`,
      wherePathLost(f, ctx),
      injectionNote(f, ctx),
      captureDropNote(f, ctx),
    ]);
  });
}

/**
 * Nothing arrives at the receiving host (a frame the role must drop, e.g. TTL ≤ 1 through an L3
 * forwarder). Fails, too, when no frame was even seen leaving the sender: that would prove nothing.
 */
export function deliverNone(subject: FlowSubject, context?: MatchContext | AnalysedRun): MatchResult {
  return eachFlow(subject, context, 'toDeliverNone', (f, ctx) => {
    const arrived = f.sent - f.lost;
    const p = flowPath(f);
    const offered = f.received[p.ingress];
    const leftSender = Math.max(f.received[p.sender], offered);
    if (arrived === 0 && offered > 0) {
      return ok(
        `${flowName(f)}: none of ${n(f.sent)} frames arrived at the ${f.to} host (${n(offered)} reached the guest's ${f.from} port ` +
          `and were dropped there).`,
      );
    }
    if (arrived === 0) {
      // Passing here would prove nothing: the guest never saw a frame to drop.
      const seen =
        leftSender > 0
          ? `${n(leftSender)} left the ${f.from} host but none reached the guest's ${f.from} port: the lab stopped them, not the guest`
          : `none was seen leaving the ${f.from} host either (${n(f.sent)} scheduled)`;
      return fail(`${flowName(f)}: no frame reached the guest, so its dropping them proves nothing (${seen.split(':')[0]}).`, [
        `Expected no frame of ${flowName(f)} to arrive at the ${f.to} host, and none did — but ${seen}, so this proves nothing about ` +
          `the guest.`,
        injectionNote(f, ctx),
      ]);
    }
    const seenChanged = f.differences.length > 0 ? ` Arrived for example: ${describeDifferences(f.differences, 2)}` : '';
    return fail(`${flowName(f)}: ${n(arrived)} of ${n(f.sent)} frames forwarded that the guest must drop.`, [
      `Expected no frame of ${flowName(f)} to arrive at the ${f.to} host, but ${n(arrived)} of ${n(f.sent)} did: the guest's ${f.to} ` +
        `port ` +
        `emitted ${n(f.received[p.egress])} of the ${n(offered)} that reached its ${f.from} port, so the guest forwarded frames it ` +
        `must drop.${seenChanged}`,
      f.lostSeqs.length > 0
        ? `The first sequence numbers that were dropped, as expected: ${f.lostSeqs.slice(0, 5).join(', ')}.`
        : `Not one was dropped.`,
    ]);
  });
}

/** Byte-exact delivery (l2-bridge): no MAC, TTL, VLAN tag, length or payload change in any frame that arrived. */
export function arriveUnchanged(subject: FlowSubject, context?: MatchContext | AnalysedRun): MatchResult {
  return eachFlow(subject, context, 'toArriveUnchanged', (f, ctx) => {
    const arrived = f.sent - f.lost;
    if (arrived === 0) {
      return fail(`${flowName(f)}: no frame arrived, so none could be compared with what was sent.`, [
        `Expected the frames of ${flowName(f)} to arrive byte-exact, but none of ${n(f.sent)} arrived, so there is nothing to compare.`,
        injectionNote(f, ctx),
      ]);
    }
    const changed = arrived - f.rewrites.unchanged;
    if (changed === 0) return ok(`${flowName(f)}: all ${n(arrived)} frames that arrived are byte-identical to what was sent.`);
    return fail(
      `${flowName(f)}: ${n(changed)} of ${n(arrived)} frames arrived changed (${rewriteTally(f.rewrites)}): the guest rewrites ` +
        `frames it must pass byte-exact.`,
      [
        `Expected every frame of ${flowName(f)} to arrive byte-exact (MACs, TTL/hop limit, VLAN tags, payload unchanged), ` +
          `but ${n(changed)} of ${n(arrived)} that arrived were changed: ${rewriteTally(f.rewrites)}.`,
        `First: ${describeDifferences(f.differences, 3)}`,
      ],
    );
  });
}

/**
 * L3 forwarding (l3-forwarder): every frame that arrived carries the guest's egress NIC as source
 * MAC and the next hop as destination MAC, has its TTL / hop limit lowered by exactly one, valid
 * checksums, and its VLAN tags, length and payload unchanged.
 */
export function beL3Rewritten(subject: FlowSubject, expected: L3RewriteExpectation, context?: MatchContext | AnalysedRun): MatchResult {
  const want = {
    ingress: normalizeMac(expected.ingressGuestMac, 'ingressGuestMac'),
    egress: normalizeMac(expected.egressGuestMac, 'egressGuestMac'),
    nextHop: normalizeMac(expected.nextHopMac, 'nextHopMac'),
  };
  return eachFlow(subject, context, 'toBeL3Rewritten', (f, ctx) => {
    const arrived = f.sent - f.lost;
    const promise =
      `src MAC = the guest's egress NIC ${want.egress}, dst MAC = the next hop ${want.nextHop}, TTL/hop limit −1, ` +
      `valid checksums, payload intact`;
    if (arrived === 0) {
      return fail(`${flowName(f)}: no frame arrived, so the L3 rewrite could not be checked.`, [
        `Expected the frames of ${flowName(f)} to arrive L3-forwarded (${promise}), but none of ${n(f.sent)} arrived, so there is ` +
          `nothing to check.`,
        injectionNote(f, ctx),
      ]);
    }
    const r = f.rewrites;
    const problems: string[] = [];
    if (r.unchanged > 0) problems.push(`${n(r.unchanged)} arrived unchanged (forwarded as a bridge would, not routed)`);
    if (r.srcMac < arrived) problems.push(`${n(arrived - r.srcMac)} kept the sender's source MAC`);
    if (r.dstMac < arrived) problems.push(`${n(arrived - r.dstMac)} kept the destination MAC they were sent with`);
    const otherDeltas = Object.entries(r.hopLimitDelta).filter(([d]) => d !== '-1');
    const changedHop = Object.values(r.hopLimitDelta).reduce((a, b) => a + b, 0);
    if (changedHop < arrived) problems.push(`${n(arrived - changedHop)} kept their TTL/hop limit`);
    for (const [delta, count] of otherDeltas)
      problems.push(`${n(count)} had their TTL/hop limit changed by ${signed(Number(delta))} instead of −1`);
    if (r.badChecksum > 0) problems.push(`${n(r.badChecksum)} arrived with a bad checksum`);
    if (r.payload > 0) problems.push(`${n(r.payload)} had their payload changed`);
    if (r.length > 0) problems.push(`${n(r.length)} changed length`);
    if (r.vlanTags > 0) problems.push(`${n(r.vlanTags)} had their VLAN tags changed`);
    // Every arrival's MACs are counted: each must carry the egress NIC as source and the next hop as destination.
    const others = (counts: Record<string, number>, wanted: string) => Object.entries(counts).filter(([mac]) => mac !== wanted);
    for (const [mac, count] of others(r.arrivedSrcMacs, want.egress)) {
      const ingressNote = mac === want.ingress ? ' (the ingress NIC)' : '';
      problems.push(`${n(count)} arrived with source MAC ${mac} instead of the egress NIC's ${want.egress}${ingressNote}`);
    }
    for (const [mac, count] of others(r.arrivedDstMacs, want.nextHop)) {
      problems.push(`${n(count)} arrived with destination MAC ${mac} instead of the next hop's ${want.nextHop}`);
    }
    if (problems.length === 0) return ok(`${flowName(f)}: all ${n(arrived)} frames that arrived were L3-forwarded (${promise}).`);
    const wrong = f.differences.filter((d) => l3Offence(d.changes, want).length > 0);
    const first =
      wrong.length > 0
        ? `First offending: ${describeDifferences(wrong, 3)}`
        : f.differences.length > 0
          ? `For example: ${describeDifferences(f.differences, 1)}`
          : '';
    return fail(`${flowName(f)}: not routed as a router must: ${problems[0]}.`, [
      `Expected every frame of ${flowName(f)} to arrive L3-forwarded (${promise}), but of ${n(arrived)} that arrived ` +
        `${problems.join('; ')}.`,
      first,
    ]);
  });
}

/** No frame arrives twice. */
export function noDuplicates(subject: FlowSubject, context?: MatchContext | AnalysedRun): MatchResult {
  return eachFlow(subject, context, 'toHaveNoDuplicates', (f) => {
    const arrived = f.sent - f.lost;
    if (f.duplicated === 0) return ok(`${flowName(f)}: no duplicates among ${n(arrived)} frames that arrived.`);
    const atEgress = f.received[flowPath(f).egress];
    return fail(`${flowName(f)}: ${n(f.duplicated)} frames arrived twice or more: the guest duplicates frames.`, [
      `Expected each frame of ${flowName(f)} to arrive once, but ${n(f.duplicated)} extra ${f.duplicated === 1 ? 'copy' : 'copies'} ` +
        `arrived at the ` +
        `${f.to} host on top of ${n(arrived)} distinct frames (${percent(f.duplicated, Math.max(arrived, 1))}).`,
      atEgress > 0 ? `The guest's ${f.to} port saw ${n(atEgress)} distinct frames of the flow.` : '',
    ]);
  });
}

/** No frame comes back: none leaves the guest by the port it entered, none arrives back at its sender. */
export function noReflections(subject: FlowSubject, context?: MatchContext | AnalysedRun): MatchResult {
  return eachFlow(subject, context, 'toHaveNoReflections', (f) => {
    const { atIngressPort, atSender, seqs } = f.reflected;
    if (atIngressPort === 0 && atSender === 0)
      return ok(`${flowName(f)}: no frame came back out of the ${f.from} port or to the ${f.from} host.`);
    const where = [
      atIngressPort > 0 ? `${n(atIngressPort)} left the guest by its ${f.from} port, the one they entered by` : '',
      atSender > 0 ? `${n(atSender)} arrived back at the ${f.from} host that sent them` : '',
    ].filter(Boolean);
    return fail(`${flowName(f)}: frames reflected — ${where.join('; ')} (hairpin forwarding or a port that echoes).`, [
      `Expected no frame of ${flowName(f)} to come back towards its sender, but ${where.join(', and ')}.`,
      `Reflected ${seqList(seqs, Math.max(atIngressPort, atSender))}.`,
      'A transparent service or a router never sends a frame back out of the port it came in on (bridge hairpin mode, a mirror to ' +
        'the ingress port, a routing loop).',
    ]);
  });
}

/** Frames arrive in the order they were sent (RFC 4737 reordering: none arrives after a later one). */
export function arriveInOrder(subject: FlowSubject, context?: MatchContext | AnalysedRun): MatchResult {
  return eachFlow(subject, context, 'toArriveInOrder', (f) => {
    const arrived = f.sent - f.lost;
    const { count, maxDisplacement } = f.reordered;
    if (count === 0) return ok(`${flowName(f)}: all ${n(arrived)} frames that arrived came in the order sent.`);
    const positions = `${n(maxDisplacement)} ${maxDisplacement === 1 ? 'position' : 'positions'}`;
    return fail(
      `${flowName(f)}: ${n(count)} of ${n(arrived)} frames arrived out of order (up to ${positions} late): the guest reorders frames.`,
      [
        `Expected the frames of ${flowName(f)} to arrive in the order sent, but ${n(count)} of ${n(arrived)} arrived after a frame ` +
          `sent later ` +
          `(${percent(count, Math.max(arrived, 1))}); the largest displacement was ${positions}.`,
      ],
    );
  });
}

/** Latency through the guest (its ingress port → its egress port, one clock) under the given percentiles. */
export function latencyUnder(subject: FlowSubject, limits: LatencyLimits, context?: MatchContext | AnalysedRun): MatchResult {
  const keys = (['p50', 'p90', 'p99', 'max'] as const).filter((k) => limits[k] !== undefined);
  if (keys.length === 0) throw new TypeError('toHaveLatencyUnder needs at least one limit: { p50, p90, p99 or max, unit: "ms" | "us" }');
  if (limits.unit !== 'ms' && limits.unit !== 'us')
    throw new TypeError(`toHaveLatencyUnder: unit must be 'ms' or 'us', got ${JSON.stringify(limits.unit)}`);
  for (const k of keys) {
    const v = limits[k]!;
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
      throw new TypeError(`toHaveLatencyUnder: ${k} must be a positive number of ${limits.unit}, got ${JSON.stringify(v)}`);
    }
  }
  const toUs = limits.unit === 'ms' ? 1000 : 1;
  const wanted = keys.map((k) => `${k} under ${fmtLatency(limits[k]! * toUs, limits.unit)}`).join(', ');
  const basis = limits.basis ? ` (${limits.basis})` : '';
  return eachFlow(subject, context, 'toHaveLatencyUnder', (f, ctx) => {
    const p = flowPath(f);
    const where = `the guest's ${f.from} port → its ${f.to} port`;
    const lat = f.latencyUs;
    if (!lat) {
      return fail(`${flowName(f)}: no frame crossed the guest, so its latency could not be measured.`, [
        `Expected the latency of ${flowName(f)} through the guest (${where}) to have ${wanted}, but no frame was seen at both ports ` +
          `(${n(f.received[p.ingress])} at the ${f.from}, ${n(f.received[p.egress])} at the ${f.to}), so there is no latency to judge.`,
        injectionNote(f, ctx),
      ]);
    }
    const over = keys.filter((k) => lat[k] > limits[k]! * toUs);
    const observed =
      `p50 ${fmtLatency(lat.p50, limits.unit)}, p90 ${fmtLatency(lat.p90, limits.unit)}, ` +
      `p99 ${fmtLatency(lat.p99, limits.unit)}, max ${fmtLatency(lat.max, limits.unit)} over ${n(lat.samples)} frames`;
    if (over.length === 0) return ok(`${flowName(f)}: latency through the guest (${where}) ${observed}, within ${wanted}${basis}.`);
    const overText = over
      .map((k) => `${k} ${fmtLatency(lat[k], limits.unit)} (bound ${fmtLatency(limits[k]! * toUs, limits.unit)})`)
      .join(', ');
    return fail(`${flowName(f)}: latency through the guest too high: ${overText}${basis}.`, [
      `Expected the latency of ${flowName(f)} through the guest (${where}) to have ${wanted}${basis}, ` +
        `but ${over.map((k) => `${k} was ${fmtLatency(lat[k], limits.unit)}`).join(' and ')} (${observed}).`,
      injectionNote(f, ctx, true),
      captureDropNote(f, ctx),
    ]);
  });
}

/**
 * The two directions of a pair of flows take about as long: their median latencies differ by at
 * most `maxDifferenceUs`. A service that delays one direction only (a shaper, a queue, a slow
 * path) shows here even when both medians are within the absolute bound.
 */
export function latencyBalanced(a: FlowResult, b: FlowResult, maxDifferenceUs: number, basis?: string): MatchResult {
  const la = a.latencyUs;
  const lb = b.latencyUs;
  const pair = `${flowName(a)} and ${flowName(b)}`;
  if (!la || !lb) {
    const missing = !la ? a : b;
    return fail(`${flowName(missing)}: no frame crossed the guest, so the two directions' latencies cannot be compared.`, [
      `Expected the median latencies of ${pair} to differ by at most ${fmtLatency(maxDifferenceUs, 'ms')}, but ${flowName(missing)} ` +
        `has no latency samples.`,
    ]);
  }
  const diff = Math.abs(la.p50 - lb.p50);
  const slower = la.p50 >= lb.p50 ? a : b;
  const why = basis ? ` (${basis})` : '';
  const observed = `p50 ${fmtLatency(la.p50, 'ms')} for ${a.from} → ${a.to}, ${fmtLatency(lb.p50, 'ms')} for ${b.from} → ${b.to}`;
  if (diff <= maxDifferenceUs)
    return ok(
      `${pair}: the directions' median latencies differ by ${fmtLatency(diff, 'ms')} (${observed}), within ` +
        `${fmtLatency(maxDifferenceUs, 'ms')}${why}.`,
    );
  return fail(
    `${flowName(slower)}: one direction is slower — median latency ${fmtLatency(diff, 'ms')} above the other direction's (bound ` +
      `${fmtLatency(maxDifferenceUs, 'ms')}).`,
    [
      `Expected the median latencies of ${pair} to differ by at most ${fmtLatency(maxDifferenceUs, 'ms')}${why}, but they differ by ` +
        `${fmtLatency(diff, 'ms')}: ${observed}.`,
      `A delay added in one direction only (a queue, a shaper, a netem qdisc on one NIC) looks like this.`,
    ],
  );
}

// ---------------------------------------------------------------------------------------------
// What the guest sends by itself

/** Counts per class over the guest's own ports (each frame it sent is seen there once), in class order. */
export function emissionCounts(report: TrafficReport): Partial<Record<EmissionClass, number>> {
  const counts: Partial<Record<EmissionClass, number>> = {};
  for (const t of report.emissions) {
    if (!t.point.startsWith('guest-')) continue;
    for (const [cls, count] of Object.entries(t.byClass) as [EmissionClass, number][]) counts[cls] = (counts[cls] ?? 0) + count;
  }
  return counts;
}

/**
 * The guest sends nothing by itself beyond what its role's contract allows (and the profile
 * tolerates). The failure is one short paragraph: counts per class, the emitting MACs and whether
 * they are the guest's NICs or another interface of the guest, the likely cause and the fix.
 */
export function noGuestEmissions(subject: ReportSubject, options: EmissionOptions = {}): MatchResult {
  const report = asReport(subject, 'toHaveNoGuestEmissions');
  const allowed = new Set<EmissionClass>([...(options.role ? roleMayEmit(options.role) : []), ...(options.tolerate ?? [])]);
  const counts = emissionCounts(report);
  const classes = EMISSION_CLASSES.filter((c) => (counts[c] ?? 0) > 0);
  const offending = classes.filter((c) => !allowed.has(c));
  const accepted = classes.filter((c) => allowed.has(c));
  // Routing protocols are named ("2 routing-protocol: OSPF"): a router's control plane is recognised by its protocol.
  const protocols = [...new Set(report.emissionList.filter((e) => e.protocol).map((e) => e.protocol!))];
  const named = (c: EmissionClass) => (c === 'routing-protocol' && protocols.length > 0 ? ` (${protocols.join(', ')})` : '');
  const listCounts = (list: readonly EmissionClass[]) => list.map((c) => `${n(counts[c]!)} ${c}${named(c)}`).join(', ');
  const acceptedNote = accepted.length > 0 ? ` Allowed and reported: ${listCounts(accepted)}.` : '';
  if (offending.length === 0) {
    const points = report.emissions.map((x) => x.point).join(', ') || 'no capture points';
    return ok(`The guest sent nothing by itself that its contract forbids (captured at ${points}).${acceptedNote}`);
  }
  const total = offending.reduce((sum, c) => sum + counts[c]!, 0);
  const emitters = emittingMacs(report, new Set(offending), options.guestMacs ?? []);
  const main = offending.reduce((a, b) => (counts[b]! > counts[a]! ? b : a));
  const facts = EMISSION_FACTS[main];
  const cause = facts.cause.replace(
    'an interface of the guest',
    emitters.someNotNic ? "the guest's bridge (or another interface)" : 'an interface of the guest',
  );
  const drops = Object.entries(report.captureDrops).filter(([, v]) => (v ?? 0) > 0);
  return fail(`The guest sent ${n(total)} frames by itself (${listCounts(offending)}): likely ${cause}.`, [
    `Expected the guest to send nothing by itself${allowed.size > 0 ? ` beyond ${[...allowed].join(', ')}` : ''}, but it sent ` +
      `${n(total)} frames ` +
      `of its own at its ports: ${offending.map((c) => `${n(counts[c]!)} ${EMISSION_FACTS[c].what}`).join('; ')}.`,
    `They came from ${emitters.text}.`,
    exampleOf(report, main),
    `Fix: ${facts.fix}.${
      offending.length > 1
        ? ` (${offending
            .filter((c) => c !== main)
            .map((c) => `${c}: ${EMISSION_FACTS[c].fix}`)
            .join('; ')}.)`
        : ''
    }`,
    'The frame list is attached (emissions).',
    acceptedNote.trim(),
    drops.length > 0
      ? `(Captures also lost frames: ${drops.map(([p, v]) => `${n(v!)} at ${pointName(p as CapturePoint)}`).join(', ')}.)`
      : '',
  ]);
}

/** One frame of the class as seen at a guest port, for the message (the rest are attached). */
function exampleOf(report: TrafficReport, cls: EmissionClass): string {
  const e = report.emissionList.find((x) => x.class === cls && x.point.startsWith('guest-'));
  return e ? `For example: \`${e.summary}\`.` : '';
}

/** Which MACs sent the offending classes at the guest's ports, named as the guest's NICs or not. */
function emittingMacs(
  report: TrafficReport,
  classes: Set<EmissionClass>,
  guestMacs: readonly string[],
): { text: string; someNotNic: boolean } {
  const byMac = new Map<string, number>();
  for (const e of report.emissionList) {
    if (e.point.startsWith('guest-') && classes.has(e.class)) byMac.set(e.srcMac, (byMac.get(e.srcMac) ?? 0) + 1);
  }
  const nics = guestMacs.map((m) => m.toLowerCase());
  const named = [...byMac]
    .sort((a, b) => b[1] - a[1])
    .map(([mac, count]) => {
      const i = nics.indexOf(mac);
      const what =
        i === 0
          ? "the guest's left NIC"
          : i === 1
            ? "the guest's right NIC"
            : nics.length > 0
              ? "not one of the guest's NICs (its bridge or another interface)"
              : '';
      return `${mac}${what ? ` (${what})` : ''}: ${n(count)}`;
    });
  const someNotNic = nics.length > 0 && [...byMac.keys()].some((mac) => !nics.includes(mac));
  return { text: named.length > 0 ? named.join(', ') : 'source MACs beyond the listed frames', someNotNic };
}

// ---------------------------------------------------------------------------------------------
// Subjects and context

const ok = (headline: string): MatchResult => ({ pass: true, headline, message: headline });
const fail = (headline: string, sentences: string[]): MatchResult => ({
  pass: false,
  headline,
  message: `${headline}\n${joinSentences(sentences)}`,
});

function eachFlow(
  subject: FlowSubject,
  context: MatchContext | AnalysedRun | undefined,
  matcher: string,
  check: (f: FlowResult, ctx: MatchContext) => MatchResult,
): MatchResult {
  let flows: FlowResult[];
  let ctx: MatchContext = toContext(context);
  if (isFlowResult(subject)) flows = [subject];
  else {
    const report = asReport(subject, matcher);
    flows = report.flows;
    ctx = {
      captureDrops: report.captureDrops,
      ...(isRun(subject) ? { injections: subject.injections, guestStopped: subject.guestStopped } : {}),
      ...stripUndefined(ctx),
    };
    if (flows.length === 0) return fail(`${matcher}: the traffic report has no flows, so there is nothing to check.`, []);
  }
  const verdicts = flows.map((f) => check(f, ctx));
  const failed = verdicts.filter((v) => !v.pass);
  if (failed.length === 0)
    return { pass: true, headline: verdicts.map((v) => v.headline).join(' '), message: verdicts.map((v) => v.message).join('\n') };
  // Every failing flow is listed: the headline names them all, the message has one paragraph each.
  const headline = failed.length === 1 ? failed[0]!.headline : `${failed.length} flows failed: ${failed.map((v) => v.headline).join(' ')}`;
  return { pass: false, headline, message: failed.map((v) => v.message).join('\n\n') };
}

function toContext(context: MatchContext | AnalysedRun | undefined): MatchContext {
  if (!context) return {};
  if (isRun(context))
    return { injections: context.injections, captureDrops: context.report.captureDrops, guestStopped: context.guestStopped };
  return context;
}

function stripUndefined(ctx: MatchContext): MatchContext {
  return Object.fromEntries(Object.entries(ctx).filter(([, v]) => v !== undefined));
}

function isRun(x: unknown): x is AnalysedRun {
  return typeof x === 'object' && x !== null && 'report' in x && 'injections' in x;
}

function isFlowResult(x: unknown): x is FlowResult {
  return typeof x === 'object' && x !== null && 'flowId' in x && 'rewrites' in x;
}

function asReport(subject: unknown, matcher: string): TrafficReport {
  if (isRun(subject)) return subject.report;
  const report = subject as TrafficReport;
  if (typeof subject === 'object' && subject !== null && Array.isArray(report.flows) && Array.isArray(report.emissions)) return report;
  const got =
    subject === null
      ? 'null'
      : Array.isArray(subject)
        ? 'an array'
        : typeof subject === 'object'
          ? `an object with keys ${Object.keys(subject).slice(0, 6).join(', ')}`
          : typeof subject;
  const accepts =
    matcher === 'toHaveNoGuestEmissions' ? 'a TrafficReport or a TrafficRun' : 'a FlowResult, a TrafficReport or a TrafficRun';
  throw new TypeError(`${matcher} expects ${accepts}; got ${got}.`);
}

// ---------------------------------------------------------------------------------------------
// Pieces of the messages

function flowName(f: FlowResult): string {
  return `flow "${f.name}" (${f.from} → ${f.to})`;
}

/** Counts along the path, each raised to the largest one after it (a capture that missed frames does not move the blame). */
function passedAlongPath(f: FlowResult): { raw: number[]; passed: number[] } {
  const p = flowPath(f);
  const raw = [f.sent, f.received[p.sender], f.received[p.ingress], f.received[p.egress], f.received[p.receiver]];
  return { raw, passed: raw.map((_, i) => Math.min(f.sent, Math.max(...raw.slice(i)))) };
}

/** Where most lost frames vanished, as the likely cause. */
function lossCause(f: FlowResult, ctx: MatchContext = {}): string {
  // A guest that is gone has no ports that carry frames: the captures would blame the lab before it.
  if (ctx.guestStopped) return `the guest stopped during the run (${ctx.guestStopped}), so nothing could cross it`;
  const { passed } = passedAlongPath(f);
  const stages = [
    'the generator did not send them (not the guest)',
    'lost in the lab before the guest (not the guest)',
    `dropped inside the guest (they entered its ${f.from} port and never left its ${f.to} port)`,
    `lost after the guest, between its ${f.to} port and the ${f.to} host`,
  ];
  let worst = 0;
  for (let i = 1; i < stages.length; i++) if (passed[i]! - passed[i + 1]! > passed[worst]! - passed[worst + 1]!) worst = i;
  return stages[worst]!;
}

/** Where the lost frames vanished, from the distinct frames seen at each point along the path. */
function wherePathLost(f: FlowResult, ctx: MatchContext): string {
  const p = flowPath(f);
  const { raw, passed } = passedAlongPath(f);
  const along =
    `${n(f.sent)} sent, ${n(raw[1]!)} seen leaving the ${f.from} host, ${n(raw[2]!)} at the guest's ${f.from} (ingress) port, ` +
    `${n(raw[3]!)} at its ${f.to} (egress) port, ${n(raw[4]!)} at the ${f.to} host`;
  const stages = [
    `${n(passed[0]! - passed[1]!)} never left the ${f.from} host (the generator did not send them: not the guest's fault)`,
    `${n(passed[1]! - passed[2]!)} left the ${f.from} host but never reached the guest (lost before its ingress port: not the ` +
      `guest's fault)`,
    `${n(passed[2]! - passed[3]!)} reached the guest's ingress port but never left its egress port: dropped inside the guest`,
    `${n(passed[3]! - passed[4]!)} left the guest but never reached the ${f.to} host`,
  ].filter((_, i) => passed[i]! - passed[i + 1]! > 0);
  const missed = raw.slice(1, 4).flatMap((c, i) => (c < passed[i + 1]! ? [[p.sender, p.ingress, p.egress][i]!] : []));
  const dropped = missed.some((m) => (ctx.captureDrops?.[m] ?? 0) > 0) ? ', having dropped frames' : '';
  const missedNote = missed.length > 0 ? ` (the capture at ${missed.map(pointName).join(' and ')} saw fewer than passed it${dropped})` : '';
  return `Along the path: ${along} — so ${stages.join('; ')}${missedNote}.`;
}

function injectionNote(f: FlowResult, ctx: MatchContext, onlyIfShort = false): string {
  const inj = ctx.injections?.find((i) => i.side === f.from);
  if (!inj) {
    if (onlyIfShort) return '';
    return ctx.injections
      ? `There is no injection result from the ${f.from} host.`
      : 'The injection rate is unknown (pass the TrafficRun as context to see it).';
  }
  const failed = inj.failed > 0 ? `; tcpreplay failed to send ${n(inj.failed)} of ${n(inj.frames)} frames` : '';
  if (inj.requestedPps === 'max') {
    return onlyIfShort && !failed
      ? ''
      : `The ${f.from} host's injection ran at ${n(Math.round(inj.achievedPps))} pps (top speed requested)${failed}.`;
  }
  const ratio = inj.requestedPps > 0 ? inj.achievedPps / inj.requestedPps : 1;
  const short = ratio < 0.9;
  if (onlyIfShort && !short && !failed) return '';
  const verdict = short ? ' — the generator fell short of the requested rate, so the guest was offered less than intended' : '';
  return (
    `The ${f.from} host's injection achieved ${n(Math.round(inj.achievedPps))} of ${n(inj.requestedPps)} pps requested ` +
    `(${Math.round(ratio * 100)}%)${verdict}${failed}.`
  );
}

function captureDropNote(f: FlowResult, ctx: MatchContext): string {
  const p = flowPath(f);
  const drops = [p.sender, p.ingress, p.egress, p.receiver].filter(
    (pt, i, all) => all.indexOf(pt) === i && (ctx.captureDrops?.[pt] ?? 0) > 0,
  );
  if (drops.length === 0) return '';
  return (
    `The captures themselves dropped frames ` +
    `(${drops.map((pt) => `${n(ctx.captureDrops![pt]!)} at ${pointName(pt)}`).join(', ')}): counts there may be low.`
  );
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
      const b = d.firstDifferingBytes;
      const bytes = b ? `; first differing bytes at offset ${b.offset}: sent ${b.sent || '(end)'}, received ${b.received || '(end)'}` : '';
      return (
        `seq ${d.seq} was sent as \`${d.sentSummary}\` and arrived as \`${d.receivedSummary}\` ` +
        `(${d.changes.map(describeChange).join('; ')}${bytes}).`
      );
    })
    .join(' ');
}

/** Why one recorded frame's changes are not a correct L3 rewrite (empty when they are). */
function l3Offence(changes: readonly FieldChange[], want: { ingress: string; egress: string; nextHop: string }): string[] {
  const why: string[] = [];
  const src = changeOf(changes, 'srcMac');
  const dst = changeOf(changes, 'dstMac');
  const hop = changeOf(changes, 'hopLimit');
  if (!src) why.push('source MAC unchanged');
  else if (src.received !== want.egress) {
    why.push(
      src.received === want.ingress
        ? `src MAC is the guest's ingress NIC ${want.ingress}`
        : `src MAC ${src.received} is not the guest's egress NIC`,
    );
  }
  if (!dst) why.push('destination MAC unchanged');
  else if (dst.received !== want.nextHop) why.push(`dst MAC ${dst.received} is not the next hop ${want.nextHop}`);
  if (!hop) why.push('TTL/hop limit unchanged');
  else if (hop.received !== hop.sent - 1) why.push(`TTL/hop limit ${hop.sent} → ${hop.received}`);
  for (const c of changes) if (c.field !== 'srcMac' && c.field !== 'dstMac' && c.field !== 'hopLimit') why.push(describeChange(c));
  return why;
}

function changeOf<F extends FieldChange['field']>(
  changes: readonly FieldChange[],
  field: F,
): Extract<FieldChange, { field: F }> | undefined {
  return changes.find((c): c is Extract<FieldChange, { field: F }> => c.field === field);
}

function normalizeMac(mac: string, option: string): string {
  const m = typeof mac === 'string' ? mac.trim().toLowerCase() : '';
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(m))
    throw new TypeError(`toBeL3Rewritten: ${option} must be a MAC address like 02:00:00:00:00:01, got ${JSON.stringify(mac)}`);
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

/** A latency in µs, shown in the unit of the limits. */
function fmtLatency(us: number, unit: 'ms' | 'us'): string {
  const v = unit === 'ms' ? us / 1000 : us;
  return `${Number(v.toPrecision(3))} ${unitName(unit)}`;
}
