// Whether the host, not the image, explains a contract row's failure. Under a busy host the guest's
// threads can be held off the CPU for most of a second: its NIC queues overflow and frames are lost
// (or pass a capture point unseen), whatever their kind. Such a failure is only losses, with some
// cases of the row behaving, while the host canary shows a stall in the window. Then the row's cases
// are sent again after the quiet-machine gate (fixtures/host-stall.ts): a fault of the image fails the
// same way without a stall; a host that stalls in every try leaves the row inconclusive.
//
// Pure: a row's judgement and the host's trace in, the stall to blame (or none) out.
import type { HostTrace } from '../core/host-trace.ts';
import { longestStall, type HostExcuse } from '../analysis/host-stall.ts';
import type { CaseOutcome } from './judge.ts';

/**
 * The shortest stall taken to explain lost frames. The guest's queues (a virtio ring of 256, a tap
 * queue of 1,000) hold what the functional window's few hundred frames per second bring in far
 * longer than this; the canary notes stalls of a few ms on any machine, and those explain no loss.
 */
export const LOSS_STALL_MS = 100;

/** Failures a host stall can cause: frames missing somewhere along the path (never changed, duplicated or reordered). */
const LOST = /^(lose frames|never cross|never reach the guest|never reach the receiving host)$/;

export function hostExplainsRow(outcomes: readonly CaseOutcome[], host: HostTrace | undefined): HostExcuse | undefined {
  if (!host || host.unavailable) return undefined;
  const failed = outcomes.filter((o) => o.verdict === 'fail');
  if (failed.length === 0) return undefined;
  // Some cases behaved: a row that failed whole is the image's (a stall does not lose every frame of a window).
  if (!outcomes.some((o) => o.verdict === 'pass')) return undefined;
  if (!failed.every((o) => LOST.test(o.what ?? ''))) return undefined;
  const stall = longestStall(host);
  return stall && stall.stallMs >= LOSS_STALL_MS ? stall : undefined;
}
