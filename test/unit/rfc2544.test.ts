// The RFC 2544 searches against fake devices whose limits are known: a device that forwards up to a
// fixed rate, one that loses a share of everything, one with a fixed burst buffer, and a generator
// that cannot reach the offered rate.
import { describe, expect, it } from 'vitest';
import {
  frameBytesWithoutFcs,
  frameLossSweep,
  judge,
  rfc2544ConfigFromEnv,
  RFC2544_DEFAULTS,
  searchBackToBack,
  searchThroughput,
  type TrialResult,
} from '../../lib/rfc2544/search.ts';
import {
  backToBackTable,
  frameLossChartSvg,
  tableHtml,
  tableMarkdown,
  throughputChartSvg,
  throughputTable,
  trialsTable,
  type SizeResults,
} from '../../lib/rfc2544/report.ts';
import { trialResult } from '../../lib/rfc2544/trials.ts';

const SECONDS = 1;

/** A device that forwards up to `capacity` frames/s and drops the excess; a generator that tops out at `generatorMax`. */
function rateLimited(capacity: number, generatorMax = Infinity) {
  const offered: number[] = [];
  const trial = async (pps: number): Promise<TrialResult> => {
    offered.push(pps);
    const achieved = Math.min(pps, generatorMax);
    const sent = Math.round(achieved * SECONDS);
    const lost = Math.max(0, Math.round((achieved - capacity) * SECONDS));
    return { offeredPps: pps, achievedPps: achieved, sent, received: sent - lost, lost };
  };
  return { trial, offered };
}

/** A device that loses `share` of the frames at every rate. */
function lossy(share: number) {
  return async (pps: number): Promise<TrialResult> => {
    const sent = Math.max(1, Math.round(pps * SECONDS));
    const lost = Math.ceil(sent * share);
    return { offeredPps: pps, achievedPps: pps, sent, received: sent - lost, lost };
  };
}

/** A device whose queue holds `buffer` frames of a burst; the rest is dropped. */
function buffered(buffer: number) {
  return async (frames: number): Promise<TrialResult> => {
    const lost = Math.max(0, frames - buffer);
    return { offeredPps: 0, achievedPps: 90_000, sent: frames, received: frames - lost, lost };
  };
}

const search = { maxPps: 1000, resolution: 0.05, maxTrials: 12, lossTolerance: 0 };

describe('throughput search', () => {
  it('finds the device limit within the resolution, never above it', async () => {
    for (const capacity of [37, 250, 613, 999]) {
      const { trial } = rateLimited(capacity);
      const r = await searchThroughput(trial, search);
      expect(r.throughputPps).toBeLessThanOrEqual(capacity);
      expect(r.throughputPps).toBeGreaterThanOrEqual(capacity - 50);
      expect(r.limitedBy).toBe('device');
      expect(r.best?.passed).toBe(true);
      expect(r.failedAbovePps).toBeGreaterThan(capacity);
    }
  });

  it('starts at the ceiling; a device that passes there is limited by the ceiling after one trial', async () => {
    const { trial, offered } = rateLimited(5000);
    const r = await searchThroughput(trial, search);
    expect(offered).toEqual([1000]);
    expect(r).toMatchObject({ throughputPps: 1000, limitedBy: 'ceiling' });
  });

  it('a device that loses a share of every trial has no zero-loss throughput, but passes a tolerance above that share', async () => {
    const zero = await searchThroughput(lossy(0.05), search);
    expect(zero.throughputPps).toBe(0);
    expect(zero.best).toBeUndefined();
    expect(zero.trials.every((t) => !t.passed)).toBe(true);
    const tolerant = await searchThroughput(lossy(0.05), { ...search, lossTolerance: 0.1 });
    expect(tolerant.throughputPps).toBe(1000);
  });

  it('keeps to the trial bound', async () => {
    const { trial, offered } = rateLimited(333);
    const r = await searchThroughput(trial, { ...search, resolution: 0.0001, maxTrials: 4 });
    expect(offered).toHaveLength(4);
    expect(r.trials).toHaveLength(4);
  });

  it('a generator that cannot reach the offered rate is named, not blamed on the device', async () => {
    const { trial } = rateLimited(5000, 600);
    const r = await searchThroughput(trial, search);
    expect(r.limitedBy).toBe('generator');
    expect(r.throughputPps).toBe(600); // only what was really sent is credited
    expect(r.achievedPps).toBe(600);
    expect(r.best?.generatorShort).toBe(true);
  });

  it('refuses a nonsense ceiling or resolution, naming it', async () => {
    await expect(searchThroughput(lossy(0), { ...search, maxPps: 0 })).rejects.toThrow(/maxPps is 0/);
    await expect(searchThroughput(lossy(0), { ...search, resolution: 2 })).rejects.toThrow(/resolution is 2/);
  });

  it('judges a trial without frames as failed', () => {
    expect(judge({ offeredPps: 10, achievedPps: 0, sent: 0, received: 0, lost: 0 }, { lossTolerance: 0 }).passed).toBe(false);
  });
});

