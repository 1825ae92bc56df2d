// A role's contract on a lab: its settings and addresses read from the lab, its cases as flows of the
// functional window (one flow per case, spread evenly over the window so the guest sees a steady
// stream rather than bursts), and each row's cases judged from the window's report. Frames a declared
// policy claims for one of its classes are the policy suite's, not the role's: they are left out here.
import { createHash } from 'node:crypto';
import { generatedMac } from '../core/addressing.ts';
import { SIDES } from '../core/sides.ts';
import type { FlowResult } from '../analysis/flow-report.ts';
import type { ContractAddressing } from '../contracts/case-frames.ts';
import { explainFailures, type Explanation } from '../contracts/counterexample.ts';
import { judgeRow, type CaseOutcome, type JudgeContext } from '../contracts/judge.ts';
import { planContract, type ContractPlan, type PlannedCase } from '../contracts/plan.ts';
import type { ContractRow } from '../contracts/role-contracts.ts';
import type { ContractSettings } from '../contracts/settings.ts';
import { parse } from '../frames/index.ts';
import type { Lab } from '../lab/lab.ts';
import { classify, factsOf } from '../policy/classify.ts';
import type { FlowDefinition, TrafficRun } from './traffic-run.ts';

/** Frames per case and their rate: enough to see loss and order per case, few enough for hundreds of cases. */
export const CASE_FRAMES = 4;
export const CASE_RATE_PPS = 3;

export function contractSettingsOf(profile: Lab['profile']): ContractSettings {
  const both = SIDES.every((side) => profile.trafficHosts[side].ipv6 !== undefined);
  return {
    role: profile.role,
    mtu: profile.expect.mtu,
    sideMtu: { left: profile.guest.nics.left.mtu ?? profile.expect.mtu, right: profile.guest.nics.right.mtu ?? profile.expect.mtu },
    // A router is checked in IPv6 when its hosts are addressed in it; a bridge carries IPv6 whatever the profile says.
    ipVersions: profile.role === 'l3-forwarder' && !both ? [4] : [4, 6],
    reservedGroups: profile.expect.reservedGroups,
  };
}

export function contractAddressingOf(lab: Lab): ContractAddressing {
  const host = (side: 'left' | 'right') => ({ mac: lab.hosts[side].mac, ipv4: lab.hosts[side].ipv4, ipv6: lab.hosts[side].ipv6 });
  return {
    hosts: { left: host('left'), right: host('right') },
    guestMacs: { left: lab.ports.left.guestMac, right: lab.ports.right.guestMac },
    unknownMac: generatedMac(`${lab.runId}/never-seen`),
  };
}

/** The seed of a run: `wirelab run --seed` (WIRELAB_SEED), else one from the lab's run id (printed in the report). */
export function contractSeed(lab: Lab): number {
  const given = process.env.WIRELAB_SEED;
  if (given !== undefined && /^\d+$/.test(given)) return Number(given) >>> 0;
  return createHash('sha256').update(lab.runId).digest().readUInt32BE(0);
}

/** A lab's contract plan: the cases the role's contract judges, and those a declared policy claims for its classes. */
export interface LabContractPlan extends ContractPlan {
  claimedByPolicy: PlannedCase[];
}

/** The lab's contract plan, without the cases a declared policy claims for one of its classes (the policy suite's). */
export function contractPlanFor(lab: Lab, seed = contractSeed(lab)): LabContractPlan {
  const plan = planContract(contractSettingsOf(lab.profile), contractAddressingOf(lab), seed);
  const policy = lab.profile.policy;
  if (!policy) return { ...plan, claimedByPolicy: [] };
  const isRole = (c: PlannedCase) => classify(policy, factsOf(parse(c.frame.template.build())), c.frame.from).behaviour === 'role';
  return { ...plan, cases: plan.cases.filter(isRole), claimedByPolicy: plan.cases.filter((c) => !isRole(c)) };
}

/**
 * The flows of one row's cases, named after the cases. Each side's cases (of every row) take evenly
 * spaced start times within one frame interval, so the guest sees a steady stream, not bursts.
 */
export function rowFlows(plan: ContractPlan, row: ContractRow): FlowDefinition[] {
  const intervalMs = 1000 / CASE_RATE_PPS;
  const place = new Map<PlannedCase, number>();
  for (const side of SIDES) {
    const mine = plan.cases.filter((c) => c.frame.from === side);
    mine.forEach((c, k) => place.set(c, (k / mine.length) * intervalMs));
  }
  return plan.cases
    .filter((c) => c.row === row)
    .map((c): FlowDefinition => ({
      name: c.name,
      from: c.frame.from,
      to: c.frame.to,
      template: c.frame.template,
      count: CASE_FRAMES,
      ratePps: CASE_RATE_PPS,
      size: c.frame.size,
      vary: c.frame.varyIpId ? { ipId: CASE_FRAMES } : undefined,
      startMs: place.get(c)!,
    }));
}

export interface RowJudgement {
  row: ContractRow;
  cases: PlannedCase[];
  outcomes: CaseOutcome[];
  explanations: Explanation[];
}

export function judgeContext(lab: Lab, settings: ContractSettings, guestStopped?: string): JudgeContext {
  return {
    ...(guestStopped ? { guestStopped } : {}),
    guestMacs: { left: lab.ports.left.guestMac, right: lab.ports.right.guestMac },
    hostMacs: { left: lab.hosts.left.mac, right: lab.hosts.right.mac },
    sideMtu: settings.sideMtu,
  };
}

/** Every case of a row judged from a traffic run that carried them, and the failures explained by dimension. */
export function judgeContractRow(lab: Lab, plan: ContractPlan, row: ContractRow, run: TrafficRun): RowJudgement {
  const cases = plan.cases.filter((c) => c.row === row);
  const byName = new Map(run.report.flows.map((f) => [f.name, f] as const));
  const results = new Map<number, FlowResult>();
  for (const c of cases) {
    const f = byName.get(c.name);
    if (f) results.set(c.index, f);
  }
  const outcomes = judgeRow(cases, results, judgeContext(lab, plan.contract.settings, run.guestStopped));
  const explanations = explainFailures(
    plan.contract.space,
    cases.map((c, i) => ({ case: c.case, outcome: outcomes[i]! })),
  );
  return { row, cases, outcomes, explanations };
}
