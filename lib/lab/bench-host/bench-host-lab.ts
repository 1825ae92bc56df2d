// The bench-host lab: the OpenContrail guide's three-NIC host. eth0 carries management and is never
// touched; eth1 and eth2 become ports of br0 and br1; the guest runs under libvirt with two virtio
// NICs on those bridges; the traffic hosts are SSH hosts whose data NICs are cabled to eth1/eth2.
// Works on this machine or over SSH (host.connection), through one HostShell. Everything is checked
// before anything changes (NICs, libvirt, the traffic hosts' pinned keys), and every change is
// registered on the run's undo stack the moment it is made, so the host ends as it was found.
import path from 'node:path';
import { generatedMac, ipv4ToInt, intToIpv4, normalizeMac, parseCidr } from '../../core/addressing.ts';
import { checkDataNics, createBenchBridge, enslaveNic } from './bench-nics.ts';
import { managementSession } from './management-session.ts';
import { WirelabError } from '../../core/errors.ts';
import { buildReferenceImage } from '../../images/reference-image.ts';
import { LocalShell, readPrivateKey, SshShell, type HostShell } from './host-shell.ts';
import { LibvirtGuest } from './libvirt-guest.ts';
import { BenchLedger, benchRecordPath, runMarker, type BenchConnection, type SshTarget } from './bench-ledger.ts';
import { connectTarget, describeReap, reapDeadBenchRuns, restoreBenchHost, restoreTrafficHost } from './bench-reaper.ts';
import { placeBootFile, placeFile } from './bench-files.ts';
import { keyPath } from './profile-paths.ts';
import { checkLibvirtTools, ensureLibvirtd } from './libvirtd.ts';
import type { LabProfile, SshTargetProfile, TrafficHostProfile } from '../../profile/types.ts';
import type { RunId } from '../../core/run-id.ts';
import { otherSide, SIDES, type Side } from '../../core/sides.ts';
import { allSettledOrThrow, openRun, unwindOnFailure } from '../bring-up.ts';
import { recordPhase } from '../../runtime/phases.ts';
import { SshHost } from '../../runtime/ssh.ts';
import type { UndoStack } from '../../runtime/teardown.ts';
import { StartedLab } from '../started-lab.ts';
import type { GuestPort, Lab, LabTimeline, LabTrafficHost, ProgressFn } from '../lab.ts';

export interface HostLabOptions {
  onProgress?: ProgressFn;
  /** Use this run id instead of a fresh one (tests name their resources with their own prefix). */
  runId?: RunId;
  /**
   * For `connection: local`: run the bench host's commands inside this network namespace (how
   * wirelab's tests simulate a bench host) and with this environment (e.g. a PATH without virsh).
   */
  localNetns?: string;
  localEnv?: Record<string, string>;
  /**
   * Extra disks (paths on the bench host) attached to the guest after the profile's image, each on an
   * overlay: a reference guest booted from kernel+initramfs reads its /etc from such a disk.
   */
  attachDisks?: string[];
}

