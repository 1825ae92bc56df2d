// A run's identity. Every resource a run creates carries its id: the network namespace is named
// after it, containers are labelled with it, and a ledger file records the owning process, so the
// reaper can tell a crashed run's leftovers from a live run's resources, and touch nothing else.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Network namespaces and run ids look like `wl-1a2b3c`; nothing else matches this. */
export const RUN_ID_PATTERN = /^wl-[0-9a-f]{6}$/;

export const LEDGER_DIR = process.env.WIRELAB_STATE_DIR ?? '/run/wirelab';

/** Runs of this process that are still up (a process may hold several labs). */
export const liveRunsInThisProcess = new Set<string>();

export function newRunId(): string {
  return `wl-${randomBytes(3).toString('hex')}`;
}

export interface RunRecord {
  runId: string;
  pid: number;
  startedAt: string;
  profile: string;
}

export function writeRunRecord(record: RunRecord): () => void {
  mkdirSync(LEDGER_DIR, { recursive: true, mode: 0o700 });
  const file = path.join(LEDGER_DIR, `${record.runId}.json`);
  writeFileSync(file, JSON.stringify(record));
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
      if (RUN_ID_PATTERN.test(r.runId)) records.push(r);
    } catch {
      // A torn ledger file (crash while writing) names no run; the reaper finds the run by its netns.
    }
  }
  return records;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
