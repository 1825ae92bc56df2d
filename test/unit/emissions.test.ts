// What a guest sends by itself, by class: a router's routing protocols are named, allowed for an
// l3-forwarder, and a failure for a transparent service unless its profile tolerates them.
import { describe, expect, it } from 'vitest';
import { classifyEmission, routingProtocolOf } from '../../lib/analysis/emissions.ts';
import { noGuestEmissions } from '../../lib/analysis/matchers.ts';
import type { TrafficReport } from '../../lib/analysis/flow-report.ts';
import { Ether, IPv4, IPv6, LLC, stack, TCP, UDP } from '../../lib/frames/index.ts';

const E = (dst = '01:00:5e:00:00:05') => Ether({ src: '02:00:00:00:00:99', dst });
const v4 = (dst: string, proto?: number) => IPv4({ src: '198.18.1.1', dst, proto });

describe('routing protocols', () => {
  it.each([
    ['OSPF hello', stack(E(), v4('224.0.0.5', 89)), 'OSPF'],
    ['OSPFv3', stack(E('33:33:00:00:00:05'), IPv6({ src: 'fe80::1', dst: 'ff02::5', nextHeader: 89 })), 'OSPF'],
    ['RIP', stack(E('01:00:5e:00:00:09'), v4('224.0.0.9'), UDP({ sport: 520, dport: 520 })), 'RIP'],
    ['RIPng', stack(E('33:33:00:00:00:09'), IPv6({ src: 'fe80::1', dst: 'ff02::9' }), UDP({ sport: 521, dport: 521 })), 'RIPng'],
    ['VRRP', stack(E('01:00:5e:00:00:12'), v4('224.0.0.18', 112)), 'VRRP'],
    ['PIM', stack(E('01:00:5e:00:00:0d'), v4('224.0.0.13', 103)), 'PIM'],
    ['BFD', stack(E('02:00:00:00:00:01'), v4('198.18.1.2'), UDP({ sport: 49152, dport: 3784 })), 'BFD'],
    ['BGP', stack(E('02:00:00:00:00:01'), v4('198.18.1.2'), TCP({ sport: 179, dport: 40000 })), 'BGP'],
    ['IS-IS', stack(E('01:80:c2:00:00:14'), LLC({ dsap: 0xfe, ssap: 0xfe })), 'IS-IS'],
  ])('%s is a routing-protocol emission, named %s', (_name, packet, protocol) => {
    expect(routingProtocolOf(packet)).toBe(protocol);
    expect(classifyEmission(packet)).toBe('routing-protocol');
  });

  it('plain UDP, ARP-free IPv4 and DHCP are not', () => {
    expect(routingProtocolOf(stack(E('02:00:00:00:00:01'), v4('198.18.1.2'), UDP({ sport: 5000, dport: 6000 })))).toBeUndefined();
    expect(classifyEmission(stack(E('ff:ff:ff:ff:ff:ff'), v4('255.255.255.255'), UDP({ sport: 68, dport: 67 })))).toBe('dhcp');
  });

  const report = (): TrafficReport => ({
    flows: [],
    emissions: [
      { point: 'guest-left', fromGuest: 3, byClass: { 'routing-protocol': 3 }, bySourceMac: { '02:00:00:00:00:99': 3 }, fromHosts: 0 },
    ],
    emissionList: [1, 2, 3].map((i) => ({
      point: 'guest-left' as const,
      tsNs: BigInt(i),
      class: 'routing-protocol' as const,
      srcMac: '02:00:00:00:00:99',
      summary: 'Ether / IPv4 198.18.1.1 > 224.0.0.5',
      protocol: 'OSPF',
    })),
    captureDrops: {},
  });

  it('an l3-forwarder may speak them (reported, named); a bridge may not, unless its profile says so', () => {
    const router = noGuestEmissions(report(), { role: 'l3-forwarder' });
    expect(router.pass).toBe(true);
    expect(router.headline).toMatch(/Allowed and reported: 3 routing-protocol \(OSPF\)/);
    const bridge = noGuestEmissions(report(), { role: 'l2-bridge' });
    expect(bridge.pass).toBe(false);
    expect(bridge.headline).toMatch(/^The guest sent 3 frames by itself \(3 routing-protocol \(OSPF\)\): likely a routing daemon/);
    expect(noGuestEmissions(report(), { role: 'l2-bridge', tolerate: ['routing-protocol'] }).pass).toBe(true);
  });
});