export async function startHostLab(profile: LabProfile, opts: HostLabOptions = {}): Promise<Lab> {
  const bench = profile.host;
  if (profile.kind !== 'host' || !bench) {
    throw new WirelabError(
      `${profile.file}: field 'kind' is "${profile.kind}", but the bench-host driver was asked to run it. Fix: use the nested driver ` +
        `for nested profiles (wirelab picks it by itself).`,
      { exitCode: 2 },
    );
  }
  const progress = opts.onProgress ?? (() => {});
  // The work directory is this machine's: captures land here even when the bench host is remote.
  const { runId, stack, workDir } = openRun(profile, opts.runId);
  const profileDir = path.dirname(profile.file);

  return unwindOnFailure(stack, async () => {
    let shell: HostShell;
    // 1. Reach the bench host and the traffic hosts (their pinned host keys are checked first).
    if (bench.connection === 'ssh') {
      const target = bench.ssh!;
      progress(`connecting to the bench host ${target.address}`);
      shell = await SshShell.connect({
        ...target,
        privateKeyFile: keyPath(target.privateKeyFile, profileDir),
        field: 'host.ssh.privateKeyFile',
      });
    } else {
      shell = new LocalShell(opts.localNetns ?? profile.host?.netns ?? '', opts.localEnv);
    }
    const sh = shell;
    stack.defer(`connection to ${sh.label}`, () => sh.close());
    progress('connecting to the traffic hosts');
    const sshHosts = await allSettledOrThrow([
      connectTrafficHost(profile, 'left', profileDir, stack),
      connectTrafficHost(profile, 'right', profileDir, stack),
    ] as const);

    // 2. What runs that died here left (their holder on the bench host is gone) is restored first.
    const reaps = await reapDeadBenchRuns(sh, {
      trafficHosts: Object.fromEntries(
        SIDES.map((side, i) => [side, { ssh: sshHosts[i]!, address: profile.trafficHosts[side].ssh!.address }]),
      ),
      except: runId,
      progress,
    });
    for (const reap of reaps) progress(`restored after a dead run: ${describeReap(reap)}`);

    // 3. Look before touching anything: NICs, then libvirt.
    const nicsBefore = await checkDataNics({
      shell: sh,
      managementNic: bench.managementNic ?? '',
      dataNics: bench.dataNics,
      sshAddress: bench.connection === 'ssh' ? bench.ssh?.address : undefined,
      profileFile: profile.file,
    });
    await checkLibvirtTools(sh);

    // 4. The bench host's ledger, there and here, before the first change; restoring by it is the run's last undo.
    const ledger = await BenchLedger.open({
      shell: sh,
      runId,
      profile: profile.file,
      bench: benchConnection(profile, profileDir, sh),
      trafficHosts: Object.fromEntries(SIDES.map((side) => [side, sshTarget(profile.trafficHosts[side].ssh!, profileDir)])),
    });
    progress(`run ${runId} recorded in the ledger of ${sh.label} (${benchRecordPath(runId)})`);
    stack.defer(`${sh.label} restored as run ${runId}'s ledger says`, () =>
      restoreByLedger(sh, ledger, { left: sshHosts[0], right: sshHosts[1] }, profile, profileDir),
    );

    // 5. The image: on the bench host (found there, or uploaded over SFTP and checked).
    const hostDir = (await sh.run(['mktemp', '-d', `/tmp/${runMarker(runId)}-XXXXXX`])).stdout.trim();
    stack.defer(`run directory ${hostDir} on ${sh.label}`, async () => {
      await sh.run(['rm', '-rf', hostDir], { allowFailure: true });
    });
    const boot = await guestBoot(profile, sh, { runId, ledger, progress, profileDir });

    // 6. libvirt, bridges, data NICs.
    await ensureLibvirtd(sh, bench.libvirtUri, stack, progress, (name, pid) => ledger.creating({ kind: 'daemon', name, pid }));
    for (const side of SIDES) {
      const bridge = bench.bridges[side];
      progress(`bridge ${bridge} with ${bench.dataNics[side]} on ${sh.label}`);
      // Recorded only when no link of that name exists: the ledger must never name someone else's bridge
      // (createBenchBridge refuses that case with its own message).
      if ((await ifindexOf(sh, bridge)) === undefined) await ledger.creating({ kind: 'bridge', name: bridge });
      await createBenchBridge(sh, bridge, { field: `host.bridges.${side}`, profileFile: profile.file }, stack);
      await ledger.created('bridge', bridge, { ifindex: await ifindexOf(sh, bridge) });
      await ledger.creating({ kind: 'nic', before: nicsBefore[side], bridge });
      await enslaveNic(sh, nicsBefore[side], bridge, stack);
    }
    if (profile.role === 'monitor') await patchBridges(sh, runId, bench.bridges, stack, ledger);

    // 7. The traffic hosts' data NICs: their MAC as it is, the profile's address (added if missing).
    const hosts = {} as Record<Side, LabTrafficHost>;
    for (const [i, side] of SIDES.entries()) hosts[side] = await prepareTrafficHost(profile, side, sshHosts[i]!, stack, ledger);
    const timeline: LabTimeline = { guestReadyAtMs: 0, hostsReadyAtMs: Date.now() };

    // 8. The guest.
    const guestMac = (side: Side) => normalizeMac(profile.guest.nics[side].mac ?? generatedMac(`${runId}/guest/${side}`));
    progress('booting the guest under libvirt');
    const domain = `${runId}-guest`;
    await ledger.creating({ kind: 'domain', name: domain, uri: bench.libvirtUri });
    const guest = await LibvirtGuest.start({
      shell: sh,
      uri: bench.libvirtUri,
      name: domain,
      hostDir,
      ...boot,
      disks: [...boot.disks, ...(opts.attachDisks ?? [])],
      memoryMiB: profile.guest.memoryMiB,
      cpus: profile.guest.cpus,
      accel: profile.guest.accel,
      nics: SIDES.map((side) => ({ bridge: bench.bridges[side], mac: guestMac(side) })),
      ready: { pattern: profile.guest.ready.consolePattern, timeoutMs: profile.guest.ready.timeoutSeconds * 1000 },
      stack,
    });
    timeline.guestReadyAtMs = Date.now();
    progress(`guest ready after ${(guest.readyAfterMs / 1000).toFixed(1)} s`);
    recordPhase({ kind: 'boot', label: runId, startMs: Date.now() - guest.readyAfterMs, endMs: Date.now() });

    // 9. The guest's host-side ports, where captures and latency share the bench host's clock.
    const ifs = await guest.interfaces();
    const ports = {} as Record<Side, GuestPort>;
    for (const [i, side] of SIDES.entries()) {
      const port = ifs[i]!;
      await checkPortOnBridge(sh, port.ifname, port.bridge);
      ports[side] = {
        side,
        netns: sh.netns,
        ifname: port.ifname,
        bridge: port.bridge,
        guestMac: guestMac(side),
        ...(sh.local ? {} : { ssh: sh.ssh }),
      };
    }
    return new StartedLab(runId, profile, guest, ports, hosts, timeline, workDir, stack);
  });
}

