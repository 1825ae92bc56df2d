// The policy's checks on the frame join's results: for each flow the suite sent, what the declared
// policy says of its frames (classify.ts) against what crossed — dropped classes never cross (and did
// reach the guest), forwarded ones arrive byte-exact but for the fields they may change, rewritten
// ones carry the declared values in every frame and nothing else changed, rate-limited ones are
// measured over time (achieved vs offered vs declared). A failure's headline names the class, the
// direction and the likely cause; the report's "declared" and "observed" columns come from here too.
//
// Pure: flow results in, match results out.
import { flowPath, type Side } from '../core/sides.ts';
import type { FieldChange, FlowResult } from '../analysis/flow-report.ts';
import { noDuplicates, noReflections, type MatchResult } from '../analysis/matchers.ts';
import type { Classification } from './classify.ts';
import { describeBehaviour, describeRate, type Behaviour, type RateLimit, type RewritableField, type RewriteValues } from './model.ts';
import type { Probe } from './probes.ts';

export interface PolicyFlowVerdict {
  checks: { check: string; result: MatchResult }[];
  /** What the policy declares for the flow's frames ("drop (block-snmp)"). */
  declared: string;
  /** What the captures show, in a few words. */
  observed: string;
}

/** A hint from the suite that helps name the cause, e.g. that the class was dropped from the other side. */
export interface PolicyHints {
  /** The same class's in-class flow from the other side was dropped as declared. */
  droppedFromOtherSide?: boolean;
  /**
   * The flow was sent under load beside traffic no class matches on the same path (lib/policy/traffic-plan.ts):
   * its loss is judged against that baseline's, and only loss beyond `allowedExcess` (a fraction of the frames) is the class's.
   */
  baseline?: { flow: FlowResult; allowedExcess: number };
  /** Fields the role itself changes on every frame it forwards (a router: the MACs and the TTL), whatever the class. */
  roleChanges?: readonly RewritableField[];
}

/** The FieldChange names each policy field shows up as in the frame join. */
const CHANGE_OF: Record<RewritableField, FieldChange['field']> = {
  dscp: 'dscp',
  vlan: 'vlanTags',
  ttl: 'hopLimit',
  srcMac: 'srcMac',
  dstMac: 'dstMac',
  srcIp: 'srcIp',
  dstIp: 'dstIp',
  srcPort: 'srcPort',
  dstPort: 'dstPort',
};

export function checkPolicyFlow(f: FlowResult, probe: Probe, expected: Classification, hints: PolicyHints = {}): PolicyFlowVerdict {
  const behaviour: Behaviour = expected.behaviour === 'role' ? { action: 'forward', mayChange: [] } : expected.behaviour;
  const by = expected.class ? `class "${expected.class.name}"` : expected.behaviour === 'role' ? "the role's contract" : 'the default';
  const roleForward =
    (hints.roleChanges ?? []).length > 0 ? `forward (routed: ${hints.roleChanges!.join(', ')} change)` : 'forward byte-exact';
  const declared = `${expected.behaviour === 'role' ? roleForward : describeBehaviour(behaviour)} (${by})`;
  const label =
    probe.kind === 'in-class'
      ? `class "${probe.of}" ${arrow(f.from)}`
      : probe.kind === 'unmatched'
        ? `traffic no class matches (${arrow(f.from)})`
        : `probe outside class "${probe.of}" (${probe.what}, ${arrow(f.from)})`;
  const role = hints.roleChanges ?? [];
  const checks: PolicyFlowVerdict['checks'] = [];
  const add = (result: MatchResult) => checks.push({ check: `${f.name}: ${declared}`, result });
  let observed: string;
  switch (behaviour.action) {
    case 'drop':
      add(dropped(f, label, by, hints));
      observed = crossedText(f);
      break;
    case 'forward':
      add(hints.baseline ? deliveredBesideBaseline(f, label, by, probe, hints.baseline) : delivered(f, label, by, probe));
      add(changedOnly(f, label, [...behaviour.mayChange, ...role], by));
      observed = `${deliveredText(f)}, ${changesText(f)}`;
      break;
    case 'rewrite':
      add(hints.baseline ? deliveredBesideBaseline(f, label, by, probe, hints.baseline) : delivered(f, label, by, probe));
      add(rewritten(f, label, behaviour.set, by, role));
      observed = `${deliveredText(f)}, ${arrivedValuesText(f, behaviour.set)}`;
      break;
    case 'rate-limit': {
      add(rateLimited(f, label, behaviour.rate));
      add(changedOnly(f, label, role, by));
      const r = measuredRates(f);
      const unit = behaviour.rate.framesPerSecond !== undefined ? 'frames' : 'bits';
      observed = `achieved ${fmtRate(r, 'achieved', unit)} of ${fmtRate(r, 'offered', unit)} offered`;
      break;
    }
  }
  if (behaviour.action !== 'drop') add(noDuplicates(f));
  add(noReflections(f));
  return { checks, declared, observed };
}

