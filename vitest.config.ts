// Three projects: `unit` (pure code, milliseconds, no root needed), `lab` (wirelab's own tests on the
// real lab: QEMU, bridges, containers; one file at a time because they share two cores), and `suites`
// (the qualification suites users run through `wirelab run`). Results go to Allure under reports/.
import { defineConfig } from 'vitest/config';

/** Suite files run at once; `wirelab run` sets it (plain `vitest --project suites`: one at a time). */
const SUITE_WORKERS = Math.max(1, Number.parseInt(process.env.WIRELAB_WORKERS ?? '1', 10) || 1);

export default defineConfig({
  test: {
    // Transformed modules kept on disk between runs (node_modules/.experimental-vitest-cache): a
    // `wirelab run` does not pay TypeScript's transform of lib/ again at every start.
    experimental: { fsModuleCache: true },
    reporters: [
      // `wirelab run` (WIRELAB_TERMINAL): its own terminal (per-lab progress, no vitest headers) in place of vitest's.
      process.env.WIRELAB_TERMINAL ? './lib/cli/terminal-reporter.ts' : 'default',
      ['allure-vitest/reporter', { resultsDir: process.env.WIRELAB_RESULTS_DIR ?? 'reports/allure-results' }],
      // Machine-readable results, for `wirelab run --json` (wirelab's own tests read which tests failed and why).
      ...(process.env.WIRELAB_JSON_RESULTS
        ? [['json', { outputFile: process.env.WIRELAB_JSON_RESULTS }] as ['json', { outputFile: string }]]
        : []),
      // JUnit XML for CI systems, beside the Allure results (`wirelab run` writes <report-dir>/junit.xml).
      ...(process.env.WIRELAB_JUNIT ? [['junit', { outputFile: process.env.WIRELAB_JUNIT }] as ['junit', { outputFile: string }]] : []),
      // A shard's blob report, for `wirelab merge-reports` (`wirelab run --shard i/n`; docs/scale.md).
      ...(process.env.WIRELAB_BLOB_OUTPUT
        ? [['blob', { outputFile: process.env.WIRELAB_BLOB_OUTPUT }] as ['blob', { outputFile: string }]]
        : []),
    ],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          // Tests a file marks concurrent (functional negative controls, a lab each): two at a time, one per CPU.
          maxConcurrency: 2,
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'suites',
          include: ['suites/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // `wirelab run --workers N` (WIRELAB_WORKERS): N suite files at once, each with a lab of its own.
          fileParallelism: SUITE_WORKERS > 1,
          maxWorkers: SUITE_WORKERS,
          pool: 'forks',
        },
      },
    ],
  },
});
