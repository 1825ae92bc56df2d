// Benchmark: the whole default L2 qualification, wirelab against the shell script a network engineer
// would otherwise write. wirelab: `wirelab run` on the default profile — the default suites (l2-bridge
// with readiness, emissions and image hygiene, and its vRouter MAC case), Allure report rendered —
// timed from spawn to exit. Baseline: bench/baseline/l2-qualification.sh doing the same checks
// (bring-up with ping/scapy traffic, tcpdump on the same four points, scapy analysis, ACPI halt,
// teardown) on the same cached guest kernel/initrd and traffic-host image (plus scapy). The contract's
// cases are the same on both sides: one seed per bench run, passed to `wirelab run --seed`, and the
// test plan `wirelab plan --seed --json` writes for it (made once, untimed) is the script's input.
// Both must pass: a timing of a failed qualification means nothing. Runs alternate which side goes
// first. With --before REV, wirelab at that revision is timed too, in the same rounds (the growth row).
// Floors: wirelab's median at most half the script's (same run), and at most 1.5× the run's physical
// floor — what no tool can shorten: the guest boots and halts on its critical path and the frames'
// own time at the rates asked (lib/runtime/phases.ts records them; "where the time goes" below).
import { randomInt } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ensureDockerEngine } from '../lib/runtime/docker-engine.ts';
import { buildReferenceImage } from '../lib/images/reference-image.ts';
import { planContract } from '../lib/contracts/plan.ts';
import { runTag, type RunId } from '../lib/core/run-id.ts';
import { flow } from '../lib/frames/flow.ts';
import { referenceImageArguments } from '../lib/lab/reference-arguments.ts';
import { CASE_FRAMES, CASE_RATE_PPS, contractSettingsOf } from '../lib/traffic/contract-traffic.ts';
import type { LabProfile } from '../lib/profile/types.ts';
import { loadProfile } from '../lib/profile/load.ts';
import type { Benchmark, BenchmarkResult, BenchOptions } from './benchmark.ts';
import { ensureScapyImage } from './bench-env.ts';
import { summarize } from './stats.ts';
import { parsePhases } from '../lib/runtime/phases.ts';
import { physicalFloorMs, wallTimeByPhase } from './phase-breakdown.ts';

