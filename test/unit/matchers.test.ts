// The flow-report checks: each passes on a report that keeps the promise and fails on one that
// breaks it, with a message that says expected versus observed and shows the offending frames.
import { describe, expect, it } from 'vitest';
import { analyzeTraffic, type FlowResult, type TrafficReport } from '../../lib/analysis/flow-report.ts';
import { checksumOf, sum16 } from '../../lib/frames/checksum.ts';
import { Ether, flow, IPv4, stack, UDP } from '../../lib/frames/index.ts';
import type { InjectionResult } from '../../lib/analysis/run.ts';
import type { EmissionClass } from '../../lib/analysis/emissions.ts';
import {
  arriveInOrder,
  arriveUnchanged,
  beL3Rewritten,
  deliverAll,
  deliverNone,
  latencyBalanced,
  latencyUnder,
  noDuplicates,
  noGuestEmissions,
  noReflections,
} from '../../lib/analysis/matchers.ts';
import type { TrafficRun } from '../../lib/traffic/traffic-run.ts';
import '../../fixtures/matchers.ts';
import { CAPTURE_POINTS, type CapturePoint, type Side } from '../../lib/core/sides.ts';
import type { RunId } from '../../lib/core/run-id.ts';
import type { TimedFrame } from '../../lib/core/timed-frame.ts';
import { cleanFlow } from './fake-flow.ts';

const LEFT_MAC = '02:00:00:00:00:01';
const RIGHT_MAC = '02:00:00:00:00:02';
const GUEST_LEFT_MAC = '02:00:00:00:00:aa';
const GUEST_RIGHT_MAC = '02:00:00:00:00:bb';

/** A clean flow of 1000 frames left → right; override what the test breaks. */
function flowReport(o: Partial<FlowResult> = {}): FlowResult {
  return cleanFlow(1000, { name: 'udp l→r', latencyUs: { samples: 1000, min: 20, p50: 40, p90: 80, p99: 200, max: 900 }, ...o });
}

function trafficReport(flows: FlowResult[], o: Partial<TrafficReport> = {}): TrafficReport {
  const emissions = CAPTURE_POINTS.map((point) => ({ point, fromGuest: 0, byClass: {}, bySourceMac: {}, fromHosts: 0 }));
  return { flows, emissions, emissionList: [], captureDrops: {}, ...o };
}

function injection(side: Side, achievedPps: number, requestedPps: number | 'max' = 10_000): InjectionResult {
  return { side, frames: 1000, sent: 1000, failed: 0, requestedPps, achievedPps, durationS: 0.1 };
}

function run(report: TrafficReport, injections: InjectionResult[]): TrafficRun {
  const pcaps = { 'left-host': 'l.pcap', 'guest-left': 'gl.pcap', 'guest-right': 'gr.pcap', 'right-host': 'r.pcap' };
  return { name: 'synthetic', runId: 'wl-000001', report, injections, pcaps };
}

/** The first 20 lost of `lost`, every 10th frame from 3. */
const lostSeqs = (lost: number) => Array.from({ length: Math.min(lost, 20) }, (_, i) => 3 + i * 10);

