// A timed window's latency through the guest beside the host canary, on one time axis: the reader
// sees at a glance whether an excursion of the guest's latency came with a stall of the host.
//
// Pure: a flow report and a host trace in, SVG out.
import type { HostTrace } from '../core/host-trace.ts';
import type { FlowResult } from '../analysis/flow-report.ts';
import { timelineSvg, type TimeSeries } from './timeline-chart.ts';

const BUCKET_MS = 50;

export function latencyBesideHostSvg(title: string, flows: readonly FlowResult[], trace: HostTrace, boundMs?: number): string {
  const t0 = trace.startMs;
  const latency: TimeSeries[] = flows
    .filter((f) => f.latencyIngressNs && f.latencySamplesUs.length > 0)
    .map((f) => {
      const buckets = new Map<number, number>();
      f.latencySamplesUs.forEach((us, i) => {
        const b = Math.floor((f.latencyIngressNs![i]! / 1e6 - t0) / BUCKET_MS);
        buckets.set(b, Math.max(buckets.get(b) ?? 0, us / 1000));
      });
      const points = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([b, ms]) => [(b * BUCKET_MS) / 1000, ms] as const);
      return { name: `${f.name}, max per ${BUCKET_MS} ms`, points };
    });
  const stalls = (source: 'host' | 'guest-cpu', name: string): TimeSeries => ({
    name,
    kind: 'bars',
    points: trace.stalls.filter((s) => s.source === source).map((s) => [(s.fromMs - t0) / 1000, s.toMs - s.fromMs] as const),
  });
  return timelineSvg(
    [
      {
        title: 'Latency through the guest',
        unit: 'ms',
        series: latency,
        ...(boundMs ? { bound: { y: boundMs, label: `bound ${boundMs} ms` } } : {}),
      },
      {
        title: 'Host canary: stalls',
        unit: 'ms',
        series: [stalls('host', 'the canary woke late'), stalls('guest-cpu', "the guest's threads waited for a CPU")],
      },
      {
        title: 'Host CPUs per second',
        unit: '% of CPU time',
        series: [
          { name: 'idle', points: trace.seconds.map((s) => [(s.atMs - t0) / 1000, s.idle * 100] as const) },
          { name: 'stolen by the hypervisor', points: trace.seconds.map((s) => [(s.atMs - t0) / 1000, s.steal * 100] as const) },
        ],
      },
    ],
    { title, xLabel: 'seconds into the window' },
  );
}