const PROFILE = fileURLToPath(new URL('../lab-profiles/nested-l2-bridge.yaml', import.meta.url));
const CLI = fileURLToPath(new URL('../bin/wirelab.mjs', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./baseline/l2-qualification.sh', import.meta.url));
const SCAPY_HELPER = fileURLToPath(new URL('./baseline/l2-scapy.py', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));
const MAX_RUNS = 9;
/** Both take one to two minutes on 2 cores; this bounds a stuck one. */
const JOB_TIMEOUT_MS = 15 * 60_000;
/** wirelab must be at least this many times faster than the script (median against median). */
const SPEEDUP_FLOOR = 2;
/** wirelab's median wall time at most this many times its median physical floor. */
const PHYSICAL_FLOOR_RATIO = 1.5;
/** With --before: wirelab's median wall time at most this many times that revision's (issue #20: +25 % at most). */
const GROWTH_CEILING = 1.25;

export const defaultSuite: Benchmark = {
  name: 'default-suite',
  baseline: 'shell script',
  compares:
    'the whole default L2 qualification on the nested lab: `wirelab run` (default suites, Allure report) vs bench/baseline/l2-qualification.sh doing the same ' +
    `checks (bash + ssh + tcpdump + scapy): wall time, both passing; floor: wirelab ≥ ${SPEEDUP_FLOOR}× faster (medians, same run)`,
  run: measureDefaultSuite,
};

interface Sample {
  ms: number;
  /** Seconds per test file (wirelab) or per check (the script), for the JSON report. */
  parts: Record<string, number>;
  /** Where the wall time went, seconds by phase (sums to the wall time). */
  breakdown: Record<string, number>;
  /** wirelab only: the run's physical floor, ms. */
  floorMs?: number;
}

async function measureDefaultSuite(opts: BenchOptions): Promise<BenchmarkResult> {
  const profile = loadProfile(PROFILE);
  if (profile.guest.image.kind !== 'reference') throw new Error(`${PROFILE}: the bench expects a reference guest image`);
  opts.log('default-suite: checking the cached guest image and the traffic-host images');
  await ensureDockerEngine();
  const [image, scapyImage] = await Promise.all([buildReferenceImage(profile.guest.image.reference), ensureScapyImage()]);
  const seed = opts.seed ?? randomInt(0, 2 ** 32);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-bench-default-suite-'));
  const wirelab: Sample[] = [];
  const shell: Sample[] = [];
  const earlier: Sample[] = [];
  const retries: { run: string; why: string }[] = [];
  let cases = 0;
  try {
    // The test plan as the script's user has it: data, made once per bench run, not timed.
    const plan = path.join(dir, 'plan.json');
    await execa(process.execPath, [CLI, 'plan', '--profile', PROFILE, '--seed', String(seed), '--json', plan]);
    cases = (JSON.parse(readFileSync(plan, 'utf8')) as { cases: unknown[] }).cases.length;
    opts.log(`default-suite: frame space seed ${seed}, ${cases} contract cases on both sides (replay: --seed ${seed})`);
    await checkScriptFrames(profile, plan, seed, opts);
    const scriptArgs = [
      '--kernel',
      image.kernel,
      '--initrd',
      image.initrd,
      '--append',
      [image.append, ...referenceImageArguments(profile)].join(' '),
      '--image',
      scapyImage,
      '--plan',
      plan,
      '--ready',
      profile.guest.ready.consolePattern,
      '--memory',
      String(profile.guest.memoryMiB),
      '--cpus',
      String(profile.guest.cpus),
    ];
    const current: WirelabCheckout = { root: REPO, env: {} };
    const before = opts.before ? await checkoutOf(opts.before, path.join(dir, 'before'), opts) : undefined;

    const runs = Math.min(opts.runs, MAX_RUNS);
    for (let i = 1; i <= runs; i++) {
      const sides = [
        { name: 'wirelab', into: wirelab, sample: () => wirelabRun(current, path.join(dir, `run-${i}`), seed) },
        { name: 'shell', into: shell, sample: () => scriptRun(scriptArgs) },
        ...(before ? [{ name: opts.before!, into: earlier, sample: () => wirelabRun(before, path.join(dir, `before-${i}`)) }] : []),
      ];
      // Each side goes first in turn.
      const order = [...sides.slice((i - 1) % sides.length), ...sides.slice(0, (i - 1) % sides.length)];
      for (const side of order) {
        const s = await sampleOf(side, `default-suite run ${i}/${runs} ${side.name}`, retries, opts);
        side.into.push(s);
        opts.log(
          `default-suite run ${i}/${runs} ${side.name.padEnd(7)}: ${(s.ms / 1000).toFixed(1)} s (load ${os.loadavg()[0]!.toFixed(2)})`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const floor = summarize(shell.map((s) => s.ms)).median / SPEEDUP_FLOOR;
  const physical = wirelab.map((s) => s.floorMs ?? 0);
  const physicalMedian = summarize(physical).median;
  opts.log(`default-suite: where the time goes (medians, s) — wirelab: ${describeBreakdown(wirelab)}`);
  opts.log(`default-suite: where the time goes (medians, s) — shell:   ${describeBreakdown(shell)}`);
  opts.log(
    `default-suite: physical floor ${(physicalMedian / 1000).toFixed(1)} s (guest boots + frames at the rates asked + halt); ` +
      `wirelab ${(summarize(wirelab.map((s) => s.ms)).median / physicalMedian).toFixed(2)}× it`,
  );
  return {
    metrics: [
      {
        metric: `whole default L2 suite, wall time (floor: ${SPEEDUP_FLOOR}× faster)`,
        unit: 'ms',
        wirelab: wirelab.map((s) => s.ms),
        baseline: shell.map((s) => s.ms),
        floor: { kind: 'max', value: floor },
      },
      {
        // The baseline column here is the physical floor itself: the ratio column reads floor/wirelab.
        metric: `the same vs its physical floor (floor: ≤ ${PHYSICAL_FLOOR_RATIO}× the floor)`,
        unit: 'ms',
        wirelab: wirelab.map((s) => s.ms),
        baseline: physical,
        floor: { kind: 'max', value: physicalMedian * PHYSICAL_FLOOR_RATIO },
      },
      ...(opts.before
        ? [
            {
              // The baseline column here is wirelab at that revision, run in the same rounds.
              metric: `the same vs wirelab at ${opts.before} (floor: ≤ ${GROWTH_CEILING}× its wall time)`,
              unit: 'ms' as const,
              wirelab: wirelab.map((s) => s.ms),
              baseline: earlier.map((s) => s.ms),
              floor: { kind: 'max' as const, value: summarize(earlier.map((s) => s.ms)).median * GROWTH_CEILING },
            },
          ]
        : []),
    ],
    details: {
      profile: path.relative(process.cwd(), PROFILE),
      seed,
      contractCases: cases,
      retriedAfterAFailure: retries,
      cpus: os.cpus().length,
      wirelabSecondsPerSuiteFile: wirelab.map((s) => s.parts),
      shellSecondsPerCheck: shell.map((s) => s.parts),
      ...(opts.before ? { before: { revision: opts.before, wallMs: earlier.map((s) => s.ms) } } : {}),
      wirelabBreakdown: wirelab.map((s) => s.breakdown),
      shellBreakdown: shell.map((s) => s.breakdown),
      physicalFloorMs: physical,
      note:
        'wirelab runs its suite files in parallel vitest workers (one per CPU), a lab each, with the timed load test alone on the machine; ' +
        'the script runs its checks one after the other on one lab (plus a second lab for the vRouter MAC case), as a script would',
    },
  };
}

/**
 * The same checks need the same frames: every case's frames as the script builds them with scapy from
 * the plan must be byte for byte wirelab's (lib/contracts/case-frames.ts), for the same addresses, run
 * tag and flow ids. Checked before any timing; a difference names the case and the first byte.
 */
async function checkScriptFrames(profile: LabProfile, planFile: string, seed: number, opts: BenchOptions): Promise<void> {
  const runId: RunId = 'wl-5a17e5';
  const hosts = {
    left: { mac: '02:00:00:00:00:01', ipv4: profile.trafficHosts.left.ipv4, ipv6: profile.trafficHosts.left.ipv6 },
    right: { mac: '02:00:00:00:00:02', ipv4: profile.trafficHosts.right.ipv4, ipv6: profile.trafficHosts.right.ipv6 },
  };
  const unknownMac = '02:00:00:00:0d:0d';
  const plan = planContract(
    contractSettingsOf(profile),
    { hosts, guestMacs: { left: '02:00:00:00:01:01', right: '02:00:00:00:01:02' }, unknownMac },
    seed,
  );
  const t0 = performance.now();
  const r = await execa(
    '/usr/bin/python3',
    [
      SCAPY_HELPER,
      'frames',
      'functional',
      '--run-id',
      String(runTag(runId)),
      ...(['left', 'right'] as const).flatMap((side) => [`--${side}-mac`, hosts[side].mac, `--${side}-ip`, hosts[side].ipv4]),
      '--plan',
      planFile,
      '--unknown-mac',
      unknownMac,
    ],
    { maxBuffer: 256 * 1024 * 1024, reject: false },
  );
  if (r.exitCode !== 0) throw new Error(`bench/baseline/l2-scapy.py frames failed (exit ${r.exitCode}): ${lastLines(String(r.stderr))}`);
  const script = new Map(r.stdout.split('\n').map((line) => [line.slice(0, line.lastIndexOf(' ')), line.slice(line.lastIndexOf(' ') + 1)]));
  const differing: string[] = [];
  let frames = 0;
  for (const c of plan.cases) {
    const frameFlow = flow({
      template: c.frame.template,
      runId,
      flowId: c.index,
      count: CASE_FRAMES,
      ratePps: CASE_RATE_PPS,
      size: c.frame.size,
    });
    for (const f of frameFlow) {
      frames++;
      const ours = f.data.toString('hex');
      const theirs = script.get(`${c.index} ${f.seq}`) ?? '';
      if (ours === theirs) continue;
      let at = 0;
      while (at < ours.length && ours[at] === theirs[at]) at++;
      differing.push(`${c.name} frame ${f.seq}: byte ${Math.floor(at / 2)} (${theirs.length / 2} bytes, wirelab ${ours.length / 2})`);
      break;
    }
  }
  if (differing.length > 0)
    throw new Error(
      `the shell baseline builds ${differing.length} of ${plan.cases.length} cases differently from wirelab, e.g. ${differing.slice(0, 2).join('; ')}: ` +
        'make bench/baseline/l2-scapy.py build them as lib/contracts/case-frames.ts does',
    );
  opts.log(
    `default-suite: the script's ${frames} case frames are byte for byte wirelab's (checked in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
}

/** Tries per sample: a failed qualification's time means nothing, and on a shared machine a latency bound can fail by chance. */
const ATTEMPTS = 3;

/** A side's sample, tried up to ATTEMPTS times; each failure is logged and kept for the JSON report. */
async function sampleOf(
  side: { name: string; sample: () => Promise<Sample> },
  label: string,
  retries: { run: string; why: string }[],
  opts: BenchOptions,
): Promise<Sample> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await side.sample();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      if (attempt >= ATTEMPTS) throw new Error(`${label}: failed ${ATTEMPTS} times, last: ${why}`);
      opts.log(`${label}: failed, trying again (${why.slice(0, 300)})`);
      retries.push({ run: label, why });
    }
  }
}

/** A wirelab to run: this checkout, or a copy of an earlier revision. */
interface WirelabCheckout {
  root: string;
  env: Record<string, string>;
}

/**
 * A copy of wirelab at `revision` (`git archive`, this checkout's node_modules linked in, and this
 * checkout's image cache: its entries are named by the digest of their inputs), with one untimed run
 * so that the images it needs are built before any timing.
 */
async function checkoutOf(revision: string, root: string, opts: BenchOptions): Promise<WirelabCheckout> {
  const commit = await execa('git', ['rev-parse', '--verify', '--quiet', `${revision}^{commit}`], { cwd: REPO, reject: false });
  if (commit.exitCode !== 0) throw new Error(`--before ${revision}: not a commit of this repository; use a commit id, branch or tag`);
  mkdirSync(root);
  await execa('sh', ['-c', 'git archive --format=tar "$1" | tar -x -C "$2"', 'archive', commit.stdout.trim(), root], { cwd: REPO });
  symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
  const checkout: WirelabCheckout = {
    root,
    env: { WIRELAB_CACHE_DIR: process.env.WIRELAB_CACHE_DIR || path.join(REPO, 'images', 'cache') },
  };
  opts.log(`default-suite: wirelab at ${revision} (${commit.stdout.trim().slice(0, 12)}): one untimed run first (builds its images)`);
  // Only its images matter here: a failed test (a busy machine's latency) does not stop the bench.
  await wirelabRun(checkout, path.join(root, 'warm-up')).catch((e: unknown) =>
    opts.log(`default-suite: the untimed run of ${revision} failed (${e instanceof Error ? e.message : String(e)}); its images are built`),
  );
  return checkout;
}

/**
 * `wirelab run` as a user runs it (with the bench's seed where given); its per-file durations come from
 * the JSON results, its phases from WIRELAB_PHASES.
 */
async function wirelabRun(checkout: WirelabCheckout, reportDir: string, seed?: number): Promise<Sample> {
  const json = `${reportDir}.json`;
  const phasesFile = `${reportDir}.phases`;
  const cli = path.join(checkout.root, 'bin', 'wirelab.mjs');
  const profile = path.join(checkout.root, 'lab-profiles', 'nested-l2-bridge.yaml');
  const seedArgs = seed === undefined ? [] : ['--seed', String(seed)];
  const startMs = Date.now();
  const t0 = performance.now();
  const r = await execa(process.execPath, [cli, 'run', '--profile', profile, ...seedArgs, '--report-dir', reportDir, '--json', json], {
    reject: false,
    all: true,
    timeout: JOB_TIMEOUT_MS,
    cwd: checkout.root,
    env: { ...checkout.env, WIRELAB_PHASES: phasesFile },
  });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) {
    // The whole failure (each failed test's message and details) stays beside the bench's JSON report.
    const kept = keepFailedResults(json);
    throw new Error(`wirelab run exited ${r.exitCode}: ${failedLines(String(r.all))}${kept ? ` (results: ${kept})` : ''}`);
  }
  const results = JSON.parse(readFileSync(json, 'utf8')) as { testResults: { name: string; startTime: number; endTime: number }[] };
  const parts = Object.fromEntries(results.testResults.map((f) => [path.basename(f.name), round1((f.endTime - f.startTime) / 1000)]));
  const phases = parsePhases(readFileSync(phasesFile, 'utf8'));
  return { ms, parts, breakdown: wallTimeByPhase(phases, startMs, startMs + ms), floorMs: physicalFloorMs(phases) };
}

/** A failed run's JSON results, copied to reports/bench/ (the bench's work directory is removed at the end). */
function keepFailedResults(json: string): string | undefined {
  if (!existsSync(json)) return undefined;
  const dir = path.resolve('reports', 'bench');
  mkdirSync(dir, { recursive: true });
  const kept = path.join(dir, `default-suite-failed-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  copyFileSync(json, kept);
  return kept;
}

/** The script; its `PASS <check> (<s> s)` lines give the per-check durations. */
async function scriptRun(args: string[]): Promise<Sample> {
  const t0 = performance.now();
  const r = await execa('bash', [SCRIPT, ...args], { reject: false, all: true, timeout: JOB_TIMEOUT_MS });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`the shell baseline exited ${r.exitCode}: ${lastLines(String(r.all))}`);
  const parts: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/^PASS (.+) \(([\d.]+) s\)$/gm)) parts[m[1]!] = Number(m[2]);
  return { ms, parts, breakdown: scriptBreakdown(String(r.stderr), parts, ms) };
}

/**
 * The script's time by what it does: its main lab's bring-up (its "lab … up in N s" line), the
 * traffic checks (send, capture, settle, analyze — one process each, not separable), the vRouter
 * lab (a second boot, in sequence), readiness, and image hygiene with the halt.
 */
function scriptBreakdown(stderr: string, parts: Record<string, number>, ms: number): Record<string, number> {
  const up = Number(/^lab \S+ up in ([\d.]+) s$/m.exec(stderr)?.[1] ?? 0);
  const known = ['readiness', 'vrouter-same-mac', 'image-hygiene'];
  const traffic = Object.entries(parts)
    .filter(([name]) => !known.includes(name))
    .reduce((sum, [, s]) => sum + s, 0);
  const out: Record<string, number> = {
    'boot (main lab)': up,
    readiness: parts.readiness ?? 0,
    'traffic checks (send, capture, analysis)': round1(traffic),
    'vRouter lab (boot, traffic, halt)': parts['vrouter-same-mac'] ?? 0,
    'image hygiene (incl. halt)': parts['image-hygiene'] ?? 0,
  };
  const accounted = Object.values(out).reduce((a, b) => a + b, 0);
  out['other (start-up, teardown)'] = round1(Math.max(0, ms / 1000 - accounted));
  return out;
}

/** Median seconds per phase over the samples, as "boot 8.1, traffic 5.2, …". */
function describeBreakdown(samples: Sample[]): string {
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.breakdown)))];
  return names.map((n) => `${n} ${summarize(samples.map((s) => s.breakdown[n] ?? 0)).median.toFixed(1)}`).join(', ');
}

const lastLines = (text: string) => text.trim().split('\n').slice(-6).join(' | ');
/** The failed tests' lines of `wirelab run`'s output (its verdict table), else its last lines. */
function failedLines(text: string): string {
  const failed = text.split('\n').filter((line) => /^FAIL\s/.test(line));
  return failed.length > 0 ? failed.slice(0, 4).join(' | ') : lastLines(text);
}
const round1 = (x: number) => Math.round(x * 10) / 10;
