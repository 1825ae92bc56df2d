// Lab test (root, real QEMU under TCG): reference images booted between two bridges in a netns of
// the test's own. Each side has a veth pair: one end on the bridge, the other a place to send from
// and capture on with scapy (bounded counts and times).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WirelabError } from '../../lib/core/errors.ts';
import { run } from '../../lib/runtime/exec.ts';
import { buildReferenceImage, type BuiltImage } from '../../lib/images/reference-image.ts';
import { QemuGuest } from '../../lib/lab/nested/qemu-guest.ts';
import { QmpClient } from '../../lib/lab/nested/qmp.ts';
import { UndoStack } from '../../lib/runtime/teardown.ts';

const NS = `wlg-${randomBytes(3).toString('hex')}`;
const LEFT_HOST = { iface: 'wlgL', mac: '02:00:00:00:0a:01' };
const RIGHT_HOST = { iface: 'wlgR', mac: '02:00:00:00:0b:01' };
const TAPS = [
  { tap: 'wlgtap0', mac: '02:00:00:00:00:01' },
  { tap: 'wlgtap1', mac: '02:00:00:00:00:02' },
];

// Sends frames on one interface and captures on another; prints JSON {sent, received, latenciesMs}
// (frames as hex; latency per received test frame, same clock). argv: from_iface to_iface json_spec.
// Bounded: `count` frames, capture stops `listen` seconds after the last one.
const SEND_AND_CAPTURE = `
import json, sys, time
from scapy.all import AsyncSniffer, Dot1AD, Dot1Q, Ether, IP, Raw, UDP, conf
conf.verb = 0
src_if, dst_if, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
marker = spec['marker'].encode()
frames = []
for i in range(spec['count']):
    eth = Ether(src=spec['src'], dst=spec['dst'])
    l3 = IP(src=spec['ip_src'], dst=spec['ip_dst'], ttl=64) / UDP(sport=40000, dport=40001) / Raw(marker + b'%06d' % i)
    # Pad the IP packet itself, so tags come on top of a full-size untagged frame (1514 + 4 or + 8).
    pad = spec.get('pad_to', 0) - len(eth / l3)
    if pad > 0:
        l3 = l3 / Raw(b'x' * pad)
    if spec.get('tags') == 'vlan' and i % 3 == 1:
        frames.append(eth / Dot1Q(vlan=100) / l3)
    elif spec.get('tags') == 'vlan' and i % 3 == 2:
        frames.append(eth / Dot1AD(vlan=200) / Dot1Q(vlan=300) / l3)
    else:
        frames.append(eth / l3)
sniffer = AsyncSniffer(iface=dst_if, store=True, lfilter=lambda p: marker in bytes(p) or spec.get('all', False))
sniffer.start()
time.sleep(0.5)
sent_at = []
if frames:
    sock = conf.L2socket(iface=src_if)
    for f in frames:
        sent_at.append(time.time())
        sock.send(f)
        time.sleep(spec.get('inter', 0.01))
    sock.close()
time.sleep(spec['listen'])
got = sniffer.stop() or []
latencies = []
for p in got:
    raw = bytes(p)
    at = raw.find(marker)
    if at >= 0:
        seq = int(raw[at + len(marker):at + len(marker) + 6])
        latencies.append((float(p.time) - sent_at[seq]) * 1000)
print(json.dumps({'sent': [bytes(f).hex() for f in frames], 'received': [bytes(p).hex() for p in got], 'latenciesMs': latencies}))
`;

interface Crossing {
  sent: string[];
  received: string[];
  latenciesMs: number[];
}

interface TrafficSpec {
  count: number;
  listen: number;
  tags?: 'vlan';
  pad_to?: number;
  all?: boolean;
  inter?: number;
  /** Destination MAC (default: the other host) and IPv4 addresses of the test frames. */
  dst?: string;
  ip_src?: string;
  ip_dst?: string;
}

async function sendAndCapture(from: typeof LEFT_HOST, to: typeof RIGHT_HOST, spec: TrafficSpec): Promise<Crossing> {
  const full = {
    ip_src: '198.18.0.10',
    ip_dst: '198.18.0.11',
    dst: to.mac,
    ...spec,
    src: from.mac,
    marker: `WLG${randomBytes(4).toString('hex')}`,
  };
  const r = await run('/usr/bin/python3', ['-c', SEND_AND_CAPTURE, from.iface, to.iface, JSON.stringify(full)], {
    netns: NS,
    timeoutMs: 90_000,
  });
  return JSON.parse(r.stdout) as Crossing;
}

async function ns(...args: string[]): Promise<void> {
  await run('ip', ['-n', NS, ...args]);
}

const labStack = new UndoStack('qemu-guest-lab');
let guestStack: UndoStack;
let workDir: string;
const images: Record<string, BuiltImage> = {};