/** Kernel, initrd and disks as paths on the bench host. */
async function guestBoot(
  profile: LabProfile,
  sh: HostShell,
  o: { runId: RunId; ledger: BenchLedger; progress: ProgressFn; profileDir: string },
): Promise<{ kernel?: string; initrd?: string; append?: string; disks: string[] }> {
  const image = profile.guest.image;
  // Kernel and initramfs are this machine's files: a remote bench host gets them in its content cache.
  const place = async (file: string, what: string) =>
    sh.local ? file : placeBootFile({ shell: sh, runId: o.runId, ledger: o.ledger, local: file, what, progress: o.progress });
  if (image.kind === 'reference') {
    const built = await buildReferenceImage(image.reference);
    return {
      kernel: await place(built.kernel, 'the guest kernel'),
      initrd: await place(built.initrd, 'the guest initramfs'),
      append: built.append,
      disks: [],
    };
  }
  if (image.kind === 'kernel')
    return {
      kernel: await place(image.kernel, 'the guest kernel'),
      initrd: await place(image.initrd, 'the guest initramfs'),
      append: image.append,
      disks: [],
    };
  // A disk is a path on the bench host (images are large: they live there). With `upload`, this
  // machine's file is put there first (found by its checksum, or copied over SFTP and checked).
  if (image.upload && !sh.local)
    await placeFile({
      shell: sh,
      runId: o.runId,
      ledger: o.ledger,
      local: image.upload,
      remote: image.disk,
      what: 'the guest disk',
      field: 'guest.image.disk',
      progress: o.progress,
    });
  return { disks: [image.disk] };
}

/** How the run's watchdog reaches this bench host again. */
function benchConnection(profile: LabProfile, profileDir: string, sh: HostShell): BenchConnection {
  const bench = profile.host!;
  return bench.connection === 'ssh'
    ? { connection: 'ssh', ssh: sshTarget(bench.ssh!, profileDir) }
    : { connection: 'local', netns: sh.netns };
}

function sshTarget(t: SshTargetProfile, profileDir: string): SshTarget {
  const key = keyPath(t.privateKeyFile, profileDir);
  return { address: t.address, port: t.port, user: t.user, hostKey: t.hostKey, ...(key ? { privateKeyFile: key } : {}) };
}

async function ifindexOf(sh: HostShell, name: string): Promise<number | undefined> {
  const r = await sh.run(['ip', '-j', 'link', 'show', 'dev', name], { allowFailure: true });
  return r.exitCode === 0 ? (JSON.parse(r.stdout || '[]') as { ifindex?: number }[])[0]?.ifindex : undefined;
}

/** Budget for reaching the bench host again when the run's connection to it was lost. */
const RECONNECT_BUDGET_MS = 30_000;

