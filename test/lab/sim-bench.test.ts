// The bench host over SSH, for real: the simulated bench lab (`wirelab sim-bench`: a bench host with
// OpenSSH, libvirt and QEMU, and two traffic hosts, each a container with a root filesystem of its
// own, cabled by veths) and `wirelab run` on the profile it prints. Every command, file, console and
// capture of the bench host goes over SSH; so does every measurement this test makes of the machines.
//  - the good reference L2 image passes the whole l2-bridge suite; a faulty one (MAC rewrite) fails it,
//    naming the fault; the bench host and traffic hosts end as they began;
//  - SIGKILL of the run's whole process group mid-traffic: within 15 s the run's watchdog has restored
//    the bench host over SSH (data NICs as before; no bridge, domain, tap, tcpdump or ledger entry of
//    the run) and the traffic hosts have no process of the run left — without `wirelab clean`;
//  - a run whose watchdog died too: `wirelab clean --profile` restores the bench host from its ledger;
//  - `wirelab doctor --profile` checks the bench host and traffic hosts over SSH, and names what is wrong.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { newRunId } from '../../lib/core/run-id.ts';
import { placeFile, sha256OfFile } from '../../lib/lab/bench-host/bench-files.ts';
import { BenchLedger } from '../../lib/lab/bench-host/bench-ledger.ts';
import { SshShell } from '../../lib/lab/bench-host/host-shell.ts';
import { simBenchDown, simBenchUp, type SimBench } from '../../lib/lab/sim-bench/sim-bench.ts';
import { LEDGER_DIR } from '../../lib/runtime/ledger.ts';
import { SshHost } from '../../lib/runtime/ssh.ts';
import { run } from '../../lib/runtime/exec.ts';
import { fileTempDir } from '../temp-dir.ts';
import { wirelab, type TestOutcome } from './wirelab-cli.ts';

const CLI = path.resolve('bin/wirelab.mjs');
const dir = fileTempDir('wlsb-test-');
/** The bench host must be restored this long after a SIGKILL of the run (its watchdog reaches it over SSH). */
const AFTER_SIGKILL_MS = 15_000;
/** A whole suite on the simulated lab: ~45 s on a quiet machine; several times that beside other TCG guests. */
const RUN_BUDGET_MS = 400_000;

let sim: SimBench;
const ssh = {} as Record<'bench' | 'left' | 'right', SshHost>;
let before: BenchState;
let hostsBefore: Record<'left' | 'right', string[]>;

interface BenchState {
  /** eth1/eth2: master, up, addresses (as `ip -j addr` says, link-local left out). */
  nics: Record<string, { master: string | null; up: boolean; addresses: string[] }>;
  links: string[];
  domains: string[];
  /** Processes whose command line names a wirelab run (tcpdump, the holder, …). */
  runProcesses: string[];
  ledger: string[];
}

async function sh(host: SshHost, argv: string[]): Promise<string> {
  return (await host.execOk(argv)).stdout.toString();
}

