// What a reader of a soak's report sees: the timeline (latency per second each way against its bound,
// loss per second, the guest's memory and QEMU's RSS, the host's stalls), the rows per second as CSV,
// and the soak's own cost (wirelab's memory, the evidence's disk).
//
// Pure: a soak's rows in, SVG and text out.
import type { SoakCell, SoakSecond } from '../analysis/soak-join.ts';
import type { HealthSample } from '../analysis/soak-verdict.ts';
import { timelineSvg, type TimeSeries } from './timeline-chart.ts';

export interface SoakTimelineInput {
  title: string;
  flows: readonly { from: string; to: string }[];
  seconds: readonly SoakSecond[];
  health: readonly HealthSample[];
  latencyBoundMs: number;
  /** Seconds a check failed at, marked across every panel. */
  marks: readonly { second: number; label: string }[];
}

export function soakTimelineSvg(input: SoakTimelineInput): string {
  const per = (name: (dir: string) => string, value: (c: SoakCell) => number | undefined, kind?: 'bars'): TimeSeries[] =>
    input.flows.map((f, i) => ({
      name: name(`${f.from}→${f.to}`),
      ...(kind ? { kind } : {}),
      points: input.seconds.flatMap((s) => {
        const v = value(s.flows[i]!);
        return v === undefined ? [] : [[s.second, v] as const];
      }),
    }));
  const ms = (us: number | undefined) => (us === undefined ? undefined : us / 1000);
  return timelineSvg(
    [
      {
        title: 'Latency through the guest per second (the host’s stalls taken out)',
        unit: 'ms',
        series: [
          ...per(
            (d) => `p99 ${d}`,
            (c) => ms(c.hostFreeLatencyUs?.p99),
          ),
          ...per(
            (d) => `p50 ${d}`,
            (c) => ms(c.hostFreeLatencyUs?.p50),
          ),
        ],
        bound: { y: input.latencyBoundMs, label: `p99 bound ${input.latencyBoundMs} ms` },
      },
      {
        title: 'Frames lost per second',
        unit: 'frames',
        series: per(
          (d) => `lost ${d}`,
          (c) => c.lost,
          'bars',
        ),
      },
      {
        title: 'Guest health',
        unit: 'MiB',
        series: [
          {
            name: 'guest memory used',
            points: input.health.flatMap((h) => (h.memUsedMiB === undefined ? [] : [[h.atS, h.memUsedMiB] as const])),
          },
          { name: 'QEMU RSS', points: input.health.flatMap((h) => (h.rssMiB === undefined ? [] : [[h.atS, h.rssMiB] as const])) },
        ],
      },
      {
        title: 'Host canary: time stalled per second',
        unit: 'ms',
        series: [
          {
            name: 'host stalled',
            kind: 'bars',
            points: input.seconds.map((s) => [s.second, Math.max(...s.flows.map((c) => c.hostStalledMs))] as const),
          },
        ],
      },
    ],
    { title: input.title, xLabel: 'seconds into the soak', marks: input.marks.map((m) => ({ x: m.second, label: m.label })) },
  );
}

/** One row per second and direction. */
export function soakSecondsCsv(flows: readonly { from: string; to: string }[], seconds: readonly SoakSecond[]): string {
  const head =
    'second,direction,sent,delivered,lost,lost_at_sender,lost_before_guest,lost_in_guest,lost_after_guest,duplicated,reordered,' +
    'p50_us,p99_us,max_us,p50_us_host_free,p99_us_host_free,host_stalled_ms';
  const rows = seconds.flatMap((s) =>
    s.flows.map((c, i) =>
      [
        s.second,
        `${flows[i]!.from}->${flows[i]!.to}`,
        c.sent,
        c.delivered,
        c.lost,
        c.lostAtSender,
        c.lostBeforeGuest,
        c.lostInGuest,
        c.lostAfterGuest,
        c.duplicated,
        c.reordered,
        num(c.latencyUs?.p50),
        num(c.latencyUs?.p99),
        num(c.latencyUs?.max),
        num(c.hostFreeLatencyUs?.p50),
        num(c.hostFreeLatencyUs?.p99),
        num(c.hostStalledMs),
      ].join(','),
    ),
  );
  return [head, ...rows].join('\n') + '\n';
}

export function healthCsv(health: readonly HealthSample[]): string {
  return (
    [
      'second,guest_mem_used_mib,guest_mem_available_mib,qemu_rss_mib',
      ...health.map((h) => [h.atS.toFixed(1), num(h.memUsedMiB), num(h.memAvailableMiB), num(h.rssMiB)].join(',')),
    ].join('\n') + '\n'
  );
}

function num(v: number | undefined): string {
  return v === undefined ? '' : String(Math.round(v * 10) / 10);
}
