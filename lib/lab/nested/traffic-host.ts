// A traffic host: a container from the traffic-host image that sits on one lab bridge and that
// wirelab drives over ssh. Its data NIC `eth1` is one end of a veth pair whose other end is a port
// of the bridge inside the lab's namespace; its `eth0` is the container engine's management bridge,
// the only way wirelab reaches it (ssh with a per-run pinned host key, key-only login).
//
// Per-host work is independent, so both sides start concurrently under Promise.all.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inBenchmarkRange, ipv4ToInt, MAC_PATTERN, parseCidr, subnetInBenchmarkRange } from '../../core/addressing.ts';
import { docker, ensureDockerEngine, dockerEnv, removeContainersByLabel } from '../../runtime/docker-engine.ts';
import { WirelabError } from '../../core/errors.ts';
import { run } from '../../runtime/exec.ts';
import { SshHost } from '../../runtime/ssh.ts';
import type { UndoStack } from '../../runtime/teardown.ts';
import { ensureTrafficHostImage } from '../../images/traffic-host-image.ts';
import type { RunId } from '../../core/run-id.ts';
import type { Side } from '../../core/sides.ts';

export interface TrafficHostSpec {
  side: Side;
  runId: RunId | string;
  /** Network namespace holding the bridge. */
  labNetns: string;
  bridge: string;
  mac: string;
  /** Address of the data NIC with prefix, e.g. 198.18.0.1/24. */
  ipv4: string;
  /** Next hop for everything not on the data subnet (an L3 forwarder's address on this side). */
  gateway?: string;
  /** IPv6 address with prefix (2001:db8::/32), and the IPv6 next hop. */
  ipv6?: string;
  gateway6?: string;
  /** Directory for this host's ssh keys (created 0700; the keys are deleted at undo). */
  workDir: string;
  /** MTU of the data link (both veth ends); the kernel default 1500 when absent. */
  mtu?: number;
  /** Image to run; by default the traffic-host image, built if missing. */
  image?: string;
}

export interface TrafficHost {
  side: Side;
  containerId: string;
  containerName: string;
  /** The data NIC inside the container. */
  dataIf: 'eth1';
  /** The veth end on the lab bridge (inside labNetns). */
  bridgePort: string;
  mac: string;
  ipv4: string;
  ipv6?: string;
  ssh: SshHost;
  /** Management address on the container engine's bridge (198.19.x), where sshd listens. */
  mgmtAddress: string;
  /** The host's pinned public key, OpenSSH .pub line. */
  hostKey: string;
}

const DATA_IF = 'eth1';
/** The container engine's address pool (see docker-engine.ts): lab addresses must stay out of it. */
const MGMT_POOL = { base: ipv4ToInt('198.19.0.0'), mask: 0xffff0000 };
const SSHD_START_BUDGET_MS = 30_000;
const SSH_READY_BUDGET_MS = 15_000;

export async function startTrafficHost(spec: TrafficHostSpec, stack: UndoStack): Promise<TrafficHost> {
  validateSpec(spec);
  const { socketPath } = await ensureDockerEngine();
  const image = spec.image ?? (await ensureTrafficHostImage());
  if (spec.image !== undefined) await requireLocalImage(spec.image);

  const keys = await generateKeys(spec, stack);
  const container = await startContainer(spec, image, keys, socketPath, stack);
  const { pid, mgmtAddress } = await inspectContainer(container.id);
  const bridgePort = await joinBridge(spec, pid, stack);

  const ssh = new SshHost();
  await connectWhenReady(ssh, {
    label: `traffic host '${spec.side}' (${container.name})`,
    host: mgmtAddress,
    username: 'root',
    privateKey: keys.clientPrivate,
    hostKey: keys.hostPublic,
  });
  stack.defer(`ssh to traffic host ${spec.side}`, () => ssh.close());

  return {
    side: spec.side,
    containerId: container.id,
    containerName: container.name,
    dataIf: DATA_IF,
    bridgePort,
    mac: spec.mac.toLowerCase(),
    ipv4: spec.ipv4,
    ...(spec.ipv6 ? { ipv6: spec.ipv6 } : {}),
    ssh,
    mgmtAddress,
    hostKey: keys.hostPublic,
  };
}

