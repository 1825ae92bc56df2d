import { describe, expect, it } from 'vitest';
import { SoakJoin, type SoakCell, type SoakSecond } from '../../lib/analysis/soak-join.ts';
import { soakChecks, type SoakInput } from '../../lib/analysis/soak-verdict.ts';
import type { RunId } from '../../lib/core/run-id.ts';
import { ARP, Ether, flow, IPv4, stack, UDP } from '../../lib/frames/index.ts';
import { soakTimelineSvg, soakSecondsCsv } from '../../lib/report/soak-report.ts';

const RUN: RunId = 'wl-5a0a5a';
const LEFT_MAC = '02:00:00:00:00:01';
const RIGHT_MAC = '02:00:00:00:00:02';
const HOSTS = { left: { mac: LEFT_MAC, ipv4: '198.18.0.1/24' }, right: { mac: RIGHT_MAC, ipv4: '198.18.0.2/24' } };
const RATE = 100;
const T0 = 1_800_000_000_000_000_000n;

function soakFlow(seconds: number) {
  const frames = flow({
    template: stack(Ether({ src: LEFT_MAC, dst: RIGHT_MAC }), IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }), UDP({ sport: 1, dport: 2 })),
    runId: RUN,
    flowId: 1,
    count: RATE * seconds,
    ratePps: RATE,
    size: 128,
  });
  return { name: 'soak left→right', from: 'left' as const, to: 'right' as const, ratePps: RATE, frames };
}

