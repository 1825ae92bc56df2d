// The frame a case stands for, addressed from the lab: the sending host's own MAC and addresses (a
// borrowed source would poison the bridges' tables), the destination its class names, and every
// other dimension's value in the headers. Each case becomes one flow; its ports (or ICMP id) are the
// case's own, so an answer that quotes only headers still names the case.
//
// Pure: a case and the lab's addresses in, a frame template and its size out.
import { addressOf, intToIpv4, ipv4ToInt, parseCidr } from '../core/addressing.ts';
import { otherSide, type Side } from '../core/sides.ts';
import {
  ARP,
  BROADCAST_MAC,
  Dot1AD,
  Dot1Q,
  Ether,
  ICMP,
  ICMPv6EchoRequest,
  IPv4,
  IPv6,
  IPv6DestOpts,
  IPv6Fragment,
  IPv6HopByHop,
  IPv6Routing,
  LLC,
  Raw,
  Shim,
  stack,
  TCP,
  UDP,
  type Layer,
  type Packet,
} from '../frames/index.ts';
import { Icmpv6OtherLayer } from '../frames/icmp.ts';
import { SIGNATURE_LENGTH } from '../frames/signature.ts';
import { MIN_FRAME } from '../frames/flow.ts';
import { NOT_APPLICABLE, type FrameCase } from './frame-space.ts';
import type { ContractSettings } from './settings.ts';

/** The lab's addresses, as a contract needs them. */
export interface ContractAddressing {
  /** The traffic hosts' data NICs: MAC, IPv4 with prefix, IPv6 with prefix (when addressed in IPv6). */
  hosts: Record<Side, { mac: string; ipv4: string; ipv6?: string }>;
  /** The guest's NIC MACs (a router's next hop for each side's host). */
  guestMacs: Record<Side, string>;
  /** A unicast MAC that no station of the lab has (locally administered). */
  unknownMac: string;
}

export interface CaseFrame {
  from: Side;
  to: Side;
  template: Packet;
  /** Frame size without FCS. */
  size: number;
  /** The IPv4 identification cycles per frame (datagrams a router may fragment need one each). */
  varyIpId: boolean;
}

/** IPv6 addresses of a bridge lab whose hosts have none in the profile (documentation prefix, per side). */
const DEFAULT_IPV6: Record<Side, string> = { left: '2001:db8:1::1/64', right: '2001:db8:1::2/64' };
const IPV4_GROUP = '239.1.2.3';
const IPV6_GROUP = 'ff05::1:3';
const IPV4_GROUP_MAC = '01:00:5e:01:02:03';
const IPV6_GROUP_MAC = '33:33:00:01:00:03';
const DESTINATION_MACS: Record<string, string> = {
  broadcast: BROADCAST_MAC,
  'ipv4-multicast': IPV4_GROUP_MAC,
  'ipv6-multicast': IPV6_GROUP_MAC,
  'other-group': '01:1b:19:00:00:00',
  'after-reserved': '01:80:c2:00:00:10',
  'reserved-00': '01:80:c2:00:00:00',
  'reserved-03': '01:80:c2:00:00:03',
  'reserved-0e': '01:80:c2:00:00:0e',
};
const ROUTER_ALERT = Uint8Array.of(0x94, 0x04, 0x00, 0x00);
/** One MPLS label stack entry: label 16 (the first unreserved), bottom of stack, TTL 64. */
const MPLS_LABEL = Uint8Array.of(0x00, 0x01, 0x01, 0x40);
const EXPERIMENTAL_PROTOCOL = 253;

/** The frame of a case. `index` makes its ports (and ICMP id) its own. */
export function caseFrame(c: FrameCase, index: number, settings: ContractSettings, lab: ContractAddressing): CaseFrame {
  return settings.role === 'l3-forwarder' ? routedCaseFrame(c, index, settings, lab) : bridgedCaseFrame(c, index, settings, lab);
}