function dropped(f: FlowResult, label: string, by: string, hints: PolicyHints): MatchResult {
  const p = flowPath(f);
  const offered = f.received[p.ingress];
  const crossed = f.received[p.egress];
  const arrived = f.sent - f.lost;
  if (offered === 0)
    return fail(`${label}: no frame reached the guest, so its dropping them proves nothing (the lab lost them before the guest).`, [
      `${f.sent} frames of ${f.name} were sent; ${f.received[p.sender]} were seen leaving the ${f.from} host, none at the guest's ` +
        `${f.from} port.`,
    ]);
  if (arrived === 0 && crossed === 0)
    return ok(`${label}: dropped as declared — none of ${offered} frames that reached the guest crossed it.`);
  const cause = hints.droppedFromOtherSide
    ? `the image drops this class from the ${f.to} side only: its rule matches one direction`
    : `the image does not drop this class ${arrow(f.from)}`;
  return fail(`${label}: ${Math.max(arrived, crossed)} of ${offered} frames crossed the guest, but ${by} drops them — ${cause}.`, [
    `Expected no frame of ${f.name} to leave the guest, as ${by} declares; ${offered} reached its ${f.from} port, ${crossed} left its ` +
      `${f.to} port and ${arrived} arrived at the ${f.to} host.`,
  ]);
}

function delivered(f: FlowResult, label: string, by: string, probe: Probe): MatchResult {
  const p = flowPath(f);
  if (f.lost === 0) return ok(`${label}: all ${f.sent} frames delivered, as ${by} declares.`);
  const offered = f.received[p.ingress];
  const inside = offered - f.received[p.egress];
  if (offered === 0)
    return fail(`${label}: none of ${f.sent} frames reached the guest (lost in the lab before it, not by the guest).`, [
      `${f.received[p.sender]} were seen leaving the ${f.from} host.`,
    ]);
  const where =
    inside > 0 ? `${inside} of ${f.sent} frames dropped inside the guest` : `${f.lost} of ${f.sent} frames lost after the guest`;
  const cause =
    inside <= 0
      ? 'they left the guest but never reached the host'
      : probe.kind === 'neighbour'
        ? `it drops more than class "${probe.of}": its rule matches too wide`
        : 'the image drops traffic its policy forwards';
  return fail(`${label}: ${where}, but ${by} delivers them — ${cause}.`, [
    `Of ${f.sent} frames of ${f.name}, ${offered} reached the guest's ${f.from} port, ${f.received[p.egress]} left its ${f.to} port ` +
      `and ${f.sent - f.lost} arrived at the ${f.to} host. Lost seqs ${f.lostSeqs.slice(0, 10).join(', ')}${f.lost > 10 ? ', …' : ''}.`,
  ]);
}

/**
 * Delivered under load: the flow may lose what the same path loses without any class (the baseline, sent
 * beside it), and a little more; losing far more is a rule that reaches beyond its class.
 */
function deliveredBesideBaseline(
  f: FlowResult,
  label: string,
  by: string,
  probe: Probe,
  baseline: NonNullable<PolicyHints['baseline']>,
): MatchResult {
  const b = baseline.flow;
  const share = (lost: number, sent: number) => (sent > 0 ? lost / sent : 0);
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const mine = share(f.lost, f.sent);
  const path = share(b.lost, b.sent);
  const numbers =
    `${f.lost} of ${f.sent} frames lost (${pct(mine)}); traffic no class matches, sent beside it on the same path at the same ` +
    `rate, lost ${b.lost} of ${b.sent} (${pct(path)}); allowed beyond that: ${pct(baseline.allowedExcess)}.`;
  if (mine - path <= baseline.allowedExcess) return ok(`${label}: delivered under load as ${by} declares — ${numbers}`);
  const p = flowPath(f);
  const offered = f.received[p.ingress];
  if (offered < f.sent * (1 - path - baseline.allowedExcess))
    return fail(
      `${label}: ${f.sent - offered} of ${f.sent} frames never reached the guest (lost in the lab before it, not by the guest).`,
      [numbers],
    );
  const cause =
    probe.kind === 'neighbour'
      ? `it limits more than class "${probe.of}": its rule matches too wide`
      : 'the image drops traffic its policy forwards';
  return fail(`${label}: lost ${pct(mine)} under load where the same path lost ${pct(path)}, but ${by} delivers them — ${cause}.`, [
    numbers,
  ]);
}

