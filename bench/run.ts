// `npm run bench`: run every benchmark, print ONE table, write reports/bench/<name>.json per benchmark.
// Exit 1 when wirelab misses a floor or a benchmark fails, 2 on a bad option.
//
//   node --import tsx bench/run.ts [--runs N] [--warmup N] [--only NAME] [--seed N] [--before REV]
//   (not the `tsx` command: on Ctrl-C it may SIGKILL its child before the labs are taken down; see README)
//
// To add a benchmark: write a module under bench/ exporting a `Benchmark` (bench/benchmark.ts) and add
// it to BENCHMARKS below.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark, BenchOptions, Floor, MetricSamples } from './benchmark.ts';
import { decodeVsScapy, decodeVsTshark } from './decode.ts';
import { defaultSuite } from './default-suite.ts';
import { injectionVsScapy, injectionVsTcpreplay } from './injection.ts';
import { labLifecycle } from './lab-lifecycle.ts';
import { latencyFloor } from './latency-floor.ts';
import { parallelLabs } from './parallel-labs.ts';
import { suiteCost } from './suite-cost.ts';
import { ratio, type Summary, summarize } from './stats.ts';

const BENCHMARKS: readonly Benchmark[] = [
  defaultSuite,
  labLifecycle,
  injectionVsScapy,
  injectionVsTcpreplay,
  decodeVsScapy,
  decodeVsTshark,
  latencyFloor,
  suiteCost,
  parallelLabs,
];
const REPORT_DIR = fileURLToPath(new URL('../reports/bench/', import.meta.url));

interface Row {
  benchmark: Benchmark;
  metric: string;
  unit: MetricSamples['unit'];
  wirelab?: Summary;
  baseline?: Summary;
  ratio?: number;
  floor?: Floor;
  pass: boolean;
  error?: string;
}

function parseArgs(argv: string[]): BenchOptions & { only?: string } {
  const opts: BenchOptions & { only?: string } = { runs: 5, warmup: 1, log: (m) => console.error(m) };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    const count = (min: number): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < min) usage(`${flag} is ${JSON.stringify(value)}; use an integer >= ${min}`);
      i++;
      return n;
    };
    if (flag === '--runs') opts.runs = count(1);
    else if (flag === '--warmup') opts.warmup = count(0);
    else if (flag === '--seed') {
      opts.seed = count(0);
      if (opts.seed > 0xffffffff) usage(`--seed is ${opts.seed}; use an integer 0..4294967295`);
    } else if (flag === '--before') {
      if (!value || !/^[\w./-]+$/.test(value) || value.startsWith('-'))
        usage(`--before is ${JSON.stringify(value)}; use a git revision such as a commit id or a tag`);
      opts.before = value;
      i++;
    } else if (flag === '--only') {
      if (!BENCHMARKS.some((b) => b.name === value))
        usage(`--only is ${JSON.stringify(value)}; use one of ${BENCHMARKS.map((b) => b.name).join(', ')}`);
      opts.only = value;
      i++;
    } else if (flag === '--help' || flag === '-h') usage();
    else usage(`unknown option ${JSON.stringify(flag)}`);
  }
  return opts;
}

function usage(problem?: string): never {
  const text =
    `usage: node --import tsx bench/run.ts [--runs N (default 5)] [--warmup N (default 1)] [--only ${BENCHMARKS.map((b) => b.name).join('|')}]\n` +
    '       [--seed N (the contract cases of default-suite; default: a new one, printed)]\n' +
    "       [--before REV (default-suite also times that revision's wirelab run, side by side: the growth row)]";
  if (problem) console.error(`bench: ${problem}\n${text}`);
  else console.log(text);
  process.exit(problem ? 2 : 0);
}

