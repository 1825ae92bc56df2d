// A packet is a stack of layers plus trailing padding. `stack()` describes one to build; `parse()`
// reads one from bytes and never throws: what it cannot read becomes Raw and `malformed` says why.
import { WirelabError } from '../core/errors.ts';
import { PARSERS, protocolAfter, selectorFor } from './bindings.ts';
import type { ArpLayer } from './arp.ts';
import type { Dot1ADLayer, Dot1QLayer, EtherLayer } from './ethernet.ts';
import type { IcmpLayer, Icmpv6EchoLayer, Icmpv6OtherLayer, NeighborAdvertisementLayer, NeighborSolicitationLayer } from './icmp.ts';
import type { IPv4Layer, IPv6Layer } from './ip.ts';
import { type Layer, type Protocol, RawLayer } from './layer.ts';
import type { TcpLayer, UdpLayer } from './transport.ts';
import type { Ipv6FragmentLayer, Ipv6OptionsHeaderLayer, Ipv6RoutingLayer } from './ipv6-extensions.ts';
import type { LlcLayer } from './llc.ts';
import type { ShimLayer } from './shim.ts';

/** Layer classes by their `kind`, for typed access: `packet.get('IPv4')?.ttl`. */
export interface LayerByKind {
  Ether: EtherLayer;
  Dot1Q: Dot1QLayer;
  Dot1AD: Dot1ADLayer;
  LLC: LlcLayer;
  ARP: ArpLayer;
  IPv4: IPv4Layer;
  IPv6: IPv6Layer;
  IPv6HopByHop: Ipv6OptionsHeaderLayer;
  IPv6Routing: Ipv6RoutingLayer;
  IPv6Fragment: Ipv6FragmentLayer;
  IPv6DestOpts: Ipv6OptionsHeaderLayer;
  ICMP: IcmpLayer;
  ICMPv6Echo: Icmpv6EchoLayer;
  ICMPv6NS: NeighborSolicitationLayer;
  ICMPv6NA: NeighborAdvertisementLayer;
  ICMPv6: Icmpv6OtherLayer;
  UDP: UdpLayer;
  TCP: TcpLayer;
  Shim: ShimLayer;
  Raw: RawLayer;
}
export type LayerKind = keyof LayerByKind;

export interface BuildOptions {
  /** Append zero bytes up to this frame size (scapy's bytes() never pads; 60 is Ethernet's minimum without FCS). */
  padTo?: number;
}

const EMPTY = Buffer.alloc(0);

export class Packet {
  readonly layers: Layer[];
  /** Bytes after the innermost length-delimited layer (Ethernet padding); appended by build(). */
  padding: Uint8Array;
  /** Set by parse(): the first problem found (truncated header, bad length, ...). */
  readonly malformed: string | undefined;
  /** Set by parse(): the bytes and where each layer starts in them. */
  readonly bytes: Buffer | undefined;
  readonly starts: readonly number[] | undefined;

  constructor(layers: Layer[], parsed?: { bytes: Buffer; starts: number[]; padding: Uint8Array; malformed?: string }) {
    this.layers = layers;
    this.padding = parsed?.padding ?? EMPTY;
    this.malformed = parsed?.malformed;
    this.bytes = parsed?.bytes;
    this.starts = parsed?.starts;
  }

  /** The `nth` layer of this kind (0 = outermost), e.g. `get('Dot1Q', 1)` is the inner tag. */
  get<K extends LayerKind>(kind: K, nth = 0): LayerByKind[K] | undefined {
    for (const layer of this.layers) if (layer.kind === kind && nth-- === 0) return layer as LayerByKind[K];
    return undefined;
  }

  /** VLAN ids, outermost first (802.1ad and 802.1Q tags alike). */
  vlans(): number[] {
    const ids: number[] = [];
    for (const layer of this.layers) if (layer.protocol === 'Dot1Q' || layer.protocol === 'Dot1AD') ids.push((layer as Dot1QLayer).vlan);
    return ids;
  }

  /** TTL of the outermost IPv4 header or hop limit of the outermost IPv6 header. */
  hopLimit(): number | undefined {
    for (const layer of this.layers) {
      if (layer.kind === 'IPv4') return (layer as IPv4Layer).ttl;
      if (layer.kind === 'IPv6') return (layer as IPv6Layer).hopLimit;
    }
    return undefined;
  }

