// Real TCP connections followed through the lab: the segments of each connection (client port →
// server port) are picked out of the four captures and tallied per point and direction — SYN,
// SYN-ACK, payload bytes, RST — so a connection that failed says where: the SYN never crossed the
// guest, or it crossed and the reply (the SYN-ACK) reached the guest's server-side port and never
// left its client-side port — an image that drops the return direction of connections.
//
// Pure: frames in, per-connection tallies out. Joined by the 4-tuple (the client's port is unique
// per connection in a run), not by signatures: the hosts' own kernels build these segments.
import { CAPTURE_POINTS, hostPoint, guestPoint, type CapturePoint, type Side } from '../core/sides.ts';
import type { TimedFrame } from '../core/timed-frame.ts';
import { parse } from '../frames/index.ts';

/** What one point saw of one connection, per direction (toServer: client → server). */
export interface SegmentTally {
  syn: number;
  synAck: number;
  rstToServer: number;
  rstToClient: number;
  bytesToServer: number;
  bytesToClient: number;
}

export interface ConnectionTrace {
  clientPort: number;
  points: Record<CapturePoint, SegmentTally>;
}

export interface TcpEndpoints {
  client: { side: Side; ip: string };
  server: { side: Side; ip: string; port: number };
}

const empty = (): SegmentTally => ({ syn: 0, synAck: 0, rstToServer: 0, rstToClient: 0, bytesToServer: 0, bytesToClient: 0 });

export async function traceConnections(
  ends: TcpEndpoints,
  captures: Partial<Record<CapturePoint, AsyncIterable<TimedFrame>>>,
): Promise<ConnectionTrace[]> {
  const byPort = new Map<number, ConnectionTrace>();
  const traceOf = (port: number) => {
    let t = byPort.get(port);
    if (!t) {
      t = { clientPort: port, points: Object.fromEntries(CAPTURE_POINTS.map((p) => [p, empty()])) as Record<CapturePoint, SegmentTally> };
      byPort.set(port, t);
    }
    return t;
  };
  for (const point of CAPTURE_POINTS) {
    const frames = captures[point];
    if (!frames) continue;
    for await (const frame of frames) {
      const packet = parse(frame.data);
      const ip = packet.get('IPv4');
      const tcp = packet.get('TCP');
      if (!ip || !tcp) continue;
      const toServer = ip.src === ends.client.ip && ip.dst === ends.server.ip && tcp.dport === ends.server.port;
      const toClient = ip.src === ends.server.ip && ip.dst === ends.client.ip && tcp.sport === ends.server.port;
      if (!toServer && !toClient) continue;
      const tally = traceOf(toServer ? tcp.sport : tcp.dport).points[point];
      const flags = tcp.flags;
      const payload = (ip.len ?? 0) - ip.headerLength() - tcp.headerLength();
      if (toServer) {
        if (flags & SYN && !(flags & ACK)) tally.syn++;
        if (flags & RST) tally.rstToServer++;
        tally.bytesToServer += Math.max(0, payload);
      } else {
        if (flags & SYN && flags & ACK) tally.synAck++;
        if (flags & RST) tally.rstToClient++;
        tally.bytesToClient += Math.max(0, payload);
      }
    }
  }
  return [...byPort.values()].sort((a, b) => a.clientPort - b.clientPort);
}

const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** The four points in the order a client's segment passes them (client host first). */
export function pathFromClient(ends: TcpEndpoints): CapturePoint[] {
  const c = ends.client.side;
  const s = ends.server.side;
  return [hostPoint(c), guestPoint(c), guestPoint(s), hostPoint(s)];
}
