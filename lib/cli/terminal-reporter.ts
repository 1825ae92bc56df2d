// `wirelab run`'s vitest reporter: what a network engineer watches. One line per lab — booting,
// ready after N s, a traffic window, checks, halting — redrawn in place on a terminal and printed
// as plain lines elsewhere (CI logs); one line per finished test; at the end the run's record for
// `wirelab run` (WIRELAB_RUN_SUMMARY), which prints the summary table once the report is rendered.
// It replaces vitest's default reporter, so no `stderr | file > test` headers: a worker's console
// line is either a lab event (lib/report/run-events.ts) or printed as it is, under its suite's name.
import { writeFileSync } from 'node:fs';
import type { Reporter, TestCase, TestModule, Vitest } from 'vitest/node';
import type { UserConsoleLog } from 'vitest';
import { decodeLabEvent, suiteLabel, type LabEvent } from '../report/run-events.ts';
import type { TestRecord } from '../report/run-summary.ts';
import { MAX_HEADLINE } from '../analysis/verdict.ts';
import { isInconclusive } from '../analysis/host-stall.ts';

interface LabLine extends LabEvent {
  /** When the lab's current stage began (ms since the epoch). */
  since: number;
  firstSeen: number;
}

/** What the reporter hands `wirelab run`: every test's record and what broke outside the tests. */
export interface ReporterOutput {
  durationMs: number;
  tests: TestRecord[];
  errors: string[];
}

const REDRAW_MS = 1000;

/** Where the reporter writes, and whether it redraws lines in place (a terminal) or appends them (a log). */
export interface TerminalOptions {
  out?: Pick<NodeJS.WriteStream, 'write' | 'columns'>;
  live?: boolean;
}

export default class TerminalReporter implements Reporter {
  private readonly out: Pick<NodeJS.WriteStream, 'write' | 'columns'>;
  private readonly live: boolean;
  private readonly labs = new Map<string, LabLine>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = Date.now();
  private vitest: Vitest | undefined;

  constructor(options: TerminalOptions = {}) {
    this.out = options.out ?? process.stdout;
    this.live = options.live ?? (Boolean(process.stdout.isTTY) && process.env.TERM !== 'dumb');
  }

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunStart(): void {
    // `wirelab run` has named the suites already (a shard's share is known only once its files start).
    this.started = Date.now();
    if (this.live) this.timer = setInterval(() => this.redraw(), REDRAW_MS).unref();
  }

  onUserConsoleLog(log: UserConsoleLog): void {
    const owner = this.ownerOf(log.taskId);
    for (const line of log.content.replace(/\n$/, '').split('\n')) {
      const event = decodeLabEvent(line);
      if (event) this.update(event);
      else this.print(owner ? `[${owner}] ${line}` : line);
    }
  }

  onTestCaseReady(test: TestCase): void {
    // The file's own lab is labelled by the file: once it is up, its line says which test runs.
    const lab = this.labs.get(suiteLabel(test.module.moduleId));
    const runs = test.options.mode === 'run';
    if (runs && (lab?.stage === 'ready' || lab?.stage === 'checks')) this.update({ lab: lab.lab, stage: 'checks', detail: test.name });
  }

  onTestCaseResult(test: TestCase): void {
    const record = recordOf(test);
    if (record.state === 'skipped') return;
    const mark = record.state === 'passed' ? 'PASS' : record.state === 'inconclusive' ? 'INCONCLUSIVE' : 'FAIL';
    const seconds = `${(record.durationMs / 1000).toFixed(1)} s`;
    this.print(`${mark} ${record.suite} › ${record.name} (${seconds})${record.headline ? `\n     ${record.headline}` : ''}`);
  }

  onTestModuleEnd(module: TestModule): void {
    for (const error of module.errors()) this.print(`[${suiteLabel(module.moduleId)}] error: ${error.message}`);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<{ message: string; stack?: string }>): void {
    if (this.timer) clearInterval(this.timer);
    this.clearBlock();
    this.labs.clear();
    const tests = modules.flatMap((m) => [...m.children.allTests()].map(recordOf));
    const errors = [
      ...modules.flatMap((m) => m.errors().map((e) => `${suiteLabel(m.moduleId)}: ${e.message}`)),
      ...unhandledErrors.map((e) => `unhandled: ${e.stack ?? e.message}`),
    ];
    for (const error of unhandledErrors) this.print(`wirelab: an error outside the tests: ${error.stack ?? error.message}`);
    const failed = tests.filter((t) => t.state === 'failed' || t.state === 'inconclusive');
    if (failed.length > 0) this.print(failureDetails(modules));
    const output: ReporterOutput = { durationMs: Date.now() - this.started, tests, errors };
    const file = process.env.WIRELAB_RUN_SUMMARY;
    if (file) writeFileSync(file, JSON.stringify(output, null, 2));
  }

