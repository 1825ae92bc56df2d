// What a person looks at in the report: a flow table (Markdown for logs, HTML for Allure) and a
// latency histogram (SVG), both plain strings built here without any drawing library.
//
// Pure: reports in, text out. Everything shown comes from the one frame join (lib/analysis/flow-report.ts):
// the histogram plots the per-frame latencies it recorded, so the report cannot contradict the verdict.
import type { FlowResult, RewriteCounts, TrafficReport } from '../analysis/flow-report.ts';
import type { InjectionResult } from '../analysis/run.ts';
import type { CapturePoint } from '../core/sides.ts';

/** What the table is made of: a report, and the injections that produced it (for the achieved rate). */
export interface TableInput {
  name?: string;
  report: TrafficReport;
  injections?: readonly InjectionResult[];
  /** For a policy's flows, by flow name: what the policy declares and what the captures show (two more columns). */
  policy?: Readonly<Record<string, PolicyCells>>;
}

export interface PolicyCells {
  declared: string;
  observed: string;
  /** The flow's policy checks passed (else the observed cell is marked). */
  pass: boolean;
}

const POLICY_COLUMNS: Column[] = [
  { title: 'declared', numeric: false },
  { title: 'observed', numeric: false },
];

/** The table's columns: the policy's two after the direction, when the input has them. */
function columnsOf(input: TableInput): Column[] {
  return input.policy ? [...COLUMNS.slice(0, 2), ...POLICY_COLUMNS, ...COLUMNS.slice(2)] : COLUMNS;
}

interface Column {
  title: string;
  /** Right-aligned (numbers). */
  numeric: boolean;
}

interface Cell {
  text: string;
  /** Something the reader should look at (loss, duplicates, reordering, changed frames, a slow generator). */
  alert?: boolean;
}

const COLUMNS: Column[] = [
  { title: 'flow', numeric: false },
  { title: 'direction', numeric: false },
  { title: 'sent', numeric: true },
  { title: 'rx left host', numeric: true },
  { title: 'rx guest left', numeric: true },
  { title: 'rx guest right', numeric: true },
  { title: 'rx right host', numeric: true },
  { title: 'lost', numeric: true },
  { title: 'dup', numeric: true },
  { title: 'reflected', numeric: true },
  { title: 'reordered', numeric: true },
  { title: 'p50 µs', numeric: true },
  { title: 'p90 µs', numeric: true },
  { title: 'p99 µs', numeric: true },
  { title: 'max µs', numeric: true },
  { title: 'rewrites', numeric: false },
  { title: 'rate pps (achieved / requested)', numeric: false },
];

const RX_POINTS: CapturePoint[] = ['left-host', 'guest-left', 'guest-right', 'right-host'];

/** One row per flow, in column order. */
export function flowTableRows(input: TableInput): Cell[][] {
  return input.report.flows.map((f) => {
    const lat = f.latencyUs;
    const inj = input.injections?.find((i) => i.side === f.from);
    const policy = input.policy?.[f.name];
    const policyCells: Cell[] = input.policy
      ? [{ text: policy?.declared ?? '–' }, { text: policy?.observed ?? '–', alert: policy ? !policy.pass : false }]
      : [];
    return [
      { text: f.name },
      { text: `${f.from} → ${f.to}` },
      ...policyCells,
      { text: n(f.sent) },
      ...RX_POINTS.map((p) => ({ text: n(f.received[p]) })),
      { text: f.lost === 0 ? '0' : `${n(f.lost)} (${percent(f.lost, f.sent)})`, alert: f.lost > 0 },
      { text: n(f.duplicated), alert: f.duplicated > 0 },
      reflectedCell(f),
      {
        text: f.reordered.count === 0 ? '0' : `${n(f.reordered.count)} (max ${n(f.reordered.maxDisplacement)})`,
        alert: f.reordered.count > 0,
      },
      ...(lat
        ? [lat.p50, lat.p90, lat.p99, lat.max].map((v) => ({ text: fmtUs(v) }))
        : [{ text: '–' }, { text: '–' }, { text: '–' }, { text: '–' }]),
      rewritesCell(f),
      rateCell(inj),
    ];
  });
}

/** Notes under the table: capture drops and frames the guest emitted. */
export function flowTableNotes(input: TableInput): string[] {
  const notes: string[] = [];
  const drops = Object.entries(input.report.captureDrops).filter(([, v]) => (v ?? 0) > 0);
  if (drops.length > 0)
    notes.push(`Capture drops (frames tcpdump lost; counts there may be low): ${drops.map(([p, v]) => `${p} ${n(v!)}`).join(', ')}.`);
  for (const x of input.report.emissions) {
    if (x.fromGuest === 0) continue;
    const classes = Object.entries(x.byClass).map(([cls, count]) => `${n(count)} ${cls}`);
    notes.push(`Frames the guest sent by itself, seen at ${x.point}: ${n(x.fromGuest)} (${classes.join(', ')}).`);
  }
  if (input.report.flows.some((f) => f.latencyUs))
    notes.push("Latency: between the guest's two ports (its ingress port → its egress port), one clock.");
  if (input.injections?.length) notes.push('Rate: per sending host, all of its flows together.');
  return notes;
}

