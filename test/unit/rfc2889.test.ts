// RFC 2889 tables from fake bridges driven through the real searches: one that holds a fixed number of
// stations and learns up to a rate, and one that learns nothing (every test frame goes through: flooding).
import { describe, expect, it } from 'vitest';
import { searchBackToBack, searchNdrPdr, type TrialResult } from '../../lib/rfc2544/search.ts';
import { tableMarkdown } from '../../lib/rfc2544/report.ts';
import { broadcastTable, capacityTable, floods, learningRateTable, type Rfc2889Results } from '../../lib/rfc2889/report.ts';

/** A bridge that holds `table` stations and learns at most `rate` per second; `lost` = test frames flooded. */
function bridge(table: number, rate: number) {
  return (stations: number, pps: number): TrialResult => {
    const learned = pps > rate ? Math.floor(stations * (rate / pps)) : Math.min(stations, table);
    return { offeredPps: pps, achievedPps: pps, sent: stations, received: learned, lost: stations - learned };
  };
}

const search = { pdrLossRatio: 0.005, resolution: 0.05, minPps: 50, maxTrials: 16, confirmTrials: 1 };
const capacity = { resolution: 0.01, maxTrials: 12, repeats: 1, lossTolerance: 0 };

async function measure(table: number, rate: number): Promise<Rfc2889Results> {
  const b = bridge(table, rate);
  return {
    capacityRatePps: 500,
    capacity: await searchBackToBack(async (n) => b(n, 500), { ...capacity, maxFrames: 1024 }),
    learningAddresses: 256,
    learningRate: await searchNdrPdr(async (pps) => b(256, pps), { ...search, ceilingPps: 20_000 }),
  };
}

describe('RFC 2889 results', () => {
  it('a learning bridge: its table size as the capacity (or "≥" the most tried), its learning rate', async () => {
    const small = await measure(300, 4000);
    expect(floods(small.capacity)).toBe(false);
    expect(small.capacity!.frames).toBeGreaterThanOrEqual(290);
    expect(small.capacity!.frames).toBeLessThanOrEqual(300);
    expect(tableMarkdown(capacityTable(small))).toMatch(/\| 500 \| 29\d \| .* \| device \|/);
    expect(small.learningRate!.ndr.ratePps).toBeLessThanOrEqual(4000);
    expect(small.learningRate!.ndr.ratePps).toBeGreaterThan(3700);
    expect(tableMarkdown(learningRateTable(small))).toMatch(/\| 256 \| 3,\d{3} \|/);
    const big = await measure(1e6, 4000);
    expect(tableMarkdown(capacityTable(big))).toMatch(/\| 500 \| ≥ 1,024 \| .* \| ceiling \(most stations tried\) \|/);
  });

  it('a bridge that learns nothing is reported as flooding, with capacity and learning rate 0', async () => {
    const hub = await measure(0, 0);
    expect(floods(hub.capacity)).toBe(true);
    expect(tableMarkdown(capacityTable(hub))).toMatch(/\| 500 \| \*\*0 \(floods\)\*\* \| 0 \| floods: learns no MACs \|/);
    expect(tableMarkdown(learningRateTable(hub))).toMatch(/\| 256 \| \*\*0 \(floods\)\*\* \|.*floods: learns no MACs/);
  });

  it('the broadcast table shows the rate without loss and the PDR', async () => {
    const r: Rfc2889Results = {
      capacityRatePps: 500,
      broadcast: await searchNdrPdr(
        async (pps) => ({ offeredPps: pps, achievedPps: pps, sent: pps, received: Math.min(pps, 1500), lost: Math.max(0, pps - 1500) }),
        { ...search, ceilingPps: 20_000 },
      ),
    };
    expect(tableMarkdown(broadcastTable(r))).toMatch(/\| 1,500 \| device \| 2 trials: loss 0.00%, forwarded 1,500 \|/);
  });
});