/** The bench host as seen over SSH. */
async function benchState(): Promise<BenchState> {
  const links = JSON.parse(await sh(ssh.bench, ['ip', '-j', 'addr', 'show'])) as {
    ifname: string;
    master?: string;
    flags?: string[];
    addr_info?: { local: string; prefixlen: number; scope?: string }[];
  }[];
  const nics: BenchState['nics'] = {};
  for (const l of links.filter((x) => x.ifname === 'eth1' || x.ifname === 'eth2'))
    nics[l.ifname] = {
      master: l.master ?? null,
      up: (l.flags ?? []).includes('UP'),
      addresses: (l.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`),
    };
  const domains = (await sh(ssh.bench, ['virsh', '-q', '-c', 'qemu:///system', 'list', '--all', '--name'])).split('\n').filter(Boolean);
  return {
    nics,
    links: links.map((l) => l.ifname).sort(),
    domains,
    runProcesses: await runProcesses(ssh.bench),
    ledger: (await sh(ssh.bench, ['sh', '-c', 'ls /var/lib/wirelab/bench-runs 2>/dev/null || true'])).split('\n').filter(Boolean),
  };
}

async function runProcesses(host: SshHost, runId = 'wl-'): Promise<string[]> {
  const ps = await sh(host, ['ps', '-eo', 'pid=,args=']);
  return ps
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes(`wirelab-${runId}`) || (runId !== 'wl-' && l.includes(runId)));
}

/** A traffic host's data NIC addresses, over SSH. */
async function hostAddresses(side: 'left' | 'right'): Promise<string[]> {
  const j = JSON.parse(await sh(ssh[side], ['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth1'])) as {
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  return j.flatMap((l) => l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

async function expectRestored(why: string): Promise<void> {
  expect(await benchState(), why).toEqual(before);
  expect({ left: await hostAddresses('left'), right: await hostAddresses('right') }, why).toEqual(hostsBefore);
  for (const side of ['left', 'right'] as const) expect(await runProcesses(ssh[side]), `${why}: ${side} host`).toEqual([]);
}

/** The simulated lab's profile for another reference image. */
function profileFor(reference: string): string {
  const file = path.join(dir, `${reference}.yaml`);
  writeFileSync(file, readFileSync(sim.profileFile, 'utf8').replace(/reference: l2-bridge\b/, `reference: ${reference}`));
  return file;
}

const outcome = (tests: TestOutcome[], name: RegExp): TestOutcome => {
  const t = tests.find((x) => name.test(x.name));
  if (!t) throw new Error(`no test matching ${name} ran: ${tests.map((x) => x.name).join(', ')}`);
  return t;
};

beforeAll(async () => {
  const t0 = Date.now();
  sim = await simBenchUp({ ownerPid: process.pid, onProgress: (m) => console.log(`[sim-bench] ${m}`) });
  console.log(`[sim-bench] ${sim.id} up in ${((Date.now() - t0) / 1000).toFixed(1)} s (including any image build)`);
  const key = readFileSync(sim.clientKeyFile, 'utf8');
  for (const m of ['bench', 'left', 'right'] as const)
    ssh[m] = await new SshHost().connect({
      label: `test's view of ${m}`,
      host: sim.addresses[m],
      username: 'root',
      privateKey: key,
      hostKey: sim.hostKeys[m],
    });
  before = await benchState();
  hostsBefore = { left: await hostAddresses('left'), right: await hostAddresses('right') };
  expect(before.nics).toEqual({ eth1: { master: null, up: true, addresses: [] }, eth2: { master: null, up: true, addresses: [] } });
  expect(before.domains).toEqual([]);
}, 600_000);

afterAll(async () => {
  for (const host of Object.values(ssh)) await host.close();
  if (!sim) return;
  await simBenchDown(sim.id);
  const left = await run('docker', ['ps', '-aq', '--filter', `label=wirelab.simbench=${sim.id}`]);
  expect(left.stdout, 'no container of the simulated lab is left').toBe('');
  const nets = await run('docker', ['network', 'ls', '-q', '--filter', `label=wirelab.simbench=${sim.id}`]);
  expect(nets.stdout, 'no network of the simulated lab is left').toBe('');
});

describe('a bench-host profile over SSH on the simulated bench lab', () => {
  it(
    'the good reference L2 image passes the l2-bridge suite; the bench host and traffic hosts end as they began',
    async () => {
      const r = await wirelab(
        ['run', 'l2-bridge', '--profile', sim.profileFile, '--report-dir', path.join(dir, 'good')],
        path.join(dir, 'good.json'),
      );
      const failed = r.tests.filter((t) => t.status !== 'passed');
      expect(
        failed.map((t) => `${t.name}: ${t.message.split('\n')[0]}`),
        r.output.slice(-3000),
      ).toEqual([]);
      expect(r.exitCode).toBe(0);
      expect(r.tests.length).toBeGreaterThanOrEqual(10);
      // The boot files went over SFTP into the bench host's cache (or were found there by their checksum).
      expect(r.output).toMatch(/the guest kernel: (uploaded to|found on) bench host .*SHA-256/);
      // How long the guest takes under TCG inside the bench-host container (README: Your bench host).
      console.log(`[sim-bench] good run: ${r.output.match(/guest ready after [\d.]+ s/g)?.join(', ') ?? 'no boot time printed'}`);
      await expectRestored('after the good run');
    },
    RUN_BUDGET_MS,
  );

  it(
    'a faulty image (source MAC rewrite) fails the suite, naming the rewrite; readiness and the halt still pass',
    async () => {
      const r = await wirelab(
        ['run', 'l2-bridge', '--profile', profileFor('l2-bridge-macrewrite'), '--report-dir', path.join(dir, 'faulty')],
        path.join(dir, 'faulty.json'),
      );
      expect(r.exitCode, r.output.slice(-2000)).toBe(1);
      // The suite's names and first lines as test/lab/suites.test.ts checks them on the nested lab.
      for (const name of [/MAC the bridge has learned/, / broadcast frames \(flooded\)/]) {
        const t = outcome(r.tests, name);
        expect(t.status).toBe('failed');
        expect(t.message).toMatch(/rewritten source MAC/);
      }
      expect(outcome(r.tests, /readiness/).status).toBe('passed');
      expect(outcome(r.tests, /halts gracefully/).status).toBe('passed');
      await expectRestored('after the faulty run');
    },
    RUN_BUDGET_MS,
  );
});

