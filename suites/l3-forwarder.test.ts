// The in-network (L3) service contract, as a table (lib/contracts/role-contracts.ts), in every IP
// version the traffic hosts are addressed in: packets to the other side are routed — source MAC its
// egress NIC, destination MAC the next hop, TTL / hop limit − 1, addresses, ports, DSCP, options,
// extension headers and payload unchanged; packets larger than the egress MTU are fragmented (IPv4
// without DF) or answered with Fragmentation Needed / Packet Too Big carrying the MTU; expiring packets
// are answered with Time Exceeded; bad checksums, link-layer broadcasts, broadcasts and multicast are
// never forwarded. Then: bursts, the profile's load and latency, of its own only its links' control
// plane (ARP, ND, MLD, IGMP, ICMP errors, routing protocols), image hygiene. One boot.
import type { Lab } from '../lib/lab/lab.ts';
import type { LabProfile } from '../lib/profile/types.ts';
import { contractSlices, contractTests, frameSpaceTest } from '../fixtures/contract.ts';
import { describe, test } from '../fixtures/lab.ts';
import { emissionsTest, hygieneTests, readinessTest } from '../fixtures/qualification.ts';
import { checkBursts, checkProfileLoad, type FunctionalPlan } from '../fixtures/traffic.ts';

function plan(lab: Lab, _profile: LabProfile): FunctionalPlan {
  return contractSlices(lab);
}

describe('l3-forwarder', () => {
  readinessTest();

  contractTests(plan);
  frameSpaceTest(plan);

  test('order at any spacing: back-to-back bursts arrive whole and in order', ({ lab, profile }) => checkBursts(lab, profile));

  test("the profile's load: no loss, duplicates, reflections or reordering; latency within the bounds", ({ lab, profile }) =>
    checkProfileLoad(lab, profile));

  emissionsTest();
  hygieneTests();
});
