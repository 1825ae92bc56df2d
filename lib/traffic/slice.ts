// One traffic window, many tests: the functional flows of a role are sent together (the signature
// join separates them), and each test asserts on its own slice — the flows it is about, with their
// own evidence: pcaps holding only those flows' frames (and every unsigned frame, for context).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { runTag } from '../core/run-id.ts';
import { CAPTURE_POINTS, type CapturePoint } from '../core/sides.ts';
import { findSignature, SIG_FLOW_ID } from '../frames/index.ts';
import { readPcap, writePcap } from '../pcap/pcap.ts';
import type { TrafficRun } from './traffic-run.ts';

/** The run restricted to the flows whose names are given, with pcaps of their frames only. */
export async function sliceRun(run: TrafficRun, name: string, flowNames: readonly string[]): Promise<TrafficRun> {
  const flows = run.report.flows.filter((f) => flowNames.includes(f.name));
  const missing = flowNames.filter((n) => !flows.some((f) => f.name === n));
  if (missing.length > 0) throw new Error(`slice '${name}' of traffic run '${run.name}' names unknown flows: ${missing.join(', ')}`);
  const ids = new Set(flows.map((f) => f.flowId));
  const dir = path.join(path.dirname(run.pcaps['left-host']), `slice-${name.replace(/[^A-Za-z0-9._-]+/g, '_')}`);
  mkdirSync(dir, { recursive: true });
  const pcaps = {} as Record<CapturePoint, string>;
  for (const point of CAPTURE_POINTS) {
    pcaps[point] = path.join(dir, `${point}.pcap`);
    await writePcap(pcaps[point], framesOf(run.pcaps[point], run, ids));
  }
  const sides = new Set(flows.map((f) => f.from));
  return {
    ...run,
    name,
    report: { ...run.report, flows },
    injections: run.injections.filter((i) => sides.has(i.side)),
    pcaps,
  };
}

/** The frames of a pcap that belong to the given flows of this run, or to no flow at all. */
async function* framesOf(file: string, run: TrafficRun, flowIds: ReadonlySet<number>) {
  const tag = runTag(run.runId);
  for await (const frame of readPcap(file)) {
    const off = findSignature(frame.data, tag, 42);
    if (off < 0 || flowIds.has(frame.data.readUInt16BE(off + SIG_FLOW_ID))) yield frame;
  }
}
