// The runs' ledger: a file per run recording the process that owns it, written before the run
// creates anything, so the reaper can tell a crashed run's leftovers from a live run's resources
// (by the run id they carry: lib/core/run-id.ts) and touch nothing else.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isRunId, type RunId } from '../core/run-id.ts';

export const LEDGER_DIR = process.env.WIRELAB_STATE_DIR ?? '/run/wirelab';

/** Runs of this process that are still up (a process may hold several labs). */
export const liveRunsInThisProcess = new Set<RunId>();

export interface RunRecord {
  runId: RunId;
  pid: number;
  startedAt: string;
  profile: string;
  /** The `wirelab run` this lab belongs to (WIRELAB_SESSION), so that run can wait for its labs to be gone. */
  session?: string;
  /** The run's watchdog (lib/lab/watchdog.ts), which reaps it if the owner dies. */
  watchdogPid?: number;
}

/** The session a process's labs are recorded under: set by `wirelab run` for its vitest workers. */
export const SESSION_ENV = 'WIRELAB_SESSION';

export function writeRunRecord(record: RunRecord): () => void {
  mkdirSync(LEDGER_DIR, { recursive: true, mode: 0o700 });
  const file = path.join(LEDGER_DIR, `${record.runId}.json`);
  // Written whole and renamed, so a reader never sees half a record.
  writeFileSync(`${file}.tmp`, JSON.stringify(record));
  renameSync(`${file}.tmp`, file);
  return () => rmSync(file, { force: true });
}

export function readRunRecords(): RunRecord[] {
  let names: string[];
  try {
    names = readdirSync(LEDGER_DIR);
  } catch {
    return [];
  }
  const records: RunRecord[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(path.join(LEDGER_DIR, name), 'utf8')) as RunRecord;
      if (isRunId(r.runId)) records.push(r);
    } catch {
      // A torn ledger file (crash while writing) names no run; the reaper finds the run by its netns.
    }
  }
  return records;
}

/** Whether `pid` runs. A zombie (dead, not yet waited for: its parent died too) counts as gone. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
