// The machine-wide reader-writer lock between labs: busy work overlaps busy work, a timed measurement
// runs alone, and entries left by dead processes block nobody.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const stateDir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-quiet-test-'));
process.env.WIRELAB_STATE_DIR = stateDir;
let quiet: typeof import('../../lib/runtime/quiet-machine.ts');

beforeAll(async () => {
  quiet = await import('../../lib/runtime/quiet-machine.ts');
  // Unit test files run beside each other: the CPU gate would make every measurement here wait.
  Object.assign(quiet.CPU_GATE, { minIdleShare: 0, sampleMs: 10 });
});
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `ms` of pretend work and records when it started and ended. */
function recorder() {
  const spans: Record<string, [number, number]> = {};
  const work = (name: string, ms: number) => async () => {
    const start = performance.now();
    await sleep(ms);
    spans[name] = [start, performance.now()];
  };
  const overlap = (a: string, b: string) => spans[a]![0] < spans[b]![1] && spans[b]![0] < spans[a]![1];
  return { spans, work, overlap };
}

describe('quiet machine', () => {
  it('lets busy work overlap other busy work', async () => {
    const r = recorder();
    await Promise.all([quiet.asBusyWork('boot a', r.work('a', 150)), quiet.asBusyWork('boot b', r.work('b', 150))]);
    expect(r.overlap('a', 'b')).toBe(true);
  });

  it('starts a measurement only after busy work under way has ended, and holds new busy work back', async () => {
    const r = recorder();
    const boot = quiet.asBusyWork('boot', r.work('boot', 200));
    await sleep(20);
    const measurement = quiet.onQuietMachine('load test', async (wait) => {
      await r.work('measure', 200)();
      return wait.waitedMs;
    });
    await sleep(250); // the boot is over and the measurement under way
    const traffic = quiet.asBusyWork('traffic', r.work('traffic', 50));
    const [waitedMs] = await Promise.all([measurement, boot, traffic]);
    expect(r.overlap('boot', 'measure')).toBe(false);
    expect(r.overlap('measure', 'traffic')).toBe(false);
    expect(r.spans.traffic![0]).toBeGreaterThanOrEqual(r.spans.measure![1]);
    expect(waitedMs).toBeGreaterThanOrEqual(100);
  });

  it('runs one measurement at a time', async () => {
    const r = recorder();
    await Promise.all([quiet.onQuietMachine('one', r.work('one', 100)), quiet.onQuietMachine('two', r.work('two', 100))]);
    expect(r.overlap('one', 'two')).toBe(false);
  });

  it('reads idle and total CPU time from /proc/stat, and no gate without it', () => {
    expect(quiet.cpuTimes('cpu  100 2 30 400 5 0 7 0 0 0\ncpu0 50 1 15 200 2 0 3 0 0 0\n')).toEqual({ idle: 405, total: 544 });
    expect(quiet.cpuTimes('')).toEqual({ idle: 0, total: 0 });
  });

  it('runs a measurement anyway when the CPUs never get idle enough, and says so', async () => {
    const saved = { ...quiet.CPU_GATE };
    Object.assign(quiet.CPU_GATE, { minIdleShare: 1.01, maxWaitMs: 100 });
    try {
      const wait = await quiet.onQuietMachine('measure', async (w) => w);
      expect(wait.cpuBusy).toBe(true);
      expect(wait.cpuIdleShare).toBeLessThanOrEqual(1);
    } finally {
      Object.assign(quiet.CPU_GATE, saved);
    }
  });

  it('ignores what dead processes left: a busy entry and a measurement lock', async () => {
    const dir = path.join(stateDir, 'quiet');
    mkdirSync(dir, { recursive: true });
    const dead = 2 ** 22 + 12345; // above the largest pid_max Linux allows: no such process
    writeFileSync(path.join(dir, `busy-${dead}-1`), 'a crashed boot');
    writeFileSync(path.join(dir, 'measuring'), `${dead}\n`);
    const t0 = performance.now();
    await quiet.asBusyWork('boot', async () => {});
    await quiet.onQuietMachine('measure', async () => {});
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