describe('the soak join', () => {
  it('streams frames into rows per second: loss inside the guest, latency, and what the guest sent by itself', () => {
    const f = soakFlow(12);
    const join = new SoakJoin(RUN, [f], { hosts: HOSTS });
    let seq = 0;
    for (const frame of f.frames) {
      const at = T0 + frame.tsNs;
      join.add('left-host', at, frame.data);
      join.add('guest-left', at + 10_000n, frame.data);
      // Seconds 3 and 4 vanish inside the guest; the rest cross in 200 µs.
      if (seq < 300 || seq >= 500) {
        join.add('guest-right', at + 210_000n, frame.data);
        join.add('right-host', at + 220_000n, frame.data);
      }
      if (seq % 100 === 50) {
        // Each second: the guest's own ARP at its right port; the left host's own ARP, seen leaving it and forwarded.
        const own = stack(
          Ether({ src: '02:99:00:00:00:09', dst: 'ff:ff:ff:ff:ff:ff' }),
          ARP({ hwsrc: '02:99:00:00:00:09', psrc: '198.18.0.9', pdst: '198.18.0.9' }),
        ).build();
        join.add('guest-right', at + 1000n, own);
        const hosts = stack(
          Ether({ src: LEFT_MAC, dst: 'ff:ff:ff:ff:ff:ff' }),
          ARP({ hwsrc: LEFT_MAC, psrc: '198.18.0.1', pdst: '198.18.0.2' }),
        ).build();
        join.add('left-host', at + 2000n, hosts);
        join.add('guest-left', at + 3000n, hosts);
      }
      if (seq % RATE === 0) {
        join.finishThrough(join.finishableSecond(), []);
        join.attributeUnsigned();
      }
      seq++;
    }
    // Last finished while streaming: at frame 1100 the sender is in second 11; 5 s of hold leave seconds 0–6 finished.
    expect(join.seconds.map((s) => s.second)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    join.finishThrough(join.lastSecond, []);
    join.attributeUnsigned(true);
    const lost = join.seconds.map((s) => s.flows[0]!.lost);
    expect(lost).toEqual([0, 0, 0, 100, 100, 0, 0, 0, 0, 0, 0, 0]);
    expect(join.seconds[3]!.flows[0]!.lostInGuest).toBe(100);
    expect(join.seconds[0]!.flows[0]!.latencyUs!.p50).toBeCloseTo(200, 0);
    expect(join.totals()[0]).toMatchObject({ sent: 1200, delivered: 1000, lost: 200 });
    expect(join.totals()[0]!.latencyUs!.p99).toBeGreaterThan(190);
    const right = join.emissions.find((e) => e.point === 'guest-right')!;
    expect(right.fromGuest).toBe(12);
    expect(join.emissions.find((e) => e.point === 'guest-left')!).toMatchObject({ fromGuest: 0, fromHosts: 12 });
  });
});

function cell(o: Partial<SoakCell> = {}): SoakCell {
  const lat = { samples: 100, min: 200, p50: 300, p90: 400, p99: 500, max: 600 };
  return {
    sent: 100,
    delivered: 100,
    lost: 0,
    lostAtSender: 0,
    lostBeforeGuest: 0,
    lostInGuest: 0,
    lostAfterGuest: 0,
    duplicated: 0,
    reordered: 0,
    latencyUs: lat,
    hostFreeLatencyUs: lat,
    hostStalledMs: 0,
    ...o,
  };
}

function input(seconds: SoakSecond[], o: Partial<SoakInput> = {}): SoakInput {
  return {
    flows: [
      { name: 'a', from: 'left', to: 'right' },
      { name: 'b', from: 'right', to: 'left' },
    ],
    seconds,
    health: [],
    bounds: { maxLostPerSecond: 0, latencyP99Ms: 100, latencyDriftMs: 5, memoryGrowthMiB: 32, rssGrowthMiB: 64 },
    ...o,
  };
}

const failed = (i: SoakInput) => soakChecks(i).filter((c) => !c.result.pass);

describe('the soak checks', () => {
  const secs = (n: number, f: (s: number, dir: number) => Partial<SoakCell>) =>
    Array.from({ length: n }, (_, s) => ({ second: s, flows: [cell(f(s, 0)), cell(f(s, 1))] }));

  it('a clean soak passes every check', () => {
    expect(failed(input(secs(60, () => ({}))))).toEqual([]);
  });

  it('a guest that stops forwarding is named with the second it stopped', () => {
    const stop = (s: number) =>
      s === 30 ? { delivered: 40, lost: 60, lostInGuest: 60 } : s > 30 ? { delivered: 0, lost: 100, lostInGuest: 100 } : {};
    const [c] = failed(input(secs(60, stop)));
    expect(c!.result.headline).toMatch(
      /^the guest stopped forwarding at second 30 of the soak \(both directions\).*29 s after it.*inside the guest/,
    );
  });

  it('a loss burst that recovers is a loss burst at its second', () => {
    const [c] = failed(input(secs(60, (s, d) => (s === 12 && d === 1 ? { delivered: 97, lost: 3, lostInGuest: 3 } : {}))));
    expect(c!.result.headline).toMatch(/^loss burst at second 12 of the soak: 3 of 100 frames lost right→left/);
  });

  it('a drifting median is named from the second it held above the bound; a host-stalled second is not the image’s', () => {
    const grow = (s: number) => {
      const lat = { samples: 100, min: 0, p50: 300 + s * 1000, p90: 0, p99: 400 + s * 1000, max: 0 };
      return { latencyUs: lat, hostFreeLatencyUs: lat };
    };
    const drift = failed(input(secs(20, grow)));
    expect(drift.map((c) => c.name)).toEqual(['no latency drift']);
    expect(drift[0]!.result.headline).toMatch(/^latency drifts left→right: from second 10 of the soak/);
    const stalled = { samples: 100, min: 0, p50: 300, p90: 0, p99: 150_000, max: 150_000 };
    const tail = secs(20, (s) => (s === 7 ? { latencyUs: stalled, hostStalledMs: 140 } : {}));
    expect(failed(input(tail))).toEqual([]);
    const own = secs(20, (s) => (s === 7 ? { latencyUs: stalled, hostFreeLatencyUs: stalled } : {}));
    expect(failed(input(own))[0]!.result.headline).toMatch(/^latency through the guest too high at second 7 of the soak: p99 150 ms/);
  });

  it("the guest's memory growth is named with the second it passed the bound", () => {
    const health = Array.from({ length: 12 }, (_, i) => ({ atS: i * 5, memUsedMiB: 30 + i * 10, rssMiB: 240 }));
    const [c] = failed(
      input(
        secs(60, () => ({})),
        { health },
      ),
    );
    expect(c!.result.headline).toMatch(
      /^the guest's used memory grew by 40.0 MiB by second 20 of the soak \(30.0 → 70.0 MiB\).*leaks memory/,
    );
  });

  it('the timeline and the CSV carry every second', () => {
    const s = secs(30, () => ({}));
    const svg = soakTimelineSvg({
      title: 'x',
      flows: input(s).flows,
      seconds: s,
      health: [],
      latencyBoundMs: 100,
      marks: [{ second: 12, label: 'loss' }],
    });
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('p99 bound 100 ms');
    expect(soakSecondsCsv(input(s).flows, s).trim().split('\n')).toHaveLength(61);
  });
});
