// Readiness honesty, for every role: a guest's ready line is a claim. Right after it, a probe finds
// when frames really cross; an image that claims readiness long before it forwards (or never does)
// fails here with that message, not with a timeout deep inside another test.
import * as allure from 'allure-js-commons';
import { measureForwardingGap } from '../lib/traffic/readiness.ts';
import { describe, expect, test } from '../fixtures/lab.ts';

describe('readiness', () => {
  test('frames cross soon after the guest claims readiness', async ({ lab, profile }) => {
    const boundMs = profile.guest.ready.maxForwardingGapSeconds * 1000;
    // Wait well past the bound, so that a late forwarder is measured (and reported) rather than cut off.
    const gap = await measureForwardingGap(lab, boundMs + 15_000, new RegExp(profile.guest.monitorReportPattern));
    allure.parameter('probe', gap.method);
    allure.parameter('forwarding gap', gap.gapMs === null ? 'never' : `${(gap.gapMs / 1000).toFixed(2)} s`);
    expect(
      gap.gapMs,
      `the image claimed readiness but did not forward within ${(gap.waitedMs / 1000).toFixed(1)} s of its claim (probe: ${gap.method})`,
    ).not.toBeNull();
    expect(
      gap.gapMs!,
      `the image claimed readiness ${(gap.gapMs! / 1000).toFixed(1)} s before it forwarded; the profile allows ${boundMs / 1000} s (guest.ready.maxForwardingGapSeconds)`,
    ).toBeLessThanOrEqual(boundMs);
  });
});
