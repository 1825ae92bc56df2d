// Frame-by-frame analysis on synthetic captures: each fault shows up as exactly that fault.
import { describe, expect, it } from 'vitest';
import { analyzeTraffic, describeChange, type SentFlow } from '../../lib/analysis/flow-report.ts';
import type { RunId } from '../../lib/core/run-id.ts';
import { ARP, Ether, flow, ICMP, Icmpv6OtherLayer, IPv4, IPv6, Raw, stack, UDP } from '../../lib/frames/index.ts';

const ICMPv6Other = (type: number) => new Icmpv6OtherLayer({ type });
import type { CapturePoint } from '../../lib/core/sides.ts';
import type { TimedFrame } from '../../lib/core/timed-frame.ts';

const RUN: RunId = 'wl-abcdef';
const LEFT_MAC = '02:00:00:00:00:01';
const RIGHT_MAC = '02:00:00:00:00:02';
const GUEST_MAC = '02:00:00:00:00:99';
const COUNT = 100;

const HOSTS = { left: { mac: LEFT_MAC, ipv4: '198.18.0.1/24' }, right: { mac: RIGHT_MAC, ipv4: '198.18.0.2/24' } };

function makeFlow(): SentFlow & { sent: Buffer[] } {
  const f = flow({
    template: stack(
      Ether({ src: LEFT_MAC, dst: RIGHT_MAC }),
      IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }),
      UDP({ sport: 1000, dport: 2000 }),
    ),
    runId: RUN,
    flowId: 1,
    count: COUNT,
    ratePps: 1000,
    size: 128,
  });
  return { name: 'l→r', from: 'left', to: 'right', frames: f, sent: [...f].map((x) => x.data) };
}

async function* frames(list: TimedFrame[]): AsyncIterable<TimedFrame> {
  yield* list;
}

/** Captures of a perfect bridge: every frame on every point, 30 µs through the guest. */
function perfect(
  sent: Buffer[],
  transform: (b: Buffer, seq: number) => Buffer | null = (b) => b,
): Partial<Record<CapturePoint, AsyncIterable<TimedFrame>>> {
  const at = (offsetNs: number, t = false) =>
    sent.flatMap((b, seq) => {
      const data = t ? transform(b, seq) : b;
      return data ? [{ tsNs: BigInt(seq * 1_000_000 + offsetNs), data }] : [];
    });
  return {
    'left-host': frames(at(0)),
    'guest-left': frames(at(1000)),
    'guest-right': frames(at(31_000, true)),
    'right-host': frames(at(32_000, true)),
  };
}

