// Flows: many signed frames from one template, produced lazily. Each size class is built once with
// the DSL; every frame is then a copy of that template with its sequence number (and any varied
// field) patched in. Checksums are not recomputed over the frame: each one's sum over the template
// is kept with the varying words taken out, and a frame adds back its own words. Because the sum is
// exact integer arithmetic until the final fold, the result is identical to a full build.
import { WirelabError } from '../core/errors.ts';
import { runTag, type RunId } from '../core/run-id.ts';
import type { TimedFrame } from '../core/timed-frame.ts';
import { checksumOf, pseudoHeaderSum, sum16 } from './checksum.ts';
import { type Layer, RawLayer } from './layer.ts';
import { Packet } from './packet.ts';
import { SIG_SEQ, SIGNATURE_LENGTH, writeSignature } from './signature.ts';

/**
 * Simple IMIX, 7:4:1 of 64, 594 and 1518-byte frames on the wire. Those sizes include the 4-byte FCS
 * that captures and senders never see, so the frames built are 60, 590 and 1514 bytes. The 12-frame
 * cycle spreads the large frame and interleaves the rest: S M S S M S L S M S S M.
 */
export const IMIX_SIZES = [60, 590, 1514] as const;
const IMIX_CYCLE = [0, 1, 0, 0, 1, 0, 2, 0, 1, 0, 0, 1] as const;

export const MIN_FRAME = 60;
export const MAX_FRAME = 9216;

export interface FlowVary {
  /** Cycle the L4 source port through this many consecutive values from the template's. */
  srcPort?: number;
  dstPort?: number;
  /** Cycle the innermost IP source address through this many consecutive addresses (IPv6: the low 32 bits). */
  srcIp?: number;
  dstIp?: number;
  /** Cycle the IPv4 identification through this many consecutive values: each datagram its own id (fragments). */
  ipId?: number;
  /** Cycle the Ethernet source (destination) MAC through this many consecutive addresses (the low 32 bits): many stations. */
  srcMac?: number;
  dstMac?: number;
}

export interface FlowOptions {
  /**
   * Headers, usually down to the L4 layer (UDP, TCP, ICMP, ICMPv6): the signature follows the last of
   * them, and a trailing Raw goes after the signature.
   */
  template: Packet;
  runId: RunId;
  flowId: number;
  count: number;
  /** Schedules each frame's `tsNs`; the sender decides whether to honour it. */
  ratePps: number;
  /**
   * Frames queued together: each burst of this many frames shares one send time (the sender sends
   * them back to back, at its top speed), and bursts follow each other at `ratePps` on average.
   */
  burst?: number;
  /** Frame bytes without FCS (60..9216), or 'imix' (see IMIX_SIZES). */
  size: number | 'imix';
  vary?: FlowVary;
  /** When the flow's first frame goes, relative to the schedule's start (ns): interleaves flows sent together. */
  startNs?: bigint;
}

/** A frame of a flow: `tsNs` is when to send it, relative to the flow's start. */
export interface FlowFrame extends TimedFrame {
  seq: number;
}

/** A checksum to refresh per frame: its field, its template sum without varying words, the words. */
interface ChecksumPatch {
  at: number;
  baseSum: number;
  words: number[];
  zeroMeansNone: boolean;
}

/** One template per size class. */
interface SizedTemplate {
  bytes: Buffer;
  checksums: ChecksumPatch[];
}

/** A field that changes per frame: where, how wide, its first value and how many values it cycles through. */
interface VaryingField {
  at: number;
  bytes: 2 | 4;
  base: number;
  cycle: number;
}

export class Flow implements Iterable<FlowFrame> {
  readonly count: number;
  readonly runId: RunId;
  readonly flowId: number;
  /** Headers + signature + the template's own payload: the smallest frame this flow can send. */
  readonly minSize: number;
  private readonly size: number | 'imix';
  private readonly intervalNs: number;
  private readonly burst: number;
  private readonly startNs: bigint;
  private readonly sigOff: number;
  private readonly fields: VaryingField[];
  private readonly templates: SizedTemplate[];

