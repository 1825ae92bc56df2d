// A `wirelab run`'s record on disk: <report-dir>/run.json (what `wirelab compare` reads), the history
// of the profile and image under <report-dir>/history/ (the last HISTORY_LIMIT runs, and Allure's own
// history file for its trend views), and the Allure results made to say what they are about: labels
// for role, image, digest, lab kind and profile; a history key that survives measured parameters; and
// each test's trend over the last runs as an attachment.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WirelabError } from '../core/errors.ts';
import { suiteLabel } from '../report/run-events.ts';
import { appendRun, historyKey, testTrend, trendHtml } from '../report/run-history.ts';
import type { RunRecord, TestRecord } from '../report/run-summary.ts';
import { writeAtomically } from '../runtime/atomic-file.ts';

export const RUN_FILE = 'run.json';

export function historyDir(reportDir: string): string {
  return path.join(reportDir, 'history');
}

/** The Allure 3 history file for this run's profile and image (its trend views read and extend it). */
export function allureHistoryFile(reportDir: string, run: Pick<RunRecord, 'profile' | 'image'>): string {
  return path.join(historyDir(reportDir), `${historyKey(run)}.allure.jsonl`);
}

function historyFile(reportDir: string, run: Pick<RunRecord, 'profile' | 'image'>): string {
  return path.join(historyDir(reportDir), `${historyKey(run)}.json`);
}

/** The earlier runs of this profile and image, oldest first (none when there is no history yet). */
export function loadHistory(reportDir: string, run: Pick<RunRecord, 'profile' | 'image'>): RunRecord[] {
  const file = historyFile(reportDir, run);
  if (!existsSync(file)) return [];
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return Array.isArray(value) ? (value as RunRecord[]) : [];
  } catch {
    return []; // a damaged history is started afresh, never a reason to fail a run
  }
}

/** Add the run to its history (bounded) and write it as the report directory's run.json. */
export async function saveRun(reportDir: string, run: RunRecord, earlier: readonly RunRecord[]): Promise<RunRecord[]> {
  mkdirSync(historyDir(reportDir), { recursive: true });
  const history = appendRun(earlier, run);
  await writeAtomically(historyFile(reportDir, run), JSON.stringify(history, null, 1));
  await writeAtomically(path.join(reportDir, RUN_FILE), JSON.stringify(run, null, 2));
  return history;
}

/** A run's record from its report directory or its run.json; a path that is neither is a usage error. */
export function readRunRecord(where: string): RunRecord {
  const file = existsSync(where) && statSync(where).isDirectory() ? path.join(where, RUN_FILE) : where;
  if (!existsSync(file))
    throw new WirelabError(
      `${where} holds no wirelab run record (${RUN_FILE}). Fix: name the --report-dir of a 'wirelab run' (default reports/), ` +
        `or its ${RUN_FILE}; each run also keeps its profile's last runs under <report-dir>/history/.`,
      { exitCode: 2 },
    );
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
    if (!Array.isArray(value.tests) || !value.image) throw new Error('not a run record');
    return value;
  } catch (e) {
    throw new WirelabError(
      `${file} is not a wirelab run record (${(e as Error).message}). Fix: name a run.json that 'wirelab run' wrote.`,
      {
        exitCode: 2,
      },
    );
  }
}

interface AllureResult {
  name: string;
  fullName?: string;
  parameters?: { name: string; value: string; excluded?: boolean }[];
  labels?: { name: string; value: string }[];
  attachments?: { name: string; source: string; type: string }[];
}

/** The labels vitest's Allure reporter adds by itself, which say nothing about a service image. */
const DROPPED_LABELS = new Set(['language', 'framework', 'thread']);

/** Labels, a history key without measured parameters, and each test's trend, written into the run's Allure results. */
export function annotateAllureResults(resultsDir: string, run: RunRecord, history: readonly RunRecord[]): number {
  const labels = [
    { name: 'role', value: run.role },
    { name: 'image', value: run.image.name },
    { name: 'image digest', value: run.image.digest },
    { name: 'lab kind', value: run.labKind },
    { name: 'profile', value: run.profile.name },
  ];
  let annotated = 0;
  for (const file of readdirSync(resultsDir).filter((f) => f.endsWith('-result.json'))) {
    const full = path.join(resultsDir, file);
    const result = JSON.parse(readFileSync(full, 'utf8')) as AllureResult;
    result.labels = [...(result.labels ?? []).filter((l) => !DROPPED_LABELS.has(l.name)), ...labels];
    // Allure keys a test's history by its id and its parameters, and many of wirelab's parameters are
    // measurements (a forwarding gap, a quiet-machine wait): excluded from the key, shown as before.
    result.parameters = (result.parameters ?? []).map((p) => ({ ...p, excluded: true }));
    const test = recordFor(run, result);
    if (test && history.length > 0) {
      const source = `${randomUUID()}-attachment.html`;
      writeFileSync(path.join(resultsDir, source), trendHtml(result.name, testTrend(history, test.suite, test.name)));
      result.attachments = [...(result.attachments ?? []), { name: `history: last ${history.length} run(s)`, source, type: 'text/html' }];
    }
    writeFileSync(full, JSON.stringify(result));
    annotated++;
  }
  return annotated;
}

/** The run's record of an Allure result: same suite file, and the test's name at the end of its full name. */
function recordFor(run: RunRecord, result: AllureResult): TestRecord | undefined {
  const file = /:(.*?)#/.exec(result.fullName ?? '')?.[1];
  if (!file) return undefined;
  const suite = suiteLabel(file);
  return run.tests.find((t) => t.suite === suite && (t.name === result.name || t.name.endsWith(` › ${result.name}`)));
}
