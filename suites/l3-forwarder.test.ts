// The in-network (L3) service contract: it routes by IP between its two NICs (ip_forward=1), and
// every forwarded frame is rewritten as a router must — source MAC = its egress NIC, destination
// MAC = the next hop, TTL − 1, valid checksums, payload intact; a frame whose TTL would expire is
// not forwarded; never a frame back towards its sender; order kept in bursts; the profile's load
// and latency bounds; and of its own only its links' control plane (ARP, ND, MLD, IGMP, ICMP errors).
import { beL3Rewritten, deliverNone } from '../lib/analysis/matchers.ts';
import type { Lab } from '../lib/lab/lab.ts';
import { udpTemplate } from '../lib/traffic/templates.ts';
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

function plan(lab: Lab): FunctionalPlan {
  return {
    routed: bothWays('routed UDP', (from, to) => udpTemplate(lab, from, to), FUNCTIONAL),
    ttl1: bothWays('TTL 1', (from, to) => udpTemplate(lab, from, to, { sport: 10_006, dport: 20_006, ttl: 1 }), {
      ...FUNCTIONAL,
      count: 20,
    }),
  };
}

describe('l3-forwarder', () => {
  readinessTest();

  test('routes both ways with the L3 rewrite (MACs, TTL−1, checksums, payload intact)', async ({ lab }) => {
    const run = await functionalSlice(lab, plan(lab), 'routed');
    const verdict = checks();
    for (const result of run.report.flows) {
      const expected = {
        ingressGuestMac: lab.ports[result.from].guestMac,
        egressGuestMac: lab.ports[result.to].guestMac,
        nextHopMac: lab.hosts[result.to].mac,
      };
      forwardingChecks(verdict, run, result).flow(result, beL3Rewritten(result, expected));
    }
    await verdict.assert();
  });

  test('does not forward frames with TTL 1', async ({ lab }) => {
    const run = await functionalSlice(lab, plan(lab), 'ttl1');
    const verdict = checks();
    for (const result of run.report.flows) verdict.flow(result, deliverNone(result, run));
    await verdict.assert();
  });

  test('order at any spacing: back-to-back bursts arrive whole and in order', ({ lab, profile }) => checkBursts(lab, profile));

  test("the profile's load: no loss, duplicates, reflections or reordering; latency within the bounds", ({ lab, profile }) =>
    checkProfileLoad(lab, profile));

  emissionsTest();
  hygieneTests();
});