function sidesOf(c: FrameCase): { from: Side; to: Side } {
  const from: Side = c.direction === 'right-to-left' ? 'right' : 'left';
  return { from, to: otherSide(from) };
}

function ipv6Of(lab: ContractAddressing, side: Side): string {
  return addressOf(lab.hosts[side].ipv6 ?? DEFAULT_IPV6[side]);
}

function subnetBroadcastOf(cidr: string): string {
  const c = parseCidr(cidr)!;
  const host = c.prefix === 32 ? 0 : (0xffffffff >>> c.prefix) >>> 0;
  return intToIpv4((ipv4ToInt(c.address) | host) >>> 0);
}

/** The VLAN tags a case asks for, priority on each; the innermost announces `innerType` if given. */
function tagsOf(c: FrameCase): Array<{ outer: boolean; vlan: number }> {
  switch (c.vlan) {
    case 'vid-0':
      return [{ outer: false, vlan: 0 }];
    case 'vid-1':
      return [{ outer: false, vlan: 1 }];
    case 'vid-100':
      return [{ outer: false, vlan: 100 }];
    case 'vid-4094':
      return [{ outer: false, vlan: 4094 }];
    case 'qinq':
      return [
        { outer: true, vlan: 200 },
        { outer: false, vlan: 100 },
      ];
    case 'double-q':
      return [
        { outer: false, vlan: 300 },
        { outer: false, vlan: 100 },
      ];
    default:
      return [];
  }
}

function tagLayers(c: FrameCase, innerType?: number): Layer[] {
  const prio = c.priority === 'pcp-5' ? 5 : c.priority === 'pcp-7-dei' ? 7 : 0;
  const dei = c.priority === 'pcp-7-dei';
  const tags = tagsOf(c);
  return tags.map((t, i) => {
    const type = i === tags.length - 1 ? innerType : undefined;
    return t.outer ? Dot1AD({ vlan: t.vlan, prio, dei, type }) : Dot1Q({ vlan: t.vlan, prio, dei, type });
  });
}

function tosOf(c: FrameCase): number {
  switch (c.tos) {
    case 'ef':
      return 46 << 2;
    case 'af11-ect1':
      return (10 << 2) | 1;
    case 'max-ce':
      return (63 << 2) | 3;
    default:
      return 0;
  }
}

/** The transport header of a case (none for a later fragment or an experimental protocol). */
function transportOf(c: FrameCase, version: 4 | 6, index: number): Layer[] {
  const sport = 30_000 + (index % 10_000);
  const dport = 40_000 + (index % 10_000);
  switch (c.l4) {
    case 'udp':
      return [UDP({ sport, dport })];
    case 'udp-no-checksum':
      return [UDP({ sport, dport, checksum: 0 })];
    case 'tcp-syn':
      return [TCP({ sport, dport, flags: 'S' })];
    case 'tcp-rst-ack':
      return [TCP({ sport, dport, flags: 'RA' })];
    case 'tcp-fin-psh-urg':
      return [TCP({ sport, dport, flags: 'FPU', urgptr: 1 })];
    case 'icmp-echo':
      return [version === 4 ? ICMP({ type: 8, id: index & 0xffff, seq: 1 }) : ICMPv6EchoRequest({ id: index & 0xffff, seq: 1 })];
    case 'icmp-error':
      return [version === 4 ? ICMP({ type: 3, code: 3, id: 0, seq: 0 }) : new Icmpv6OtherLayer({ type: 1, code: 4 })];
    default:
      return [];
  }
}

interface IpHeaderSpec {
  version: 4 | 6;
  src: string;
  dst: string;
  ttl: number;
  tos: number;
  index: number;
}

