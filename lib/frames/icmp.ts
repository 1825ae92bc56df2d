// ICMP for IPv4 (every type: 4-byte header word shown as id/seq) and ICMPv6: echo request/reply,
// neighbour solicitation/advertisement with their link-layer address option, and any other type as-is.
import { readIPv6, readMac, writeIPv6, writeMac } from './addr.ts';
import { checksumOf, sum16, sumIsValid, transportSum } from './checksum.ts';
import { checkUint, Layer } from './layer.ts';

export interface IcmpOptions {
  /** 8 = echo request (default), 0 = echo reply. */
  type?: number;
  code?: number;
  id?: number;
  seq?: number;
  checksum?: number;
}

const ICMP_NAMES: Record<number, string> = { 0: 'echo-reply', 8: 'echo-request' };

export class IcmpLayer extends Layer {
  readonly kind = 'ICMP';
  readonly protocol = 'ICMP';
  type: number;
  code: number;
  id: number;
  seq: number;
  checksum: number | undefined;

  constructor(o: IcmpOptions = {}) {
    super();
    this.type = checkUint('ICMP', 'type', o.type ?? 8, 8);
    this.code = checkUint('ICMP', 'code', o.code ?? 0, 8);
    this.id = checkUint('ICMP', 'id', o.id ?? 0, 16);
    this.seq = checkUint('ICMP', 'seq', o.seq ?? 0, 16);
    this.checksum = o.checksum === undefined ? undefined : checkUint('ICMP', 'checksum', o.checksum, 16);
  }

  headerLength(): number {
    return 8;
  }

  write(buf: Buffer, off: number): void {
    buf[off] = this.type;
    buf[off + 1] = this.code;
    buf.writeUInt16BE(this.checksum ?? 0, off + 2);
    buf.writeUInt16BE(this.id, off + 4);
    buf.writeUInt16BE(this.seq, off + 6);
  }

  override finish(buf: Buffer, off: number, end: number): void {
    if (this.checksum === undefined) buf.writeUInt16BE(checksumOf(sum16(buf, off, end)), off + 2);
  }

  override checksumOk(buf: Buffer, off: number, end: number): boolean {
    return sumIsValid(sum16(buf, off, end));
  }

  summary(): string {
    const name = ICMP_NAMES[this.type];
    return name ? `ICMP ${name} id=${this.id} seq=${this.seq}` : `ICMP type=${this.type} code=${this.code}`;
  }
}

export function parseIcmp(buf: Buffer, off: number, end: number): IcmpLayer | string {
  if (end - off < 8) return `ICMP: header truncated (${end - off} of 8 bytes)`;
  return new IcmpLayer({
    type: buf[off],
    code: buf[off + 1],
    checksum: buf.readUInt16BE(off + 2),
    id: buf.readUInt16BE(off + 4),
    seq: buf.readUInt16BE(off + 6),
  });
}

export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
const ICMPV6 = 58;

/** What all ICMPv6 messages share: type, code, and a checksum over the IPv6 pseudo-header. */
abstract class Icmpv6Base extends Layer {
  readonly protocol = 'ICMPv6';
  type: number;
  code: number;
  checksum: number | undefined;

  constructor(type: number, code: number | undefined, checksum: number | undefined) {
    super();
    this.type = checkUint('ICMPv6', 'type', type, 8);
    this.code = checkUint('ICMPv6', 'code', code ?? 0, 8);
    this.checksum = checksum === undefined ? undefined : checkUint('ICMPv6', 'checksum', checksum, 16);
  }

  protected writeCommon(buf: Buffer, off: number): void {
    buf[off] = this.type;
    buf[off + 1] = this.code;
    buf.writeUInt16BE(this.checksum ?? 0, off + 2);
  }

  override finish(buf: Buffer, off: number, end: number, ipOff: number): void {
    if (this.checksum !== undefined || ipOff < 0) return;
    buf.writeUInt16BE(checksumOf(transportSum(buf, off, end, ipOff, ICMPV6)), off + 2);
  }

