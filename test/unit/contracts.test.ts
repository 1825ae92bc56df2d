// The role contracts as data: the pairwise generator covers every feasible pair, reproducibly per seed;
// every case falls in the row it was generated for; frames build for every case; the judgement and the
// smallest counterexample name what separates failing cases from the rest.
import { describe, expect, it } from 'vitest';
import { explainFailures } from '../../lib/contracts/counterexample.ts';
import { checkSpace, NOT_APPLICABLE, type FrameSpace } from '../../lib/contracts/frame-space.ts';
import { hostExplainsRow } from '../../lib/contracts/host-excuse.ts';
import { judgeRow } from '../../lib/contracts/judge.ts';
import { feasiblePairs, pairwiseCases } from '../../lib/contracts/pairwise.ts';
import { planContract } from '../../lib/contracts/plan.ts';
import { contractFor, rowOf } from '../../lib/contracts/role-contracts.ts';
import { rowResult } from '../../lib/contracts/row-verdict.ts';
import type { ContractSettings } from '../../lib/contracts/settings.ts';
import { flow, parse } from '../../lib/frames/index.ts';
import { cleanFlow } from './fake-flow.ts';

const BRIDGE: ContractSettings = {
  role: 'l2-bridge',
  mtu: 1500,
  sideMtu: { left: 1500, right: 1500 },
  ipVersions: [4, 6],
  reservedGroups: 'standard',
};
const ROUTER: ContractSettings = {
  role: 'l3-forwarder',
  mtu: 1500,
  sideMtu: { left: 1500, right: 1400 },
  ipVersions: [4, 6],
  reservedGroups: 'standard',
};
const BRIDGE_LAB = {
  hosts: { left: { mac: '02:00:00:00:00:01', ipv4: '198.18.0.1/24' }, right: { mac: '02:00:00:00:00:02', ipv4: '198.18.0.2/24' } },
  guestMacs: { left: '02:00:00:00:01:01', right: '02:00:00:00:01:02' },
  unknownMac: '02:dd:00:00:00:01',
};
const ROUTER_LAB = {
  ...BRIDGE_LAB,
  hosts: {
    left: { mac: '02:00:00:00:00:01', ipv4: '198.18.1.2/24', ipv6: '2001:db8:1::2/64' },
    right: { mac: '02:00:00:00:00:02', ipv4: '198.18.2.2/24', ipv6: '2001:db8:2::2/64' },
  },
};

/** A small space with a condition: c applies only where a = x; value b=z needs a = y. */
const SMALL: FrameSpace = {
  name: 'small',
  dimensions: [
    {
      id: 'a',
      label: 'as',
      basis: '',
      values: [
        { id: 'x', label: 'x' },
        { id: 'y', label: 'y' },
      ],
    },
    {
      id: 'b',
      label: 'bs',
      basis: '',
      values: [
        { id: 'p', label: 'p' },
        { id: 'q', label: 'q' },
        { id: 'z', label: 'z', requires: [{ dimension: 'a', oneOf: ['y'] }] },
      ],
    },
    {
      id: 'c',
      label: 'cs',
      basis: '',
      when: [{ dimension: 'a', oneOf: ['x'] }],
      values: [
        { id: '1', label: '1' },
        { id: '2', label: '2' },
        { id: '3', label: '3' },
      ],
    },
  ],
};

