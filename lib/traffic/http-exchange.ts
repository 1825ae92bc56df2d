// HTTP through the lab: a small HTTP server (Python, on the traffic host a request goes to) that logs
// every request it receives byte for byte and answers each with a known response, and a client (on the
// sending host) that sends scripted requests over real TCP, one connection each, all at once, and
// records what came back — a response, a reset, nothing before its timeout. Both are bounded in count and
// time, started by the run and stopped by it (the server through run-until-eof, by closing its stdin).
// The four captures run meanwhile; lib/analysis/request-join.ts finds each request and response in them.
//
// Both programs run on the traffic hosts' python3-minimal (no json, no http module): raw bytes travel as
// hex, one tab-separated line per request.
import { addressOf } from '../core/addressing.ts';
import { otherSide, SIDES, type Side } from '../core/sides.ts';
import { traceMarkers, type MarkerTrace } from '../analysis/request-join.ts';
import type { Lab } from '../lab/lab.ts';
import { readPcap } from '../pcap/pcap.ts';
import type { ClientExchange } from '../policy/request-checks.ts';
import { startCaptureSession } from './traffic-run.ts';

export interface HttpRequestToSend {
  id: string;
  from: Side;
  raw: Buffer;
}

export interface HttpExchangeOptions {
  port: number;
  /** How long a client waits for a connection, and then for the whole answer. */
  connectTimeoutS: number;
  responseTimeoutS: number;
}

export interface HttpExchangeRun {
  /** Every request each side's server received, as it received it. */
  served: Record<Side, Buffer[]>;
  /** What each request's client saw, by request id. */
  clients: Map<string, ClientExchange>;
  /** Per request id: where its bytes (and its response's) were seen. */
  traces: Map<string, MarkerTrace>;
  pcaps: Record<string, string>;
}

/** The most requests one run sends from one side: each is a connection and a thread on the client. */
export const MAX_REQUESTS_PER_SIDE = 64;

// Server: accepts up to N connections until its deadline, each in a thread: reads one request (head, then
// Content-Length bytes of body), logs it, answers with the response lib/policy/requests.ts's serverResponse
// describes, closes.
const SERVER = `
import socket, sys, time, threading, binascii
port, n, deadline = int(sys.argv[1]), int(sys.argv[2]), time.time() + float(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', port)); s.listen(64); s.settimeout(0.2)
lock = threading.Lock()
def serve(c):
    c.settimeout(5); data = b''
    try:
        while b'\\r\\n\\r\\n' not in data and len(data) < 65536:
            chunk = c.recv(65536)
            if not chunk: break
            data += chunk
        head, sep, body = data.partition(b'\\r\\n\\r\\n')
        length, rid = 0, b'unknown'
        for line in head.split(b'\\r\\n')[1:]:
            k, _, v = line.partition(b':')
            k, v = k.strip().lower(), v.strip()
            if k == b'content-length' and v.isdigit(): length = int(v)
            if k == b'x-wirelab-request' and v.startswith(b'wlreq-'): rid = v[6:]
        while len(body) < length:
            chunk = c.recv(65536)
            if not chunk: break
            body += chunk
        with lock: print('req', binascii.hexlify(head + sep + body).decode(), sep='\\t', flush=True)
        text = b'wirelab response ' + rid + b'\\n'
        head = b'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: %d\\r\\n' % len(text)
        c.sendall(head + b'X-Wirelab-Response: wlrsp-%s\\r\\nConnection: close\\r\\n\\r\\n' % rid + text)
    except OSError: pass
    finally: c.close()
print('listening', flush=True)
done = 0
while done < n and time.time() < deadline:
    try: c, _ = s.accept()
    except socket.timeout: continue
    threading.Thread(target=serve, args=(c,), daemon=True).start(); done += 1
while threading.active_count() > 1 and time.time() < deadline: time.sleep(0.1)
`;

// Client: one hex-encoded request per line on stdin; each sent on a connection of its own, all at once
// (one thread each); one line per request: index, outcome, ms, the bytes received (hex), the error.
const CLIENT = `
import socket, sys, time, threading, binascii
host, port, ctimeout, rtimeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
reqs = [binascii.unhexlify(l.strip()) for l in sys.stdin.read().split() if l.strip()][:${MAX_REQUESTS_PER_SIDE}]
lock = threading.Lock()
def one(i, raw):
    outcome, data, err, t = 'response', b'', '', time.monotonic()
    s = socket.socket(); s.settimeout(ctimeout)
    try:
        try: s.connect((host, port))
        except socket.timeout: outcome = 'connect-timeout'; raise
        s.settimeout(rtimeout); s.sendall(raw)
        end = time.monotonic() + rtimeout
        while True:
            s.settimeout(max(0.01, end - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        outcome = 'response' if data else 'closed'
    except socket.timeout:
        if outcome != 'connect-timeout': outcome = 'timeout'
    except ConnectionResetError as e: outcome, err = 'reset', str(e)
    except ConnectionRefusedError as e: outcome, err = 'refused', str(e)
    except OSError as e: outcome, err = 'error', str(e) or type(e).__name__
    finally: s.close()
    ms = '%.1f' % ((time.monotonic() - t) * 1000)
    with lock: print('rsp', i, outcome, ms, binascii.hexlify(data).decode() or '-', err.replace('\\t', ' ') or '-', sep='\\t', flush=True)
threads = [threading.Thread(target=one, args=(i, r), daemon=True) for i, r in enumerate(reqs)]
for th in threads: th.start()
for th in threads: th.join(ctimeout + rtimeout + 5)
`;

