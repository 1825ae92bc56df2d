// What a benchmark module provides to bench/run.ts. Each module measures wirelab against a baseline
// (a plain shell script, tcpreplay, scapy...) side by side in one run, and returns raw samples; the
// runner summarizes them, checks the floors, prints one table and writes reports/bench/<name>.json.

export interface BenchOptions {
  /** Timed runs per metric; the table shows their median. */
  runs: number;
  /** Untimed runs first (page cache, lazy module loads), so the first timed run is not an outlier. */
  warmup: number;
  /** Progress lines for the terminal (stderr), never part of the table. */
  log: (message: string) => void;
  /** The frame space's seed for benchmarks that send a role's contract (both sides the same); a new one when absent. */
  seed?: number;
  /** A git revision whose `wirelab run` the default-suite benchmark also times, side by side (the growth row). */
  before?: string;
}

/** A bound on wirelab's median: 'max' for times (lower is better), 'min' for rates (higher is better). */
export interface Floor {
  kind: 'max' | 'min';
  value: number;
}

export interface MetricSamples {
  /** Short name for the table, e.g. 'lab up'. */
  metric: string;
  unit: 'ms' | 'µs' | 'pps' | 'frames/s' | 'MB/s' | 'MB';
  wirelab: number[];
  baseline: number[];
  floor?: Floor;
}

export interface BenchmarkResult {
  metrics: MetricSamples[];
  /** Anything else worth keeping in the JSON report (breakdowns, versions, checks). */
  details?: Record<string, unknown>;
}

export interface Benchmark {
  /** File-name-safe id: the JSON goes to reports/bench/<name>.json. */
  name: string;
  /** Short name of the baseline, shown in the table, e.g. 'shell'. */
  baseline: string;
  /** One sentence: what exactly is compared with what. */
  compares: string;
  run(opts: BenchOptions): Promise<BenchmarkResult>;
}
