// Header bytes the DSL has no layer for — an MPLS label stack, a PPPoE session header, a protocol
// identified only by its EtherType or IP protocol number. A shim counts as a header: in a flow the
// signature goes after it (a trailing Raw goes after the signature). Parsing never yields a shim:
// bytes the binding table cannot explain parse as Raw.
import { Layer } from './layer.ts';

export class ShimLayer extends Layer {
  readonly kind = 'Shim';
  readonly protocol = 'Shim';

  constructor(
    readonly bytes: Uint8Array,
    /** What the bytes are, for summaries: "MPLS label 16". */
    readonly label: string,
  ) {
    super();
  }

  headerLength(): number {
    return this.bytes.length;
  }

  write(buf: Buffer, off: number): void {
    buf.set(this.bytes, off);
  }

  summary(): string {
    return `${this.label} (${this.bytes.length}B)`;
  }
}