describe('frame loss sweep', () => {
  it('steps down from the ceiling and stops after two loss-free steps', async () => {
    const { trial, offered } = rateLimited(650);
    const steps = await frameLossSweep(trial, { maxPps: 1000, stepFraction: 0.1, stopAfterLossless: 2, maxTrials: 10 });
    expect(offered).toEqual([1000, 900, 800, 700, 600, 500]);
    expect(steps.map((s) => Math.round(s.lossRatio * 1000) / 1000)).toEqual([0.35, 0.278, 0.188, 0.071, 0, 0]);
  });

  it('keeps to its step budget when the device loses at every rate', async () => {
    const steps = await frameLossSweep(lossy(0.05), { maxPps: 1000, stepFraction: 0.2, stopAfterLossless: 2, maxTrials: 3 });
    expect(steps.map((s) => s.offeredPps)).toEqual([1000, 800, 600]);
    expect(steps.every((s) => s.lost > 0)).toBe(true);
  });
});

describe('back-to-back search', () => {
  it('finds the burst the device buffers, within the resolution', async () => {
    const r = await searchBackToBack(buffered(300), { maxFrames: 1000, resolution: 0.01, maxTrials: 20, repeats: 1, lossTolerance: 0 });
    expect(r.frames).toBeLessThanOrEqual(300);
    expect(r.frames).toBeGreaterThanOrEqual(290);
    expect(r.limitedBy).toBe('device');
  });

  it('averages repeated searches and reports each one', async () => {
    let n = 0;
    const varying = async (frames: number): Promise<TrialResult> => buffered(n < 10 ? 100 : 200)(frames).finally(() => n++);
    const r = await searchBackToBack(varying, { maxFrames: 256, resolution: 0.001, maxTrials: 10, repeats: 2, lossTolerance: 0 });
    expect(r.perRepeat).toEqual([100, 200]);
    expect(r.frames).toBe(150);
  });

  it('a burst that passes at the longest length tried is a lower bound (ceiling); a device that drops everything gets 0', async () => {
    expect(
      await searchBackToBack(buffered(1e9), { maxFrames: 500, resolution: 0.01, maxTrials: 10, repeats: 1, lossTolerance: 0 }),
    ).toMatchObject({ frames: 500, limitedBy: 'ceiling' });
    expect(
      (await searchBackToBack(buffered(0), { maxFrames: 500, resolution: 0.01, maxTrials: 20, repeats: 1, lossTolerance: 0 })).frames,
    ).toBe(0);
  });
});

