// IEEE 802.3 frames that carry a length instead of an EtherType (the field ≤ 1500), and the 802.2
// LLC header that follows it, optionally with a SNAP extension (OUI + protocol id). Bridges forward
// them like any other frame; routers never see them. The length is written by the layer below
// (Ethernet or a VLAN tag) when an LLC layer follows it: see `lengthSelector`.
import { checkUint, Layer } from './layer.ts';

/** The largest value of the type/length field that is a length (802.3 clause 3.2.6). */
export const MAX_LENGTH_FIELD = 1500;
/**
 * The binding-table selector that stands for "the field is a length": outside the 16-bit range,
 * so no EtherType can collide with it.
 */
export const LENGTH_SELECTOR = 0x1_0000;

export interface LlcOptions {
  /** Destination and source service access points; 0xaa/0xaa announce SNAP. */
  dsap?: number;
  ssap?: number;
  /** Control field (one byte: 0x03 = unnumbered information). */
  control?: number;
  /** With SNAP: the organisation (24 bits) and its protocol id (e.g. 0x000000 + an EtherType). */
  snap?: { oui: number; pid: number };
}

export class LlcLayer extends Layer {
  readonly kind = 'LLC';
  readonly protocol = 'LLC';
  dsap: number;
  ssap: number;
  control: number;
  snap: { oui: number; pid: number } | undefined;

  constructor(o: LlcOptions = {}) {
    super();
    const snap = o.snap !== undefined;
    this.dsap = checkUint('LLC', 'dsap', o.dsap ?? (snap ? 0xaa : 0xf0), 8);
    this.ssap = checkUint('LLC', 'ssap', o.ssap ?? (snap ? 0xaa : 0xf0), 8);
    this.control = checkUint('LLC', 'control', o.control ?? 0x03, 8);
    this.snap = o.snap && { oui: checkUint('LLC', 'snap.oui', o.snap.oui, 24), pid: checkUint('LLC', 'snap.pid', o.snap.pid, 16) };
  }

  headerLength(): number {
    return this.snap ? 8 : 3;
  }

  write(buf: Buffer, off: number): void {
    buf[off] = this.dsap;
    buf[off + 1] = this.ssap;
    buf[off + 2] = this.control;
    if (this.snap) {
      buf.writeUIntBE(this.snap.oui, off + 3, 3);
      buf.writeUInt16BE(this.snap.pid, off + 6);
    }
  }

  summary(): string {
    const snap = this.snap ? ` SNAP oui=0x${this.snap.oui.toString(16).padStart(6, '0')} pid=0x${this.snap.pid.toString(16)}` : '';
    return `LLC dsap=0x${this.dsap.toString(16)} ssap=0x${this.ssap.toString(16)}${snap}`;
  }
}

export function parseLlc(buf: Buffer, off: number, end: number): LlcLayer | string {
  if (end - off < 3) return `LLC: header truncated (${end - off} of 3 bytes)`;
  const dsap = buf[off]!;
  const ssap = buf[off + 1]!;
  const control = buf[off + 2]!;
  if (dsap === 0xaa && ssap === 0xaa) {
    if (end - off < 8) return `LLC: SNAP header truncated (${end - off} of 8 bytes)`;
    return new LlcLayer({ dsap, ssap, control, snap: { oui: buf.readUIntBE(off + 3, 3), pid: buf.readUInt16BE(off + 6) } });
  }
  return new LlcLayer({ dsap, ssap, control });
}

/**
 * What a layer announcing its payload writes in the type/length field: the LLC PDU's length when
 * LLC follows (and no type was given explicitly), else the selector.
 */
export function typeOrLength(upper: Layer | undefined, explicit: number | undefined, next: number, off: number, end: number): number {
  if (explicit === undefined && upper?.protocol === 'LLC') return end - off;
  return next;
}

/** A parsed type/length field as a binding selector: a length announces LLC. */
export function selectorOfTypeField(field: number | undefined): number | undefined {
  return field !== undefined && field <= MAX_LENGTH_FIELD ? LENGTH_SELECTOR : field;
}