/** `wirelab run … --grep "profile's load"` as the leader of its own process group; resolves once its run id is known. */
function startRun(profile: string, reportDir: string) {
  const child = spawn(
    process.execPath,
    [CLI, 'run', 'l2-bridge', '--profile', profile, '--grep', "profile's load", '--report-dir', reportDir],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const runId = new Promise<string>((resolve, reject) => {
    const onData = (b: Buffer) => {
      output += b.toString();
      const m = /run (wl-[0-9a-f]{6}) recorded in the ledger/.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exit.then(() => reject(new Error(`wirelab run ended before its lab was recorded: ${output}`)));
  });
  return { child, exit, runId, output: () => output };
}

/** `wirelab up --hold` on the simulated lab, as the leader of its own process group; resolves once the lab is up. */
async function holdLab() {
  const up = spawn(process.execPath, [CLI, 'up', '--profile', sim.profileFile, '--hold'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  up.stdout.on('data', (b: Buffer) => (output += b.toString()));
  up.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const exit = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
  await until(async () => /lab wl-[0-9a-f]{6} up in/.test(output), RUN_BUDGET_MS / 2, 'wirelab up');
  return { up, exit, runId: /lab (wl-[0-9a-f]{6}) up in/.exec(output)![1]!, output: () => output };
}

/** Poll (over SSH) until `probe` holds; resolves to the ms it took, or throws after `boundMs`. */
async function until(probe: () => Promise<boolean>, boundMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!(await probe())) {
    if (Date.now() - t0 > boundMs) throw new Error(`${what} did not happen within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - t0;
}

describe('a run that dies: the bench host is restored over SSH', () => {
  it(
    'SIGKILL of the whole run mid-traffic: within 15 s its watchdog has restored the bench host, and no process of the run is left',
    async () => {
      const r = startRun(sim.profileFile, path.join(dir, 'killed'));
      const runId = await r.runId;
      // Mid-traffic: the load window's tcpreplay runs on a traffic host (seen over SSH).
      await until(
        async () => (await runProcesses(ssh.left, runId)).some((p) => p.includes('tcpreplay')),
        RUN_BUDGET_MS / 2,
        'the traffic window',
      );
      expect((await benchState()).nics.eth1!.master, 'eth1 is on the run bridge').toBe('br0');
      const killedAt = Date.now();
      process.kill(-r.child.pid!, 'SIGKILL');
      expect((await r.exit).signal).toBe('SIGKILL');
      const restoredMs = await until(
        async () => {
          const now = await benchState();
          const hosts = [...(await runProcesses(ssh.left, runId)), ...(await runProcesses(ssh.right, runId))];
          return JSON.stringify(now) === JSON.stringify(before) && hosts.length === 0;
        },
        AFTER_SIGKILL_MS,
        `restoring run ${runId}`,
      ).catch(async (e: Error) => {
        throw new Error(`${e.message}; bench host now: ${JSON.stringify(await benchState())}`);
      });
      console.log(`[sim-bench] SIGKILL mid-traffic: bench host and traffic hosts restored ${Date.now() - killedAt} ms after the kill`);
      expect(restoredMs).toBeLessThan(AFTER_SIGKILL_MS);
      await expectRestored('after the SIGKILL');
      // The traffic hosts' addresses the run added went with it, and so did this machine's record of the run.
      expect(() => readFileSync(path.join(LEDGER_DIR, 'bench-hosts', `${runId}.json`))).toThrow();
    },
    RUN_BUDGET_MS,
  );

  it(
    "the run's SSH connection to the bench host drops: its last undo reconnects and restores the bench host by the ledger",
    async () => {
      const { up, runId, exit, output } = await holdLab();
      // Cut the run's connection on the bench host's side: end the sshd process serving it (the holder's parent).
      const record = JSON.parse(await sh(ssh.bench, ['cat', `/var/lib/wirelab/bench-runs/${runId}.json`])) as { holderPid: number };
      const stat = await sh(ssh.bench, ['cat', `/proc/${record.holderPid}/stat`]);
      const sshd = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]!;
      expect(await sh(ssh.bench, ['cat', `/proc/${sshd}/comm`])).toMatch(/^sshd/);
      await sh(ssh.bench, ['kill', '-KILL', sshd]);
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await benchState()).nics.eth1!.master, 'the lab is still there').toBe('br0');
      process.kill(-up.pid!, 'SIGINT');
      expect(await exit, output()).toBe(130);
      expect(output()).toMatch(/The SSH connection to bench host .* is gone/);
      expect(output()).toMatch(/reconnected and restored it by run wl-[0-9a-f]{6}'s ledger: domain wl-[0-9a-f]{6}-guest, .*bridge br0/);
      await expectRestored('after the dropped connection');
    },
    RUN_BUDGET_MS,
  );

  it(
    'a run whose watchdog died too: the bench host stays as the run left it, and `wirelab clean --profile` restores it',
    async () => {
      const { up, runId } = await holdLab();
      const record = JSON.parse(readFileSync(path.join(LEDGER_DIR, `${runId}.json`), 'utf8')) as { watchdogPid: number };
      // The watchdog first (it would restore the host the moment `wirelab up` dies), then the run.
      process.kill(record.watchdogPid, 'SIGKILL');
      process.kill(-up.pid!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 3_000));
      const left = await benchState();
      expect(left.nics.eth1!.master, 'nothing restored the bench host').toBe('br0');
      expect(left.ledger).toEqual([`${runId}.json`]);

      // This machine's copy of the ledger goes too (as if this were another controller, or a new machine):
      // what restores the host now is the ledger on the bench host itself.
      rmSync(path.join(LEDGER_DIR, 'bench-hosts', `${runId}.json`));
      const clean = await execa(process.execPath, [CLI, 'clean', '--profile', sim.profileFile], { reject: false, all: true });
      expect(clean.exitCode, clean.all).toBe(0);
      expect(clean.all).toMatch(new RegExp(`${runId}: bench host: domain ${runId}-guest`));
      await expectRestored('after wirelab clean --profile');
    },
    RUN_BUDGET_MS,
  );
});

describe('files on the bench host over SFTP', () => {
  it('a disk image is uploaded with progress and a checksum, found by its checksum next time, and a different file is never replaced', async () => {
    const shell = await SshShell.connect({
      address: sim.addresses.bench,
      port: 22,
      user: 'root',
      hostKey: sim.hostKeys.bench,
      privateKeyFile: sim.clientKeyFile,
      field: 'host.ssh.privateKeyFile',
    });
    const runId = newRunId();
    const ledger = await BenchLedger.open({
      shell,
      runId,
      profile: sim.profileFile,
      bench: { connection: 'local', netns: '' },
      trafficHosts: {},
    });
    try {
      const image = path.join(dir, 'disk.qcow2');
      writeFileSync(image, randomBytes(3 * 1024 * 1024));
      const remote = `/var/lib/wirelab/images/test-${runId}.qcow2`;
      const lines: string[] = [];
      const place = (local: string) =>
        placeFile({
          shell,
          runId,
          ledger,
          local,
          remote,
          what: 'the guest disk',
          field: 'guest.image.disk',
          progress: (m) => lines.push(m),
        });
      expect(await place(image)).toBe('uploaded');
      expect(lines.filter((l) => /uploading .* over SFTP: \d+%/.test(l)).length).toBeGreaterThanOrEqual(2);
      expect(lines.at(-1)).toMatch(/uploaded .*SHA-256 checked on both ends/);
      expect(await sh(ssh.bench, ['sha256sum', remote])).toContain(await sha256OfFile(image));
      expect(await place(image)).toBe('found');
      const other = path.join(dir, 'other.qcow2');
      writeFileSync(other, randomBytes(1024));
      await expect(place(other)).rejects.toThrow(
        /field 'guest\.image\.disk': .* is not .*other\.qcow2.*never replaces a file on the bench host/,
      );
      expect(await sh(ssh.bench, ['sha256sum', remote])).toContain(await sha256OfFile(image));
      await sh(ssh.bench, ['rm', '-f', remote]);
    } finally {
      await ledger.remove();
      await shell.close();
    }
    expect(await benchState()).toEqual(before);
  });
});

describe('wirelab doctor --profile on a bench-host profile', () => {
  it('checks the bench host and traffic hosts over SSH: all there on the simulated lab; a missing NIC is named with its fix', async () => {
    const good = await execa(process.execPath, [CLI, 'doctor', '--profile', sim.profileFile], { reject: false, all: true });
    expect(good.exitCode, good.all).toBe(0);
    expect(good.all).toMatch(/libvirtd answers/);
    expect(good.all).toMatch(/KVM/);
    const bad = path.join(dir, 'bad-nic.yaml');
    writeFileSync(bad, readFileSync(sim.profileFile, 'utf8').replace('right: eth2 }', 'right: eth7 }'));
    const r = await execa(process.execPath, [CLI, 'doctor', '--profile', bad], { reject: false, all: true });
    expect(r.exitCode).toBe(1);
    expect(r.all).toMatch(/MISSING .*eth7/);
    expect(await benchState()).toEqual(before);
  });
});