function validateSpec(spec: TrafficHostSpec): void {
  const bad = (field: string, value: unknown, allowed: string) =>
    new WirelabError(`Traffic host '${spec.side}': ${field} is ${JSON.stringify(value)}; ${allowed}`, { exitCode: 2 });
  // Any unicast MAC: the vRouter's shared 00:01:00:5e:00:00 (universally administered) must be usable,
  // since reproducing the guide's same-MAC loop needs exactly that MAC.
  if (!MAC_PATTERN.test(spec.mac) || (parseInt(spec.mac.slice(0, 2), 16) & 0x01) !== 0) {
    throw bad('mac', spec.mac, 'it must be a unicast MAC such as 02:00:00:00:00:01.');
  }
  const cidr = parseCidr(spec.ipv4);
  if (!cidr || !subnetInBenchmarkRange(cidr) || cidr.prefix < 16)
    throw bad('ipv4', spec.ipv4, 'it must be an address with a prefix of 16 or longer inside 198.18.0.0/16, e.g. 198.18.0.1/24.');
  for (const [field, address] of [
    ['ipv4', cidr.address],
    ['gateway', spec.gateway],
  ] as const) {
    if (address === undefined) continue;
    if (field === 'gateway' && (!parseCidr(`${address}/32`) || !inBenchmarkRange(address)))
      throw bad('gateway', address, 'it must be an address inside 198.18.0.0/15.');
    if ((ipv4ToInt(address) & MGMT_POOL.mask) >>> 0 === MGMT_POOL.base) {
      throw bad(field, address, "but 198.19.0.0/16 is the container engine's management pool; use 198.18.0.0/16 for lab addresses.");
    }
  }
}

async function requireLocalImage(image: string): Promise<void> {
  const r = await docker(['image', 'inspect', '--format', '{{.Id}}', image], { allowFailure: true });
  // testcontainers would try to pull a missing image, and no registry is reachable here.
  if (r.exitCode !== 0) {
    throw new WirelabError(
      `Image ${image} is not available locally (no registry is reachable). Fix: build it first, e.g. ` +
        `npx tsx -e "import('./lib/images/traffic-host-image.ts').then(m=>m.ensureTrafficHostImage())".`,
    );
  }
}

interface HostKeys {
  hostPrivate: string;
  hostPublic: string;
  clientPrivate: string;
  clientPublic: string;
}

