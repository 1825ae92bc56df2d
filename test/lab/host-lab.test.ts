// The bench-host lab on the real thing: a simulated three-NIC host (a network namespace of the test's
// own with eth0/eth1/eth2), libvirtd started by the driver inside it, the reference guest under libvirt
// on br0/br1, traffic-host containers cabled to eth1/eth2 and reached over SSH with pinned keys from a
// generated host-kind profile (`connection: local`). The good bridge forwards, the one-way one does not;
// eth1/eth2 end as they began; and each refusal happens before anything on the host changed. `wirelab run`
// of the l2-bridge suite on a bench host is tested over SSH on the simulated bench lab
// (test/lab/sim-bench.test.ts), which replaced the local run of it here.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNics, type NicState } from '../../lib/lab/bench-host/bench-nics.ts';
import { ProfileError, WirelabError } from '../../lib/core/errors.ts';
import { newRunId } from '../../lib/core/run-id.ts';
import { run } from '../../lib/runtime/exec.ts';
import { LocalShell } from '../../lib/lab/bench-host/host-shell.ts';
import { startHostLab } from '../../lib/lab/bench-host/bench-host-lab.ts';
import type { Lab } from '../../lib/lab/lab.ts';
import { listNetns } from '../../lib/lab/nested/netns.ts';
import { pingProbe } from '../../lib/traffic/ping-probe.ts';
import { loadProfile } from '../../lib/profile/load.ts';
import { UndoStack } from '../../lib/runtime/teardown.ts';
import { udpTemplate } from '../../lib/traffic/templates.ts';
import { runTraffic } from '../../lib/traffic/traffic-run.ts';
import { startBenchSim, writeProfile, type BenchSim } from './bench-sim.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wlh-test-'));
const stack = new UndoStack('host-lab-test');
let sim: BenchSim;
let before: { eth1: NicState; eth2: NicState };

/** Processes named like libvirt's daemons (the driver must stop the ones it started). */
function daemonPids(): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return ['libvirtd', 'virtlogd'].includes(readFileSync(`/proc/${p}/comm`, 'utf8').trim());
      } catch {
        return false;
      }
    });
}

async function dataNics(): Promise<{ eth1: NicState; eth2: NicState; links: string[] }> {
  const nics = await readNics(new LocalShell(sim.netns));
  return { eth1: nics.get('eth1')!, eth2: nics.get('eth2')!, links: [...nics.keys()].sort() };
}

/** The bench host is exactly as the test built it: data NICs as before, no bridge, no vnet, no daemon. */
async function expectHostUntouched(): Promise<void> {
  const now = await dataNics();
  expect({ eth1: now.eth1, eth2: now.eth2 }).toEqual(before);
  expect(now.links).toEqual(['eth0', 'eth1', 'eth2', 'lan0', 'lo']);
  expect(daemonPids()).toEqual([]);
}

beforeAll(async () => {
  expect(daemonPids(), 'a libvirtd/virtlogd runs already; this test starts its own inside the simulated host').toEqual([]);
  sim = await startBenchSim(dir, stack);
  const nics = await dataNics();
  before = { eth1: nics.eth1, eth2: nics.eth2 };
  expect(before.eth1).toMatchObject({ master: null, up: true, addresses: [] });
  expect(before.eth2).toMatchObject({ master: null, up: false, addresses: [{ family: 'inet', local: '198.18.251.1', prefixlen: 24 }] });
});

afterAll(async () => {
  const id = sim?.id;
  await stack.unwind();
  rmSync(dir, { recursive: true, force: true });
  if (id) {
    expect(await listNetns()).not.toContain(id);
    const containers = await run('docker', ['ps', '-aq', '--filter', `label=wirelab.run=${id}`]);
    expect(containers.stdout).toBe('');
  }
});

async function bringUp(reference: string): Promise<Lab> {
  const runId = newRunId();
  const lab = await startHostLab(loadProfile(writeProfile(sim, reference, { reference })), {
    runId,
    localNetns: sim.netns,
    onProgress: (m) => console.log(`[${runId}] ${m}`),
  });
  console.log(`[${runId}] ${reference} ready after ${lab.guest.readyAfterMs} ms`);
  return lab;
}

