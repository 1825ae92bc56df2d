// The transparent service and the OpenContrail vRouter's one MAC (00:01:00:5e:00:00): the vRouter shows
// every VM that same MAC, so unless the service is launched on "auto-configured" networks, frames reach
// it from both sides with one source MAC. A learning bridge then sees a loop and forwards nothing.
// This is that failing setup, on a lab of its own; the working one (distinct MACs, as in the profile)
// is in suites/l2-bridge. A file of its own so that its extra lab boots beside the main l2-bridge file.
// The lab's bridges learn no MACs on the traffic hosts' ports, as the vRouter hands every frame to the
// VM: the frames reach the guest, and toDeliverNone passes only if the guest itself dropped them.
import { VROUTER_MAC } from '../lib/core/addressing.ts';
import type { LabProfile } from '../lib/profile/types.ts';
import { udpTemplate } from '../lib/traffic/templates.ts';
import { describe, expect, test } from '../fixtures/lab.ts';
import { bothWays, FUNCTIONAL, send } from '../fixtures/traffic.ts';

const withHostMacs = (profile: LabProfile, left: string, right: string): LabProfile => ({
  ...profile,
  trafficHosts: { left: { ...profile.trafficHosts.left, mac: left }, right: { ...profile.trafficHosts.right, mac: right } },
});

describe('l2-bridge: the vRouter MAC case', () => {
  test('same vRouter MAC on both sides: nothing flows (the loop the guide warns of)', async ({ profile, bootLab }) => {
    const lab = await bootLab(withHostMacs(profile, VROUTER_MAC, VROUTER_MAC));
    const run = await send(
      lab,
      'vrouter-same-mac',
      bothWays('unicast', (from, to) => udpTemplate(lab, from, to), { ...FUNCTIONAL, count: 50 }),
    );
    for (const result of run.report.flows) expect(result).toDeliverNone();
  });
});
