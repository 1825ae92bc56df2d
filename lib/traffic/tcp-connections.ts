// Real TCP connections through the lab: a small echo server (Python, on one traffic host) and a
// client (on the other) that opens a bounded number of connections one after another, each with a
// connect timeout, sends some bytes and reads them back. The client reports each connection (set-up
// time, bytes both ways, the error); the four captures run meanwhile, and lib/analysis/tcp-join.ts
// follows every connection's segments through them.
import { addressOf } from '../core/addressing.ts';
import { otherSide, type Side } from '../core/sides.ts';
import { traceConnections, type ConnectionTrace, type TcpEndpoints } from '../analysis/tcp-join.ts';
import type { Lab } from '../lab/lab.ts';
import { readPcap } from '../pcap/pcap.ts';
import { startCaptureSession } from './traffic-run.ts';

export interface ConnectionResult {
  ok: boolean;
  /** connect() to established, ms (null when it never connected). */
  setupMs: number | null;
  sent: number;
  received: number;
  /** What went wrong, as the client's socket said it ("timed out", "Connection refused", …). */
  error?: string;
  clientPort?: number;
}

export interface ConnectionRun {
  ends: TcpEndpoints;
  results: ConnectionResult[];
  traces: ConnectionTrace[];
  pcaps: Record<string, string>;
}

export interface ConnectionOptions {
  from: Side;
  port: number;
  count: number;
  bytes: number;
  /** Each connect() gives up after this long (a dropped SYN or SYN-ACK shows as a timeout). */
  connectTimeoutS: number;
}

// Echo server: accepts up to N connections until its deadline, reads the bytes a client sends and sends them back.
const SERVER = `
import socket, sys, time
port, n, want, deadline = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), time.time() + float(sys.argv[4])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', port)); s.listen(16); s.settimeout(0.2)
print('listening', flush=True)
done = 0
while done < n and time.time() < deadline:
    try: c, _ = s.accept()
    except socket.timeout: continue
    c.settimeout(2); data = b''
    try:
        while len(data) < want:
            chunk = c.recv(65536)
            if not chunk: break
            data += chunk
        c.sendall(data)
    except OSError: pass
    c.close(); done += 1
`;

// Client: N connections one after another; one line per connection, tab-separated fields (the traffic
// host's python3-minimal has no json module): ok, set-up ms (or -), bytes sent, bytes echoed, client port, error.
const CLIENT = `
import socket, sys, time
host, port, n, size, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
for i in range(n):
    ok, setup, sent, got, cport, err = 0, '-', 0, 0, 0, ''
    s = socket.socket(); s.settimeout(timeout)
    try:
        t = time.monotonic(); s.connect((host, port)); setup = '%.3f' % ((time.monotonic() - t) * 1000)
        cport = s.getsockname()[1]
        s.sendall(bytes(i % 256 for i in range(size))); sent = size
        data = b''
        while len(data) < size:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        got = len(data); ok = int(got == size)
        if not ok: err = 'closed after %d of %d bytes echoed' % (got, size)
    except OSError as e:
        err = str(e) or type(e).__name__
    finally:
        s.close()
    print('conn', ok, setup, sent, got, cport, err.replace('\\t', ' '), sep='\\t', flush=True)
`;

/** One line of the client's report. */
export function parseClientLine(line: string): ConnectionResult | undefined {
  const [tag, ok, setup, sent, received, port, ...error] = line.split('\t');
  if (tag !== 'conn') return undefined;
  const err = error.join(' ').trim();
  return {
    ok: ok === '1',
    setupMs: setup === '-' ? null : Number(setup),
    sent: Number(sent),
    received: Number(received),
    ...(Number(port) > 0 ? { clientPort: Number(port) } : {}),
    ...(err ? { error: err } : {}),
  };
}

export async function runConnections(lab: Lab, name: string, o: ConnectionOptions): Promise<ConnectionRun> {
  const to = otherSide(o.from);
  const ends: TcpEndpoints = {
    client: { side: o.from, ip: addressOf(lab.hosts[o.from].ipv4) },
    server: { side: to, ip: addressOf(lab.hosts[to].ipv4), port: o.port },
  };
  const budgetS = o.count * (o.connectTimeoutS + 3) + 5;
  const session = await startCaptureSession(lab, name);
  let results: ConnectionResult[] = [];
  try {
    const server = await lab.hosts[to].ssh.spawn([
      'run-until-eof',
      'python3',
      '-c',
      SERVER,
      String(o.port),
      String(o.count),
      String(o.bytes),
      String(budgetS),
    ]);
    try {
      await waitForLine(server.stdout, 'listening', 10_000);
      const client = await lab.hosts[o.from].ssh.exec(
        ['python3', '-c', CLIENT, ends.server.ip, String(o.port), String(o.count), String(o.bytes), String(o.connectTimeoutS)],
        { timeoutMs: budgetS * 1000 },
      );
      results = client.stdout
        .toString()
        .split('\n')
        .map(parseClientLine)
        .filter((r): r is ConnectionResult => r !== undefined);
      if (results.length === 0 && client.stderr.trim())
        throw new Error(`the TCP client on the ${o.from} host failed: ${client.stderr.trim().split('\n').slice(-2).join(' ')}`);
    } finally {
      await server.stop(5000).catch(() => server.close());
    }
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await session.stop();
  }
  const traces = await traceConnections(ends, Object.fromEntries(Object.entries(session.pcaps).map(([p, f]) => [p, readPcap(f)])));
  return { ends, results, traces, pcaps: session.pcaps };
}

function waitForLine(stream: NodeJS.ReadableStream, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`the echo server did not say '${text}' within ${timeoutMs} ms`)), timeoutMs);
    stream.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
