// Frame templates addressed from the lab itself: the traffic hosts' MACs and addresses, the guest's
// MACs. Each is the headers a flow repeats (the signature and padding are added by the flow). They
// address frames as the sending host's own stack would, so a correct guest must deliver them.
import { inBenchmarkRange, intToIpv4, ipv4ToInt, parseCidr } from '../core/addressing.ts';
import {
  ARP,
  Dot1AD,
  Dot1Q,
  Ether,
  ICMP,
  ICMPv6EchoRequest,
  IPv4,
  IPv6,
  IPv6Fragment,
  stack,
  TCP,
  UDP,
  BROADCAST_MAC,
  type Layer,
  type Packet,
} from '../frames/index.ts';
import type { Lab } from '../lab/lab.ts';
import type { Side } from '../core/sides.ts';
import type { ProbeFrame } from '../policy/probes.ts';

const address = (cidr: string) => cidr.split('/')[0]!;

/** The IPv4 subnet broadcast address of a host's data NIC (e.g. 198.18.0.255 for 198.18.0.1/24). */
export function subnetBroadcast(cidr: string): string {
  const c = parseCidr(cidr)!;
  const host = c.prefix === 32 ? 0 : (0xffffffff >>> c.prefix) >>> 0;
  const b = intToIpv4((ipv4ToInt(c.address) | host) >>> 0);
  if (!inBenchmarkRange(b)) throw new Error(`broadcast ${b} of ${cidr} is outside 198.18.0.0/15`);
  return b;
}

/** The MAC a host sends to for the other side: the peer through a bridge or monitor, the guest (next hop) through a router. */
export function nextHopMac(lab: Lab, from: Side, to: Side): string {
  return lab.profile.role === 'l3-forwarder' ? lab.ports[from].guestMac : lab.hosts[to].mac;
}

export function udpTemplate(lab: Lab, from: Side, to: Side, ports: { sport?: number; dport?: number; ttl?: number } = {}): Packet {
  return stack(
    Ether({ src: lab.hosts[from].mac, dst: nextHopMac(lab, from, to) }),
    IPv4({ src: address(lab.hosts[from].ipv4), dst: address(lab.hosts[to].ipv4), ttl: ports.ttl }),
    UDP({ sport: ports.sport ?? 10_000, dport: ports.dport ?? 20_000 }),
  );
}

/** UDP to the subnet's broadcast address, Ethernet broadcast. */
export function broadcastTemplate(lab: Lab, from: Side): Packet {
  return stack(
    Ether({ src: lab.hosts[from].mac, dst: BROADCAST_MAC }),
    IPv4({ src: address(lab.hosts[from].ipv4), dst: subnetBroadcast(lab.hosts[from].ipv4) }),
    UDP({ sport: 10_001, dport: 20_001 }),
  );
}

/** An ARP request for the other host's address (broadcast), or a reply to it (unicast). */
export function arpTemplate(lab: Lab, from: Side, to: Side, op: 'request' | 'reply'): Packet {
  const me = lab.hosts[from];
  const peer = lab.hosts[to];
  return op === 'request'
    ? stack(Ether({ src: me.mac, dst: BROADCAST_MAC }), ARP({ op: 1, hwsrc: me.mac, psrc: address(me.ipv4), pdst: address(peer.ipv4) }))
    : stack(
        Ether({ src: me.mac, dst: peer.mac }),
        ARP({ op: 2, hwsrc: me.mac, psrc: address(me.ipv4), hwdst: peer.mac, pdst: address(peer.ipv4) }),
      );
}

/** 802.1Q-tagged UDP (one tag), or QinQ (802.1ad outer + 802.1Q inner) when `outerVlan` is given. */
export function taggedTemplate(lab: Lab, from: Side, to: Side, vlan: number, outerVlan?: number): Packet {
  const tags = outerVlan === undefined ? [Dot1Q({ vlan })] : [Dot1AD({ vlan: outerVlan }), Dot1Q({ vlan })];
  return stack(
    Ether({ src: lab.hosts[from].mac, dst: nextHopMac(lab, from, to) }),
    ...tags,
    IPv4({ src: address(lab.hosts[from].ipv4), dst: address(lab.hosts[to].ipv4) }),
    UDP({ sport: 10_002, dport: 20_002 }),
  );
}

/** A side's IPv6 documentation address (2001:db8::/32): the traffic hosts have none of their own. */
const ipv6Of = (side: Side) => `2001:db8:1::${side === 'left' ? 1 : 2}`;

/** IPv6 UDP between documentation addresses (2001:db8::/32) derived from the sides. */
export function ipv6Template(lab: Lab, from: Side, to: Side): Packet {
  return stack(
    Ether({ src: lab.hosts[from].mac, dst: nextHopMac(lab, from, to) }),
    IPv6({ src: ipv6Of(from), dst: ipv6Of(to) }),
    UDP({ sport: 10_003, dport: 20_003 }),
  );
}

/**
 * A policy probe (lib/policy/probes.ts) as a frame template from the lab: the sending host's MAC and
 * address unless the probe names its own addresses, its VLAN tag, DSCP, transport and ports.
 */
export function probeTemplate(lab: Lab, from: Side, to: Side, probe: ProbeFrame): Packet {
  const tag: Layer[] = probe.vlan === undefined ? [] : [Dot1Q({ vlan: probe.vlan })];
  const ether = Ether({ src: lab.hosts[from].mac, dst: nextHopMac(lab, from, to) });
  if (probe.l3 === 'arp') {
    const arp = arpTemplate(lab, from, to, 'reply').layers;
    return stack(arp[0]!, ...tag, ...arp.slice(1));
  }
  const l4 =
    probe.l4 === 'tcp'
      ? TCP({ sport: probe.srcPort, dport: probe.dstPort, flags: 'A' })
      : probe.l4 === 'icmp'
        ? probe.l3 === 'ipv6'
          ? ICMPv6EchoRequest()
          : ICMP()
        : UDP({ sport: probe.srcPort, dport: probe.dstPort });
  const tos = (probe.dscp ?? 0) << 2;
  // A fragment probe is a first fragment: its transport header is there, more fragments are announced and never come.
  const ip: Layer[] =
    probe.l3 === 'ipv6'
      ? [
          IPv6({ src: probe.srcIp ?? ipv6Of(from), dst: probe.dstIp ?? ipv6Of(to), trafficClass: tos }),
          ...(probe.fragment ? [IPv6Fragment({ more: true, id: 0x5a17 })] : []),
        ]
      : [
          IPv4({
            src: probe.srcIp ?? address(lab.hosts[from].ipv4),
            dst: probe.dstIp ?? address(lab.hosts[to].ipv4),
            tos,
            ...(probe.fragment ? { mf: true, id: 0x5a17 } : {}),
          }),
        ];
  return stack(ether, ...tag, ...ip, l4);
}
