// Verdict stability: `wirelab run` N times in a row on each default profile, and the tally of every
// test's verdicts. A verdict that is not the same in every run is flaky, whichever way it flips.
//
//   node scripts/repeat-runs.mjs [--runs 10] [profile.yaml ...]   (default: the three shipped nested profiles)
//
// Prints one line per run and a table per profile; exits 1 when any test did not pass in every run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '10' } }, allowPositionals: true });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
  console.error(`repeat-runs: --runs is '${values.runs}'; use a whole number from 1 to 100.`);
  process.exit(2);
}
const profiles =
  positionals.length > 0 ? positionals : ['nested-l2-bridge', 'nested-l3-forwarder', 'nested-monitor'].map((p) => `lab-profiles/${p}.yaml`);
const cli = path.resolve('bin/wirelab.mjs');
const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-repeat-'));
let unstable = 0;
try {
  for (const profile of profiles) {
    /** test name → verdicts across the runs */
    const verdicts = new Map();
    const seconds = [];
    for (let i = 1; i <= runs; i++) {
      const json = path.join(dir, `run-${i}.json`);
      const t0 = performance.now();
      let exitCode = 0;
      try {
        execFileSync(process.execPath, [cli, 'run', '--profile', profile, '--report-dir', path.join(dir, 'report'), '--json', json], {
          stdio: 'ignore',
          timeout: 15 * 60_000,
        });
      } catch (e) {
        exitCode = e.status ?? -1;
      }
      seconds.push((performance.now() - t0) / 1000);
      const results = JSON.parse(readFileSync(json, 'utf8'));
      const tests = results.testResults.flatMap((f) => f.assertionResults);
      for (const t of tests) verdicts.set(t.fullName, [...(verdicts.get(t.fullName) ?? []), t.status]);
      // A failure's first line says what failed and why: kept, so a one-in-ten flip can be understood afterwards.
      const failed = tests
        .filter((t) => t.status !== 'passed')
        .map(
          (t) =>
            `${t.fullName} — ${String(t.failureMessages?.[0] ?? '')
              .split('\n')[0]
              .slice(0, 400)}`,
        );
      console.log(
        `${path.basename(profile)} run ${i}/${runs}: exit ${exitCode}, ${tests.length} tests, ${seconds.at(-1).toFixed(1)} s${failed.length ? `; FAILED: ${failed.join('; ')}` : ''}`,
      );
    }
    console.log(`\n${path.basename(profile)}: ${runs} runs, ${Math.min(...seconds).toFixed(1)}–${Math.max(...seconds).toFixed(1)} s each`);
    for (const [name, list] of verdicts) {
      const passed = list.filter((s) => s === 'passed').length;
      if (passed !== runs) unstable++;
      console.log(`  ${passed === runs ? 'stable ' : 'FLAKY  '} ${passed}/${runs} passed  ${name}`);
    }
    console.log('');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(unstable > 0 ? 1 : 0);
