// IPv6 extension headers (RFC 8200 §4): hop-by-hop options (0), routing (43), fragment (44) and
// destination options (60). A router passes them unchanged (it reads hop-by-hop, never rewrites it);
// a bridge never looks. Each is its own protocol in the binding table, so an extension header
// announces what follows it exactly as the IPv6 header does.
import { checkUint, Layer, type Protocol } from './layer.ts';

export type Ipv6ExtensionProtocol = 'IPv6HopByHop' | 'IPv6Routing' | 'IPv6Fragment' | 'IPv6DestOpts';

/** The next-header value that announces each extension header. */
export const IPV6_EXTENSION_NUMBERS: Readonly<Record<Ipv6ExtensionProtocol, number>> = {
  IPv6HopByHop: 0,
  IPv6Routing: 43,
  IPv6Fragment: 44,
  IPv6DestOpts: 60,
};

const NAMES: Record<Ipv6ExtensionProtocol, string> = {
  IPv6HopByHop: 'hop-by-hop',
  IPv6Routing: 'routing',
  IPv6Fragment: 'fragment',
  IPv6DestOpts: 'destination-options',
};

export interface Ipv6OptionsHeaderOptions {
  /** The options (type-length-value), padded with PadN to a multiple of 8 bytes with the 2-byte header. */
  options?: Uint8Array;
  nextHeader?: number;
}

export interface Ipv6RoutingOptions {
  /** Routing type; 253 is for experiments (RFC 4727): with segments left 0 every node ignores the header. */
  routingType?: number;
  segmentsLeft?: number;
  nextHeader?: number;
}

export interface Ipv6FragmentOptions {
  /** Offset in 8-byte units, as on the wire. */
  offset?: number;
  more?: boolean;
  id?: number;
  nextHeader?: number;
}

abstract class Ipv6ExtensionLayer extends Layer {
  abstract override readonly protocol: Ipv6ExtensionProtocol;
  nextHeader: number | undefined;

  constructor(nextHeader: number | undefined) {
    super();
    this.nextHeader = nextHeader === undefined ? undefined : checkUint('IPv6 extension', 'nextHeader', nextHeader, 8);
  }

  override explicitNext(): number | undefined {
    return this.nextHeader;
  }

  override defaultNext(): number {
    return 59;
  }

  override parsedNext(): number | undefined {
    return this.nextHeader;
  }

  override announcedAs(): number {
    return IPV6_EXTENSION_NUMBERS[this.protocol];
  }

  protected name(): string {
    return `IPv6 ${NAMES[this.protocol]}`;
  }
}

/** Hop-by-hop or destination options: a 2-byte header and TLV options, a multiple of 8 bytes in all. */
export class Ipv6OptionsHeaderLayer extends Ipv6ExtensionLayer {
  readonly kind: string;
  readonly protocol: 'IPv6HopByHop' | 'IPv6DestOpts';
  options: Uint8Array;

  constructor(protocol: 'IPv6HopByHop' | 'IPv6DestOpts', o: Ipv6OptionsHeaderOptions = {}) {
    super(o.nextHeader);
    this.protocol = protocol;
    this.kind = protocol;
    this.options = o.options ?? new Uint8Array(0);
  }

  headerLength(): number {
    return Math.ceil((2 + this.options.length) / 8) * 8;
  }

  write(buf: Buffer, off: number, _end: number, next: number): void {
    const length = this.headerLength();
    buf[off] = next;
    buf[off + 1] = length / 8 - 1;
    buf.set(this.options, off + 2);
    writePadding(buf, off + 2 + this.options.length, off + length);
  }

  summary(): string {
    return `${this.name()} ${this.headerLength()}B`;
  }
}

/** Pad1 for a single byte, PadN (type 1) for more (RFC 8200 §4.2). */
function writePadding(buf: Buffer, from: number, to: number): void {
  const n = to - from;
  if (n <= 0) return;
  if (n === 1) {
    buf[from] = 0;
    return;
  }
  buf[from] = 1;
  buf[from + 1] = n - 2;
  buf.fill(0, from + 2, to);
}

