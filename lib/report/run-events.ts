// What a suite's worker tells the terminal while it runs, as data: a lab's progress (booting, ready,
// a traffic window, checks, halting, down) and a test's headline numbers. Progress travels as one
// marked console line (vitest hands every worker's console line to the reporter, live); headlines
// travel in the test's task meta. `wirelab run`'s terminal reporter reads both; nothing parses prose.
//
// Pure: values in, lines out and back.
import type { FlowResult } from '../analysis/flow-report.ts';
import type { Side } from '../core/sides.ts';

/** The steps of a lab's life the terminal shows, in order. */
export const LAB_STAGES = ['booting', 'ready', 'traffic', 'checks', 'halting', 'down'] as const;
export type LabStage = (typeof LAB_STAGES)[number];

export interface LabEvent {
  /** Which lab: the suite file's name, and a number for a second lab a test booted (`l2-bridge #2`). */
  lab: string;
  stage: LabStage;
  /** What is happening, for a person: "guest ready after 3.1 s". */
  detail: string;
}

/** Starts every progress line; the rest of the line is the event as JSON. */
export const EVENT_MARKER = 'wirelab-event ';

export function encodeLabEvent(event: LabEvent): string {
  return `${EVENT_MARKER}${JSON.stringify(event)}`;
}

/** The event a console line carries, or undefined for any other line. */
export function decodeLabEvent(line: string): LabEvent | undefined {
  const text = line.trim();
  if (!text.startsWith(EVENT_MARKER)) return undefined;
  try {
    const value = JSON.parse(text.slice(EVENT_MARKER.length)) as Partial<LabEvent>;
    if (typeof value.lab !== 'string' || typeof value.detail !== 'string') return undefined;
    if (!LAB_STAGES.includes(value.stage as LabStage)) return undefined;
    return { lab: value.lab, stage: value.stage!, detail: value.detail };
  } catch {
    return undefined;
  }
}

/** One flow's numbers as the summary shows them. */
export interface FlowHeadline {
  name: string;
  from: Side;
  to: Side;
  sent: number;
  lost: number;
  /** Latency between the guest's ports, µs; null when no frame crossed. */
  p50Us: number | null;
  p99Us: number | null;
}

/** An RFC 2544 throughput: the highest rate without loss, for one frame size. */
export interface ThroughputHeadline {
  frameSize: number;
  pps: number;
}

/** What a test measured, in numbers a summary line can carry. */
export interface TestHeadline {
  flows: FlowHeadline[];
  throughput?: ThroughputHeadline[];
}

/** A flow's headline numbers: from a flow report, or from anything that counts the same (a soak's totals). */
export function flowHeadline(result: Pick<FlowResult, 'name' | 'from' | 'to' | 'sent' | 'lost' | 'latencyUs'>): FlowHeadline {
  return {
    name: result.name,
    from: result.from,
    to: result.to,
    sent: result.sent,
    lost: result.lost,
    p50Us: result.latencyUs?.p50 ?? null,
    p99Us: result.latencyUs?.p99 ?? null,
  };
}

/** Per direction: the flows of one direction added up (frames and loss) and their worst percentiles. */
export interface DirectionHeadline {
  from: Side;
  to: Side;
  flows: number;
  sent: number;
  lost: number;
  /** The highest median and p99 among the direction's flows (the one a reader should see). */
  p50Us: number | null;
  p99Us: number | null;
}

export function byDirection(flows: readonly FlowHeadline[]): DirectionHeadline[] {
  const out = new Map<string, DirectionHeadline>();
  for (const f of flows) {
    const key = `${f.from}>${f.to}`;
    const d = out.get(key) ?? { from: f.from, to: f.to, flows: 0, sent: 0, lost: 0, p50Us: null, p99Us: null };
    d.flows++;
    d.sent += f.sent;
    d.lost += f.lost;
    d.p50Us = maxOf(d.p50Us, f.p50Us);
    d.p99Us = maxOf(d.p99Us, f.p99Us);
    out.set(key, d);
  }
  return [...out.values()].sort((a, b) => (a.from === b.from ? 0 : a.from === 'left' ? -1 : 1));
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** The label of a suite file's own lab, and of its tests' lines: the file's name without `.test.ts`. */
export function suiteLabel(file: string): string {
  return (file.split(/[\\/]/).pop() ?? file).replace(/\.test\.[cm]?[jt]s$/, '');
}
