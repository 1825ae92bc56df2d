// The labs of one `wirelab run`: its vitest workers record each lab in the ledger under the run's
// session (WIRELAB_SESSION), so the CLI can stop them on a signal and return only once every one is
// gone — taken down by its worker, or reaped by its watchdog when the worker died first.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunId } from '../core/run-id.ts';
import { processAlive, readRunRecords, SESSION_ENV, type RunRecord } from '../runtime/ledger.ts';
import { reapRun } from './reaper.ts';

export function newSession(): string {
  return `run-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export function labsOfSession(session: string): RunRecord[] {
  return readRunRecords().filter((r) => r.session === session);
}

/** True when `pid` was started with this session in its environment: a process of ours, safe to signal. */
function inSession(pid: number, session: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${SESSION_ENV}=${session}`);
  } catch {
    return false;
  }
}

/** Signal the processes owning the session's labs (each verified to be of this session first). */
export function signalLabOwners(session: string, signal: NodeJS.Signals): number[] {
  const signalled: number[] = [];
  for (const pid of new Set(labsOfSession(session).map((r) => r.pid))) {
    if (pid === process.pid || !processAlive(pid) || !inSession(pid, session)) continue;
    try {
      process.kill(pid, signal);
      signalled.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return signalled;
}

export interface SessionEnd {
  /** Runs that were still recorded when the wait began. */
  runs: RunId[];
  /** Runs the CLI reaped itself because neither their owner nor their watchdog had done it in time. */
  reapedHere: RunId[];
  ms: number;
}

/**
 * Wait until none of the session's labs is left. An owner still alive after `killAfterMs` is wedged
 * (e.g. a synchronous loop): it is SIGKILLed, and its watchdog reaps. After `boundMs` whatever is
 * still recorded with a dead owner is reaped here.
 */
export async function waitForSessionLabs(session: string, opts: { killAfterMs: number; boundMs: number }): Promise<SessionEnd> {
  const t0 = Date.now();
  const runs = labsOfSession(session).map((r) => r.runId);
  let killed = false;
  while (labsOfSession(session).length > 0 && Date.now() - t0 < opts.boundMs) {
    if (!killed && Date.now() - t0 >= opts.killAfterMs) {
      signalLabOwners(session, 'SIGKILL');
      killed = true;
    }
    await sleep(200);
  }
  const reapedHere: RunId[] = [];
  for (const record of labsOfSession(session)) {
    if (processAlive(record.pid) && inSession(record.pid, session)) continue;
    await reapRun(record.runId);
    reapedHere.push(record.runId);
  }
  return { runs, reapedHere, ms: Date.now() - t0 };
}