/**
 * The run's last undo: a pass over the ledger that finds nothing left after a clean teardown, and
 * restores what the steps before could not — over a new connection when the old one was lost. Then
 * the ledger goes. If the bench host cannot be reached, the ledger stays (here and there) for the
 * next run or `wirelab clean --profile`, and this says so.
 */
async function restoreByLedger(
  sh: HostShell,
  ledger: BenchLedger,
  trafficHosts: Record<Side, SshHost>,
  profile: LabProfile,
  profileDir: string,
): Promise<void> {
  let shell = sh;
  if (sh.lost()) shell = await reconnect(sh);
  try {
    const undone = await restoreBenchHost(shell, ledger.record);
    if (shell !== sh)
      // Printed on stderr as well: the undo steps before this one failed on the lost connection, and said so.
      console.error(
        `wirelab: the connection to ${sh.label} was lost (${sh.lost()}); reconnected and restored it by run ` +
          `${ledger.record.runId}'s ledger: ${undone.join(', ') || 'nothing was left'}.`,
      );
    for (const side of SIDES) {
      const changes = ledger.record.trafficHosts[side]?.changes ?? [];
      const target = profile.trafficHosts[side].ssh!;
      let ssh = trafficHosts[side];
      const fresh = ssh.lostReason !== undefined;
      if (fresh) ssh = await connectTarget(sshTarget(target, profileDir), `traffic host '${side}' (${target.address})`);
      try {
        await restoreTrafficHost(ssh, ledger.record.runId, changes);
      } finally {
        if (fresh) await ssh.close();
      }
    }
    await ledger.remove(shell);
  } finally {
    if (shell !== sh) await shell.close();
  }
}