describe('pairwise cases', () => {
  it('cover every feasible pair, respect conditions, and are the same for the same seed', () => {
    expect(checkSpace(SMALL)).toEqual([]);
    const pairs = feasiblePairs(SMALL);
    expect(pairs.has('a=y|b=z')).toBe(true);
    expect(pairs.has('a=x|b=z')).toBe(false); // z needs y
    expect(pairs.has('a=y|c=1')).toBe(false); // c does not apply where a = y
    const r = pairwiseCases(SMALL, 42);
    expect(r.coveredPairs).toBe(r.feasiblePairs);
    for (const c of r.cases) {
      if (c.a === 'y') expect(c.c).toBe(NOT_APPLICABLE);
      if (c.b === 'z') expect(c.a).toBe('y');
    }
    expect(pairwiseCases(SMALL, 42).cases).toEqual(r.cases);
  });

  it('a bridge and a router contract: every pair within every row, each case in its row, every frame builds', () => {
    // The last: an IPv4-only router with one MTU (no extension headers, no packets over the egress MTU).
    for (const [settings, lab] of [
      [BRIDGE, BRIDGE_LAB],
      [ROUTER, ROUTER_LAB],
      [{ ...ROUTER, ipVersions: [4], sideMtu: { left: 1500, right: 1500 } } as ContractSettings, BRIDGE_LAB],
    ] as const) {
      const plan = planContract(settings, lab, 7);
      expect(checkSpace(plan.contract.space)).toEqual([]);
      expect(plan.pairs.covered).toBe(plan.pairs.feasible);
      for (const d of plan.contract.space.dimensions)
        for (const v of d.values)
          expect(
            plan.cases.some((c) => c.case[d.id] === v.id),
            `${d.id}=${v.id}`,
          ).toBe(true);
      for (const row of plan.contract.rows)
        expect(
          plan.cases.some((c) => c.row === row),
          row.id,
        ).toBe(true);
      for (const c of plan.cases) {
        expect(rowOf(plan.contract, c.case)).toBe(c.row);
        const f = flow({ template: c.frame.template, runId: 'wl-000001', flowId: c.index, count: 2, ratePps: 1, size: c.frame.size });
        const frame = f.frameAt(1);
        expect(frame.length).toBe(c.frame.size);
        expect(parse(frame).malformed, c.name).toBeUndefined();
      }
      expect(planContract(settings, lab, 7).cases.map((c) => c.name)).toEqual(plan.cases.map((c) => c.name));
      expect(planContract(settings, lab, 8).cases.map((c) => c.name)).not.toEqual(plan.cases.map((c) => c.name));
    }
  });

  it('a router whose sides have one MTU has no rows about packets over the egress MTU (no test of 0 cases)', () => {
    const rows = (sideMtu: ContractSettings['sideMtu']) => contractFor({ ...ROUTER, sideMtu }).rows.map((r) => r.id);
    expect(rows({ left: 1500, right: 1400 })).toEqual(expect.arrayContaining(['too-big', 'fragmented']));
    const same = rows({ left: 1500, right: 1500 });
    expect(same).not.toContain('too-big');
    expect(same).not.toContain('fragmented');
    expect(same).toContain('expired');
  });

  it("sizes follow the router's egress MTU: packets over it exist only towards the smaller side", () => {
    const plan = planContract(ROUTER, ROUTER_LAB, 3);
    const over = plan.cases.filter((c) => c.case.size === 'over-egress-mtu');
    expect(over.length).toBeGreaterThan(0);
    for (const c of over) {
      expect(c.frame.from).toBe('left');
      expect(c.frame.size).toBe(1514);
    }
    for (const c of plan.cases.filter((x) => x.case.size === 'egress-mtu')) expect(c.frame.size).toBe(c.frame.to === 'right' ? 1414 : 1514);
  });
});

