// The RFC 2544 searches against fake devices whose limits are known: a device that forwards up to a
// fixed rate, one that loses a share of everything, one with a fixed burst buffer, one whose limit
// wavers between trials, and a generator that cannot reach the offered rate; the settings' precedence.
import { describe, expect, it } from 'vitest';
import { frameBytesWithoutFcs, frameLossSweep, judge, searchBackToBack, searchNdrPdr, type TrialResult } from '../../lib/rfc2544/search.ts';
import { rfc2544Config, RFC2544_KNOBS } from '../../lib/rfc2544/config.ts';
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
import { ceilingFromBurst, trialResult } from '../../lib/rfc2544/trials.ts';

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

const search = { ceilingPps: 100_000, pdrLossRatio: 0.01, resolution: 0.02, minPps: 50, maxTrials: 30, confirmTrials: 1 };

/** Loses nothing up to `ndr`, then a share growing with the excess: (rate − ndr) / (rate) × `steepness`. */
function softLimit(ndr: number, steepness: number) {
  const offered: number[] = [];
  const trial = async (pps: number): Promise<TrialResult> => {
    offered.push(pps);
    const sent = Math.max(100, Math.round(pps * SECONDS));
    const lost = pps <= ndr ? 0 : Math.ceil((sent * steepness * (pps - ndr)) / pps);
    return { offeredPps: pps, achievedPps: pps, sent, received: sent - lost, lost };
  };
  return { trial, offered };
}

describe('NDR and PDR search', () => {
  it('finds a device limit far below the ceiling within the resolution, never above it, and confirms it', async () => {
    for (const capacity of [370, 2500, 6130, 45_000]) {
      const { trial } = rateLimited(capacity);
      const r = await searchNdrPdr(trial, search);
      expect(r.ndr.ratePps).toBeLessThanOrEqual(capacity);
      expect(r.ndr.ratePps).toBeGreaterThanOrEqual(capacity * 0.98 - 1);
      expect(r.ndr.limitedBy).toBe('device');
      expect(r.ndr.failedAbovePps).toBeGreaterThan(capacity);
      // One search trial and one confirmation at the final rate, both loss-free; the spread is over both.
      expect(r.ndr.atRate.length).toBe(2);
      expect(r.ndr.atRate.map((t) => t.purpose)).toContain('confirm ndr');
      expect(r.ndr.spread).toMatchObject({ trials: 2, lossRatio: { min: 0, max: 0 } });
      expect(r.trials.length).toBeLessThan(20);
    }
  });

  it('after a failing ceiling, tries the rate the device forwarded there next (its saturation rate)', async () => {
    const { trial, offered } = rateLimited(5000);
    await searchNdrPdr(trial, search);
    expect(offered.slice(0, 2)).toEqual([100_000, 5000]);
  });

  it('finds the PDR above the NDR from the same trials, with fewer extra trials than a second search', async () => {
    const { trial, offered } = softLimit(4000, 0.5);
    const r = await searchNdrPdr(trial, search);
    // Loss ratio 0.5 (r − 4000) / r ≤ 1 % ⇔ r ≤ 4081.6
    expect(r.ndr.ratePps).toBeLessThanOrEqual(4000);
    expect(r.ndr.ratePps).toBeGreaterThanOrEqual(3900);
    expect(r.pdr.ratePps).toBeGreaterThanOrEqual(r.ndr.ratePps);
    expect(r.pdr.ratePps).toBeLessThanOrEqual(4081);
    for (const t of r.pdr.atRate) expect(t.pdrPassed).toBe(true);
    const ndrOnly = await searchNdrPdr(softLimit(4000, 0.5).trial, { ...search, pdrLossRatio: 0.999 });
    expect(offered.length).toBeLessThan(ndrOnly.trials.length * 2);
  });

  it('a device that loses a share of every trial has NDR 0, and a PDR above that share is found', async () => {
    const zero = await searchNdrPdr(lossy(0.05), search);
    expect(zero.ndr).toMatchObject({ ratePps: 0, atRate: [], limitedBy: 'device' });
    expect(zero.pdr.ratePps).toBe(0);
    expect(Math.min(...zero.trials.map((t) => t.offeredPps))).toBe(50); // it went down to minPps
    const tolerant = await searchNdrPdr(lossy(0.05), { ...search, pdrLossRatio: 0.1 });
    expect(tolerant.ndr.ratePps).toBe(0);
    expect(tolerant.pdr).toMatchObject({ ratePps: 100_000, limitedBy: 'ceiling' });
  });

  it('a rate that fails its confirmation counts as failing: the search goes on below it and says so', async () => {
    // Passes 3000 the first time only (a device whose limit wavers): the confirmation at 3000 fails.
    const seen = new Map<number, number>();
    const wavering = async (pps: number): Promise<TrialResult> => {
      const n = (seen.get(pps) ?? 0) + 1;
      seen.set(pps, n);
      const limit = pps === 3000 && n === 1 ? 3000 : 2900;
      const sent = Math.max(100, pps);
      const lost = pps <= limit ? 0 : Math.ceil(sent * 0.2);
      return { offeredPps: pps, achievedPps: pps, sent, received: sent - lost, lost };
    };
    const r = await searchNdrPdr(wavering, { ...search, ceilingPps: 6000, resolution: 0.001 });
    expect(r.ndr.unconfirmed).toContain(3000);
    expect(r.ndr.ratePps).toBeLessThanOrEqual(2900);
    expect(r.ndr.ratePps).toBeGreaterThan(2800);
    // On a tight budget too: the failed confirmation leaves room to search below it.
    seen.clear();
    const tight = await searchNdrPdr(wavering, { ...search, ceilingPps: 6000, resolution: 0.1, maxTrials: 8 });
    expect(tight.trials.length).toBeLessThanOrEqual(8);
    expect(tight.ndr.ratePps).toBeGreaterThan(0);
    expect(tight.ndr.ratePps).toBeLessThanOrEqual(2900);
  });

  it('a device that passes at the ceiling is limited by the ceiling, confirmed there', async () => {
    const { trial, offered } = rateLimited(1e9);
    const r = await searchNdrPdr(trial, search);
    expect(offered).toEqual([100_000, 100_000]);
    expect(r.ndr).toMatchObject({ ratePps: 100_000, limitedBy: 'ceiling', failedAbovePps: undefined });
    expect(r.pdr).toMatchObject({ ratePps: 100_000, limitedBy: 'ceiling' });
  });

  it('keeps to the trial bound and says the budget ran out', async () => {
    const { trial, offered } = rateLimited(333);
    const r = await searchNdrPdr(trial, { ...search, resolution: 0.001, maxTrials: 6 });
    expect(offered.length).toBeLessThanOrEqual(6);
    expect(r.budgetExhausted).toBe(true);
    // The confirmations got their trials: the bisection left them room.
    expect(r.ndr.atRate.length).toBe(2);
    expect((await searchNdrPdr(rateLimited(333).trial, search)).budgetExhausted).toBe(false);
  });

  it('a generator that cannot reach the offered rate is named only where it fell short, and only what it sent is credited', async () => {
    const short = await searchNdrPdr(rateLimited(1e9, 600).trial, { ...search, ceilingPps: 1000 });
    expect(short.ndr).toMatchObject({ limitedBy: 'generator', ratePps: 600, achievedPps: 600 });
    // The device's own limit, well within what the generator sends: the device is named.
    const device = await searchNdrPdr(rateLimited(400, 600).trial, { ...search, ceilingPps: 1000 });
    expect(device.ndr.limitedBy).toBe('device');
    expect(device.ndr.ratePps).toBeLessThanOrEqual(400);
  });

  it('refuses a nonsense ceiling, resolution or PDR ratio, naming it', async () => {
    await expect(searchNdrPdr(lossy(0), { ...search, ceilingPps: 0 })).rejects.toThrow(/ceilingPps is 0/);
    await expect(searchNdrPdr(lossy(0), { ...search, resolution: 2 })).rejects.toThrow(/resolution is 2/);
    await expect(searchNdrPdr(lossy(0), { ...search, pdrLossRatio: 0 })).rejects.toThrow(/pdrLossRatio is 0/);
  });

  it('judges a trial without frames as failed', () => {
    expect(judge({ offeredPps: 10, achievedPps: 0, sent: 0, received: 0, lost: 0 }, { lossTolerance: 0 }).passed).toBe(false);
  });
});

