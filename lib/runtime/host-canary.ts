// The host canary: a small process beside a timed measurement that measures the instrument itself.
// Every PERIOD_MS it sleeps and notes how late it woke (a host stall: every process on the machine was
// held off — another load, the hypervisor's steal) and, when the guest runs on this machine, how long
// the guest's own threads waited for a CPU since the last look (/proc/<pid>/task/*/schedstat: the
// host holding the guest off, whatever the guest was doing); once a second, the CPUs' idle and steal
// share (/proc/stat). It prints a line per stall and per second; it ends when its stdin closes, so it
// never outlives the process that started it. Python (Debian's /usr/bin/python3): select() on stdin is
// both its sleep and its stop.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stalledMsWithin, type HostSecond, type HostStall, type HostTrace } from '../core/host-trace.ts';

/** How often the canary looks, and the lateness (or guest wait) it calls a stall. */
export const CANARY = { periodMs: 2, stallMs: 2, guestWaitMs: 1 } as const;
const PYTHON = '/usr/bin/python3';
const STOP_BUDGET_MS = 3000;

const SCRIPT = String.raw`
import os, select, sys, time
period, stall, guest_wait = float(sys.argv[1]) / 1e3, float(sys.argv[2]) / 1e3, float(sys.argv[3]) / 1e3
pids = [p for p in sys.argv[4].split(',') if p]
out = sys.stdout
def cpu():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[3] + v[4], v[7], sum(v)
def tasks():
    found = []
    for pid in pids:
        try:
            found += ['/proc/%s/task/%s/schedstat' % (pid, t) for t in os.listdir('/proc/%s/task' % pid)]
        except OSError:
            pass
    return found
def waited(files):
    d = {}
    for f in files:
        try:
            with open(f) as h:
                d[f] = int(h.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            pass
    return d
files = tasks()
last_wait = waited(files)
c0 = cpu()
second = time.time()
max_late = max_wait = 0.0
out.write('ready %.6f\n' % second)
out.flush()
while True:
    expected = time.time() + period
    r, _, _ = select.select([sys.stdin], [], [], period)
    now = time.time()
    if r:
        break
    late = now - expected
    if late > max_late:
        max_late = late
    if late >= stall:
        out.write('S host %.6f %.6f\n' % (expected, now))
    if files:
        w = waited(files)
        longest = max([w[f] - last_wait.get(f, w[f]) for f in w] or [0.0])
        last_wait = w
        if longest > max_wait:
            max_wait = longest
        if longest >= guest_wait:
            out.write('S guest-cpu %.6f %.6f\n' % (now - longest, now))
    if now - second >= 1.0:
        c1 = cpu()
        total = (c1[2] - c0[2]) or 1
        idle, steal = (c1[0] - c0[0]) / total, (c1[1] - c0[1]) / total
        out.write('C %.6f %.4f %.4f %.3f %.3f\n' % (second, idle, steal, max_late * 1e3, max_wait * 1e3))
        out.flush()
        c0, second, max_late, max_wait = c1, now, 0.0, 0.0
        files = tasks()
        last_wait.update(waited([f for f in files if f not in last_wait]))
out.flush()
`;

export interface HostCanary {
  /** How long the host has stalled since the canary started, so far (a wait extends itself by it). */
  stalledMs(): number;
  /** The stalls so far that ended after `sinceMs`, by start (a long measurement judges its seconds as it goes). */
  recentStalls(sinceMs: number): HostStall[];
  /** Stop the canary and return what it saw (idempotent). */
  stop(): Promise<HostTrace>;
}

/** Start the canary; `guestPids` are the guest's processes on this machine (QEMU), if any. */
export async function startHostCanary(opts: { guestPids?: readonly number[] } = {}): Promise<HostCanary> {
  const startMs = Date.now();
  const pids = (opts.guestPids ?? []).filter((p) => Number.isInteger(p) && p > 0);
  const base = { periodMs: CANARY.periodMs, stallMs: CANARY.stallMs, guestWatched: pids.length > 0 };
  if (!existsSync(PYTHON)) {
    const unavailable = `${PYTHON} is missing (apt-get install python3): host stalls were not measured`;
    return {
      stalledMs: () => 0,
      recentStalls: () => [],
      stop: async () => ({ ...base, startMs, endMs: Date.now(), stalls: [], seconds: [], unavailable }),
    };
  }
  const child = spawn(PYTHON, ['-c', SCRIPT, String(CANARY.periodMs), String(CANARY.stallMs), String(CANARY.guestWaitMs), pids.join(',')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stalls: HostStall[] = [];
  const seconds: HostSecond[] = [];
  let stderr = '';
  let pending = '';
  let ready: () => void = () => {};
  const started = new Promise<void>((done) => (ready = done));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('ready')) ready();
      else parseLine(line, stalls, seconds);
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  child.stdin.on('error', () => {});
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  void exited.then(ready);
  await Promise.race([started, new Promise((r) => setTimeout(r, STOP_BUDGET_MS))]);
  let result: Promise<HostTrace> | undefined;
  return {
    stalledMs: () =>
      stalledMsWithin(
        [...stalls].sort((a, b) => a.fromMs - b.fromMs),
        startMs,
        Date.now(),
      ),
    recentStalls: (sinceMs) => recent(stalls, sinceMs),
    stop: () =>
      (result ??= (async () => {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_BUDGET_MS); // by its own pid: the canary this run started
        await exited;
        clearTimeout(timer);
        const failed = child.exitCode !== 0 && seconds.length === 0 ? `the canary failed: ${stderr.trim().split('\n').pop()}` : undefined;
        stalls.sort((a, b) => a.fromMs - b.fromMs);
        return { ...base, startMs, endMs: Date.now(), stalls, seconds, ...(failed ? { unavailable: failed } : {}) };
      })()),
  };
}

/** Run `work` with the canary beside it. */
export async function besideHostCanary<T>(
  work: () => Promise<T>,
  opts: { guestPids?: readonly number[] } = {},
): Promise<{ value: T; host: HostTrace }> {
  const canary = await startHostCanary(opts);
  try {
    const value = await work();
    return { value, host: await canary.stop() };
  } finally {
    await canary.stop();
  }
}

function parseLine(line: string, stalls: HostStall[], seconds: HostSecond[]): void {
  const f = line.trim().split(' ');
  if (f[0] === 'S' && f.length === 4 && (f[1] === 'host' || f[1] === 'guest-cpu')) {
    stalls.push({ source: f[1], fromMs: Number(f[2]) * 1000, toMs: Number(f[3]) * 1000 });
  } else if (f[0] === 'C' && f.length === 6) {
    const [atS, idle, steal, lateMs, waitMs] = f.slice(1).map(Number) as [number, number, number, number, number];
    seconds.push({ atMs: atS * 1000, idle, steal, maxLateMs: lateMs, maxGuestWaitMs: waitMs });
  }
}

/** The stalls that ended after `sinceMs`, sorted (the canary appends in time order, so only the tail is read). */
function recent(stalls: readonly HostStall[], sinceMs: number): HostStall[] {
  let i = stalls.length;
  // Stalls of the two sources interleave by a few ms: look back past a margin.
  while (i > 0 && stalls[i - 1]!.toMs > sinceMs - 5000) i--;
  return stalls
    .slice(i)
    .filter((s) => s.toMs > sinceMs)
    .sort((a, b) => a.fromMs - b.fromMs);
}
