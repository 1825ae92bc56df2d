// `wirelab run`: the qualification suites for the profile's role against its lab, with the
// Allure report rendered into reports/. Exit 0: all passed; 1: a test failed; 2: usage or profile error;
// 3: inconclusive — no test failed, but a clock-bound check could not be judged because the host stalled in every try;
// 130/143: interrupted by SIGINT/SIGTERM — returned only once every lab of the run is gone.
import { REPO_ROOT } from '../core/paths.ts';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { WirelabError } from '../core/errors.ts';
import { newSession, signalLabOwners, waitForSessionLabs } from '../lab/session-labs.ts';
import { loadProfile } from '../profile/load.ts';
import { SESSION_ENV } from '../runtime/ledger.ts';
import type { GuestRole, LabProfile } from '../profile/types.ts';
import { claimLock } from '../runtime/file-lock.ts';
import { timedPhase } from '../runtime/phases.ts';
import { compareRuns, comparisonLines } from '../report/run-history.ts';
import { runLine, summaryTable, type RunRecord } from '../report/run-summary.ts';
import { describeEnvironment, imageIdentity, writeAllureEnvironment } from './run-environment.ts';
import { allureHistoryFile, annotateAllureResults, loadHistory, saveRun } from './run-record.ts';
import type { ReporterOutput } from './terminal-reporter.ts';
import { rfc2544Config, rfc2544Flags } from '../rfc2544/config.ts';

const ROOT = REPO_ROOT;
const SUITES_DIR = path.join(ROOT, 'suites');
/**
 * A role's suites are named after it (`<role>` or `<role>-<part>`). Each makes the checks every role
 * shares (readiness, emissions, image hygiene) on its own boot; the suites `readiness` and
 * `image-hygiene` make them alone, on a lab of their own, when named.
 */

export function availableSuites(): string[] {
  return readdirSync(SUITES_DIR)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => f.replace(/\.test\.ts$/, ''))
    .sort();
}

/** A role's suites, and the policy suite when the profile declares a policy. */
export function defaultSuitesFor(role: GuestRole, hasPolicy = false): string[] {
  return availableSuites().filter((s) => s === role || s.startsWith(`${role}-`) || (hasPolicy && s === 'policy'));
}

/** The frame space's seed: `--seed` (checked), or a new random one that the run prints so it can be replayed. */
export function frameSpaceSeed(given: string | undefined): number {
  if (given === undefined) return randomInt(0, 2 ** 32);
  const n = Number(given);
  if (!/^\d+$/.test(given) || n > 0xffffffff)
    throw new WirelabError(
      `--seed is '${given}'; use a whole number 0..4294967295, e.g. the seed an earlier run printed (--seed 1234567).`,
      { exitCode: 2 },
    );
  return n;
}

/** `i/n` with 1 ≤ i ≤ n: vitest's own shard notation (test files are split between the shards). */
export function parseShard(value: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || index < 1 || count < 1 || index > count)
    throw new WirelabError(
      `--shard is '${value}'; use i/n with 1 <= i <= n, e.g. --shard 1/2 on one bench host and --shard 2/2 on another.`,
      { exitCode: 2 },
    );
  return { index, count };
}

/** Most suite files at once by default: each runs a TCG guest that needs most of a CPU while it boots. */
const MAX_DEFAULT_WORKERS = 4;

/**
 * How many suite files run at once, each with a lab of its own. A nested lab is all on this machine:
 * one per CPU by default. A bench host has one pair of data NICs, so one lab at a time.
 */
export function suiteWorkers(profile: LabProfile, requested: string | undefined, cpus = os.cpus().length): number {
  if (requested === undefined) return profile.kind === 'host' ? 1 : Math.max(1, Math.min(MAX_DEFAULT_WORKERS, cpus));
  const n = Number(requested);
  if (!/^\d+$/.test(requested) || n < 1)
    throw new WirelabError(`--workers is '${requested}'; use a whole number >= 1 (suite files run at once, a lab each).`, { exitCode: 2 });
  if (n > 1 && profile.kind === 'host')
    throw new WirelabError(
      `--workers is ${n}, but ${profile.file} describes a bench host, whose data NICs carry one lab at a time. Fix: drop --workers ` +
        `(or use 1); to spread suites over several bench hosts use --shard i/n on each (docs/scale.md).`,
      { exitCode: 2 },
    );
  return n;
}

