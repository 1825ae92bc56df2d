// A simulated three-NIC bench host for the host-lab tests: a network namespace of the test's own
// (`wlh-<6hex>`) with eth0 (management: addressed, default route), eth1 and eth2 (veths, each cabled
// straight to a traffic-host container's eth1), and a host-kind profile that reaches those containers
// over SSH with their pinned host keys. Everything is on the test's own undo stack.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generatedMac } from '../../lib/core/addressing.ts';
import { run } from '../../lib/runtime/exec.ts';
import { createBridge, createNetns } from '../../lib/lab/nested/netns.ts';
import type { UndoStack } from '../../lib/runtime/teardown.ts';
import { startTrafficHost, type TrafficHost } from '../../lib/lab/nested/traffic-host.ts';

export const newTestId = () => `wlh-${randomBytes(3).toString('hex')}`;

export interface BenchSim {
  id: string;
  netns: string;
  hosts: { left: TrafficHost; right: TrafficHost };
  /** Where each traffic host's client key is (for the profile). */
  clientKeys: { left: string; right: string };
  dir: string;
}

export const MGMT_CIDR = '198.18.250.1/24';

export async function startBenchSim(dir: string, stack: UndoStack): Promise<BenchSim> {
  const id = newTestId();
  const ns = id;
  await createNetns(ns, stack);
  const inNs = (args: string[]) => run('ip', args, { netns: ns });
  // eth0: the management NIC, addressed, with the default route (its peer stands for the LAN).
  await inNs(['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0']);
  await inNs(['address', 'add', MGMT_CIDR, 'dev', 'eth0']);
  await inNs(['link', 'set', 'eth0', 'up']);
  await inNs(['link', 'set', 'lan0', 'up']);
  await inNs(['route', 'add', 'default', 'via', '198.18.250.254', 'dev', 'eth0']);

  // The traffic hosts join a temporary bridge, then their cable end leaves it and becomes eth1/eth2.
  await createBridge(ns, 'cable');
  const cabled = { left: 'eth1', right: 'eth2' } as const;
  const hosts = {} as BenchSim['hosts'];
  for (const side of ['left', 'right'] as const) {
    const host = await startTrafficHost(
      {
        side,
        runId: id,
        labNetns: ns,
        bridge: 'cable',
        mac: generatedMac(`${id}/host/${side}`),
        ipv4: side === 'left' ? '198.18.0.1/24' : '198.18.0.2/24',
        workDir: path.join(dir, side),
      },
      stack,
    );
    await inNs(['link', 'set', host.bridgePort, 'nomaster']);
    await inNs(['link', 'set', host.bridgePort, 'down']);
    await inNs(['link', 'set', host.bridgePort, 'name', cabled[side]]);
    hosts[side] = host;
  }
  await inNs(['link', 'del', 'cable']);
  // Different starting states, so restoring is shown for each: eth1 up and bare, eth2 down with an address.
  await inNs(['link', 'set', 'eth1', 'up']);
  await inNs(['address', 'add', '198.18.251.1/24', 'dev', 'eth2']);
  return {
    id,
    netns: ns,
    hosts,
    clientKeys: {
      left: path.join(dir, 'left', 'ssh-left', 'client_ed25519'),
      right: path.join(dir, 'right', 'ssh-right', 'client_ed25519'),
    },
    dir,
  };
}

export interface ProfileOptions {
  reference?: string;
  dataNics?: { left: string; right: string };
  /** Swap the traffic hosts' pinned keys (a host key mismatch). */
  swapHostKeys?: boolean;
  readyTimeoutSeconds?: number;
  /** Name the simulated host's namespace in the profile (`host.netns`), as `wirelab run` needs it. */
  netns?: boolean;
}

/** Write a host-kind profile for the simulated bench host; returns its path. */
export function writeProfile(sim: BenchSim, name: string, opts: ProfileOptions = {}): string {
  const key = (side: 'left' | 'right') => sim.hosts[opts.swapHostKeys ? (side === 'left' ? 'right' : 'left') : side].hostKey;
  const host = (side: 'left' | 'right') => `
  ${side}:
    ipv4: ${sim.hosts[side].ipv4}
    dataNic: eth1
    ssh:
      address: ${sim.hosts[side].mgmtAddress}
      hostKey: ${key(side)}
      privateKeyFile: ${sim.clientKeys[side]}`;
  const text = `name: ${name}
kind: host
role: l2-bridge
guest:
  image: { reference: ${opts.reference ?? 'l2-bridge'} }
  ready: { timeoutSeconds: ${opts.readyTimeoutSeconds ?? 150} }
  haltTimeoutSeconds: 20
host:
  connection: local
  managementNic: eth0
  dataNics: { left: ${opts.dataNics?.left ?? 'eth1'}, right: ${opts.dataNics?.right ?? 'eth2'} }
  bridges: { left: br0, right: br1 }${opts.netns ? `\n  netns: ${sim.netns}` : ''}
trafficHosts:${host('left')}${host('right')}
`;
  mkdirSync(sim.dir, { recursive: true });
  const file = path.join(sim.dir, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}
