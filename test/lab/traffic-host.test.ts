// Two real traffic-host containers on one bridge in a namespace of this test's own: they must reach
// each other over eth1, a capture over ssh must see the frames, a wrong pinned host key must be
// refused, a host that stops answering (frozen, no RST: a half-open connection) must not hang a
// command or the teardown past the SSH keepalive bound, and teardown must leave no container,
// namespace, link or key behind.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, ensureDockerEngine } from '../../lib/runtime/docker-engine.ts';
import { WirelabError } from '../../lib/core/errors.ts';
import { run } from '../../lib/runtime/exec.ts';
import { createBridge, createNetns, listNetns } from '../../lib/lab/nested/netns.ts';
import { KEEPALIVE, SshHost } from '../../lib/runtime/ssh.ts';
import { UndoStack } from '../../lib/runtime/teardown.ts';
import { startTrafficHost, type TrafficHost } from '../../lib/lab/nested/traffic-host.ts';
import { ensureTrafficHostImage } from '../../lib/images/traffic-host-image.ts';

const runId = `wlt-${randomBytes(3).toString('hex')}`;
const BRIDGE = 'wlt-br0';
const LEFT = { mac: '02:00:5e:10:00:01', ipv4: '198.18.0.1/24' };
const RIGHT = { mac: '02:00:5e:10:00:02', ipv4: '198.18.0.2/24' };

const stack = new UndoStack(runId);
let workDir: string;
let left: TrafficHost;
let right: TrafficHost;

interface Frame {
  dst: string;
  src: string;
  etherType: number;
  bytes: Buffer;
}

/** Just enough of a pcap reader for this test: Ethernet frames of a little-endian µs capture. */
function readPcap(pcap: Buffer): Frame[] {
  expect(pcap.readUInt32LE(0)).toBe(0xa1b2c3d4);
  expect(pcap.readUInt32LE(20)).toBe(1); // LINKTYPE_ETHERNET
  const mac = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
  const frames: Frame[] = [];
  for (let at = 24; at + 16 <= pcap.length;) {
    const length = pcap.readUInt32LE(at + 8);
    const bytes = pcap.subarray(at + 16, at + 16 + length);
    frames.push({ dst: mac(bytes.subarray(0, 6)), src: mac(bytes.subarray(6, 12)), etherType: bytes.readUInt16BE(12), bytes });
    at += 16 + length;
  }
  return frames;
}

const ipOf = (cidr: string) => cidr.split('/')[0]!;

