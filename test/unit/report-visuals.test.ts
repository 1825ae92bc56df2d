// The report's visuals: the flow table says per flow what was sent, seen, lost and changed; the
// latency histogram is well-formed SVG with one series per flow, labelled axes and a legend, and it
// plots exactly the per-frame latencies the frame join recorded (the report never re-joins).
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzeTraffic, type FlowResult, type TrafficReport } from '../../lib/analysis/flow-report.ts';
import { ARP, Ether, flow, stack } from '../../lib/frames/index.ts';
import type { InjectionResult } from '../../lib/analysis/run.ts';
import { flowTableHtml, flowTableMarkdown, latencyHistogramSvg, latencySeries } from '../../lib/report/visuals.ts';
import type { TimedFrame } from '../../lib/core/timed-frame.ts';
import { cleanFlow, cleanRewrites } from './fake-flow.ts';

function flowReport(o: Partial<FlowResult> = {}): FlowResult {
  return cleanFlow(1000, {
    name: 'udp left→right',
    latencyUs: { samples: 1000, min: 20, p50: 41.25, p90: 80, p99: 200, max: 1234.4 },
    ...o,
  });
}

const lossyBack = flowReport({
  flowId: 2,
  name: 'udp right→left <tagged>',
  from: 'right',
  to: 'left',
  received: { 'left-host': 963, 'guest-left': 963, 'guest-right': 1000, 'right-host': 1000 },
  lost: 37,
  lostSeqs: [3, 13],
  duplicated: 2,
  reordered: { count: 5, maxDisplacement: 4 },
  latencyUs: null,
  rewrites: { ...cleanRewrites(0), srcMac: 963, dstMac: 963, hopLimitDelta: { '-1': 963 }, badChecksum: 1 },
});

const report: TrafficReport = {
  flows: [flowReport(), lossyBack],
  emissions: [
    { point: 'guest-left', fromGuest: 0, byClass: {}, bySourceMac: {}, fromHosts: 2 },
    { point: 'guest-right', fromGuest: 3, byClass: { arp: 3 }, bySourceMac: { '02:00:00:00:00:bb': 3 }, fromHosts: 0 },
  ],
  emissionList: [],
  captureDrops: { 'guest-right': 12 },
};

const injections: InjectionResult[] = [
  { side: 'left', frames: 1000, sent: 1000, failed: 0, requestedPps: 10_000, achievedPps: 9_876.4, durationS: 0.1 },
  { side: 'right', frames: 1000, sent: 1000, failed: 0, requestedPps: 10_000, achievedPps: 4_000, durationS: 0.25 },
];

describe('flow table', () => {
  it('Markdown: one row per flow with counts, percentiles, rewrites and the achieved rate', () => {
    const md = flowTableMarkdown({ name: 'unicast', report, injections });
    const lines = md.split('\n');
    expect(lines[0]).toBe('### Traffic: unicast');
    expect(lines[2]).toBe(
      '| flow | direction | sent | rx left host | rx guest left | rx guest right | rx right host | lost | dup | reflected | reordered | p50 µs | p90 µs | p99 µs | max µs | rewrites | rate pps (achieved / requested) |',
    );
    expect(lines[4]).toBe(
      '| udp left→right | left → right | 1,000 | 1,000 | 1,000 | 1,000 | 1,000 | 0 | 0 | 0 | 0 | 41.3 | 80 | 200 | 1,234 | none (byte-exact) | 9,876 / 10,000 (99%) |',
    );
    expect(lines[5]).toBe(
      '| udp right→left <tagged> | right → left | 1,000 | 963 | 963 | 1,000 | 1,000 | **37 (3.7%)** | **2** | 0 | **5 (max 4)** | – | – | – | – | **src MAC 963, dst MAC 963, TTL -1 963, bad checksum 1** | **4,000 / 10,000 (40%)** |',
    );
    expect(md).toContain('- Capture drops (frames tcpdump lost; counts there may be low): guest-right 12.');
    expect(md).toContain('- Frames the guest sent by itself, seen at guest-right: 3 (3 arp).');
  });

  it('HTML: a self-contained page, text escaped, problems highlighted', () => {
    const html = flowTableHtml({ name: 'unicast', report, injections });
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html.match(/<tr>/g)).toHaveLength(3); // header + two flows
    expect(html).toContain('<td>udp right→left &lt;tagged&gt;</td>');
    expect(html).not.toContain('<tagged>');
    expect(html).toContain('<td class="num alert">37 (3.7%)</td>');
    expect(html).toContain('<td class="alert">4,000 / 10,000 (40%)</td>');
    expect(html).toContain('<li>Capture drops');
  });

  it('a policy run gets "declared" and "observed" columns after the direction, a failed flow marked', () => {
    const name = report.flows[0]!.name;
    const policy = { [name]: { declared: 'drop (class "block-snmp")', observed: 'CROSSED: 50 of 50', pass: false } };
    const md = flowTableMarkdown({ report, injections, policy });
    expect(md.split('\n')[0]).toMatch(/^\| flow \| direction \| declared \| observed \| sent \|/);
    expect(md).toContain('| drop (class "block-snmp") | **CROSSED: 50 of 50** |');
    const html = flowTableHtml({ report, injections, policy });
    expect(html).toContain('<th>declared</th><th>observed</th>');
    expect(html).toContain('<td class="alert">CROSSED: 50 of 50</td>');
    // A flow the policy map does not name shows dashes; without a map the columns are not there.
    expect(md.split('\n')[3]).toMatch(/^\| [^|]+ \| [^|]+ \| – \| – \|/);
    expect(flowTableMarkdown({ report })).not.toContain('declared');
  });

  it('without injections the rate column says so', () => {
    expect(flowTableMarkdown({ report: { ...report, flows: [flowReport()] } })).toContain('| none (byte-exact) | – |');
  });
});