export async function runSuites(
  requested: string[],
  opts: {
    profile: string;
    reportDir: string;
    grep?: string;
    json?: string;
    shard?: string;
    workers?: string;
    /** The frame space's seed (`--seed`); a new one when absent. */
    seed?: string;
    /** Environment overrides from flags (the RFC 2544 settings). */
    env?: Record<string, string>;
  },
): Promise<number> {
  const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
  const profile = loadProfile(opts.profile); // a bad profile fails here, before anything is created
  const env = opts.env ?? {};
  try {
    rfc2544Config(profile.rfc2544, { ...process.env, ...env }); // so does a bad RFC 2544 setting
  } catch (e) {
    // A value given as a flag is named as the flag, not as the variable it travels in.
    const message = (e as Error).message;
    const flag = rfc2544Flags().find((f) => env[f.env] !== undefined && message.startsWith(`${f.env} is`));
    const text = flag ? message.replace(flag.env, `--${flag.flag}`) : message;
    throw new WirelabError(`${text} Fix: correct ${flag ? 'the flag' : 'the variable'} (see 'wirelab run --help').`, { exitCode: 2 });
  }
  const workers = suiteWorkers(profile, opts.workers);
  const seed = frameSpaceSeed(opts.seed);
  const known = availableSuites();
  for (const name of requested) {
    if (!known.includes(name))
      throw new WirelabError(`'${name}' is not a wirelab suite. Fix: use one of ${known.join(', ')}.`, { exitCode: 2 });
  }
  if (requested.includes('policy') && !profile.policy)
    throw new WirelabError(
      `The policy suite qualifies a declared policy, but ${profile.file} has none. Fix: add a \`policy\` section ` +
        '(docs/profile-reference.md; lab-profiles/nested-policy-firewall.yaml shows one), or leave the suite out.',
      { exitCode: 2 },
    );
  const suites = requested.length > 0 ? requested : defaultSuitesFor(profile.role, profile.policy !== undefined);
  if (suites.length === 0)
    throw new WirelabError(`No suite qualifies the role '${profile.role}' yet. Fix: name suites explicitly (${known.join(', ')}).`, {
      exitCode: 2,
    });

  const reportDir = path.resolve(opts.reportDir);
  requireDirectoryPath(reportDir, '--report-dir', opts.reportDir);
  if (opts.json !== undefined) requireFilePath(path.resolve(opts.json), opts.json);
  const resultsDir = path.join(reportDir, 'allure-results');
  mkdirSync(reportDir, { recursive: true });
  // A run starts by clearing its report's results: two runs in one directory would delete each other's.
  const claim = claimLock(path.join(reportDir, REPORT_LOCK));
  if (claim.heldBy !== undefined)
    throw new WirelabError(
      `Another wirelab run (pid ${claim.heldBy || 'unknown'}) is writing its report to ${reportDir}, and a run starts by ` +
        "clearing that directory's results. Fix: wait for it to end, or give this run a --report-dir of its own.",
      { exitCode: 2 },
    );
  rmSync(resultsDir, { recursive: true, force: true }); // a report shows this run only
  // A shard also leaves vitest's blob report, for `wirelab merge-reports` (see docs/scale.md).
  const blobDir = path.join(reportDir, 'blob');
  if (shard) rmSync(blobDir, { recursive: true, force: true });
  const reporterFile = path.join(reportDir, 'reporter-output.json');
  rmSync(reporterFile, { force: true });
  const junit = path.join(reportDir, 'junit.xml');
  console.error(
    `wirelab run: suites ${suites.join(', ')} on ${profile.name} (${profile.kind} lab, ` +
      `${profile.role})${shard ? `, shard ${shard.index}/${shard.count}` : ''}, ${workers} at once; frame space seed ${seed} ` +
      `(replay: --seed ${seed})`,
  );
  const startedAt = new Date();
  const environment = await describeEnvironment(profile).catch((e: Error) => {
    console.error(`wirelab run: could not describe the environment: ${e.message}`);
    return {} as Record<string, string>;
  });
  const session = newSession();
  // From here until the CLI returns, a signal stops the run and waits for its labs; it never kills the CLI.
  const signals = catchSignals(session);
  try {
    return await runAndRecord();
  } finally {
    signals.release();
    claim.release();
  }

  async function runAndRecord(): Promise<number> {
    const vitest = execa(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/vitest/vitest.mjs'),
        'run',
        '--project',
        'suites',
        ...(opts.grep ? ['-t', opts.grep] : []),
        ...(shard ? ['--shard', `${shard.index}/${shard.count}`, '--passWithNoTests'] : []),
        ...suites.map((s) => path.join('suites', `${s}.test.ts`)),
      ],
      {
        cwd: ROOT,
        stdio: 'inherit',
        reject: false,
        env: {
          [SESSION_ENV]: session,
          WIRELAB_PROFILE: profile.file,
          WIRELAB_RESULTS_DIR: resultsDir,
          WIRELAB_WORKERS: String(workers),
          WIRELAB_TERMINAL: '1',
          WIRELAB_RUN_SUMMARY: reporterFile,
          WIRELAB_JUNIT: junit,
          WIRELAB_SEED: String(seed),
          ...env,
          ...(opts.json ? { WIRELAB_JSON_RESULTS: path.resolve(opts.json) } : {}),
          ...(shard ? { WIRELAB_BLOB_OUTPUT: path.join(blobDir, `blob-${shard.index}-${shard.count}.json`) } : {}),
        },
      },
    );
    signals.onSignal(() => vitest.kill('SIGTERM'));
    const finished = await vitest;
    signals.onSignal(() => {});
    // Every lab of the run is gone before the CLI returns: taken down by its worker, or by its watchdog.
    const end = await waitForSessionLabs(session, { killAfterMs: LAB_OWNER_KILL_MS, boundMs: LABS_GONE_BOUND_MS });
    const interrupted = signals.received();
    if (interrupted) {
      const reaped = end.reapedHere.length > 0 ? `; reaped here: ${end.reapedHere.join(', ')}` : '';
      const which = end.runs.length > 0 ? ` (${end.runs.join(', ')}) within ${(end.ms / 1000).toFixed(1)} s` : '';
      console.error(
        `wirelab run: interrupted by ${interrupted}; ${end.runs.length} lab(s) of this run taken down${which}${reaped}. No report.`,
      );
      return interrupted === 'SIGINT' ? 130 : 143;
    }
    const output = readReporterOutput(reporterFile);
    const exitCode = runExitCode(finished.exitCode, output);
    const run: RunRecord = {
      startedAt: startedAt.toISOString(),
      durationMs: output?.durationMs ?? Date.now() - startedAt.getTime(),
      profile: { name: profile.name, file: profile.file },
      role: profile.role,
      labKind: profile.kind,
      image: imageIdentity(profile, environment),
      exitCode,
      seed,
      tests: output?.tests ?? [],
    };
    const earlier = loadHistory(reportDir, run);
    const history = await saveRun(reportDir, run, earlier);
    let report: string | undefined;
    if (existsSync(resultsDir)) {
      writeAllureEnvironment(resultsDir, { ...environment, 'frame space seed': `${seed} (replay: wirelab run --seed ${seed})` });
      annotateAllureResults(resultsDir, run, history);
      report = await timedPhase('report', profile.name, () =>
        renderAllureReport(resultsDir, reportDir, 'wirelab run', { history: allureHistoryFile(reportDir, run) }),
      );
    }
    console.log(runSummaryText(run, earlier.at(-1), { report, junit: existsSync(junit) ? junit : undefined }));
    const late = signals.received();
    if (late) return late === 'SIGINT' ? 130 : 143;
    return exitCode;
  }
}

