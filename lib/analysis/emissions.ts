// What a guest sends by itself, sorted into the classes a network engineer recognises: each class
// has a likely cause and a fix, so a failure can say "IPv6 is on for the guest's bridge" instead
// of listing forty frames. A role's contract decides which classes it may emit (roleMayEmit).
//
// Pure: a parsed frame in, a class out.
import type { GuestRole } from '../core/roles.ts';
import type { Packet } from '../frames/index.ts';

export const EMISSION_CLASSES = [
  'ipv6-link-local',
  'igmp',
  'link-control',
  'dhcp',
  'arp',
  'icmp-error',
  'routing-protocol',
  'spoofed',
  'other',
] as const;
export type EmissionClass = (typeof EMISSION_CLASSES)[number];

interface ClassFacts {
  /** What the frames are, for a sentence: "3 IPv6 link-local autoconfiguration frames". */
  what: string;
  /** The usual reason a service image sends them. */
  cause: string;
  /** What the image's maker changes so that it stops. */
  fix: string;
}

export const EMISSION_FACTS: Record<EmissionClass, ClassFacts> = {
  'ipv6-link-local': {
    what: 'IPv6 link-local autoconfiguration (router solicitations, DAD neighbour solicitations, MLD reports)',
    cause: "IPv6 is on (Debian's default) for an interface of the guest, which then autoconfigures a link-local address",
    fix:
      "set net.ipv6.conf.<if>.disable_ipv6=1 for the guest's bridge and its ports (or net.ipv6.conf.default/all before the NICs " +
      'come up)',
  },
  igmp: {
    what: 'IGMP membership reports',
    cause: 'an interface of the guest has an IPv4 address or joined a multicast group',
    fix: 'remove the IPv4 address from the data interfaces, or set net.ipv4.conf.<if>.force_igmp_version and leave no group joined',
  },
  'link-control': {
    what: 'link-layer control frames to 01:80:c2:00:00:0x (STP BPDUs, LLDP, LACP, 802.1X)',
    cause: "STP is on for the guest's bridge, or an LLDP/LACP agent runs on its data NICs",
    fix: 'switch STP off on the bridge (brctl stp br0 off / ovs stp_enable=false) and stop LLDP/LACP agents on the data NICs',
  },
  dhcp: {
    what: 'DHCP or DHCPv6 client messages',
    cause: 'a DHCP client runs on a data interface (ifupdown, systemd-networkd or NetworkManager configured it)',
    fix: "configure the data interfaces as manual (no DHCP) in the image's network configuration",
  },
  arp: {
    what: 'ARP',
    cause: 'an interface of the guest has an IPv4 address and resolves or announces it',
    fix: 'remove IPv4 addresses from the data interfaces (or set arp off on them)',
  },
  'icmp-error': {
    what: 'ICMP errors (unreachable, time exceeded, redirect)',
    cause: 'the guest answers traffic at IP level: it routes, or has addresses on the data interfaces',
    fix: 'a transparent service must not terminate IP: remove addresses and IP forwarding from its data path',
  },
  'routing-protocol': {
    what: 'routing and redundancy protocol messages (OSPF, RIP, BGP, BFD, VRRP, PIM, IS-IS, LDP, HSRP, EIGRP)',
    cause: 'a routing daemon (FRR, BIRD, keepalived…) speaks on the data NICs',
    fix:
      'an l3-forwarder may speak them (allowed by default); for a transparent service or a monitor, keep the daemon off the data ' +
      'NICs (FRR: passive-interface or no network statement for them), or accept them with expect.guestMayEmit: [routing-protocol]',
  },
  spoofed: {
    what: "frames carrying a traffic host's MAC or IP address that the host never sent",
    cause: "the guest forges or replays frames under another station's address",
    fix: 'find what in the image generates them (a test tool, a proxy answering for others, a replay)',
  },
  other: {
    what: 'frames of other kinds',
    cause: 'a service in the image talks on the data NICs',
    fix: 'find the service in the frame list (attached) and keep it off the data NICs',
  },
};