describe('bench-host lab (simulated host, libvirt, SSH traffic hosts)', () => {
  it('good l2-bridge: eth1/eth2 on br0/br1, guest on vnet ports, frames cross both ways; the host is restored after', async () => {
    const lab = await bringUp('l2-bridge');
    let domainFile = '';
    try {
      domainFile = `/etc/libvirt/qemu/${lab.runId}-guest.xml`;
      expect(existsSync(domainFile)).toBe(true);
      const nics = await readNics(new LocalShell(sim.netns));
      expect(nics.get('eth1')!.master).toBe('br0');
      expect(nics.get('eth2')!.master).toBe('br1');
      for (const side of ['left', 'right'] as const) {
        expect(lab.ports[side].ifname).toMatch(/^vnet\d+$/);
        expect(nics.get(lab.ports[side].ifname)!.master).toBe(side === 'left' ? 'br0' : 'br1');
        expect(lab.ports[side].netns).toBe(sim.netns);
      }
      expect(lab.hosts.left.mac).toBe(sim.hosts.left.mac);

      const l2r = await pingProbe(lab.hosts.left, lab.hosts.right);
      expect(l2r).toMatchObject({ framesFromSender: 5, framesRewritten: 0, replies: 5 });
      const r2l = await pingProbe(lab.hosts.right, lab.hosts.left);
      expect(r2l).toMatchObject({ framesFromSender: 5, replies: 5 });

      // The full instrument: captures on both traffic hosts and on both vnet ports (one clock).
      const FRAMES = 100;
      const traffic = await runTraffic(
        lab,
        [
          {
            name: 'left→right',
            from: 'left',
            to: 'right',
            template: udpTemplate(lab, 'left', 'right'),
            count: FRAMES,
            ratePps: 200,
            size: 128,
          },
          {
            name: 'right→left',
            from: 'right',
            to: 'left',
            template: udpTemplate(lab, 'right', 'left'),
            count: FRAMES,
            ratePps: 200,
            size: 128,
          },
        ],
        { name: 'host-lab-good' },
      );
      for (const flow of traffic.report.flows) {
        expect(flow.received).toEqual({ 'left-host': FRAMES, 'guest-left': FRAMES, 'guest-right': FRAMES, 'right-host': FRAMES });
        expect(flow.lost).toBe(0);
        expect(flow.rewrites.unchanged).toBe(FRAMES);
        expect(flow.latencyUs?.samples).toBe(FRAMES);
        console.log(`[${lab.runId}] ${flow.name}: latency p50 ${flow.latencyUs!.p50} µs, p99 ${flow.latencyUs!.p99} µs`);
      }

      const halt = await lab.haltGuest();
      console.log(`[${lab.runId}] halt ${JSON.stringify(halt)}`);
      expect(halt.graceful).toBe(true);
    } finally {
      await lab.down();
    }
    expect(existsSync(domainFile)).toBe(false);
    await expectHostUntouched();
  });

  it('negative control: through the one-way guest nothing crosses left→right (right→left still arrives)', async () => {
    const lab = await bringUp('l2-bridge-oneway');
    try {
      // Frames with explicit MACs (a ping right→left would need the left host's ARP reply, which
      // this guest drops): everything left→right is lost inside the guest, right→left all arrives.
      const FRAMES = 50;
      const traffic = await runTraffic(
        lab,
        [
          {
            name: 'left→right',
            from: 'left',
            to: 'right',
            template: udpTemplate(lab, 'left', 'right'),
            count: FRAMES,
            ratePps: 200,
            size: 128,
          },
          {
            name: 'right→left',
            from: 'right',
            to: 'left',
            template: udpTemplate(lab, 'right', 'left'),
            count: FRAMES,
            ratePps: 200,
            size: 128,
          },
        ],
        { name: 'host-lab-oneway' },
      );
      const [l2r, r2l] = traffic.report.flows;
      expect(l2r!.lost).toBe(FRAMES);
      expect(l2r!.received['guest-left']).toBe(FRAMES);
      expect(l2r!.received['guest-right']).toBe(0);
      expect(r2l!.lost).toBe(0);
    } finally {
      await lab.down();
    }
    await expectHostUntouched();
  });

  it('a guest that will not halt on virsh shutdown is destroyed, and the halt report says so', async () => {
    const file = writeProfile(sim, 'nohalt', { reference: 'l2-bridge-nohalt' });
    const profile = loadProfile(file);
    const lab = await startHostLab({ ...profile, guest: { ...profile.guest, haltTimeoutSeconds: 3 } }, { localNetns: sim.netns });
    try {
      const halt = await lab.haltGuest();
      expect(halt.graceful).toBe(false);
      expect(halt.ms).toBeGreaterThanOrEqual(3000);
    } finally {
      await lab.down();
    }
    await expectHostUntouched();
  });
});

