// UDP and TCP. Their checksums cover the IP pseudo-header of the nearest IP layer below.
import { WirelabError } from '../core/errors.ts';
import { checksumOf, sumIsValid, transportSum } from './checksum.ts';
import { checkUint, Layer } from './layer.ts';

const UDP = 17;
const TCP = 6;

export interface UdpOptions {
  /** Ports default to 53 as in scapy. */
  sport?: number;
  dport?: number;
  /** Computed unless given. A checksum of 0 means "none" (IPv4 only). */
  len?: number;
  checksum?: number;
}

export class UdpLayer extends Layer {
  readonly kind = 'UDP';
  readonly protocol = 'UDP';
  sport: number;
  dport: number;
  len: number | undefined;
  checksum: number | undefined;

  constructor(o: UdpOptions = {}) {
    super();
    this.sport = checkUint('UDP', 'sport', o.sport ?? 53, 16);
    this.dport = checkUint('UDP', 'dport', o.dport ?? 53, 16);
    this.len = o.len === undefined ? undefined : checkUint('UDP', 'len', o.len, 16);
    this.checksum = o.checksum === undefined ? undefined : checkUint('UDP', 'checksum', o.checksum, 16);
  }

  headerLength(): number {
    return 8;
  }

  override declaredEnd(off: number): number | undefined {
    return this.len === undefined ? undefined : off + this.len;
  }

  write(buf: Buffer, off: number, end: number): void {
    buf.writeUInt16BE(this.sport, off);
    buf.writeUInt16BE(this.dport, off + 2);
    buf.writeUInt16BE(this.len ?? end - off, off + 4);
    buf.writeUInt16BE(this.checksum ?? 0, off + 6);
  }

  override finish(buf: Buffer, off: number, end: number, ipOff: number): void {
    if (this.checksum !== undefined || ipOff < 0) return;
    const sum = checksumOf(transportSum(buf, off, end, ipOff, UDP));
    buf.writeUInt16BE(sum === 0 ? 0xffff : sum, off + 6); // 0 would mean "no checksum"
  }

  override checksumOk(buf: Buffer, off: number, end: number, ipOff: number): boolean | undefined {
    if (ipOff < 0) return undefined;
    if (buf.readUInt16BE(off + 6) === 0 && buf[ipOff]! >> 4 === 4) return true; // checksum not used
    return sumIsValid(transportSum(buf, off, end, ipOff, UDP));
  }

  summary(): string {
    return `UDP ${this.sport} > ${this.dport}`;
  }
}

export function parseUdp(buf: Buffer, off: number, end: number): UdpLayer | string {
  if (end - off < 8) return `UDP: header truncated (${end - off} of 8 bytes)`;
  const len = buf.readUInt16BE(off + 4);
  if (len < 8) return `UDP: length field ${len} is shorter than its 8-byte header`;
  return new UdpLayer({ sport: buf.readUInt16BE(off), dport: buf.readUInt16BE(off + 2), len, checksum: buf.readUInt16BE(off + 6) });
}

/** TCP flag letters in bit order, as scapy prints them (F = 0x01 ... N = 0x100). */
const FLAG_LETTERS = 'FSRPAUECN';

export function tcpFlags(flags: string | number): number {
  if (typeof flags === 'number') return checkUint('TCP', 'flags', flags, 9);
  let bits = 0;
  for (const letter of flags) {
    const bit = FLAG_LETTERS.indexOf(letter);
    if (bit < 0) {
      throw new WirelabError(`TCP: flag '${letter}' in '${flags}' is unknown; allowed letters: ${FLAG_LETTERS}.`, { exitCode: 2 });
    }
    bits |= 1 << bit;
  }
  return bits;
}

export function tcpFlagLetters(bits: number): string {
  let s = '';
  for (let i = 0; i < FLAG_LETTERS.length; i++) if (bits & (1 << i)) s += FLAG_LETTERS[i];
  return s;
}

export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; value: number }
  | { kind: 'sackOk' }
  | { kind: 'timestamp'; tsval: number; tsecr: number }
  | { kind: number; data: Uint8Array };

function tcpOptionLength(o: TcpOption): number {
  switch (o.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'wscale':
      return 3;
    case 'sackOk':
      return 2;
    case 'timestamp':
      return 10;
    default:
      return 2 + o.data.length;
  }
}

function writeTcpOption(buf: Buffer, off: number, o: TcpOption): void {
  switch (o.kind) {
    case 'eol':
      buf[off] = 0;
      return;
    case 'nop':
      buf[off] = 1;
      return;
    case 'mss':
      buf[off] = 2;
      buf[off + 1] = 4;
      buf.writeUInt16BE(o.value, off + 2);
      return;
    case 'wscale':
      buf[off] = 3;
      buf[off + 1] = 3;
      buf[off + 2] = o.value;
      return;
    case 'sackOk':
      buf[off] = 4;
      buf[off + 1] = 2;
      return;
    case 'timestamp':
      buf[off] = 8;
      buf[off + 1] = 10;
      buf.writeUInt32BE(o.tsval >>> 0, off + 2);
      buf.writeUInt32BE(o.tsecr >>> 0, off + 6);
      return;
    default:
      buf[off] = o.kind;
      buf[off + 1] = 2 + o.data.length;
      buf.set(o.data, off + 2);
  }
}

