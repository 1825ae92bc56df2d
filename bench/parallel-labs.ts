// Benchmark: the main job twice, as two labs at once against one after the other. Each unit of work
// is `wirelab run` of the default suites on the default profile — its own lab (own run id, namespace,
// bridges, containers) and its own report directory — in a process of its own, as two CI jobs or two
// developers on one bench machine would run it. wirelab: both at once, wall time until both finish;
// baseline: the same two in sequence. Floor: at runtime, 0.9 × the sequential median ("clearly less").
// Coarse work (minutes per sample): at most 3 timed runs, no warm-up.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { Benchmark, BenchmarkResult, BenchOptions } from './benchmark.ts';
import { summarize } from './stats.ts';

const CLI = fileURLToPath(new URL('../bin/wirelab.mjs', import.meta.url));
const MAX_RUNS = 3;
/** A main job takes about a minute on a quiet machine; this bounds a stuck one. */
const JOB_TIMEOUT_MS = 15 * 60_000;

export const parallelLabs: Benchmark = {
  name: 'parallel-labs',
  baseline: 'in sequence',
  compares:
    'two `wirelab run` main jobs (default suites, default profile, a lab each) at once vs the same two one after the other: wall time',
  run: measureParallelLabs,
};

/** One main job in its own process; fails loudly if a test failed (a timing of a failed run means nothing). */
async function mainJob(reportDir: string): Promise<void> {
  const r = await execa(process.execPath, [CLI, 'run', '--report-dir', reportDir], { reject: false, all: true, timeout: JOB_TIMEOUT_MS });
  if (r.exitCode !== 0) throw new Error(`wirelab run exited ${r.exitCode}: ${String(r.all).trim().split('\n').slice(-5).join(' | ')}`);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
}

async function measureParallelLabs(opts: BenchOptions): Promise<BenchmarkResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-bench-parallel-'));
  const parallel: number[] = [];
  const sequential: number[] = [];
  try {
    const runs = Math.min(opts.runs, MAX_RUNS);
    for (let i = 1; i <= runs; i++) {
      const report = (name: string) => path.join(dir, `${i}-${name}`);
      // Alternate which goes first, so a warm cache never favours one side.
      const order = i % 2 === 1 ? ['sequential', 'parallel'] : ['parallel', 'sequential'];
      for (const side of order) {
        if (side === 'sequential') {
          sequential.push(
            await timed(async () => {
              await mainJob(report('seq-a'));
              await mainJob(report('seq-b'));
            }),
          );
        } else {
          parallel.push(await timed(() => Promise.all([mainJob(report('par-a')), mainJob(report('par-b'))])));
        }
      }
      opts.log(
        `parallel-labs run ${i}/${runs}: two at once ${(parallel.at(-1)! / 1000).toFixed(1)} s, in sequence ${(sequential.at(-1)! / 1000).toFixed(1)} s (load ${os.loadavg()[0]!.toFixed(2)})`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const floor = 0.9 * summarize(sequential).median;
  return {
    metrics: [
      { metric: 'two main jobs, wall time', unit: 'ms', wirelab: parallel, baseline: sequential, floor: { kind: 'max', value: floor } },
    ],
    details: { cpus: os.cpus().length, note: 'each job boots its own TCG guest; on 2 cores two guests share the machine' },
  };
}
