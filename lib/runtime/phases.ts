// Where a run's time goes. When WIRELAB_PHASES names a file, every timed phase of the run — a lab's
// set-up before its guest starts, the guest's boot, a traffic window's frames, its analysis, a quiet
// listen, a halt, the report — is appended to it as one JSON line, from whichever process (CLI or
// vitest worker) it ran in. The bench reads the file to show the breakdown and the run's physical
// floor (the frames' own time at the rates asked). Off, and free, when the variable is unset.
import { appendFileSync } from 'node:fs';

export type PhaseKind = 'setup' | 'boot' | 'traffic' | 'analysis' | 'listen' | 'halt' | 'report';

export interface PhaseRecord {
  kind: PhaseKind;
  /** Which lab or window, e.g. "wl-1a2b3c" or "functional". */
  label: string;
  /** Wall-clock milliseconds (Date.now()), comparable across processes. */
  startMs: number;
  endMs: number;
  /** For traffic and listens: how long the frames themselves take at the rates asked (the floor's share). */
  requestedMs?: number;
  /** The process it ran in: phases of one process ran one after the other. */
  pid?: number;
}

const FILE_VARIABLE = 'WIRELAB_PHASES';

export function recordPhase(record: PhaseRecord): void {
  const file = process.env[FILE_VARIABLE];
  if (!file) return;
  try {
    appendFileSync(file, `${JSON.stringify({ ...record, pid: process.pid })}\n`);
  } catch {
    // Timing is an aid for the bench, never a reason for a run to fail.
  }
}

/** Run `work` and record it as a phase (also when it throws). */
export async function timedPhase<T>(kind: PhaseKind, label: string, work: () => Promise<T>, requestedMs?: number): Promise<T> {
  const startMs = Date.now();
  try {
    return await work();
  } finally {
    recordPhase({ kind, label, startMs, endMs: Date.now(), ...(requestedMs !== undefined ? { requestedMs } : {}) });
  }
}

/** The phases a run recorded, in the order they ended. */
export function parsePhases(text: string): PhaseRecord[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as PhaseRecord);
}
