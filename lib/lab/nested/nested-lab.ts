// The nested-virt lab: everything on this machine. A network namespace of the run's own holds br0 and
// br1; the guest runs under QEMU on two taps enslaved to them; the traffic hosts are containers whose
// data NICs are veths on the bridges. Every step registers its undo on the run's stack the moment the
// resource exists, so a failure or Ctrl-C at any point removes exactly what was created.
import path from 'node:path';
import { generatedMac } from '../../core/addressing.ts';
import { WirelabError } from '../../core/errors.ts';
import type { RunId } from '../../core/run-id.ts';
import { SIDES, type Side } from '../../core/sides.ts';
import { buildReferenceImage } from '../../images/reference-image.ts';
import { ensureTrafficHostImage } from '../../images/traffic-host-image.ts';
import type { LabProfile } from '../../profile/types.ts';
import { allSettledOrThrow, openRun, unwindOnFailure } from '../bring-up.ts';
import type { GuestPort, Lab, LabTrafficHost, ProgressFn } from '../lab.ts';
import { reapStaleRuns } from '../reaper.ts';
import { referenceImageArguments } from '../reference-arguments.ts';
import { StartedLab } from '../started-lab.ts';
import { ensureDockerEngine } from '../../runtime/docker-engine.ts';
import { recordPhase } from '../../runtime/phases.ts';
import { bridgeCommands, createNetns, ipBatch, tapCommands } from './netns.ts';
import { QemuGuest } from './qemu-guest.ts';
import { startTrafficHost } from './traffic-host.ts';

const BRIDGE: Record<Side, string> = { left: 'br0', right: 'br1' };
const TAP: Record<Side, string> = { left: 'tap0', right: 'tap1' };
/** Lab links carry jumbo frames so the lab itself never limits what the guest is tested with. */
const LAB_LINK_MTU = 9000;

export interface NestedLabOptions {
  onProgress?: ProgressFn;
  /** Use this run id instead of a fresh one (tests that need to know it before start). */
  runId?: RunId;
}

export async function startNestedLab(profile: LabProfile, opts: NestedLabOptions = {}): Promise<Lab> {
  if (profile.kind !== 'nested') {
    throw new WirelabError(
      `${profile.file}: field 'kind' is "${profile.kind}", but the nested driver was asked to run it. ` +
        'Fix: use the host driver for bench-host profiles.',
      { exitCode: 2 },
    );
  }
  const progress = opts.onProgress ?? (() => {});
  const { runId, stack, workDir } = openRun(profile, opts.runId);

  const setupStartMs = Date.now();
  return unwindOnFailure(stack, async () => {
    await reapStaleRuns();
    progress('preparing images and the container engine');
    // Independent and cached: build/check them concurrently.
    const [image] = await Promise.all([
      profile.guest.image.kind === 'reference' ? buildReferenceImage(profile.guest.image.reference) : Promise.resolve(undefined),
      ensureDockerEngine().then(() => ensureTrafficHostImage()),
    ]);

    progress(`creating network namespace ${runId} with br0/br1`);
    await createNetns(runId, stack);
    const patched = profile.role === 'monitor';
    // All links in one batch: bridges, the guest's taps and, for a monitor, the patch between the bridges.
    await ipBatch(runId, [
      ...SIDES.flatMap((side) => [...bridgeCommands(BRIDGE[side]), ...tapCommands(TAP[side], BRIDGE[side], LAB_LINK_MTU)]),
      ...(patched ? patchCommands() : []),
    ]);

    const guestMac = (side: Side) => profile.guest.nics[side].mac ?? generatedMac(`${runId}/guest/${side}`);
    const hostMac = (side: Side) => profile.trafficHosts[side].mac ?? generatedMac(`${runId}/host/${side}`);

    progress('booting the guest and starting the traffic hosts');
    recordPhase({ kind: 'setup', label: runId, startMs: setupStartMs, endMs: Date.now() });
    const source = profile.guest.image;
    const guestBooting = QemuGuest.start({
      name: `${runId}-guest`,
      netns: runId,
      workDir,
      stack,
      ...(source.kind === 'reference'
        ? { kernel: image!.kernel, initrd: image!.initrd, append: `${image!.append} ${referenceImageArguments(profile).join(' ')}`.trim() }
        : source.kind === 'kernel'
          ? { kernel: source.kernel, initrd: source.initrd, append: source.append }
          : { disk: source.disk }),
      memoryMiB: profile.guest.memoryMiB,
      cpus: profile.guest.cpus,
      accel: profile.guest.accel,
      nics: SIDES.map((side) => ({ tap: TAP[side], mac: guestMac(side) })),
      ready: { pattern: profile.guest.ready.consolePattern, timeoutMs: profile.guest.ready.timeoutSeconds * 1000 },
    });
    const timeline = { guestReadyAtMs: 0, hostsReadyAtMs: 0 };
    void guestBooting.then(
      () => (timeline.guestReadyAtMs = Date.now()),
      () => undefined,
    );
    const startHost = (side: Side) =>
      startTrafficHost(
        {
          side,
          runId,
          labNetns: runId,
          bridge: BRIDGE[side],
          mac: hostMac(side),
          ipv4: profile.trafficHosts[side].ipv4,
          gateway: profile.trafficHosts[side].gateway,
          ipv6: profile.trafficHosts[side].ipv6,
          gateway6: profile.trafficHosts[side].gateway6,
          workDir: path.join(workDir, side),
          mtu: LAB_LINK_MTU,
        },
        stack,
      );
    const hostsStarting = [startHost('left'), startHost('right')] as const;
    void Promise.all(hostsStarting).then(
      () => (timeline.hostsReadyAtMs = Date.now()),
      () => undefined,
    );
    const [guest, left, right] = await allSettledOrThrow([guestBooting, ...hostsStarting] as const);
    progress(`guest ready after ${(guest.readyAfterMs / 1000).toFixed(1)} s`);
    recordPhase({ kind: 'boot', label: runId, startMs: Date.now() - guest.readyAfterMs, endMs: Date.now() });

    const hosts: Record<Side, LabTrafficHost> = {
      left: { side: 'left', dataIf: left.dataIf, mac: left.mac, ipv4: left.ipv4, ipv6: left.ipv6, ssh: left.ssh },
      right: { side: 'right', dataIf: right.dataIf, mac: right.mac, ipv4: right.ipv4, ipv6: right.ipv6, ssh: right.ssh },
    };
    const port = (side: Side): GuestPort => ({ side, netns: runId, ifname: TAP[side], bridge: BRIDGE[side], guestMac: guestMac(side) });
    return new StartedLab(runId, profile, guest, { left: port('left'), right: port('right') }, hosts, timeline, workDir, stack);
  });
}

/** Monitor topology: br0 and br1 joined by a veth patch (both bridges flood, as hubs), so the guest sees a copy of everything. */
function patchCommands(): string[] {
  return [
    `link add patch0 mtu ${LAB_LINK_MTU} type veth peer name patch1 mtu ${LAB_LINK_MTU}`,
    `link set patch0 master ${BRIDGE.left} up`,
    `link set patch1 master ${BRIDGE.right} up`,
  ];
}
