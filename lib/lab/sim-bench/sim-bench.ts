// A simulated bench lab of three machines, so a bench-host profile can be tried with no hardware and
// wirelab's own tests drive the `kind: host, connection: ssh` path for real: the bench host and two
// traffic hosts are containers with root filesystems of their own, reached only over SSH (key only,
// host keys generated here and pinned in the profile). The bench host runs OpenSSH, libvirt and QEMU
// (images/bench-host/); its eth0 is the management NIC on a container network of the lab's own, and
// its eth1 and eth2 are veth "cables" whose other ends are the traffic hosts' eth1.
//
// Everything it creates on this machine carries the lab's id (`wlsb-` and six hex digits): the
// containers (<id>-bench, <id>-left, <id>-right, label wirelab.simbench=<id>), the container network
// and its bridge (<id>), the veth ends while they are on this machine (<id>-l0 …), and the state
// directory (keys, profile). `simBenchDown` removes all of it; a lab made for a process that died
// (a killed test) is removed by the next `wirelab clean` or `wirelab sim-bench up`.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WirelabError } from '../../core/errors.ts';
import { ensureBenchHostImage } from '../../images/bench-host-image.ts';
import { ensureTrafficHostImage } from '../../images/traffic-host-image.ts';
import { docker, ensureDockerEngine } from '../../runtime/docker-engine.ts';
import { run } from '../../runtime/exec.ts';
import { processAlive } from '../../runtime/ledger.ts';
import { SshHost } from '../../runtime/ssh.ts';
import { UndoStack } from '../../runtime/teardown.ts';

/** Where simulated labs keep their keys, profile and state (one directory per lab). */
export const SIM_BENCH_DIR = process.env.WIRELAB_SIM_BENCH_DIR ?? '/var/lib/wirelab/sim-bench';
export const SIM_BENCH_LABEL = 'wirelab.simbench';
export const SIM_BENCH_ID = /^wlsb-[0-9a-f]{6}$/;

const MACHINES = ['bench', 'left', 'right'] as const;
type Machine = (typeof MACHINES)[number];
const READY_BUDGET_MS = 60_000;
/**
 * The cables carry jumbo frames, as the nested lab's links do, so the lab never limits what the guest is
 * tested with (a full-size QinQ frame is the profile's MTU + 22 bytes). libvirt gives the guest's ports
 * their bridge's MTU. A real bench host needs its data NICs (and the traffic hosts') set likewise.
 */
const CABLE_MTU = 9000;

export interface SimBench {
  id: string;
  dir: string;
  /** The ready `kind: host, connection: ssh` profile. */
  profileFile: string;
  /** Management addresses (on the lab's container network). */
  addresses: Record<Machine, string>;
  /** Pinned host keys (OpenSSH .pub lines). */
  hostKeys: Record<Machine, string>;
  /** The client key every machine accepts. */
  clientKeyFile: string;
  /** The process the lab was made for; absent: kept until `wirelab sim-bench down`. */
  ownerPid?: number;
  createdAt: string;
}

export interface SimBenchOptions {
  /** The guest the printed profile names (a reference image). */
  reference?: string;
  /** Remove the lab when this process is gone (by `wirelab clean` or the next `sim-bench up`). */
  ownerPid?: number;
  onProgress?: (message: string) => void;
}

const stateFile = (dir: string) => path.join(dir, 'sim-bench.json');

