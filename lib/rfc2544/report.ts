// RFC 2544 results as a person reads them in the report: tables (HTML, and Markdown for logs) and
// line charts (SVG), in the style of report-visuals.ts and built the same way, without a drawing
// library. Every rate column shows what was offered next to what the generator achieved, so a slow
// generator is never read as a slow guest.
//
// Pure: results in, text out.
import type { BackToBackResult, JudgedTrial, ThroughputResult } from './search.ts';
import { escapeXml, htmlTablePage, svgAxes } from '../report/visuals.ts';

/** Everything measured for one frame size. Rates are frames/s per direction. */
export interface SizeResults {
  /** On the wire, with FCS. */
  wireSize: number;
  throughput?: ThroughputResult;
  /** The latency trial at the throughput rate. */
  latency?: JudgedTrial;
  frameLoss?: JudgedTrial[];
  backToBack?: BackToBackResult;
}

export interface Table {
  title: string;
  columns: { title: string; numeric: boolean }[];
  rows: { text: string; alert?: boolean }[][];
  notes: string[];
}

const RATE_NOTE =
  'Rates are frames/s per direction (traffic both ways at once); "achieved" is what the generator really sent (tcpreplay), flagged ' +
  'when below 90 % of the offered rate.';

export function throughputTable(results: readonly SizeResults[], criterion: string): Table {
  const rows = results
    .filter((r) => r.throughput)
    .map((r) => {
      const t = r.throughput!;
      const lat = r.latency?.latencyUs;
      return [
        { text: String(r.wireSize) },
        { text: fmt(t.throughputPps), alert: t.throughputPps === 0 },
        rateCell(t.best),
        { text: fmt(mbps(t.throughputPps, r.wireSize)) },
        { text: t.failedAbovePps === undefined ? '–' : fmt(t.failedAbovePps) },
        { text: t.limitedBy, alert: t.limitedBy === 'generator' },
        { text: String(t.trials.length) },
        ...(lat ? [lat.p50, lat.p99, lat.max].map((v) => ({ text: fmtUs(v) })) : [{ text: '–' }, { text: '–' }, { text: '–' }]),
        { text: r.latency ? `${fmt(r.latency.lost)} lost` : '–', alert: (r.latency?.lost ?? 0) > 0 },
      ];
    });
  return {
    title: 'RFC 2544 throughput and latency',
    columns: [
      { title: 'frame bytes (wire)', numeric: true },
      { title: 'throughput pps', numeric: true },
      { title: 'achieved / offered at throughput', numeric: false },
      { title: 'Mbit/s (frames)', numeric: true },
      { title: 'first failing rate', numeric: true },
      { title: 'limited by', numeric: false },
      { title: 'trials', numeric: true },
      { title: 'latency p50 µs', numeric: true },
      { title: 'p99 µs', numeric: true },
      { title: 'max µs', numeric: true },
      { title: 'latency trial', numeric: false },
    ],
    rows,
    notes: [
      `Throughput: the highest offered rate with ${criterion} (binary search from the ceiling down). "ceiling": the guest passed at ` +
        `the highest rate offered, so the figure is a lower bound; "generator": the generator fell short of the offered rate in the ` +
        `passing trial.`,
      "Latency: a separate trial at the throughput rate; between the guest's two ports, one clock.",
      RATE_NOTE,
    ],
  };
}

