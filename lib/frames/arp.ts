// ARP for IPv4 over Ethernet (RFC 826); other hardware/protocol sizes are reported as malformed.
import { readIPv4, readMac, writeIPv4, writeMac } from './addr.ts';
import { checkUint, Layer } from './layer.ts';

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpOptions {
  /** 1 = who-has (default), 2 = is-at. */
  op?: number;
  hwsrc: string;
  psrc: string;
  /** Defaults to 00:00:00:00:00:00 (unknown, as in a request). */
  hwdst?: string;
  pdst: string;
}

export class ArpLayer extends Layer {
  readonly kind = 'ARP';
  readonly protocol = 'ARP';
  op: number;
  hwsrc: string;
  psrc: string;
  hwdst: string;
  pdst: string;

  constructor(o: ArpOptions) {
    super();
    this.op = checkUint('ARP', 'op', o.op ?? ARP_REQUEST, 16);
    this.hwsrc = o.hwsrc;
    this.psrc = o.psrc;
    this.hwdst = o.hwdst ?? '00:00:00:00:00:00';
    this.pdst = o.pdst;
  }

  headerLength(): number {
    return 28;
  }

  override declaredEnd(off: number): number {
    return off + 28; // anything after the fixed-size message is Ethernet padding
  }

  write(buf: Buffer, off: number): void {
    buf.writeUInt16BE(1, off); // hardware: Ethernet
    buf.writeUInt16BE(0x0800, off + 2); // protocol: IPv4
    buf[off + 4] = 6;
    buf[off + 5] = 4;
    buf.writeUInt16BE(this.op, off + 6);
    writeMac(buf, off + 8, this.hwsrc);
    writeIPv4(buf, off + 14, this.psrc);
    writeMac(buf, off + 18, this.hwdst);
    writeIPv4(buf, off + 24, this.pdst);
  }

  summary(): string {
    if (this.op === ARP_REQUEST) return `ARP who-has ${this.pdst} tell ${this.psrc}`;
    if (this.op === ARP_REPLY) return `ARP ${this.psrc} is-at ${this.hwsrc}`;
    return `ARP op=${this.op} ${this.psrc} > ${this.pdst}`;
  }
}

export function parseArp(buf: Buffer, off: number, end: number): ArpLayer | string {
  if (end - off < 28) return `ARP: message truncated (${end - off} of 28 bytes)`;
  const hw = buf.readUInt16BE(off);
  const proto = buf.readUInt16BE(off + 2);
  if (hw !== 1 || proto !== 0x0800 || buf[off + 4] !== 6 || buf[off + 5] !== 4) {
    return `ARP: only Ethernet/IPv4 ARP is decoded (hwtype ${hw}, ptype 0x${proto.toString(16)})`;
  }
  return new ArpLayer({
    op: buf.readUInt16BE(off + 6),
    hwsrc: readMac(buf, off + 8),
    psrc: readIPv4(buf, off + 14),
    hwdst: readMac(buf, off + 18),
    pdst: readIPv4(buf, off + 24),
  });
}