async function reconnect(sh: HostShell): Promise<HostShell> {
  const deadline = Date.now() + RECONNECT_BUDGET_MS;
  for (;;) {
    try {
      return await sh.reopen();
    } catch (e) {
      if (Date.now() > deadline)
        throw new WirelabError(
          `The connection to ${sh.label} was lost (${sh.lost()}) and it could not be reached again within ` +
            `${RECONNECT_BUDGET_MS / 1000} s ` +
            `(${(e as Error).message}). What the run changed there stays in its ledger. Fix: once it is reachable, run ` +
            `'wirelab clean --profile <this profile>' (or just the next run), which restores it.`,
          { cause: e },
        );
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

async function connectTrafficHost(profile: LabProfile, side: Side, profileDir: string, stack: UndoStack): Promise<SshHost> {
  const target = profile.trafficHosts[side].ssh as SshTargetProfile;
  const field = `trafficHosts.${side}.ssh.privateKeyFile`;
  const label = `traffic host '${side}' (${target.address})`;
  const privateKey = await readPrivateKey(keyPath(target.privateKeyFile, profileDir), field, label);
  const ssh = await new SshHost()
    .connect({ label, host: target.address, port: target.port, username: target.user, privateKey, hostKey: target.hostKey })
    .catch((e: unknown) => {
      throw e instanceof WirelabError
        ? new WirelabError(`${profile.file}: field 'trafficHosts.${side}.ssh': ${e.message}`, { cause: e })
        : e;
    });
  stack.defer(`ssh to ${label}`, () => ssh.close());
  return ssh;
}

/** The data NIC's real MAC (checked against the profile) and the profile's address on it. */
async function prepareTrafficHost(
  profile: LabProfile,
  side: Side,
  ssh: SshHost,
  stack: UndoStack,
  ledger: BenchLedger,
): Promise<LabTrafficHost> {
  const spec: TrafficHostProfile = profile.trafficHosts[side];
  const nic = spec.dataNic;
  const where = `traffic host '${side}' (${spec.ssh?.address})`;
  const macRead = await ssh.exec(['cat', `/sys/class/net/${nic}/address`]);
  if (macRead.code !== 0) {
    throw new WirelabError(
      `${profile.file}: field 'trafficHosts.${side}.dataNic' is "${nic}", but ${where} has no such NIC ` +
        `(${macRead.stderr.trim() || `exit ${macRead.code}`}). Fix: name the NIC cabled to the bench host's ${side} data NIC.`,
      { exitCode: 2 },
    );
  }
  // Its data NIC must not be the one our SSH session to it arrives on, nor carry that address.
  const session = await managementSession(async (argv) => {
    const r = await ssh.exec(argv, { timeoutMs: 10_000 });
    return { code: r.code, stdout: r.stdout.toString() };
  });
  if (session?.nic === nic) {
    throw new WirelabError(
      `${profile.file}: field 'trafficHosts.${side}.dataNic' is "${nic}", the management NIC of ${where}: wirelab's SSH session ` +
        `arrives on it (at ${session.serverAddress}), and lab traffic and addresses on it would cut that session off. Fix: name the ` +
        `NIC cabled to the bench host's ${side} data NIC, or reach the host over another address.`,
      { exitCode: 2 },
    );
  }
  const mac = normalizeMac(macRead.stdout.toString().trim());
  if (spec.mac && normalizeMac(spec.mac) !== mac) {
    throw new WirelabError(
      `${profile.file}: field 'trafficHosts.${side}.mac' is ${spec.mac}, but ${nic} on ${where} has ${mac}. Fix: leave the field out ` +
        `(wirelab uses the NIC's own MAC) or correct it.`,
      { exitCode: 2 },
    );
  }
  const addrs = await ssh.execOk(['ip', '-j', '-4', 'addr', 'show', 'dev', nic]);
  const present = (JSON.parse(addrs.stdout.toString() || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[])
    .flatMap((l) => l.addr_info ?? [])
    .some((a) => `${a.local}/${a.prefixlen}` === spec.ipv4);
  if (!present) {
    await ledger.changingTrafficHost(side, { kind: 'address', cidr: spec.ipv4, dev: nic });
    await ssh.execOk(['ip', 'addr', 'add', spec.ipv4, 'dev', nic]);
    stack.defer(`${spec.ipv4} on ${nic} of ${where}`, async () => void (await ssh.exec(['ip', 'addr', 'del', spec.ipv4, 'dev', nic])));
  }
  await ssh.execOk(['ip', 'link', 'set', 'dev', nic, 'up']);
  const other = parseCidr(profile.trafficHosts[otherSide(side)].ipv4);
  if (spec.gateway && other) {
    // A route to the other side's subnet only: the host's default route (its management) stays.
    const mask = other.prefix === 0 ? 0 : (0xffffffff << (32 - other.prefix)) >>> 0;
    const subnet = `${intToIpv4((ipv4ToInt(other.address) & mask) >>> 0)}/${other.prefix}`;
    await ledger.changingTrafficHost(side, { kind: 'route', subnet, via: spec.gateway, dev: nic });
    await ssh.execOk(['ip', 'route', 'replace', subnet, 'via', spec.gateway, 'dev', nic]);
    stack.defer(
      `route to ${subnet} on ${where}`,
      async () => void (await ssh.exec(['ip', 'route', 'del', subnet, 'via', spec.gateway!, 'dev', nic])),
    );
  }
  return { side, dataIf: nic, mac, ipv4: spec.ipv4, ssh };
}

/** Monitor topology, as in the nested lab: br0 and br1 joined by a veth patch (both bridges flood, as hubs). */
async function patchBridges(
  sh: HostShell,
  runId: RunId,
  bridges: { left: string; right: string },
  stack: UndoStack,
  ledger: BenchLedger,
): Promise<void> {
  const [a, b] = [`${runId}-p0`, `${runId}-p1`];
  await ledger.creating({ kind: 'veth', name: a });
  await sh.run(['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  stack.defer(`veth patch ${a}`, async () => void (await sh.run(['ip', 'link', 'del', a], { allowFailure: true })));
  await sh.run(['ip', 'link', 'set', a, 'master', bridges.left, 'up']);
  await sh.run(['ip', 'link', 'set', b, 'master', bridges.right, 'up']);
}

/** libvirt must have put the port on our bridge, in the namespace our commands see. */
async function checkPortOnBridge(sh: HostShell, ifname: string, bridge: string): Promise<void> {
  const r = await sh.run(['ip', '-j', 'link', 'show', 'dev', ifname], { allowFailure: true });
  const master = r.exitCode === 0 ? (JSON.parse(r.stdout || '[]') as { master?: string }[])[0]?.master : undefined;
  if (master !== bridge) {
    throw new WirelabError(
      `libvirt reports the guest's port ${ifname} on ${bridge}, but on ${sh.label} ` +
        `${r.exitCode === 0 ? `it is on ${master ?? 'no bridge'}` : 'no such link exists'}. ` +
        `A libvirtd running in another network namespace creates its ports there. Fix: stop that libvirtd, so wirelab starts one ` +
        `where the bridges are.`,
    );
  }
}
