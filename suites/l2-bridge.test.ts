// The transparent (L2, bump-in-the-wire) service contract: it forwards by MAC between its two NICs,
// both ways, every kind of frame a bridge carries — unicast, broadcast, ARP, VLAN-tagged, QinQ, IPv6,
// full-size — byte-exact (no MAC, TTL or payload change), without loss, duplicates or reordering at
// the profile's load, within the profile's latency bound, and it emits nothing of its own.
import * as allure from 'allure-js-commons';
import { arpTemplate, broadcastTemplate, ipv6Template, taggedTemplate, udpTemplate } from '../lib/traffic/templates.ts';
import { describe, expect, test } from '../fixtures/lab.ts';
import { bothWays, checkProfileLoad, FUNCTIONAL, send } from '../fixtures/traffic.ts';

describe('l2-bridge', () => {
  test('unicast both ways, byte-exact, nothing emitted by the guest', async ({ lab }) => {
    const run = await send(
      lab,
      'unicast',
      bothWays('unicast', (from, to) => udpTemplate(lab, from, to), FUNCTIONAL),
    );
    for (const result of run.report.flows) {
      expect(result).toDeliverAll(run);
      expect(result).toArriveUnchanged();
    }
    expect(run.report).toHaveNoGuestEmissions();
  });

  test('broadcast both ways', async ({ lab }) => {
    const run = await send(
      lab,
      'broadcast',
      bothWays('broadcast', (from) => broadcastTemplate(lab, from), FUNCTIONAL),
    );
    for (const result of run.report.flows) {
      expect(result).toDeliverAll(run);
      expect(result).toArriveUnchanged();
    }
  });

  test('ARP requests (broadcast) and replies (unicast) both ways', async ({ lab }) => {
    const run = await send(lab, 'arp', [
      ...bothWays('ARP request', (from, to) => arpTemplate(lab, from, to, 'request'), { ...FUNCTIONAL, size: 60 }),
      ...bothWays('ARP reply', (from, to) => arpTemplate(lab, from, to, 'reply'), { ...FUNCTIONAL, size: 60 }),
    ]);
    for (const result of run.report.flows) {
      expect(result).toDeliverAll(run);
      expect(result).toArriveUnchanged();
    }
  });

  test('802.1Q-tagged and QinQ frames pass with their tags unchanged', async ({ lab }) => {
    const run = await send(lab, 'vlan', [
      ...bothWays('802.1Q vlan 100', (from, to) => taggedTemplate(lab, from, to, 100), FUNCTIONAL),
      ...bothWays('QinQ 200/100', (from, to) => taggedTemplate(lab, from, to, 100, 200), FUNCTIONAL),
    ]);
    for (const result of run.report.flows) {
      expect(result).toDeliverAll(run);
      expect(result).toArriveUnchanged();
    }
  });

  test('IPv6 both ways', async ({ lab }) => {
    const run = await send(
      lab,
      'ipv6',
      bothWays('IPv6 UDP', (from, to) => ipv6Template(lab, from, to), FUNCTIONAL),
    );
    for (const result of run.report.flows) {
      expect(result).toDeliverAll(run);
      expect(result).toArriveUnchanged();
    }
  });

  test("full-size frames at the profile's MTU, untagged and tagged", async ({ lab, profile }) => {
    const full = profile.expect.mtu + 14;
    allure.parameter('largest frame (bytes, without FCS)', String(full + 8));
    const run = await send(lab, 'full-size', [
      ...bothWays(`${full}-byte`, (from, to) => udpTemplate(lab, from, to), { ...FUNCTIONAL, size: full }),
      ...bothWays(`${full + 4}-byte 802.1Q`, (from, to) => taggedTemplate(lab, from, to, 100), { ...FUNCTIONAL, size: full + 4 }),
      ...bothWays(`${full + 8}-byte QinQ`, (from, to) => taggedTemplate(lab, from, to, 100, 200), { ...FUNCTIONAL, size: full + 8 }),
    ]);
    for (const result of run.report.flows) {
      expect(result).toDeliverAll(run);
      expect(result).toArriveUnchanged();
    }
  });

  test("the profile's load: no loss, duplicates or reordering; latency within the bound", async ({ lab, profile }) => {
    await checkProfileLoad(lab, profile);
  });

  test('quiet: with no traffic the guest sends nothing on either NIC', async ({ lab }) => {
    const run = await send(lab, 'quiet', [], { settleMs: 3000 });
    expect(run.report).toHaveNoGuestEmissions();
  });
});

describe('l2-bridge: the vRouter MAC case', () => {
  // The other half of this case, the same vRouter MAC on both sides, is suites/l2-bridge-vrouter-mac:
  // it needs a lab of its own, so it runs beside this file rather than after it.
  test('distinct ("auto-configured") MACs on both sides, as in this profile: traffic flows', async ({ lab, profile }) => {
    // The profile's own lab: validation guarantees its MACs are distinct (or generated, hence distinct).
    allure.parameter(
      "this profile's setup",
      profile.trafficHosts.left.mac ? 'distinct MACs from the profile' : 'distinct MACs generated per run (auto-configured)',
    );
    const run = await send(
      lab,
      'vrouter-distinct-macs',
      bothWays('unicast', (from, to) => udpTemplate(lab, from, to), { ...FUNCTIONAL, count: 50 }),
    );
    for (const result of run.report.flows) expect(result).toDeliverAll(run);
  });
});