export function trialsTable(results: readonly SizeResults[]): Table {
  const rows: Table['rows'] = [];
  for (const r of results) {
    const groups: [string, readonly JudgedTrial[]][] = [
      ['throughput', r.throughput?.trials ?? []],
      ['latency', r.latency ? [r.latency] : []],
      ['frame loss', r.frameLoss ?? []],
      ['back-to-back', r.backToBack?.trials ?? []],
    ];
    for (const [kind, trials] of groups) {
      for (const t of trials) {
        const burst = 'frames' in t ? (t as JudgedTrial & { frames: number }).frames : undefined;
        rows.push([
          { text: String(r.wireSize) },
          { text: kind },
          { text: burst === undefined ? fmt(t.offeredPps) : `burst ${fmt(burst)}` },
          rateCell(burst === undefined ? t : undefined, t.achievedPps),
          { text: fmt(t.sent) },
          { text: fmt(t.received) },
          { text: t.lost === 0 ? '0' : `${fmt(t.lost)} (${pct(t.lossRatio)})`, alert: t.lost > 0 },
          { text: t.passed ? 'pass' : 'fail', alert: !t.passed },
          { text: t.latencyUs ? fmtUs(t.latencyUs.p99) : '–' },
          { text: t.captureDrops ? fmt(t.captureDrops) : '0', alert: (t.captureDrops ?? 0) > 0 },
        ]);
      }
    }
  }
  return {
    title: 'RFC 2544 trials (every trial, in order)',
    columns: [
      { title: 'frame bytes', numeric: true },
      { title: 'measurement', numeric: false },
      { title: 'offered pps', numeric: true },
      { title: 'achieved pps', numeric: false },
      { title: 'sent', numeric: true },
      { title: 'received', numeric: true },
      { title: 'lost', numeric: true },
      { title: 'verdict', numeric: false },
      { title: 'p99 µs', numeric: true },
      { title: 'capture drops', numeric: true },
    ],
    rows,
    notes: [
      RATE_NOTE,
      "Back-to-back bursts are sent at top speed: their achieved rate is the generator's top speed.",
      'Capture drops: frames tcpdump lost; counts may be low then.',
    ],
  };
}

export function frameLossTable(results: readonly SizeResults[]): Table {
  const rows: Table['rows'] = [];
  for (const r of results) {
    for (const t of r.frameLoss ?? []) {
      rows.push([
        { text: String(r.wireSize) },
        { text: fmt(t.offeredPps) },
        rateCell(t),
        { text: fmt(t.sent) },
        { text: fmt(t.lost), alert: t.lost > 0 },
        { text: pct(t.lossRatio), alert: t.lost > 0 },
      ]);
    }
  }
  return {
    title: 'RFC 2544 frame loss rate over offered load',
    columns: [
      { title: 'frame bytes', numeric: true },
      { title: 'offered pps', numeric: true },
      { title: 'achieved / offered', numeric: false },
      { title: 'sent', numeric: true },
      { title: 'lost', numeric: true },
      { title: 'loss rate', numeric: true },
    ],
    rows,
    notes: ['From the ceiling down in steps until two steps in a row lose nothing (or the step budget runs out).', RATE_NOTE],
  };
}

export function backToBackTable(results: readonly SizeResults[]): Table {
  const rows = results
    .filter((r) => r.backToBack)
    .map((r) => {
      const b = r.backToBack!;
      const top = b.trials.length > 0 ? Math.max(...b.trials.map((t) => t.achievedPps)) : 0;
      return [
        { text: String(r.wireSize) },
        { text: fmt(b.frames), alert: b.frames === 0 },
        { text: b.perRepeat.map(fmt).join(', ') },
        { text: b.limitedBy },
        { text: fmt(top) },
        { text: String(b.trials.length) },
      ];
    });
  return {
    title: 'RFC 2544 back-to-back frames',
    columns: [
      { title: 'frame bytes', numeric: true },
      { title: 'longest whole burst (frames, mean)', numeric: true },
      { title: 'per repeat', numeric: false },
      { title: 'limited by', numeric: false },
      { title: 'generator top speed pps', numeric: true },
      { title: 'trials', numeric: true },
    ],
    rows,
    notes: [
      'Bursts at the generator\'s top speed, each way at once; binary search on the burst length. "ceiling": the longest burst tried ' +
        'arrived whole (a lower bound).',
    ],
  };
}

function rateCell(t: JudgedTrial | undefined, achieved?: number): { text: string; alert?: boolean } {
  if (!t) return { text: achieved === undefined ? '–' : fmt(achieved) };
  if (t.offeredPps === 0) return { text: fmt(t.achievedPps) };
  return {
    text: `${fmt(t.achievedPps)} / ${fmt(t.offeredPps)} (${Math.round((t.achievedPps / t.offeredPps) * 100)}%)`,
    alert: t.generatorShort,
  };
}

