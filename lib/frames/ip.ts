// IPv4 (options as raw bytes) and IPv6 (no extension headers: they parse as the payload's Raw).
import { readIPv4, readIPv6, writeIPv4, writeIPv6 } from './addr.ts';
import { checksumOf, sum16, sumIsValid } from './checksum.ts';
import { checkUint, Layer } from './layer.ts';

/** What both IP versions have: the addresses, in their text form. */
interface IpAddresses {
  src: string;
  dst: string;
}

/** An IP header's common part; the version's own fields are in its class. */
abstract class IpLayer extends Layer {
  src: string;
  dst: string;

  constructor(o: IpAddresses) {
    super();
    this.src = o.src;
    this.dst = o.dst;
  }

  /** `IPv4 198.18.0.1 > 198.18.0.2` plus the version's own fields. */
  protected describe(fields: string): string {
    return `${this.kind} ${this.src} > ${this.dst} ${fields}`;
  }
}

export interface IPv4Options extends IpAddresses {
  ttl?: number;
  tos?: number;
  /** Identification; defaults to 1 as in scapy. */
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in 8-byte units, as on the wire (scapy's `frag`). */
  fragOffset?: number;
  /** Raw option bytes; zero-padded to a multiple of 4 (as scapy does). */
  options?: Uint8Array;
  /** Computed unless given: protocol (from the binding table), header length (32-bit words), total length, checksum. */
  proto?: number;
  ihl?: number;
  len?: number;
  checksum?: number;
}

export class IPv4Layer extends IpLayer {
  readonly kind = 'IPv4';
  readonly protocol = 'IPv4';
  ttl: number;
  tos: number;
  id: number;
  df: boolean;
  mf: boolean;
  fragOffset: number;
  options: Uint8Array;
  proto: number | undefined;
  ihl: number | undefined;
  len: number | undefined;
  checksum: number | undefined;

  constructor(o: IPv4Options) {
    super(o);
    this.ttl = checkUint('IPv4', 'ttl', o.ttl ?? 64, 8);
    this.tos = checkUint('IPv4', 'tos', o.tos ?? 0, 8);
    this.id = checkUint('IPv4', 'id', o.id ?? 1, 16);
    this.df = o.df ?? false;
    this.mf = o.mf ?? false;
    this.fragOffset = checkUint('IPv4', 'fragOffset', o.fragOffset ?? 0, 13);
    this.options = o.options ?? new Uint8Array(0);
    this.proto = o.proto === undefined ? undefined : checkUint('IPv4', 'proto', o.proto, 8);
    this.ihl = o.ihl === undefined ? undefined : checkUint('IPv4', 'ihl', o.ihl, 4);
    this.len = o.len === undefined ? undefined : checkUint('IPv4', 'len', o.len, 16);
    this.checksum = o.checksum === undefined ? undefined : checkUint('IPv4', 'checksum', o.checksum, 16);
  }

  headerLength(): number {
    return 20 + ((this.options.length + 3) & ~3);
  }

  override explicitNext(): number | undefined {
    return this.proto;
  }

  override parsedNext(): number | undefined {
    // A later fragment carries no transport header: its bytes stay Raw.
    return this.fragOffset === 0 ? this.proto : undefined;
  }

  override declaredEnd(off: number): number | undefined {
    return this.len === undefined ? undefined : off + this.len;
  }

  write(buf: Buffer, off: number, end: number, next: number): void {
    const hlen = this.headerLength();
    buf[off] = 0x40 | (this.ihl ?? hlen / 4);
    buf[off + 1] = this.tos;
    buf.writeUInt16BE(this.len ?? end - off, off + 2);
    buf.writeUInt16BE(this.id, off + 4);
    buf.writeUInt16BE((this.mf ? 0x2000 : 0) | (this.df ? 0x4000 : 0) | this.fragOffset, off + 6);
    buf[off + 8] = this.ttl;
    buf[off + 9] = next;
    buf.writeUInt16BE(this.checksum ?? 0, off + 10);
    writeIPv4(buf, off + 12, this.src);
    writeIPv4(buf, off + 16, this.dst);
    buf.set(this.options, off + 20);
    buf.fill(0, off + 20 + this.options.length, off + hlen);
  }

  override finish(buf: Buffer, off: number): void {
    if (this.checksum !== undefined) return;
    buf.writeUInt16BE(checksumOf(sum16(buf, off, off + this.headerLength())), off + 10);
  }

  override checksumOk(buf: Buffer, off: number): boolean {
    return sumIsValid(sum16(buf, off, off + this.headerLength()));
  }

