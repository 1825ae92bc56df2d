// Two labs at once in one process: each has its own run id, namespace, bridges, guest and traffic
// hosts, and the same addresses (the profile's), which must not matter. Traffic runs in both at the
// same time under the same run name; every signed frame in each lab's four captures carries that
// lab's run id, none the other's, and both runs deliver everything and finish. Both come down clean.
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import type { Lab } from '../../lib/lab/lab.ts';
import { startNestedLab } from '../../lib/lab/nested/nested-lab.ts';
import { loadProfile } from '../../lib/profile/load.ts';
import { udpTemplate } from '../../lib/traffic/templates.ts';
import { runTraffic, type FlowDefinition, type TrafficRun } from '../../lib/traffic/traffic-run.ts';
import { runTag } from '../../lib/core/run-id.ts';
import { leftoversOf, NOTHING_LEFT } from './leftovers.ts';
import { signatureRunIds } from './signatures.ts';
import { CAPTURE_POINTS, CapturePoint } from '../../lib/core/sides.ts';

const PROFILE = loadProfile(path.resolve('lab-profiles/nested-l2-bridge.yaml'));
const FRAMES = 200;
const RATE = 200;

function flowsFor(lab: Lab): FlowDefinition[] {
  return [
    {
      name: `${lab.runId} left→right`,
      from: 'left',
      to: 'right',
      template: udpTemplate(lab, 'left', 'right'),
      count: FRAMES,
      ratePps: RATE,
      size: 128,
    },
    {
      name: `${lab.runId} right→left`,
      from: 'right',
      to: 'left',
      template: udpTemplate(lab, 'right', 'left'),
      count: FRAMES,
      ratePps: RATE,
      size: 128,
    },
  ];
}

describe('parallel labs', () => {
  it('two labs at once: traffic in both at the same time, no frame of one in the other, both finish, nothing left', async () => {
    const started = await Promise.allSettled([startNestedLab(PROFILE), startNestedLab(PROFILE)]);
    const labs = started.filter((s): s is PromiseFulfilledResult<Lab> => s.status === 'fulfilled').map((s) => s.value);
    try {
      const failures = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => String(s.reason));
      expect(failures).toEqual([]);
      const [a, b] = labs as [Lab, Lab];
      expect(a.runId).not.toBe(b.runId);

      // The same run name on purpose: pcap names on the traffic hosts and in each work directory must not collide.
      const runs: TrafficRun[] = await Promise.all(labs.map((lab) => runTraffic(lab, flowsFor(lab), { name: 'parallel' })));

      for (const [i, lab] of labs.entries()) {
        const own = runTag(lab.runId);
        const other = runTag(labs[1 - i]!.runId);
        const run = runs[i]!;
        for (const flow of run.report.flows) {
          expect(flow.lost, `${flow.name}`).toBe(0);
          expect(flow.received).toEqual({ 'left-host': FRAMES, 'guest-left': FRAMES, 'guest-right': FRAMES, 'right-host': FRAMES });
        }
        for (const point of CAPTURE_POINTS as readonly CapturePoint[]) {
          const ids = await signatureRunIds(run.pcaps[point]);
          expect(ids.get(other) ?? 0, `${lab.runId} ${point}: frames of ${labs[1 - i]!.runId}`).toBe(0);
          expect([...ids.keys()], `${lab.runId} ${point}: run ids seen`).toEqual([own]);
          // At least both flows' frames; more where a host's ICMP error quotes one of them.
          expect(ids.get(own), `${lab.runId} ${point}: own signatures`).toBeGreaterThanOrEqual(2 * FRAMES);
        }
        expect(path.dirname(run.pcaps['left-host'])).not.toBe(path.dirname(runs[1 - i]!.pcaps['left-host']));
      }
    } finally {
      await Promise.all(labs.map((lab) => lab.down()));
    }
    for (const lab of labs) expect(await leftoversOf(lab.runId)).toEqual(NOTHING_LEFT);
  });
});
