// The lab's own network namespace and the links inside it. Bridges and taps live there, not in the
// host's namespace: the host's bridge netfilter (bridge-nf-call-iptables=1) and iptables never see
// lab frames, and deleting the namespace removes every link in it at once.
import { run } from '../../runtime/exec.ts';
import type { UndoStack } from '../../runtime/teardown.ts';

export async function createNetns(name: string, stack: UndoStack): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  stack.defer(`network namespace ${name}`, () => deleteNetns(name));
  // One sysctl call for all settings (each `ip netns exec` costs a fork and a namespace switch):
  // - no IPv6 on lab links unless a test adds it: a bridge with a link-local address sends router
  //   solicitations and MLD reports, which would show up as frames nobody sent;
  // - frames crossing our bridges are not handed to iptables (per namespace since Linux 5.x).
  // -e: a key this kernel lacks (no br_netfilter loaded) is not an error.
  await run(
    'sysctl',
    [
      '-qe',
      '-w',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
      'net.bridge.bridge-nf-call-iptables=0',
      'net.bridge.bridge-nf-call-ip6tables=0',
      'net.bridge.bridge-nf-call-arptables=0',
    ],
    { netns: name, allowFailure: true },
  );
  await ipBatch(name, ['link set lo up']);
}

/** Run several `ip` commands inside the namespace in one process (`ip -n NS -batch -`). */
export async function ipBatch(netns: string, commands: string[]): Promise<void> {
  // The batch text is built from wirelab's own constant names (bridge, tap, veth), never from profile values.
  await run('ip', ['-n', netns, '-batch', '-'], { input: commands.join('\n') + '\n' });
}

/** Stop every process still inside the namespace (they are the run's: qemu, tcpdump), then delete it. */
export async function deleteNetns(name: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', name], { allowFailure: true });
  for (const pid of pids.stdout
    .split('\n')
    .map(Number)
    .filter((n) => n > 1)) {
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
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/**
 * Commands for a lab bridge: it forwards at once (no STP, no forward delay), floods multicast, and
 * learns no MACs (ageing time 0), so it passes every frame on like a hub — as the vRouter hands every
 * frame to the VM. A learning bridge would filter frames whose destination it learned on their own
 * port: with the vRouter's one MAC on both sides, that is every frame, dropped before the guest.
 */
export function bridgeCommands(name: string): string[] {
  // group_fwd_mask: the lab carries frames to 01:80:c2:00:00:03–0f (802.1X, LLDP, …) to the guest and on, as a cable
  // would (the kernel refuses to relay :01 PAUSE and :02 slow protocols; with STP off it relays :00 BPDUs by itself).
  return [
    `link add ${name} type bridge stp_state 0 forward_delay 0 mcast_snooping 0 ageing_time 0 group_fwd_mask 0xfff8`,
    `link set ${name} up`,
  ];
}

/** Commands for a tap enslaved to a bridge. */
export function tapCommands(name: string, bridge: string, mtu: number): string[] {
  return [`tuntap add dev ${name} mode tap`, `link set ${name} mtu ${mtu} master ${bridge} up`];
}

export async function createBridge(netns: string, name: string): Promise<void> {
  await ipBatch(netns, bridgeCommands(name));
}

export async function createTap(netns: string, name: string, bridge: string, mtu = 1500): Promise<void> {
  await ipBatch(netns, tapCommands(name, bridge, mtu));
}