  summary(): string {
    const frag = this.mf || this.fragOffset ? ` frag=${this.fragOffset * 8}${this.mf ? '+' : ''}` : '';
    return this.describe(`ttl=${this.ttl}${frag}`);
  }
}

export function parseIPv4(buf: Buffer, off: number, end: number): IPv4Layer | string {
  if (end - off < 20) return `IPv4: header truncated (${end - off} of 20 bytes)`;
  const version = buf[off]! >> 4;
  if (version !== 4) return `IPv4: version field is ${version}`;
  const ihl = buf[off]! & 0x0f;
  if (ihl < 5) return `IPv4: header length field is ${ihl} words (minimum 5)`;
  if (end - off < ihl * 4) return `IPv4: header with options truncated (${end - off} of ${ihl * 4} bytes)`;
  const len = buf.readUInt16BE(off + 2);
  if (len < ihl * 4) return `IPv4: total length ${len} is shorter than its ${ihl * 4}-byte header`;
  const flags = buf.readUInt16BE(off + 6);
  return new IPv4Layer({
    tos: buf[off + 1],
    len,
    id: buf.readUInt16BE(off + 4),
    mf: (flags & 0x2000) !== 0,
    df: (flags & 0x4000) !== 0,
    fragOffset: flags & 0x1fff,
    ttl: buf[off + 8],
    proto: buf[off + 9],
    checksum: buf.readUInt16BE(off + 10),
    src: readIPv4(buf, off + 12),
    dst: readIPv4(buf, off + 16),
    ihl,
    options: ihl > 5 ? buf.subarray(off + 20, off + ihl * 4) : undefined,
  });
}

export interface IPv6Options extends IpAddresses {
  /** Defaults to 64, or 255 under Neighbor Discovery (RFC 4861 requires it; scapy does the same). */
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** Computed unless given: next header (from the binding table; 59 = none) and payload length. */
  nextHeader?: number;
  payloadLength?: number;
}

export class IPv6Layer extends IpLayer {
  readonly kind = 'IPv6';
  readonly protocol = 'IPv6';
  hopLimit: number | undefined;
  trafficClass: number;
  flowLabel: number;
  nextHeader: number | undefined;
  payloadLength: number | undefined;

  constructor(o: IPv6Options) {
    super(o);
    this.hopLimit = o.hopLimit === undefined ? undefined : checkUint('IPv6', 'hopLimit', o.hopLimit, 8);
    this.trafficClass = checkUint('IPv6', 'trafficClass', o.trafficClass ?? 0, 8);
    this.flowLabel = checkUint('IPv6', 'flowLabel', o.flowLabel ?? 0, 20);
    this.nextHeader = o.nextHeader === undefined ? undefined : checkUint('IPv6', 'nextHeader', o.nextHeader, 8);
    this.payloadLength = o.payloadLength === undefined ? undefined : checkUint('IPv6', 'payloadLength', o.payloadLength, 16);
  }

  headerLength(): number {
    return 40;
  }

  override explicitNext(): number | undefined {
    return this.nextHeader;
  }

  override defaultNext(): number {
    return 59; // "no next header"
  }

  override parsedNext(): number | undefined {
    return this.nextHeader;
  }

  override declaredEnd(off: number): number | undefined {
    return this.payloadLength === undefined ? undefined : off + 40 + this.payloadLength;
  }

  write(buf: Buffer, off: number, end: number, next: number, upper: Layer | undefined): void {
    buf.writeUInt32BE(((6 << 28) | (this.trafficClass << 20) | this.flowLabel) >>> 0, off);
    buf.writeUInt16BE(this.payloadLength ?? end - off - 40, off + 4);
    buf[off + 6] = next;
    buf[off + 7] = this.hopLimit ?? (upper !== undefined && isNeighborDiscovery(upper) ? 255 : 64);
    writeIPv6(buf, off + 8, this.src);
    writeIPv6(buf, off + 24, this.dst);
  }

  summary(): string {
    return this.describe(`hlim=${this.hopLimit ?? '(auto)'}`);
  }
}

function isNeighborDiscovery(layer: Layer): boolean {
  return layer.kind === 'ICMPv6NS' || layer.kind === 'ICMPv6NA';
}

export function parseIPv6(buf: Buffer, off: number, end: number): IPv6Layer | string {
  if (end - off < 40) return `IPv6: header truncated (${end - off} of 40 bytes)`;
  const first = buf.readUInt32BE(off);
  if (first >>> 28 !== 6) return `IPv6: version field is ${first >>> 28}`;
  return new IPv6Layer({
    trafficClass: (first >>> 20) & 0xff,
    flowLabel: first & 0xfffff,
    payloadLength: buf.readUInt16BE(off + 4),
    nextHeader: buf[off + 6],
    hopLimit: buf[off + 7],
    src: readIPv6(buf, off + 8),
    dst: readIPv6(buf, off + 24),
  });
}