describe('configuration from the environment', () => {
  it('defaults to the RFC frame sizes with a short trial', () => {
    const c = rfc2544ConfigFromEnv({});
    expect(c.sizes).toEqual([64, 128, 256, 512, 1024, 1280, 1518]);
    expect(c).toMatchObject({ trialSeconds: RFC2544_DEFAULTS.trialSeconds, lossTolerance: 0, minFrames: 100 });
    expect(c.minThroughputPps).toBeUndefined();
    expect(c.sizes.map(frameBytesWithoutFcs)).toEqual([60, 124, 252, 508, 1020, 1276, 1514]);
  });

  it('reads every knob and names a bad one with its value and what is allowed', () => {
    const c = rfc2544ConfigFromEnv({
      WIRELAB_RFC2544_TRIAL_S: '60',
      WIRELAB_RFC2544_SIZES: '64, 1518',
      WIRELAB_RFC2544_LOSS_TOLERANCE: '0.001',
      WIRELAB_RFC2544_MIN_THROUGHPUT_PPS: '100',
      WIRELAB_RFC2544_MIN_FRAMES: '1000',
    });
    expect(c).toMatchObject({ minFrames: 1000, trialSeconds: 60, sizes: [64, 1518], lossTolerance: 0.001, minThroughputPps: 100 });
    expect(() => rfc2544ConfigFromEnv({ WIRELAB_RFC2544_TRIAL_S: 'soon' })).toThrow(/WIRELAB_RFC2544_TRIAL_S is "soon"; use seconds/);
    expect(() => rfc2544ConfigFromEnv({ WIRELAB_RFC2544_SIZES: '64,32' })).toThrow(/WIRELAB_RFC2544_SIZES/);
    expect(() => rfc2544ConfigFromEnv({ WIRELAB_RFC2544_LOSS_TOLERANCE: '1' })).toThrow(/LOSS_TOLERANCE is "1"/);
  });
});

describe('trial results from a traffic run', () => {
  it('adds up both directions, takes the slower generator and the worse latency', () => {
    const flow = (lost: number, p99: number) => ({
      sent: 100,
      lost,
      latencyUs: { samples: 100 - lost, min: 10, p50: 50, p90: 80, p99, max: p99 + 1 },
    });
    const run = {
      report: { flows: [flow(0, 300), flow(5, 900)], foreign: [], captureDrops: { 'left-host': 2 } },
      injections: [
        { side: 'left', frames: 100, sent: 100, failed: 0, requestedPps: 100, achievedPps: 99, durationS: 1 },
        { side: 'right', frames: 100, sent: 100, failed: 0, requestedPps: 100, achievedPps: 70, durationS: 1.4 },
      ],
    } as unknown as Parameters<typeof trialResult>[0];
    expect(trialResult(run, 100)).toMatchObject({
      offeredPps: 100,
      achievedPps: 70,
      sent: 200,
      received: 195,
      lost: 5,
      captureDrops: 2,
      latencyUs: { p99: 900, min: 10 },
    });
  });
});

describe('report tables and charts', () => {
  it('show offered next to achieved, flag a short generator, and draw one line per series', async () => {
    const results: SizeResults[] = [];
    for (const [wireSize, capacity] of [
      [64, 400],
      [1518, 300],
    ] as const) {
      results.push({
        wireSize,
        throughput: await searchThroughput(rateLimited(capacity, 350).trial, search),
        frameLoss: await frameLossSweep(rateLimited(capacity).trial, {
          maxPps: 1000,
          stepFraction: 0.25,
          stopAfterLossless: 2,
          maxTrials: 4,
        }),
        backToBack: await searchBackToBack(buffered(64), { maxFrames: 128, resolution: 0.01, maxTrials: 10, repeats: 1, lossTolerance: 0 }),
      });
    }
    const t = throughputTable(results, 'zero loss');
    expect(t.rows).toHaveLength(2);
    const md = tableMarkdown(t);
    expect(md).toMatch(/\| 64 \| 350 \| \*\*350 \/ 1,000 \(35%\)\*\* \|.*\*\*generator\*\*/);
    expect(md).toMatch(/\| 1518 \| 282 \| 282 \/ 282 \(100%\) \|.*\| device \|/);
    expect(tableHtml(trialsTable(results))).toMatch(/<td class="alert">350 \/ 1,000 \(35%\)<\/td>/);
    expect(tableMarkdown(backToBackTable(results))).toMatch(/\| 64 \| 64 \| 64 \| device/);
    const svg = throughputChartSvg(results);
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg).toMatch(/offered in the passing trial/);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(frameLossChartSvg(results).match(/<polyline /g)).toHaveLength(2);
  });
});