/** Frames the role may emit by its contract: reported, never failed. */
export function roleMayEmit(role: GuestRole): readonly EmissionClass[] {
  // A router speaks its own links' control plane: it resolves next hops, autoconfigures its
  // IPv6 link-local addresses, joins multicast groups, and answers expired TTLs (RFC 1812).
  if (role === 'l3-forwarder') return ['arp', 'ipv6-link-local', 'igmp', 'icmp-error', 'routing-protocol'];
  // A transparent service is invisible; a monitor injects nothing, ever.
  return [];
}

const ICMPV6_LINK_LOCAL_TYPES = new Set([130, 131, 132, 133, 134, 135, 136, 143]);
const ICMPV4_ERROR_TYPES = new Set([3, 4, 5, 11, 12]);
const ICMPV6_ERROR_TYPES = new Set([1, 2, 3, 4, 137]);

/** IP protocol numbers of routing and redundancy protocols (IANA). */
const ROUTING_IP_PROTOCOLS: Record<number, string> = { 89: 'OSPF', 103: 'PIM', 112: 'VRRP', 88: 'EIGRP' };
/** Their UDP / TCP ports (IANA): RIP, RIPng, BFD (single- and multi-hop), LDP, HSRP, BGP. */
const ROUTING_PORTS: Record<number, string> = { 520: 'RIP', 521: 'RIPng', 3784: 'BFD', 4784: 'BFD', 646: 'LDP', 1985: 'HSRP', 179: 'BGP' };
/** IS-IS runs over LLC to these group addresses (all L1 / all L2 intermediate systems). */
const ISIS_MACS = new Set(['01:80:c2:00:00:14', '01:80:c2:00:00:15', '09:00:2b:00:00:05']);

/** The routing or redundancy protocol a frame carries (its name, for messages), or undefined. */
export function routingProtocolOf(packet: Packet): string | undefined {
  const eth = packet.get('Ether');
  if (eth && ISIS_MACS.has(eth.dst)) return 'IS-IS';
  const v4 = packet.get('IPv4');
  const v6 = packet.get('IPv6');
  const proto = v4 ? v4.proto : v6?.nextHeader;
  if (proto !== undefined && ROUTING_IP_PROTOCOLS[proto]) return ROUTING_IP_PROTOCOLS[proto];
  const l4 = packet.get('UDP') ?? packet.get('TCP');
  if (l4) return ROUTING_PORTS[l4.dport] ?? ROUTING_PORTS[l4.sport];
  return undefined;
}

/** The class of a frame the guest sent by itself; `spoofed` is decided by the caller (it knows the hosts). */
export function classifyEmission(packet: Packet): Exclude<EmissionClass, 'spoofed'> {
  if (routingProtocolOf(packet)) return 'routing-protocol';
  const eth = packet.get('Ether');
  if (eth && /^01:80:c2:00:00:[0-2][0-9a-f]$/.test(eth.dst)) return 'link-control';
  if (packet.get('ARP')) return 'arp';
  const icmp6 = packet.layers.find((l) => l.protocol === 'ICMPv6');
  if (icmp6) {
    const type = (icmp6 as unknown as { type: number }).type;
    if (ICMPV6_LINK_LOCAL_TYPES.has(type)) return 'ipv6-link-local';
    if (ICMPV6_ERROR_TYPES.has(type)) return 'icmp-error';
  }
  const ip6 = packet.get('IPv6');
  // MLD rides behind a hop-by-hop header the parser leaves as payload: next header 0, to ff02::.
  if (ip6 && ip6.nextHeader === 0 && ip6.dst.startsWith('ff02:')) return 'ipv6-link-local';
  const ip4 = packet.get('IPv4');
  if (ip4?.proto === 2) return 'igmp';
  const icmp = packet.get('ICMP');
  if (icmp && ICMPV4_ERROR_TYPES.has(icmp.type)) return 'icmp-error';
  const udp = packet.get('UDP');
  if (udp && ([67, 68, 546, 547].includes(udp.sport) || [67, 68, 546, 547].includes(udp.dport))) return 'dhcp';
  return 'other';
}