/** Bring a simulated bench lab up; on any failure everything created so far is removed. */
export async function simBenchUp(opts: SimBenchOptions = {}): Promise<SimBench> {
  const progress = opts.onProgress ?? (() => {});
  await ensureDockerEngine();
  await removeOrphanedSimBenches(progress);
  const benchImage = await ensureBenchHostImage((tag) => progress(`building the bench-host image ${tag} (once; about a minute)`));
  const trafficImage = await ensureTrafficHostImage();
  const id = `wlsb-${randomBytes(3).toString('hex')}`;
  const dir = path.join(SIM_BENCH_DIR, id);
  const stack = new UndoStack(id);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    stack.defer(`state directory ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    progress(`simulated bench lab ${id}: keys, network, three machines`);
    const clientKeyFile = path.join(dir, 'client_ed25519');
    await sshKeygen(clientKeyFile, `wirelab ${id} client`);
    const clientPublic = readFileSync(`${clientKeyFile}.pub`, 'utf8');
    const hostKeys = {} as Record<Machine, string>;
    for (const m of MACHINES) {
      await sshKeygen(path.join(dir, `${m}_host_ed25519`), `wirelab ${id} ${m}`);
      hostKeys[m] = readFileSync(path.join(dir, `${m}_host_ed25519.pub`), 'utf8').trim();
    }

    // The management network: a bridge of the lab's own on this machine, in the engine's 198.19.0.0/16 pool.
    const subnet = await createNetwork(id);
    stack.defer(`container network ${id}`, async () => void (await docker(['network', 'rm', id], { allowFailure: true })));
    const addresses = managementAddresses(subnet);

    for (const m of MACHINES) {
      const name = `${id}-${m}`;
      const common = ['--name', name, '--hostname', name, '--label', `${SIM_BENCH_LABEL}=${id}`, '--network', id, '--ip', addresses[m]];
      const args =
        m === 'bench'
          ? // Bridges and taps need NET_ADMIN and the tun device; --privileged fails on some machines (DESIGN.md).
            [...common, '--cap-add', 'NET_ADMIN', '--device', '/dev/net/tun', ...bridgeNetfilterOff(), benchImage]
          : [...common, '--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW', trafficImage, '/usr/sbin/sshd', '-D', '-e'];
      await docker(['create', ...args]);
      stack.defer(
        `container ${name}`,
        async () => void (await docker(['rm', '-f', '-v', name], { allowFailure: true, timeoutMs: 30_000 })),
      );
      await copyKeys(name, dir, m, clientPublic);
      await docker(['start', name]);
    }
    await cable(id, 'left', 'eth1');
    await cable(id, 'right', 'eth2');

    progress(`simulated bench lab ${id}: waiting for sshd and libvirtd`);
    await waitForMachines(id, addresses, hostKeys, clientKeyFile);

    const sim: SimBench = {
      id,
      dir,
      profileFile: path.join(dir, 'profile.yaml'),
      addresses,
      hostKeys,
      clientKeyFile,
      ...(opts.ownerPid ? { ownerPid: opts.ownerPid } : {}),
      createdAt: new Date().toISOString(),
    };
    writeFileSync(sim.profileFile, simBenchProfile(sim, opts.reference ?? 'l2-bridge'));
    writeFileSync(stateFile(dir), JSON.stringify(sim, null, 2));
    return sim;
  } catch (e) {
    await stack.unwind().catch((u: Error) => progress(`cleanup after the failed start: ${u.message}`));
    throw e;
  }
}

/**
 * The management network: a bridge of the lab's own on this machine (named after the lab), on a free
 * /24 of 198.19.0.0/16 — the engine's pool, never the lab's 198.18.0.0/16. Fixed addresses need a
 * subnet named at creation, so one is picked among those no network uses (another may take it meanwhile: retried).
 */
async function createNetwork(id: string): Promise<string> {
  const inspect = await docker(['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', 'bridge'], {
    allowFailure: true,
  });
  const ids = (await docker(['network', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  const used = new Set(inspect.stdout.split(/\s+/));
  if (ids.length > 0) {
    const all = await docker(['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', ...ids], {
      allowFailure: true,
    });
    for (const s of all.stdout.split(/\s+/)) used.add(s);
  }
  const start = randomBytes(1)[0]!;
  for (let i = 0; i < 254; i++) {
    const subnet = `198.19.${(start + i) % 254}.0/24`;
    if (used.has(subnet)) continue;
    const r = await docker(
      ['network', 'create', '--subnet', subnet, '--label', `${SIM_BENCH_LABEL}=${id}`, '-o', `com.docker.network.bridge.name=${id}`, id],
      { allowFailure: true },
    );
    if (r.exitCode === 0) return subnet;
    if (!/overlap/i.test(r.stderr)) throw new WirelabError(`Could not create the container network ${id}: ${r.stderr.trim()}`);
  }
  throw new WirelabError(
    `No free /24 is left in 198.19.0.0/16 for the container network ${id}. Fix: remove unused networks (docker network ls).`,
  );
}

/** The three machines' addresses in the lab's /24: .2 bench host, .3 left, .4 right (.1 is this machine). */
function managementAddresses(subnet: string): Record<Machine, string> {
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  if (!m)
    throw new WirelabError(
      `The container network got the subnet '${subnet}', not a /24 of the engine's pool. Fix: start dockerd with wirelab's flags ` +
        `('wirelab prepare'), whose address pool gives /24s in 198.19.0.0/16.`,
    );
  return { bench: `${m[1]}.2`, left: `${m[1]}.3`, right: `${m[1]}.4` };
}

/**
 * Frames crossing the bench host's bridges must not go through its iptables (a malformed IPv4 frame
 * would vanish there): a container's network namespace starts with bridge netfilter on when the
 * module is loaded, as a real host with Docker on it has it.
 */
function bridgeNetfilterOff(): string[] {
  if (!existsSync('/proc/sys/net/bridge')) return [];
  return ['iptables', 'ip6tables', 'arptables'].flatMap((t) => ['--sysctl', `net.bridge.bridge-nf-call-${t}=0`]);
}

async function sshKeygen(file: string, comment: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

/** The machine's host key and the client's public key, copied into the created container. */
async function copyKeys(container: string, dir: string, m: Machine, clientPublic: string): Promise<void> {
  const stage = path.join(dir, `stage-${m}`);
  mkdirSync(path.join(stage, 'etc/ssh'), { recursive: true, mode: 0o755 });
  mkdirSync(path.join(stage, 'root/.ssh'), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path.join(stage, 'etc/ssh/ssh_host_ed25519_key'), readFileSync(path.join(dir, `${m}_host_ed25519`)), { mode: 0o600 });
    writeFileSync(path.join(stage, 'etc/ssh/ssh_host_ed25519_key.pub'), readFileSync(path.join(dir, `${m}_host_ed25519.pub`)), {
      mode: 0o644,
    });
    writeFileSync(path.join(stage, 'root/.ssh/authorized_keys'), clientPublic, { mode: 0o600 });
    await docker(['cp', `${stage}/etc/ssh/.`, `${container}:/etc/ssh/`]);
    await docker(['cp', `${stage}/root/.ssh/.`, `${container}:/root/.ssh/`]);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

async function containerPid(name: string): Promise<number> {
  const pid = Number((await docker(['inspect', '--format', '{{.State.Pid}}', name])).stdout.trim());
  if (!(pid > 0)) throw new WirelabError(`Container ${name} is not running (no process). Fix: see 'docker logs ${name}'.`);
  return pid;
}

/**
 * A cable: a veth pair made on this machine, one end moved into the bench host (as `benchNic`), the
 * other into the traffic host (as its eth1). Both go with their containers; a restarted container has
 * lost its end, so the lab is brought up again rather than restarted.
 */
async function cable(id: string, side: 'left' | 'right', benchNic: 'eth1' | 'eth2'): Promise<void> {
  const [benchEnd, hostEnd] = [`${id}-${side[0]}0`, `${id}-${side[0]}1`];
  const [benchPid, hostPid] = [await containerPid(`${id}-bench`), await containerPid(`${id}-${side}`)];
  const mtu = ['mtu', String(CABLE_MTU)];
  await run('ip', ['link', 'add', benchEnd, ...mtu, 'type', 'veth', 'peer', 'name', hostEnd, ...mtu]);
  try {
    await run('ip', ['link', 'set', benchEnd, 'netns', String(benchPid)]);
    await run('ip', ['link', 'set', hostEnd, 'netns', String(hostPid)]);
  } catch (e) {
    await run('ip', ['link', 'del', benchEnd], { allowFailure: true });
    throw e;
  }
  const inNetns = (pid: number, args: string[], allowFailure = false) =>
    run('nsenter', [`--net=/proc/${pid}/ns/net`, ...args], { allowFailure });
  // The bench host's data NIC: up and bare, as a cabled NIC waiting for a lab is.
  await inNetns(benchPid, ['ip', 'link', 'set', benchEnd, 'name', benchNic]);
  await inNetns(benchPid, ['ip', 'link', 'set', benchNic, 'up']);
  // The traffic host's data NIC: up, silent on IPv6 (no link-local, DAD or router solicitations into the lab).
  await inNetns(hostPid, ['ip', 'link', 'set', hostEnd, 'name', 'eth1']);
  await inNetns(hostPid, ['ip', 'link', 'set', 'eth1', 'addrgenmode', 'none'], true);
  for (const key of ['accept_dad', 'accept_ra', 'autoconf', 'router_solicitations'])
    await inNetns(hostPid, ['sysctl', '-qw', `net.ipv6.conf.eth1.${key}=0`], true);
  await inNetns(hostPid, ['ip', 'link', 'set', 'eth1', 'up']);
}

/** Each machine answers over SSH with its pinned key; the bench host's libvirtd answers too. */
async function waitForMachines(
  id: string,
  addresses: Record<Machine, string>,
  hostKeys: Record<Machine, string>,
  clientKeyFile: string,
): Promise<void> {
  const privateKey = readFileSync(clientKeyFile, 'utf8');
  const deadline = Date.now() + READY_BUDGET_MS;
  for (const m of MACHINES) {
    const label = `simulated ${m === 'bench' ? 'bench host' : `traffic host '${m}'`} (${id}-${m})`;
    for (;;) {
      const ssh = new SshHost();
      try {
        await ssh.connect({ label, host: addresses[m], username: 'root', privateKey, hostKey: hostKeys[m], readyTimeoutMs: 5_000 });
        if (m !== 'bench') {
          await ssh.close();
          break;
        }
        const virsh = await ssh.exec(['virsh', '-q', '-c', 'qemu:///system', 'version', '--daemon'], { timeoutMs: 20_000 });
        await ssh.close();
        if (virsh.code === 0) break;
        throw new Error(`libvirtd does not answer yet: ${virsh.stderr.trim()}`);
      } catch (e) {
        await ssh.close();
        if (Date.now() > deadline) {
          const logs = await docker(['logs', '--tail', '5', `${id}-${m}`], { allowFailure: true });
          throw new WirelabError(
            `The ${label} did not answer within ${READY_BUDGET_MS / 1000} s: ${(e as Error).message}. Its log: ` +
              `${`${logs.stdout} ${logs.stderr}`.trim().split('\n').join(' | ')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }
}

/** The ready profile: the bench host over SSH, its data NICs, the traffic hosts, every key pinned. */
export function simBenchProfile(sim: SimBench, reference: string): string {
  const target = (m: Machine, indent: string) =>
    [
      `${indent}ssh:`,
      `${indent}  address: ${sim.addresses[m]}`,
      `${indent}  hostKey: ${sim.hostKeys[m]}`,
      `${indent}  privateKeyFile: ${sim.clientKeyFile}`,
    ].join('\n');
  const trafficHost = (side: 'left' | 'right', ipv4: string) =>
    [`  ${side}:`, `    ipv4: ${ipv4}`, '    dataNic: eth1', target(side, '    ')].join('\n');
  return [
    `# The simulated bench lab ${sim.id} (wirelab sim-bench up): a bench host and two traffic hosts in containers,`,
    `# every one reached over SSH with its pinned host key. Remove it with: wirelab sim-bench down ${sim.id}`,
    `name: ${sim.id}`,
    'kind: host',
    'role: l2-bridge',
    'guest:',
    `  image: { reference: ${reference} }`,
    'host:',
    '  connection: ssh',
    target('bench', '  '),
    '  managementNic: eth0',
    '  dataNics: { left: eth1, right: eth2 }',
    '  bridges: { left: br0, right: br1 }',
    'trafficHosts:',
    trafficHost('left', '198.18.0.1/24'),
    trafficHost('right', '198.18.0.2/24'),
    '# The guest runs under software emulation (TCG) inside a container on a machine shared with other work: its',
    '# slowest frames take longer than on a bench host with KVM. Tighten this to what the image promises there.',
    'expect:',
    '  latencyP99Ms: 250',
    '',
  ].join('\n');
}

/** Every simulated lab with state on this machine. */
export function listSimBenches(): SimBench[] {
  let names: string[] = [];
  try {
    names = readdirSync(SIM_BENCH_DIR).filter((n) => SIM_BENCH_ID.test(n));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    try {
      return [JSON.parse(readFileSync(stateFile(path.join(SIM_BENCH_DIR, n)), 'utf8')) as SimBench];
    } catch {
      return [];
    }
  });
}