/** The exit code every run ends with, inconclusive (3) set apart: no test failed, at least one ended inconclusive, nothing else broke. */
export const EXIT_INCONCLUSIVE = 3;

/** The lock file that says a run is writing into a report directory (its pid). */
export const REPORT_LOCK = '.wirelab-run.lock';

export function runExitCode(vitestExit: number | undefined, output: ReporterOutput | undefined): number {
  const code = vitestExit === 0 ? 0 : vitestExit === 1 ? 1 : 2;
  if (code !== 1 || !output || output.errors.length > 0) return code;
  const states = output.tests.map((t) => t.state);
  return states.includes('inconclusive') && !states.includes('failed') ? EXIT_INCONCLUSIVE : code;
}

function readReporterOutput(file: string): ReporterOutput | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ReporterOutput;
  } catch {
    return undefined; // vitest stopped before its reporter finished: the run has no tests to record
  }
}

/** What the terminal ends with: the run, its table, what changed since the previous run, where the report is. */
export function runSummaryText(run: RunRecord, previous: RunRecord | undefined, where: { report?: string; junit?: string }): string {
  const rel = (p: string) => (p.startsWith(`${process.cwd()}${path.sep}`) ? path.relative(process.cwd(), p) : p);
  const lines = ['', `wirelab run: ${runLine(run)}`, '', ...summaryTable(run.tests)];
  if (previous) {
    const cmp = compareRuns(previous, run);
    lines.push(
      '',
      `Since the previous run of this profile and image (${previous.startedAt}):`,
      ...comparisonLines(cmp)
        .slice(2)
        .map((l) => `  ${l}`),
    );
  }
  lines.push('');
  if (where.report)
    lines.push(
      `report: ${rel(where.report)} — one self-contained file; open it in a browser from disk (e.g. xdg-open ${rel(where.report)})`,
    );
  if (where.junit) lines.push(`junit:  ${rel(where.junit)}`);
  return lines.join('\n');
}