describe('bench-host lab refusals (nothing on the host changes)', () => {
  const refusal = async (start: () => Promise<Lab>): Promise<WirelabError> => {
    const error = await start().then(
      async (lab) => {
        await lab.down();
        return new Error('the lab came up');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WirelabError);
    await expectHostUntouched();
    return error as WirelabError;
  };

  it('the management NIC named as a data NIC: refused by the profile and by the driver', async () => {
    const file = writeProfile(sim, 'mgmt-as-data', { dataNics: { left: 'eth0', right: 'eth2' } });
    expect(() => loadProfile(file)).toThrow(ProfileError);
    expect(() => loadProfile(file)).toThrow(/host\.dataNics\.left.*eth0.*management NIC/);
    // A profile built in code skips the loader: the driver refuses by itself, naming the field and the fix.
    const good = loadProfile(writeProfile(sim, 'good'));
    const bad = { ...good, host: { ...good.host!, dataNics: { left: 'eth0', right: 'eth2' } } };
    const error = await refusal(() => startHostLab(bad, { localNetns: sim.netns }));
    expect(error.message).toMatch(/field 'host\.dataNics\.left' is "eth0", the management NIC .*cut the operator off\. Fix:/);
  });

  it('a data NIC that carries the default route is refused, even when the profile names another management NIC', async () => {
    const good = loadProfile(writeProfile(sim, 'good'));
    const bad = { ...good, host: { ...good.host!, managementNic: 'lan0', dataNics: { left: 'eth0', right: 'eth2' } } };
    const error = await refusal(() => startHostLab(bad, { localNetns: sim.netns }));
    expect(error.message).toMatch(/"eth0", which carries the default route/);
  });

  it('an unknown NIC is refused with the NICs the host has', async () => {
    const profile = loadProfile(writeProfile(sim, 'unknown-nic', { dataNics: { left: 'eth1', right: 'eth7' } }));
    const error = await refusal(() => startHostLab(profile, { localNetns: sim.netns }));
    expect(error.message).toMatch(
      /field 'host\.dataNics\.right' is "eth7", but .* has no such NIC \(it has: eth0, eth1, eth2, lan0, lo\)\. Fix:/,
    );
  });

  it('libvirt missing (a PATH without virsh) is refused before anything is created', async () => {
    const bin = mkdtempSync(path.join(os.tmpdir(), 'wlh-bin-'));
    try {
      for (const tool of ['sh', 'ip'])
        symlinkSync((await run('sh', ['-c', 'command -v "$1"', 'sh', tool])).stdout.trim(), path.join(bin, tool));
      const profile = loadProfile(writeProfile(sim, 'no-libvirt'));
      const error = await refusal(() => startHostLab(profile, { localNetns: sim.netns, localEnv: { PATH: bin } }));
      expect(error.message).toMatch(
        /libvirt is not usable on .*virsh, libvirtd, virtlogd, qemu-img not found.*Fix: .*apt-get install libvirt-daemon-system/,
      );
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('a traffic host presenting another host key is refused, naming the field and both fingerprints', async () => {
    const profile = loadProfile(writeProfile(sim, 'swapped-keys', { swapHostKeys: true }));
    const error = await refusal(() => startHostLab(profile, { localNetns: sim.netns }));
    // Both hosts are reached at once: whichever answers first with the wrong key is named.
    expect(error.message).toMatch(
      /field 'trafficHosts\.(left|right)\.ssh': Host key of traffic host '(left|right)' .* does not match the pinned key: expected ssh-ed25519 SHA256:\S+, the server offered SHA256:\S+/,
    );
  });
});
