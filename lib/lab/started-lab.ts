// A lab that is up, whichever driver brought it up: the guest, its ports, the traffic hosts, and the
// run's undo stack. Taking it down halts the guest gracefully first (the halt report says whether it
// obeyed), then undoes everything the run created, newest first.
import type { RunId } from '../core/run-id.ts';
import type { Side } from '../core/sides.ts';
import type { LabProfile } from '../profile/types.ts';
import { timedPhase } from '../runtime/phases.ts';
import { asBusyWork } from '../runtime/quiet-machine.ts';
import { startHostCanary } from '../runtime/host-canary.ts';
import type { UndoStack } from '../runtime/teardown.ts';
import type { GuestPort, HaltReport, Lab, LabDisruptions, LabGuest, LabTimeline, LabTrafficHost } from './lab.ts';

/** What a driver's guest must offer besides the console: a graceful halt with a timeout, and the disruptions. */
export interface HaltableGuest extends LabGuest, LabDisruptions {
  /** Ask the guest to halt and wait `timeoutMs` plus `extendMs()` (re-read while waiting) before stopping it hard. */
  halt(timeoutMs: number, extendMs?: () => number): Promise<HaltReport>;
}

export class StartedLab implements Lab {
  private halting: Promise<HaltReport> | undefined;

  constructor(
    readonly runId: RunId,
    readonly profile: LabProfile,
    readonly guest: HaltableGuest,
    readonly ports: Record<Side, GuestPort>,
    readonly hosts: Record<Side, LabTrafficHost>,
    readonly timeline: LabTimeline,
    readonly workDir: string,
    readonly stack: UndoStack,
  ) {}

  get disruptions(): LabDisruptions {
    return this.guest;
  }

  /**
   * Halt once; later calls (and down()) get the same report. A halting guest loads the CPUs like a boot:
   * busy work, so another lab's timed measurement waits for it instead of measuring through it (the
   * halt's own duration is measured inside, after any wait).
   */
  haltGuest(): Promise<HaltReport> {
    this.halting ??= asBusyWork(`halting the guest of lab ${this.runId}`, () =>
      timedPhase('halt', this.runId, () => this.haltBesideHost(this.profile.guest.haltTimeoutSeconds * 1000)),
    );
    return this.halting;
  }

  /**
   * The halt is judged against a clock, so beside the host canary: the time the host stalled during the
   * wait is added to it (at most the timeout again), so an image is not stopped hard for the host's stall.
   */
  private async haltBesideHost(timeoutMs: number): Promise<HaltReport> {
    const local = !this.ports.left.ssh;
    const canary = local ? await startHostCanary({ guestPids: this.guest.pid === undefined ? [] : [this.guest.pid] }) : undefined;
    try {
      const report = await this.guest.halt(timeoutMs, () => Math.min(timeoutMs, canary?.stalledMs() ?? 0));
      const host = await canary?.stop();
      return { ...report, ...(host && !host.unavailable ? { hostStalledMs: canary!.stalledMs() } : {}) };
    } finally {
      await canary?.stop();
    }
  }

  /** Halt, then undo everything; the undo is busy work too (containers and QEMU exiting), and runs whatever happens. */
  async down(): Promise<void> {
    let unwound = false;
    try {
      await this.haltGuest();
    } finally {
      try {
        await asBusyWork(`taking lab ${this.runId} down`, async () => {
          unwound = true;
          await this.stack.unwind();
        });
      } finally {
        if (!unwound) await this.stack.unwind();
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.down();
  }
}
