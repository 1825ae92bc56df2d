// The host canary on the real machine: beside busy loops on every CPU (and one more), the process it
// watches waits for a CPU and the canary says so — stalls of the watched process, the CPUs' idle share
// near zero — and on its own it reports a second per second of its life. Processes here are started
// by the test and ended by their pid.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { startHostCanary } from '../../lib/runtime/host-canary.ts';

let hogs: ChildProcess[] = [];
afterEach(() => {
  for (const h of hogs) if (h.exitCode === null) h.kill('SIGKILL');
  hogs = [];
});

function busyLoop(seconds: number): ChildProcess {
  const child = spawn(
    process.execPath,
    ['-e', `process.title = 'wlsk-hog'; const end = Date.now() + ${seconds * 1000}; while (Date.now() < end);`],
    {
      stdio: 'ignore',
    },
  );
  hogs.push(child);
  return child;
}

describe('host canary', () => {
  it('sees a watched process held off the CPU by busy loops on every CPU, and the CPUs busy', async () => {
    const watched = busyLoop(6);
    for (let i = 0; i < os.cpus().length; i++) busyLoop(6);
    const canary = await startHostCanary({ guestPids: [watched.pid!] });
    await new Promise((r) => setTimeout(r, 3000));
    const trace = await canary.stop();
    expect(trace.unavailable).toBeUndefined();
    expect(trace.guestWatched).toBe(true);
    const waits = trace.stalls.filter((s) => s.source === 'guest-cpu');
    expect(waits.length, JSON.stringify(trace.seconds)).toBeGreaterThan(0);
    expect(Math.min(...trace.seconds.map((s) => s.idle))).toBeLessThan(0.2);
    expect(canary.stalledMs()).toBeGreaterThan(0);
  });

  it('reports every second it ran, and stops when asked', async () => {
    const canary = await startHostCanary();
    await new Promise((r) => setTimeout(r, 2500));
    const trace = await canary.stop();
    expect(trace.seconds.length).toBeGreaterThanOrEqual(2);
    expect(trace.guestWatched).toBe(false);
    for (const s of trace.seconds) expect(s.idle).toBeGreaterThanOrEqual(0);
    expect(await canary.stop()).toBe(trace);
  });
});