describe('deliverAll', () => {
  it('passes when nothing was lost', () => {
    const r = deliverAll(flowReport());
    expect(r.pass).toBe(true);
    expect(r.message).toContain('all 1,000 frames sent arrived at the right host');
  });

  it('fails naming the lost sequence numbers and blaming the guest when they vanished inside it', () => {
    const f = flowReport({
      lost: 37,
      lostSeqs: lostSeqs(37),
      received: { 'left-host': 1000, 'guest-left': 1000, 'guest-right': 963, 'right-host': 963 },
    });
    const r = deliverAll(f, { injections: [injection('left', 9_900)] });
    expect(r.pass).toBe(false);
    expect(r.message).toContain(
      'Expected every frame of flow "udp l→r" (left → right) to arrive at the right host, but 37 of 1,000 were lost (3.7%)',
    );
    expect(r.message).toContain('seqs 3, 13, 23,');
    expect(r.message).toContain('(the first 20 of 37)');
    expect(r.message).toContain("37 reached the guest's ingress port but never left its egress port: dropped inside the guest");
    expect(r.message).toContain('achieved 9,900 of 10,000 pps requested (99%)');
    // The headline (what failed, the likely cause), then one paragraph.
    expect(r.headline).toBe(
      'flow "udp l→r" (left → right): 37 of 1,000 frames lost, dropped inside the guest (they entered its left port and never left its right port).',
    );
    expect(r.message.split('\n')).toHaveLength(2);
  });

  it('does not blame the guest for frames the generator never sent, and says the generator was slow', () => {
    const f = flowReport({
      lost: 400,
      lostSeqs: lostSeqs(400),
      received: { 'left-host': 600, 'guest-left': 600, 'guest-right': 600, 'right-host': 600 },
    });
    const r = deliverAll(run(trafficReport([f]), [injection('left', 3_000)]));
    expect(r.pass).toBe(false);
    expect(r.message).toContain("400 never left the left host (the generator did not send them: not the guest's fault)");
    expect(r.message).not.toContain('dropped inside the guest');
    expect(r.message).toContain('achieved 3,000 of 10,000 pps requested (30%) — the generator fell short');
  });

  it('names a guest that stopped during the run, not the lab, as why nothing crossed', () => {
    // QEMU killed mid-test: its taps carry nothing, so by the captures alone the frames vanished before the guest.
    const f = flowReport({
      lost: 1000,
      lostSeqs: lostSeqs(1000),
      received: { 'left-host': 1000, 'guest-left': 0, 'guest-right': 0, 'right-host': 0 },
    });
    const alive = deliverAll(run(trafficReport([f]), [injection('left', 10_000)]));
    expect(alive.headline).toContain('lost in the lab before the guest');
    const stopped = deliverAll({ ...run(trafficReport([f]), [injection('left', 10_000)]), guestStopped: 'exited (killed by SIGKILL)' });
    expect(stopped.pass).toBe(false);
    expect(stopped.headline).toContain('the guest stopped during the run (exited (killed by SIGKILL)), so nothing could cross it');
    expect(stopped.headline).not.toContain('before the guest');
  });

  it('credits frames seen further along to points whose capture missed them', () => {
    // The ingress capture dropped frames: 990 there, yet 1000 left the guest.
    const f = flowReport({
      lost: 5,
      lostSeqs: [1, 2, 3, 4, 5],
      received: { 'left-host': 1000, 'guest-left': 990, 'guest-right': 1000, 'right-host': 995 },
    });
    const r = deliverAll(f, { captureDrops: { 'guest-left': 10 } });
    expect(r.message).toContain('5 left the guest but never reached the right host');
    expect(r.message).toContain("the capture at the guest's left port saw fewer than passed it, having dropped frames");
    expect(r.message).toContain("The captures themselves dropped frames (10 at the guest's left port)");
  });

  it('on a report, fails with one paragraph per failing flow and takes context from the run', () => {
    const good = flowReport();
    const bad = flowReport({
      flowId: 2,
      name: 'udp r→l',
      from: 'right',
      to: 'left',
      lost: 1,
      lostSeqs: [7],
      received: { 'left-host': 999, 'guest-left': 999, 'guest-right': 1000, 'right-host': 1000 },
    });
    const r = deliverAll(run(trafficReport([good, bad]), [injection('left', 10_000), injection('right', 10_000)]));
    expect(r.pass).toBe(false);
    expect(r.message).not.toContain('udp l→r');
    expect(r.message).toContain('flow "udp r→l" (right → left)');
    expect(r.message).toContain('Lost seq 7.');
    expect(r.message).toContain("1 reached the guest's ingress port but never left its egress port: dropped inside the guest");
    expect(r.message).toContain("The right host's injection achieved 10,000 of 10,000 pps");
  });

  it('refuses what is not a report', () => {
    expect(() => deliverAll(42 as never)).toThrow('toDeliverAll expects a FlowResult, a TrafficReport or a TrafficRun; got number.');
  });
});