async function boot(image: BuiltImage, timeoutMs = 60_000, append = image.append): Promise<QemuGuest> {
  const guest = await QemuGuest.start({
    name: image.name,
    netns: NS,
    workDir: join(workDir, image.name),
    stack: guestStack,
    kernel: image.kernel,
    initrd: image.initrd,
    append,
    memoryMiB: 256,
    cpus: 1,
    nics: TAPS,
    accel: 'auto',
    ready: { pattern: image.readyPattern, timeoutMs },
  });
  console.log(`${image.name}: ready after ${guest.readyAfterMs} ms`);
  return guest;
}

function processAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

beforeAll(async () => {
  for (const name of ['l2-bridge', 'l2-bridge-slowboot', 'l2-bridge-nohalt']) {
    images[name] = await buildReferenceImage(name);
  }
  workDir = await mkdtemp(join(tmpdir(), 'wlg-'));
  labStack.defer(`work dir ${workDir}`, () => rm(workDir, { recursive: true, force: true }));

  await run('ip', ['netns', 'add', NS]);
  labStack.defer(`netns ${NS}`, () => run('ip', ['netns', 'del', NS]).then(() => undefined));
  // Quiet lab: no IPv6 chatter from the host-side links, and no iptables on bridged frames.
  await run('sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1'], { netns: NS });
  await run('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=0'], { netns: NS, allowFailure: true });
  // Only the interface that owns an address answers ARP for it: else the bridge device answers too
  // and the L3 forwarder's next-hop frames go to the bridge instead of the right-hand host.
  await run('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1'], { netns: NS });
  await ns('link', 'set', 'lo', 'up');
  // Everything below lives in the netns, so deleting the netns (deferred above) removes it all.
  // MTU 1508 on the host-side links: a full-size QinQ frame is 1522 bytes on the wire.
  for (const [side, host] of [
    ['0', LEFT_HOST],
    ['1', RIGHT_HOST],
  ] as const) {
    const bridge = `wlgbr${side}`;
    await ns('link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    await ns('link', 'set', bridge, 'up');
    await ns('tuntap', 'add', 'mode', 'tap', 'name', TAPS[Number(side)]!.tap);
    await ns('link', 'set', TAPS[Number(side)]!.tap, 'mtu', '1508', 'master', bridge, 'up');
    await ns(
      'link',
      'add',
      host.iface,
      'mtu',
      '1508',
      'address',
      host.mac,
      'type',
      'veth',
      'peer',
      'name',
      `${host.iface}b`,
      'mtu',
      '1508',
    );
    await ns('link', 'set', `${host.iface}b`, 'master', bridge, 'up');
    await ns('link', 'set', host.iface, 'up');
  }
});

afterAll(async () => {
  await labStack.unwind();
  const { stdout } = await run('ip', ['netns', 'list']);
  expect(stdout).not.toContain(NS);
});