/** The IP header (and IPv6 extension headers) of a case, then its transport. */
function ipLayers(c: FrameCase, h: IpHeaderSpec): Layer[] {
  const l4 = transportOf(c, h.version, h.index);
  const protocol = l4.length === 0 ? EXPERIMENTAL_PROTOCOL : undefined;
  if (h.version === 4) {
    const laterFragment = c.ipExtras === 'later-fragment';
    return [
      IPv4({
        src: h.src,
        dst: h.dst,
        ttl: h.ttl,
        tos: h.tos,
        id: (h.index * 16 + 1) & 0xffff,
        df: c.ipExtras === 'df',
        mf: c.ipExtras === 'first-fragment',
        fragOffset: laterFragment ? 185 : 0,
        options: c.ipExtras === 'router-alert' ? ROUTER_ALERT : undefined,
        proto: laterFragment ? 17 : protocol,
      }),
      ...(laterFragment ? [] : l4),
    ];
  }
  const ext: Layer[] =
    c.ipExtras === 'hop-by-hop'
      ? [IPv6HopByHop()]
      : c.ipExtras === 'dest-opts-routing'
        ? [IPv6DestOpts(), IPv6Routing({ routingType: 253, segmentsLeft: 0 })]
        : c.ipExtras === 'fragment-header'
          ? [IPv6Fragment({ more: true, id: h.index + 1 })]
          : [];
  // The last header announces the experimental protocol when nothing follows.
  if (protocol !== undefined && ext.length > 0) (ext[ext.length - 1] as unknown as { nextHeader: number }).nextHeader = protocol;
  const ip = IPv6({ src: h.src, dst: h.dst, hopLimit: h.ttl, trafficClass: h.tos, nextHeader: ext.length === 0 ? protocol : undefined });
  return [ip, ...ext, ...l4];
}

/** Headers + signature: the smallest frame the template allows. */
function minimumSize(template: Packet): number {
  const headers = template.layers.reduce((n, l) => n + l.headerLength(), 0);
  return Math.max(MIN_FRAME, headers + SIGNATURE_LENGTH);
}

/** A bad IPv4 header checksum that stays bad for every frame of the flow: the right one, inverted in a byte. */
function withBadIpChecksum(template: Packet, size: number): Packet {
  const ip = template.get('IPv4');
  if (!ip) return template;
  const headers = template.layers.reduce((n, l) => n + l.headerLength(), 0);
  const built = stack(...template.layers, Raw(Buffer.alloc(Math.max(0, size - headers)))).build();
  const at = template.layers.slice(0, template.layers.indexOf(ip)).reduce((n, l) => n + l.headerLength(), 0) + 10;
  ip.checksum = built.readUInt16BE(at) ^ 0x00ff;
  return template;
}