/** A fresh ed25519 host key (pinned by us) and client key for this host and run. */
async function generateKeys(spec: TrafficHostSpec, stack: UndoStack): Promise<HostKeys> {
  const dir = join(spec.workDir, `ssh-${spec.side}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  stack.defer(`ssh keys of traffic host ${spec.side}`, () => rm(dir, { recursive: true, force: true }));
  const make = async (name: string, comment: string) => {
    const file = join(dir, name);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
    return { privateKey: await readFile(file, 'utf8'), publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() };
  };
  const [host, client] = await Promise.all([
    make('host_ed25519', `wirelab ${spec.runId} ${spec.side} host`),
    make('client_ed25519', `wirelab ${spec.runId} client`),
  ]);
  return { hostPrivate: host.privateKey, hostPublic: host.publicKey, clientPrivate: client.privateKey, clientPublic: client.publicKey };
}

async function startContainer(
  spec: TrafficHostSpec,
  image: string,
  keys: HostKeys,
  socketPath: string,
  stack: UndoStack,
): Promise<{ id: string; name: string }> {
  // testcontainers reads these when it first talks to the engine. Ryuk (its reaper container) cannot
  // be pulled here; wirelab reaps by the wirelab.run label instead.
  Object.assign(process.env, { DOCKER_HOST: dockerEnv(socketPath).DOCKER_HOST, TESTCONTAINERS_RYUK_DISABLED: 'true' });
  const { GenericContainer, Wait } = await import('testcontainers');
  const name = `${spec.runId}-${spec.side}`;
  const removeLeftovers = () => removeContainersByLabel('wirelab.container', name);
  try {
    const started = await new GenericContainer(image)
      .withName(name)
      .withLabels({ 'wirelab.run': spec.runId, 'wirelab.side': spec.side, 'wirelab.container': name })
      .withAddedCapabilities('NET_ADMIN', 'NET_RAW')
      .withCommand(['/usr/sbin/sshd', '-D', '-e'])
      .withCopyContentToContainer([
        { content: `${keys.hostPrivate}`, target: '/etc/ssh/ssh_host_ed25519_key', mode: 0o600 },
        { content: `${keys.hostPublic}\n`, target: '/etc/ssh/ssh_host_ed25519_key.pub', mode: 0o644 },
        { content: `${keys.clientPublic}\n`, target: '/root/.ssh/authorized_keys', mode: 0o600 },
      ])
      .withWaitStrategy(Wait.forLogMessage(/Server listening on .* port 22/))
      .withStartupTimeout(SSHD_START_BUDGET_MS)
      .start();
    const id = started.getId();
    stack.defer(`container ${name}`, async () => {
      // Stop (sshd exits at once on SIGTERM) and remove, by id; the veth in it vanishes with it.
      await docker(['rm', '--force', '--volumes', id], { allowFailure: true, timeoutMs: 30_000 });
    });
    return { id, name };
  } catch (e) {
    // A failed wait leaves the container created: remove it before reporting.
    await removeLeftovers().catch(() => {});
    const logs = await docker(['logs', '--tail', '5', name], { allowFailure: true }).catch(() => undefined);
    const tail = logs ? `${logs.stdout} ${logs.stderr}`.trim().split('\n').join(' | ') : '';
    throw new WirelabError(
      `Traffic host '${spec.side}' (container ${name}) did not start: ${(e as Error).message}${tail ? ` Container log: ${tail}` : ''}`,
      { cause: e },
    );
  }
}

async function inspectContainer(id: string): Promise<{ pid: number; mgmtAddress: string }> {
  const r = await docker(['inspect', '--format', '{{.State.Pid}} {{.NetworkSettings.IPAddress}}', id]);
  const [pidText, mgmtAddress] = r.stdout.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !mgmtAddress) {
    throw new WirelabError(
      `Container ${id.slice(0, 12)} has no running process or no management address (inspect said '${r.stdout.trim()}').`,
    );
  }
  return { pid, mgmtAddress };
}

/**
 * Veth names (≤ 15 chars) carry the run id: `<run>-lh` stays on the bridge (host side), `<run>-lc`
 * goes into the container (and is renamed eth1 there).
 */
export function vethNames(runId: string, side: Side): { bridgePort: string; containerEnd: string } {
  const base = runId.slice(0, 11);
  const s = side === 'left' ? 'l' : 'r';
  return { bridgePort: `${base}-${s}h`, containerEnd: `${base}-${s}c` };
}

/** Plug the container into the lab bridge: veth in labNetns, one end on the bridge, the other as eth1. */
async function joinBridge(spec: TrafficHostSpec, pid: number, stack: UndoStack): Promise<string> {
  const { bridgePort, containerEnd } = vethNames(spec.runId, spec.side);
  const netns = spec.labNetns;
  const mtu = spec.mtu === undefined ? [] : ['mtu', String(spec.mtu)];
  await run('ip', ['link', 'add', bridgePort, ...mtu, 'type', 'veth', 'peer', 'name', containerEnd, ...mtu], { netns });
  // Deleting one end deletes both; once the container is gone, so is the pair (hence allowFailure).
  stack.defer(`veth ${bridgePort}`, async () => {
    await run('ip', ['link', 'del', bridgePort], { netns, allowFailure: true });
  });
  // No IPv6 link-local on the bridge port: it would send DAD/MLD frames into the lab.
  await run('ip', ['link', 'set', bridgePort, 'addrgenmode', 'none'], { netns, allowFailure: true });
  await run('ip', ['link', 'set', bridgePort, 'master', spec.bridge, 'up'], { netns });
  await run('ip', ['link', 'set', containerEnd, 'netns', String(pid)], { netns });

  // Inside the container's network namespace (entered from the host, so the host's `ip` does the work).
  const inContainer = (cmd: string, args: string[], allowFailure = false) =>
    run('nsenter', [`--net=/proc/${pid}/ns/net`, cmd, ...args], { allowFailure });
  await inContainer('ip', ['link', 'set', containerEnd, 'name', DATA_IF]);
  await inContainer('ip', ['link', 'set', DATA_IF, 'address', spec.mac]);
  // IPv6 stays usable for tests that add addresses, but silent: no link-local, no DAD, no RA/autoconf.
  await inContainer('ip', ['link', 'set', DATA_IF, 'addrgenmode', 'none'], true);
  for (const key of ['accept_dad', 'accept_ra', 'autoconf', 'router_solicitations']) {
    await inContainer('sysctl', ['-qw', `net.ipv6.conf.${DATA_IF}.${key}=0`], true);
  }
  await inContainer('ip', ['address', 'add', spec.ipv4, 'dev', DATA_IF]);
  if (spec.ipv6) {
    // A router resolves the host by neighbour discovery: the host answers for this address (no DAD: it would delay and chatter).
    await inContainer('sysctl', ['-qw', `net.ipv6.conf.${DATA_IF}.disable_ipv6=0`], true);
    await inContainer('ip', ['-6', 'address', 'add', spec.ipv6, 'dev', DATA_IF, 'nodad']);
  }
  await inContainer('ip', ['link', 'set', DATA_IF, 'up']);
  if (spec.gateway) {
    // The default route goes through the lab; management stays on eth0's own subnet.
    await inContainer('ip', ['route', 'replace', 'default', 'via', spec.gateway, 'dev', DATA_IF]);
  }
  if (spec.ipv6 && spec.gateway6) await inContainer('ip', ['-6', 'route', 'replace', 'default', 'via', spec.gateway6, 'dev', DATA_IF]);
  return bridgePort;
}

/**
 * sshd logged "listening", but the first connect can still race it; retry briefly. A new container's
 * address can also be unreachable for a moment (the host's neighbour cache still holds a failed entry
 * for the address an earlier container of the same network had: seen in CI right after a killed one).
 */
async function connectWhenReady(ssh: SshHost, opts: Parameters<SshHost['connect']>[0]): Promise<void> {
  const deadline = Date.now() + SSH_READY_BUDGET_MS;
  for (;;) {
    try {
      await ssh.connect({ ...opts, readyTimeoutMs: 5_000 });
      return;
    } catch (e) {
      const refused = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH/.test(String((e as Error).cause ?? ''));
      if (!refused || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