/** The flow table as GitHub-flavoured Markdown (for logs and failure messages). */
export function flowTableMarkdown(input: TableInput): string {
  const rows = flowTableRows(input);
  const columns = columnsOf(input);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `| ${columns.map((c) => c.title).join(' | ')} |`,
    `| ${columns.map((c) => (c.numeric ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map((c) => esc(c.alert ? `**${c.text}**` : c.text)).join(' | ')} |`),
  ];
  const notes = flowTableNotes(input);
  const title = input.name ? `### Traffic: ${input.name}\n\n` : '';
  return `${title}${lines.join('\n')}\n${notes.length > 0 ? `\n${notes.map((x) => `- ${x}`).join('\n')}\n` : ''}`;
}

/** The flow table as a small self-contained HTML page (an Allure text/html attachment). */
export function flowTableHtml(input: TableInput): string {
  const rows = flowTableRows(input);
  const columns = columnsOf(input);
  const head = columns.map((c) => `<th${c.numeric ? ' class="num"' : ''}>${escapeXml(c.title)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${cellClass(columns[i]!, c)}>${escapeXml(c.text)}</td>`).join('')}</tr>`)
    .join('\n');
  const notes = flowTableNotes(input);
  const title = `Traffic${input.name ? `: ${input.name}` : ''}`;
  return htmlTablePage(title, head, body, notes);
}

/** A self-contained HTML page with one table (head and body rows already rendered) and notes under it. */
export function htmlTablePage(title: string, headRow: string, bodyRows: string, notes: readonly string[]): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>
body { font: 13px/1.4 system-ui, sans-serif; margin: 12px; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 3px 7px; white-space: nowrap; }
th { background: #f2f2f2; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.alert { background: #fde2e1; color: #a00; font-weight: 600; }
ul { padding-left: 18px; }
</style></head>
<body>
<h3>${escapeXml(title)}</h3>
<table>
<thead><tr>${headRow}</tr></thead>
<tbody>
${bodyRows}
</tbody>
</table>
${notes.length > 0 ? `<ul>${notes.map((x) => `<li>${escapeXml(x)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}

function cellClass(col: Column, cell: Cell): string {
  const classes = [col.numeric ? 'num' : '', cell.alert ? 'alert' : ''].filter(Boolean);
  return classes.length > 0 ? ` class="${classes.join(' ')}"` : '';
}

function reflectedCell(f: FlowResult): Cell {
  const count = Math.max(f.reflected.atIngressPort, f.reflected.atSender);
  return { text: n(count), alert: count > 0 };
}

function rewritesCell(f: FlowResult): Cell {
  const arrived = f.sent - f.lost;
  const r: RewriteCounts = f.rewrites;
  if (arrived === 0) return { text: '–' };
  if (r.unchanged === arrived) return { text: 'none (byte-exact)' };
  const parts: string[] = [];
  if (r.unchanged > 0) parts.push(`unchanged ${n(r.unchanged)}`);
  if (r.srcMac) parts.push(`src MAC ${n(r.srcMac)}`);
  if (r.dstMac) parts.push(`dst MAC ${n(r.dstMac)}`);
  for (const [delta, count] of Object.entries(r.hopLimitDelta)) parts.push(`TTL ${Number(delta) > 0 ? '+' : ''}${delta} ${n(count)}`);
  if (r.vlanTags) parts.push(`VLAN ${n(r.vlanTags)}`);
  if (r.length) parts.push(`length ${n(r.length)}`);
  if (r.payload) parts.push(`payload ${n(r.payload)}`);
  if (r.badChecksum) parts.push(`bad checksum ${n(r.badChecksum)}`);
  // Changed frames are not by themselves wrong (an L3 forwarder must rewrite): only bad ones are flagged.
  return { text: parts.join(', '), alert: r.payload > 0 || r.badChecksum > 0 || r.length > 0 };
}

function rateCell(inj: InjectionResult | undefined): Cell {
  if (!inj) return { text: '–' };
  const achieved = n(Math.round(inj.achievedPps));
  if (inj.requestedPps === 'max') return { text: `${achieved} / max` };
  const ratio = inj.requestedPps > 0 ? inj.achievedPps / inj.requestedPps : 1;
  return { text: `${achieved} / ${n(inj.requestedPps)} (${Math.round(ratio * 100)}%)`, alert: ratio < 0.9 || inj.failed > 0 };
}

// ---------------------------------------------------------------------------------------------
// Latency samples, as the frame join recorded them

export interface LatencySeries {
  name: string;
  /** One latency per frame seen at both guest ports, µs. */
  samplesUs: ArrayLike<number>;
}

/** Per-frame latencies of each flow, in flow order, from the report (first sighting at the egress port minus at the ingress port). */
export function latencySeries(report: TrafficReport): LatencySeries[] {
  return report.flows.map((f) => ({ name: f.name, samplesUs: f.latencySamplesUs }));
}

// ---------------------------------------------------------------------------------------------
// Latency histogram (SVG)

export interface HistogramOptions {
  title?: string;
  width?: number;
  height?: number;
}

/** Okabe–Ito colours: distinguishable with the common colour-vision deficiencies. */
export const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

const MARGIN = { left: 64, right: 20, top: 42, bottom: 52 };

/**
 * A histogram of latencies on a log-spaced µs axis, one outlined series per flow, each bin's height
 * the share of that flow's frames (so flows of different sizes compare). The axis spans whole decades;
 * bins are finer the fewer decades the data spans. A flow without samples appears in the legend only.
 */
export function latencyHistogramSvg(series: readonly LatencySeries[], options: HistogramOptions = {}): string {
  const width = options.width ?? 760;
  const height = options.height ?? 380;
  const title = options.title ?? 'Latency through the guest';
  const plot = { x: MARGIN.left, y: MARGIN.top, w: width - MARGIN.left - MARGIN.right, h: height - MARGIN.top - MARGIN.bottom };
  // The legend goes under the plot, one row per flow, so it never hides a bar.
  const totalHeight = height + LEGEND_ROW * series.length + 8;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${totalHeight}" viewBox="0 0 ${width} ${totalHeight}" ` +
      `font-family="system-ui, 'DejaVu Sans', sans-serif" font-size="12">`,
  );
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${totalHeight}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(title)}</text>`);

  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.samplesUs.length; i++) {
      const v = s.samplesUs[i]!;
      if (v > 0) lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!Number.isFinite(lo) || hi <= 0) {
    out.push(`<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#999"/>`);
    out.push(
      `<text x="${plot.x + plot.w / 2}" y="${plot.y + plot.h / 2}" text-anchor="middle" fill="#555">no frame was seen at both guest ` +
        `ports: no latency to show</text>`,
    );
    out.push(legend(series, plot.x, height));
    out.push('</svg>');
    return out.join('\n');
  }

  // The x axis spans whole decades around the data: ticks at 1, 2, 5 × 10^k read naturally.
  const decadeLo = Math.floor(Math.log10(lo));
  const decadeHi = Math.max(decadeLo + 1, Math.ceil(Math.log10(hi)));
  const decades = decadeHi - decadeLo;
  // About 20–40 bins across the axis: finer when the data sits within a decade or two.
  const perDecade = decades === 1 ? 30 : decades === 2 ? 15 : decades === 3 ? 10 : 5;
  const binCount = (decadeHi - decadeLo) * perDecade;
  const edge = (i: number) => 10 ** (decadeLo + i / perDecade);
  const xOf = (us: number) => plot.x + ((Math.log10(us) - decadeLo) / decades) * plot.w;
  const binOf = (us: number) => (us <= 0 ? 0 : Math.min(binCount - 1, Math.max(0, Math.floor((Math.log10(us) - decadeLo) * perDecade))));

  const shares = series.map((s) => {
    const counts = new Array<number>(binCount).fill(0);
    for (let i = 0; i < s.samplesUs.length; i++) counts[binOf(s.samplesUs[i]!)]!++;
    return counts.map((c) => (s.samplesUs.length > 0 ? (100 * c) / s.samplesUs.length : 0));
  });
  const yStep = niceCeil(Math.max(...shares.flat(), 1) / 4);
  const yMax = yStep * Math.ceil(Math.max(...shares.flat(), 1) / yStep);
  const yOf = (pct: number) => plot.y + plot.h - (pct / yMax) * plot.h;

  // Grid and axes.
  out.push('<g class="grid" stroke="#e6e6e6" stroke-width="1">');
  for (let t = 0; t <= yMax + 1e-9; t += yStep)
    out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${r(yOf(t))}" y2="${r(yOf(t))}"/>`);
  for (let d = decadeLo; d <= decadeHi; d++)
    out.push(`<line x1="${r(xOf(10 ** d))}" x2="${r(xOf(10 ** d))}" y1="${plot.y}" y2="${plot.y + plot.h}"/>`);
  out.push('</g>');
  out.push(svgAxes(plot));

  out.push('<g class="x-ticks" text-anchor="middle" fill="#333">');
  const labelMinor = decades <= 3;
  const multiples = decades === 1 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : [1, 2, 5];
  for (let d = decadeLo; d <= decadeHi; d++) {
    for (const m of multiples) {
      const v = m * 10 ** d;
      if (v > 10 ** decadeHi * 1.0001) break;
      const x = r(xOf(v));
      const major = m === 1;
      out.push(`<line x1="${x}" x2="${x}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h + (major ? 6 : 3)}" stroke="#333"/>`);
      if (major || labelMinor)
        out.push(`<text x="${x}" y="${plot.y + plot.h + 19}"${major ? '' : ' fill="#777" font-size="10"'}>${escapeXml(fmtTick(v))}</text>`);
    }
  }
  out.push('</g>');
  out.push(
    `<text class="x-label" x="${plot.x + plot.w / 2}" y="${height - 10}" text-anchor="middle">latency, guest ingress port → egress ` +
      `port (µs, log scale)</text>`,
  );

  out.push('<g class="y-ticks" text-anchor="end" fill="#333">');
  for (let t = 0; t <= yMax + 1e-9; t += yStep) out.push(`<text x="${plot.x - 6}" y="${r(yOf(t) + 4)}">${fmtPercent(t)}</text>`);
  out.push('</g>');
  out.push(
    `<text class="y-label" transform="translate(16 ${plot.y + plot.h / 2}) rotate(-90)" text-anchor="middle">frames (% of the flow)</text>`,
  );

  // One outlined step path per flow with samples.
  out.push('<g class="series" fill-opacity="0.12" stroke-width="1.8" stroke-linejoin="round">');
  series.forEach((s, k) => {
    if (s.samplesUs.length === 0) return;
    const colour = COLOURS[k % COLOURS.length]!;
    const base = r(yOf(0));
    let d = `M${r(xOf(edge(0)))},${base}`;
    shares[k]!.forEach((pct, i) => {
      d += ` V${r(yOf(pct))} H${r(xOf(edge(i + 1)))}`;
    });
    d += ` V${base} Z`;
    out.push(`<path data-flow="${escapeXml(s.name)}" d="${d}" stroke="${colour}" fill="${colour}"/>`);
  });
  out.push('</g>');
  out.push(legend(series, plot.x, height));
  out.push('</svg>');
  return out.join('\n');
}

