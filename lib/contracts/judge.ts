// Whether each case behaved as its row promises, from the frame join's result for its flow. A failure
// is one phrase that completes "frames with … ___" ("never cross", "arrive with DSCP 0", "get no ICMP
// Time Exceeded back"): cases that fail with the same phrase failed the same way, which is what the
// smallest counterexample (counterexample.ts) separates by dimension.
//
// Pure: flow results in, outcomes out.
import { flowPath, type Side } from '../core/sides.ts';
import type { FieldChange, FlowResult, FrameDifference, IcmpErrorSeen } from '../analysis/flow-report.ts';
import { describeIcmpError } from '../analysis/icmp-quotes.ts';
import type { PlannedCase } from './plan.ts';
import type { Behaviour } from './role-contracts.ts';

export interface CaseOutcome {
  index: number;
  verdict: 'pass' | 'fail' | 'either';
  /** For a failure: the phrase after "frames with …". Equal phrases, equal failures. */
  what?: string;
  /** One sentence with the numbers. */
  detail: string;
}

export interface JudgeContext {
  guestMacs: Record<Side, string>;
  hostMacs: Record<Side, string>;
  /** The guest's NIC MTU per side (a router's egress MTU). */
  sideMtu: Record<Side, number>;
  /** Why the guest stopped during the run, if it did: then it, not the lab or the frames, is why cases failed. */
  guestStopped?: string;
}

const n = (x: number) => x.toLocaleString('en-US');

