// What every layer is: a header with defaults that writes itself into a frame, reads itself back,
// and prints one summary word group. Which layer follows which lives in bindings.ts, not here.
import { WirelabError } from '../core/errors.ts';

/** A protocol's identity in the binding table (several layer kinds may share one, e.g. ICMPv6). */
export type Protocol =
  | 'Ether'
  | 'Dot1Q'
  | 'Dot1AD'
  | 'LLC'
  | 'ARP'
  | 'IPv4'
  | 'IPv6'
  | 'IPv6HopByHop'
  | 'IPv6Routing'
  | 'IPv6Fragment'
  | 'IPv6DestOpts'
  | 'ICMP'
  | 'ICMPv6'
  | 'UDP'
  | 'TCP'
  | 'Shim'
  | 'Raw';

export abstract class Layer {
  abstract readonly kind: string;
  abstract readonly protocol: Protocol;

  /** Bytes this layer writes in front of its payload. */
  abstract headerLength(): number;

  /**
   * Writes the header at `off`. `end` is where this layer's PDU ends, `next` the resolved payload
   * selector, `upper` the layer stacked above (some defaults depend on it, e.g. ND's hop limit).
   */
  abstract write(buf: Buffer, off: number, end: number, next: number, upper: Layer | undefined): void;

  /** The selector (ethertype, IP protocol) this layer announces for its payload, when given explicitly. */
  explicitNext(): number | undefined {
    return undefined;
  }

  /**
   * The selector the layer below must carry for this one, when this layer knows it itself (several
   * layers share a parser but not a number, e.g. the IPv6 extension headers); else the binding table's.
   */
  announcedAs(): number | undefined {
    return undefined;
  }

  /** The selector used when nothing known is stacked above (scapy's defaults). */
  defaultNext(): number {
    return 0;
  }

  /** The payload selector read back from a parsed header; undefined = nothing to bind (a leaf). */
  parsedNext(): number | undefined {
    return undefined;
  }

  /** Where the PDU ends according to the layer's own length field, or undefined if it has none. */
  declaredEnd(_off: number): number | undefined {
    return undefined;
  }

  /** Fills checksums after everything above is written. `ipOff` is the nearest IP header below, or -1. */
  finish(_buf: Buffer, _off: number, _end: number, _ipOff: number): void {}

  /** Checks a received checksum; undefined when the layer carries none. */
  checksumOk(_buf: Buffer, _off: number, _end: number, _ipOff: number): boolean | undefined {
    return undefined;
  }

  abstract summary(): string;
}

/** Bytes after the last header that the binding table does not explain. */
export class RawLayer extends Layer {
  readonly kind = 'Raw';
  readonly protocol = 'Raw';
  load: Uint8Array;

  constructor(load: Uint8Array | string) {
    super();
    this.load = typeof load === 'string' ? Buffer.from(load, 'latin1') : load;
  }

  headerLength(): number {
    return this.load.length;
  }

  write(buf: Buffer, off: number): void {
    buf.set(this.load, off);
  }

  summary(): string {
    return `Raw ${this.load.length}B`;
  }
}

/** Checks an integer field against its bit width; names the layer, field and allowed range. */
export function checkUint(layer: string, field: string, value: number, bits: number): number {
  const max = 2 ** bits - 1;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new WirelabError(`${layer}: field '${field}' is ${value}; allowed: an integer 0..${max}.`, { exitCode: 2 });
  }
  return value;
}