/** One line of the server's log: a request as it arrived. */
export function parseServedLine(line: string): Buffer | undefined {
  const [tag, hex] = line.split('\t');
  return tag === 'req' && hex && /^[0-9a-f]*$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

/** One line of the client's report: the request's index and what it saw. */
export function parseClientExchangeLine(line: string): { index: number; exchange: ClientExchange } | undefined {
  const [tag, index, outcome, ms, hex, error] = line.split('\t');
  if (tag !== 'rsp' || index === undefined || !OUTCOMES.has(outcome ?? '')) return undefined;
  return {
    index: Number(index),
    exchange: {
      outcome: outcome as ClientExchange['outcome'],
      ms: Number(ms),
      received: hex && hex !== '-' ? Buffer.from(hex, 'hex') : Buffer.alloc(0),
      ...(error && error !== '-' ? { error } : {}),
    },
  };
}

const OUTCOMES = new Set(['response', 'closed', 'timeout', 'connect-timeout', 'reset', 'refused', 'error']);

export async function runHttpExchanges(
  lab: Lab,
  name: string,
  requests: HttpRequestToSend[],
  o: HttpExchangeOptions,
): Promise<HttpExchangeRun> {
  for (const side of SIDES) {
    const n = requests.filter((r) => r.from === side).length;
    if (n > MAX_REQUESTS_PER_SIDE) throw new Error(`${n} HTTP requests from the ${side} host; at most ${MAX_REQUESTS_PER_SIDE} per run`);
  }
  const sides = SIDES.filter((s) => requests.some((r) => r.from === s));
  const budgetS = o.connectTimeoutS + o.responseTimeoutS + 10;
  const session = await startCaptureSession(lab, name);
  const served: Record<Side, Buffer[]> = { left: [], right: [] };
  const clients = new Map<string, ClientExchange>();
  try {
    // A server on each side requests go to; a proxy may open a connection of its own per request, so twice as many.
    const servers = await Promise.all(
      sides.map(async (from) => {
        const to = otherSide(from);
        const count = requests.filter((r) => r.from === from).length;
        const server = await lab.hosts[to].ssh.spawn([
          'run-until-eof',
          'python3',
          '-c',
          SERVER,
          String(o.port),
          String(2 * count),
          String(budgetS),
        ]);
        const lines = collectLines(server.stdout);
        return { to, server, lines };
      }),
    );
    try {
      await Promise.all(servers.map((s) => waitForLine(s.lines, 'listening', 10_000, `the HTTP server on the ${s.to} host`)));
      await Promise.all(
        sides.map(async (from) => {
          const mine = requests.filter((r) => r.from === from);
          const server = addressOf(lab.hosts[otherSide(from)].ipv4);
          const result = await lab.hosts[from].ssh.exec(
            ['python3', '-c', CLIENT, server, String(o.port), String(o.connectTimeoutS), String(o.responseTimeoutS)],
            { stdin: Buffer.from(mine.map((r) => r.raw.toString('hex')).join('\n') + '\n'), timeoutMs: budgetS * 1000 },
          );
          const lines = result.stdout.toString().split('\n').map(parseClientExchangeLine);
          for (const line of lines) if (line && mine[line.index]) clients.set(mine[line.index]!.id, line.exchange);
          if (lines.every((l) => l === undefined) && result.stderr.trim())
            throw new Error(`the HTTP client on the ${from} host failed: ${result.stderr.trim().split('\n').slice(-2).join(' ')}`);
        }),
      );
    } finally {
      for (const s of servers) await s.server.stop(5000).catch(() => s.server.close());
    }
    for (const s of servers) served[s.to] = s.lines.all.map(parseServedLine).filter((b): b is Buffer => b !== undefined);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await session.stop();
  }
  const traces = await traceMarkers(Object.fromEntries(Object.entries(session.pcaps).map(([p, f]) => [p, readPcap(f)])));
  return { served, clients, traces, pcaps: session.pcaps };
}

/** A process's stdout as lines, kept as they come. */
export interface LineLog {
  all: string[];
  on(listener: () => void): void;
}

export function collectLines(stream: NodeJS.ReadableStream): LineLog {
  const all: string[] = [];
  const listeners: (() => void)[] = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    all.push(...parts);
    for (const l of listeners) l();
  });
  return { all, on: (l) => listeners.push(l) };
}

export function waitForLine(log: LineLog, text: string, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (log.all.some((l) => l.includes(text))) {
        clearTimeout(timer);
        resolve();
      }
    };
    const timer = setTimeout(() => reject(new Error(`${what} did not say '${text}' within ${timeoutMs} ms`)), timeoutMs);
    log.on(check);
    check();
  });
}
