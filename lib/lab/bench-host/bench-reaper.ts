// Restoring a bench host (and its traffic hosts) from a run's ledger (bench-ledger.ts), over SSH:
//  - the run's watchdog does it the moment the run's process dies, even by SIGKILL (lib/lab/reaper.ts);
//  - the run itself does it as its last undo, also when its connection dropped (it reconnects);
//  - the next run on that bench host, and `wirelab clean --profile P`, do it for every recorded run
//    whose holder process is gone (what a dead watchdog, or a dead controller, left).
// Every step is idempotent, so a second pass (or two reapers at once) finds nothing more to do. Only
// what the ledger names is touched, and processes only by their pid, found by the run's marker in
// their command line; the management NIC is never in a ledger.
import { existsSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { WirelabError } from '../../core/errors.ts';
import { isRunId, type RunId } from '../../core/run-id.ts';
import { SIDES, type Side } from '../../core/sides.ts';
import type { LabProfile } from '../../profile/types.ts';
import { SshHost } from '../../runtime/ssh.ts';
import {
  benchRecordPath,
  holderAlive,
  readBenchRecord,
  readBenchRecords,
  readLocalBenchRecord,
  removeBenchRecord,
  removeLocalBenchRecord,
  runMarker,
  type BenchConnection,
  type BenchRunRecord,
  type SshTarget,
  type TrafficHostChange,
} from './bench-ledger.ts';
import { readNics, restoreNic } from './bench-nics.ts';
import { LocalShell, SshShell, type HostShell } from './host-shell.ts';
import { domainAlive } from './libvirt-guest.ts';
import { stopDaemon } from './libvirtd.ts';
import { keyPath } from './profile-paths.ts';

/** Runs a command on a host: a bench host's shell or a traffic host's SSH connection. */
type Runner = (argv: readonly string[]) => Promise<{ code: number; stdout: string }>;

const shellRunner =
  (shell: HostShell): Runner =>
  async (argv) => {
    const r = await shell.run(argv, { allowFailure: true, timeoutMs: 30_000 });
    return { code: r.exitCode, stdout: r.stdout };
  };

const sshRunner =
  (ssh: SshHost): Runner =>
  async (argv) => {
    const r = await ssh.exec(argv, { timeoutMs: 30_000 });
    return { code: r.code ?? -1, stdout: r.stdout.toString('utf8') };
  };

/** How long processes get for SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 2_000;

/**
 * End the run's processes on a host — captures, replays, their wrappers, the holder — found by the
 * run's marker in their command line, each by its pid. Returns what was ended.
 */
async function endMarkedProcesses(runOn: Runner, runId: RunId): Promise<string[]> {
  const marker = runMarker(runId);
  const find = async () => {
    const ps = await runOn(['ps', '-eo', 'pid=,args=']);
    return ps.stdout
      .split('\n')
      .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null && m[2]!.includes(marker))
      .map((m) => ({ pid: m[1]!, args: m[2]! }));
  };
  const found = await find();
  if (found.length === 0) return [];
  await runOn(['kill', '-TERM', ...found.map((p) => p.pid)]);
  const deadline = Date.now() + TERM_GRACE_MS;
  let left = found;
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(200);
    const now = new Set((await find()).map((p) => p.pid));
    left = left.filter((p) => now.has(p.pid));
  }
  if (left.length > 0) await runOn(['kill', '-KILL', ...left.map((p) => p.pid)]);
  return found.map((p) => `process ${p.pid} (${p.args.split(' ')[0]!.split('/').pop()})`);
}

/** Files of the run in /tmp (its run directory, captures, uploads in flight): removed by name. */
async function removeRunFiles(runOn: Runner, runId: RunId): Promise<void> {
  if (!isRunId(runId)) return; // the glob below is built from it
  await runOn(['sh', '-c', 'rm -rf -- /tmp/wirelab-"$1"-*', 'sh', runId]);
}