/** Every frame that arrived changed none but the allowed fields (and kept valid checksums). */
function changedOnly(f: FlowResult, label: string, allowed: readonly RewritableField[], by: string): MatchResult {
  const ok_ = new Set(allowed.map((a) => CHANGE_OF[a]));
  const offending = Object.entries(f.rewrites.changeSets).filter(([set]) =>
    set.split('+').some((c) => !ok_.has(c as FieldChange['field'])),
  );
  const count = offending.reduce((sum, [, n]) => sum + n, 0);
  const arrived = f.sent - f.lost;
  const may = allowed.length > 0 ? `only ${allowed.join(', ')} may change` : 'frames pass byte-exact';
  if (count === 0) return ok(`${label}: ${arrived} frames arrived, ${may}, and so they did.`);
  return fail(
    `${label}: ${count} of ${arrived} frames arrived changed (${offending.map(([s, n]) => `${s} in ${n}`).join(', ')}), ` +
      `but under ${by} ${may}.`,
    [
      `First: ${f.differences
        .slice(0, 2)
        .map((d) => `seq ${d.seq} sent as \`${d.sentSummary}\`, arrived as \`${d.receivedSummary}\``)
        .join('; ')}.`,
    ],
  );
}

function rewritten(f: FlowResult, label: string, set: RewriteValues, by: string, role: readonly RewritableField[]): MatchResult {
  const arrived = f.sent - f.lost;
  if (arrived === 0) return fail(`${label}: no frame arrived, so the rewrite could not be checked.`, []);
  const r = f.rewrites;
  const problems: string[] = [];
  const expectAll = (what: string, counts: Record<string, number>, want: string) => {
    const wrong = Object.entries(counts).filter(([v]) => v !== want);
    for (const [v, n] of wrong)
      problems.push(`${n} of ${arrived} frames arrived with ${what} ${v === '' ? 'none' : v}, not the declared ${want}`);
  };
  if (set.dscp !== undefined) expectAll('DSCP', r.arrivedDscp, String(set.dscp));
  if (set.ttl !== undefined) expectAll('TTL', r.arrivedHopLimit, String(set.ttl));
  if (set.vlan !== undefined) {
    const outer: Record<string, number> = {};
    for (const [tags, n] of Object.entries(r.arrivedVlans)) outer[tags.split('.')[0]!] = (outer[tags.split('.')[0]!] ?? 0) + n;
    expectAll('VLAN', outer, String(set.vlan));
  }
  if (set.srcMac !== undefined) expectAll('source MAC', r.arrivedSrcMacs, set.srcMac.toLowerCase());
  if (set.dstMac !== undefined) expectAll('destination MAC', r.arrivedDstMacs, set.dstMac.toLowerCase());
  const fields = Object.keys(set) as RewritableField[];
  const other = changedOnly(f, label, [...fields, ...role], by);
  if (problems.length === 0 && other.pass)
    return ok(`${label}: all ${arrived} frames arrived with ${describeSet(set)}, nothing else changed.`);
  if (problems.length === 0) return other;
  return fail(`${label}: ${problems[0]} — the image rewrites this class wrongly.`, [
    `${by} sets ${describeSet(set)} on every frame; of ${arrived} that arrived: ${problems.join('; ')}.`,
    other.pass ? '' : other.headline,
  ]);
}

/** Offered (at the guest's ingress port) and achieved (at its egress port) rates of a flow, over its own time span. */
export interface MeasuredRates {
  offeredFps: number;
  achievedFps: number;
  offeredBps: number;
  achievedBps: number;
  /** The span the rates are taken over, s: from the first frame entering the guest to the last leaving (or entering) it. */
  windowS: number;
  /** Frames leaving the guest per second of the window (the achieved rate over time). */
  perSecond: number[];
}

export function measuredRates(f: FlowResult): MeasuredRates {
  const inT = f.ingressTimesUs;
  const outT = f.egressTimesUs;
  const nIn = inT.length;
  const nOut = outT.length;
  if (nIn < 2) return { offeredFps: 0, achievedFps: 0, offeredBps: 0, achievedBps: 0, windowS: 0, perSecond: [] };
  const lastIn = Math.max(...inT);
  // Each frame stands for one mean interval, so n frames over their span plus one interval give the rate exactly.
  const interval = lastIn / (nIn - 1);
  const windowIn = (lastIn + interval) / 1e6;
  const windowOut = Math.max(windowIn, ((nOut > 0 ? Math.max(...outT) : 0) + interval) / 1e6);
  const perSecond: number[] = [];
  for (const t of outT) {
    const s = Math.floor(t / 1e6);
    while (perSecond.length <= s) perSecond.push(0);
    perSecond[s]!++;
  }
  return {
    offeredFps: nIn / windowIn,
    achievedFps: nOut / windowOut,
    offeredBps: (f.ingressBytes * 8) / windowIn,
    achievedBps: (f.egressBytes * 8) / windowOut,
    windowS: windowOut,
    perSecond,
  };
}

function rateLimited(f: FlowResult, label: string, rate: RateLimit): MatchResult {
  const r = measuredRates(f);
  const frames = rate.framesPerSecond !== undefined;
  const declared = frames ? rate.framesPerSecond! : rate.bitsPerSecond!;
  const unit = frames ? 'frames' : 'bits';
  const achieved = frames ? r.achievedFps : r.achievedBps;
  const offered = frames ? r.offeredFps : r.offeredBps;
  const tol = rate.tolerance;
  const declaredText = `${describeRate(rate)} ±${Math.round(tol * 100)} %`;
  const numbers =
    `offered ${fmtRate(r, 'offered', unit)} into the guest and ${fmtRate(r, 'achieved', unit)} left it over ${r.windowS.toFixed(2)} s ` +
    `(${Math.round(r.offeredFps)} → ${Math.round(r.achievedFps)} frames/s); per second out: ${r.perSecond.join(', ')}.`;
  if (offered < declared * (1 + 2 * tol))
    return fail(`${label}: offered only ${fmtRate(r, 'offered', unit)}, not enough above the declared ${declaredText} to test the limit.`, [
      `The limit shows only when more than it is offered; ${numbers}`,
    ]);
  const ratio = achieved / declared;
  if (Math.abs(achieved - declared) <= tol * declared)
    return ok(
      `${label}: achieved ${fmtRate(r, 'achieved', unit)} of ${fmtRate(r, 'offered', unit)} offered, within the declared ${declaredText}.`,
    );
  const cause =
    achieved > declared
      ? achieved >= 0.9 * offered
        ? 'the image does not limit this class'
        : 'the image limits it above the declared rate'
      : 'the image limits this class below the declared rate';
  return fail(
    `${label}: achieved ${fmtRate(r, 'achieved', unit)} (${ratio.toFixed(2)}× the declared ${declaredText}, ` +
      `${fmtRate(r, 'offered', unit)} offered) — ${cause}.`,
    [`Expected the rate leaving the guest within ${Math.round(tol * 100)} % of ${describeRate(rate)}; ${numbers}`],
  );
}

function fmtRate(r: MeasuredRates, which: 'offered' | 'achieved', unit: 'frames' | 'bits'): string {
  if (unit === 'frames') return `${(which === 'offered' ? r.offeredFps : r.achievedFps).toFixed(1)} frames/s`;
  const bps = which === 'offered' ? r.offeredBps : r.achievedBps;
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mbit/s` : `${(bps / 1e3).toFixed(1)} kbit/s`;
}

