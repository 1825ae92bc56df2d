// RFC 2544 results as a person reads them in the report: tables (HTML, and Markdown for logs) and
// line charts (SVG), in the style of report-visuals.ts and built the same way, without a drawing
// library. Every rate column shows what was offered next to what the generator achieved, so a slow
// generator is never read as a slow guest.
//
// Pure: results in, text out.
import type { BackToBackResult, JudgedTrial, LabCeiling, NdrPdrResult, RateBound, SearchTrial, TrialSpread } from './search.ts';
import { escapeXml, htmlTablePage, svgAxes } from '../report/visuals.ts';

/** Everything measured for one frame size. Rates are frames/s per direction. */
export interface SizeResults {
  /** On the wire, with FCS. */
  wireSize: number;
  /** The highest rate offered: measured on the lab, or the profile's. */
  ceiling?: LabCeiling;
  throughput?: NdrPdrResult;
  /** The latency trial at the NDR. */
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

export function throughputTable(results: readonly SizeResults[]): Table {
  const rows = results
    .filter((r) => r.throughput)
    .map((r) => {
      const t = r.throughput!;
      const lat = r.latency?.latencyUs;
      return [
        { text: String(r.wireSize) },
        { text: ceilingText(r.ceiling, t.ceilingPps) },
        ...boundCells(t.ndr, r.wireSize),
        ...boundCells(t.pdr, r.wireSize),
        { text: `${t.trials.length}${t.budgetExhausted ? ' (budget spent)' : ''}`, alert: t.budgetExhausted },
        ...(lat ? [lat.p50, lat.p99, lat.max].map((v) => ({ text: fmtUs(v) })) : [{ text: '–' }, { text: '–' }, { text: '–' }]),
        { text: r.latency ? `${fmt(r.latency.lost)} lost` : '–', alert: (r.latency?.lost ?? 0) > 0 },
      ];
    });
  const pdr = results.find((r) => r.throughput)?.throughput?.pdrLossRatio;
  const bound = (name: string) => [
    { title: `${name} pps`, numeric: true },
    { title: `${name} Mbit/s`, numeric: true },
    { title: `${name} first failing rate`, numeric: true },
    { title: `${name} limited by`, numeric: false },
    { title: `${name} at its rate: trials, loss, forwarded pps`, numeric: false },
  ];
  return {
    title: 'RFC 2544 throughput: NDR and PDR, latency at the NDR',
    columns: [
      { title: 'frame bytes (wire)', numeric: true },
      { title: 'ceiling pps', numeric: true },
      ...bound('NDR'),
      ...bound(`PDR (≤ ${pdr === undefined ? '?' : pct(pdr)} loss)`),
      { title: 'trials', numeric: true },
      { title: 'latency p50 µs', numeric: true },
      { title: 'p99 µs', numeric: true },
      { title: 'max µs', numeric: true },
      { title: 'latency trial', numeric: false },
    ],
    rows,
    notes: [
      'NDR: the highest offered rate without loss; PDR: the highest with loss at most the declared ratio. One search finds both ' +
        '(every trial counts for both): the ceiling first, then the rate the guest forwarded there, then bisection; each final ' +
        'rate is confirmed by repeat trials, whose spread is shown ("at its rate"). A failed repeat makes that rate a failing one ' +
        '(listed as unconfirmed) and the search goes on below it.',
      'Ceiling: "measured" is the rate the generator achieves at top speed through the lab\'s own path to the guest\'s port ' +
        '(per frame size); "profile" is maxPps. "limited by ceiling": the guest passed there (the figure is a lower bound); ' +
        '"generator": the guest passed at the ceiling, where the generator fell short of it. Where the generator fell short ' +
        'in every trial at the final rate, only what it sent is credited ("achieved").',
      "Latency: a separate trial at the NDR; between the guest's two ports, one clock.",
      RATE_NOTE,
    ],
  };
}

function ceilingText(c: LabCeiling | undefined, pps: number): string {
  if (!c || c.source === 'profile') return `${fmt(pps)} (profile)`;
  return `${fmt(pps)} (measured: generator ${fmt(c.generatorPps ?? 0)}, ${Math.round((c.deliveredShare ?? 0) * 100)}% delivered)`;
}

function boundCells(b: RateBound, wireSize: number): { text: string; alert?: boolean }[] {
  return [
    { text: `${fmt(b.ratePps)}${b.generatorShort ? ' (achieved)' : ''}`, alert: b.ratePps === 0 || b.generatorShort },
    { text: fmt(mbps(b.ratePps, wireSize)) },
    { text: b.failedAbovePps === undefined ? '–' : fmt(b.failedAbovePps) },
    { text: b.limitedBy, alert: b.limitedBy === 'generator' },
    {
      text: spreadText(b.spread) + (b.unconfirmed.length > 0 ? `; unconfirmed at ${b.unconfirmed.map(fmt).join(', ')}` : ''),
      alert: b.unconfirmed.length > 0,
    },
  ];
}

/** "2 trials: loss 0–0.10%, forwarded 4,100–4,300" */
export function spreadText(s: TrialSpread | undefined): string {
  if (!s) return '–';
  const range = (a: string, b: string) => (a === b ? a : `${a}–${b}`);
  return (
    `${s.trials} trial${s.trials === 1 ? '' : 's'}: loss ${range(pct(s.lossRatio.min), pct(s.lossRatio.max))}, ` +
    `forwarded ${range(fmt(s.forwardingPps.min), fmt(s.forwardingPps.max))}`
  );
}

export function trialsTable(results: readonly SizeResults[]): Table {
  const rows: Table['rows'] = [];
  for (const r of results) {
    const groups: [string, readonly JudgedTrial[]][] = [
      ['ceiling', []],
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
          { text: 'purpose' in t ? `${kind} (${(t as SearchTrial).purpose})` : kind },
          { text: burst === undefined ? fmt(t.offeredPps) : `burst ${fmt(burst)}` },
          rateCell(burst === undefined ? t : undefined, t.achievedPps),
          { text: fmt(t.sent) },
          { text: fmt(t.received) },
          { text: t.lost === 0 ? '0' : `${fmt(t.lost)} (${pct(t.lossRatio)})`, alert: t.lost > 0 },
          verdictCell(t),
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

function verdictCell(t: JudgedTrial): { text: string; alert?: boolean } {
  if ('pdrPassed' in t)
    return t.passed ? { text: 'NDR pass' } : (t as SearchTrial).pdrPassed ? { text: 'PDR pass' } : { text: 'fail', alert: true };
  return t.passed ? { text: 'pass' } : { text: 'fail', alert: true };
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
    notes: [
      'From the ceiling down, each step a fixed fraction below the last, until two steps in a row lose nothing (or the step ' +
        'budget runs out).',
      RATE_NOTE,
    ],
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

/** NDR and PDR over frame size, with the ceiling they were searched under. */
export function throughputChartSvg(results: readonly SizeResults[]): string {
  const withT = results.filter((r) => r.throughput);
  return lineChartSvg(
    [
      { name: 'NDR (zero loss)', points: withT.map((r) => [r.wireSize, r.throughput!.ndr.ratePps] as const) },
      { name: 'PDR (partial drop ratio)', points: withT.map((r) => [r.wireSize, r.throughput!.pdr.ratePps] as const) },
      { name: 'ceiling (what the lab can offer)', points: withT.map((r) => [r.wireSize, r.throughput!.ceilingPps] as const), dashed: true },
    ],
    { title: 'RFC 2544 NDR and PDR by frame size', xLabel: 'frame size on the wire (bytes)', yLabel: 'frames/s per direction' },
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

/** Latency percentiles at the NDR over frame size. */
export function latencyChartSvg(results: readonly SizeResults[]): string {
  const withL = results.filter((r) => r.latency?.latencyUs);
  return lineChartSvg(
    [
      { name: 'p50', points: withL.map((r) => [r.wireSize, r.latency!.latencyUs!.p50] as const) },
      { name: 'p99', points: withL.map((r) => [r.wireSize, r.latency!.latencyUs!.p99] as const) },
    ],
    {
      title: 'RFC 2544 latency at the NDR',
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