/** Undo one run's ledger on the bench host, newest first; the record is removed last. Returns what was undone. */
export async function restoreBenchHost(shell: HostShell, record: BenchRunRecord): Promise<string[]> {
  const done: string[] = [];
  const runOn = shellRunner(shell);
  // The guest first: its QEMU holds the taps on the bridges.
  for (const r of record.resources) {
    if (r.kind !== 'domain') continue;
    const virsh = (args: string[]) => shell.run(['virsh', '-q', '-c', r.uri, ...args], { allowFailure: true, timeoutMs: 60_000 });
    const state = await virsh(['domstate', r.name]);
    if (state.exitCode !== 0) continue;
    if (domainAlive(state.stdout.trim())) await virsh(['destroy', r.name]);
    await virsh(['undefine', r.name]);
    await shell.run(['rm', '-f', `/var/log/libvirt/qemu/${r.name}.log`], { allowFailure: true });
    done.push(`domain ${r.name}`);
  }
  done.push(...(await endMarkedProcesses(runOn, record.runId)));
  for (const r of [...record.resources].reverse()) {
    if (r.kind === 'veth') {
      if ((await shell.run(['ip', 'link', 'del', r.name], { allowFailure: true })).exitCode === 0) done.push(`veth ${r.name}`);
    } else if (r.kind === 'nic') {
      const now = (await readNics(shell)).get(r.before.name);
      // Another run's port now (its own bridge): not ours to touch.
      if (!now || (now.master !== null && now.master !== r.bridge)) continue;
      if (now.master === r.before.master && now.up === r.before.up && sameAddresses(now.addresses, r.before.addresses)) continue;
      await restoreNic(shell, r.before);
      done.push(`${r.before.name} restored (${r.before.master ? `on ${r.before.master}` : 'no bridge'}, ${r.before.up ? 'up' : 'down'})`);
    } else if (r.kind === 'bridge') {
      const show = await shell.run(['ip', '-j', 'link', 'show', 'dev', r.name], { allowFailure: true });
      if (show.exitCode !== 0) continue;
      const ifindex = (JSON.parse(show.stdout || '[]') as { ifindex?: number }[])[0]?.ifindex;
      // A bridge of that name made later (another run's) has another ifindex.
      if (r.ifindex !== undefined && ifindex !== r.ifindex) continue;
      await shell.run(['ip', 'link', 'del', r.name], { allowFailure: true });
      done.push(`bridge ${r.name}`);
    } else if (r.kind === 'daemon') {
      await stopDaemon(shell, r.name, r.pid);
    } else if (r.kind === 'file') {
      await shell.run(['rm', '-f', r.path], { allowFailure: true });
    }
  }
  await removeRunFiles(runOn, record.runId);
  await removeBenchRecord(shell, record.runId);
  return done;
}

function sameAddresses(a: { local: string; prefixlen: number }[], b: { local: string; prefixlen: number }[]): boolean {
  const key = (x: { local: string; prefixlen: number }[]) =>
    x
      .map((y) => `${y.local}/${y.prefixlen}`)
      .sort()
      .join(',');
  return key(a) === key(b);
}

/** Undo what a run changed on a traffic host: its processes, its address and route changes (newest first), its files. */
export async function restoreTrafficHost(ssh: SshHost, runId: RunId, changes: readonly TrafficHostChange[]): Promise<string[]> {
  const runOn = sshRunner(ssh);
  const done = await endMarkedProcesses(runOn, runId);
  for (const c of [...changes].reverse()) {
    const r =
      c.kind === 'address'
        ? await runOn(['ip', 'addr', 'del', c.cidr, 'dev', c.dev])
        : await runOn(['ip', 'route', 'del', c.subnet, 'via', c.via, 'dev', c.dev]);
    if (r.code === 0) done.push(c.kind === 'address' ? `${c.cidr} on ${c.dev}` : `route to ${c.subnet}`);
  }
  await removeRunFiles(runOn, runId);
  return done;
}

/** A shell to the bench host a local record names. */
export async function benchShell(bench: BenchConnection): Promise<HostShell> {
  if (bench.connection === 'local') return new LocalShell(bench.netns);
  return SshShell.connect({ ...bench.ssh, field: 'host.ssh.privateKeyFile' });
}

/** An SSH connection to a traffic host as a record or profile names it. */
export async function connectTarget(target: SshTarget, label: string): Promise<SshHost> {
  if (!target.privateKeyFile)
    throw new WirelabError(`${label}: no private key file is recorded, so wirelab cannot log in there. Fix: set its ssh.privateKeyFile.`);
  const privateKey = await readFile(target.privateKeyFile, 'utf8');
  return new SshHost().connect({
    label,
    host: target.address,
    port: target.port,
    username: target.user,
    privateKey,
    hostKey: target.hostKey,
  });
}

export interface BenchReap {
  runId: RunId;
  bench: string[];
  trafficHosts: Partial<Record<Side, string[]>>;
}

/**
 * Reap a run by its id from this machine's record of it (the run's owner is gone, or its connection
 * was): the bench host over a fresh connection, then each traffic host. Undefined when the run has no
 * bench-host record here. Throws when the bench host cannot be reached: the record then stays, for
 * `wirelab clean` or the next run.
 */
