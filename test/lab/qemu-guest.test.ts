// Lab test (root, real QEMU under TCG): reference images booted between two bridges in a netns of
// the test's own. Each side has a veth pair: one end on the bridge, the other a place to send from
// and capture on with scapy (bounded counts and times).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WirelabError } from '../../lib/errors.ts';
import { run } from '../../lib/exec.ts';
import { buildReferenceImage, type BuiltImage } from '../../lib/guest-image.ts';
import { QemuGuest } from '../../lib/qemu-guest.ts';
import { QmpClient } from '../../lib/qmp.ts';
import { UndoStack } from '../../lib/teardown.ts';

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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function ns(...args: string[]): Promise<void> {
  await run('ip', ['-n', NS, ...args]);
}

const OTHER_VARIANTS = ['l2-bridge-macrewrite', 'l2-bridge-delay', 'l2-bridge-lossy', 'l2-bridge-liar', 'l3-forwarder', 'monitor', 'monitor-chatty'];

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
  for (const name of ['l2-bridge', 'l2-bridge-oneway', 'l2-bridge-slowboot', 'l2-bridge-nohalt', ...OTHER_VARIANTS]) {
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
  for (const [side, host] of [['0', LEFT_HOST], ['1', RIGHT_HOST]] as const) {
    const bridge = `wlgbr${side}`;
    await ns('link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    await ns('link', 'set', bridge, 'up');
    await ns('tuntap', 'add', 'mode', 'tap', 'name', TAPS[Number(side)]!.tap);
    await ns('link', 'set', TAPS[Number(side)]!.tap, 'mtu', '1508', 'master', bridge, 'up');
    await ns('link', 'add', host.iface, 'mtu', '1508', 'address', host.mac, 'type', 'veth', 'peer', 'name', `${host.iface}b`, 'mtu', '1508');
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

  it('l2-bridge-oneway: nothing crosses left to right, right to left still passes', async () => {
    guestStack = new UndoStack('l2-bridge-oneway');
    await boot(images['l2-bridge-oneway']!);
    const lr = await sendAndCapture(LEFT_HOST, RIGHT_HOST, { count: 10, listen: 1 });
    expect(lr.sent).toHaveLength(10);
    expect(lr.received).toEqual([]);
    const rl = await sendAndCapture(RIGHT_HOST, LEFT_HOST, { count: 10, listen: 1 });
    expect(rl.received).toEqual(rl.sent);
  });

  it('l2-bridge-slowboot: a 10 s ready timeout fails with the console quoted, and the guest is gone', async () => {
    guestStack = new UndoStack('l2-bridge-slowboot');
    const t0 = Date.now();
    const error = await boot(images['l2-bridge-slowboot']!, 10_000).then(
      () => null,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - t0;
    expect(error).toBeInstanceOf(WirelabError);
    const message = (error as Error).message;
    expect(message).toContain('not ready within 10000 ms');
    expect(message).toContain('wirelab-guest: ready role=l2');
    expect(message).toContain('  | wirelab-guest: booting variant=l2-bridge-slowboot'); // the console, quoted
    expect(elapsed).toBeGreaterThanOrEqual(10_000);
    expect(elapsed).toBeLessThan(20_000);
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
    const before = createHash('sha256').update(await readFile(base)).digest('hex');
    const image = images['l2-bridge']!;
    const guestDir = join(workDir, 'disk-guest');
    const guest = await QemuGuest.start({
      name: 'disk-guest', netns: NS, workDir: guestDir, stack: guestStack, kernel: image.kernel, initrd: image.initrd,
      disk: base, memoryMiB: 256, cpus: 1, nics: TAPS, accel: 'tcg', ready: { pattern: image.readyPattern, timeoutMs: 60_000 },
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
    expect(createHash('sha256').update(await readFile(base)).digest('hex')).toBe(before);
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
    const error = await boot(image, 30_000).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(WirelabError);
    expect((error as Error).message).toMatch(/exited \(exit code 1\) \d+ ms after start, before it was ready\. QEMU said: .*kernel/i);
  });

  it('a missing tap is refused before QEMU starts', async () => {
    guestStack = new UndoStack('missing-tap');
    const error = await QemuGuest.start({
      name: 'no-tap', netns: NS, workDir: join(workDir, 'no-tap'), stack: guestStack,
      kernel: images['l2-bridge']!.kernel, initrd: images['l2-bridge']!.initrd, memoryMiB: 256, cpus: 1,
      nics: [{ tap: 'wlgnosuch', mac: '02:00:00:00:00:09' }], accel: 'tcg', ready: { pattern: 'x', timeoutMs: 1000 },
    }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(WirelabError);
    expect((error as Error).message).toContain("tap 'wlgnosuch' does not exist in network namespace");
    expect(guestStack.size).toBe(0);
  });
});

describe('the other reference variants do what they claim', () => {
  afterEach(async () => {
    await guestStack.unwind();
  });

  it('l2-bridge-macrewrite: forwarded frames carry another source MAC', async () => {
    guestStack = new UndoStack('macrewrite');
    await boot(images['l2-bridge-macrewrite']!);
    const lr = await sendAndCapture(LEFT_HOST, RIGHT_HOST, { count: 5, listen: 1 });
    expect(lr.received).toHaveLength(5);
    lr.received.forEach((frame, i) => {
      const sent = lr.sent[i]!;
      expect(frame.slice(12, 24), 'source MAC').not.toBe(sent.slice(12, 24));
      expect(frame.slice(0, 12) + frame.slice(24), 'all but the source MAC').toBe(sent.slice(0, 12) + sent.slice(24));
    });
  });

  it('l2-bridge-delay: adds about 100 ms each way', async () => {
    guestStack = new UndoStack('delay');
    await boot(images['l2-bridge-delay']!);
    const lr = await sendAndCapture(LEFT_HOST, RIGHT_HOST, { count: 20, listen: 1 });
    const rl = await sendAndCapture(RIGHT_HOST, LEFT_HOST, { count: 20, listen: 1 });
    console.log(`l2-bridge-delay: median latency left->right ${median(lr.latenciesMs).toFixed(1)} ms, right->left ${median(rl.latenciesMs).toFixed(1)} ms`);
    expect(lr.received).toHaveLength(20);
    expect(median(lr.latenciesMs)).toBeGreaterThanOrEqual(100);
    expect(median(rl.latenciesMs)).toBeGreaterThanOrEqual(100);
    expect(median(lr.latenciesMs)).toBeLessThan(400);
  });

  it('l2-bridge-lossy: loses a few percent of frames', async () => {
    guestStack = new UndoStack('lossy');
    await boot(images['l2-bridge-lossy']!);
    const lr = await sendAndCapture(LEFT_HOST, RIGHT_HOST, { count: 300, listen: 1, inter: 0.002 });
    const lost = lr.sent.length - lr.received.length;
    console.log(`l2-bridge-lossy: lost ${lost} of ${lr.sent.length}`);
    expect(lost).toBeGreaterThanOrEqual(2); // P(lost < 2) at 5 % of 300 is ~1e-5
    expect(lost).toBeLessThanOrEqual(40);
  });

  it('l2-bridge-liar: claims ready at once but forwards only seconds later', async () => {
    guestStack = new UndoStack('liar');
    const guest = await boot(images['l2-bridge-liar']!);
    const early = await sendAndCapture(LEFT_HOST, RIGHT_HOST, { count: 5, listen: 0.5 });
    expect(early.received).toEqual([]);
    expect(guest.readyAfterMs).toBeLessThan(30_000);
    await new Promise((done) => setTimeout(done, 10_000)); // it starts forwarding ~8 s after its ready line
    const late = await sendAndCapture(LEFT_HOST, RIGHT_HOST, { count: 5, listen: 0.5 });
    expect(late.received).toEqual(late.sent);
  });

  it('l3-forwarder: routes with TTL-1 and its own MACs, addresses from the kernel command line', async () => {
    guestStack = new UndoStack('l3');
    const image = images['l3-forwarder']!;
    // Non-default addresses prove the command line override; the right host answers ARP for .10.
    await run('ip', ['-n', NS, 'addr', 'add', '198.18.22.10/24', 'dev', RIGHT_HOST.iface]);
    const dropAddress = guestStack.defer('right host address', () =>
      run('ip', ['-n', NS, 'addr', 'del', '198.18.22.10/24', 'dev', RIGHT_HOST.iface]).then(() => undefined),
    );
    await boot(image, 60_000, `${image.append} wirelab.left=198.18.21.1/24 wirelab.right=198.18.22.1/24`);
    const lr = await sendAndCapture(LEFT_HOST, RIGHT_HOST, {
      count: 5, listen: 1, dst: TAPS[0]!.mac, ip_src: '198.18.21.10', ip_dst: '198.18.22.10',
    });
    expect(lr.received.length).toBe(5);
    for (const frame of lr.received) {
      expect(frame.slice(0, 12), 'destination MAC').toBe(RIGHT_HOST.mac.replace(/:/g, ''));
      expect(frame.slice(12, 24), 'source MAC').toBe(TAPS[1]!.mac.replace(/:/g, ''));
      expect(parseInt(frame.slice(44, 46), 16), 'TTL').toBe(63);
    }
    await dropAddress();
  });

  it('monitor: counts what it receives, forwards and emits nothing', async () => {
    guestStack = new UndoStack('monitor');
    const guest = await boot(images['monitor']!);
    const lr = await sendAndCapture(LEFT_HOST, RIGHT_HOST, { count: 10, listen: 3, all: true });
    expect(lr.received, 'frames seen on the right while sending left').toEqual([]);
    const line = await guest.waitForConsole(/wirelab-monitor: rx left=(1\d|[2-9]\d|\d{3,}) right=0/, 5_000);
    expect(line).toMatch(/left=\d+/);
    const idleLeft = await sendAndCapture(RIGHT_HOST, LEFT_HOST, { count: 0, listen: 4, all: true });
    expect(idleLeft.received, 'frames the monitor emitted').toEqual([]);
  });

  it('monitor-chatty: emits frames of its own', async () => {
    guestStack = new UndoStack('chatty');
    await boot(images['monitor-chatty']!);
    const idleLeft = await sendAndCapture(RIGHT_HOST, LEFT_HOST, { count: 0, listen: 5, all: true });
    expect(idleLeft.received.length).toBeGreaterThanOrEqual(1);
  });
});
