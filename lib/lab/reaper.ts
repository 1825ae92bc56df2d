// Removing what crashed runs left behind. A run is stale when its ledger names a process that no
// longer exists, or when its namespace, containers or work directory have no ledger at all (the
// ledger is written before anything else is created). Only resources carrying a wirelab run id are
// ever touched. A run's watchdog (watchdog.ts) reaps it with reapRun the moment its owner dies;
// `wirelab clean` (reapStaleRuns) is for what a dead machine or a dead watchdog left.
import { readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../runtime/exec.ts';
import { diskCacheDir } from '../images/disk-image.ts';
import { DOCKERD_LOCK } from '../runtime/docker-engine.ts';
import { removeStaleLocks } from '../runtime/file-lock.ts';
import { MEASURING } from '../runtime/quiet-machine.ts';
import { deleteNetns, listNetns } from './nested/netns.ts';
import { localBenchRunIds } from './bench-host/bench-ledger.ts';
import { describeReap, reapBenchRun } from './bench-host/bench-reaper.ts';
import { isRunId, type RunId } from '../core/run-id.ts';
import { LEDGER_DIR, liveRunsInThisProcess, processAlive, readRunRecords } from '../runtime/ledger.ts';

export interface ReapReport {
  runs: string[];
  /** What each reaped run had left on its bench host and traffic hosts (restored over SSH). */
  benchHosts: string[];
  netns: string[];
  containers: string[];
  workDirs: string[];
  /** Lock files removed because nobody holds them (their owner died, or they are empty and old). */
  locks: string[];
}

/** Work directories are `<tmpdir>/wirelab-<run id>-XXXXXX` (lib/lab/bring-up.ts). */
const WORK_DIR = /^wirelab-(wl-[0-9a-f]{6})-[A-Za-z0-9]{6}$/;

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

function workDirsByRun(): Map<RunId, string[]> {
  const byRun = new Map<RunId, string[]>();
  let names: string[] = [];
  try {
    names = readdirSync(os.tmpdir());
  } catch {
    // no temporary directory to look in
  }
  for (const name of names) {
    const runId = WORK_DIR.exec(name)?.[1];
    if (runId && isRunId(runId)) byRun.set(runId, [...(byRun.get(runId) ?? []), path.join(os.tmpdir(), name)]);
  }
  return byRun;
}

export async function removeRunContainers(ids: string[]): Promise<void> {
  if (ids.length > 0) await run('docker', ['rm', '--force', '--volumes', ...ids], { allowFailure: true, timeoutMs: 30_000 });
}

/**
 * Remove everything of one run, whoever owned it: its containers, its namespace (with every process
 * in it), its work directories, and last its ledger entry. The caller knows the run's owner is gone.
 */
export async function reapRun(runId: RunId, opts: { keepLedger?: boolean } = {}): Promise<Omit<ReapReport, 'runs' | 'locks'>> {
  // A bench-host run first (over SSH): a failure to reach it throws, and the ledger entry stays for `wirelab clean`.
  const bench = await reapBenchRun(runId);
  const containers = (await containersByRun()).get(runId) ?? [];
  await removeRunContainers(containers);
  const netns = (await listNetns()).includes(runId) ? [runId] : [];
  for (const name of netns) await deleteNetns(name);
  const workDirs = workDirsByRun().get(runId) ?? [];
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
  if (!opts.keepLedger) rmSync(path.join(LEDGER_DIR, `${runId}.json`), { force: true });
  return { netns, containers, workDirs, benchHosts: bench ? [describeReap(bench)] : [] };
}

/** Reap stale runs; with `includeLive`, also runs whose owner is alive (only for `wirelab clean --all`). */
export async function reapStaleRuns(opts: { includeLive?: boolean } = {}): Promise<ReapReport> {
  const records = new Map(readRunRecords().map((r) => [r.runId, r]));
  const namespaces = (await listNetns()).filter(isRunId);
  const containers = await containersByRun();
  const workDirs = workDirsByRun();
  const runIds = new Set([...records.keys(), ...namespaces, ...containers.keys(), ...workDirs.keys(), ...localBenchRunIds()]);
  const report: ReapReport = { runs: [], benchHosts: [], netns: [], containers: [], workDirs: [], locks: [] };
  for (const runId of runIds) {
    if (liveRunsInThisProcess.has(runId) && !opts.includeLive) continue;
    const record = records.get(runId);
    const ownedByThisProcess = record?.pid === process.pid;
    const alive = record !== undefined && !ownedByThisProcess && processAlive(record.pid);
    if (alive && !opts.includeLive) continue;
    // The lists above were read after the records: a run that started meanwhile has a ledger now.
    if (!record && !opts.includeLive && readRunRecords().some((r) => r.runId === runId)) continue;
    report.runs.push(runId);
    try {
      const bench = await reapBenchRun(runId);
      if (bench) report.benchHosts.push(describeReap(bench));
    } catch (e) {
      // Its bench host is out of reach: its records stay (here and there) for the next try; the rest goes.
      report.benchHosts.push(`${runId}: not restored yet (${(e as Error).message})`);
    }
    const ids = containers.get(runId) ?? [];
    await removeRunContainers(ids);
    report.containers.push(...ids);
    if (namespaces.includes(runId)) {
      await deleteNetns(runId);
      report.netns.push(runId);
    }
    for (const dir of workDirs.get(runId) ?? []) {
      rmSync(dir, { recursive: true, force: true });
      report.workDirs.push(dir);
    }
    rmSync(path.join(LEDGER_DIR, `${runId}.json`), { force: true });
  }
  return report;
}

/** `wirelab clean`: stale runs, then the lock files wirelab uses that nobody holds. */
export async function cleanUp(opts: { includeLive?: boolean } = {}): Promise<ReapReport> {
  const report = await reapStaleRuns(opts);
  const diskLocks = path.join(diskCacheDir(), 'locks');
  let names: string[] = [];
  try {
    names = readdirSync(diskLocks).filter((n) => n.endsWith('.lock'));
  } catch {
    // no disk image was ever built here
  }
  report.locks = removeStaleLocks([DOCKERD_LOCK, MEASURING, ...names.map((n) => path.join(diskLocks, n))]);
  return report;
}