export class Ipv6RoutingLayer extends Ipv6ExtensionLayer {
  readonly kind = 'IPv6Routing';
  readonly protocol = 'IPv6Routing';
  routingType: number;
  segmentsLeft: number;

  constructor(o: Ipv6RoutingOptions = {}) {
    super(o.nextHeader);
    this.routingType = checkUint('IPv6Routing', 'routingType', o.routingType ?? 253, 8);
    this.segmentsLeft = checkUint('IPv6Routing', 'segmentsLeft', o.segmentsLeft ?? 0, 8);
  }

  headerLength(): number {
    return 8;
  }

  write(buf: Buffer, off: number, _end: number, next: number): void {
    buf[off] = next;
    buf[off + 1] = 0;
    buf[off + 2] = this.routingType;
    buf[off + 3] = this.segmentsLeft;
    buf.fill(0, off + 4, off + 8);
  }

  summary(): string {
    return `${this.name()} type=${this.routingType} left=${this.segmentsLeft}`;
  }
}

export class Ipv6FragmentLayer extends Ipv6ExtensionLayer {
  readonly kind = 'IPv6Fragment';
  readonly protocol = 'IPv6Fragment';
  offset: number;
  more: boolean;
  id: number;

  constructor(o: Ipv6FragmentOptions = {}) {
    super(o.nextHeader);
    this.offset = checkUint('IPv6Fragment', 'offset', o.offset ?? 0, 13);
    this.more = o.more ?? false;
    this.id = checkUint('IPv6Fragment', 'id', o.id ?? 1, 32);
  }

  headerLength(): number {
    return 8;
  }

  override parsedNext(): number | undefined {
    // A later fragment carries no upper-layer header: its bytes stay Raw.
    return this.offset === 0 ? this.nextHeader : undefined;
  }

  write(buf: Buffer, off: number, _end: number, next: number): void {
    buf[off] = next;
    buf[off + 1] = 0;
    buf.writeUInt16BE((this.offset << 3) | (this.more ? 1 : 0), off + 2);
    buf.writeUInt32BE(this.id >>> 0, off + 4);
  }

  summary(): string {
    return `${this.name()} offset=${this.offset * 8}${this.more ? '+' : ''} id=${this.id}`;
  }
}

function parseOptionsHeader(protocol: 'IPv6HopByHop' | 'IPv6DestOpts') {
  return (buf: Buffer, off: number, end: number): Layer | string => {
    if (end - off < 8) return `${protocol}: header truncated (${end - off} of 8 bytes)`;
    const length = (buf[off + 1]! + 1) * 8;
    if (end - off < length) return `${protocol}: header truncated (${end - off} of ${length} bytes)`;
    // The options as sent, padding included: rebuilding writes them back unchanged.
    return new Ipv6OptionsHeaderLayer(protocol, { nextHeader: buf[off], options: buf.subarray(off + 2, off + length) });
  };
}

export const parseIpv6HopByHop = parseOptionsHeader('IPv6HopByHop');
export const parseIpv6DestOpts = parseOptionsHeader('IPv6DestOpts');

export function parseIpv6Routing(buf: Buffer, off: number, end: number): Layer | string {
  if (end - off < 8) return `IPv6Routing: header truncated (${end - off} of 8 bytes)`;
  if (buf[off + 1] !== 0) return `IPv6Routing: a ${(buf[off + 1]! + 1) * 8}-byte routing header is not read (only 8-byte ones)`;
  return new Ipv6RoutingLayer({ nextHeader: buf[off], routingType: buf[off + 2], segmentsLeft: buf[off + 3] });
}

export function parseIpv6Fragment(buf: Buffer, off: number, end: number): Layer | string {
  if (end - off < 8) return `IPv6Fragment: header truncated (${end - off} of 8 bytes)`;
  const word = buf.readUInt16BE(off + 2);
  return new Ipv6FragmentLayer({ nextHeader: buf[off], offset: word >> 3, more: (word & 1) === 1, id: buf.readUInt32BE(off + 4) });
}

export const IPV6_EXTENSION_PROTOCOLS = Object.keys(IPV6_EXTENSION_NUMBERS) as Ipv6ExtensionProtocol[];
export type { Protocol };