  constructor(o: FlowOptions) {
    this.count = positiveInt('count', o.count);
    this.runId = o.runId;
    this.flowId = o.flowId & 0xffff;
    if (!(o.ratePps > 0)) throw flowError(`ratePps is ${o.ratePps}; allowed: a number > 0`);
    this.burst = o.burst === undefined ? 1 : positiveInt('burst', o.burst);
    this.startNs = o.startNs ?? 0n;
    this.intervalNs = 1e9 / o.ratePps;
    this.size = o.size;

    const layers = o.template.layers;
    let headerCount = layers.length;
    while (headerCount > 0 && layers[headerCount - 1]!.kind === 'Raw') headerCount--;
    const headers = layers.slice(0, headerCount);
    const userPayload = Buffer.concat(layers.slice(headerCount).map((l) => (l as RawLayer).load));
    const starts: number[] = [];
    let off = 0;
    for (const layer of headers) {
      starts.push(off);
      off += layer.headerLength();
    }
    this.sigOff = off;
    this.minSize = Math.max(MIN_FRAME, off + SIGNATURE_LENGTH + userPayload.length);

    const l4Index = headerCount - 1;
    // The signature goes right after the last header: an L4 header usually; ARP's trailer (a 42-byte
    // ARP frame carries 18 bytes of padding anyway — exactly the signature's length); or any other
    // header for frames whose payload the DSL does not model (an EtherType alone, LLC, a later fragment).
    if (l4Index < 0) throw flowError('the template has no header; give at least Ether(...)');
    const ipIndex = lastIndex(headers, (l) => l.protocol === 'IPv4' || l.protocol === 'IPv6');
    const plan = planFields(o.vary ?? {}, headers, starts, l4Index, ipIndex);
    this.fields = plan.fields;

    const sizes = o.size === 'imix' ? IMIX_SIZES.map((s) => Math.max(s, this.minSize)) : [o.size];
    for (const s of sizes) {
      if (!Number.isInteger(s) || s < this.minSize || s > MAX_FRAME) {
        throw flowError(
          `size ${s} is not possible for this template; allowed: ${this.minSize}..${MAX_FRAME} bytes (without FCS) or 'imix'`,
        );
      }
    }
    this.templates = sizes.map((s) => {
      const payload = Buffer.alloc(s - off);
      writeSignature(payload, 0, { runTag: runTag(this.runId), flowId: this.flowId, seq: 0 });
      payload.set(userPayload, SIGNATURE_LENGTH);
      // Fill with a byte pattern rather than zeros: a truncated-then-padded frame cannot pass as intact.
      for (let i = SIGNATURE_LENGTH + userPayload.length; i < payload.length; i++) payload[i] = i & 0xff;
      const bytes = new Packet([...headers, new RawLayer(payload)]).build();
      return { bytes, checksums: plan.checksums.map((c) => c(bytes, off + SIG_SEQ)) };
    });
  }

  /** Frame size of a sequence number (fixed, or its place in the IMIX cycle). */
  sizeOf(seq: number): number {
    return this.templateOf(seq).bytes.length;
  }

  /** The frame with this sequence number, exactly as the iterator yields it. */
  frameAt(seq: number): Buffer {
    const template = this.templateOf(seq);
    const buf = Buffer.allocUnsafe(template.bytes.length);
    template.bytes.copy(buf);
    buf.writeUInt32BE(seq >>> 0, this.sigOff + SIG_SEQ);
    for (const f of this.fields) {
      const value = f.base + (seq % f.cycle);
      if (f.bytes === 2) buf.writeUInt16BE(value, f.at);
      else buf.writeUInt32BE(value >>> 0, f.at);
    }
    for (const c of template.checksums) {
      let sum = c.baseSum;
      for (const w of c.words) sum += (buf[w]! << 8) | buf[w + 1]!;
      const value = checksumOf(sum);
      buf.writeUInt16BE(value === 0 && c.zeroMeansNone ? 0xffff : value, c.at);
    }
    return buf;
  }