// --- SVG ------------------------------------------------------------------------------------------

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
}

/**
 * A strict little XML well-formedness check (tags nest and close, attributes are quoted and unique,
 * entities are known, one root): returns every element with its attributes and direct text.
 */
function parseXml(xml: string): XmlElement[] {
  const elements: XmlElement[] = [];
  const open: XmlElement[] = [];
  let roots = 0;
  const checkText = (t: string) => {
    if (t.includes('<') || t.includes('>')) throw new Error(`stray angle bracket in ${JSON.stringify(t)}`);
    for (const m of t.matchAll(/&[^;\s]*;?/g))
      if (!/^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);$/i.test(m[0])) throw new Error(`bad entity ${m[0]}`);
  };
  const token = /<!--[\s\S]*?-->|<\/([\w:-]+)\s*>|<([\w:-]+)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of xml.matchAll(token)) {
    const [, close, name, attrText, selfClose, text, stray] = m;
    if (stray) throw new Error(`malformed tag at ${m.index}: ${xml.slice(m.index, m.index! + 40)}`);
    if (text !== undefined) {
      checkText(text);
      if (open.length === 0 && text.trim()) throw new Error(`text outside the root: ${text}`);
      if (open.length > 0) open[open.length - 1]!.text += text;
    } else if (close) {
      const top = open.pop();
      if (top?.name !== close) throw new Error(`</${close}> closes <${top?.name}>`);
    } else if (name) {
      if (open.length === 0 && ++roots > 1) throw new Error('more than one root element');
      const attrs: Record<string, string> = {};
      for (const a of (attrText ?? '').matchAll(/([\w:-]+)="([^"]*)"/g)) {
        if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
        checkText(a[2]!);
        attrs[a[1]!] = a[2]!;
      }
      const el = { name, attrs, text: '' };
      elements.push(el);
      if (!selfClose) open.push(el);
    }
  }
  if (open.length > 0) throw new Error(`unclosed <${open.map((e) => e.name).join('>, <')}>`);
  if (roots !== 1) throw new Error('no root element');
  return elements;
}

/** Log-normal-ish latencies around `medianUs`, deterministic. */
function latencies(count: number, medianUs: number, spread: number, seed: number): number[] {
  let x = seed;
  const rand = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, () => {
    const g = (rand() + rand() + rand() + rand() - 2) * 1.7; // roughly standard normal
    return medianUs * Math.exp(g * spread);
  });
}