  /** Serializes: lengths, selectors and checksums left undefined are computed. */
  build(options: BuildOptions = {}): Buffer {
    const layers = this.layers;
    const n = layers.length;
    const starts = new Array<number>(n);
    let end = 0;
    for (let i = 0; i < n; i++) {
      starts[i] = end;
      end += layers[i]!.headerLength();
    }
    const size = Math.max(end + this.padding.length, options.padTo ?? 0);
    const buf = Buffer.alloc(size);
    buf.set(this.padding, end);
    const ipOffs = new Array<number>(n);
    let ipOff = -1;
    for (let i = 0; i < n; i++) {
      const layer = layers[i]!;
      const upper = layers[i + 1];
      const next =
        layer.explicitNext() ?? upper?.announcedAs() ?? (upper && selectorFor(layer.protocol, upper.protocol)) ?? layer.defaultNext();
      layer.write(buf, starts[i]!, end, next, upper);
      ipOffs[i] = ipOff;
      if (layer.protocol === 'IPv4' || layer.protocol === 'IPv6') ipOff = starts[i]!;
    }
    // Innermost first: an outer checksum may cover an inner one.
    for (let i = n - 1; i >= 0; i--) layers[i]!.finish(buf, starts[i]!, end, ipOffs[i]!);
    return buf;
  }

  /** One line, outermost first: `Ether 02:.. > 02:.. / 802.1Q vlan=10 / IPv4 ... / UDP 1000 > 2000 / Raw 18B`. */
  summary(): string {
    const parts = this.layers.map((l) => l.summary());
    if (this.padding.length) parts.push(`Padding ${this.padding.length}B`);
    if (this.malformed) parts.push(`!malformed: ${this.malformed}`);
    return parts.join(' / ');
  }

  /**
   * Checksum verdict per layer that carries one (IPv4 header, ICMP, ICMPv6, UDP, TCP), outermost
   * first. A packet built with stack() is built and parsed first.
   */
  checksums(): Array<{ kind: string; ok: boolean }> {
    if (!this.bytes || !this.starts) return parse(this.build()).checksums();
    const out: Array<{ kind: string; ok: boolean }> = [];
    let ipOff = -1;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i]!;
      const off = this.starts[i]!;
      const ok = layer.checksumOk(this.bytes, off, layerEnd(this, i), ipOff);
      if (ok !== undefined) out.push({ kind: layer.kind, ok });
      if (layer.protocol === 'IPv4' || layer.protocol === 'IPv6') ipOff = off;
    }
    return out;
  }

  /** Kinds of the layers whose checksum is wrong; empty when all are right. */
  checksumErrors(): string[] {
    return this.checksums()
      .filter((c) => !c.ok)
      .map((c) => c.kind);
  }
}

/** Where layer i's PDU ends in parsed bytes: the tightest declared length at or below it, else the data end. */
function layerEnd(packet: Packet, i: number): number {
  let end = packet.bytes!.length;
  for (let j = 0; j <= i; j++) {
    const declared = packet.layers[j]!.declaredEnd(packet.starts![j]!);
    if (declared !== undefined && declared < end) end = declared;
  }
  return end;
}

/** Describes a packet to build, outermost layer first. */
export function stack(...layers: Layer[]): Packet {
  if (layers.length === 0) throw new WirelabError('stack(): give at least one layer, e.g. stack(Ether({src}), IPv4({src, dst})).');
  return new Packet(layers);
}

/** Reads an Ethernet frame. Never throws: problems set `malformed`, unread bytes become Raw. */
export function parse(bytes: Uint8Array): Packet {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const layers: Layer[] = [];
  const starts: number[] = [];
  let malformed: string | undefined;
  let off = 0;
  let end = buf.length;
  let protocol: Protocol | undefined = 'Ether';
  try {
    while (protocol !== undefined) {
      const parser: ((buf: Buffer, off: number, end: number) => Layer | string) | undefined = PARSERS[protocol];
      if (!parser) break;
      const layer: Layer | string = parser(buf, off, end);
      if (typeof layer === 'string') {
        malformed = layer;
        break;
      }
      layers.push(layer);
      starts.push(off);
      const declared = layer.declaredEnd(off);
      if (declared !== undefined) {
        if (declared > end) malformed ??= `${layer.kind}: length field says ${declared - off} bytes, ${end - off} present`;
        else end = declared; // what follows is padding
      }
      off += layer.headerLength();
      const selector: number | undefined = layer.parsedNext();
      protocol = selector === undefined ? undefined : protocolAfter(layer.protocol, selector);
    }
  } catch (e) {
    malformed = `parser error: ${(e as Error).message}`;
  }
  if (off < end) {
    layers.push(new RawLayer(buf.subarray(off, end)));
    starts.push(off);
  }
  return new Packet(layers, { bytes: buf, starts, padding: buf.subarray(Math.max(end, off)), malformed });
}