/** Reads options up to the end of the header; stops at EOL (the rest is padding) or a broken length. */
function parseTcpOptions(buf: Buffer, off: number, end: number): TcpOption[] {
  const options: TcpOption[] = [];
  while (off < end) {
    const kind = buf[off]!;
    if (kind === 0) break;
    if (kind === 1) {
      options.push({ kind: 'nop' });
      off++;
      continue;
    }
    const len = buf[off + 1];
    if (len === undefined || len < 2 || off + len > end) break;
    if (kind === 2 && len === 4) options.push({ kind: 'mss', value: buf.readUInt16BE(off + 2) });
    else if (kind === 3 && len === 3) options.push({ kind: 'wscale', value: buf[off + 2]! });
    else if (kind === 4 && len === 2) options.push({ kind: 'sackOk' });
    else if (kind === 8 && len === 10) {
      options.push({ kind: 'timestamp', tsval: buf.readUInt32BE(off + 2), tsecr: buf.readUInt32BE(off + 6) });
    } else options.push({ kind, data: buf.subarray(off + 2, off + len) });
    off += len;
  }
  return options;
}

export interface TcpOptions {
  /** Defaults are scapy's: 20 > 80, flags S, window 8192. */
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  /** Letters from FSRPAUECN (e.g. 'SA', 'PA') or the 9-bit number. */
  flags?: string | number;
  window?: number;
  urgptr?: number;
  /** Zero-padded to a multiple of 4, as scapy does. */
  options?: TcpOption[];
  /** Computed unless given: header length in 32-bit words, checksum. */
  dataofs?: number;
  checksum?: number;
}

export class TcpLayer extends Layer {
  readonly kind = 'TCP';
  readonly protocol = 'TCP';
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgptr: number;
  options: TcpOption[];
  dataofs: number | undefined;
  checksum: number | undefined;

  constructor(o: TcpOptions = {}) {
    super();
    this.sport = checkUint('TCP', 'sport', o.sport ?? 20, 16);
    this.dport = checkUint('TCP', 'dport', o.dport ?? 80, 16);
    this.seq = checkUint('TCP', 'seq', o.seq ?? 0, 32);
    this.ack = checkUint('TCP', 'ack', o.ack ?? 0, 32);
    this.flags = tcpFlags(o.flags ?? 'S');
    this.window = checkUint('TCP', 'window', o.window ?? 8192, 16);
    this.urgptr = checkUint('TCP', 'urgptr', o.urgptr ?? 0, 16);
    this.options = o.options ?? [];
    this.dataofs = o.dataofs === undefined ? undefined : checkUint('TCP', 'dataofs', o.dataofs, 4);
    this.checksum = o.checksum === undefined ? undefined : checkUint('TCP', 'checksum', o.checksum, 16);
  }

  /** Options zero-padded to 4 bytes, or more when `dataofs` says so (a parsed header keeps its size). */
  headerLength(): number {
    let n = 20;
    for (const o of this.options) n += tcpOptionLength(o);
    return Math.max((n + 3) & ~3, (this.dataofs ?? 0) * 4);
  }

  write(buf: Buffer, off: number): void {
    const hlen = this.headerLength();
    buf.writeUInt16BE(this.sport, off);
    buf.writeUInt16BE(this.dport, off + 2);
    buf.writeUInt32BE(this.seq, off + 4);
    buf.writeUInt32BE(this.ack, off + 8);
    buf.writeUInt16BE(((this.dataofs ?? hlen / 4) << 12) | this.flags, off + 12);
    buf.writeUInt16BE(this.window, off + 14);
    buf.writeUInt16BE(this.checksum ?? 0, off + 16);
    buf.writeUInt16BE(this.urgptr, off + 18);
    let p = off + 20;
    for (const o of this.options) {
      writeTcpOption(buf, p, o);
      p += tcpOptionLength(o);
    }
    buf.fill(0, p, off + hlen);
  }

  override finish(buf: Buffer, off: number, end: number, ipOff: number): void {
    if (this.checksum !== undefined || ipOff < 0) return;
    buf.writeUInt16BE(checksumOf(transportSum(buf, off, end, ipOff, TCP)), off + 16);
  }

  override checksumOk(buf: Buffer, off: number, end: number, ipOff: number): boolean | undefined {
    return ipOff < 0 ? undefined : sumIsValid(transportSum(buf, off, end, ipOff, TCP));
  }

  summary(): string {
    return `TCP ${this.sport} > ${this.dport} ${tcpFlagLetters(this.flags) || '-'}`;
  }
}

export function parseTcp(buf: Buffer, off: number, end: number): TcpLayer | string {
  if (end - off < 20) return `TCP: header truncated (${end - off} of 20 bytes)`;
  const word = buf.readUInt16BE(off + 12);
  const dataofs = word >> 12;
  if (dataofs < 5) return `TCP: data offset ${dataofs} words is below the minimum 5`;
  if (end - off < dataofs * 4) return `TCP: header with options truncated (${end - off} of ${dataofs * 4} bytes)`;
  return new TcpLayer({
    sport: buf.readUInt16BE(off),
    dport: buf.readUInt16BE(off + 2),
    seq: buf.readUInt32BE(off + 4),
    ack: buf.readUInt32BE(off + 8),
    dataofs,
    flags: word & 0x1ff,
    window: buf.readUInt16BE(off + 14),
    checksum: buf.readUInt16BE(off + 16),
    urgptr: buf.readUInt16BE(off + 18),
    options: dataofs > 5 ? parseTcpOptions(buf, off + 20, off + dataofs * 4) : [],
  });
}