describe('analyzeTraffic', () => {
  it('a perfect path: nothing lost, duplicated or reordered, frames unchanged, latency measured', async () => {
    const f = makeFlow();
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hosts: HOSTS, captures: perfect(f.sent) });
    const r = report.flows[0]!;
    expect(r).toMatchObject({ sent: COUNT, lost: 0, duplicated: 0, reordered: { count: 0, maxDisplacement: 0 } });
    expect(r.received).toEqual({ 'left-host': COUNT, 'guest-left': COUNT, 'guest-right': COUNT, 'right-host': COUNT });
    expect(r.rewrites.unchanged).toBe(COUNT);
    expect(r.latencyUs).toMatchObject({ samples: COUNT, min: 30, p50: 30, max: 30 });
    expect(report.emissions.every((x) => x.fromGuest === 0)).toBe(true);
    expect(r.latencySamplesUs).toHaveLength(COUNT);
    expect(r.reflected).toEqual({ atIngressPort: 0, atSender: 0, seqs: [] });
  });

  it('counts loss and names the lost sequence numbers', async () => {
    const f = makeFlow();
    const report = await analyzeTraffic({
      runId: RUN,
      flows: [f],
      hosts: HOSTS,
      captures: perfect(f.sent, (b, seq) => (seq % 10 === 3 ? null : b)),
    });
    expect(report.flows[0]!.lost).toBe(10);
    expect(report.flows[0]!.lostSeqs.slice(0, 3)).toEqual([3, 13, 23]);
    expect(report.flows[0]!.latencyUs?.samples).toBe(90);
  });

  it('counts duplicates and reordering with the largest displacement', async () => {
    const f = makeFlow();
    const order = [...f.sent.keys()];
    [order[10], order[15]] = [order[15]!, order[10]!]; // 15 arrives where 10 should: 10..14 arrive late
    const arrived: TimedFrame[] = order.map((seq, i) => ({ tsNs: BigInt(i * 1000), data: f.sent[seq]! }));
    arrived.push({ tsNs: 999_999n, data: f.sent[50]! });
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hosts: HOSTS, captures: { 'right-host': frames(arrived) } });
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
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hosts: HOSTS, captures: perfect(f.sent, rewrite) });
    const r = report.flows[0]!;
    expect(r.rewrites).toMatchObject({
      unchanged: 0,
      srcMac: COUNT,
      dstMac: 0,
      hopLimitDelta: { '-1': COUNT },
      badChecksum: COUNT,
      payload: 0,
    });
    expect(r.differences[0]!.changes).toEqual([
      { field: 'srcMac', sent: LEFT_MAC, received: GUEST_MAC },
      { field: 'hopLimit', sent: 64, received: 63 },
      { field: 'checksum', bad: ['IPv4'] },
    ]);
    expect(r.differences[0]!.changes.map(describeChange)).toEqual([
      `src MAC ${LEFT_MAC} → ${GUEST_MAC}`,
      'TTL/hop limit 64 → 63',
      'bad checksum: IPv4',
    ]);
    expect(r.differences[0]!.firstDifferingBytes?.offset).toBe(11); // the last byte of the source MAC
  });

  it("tells frames the guest emitted from the hosts' own unsigned frames", async () => {
    const f = makeFlow();
    const guestArp = stack(
      Ether({ src: GUEST_MAC, dst: 'ff:ff:ff:ff:ff:ff' }),
      ARP({ hwsrc: GUEST_MAC, psrc: '198.18.0.9', pdst: '198.18.0.9' }),
    ).build();
    const hostArp = stack(
      Ether({ src: LEFT_MAC, dst: 'ff:ff:ff:ff:ff:ff' }),
      ARP({ hwsrc: LEFT_MAC, psrc: '198.18.0.1', pdst: '198.18.0.2' }),
    ).build();
    const captured = [guestArp, hostArp, guestArp].map((data, i) => ({ tsNs: BigInt(i), data }));
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hosts: HOSTS, captures: { 'guest-right': frames(captured) } });
    const point = report.emissions.find((x) => x.point === 'guest-right')!;
    // The host's ARP was never seen leaving the host (no left-host capture here): it carries the
    // host's MAC, so the guest must have made it up.
    expect(point).toMatchObject({ fromGuest: 3, fromHosts: 0, byClass: { arp: 2, spoofed: 1 } });
    expect(report.emissionList.map((e) => e.class)).toEqual(['arp', 'spoofed', 'arp']);
    expect(report.emissionList[0]!.summary).toMatch(/ARP/);
  });
});

describe('analyzeTraffic: quoted signatures', () => {
  it('an ICMP error quoting a test frame is not a copy of that frame', async () => {
    const f = makeFlow();
    const quoted = f.sent[7]!.subarray(14, 14 + 28 + 18);
    const icmpError = stack(
      Ether({ src: RIGHT_MAC, dst: LEFT_MAC }),
      IPv4({ src: '198.18.0.2', dst: '198.18.0.1' }),
      ICMP({ type: 3, code: 3 }),
      Raw(quoted),
    ).build();
    const arrived = [...f.sent, icmpError].map((data, i) => ({ tsNs: BigInt(i), data }));
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hosts: HOSTS, captures: { 'right-host': frames(arrived) } });
    expect(report.flows[0]!.duplicated).toBe(0);
    expect(report.emissions.find((x) => x.point === 'right-host')!.fromHosts).toBe(1);
  });
});

