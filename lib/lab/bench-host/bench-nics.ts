// The bench host's NICs: eth0 carries management and is never touched; eth1 and eth2 become ports of
// br0 and br1 for the run. Before anything changes, the data NICs are checked (they exist, they are
// not the management NIC, they carry neither the management address nor the default route) and their
// state (master, up/down, addresses) is recorded, so undo puts them back exactly as they were.
import { WirelabError } from '../../core/errors.ts';
import type { HostShell } from './host-shell.ts';
import { addressesOf, managementSession } from './management-session.ts';
import type { UndoStack } from '../../runtime/teardown.ts';

export interface NicAddress {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
}

export interface NicState {
  name: string;
  master: string | null;
  up: boolean;
  addresses: NicAddress[];
}

interface IpJsonLink {
  ifname: string;
  flags?: string[];
  master?: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

/** Every NIC of the host with its state, from `ip -j addr show`. */
export async function readNics(shell: HostShell): Promise<Map<string, NicState>> {
  const r = await shell.run(['ip', '-j', 'addr', 'show']);
  const links = JSON.parse(r.stdout || '[]') as IpJsonLink[];
  return new Map(links.map((l) => [l.ifname, toState(l)]));
}

function toState(l: IpJsonLink): NicState {
  return {
    name: l.ifname,
    master: l.master ?? null,
    up: (l.flags ?? []).includes('UP'),
    // Link-local IPv6 comes and goes with the link by itself: it is not part of what we restore.
    addresses: (l.addr_info ?? [])
      .filter((a) => (a.family === 'inet' || a.family === 'inet6') && a.scope !== 'link')
      .map((a) => ({ family: a.family as 'inet' | 'inet6', local: a.local, prefixlen: a.prefixlen })),
  };
}

export interface DataNicPlan {
  shell: HostShell;
  managementNic: string;
  dataNics: { left: string; right: string };
  /** The address wirelab reaches the bench host at over SSH, if it does. */
  sshAddress?: string;
  /** Names the profile fields in refusals, e.g. "lab.yaml". */
  profileFile: string;
}

/**
 * Refuse data NICs that would cut the operator off or do not exist. Read-only: nothing has changed
 * when this throws. Returns the recorded state of both data NICs.
 */
export async function checkDataNics(plan: DataNicPlan): Promise<{ left: NicState; right: NicState }> {
  const { shell, managementNic: mgmt } = plan;
  const nics = await readNics(shell);
  const names = [...nics.keys()].sort().join(', ');
  const refuse = (message: string) => new WirelabError(`${plan.profileFile}: ${message}`, { exitCode: 2 });

  const management = nics.get(mgmt);
  if (!management) {
    throw refuse(
      `field 'host.managementNic' is "${mgmt}", but ${shell.label} has no such NIC (it has: ${names}). Fix: name the NIC that ` +
        `carries the host's management address.`,
    );
  }
  const mgmtAddresses = new Set(management.addresses.map((a) => a.local));
  // The profile may name the host (a hostname): take every address it stands for, and what the host
  // itself says our session arrived at, and by which NIC.
  if (plan.sshAddress) for (const a of await addressesOf(plan.sshAddress)) mgmtAddresses.add(a);
  const session = shell.local
    ? undefined
    : await managementSession(async (argv) => {
        const r = await shell.run(argv, { allowFailure: true, timeoutMs: 10_000 });
        return { code: r.exitCode, stdout: r.stdout };
      });
  if (session) mgmtAddresses.add(session.serverAddress);
  const defaultRouteDevs = await defaultRouteDevices(shell);

  const states: Partial<Record<'left' | 'right', NicState>> = {};
  for (const side of ['left', 'right'] as const) {
    const name = plan.dataNics[side];
    const field = `host.dataNics.${side}`;
    if (name === mgmt) {
      throw refuse(
        `field '${field}' is "${name}", the management NIC of ${shell.label}; enslaving it to a bridge would cut the operator off. ` +
          `Fix: name the ${side} data NIC (e.g. ${side === 'left' ? 'eth1' : 'eth2'}).`,
      );
    }
    if (session?.nic === name) {
      throw refuse(
        `field '${field}' is "${name}", the NIC wirelab's SSH session to ${shell.label} arrives on (at ${session.serverAddress}); ` +
          `enslaving it would cut the session off. Fix: name the ${side} data NIC, or reach the host over its management NIC.`,
      );
    }
    const nic = nics.get(name);
    if (!nic) {
      throw refuse(
        `field '${field}' is "${name}", but ${shell.label} has no such NIC (it has: ${names}). Fix: name the NIC cabled to the ` +
          `${side} traffic host.`,
      );
    }
    const shared = nic.addresses.find((a) => mgmtAddresses.has(a.local));
    if (shared) {
      throw refuse(
        `field '${field}' is "${name}", which carries the management address ${shared.local} on ${shell.label}; enslaving it would ` +
          `cut the operator off. Fix: use a NIC that only carries lab traffic.`,
      );
    }
    if (defaultRouteDevs.includes(name)) {
      throw refuse(
        `field '${field}' is "${name}", which carries the default route of ${shell.label}; enslaving it could cut the operator off. ` +
          `Fix: use a NIC that only carries lab traffic.`,
      );
    }
    if (nic.master) {
      throw refuse(
        `field '${field}' is "${name}", which is already a port of "${nic.master}" on ${shell.label}. Fix: release it first (ip link ` +
          `set ${name} nomaster) or name another NIC.`,
      );
    }
    states[side] = nic;
  }
  return { left: states.left!, right: states.right! };
}

async function defaultRouteDevices(shell: HostShell): Promise<string[]> {
  const devs: string[] = [];
  for (const family of ['-4', '-6']) {
    const r = await shell.run(['ip', '-j', family, 'route', 'show', 'default'], { allowFailure: true });
    if (r.exitCode !== 0) continue;
    for (const route of JSON.parse(r.stdout || '[]') as { dev?: string }[]) if (route.dev) devs.push(route.dev);
  }
  return devs;
}

/** Create a bridge of the run's own (refusing to take over an existing one) and register its removal. */
export async function createBenchBridge(
  shell: HostShell,
  name: string,
  opts: { field: string; profileFile: string },
  stack: UndoStack,
): Promise<void> {
  const exists = await shell.run(['ip', 'link', 'show', 'dev', name], { allowFailure: true });
  if (exists.exitCode === 0) {
    throw new WirelabError(
      `${opts.profileFile}: field '${opts.field}' is "${name}", but ${shell.label} already has a link of that name; wirelab only ` +
        `uses bridges it creates (and removes). Fix: name another bridge, or remove that one if it is a leftover.`,
      { exitCode: 2 },
    );
  }
  // No STP (no BPDUs into the lab), no forward delay, no snooping, no MAC learning (every frame reaches
  // the guest, as the vRouter delivers it), and frames to 01:80:c2:00:00:03–0f relayed as a cable would
  // (see bridgeCommands in netns.ts: the nested lab's bridges are made the same way).
  await shell.run([
    'ip',
    'link',
    'add',
    name,
    'type',
    'bridge',
    'stp_state',
    '0',
    'forward_delay',
    '0',
    'mcast_snooping',
    '0',
    'ageing_time',
    '0',
    'group_fwd_mask',
    '0xfff8',
  ]);
  stack.defer(`bridge ${name} on ${shell.label}`, async () => {
    await shell.run(['ip', 'link', 'del', name], { allowFailure: true });
  });
  // No IPv6 link-local on the bridge: it would send router solicitations and MLD into the lab.
  await shell.run(['ip', 'link', 'set', name, 'addrgenmode', 'none'], { allowFailure: true });
  await shell.run(['ip', 'link', 'set', name, 'up']);
}

/** Make `nic` a port of `bridge`; undo restores the state recorded by checkDataNics. */
export async function enslaveNic(shell: HostShell, before: NicState, bridge: string, stack: UndoStack): Promise<void> {
  stack.defer(`${before.name} back to its previous state`, () => restoreNic(shell, before));
  await shell.run(['ip', 'link', 'set', 'dev', before.name, 'master', bridge]);
  await shell.run(['ip', 'link', 'set', 'dev', before.name, 'up']);
}

export async function restoreNic(shell: HostShell, before: NicState): Promise<void> {
  await shell.run(['ip', 'link', 'set', 'dev', before.name, ...(before.master ? ['master', before.master] : ['nomaster'])]);
  await shell.run(['ip', 'link', 'set', 'dev', before.name, before.up ? 'up' : 'down']);
  const now = (await readNics(shell)).get(before.name);
  for (const a of before.addresses) {
    if (now?.addresses.some((b) => b.local === a.local && b.prefixlen === a.prefixlen)) continue;
    await shell.run(['ip', a.family === 'inet' ? '-4' : '-6', 'addr', 'add', `${a.local}/${a.prefixlen}`, 'dev', before.name], {
      allowFailure: true,
    });
  }
}