  override checksumOk(buf: Buffer, off: number, end: number, ipOff: number): boolean | undefined {
    return ipOff < 0 ? undefined : sumIsValid(transportSum(buf, off, end, ipOff, ICMPV6));
  }
}

export interface Icmpv6EchoOptions {
  id?: number;
  seq?: number;
  code?: number;
  checksum?: number;
}

export class Icmpv6EchoLayer extends Icmpv6Base {
  readonly kind = 'ICMPv6Echo';
  id: number;
  seq: number;

  constructor(type: typeof ICMPV6_ECHO_REQUEST | typeof ICMPV6_ECHO_REPLY, o: Icmpv6EchoOptions = {}) {
    super(type, o.code, o.checksum);
    this.id = checkUint('ICMPv6', 'id', o.id ?? 0, 16);
    this.seq = checkUint('ICMPv6', 'seq', o.seq ?? 0, 16);
  }

  headerLength(): number {
    return 8;
  }

  write(buf: Buffer, off: number): void {
    this.writeCommon(buf, off);
    buf.writeUInt16BE(this.id, off + 4);
    buf.writeUInt16BE(this.seq, off + 6);
  }

  summary(): string {
    const name = this.type === ICMPV6_ECHO_REQUEST ? 'echo-request' : 'echo-reply';
    return `ICMPv6 ${name} id=${this.id} seq=${this.seq}`;
  }
}

export interface NeighborSolicitationOptions {
  /** The address being resolved. */
  target: string;
  /** Sent as the Source Link-Layer Address option (type 1) when given. */
  sourceLinkAddr?: string;
  code?: number;
  checksum?: number;
}

/** Neighbour solicitation (type 135): "who has `target`?". */
export class NeighborSolicitationLayer extends Icmpv6Base {
  readonly kind = 'ICMPv6NS';
  target: string;
  sourceLinkAddr: string | undefined;

  constructor(o: NeighborSolicitationOptions) {
    super(ICMPV6_NEIGHBOR_SOLICITATION, o.code, o.checksum);
    this.target = o.target;
    this.sourceLinkAddr = o.sourceLinkAddr;
  }

  headerLength(): number {
    return this.sourceLinkAddr === undefined ? 24 : 32;
  }

  write(buf: Buffer, off: number): void {
    this.writeCommon(buf, off);
    buf.writeUInt32BE(0, off + 4); // reserved
    writeIPv6(buf, off + 8, this.target);
    if (this.sourceLinkAddr !== undefined) writeLinkAddrOption(buf, off + 24, 1, this.sourceLinkAddr);
  }

  summary(): string {
    return `ICMPv6 NS who-has ${this.target}${this.sourceLinkAddr ? ` from ${this.sourceLinkAddr}` : ''}`;
  }
}

export interface NeighborAdvertisementOptions {
  target: string;
  /** Sent as the Target Link-Layer Address option (type 2) when given. */
  targetLinkAddr?: string;
  /** R, S and O flags; the defaults are scapy's (R=1, S=0, O=1). */
  router?: boolean;
  solicited?: boolean;
  override?: boolean;
  code?: number;
  checksum?: number;
}

/** Neighbour advertisement (type 136): "`target` is at `targetLinkAddr`". */
export class NeighborAdvertisementLayer extends Icmpv6Base {
  readonly kind = 'ICMPv6NA';
  target: string;
  targetLinkAddr: string | undefined;
  router: boolean;
  solicited: boolean;
  override: boolean;

  constructor(o: NeighborAdvertisementOptions) {
    super(ICMPV6_NEIGHBOR_ADVERTISEMENT, o.code, o.checksum);
    this.target = o.target;
    this.targetLinkAddr = o.targetLinkAddr;
    this.router = o.router ?? true;
    this.solicited = o.solicited ?? false;
    this.override = o.override ?? true;
  }

