// The lab's own network namespace and the links inside it. Bridges and taps live there, not in the
// host's namespace: the host's bridge netfilter (bridge-nf-call-iptables=1) and iptables never see
// lab frames, and deleting the namespace removes every link in it at once.
import { run } from './exec.ts';
import type { UndoStack } from './teardown.ts';

export async function createNetns(name: string, stack: UndoStack): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  stack.defer(`network namespace ${name}`, () => deleteNetns(name));
  // No IPv6 on lab links unless a test adds it: a bridge with a link-local address sends router
  // solicitations and MLD reports, which would show up as frames nobody sent.
  for (const key of ['net.ipv6.conf.all.disable_ipv6', 'net.ipv6.conf.default.disable_ipv6']) {
    await run('sysctl', ['-qw', `${key}=1`], { netns: name, allowFailure: true });
  }
  // Frames crossing our bridges must not be handed to iptables (per-namespace since Linux 5.x).
  for (const key of ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables', 'net.bridge.bridge-nf-call-arptables']) {
    await run('sysctl', ['-qw', `${key}=0`], { netns: name, allowFailure: true });
  }
  await run('ip', ['link', 'set', 'lo', 'up'], { netns: name });
}

/** Stop every process still inside the namespace (they are the run's: qemu, tcpdump), then delete it. */
export async function deleteNetns(name: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', name], { allowFailure: true });
  for (const pid of pids.stdout.split('\n').map(Number).filter((n) => n > 1)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await run('ip', ['netns', 'del', name], { allowFailure: true });
}

export async function listNetns(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], { allowFailure: true });
  return r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

/** A bridge that forwards at once (no STP, no forward delay) and floods multicast like a plain hub. */
export async function createBridge(netns: string, name: string, opts: { hub?: boolean } = {}): Promise<void> {
  await run('ip', ['link', 'add', name, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0', ...(opts.hub ? ['ageing_time', '0'] : [])], { netns });
  await run('ip', ['link', 'set', name, 'up'], { netns });
}

export async function createTap(netns: string, name: string, bridge: string): Promise<void> {
  await run('ip', ['tuntap', 'add', 'dev', name, 'mode', 'tap'], { netns });
  await run('ip', ['link', 'set', name, 'master', bridge, 'up'], { netns });
}
