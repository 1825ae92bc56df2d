// The transparent (L2) service contract, first part: frames from each side reach the other side,
// with the sender's MAC unchanged. (The frame-by-frame checks — broadcast, VLAN, IPv6, MTU, loss,
// order, latency, nothing emitted — come with the traffic instrument.)
import { describe, expect, test } from '../fixtures/lab.ts';
import { pingProbe } from '../lib/ping-probe.ts';

describe('l2-bridge: unicast forwarding', () => {
  for (const [from, to] of [['left', 'right'], ['right', 'left']] as const) {
    test(`forwards ${from} → ${to}, source MAC unchanged`, async ({ lab }) => {
      const probe = await pingProbe(lab.hosts[from], lab.hosts[to]);
      expect(probe.framesRewritten, `frames arrived at the ${to} host with a source MAC other than the ${from} host's (${lab.hosts[from].mac}): a transparent service must not change MACs`).toBe(0);
      expect(probe.framesFromSender, `of ${probe.sent} echo requests sent ${from} → ${to}, ${probe.framesFromSender} arrived: the guest drops traffic in this direction`).toBe(probe.sent);
    });
  }

  test('answers come back: both directions work together', async ({ lab }) => {
    const probe = await pingProbe(lab.hosts.left, lab.hosts.right);
    expect(probe.replies, `${probe.replies} of ${probe.sent} pings from left to right were answered`).toBe(probe.sent);
  });
});
