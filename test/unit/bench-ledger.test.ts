// The restore by a bench host's ledger, on a fake bench host (a shell that answers from a small model
// of its NICs, links, libvirt domains and processes and records every command): it undoes exactly what
// the ledger names, newest first, ends only the run's processes by pid, and leaves alone what another
// run made since (a bridge of the same name, a NIC on another bridge). The real thing is
// test/lab/sim-bench.test.ts.
import { describe, expect, it } from 'vitest';
import type { BenchRunRecord } from '../../lib/lab/bench-host/bench-ledger.ts';
import { holderAlive, holderName } from '../../lib/lab/bench-host/bench-ledger.ts';
import { restoreBenchHost } from '../../lib/lab/bench-host/bench-reaper.ts';
import type { HostShell } from '../../lib/lab/bench-host/host-shell.ts';
import type { NicState } from '../../lib/lab/bench-host/bench-nics.ts';
import type { RunResult } from '../../lib/runtime/exec.ts';

interface Link {
  ifname: string;
  ifindex: number;
  master?: string;
  up: boolean;
  addresses: string[];
}

/** A bench host in memory: enough of `ip`, `virsh`, `ps`, `kill`, `cat` and `rm` for the reaper. */
class FakeBench implements Partial<HostShell> {
  readonly label = 'fake bench host';
  readonly local = false;
  readonly netns = '';
  readonly commands: string[] = [];
  links: Link[] = [];
  domains = new Map<string, string>();
  processes = new Map<number, string>();

  async run(argv: readonly string[]): Promise<RunResult> {
    this.commands.push(argv.join(' '));
    const ok = (stdout = ''): RunResult => ({ stdout, stderr: '', exitCode: 0 });
    const fail: RunResult = { stdout: '', stderr: 'no', exitCode: 1 };
    const [cmd, ...a] = argv;
    if (cmd === 'ip' && a[0] === '-j' && a[1] === 'addr') return ok(JSON.stringify(this.links.map(ipJson)));
    if (cmd === 'ip' && a[0] === '-j' && a[1] === 'link') {
      const l = this.links.find((x) => x.ifname === a[4]);
      return l ? ok(JSON.stringify([ipJson(l)])) : fail;
    }
    if (cmd === 'ip' && a[0] === 'link' && a[1] === 'del') {
      const before = this.links.length;
      this.links = this.links.filter((l) => l.ifname !== a[2]);
      for (const l of this.links) if (l.master === a[2]) delete l.master;
      return this.links.length < before ? ok() : fail;
    }
    if (cmd === 'ip' && a[0] === 'link' && a[1] === 'set') {
      const l = this.links.find((x) => x.ifname === a[3])!;
      if (a[4] === 'nomaster') delete l.master;
      else if (a[4] === 'master') l.master = a[5];
      else l.up = a[4] === 'up';
      return ok();
    }
    if (cmd === 'ip' && (a[0] === '-4' || a[0] === '-6') && a[1] === 'addr' && a[2] === 'add') {
      this.links.find((x) => x.ifname === a[5])!.addresses.push(a[3]!);
      return ok();
    }
    if (cmd === 'virsh') {
      const [verb, name] = a.slice(3);
      const state = this.domains.get(name!);
      if (state === undefined) return fail;
      if (verb === 'domstate') return ok(state);
      if (verb === 'destroy') this.domains.set(name!, 'shut off');
      if (verb === 'undefine') this.domains.delete(name!);
      return ok();
    }
    if (cmd === 'ps') return ok([...this.processes].map(([pid, args]) => `${pid} ${args}`).join('\n'));
    if (cmd === 'kill') {
      for (const pid of a.slice(1)) this.processes.delete(Number(pid));
      return ok();
    }
    if (cmd === 'cat' && a[0]?.startsWith('/proc/')) {
      const args = this.processes.get(Number(a[0].split('/')[2]));
      return args ? ok(args.split(' ').join('\0')) : fail;
    }
    return ok();
  }
}

function ipJson(l: Link) {
  return {
    ifname: l.ifname,
    ifindex: l.ifindex,
    ...(l.master ? { master: l.master } : {}),
    flags: l.up ? ['UP'] : [],
    addr_info: l.addresses.map((a) => ({ family: 'inet', local: a.split('/')[0], prefixlen: Number(a.split('/')[1]), scope: 'global' })),
  };
}

const eth1Before: NicState = { name: 'eth1', master: null, up: true, addresses: [] };
const eth2Before: NicState = {
  name: 'eth2',
  master: null,
  up: false,
  addresses: [{ family: 'inet', local: '198.18.251.1', prefixlen: 24 }],
};

function deadRun(): BenchRunRecord {
  return {
    runId: 'wl-a1b2c3',
    startedAt: '2026-12-06T00:00:00Z',
    controller: { host: 'ci', pid: 4242 },
    netns: '',
    holderPid: 700,
    resources: [
      { kind: 'bridge', name: 'br0', ifindex: 10 },
      { kind: 'nic', before: eth1Before, bridge: 'br0' },
      { kind: 'bridge', name: 'br1', ifindex: 11 },
      { kind: 'nic', before: eth2Before, bridge: 'br1' },
      { kind: 'domain', name: 'wl-a1b2c3-guest', uri: 'qemu:///system' },
    ],
    trafficHosts: {},
  };
}