/** Remove a simulated lab by its id: containers, network, state. Returns false when nothing of it was found. */
export async function simBenchDown(id: string): Promise<boolean> {
  if (!SIM_BENCH_ID.test(id))
    throw new WirelabError(`'${id}' is not a simulated bench lab's id (wlsb- and six hex digits). Fix: see 'wirelab sim-bench list'.`, {
      exitCode: 2,
    });
  const ps = await docker(['ps', '-aq', '--filter', `label=${SIM_BENCH_LABEL}=${id}`], { allowFailure: true });
  const containers = ps.stdout.split('\n').filter(Boolean);
  if (containers.length > 0) await docker(['rm', '-f', '-v', ...containers], { allowFailure: true, timeoutMs: 30_000 });
  const nets = await docker(['network', 'ls', '-q', '--filter', `label=${SIM_BENCH_LABEL}=${id}`], { allowFailure: true });
  const networks = nets.stdout.split('\n').filter(Boolean);
  for (const net of networks) await docker(['network', 'rm', net], { allowFailure: true });
  // Veth ends still on this machine (a start that failed between creating and moving them).
  for (const end of ['l0', 'r0']) await run('ip', ['link', 'del', `${id}-${end}`], { allowFailure: true });
  const dir = path.join(SIM_BENCH_DIR, id);
  const hadState = existsSync(dir);
  rmSync(dir, { recursive: true, force: true });
  return hadState || containers.length > 0 || networks.length > 0;
}

