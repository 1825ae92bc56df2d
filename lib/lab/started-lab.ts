// A lab that is up, whichever driver brought it up: the guest, its ports, the traffic hosts, and the
// run's undo stack. Taking it down halts the guest gracefully first (the halt report says whether it
// obeyed), then undoes everything the run created, newest first.
import type { RunId } from '../core/run-id.ts';
import type { Side } from '../core/sides.ts';
import type { LabProfile } from '../profile/types.ts';
import { timedPhase } from '../runtime/phases.ts';
import { asBusyWork } from '../runtime/quiet-machine.ts';
import type { UndoStack } from '../runtime/teardown.ts';
import type { GuestPort, HaltReport, Lab, LabDisruptions, LabGuest, LabTimeline, LabTrafficHost } from './lab.ts';

/** What a driver's guest must offer besides the console: a graceful halt with a timeout, and the disruptions. */
export interface HaltableGuest extends LabGuest, LabDisruptions {
  halt(timeoutMs: number): Promise<HaltReport>;
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
      timedPhase('halt', this.runId, () => this.guest.halt(this.profile.guest.haltTimeoutSeconds * 1000)),
    );
    return this.halting;
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
