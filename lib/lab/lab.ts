// What every lab driver provides, so a suite runs unchanged on the nested lab (this machine) and on
// a three-NIC bench host: a booted guest between two bridges, two traffic hosts reachable over SSH,
// and the guest's host-side ports for captures on one clock.
import type { RunId } from '../core/run-id.ts';
import type { Side } from '../core/sides.ts';
import type { LabProfile } from '../profile/types.ts';
import type { SshHost } from '../runtime/ssh.ts';
import type { UndoStack } from '../runtime/teardown.ts';

/** Where a capture can be taken on the machine that runs the guest (same clock for both ports). */
export interface GuestPort {
  side: Side;
  /** Network namespace holding the port ('' for the host's own namespace). */
  netns: string;
  /** The host-side interface of the guest's NIC: a tap (nested) or a libvirt vnetN (bench host). */
  ifname: string;
  bridge: string;
  /** The MAC the guest's NIC has in this run. */
  guestMac: string;
  /** Set when the port is on a remote bench host: capture there over this connection (same clock for both ports). */
  ssh?: SshHost;
}

export interface LabTrafficHost {
  side: Side;
  /** Its data NIC, attached to the side's bridge. */
  dataIf: string;
  mac: string;
  /** CIDR of the data NIC. */
  ipv4: string;
  /** IPv6 CIDR of the data NIC, when the profile gives one. */
  ipv6?: string;
  ssh: SshHost;
}

export interface LabGuest {
  /** How long the guest took from start to its ready line. */
  readonly readyAfterMs: number;
  console(): string;
  consoleTail(lines: number): string[];
  /** The console so far, as a mark: `waitForConsole(…, from)` then sees only the lines after it. */
  consoleMark(): number;
  waitForConsole(pattern: RegExp, timeoutMs: number, from?: number): Promise<string>;
  /** Why the guest is no longer running, or undefined while it runs. */
  stopped?(): string | undefined;
  /** The guest's process on the machine wirelab runs on (QEMU), for the host canary; unset elsewhere. */
  readonly pid?: number;
  /** The guest's health now (memory from its virtio balloon statistics, QEMU's RSS), where the driver can read it. */
  health?(): Promise<GuestHealth>;
}

/** A guest's health at one moment; a value the guest or the driver cannot give is absent. */
export interface GuestHealth {
  /** From the guest's virtio balloon statistics. */
  memTotalMiB?: number;
  memAvailableMiB?: number;
  memFreeMiB?: number;
  /** QEMU's resident memory on the host. */
  rssMiB?: number;
}

/** Ways to interrupt the service, for outage measurements (RFC 6201 reset time). */
export interface LabDisruptions {
  /** Reset the guest (QMP system_reset: a cold reboot, as a power cycle); it boots again, to its ready line. */
  resetGuest(): Promise<void>;
  /** Take the link of the guest's NIC on this side down or up (a pulled cable: the guest sees carrier loss). */
  setGuestLink(side: Side, up: boolean): Promise<void>;
  /** Type one line on the guest's serial console (a profile-declared service restart). */
  typeOnConsole(line: string): Promise<void>;
}

/** Wall-clock moments of the bring-up (ms since the epoch), for readiness honesty. */
export interface LabTimeline {
  /** When the guest's console said it was ready. */
  guestReadyAtMs: number;
  /** When both traffic hosts answered over SSH. */
  hostsReadyAtMs: number;
}

export interface HaltReport {
  /** Powered off by itself within the timeout, the wait extended by the host's stalls during it. */
  graceful: boolean;
  ms: number;
  /** How long the host stalled during the wait (measured beside it where the guest runs on this machine). */
  hostStalledMs?: number;
}

export interface Lab {
  readonly runId: RunId;
  readonly profile: LabProfile;
  readonly guest: LabGuest;
  readonly ports: Record<Side, GuestPort>;
  readonly hosts: Record<Side, LabTrafficHost>;
  readonly timeline: LabTimeline;
  /** Per-run scratch directory (console log, keys, captures). */
  readonly workDir: string;
  /** The run's undo stack; tests may register their own resources on it. */
  readonly stack: UndoStack;
  /** Halt the guest gracefully; reports whether it halted within the profile's timeout. */
  haltGuest(): Promise<HaltReport>;
  /** Restarts and link flaps (the nested lab; a bench host says it cannot yet). */
  readonly disruptions: LabDisruptions;
  /** Halt the guest and remove everything the run created. Safe to call twice. */
  down(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Progress lines for the terminal while the lab comes up. */
export type ProgressFn = (message: string) => void;
