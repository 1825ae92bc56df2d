import { describe, expect, it } from 'vitest';
import {
  describeExcuse,
  inconclusiveHeadline,
  isInconclusive,
  longestStallWithin,
  stallBehindExcursion,
  stalledMsWithin,
  withoutHostStalls,
} from '../../lib/analysis/host-stall.ts';
import type { HostStall, HostTrace } from '../../lib/core/host-trace.ts';
import { latencyBesideHostSvg } from '../../lib/report/host-timeline.ts';
import { cleanFlow } from './fake-flow.ts';

const T0 = 1_800_000_000_000;

function trace(stalls: [from: number, to: number][], source: HostStall['source'] = 'host'): HostTrace {
  return {
    startMs: T0,
    endMs: T0 + 10_000,
    periodMs: 2,
    stallMs: 2,
    stalls: stalls.map(([a, b]) => ({ fromMs: T0 + a, toMs: T0 + b, source })).sort((x, y) => x.fromMs - y.fromMs),
    seconds: [],
    guestWatched: true,
  };
}

/** A flow with one frame every 4 ms from T0, each with the given latency (ms). */
function flowOf(latencyMs: (i: number) => number, n = 1000) {
  const samples = Array.from({ length: n }, (_, i) => latencyMs(i) * 1000);
  const at = Array.from({ length: n }, (_, i) => (T0 + i * 4) * 1e6);
  const sorted = [...samples].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.ceil((p / 100) * n) - 1]!;
  return cleanFlow(n, {
    latencySamplesUs: samples,
    latencyIngressNs: at,
    latencyUs: { samples: n, min: sorted[0]!, p50: pct(50), p90: pct(90), p99: pct(99), max: sorted[n - 1]! },
  });
}

describe('host stalls', () => {
  it('the time stalled within a span counts overlapping stalls once; the longest single stall is found', () => {
    const t = trace([
      [100, 200],
      [150, 260],
      [1000, 1005],
    ]);
    expect(stalledMsWithin(t, T0, T0 + 2000)).toBe(165);
    expect(stalledMsWithin(t, T0 + 180, T0 + 1002)).toBe(82);
    expect(longestStallWithin(t, T0, T0 + 2000)).toMatchObject({ stallMs: 110, atMs: T0 + 150 });
  });

  it("a 120-ms host stall behind a p99 excursion is taken out; the median is the undisturbed frames'", () => {
    // 0.3 ms through the guest, except the frames that met the stall at 2.0–2.12 s: they waited it out.
    const stallAt = 2000;
    const f = flowOf((i) => (i * 4 >= stallAt && i * 4 < stallAt + 120 ? stallAt + 120 - i * 4 + 0.3 : 0.3));
    const t = trace([[stallAt, stallAt + 120]]);
    expect(f.latencyUs!.p99).toBeGreaterThan(50_000); // the excursion is there: p99 ≈ 80 ms
    const corrected = withoutHostStalls(f, t);
    expect(corrected.latencyUs!.p99).toBeLessThan(1000);
    expect(corrected.latencyUs!.p50).toBeCloseTo(300, 0);
    expect(stallBehindExcursion([f], t, 2000)).toMatchObject({ atMs: T0 + stallAt, source: 'host' });
  });

  it("the backlog a long stall leaves is the host's too: the frames after it waited behind the queue", () => {
    // Frames every 4 ms; the guest takes 2 ms per frame, and none at all while the host stalls for 1 s at 2 s.
    let free = 0;
    const f = flowOf((i) => {
      const at = i * 4;
      const start = Math.max(at, free, at >= 2000 && at < 3000 ? 3000 : 0, free < 3000 && at < 3000 && at >= 2000 ? 3000 : 0);
      free = (start < 3000 && start + 2 > 2000 ? 3000 : start) + 2;
      return free - at;
    });
    const t = trace([[2000, 3000]]);
    expect(f.latencyUs!.p99).toBeGreaterThan(500_000);
    const corrected = withoutHostStalls(f, t);
    expect(corrected.latencyUs!.p99).toBeLessThan(100_000);
    expect(corrected.latencyUs!.p50).toBeLessThan(3000);
  });

  it('a delay queue of 250 ms stays above the bounds however many short stalls it meets', () => {
    const f = flowOf(() => 250);
    // A busy host: a 3-ms stall every 10 ms (30 % of the time).
    const t = trace(
      Array.from({ length: 600 }, (_, i) => [i * 10, i * 10 + 3] as [number, number]),
      'guest-cpu',
    );
    const corrected = withoutHostStalls(f, t);
    expect(corrected.latencyUs!.p50).toBeGreaterThan(150_000);
    expect(corrected.latencyUs!.p99).toBeGreaterThan(100_000);
  });

  it('a 3-ms skew keeps its median: the frames the host left alone still took 3 ms', () => {
    const f = flowOf(() => 3.2);
    // Stalls cover about half of the frames' crossings.
    const t = trace(
      Array.from({ length: 300 }, (_, i) => [i * 16, i * 16 + 4] as [number, number]),
      'guest-cpu',
    );
    expect(withoutHostStalls(f, t).latencyUs!.p50).toBeCloseTo(3200, 0);
  });

  it('an inconclusive outcome says so first, with the stall, and is told from a failure', () => {
    const excuse = { stallMs: 124.4, atMs: Date.UTC(2026, 11, 6, 8, 1, 2, 345), source: 'host' as const };
    const stall = describeExcuse(excuse, excuse.atMs - 2400);
    expect(stall).toBe('the host stalled 124 ms at 08:01:02.345 UTC (2.4 s into the measurement)');
    const headline = inconclusiveHeadline([stall, stall, stall], 'latency through the guest too high: p99 124 ms (bound 100 ms)');
    expect(headline).toMatch(
      /^inconclusive — the host stalled 124 ms at .* \(and in each of the 2 tries before it\); not the image's verdict: latency/,
    );
    expect(isInconclusive(headline)).toBe(true);
    expect(isInconclusive(`HostStalled: ${headline}`)).toBe(true);
    expect(isInconclusive('latency through the guest too high')).toBe(false);
  });

  it("the report draws the guest's latency and the canary's stalls on one time axis", () => {
    const f = flowOf((i) => (i === 500 ? 120 : 0.3));
    const t = { ...trace([[2000, 2120]]), seconds: [{ atMs: T0, idle: 0.1, steal: 0, maxLateMs: 120, maxGuestWaitMs: 3 }] };
    const svg = latencyBesideHostSvg('load', [f], t, 100);
    for (const text of [
      'Latency through the guest',
      'Host canary: stalls',
      'the canary woke late',
      'bound 100 ms',
      'seconds into the window',
    ])
      expect(svg).toContain(text);
    expect(svg.match(/<rect [^>]*fill-opacity/g)?.length).toBe(1);
  });
});
