// What both lab drivers do around their own steps: open a run (its id, its undo stack, its watchdog,
// its ledger entry, its work directory), run the bring-up so that any failure unwinds exactly what was created
// and rethrows, and wait for concurrent steps so that none is still starting after an unwind.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newRunId, type RunId } from '../core/run-id.ts';
import type { LabProfile } from '../profile/types.ts';
import { liveRunsInThisProcess, SESSION_ENV, writeRunRecord } from '../runtime/ledger.ts';
import { UndoStack, unwindingForSignal } from '../runtime/teardown.ts';
import { startWatchdog } from './watchdog.ts';

export interface OpenRun {
  runId: RunId;
  stack: UndoStack;
  /** This machine's scratch directory for the run (console log, keys, captures). */
  workDir: string;
}

/**
 * A new run: its watchdog and its ledger come first, so that from here on a crash — even a SIGKILL —
 * leaves nothing the watchdog (or the reaper) cannot attribute and remove; the work directory is
 * removed when the run unwinds. The watchdog is released last, once everything else is undone.
 */
export function openRun(profile: LabProfile, runId: RunId = newRunId()): OpenRun {
  const stack = new UndoStack(runId);
  liveRunsInThisProcess.add(runId);
  stack.defer('run bookkeeping', () => void liveRunsInThisProcess.delete(runId));
  const watchdog = startWatchdog(runId);
  // Unwinding for a signal, steps may still be in flight: the watchdog sweeps (and removes the ledger entry).
  stack.defer(`run watchdog (pid ${watchdog.pid})`, () => (unwindingForSignal() ? watchdog.sweep() : watchdog.release()));
  const session = process.env[SESSION_ENV];
  const removeRecord = writeRunRecord({
    runId,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    profile: profile.file,
    watchdogPid: watchdog.pid,
    ...(session ? { session } : {}),
  });
  stack.defer('run ledger', () => void (unwindingForSignal() || removeRecord()));
  const workDir = mkdtempSync(path.join(os.tmpdir(), `wirelab-${runId}-`));
  stack.defer('work directory', () => rmSync(workDir, { recursive: true, force: true }));
  return { runId, stack, workDir };
}

/** Run a bring-up; if it fails, undo everything on the stack, then rethrow the bring-up's error. */
export async function unwindOnFailure<T>(stack: UndoStack, bringUp: () => Promise<T>): Promise<T> {
  try {
    return await bringUp();
  } catch (error) {
    await stack.unwind().catch((e: Error) => console.error(`wirelab: ${e.message}`));
    throw error;
  }
}

type Settled<T extends readonly unknown[]> = { -readonly [K in keyof T]: Awaited<T[K]> };

/**
 * Like Promise.all, but it waits for every step before throwing the first failure: a step that
 * succeeds late is then registered for undo before the unwind runs, never after it.
 */
export async function allSettledOrThrow<T extends readonly unknown[]>(steps: T): Promise<Settled<T>> {
  const settled = await Promise.allSettled(steps);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as Settled<T>;
}
