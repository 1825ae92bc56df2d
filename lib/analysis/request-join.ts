// Requests and replies followed through the lab by what they carry: each HTTP request, HTTP response
// and UDP datagram the policy suite's tools send holds a marker with its id (wlreq-<id>, wlrsp-<id>),
// so it is found at each of the four capture points even where a proxy or a NAT gateway opens a new
// connection or translates addresses (the 4-tuple changes, the bytes do not). A TCP reset on a
// connection that carried a marker at a point counts for that id there.
//
// Pure: frames in, per-id tallies per point out.
import { CAPTURE_POINTS, type CapturePoint } from '../core/sides.ts';
import type { TimedFrame } from '../core/timed-frame.ts';
import { parse } from '../frames/index.ts';

/** What one point saw of one id. */
export interface MarkerTally {
  /** Segments or datagrams carrying the request's marker. */
  requests: number;
  /** Segments or datagrams carrying the response's marker. */
  responses: number;
  /** TCP resets on a connection that carried the id (either way). */
  resets: number;
}

export type MarkerTrace = Record<CapturePoint, MarkerTally>;

const MARKER = /wl(req|rsp)-([0-9a-f]+-\d+)/g;
const RST = 0x04;

export function emptyTrace(): MarkerTrace {
  return Object.fromEntries(CAPTURE_POINTS.map((p) => [p, { requests: 0, responses: 0, resets: 0 }])) as MarkerTrace;
}

export async function traceMarkers(captures: Partial<Record<CapturePoint, AsyncIterable<TimedFrame>>>): Promise<Map<string, MarkerTrace>> {
  const traces = new Map<string, MarkerTrace>();
  const traceOf = (id: string) => traces.get(id) ?? traces.set(id, emptyTrace()).get(id)!;
  for (const point of CAPTURE_POINTS) {
    const frames = captures[point];
    if (!frames) continue;
    /** Connection (either direction) → the ids it carried at this point. */
    const connections = new Map<string, Set<string>>();
    for await (const frame of frames) {
      let packet;
      try {
        packet = parse(frame.data);
      } catch {
        continue;
      }
      const ip = packet.get('IPv4') ?? packet.get('IPv6');
      const l4 = packet.get('TCP') ?? packet.get('UDP');
      if (!ip || !l4) continue;
      const ends = [`${ip.src}:${l4.sport}`, `${ip.dst}:${l4.dport}`].sort().join(' ');
      const payload = frame.data.subarray(packet.starts![packet.layers.indexOf(l4)]! + l4.headerLength()).toString('latin1');
      for (const m of payload.matchAll(MARKER)) {
        const id = m[2]!;
        const tally = traceOf(id)[point];
        if (m[1] === 'req') tally.requests++;
        else tally.responses++;
        if (l4.kind === 'TCP') (connections.get(ends) ?? connections.set(ends, new Set()).get(ends)!).add(id);
      }
      if (l4.kind === 'TCP' && l4.flags & RST) for (const id of connections.get(ends) ?? []) traceOf(id)[point].resets++;
    }
  }
  return traces;
}
