// Benchmark: the nested lab up and down, wirelab (startNestedLab / down) against the plain shell script
// bench/baseline/lab-lifecycle.sh doing the same work with the same cached kernel, initrd and
// traffic-host image. Runs alternate which side goes first, so a slow spell on the shared machine does
// not always hit the same side; after every cycle we check that nothing of it is left.
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, ensureDockerEngine } from '../lib/runtime/docker-engine.ts';
import { run } from '../lib/runtime/exec.ts';
import { buildReferenceImage } from '../lib/images/reference-image.ts';

import { startNestedLab } from '../lib/lab/nested/nested-lab.ts';
import { listNetns } from '../lib/lab/nested/netns.ts';
import { loadProfile } from '../lib/profile/load.ts';
import type { LabProfile } from '../lib/profile/types.ts';
import { UndoStack } from '../lib/runtime/teardown.ts';
import { ensureTrafficHostImage } from '../lib/images/traffic-host-image.ts';
import type { Benchmark, BenchOptions, BenchmarkResult } from './benchmark.ts';
import type { Side } from '../lib/core/sides.ts';

const PROFILE = fileURLToPath(new URL('../lab-profiles/nested-l2-bridge.yaml', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./baseline/lab-lifecycle.sh', import.meta.url));
const SIDES: readonly Side[] = ['left', 'right'];
/** Floors on wirelab's median (the lead's targets for this machine). */
const UP_FLOOR_MS = 10_000;
const DOWN_FLOOR_MS = 5_000;
/** Generous per-invocation budget for the script (its own inner budgets are 60 s ready, 30 s halt). */
const SCRIPT_BUDGET_MS = 180_000;

interface Cycle {
  id: string;
  upMs: number;
  downMs: number;
  /** wirelab only: QEMU start to the guest's ready line, part of upMs. */
  guestReadyMs?: number;
  /** wirelab only: ms since the start of up at which each progress message came (where up spends its time). */
  phasesMs?: Record<string, number>;
}

export const labLifecycle: Benchmark = {
  name: 'lab-lifecycle',
  baseline: 'shell',
  compares:
    'nested lab up (until guest ready and `true` ran over ssh on both traffic hosts) and down (ACPI halt + teardown): ' +
    'wirelab startNestedLab()/down() vs bench/baseline/lab-lifecycle.sh up/down, same cached images',
  run: runLabLifecycle,
};

async function runLabLifecycle(opts: BenchOptions): Promise<BenchmarkResult> {
  const profile = loadProfile(PROFILE);
  if (profile.guest.image.kind !== 'reference') throw new Error(`${PROFILE}: the bench expects a reference guest image`);

  // Build or check the cached parts once, before any timing: both sides then start from the same cache.
  opts.log('lab-lifecycle: checking the cached guest image and the traffic-host image');
  const [image, imageTag] = await Promise.all([
    buildReferenceImage(profile.guest.image.reference),
    ensureDockerEngine().then(() => ensureTrafficHostImage()),
  ]);
  const shellUpArgs = [
    '--kernel',
    image.kernel,
    '--initrd',
    image.initrd,
    '--image',
    imageTag,
    '--append',
    image.append,
    '--ready',
    profile.guest.ready.consolePattern,
    '--memory',
    String(profile.guest.memoryMiB),
    '--cpus',
    String(profile.guest.cpus),
    '--left-ip',
    profile.trafficHosts.left.ipv4,
    '--right-ip',
    profile.trafficHosts.right.ipv4,
  ];

  const wirelab: Cycle[] = [];
  const shell: Cycle[] = [];
  const loadBefore = os.loadavg();
  const total = opts.warmup + opts.runs;
  for (let i = 0; i < total; i++) {
    const timed = i >= opts.warmup;
    const label = timed ? `run ${i - opts.warmup + 1}/${opts.runs}` : `warm-up ${i + 1}/${opts.warmup}`;
    const sides = [
      { name: 'wirelab', cycle: () => wirelabCycle(profile), into: wirelab },
      { name: 'shell', cycle: () => shellCycle(shellUpArgs), into: shell },
    ];
    if (i % 2 === 1) sides.reverse();
    for (const side of sides) {
      const c = await side.cycle();
      await assertNothingLeft(c.id);
      opts.log(
        `lab-lifecycle ${label} ${side.name.padEnd(7)}: up ${(c.upMs / 1000).toFixed(2)} s, down ${(c.downMs / 1000).toFixed(2)} s (${c.id}, load ${os.loadavg()[0]!.toFixed(2)})`,
      );
      if (timed) side.into.push(c);
    }
  }

  return {
    metrics: [
      {
        metric: 'lab up',
        unit: 'ms',
        wirelab: wirelab.map((c) => c.upMs),
        baseline: shell.map((c) => c.upMs),
        floor: { kind: 'max', value: UP_FLOOR_MS },
      },
      {
        metric: 'lab down',
        unit: 'ms',
        wirelab: wirelab.map((c) => c.downMs),
        baseline: shell.map((c) => c.downMs),
        floor: { kind: 'max', value: DOWN_FLOOR_MS },
      },
    ],
    details: {
      profile: path.relative(process.cwd(), PROFILE),
      guestKernel: image.kernel,
      guestInitrd: image.initrd,
      trafficHostImage: imageTag,
      wirelabGuestReadyMs: wirelab.map((c) => c.guestReadyMs),
      wirelabUpPhasesMs: wirelab.map((c) => c.phasesMs),
      loadAverage1m: { before: loadBefore[0], after: os.loadavg()[0] },
      leftovers: 'none (checked after every cycle: netns, containers, processes, state directories)',
    },
  };
}

/** wirelab: from the startNestedLab call until both hosts ran a command over ssh; then down(). */
async function wirelabCycle(profile: LabProfile): Promise<Cycle> {
  const phasesMs: Record<string, number> = {};
  const t0 = performance.now();
  const lab = await startNestedLab(profile, {
    onProgress: (message) =>
      void (phasesMs[message.replace(/wl-[0-9a-f]{6}/, 'RUN').replace(/after [\d.]+ s/, 'after N s')] = Math.round(performance.now() - t0)),
  });
  phasesMs['startNestedLab returned'] = Math.round(performance.now() - t0);
  try {
    // startNestedLab returns once ssh is connected; a command on both hosts is what the shell waits for too.
    await Promise.all(SIDES.map((side) => lab.hosts[side].ssh.execOk(['true'], { timeoutMs: 15_000 })));
  } catch (e) {
    await lab.down().catch(() => {});
    throw e;
  }
  const upMs = performance.now() - t0;
  const t1 = performance.now();
  await lab.down();
  const downMs = performance.now() - t1;
  const halt = await lab.haltGuest(); // the report of the halt down() did
  if (!halt.graceful)
    throw new Error(`wirelab lab ${lab.runId}: the guest did not halt on the ACPI power button; the timing is not a graceful down`);
  return { id: lab.runId, upMs, downMs, guestReadyMs: lab.guest.readyAfterMs, phasesMs };
}

/** The shell script: `up` then `down`, each timed from spawn to exit. */
async function shellCycle(upArgs: string[]): Promise<Cycle> {
  const id = `wlsh-${randomBytes(3).toString('hex')}`;
  // Registered before the script starts: a failure or Ctrl-C anywhere still takes this lab down
  // (the script's own trap covers a failed `up`; `down` of a lab that is gone does nothing).
  const stack = new UndoStack(id);
  const takeDown = stack.defer(`shell lab ${id}`, async () => void (await script(['down', id])));
  try {
    const t0 = performance.now();
    await script(['up', '--id', id, ...upArgs]);
    const upMs = performance.now() - t0;
    const t1 = performance.now();
    await takeDown();
    const downMs = performance.now() - t1;
    return { id, upMs, downMs };
  } finally {
    await stack.unwind();
  }
}

function script(args: string[]) {
  return run('bash', [SCRIPT, ...args], { timeoutMs: SCRIPT_BUDGET_MS });
}

/** Fail loudly if a cycle left anything behind: its namespace, containers, processes or state directory. */
async function assertNothingLeft(id: string): Promise<void> {
  const left: string[] = [];
  if ((await listNetns()).includes(id)) left.push(`network namespace ${id}`);
  for (const label of [`wirelab.run=${id}`, `wirelab.bench=${id}`]) {
    const ps = await docker(['ps', '-aq', '--filter', `label=${label}`]);
    if (ps.stdout.trim()) left.push(`containers labelled ${label}: ${ps.stdout.trim().split('\n').join(' ')}`);
  }
  for (const pid of await processesMentioning(id)) left.push(`process ${pid}`);
  if (existsSync(path.join(os.tmpdir(), id))) left.push(`state directory ${path.join(os.tmpdir(), id)}`);
  const workDirs = (await readdir(os.tmpdir())).filter((name) => name.startsWith(`wirelab-${id}-`));
  left.push(...workDirs.map((name) => `work directory ${path.join(os.tmpdir(), name)}`));
  if (left.length > 0) throw new Error(`lab ${id} left resources behind: ${left.join('; ')}`);
}

/** Pids whose command line mentions the lab id (QEMU's -name, ip netns exec, the script). */
async function processesMentioning(id: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(id)) pids.push(Number(entry));
  }
  return pids;
}