/** Judges every case of one row, including what only the row's cases together can show (rate-limited ICMP answers). */
export function judgeRow(cases: readonly PlannedCase[], results: ReadonlyMap<number, FlowResult>, ctx: JudgeContext): CaseOutcome[] {
  const outcomes = cases.map((c) => guestStoppedInstead(judgeCase(c, results.get(c.index), ctx), ctx));
  const behaviour = cases[0]?.row.behaviour;
  const answer = behaviour?.kind === 'dropped' ? behaviour.answer : undefined;
  if (answer === 'time-exceeded' || answer === 'too-big') {
    // A router may rate-limit its errors (RFC 1812 §4.3.2.8, RFC 4443 §2.4(f)): one right answer per
    // direction and IP version is what every case of that group can be held to.
    const groups = new Map<string, number[]>();
    cases.forEach((c, i) => {
      const key = `${c.frame.from}|${c.case.version ?? '4'}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const members of groups.values()) {
      const answered = members.some((i) => rightAnswers(cases[i]!, results.get(cases[i]!.index), answer, ctx).length > 0);
      if (answered) continue;
      for (const i of members) {
        if (outcomes[i]!.verdict !== 'pass') continue;
        const want = expectedAnswerName(cases[i]!, answer, ctx);
        outcomes[i] = {
          index: cases[i]!.index,
          verdict: 'fail',
          what: `get no ${want} back`,
          detail:
            `${cases[i]!.name}: not forwarded, as promised, but no ${want} came back to the ${cases[i]!.frame.from} host ` +
            `for any of the ${members.length} such cases from that side`,
        };
      }
    }
  }
  return outcomes;
}

/** A failure while the guest was gone is the guest stopping: the captures alone would blame the lab or the frames. */
function guestStoppedInstead(o: CaseOutcome, ctx: JudgeContext): CaseOutcome {
  if (o.verdict !== 'fail' || !ctx.guestStopped) return o;
  const why = `the guest stopped during the run (${ctx.guestStopped}), so nothing could cross it`;
  return { ...o, what: `never cross: ${why}`, detail: `${o.detail} (${why})` };
}

function judgeCase(c: PlannedCase, f: FlowResult | undefined, ctx: JudgeContext): CaseOutcome {
  const pass = (detail: string): CaseOutcome => ({ index: c.index, verdict: 'pass', detail: `${c.name}: ${detail}` });
  const fail = (what: string, detail: string): CaseOutcome => ({ index: c.index, verdict: 'fail', what, detail: `${c.name}: ${detail}` });
  const b = c.row.behaviour;
  if (!f) return fail('were not sent', 'no result: the flow was not part of the traffic run');
  if (b.kind === 'either') return { index: c.index, verdict: 'either', detail: `${c.name}: ${deliveryText(f)} (${b.why})` };
  const p = flowPath(f);
  const reached = f.received[p.ingress];
  const crossed = f.received[p.egress];
  const arrived = f.sent - f.lost;
  if (reached === 0) {
    return fail(
      'never reach the guest',
      `none of ${n(f.sent)} frames reached the guest's ${f.from} port: the lab stopped them, this proves nothing about the guest`,
    );
  }
  if (b.kind === 'mirrored') {
    const other = p.egress;
    return f.received[other] >= f.sent && reached >= f.sent
      ? pass(`all ${n(f.sent)} frames mirrored to both of the guest's ports`)
      : fail(
          'are not mirrored to both ports',
          `${n(reached)} and ${n(f.received[other])} of ${n(f.sent)} frames reached the guest's ports: the lab's mirror lost some`,
        );
  }
  if (b.kind === 'dropped') {
    if (arrived > 0) {
      return fail(
        'are forwarded',
        `${n(arrived)} of ${n(f.sent)} frames crossed the guest (${n(crossed)} left its ${f.to} port), but the role never forwards them`,
      );
    }
    const about = f.icmpErrors;
    if (b.answer === 'nothing' && about.length > 0) {
      return fail(
        `are answered with ${describeIcmpError(about[0]!)}`,
        `not forwarded, but answered with ${about.length} ICMP error(s), e.g. ${describeIcmpError(about[0]!)}; ` +
          'they must be discarded silently',
      );
    }
    if (b.answer === 'time-exceeded' || b.answer === 'too-big') {
      const wrong = about.filter((e) => !isRightAnswer(e, c, b.answer as 'time-exceeded' | 'too-big', ctx));
      if (wrong.length > 0) {
        const want = expectedAnswerName(c, b.answer, ctx);
        return fail(
          `are answered with ${describeIcmpError(wrong[0]!)}`,
          `answered with ${describeIcmpError(wrong[0]!)} where ${want} is due`,
        );
      }
    }
    return pass(
      `none of ${n(f.sent)} frames forwarded (${n(reached)} reached the guest)${about.length > 0 ? `; ${about.length} answered` : ''}`,
    );
  }
  // Delivered kinds: byte-exact, routed, fragmented.
  if (arrived === 0) {
    return crossed === 0
      ? fail(
          'never cross',
          `none of ${n(f.sent)} frames left the guest's ${f.to} port (${n(reached)} entered its ${f.from} port): dropped inside the guest`,
        )
      : fail(
          'never reach the receiving host',
          `${n(crossed)} frames left the guest but none reached the ${f.to} host (the lab, or frames the host's link cannot carry)`,
        );
  }
  if (f.corrupted > 0)
    return fail('arrive corrupted', `${n(f.corrupted)} of ${n(f.sent)} frames arrived with bytes changed${firstBytes(f)}`);
  if (f.lost > 0) return fail('lose frames', `${n(f.lost)} of ${n(f.sent)} frames lost (${n(crossed)} left the guest)`);
  const changed = b.kind === 'byte-exact' ? unexpectedBridgeChanges(f, c) : unexpectedRouterChanges(f, c, ctx);
  if (changed) return fail(changed.what, changed.detail);
  if (b.kind === 'fragmented') {
    const fr = f.fragmented;
    const mtu = ctx.sideMtu[f.to];
    if (fr.datagrams < arrived)
      return fail(
        'arrive unfragmented',
        `${n(arrived - fr.datagrams)} of ${n(arrived)} arrived whole although larger than the ${f.to} side's MTU ${mtu}`,
      );
    if (fr.incomplete > 0)
      return fail('arrive with fragments missing', `${n(fr.incomplete)} of ${n(fr.datagrams)} datagrams arrived incomplete`);
    if (fr.largestFragment > mtu)
      return fail(
        'arrive in fragments larger than the egress MTU',
        `the largest fragment is ${fr.largestFragment} bytes; the ${f.to} side's MTU is ${mtu}`,
      );
  }
  if (f.duplicated > 0) return fail('arrive more than once', `${n(f.duplicated)} extra copies arrived`);
  const reflected = f.reflected.atIngressPort + f.reflected.atSender;
  if (reflected > 0)
    return fail('come back towards their sender', `${n(reflected)} frames were seen again on the sender's side (reflected)`);
  if (f.reordered.count > 0) return fail('arrive out of order', `${n(f.reordered.count)} frames arrived after a later one`);
  if (f.icmpErrors.length > 0)
    return fail(
      `are answered with ${describeIcmpError(f.icmpErrors[0]!)}`,
      `delivered, but also answered with ${describeIcmpError(f.icmpErrors[0]!)}`,
    );
  const how =
    b.kind === 'byte-exact' ? 'byte-exact' : b.kind === 'routed' ? 'routed' : `in ${n(f.fragmented.fragments)} fragments, reassembled`;
  return pass(`all ${n(f.sent)} frames delivered once, in order, ${how}`);
}

function deliveryText(f: FlowResult): string {
  const arrived = f.sent - f.lost;
  return arrived === 0 ? `not forwarded (${n(f.sent)} sent)` : `${n(arrived)} of ${n(f.sent)} delivered`;
}

function firstBytes(f: FlowResult): string {
  const d = f.differences.find((x) => x.firstDifferingBytes)?.firstDifferingBytes;
  return d ? ` (first at byte ${d.offset}: sent ${d.sent}, received ${d.received})` : '';
}

/** What a bridge changed, as "arrive with …": any change at all fails. */
function unexpectedBridgeChanges(f: FlowResult, c: PlannedCase): { what: string; detail: string } | undefined {
  const arrived = f.sent - f.lost;
  // IEEE 802.1Q §6.9: a priority-tagged frame (VID 0) belongs to the port's VLAN, which a bridge may send
  // on untagged — the tag's removal, and nothing else, is not a change to a transparent service.
  const allowed = (d: FrameDifference) => c.case.vlan === 'vid-0' && isPriorityTagRemoval(d.changes);
  const allowedSet = c.case.vlan === 'vid-0' && f.differences.length > 0 && f.differences.every(allowed) ? 'vlanTags+length' : undefined;
  const changed = Object.entries(f.rewrites.changeSets)
    .filter(([set]) => set !== allowedSet)
    .reduce((sum, [, frames]) => sum + frames, 0);
  if (changed === 0) return undefined;
  const changes = f.differences.filter((d) => !allowed(d)).flatMap((d) => d.changes);
  return {
    what: `arrive with ${summarizeChanges(changes)}`,
    detail: `${n(changed)} of ${n(arrived)} frames arrived changed: ${distinctChanges(changes)}`,
  };
}

/** The 4-byte priority tag (VID 0) removed, and nothing else. */
function isPriorityTagRemoval(changes: readonly FieldChange[]): boolean {
  const tags = changes.find((ch) => ch.field === 'vlanTags');
  const length = changes.find((ch) => ch.field === 'length');
  return (
    changes.length === 2 &&
    tags?.field === 'vlanTags' &&
    tags.sent.join('.') === '0' &&
    tags.received.length === 0 &&
    length?.field === 'length' &&
    length.sent - length.received === 4
  );
}

/** What a router changed beyond its rewrite (MACs for the next hop, TTL − 1; ECT may become CE). */
function unexpectedRouterChanges(f: FlowResult, c: PlannedCase, ctx: JudgeContext): { what: string; detail: string } | undefined {
  const r = f.rewrites;
  const arrived = f.sent - f.lost;
  if (r.unchanged > 0) {
    return {
      what: 'are bridged, not routed',
      detail: `${n(r.unchanged)} of ${n(arrived)} arrived unchanged: MACs and TTL as sent, forwarded as a bridge would`,
    };
  }
  const egress = ctx.guestMacs[f.to].toLowerCase();
  const nextHop = ctx.hostMacs[f.to].toLowerCase();
  const wrongSrc = Object.keys(r.arrivedSrcMacs).filter((m) => m !== egress);
  if (wrongSrc.length > 0)
    return {
      what: `arrive with source MAC ${wrongSrc[0]}`,
      detail: `frames left with source MAC ${wrongSrc.join(', ')}, not the router's ${f.to} NIC ${egress}`,
    };
  const wrongDst = Object.keys(r.arrivedDstMacs).filter((m) => m !== nextHop);
  if (wrongDst.length > 0)
    return {
      what: `arrive with destination MAC ${wrongDst[0]}`,
      detail: `frames arrived for ${wrongDst.join(', ')}, not the next hop ${nextHop}`,
    };
  const deltas = Object.keys(r.hopLimitDelta).filter((d) => d !== '-1');
  const decremented = r.hopLimitDelta['-1'] ?? 0;
  if (deltas.length > 0 || decremented < arrived) {
    const delta = deltas[0] ?? '0';
    return {
      what: `arrive with TTL / hop limit changed by ${Number(delta) > 0 ? '+' : ''}${delta}`,
      detail: `TTL / hop limit must drop by exactly 1; ${n(arrived - decremented)} of ${n(arrived)} frames did not`,
    };
  }
  const others = f.differences
    .flatMap((d) => d.changes)
    .filter((ch) => !['srcMac', 'dstMac', 'hopLimit'].includes(ch.field))
    .filter((ch) => !(ch.field === 'ecn' && ch.received === 3 && (ch.sent === 1 || ch.sent === 2)))
    // A reassembled datagram's flags are rebuilt from the first fragment: DF as sent, MF and offset cleared.
    .filter((ch) => !(c.row.behaviour.kind === 'fragmented' && ch.field === 'ipFlags'));
  if (others.length === 0) return undefined;
  return {
    what: `arrive with ${summarizeChanges(others)}`,
    detail: `beyond the router's rewrite: ${[...new Set(others.map(describeFieldChange))].slice(0, 3).join('; ')}`,
  };
}

/** The changes as a short phrase that names the received values when they agree: "DSCP 0", "no VLAN tag". */
export function summarizeChanges(changes: readonly FieldChange[]): string {
  const byField = new Map<string, FieldChange[]>();
  for (const ch of changes) byField.set(ch.field, [...(byField.get(ch.field) ?? []), ch]);
  const parts: string[] = [];
  for (const [field, list] of byField) {
    const received = [...new Set(list.map((ch) => ('received' in ch ? JSON.stringify(ch.received) : '')))];
    const one = received.length === 1 ? received[0]! : undefined;
    switch (field) {
      case 'dscp':
        parts.push(one !== undefined ? `DSCP ${one}` : 'DSCP changed');
        break;
      case 'ecn':
        parts.push(one !== undefined ? `ECN ${one}` : 'ECN changed');
        break;
      case 'vlanTags':
        parts.push(one === '[]' ? 'no VLAN tag' : one !== undefined ? `VLAN tags ${JSON.parse(one).join('/')}` : 'VLAN tags changed');
        break;
      case 'vlanPriority':
        parts.push(one !== undefined ? `VLAN priority ${JSON.parse(one)}` : 'VLAN priority changed');
        break;
      case 'hopLimit':
        parts.push(one !== undefined ? `TTL ${one}` : 'TTL changed');
        break;
      case 'srcMac':
        parts.push('a rewritten source MAC');
        break;
      case 'dstMac':
        parts.push('a rewritten destination MAC');
        break;
      // An address rewrite is one fault whatever address it writes (NAT gives each side its own): one phrase, values in the details.
      case 'srcIp':
        parts.push('their source address rewritten');
        break;
      case 'dstIp':
        parts.push('their destination address rewritten');
        break;
      case 'srcPort':
      case 'dstPort':
        parts.push(`${field === 'srcPort' ? 'source' : 'destination'} port changed`);
        break;
      case 'length':
        parts.push('a changed length');
        break;
      case 'payload':
        parts.push('the payload changed');
        break;
      case 'checksum':
        parts.push('a bad checksum');
        break;
      case 'ipFlags':
        parts.push(one !== undefined ? `IPv4 flags ${JSON.parse(one)}` : 'IPv4 flags changed');
        break;
      default:
        parts.push('header bytes changed');
    }
  }
  return parts.join(' and ');
}

function distinctChanges(changes: readonly FieldChange[]): string {
  return [...new Set(changes.map(describeFieldChange))].slice(0, 3).join('; ');
}

function describeFieldChange(ch: FieldChange): string {
  if ('sent' in ch && 'received' in ch) return `${ch.field} ${JSON.stringify(ch.sent)} → ${JSON.stringify(ch.received)}`;
  return ch.field;
}

function rightAnswers(c: PlannedCase, f: FlowResult | undefined, answer: 'time-exceeded' | 'too-big', ctx: JudgeContext): IcmpErrorSeen[] {
  return (f?.icmpErrors ?? []).filter((e) => isRightAnswer(e, c, answer, ctx));
}

function isRightAnswer(e: IcmpErrorSeen, c: PlannedCase, answer: 'time-exceeded' | 'too-big', ctx: JudgeContext): boolean {
  if (answer === 'time-exceeded') return e.version === 4 ? e.type === 11 && e.code === 0 : e.type === 3 && e.code === 0;
  const mtu = ctx.sideMtu[c.frame.to];
  return (e.version === 4 ? e.type === 3 && e.code === 4 : e.type === 2 && e.code === 0) && e.mtu === mtu;
}

function expectedAnswerName(c: PlannedCase, answer: 'time-exceeded' | 'too-big' | string, ctx: JudgeContext): string {
  const v6 = c.case.version === '6';
  if (answer === 'time-exceeded') return v6 ? 'ICMPv6 Time Exceeded (3/0)' : 'ICMP Time Exceeded (11/0)';
  const mtu = ctx.sideMtu[c.frame.to];
  return v6 ? `ICMPv6 Packet Too Big (2/0, MTU ${mtu})` : `ICMP Fragmentation Needed (3/4, MTU ${mtu})`;
}

export type { Behaviour };