/** The bench host as the dead run left it: both NICs on its bridges, the guest running, two captures. */
function leftByDeadRun(): FakeBench {
  const bench = new FakeBench();
  bench.links = [
    { ifname: 'eth0', ifindex: 2, up: true, addresses: ['198.19.1.2/24'] },
    { ifname: 'eth1', ifindex: 3, master: 'br0', up: true, addresses: [] },
    { ifname: 'eth2', ifindex: 4, master: 'br1', up: true, addresses: [] },
    { ifname: 'br0', ifindex: 10, up: true, addresses: [] },
    { ifname: 'br1', ifindex: 11, up: true, addresses: [] },
  ];
  bench.domains.set('wl-a1b2c3-guest', 'running');
  bench.processes.set(800, 'tcpdump -i vnet0 -w /tmp/wirelab-wl-a1b2c3-capture-1.pcap');
  bench.processes.set(801, 'sh -c exec 3<&0 run-until-eof tcpdump -i vnet1 -w /tmp/wirelab-wl-a1b2c3-capture-2.pcap');
  bench.processes.set(900, 'tcpdump -i eth0 -w /tmp/wirelab-wl-ffffff-capture-9.pcap'); // another run's
  bench.processes.set(1, '/usr/sbin/sshd -D');
  return bench;
}

describe("restoring a bench host from a dead run's ledger", () => {
  it("destroys and undefines the domain first, ends only the run's processes, restores the NICs and removes its bridges", async () => {
    const bench = leftByDeadRun();
    const done = await restoreBenchHost(bench as unknown as HostShell, deadRun());
    expect(bench.domains.size).toBe(0);
    expect([...bench.processes.keys()].sort()).toEqual([1, 900]);
    expect(bench.links.map((l) => l.ifname)).toEqual(['eth0', 'eth1', 'eth2']);
    const nic = (n: string) => bench.links.find((l) => l.ifname === n)!;
    expect(nic('eth1')).toMatchObject({ up: true, addresses: [] });
    expect(nic('eth1').master).toBeUndefined();
    expect(nic('eth2')).toMatchObject({ up: false, addresses: ['198.18.251.1/24'] });
    expect(nic('eth0')).toEqual({ ifname: 'eth0', ifindex: 2, up: true, addresses: ['198.19.1.2/24'] });
    // Order: the guest before its bridges; newest first after that (eth2 and br1 before eth1 and br0).
    const at = (re: RegExp) => bench.commands.findIndex((c) => re.test(c));
    expect(at(/virsh .* destroy/)).toBeLessThan(at(/kill -TERM/));
    expect(at(/link set dev eth2 nomaster/)).toBeLessThan(at(/link del br1/));
    expect(at(/link del br1/)).toBeLessThan(at(/link set dev eth1 nomaster/));
    expect(bench.commands.some((c) => c.startsWith('kill') && c.includes('900'))).toBe(false);
    expect(bench.commands.at(-1)).toMatch(/^rm -f \/var\/lib\/wirelab\/bench-runs\/wl-a1b2c3\.json/);
    expect(done).toEqual(expect.arrayContaining(['domain wl-a1b2c3-guest', 'bridge br0', 'bridge br1']));
  });

  it('is idempotent: a second pass finds nothing to undo', async () => {
    const bench = leftByDeadRun();
    await restoreBenchHost(bench as unknown as HostShell, deadRun());
    const second = await restoreBenchHost(bench as unknown as HostShell, deadRun());
    expect(second).toEqual([]);
    expect(bench.links.map((l) => l.ifname)).toEqual(['eth0', 'eth1', 'eth2']);
  });

  it("leaves another run's bridge of the same name (another ifindex) and a NIC on another bridge alone", async () => {
    const bench = new FakeBench();
    bench.links = [
      { ifname: 'eth1', ifindex: 3, master: 'brX', up: true, addresses: [] },
      { ifname: 'eth2', ifindex: 4, up: true, addresses: [] },
      { ifname: 'br0', ifindex: 55, up: true, addresses: [] },
      { ifname: 'brX', ifindex: 56, up: true, addresses: [] },
    ];
    await restoreBenchHost(bench as unknown as HostShell, deadRun());
    expect(bench.links.map((l) => l.ifname)).toEqual(['eth1', 'eth2', 'br0', 'brX']);
    expect(bench.links[0]!.master).toBe('brX');
    expect(bench.commands.filter((c) => c.startsWith('ip link set'))).toEqual([
      // eth2 was down with an address before the dead run: restored (it has no bridge now).
      'ip link set dev eth2 nomaster',
      'ip link set dev eth2 down',
    ]);
  });

  it('tells a live run from a dead one by its holder: the pid must still run the holder of that run', async () => {
    const bench = new FakeBench();
    const record = deadRun();
    expect(await holderAlive(bench as unknown as HostShell, record)).toBe(false);
    bench.processes.set(700, `sh -c echo $$; cat >/dev/null ${holderName(record.runId)}`);
    expect(await holderAlive(bench as unknown as HostShell, record)).toBe(true);
    bench.processes.set(700, 'sleep 100'); // the pid was reused by something else
    expect(await holderAlive(bench as unknown as HostShell, record)).toBe(false);
  });
});
