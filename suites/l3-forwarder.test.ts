// The in-network (L3) service contract: it routes by IP between its two NICs (ip_forward=1), and
// every forwarded frame is rewritten as a router must — source MAC = its egress NIC, destination
// MAC = the next hop, TTL − 1, valid checksums, payload intact; a frame whose TTL would expire is
// not forwarded.
import { udpTemplate } from '../lib/traffic/templates.ts';
import { describe, expect, test } from '../fixtures/lab.ts';
import { bothWays, checkProfileLoad, FUNCTIONAL, send } from '../fixtures/traffic.ts';

describe('l3-forwarder', () => {
  test('routes both ways with the L3 rewrite (MACs, TTL−1, checksums, payload intact)', async ({ lab }) => {
    const run = await send(
      lab,
      'routed',
      bothWays('routed UDP', (from, to) => udpTemplate(lab, from, to), FUNCTIONAL),
    );
    for (const result of run.report.flows) {
      expect(result).toDeliverAll(run);
      expect(result).toBeL3Rewritten({
        ingressGuestMac: lab.ports[result.from].guestMac,
        egressGuestMac: lab.ports[result.to].guestMac,
        nextHopMac: lab.hosts[result.to].mac,
      });
      expect(result).toHaveNoDuplicates();
      expect(result).toArriveInOrder();
    }
  });

  test('does not forward frames with TTL 1', async ({ lab }) => {
    const run = await send(
      lab,
      'ttl1',
      bothWays('TTL 1', (from, to) => udpTemplate(lab, from, to, { ttl: 1 }), { ...FUNCTIONAL, count: 20 }),
    );
    for (const result of run.report.flows) expect(result).toDeliverNone();
  });

  test("the profile's load: no loss, duplicates or reordering; latency within the bound", async ({ lab, profile }) => {
    // A router speaks its links' control plane (ARP, ND, MLD): its role allows that.
    await checkProfileLoad(lab, profile);
  });
});
