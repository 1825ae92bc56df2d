// `wirelab doctor`: what this machine lacks for wirelab, each with the command that fixes it.
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { haveCommand, run } from '../runtime/exec.ts';
import { benchHostChecks } from '../lab/bench-host/bench-doctor.ts';
import { describeReap, reapDeadRunsOfProfile } from '../lab/bench-host/bench-reaper.ts';
import type { LabProfile } from '../profile/types.ts';

interface Check {
  what: string;
  ok: boolean;
  fix: string;
}

const DEBIAN_TOOLS: [string, string][] = [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['qemu-img', 'qemu-utils'],
  ['ip', 'iproute2'],
  ['tcpdump', 'tcpdump'],
  ['busybox', 'busybox-static'],
  ['cpio', 'cpio'],
  ['dockerd', 'docker.io'],
  ['debootstrap', 'debootstrap'],
  ['ssh-keygen', 'openssh-client'],
  ['tcpreplay', 'tcpreplay'],
  ['virsh', 'libvirt-clients libvirt-daemon-system libvirt-daemon-driver-qemu'],
  ['guestfish', 'libguestfs-tools'],
];

export async function collectChecks(): Promise<Check[]> {
  const checks: Check[] = [];
  checks.push({
    what: 'running as root (bridges, taps, namespaces, QEMU, dockerd)',
    ok: process.getuid?.() === 0,
    fix: 'run wirelab as root (sudo -E).',
  });
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ what: `Node.js >= 20 (have ${process.versions.node})`, ok: major >= 20, fix: 'install Node.js 20 or newer.' });
  for (const [cmd, pkg] of DEBIAN_TOOLS) {
    checks.push({ what: `${cmd}`, ok: await haveCommand(cmd), fix: `apt-get install -y ${pkg}` });
  }
  const kernels = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-.*-cloud-amd64$/.test(f)) : [];
  checks.push({
    what: 'Debian cloud kernel for the reference images (/boot/vmlinuz-*-cloud-amd64)',
    ok: kernels.length > 0,
    fix: 'apt-get install -y linux-image-cloud-amd64',
  });
  let tun = false;
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    tun = true;
  } catch {
    tun = false;
  }
  checks.push({ what: '/dev/net/tun (taps for the guest)', ok: tun, fix: 'load the tun module or run in a container with /dev/net/tun.' });
  const scapy = await run('/usr/bin/python3', ['-c', 'import scapy'], { allowFailure: true }).catch(() => ({ exitCode: 1 }));
  checks.push({
    what: "Debian's python3-scapy (for the scapy comparisons in tests and benchmarks)",
    ok: scapy.exitCode === 0,
    fix: 'apt-get install -y python3-scapy',
  });
  const docker = await run('docker', ['version', '--format', '{{.Server.Version}}'], { allowFailure: true, timeoutMs: 10_000 }).catch(
    () => ({ exitCode: 1 }),
  );
  checks.push({
    what: 'a Docker engine answering on /var/run/docker.sock',
    ok: docker.exitCode === 0,
    fix: "run 'npm run setup' (starts dockerd with wirelab's safe flags).",
  });
  return checks;
}

/** `wirelab doctor [--profile P]`: this machine; for a bench-host profile, its bench host and traffic hosts (over SSH). */
export async function doctor(profile?: LabProfile): Promise<number> {
  if (profile?.kind === 'host') {
    console.log(`wirelab doctor: ${profile.file} (${profile.host?.connection === 'ssh' ? 'over SSH' : 'on this machine'})`);
    const checks = await benchHostChecks(profile);
    for (const c of checks) console.log(`${c.ok ? 'ok     ' : 'MISSING'} ${c.what}${c.ok ? '' : `\n        fix: ${c.fix}`}`);
    const missing = checks.filter((c) => !c.ok).length;
    console.log(
      missing === 0
        ? 'wirelab doctor: the bench host and its traffic hosts have everything a lab needs.'
        : `wirelab doctor: ${missing} thing(s) missing on the bench host or its traffic hosts (fixes above).`,
    );
    return missing === 0 ? 0 : 1;
  }
  const checks = await collectChecks();
  for (const c of checks) console.log(`${c.ok ? 'ok     ' : 'MISSING'} ${c.what}${c.ok ? '' : `\n        fix: ${c.fix}`}`);
  const missing = checks.filter((c) => !c.ok).length;
  console.log(
    missing === 0
      ? 'wirelab doctor: this machine has everything wirelab needs.'
      : `wirelab doctor: ${missing} thing(s) missing; 'npm run setup' installs them all on Debian 12.`,
  );
  return missing === 0 ? 0 : 1;
}

/** `wirelab clean --profile P` for a bench host: what dead runs left there (by its own ledger), restored over SSH. */
export async function cleanBenchHost(profile: LabProfile): Promise<number> {
  const { label, reaps, unreachable } = await reapDeadRunsOfProfile(profile);
  for (const u of unreachable) console.log(`wirelab clean: could not reach ${u}; its part of any dead run stays for later.`);
  if (reaps.length === 0) console.log(`wirelab clean: ${label}: no dead run left anything there.`);
  for (const reap of reaps) console.log(`wirelab clean: ${label}: restored ${describeReap(reap)}`);
  return 0;
}
