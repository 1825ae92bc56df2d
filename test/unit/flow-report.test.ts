// Frame-by-frame analysis on synthetic captures: each fault shows up as exactly that fault.
import { describe, expect, it } from 'vitest';
import { analyzeTraffic, type CapturedFrame, type CapturePoint, type FlowSpec } from '../../lib/analysis/flow-report.ts';
import { ARP, Ether, flow, ICMP, IPv4, Raw, stack, UDP } from '../../lib/frames/index.ts';

const RUN = 0x00abcdef;
const LEFT_MAC = '02:00:00:00:00:01';
const RIGHT_MAC = '02:00:00:00:00:02';
const GUEST_MAC = '02:00:00:00:00:99';
const COUNT = 100;

function makeFlow(): FlowSpec & { frames: Buffer[] } {
  const f = flow({
    template: stack(Ether({ src: LEFT_MAC, dst: RIGHT_MAC }), IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }), UDP({ sport: 1000, dport: 2000 })),
    runId: RUN,
    flowId: 1,
    count: COUNT,
    ratePps: 1000,
    size: 128,
  });
  return { flowId: 1, name: 'l→r', from: 'left', to: 'right', count: COUNT, frameAt: (s) => f.frameAt(s), frames: [...f].map((x) => x.data) };
}

async function* frames(list: CapturedFrame[]): AsyncIterable<CapturedFrame> {
  yield* list;
}

/** Captures of a perfect bridge: every frame on every point, 30 µs through the guest. */
function perfect(sent: Buffer[], transform: (b: Buffer, seq: number) => Buffer | null = (b) => b): Partial<Record<CapturePoint, AsyncIterable<CapturedFrame>>> {
  const at = (offsetNs: number, t = false) =>
    sent.flatMap((b, seq) => {
      const data = t ? transform(b, seq) : b;
      return data ? [{ tsNs: BigInt(seq * 1_000_000 + offsetNs), data }] : [];
    });
  return { 'left-host': frames(at(0)), 'guest-left': frames(at(1000)), 'guest-right': frames(at(31_000, true)), 'right-host': frames(at(32_000, true)) };
}