export function tableHtml(table: Table): string {
  const head = table.columns.map((c) => `<th${c.numeric ? ' class="num"' : ''}>${escapeXml(c.title)}</th>`).join('');
  const body = table.rows
    .map(
      (row) =>
        `<tr>${row.map((cell, i) => `<td${classes(table.columns[i]?.numeric, cell.alert)}>${escapeXml(cell.text)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return htmlTablePage(table.title, head, body, table.notes);
}

export function tableMarkdown(table: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `### ${table.title}`,
    '',
    `| ${table.columns.map((c) => esc(c.title)).join(' | ')} |`,
    `| ${table.columns.map((c) => (c.numeric ? '---:' : '---')).join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map((c) => esc(c.alert ? `**${c.text}**` : c.text)).join(' | ')} |`),
    '',
    ...table.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

function classes(numeric: boolean | undefined, alert: boolean | undefined): string {
  const c = [numeric ? 'num' : '', alert ? 'alert' : ''].filter(Boolean);
  return c.length > 0 ? ` class="${c.join(' ')}"` : '';
}

// ---------------------------------------------------------------------------------------------
// Line charts

export interface ChartSeries {
  name: string;
  points: readonly (readonly [number, number])[];
  /** Drawn dashed (e.g. the offered rate next to the achieved one). */
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];
const MARGIN = { left: 72, right: 20, top: 42, bottom: 56 };
const LEGEND_ROW = 18;

/** A line chart on linear axes from 0, one marked line per series, legend under the plot. */
export function lineChartSvg(series: readonly ChartSeries[], o: ChartOptions): string {
  const width = o.width ?? 760;
  const height = o.height ?? 360;
  const total = height + LEGEND_ROW * series.length + 8;
  const plot = { x: MARGIN.left, y: MARGIN.top, w: width - MARGIN.left - MARGIN.right, h: height - MARGIN.top - MARGIN.bottom };
  const all = series.flatMap((s) => s.points);
  const xMax = niceCeil(Math.max(1, ...all.map((p) => p[0])));
  const yMax = niceCeil(Math.max(1, ...all.map((p) => p[1])));
  const X = (v: number) => plot.x + (v / xMax) * plot.w;
  const Y = (v: number) => plot.y + plot.h - (v / yMax) * plot.h;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${total}" viewBox="0 0 ${width} ${total}" ` +
      `font-family="system-ui, 'DejaVu Sans', sans-serif" font-size="12">`,
  );
  out.push(`<title>${escapeXml(o.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${total}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(o.title)}</text>`);
  out.push('<g class="grid" stroke="#e6e6e6" stroke-width="1">');
  for (let i = 1; i <= 5; i++)
    out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${r(Y((yMax * i) / 5))}" y2="${r(Y((yMax * i) / 5))}"/>`);
  out.push('</g>');
  out.push(svgAxes(plot));
  out.push('<g class="x-ticks" text-anchor="middle" fill="#333">');
  for (let i = 0; i <= 5; i++)
    out.push(`<text x="${r(X((xMax * i) / 5))}" y="${plot.y + plot.h + 18}">${escapeXml(fmt((xMax * i) / 5))}</text>`);
  out.push('</g><g class="y-ticks" text-anchor="end" fill="#333">');
  for (let i = 0; i <= 5; i++) out.push(`<text x="${plot.x - 6}" y="${r(Y((yMax * i) / 5)) + 4}">${escapeXml(fmt((yMax * i) / 5))}</text>`);
  out.push('</g>');
  out.push(`<text x="${plot.x + plot.w / 2}" y="${plot.y + plot.h + 40}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${plot.y + plot.h / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  if (all.length === 0)
    out.push(`<text x="${plot.x + plot.w / 2}" y="${plot.y + plot.h / 2}" text-anchor="middle" fill="#555">nothing measured</text>`);
  out.push('<g class="series" fill="none" stroke-width="2" stroke-linejoin="round">');
  series.forEach((s, k) => {
    const colour = COLOURS[k % COLOURS.length]!;
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    if (pts.length > 1)
      out.push(
        `<polyline data-series="${escapeXml(s.name)}" points="${pts.map(([x, y]) => `${r(X(x))},${r(Y(y))}`).join(' ')}" ` +
          `stroke="${colour}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      );
    for (const [x, y] of pts) out.push(`<circle cx="${r(X(x))}" cy="${r(Y(y))}" r="3" fill="${colour}" stroke="none"/>`);
  });
  out.push('</g>');
  series.forEach((s, k) => {
    const y = height + k * LEGEND_ROW + 4;
    out.push(
      `<line x1="${plot.x}" x2="${plot.x + 22}" y1="${y}" y2="${y}" stroke="${COLOURS[k % COLOURS.length]}" ` +
        `stroke-width="3"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="${plot.x + 30}" y="${y + 4}">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Throughput over frame size: the rate found, and what was offered and achieved in the trial that found it. */
export function throughputChartSvg(results: readonly SizeResults[]): string {
  const withT = results.filter((r) => r.throughput);
  const found = withT.filter((r) => r.throughput!.best);
  return lineChartSvg(
    [
      {
        name: 'throughput (the achieved rate where the generator fell short)',
        points: withT.map((r) => [r.wireSize, r.throughput!.throughputPps] as const),
      },
      {
        name: 'offered in the passing trial',
        points: found.map((r) => [r.wireSize, r.throughput!.best!.offeredPps] as const),
        dashed: true,
      },
      {
        name: 'achieved by the generator in the passing trial',
        points: found.map((r) => [r.wireSize, r.throughput!.achievedPps] as const),
        dashed: true,
      },
    ],
    { title: 'RFC 2544 throughput by frame size', xLabel: 'frame size on the wire (bytes)', yLabel: 'frames/s per direction' },
  );
}

/** Loss rate over offered load, one line per frame size. */
export function frameLossChartSvg(results: readonly SizeResults[]): string {
  return lineChartSvg(
    results
      .filter((r) => r.frameLoss?.length)
      .map((r) => ({ name: `${r.wireSize}-byte frames`, points: r.frameLoss!.map((t) => [t.offeredPps, t.lossRatio * 100] as const) })),
    { title: 'RFC 2544 frame loss rate over offered load', xLabel: 'offered frames/s per direction', yLabel: 'frames lost (%)' },
  );
}

/** Latency percentiles at the throughput rate over frame size. */
export function latencyChartSvg(results: readonly SizeResults[]): string {
  const withL = results.filter((r) => r.latency?.latencyUs);
  return lineChartSvg(
    [
      { name: 'p50', points: withL.map((r) => [r.wireSize, r.latency!.latencyUs!.p50] as const) },
      { name: 'p99', points: withL.map((r) => [r.wireSize, r.latency!.latencyUs!.p99] as const) },
    ],
    {
      title: 'RFC 2544 latency at the throughput rate',
      xLabel: 'frame size on the wire (bytes)',
      yLabel: 'latency through the guest (µs)',
    },
  );
}

export function backToBackChartSvg(results: readonly SizeResults[]): string {
  return lineChartSvg(
    [
      {
        name: 'longest whole burst (mean)',
        points: results.filter((r) => r.backToBack).map((r) => [r.wireSize, r.backToBack!.frames] as const),
      },
    ],
    {
      title: 'RFC 2544 back-to-back frames by frame size',
      xLabel: 'frame size on the wire (bytes)',
      yLabel: 'frames',
    },
  );
}

/** Ethernet frame bits per second (FCS included, preamble and gap not). */
function mbps(pps: number, wireSize: number): number {
  return (pps * wireSize * 8) / 1e6;
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(x: number): string {
  if (x !== 0 && Math.abs(x) < 10 && !Number.isInteger(x)) return x.toFixed(2);
  return Math.round(x).toLocaleString('en-US');
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.001 && ratio > 0 ? 3 : 2)}%`;
}

function fmtUs(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)}`;
}

function r(x: number): number {
  return Math.round(x * 10) / 10;
}