export async function reapBenchRun(runId: RunId): Promise<BenchReap | undefined> {
  const local = readLocalBenchRecord(runId);
  if (!local) return undefined;
  // A simulated local bench host whose namespace is gone took everything of the run in it along.
  if (local.bench.connection === 'local' && local.bench.netns && !existsSync(`/run/netns/${local.bench.netns}`)) {
    // Its ledger is this machine's file (a local bench host's files are this machine's).
    rmSync(benchRecordPath(runId), { force: true });
    removeLocalBenchRecord(runId);
    return { runId, bench: [`network namespace ${local.bench.netns} is gone, and the run's bench host with it`], trafficHosts: {} };
  }
  const shell = await benchShell(local.bench);
  const reap: BenchReap = { runId, bench: [], trafficHosts: {} };
  try {
    const record = (await readBenchRecord(shell, runId)) ?? local.record;
    reap.bench = await restoreBenchHost(shell, record);
    for (const side of SIDES) {
      const target = local.trafficHosts[side];
      if (!target) continue;
      const changes = record.trafficHosts[side]?.changes ?? local.record.trafficHosts[side]?.changes ?? [];
      const ssh = await connectTarget(target, `traffic host '${side}' (${target.address})`);
      try {
        reap.trafficHosts[side] = await restoreTrafficHost(ssh, runId, changes);
      } finally {
        await ssh.close();
      }
    }
  } finally {
    await shell.close();
  }
  removeLocalBenchRecord(runId);
  return reap;
}

/**
 * Restore every run recorded on this bench host whose holder is gone (it died, and nobody restored
 * it yet): before a new run changes anything, and for `wirelab clean --profile`. The traffic hosts
 * (`trafficHosts`, by the address the record names) are restored too where given.
 */
export async function reapDeadBenchRuns(
  shell: HostShell,
  opts: {
    trafficHosts?: Partial<Record<Side, { ssh: SshHost; address: string }>>;
    except?: RunId;
    progress?: (m: string) => void;
  } = {},
): Promise<BenchReap[]> {
  const reaps: BenchReap[] = [];
  for (const record of await readBenchRecords(shell)) {
    if (record.runId === opts.except || (record.netns ?? '') !== shell.netns || (await holderAlive(shell, record))) continue;
    opts.progress?.(`restoring what the dead run ${record.runId} left on ${shell.label}`);
    const reap: BenchReap = { runId: record.runId, bench: await restoreBenchHost(shell, record), trafficHosts: {} };
    for (const side of SIDES) {
      const host = opts.trafficHosts?.[side];
      const recorded = record.trafficHosts[side];
      // Only the host the dead run used (the profile may name another one now).
      if (host && recorded && recorded.address === host.address)
        reap.trafficHosts[side] = await restoreTrafficHost(host.ssh, record.runId, recorded.changes);
    }
    removeLocalBenchRecord(record.runId);
    reaps.push(reap);
  }
  return reaps;
}

/** One line for people: what a reap undid. */
export function describeReap(reap: BenchReap): string {
  const hosts = SIDES.filter((s) => reap.trafficHosts[s]?.length).map((s) => `${s} host: ${reap.trafficHosts[s]!.join(', ')}`);
  const parts = [reap.bench.length > 0 ? `bench host: ${reap.bench.join(', ')}` : 'bench host: nothing left', ...hosts];
  return `${reap.runId}: ${parts.join('; ')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}

/**
 * `wirelab clean --profile P`: the runs recorded on P's bench host whose holder is gone, restored —
 * the bench host and, where they answer, P's traffic hosts. Live runs are left alone.
 */
export async function reapDeadRunsOfProfile(
  profile: LabProfile,
  progress: (m: string) => void = () => {},
): Promise<{ label: string; reaps: BenchReap[]; unreachable: string[] }> {
  const bench = profile.host!;
  const profileDir = path.dirname(profile.file);
  const shell: HostShell =
    bench.connection === 'ssh'
      ? await SshShell.connect({
          ...bench.ssh!,
          privateKeyFile: keyPath(bench.ssh!.privateKeyFile, profileDir),
          field: 'host.ssh.privateKeyFile',
        })
      : new LocalShell(bench.netns ?? '');
  const hosts: Partial<Record<Side, { ssh: SshHost; address: string }>> = {};
  const unreachable: string[] = [];
  try {
    for (const side of SIDES) {
      const t = profile.trafficHosts[side].ssh;
      if (!t) continue;
      const label = `traffic host '${side}' (${t.address})`;
      try {
        hosts[side] = {
          ssh: await connectTarget({ ...t, privateKeyFile: keyPath(t.privateKeyFile, profileDir) }, label),
          address: t.address,
        };
      } catch (e) {
        unreachable.push(`${label}: ${(e as Error).message}`);
      }
    }
    const reaps = await reapDeadBenchRuns(shell, { trafficHosts: hosts, progress });
    return { label: shell.label, reaps, unreachable };
  } finally {
    for (const h of Object.values(hosts)) await h?.ssh.close();
    await shell.close();
  }
}