describe('analyzeTraffic: routed host frames', () => {
  it("an ICMP error from a host, routed by the guest (guest's MAC as source), is the host's, not the guest's", async () => {
    const f = makeFlow();
    const routed = stack(
      Ether({ src: GUEST_MAC, dst: LEFT_MAC }),
      IPv4({ src: '198.18.0.2', dst: '198.18.0.1', ttl: 63 }),
      ICMP({ type: 3, code: 3 }),
      Raw(Buffer.alloc(28)),
    ).build();
    const own = stack(
      Ether({ src: GUEST_MAC, dst: LEFT_MAC }),
      IPv4({ src: '198.18.0.9', dst: '198.18.0.1' }),
      ICMP({ type: 8 }),
      Raw(Buffer.alloc(8)),
    ).build();
    const original = stack(
      Ether({ src: RIGHT_MAC, dst: GUEST_MAC }),
      IPv4({ src: '198.18.0.2', dst: '198.18.0.1', ttl: 64 }),
      ICMP({ type: 3, code: 3 }),
      Raw(Buffer.alloc(28)),
    ).build();
    const captured = [routed, own].map((data, i) => ({ tsNs: BigInt(i), data }));
    const report = await analyzeTraffic({
      runId: RUN,
      flows: [f],
      hosts: HOSTS,
      captures: { 'left-host': frames(captured), 'right-host': frames([{ tsNs: 0n, data: original }]) },
    });
    expect(report.emissions.find((x) => x.point === 'left-host')).toMatchObject({ fromHosts: 1, fromGuest: 1, byClass: { other: 1 } });
    expect(report.emissionList[0]!.summary).toMatch(/198\.18\.0\.9/);
  });
});

describe('analyzeTraffic: reflections', () => {
  it('a frame leaving the guest by the port it entered, or arriving back at its sender, is counted as reflected', async () => {
    const f = makeFlow();
    const twice = (list: Buffer[], seqs: number[], offsetNs: number) => [
      ...list.map((data, seq) => ({ tsNs: BigInt(seq * 1_000_000), data })),
      ...seqs.map((seq) => ({ tsNs: BigInt(seq * 1_000_000 + offsetNs), data: list[seq]! })),
    ];
    const report = await analyzeTraffic({
      runId: RUN,
      flows: [f],
      hosts: HOSTS,
      captures: {
        'left-host': frames(twice(f.sent, [4], 90_000)),
        'guest-left': frames(twice(f.sent, [3, 4], 50_000)),
        'guest-right': frames(f.sent.map((data, seq) => ({ tsNs: BigInt(seq * 1_000_000 + 30_000), data }))),
        'right-host': frames(f.sent.map((data, seq) => ({ tsNs: BigInt(seq * 1_000_000 + 31_000), data }))),
      },
    });
    const r = report.flows[0]!;
    expect(r.reflected).toMatchObject({ atIngressPort: 2, atSender: 1 });
    expect([...r.reflected.seqs].sort()).toEqual([3, 4]);
    expect(r.duplicated).toBe(0);
    // The latency is the first sighting's: the reflected copy does not move it.
    expect(r.latencyUs?.max).toBe(30);
  });
});