describe('QemuGuest with reference images', () => {
  afterEach(async () => {
    await guestStack.unwind();
  });

  it('l2-bridge: ready line, frames cross byte-exact both ways (VLAN and QinQ too), silent when idle, graceful halt', async () => {
    guestStack = new UndoStack('l2-bridge');
    const guest = await boot(images['l2-bridge']!);
    expect(guest.console()).toMatch(/wirelab-guest: ready role=l2-bridge/);
    expect(guest.console().match(/wirelab-guest: ready/g)).toHaveLength(1);
    expect(processAlive(guest.pid)).toBe(true);

    const idle = await sendAndCapture(LEFT_HOST, RIGHT_HOST, { count: 0, listen: 2, all: true });
    const idleRight = idle.received;
    expect(idleRight, 'frames the guest emitted on its own').toEqual([]);

    const lr = await sendAndCapture(LEFT_HOST, RIGHT_HOST, { count: 9, listen: 1, tags: 'vlan', pad_to: 1514 });
    expect(lr.sent.map((f) => f.length / 2)).toContain(1522); // QinQ full-size frame
    expect(lr.received).toEqual(lr.sent);
    const rl = await sendAndCapture(RIGHT_HOST, LEFT_HOST, { count: 9, listen: 1, tags: 'vlan' });
    expect(rl.received).toEqual(rl.sent);

    const halt = await guest.halt(20_000);
    console.log(`l2-bridge halt: graceful=${halt.graceful} in ${halt.ms} ms`);
    expect(halt.graceful).toBe(true);
    expect(processAlive(guest.pid)).toBe(false);
    expect(guest.console()).toMatch(/power button pressed/);
  });

  it('l2-bridge-slowboot: a 25 s ready timeout fails with the console quoted, and the guest is gone', async () => {
    guestStack = new UndoStack('l2-bridge-slowboot');
    const t0 = Date.now();
    const error = await boot(images['l2-bridge-slowboot']!, 25_000).then(
      () => null,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - t0;
    expect(error).toBeInstanceOf(WirelabError);
    const message = (error as Error).message;
    expect(message).toContain('not ready within 25000 ms');
    expect(message).toContain('wirelab-guest: ready role=l2');
    expect(message).toContain('  | wirelab-guest: booting variant=l2-bridge-slowboot'); // the console, quoted
    expect(elapsed).toBeGreaterThanOrEqual(25_000);
    expect(elapsed).toBeLessThan(35_000);
    // Its QEMU is gone: no process runs with this run's work dir on its command line (read-only check).
    const { stdout } = await run('pgrep', ['-f', join(workDir, 'l2-bridge-slowboot')], { allowFailure: true });
    expect(stdout.trim()).toBe('');
  });

  it('l2-bridge-nohalt: ignores the power button, halt falls back to a kill (graceful=false)', async () => {
    guestStack = new UndoStack('l2-bridge-nohalt');
    const guest = await boot(images['l2-bridge-nohalt']!);
    const halt = await guest.halt(5_000);
    console.log(`l2-bridge-nohalt halt: graceful=${halt.graceful} in ${halt.ms} ms`);
    expect(halt.graceful).toBe(false);
    expect(halt.ms).toBeGreaterThanOrEqual(5_000);
    expect(processAlive(guest.pid)).toBe(false);
  });
});

describe('QemuGuest with a disk image', () => {
  afterEach(async () => {
    await guestStack.unwind();
  });

  it('writes go to a qcow2 overlay in workDir; the base image is never modified; the overlay is undone', async () => {
    guestStack = new UndoStack('disk');
    const base = join(workDir, 'base.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', base, '16M']);
    const before = createHash('sha256')
      .update(await readFile(base))
      .digest('hex');
    const image = images['l2-bridge']!;
    const guestDir = join(workDir, 'disk-guest');
    const guest = await QemuGuest.start({
      name: 'disk-guest',
      netns: NS,
      workDir: guestDir,
      stack: guestStack,
      kernel: image.kernel,
      initrd: image.initrd,
      disk: base,
      memoryMiB: 256,
      cpus: 1,
      nics: TAPS,
      accel: 'tcg',
      ready: { pattern: image.readyPattern, timeoutMs: 60_000 },
    });
    const overlay = join(guestDir, 'disk-guest-overlay.qcow2');
    const info = JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', overlay])).stdout) as { 'backing-filename'?: string };
    expect(info['backing-filename']).toBe(base);
    // Write 1 MiB through QEMU's block layer, as a guest would.
    const qmp = await QmpClient.connect(join(guestDir, 'qmp.sock'), 5_000);
    // (qemu-io prints its report on QEMU's stdout, the console, not in the QMP reply: check the files.)
    await qmp.execute('human-monitor-command', { 'command-line': 'qemu-io disk0 "write -P 0xab 0 1M"' });
    qmp.close();
    expect((await guest.halt(20_000)).graceful).toBe(true);
    expect(
      createHash('sha256')
        .update(await readFile(base))
        .digest('hex'),
    ).toBe(before);
    const written = await run('qemu-img', ['compare', '-q', base, overlay], { allowFailure: true });
    expect(written.exitCode, 'overlay differs from base').toBe(1);
    await guestStack.unwind();
    expect(existsSync(overlay)).toBe(false);
  });
});

describe('QemuGuest failures are explained', () => {
  afterEach(async () => {
    await guestStack.unwind();
  });

  it('QEMU exiting at start: the error says so and quotes its stderr', async () => {
    guestStack = new UndoStack('early-exit');
    const junk = join(workDir, 'not-a-kernel');
    await writeFile(junk, randomBytes(4096));
    const image = { ...images['l2-bridge']!, kernel: junk };
    const error = await boot(image, 30_000).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WirelabError);
    expect((error as Error).message).toMatch(/exited \(exit code 1\) \d+ ms after start, before it was ready\. QEMU said: .*kernel/i);
  });

  it('a missing tap is refused before QEMU starts', async () => {
    guestStack = new UndoStack('missing-tap');
    const error = await QemuGuest.start({
      name: 'no-tap',
      netns: NS,
      workDir: join(workDir, 'no-tap'),
      stack: guestStack,
      kernel: images['l2-bridge']!.kernel,
      initrd: images['l2-bridge']!.initrd,
      memoryMiB: 256,
      cpus: 1,
      nics: [{ tap: 'wlgnosuch', mac: '02:00:00:00:00:09' }],
      accel: 'tcg',
      ready: { pattern: 'x', timeoutMs: 1000 },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WirelabError);
    expect((error as Error).message).toContain("tap 'wlgnosuch' does not exist in network namespace");
    expect(guestStack.size).toBe(0);
  });
});

// The other variants' behaviour (MAC rewrite, delay, loss, premature readiness, l3 routing, monitor)
// is shown through the whole instrument in traffic.test.ts and through the suites in suites.test.ts.
