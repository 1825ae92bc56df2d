// The transparent (L2, bump-in-the-wire) service contract, as a table (lib/contracts/role-contracts.ts):
// every kind of frame a wire carries — every destination class, EtherType and 802.3 length frame, VLAN
// tag and priority, IP header field and transport, size — combined pairwise within each class of
// destination and sent both ways; a bridge delivers each once, in order, byte-exact, never back
// towards the sender, and relays no frame to the reserved group addresses unless the profile says it
// does. Then: order in back-to-back bursts; the profile's load and latency; nothing sent of its own;
// image hygiene. One boot for all of it; the halt ends the file.
import * as allure from 'allure-js-commons';
import { arriveUnchanged } from '../lib/analysis/matchers.ts';
import type { Lab } from '../lib/lab/lab.ts';
import type { LabProfile } from '../lib/profile/types.ts';
import { udpTemplate } from '../lib/traffic/templates.ts';
import { contractSlices, contractTests, frameSpaceTest } from '../fixtures/contract.ts';
import { describe, test } from '../fixtures/lab.ts';
import { emissionsTest, hygieneTests, readinessTest } from '../fixtures/qualification.ts';
import {
  bothWays,
  checkBursts,
  checkProfileLoad,
  forwardingChecks,
  FUNCTIONAL,
  functionalSlice,
  type FunctionalPlan,
} from '../fixtures/traffic.ts';
import { checks } from '../fixtures/verdict.ts';

/** The functional window: the contract's cases (a slice per row) and the vRouter MAC case's unicast. */
function plan(lab: Lab, _profile: LabProfile): FunctionalPlan {
  const udp = (from: 'left' | 'right', to: 'left' | 'right') => udpTemplate(lab, from, to, { sport: 10_005, dport: 20_005 });
  return {
    ...contractSlices(lab),
    'vrouter-distinct-macs': bothWays('unicast, distinct MACs', udp, { ...FUNCTIONAL, count: 50 }),
  };
}

describe('l2-bridge', () => {
  readinessTest();

  contractTests(plan);

  test('the vRouter MAC case: distinct ("auto-configured") MACs on both sides, as in this profile: traffic flows', async ({
    lab,
    profile,
  }) => {
    // The other half, the vRouter's one MAC on both sides, is suites/l2-bridge-vrouter-mac (a lab of its own).
    const origin = profile.trafficHosts.left.mac ? 'distinct MACs from the profile' : 'distinct MACs generated per run (auto-configured)';
    allure.parameter("this profile's setup", origin);
    const run = await functionalSlice(lab, plan(lab, profile), 'vrouter-distinct-macs');
    const verdict = checks();
    for (const result of run.report.flows) forwardingChecks(verdict, run, result).flow(result, arriveUnchanged(result));
    await verdict.assert();
  });

  frameSpaceTest(plan);

  test('order at any spacing: back-to-back bursts arrive whole and in order', ({ lab, profile }) => checkBursts(lab, profile));

  test("the profile's load: no loss, duplicates, reflections or reordering; latency within the bounds", ({ lab, profile }) =>
    checkProfileLoad(lab, profile));

  emissionsTest();
  hygieneTests();
});