function bridgedCaseFrame(c: FrameCase, index: number, settings: ContractSettings, lab: ContractAddressing): CaseFrame {
  const { from, to } = sidesOf(c);
  const me = lab.hosts[from];
  const peer = lab.hosts[to];
  const dst =
    c.destination === 'known-unicast' ? peer.mac : c.destination === 'unknown-unicast' ? lab.unknownMac : DESTINATION_MACS[c.destination!]!;
  const group = c.destination !== 'known-unicast' && c.destination !== 'unknown-unicast';
  const ether = (type?: number) => Ether({ src: me.mac, dst, type: tagsOf(c).length === 0 ? type : undefined });
  const tagged = (type?: number) => [ether(type), ...tagLayers(c, type)];
  let layers: Layer[];
  switch (c.ethertype) {
    case 'ipv4':
    case 'ipv6': {
      const version = c.ethertype === 'ipv4' ? 4 : 6;
      const ttl = Number(c.ttl === NOT_APPLICABLE ? 64 : c.ttl);
      const src = version === 4 ? addressOf(me.ipv4) : ipv6Of(lab, from);
      const dstIp =
        version === 4
          ? c.destination === 'broadcast'
            ? subnetBroadcastOf(me.ipv4)
            : group
              ? IPV4_GROUP
              : addressOf(peer.ipv4)
          : c.destination === 'broadcast'
            ? 'ff02::1'
            : group
              ? IPV6_GROUP
              : ipv6Of(lab, to);
      layers = [...tagged(), ...ipLayers(c, { version, src, dst: dstIp, ttl, tos: tosOf(c), index })];
      break;
    }
    case 'arp': {
      const op = group ? 1 : 2;
      layers = [
        ...tagged(),
        ARP({ op, hwsrc: me.mac, psrc: addressOf(me.ipv4), pdst: addressOf(peer.ipv4), hwdst: group ? undefined : dst }),
      ];
      break;
    }
    case 'mpls':
      layers = [...tagged(0x8847), Shim(MPLS_LABEL, 'MPLS label 16')];
      break;
    case 'experimental':
      layers = tagged(0x88b5);
      break;
    case 'lowest-type':
      layers = tagged(0x0600);
      break;
    case 'llc':
      layers = [...tagged(), LLC({ dsap: 0xf0, ssap: 0xf0 })];
      break;
    default:
      layers = [...tagged(), LLC({ snap: { oui: 0, pid: 0x88b6 } })];
  }
  let template = stack(...layers);
  const tagBytes = 4 * tagsOf(c).length;
  // An 802.3 length field counts at most 1500 bytes: LLC frames stay within a standard frame even on a jumbo path.
  const largestPayload = c.ethertype === 'llc' || c.ethertype === 'snap' ? Math.min(settings.mtu, 1500) : settings.mtu;
  const min = minimumSize(template);
  const size = c.size === 'minimum' ? min : c.size === 'medium' ? Math.max(590, min) : Math.max(largestPayload + 14 + tagBytes, min);
  if (c.ipExtras === 'bad-checksum') template = withBadIpChecksum(template, size);
  return { from, to, template, size, varyIpId: false };
}

function routedCaseFrame(c: FrameCase, index: number, settings: ContractSettings, lab: ContractAddressing): CaseFrame {
  const { from, to } = sidesOf(c);
  const version = c.version === '6' ? 6 : 4;
  const me = lab.hosts[from];
  const peer = lab.hosts[to];
  const src = version === 4 ? addressOf(me.ipv4) : ipv6Of(lab, from);
  let dstIp: string;
  let dstMac: string;
  switch (c.ipDestination) {
    case 'limited-broadcast':
      [dstIp, dstMac] = ['255.255.255.255', BROADCAST_MAC];
      break;
    case 'directed-broadcast':
      // Sent to the router: it is the last hop before the other subnet.
      [dstIp, dstMac] = [subnetBroadcastOf(peer.ipv4), lab.guestMacs[from]];
      break;
    case 'multicast':
      [dstIp, dstMac] = version === 4 ? [IPV4_GROUP, IPV4_GROUP_MAC] : [IPV6_GROUP, IPV6_GROUP_MAC];
      break;
    default:
      dstIp = version === 4 ? addressOf(peer.ipv4) : ipv6Of(lab, to);
      dstMac =
        c.linkDestination === 'broadcast' ? BROADCAST_MAC : c.linkDestination === 'other-station' ? lab.unknownMac : lab.guestMacs[from];
  }
  let template = stack(
    Ether({ src: me.mac, dst: dstMac }),
    ...ipLayers(c, { version, src, dst: dstIp, ttl: Number(c.hopLimit), tos: tosOf(c), index }),
  );
  const min = minimumSize(template);
  const egressMtu = settings.sideMtu[to];
  const size =
    c.size === 'minimum'
      ? min
      : c.size === 'medium'
        ? Math.max(590, min)
        : c.size === 'egress-mtu'
          ? Math.max(egressMtu + 14, min)
          : Math.max(settings.sideMtu[from] + 14, min);
  if (c.ipExtras === 'bad-checksum') template = withBadIpChecksum(template, size);
  return { from, to, template, size, varyIpId: version === 4 && c.ipExtras !== 'bad-checksum' };
}