describe('analyzeTraffic: what the guest sends by itself', () => {
  const GUEST_LEFT = '02:00:00:00:00:aa';
  const bridgeMac = '02:00:00:00:00:cc';
  it('classifies IPv6 link-local autoconfiguration, STP, DHCP, IGMP and the rest, with the emitting MAC', async () => {
    const f = makeFlow();
    const rs = stack(
      Ether({ src: bridgeMac, dst: '33:33:00:00:00:02' }),
      IPv6({ src: 'fe80::1', dst: 'ff02::2' }),
      ICMPv6Other(133),
    ).build();
    const stp = Buffer.concat([
      Buffer.from('0180c2000000', 'hex'),
      Buffer.from(bridgeMac.replace(/:/g, ''), 'hex'),
      Buffer.from('0026424203000000000080', 'hex'),
      Buffer.alloc(30),
    ]);
    const dhcp = stack(
      Ether({ src: bridgeMac, dst: 'ff:ff:ff:ff:ff:ff' }),
      IPv4({ src: '0.0.0.0', dst: '255.255.255.255' }),
      UDP({ sport: 68, dport: 67 }),
      Raw(Buffer.alloc(240)),
    ).build();
    const igmp = stack(
      Ether({ src: GUEST_LEFT, dst: '01:00:5e:00:00:16' }),
      IPv4({ src: '198.18.0.77', dst: '224.0.0.22', proto: 2 }),
      Raw(Buffer.alloc(16)),
    ).build();
    const other = stack(
      Ether({ src: GUEST_LEFT, dst: RIGHT_MAC }),
      IPv4({ src: '198.18.0.77', dst: '198.18.0.2' }),
      UDP({ sport: 5, dport: 6 }),
    ).build();
    // A gratuitous ARP claiming the left host's address: the guest speaks for another station.
    const claim = stack(
      Ether({ src: bridgeMac, dst: 'ff:ff:ff:ff:ff:ff' }),
      ARP({ hwsrc: bridgeMac, psrc: '198.18.0.1', pdst: '198.18.0.1' }),
    ).build();
    const captured = [rs, stp, dhcp, igmp, other, claim].map((data, i) => ({ tsNs: BigInt(i), data }));
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hosts: HOSTS, captures: { 'guest-left': frames(captured) } });
    expect(report.emissions.find((x) => x.point === 'guest-left')).toMatchObject({
      fromGuest: 6,
      byClass: { 'ipv6-link-local': 1, 'link-control': 1, dhcp: 1, igmp: 1, other: 1, spoofed: 1 },
      bySourceMac: { [bridgeMac]: 4, [GUEST_LEFT]: 2 },
    });
  });

  it("a DSCP rewrite is a field change of its own; every arrival's DSCP, TTL and VLANs are counted; the crossing times are kept", async () => {
    const f = makeFlow();
    // Set DSCP 46 (ToS byte 0xb8) and fix the IPv4 header checksum, as a marking service does.
    const mark = (b: Buffer) => {
      const c = Buffer.from(b);
      const ip = 14;
      const old = c.readUInt16BE(ip);
      c[ip + 1] = 46 << 2;
      let sum = (~c.readUInt16BE(ip + 10) & 0xffff) + (~old & 0xffff) + c.readUInt16BE(ip);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      c.writeUInt16BE(~sum & 0xffff, ip + 10);
      return c;
    };
    const report = await analyzeTraffic({ runId: RUN, flows: [f], hosts: HOSTS, captures: perfect(f.sent, mark) });
    const r = report.flows[0]!;
    expect(r.rewrites.dscp).toBe(COUNT);
    expect(r.rewrites.changeSets).toEqual({ dscp: COUNT });
    expect(r.rewrites.arrivedDscp).toEqual({ '46': COUNT });
    expect(r.rewrites.arrivedHopLimit).toEqual({ '64': COUNT });
    expect(r.rewrites.arrivedVlans).toEqual({ '': COUNT });
    expect(r.rewrites.badChecksum).toBe(0);
    expect(describeChange(r.differences[0]!.changes[0]!)).toBe('DSCP 0 → 46');
    expect(r.ingressTimesUs.slice(0, 2)).toEqual([0, 1000]);
    expect(r.egressTimesUs.slice(0, 2)).toEqual([30, 1030]);
    expect(r.egressBytes).toBe(COUNT * 128);
  });
});

