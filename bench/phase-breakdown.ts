// Where a wirelab run's wall time went, from the phases it recorded (lib/runtime/phases.ts), and its
// physical floor. Pure: records in, seconds out (unit-tested in test/unit/phase-breakdown.test.ts).
//
// Wall time is split so the parts add up to it: at each instant the phase that matters most among
// those running (frames on the wire first, then their analysis, then boots, halts, the report) gets
// the instant; before the first phase is start-up, between phases the checks' own work, after the
// last the exit.
import type { PhaseKind, PhaseRecord } from '../lib/runtime/phases.ts';

const PRIORITY: PhaseKind[] = ['traffic', 'listen', 'analysis', 'boot', 'setup', 'halt', 'report'];

const NAMES: Record<PhaseKind, string> = {
  traffic: 'traffic windows',
  listen: 'quiet listen',
  analysis: 'analysis (frame join)',
  setup: 'lab set-up (images checked, namespace, taps)',
  boot: 'guest boot',
  halt: 'guest halt',
  report: 'report rendering',
};
export const START_UP = 'start-up (CLI, vitest)';
export const BETWEEN = 'checks, evidence, captures set-up';
export const EXIT = 'teardown and exit';

export function wallTimeByPhase(phases: PhaseRecord[], startMs: number, endMs: number): Record<string, number> {
  const out: Record<string, number> = { [START_UP]: 0 };
  for (const kind of PRIORITY) out[NAMES[kind]] = 0;
  out[BETWEEN] = 0;
  out[EXIT] = 0;
  if (phases.length === 0) {
    out[START_UP] = (endMs - startMs) / 1000;
    return round(out);
  }
  const first = Math.min(...phases.map((p) => p.startMs));
  const last = Math.max(...phases.map((p) => p.endMs));
  const edges = [...new Set([startMs, endMs, ...phases.flatMap((p) => [p.startMs, p.endMs])])]
    .filter((t) => t >= startMs && t <= endMs)
    .sort((a, b) => a - b);
  for (let i = 0; i + 1 < edges.length; i++) {
    const [a, b] = [edges[i]!, edges[i + 1]!];
    const mid = (a + b) / 2;
    const running = phases.filter((p) => p.startMs <= mid && mid < p.endMs).map((p) => p.kind);
    const top = PRIORITY.find((k) => running.includes(k));
    const bucket = top ? NAMES[top] : mid < first ? START_UP : mid > last ? EXIT : BETWEEN;
    out[bucket]! += (b - a) / 1000;
  }
  return round(out);
}

/**
 * The floor no tool can go below: per process (its phases ran one after another), the guest boots,
 * the frames' own time at the rates asked, the quiet listens and the halts; the longest process is
 * the run's critical path (labs in other workers boot beside it).
 */
export function physicalFloorMs(phases: PhaseRecord[]): number {
  const perProcess = new Map<number, number>();
  for (const p of phases) {
    const share =
      p.kind === 'boot' || p.kind === 'halt' ? p.endMs - p.startMs : p.kind === 'traffic' || p.kind === 'listen' ? (p.requestedMs ?? 0) : 0;
    perProcess.set(p.pid ?? 0, (perProcess.get(p.pid ?? 0) ?? 0) + share);
  }
  return Math.max(0, ...perProcess.values());
}

function round(parts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}
