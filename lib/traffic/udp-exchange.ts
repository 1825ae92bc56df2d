// UDP request/response through the lab (a DNS-like exchange): a responder (Python, on one traffic
// host) answers each datagram it receives with one carrying the same id, and logs where each came
// from (a NAT gateway shows there as the translated source); a client (on the other host) sends a
// bounded number of requests from one socket, paced, and logs every reply with the address and port it
// came from. Both are bounded in count and time; the responder is stopped through run-until-eof. The four
// captures run meanwhile; lib/analysis/request-join.ts finds each datagram in them by its id.
import { addressOf } from '../core/addressing.ts';
import { otherSide, type Side } from '../core/sides.ts';
import { traceMarkers, type MarkerTrace } from '../analysis/request-join.ts';
import type { Lab } from '../lab/lab.ts';
import { readPcap } from '../pcap/pcap.ts';
import type { ExchangeObservations } from '../policy/exchange-checks.ts';
import { collectLines, waitForLine } from './http-exchange.ts';
import { startCaptureSession } from './traffic-run.ts';

export interface UdpExchangeOptions {
  from: Side;
  port: number;
  count: number;
  /** Ids are `<prefix>-<n>` for n from `first`: unique within the run (the capture join finds them by it). */
  idPrefix: string;
  first: number;
  /** How long the client keeps listening after its last request. */
  waitS: number;
}

export interface UdpExchangeRun extends ExchangeObservations {
  traces: Map<string, MarkerTrace>;
  pcaps: Record<string, string>;
}

const RESPONDER = `
import socket, sys, time, binascii
port, n, deadline = int(sys.argv[1]), int(sys.argv[2]), time.time() + float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', port)); s.settimeout(0.2)
print('listening', flush=True)
got = 0
while got < n and time.time() < deadline:
    try: data, addr = s.recvfrom(2048)
    except socket.timeout: continue
    got += 1
    print('got', addr[0], addr[1], binascii.hexlify(data).decode(), sep='\\t', flush=True)
    if data.startswith(b'wlreq-'): s.sendto(b'wlrsp-' + data[6:], addr)
`;

const CLIENT = `
import socket, sys, time, binascii
host, port, prefix, first, n, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 0))
print('port', s.getsockname()[1], sep='\\t', flush=True)
def listen(until):
    while True:
        left = until - time.time()
        if left <= 0: return
        s.settimeout(left)
        try: data, addr = s.recvfrom(2048)
        except socket.timeout: return
        print('rep', addr[0], addr[1], binascii.hexlify(data).decode(), sep='\\t', flush=True)
for i in range(first, first + n):
    s.sendto(('wlreq-%s-%d wirelab udp request' % (prefix, i)).encode(), (host, port))
    print('sent', '%s-%d' % (prefix, i), sep='\\t', flush=True)
    listen(time.time() + 0.05)
listen(time.time() + wait)
`;

const ID_IN = /^wl(?:req|rsp)-([0-9a-f]+-\d+)/;

export async function runUdpExchange(lab: Lab, name: string, o: UdpExchangeOptions): Promise<UdpExchangeRun> {
  const to = otherSide(o.from);
  const serverIp = addressOf(lab.hosts[to].ipv4);
  const budgetS = o.count * 0.1 + o.waitS + 10;
  const session = await startCaptureSession(lab, name);
  const obs: ExchangeObservations = {
    client: { ip: addressOf(lab.hosts[o.from].ipv4), port: 0 },
    server: { ip: serverIp, port: o.port },
    sent: [],
    replies: [],
    served: [],
  };
  try {
    const responder = await lab.hosts[to].ssh.spawn([
      'run-until-eof',
      'python3',
      '-c',
      RESPONDER,
      String(o.port),
      String(2 * o.count),
      String(budgetS),
    ]);
    const log = collectLines(responder.stdout);
    try {
      await waitForLine(log, 'listening', 10_000, `the UDP responder on the ${to} host`);
      const client = await lab.hosts[o.from].ssh.exec(
        ['python3', '-c', CLIENT, serverIp, String(o.port), o.idPrefix, String(o.first), String(o.count), String(o.waitS)],
        { timeoutMs: budgetS * 1000 },
      );
      for (const line of client.stdout.toString().split('\n')) {
        const [tag, a, b, hex] = line.split('\t');
        if (tag === 'port') obs.client.port = Number(a);
        else if (tag === 'sent' && a) obs.sent.push(a);
        else if (tag === 'rep' && hex !== undefined)
          obs.replies.push({ fromIp: a!, fromPort: Number(b), id: ID_IN.exec(Buffer.from(hex, 'hex').toString('latin1'))?.[1] });
      }
      if (obs.sent.length === 0)
        throw new Error(`the UDP client on the ${o.from} host sent nothing: ${client.stderr.trim().split('\n').slice(-2).join(' ')}`);
    } finally {
      await responder.stop(5000).catch(() => responder.close());
    }
    for (const line of log.all) {
      const [tag, ip, port, hex] = line.split('\t');
      if (tag === 'got' && hex !== undefined)
        obs.served.push({ fromIp: ip!, fromPort: Number(port), id: ID_IN.exec(Buffer.from(hex, 'hex').toString('latin1'))?.[1] });
    }
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await session.stop();
  }
  const traces = await traceMarkers(Object.fromEntries(Object.entries(session.pcaps).map(([p, f]) => [p, readPcap(f)])));
  return { ...obs, traces, pcaps: session.pcaps };
}