/** Every simulated lab's id found on this machine: by state directory, container label or network label. */
export async function simBenchIds(): Promise<string[]> {
  const ids = new Set(listSimBenches().map((s) => s.id));
  for (const args of [
    ['ps', '-a', '--filter', `label=${SIM_BENCH_LABEL}`, '--format', `{{.Label "${SIM_BENCH_LABEL}"}}`],
    ['network', 'ls', '--filter', `label=${SIM_BENCH_LABEL}`, '--format', `{{.Label "${SIM_BENCH_LABEL}"}}`],
  ]) {
    const r = await docker(args, { allowFailure: true });
    for (const id of r.stdout.split('\n').map((l) => l.trim())) if (SIM_BENCH_ID.test(id)) ids.add(id);
  }
  return [...ids].sort();
}

/** Labs made for a process that is gone (a killed test): removed. Returns their ids. */
export async function removeOrphanedSimBenches(progress: (m: string) => void = () => {}): Promise<string[]> {
  const orphans = listSimBenches().filter((s) => s.ownerPid !== undefined && !processAlive(s.ownerPid));
  for (const s of orphans) {
    progress(`removing the simulated bench lab ${s.id} (its owner, pid ${s.ownerPid}, is gone)`);
    await simBenchDown(s.id);
  }
  return orphans.map((s) => s.id);
}
