// `wirelab merge-reports <dir…>`: one report from the shards of a run split across bench hosts
// (`wirelab run --shard i/n --report-dir <dir>` on each; see docs/scale.md). Each shard's directory
// holds vitest's blob report (blob/) and its Allure results (allure-results/). The merge
//   - replays the blobs through `vitest --merge-reports`: one summary of every shard's tests, the exit
//     code of the whole run, and JSON results with --json;
//   - unions the Allure results (each file is named by a UUID, so they never collide) with one merged
//     environment.properties, and renders one Allure report from them. The Allure results are taken
//     from the shards, not re-made from the blobs: blobs do not carry the attachments (the evidence).
// It also writes one JUnit XML of all shards (<report-dir>/junit.xml) for the CI system.
// Exit 0: every test passed; 1: a test failed; 2: usage error (nothing is written then); 3: inconclusive (the host stalled).
import { REPO_ROOT } from '../core/paths.ts';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { WirelabError } from '../core/errors.ts';
import { isInconclusive } from '../analysis/host-stall.ts';
import { renderAllureReport } from './run-suites.ts';

const ROOT = REPO_ROOT;
const ENVIRONMENT = 'environment.properties';

export interface MergeOptions {
  /** Where the merged allure-results/, blob/ and allure-report/ go. */
  reportDir: string;
  json?: string;
}

export async function mergeReports(shardDirs: string[], opts: MergeOptions): Promise<number> {
  if (shardDirs.length === 0)
    throw new WirelabError(
      "'wirelab merge-reports' needs the report directories of the shards, e.g. wirelab merge-reports host-a/reports host-b/reports " +
        '--report-dir reports.',
      { exitCode: 2 },
    );
  const shards = shardDirs.map((d) => path.resolve(d));
  const out = path.resolve(opts.reportDir);
  for (const dir of shards) {
    if (!existsSync(path.join(dir, 'allure-results')))
      throw new WirelabError(`${dir} has no allure-results/: it is not the --report-dir of a 'wirelab run --shard i/n'.`, { exitCode: 2 });
    if (dir === out)
      throw new WirelabError(`--report-dir ${out} is also one of the shards; merge into a directory of its own.`, { exitCode: 2 });
  }

  const resultsDir = path.join(out, 'allure-results');
  const blobDir = path.join(out, 'blob');
  rmSync(resultsDir, { recursive: true, force: true });
  rmSync(blobDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  mkdirSync(blobDir, { recursive: true });

  const environments: string[] = [];
  let copied = 0;
  for (const dir of shards) {
    const from = path.join(dir, 'allure-results');
    for (const file of readdirSync(from)) {
      if (file === ENVIRONMENT) environments.push(readFileSync(path.join(from, file), 'utf8'));
      else if (!existsSync(path.join(resultsDir, file))) {
        copyFileSync(path.join(from, file), path.join(resultsDir, file));
        copied++;
      }
    }
    const blobs = path.join(dir, 'blob');
    for (const file of existsSync(blobs) ? readdirSync(blobs).filter((f) => f.endsWith('.json')) : []) {
      // Two shards' blobs may share a name (both 'blob-1-2.json' when run with the same i/n by mistake): keep both.
      const target = existsSync(path.join(blobDir, file)) ? `${path.basename(file, '.json')}-${shards.indexOf(dir)}.json` : file;
      copyFileSync(path.join(blobs, file), path.join(blobDir, target));
    }
  }
  writeFileSync(path.join(resultsDir, ENVIRONMENT), mergeEnvironments(environments, shards.length));
  console.error(`wirelab merge-reports: ${shards.length} shard(s), ${copied} Allure result file(s)`);

  let status: number;
  if (readdirSync(blobDir).length > 0) {
    // CLI reporters replace the configured ones: no Allure reporter runs here (the shards' results are complete).
    const vitest = await execa(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/vitest/vitest.mjs'),
        'run',
        '--merge-reports',
        blobDir,
        '--reporter=default',
        // One JUnit XML for the whole run, for the CI system's test view (docs/ci.md).
        '--reporter=junit',
        `--outputFile.junit=${path.join(out, 'junit.xml')}`,
        ...(opts.json ? ['--reporter=json', `--outputFile.json=${path.resolve(opts.json)}`] : []),
      ],
      { cwd: ROOT, stdio: 'inherit', reject: false },
    );
    status = vitest.exitCode === 0 ? 0 : vitest.exitCode === 1 ? 1 : 2;
    // vitest counts an inconclusive test as failed; the Allure results tell it apart (the host stalled).
    if (status === 1 && allureStatus(resultsDir) === 3) status = 3;
  } else {
    console.error('wirelab merge-reports: no blob reports (were the shards run with --shard?); the status comes from the Allure results.');
    status = allureStatus(resultsDir);
  }
  const report = await renderAllureReport(resultsDir, out, 'wirelab merge-reports');
  if (report)
    console.error(`wirelab merge-reports: report ${path.relative(process.cwd(), report) || report} (open it in a browser from disk)`);
  return status;
}

/** One environment.properties for all shards: a key whose value differs between shards lists every value. */
export function mergeEnvironments(files: string[], shardCount: number): string {
  const values = new Map<string, string[]>();
  for (const text of files) {
    for (const line of text.split('\n')) {
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const [key, value] = [line.slice(0, eq), line.slice(eq + 1)];
      const seen = values.get(key) ?? [];
      if (!seen.includes(value)) seen.push(value);
      values.set(key, seen);
    }
  }
  values.set('shards', [String(shardCount)]);
  return [...values].map(([k, v]) => `${k}=${v.join(' | ')}`).join('\n') + '\n';
}

/** 1 when any Allure result failed or broke, 3 when the only ones not passed ended inconclusive (the host stalled), else 0. */
function allureStatus(resultsDir: string): number {
  let inconclusive = false;
  for (const file of readdirSync(resultsDir).filter((f) => f.endsWith('-result.json'))) {
    const { status, statusDetails } = JSON.parse(readFileSync(path.join(resultsDir, file), 'utf8')) as {
      status?: string;
      statusDetails?: { message?: string };
    };
    if (status === 'broken' && isInconclusive(statusDetails?.message)) inconclusive = true;
    else if (status === 'failed' || status === 'broken') return 1;
  }
  return inconclusive ? 3 : 0;
}