function checkFloor(floor: Floor | undefined, value: number): boolean {
  if (!floor) return true;
  return floor.kind === 'max' ? value <= floor.value : value >= floor.value;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const selected = BENCHMARKS.filter((b) => !opts.only || b.name === opts.only);
  const machine = { cpus: os.cpus().length, kernel: os.release(), node: process.version, loadAverage: os.loadavg() };
  opts.log(
    `bench: ${opts.runs} timed run(s) after ${opts.warmup} warm-up(s); ${machine.cpus} CPUs, load ${machine.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
  );

  const rows: Row[] = [];
  for (const benchmark of selected) {
    const startedAt = new Date().toISOString();
    let result;
    try {
      result = await benchmark.run(opts);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      opts.log(`bench: ${benchmark.name} failed: ${error}`);
      rows.push({ benchmark, metric: '(failed)', unit: 'ms', pass: false, error });
      writeReport(benchmark, { benchmark: benchmark.name, compares: benchmark.compares, startedAt, machine, error });
      continue;
    }
    const metrics = result.metrics.map((m) => {
      const wirelab = summarize(m.wirelab);
      const baseline = summarize(m.baseline);
      const row: Row = {
        benchmark,
        metric: m.metric,
        unit: m.unit,
        wirelab,
        baseline,
        ratio: ratio(baseline, wirelab),
        floor: m.floor,
        pass: checkFloor(m.floor, wirelab.median),
      };
      rows.push(row);
      return {
        metric: m.metric,
        unit: m.unit,
        wirelab,
        [benchmark.baseline]: baseline,
        ratio: row.ratio,
        floor: m.floor ?? null,
        pass: row.pass,
      };
    });
    writeReport(benchmark, {
      benchmark: benchmark.name,
      compares: benchmark.compares,
      baseline: benchmark.baseline,
      startedAt,
      finishedAt: new Date().toISOString(),
      runs: opts.runs,
      warmup: opts.warmup,
      machine: { ...machine, loadAverageAtEnd: os.loadavg() },
      ratio: `${benchmark.baseline} median / wirelab median`,
      metrics,
      details: result.details ?? {},
    });
  }

  console.log(renderTable(rows));
  const failed = rows.filter((r) => !r.pass);
  if (failed.length > 0) console.error(`bench: FAILED: ${failed.map((r) => `${r.benchmark.name} ${r.metric}`).join(', ')}`);
  console.error(`bench: JSON reports in ${path.relative(process.cwd(), REPORT_DIR) || REPORT_DIR}/`);
  return failed.length > 0 ? 1 : 0;
}

function writeReport(benchmark: Benchmark, report: Record<string, unknown>): void {
  mkdirSync(REPORT_DIR, { recursive: true });
  writeFileSync(path.join(REPORT_DIR, `${benchmark.name}.json`), JSON.stringify(report, null, 2) + '\n');
}

function formatValue(unit: MetricSamples['unit'], v: number): string {
  return unit === 'ms' ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v).toLocaleString('en')} ${unit}`;
}

function formatSummary(unit: MetricSamples['unit'], s: Summary | undefined): string {
  if (!s) return '—';
  const bare = (v: number) => formatValue(unit, v).replace(/ \S+$/, '');
  return `${formatValue(unit, s.median)} (${bare(s.min)}–${bare(s.max)})`;
}

function renderTable(rows: Row[]): string {
  const header = ['metric', 'wirelab median (min–max)', 'baseline median (min–max)', 'ratio (baseline/wirelab)', 'floor', 'pass/fail'];
  const cells = rows.map((r) => [
    `${r.benchmark.name}: ${r.metric} (vs ${r.benchmark.baseline})`,
    formatSummary(r.unit, r.wirelab),
    formatSummary(r.unit, r.baseline),
    r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`,
    r.floor ? `${r.floor.kind === 'max' ? '≤' : '≥'} ${formatValue(r.unit, r.floor.value)}` : '—',
    r.error ? `FAIL (${r.error.split('\n')[0]!.slice(0, 60)})` : r.pass ? 'pass' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

process.exit(
  await main().catch((e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }),
);
