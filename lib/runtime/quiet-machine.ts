// Timing measurements and parallel labs on one machine. A nested lab's guest runs under QEMU/TCG on
// the same CPUs as every other lab: while another guest boots or forwards a traffic run, this guest's
// latency grows by tens to hundreds of milliseconds. Running labs side by side (`wirelab run
// --workers N`, or two runs on one bench machine) must never turn that into a latency failure of the
// image under test. So, machine-wide (every wirelab process on this host):
//   - busy work (a lab booting, a traffic run, a guest halting, a lab being taken down) registers
//     itself and may overlap other busy work;
//   - a timed measurement (a run whose latency is asserted) waits until no busy work is left and
//     keeps new busy work waiting until it is done: it runs on a quiet machine.
// A reader-writer lock made of files in the state directory: `busy-<pid>-<n>` per busy step, and one
// `measuring` file (created exclusively) for the measurement. Entries of dead processes are stale and
// ignored, so a crashed run never blocks the next one. Work that does not register (another run's
// vitest start-up or report rendering, anything not wirelab's) is caught by a second
// gate: the measurement also waits until most of the CPU time is idle.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WirelabError } from '../core/errors.ts';
import { isLockHeld, withFileLock } from './file-lock.ts';
import { LEDGER_DIR, processAlive } from './ledger.ts';

const QUIET_DIR = path.join(LEDGER_DIR, 'quiet');
export const MEASURING = path.join(QUIET_DIR, 'measuring');
const POLL_MS = 50;
/** A measurement waits at most this long for busy work (a slow boot) to end. */
const MAX_WAIT_MS = 10 * 60_000;

let busySerial = 0;

/**
 * The CPU gate: at least `minIdleShare` of all CPU time idle over one sample of `sampleMs`, waited for
 * at most `maxWaitMs`; then the measurement runs anyway and says how busy the machine was. (Mutable
 * for wirelab's own unit tests, which run beside each other.)
 */
export const CPU_GATE = { minIdleShare: 0.75, sampleMs: 500, maxWaitMs: 60_000 };

/** How long a timed step waited for the machine, and how idle the CPUs were when it started. */
export interface QuietWait {
  waitedMs: number;
  /** Idle share of all CPU time (0..1) over the last sample before the start. */
  cpuIdleShare: number;
  /** True when the CPUs never got idle enough within the bound and the step ran anyway. */
  cpuBusy: boolean;
}

/** Run busy work (a boot, a traffic run); it waits while a measurement runs, and may overlap other busy work. */
export async function asBusyWork<T>(what: string, work: () => Promise<T>): Promise<T> {
  mkdirSync(QUIET_DIR, { recursive: true, mode: 0o700 });
  const entry = path.join(QUIET_DIR, `busy-${process.pid}-${++busySerial}`);
  const deadline = Date.now() + MAX_WAIT_MS;
  for (;;) {
    // Register first, then look: a measurement that started meanwhile sees us and waits, or we see it and back off.
    writeFileSync(entry, what);
    if (!isLockHeld(MEASURING)) break;
    rmSync(entry, { force: true });
    if (Date.now() > deadline) throw timeout(what, 'a timed measurement of another lab');
    await sleep(POLL_MS);
  }
  try {
    return await work();
  } finally {
    rmSync(entry, { force: true });
  }
}

/** Run a timed measurement alone: after every busy step under way has ended, with new ones held back. */
export async function onQuietMachine<T>(what: string, work: (wait: QuietWait) => Promise<T>): Promise<T> {
  mkdirSync(QUIET_DIR, { recursive: true, mode: 0o700 });
  const t0 = Date.now();
  // One measurement at a time; withFileLock takes over the lock of a crashed holder.
  return withFileLock(
    MEASURING,
    { timeoutMs: MAX_WAIT_MS, purpose: `a quiet machine for ${what} (another lab is measuring)` },
    async () => {
      const deadline = t0 + MAX_WAIT_MS;
      while (liveBusyEntries().length > 0) {
        if (Date.now() > deadline) throw timeout(what, `busy work of other labs (${liveBusyEntries().join(', ')})`);
        await sleep(POLL_MS);
      }
      const cpu = await waitForIdleCpu();
      return work({ waitedMs: Date.now() - t0, ...cpu });
    },
  );
}

/** Sample /proc/stat until the idle share reaches the gate's minimum, for at most its maximum wait. */
async function waitForIdleCpu(): Promise<{ cpuIdleShare: number; cpuBusy: boolean }> {
  const giveUpAt = Date.now() + CPU_GATE.maxWaitMs;
  for (;;) {
    const before = cpuTimes();
    await sleep(CPU_GATE.sampleMs);
    const after = cpuTimes();
    const total = after.total - before.total;
    const idleShare = total > 0 ? (after.idle - before.idle) / total : 1;
    if (idleShare >= CPU_GATE.minIdleShare) return { cpuIdleShare: idleShare, cpuBusy: false };
    if (Date.now() > giveUpAt) return { cpuIdleShare: idleShare, cpuBusy: true };
  }
}

/** Jiffies of all CPUs since boot: idle (idle + iowait) and total, from the first line of /proc/stat. */
export function cpuTimes(stat = readText('/proc/stat')): { idle: number; total: number } {
  const fields = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 5 || fields.some((f) => !Number.isFinite(f))) return { idle: 0, total: 0 }; // no /proc: no gate
  const [, , , idle = 0, iowait = 0] = fields;
  return { idle: idle + iowait, total: fields.reduce((a, b) => a + b, 0) };
}

/** Busy entries of live processes; those of dead ones are removed on the way. */
function liveBusyEntries(): string[] {
  const live: string[] = [];
  for (const name of safeReaddir(QUIET_DIR)) {
    const m = /^busy-(\d+)-\d+$/.exec(name);
    if (!m) continue;
    if (processAlive(Number(m[1]))) live.push(`${readText(path.join(QUIET_DIR, name))} (pid ${m[1]})`);
    else rmSync(path.join(QUIET_DIR, name), { force: true });
  }
  return live;
}

function timeout(what: string, waitingFor: string): WirelabError {
  return new WirelabError(
    `${what} waited ${MAX_WAIT_MS / 60_000} min for ${waitingFor} and gave up. Fix: see what else runs labs on this machine ` +
      `('wirelab clean' lists and removes what crashed runs left; files in ${QUIET_DIR} name the processes).`,
  );
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