function crossedText(f: FlowResult): string {
  const p = flowPath(f);
  const crossed = f.received[p.egress];
  return crossed === 0 ? `dropped: 0 of ${f.received[p.ingress]} crossed` : `CROSSED: ${crossed} of ${f.received[p.ingress]}`;
}

function deliveredText(f: FlowResult): string {
  return `delivered ${f.sent - f.lost} of ${f.sent}`;
}

function changesText(f: FlowResult): string {
  const sets = Object.entries(f.rewrites.changeSets);
  return sets.length === 0 ? 'byte-exact' : `changed: ${sets.map(([s, n]) => `${s} in ${n}`).join(', ')}`;
}

function arrivedValuesText(f: FlowResult, set: RewriteValues): string {
  const r = f.rewrites;
  const parts: string[] = [];
  const list = (what: string, counts: Record<string, number>) =>
    parts.push(
      `${what} ${
        Object.entries(counts)
          .map(([v, n]) => `${v || 'none'} in ${n}`)
          .join(', ') || '–'
      }`,
    );
  if (set.dscp !== undefined) list('DSCP', r.arrivedDscp);
  if (set.ttl !== undefined) list('TTL', r.arrivedHopLimit);
  if (set.vlan !== undefined) list('VLAN', r.arrivedVlans);
  if (set.srcMac !== undefined) list('src MAC', r.arrivedSrcMacs);
  if (set.dstMac !== undefined) list('dst MAC', r.arrivedDstMacs);
  return parts.join('; ');
}

function describeSet(set: RewriteValues): string {
  return Object.entries(set)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
}

function arrow(from: Side): string {
  return from === 'left' ? 'left→right' : 'right→left';
}

function ok(headline: string): MatchResult {
  return { pass: true, headline, message: headline };
}

function fail(headline: string, details: string[]): MatchResult {
  return { pass: false, headline, message: [headline, ...details.filter(Boolean)].join('\n') };
}
