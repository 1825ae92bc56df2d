// `wirelab doctor --profile P` for a bench-host profile: what the bench host and its traffic hosts
// lack for a lab, each with the fix, asked over SSH (or in the local shell for `connection: local`).
// Read-only, except one throwaway bridge (created and deleted at once) to prove bridges work there.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { WirelabError } from '../../core/errors.ts';
import { SIDES } from '../../core/sides.ts';
import type { LabProfile } from '../../profile/types.ts';
import type { SshHost } from '../../runtime/ssh.ts';
import { holderAlive, readBenchRecords } from './bench-ledger.ts';
import { checkDataNics } from './bench-nics.ts';
import { connectTarget } from './bench-reaper.ts';
import { LocalShell, SshShell, type HostShell } from './host-shell.ts';
import { keyPath } from './profile-paths.ts';

export interface DoctorCheck {
  what: string;
  ok: boolean;
  fix: string;
}

/** Commands a bench host needs, and the Debian packages that bring them. */
const BENCH_TOOLS: [string, string][] = [
  ['virsh', 'libvirt-clients'],
  ['libvirtd', 'libvirt-daemon-system'],
  ['virtlogd', 'libvirt-daemon-system'],
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['qemu-img', 'qemu-utils'],
  ['tcpdump', 'tcpdump'],
  ['ip', 'iproute2'],
  ['ps', 'procps'],
  ['sha256sum', 'coreutils'],
];
const TRAFFIC_TOOLS: [string, string][] = [
  ['tcpdump', 'tcpdump'],
  ['tcpreplay', 'tcpreplay'],
  ['ip', 'iproute2'],
  ['ping', 'iputils-ping'],
  ['timeout', 'coreutils'],
  ['ps', 'procps'],
];

