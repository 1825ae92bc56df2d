// The bench's "where the time goes" and physical floor, on made-up phase records.
import { describe, expect, it } from 'vitest';
import { BETWEEN, EXIT, physicalFloorMs, START_UP, wallTimeByPhase } from '../../bench/phase-breakdown.ts';
import type { PhaseRecord } from '../../lib/runtime/phases.ts';

const phases: PhaseRecord[] = [
  { kind: 'boot', label: 'wl-000001', startMs: 2000, endMs: 9000, pid: 1 },
  { kind: 'boot', label: 'wl-000002', startMs: 2500, endMs: 10_000, pid: 2 },
  { kind: 'traffic', label: 'functional', startMs: 9500, endMs: 12_000, requestedMs: 1000, pid: 1 },
  { kind: 'analysis', label: 'functional', startMs: 12_000, endMs: 12_500, pid: 1 },
  { kind: 'listen', label: 'quiet', startMs: 13_000, endMs: 16_000, requestedMs: 3000, pid: 1 },
  { kind: 'halt', label: 'wl-000001', startMs: 16_000, endMs: 17_000, pid: 1 },
  { kind: 'report', label: 'p', startMs: 17_500, endMs: 19_000 },
];

describe('where the time goes', () => {
  it('splits the wall time into parts that add up to it, frames first where phases overlap', () => {
    const parts = wallTimeByPhase(phases, 0, 20_000);
    expect(parts[START_UP]).toBe(2);
    expect(parts['guest boot']).toBe(7.5); // 2.0–9.5: the traffic window takes over at 9.5
    expect(parts['traffic windows']).toBe(2.5);
    expect(parts['analysis (frame join)']).toBe(0.5);
    expect(parts[BETWEEN]).toBe(1); // 12.5–13 and 17–17.5
    expect(parts['quiet listen']).toBe(3);
    expect(parts['guest halt']).toBe(1);
    expect(parts['report rendering']).toBe(1.5);
    expect(parts[EXIT]).toBe(1);
    expect(Object.values(parts).reduce((a, b) => a + b, 0)).toBeCloseTo(20, 5);
  });

  it('the physical floor: the longest process of boots, frames at the rates asked, listens and halts', () => {
    // pid 1: boot 7 s + frames 1 s + listen 3 s + halt 1 s = 12 s; pid 2: its boot, 7.5 s.
    expect(physicalFloorMs(phases)).toBe(12_000);
    expect(physicalFloorMs([])).toBe(0);
  });
});