describe('the lab ceiling from a top-speed burst', () => {
  it('is the slower generator scaled by the share that reached the guest ports', () => {
    const flow = (from: 'left' | 'right', atIngress: number) => ({
      from,
      to: from === 'left' ? 'right' : 'left',
      sent: 1000,
      lost: 0,
      received: {
        'left-host': 1000,
        'right-host': 1000,
        'guest-left': from === 'left' ? atIngress : 0,
        'guest-right': from === 'right' ? atIngress : 0,
      },
    });
    const run = {
      report: { flows: [flow('left', 1000), flow('right', 900)], captureDrops: { 'guest-left': 3 } },
      injections: [{ achievedPps: 120_000 }, { achievedPps: 100_000 }],
    } as unknown as Parameters<typeof ceilingFromBurst>[0];
    expect(ceilingFromBurst(run, 64)).toEqual({
      wireSize: 64,
      pps: 90_000,
      source: 'measured',
      generatorPps: 100_000,
      deliveredShare: 0.9,
      captureDrops: 3,
    });
  });
});

describe('frame loss sweep', () => {
  it('steps down from the ceiling, each step a fraction below the last, and stops after two loss-free steps', async () => {
    const { trial, offered } = rateLimited(650);
    const steps = await frameLossSweep(trial, { maxPps: 1000, stepFraction: 0.1, stopAfterLossless: 2, maxTrials: 10 });
    expect(offered).toEqual([1000, 900, 810, 729, 656, 590, 531]);
    expect(steps.map((s) => Math.round(s.lossRatio * 1000) / 1000)).toEqual([0.35, 0.278, 0.198, 0.108, 0.009, 0, 0]);
  });

  it('keeps to its step budget and floor when the device loses at every rate', async () => {
    const steps = await frameLossSweep(lossy(0.05), { maxPps: 1000, stepFraction: 0.5, stopAfterLossless: 2, maxTrials: 10, minPps: 200 });
    expect(steps.map((s) => s.offeredPps)).toEqual([1000, 500, 250]);
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

describe('settings: profile, then environment overrides', () => {
  it('defaults to the RFC frame sizes with a short trial and a measured ceiling', () => {
    const c = rfc2544Config({}, {});
    expect(c.sizes).toEqual([64, 128, 256, 512, 1024, 1280, 1518]);
    expect(c).toMatchObject({ trialSeconds: 1, minFrames: 100, pdrLossRatio: 0.005, confirmTrials: 1 });
    expect(c.maxPps).toBeUndefined();
    expect(c.minNdrPps).toBeUndefined();
    expect(c.sizes.map(frameBytesWithoutFcs)).toEqual([60, 124, 252, 508, 1020, 1276, 1514]);
  });

  it('takes the profile, lets a variable override it, and names a bad variable with its value and what is allowed', () => {
    const c = rfc2544Config(
      { sizes: [64, 1518], trialSeconds: 10, pdrLossRatio: 0.01 },
      { WIRELAB_RFC2544_TRIAL_S: '60', WIRELAB_RFC2544_MIN_NDR_PPS: '100', WIRELAB_RFC2544_MIN_FRAMES: '1000' },
    );
    expect(c).toMatchObject({ minFrames: 1000, trialSeconds: 60, sizes: [64, 1518], pdrLossRatio: 0.01, minNdrPps: 100 });
    expect(rfc2544Config({}, { WIRELAB_RFC2544_SIZES: '64, 512' }).sizes).toEqual([64, 512]);
    expect(() => rfc2544Config({}, { WIRELAB_RFC2544_TRIAL_S: 'soon' })).toThrow(
      /WIRELAB_RFC2544_TRIAL_S is "soon"; use a number 0.1..600/,
    );
    expect(() => rfc2544Config({}, { WIRELAB_RFC2544_SIZES: '64,32' })).toThrow(/WIRELAB_RFC2544_SIZES/);
    expect(() => rfc2544Config({}, { WIRELAB_RFC2544_PDR_LOSS_RATIO: '1' })).toThrow(/PDR_LOSS_RATIO is "1"/);
    expect(() => rfc2544Config({}, { WIRELAB_RFC2544_CONFIRM_TRIALS: '1.5' })).toThrow(/an integer 0..20/);
  });

  it('every knob has a distinct variable and flag', () => {
    expect(new Set(RFC2544_KNOBS.map((k) => k.env)).size).toBe(RFC2544_KNOBS.length);
    expect(new Set(RFC2544_KNOBS.map((k) => k.flag)).size).toBe(RFC2544_KNOBS.length);
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
  it('show NDR and PDR with the spread at the final rate, offered next to achieved, a short generator flagged', async () => {
    const results: SizeResults[] = [];
    for (const [wireSize, capacity] of [
      [64, 4000],
      [1518, 3000],
    ] as const) {
      results.push({
        wireSize,
        ceiling: { wireSize, pps: 10_000, source: 'measured', generatorPps: 10_000, deliveredShare: 1, captureDrops: 0 },
        throughput: await searchNdrPdr(rateLimited(capacity, 3500).trial, { ...search, ceilingPps: 10_000 }),
        frameLoss: await frameLossSweep(rateLimited(capacity).trial, {
          maxPps: 10_000,
          stepFraction: 0.5,
          stopAfterLossless: 2,
          maxTrials: 6,
        }),
        backToBack: await searchBackToBack(buffered(64), { maxFrames: 128, resolution: 0.01, maxTrials: 10, repeats: 1, lossTolerance: 0 }),
      });
    }
    const t = throughputTable(results);
    expect(t.rows).toHaveLength(2);
    expect(t.columns.map((c) => c.title)).toEqual(expect.arrayContaining(['NDR pps', 'PDR (≤ 1.00% loss) pps', 'ceiling pps']));
    const md = tableMarkdown(t);
    // 64 B: the generator (3500) is below the device (4000): generator-limited, credited with what it sent.
    expect(md).toMatch(
      /\| 64 \| 10,000 \(measured: generator 10,000, 100% delivered\) \| \*\*3,500 \(achieved\)\*\* \|.*\*\*generator\*\*/,
    );
    // 1518 B: the device's limit, confirmed: two trials at the final rate, no loss.
    expect(md).toMatch(/\| 1518 \| .* \| 3,000 \| 36 \| 3,055 \| device \| 2 trials: loss 0.00%, forwarded 3,000 \|/);
    expect(tableHtml(trialsTable(results))).toMatch(/throughput \(confirm ndr\)/);
    expect(tableHtml(trialsTable(results))).toMatch(/NDR pass/);
    expect(tableMarkdown(backToBackTable(results))).toMatch(/\| 64 \| 64 \| 64 \| device/);
    const svg = throughputChartSvg(results);
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg).toMatch(/ceiling \(what the lab can offer\)/);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(frameLossChartSvg(results).match(/<polyline /g)).toHaveLength(2);
  });
});
