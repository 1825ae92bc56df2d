// Ethernet II and VLAN tags: 802.1Q (0x8100) and the 802.1ad service tag (0x88a8) that QinQ puts outside it.
import { readMac, writeMac } from './addr.ts';
import { checkUint, Layer } from './layer.ts';
import { MAX_LENGTH_FIELD, selectorOfTypeField, typeOrLength } from './llc.ts';

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

export interface EtherOptions {
  /** Defaults to broadcast. */
  dst?: string;
  /** Required: a frame must carry its sender's own MAC (a borrowed one poisons the bridges' tables). */
  src: string;
  /**
   * Ethertype; filled from the binding table (0x9000 when nothing known follows, as scapy does). With an
   * LLC layer above it, the 802.3 length is written instead.
   */
  type?: number;
}

export class EtherLayer extends Layer {
  readonly kind = 'Ether';
  readonly protocol = 'Ether';
  dst: string;
  src: string;
  type: number | undefined;

  constructor(o: EtherOptions) {
    super();
    this.dst = o.dst ?? BROADCAST_MAC;
    this.src = o.src;
    this.type = o.type === undefined ? undefined : checkUint('Ether', 'type', o.type, 16);
  }

  headerLength(): number {
    return 14;
  }

  override explicitNext(): number | undefined {
    return this.type;
  }

  override defaultNext(): number {
    return 0x9000;
  }

  override parsedNext(): number | undefined {
    return selectorOfTypeField(this.type);
  }

  override declaredEnd(off: number): number | undefined {
    return this.type !== undefined && this.type <= MAX_LENGTH_FIELD ? off + 14 + this.type : undefined;
  }

  write(buf: Buffer, off: number, end: number, next: number, upper: Layer | undefined): void {
    writeMac(buf, off, this.dst);
    writeMac(buf, off + 6, this.src);
    buf.writeUInt16BE(typeOrLength(upper, this.type, next, off + 14, end), off + 12);
  }

  summary(): string {
    return `Ether ${this.src} > ${this.dst}`;
  }
}

export function parseEther(buf: Buffer, off: number, end: number): EtherLayer | string {
  if (end - off < 14) return `Ether: header truncated (${end - off} of 14 bytes)`;
  return new EtherLayer({ dst: readMac(buf, off), src: readMac(buf, off + 6), type: buf.readUInt16BE(off + 12) });
}

export interface VlanOptions {
  /** VLAN id, 12 bits. Defaults to 1 (scapy's default). */
  vlan?: number;
  /** Priority code point, 3 bits. */
  prio?: number;
  /** Drop eligible indicator (scapy calls it `id`). */
  dei?: boolean;
  /** Ethertype of the payload; filled from the binding table. */
  type?: number;
}

export class Dot1QLayer extends Layer {
  readonly kind: string = 'Dot1Q';
  readonly protocol: 'Dot1Q' | 'Dot1AD' = 'Dot1Q';
  vlan: number;
  prio: number;
  dei: boolean;
  type: number | undefined;

  constructor(o: VlanOptions = {}) {
    super();
    this.vlan = checkUint(this.kind, 'vlan', o.vlan ?? 1, 12);
    this.prio = checkUint(this.kind, 'prio', o.prio ?? 0, 3);
    this.dei = o.dei ?? false;
    this.type = o.type === undefined ? undefined : checkUint(this.kind, 'type', o.type, 16);
  }

  headerLength(): number {
    return 4;
  }

  override explicitNext(): number | undefined {
    return this.type;
  }

  override parsedNext(): number | undefined {
    return selectorOfTypeField(this.type);
  }

  override declaredEnd(off: number): number | undefined {
    return this.type !== undefined && this.type <= MAX_LENGTH_FIELD ? off + 4 + this.type : undefined;
  }

  write(buf: Buffer, off: number, end: number, next: number, upper: Layer | undefined): void {
    buf.writeUInt16BE((this.prio << 13) | (this.dei ? 0x1000 : 0) | this.vlan, off);
    buf.writeUInt16BE(typeOrLength(upper, this.type, next, off + 4, end), off + 2);
  }

  summary(): string {
    const name = this.protocol === 'Dot1AD' ? '802.1ad' : '802.1Q';
    return `${name} vlan=${this.vlan}${this.prio ? ` prio=${this.prio}` : ''}${this.dei ? ' dei' : ''}`;
  }
}

/** The outer (service) tag of a QinQ frame: same layout as 802.1Q, announced by ethertype 0x88a8. */
export class Dot1ADLayer extends Dot1QLayer {
  override readonly kind: string = 'Dot1AD';
  override readonly protocol = 'Dot1AD';
}

function parseTag<T extends Dot1QLayer>(make: (o: VlanOptions) => T, buf: Buffer, off: number, end: number): T | string {
  if (end - off < 4) return `802.1Q: tag truncated (${end - off} of 4 bytes)`;
  const tci = buf.readUInt16BE(off);
  return make({ prio: tci >> 13, dei: (tci & 0x1000) !== 0, vlan: tci & 0xfff, type: buf.readUInt16BE(off + 2) });
}

export const parseDot1Q = (buf: Buffer, off: number, end: number) => parseTag((o) => new Dot1QLayer(o), buf, off, end);
export const parseDot1AD = (buf: Buffer, off: number, end: number) => parseTag((o) => new Dot1ADLayer(o), buf, off, end);
