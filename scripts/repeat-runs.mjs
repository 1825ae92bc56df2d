// Verdict stability: `wirelab run` N times in a row on each default profile, and the tally of every
// test's verdicts. A verdict that is not the same in every run is flaky, whichever way it flips; a test
// that ended inconclusive (the host stalled in every try: README, "A busy host") is counted apart — no
// verdict, not a flip. With --together K, K runs of the profile go at once each time (parallel runs on
// one machine must not push each other's timing over a bound).
//
//   node scripts/repeat-runs.mjs [--runs 10] [--together 2] [profile.yaml ...]   (default: the three shipped nested profiles)
//
// Prints one line per run and a table per profile; exits 1 when any test failed in any run.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '10' }, together: { type: 'string', default: '1' } },
  allowPositionals: true,
});
const runs = Number(values.runs);
const together = Number(values.together);
if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
  console.error(`repeat-runs: --runs is '${values.runs}'; use a whole number from 1 to 100.`);
  process.exit(2);
}
if (!Number.isInteger(together) || together < 1 || together > 4) {
  console.error(`repeat-runs: --together is '${values.together}'; use a whole number from 1 to 4 (runs at once).`);
  process.exit(2);
}
const run = promisify(execFile);
const INCONCLUSIVE = /inconclusive — /;
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
      // K runs at once, each with its own report directory and JSON results.
      const batch = await Promise.all(
        Array.from({ length: together }, async (_, k) => {
          const tag = `${i}-${k + 1}`;
          const json = path.join(dir, `run-${tag}.json`);
          // A seed of its own per run, printed, so a run that failed can be replayed (wirelab run --seed).
          const seed = Math.floor(Math.random() * 2 ** 32);
          const t0 = performance.now();
          let exitCode = 0;
          try {
            await run(
              process.execPath,
              [cli, 'run', '--profile', profile, '--seed', String(seed), '--report-dir', path.join(dir, `report-${k}`), '--json', json],
              {
                timeout: 15 * 60_000,
                maxBuffer: 64 * 1024 * 1024,
              },
            );
          } catch (e) {
            exitCode = e.code ?? -1;
          }
          return { tag, seed, json, exitCode, s: (performance.now() - t0) / 1000 };
        }),
      );
      for (const { tag, seed, json, exitCode, s } of batch) {
        seconds.push(s);
        const results = JSON.parse(readFileSync(json, 'utf8'));
        const tests = results.testResults.flatMap((f) => f.assertionResults);
        const status = (t) =>
          t.status === 'failed' && INCONCLUSIVE.test(String(t.failureMessages?.[0] ?? '')) ? 'inconclusive' : t.status;
        for (const t of tests) verdicts.set(t.fullName, [...(verdicts.get(t.fullName) ?? []), status(t)]);
        // A failure's first line says what failed and why: kept, so a one-in-ten flip can be understood afterwards.
        const notPassed = tests
          .filter((t) => t.status !== 'passed')
          .map((t) => `${status(t) === 'inconclusive' ? 'INCONCLUSIVE' : 'FAILED'} ${t.fullName} — ${firstLine(t)}`);
        // The whole failure (its details table, the seed in run.json's place) stays for afterwards.
        const kept = notPassed.length ? keepResults(json, profile, tag) : '';
        console.log(
          `${path.basename(profile)} run ${tag}/${runs}: seed ${seed}, exit ${exitCode}, ${tests.length} tests, ${s.toFixed(1)} s` +
            `${notPassed.length ? `; ${notPassed.join('; ')} (results: ${kept})` : ''}`,
        );
      }
    }
    console.log(`\n${path.basename(profile)}: ${runs} runs, ${Math.min(...seconds).toFixed(1)}–${Math.max(...seconds).toFixed(1)} s each`);
    for (const [name, list] of verdicts) {
      const passed = list.filter((s) => s === 'passed').length;
      const inconclusive = list.filter((s) => s === 'inconclusive').length;
      const failed = list.length - passed - inconclusive;
      if (failed > 0) unstable++;
      const word = failed > 0 ? (passed > 0 ? 'FLAKY  ' : 'FAILED ') : 'stable ';
      console.log(`  ${word} ${passed}/${list.length} passed, ${inconclusive} inconclusive, ${failed} failed  ${name}`);
    }
    console.log('');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(unstable > 0 ? 1 : 0);

/** A failed run's JSON results, copied under reports/repeat-runs/ (the run's temporary folder goes at the end). */
function keepResults(json, profile, tag) {
  const keepDir = path.resolve('reports/repeat-runs');
  mkdirSync(keepDir, { recursive: true });
  const kept = path.join(keepDir, `${path.basename(profile, '.yaml')}-${new Date().toISOString().replace(/[:.]/g, '-')}-run-${tag}.json`);
  copyFileSync(json, kept);
  return kept;
}

function firstLine(t) {
  return String(t.failureMessages?.[0] ?? '')
    .split('\n')[0]
    .slice(0, 400);
}