  headerLength(): number {
    return this.targetLinkAddr === undefined ? 24 : 32;
  }

  write(buf: Buffer, off: number): void {
    this.writeCommon(buf, off);
    const flags = (this.router ? 0x80 : 0) | (this.solicited ? 0x40 : 0) | (this.override ? 0x20 : 0);
    buf.writeUInt32BE((flags << 24) >>> 0, off + 4);
    writeIPv6(buf, off + 8, this.target);
    if (this.targetLinkAddr !== undefined) writeLinkAddrOption(buf, off + 24, 2, this.targetLinkAddr);
  }

  summary(): string {
    const flags = `${this.router ? 'R' : ''}${this.solicited ? 'S' : ''}${this.override ? 'O' : ''}`;
    const at = this.targetLinkAddr ? ` is-at ${this.targetLinkAddr}` : '';
    return `ICMPv6 NA ${this.target}${at}${flags ? ` [${flags}]` : ''}`;
  }
}

/** Any other ICMPv6 message: its 4-byte type-specific word, the rest parses as Raw. */
export class Icmpv6OtherLayer extends Icmpv6Base {
  readonly kind = 'ICMPv6';
  word: number;

  constructor(o: { type: number; code?: number; checksum?: number; word?: number }) {
    super(o.type, o.code, o.checksum);
    this.word = o.word ?? 0;
  }

  headerLength(): number {
    return 8;
  }

  write(buf: Buffer, off: number): void {
    this.writeCommon(buf, off);
    buf.writeUInt32BE(this.word >>> 0, off + 4);
  }

  summary(): string {
    return `ICMPv6 type=${this.type} code=${this.code}`;
  }
}

function writeLinkAddrOption(buf: Buffer, off: number, optionType: number, mac: string): void {
  buf[off] = optionType;
  buf[off + 1] = 1; // length in units of 8 bytes
  writeMac(buf, off + 2, mac);
}

/** The link-layer address option right after an ND header, if it is the expected type. */
function linkAddrOption(buf: Buffer, off: number, end: number, optionType: number): string | undefined {
  if (end - off >= 8 && buf[off] === optionType && buf[off + 1] === 1) return readMac(buf, off + 2);
  return undefined;
}

export function parseIcmpv6(buf: Buffer, off: number, end: number): Icmpv6Base | string {
  if (end - off < 8) return `ICMPv6: header truncated (${end - off} of 8 bytes)`;
  const type = buf[off]!;
  const code = buf[off + 1];
  const checksum = buf.readUInt16BE(off + 2);
  if (type === ICMPV6_ECHO_REQUEST || type === ICMPV6_ECHO_REPLY) {
    return new Icmpv6EchoLayer(type, { code, checksum, id: buf.readUInt16BE(off + 4), seq: buf.readUInt16BE(off + 6) });
  }
  if (type === ICMPV6_NEIGHBOR_SOLICITATION || type === ICMPV6_NEIGHBOR_ADVERTISEMENT) {
    if (end - off < 24) return `ICMPv6: neighbour discovery message truncated (${end - off} of 24 bytes)`;
    const target = readIPv6(buf, off + 8);
    if (type === ICMPV6_NEIGHBOR_SOLICITATION) {
      return new NeighborSolicitationLayer({ target, code, checksum, sourceLinkAddr: linkAddrOption(buf, off + 24, end, 1) });
    }
    const flags = buf[off + 4]!;
    return new NeighborAdvertisementLayer({
      target,
      code,
      checksum,
      router: (flags & 0x80) !== 0,
      solicited: (flags & 0x40) !== 0,
      override: (flags & 0x20) !== 0,
      targetLinkAddr: linkAddrOption(buf, off + 24, end, 2),
    });
  }
  return new Icmpv6OtherLayer({ type, code, checksum, word: buf.readUInt32BE(off + 4) });
}
