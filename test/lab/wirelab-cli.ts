// Running `wirelab` the way a user does, for the lab tests of the CLI: a nested profile for a
// reference image, `wirelab <command> …` with JSON results, and what the Allure results directory
// holds (tests, their statuses and attachments).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { isInconclusive } from '../../lib/analysis/host-stall.ts';

const CLI = path.resolve('bin/wirelab.mjs');

/** A test the host left inconclusive (it stalled in every try): no verdict on the image, though vitest's JSON has it failed. */
export function endedInconclusive(t: TestOutcome): boolean {
  return t.status === 'failed' && isInconclusive(t.message);
}

/** A test that neither passed nor ended inconclusive. */
export function notPassed(t: TestOutcome): boolean {
  return t.status !== 'passed' && !endedInconclusive(t);
}

export interface TestOutcome {
  name: string;
  status: string;
  message: string;
}

/** A nested l2-bridge profile for a reference image, written into `dir`. */
export function bridgeProfile(dir: string, reference: string): string {
  const file = path.join(dir, `${reference}-${Math.random().toString(16).slice(2, 8)}.yaml`);
  writeFileSync(
    file,
    `name: ${reference}\nkind: nested\nrole: l2-bridge\nguest:\n  image: { reference: ${reference} }\ntrafficHosts:\n  left: { ipv4: 198.18.0.1/24 }\n  right: { ipv4: 198.18.0.2/24 }\n`,
  );
  return file;
}

/** `wirelab <args…> --json <file>`: the exit code, each test's outcome from the JSON results, and the output. */
/** When a suite file ran (ms since the epoch), from the JSON results. */
export interface FileSpan {
  name: string;
  start: number;
  end: number;
}

export async function wirelab(
  args: string[],
  json: string,
  env: Record<string, string> = {},
): Promise<{ exitCode: number; tests: TestOutcome[]; files: FileSpan[]; output: string }> {
  const r = await execa(process.execPath, [CLI, ...args, '--json', json], { reject: false, all: true, env, timeout: 600_000 });
  let tests: TestOutcome[] = [];
  let files: FileSpan[] = [];
  try {
    const results = JSON.parse(readFileSync(json, 'utf8')) as {
      testResults: {
        name: string;
        startTime: number;
        endTime: number;
        assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
      }[];
    };
    tests = results.testResults
      .flatMap((f) => f.assertionResults)
      .map((a) => ({ name: a.fullName, status: a.status, message: a.failureMessages.join('\n') }));
    files = results.testResults.map((f) => ({ name: path.basename(f.name), start: f.startTime, end: f.endTime }));
  } catch {
    // no JSON: the caller's assertions on exitCode/tests say so, with the output
  }
  return { exitCode: r.exitCode ?? -1, tests, files, output: String(r.all) };
}

export interface AllureTest {
  name: string;
  fullName: string;
  status: string;
  /** Every attachment of the test and its steps: name → file in the results directory. */
  attachments: { name: string; file: string; type: string }[];
}

interface AllureStep {
  attachments?: { name: string; source: string; type: string }[];
  steps?: AllureStep[];
}

/** The tests in an Allure results directory, with their attachments collected from every step. */
export function allureTests(resultsDir: string): AllureTest[] {
  return readdirSync(resultsDir)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => {
      const r = JSON.parse(readFileSync(path.join(resultsDir, f), 'utf8')) as AllureStep & {
        name: string;
        fullName: string;
        status: string;
      };
      const attachments: AllureTest['attachments'] = [];
      const walk = (s: AllureStep) => {
        for (const a of s.attachments ?? []) attachments.push({ name: a.name, file: path.join(resultsDir, a.source), type: a.type });
        for (const c of s.steps ?? []) walk(c);
      };
      walk(r);
      return { name: r.name, fullName: r.fullName, status: r.status, attachments };
    });
}