  *[Symbol.iterator](): Generator<FlowFrame> {
    for (let seq = 0; seq < this.count; seq++) {
      yield { seq, tsNs: this.sendTimeOf(seq), data: this.frameAt(seq) };
    }
  }

  /** When a sequence number is sent, relative to the flow's start: its burst's slot. */
  sendTimeOf(seq: number): bigint {
    const first = seq - (seq % this.burst);
    return this.startNs + BigInt(Math.round(first * this.intervalNs));
  }

  private templateOf(seq: number): SizedTemplate {
    return this.size === 'imix' ? this.templates[IMIX_CYCLE[seq % IMIX_CYCLE.length]!]! : this.templates[0]!;
  }
}

/** Signed frames from a template, produced lazily: `for (const f of flow({...})) send(f.data)`. */
export function flow(options: FlowOptions): Flow {
  return new Flow(options);
}

type ChecksumPlanner = (template: Buffer, seqOff: number) => ChecksumPatch;

const CHECKSUMMED_L4: ReadonlySet<string> = new Set(['UDP', 'TCP', 'ICMP', 'ICMPv6']);

/** Which bytes vary per frame and which checksums must follow them. */
function planFields(
  vary: FlowVary,
  headers: Layer[],
  starts: number[],
  l4Index: number,
  ipIndex: number,
): { fields: VaryingField[]; checksums: ChecksumPlanner[] } {
  const l4 = headers[l4Index]!;
  const l4Off = starts[l4Index]!;
  const ip = ipIndex >= 0 ? headers[ipIndex] : undefined;
  const ipOff = ipIndex >= 0 ? starts[ipIndex]! : -1;
  const fields: VaryingField[] = [];
  const ipWords: number[] = []; // varying words inside the IP header that the L4 pseudo-header covers too
  const ipHeaderOnlyWords: number[] = []; // varying words only the IPv4 header checksum covers
  const l4Words: number[] = [];

  const port = (name: 'srcPort' | 'dstPort', rel: number) => {
    const cycle = vary[name];
    if (cycle === undefined) return;
    if (l4.protocol !== 'UDP' && l4.protocol !== 'TCP') throw flowError(`vary.${name} needs a UDP or TCP template, not ${l4.kind}`);
    const base = (l4 as unknown as { sport: number; dport: number })[rel === 0 ? 'sport' : 'dport'];
    checkCycle(name, cycle, base, 0xffff);
    fields.push({ at: l4Off + rel, bytes: 2, base, cycle });
    l4Words.push(l4Off + rel);
  };
  port('srcPort', 0);
  port('dstPort', 2);

  const address = (name: 'srcIp' | 'dstIp') => {
    const cycle = vary[name];
    if (cycle === undefined) return;
    if (!ip) throw flowError(`vary.${name} needs an IP layer in the template`);
    // The varying 32 bits: the whole IPv4 address, or the low half of the IPv6 one.
    const rel = ip.protocol === 'IPv4' ? (name === 'srcIp' ? 12 : 16) : name === 'srcIp' ? 20 : 36;
    const probe = Buffer.alloc(ip.headerLength());
    ip.write(probe, 0, probe.length, 0, undefined);
    const base = probe.readUInt32BE(rel);
    checkCycle(name, cycle, base, 0xffffffff);
    fields.push({ at: ipOff + rel, bytes: 4, base, cycle });
    ipWords.push(ipOff + rel, ipOff + rel + 2);
  };
  address('srcIp');
  address('dstIp');

  if (vary.ipId !== undefined) {
    if (ip?.protocol !== 'IPv4') throw flowError('vary.ipId needs an IPv4 layer in the template');
    const base = (ip as unknown as { id: number }).id;
    checkCycle('ipId', vary.ipId, base, 0xffff);
    fields.push({ at: ipOff + 4, bytes: 2, base, cycle: vary.ipId });
    ipHeaderOnlyWords.push(ipOff + 4);
  }

  // MACs are under no checksum: only the field varies. Their low 32 bits count up from the template's.
  const mac = (name: 'srcMac' | 'dstMac') => {
    const cycle = vary[name];
    if (cycle === undefined) return;
    const ether = headers[0];
    if (ether?.protocol !== 'Ether') throw flowError(`vary.${name} needs an Ethernet template`);
    const text = (ether as unknown as { src: string; dst: string })[name === 'srcMac' ? 'src' : 'dst'];
    const base = Buffer.from(text.replace(/:/g, ''), 'hex').readUInt32BE(2);
    checkCycle(name, cycle, base, 0xffffffff);
    fields.push({ at: name === 'srcMac' ? 8 : 2, bytes: 4, base, cycle });
  };
  mac('srcMac');
  mac('dstMac');

  const checksums: ChecksumPlanner[] = [];
  const ipHeaderWords = [...ipWords, ...ipHeaderOnlyWords];
  if (ip?.protocol === 'IPv4' && ipHeaderWords.length && (ip as unknown as { checksum?: number }).checksum === undefined) {
    checksums.push((t) => patch(t, ipOff + 10, ipHeaderWords, sum16(t, ipOff, ipOff + ip.headerLength()), false));
  }
  const l4Checksum = (l4 as unknown as { checksum?: number }).checksum;
  // Only a transport header's checksum covers the signature; ARP, LLC, a bare EtherType or a later fragment carry none over it.
  if (CHECKSUMMED_L4.has(l4.protocol) && l4Checksum === undefined) {
    const at = l4Off + (l4.protocol === 'UDP' ? 6 : l4.protocol === 'TCP' ? 16 : 2);
    const usesPseudoHeader = l4.protocol !== 'ICMP';
    if (usesPseudoHeader && ipOff < 0) throw flowError(`${l4.kind} needs an IP layer below it for its checksum`);
    checksums.push((t, seqOff) => {
      const words = [seqOff, seqOff + 2, ...l4Words, ...(usesPseudoHeader ? ipWords : [])];
      const region = sum16(t, l4Off, t.length) + (usesPseudoHeader ? pseudoHeaderSum(t, ipOff, protocolNumber(l4), t.length - l4Off) : 0);
      return patch(t, at, words, region, l4.protocol === 'UDP');
    });
  }
  return { fields, checksums };
}

/** The template's sum without its checksum field and without the words that vary. */
function patch(template: Buffer, at: number, words: number[], regionSum: number, zeroMeansNone: boolean): ChecksumPatch {
  let baseSum = regionSum - template.readUInt16BE(at);
  for (const w of words) baseSum -= template.readUInt16BE(w);
  return { at, baseSum, words, zeroMeansNone };
}

function protocolNumber(l4: Layer): number {
  return { UDP: 17, TCP: 6, ICMPv6: 58 }[l4.protocol as 'UDP' | 'TCP' | 'ICMPv6'];
}

function lastIndex(layers: Layer[], test: (l: Layer) => boolean): number {
  for (let i = layers.length - 1; i >= 0; i--) if (test(layers[i]!)) return i;
  return -1;
}

function checkCycle(name: string, cycle: number, base: number, max: number): void {
  positiveInt(`vary.${name}`, cycle);
  if (base + cycle - 1 > max) throw flowError(`vary.${name} = ${cycle} runs past ${max} from the template's ${base}`);
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw flowError(`${name} is ${value}; allowed: an integer >= 1`);
  return value;
}

function flowError(message: string): WirelabError {
  return new WirelabError(`flow(): ${message}.`, { exitCode: 2 });
}
