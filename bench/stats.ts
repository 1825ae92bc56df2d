// Summary statistics for benchmark samples. Medians, not means: on a shared 2-core machine one
// disturbed run would drag a mean, while the median of N runs stays put (min–max shows the spread).

export interface Summary {
  samples: number[];
  median: number;
  min: number;
  max: number;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  return { samples: [...samples], median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

/** baseline / wirelab of the medians: above 1 means the baseline needs more (time) than wirelab. */
export function ratio(baseline: Summary, wirelab: Summary): number {
  return wirelab.median === 0 ? Number.NaN : baseline.median / wirelab.median;
}