const LEGEND_ROW = 18;

/** One row per flow under the plot: its colour, name, p50, p99 and number of frames. */
function legend(series: readonly LatencySeries[], x: number, top: number): string {
  const parts = ['<g class="legend">'];
  series.forEach((s, k) => {
    const sorted = Float64Array.from(s.samplesUs).sort();
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
    const line =
      sorted.length === 0
        ? `${s.name}: no samples`
        : `${s.name}: p50 ${fmtUs(at(50))} µs, p99 ${fmtUs(at(99))} µs, ${n(sorted.length)} frames`;
    const y = top + LEGEND_ROW * k + LEGEND_ROW / 2;
    const colour = COLOURS[k % COLOURS.length]!;
    parts.push(
      `<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" stroke="${colour}" stroke-width="3"/><text x="${x + 30}" ` +
        `y="${y + 4}">${escapeXml(line)}</text>`,
    );
  });
  parts.push('</g>');
  return parts.join('');
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above `v`. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v - 1e-9) return m * p;
  return 10 * p;
}

function fmtTick(us: number): string {
  return us >= 1 ? n(us) : String(Number(us.toPrecision(1)));
}

function fmtPercent(p: number): string {
  return `${Number(p.toPrecision(3))}%`;
}

// ---------------------------------------------------------------------------------------------

/** The x and y axis lines of a plot area. */
export function svgAxes(plot: { x: number; y: number; w: number; h: number }): string {
  const bottom = plot.y + plot.h;
  return (
    `<g class="axes" stroke="#333" stroke-width="1"><line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${bottom}" y2="${bottom}"/>` +
    `<line x1="${plot.x}" x2="${plot.x}" y1="${plot.y}" y2="${bottom}"/></g>`
  );
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function r(x: number): number {
  return Math.round(x * 10) / 10;
}

function n(x: number): string {
  return x.toLocaleString('en-US');
}

function fmtUs(us: number): string {
  if (us >= 100) return n(Math.round(us));
  return String(Number(us.toPrecision(3)));
}

function percent(part: number, whole: number): string {
  const p = whole > 0 ? (part / whole) * 100 : 0;
  return `${p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toPrecision(2)}%`;
}