export async function benchHostChecks(profile: LabProfile): Promise<DoctorCheck[]> {
  const bench = profile.host!;
  const checks: DoctorCheck[] = [];
  const add = (what: string, ok: boolean, fix = '') => checks.push({ what, ok, fix });
  let shell: HostShell;
  const where = bench.connection === 'ssh' ? `bench host ${bench.ssh!.address}` : 'bench host (this machine)';
  try {
    shell =
      bench.connection === 'ssh'
        ? await SshShell.connect({
            ...bench.ssh!,
            privateKeyFile: keyPath(bench.ssh!.privateKeyFile, path.dirname(profile.file)),
            field: 'host.ssh.privateKeyFile',
          })
        : new LocalShell(bench.netns ?? '');
  } catch (e) {
    add(`${where}: reachable over SSH with the pinned host key`, false, (e as Error).message);
    return checks;
  }
  try {
    if (bench.connection === 'ssh') add(`${where}: reachable over SSH, host key matches the pinned one`, true);
    for (const [tool, pkg] of BENCH_TOOLS)
      add(`${where}: ${tool}`, await shell.has(tool), `on the bench host: apt-get install -y --no-install-recommends ${pkg}`);
    const virsh = await shell.run(['virsh', '-q', '-c', bench.libvirtUri, 'version', '--daemon'], {
      allowFailure: true,
      timeoutMs: 30_000,
    });
    const system = bench.libvirtUri === 'qemu:///system';
    add(
      virsh.exitCode === 0
        ? `${where}: libvirtd answers at ${bench.libvirtUri}`
        : `${where}: libvirtd does not answer at ${bench.libvirtUri}${system ? ' (wirelab starts it for a run)' : ''}`,
      virsh.exitCode === 0 || system,
      'on the bench host: systemctl start libvirtd (or libvirtd -d where PID 1 is not systemd)',
    );
    const kvm = await shell.run(['test', '-w', '/dev/kvm'], { allowFailure: true });
    // Not a failure: without KVM the guest runs under TCG, slower but the same.
    add(
      kvm.exitCode === 0
        ? `${where}: KVM (/dev/kvm) is there`
        : `${where}: no KVM (/dev/kvm): guests run under TCG, software emulation (boots take seconds longer)`,
      true,
    );
    const probe = `wldoc${randomBytes(2).toString('hex')}`;
    const made = await shell.run(['ip', 'link', 'add', probe, 'type', 'bridge'], { allowFailure: true });
    if (made.exitCode === 0) await shell.run(['ip', 'link', 'del', probe], { allowFailure: true });
    add(`${where}: Linux bridges can be created`, made.exitCode === 0, `on the bench host: modprobe bridge (${made.stderr.trim()})`);
    const nf = await shell.run(['cat', '/proc/sys/net/bridge/bridge-nf-call-iptables'], { allowFailure: true });
    add(
      `${where}: frames crossing its bridges bypass iptables (bridge-nf-call-iptables ${nf.exitCode === 0 ? nf.stdout.trim() : 'absent'})`,
      nf.exitCode !== 0 || nf.stdout.trim() === '0',
      'on the bench host: sysctl -w net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 ' +
        "(else the host's firewall sees lab frames, and malformed IPv4 test frames vanish there)",
    );
    try {
      await checkDataNics({
        shell,
        managementNic: bench.managementNic ?? '',
        dataNics: bench.dataNics,
        sshAddress: bench.connection === 'ssh' ? bench.ssh!.address : undefined,
        profileFile: profile.file,
      });
      add(
        `${where}: data NICs ${bench.dataNics.left} and ${bench.dataNics.right} are free (no bridge, no management address or route)`,
        true,
      );
      for (const side of SIDES)
        await mtuCheck(add, (argv) => shell.run(argv, { allowFailure: true }), where, bench.dataNics[side], profile);
    } catch (e) {
      if (!(e instanceof WirelabError)) throw e;
      add(`${where}: data NICs: ${e.message.split('. Fix:')[0]}`, false, e.message.split('. Fix: ')[1] ?? '');
    }
    if (shell instanceof SshShell) {
      const sftp = await shell.ssh.sftpAvailable();
      add(`${where}: SFTP (uploads of the guest's files)`, sftp === true, typeof sftp === 'string' ? sftp : '');
    }
    const image = profile.guest.image;
    if (image.kind === 'disk') {
      const info = await shell.run(['qemu-img', 'info', image.disk], { allowFailure: true });
      const state = info.exitCode === 0 ? 'is there' : image.upload ? 'is not there yet (the run uploads it)' : 'is missing';
      add(
        `${where}: guest disk ${image.disk} ${state}`,
        info.exitCode === 0 || image.upload !== undefined,
        `copy the image there, or set guest.image.upload to a local file that wirelab uploads`,
      );
    }
    const records = await readBenchRecords(shell);
    for (const record of records) {
      const alive = await holderAlive(shell, record);
      add(
        alive
          ? `${where}: run ${record.runId} (from ${record.controller.host}) is using it now`
          : `${where}: run ${record.runId} died and left changes recorded in its ledger`,
        alive,
        `wirelab clean --profile ${profile.file} (the next run restores it too)`,
      );
    }
  } finally {
    await shell.close();
  }
  for (const side of SIDES) {
    const target = profile.trafficHosts[side].ssh!;
    const who = `traffic host '${side}' (${target.address})`;
    let ssh: SshHost;
    try {
      ssh = await connectTarget(
        { ...target, privateKeyFile: keyPath(target.privateKeyFile, path.dirname(profile.file)) },
        `traffic host '${side}' (${target.address})`,
      );
    } catch (e) {
      add(`${who}: reachable over SSH with the pinned host key`, false, (e as Error).message);
      continue;
    }
    try {
      add(`${who}: reachable over SSH, host key matches the pinned one`, true);
      const runOn = async (argv: readonly string[]) => {
        const r = await ssh.exec(argv, { timeoutMs: 20_000 });
        return { exitCode: r.code ?? -1, stdout: r.stdout.toString(), stderr: r.stderr };
      };
      for (const [tool, pkg] of TRAFFIC_TOOLS) {
        const r = await runOn(['sh', '-c', 'command -v "$1"', 'sh', tool]);
        add(`${who}: ${tool}`, r.exitCode === 0, `on that host: apt-get install -y --no-install-recommends ${pkg}`);
      }
      const nic = profile.trafficHosts[side].dataNic;
      const has = await runOn(['ip', 'link', 'show', 'dev', nic]);
      add(
        `${who}: data NIC ${nic}`,
        has.exitCode === 0,
        `name the NIC cabled to the bench host's ${side} data NIC (trafficHosts.${side}.dataNic)`,
      );
      if (has.exitCode === 0) await mtuCheck(add, runOn, who, nic, profile);
    } finally {
      await ssh.close();
    }
  }
  return checks;
}

/** A data NIC must carry the suites' largest frame: the profile's MTU plus two VLAN tags (QinQ). */
async function mtuCheck(
  add: (what: string, ok: boolean, fix: string) => void,
  runOn: (argv: readonly string[]) => Promise<{ exitCode: number; stdout: string }>,
  where: string,
  nic: string,
  profile: LabProfile,
): Promise<void> {
  const need = profile.expect.mtu + 8;
  const r = await runOn(['cat', `/sys/class/net/${nic}/mtu`]);
  const mtu = Number(r.stdout.trim());
  if (r.exitCode !== 0 || !(mtu > 0)) return;
  add(
    `${where}: ${nic} MTU ${mtu} (QinQ frames at the profile's MTU ${profile.expect.mtu} need ${need})`,
    mtu >= need,
    `ip link set dev ${nic} mtu ${need} (on both ends of the cable), or lower expect.mtu`,
  );
}
