// Removing what crashed runs left behind. A run is stale when its ledger names a process that no
// longer exists, or when its namespace or containers have no ledger at all (the ledger is written
// before anything else is created). Only resources carrying a wirelab run id are ever touched.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { run } from '../runtime/exec.ts';
import { deleteNetns, listNetns } from './nested/netns.ts';
import { isRunId, type RunId } from '../core/run-id.ts';
import { LEDGER_DIR, liveRunsInThisProcess, processAlive, readRunRecords } from '../runtime/ledger.ts';

export interface ReapReport {
  runs: string[];
  netns: string[];
  containers: string[];
}

async function containersByRun(): Promise<Map<RunId, string[]>> {
  const byRun = new Map<RunId, string[]>();
  const r = await run('docker', ['ps', '-a', '--filter', 'label=wirelab.run', '--format', '{{.ID}} {{.Label "wirelab.run"}}'], {
    allowFailure: true,
    timeoutMs: 15_000,
  });
  if (r.exitCode !== 0) return byRun; // no engine running: no containers to reap
  for (const line of r.stdout.split('\n')) {
    const [id, runId] = line.trim().split(' ');
    if (!id || !runId || !isRunId(runId)) continue;
    byRun.set(runId, [...(byRun.get(runId) ?? []), id]);
  }
  return byRun;
}

export async function removeRunContainers(ids: string[]): Promise<void> {
  if (ids.length > 0) await run('docker', ['rm', '--force', '--volumes', ...ids], { allowFailure: true, timeoutMs: 30_000 });
}

/** Reap stale runs; with `includeLive`, also runs whose owner is alive (only for `wirelab clean --all`). */
export async function reapStaleRuns(opts: { includeLive?: boolean } = {}): Promise<ReapReport> {
  const records = new Map(readRunRecords().map((r) => [r.runId, r]));
  const namespaces = (await listNetns()).filter(isRunId);
  const containers = await containersByRun();
  const runIds = new Set([...records.keys(), ...namespaces, ...containers.keys()]);
  const report: ReapReport = { runs: [], netns: [], containers: [] };
  for (const runId of runIds) {
    if (liveRunsInThisProcess.has(runId) && !opts.includeLive) continue;
    const record = records.get(runId);
    const ownedByThisProcess = record?.pid === process.pid;
    const alive = record !== undefined && !ownedByThisProcess && processAlive(record.pid);
    if (alive && !opts.includeLive) continue;
    report.runs.push(runId);
    const ids = containers.get(runId) ?? [];
    await removeRunContainers(ids);
    report.containers.push(...ids);
    if (namespaces.includes(runId)) {
      await deleteNetns(runId);
      report.netns.push(runId);
    }
    rmSync(path.join(LEDGER_DIR, `${runId}.json`), { force: true });
  }
  return report;
}