  /** The suite a console line came from (the file of the test or hook that printed it). */
  private ownerOf(taskId: string | undefined): string | undefined {
    const entity = taskId ? this.vitest?.state.getReportedEntityById(taskId) : undefined;
    if (!entity) return undefined;
    return suiteLabel(entity.type === 'module' ? entity.moduleId : entity.module.moduleId);
  }

  private update(event: LabEvent): void {
    const now = Date.now();
    const previous = this.labs.get(event.lab);
    const line: LabLine = {
      ...event,
      since: previous && previous.stage === event.stage ? previous.since : now,
      firstSeen: previous?.firstSeen ?? now,
    };
    // A lab that is down leaves the live block; in a log its last line says so.
    if (event.stage === 'down') this.labs.delete(event.lab);
    else this.labs.set(event.lab, line);
    if (this.live) this.redraw();
    else this.out.write(`${labText(line, now)}\n`);
  }

  /** Print a line above the live block (or just print it). */
  private print(text: string): void {
    this.clearBlock();
    this.out.write(`${text}\n`);
    this.drawBlock();
  }

  private redraw(): void {
    this.clearBlock();
    this.drawBlock();
  }

  private clearBlock(): void {
    if (!this.live || this.drawn === 0) return;
    this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private drawBlock(): void {
    if (!this.live) return;
    const width = Math.max(40, (this.out.columns || 120) - 1); // a pseudo-terminal may report 0 columns
    const now = Date.now();
    const lines = [...this.labs.values()].map((l) => cut(labText(l, now), width));
    if (lines.length === 0) return;
    this.out.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}

/** A lab's line: its label, stage and detail, and how long it has been up. */
function labText(line: LabLine, now: number): string {
  const up = Math.round((now - line.firstSeen) / 1000);
  return `[${line.lab}] ${line.stage}: ${line.detail} (${up} s)`;
}

function recordOf(test: TestCase): TestRecord {
  const result = test.result();
  const suite = suiteLabel(test.module.moduleId);
  const path = test.fullName.split(' > ');
  const name = (path[0] === suite ? path.slice(1) : path).join(' › ');
  const first = result.errors?.[0]?.message.split('\n')[0];
  // A check the host's stall explained in every try (lib/analysis/host-stall.ts) is no failure of the image.
  const failure = isInconclusive(first) ? 'inconclusive' : 'failed';
  const state = result.state === 'passed' ? 'passed' : result.state === 'failed' ? failure : 'skipped';
  return {
    suite,
    name,
    state,
    durationMs: Math.round(test.diagnostic()?.duration ?? 0),
    ...(state !== 'passed' && state !== 'skipped' && first !== undefined ? { headline: cut(first, MAX_HEADLINE) } : {}),
    ...(test.meta().wirelab ? { numbers: test.meta().wirelab } : {}),
  };
}

/** Each failed test's checks, as the failure lists them (bounded: the report has the rest). */
function failureDetails(modules: ReadonlyArray<TestModule>): string {
  const MAX_LINES = 12;
  const parts = ['', 'Failures (and tests the host left inconclusive):'];
  for (const test of modules.flatMap((m) => [...m.children.allTests('failed')])) {
    const r = recordOf(test);
    parts.push(`• ${r.state === 'inconclusive' ? 'INCONCLUSIVE ' : ''}${r.suite} › ${r.name}`);
    const lines = (test.result().errors?.[0]?.message ?? '').split('\n').filter((l) => l.trim() !== '');
    parts.push(...lines.slice(0, MAX_LINES).map((l) => `    ${cut(l, 300)}`));
    if (lines.length > MAX_LINES) parts.push(`    … ${lines.length - MAX_LINES} more lines in the report`);
  }
  return parts.join('\n');
}

function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