describe('deliverNone', () => {
  it('passes when the guest dropped everything it received', () => {
    const r = deliverNone(
      flowReport({
        lost: 1000,
        lostSeqs: lostSeqs(1000),
        received: { 'left-host': 1000, 'guest-left': 1000, 'guest-right': 0, 'right-host': 0 },
      }),
    );
    expect(r.pass).toBe(true);
  });

  it('fails when frames were forwarded, saying how many', () => {
    const r = deliverNone(
      flowReport({
        lost: 990,
        lostSeqs: lostSeqs(990),
        received: { 'left-host': 1000, 'guest-left': 1000, 'guest-right': 10, 'right-host': 10 },
      }),
    );
    expect(r.pass).toBe(false);
    expect(r.message).toContain('Expected no frame of flow "udp l→r" (left → right) to arrive at the right host, but 10 of 1,000 did');
    expect(r.message).toContain('the guest forwarded frames it must drop');
  });

  it('fails when no frame was even sent: that proves nothing', () => {
    const r = deliverNone(flowReport({ lost: 1000, received: { 'left-host': 0, 'guest-left': 0, 'guest-right': 0, 'right-host': 0 } }), {
      injections: [injection('left', 0)],
    });
    expect(r.pass).toBe(false);
    expect(r.message).toContain('none was seen leaving the left host either (1,000 scheduled), so this proves nothing about the guest');
    expect(r.message).toContain('achieved 0 of 10,000 pps');
  });

  it('fails when frames left the sender but stopped before the guest: the lab dropped them, not the guest', () => {
    const r = deliverNone(flowReport({ lost: 1000, received: { 'left-host': 1000, 'guest-left': 0, 'guest-right': 0, 'right-host': 0 } }));
    expect(r.pass).toBe(false);
    expect(r.message).toContain(
      "1,000 left the left host but none reached the guest's left port: the lab stopped them, not the guest, so this proves nothing about the guest",
    );
  });
});

// --- Rewrites: reports made by analyzeTraffic itself, so the change texts are the real ones ----

const RUN: RunId = 'wl-c0ffee';
const COUNT = 50;

async function* frames(list: TimedFrame[]): AsyncIterable<TimedFrame> {
  yield* list;
}