describe('judgement and the smallest counterexample', () => {
  const plan = planContract(BRIDGE, BRIDGE_LAB, 11);
  const row = plan.contract.rows.find((r) => r.id === 'known-unicast')!;
  const cases = plan.cases.filter((c) => c.row === row);
  const ctx = {
    guestMacs: BRIDGE_LAB.guestMacs,
    hostMacs: { left: BRIDGE_LAB.hosts.left.mac, right: BRIDGE_LAB.hosts.right.mac },
    sideMtu: BRIDGE.sideMtu,
  };
  const result = (c: (typeof cases)[number], fail: boolean) =>
    cleanFlow(4, {
      name: c.name,
      from: c.frame.from,
      to: c.frame.to,
      ...(fail
        ? {
            lost: 4,
            received: {
              [`${c.frame.from}-host`]: 4,
              [`guest-${c.frame.from}`]: 4,
              [`guest-${c.frame.to}`]: 0,
              [`${c.frame.to}-host`]: 0,
            } as never,
          }
        : {}),
    });

  it('names the one dimension value whose frames never cross', () => {
    const broken = (c: (typeof cases)[number]) => c.case.ethertype === 'mpls' || c.case.ethertype === 'llc';
    const outcomes = judgeRow(cases, new Map(cases.map((c) => [c.index, result(c, broken(c))])), ctx);
    expect(outcomes.filter((o) => o.verdict === 'fail').length).toBe(cases.filter(broken).length);
    const explanations = explainFailures(
      plan.contract.space,
      cases.map((c, i) => ({ case: c.case, outcome: outcomes[i]! })),
    );
    expect(explanations).toHaveLength(1);
    expect(explanations[0]!.statement).toMatch(/^frames with EtherType 0x8847 \(MPLS\) or 802.3 length \+ LLC never cross; not so with/);
    const check = rowResult(row, outcomes, explanations);
    expect(check.pass).toBe(false);
    expect(check.headline).toMatch(/MPLS.*never cross/);
  });

  it('names values of several dimensions when independent faults fail the same way', () => {
    const broken = (c: (typeof cases)[number]) => c.case.ethertype === 'mpls' || c.case.l4 === 'tcp-fin-psh-urg';
    const outcomes = judgeRow(cases, new Map(cases.map((c) => [c.index, result(c, broken(c))])), ctx);
    const [e] = explainFailures(
      plan.contract.space,
      cases.map((c, i) => ({ case: c.case, outcome: outcomes[i]! })),
    );
    expect(e!.statement).toMatch(
      /^frames with EtherType 0x8847 \(MPLS\), or with TCP FIN\+PSH\+URG.* never cross; not so with the other frames$/,
    );
  });

  it('says when no dimension separates the failures', () => {
    const broken = (c: (typeof cases)[number]) => c.index % 3 === 0;
    const outcomes = judgeRow(cases, new Map(cases.map((c) => [c.index, result(c, broken(c))])), ctx);
    const [e] = explainFailures(
      plan.contract.space,
      cases.map((c, i) => ({ case: c.case, outcome: outcomes[i]! })),
    );
    expect(e!.separatedBy.length === 0 || e!.statement.includes('or')).toBe(true);
  });

  it('blames the guest stopping, not the lab, when the guest was gone during the run', () => {
    const broken = () => true;
    const outcomes = judgeRow(cases, new Map(cases.map((c) => [c.index, result(c, broken())])), {
      ...ctx,
      guestStopped: 'exited (killed by SIGKILL)',
    });
    const explanations = explainFailures(
      plan.contract.space,
      cases.map((c, i) => ({ case: c.case, outcome: outcomes[i]! })),
    );
    expect(rowResult(row, outcomes, explanations).headline).toMatch(
      /every kind tried never cross: the guest stopped during the run \(exited \(killed by SIGKILL\)\), so nothing could cross it/,
    );
  });

  it('blames the host for losses at random while it stalled long enough, never for a row that failed whole or by changes', () => {
    const host = (stallMs: number) => ({
      startMs: 0,
      endMs: 10_000,
      periodMs: 2,
      stallMs: 2,
      stalls: [{ fromMs: 3_000, toMs: 3_000 + stallMs, source: 'guest-cpu' as const }],
      seconds: [],
      guestWatched: true,
    });
    const outcome = (verdict: 'pass' | 'fail', what?: string) => ({ index: 0, verdict, detail: '', ...(what ? { what } : {}) });
    const someLost = [outcome('pass'), outcome('fail', 'lose frames'), outcome('fail', 'never reach the guest')];
    expect(hostExplainsRow(someLost, host(788))?.stallMs).toBe(788);
    expect(hostExplainsRow(someLost, host(20))).toBeUndefined();
    expect(hostExplainsRow(someLost, undefined)).toBeUndefined();
    expect(hostExplainsRow([outcome('fail', 'never cross'), outcome('fail', 'never cross')], host(788))).toBeUndefined();
    expect(hostExplainsRow([outcome('pass'), outcome('fail', 'arrive with DSCP 0')], host(788))).toBeUndefined();
  });

  it('passes a row whose cases all behaved', () => {
    const outcomes = judgeRow(cases, new Map(cases.map((c) => [c.index, result(c, false)])), ctx);
    expect(outcomes.every((o) => o.verdict === 'pass')).toBe(true);
    expect(rowResult(row, outcomes, []).pass).toBe(true);
  });
});

describe('the documentation', () => {
  it("README's role table and docs/contracts.md are generated from the contracts and up to date", async () => {
    const { readFileSync } = await import('node:fs');
    const { contractsDocument, roleTableMarkdown, ROLE_TABLE_START, ROLE_TABLE_END } = await import('../../lib/contracts/docs.ts');
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain([ROLE_TABLE_START, ...roleTableMarkdown(), ROLE_TABLE_END].join('\n'));
    const doc = readFileSync('docs/contracts.md', 'utf8');
    for (const line of contractsDocument()) expect(doc).toContain(line);
  });
});