describe('frames joined to a test frame without being one', () => {
  it('a byte changed inside the signature: "arrived corrupted", not lost', async () => {
    const f = makeFlow();
    // The magic's third byte overwritten on the way out (as a tc pedit would): the signature no longer reads.
    const report = await analyzeTraffic({
      runId: RUN,
      flows: [f],
      hosts: HOSTS,
      captures: perfect(f.sent, (b, seq) => {
        if (seq % 4 !== 0) return b;
        const c = Buffer.from(b);
        c[44] = 0x5a;
        return c;
      }),
    });
    const r = report.flows[0]!;
    expect(r.lost).toBe(0);
    expect(r.corrupted).toBe(COUNT / 4);
    expect(r.differences[0]!.changes).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'payload', offset: 44 })]));
    expect(report.emissions.every((x) => x.fromGuest === 0)).toBe(true);
  });

  it("a router's ICMP Time Exceeded quoting a test frame belongs to that frame's flow; a host's port unreachable does not", async () => {
    const f = makeFlow();
    const sent = f.sent.slice(0, 3);
    const quote = (from: string, type: number, code: number, b: Buffer) =>
      stack(
        Ether({ src: GUEST_MAC, dst: LEFT_MAC }),
        IPv4({ src: from, dst: '198.18.0.1' }),
        ICMP({ type, code }),
        Raw(b.subarray(14)),
      ).build();
    const report = await analyzeTraffic({
      runId: RUN,
      flows: [f],
      hosts: HOSTS,
      captures: {
        'left-host': frames([
          ...sent.map((data, i) => ({ tsNs: BigInt(i * 1000), data })),
          { tsNs: 10_000n, data: quote('198.18.0.254', 11, 0, sent[1]!) },
          { tsNs: 11_000n, data: quote('198.18.0.2', 3, 3, sent[2]!) },
        ]),
      },
    });
    expect(report.flows[0]!.icmpErrors).toEqual([
      expect.objectContaining({ version: 4, type: 11, code: 0, seq: 1, point: 'left-host', srcIp: '198.18.0.254' }),
    ]);
  });

  it("the fragments a router made of a test frame are reassembled and compared, not the guest's own frames", async () => {
    const f = flow({
      template: stack(
        Ether({ src: LEFT_MAC, dst: RIGHT_MAC }),
        IPv4({ src: '198.18.0.1', dst: '198.18.0.2', id: 7 }),
        UDP({ sport: 1, dport: 2 }),
      ),
      runId: RUN,
      flowId: 1,
      count: 2,
      ratePps: 10,
      size: 1000,
      vary: { ipId: 2 },
    });
    const sent = [...f].map((x) => x.data);
    // Split each datagram in two at 480 bytes of IP payload, as a router with a smaller egress MTU does.
    const fragments = (b: Buffer): Buffer[] => {
      const header = b.subarray(0, 34);
      const payload = b.subarray(34);
      const piece = (data: Buffer, offset: number, more: boolean) => {
        const h = Buffer.from(header);
        h.writeUInt16BE(20 + data.length, 16);
        h.writeUInt16BE((more ? 0x2000 : 0) | (offset / 8), 20);
        h.writeUInt16BE(0, 24);
        let sum = 0;
        for (let i = 14; i < 34; i += 2) sum += h.readUInt16BE(i);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
        h.writeUInt16BE(~sum & 0xffff, 24);
        return Buffer.concat([h, data]);
      };
      return [piece(payload.subarray(0, 480), 0, true), piece(payload.subarray(480), 480, false)];
    };
    const arrived = sent.flatMap(fragments).map((data, i) => ({ tsNs: BigInt(i * 1000 + 500), data }));
    const report = await analyzeTraffic({
      runId: RUN,
      flows: [{ name: 'big', from: 'left', to: 'right', frames: f }],
      hosts: HOSTS,
      captures: {
        'left-host': frames(sent.map((data, i) => ({ tsNs: BigInt(i * 1000), data }))),
        'right-host': frames(arrived),
      },
    });
    const r = report.flows[0]!;
    expect(r.lost).toBe(0);
    expect(r.fragmented).toEqual({ datagrams: 2, incomplete: 0, fragments: 4, largestFragment: 506 });
    expect(r.rewrites.unchanged).toBe(2);
    expect(report.emissions.every((x) => x.fromGuest === 0)).toBe(true);
  });
});
