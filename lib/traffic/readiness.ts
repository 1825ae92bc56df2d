// Readiness honesty: a guest's ready line is a claim. Right after it, a probe finds when frames
// really cross the guest; the gap between claim and fact is what the suites hold against the
// profile's bound. Measured on this machine's clock: the probe's answer arrives back here over SSH,
// so no traffic host's clock is compared with anything.
import type { Lab } from '../lab/lab.ts';

export interface ForwardingGap {
  /** ms from the later of "guest ready" and "traffic hosts ready" to the first frame that crossed; null: never within the deadline. */
  gapMs: number | null;
  /** When the claim was made (ms since the epoch): the gap starts there. */
  claimedAtMs: number;
  /** How long the probe waited in all. */
  waitedMs: number;
  /** What the probe did, for messages. */
  method: string;
}

const PROBE_INTERVAL_S = '0.05';

/**
 * Ping from left to right every 50 ms until one echo comes back (it must cross the guest both
 * ways) or the deadline passes. For a monitor the echo crosses the lab's patch, not the guest, so
 * the guest's own receive report on its console is the evidence instead.
 */
export async function measureForwardingGap(lab: Lab, deadlineMs: number, monitorRxPattern?: RegExp): Promise<ForwardingGap> {
  const claimedAt = Math.max(lab.timeline.guestReadyAtMs, lab.timeline.hostsReadyAtMs);
  const target = lab.hosts.right.ipv4.split('/')[0]!;
  if (lab.profile.role === 'monitor') {
    const remainingS = Math.max(1, Math.ceil((claimedAt + deadlineMs - Date.now()) / 1000));
    const pattern = monitorRxPattern ?? /wirelab-monitor: rx/;
    const consoleBefore = lab.guest.console().length;
    const seen = waitForNewConsoleLine(lab, pattern, consoleBefore, remainingS * 1000);
    const ping = lab.hosts.left.ssh.exec(['ping', '-q', '-i', PROBE_INTERVAL_S, '-w', String(remainingS), target], {
      timeoutMs: remainingS * 1000 + 5000,
    });
    const at = await seen;
    await ping;
    return {
      gapMs: at === null ? null : Math.max(0, at - claimedAt),
      claimedAtMs: claimedAt,
      waitedMs: Date.now() - claimedAt,
      method: `pings left→right every ${PROBE_INTERVAL_S} s, watching the guest console for ${pattern}`,
    };
  }
  // One ping run ends at the first answer, or early on an error (e.g. "host unreachable" once ARP
  // gives up); so repeat until an echo comes back or the deadline passes. Bounded: the deadline.
  const deadline = claimedAt + deadlineMs;
  let attempts = 0;
  while (Date.now() < deadline) {
    attempts++;
    const seconds = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    const ping = await lab.hosts.left.ssh.exec(['ping', '-q', '-c', '1', '-i', PROBE_INTERVAL_S, '-w', String(seconds), target], {
      timeoutMs: seconds * 1000 + 5000,
    });
    const answeredAt = Date.now();
    if (ping.code === 0) {
      return {
        gapMs: Math.max(0, answeredAt - claimedAt),
        claimedAtMs: claimedAt,
        waitedMs: answeredAt - claimedAt,
        method: `pings left→right every ${PROBE_INTERVAL_S} s until one is answered (${attempts} run(s) of ping)`,
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    gapMs: null,
    claimedAtMs: claimedAt,
    waitedMs: Date.now() - claimedAt,
    method: `pings left→right every ${PROBE_INTERVAL_S} s until one is answered (${attempts} run(s) of ping, none answered)`,
  };
}

/** Resolves with the time a console line matching `pattern` appears after `offset`, or null. */
async function waitForNewConsoleLine(lab: Lab, pattern: RegExp, offset: number, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const fresh = lab.guest.console().slice(offset);
    if (fresh.split('\n').some((line) => pattern.test(line))) return Date.now();
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}