async function newKeyPair(name: string): Promise<{ privateKey: string; publicKey: string }> {
  const file = join(workDir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  return { privateKey: await readFile(file, 'utf8'), publicKey: await readFile(`${file}.pub`, 'utf8') };
}

beforeAll(async () => {
  await ensureDockerEngine();
  await ensureTrafficHostImage(); // builds once (about a minute) if missing
  workDir = await mkdtemp(join(tmpdir(), `${runId}-`));
  stack.defer('test work directory', () => rm(workDir, { recursive: true, force: true }));
  await createNetns(runId, stack);
  await createBridge(runId, BRIDGE);

  const timed = async (side: 'left' | 'right', addr: typeof LEFT) => {
    const t0 = performance.now();
    const host = await startTrafficHost({ side, runId, labNetns: runId, bridge: BRIDGE, ...addr, workDir: join(workDir, side) }, stack);
    console.log(`traffic host ${side} started in ${Math.round(performance.now() - t0)} ms (concurrently with the other)`);
    return host;
  };
  const t0 = performance.now();
  const settled = await Promise.allSettled([timed('left', LEFT), timed('right', RIGHT)]);
  console.log(`both traffic hosts up in ${Math.round(performance.now() - t0)} ms`);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  [left, right] = settled.map((s) => (s as PromiseFulfilledResult<TrafficHost>).value) as [TrafficHost, TrafficHost];
});

afterAll(async () => {
  await stack.unwind(); // idempotent: a no-op when the last test already tore down
});

describe('traffic hosts on a lab bridge', () => {
  it('configures eth1 with the given MAC and address, and no IPv6 address', async () => {
    for (const [host, spec] of [
      [left, LEFT],
      [right, RIGHT],
    ] as const) {
      const link = (await host.ssh.execOk(['ip', '-o', 'link', 'show', 'dev', 'eth1'])).stdout.toString();
      expect(link).toContain(`link/ether ${spec.mac}`);
      expect(link).toMatch(/state UP/);
      const addrs = (await host.ssh.execOk(['ip', '-o', 'address', 'show', 'dev', 'eth1'])).stdout.toString();
      expect(addrs).toContain(`inet ${spec.ipv4}`);
      expect(addrs).not.toContain('inet6');
    }
    const ports = await run('ip', ['-o', 'link', 'show', 'master', BRIDGE], { netns: runId });
    expect(ports.stdout).toContain(left.bridgePort);
    expect(ports.stdout).toContain(right.bridgePort);
  });

  it('pings left to right over eth1, and a capture over ssh on the right sees the frames', async () => {
    const capture = await right.ssh.spawn(['run-until-eof', 'tcpdump', '-i', 'eth1', '-n', '--immediate-mode', '-U', '-w', '-']);
    const pcapChunks: Buffer[] = [];
    capture.stdout.on('data', (c: Buffer) => pcapChunks.push(c));
    let stderr = '';
    // "listening on" arrives after tcpdump has opened the interface: from then on frames are caught.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump not listening after 10 s; stderr: ${stderr}`)), 10_000);
      capture.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (/listening on/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });

    const ping = await left.ssh.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', '-I', 'eth1', ipOf(RIGHT.ipv4)], { timeoutMs: 15_000 });
    expect(ping.stdout.toString()).toMatch(/3 packets transmitted, 3 received/);
    expect(ping.code).toBe(0);

    const exit = await capture.stop(10_000);
    expect(exit.code).toBe(0);
    expect(stderr).toMatch(/0 packets dropped by kernel/);

    const frames = readPcap(Buffer.concat(pcapChunks));
    const echoRequests = frames.filter(
      (f) =>
        f.etherType === 0x0800 &&
        f.src === LEFT.mac &&
        f.dst === RIGHT.mac &&
        f.bytes[23] === 1 && // ICMP
        f.bytes[34] === 8 && // echo request
        f.bytes.subarray(26, 30).join('.') === ipOf(LEFT.ipv4) &&
        f.bytes.subarray(30, 34).join('.') === ipOf(RIGHT.ipv4),
    );
    expect(echoRequests).toHaveLength(3);
    // Nothing but the two hosts' ARP and IPv4 on the lab link: no IPv6 autoconf/DAD/MLD noise.
    for (const f of frames) {
      expect([0x0800, 0x0806]).toContain(f.etherType);
      expect([LEFT.mac, RIGHT.mac]).toContain(f.src);
    }
  });

  it('refuses a server whose host key differs from the pinned one, with an error that says so', async () => {
    const stranger = await newKeyPair('stranger');
    const attempt = new SshHost().connect({
      label: "traffic host 'right'",
      host: right.mgmtAddress,
      username: 'root',
      privateKey: stranger.privateKey,
      hostKey: stranger.publicKey, // the right host's real key is another one
      readyTimeoutMs: 5_000,
    });
    await expect(attempt).rejects.toThrow(WirelabError);
    await expect(attempt).rejects.toThrow(/traffic host 'right'.*does not match the pinned key.*Fix:/s);
  });

  it('refuses a client key that is not authorized (key-only login)', async () => {
    const stranger = await newKeyPair('unauthorized');
    const attempt = new SshHost().connect({
      label: "traffic host 'left'",
      host: left.mgmtAddress,
      username: 'root',
      privateKey: stranger.privateKey,
      hostKey: left.hostKey,
      readyTimeoutMs: 5_000,
    });
    await expect(attempt).rejects.toThrow(/refused our key/);
  });

  it('refuses an image that is not present locally (no pull attempt), creating nothing', async () => {
    const attemptStack = new UndoStack(`${runId}-missing-image`);
    const attempt = startTrafficHost(
      {
        side: 'left',
        runId,
        labNetns: runId,
        bridge: BRIDGE,
        mac: '02:00:5e:10:00:03',
        ipv4: '198.18.0.3/24',
        workDir: join(workDir, 'missing'),
        image: 'wirelab/traffic-host:000000000000',
      },
      attemptStack,
    );
    await expect(attempt).rejects.toThrow(/wirelab\/traffic-host:000000000000 is not available locally.*Fix:/);
    expect(attemptStack.size).toBe(0);
    await attemptStack.unwind();
  });

  it('a half-open connection (the host frozen: TCP still acks, sshd never answers) ends its command and closes within the keepalive bound', async () => {
    // A command with no timeout of its own: only the keepalive can end it.
    const sleeping = left.ssh.exec(['sleep', '600']);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    await docker(['pause', left.containerId]);
    try {
      const result = await sleeping;
      const ms = Date.now() - t0;
      expect(result.code).toBeNull();
      // countMax unanswered keepalives, one interval apart, plus one interval of slack.
      expect(ms).toBeLessThan(KEEPALIVE.intervalMs * (KEEPALIVE.countMax + 2));
      const c0 = Date.now();
      await left.ssh.close();
      expect(Date.now() - c0).toBeLessThan(3_000);
      console.log(`half-open connection: the command ended ${ms} ms after the host froze`);
    } finally {
      await docker(['unpause', left.containerId], { allowFailure: true });
    }
  }, 60_000);

  it('leaves no container, namespace, link or key behind after teardown', async () => {
    const keyDir = join(workDir, 'left', 'ssh-left');
    expect(existsSync(keyDir)).toBe(true);
    await stack.unwind();
    const containers = await docker(['ps', '-a', '-q', '--filter', `label=wirelab.run=${runId}`]);
    expect(containers.stdout.trim()).toBe('');
    expect(await listNetns()).not.toContain(runId);
    const links = await run('ip', ['-br', 'link']);
    expect(links.stdout).not.toContain(runId);
    expect(existsSync(keyDir)).toBe(false);
    expect(existsSync(workDir)).toBe(false);
  });
});