describe('analyzeTraffic', () => {
  it('a perfect path: nothing lost, duplicated or reordered, frames unchanged, latency measured', async () => {
    const f = makeFlow();
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hostMacs: [LEFT_MAC, RIGHT_MAC], captures: perfect(f.frames) });
    const r = report.flows[0]!;
    expect(r).toMatchObject({ sent: COUNT, lost: 0, duplicated: 0, reordered: { count: 0, maxDisplacement: 0 } });
    expect(r.received).toEqual({ 'left-host': COUNT, 'guest-left': COUNT, 'guest-right': COUNT, 'right-host': COUNT });
    expect(r.rewrites.unchanged).toBe(COUNT);
    expect(r.latencyUs).toMatchObject({ samples: COUNT, min: 30, p50: 30, max: 30 });
    expect(report.foreign.every((x) => x.fromGuest === 0)).toBe(true);
  });

  it('counts loss and names the lost sequence numbers', async () => {
    const f = makeFlow();
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hostMacs: [LEFT_MAC, RIGHT_MAC], captures: perfect(f.frames, (b, seq) => (seq % 10 === 3 ? null : b)) });
    expect(report.flows[0]!.lost).toBe(10);
    expect(report.flows[0]!.lostSeqs.slice(0, 3)).toEqual([3, 13, 23]);
    expect(report.flows[0]!.latencyUs?.samples).toBe(90);
  });

  it('counts duplicates and reordering with the largest displacement', async () => {
    const f = makeFlow();
    const order = [...f.frames.keys()];
    [order[10], order[15]] = [order[15]!, order[10]!]; // 15 arrives where 10 should: 10..14 arrive late
    const arrived: CapturedFrame[] = order.map((seq, i) => ({ tsNs: BigInt(i * 1000), data: f.frames[seq]! }));
    arrived.push({ tsNs: 999_999n, data: f.frames[50]! });
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hostMacs: [LEFT_MAC, RIGHT_MAC], captures: { 'right-host': frames(arrived) } });
    const r = report.flows[0]!;
    expect(r.duplicated).toBe(1);
    expect(r.reordered).toEqual({ count: 5, maxDisplacement: 5 });
    expect(r.lost).toBe(0);
  });

  it('reports a MAC rewrite and a TTL change per frame, with the first differences', async () => {
    const f = makeFlow();
    const rewrite = (b: Buffer) => {
      const c = Buffer.from(b);
      Buffer.from(GUEST_MAC.split(':').map((h) => parseInt(h, 16))).copy(c, 6);
      c[22] = c[22]! - 1; // TTL − 1 without fixing the header checksum
      return c;
    };
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hostMacs: [LEFT_MAC, RIGHT_MAC], captures: perfect(f.frames, rewrite) });
    const r = report.flows[0]!;
    expect(r.rewrites).toMatchObject({ unchanged: 0, srcMac: COUNT, dstMac: 0, hopLimitDelta: { '-1': COUNT }, badChecksum: COUNT, payload: 0 });
    expect(r.differences[0]!.changes).toEqual([`src MAC ${LEFT_MAC} → ${GUEST_MAC}`, 'TTL/hop limit 64 → 63', 'bad checksum: IPv4']);
    expect(r.differences[0]!.firstDifferingBytes?.offset).toBe(11); // the last byte of the source MAC
  });

  it('tells frames the guest emitted from the hosts\' own unsigned frames', async () => {
    const f = makeFlow();
    const guestArp = stack(Ether({ src: GUEST_MAC, dst: 'ff:ff:ff:ff:ff:ff' }), ARP({ hwsrc: GUEST_MAC, psrc: '198.18.0.9', pdst: '198.18.0.9' })).build();
    const hostArp = stack(Ether({ src: LEFT_MAC, dst: 'ff:ff:ff:ff:ff:ff' }), ARP({ hwsrc: LEFT_MAC, psrc: '198.18.0.1', pdst: '198.18.0.2' })).build();
    const captured = [guestArp, hostArp, guestArp].map((data, i) => ({ tsNs: BigInt(i), data }));
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hostMacs: [LEFT_MAC, RIGHT_MAC], captures: { 'guest-right': frames(captured) } });
    const point = report.foreign.find((x) => x.point === 'guest-right')!;
    expect(point.fromGuest).toBe(2);
    expect(point.fromHosts).toBe(1);
    expect(point.guestSummaries[0]!.count).toBe(2);
    expect(point.guestSummaries[0]!.summary).toMatch(/ARP/);
  });
});

describe('analyzeTraffic: quoted signatures', () => {
  it('an ICMP error quoting a test frame is not a copy of that frame', async () => {
    const f = makeFlow();
    const quoted = f.frames[7]!.subarray(14, 14 + 28 + 18);
    const icmpError = stack(Ether({ src: RIGHT_MAC, dst: LEFT_MAC }), IPv4({ src: '198.18.0.2', dst: '198.18.0.1' }), ICMP({ type: 3, code: 3 }), Raw(quoted)).build();
    const arrived = [...f.frames, icmpError].map((data, i) => ({ tsNs: BigInt(i), data }));
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hostMacs: [LEFT_MAC, RIGHT_MAC], captures: { 'right-host': frames(arrived) } });
    expect(report.flows[0]!.duplicated).toBe(0);
    expect(report.foreign[0]!.fromHosts).toBe(1);
  });
});

describe('analyzeTraffic: routed host frames', () => {
  it("an ICMP error from a host, routed by the guest (guest's MAC as source), is the host's, not the guest's", async () => {
    const f = makeFlow();
    const routed = stack(Ether({ src: GUEST_MAC, dst: LEFT_MAC }), IPv4({ src: '198.18.0.2', dst: '198.18.0.1', ttl: 63 }), ICMP({ type: 3, code: 3 }), Raw(Buffer.alloc(28))).build();
    const own = stack(Ether({ src: GUEST_MAC, dst: LEFT_MAC }), IPv4({ src: '198.18.0.9', dst: '198.18.0.1' }), ICMP({ type: 8 }), Raw(Buffer.alloc(8))).build();
    const captured = [routed, own].map((data, i) => ({ tsNs: BigInt(i), data }));
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hostMacs: [LEFT_MAC, RIGHT_MAC], hostAddresses: ['198.18.0.1', '198.18.0.2'], captures: { 'left-host': frames(captured) } });
    expect(report.foreign[0]).toMatchObject({ fromHosts: 1, fromGuest: 1 });
    expect(report.foreign[0]!.guestSummaries[0]!.summary).toMatch(/198\.18\.0\.9/);
  });
});
