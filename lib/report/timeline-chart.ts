// Time series as stacked SVG panels on one shared time axis: what a soak's timeline (latency, loss,
// guest memory, the host's stalls) and a timed window's "latency beside the host canary" are drawn
// with. Each panel has its own y scale and unit, optional bound lines and marks (the second a check
// failed). Self-contained SVG, no script: it renders in a browser from an Allure attachment.
//
// Pure: numbers in, SVG text out.
import { COLOURS, escapeXml, svgAxes } from './visuals.ts';

export interface TimeSeries {
  name: string;
  /** [x, y] in the chart's x unit and the panel's y unit; x ascending. */
  points: readonly (readonly [number, number])[];
  /** Lines join the points; bars stand on the axis (stalls, loss). */
  kind?: 'line' | 'bars';
}

export interface TimelinePanel {
  title: string;
  unit: string;
  series: readonly TimeSeries[];
  /** A horizontal line: a check's bound. */
  bound?: { y: number; label: string };
}

export interface TimelineOptions {
  title: string;
  xLabel: string;
  /** Vertical marks across every panel (e.g. "loss burst" at second 23). */
  marks?: readonly { x: number; label: string }[];
  width?: number;
  panelHeight?: number;
}

const MARGIN = { left: 70, right: 24, top: 40, bottom: 40 };
const PANEL_GAP = 46;

export function timelineSvg(panels: readonly TimelinePanel[], o: TimelineOptions): string {
  const width = o.width ?? 900;
  const panelHeight = o.panelHeight ?? 150;
  const plotW = width - MARGIN.left - MARGIN.right;
  const height = MARGIN.top + panels.length * (panelHeight + PANEL_GAP) + MARGIN.bottom;
  const xs = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt[0])));
  const x0 = xs.length ? Math.min(0, ...xs) : 0;
  const x1 = xs.length ? Math.max(x0 + 1, ...xs) : 1;
  const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, 'DejaVu Sans', sans-serif" font-size="11">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(o.title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const top = MARGIN.top + i * (panelHeight + PANEL_GAP) + 18;
    const plot = { x: MARGIN.left, y: top, w: plotW, h: panelHeight - 18 };
    const ys = panel.series.flatMap((s) => s.points.map((pt) => pt[1])).filter(Number.isFinite);
    const yMax = niceCeiling(Math.max(panel.bound ? panel.bound.y * 1.1 : 0, ...ys, 1));
    const sy = (y: number) => plot.y + plot.h - (Math.max(0, y) / yMax) * plot.h;
    out.push(`<text x="${plot.x}" y="${top - 6}" font-size="12" font-weight="600">${escapeXml(`${panel.title} (${panel.unit})`)}</text>`);
    out.push(svgAxes(plot));
    for (const t of [0, 0.5, 1]) {
      const y = sy(yMax * t);
      out.push(`<text x="${plot.x - 6}" y="${r(y + 4)}" text-anchor="end">${fmt(yMax * t)}</text>`);
      if (t > 0) out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${r(y)}" y2="${r(y)}" stroke="#ddd"/>`);
    }
    if (panel.bound) {
      const y = r(sy(panel.bound.y));
      out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" stroke="#b00" stroke-dasharray="5 4"/>`);
      out.push(`<text x="${plot.x + plot.w}" y="${y - 4}" text-anchor="end" fill="#b00">${escapeXml(panel.bound.label)}</text>`);
    }
    panel.series.forEach((s, k) => {
      const colour = COLOURS[k % COLOURS.length]!;
      if (s.kind === 'bars') {
        const barW = Math.max(1, plotW / Math.max(1, s.points.length) / 1.5);
        for (const [x, y] of s.points) {
          if (!(y > 0)) continue;
          out.push(
            `<rect x="${r(sx(x) - barW / 2)}" y="${r(sy(y))}" width="${r(barW)}" height="${r(plot.y + plot.h - sy(y))}" ` +
              `fill="${colour}" fill-opacity="0.7"/>`,
          );
        }
      } else if (s.points.length > 0) {
        const d = s.points
          .filter(([, y]) => Number.isFinite(y))
          .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${r(sx(x))},${r(sy(y))}`)
          .join('');
        out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.4"/>`);
      }
      // Legend entries side by side, each as wide as its name.
      const lx = plot.x + 8 + panel.series.slice(0, k).reduce((w, x) => w + 30 + x.name.length * 6.2, 0);
      out.push(`<rect x="${lx}" y="${top - 2}" width="10" height="3" fill="${colour}"/>`);
      out.push(`<text x="${lx + 14}" y="${top + 2}">${escapeXml(s.name)}</text>`);
    });
  });
  const bottom = height - MARGIN.bottom;
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const x = x0 + (x1 - x0) * t;
    out.push(`<text x="${r(sx(x))}" y="${bottom + 14}" text-anchor="middle">${fmt(x)}</text>`);
  }
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${bottom + 30}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  for (const m of o.marks ?? []) {
    const x = r(sx(m.x));
    out.push(`<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${bottom}" stroke="#b00" stroke-width="1"/>`);
    out.push(`<text x="${x + 3}" y="${MARGIN.top + 8}" fill="#b00">${escapeXml(m.label)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

/** 1, 2 or 5 times a power of ten, at or above v. */
function niceCeiling(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(3)));
}

function r(x: number): number {
  return Math.round(x * 10) / 10;
}
