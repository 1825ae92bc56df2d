// The bench host's own ledger of a run: before the first change, wirelab writes on the bench host
// (and keeps a copy on this machine) the state of the data NICs and everything the run is about to
// create there — bridges, the libvirt domain, started daemons, partial uploads — and what it changes on
// the traffic hosts (addresses, routes). Each entry is written *before* the change it names, so a run
// that dies at any moment, even by SIGKILL or a lost connection, leaves a ledger that says what to
// undo (bench-reaper.ts undoes it).
//
// Whether a recorded run is still alive is asked of the bench host itself: the run keeps a holder
// process there that lives exactly as long as the run's SSH connection. Any controller (this machine
// or another) can so tell a dead run's ledger from a live one's.
//
// On the bench host: /var/lib/wirelab/bench-runs/<run id>.json (kept across reboots: a defined domain
// outlives one). On this machine: <ledger dir>/bench-hosts/<run id>.json, the same record plus how to
// reach the hosts again (addresses, pinned keys, key files), which the run's watchdog uses.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { isRunId, type RunId } from '../../core/run-id.ts';
import type { Side } from '../../core/sides.ts';
import { LEDGER_DIR } from '../../runtime/ledger.ts';
import type { NicState } from './bench-nics.ts';
import type { HostShell } from './host-shell.ts';

/** On the bench host. */
export const BENCH_RUNS_DIR = '/var/lib/wirelab/bench-runs';
/** On this machine. */
export const LOCAL_BENCH_RECORDS = path.join(LEDGER_DIR, 'bench-hosts');

/** Something a run creates or changes on the bench host, recorded before it is made. */
export type BenchResource =
  | { kind: 'bridge'; name: string; ifindex?: number }
  | { kind: 'nic'; before: NicState; bridge: string }
  | { kind: 'veth'; name: string }
  | { kind: 'domain'; name: string; uri: string }
  | { kind: 'daemon'; name: string; pid: number }
  | { kind: 'file'; path: string };

/** Something a run changes on a traffic host's data NIC. */
export type TrafficHostChange =
  { kind: 'address'; cidr: string; dev: string } | { kind: 'route'; subnet: string; via: string; dev: string };

export interface BenchRunRecord {
  runId: RunId;
  startedAt: string;
  /** The machine and process running the lab (for people reading the ledger). */
  controller: { host: string; pid: number };
  /**
   * The network namespace the bench host's commands ran in ('' for the host's own, always over SSH):
   * simulated local bench hosts share this machine's ledger directory, each reaps only its own runs.
   */
  netns: string;
  /** The holder process on the bench host: alive exactly while the run's connection is. */
  holderPid?: number;
  /** In the order they were made; undone newest first. */
  resources: BenchResource[];
  trafficHosts: Partial<Record<Side, { address: string; changes: TrafficHostChange[] }>>;
}

/** How to reach a host again, as the profile said (the key file as an absolute path). */
export interface SshTarget {
  address: string;
  port: number;
  user: string;
  hostKey: string;
  privateKeyFile?: string;
}

export type BenchConnection = { connection: 'ssh'; ssh: SshTarget } | { connection: 'local'; netns: string };

/** This machine's copy: the record, and how its watchdog reaches the hosts. */
export interface LocalBenchRecord {
  record: BenchRunRecord;
  profile: string;
  bench: BenchConnection;
  trafficHosts: Partial<Record<Side, SshTarget>>;
}

export const benchRecordPath = (runId: RunId) => `${BENCH_RUNS_DIR}/${runId}.json`;
const localRecordPath = (runId: RunId) => path.join(LOCAL_BENCH_RECORDS, `${runId}.json`);
/** Marks every process and file of the run on a host, in its command line or name: `wirelab-<run id>`. */
export const runMarker = (runId: RunId) => `wirelab-${runId}`;
/** The holder's name in its command line: found by the run's marker too. */
export const holderName = (runId: RunId) => `${runMarker(runId)}-holder`;