describe('latency histogram', () => {
  const series = [
    { name: 'udp left→right', samplesUs: latencies(5000, 45, 0.5, 1) },
    { name: 'udp right→left', samplesUs: [...latencies(4800, 60, 0.6, 2), ...latencies(200, 2500, 0.4, 3)] },
    { name: 'imix <both>', samplesUs: latencies(1000, 300, 0.9, 4) },
  ];

  it('is well-formed SVG with one path per flow, a title, axis labels in µs and a legend', () => {
    const svg = latencyHistogramSvg(series, { title: 'Latency through the guest — unicast' });
    if (process.env.WIRELAB_KEEP_SVG) writeFileSync(process.env.WIRELAB_KEEP_SVG, svg);
    const els = parseXml(svg);
    expect(els[0]!.name).toBe('svg');
    expect(els[0]!.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    const paths = els.filter((e) => e.name === 'path');
    expect(paths.map((p) => p.attrs['data-flow'])).toEqual(['udp left→right', 'udp right→left', 'imix &lt;both&gt;']);
    expect(new Set(paths.map((p) => p.attrs.stroke)).size).toBe(3);
    for (const p of paths) expect(p.attrs.d).toMatch(/^M[\d.]+,[\d.]+( V[\d.]+ H[\d.]+)+ V[\d.]+ Z$/);
    const texts = els.filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toContain('Latency through the guest — unicast');
    expect(texts).toContain('latency, guest ingress port → egress port (µs, log scale)');
    expect(texts).toContain('frames (% of the flow)');
    expect(texts).toEqual(expect.arrayContaining(['1', '10', '100', '1,000', '10,000']));
    expect(texts.filter((t) => t.startsWith('udp left→right: p50 '))).toHaveLength(1);
    expect(texts.find((t) => t.startsWith('imix'))).toMatch(/^imix &lt;both&gt;: p50 \d+ µs, p99 [\d,]+ µs, 1,000 frames$/);
  });

  it('a flow without samples is in the legend only; no samples at all says so', () => {
    const partial = parseXml(latencyHistogramSvg([series[0]!, { name: 'dropped', samplesUs: [] }]));
    expect(partial.filter((e) => e.name === 'path')).toHaveLength(1);
    expect(partial.some((e) => e.name === 'text' && e.text === 'dropped: no samples')).toBe(true);
    const empty = parseXml(latencyHistogramSvg([{ name: 'dropped', samplesUs: [] }]));
    expect(empty.filter((e) => e.name === 'path')).toHaveLength(0);
    expect(empty.some((e) => e.text.startsWith('no frame was seen at both guest ports'))).toBe(true);
  });
});

describe('latencySeries', () => {
  it('plots what the frame join measured, ARP frames included (their signature rides in the trailer)', async () => {
    const RUN = 'wl-abcdef';
    const arp = flow({
      template: stack(
        Ether({ src: '02:00:00:00:00:01', dst: 'ff:ff:ff:ff:ff:ff' }),
        ARP({ hwsrc: '02:00:00:00:00:01', psrc: '198.18.0.1', pdst: '198.18.0.2' }),
      ),
      runId: RUN,
      flowId: 1,
      count: 200,
      ratePps: 1000,
      size: 60,
    });
    const sent = [...arp].map((x) => x.data);
    const at = (offsetNs: (seq: number) => number, skip = (_: number) => false): TimedFrame[] =>
      sent.flatMap((data, seq) => (skip(seq) ? [] : [{ tsNs: BigInt(seq * 1_000_000 + offsetNs(seq)), data }]));
    async function* frames(list: TimedFrame[]) {
      yield* list;
    }
    const ingress = at(() => 0);
    const egress = at(
      (seq) => 20_000 + (seq % 7) * 3_000,
      (seq) => seq % 50 === 0,
    );
    const hosts = { left: { mac: '02:00:00:00:00:01', ipv4: '198.18.0.1' }, right: { mac: '02:00:00:00:00:02', ipv4: '198.18.0.2' } };
    const analysed = await analyzeTraffic({
      runId: RUN,
      flows: [{ name: 'ARP l→r', from: 'left', to: 'right', frames: arp }],
      hosts,
      captures: { 'guest-left': frames(ingress), 'guest-right': frames(egress) },
    });
    const [series] = latencySeries(analysed);
    const samples = Array.from(series!.samplesUs).sort((a, b) => a - b);
    expect(samples).toHaveLength(196);
    expect(samples[0]).toBe(20);
    expect(samples[samples.length - 1]).toBe(38);
    expect(analysed.flows[0]!.latencyUs).toMatchObject({ samples: 196, min: samples[0], max: samples[samples.length - 1] });
    expect(latencyHistogramSvg([series!])).not.toContain('no frame was seen at both guest ports');
  });
});