/** A flow sent to `dst`, passed through `guest` on its way to the right host (null = dropped). */
async function throughGuest(guest: (frame: Buffer, seq: number) => Buffer | null, dst = RIGHT_MAC): Promise<FlowResult> {
  const f = flow({
    template: stack(Ether({ src: LEFT_MAC, dst }), IPv4({ src: '198.18.0.1', dst: '198.18.1.2' }), UDP({ sport: 1000, dport: 2000 })),
    runId: RUN,
    flowId: 1,
    count: COUNT,
    ratePps: 1000,
    size: 128,
  });
  const sent = [...f].map((x) => x.data);
  const at = (offsetNs: number, fn: (b: Buffer, seq: number) => Buffer | null) =>
    frames(
      sent.flatMap((b, seq) => {
        const data = fn(b, seq);
        return data ? [{ tsNs: BigInt(seq * 1_000_000 + offsetNs), data }] : [];
      }),
    );
  const captures: Partial<Record<CapturePoint, AsyncIterable<TimedFrame>>> = {
    'left-host': at(0, (b) => b),
    'guest-left': at(1000, (b) => b),
    'guest-right': at(31_000, guest),
    'right-host': at(32_000, guest),
  };
  const hosts = { left: { mac: LEFT_MAC, ipv4: '198.18.0.1/24' }, right: { mac: RIGHT_MAC, ipv4: '198.18.1.2/24' } };
  const report = await analyzeTraffic({ runId: RUN, flows: [{ name: 'udp l→r', from: 'left', to: 'right', frames: f }], hosts, captures });
  return report.flows[0]!;
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

/** What a router does to an untagged IPv4 frame (optionally getting one thing wrong). */
function route(opts: { src?: string; dst?: string; ttlDelta?: number; fixChecksum?: boolean } = {}) {
  return (b: Buffer): Buffer => {
    const c = Buffer.from(b);
    macBytes(opts.dst ?? RIGHT_MAC).copy(c, 0);
    macBytes(opts.src ?? GUEST_RIGHT_MAC).copy(c, 6);
    c[22] = c[22]! + (opts.ttlDelta ?? -1);
    if (opts.fixChecksum ?? true) {
      c.writeUInt16BE(0, 24);
      c.writeUInt16BE(checksumOf(sum16(c, 14, 34)), 24);
    }
    return c;
  };
}

const L3 = { ingressGuestMac: GUEST_LEFT_MAC, egressGuestMac: GUEST_RIGHT_MAC, nextHopMac: RIGHT_MAC };

describe('arriveUnchanged', () => {
  it('passes when every frame arrived byte-identical', async () => {
    const r = arriveUnchanged(await throughGuest((b) => b));
    expect(r.pass).toBe(true);
    expect(r.message).toContain(`all ${COUNT} frames that arrived are byte-identical`);
  });

  it('fails on a MAC rewrite, naming the change, the frames and the first differing bytes', async () => {
    const r = arriveUnchanged(
      await throughGuest((b) => {
        const c = Buffer.from(b);
        macBytes('02:00:00:00:00:99').copy(c, 6);
        return c;
      }),
    );
    expect(r.pass).toBe(false);
    expect(r.message).toContain(`but ${COUNT} of ${COUNT} that arrived were changed: src MAC in ${COUNT}`);
    expect(r.message).toContain(
      `seq 0 was sent as \`Ether ${LEFT_MAC} > ${RIGHT_MAC} / IPv4 198.18.0.1 > 198.18.1.2 ttl=64 / UDP 1000 > 2000`,
    );
    expect(r.message).toContain(`src MAC ${LEFT_MAC} → 02:00:00:00:00:99`);
    expect(r.message).toContain('first differing bytes at offset 11: sent 01');
  });

  it('fails when nothing arrived: nothing was compared', async () => {
    const r = arriveUnchanged(await throughGuest(() => null));
    expect(r.pass).toBe(false);
    expect(r.message).toContain('none of 50 arrived, so there is nothing to compare');
  });
});

describe('beL3Rewritten', () => {
  it('passes on a correct rewrite', async () => {
    const r = beL3Rewritten(await throughGuest(route(), GUEST_LEFT_MAC), L3);
    expect(r.message).toBe(
      `flow "udp l→r" (left → right): all ${COUNT} frames that arrived were L3-forwarded (src MAC = the guest's egress NIC ${GUEST_RIGHT_MAC}, dst MAC = the next hop ${RIGHT_MAC}, TTL/hop limit −1, valid checksums, payload intact).`,
    );
    expect(r.pass).toBe(true);
  });

  it('fails on frames forwarded unchanged', async () => {
    const r = beL3Rewritten(await throughGuest((b) => b, GUEST_LEFT_MAC), L3);
    expect(r.pass).toBe(false);
    expect(r.message).toContain(`${COUNT} arrived unchanged (forwarded as a bridge would, not routed)`);
    expect(r.message).toContain(`${COUNT} kept their TTL/hop limit`);
  });

  it("fails when the source is the guest's ingress NIC, showing the offending frame", async () => {
    const r = beL3Rewritten(await throughGuest(route({ src: GUEST_LEFT_MAC }), GUEST_LEFT_MAC), L3);
    expect(r.pass).toBe(false);
    expect(r.headline).toContain(
      `arrived with source MAC ${GUEST_LEFT_MAC} instead of the egress NIC's ${GUEST_RIGHT_MAC} (the ingress NIC)`,
    );
    // Every arrival is counted, not only the recorded differences.
    expect(r.message).toContain(
      `${COUNT} arrived with source MAC ${GUEST_LEFT_MAC} instead of the egress NIC's ${GUEST_RIGHT_MAC} (the ingress NIC)`,
    );
    expect(r.message).toContain(`First offending: seq 0 was sent as \`Ether ${LEFT_MAC} > ${GUEST_LEFT_MAC}`);
    expect(r.message).toContain(`arrived as \`Ether ${GUEST_LEFT_MAC} > ${RIGHT_MAC} / IPv4 198.18.0.1 > 198.18.1.2 ttl=63`);
  });

  it('fails on a TTL not decremented by one and on a stale checksum', async () => {
    const r = beL3Rewritten(await throughGuest(route({ ttlDelta: -2, fixChecksum: false }), GUEST_LEFT_MAC), L3);
    expect(r.pass).toBe(false);
    expect(r.message).toContain(`${COUNT} had their TTL/hop limit changed by −2 instead of −1`);
    expect(r.message).toContain(`${COUNT} arrived with a bad checksum`);
    expect(r.message).toContain('TTL/hop limit 64 → 62; bad checksum: IPv4');
  });

  it('refuses a malformed MAC naming the option', () => {
    expect(() => beL3Rewritten(flowReport(), { ...L3, nextHopMac: 'right' })).toThrow('toBeL3Rewritten: nextHopMac must be a MAC address');
  });
});

describe('noDuplicates and arriveInOrder', () => {
  it('pass on a clean flow', () => {
    expect(noDuplicates(flowReport()).pass).toBe(true);
    expect(arriveInOrder(flowReport()).pass).toBe(true);
  });

  it('count the extra copies', () => {
    const r = noDuplicates(flowReport({ duplicated: 12 }));
    expect(r.pass).toBe(false);
    expect(r.message).toContain(
      'Expected each frame of flow "udp l→r" (left → right) to arrive once, but 12 extra copies arrived at the right host on top of 1,000 distinct frames (1.2%)',
    );
  });

  it('count the late frames and the largest displacement', () => {
    const r = arriveInOrder(flowReport({ reordered: { count: 5, maxDisplacement: 5 } }));
    expect(r.pass).toBe(false);
    expect(r.message).toContain('but 5 of 1,000 arrived after a frame sent later (0.50%); the largest displacement was 5 positions');
  });
});

describe('latencyUnder', () => {
  it('passes within the limits', () => {
    const r = latencyUnder(flowReport(), { p50: 0.1, p99: 1, unit: 'ms' });
    expect(r.pass).toBe(true);
  });

  it('fails saying which percentile was over and what was observed', () => {
    const r = latencyUnder(
      flowReport({ latencyUs: { samples: 963, min: 100, p50: 1200, p90: 4000, p99: 7310, max: 12_000 } }),
      { p50: 2, p99: 5, unit: 'ms' },
      { injections: [injection('left', 4000)] },
    );
    expect(r.pass).toBe(false);
    expect(r.message).toContain(
      'Expected the latency of flow "udp l→r" (left → right) through the guest (the guest\'s left port → its right port) to have p50 under 2 ms, p99 under 5 ms, but p99 was 7.31 ms',
    );
    expect(r.message).toContain('p50 1.2 ms, p90 4 ms, p99 7.31 ms, max 12 ms over 963 frames');
    expect(r.message).toContain('the generator fell short');
  });

  it('fails when no frame crossed the guest', () => {
    const r = latencyUnder(
      flowReport({ latencyUs: null, received: { 'left-host': 1000, 'guest-left': 1000, 'guest-right': 0, 'right-host': 0 } }),
      { p99: 500, unit: 'us' },
    );
    expect(r.pass).toBe(false);
    expect(r.message).toContain('no frame was seen at both ports (1,000 at the left, 0 at the right), so there is no latency to judge');
  });

  it('refuses limits without a percentile', () => {
    expect(() => latencyUnder(flowReport(), { unit: 'ms' })).toThrow('needs at least one limit');
  });
});

describe('noGuestEmissions', () => {
  const BRIDGE_MAC = '02:00:00:00:00:cc';
  const emission = (point: CapturePoint, cls: EmissionClass, srcMac: string, summary: string) => ({
    point,
    tsNs: 0n,
    class: cls,
    srcMac,
    summary,
  });
  const chattyBridge = trafficReport([flowReport()], {
    emissions: [
      { point: 'guest-left', fromGuest: 3, byClass: { 'ipv6-link-local': 3 }, bySourceMac: { [BRIDGE_MAC]: 3 }, fromHosts: 0 },
      {
        point: 'guest-right',
        fromGuest: 2,
        byClass: { 'ipv6-link-local': 1, 'link-control': 1 },
        bySourceMac: { [BRIDGE_MAC]: 2 },
        fromHosts: 4,
      },
      { point: 'left-host', fromGuest: 3, byClass: { 'ipv6-link-local': 3 }, bySourceMac: { [BRIDGE_MAC]: 3 }, fromHosts: 0 },
    ],
    emissionList: [
      ...[1, 2, 3].map(() => emission('guest-left', 'ipv6-link-local', BRIDGE_MAC, 'Ether … / IPv6 fe80::1 > ff02::2 / ICMPv6 type=133')),
      emission('guest-right', 'ipv6-link-local', BRIDGE_MAC, 'Ether … / IPv6 :: > ff02::1:ff00:1 / ICMPv6 NS'),
      emission('guest-right', 'link-control', BRIDGE_MAC, 'Ether … > 01:80:c2:00:00:00'),
    ],
  });
  const guestMacs = [GUEST_LEFT_MAC, GUEST_RIGHT_MAC];

  it('passes when the guest said nothing', () => {
    expect(noGuestEmissions(trafficReport([flowReport()])).pass).toBe(true);
  });

  it('fails in one short paragraph: counts per class at the guest ports, the emitting MAC (not a NIC), the cause and the fix', () => {
    const r = noGuestEmissions(chattyBridge, { role: 'l2-bridge', guestMacs });
    expect(r.pass).toBe(false);
    // Counted at the guest's ports only: the host-side sighting of the same frames is not counted twice.
    expect(r.headline).toBe(
      "The guest sent 5 frames by itself (4 ipv6-link-local, 1 link-control): likely IPv6 is on (Debian's default) for the guest's bridge (or another interface), which then autoconfigures a link-local address.",
    );
    expect(r.message).toContain(`${BRIDGE_MAC} (not one of the guest's NICs (its bridge or another interface)): 5`);
    expect(r.message).toContain('Fix: set net.ipv6.conf.<if>.disable_ipv6=1');
    expect(r.message).toContain('link-control: switch STP off');
    expect(r.message.split('\n')).toHaveLength(2);
  });

  it("an l3-forwarder's link control plane is reported, not failed; a profile may tolerate named classes", () => {
    const routerChatter = trafficReport([], {
      emissions: [
        {
          point: 'guest-left',
          fromGuest: 4,
          byClass: { arp: 2, 'ipv6-link-local': 2 },
          bySourceMac: { [GUEST_LEFT_MAC]: 4 },
          fromHosts: 0,
        },
      ],
    });
    const r = noGuestEmissions(routerChatter, { role: 'l3-forwarder' });
    expect(r.pass).toBe(true);
    expect(r.message).toContain('Allowed and reported: 2 ipv6-link-local, 2 arp.');
    expect(noGuestEmissions(routerChatter, { role: 'l2-bridge' }).pass).toBe(false);
    expect(noGuestEmissions(chattyBridge, { role: 'l2-bridge', tolerate: ['ipv6-link-local'] }).headline).toMatch(
      /^The guest sent 1 frames by itself \(1 link-control\): likely STP is on/,
    );
    expect(noGuestEmissions(chattyBridge, { role: 'monitor', tolerate: ['ipv6-link-local', 'link-control'] }).pass).toBe(true);
  });
});

describe('noReflections', () => {
  it('passes on a clean flow and fails naming where the frames came back', () => {
    expect(noReflections(flowReport()).pass).toBe(true);
    const r = noReflections(flowReport({ reflected: { atIngressPort: 100, atSender: 100, seqs: [0, 1, 2] } }));
    expect(r.pass).toBe(false);
    expect(r.headline).toContain('frames reflected');
    expect(r.headline).toContain('100 left the guest by its left port, the one they entered by');
    expect(r.headline).toContain('100 arrived back at the left host that sent them');
  });
});

describe('latencyBalanced', () => {
  const lr = flowReport({ latencyUs: { samples: 100, min: 2900, p50: 3134, p90: 3300, p99: 3500, max: 3600 } });
  const rl = flowReport({
    flowId: 2,
    name: 'udp r→l',
    from: 'right',
    to: 'left',
    latencyUs: { samples: 100, min: 50, p50: 75, p90: 90, p99: 200, max: 300 },
  });
  it('fails when one direction is a few ms slower, naming the slower one', () => {
    const r = latencyBalanced(lr, rl, 1500, 'the default bound');
    expect(r.pass).toBe(false);
    expect(r.headline).toBe(
      'flow "udp l→r" (left → right): one direction is slower — median latency 3.06 ms above the other direction\'s (bound 1.5 ms).',
    );
  });
  it('passes when the medians are close', () => {
    expect(latencyBalanced(rl, { ...rl, flowId: 3, from: 'left', to: 'right' }, 1500).pass).toBe(true);
  });
});

describe('registered as vitest matchers', () => {
  it('pass and fail through expect, with the same messages, also negated', () => {
    const lossy = flowReport({
      lost: 2,
      lostSeqs: [4, 9],
      received: { 'left-host': 1000, 'guest-left': 1000, 'guest-right': 998, 'right-host': 998 },
    });
    expect(flowReport()).toDeliverAll();
    expect(trafficReport([flowReport()])).toArriveUnchanged();
    expect(run(trafficReport([flowReport()]), [])).toHaveNoGuestEmissions({ role: 'l3-forwarder' });
    expect(flowReport()).toHaveLatencyUnder({ p99: 1, unit: 'ms' });
    expect(() => expect(lossy).toDeliverAll({ injections: [injection('left', 10_000)] })).toThrow('Lost seqs 4, 9.');
    expect(() => expect(flowReport()).not.toDeliverAll()).toThrow(
      'Expected the opposite, but: flow "udp l→r" (left → right): all 1,000 frames sent arrived',
    );
    expect(lossy).not.toDeliverAll();
  });
});
