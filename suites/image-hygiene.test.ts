// Image hygiene, for every role: an orchestrator boots the image with NIC MACs it has never seen
// (a leftover 70-persistent-net.rules would rename the NICs and break scripts that name them), and
// takes it down with a graceful halt (ACPI power button / `virsh shutdown`), never a hard stop.
import * as allure from 'allure-js-commons';
import type { LabProfile } from '../lib/profile/types.ts';
import { measureForwardingGap } from '../lib/traffic/readiness.ts';
import { describe, expect, test } from '../fixtures/lab.ts';

describe('image hygiene', () => {
  test('boots with freshly generated NIC MACs, still forwards, and halts gracefully in time', async ({ profile, bootLab }) => {
    // Fresh MACs: drop any MACs the profile pins; the lab generates new, locally administered ones.
    const fresh: LabProfile = { ...profile, guest: { ...profile.guest, nics: { left: {}, right: {} } } };
    const lab = await bootLab(fresh);
    allure.parameter('guest MACs this boot', `${lab.ports.left.guestMac}, ${lab.ports.right.guestMac}`);
    const gap = await measureForwardingGap(lab, 20_000, new RegExp(profile.guest.monitorReportPattern));
    expect(
      gap.gapMs,
      `with new NIC MACs the image does not forward (probe: ${gap.method}); a leftover /etc/udev/rules.d/70-persistent-net.rules or scripts that pin MACs are the usual cause`,
    ).not.toBeNull();

    const timeoutS = profile.guest.haltTimeoutSeconds;
    const halt = await lab.haltGuest();
    allure.parameter('halt', `${halt.graceful ? 'graceful' : 'forced'} after ${(halt.ms / 1000).toFixed(1)} s`);
    expect(
      halt.graceful,
      `the image did not power off within ${timeoutS} s of the ACPI power button (guest.haltTimeoutSeconds); it had to be stopped hard, which is what leaves stale state such as 70-persistent-net.rules behind`,
    ).toBe(true);
  });
});