/** Render `<reportDir>/allure-report/index.html` from an Allure results directory; says where, or why not. */
export async function renderAllureReport(
  resultsDir: string,
  reportDir: string,
  who: string,
  opts: { history?: string } = {},
): Promise<string | undefined> {
  const output = path.join(reportDir, 'allure-report');
  const allure = await execa(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/allure/cli.js'),
      'generate',
      resultsDir,
      '--output',
      output,
      '--config',
      path.join(ROOT, 'allurerc.mjs'),
    ],
    { cwd: ROOT, reject: false, all: true, env: opts.history ? { WIRELAB_ALLURE_HISTORY: opts.history } : {} },
  );
  if (allure.exitCode === 0) return path.join(output, 'index.html');
  console.error(`${who}: the Allure report could not be rendered: ${String(allure.all).trim().split('\n').slice(-3).join(' | ')}`);
  return undefined;
}

/** An interrupted run's worker gets this long to unwind its own lab before it is killed (its watchdog then reaps). */
const LAB_OWNER_KILL_MS = 10_000;
/** After this long the CLI reaps what is still recorded itself. */
const LABS_GONE_BOUND_MS = 45_000;

/**
 * SIGINT, SIGTERM and SIGHUP while a run is under way: the first stops it (`onSignal`, and SIGTERM to
 * the workers owning its labs, whose watchdogs reap each lab as soon as its worker is gone); later ones
 * only say the teardown goes on. A terminal's Ctrl-C reaches vitest and its workers too; a CI cancel
 * or `timeout` reaches only the CLI.
 */
function catchSignals(session: string) {
  let first: NodeJS.Signals | undefined;
  let stop = () => {};
  const handler = (signal: NodeJS.Signals) => {
    if (first) {
      console.error(`wirelab run: still taking the labs down after ${first}; this ends within ${LABS_GONE_BOUND_MS / 1000} s.`);
      return;
    }
    first = signal;
    console.error(
      `\nwirelab run: ${signal} received: stopping the suites and taking their labs down (another ${signal} will not abandon it)...`,
    );
    signalLabOwners(session, 'SIGTERM');
    stop();
  };
  const names = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const name of names) process.on(name, handler);
  return {
    onSignal: (fn: () => void) => (stop = fn),
    received: () => first,
    release: () => names.forEach((name) => process.off(name, handler)),
  };
}

/** `--report-dir` must name a directory, or a path where one can be made (no file in the way). */
function requireDirectoryPath(dir: string, flag: string, given: string): void {
  for (let p = dir; ; p = path.dirname(p)) {
    let isDirectory: boolean | undefined;
    try {
      isDirectory = statSync(p).isDirectory();
    } catch {
      // does not exist yet: look at its parent
    }
    if (isDirectory === false)
      throw new WirelabError(
        `${flag} is '${given}', but ${p === dir ? 'that' : p} is a file, not a directory. Fix: name a directory ` +
          `(it is created if missing), e.g. ${flag} reports-${path.basename(dir)}.`,
        { exitCode: 2 },
      );
    if (isDirectory || p === path.dirname(p)) return;
  }
}

/** `--json` must name a file (or where one can be written), not a directory. */
function requireFilePath(file: string, given: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(file).isDirectory();
  } catch {
    // does not exist yet
  }
  if (isDirectory)
    throw new WirelabError(
      `--json is '${given}', which is a directory. Fix: name a file, e.g. --json ${path.join(given, 'results.json')}.`,
      {
        exitCode: 2,
      },
    );
  requireDirectoryPath(path.dirname(file), '--json', path.dirname(given) || '.');
}
