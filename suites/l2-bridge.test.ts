// The transparent (L2, bump-in-the-wire) service contract: it forwards by MAC between its two NICs,
// both ways, every kind of frame a bridge carries — unicast, broadcast, ARP, VLAN-tagged, QinQ, IPv6,
// full-size — byte-exact (no MAC, TTL or payload change), never back towards the sender, without
// loss, duplicates or reordering (also in back-to-back bursts) at the profile's load, within the
// profile's latency bounds, and it sends nothing of its own. One boot: readiness, emissions and
// image hygiene are checked on the same lab, and the halt ends the file.
import * as allure from 'allure-js-commons';
import { arriveUnchanged } from '../lib/analysis/matchers.ts';
import type { Lab } from '../lib/lab/lab.ts';
import type { LabProfile } from '../lib/profile/types.ts';
import { arpTemplate, broadcastTemplate, ipv6Template, taggedTemplate, udpTemplate } from '../lib/traffic/templates.ts';
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

/** Every functional flow of the role, by the test that asserts on it; all are sent in one window. */
function plan(lab: Lab, profile: LabProfile): FunctionalPlan {
  const full = profile.expect.mtu + 14;
  const udp = (sport: number) => (from: 'left' | 'right', to: 'left' | 'right') =>
    udpTemplate(lab, from, to, { sport, dport: sport + 10_000 });
  return {
    unicast: bothWays('unicast', udp(10_000), FUNCTIONAL),
    broadcast: bothWays('broadcast', (from) => broadcastTemplate(lab, from), FUNCTIONAL),
    arp: [
      ...bothWays('ARP request', (from, to) => arpTemplate(lab, from, to, 'request'), { ...FUNCTIONAL, size: 60 }),
      ...bothWays('ARP reply', (from, to) => arpTemplate(lab, from, to, 'reply'), { ...FUNCTIONAL, size: 60 }),
    ],
    vlan: [
      ...bothWays('802.1Q vlan 100', (from, to) => taggedTemplate(lab, from, to, 100), FUNCTIONAL),
      ...bothWays('QinQ 200/100', (from, to) => taggedTemplate(lab, from, to, 100, 200), FUNCTIONAL),
    ],
    ipv6: bothWays('IPv6 UDP', (from, to) => ipv6Template(lab, from, to), FUNCTIONAL),
    'full-size': [
      ...bothWays(`${full}-byte`, udp(10_004), { ...FUNCTIONAL, size: full }),
      ...bothWays(`${full + 4}-byte 802.1Q`, (from, to) => taggedTemplate(lab, from, to, 100), { ...FUNCTIONAL, size: full + 4 }),
      ...bothWays(`${full + 8}-byte QinQ`, (from, to) => taggedTemplate(lab, from, to, 100, 200), { ...FUNCTIONAL, size: full + 8 }),
    ],
    'vrouter-distinct-macs': bothWays('unicast, distinct MACs', udp(10_005), { ...FUNCTIONAL, count: 50 }),
  };
}

/** Delivered once each, in order, none reflected, and byte-exact: what a transparent service does to a flow. */
async function checkTransparent(lab: Lab, profile: LabProfile, slice: string): Promise<void> {
  const run = await functionalSlice(lab, plan(lab, profile), slice);
  const verdict = checks();
  for (const result of run.report.flows) forwardingChecks(verdict, run, result).flow(result, arriveUnchanged(result));
  await verdict.assert();
}

describe('l2-bridge', () => {
  readinessTest();

  test('unicast both ways, byte-exact', ({ lab, profile }) => checkTransparent(lab, profile, 'unicast'));

  test('broadcast both ways, byte-exact, never back to the sender', ({ lab, profile }) => checkTransparent(lab, profile, 'broadcast'));

  test('ARP requests (broadcast) and replies (unicast) both ways', ({ lab, profile }) => checkTransparent(lab, profile, 'arp'));

  test('802.1Q-tagged and QinQ frames pass with their tags unchanged', ({ lab, profile }) => checkTransparent(lab, profile, 'vlan'));

  test('IPv6 both ways', ({ lab, profile }) => checkTransparent(lab, profile, 'ipv6'));

  test("full-size frames at the profile's MTU, untagged and tagged", async ({ lab, profile }) => {
    allure.parameter('largest frame (bytes, without FCS)', String(profile.expect.mtu + 14 + 8));
    await checkTransparent(lab, profile, 'full-size');
  });

  test('the vRouter MAC case: distinct ("auto-configured") MACs on both sides, as in this profile: traffic flows', async ({
    lab,
    profile,
  }) => {
    // The other half, the vRouter's one MAC on both sides, is suites/l2-bridge-vrouter-mac (a lab of its own).
    const origin = profile.trafficHosts.left.mac ? 'distinct MACs from the profile' : 'distinct MACs generated per run (auto-configured)';
    allure.parameter("this profile's setup", origin);
    await checkTransparent(lab, profile, 'vrouter-distinct-macs');
  });

  test('order at any spacing: back-to-back bursts arrive whole and in order', ({ lab, profile }) => checkBursts(lab, profile));

  test("the profile's load: no loss, duplicates, reflections or reordering; latency within the bounds", ({ lab, profile }) =>
    checkProfileLoad(lab, profile));

  emissionsTest();
  hygieneTests();
});