export class BenchLedger {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly shell: HostShell,
    readonly record: BenchRunRecord,
    private readonly local: Omit<LocalBenchRecord, 'record'>,
    private readonly holder: { release(): void },
  ) {}

  /** Start the holder, then write the ledger on the bench host and here; nothing on the host has changed yet. */
  static async open(opts: {
    shell: HostShell;
    runId: RunId;
    profile: string;
    bench: BenchConnection;
    trafficHosts: Partial<Record<Side, SshTarget>>;
  }): Promise<BenchLedger> {
    const holder = await opts.shell.hold([holderName(opts.runId)]);
    const record: BenchRunRecord = {
      runId: opts.runId,
      startedAt: new Date().toISOString(),
      controller: { host: hostname(), pid: process.pid },
      netns: opts.shell.netns,
      holderPid: holder.pid,
      resources: [],
      trafficHosts: Object.fromEntries(
        Object.entries(opts.trafficHosts).map(([side, t]) => [side, { address: t!.address, changes: [] }]),
      ) as BenchRunRecord['trafficHosts'],
    };
    const ledger = new BenchLedger(
      opts.shell,
      record,
      { profile: opts.profile, bench: opts.bench, trafficHosts: opts.trafficHosts },
      holder,
    );
    try {
      await ledger.save();
    } catch (e) {
      // Nothing was changed on the host: the holder goes, and whatever part of the record was written.
      holder.release();
      await removeBenchRecord(opts.shell, opts.runId).catch(() => undefined);
      removeLocalBenchRecord(opts.runId);
      throw e;
    }
    return ledger;
  }

  /** Record a resource before it is made. */
  async creating(resource: BenchResource): Promise<void> {
    this.record.resources.push(resource);
    await this.save();
  }

  /** Complete what was recorded before it existed (e.g. a bridge's ifindex, which tells it from a later one of the same name). */
  async created<K extends BenchResource['kind']>(
    kind: K,
    name: string,
    facts: Partial<Extract<BenchResource, { kind: K }>>,
  ): Promise<void> {
    const entry = [...this.record.resources].reverse().find((r) => r.kind === kind && 'name' in r && r.name === name);
    if (!entry) return;
    Object.assign(entry, facts);
    await this.save();
  }

  /** Record a change on a traffic host before it is made. */
  async changingTrafficHost(side: Side, change: TrafficHostChange): Promise<void> {
    this.record.trafficHosts[side]?.changes.push(change);
    await this.save();
  }

  /** The run has undone everything: end the holder and remove both copies. */
  async remove(shell: HostShell = this.shell): Promise<void> {
    await this.writing.catch(() => undefined);
    await removeBenchRecord(shell, this.record.runId);
    removeLocalBenchRecord(this.record.runId);
    try {
      this.holder.release();
    } catch {
      // its connection is gone already, and the holder with it
    }
  }

  /** Both copies, written whole (one write at a time, in order). */
  private save(): Promise<void> {
    const next = this.writing.then(async () => {
      const text = JSON.stringify(this.record);
      await writeBenchFile(this.shell, benchRecordPath(this.record.runId), text);
      writeLocalBenchRecord({ record: this.record, ...this.local });
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}

/** Write a file on the bench host whole: to a temporary name, then renamed (a reader never sees half of it). */
async function writeBenchFile(shell: HostShell, file: string, text: string): Promise<void> {
  await shell.run(['sh', '-c', 'mkdir -p -m 0700 "$(dirname "$1")" && cat > "$1.tmp" && mv -f "$1.tmp" "$1"', 'sh', file], {
    input: Buffer.from(text),
    timeoutMs: 20_000,
  });
}

export async function removeBenchRecord(shell: HostShell, runId: RunId): Promise<void> {
  await shell.run(['rm', '-f', benchRecordPath(runId), `${benchRecordPath(runId)}.tmp`], { timeoutMs: 20_000 });
}

/** Every run recorded on the bench host (a torn or foreign file is skipped). */
export async function readBenchRecords(shell: HostShell): Promise<BenchRunRecord[]> {
  const ls = await shell.run(['ls', '-1', BENCH_RUNS_DIR], { allowFailure: true, timeoutMs: 20_000 });
  if (ls.exitCode !== 0) return [];
  const ids = ls.stdout
    .split('\n')
    .map((n) => n.trim().replace(/\.json$/, ''))
    .filter(isRunId);
  const records: BenchRunRecord[] = [];
  for (const runId of ids) {
    const record = await readBenchRecord(shell, runId);
    if (record) records.push(record);
  }
  return records;
}

export async function readBenchRecord(shell: HostShell, runId: RunId): Promise<BenchRunRecord | undefined> {
  const r = await shell.run(['cat', benchRecordPath(runId)], { allowFailure: true, timeoutMs: 20_000 });
  if (r.exitCode !== 0) return undefined;
  try {
    const record = JSON.parse(r.stdout) as BenchRunRecord;
    return record.runId === runId && Array.isArray(record.resources) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the run's holder still runs on the bench host (its pid, checked by its name: a pid may be reused). */
export async function holderAlive(shell: HostShell, record: BenchRunRecord): Promise<boolean> {
  if (!record.holderPid) return false;
  const r = await shell.run(['cat', `/proc/${record.holderPid}/cmdline`], { allowFailure: true, timeoutMs: 20_000 });
  return r.exitCode === 0 && r.stdout.split('\0').includes(holderName(record.runId));
}

function writeLocalBenchRecord(local: LocalBenchRecord): void {
  mkdirSync(LOCAL_BENCH_RECORDS, { recursive: true, mode: 0o700 });
  const file = localRecordPath(local.record.runId);
  writeFileSync(`${file}.tmp`, JSON.stringify(local), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function readLocalBenchRecord(runId: RunId): LocalBenchRecord | undefined {
  try {
    const local = JSON.parse(readFileSync(localRecordPath(runId), 'utf8')) as LocalBenchRecord;
    return local.record?.runId === runId ? local : undefined;
  } catch {
    return undefined;
  }
}

export function removeLocalBenchRecord(runId: RunId): void {
  rmSync(localRecordPath(runId), { force: true });
  rmSync(`${localRecordPath(runId)}.tmp`, { force: true });
}

/** Run ids with a bench-host record on this machine. */
export function localBenchRunIds(): RunId[] {
  try {
    return readdirSync(LOCAL_BENCH_RECORDS)
      .map((n) => n.replace(/\.json$/, ''))
      .filter(isRunId);
  } catch {
    return [];
  }
}
