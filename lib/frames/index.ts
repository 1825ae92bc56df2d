// The frames DSL: layer constructors in scapy's spirit, stacked outermost first.
//
//   const frame = stack(
//     Ether({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }),
//     Dot1Q({ vlan: 10 }),
//     IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }),
//     UDP({ sport: 1000, dport: 2000 }),
//     Raw('hello'),
//   ).build();
//   parse(frame).summary();  // 'Ether 02:.. > 02:.. / 802.1Q vlan=10 / IPv4 198.18.0.1 > 198.18.0.2 ttl=64 / UDP 1000 > 2000 / Raw 5B'
//
// Lengths, ethertypes, IP protocols and checksums are computed unless given.
import { type ArpOptions, ArpLayer } from './arp.ts';
import { type EtherOptions, type VlanOptions, Dot1ADLayer, Dot1QLayer, EtherLayer } from './ethernet.ts';
import {
  type IcmpOptions,
  type Icmpv6EchoOptions,
  type NeighborAdvertisementOptions,
  type NeighborSolicitationOptions,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  IcmpLayer,
  Icmpv6EchoLayer,
  NeighborAdvertisementLayer,
  NeighborSolicitationLayer,
} from './icmp.ts';
import { type IPv4Options, type IPv6Options, IPv4Layer, IPv6Layer } from './ip.ts';
import { RawLayer } from './layer.ts';
import {
  type Ipv6FragmentOptions,
  type Ipv6OptionsHeaderOptions,
  type Ipv6RoutingOptions,
  Ipv6FragmentLayer,
  Ipv6OptionsHeaderLayer,
  Ipv6RoutingLayer,
} from './ipv6-extensions.ts';
import { type LlcOptions, LlcLayer } from './llc.ts';
import { ShimLayer } from './shim.ts';
import { type TcpOptions, type UdpOptions, TcpLayer, UdpLayer } from './transport.ts';

export const Ether = (o: EtherOptions) => new EtherLayer(o);
export const Dot1Q = (o: VlanOptions = {}) => new Dot1QLayer(o);
/** The outer tag of QinQ: `stack(Ether(..), Dot1AD({vlan: 100}), Dot1Q({vlan: 10}), ...)`. */
export const Dot1AD = (o: VlanOptions = {}) => new Dot1ADLayer(o);
export const ARP = (o: ArpOptions) => new ArpLayer(o);
/** 802.2 LLC (with `snap` for SNAP) after an 802.3 length field: `stack(Ether({src, dst}), LLC(), ...)`. */
export const LLC = (o: LlcOptions = {}) => new LlcLayer(o);
export const IPv4 = (o: IPv4Options) => new IPv4Layer(o);
export const IPv6 = (o: IPv6Options) => new IPv6Layer(o);
export const IPv6HopByHop = (o: Ipv6OptionsHeaderOptions = {}) => new Ipv6OptionsHeaderLayer('IPv6HopByHop', o);
export const IPv6DestOpts = (o: Ipv6OptionsHeaderOptions = {}) => new Ipv6OptionsHeaderLayer('IPv6DestOpts', o);
export const IPv6Routing = (o: Ipv6RoutingOptions = {}) => new Ipv6RoutingLayer(o);
export const IPv6Fragment = (o: Ipv6FragmentOptions = {}) => new Ipv6FragmentLayer(o);
export const ICMP = (o: IcmpOptions = {}) => new IcmpLayer(o);
export const ICMPv6EchoRequest = (o: Icmpv6EchoOptions = {}) => new Icmpv6EchoLayer(ICMPV6_ECHO_REQUEST, o);
export const ICMPv6EchoReply = (o: Icmpv6EchoOptions = {}) => new Icmpv6EchoLayer(ICMPV6_ECHO_REPLY, o);
export const ICMPv6NS = (o: NeighborSolicitationOptions) => new NeighborSolicitationLayer(o);
export const ICMPv6NA = (o: NeighborAdvertisementOptions) => new NeighborAdvertisementLayer(o);
export const UDP = (o: UdpOptions = {}) => new UdpLayer(o);
export const TCP = (o: TcpOptions = {}) => new TcpLayer(o);
/** Header bytes the DSL has no layer for (an MPLS label stack, …), named for summaries. */
export const Shim = (bytes: Uint8Array, label: string) => new ShimLayer(bytes, label);
/** Payload bytes; a string is taken byte for byte (latin1). */
export const Raw = (load: Uint8Array | string) => new RawLayer(load);

export { Packet, parse, stack, type BuildOptions, type LayerByKind, type LayerKind } from './packet.ts';
export { BINDINGS } from './bindings.ts';
export { Layer, RawLayer } from './layer.ts';
export { EtherLayer, Dot1QLayer, Dot1ADLayer, BROADCAST_MAC } from './ethernet.ts';
export { ArpLayer, ARP_REPLY, ARP_REQUEST } from './arp.ts';
export { IPv4Layer, IPv6Layer } from './ip.ts';
export { Ipv6FragmentLayer, Ipv6OptionsHeaderLayer, Ipv6RoutingLayer, IPV6_EXTENSION_NUMBERS } from './ipv6-extensions.ts';
export { LlcLayer } from './llc.ts';
export { ShimLayer } from './shim.ts';
export { IcmpLayer, Icmpv6EchoLayer, NeighborSolicitationLayer, NeighborAdvertisementLayer, Icmpv6OtherLayer } from './icmp.ts';
export { UdpLayer, TcpLayer, tcpFlags, tcpFlagLetters, type TcpOption } from './transport.ts';
export type { ArpOptions, EtherOptions, VlanOptions, IcmpOptions, Icmpv6EchoOptions, IPv4Options, IPv6Options, TcpOptions, UdpOptions };
export type { NeighborAdvertisementOptions, NeighborSolicitationOptions };
export type { Ipv6FragmentOptions, Ipv6OptionsHeaderOptions, Ipv6RoutingOptions, LlcOptions };
export { flow, Flow, IMIX_SIZES, MIN_FRAME, MAX_FRAME, type FlowFrame, type FlowOptions, type FlowVary } from './flow.ts';
export {
  findSignature,
  readSignature,
  signatureBytes,
  unwrapSendTime,
  writeSignature,
  SIGNATURE_LENGTH,
  SIGNATURE_MAGIC,
  SIG_FLOW_ID,
  SIG_RUN_TAG,
  SIG_SEQ,
  SIG_SEND_TIME,
  type Signature,
} from './signature.ts';
