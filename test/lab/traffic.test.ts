// The traffic instrument on the real lab: flows injected from both traffic hosts, captured on all
// four points, joined frame by frame. The good bridge yields a clean report; each faulty variant
// yields exactly its fault and nothing else.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeChange, type FlowResult, type TrafficReport } from '../../lib/analysis/flow-report.ts';
import type { Lab } from '../../lib/lab/lab.ts';
import { startNestedLab } from '../../lib/lab/nested/nested-lab.ts';
import { loadProfile } from '../../lib/profile/load.ts';
import { udpTemplate } from '../../lib/traffic/templates.ts';
import { runTraffic, type FlowDefinition } from '../../lib/traffic/traffic-run.ts';
import { leftoversOf, NOTHING_LEFT } from './leftovers.ts';

const BASE = loadProfile(path.resolve('lab-profiles/nested-l2-bridge.yaml'));
const FRAMES = 300;
const RATE = 250;

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.down();
  if (lab) expect(await leftoversOf(lab.runId)).toEqual(NOTHING_LEFT);
  lab = undefined;
});

async function measure(reference: string): Promise<{ report: TrafficReport; l2r: FlowResult; r2l: FlowResult }> {
  lab = await startNestedLab({ ...BASE, guest: { ...BASE.guest, image: { kind: 'reference', reference } } });
  const flows: FlowDefinition[] = [
    { name: 'left→right', from: 'left', to: 'right', template: udpTemplate(lab, 'left', 'right'), count: FRAMES, ratePps: RATE, size: 128 },
    { name: 'right→left', from: 'right', to: 'left', template: udpTemplate(lab, 'right', 'left'), count: FRAMES, ratePps: RATE, size: 128 },
  ];
  const run = await runTraffic(lab, flows, { name: reference, settleMs: 300 });
  for (const injection of run.injections) expect(injection.sent).toBe(FRAMES);
  return { report: run.report, l2r: run.report.flows[0]!, r2l: run.report.flows[1]! };
}

const guestEmitted = (report: TrafficReport) => report.emissions.reduce((n, f) => n + f.fromGuest, 0);

describe('traffic through the nested lab', () => {
  it('good l2-bridge: nothing lost, duplicated or reordered, frames unchanged, latency measured, nothing emitted', async () => {
    const { report, l2r, r2l } = await measure('l2-bridge');
    for (const flow of [l2r, r2l]) {
      expect(flow.received).toEqual({ 'left-host': FRAMES, 'guest-left': FRAMES, 'guest-right': FRAMES, 'right-host': FRAMES });
      expect(flow.lost).toBe(0);
      expect(flow.duplicated).toBe(0);
      expect(flow.reordered.count).toBe(0);
      expect(flow.rewrites.unchanged).toBe(FRAMES);
      expect(flow.latencyUs?.samples).toBe(FRAMES);
      expect(flow.latencyUs!.p50).toBeLessThan(15_000);
    }
    expect(guestEmitted(report)).toBe(0);
  });

  it('one-way drop: everything left→right is lost at the guest, right→left is clean', async () => {
    const { l2r, r2l } = await measure('l2-bridge-oneway');
    expect(l2r.lost).toBe(FRAMES);
    expect(l2r.received['guest-left']).toBe(FRAMES); // it reached the guest...
    expect(l2r.received['guest-right']).toBe(0); // ...and never left it
    expect(r2l.lost).toBe(0);
    expect(r2l.rewrites.unchanged).toBe(FRAMES);
  });

  it('MAC rewrite: every frame arrives with another source MAC, none lost', async () => {
    const { l2r, r2l } = await measure('l2-bridge-macrewrite');
    for (const flow of [l2r, r2l]) {
      expect(flow.lost).toBe(0);
      expect(flow.rewrites.srcMac).toBe(FRAMES);
      expect(flow.rewrites.payload).toBe(0);
      expect(flow.differences[0]!.changes[0]!.field).toBe('srcMac');
      expect(describeChange(flow.differences[0]!.changes[0]!)).toMatch(/^src MAC \S+ → \S+$/);
    }
  });

  it('added delay: seen in the latency figures, nothing lost or changed', async () => {
    const { l2r, r2l } = await measure('l2-bridge-delay');
    for (const flow of [l2r, r2l]) {
      expect(flow.lost).toBe(0);
      expect(flow.rewrites.unchanged).toBe(FRAMES);
      expect(flow.latencyUs!.p50).toBeGreaterThanOrEqual(240_000);
    }
  });

  it('random loss: a few percent lost in each direction, the rest unchanged', async () => {
    const { l2r, r2l } = await measure('l2-bridge-lossy');
    for (const flow of [l2r, r2l]) {
      expect(flow.lost).toBeGreaterThan(0);
      expect(flow.lost).toBeLessThan(FRAMES * 0.2);
      expect(flow.duplicated).toBe(0);
      expect(flow.rewrites.unchanged).toBe(FRAMES - flow.lost);
    }
  });
});
