// attachTrafficEvidence attaches the flow table, the histogram, the report and every pcap — and a
// note in place of what it cannot read, without failing the test.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Ether, flow, IPv4, stack, UDP } from '../../lib/frames/index.ts';
import { writePcap } from '../../lib/pcap/pcap.ts';
import type { TrafficRun } from '../../lib/traffic/traffic-run.ts';
import { cleanFlow, cleanRewrites } from './fake-flow.ts';

const attached: { name: string; content: Buffer | string; options: unknown }[] = [];
vi.mock('allure-js-commons', () => ({
  attachment: async (name: string, content: Buffer | string, options: unknown) => {
    attached.push({ name, content, options });
  },
}));
const { attachTrafficEvidence } = await import('../../fixtures/evidence.ts');

const dir = mkdtempSync(path.join(tmpdir(), 'wirelab-evidence-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('attachTrafficEvidence', () => {
  it('attaches table, histogram, report and pcaps; a missing pcap becomes a note', async () => {
    const RUN = 'wl-123456';
    const f = flow({
      template: stack(Ether({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }), IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }), UDP()),
      runId: RUN,
      flowId: 1,
      count: 10,
      ratePps: 1000,
      size: 64,
    });
    const sent = [...f].map((x, seq) => ({ data: x.data, tsNs: BigInt(seq * 1_000_000) }));
    const pcaps = {
      'left-host': path.join(dir, 'lh.pcap'),
      'guest-left': path.join(dir, 'gl.pcap'),
      'guest-right': path.join(dir, 'gr.pcap'),
      'right-host': path.join(dir, 'missing.pcap'),
    };
    await writePcap(pcaps['left-host'], sent);
    await writePcap(
      pcaps['guest-left'],
      sent.map((x) => ({ ...x, tsNs: x.tsNs + 1000n })),
    );
    await writePcap(
      pcaps['guest-right'],
      sent.map((x) => ({ ...x, tsNs: x.tsNs + 51_000n })),
    );
    const run: TrafficRun = {
      name: 'unicast',
      runId: RUN,
      pcaps,
      injections: [{ side: 'left', frames: 10, sent: 10, failed: 0, requestedPps: 1000, achievedPps: 1000, durationS: 0.01 }],
      report: {
        flows: [
          cleanFlow(10, {
            name: 'l→r',
            received: { 'left-host': 10, 'guest-left': 10, 'guest-right': 10, 'right-host': 0 },
            lost: 10,
            lostSeqs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            latencyUs: { samples: 10, min: 50, p50: 50, p90: 50, p99: 50, max: 50 },
            latencySamplesUs: Array.from({ length: 10 }, () => 50),
            rewrites: cleanRewrites(0),
          }),
        ],
        emissions: [],
        emissionList: [],
        captureDrops: {},
      },
    };
    await attachTrafficEvidence(run);
    expect(attached.map((a) => a.name)).toEqual([
      'unicast: flows',
      'unicast: latency histogram',
      'unicast: report.json',
      'unicast: left-host.pcap',
      'unicast: guest-left.pcap',
      'unicast: guest-right.pcap',
      'unicast: right-host.pcap (not attached)',
    ]);
    const byName = Object.fromEntries(attached.map((a) => [a.name, a]));
    expect(byName['unicast: flows']!.options).toMatchObject({ contentType: 'text/html' });
    expect(byName['unicast: latency histogram']!.options).toMatchObject({ contentType: 'image/svg+xml' });
    expect(String(byName['unicast: latency histogram']!.content)).toContain('l→r: p50 50 µs, p99 50 µs, 10 frames');
    expect(JSON.parse(String(byName['unicast: report.json']!.content)).report.flows[0].lost).toBe(10);
    expect(byName['unicast: guest-left.pcap']!.options).toMatchObject({
      contentType: 'application/vnd.tcpdump.pcap',
      fileExtension: 'pcap',
    });
    expect(byName['unicast: guest-left.pcap']!.content).toEqual(readFileSync(pcaps['guest-left']));
    expect(String(byName['unicast: right-host.pcap (not attached)']!.content)).toMatch(
      /^Could not attach unicast: right-host.pcap: .*ENOENT/,
    );
  });
});
