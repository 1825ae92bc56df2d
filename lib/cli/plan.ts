// `wirelab plan`: a profile's contract as a test plan, without a lab — its rows, and every case the
// suite would send for a seed (its dimension values, its row, what the role promises, its direction
// and frame size). For reviewing what a qualification covers, and for other tools (the shell baseline
// of `npm run bench` reads it).
import { writeFileSync } from 'node:fs';
import { planContract } from '../contracts/plan.ts';
import { promiseText } from '../contracts/row-verdict.ts';
import { NOT_APPLICABLE } from '../contracts/frame-space.ts';
import { loadProfile } from '../profile/load.ts';
import { contractSettingsOf } from '../traffic/contract-traffic.ts';
import { frameSpaceSeed } from './run-suites.ts';

/** Placeholder addresses: the plan's values do not depend on them (a lab fills in its own). */
const PLACEHOLDER = {
  hosts: {
    left: { mac: '02:00:00:00:00:01', ipv4: '198.18.0.1/24', ipv6: '2001:db8:1::1/64' },
    right: { mac: '02:00:00:00:00:02', ipv4: '198.18.0.2/24', ipv6: '2001:db8:1::2/64' },
  },
  guestMacs: { left: '02:00:00:00:01:01', right: '02:00:00:00:01:02' },
  unknownMac: '02:00:00:00:0d:0d',
};

export function planCommand(opts: { profile: string; seed?: string; json?: string }): number {
  const profile = loadProfile(opts.profile);
  const seed = frameSpaceSeed(opts.seed);
  const hosts = {
    left: {
      ...PLACEHOLDER.hosts.left,
      ipv4: profile.trafficHosts.left.ipv4,
      ipv6: profile.trafficHosts.left.ipv6 ?? PLACEHOLDER.hosts.left.ipv6,
    },
    right: {
      ...PLACEHOLDER.hosts.right,
      ipv4: profile.trafficHosts.right.ipv4,
      ipv6: profile.trafficHosts.right.ipv6 ?? PLACEHOLDER.hosts.right.ipv6,
    },
  };
  const plan = planContract(contractSettingsOf(profile), { ...PLACEHOLDER, hosts }, seed);
  const { contract } = plan;
  const lines = [
    `${profile.name}: the ${profile.role} contract, seed ${seed} — ${plan.cases.length} cases, ` +
      `${plan.pairs.covered} of ${plan.pairs.feasible} value pairs`,
    ...contract.rows.map(
      (row) =>
        `  ${String(plan.cases.filter((c) => c.row === row).length).padStart(4)} cases  ${row.frames}: ${promiseText(row.behaviour)}`,
    ),
  ];
  console.log(lines.join('\n'));
  if (opts.json) {
    const data = {
      profile: profile.name,
      role: profile.role,
      seed,
      dimensions: contract.space.dimensions.map((d) => ({
        id: d.id,
        label: d.label,
        values: d.values.map((v) => ({ id: v.id, label: v.label })),
      })),
      rows: contract.rows.map((r) => ({
        id: r.id,
        frames: r.frames,
        behaviour: r.behaviour,
        promise: promiseText(r.behaviour),
        basis: r.basis,
      })),
      cases: plan.cases.map((c) => ({
        index: c.index,
        name: c.name,
        row: c.row.id,
        from: c.frame.from,
        to: c.frame.to,
        size: c.frame.size,
        values: Object.fromEntries(Object.entries(c.case).filter(([, v]) => v !== NOT_APPLICABLE)),
      })),
    };
    writeFileSync(opts.json, JSON.stringify(data, null, 1));
    console.log(`wrote ${opts.json}`);
  }
  return 0;
}
