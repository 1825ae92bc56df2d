// The in-network (L3) service contract: it routes by IP between its two NICs (ip_forward=1), and
// every forwarded frame is rewritten as a router must — source MAC = its egress NIC, destination
// MAC = the next hop, TTL − 1, valid checksums, payload intact; a frame whose TTL would expire is
// not forwarded.
import { udpTemplate } from '../lib/traffic/templates.ts';
import { describe, expect, test } from '../fixtures/lab.ts';
import { bothWays, checkProfileLoad, FUNCTIONAL, send } from '../fixtures/traffic.ts';


describe('l3-forwarder', () => {
  test('routes both ways with the L3 rewrite (MACs, TTL−1, checksums, payload intact)', async ({ lab }) => {
    const run = await send(lab, 'routed', bothWays('routed UDP', (from, to) => udpTemplate(lab, from, to), FUNCTIONAL));
    for (const flow of run.report.flows) {
      expect(flow).toDeliverAll(run);
      expect(flow).toBeL3Rewritten({ ingressGuestMac: lab.ports[flow.from].guestMac, egressGuestMac: lab.ports[flow.to].guestMac, nextHopMac: lab.hosts[flow.to].mac });
      expect(flow).toHaveNoDuplicates();
      expect(flow).toArriveInOrder();
    }
  });

  test('does not forward frames with TTL 1', async ({ lab }) => {
    const run = await send(lab, 'ttl1', bothWays('TTL 1', (from, to) => udpTemplate(lab, from, to, { ttl: 1 }), { ...FUNCTIONAL, count: 20 }));
    for (const flow of run.report.flows) expect(flow).toDeliverNone();
  });

  test("the profile's load: no loss, duplicates or reordering; latency within the bound", async ({ lab, profile }) => {
    // A router resolves its next hops: ARP is all it may send of its own.
    await checkProfileLoad(lab, profile, ['ARP']);
  });
});
