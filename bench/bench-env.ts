// Shared plumbing for the traffic-instrument benchmarks (injection, latency floor): a run id of the
// bench's own, a network namespace with bridges, traffic hosts on them, link counters, the scapy
// variant of the traffic-host image, and a check that a run left nothing behind.
//
// Bench runs are named `wlb-<6hex>` (netns name, container label wirelab.run=…, interface names). The
// lab reaper only knows `wl-` ids, so it never touches a bench run, and a bench run must clean up
// after itself: everything is registered on an UndoStack the moment it exists.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { docker, imageExists } from '../lib/runtime/docker-engine.ts';
import { run } from '../lib/runtime/exec.ts';
import { createBridge, createNetns, listNetns } from '../lib/lab/nested/netns.ts';
import type { UndoStack } from '../lib/runtime/teardown.ts';
import { ensureTrafficHostImage } from '../lib/images/traffic-host-image.ts';
import { startTrafficHost, type TrafficHost } from '../lib/lab/nested/traffic-host.ts';
import type { RunId } from '../lib/core/run-id.ts';
import type { Side } from '../lib/core/sides.ts';

export const BENCH_ID_PATTERN = /^wlb-[0-9a-f]{6}$/;

export function newBenchId(): string {
  return `wlb-${randomBytes(3).toString('hex')}`;
}

/** The run id a bench run's frames carry in their signatures (`wlb-1a2b3c` → `wl-1a2b3c`). */
export function benchRunId(benchId: string): RunId {
  return `wl-${benchId.slice(4)}`;
}

/** A namespace named after the bench run with the given bridges in it (removed by the stack). */
export async function createBenchNetns(benchId: string, bridges: readonly string[], stack: UndoStack): Promise<void> {
  if (!BENCH_ID_PATTERN.test(benchId)) throw new Error(`bench id ${JSON.stringify(benchId)} is not wlb-<6hex>`);
  await createNetns(benchId, stack);
  for (const bridge of bridges) await createBridge(benchId, bridge);
}

export interface BenchHostSpec {
  benchId: string;
  side: Side;
  bridge: string;
  mac: string;
  ipv4: string;
  workDir: string;
  stack: UndoStack;
  /** Default: the traffic-host image. */
  image?: string;
}

/** A traffic host exactly as the nested lab starts one (startTrafficHost), on a bridge of the bench's netns. */
export function startBenchHost(spec: BenchHostSpec): Promise<TrafficHost> {
  return startTrafficHost(
    {
      side: spec.side,
      runId: spec.benchId,
      labNetns: spec.benchId,
      bridge: spec.bridge,
      mac: spec.mac,
      ipv4: spec.ipv4,
      workDir: spec.workDir,
      image: spec.image,
    },
    spec.stack,
  );
}

export interface LinkCounters {
  rxPackets: number;
  rxDropped: number;
  txPackets: number;
  txDropped: number;
}

/** The kernel's counters of a link in a namespace (sysfs as `ip netns exec` mounts it for that namespace). */
export async function linkCounters(netns: string, ifname: string): Promise<LinkCounters> {
  const names = ['rx_packets', 'rx_dropped', 'tx_packets', 'tx_dropped'];
  const r = await run(
    'cat',
    names.map((n) => `/sys/class/net/${ifname}/statistics/${n}`),
    { netns },
  );
  const [rxPackets, rxDropped, txPackets, txDropped] = r.stdout.trim().split('\n').map(Number);
  return { rxPackets: rxPackets!, rxDropped: rxDropped!, txPackets: txPackets!, txDropped: txDropped! };
}

/**
 * The traffic-host image plus Debian's python3-scapy, built locally (`docker build --network host`,
 * apt from the image's own sources) and cached by the traffic-host image's tag. Scapy then sends from
 * the very container, NIC and veth that wirelab injects from.
 */
export async function ensureScapyImage(): Promise<string> {
  const base = await ensureTrafficHostImage();
  const tag = `wirelab/traffic-host-scapy:${base.split(':')[1]}`;
  if (await imageExists(tag)) return tag;
  const dockerfile = [
    `FROM ${base}`,
    'RUN apt-get update \\',
    ' && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-scapy \\',
    ' && apt-get clean && rm -rf /var/lib/apt/lists/*',
    '',
  ].join('\n');
  // `-` reads the Dockerfile from stdin: no build context needed. Tagged only on success.
  await docker(['build', '--network', 'host', '--label', `wirelab.recipe=${tag}`, '-t', tag, '-'], {
    input: dockerfile,
    timeoutMs: 10 * 60_000,
  });
  return tag;
}

/** Fail loudly if a bench run left its namespace, containers or processes behind. */
export async function assertNothingLeft(benchId: string): Promise<void> {
  const left: string[] = [];
  if ((await listNetns()).includes(benchId)) left.push(`network namespace ${benchId}`);
  const ps = await docker(['ps', '-aq', '--filter', `label=wirelab.run=${benchId}`]);
  if (ps.stdout.trim()) left.push(`containers labelled wirelab.run=${benchId}: ${ps.stdout.trim().split('\n').join(' ')}`);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(benchId)) left.push(`process ${entry}`);
  }
  if (existsSync(`/var/run/netns/${benchId}`)) left.push(`/var/run/netns/${benchId}`);
  const workDirs = (await readdir(os.tmpdir())).filter((name) => name.startsWith(`wirelab-${benchId}-`));
  left.push(...workDirs.map((name) => `work directory ${path.join(os.tmpdir(), name)}`));
  if (left.length > 0) throw new Error(`bench run ${benchId} left resources behind: ${left.join('; ')}`);
}

/** A scratch directory for one bench run (ssh keys, captures), removed by the stack. */
export async function benchWorkDir(benchId: string, stack: UndoStack): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `wirelab-${benchId}-`));
  stack.defer(`work directory ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Run `fn`, then unwind `stack` whatever happened, then check that nothing of the run is left.
 * When `fn` failed, its error is the one thrown (a teardown problem is logged next to it).
 */
export async function withBenchRun<T>(benchId: string, stack: UndoStack, log: (m: string) => void, fn: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await stack.unwind().catch((u: unknown) => log(`${benchId}: teardown after a failure: ${u instanceof Error ? u.message : String(u)}`));
    throw e;
  }
  await stack.unwind();
  await assertNothingLeft(benchId);
  return result;
}
