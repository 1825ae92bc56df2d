// Outages read frame by frame: runs of lost frames in the one frame join (when they began and ended
// on the sender's clock, reordering after them), and the per-direction verdict of the restart-outage
// suite — within bounds, too long, reordered after recovery, or a direction that stayed down.
import { describe, expect, it } from 'vitest';
import { analyzeTraffic, type SentFlow } from '../../lib/analysis/flow-report.ts';
import { describeOutage, directionOutage, outageProblems } from '../../lib/analysis/outage.ts';
import type { RunId } from '../../lib/core/run-id.ts';
import type { CapturePoint } from '../../lib/core/sides.ts';
import type { TimedFrame } from '../../lib/core/timed-frame.ts';
import { Ether, flow, IPv4, stack, UDP } from '../../lib/frames/index.ts';

const RUN: RunId = 'wl-abcdef';
const HOSTS = { left: { mac: '02:00:00:00:00:01', ipv4: '198.18.0.1/24' }, right: { mac: '02:00:00:00:00:02', ipv4: '198.18.0.2/24' } };
/** 1000 frames at 100 pps: 10 ms apart. */
const COUNT = 1000;
const RATE = 100;

function sentFlow(): SentFlow & { sent: Buffer[] } {
  const f = flow({
    template: stack(Ether({ src: HOSTS.left.mac, dst: HOSTS.right.mac }), IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }), UDP()),
    runId: RUN,
    flowId: 1,
    count: COUNT,
    ratePps: RATE,
    size: 128,
  });
  return { name: 'l→r', from: 'left', to: 'right', frames: f, sent: [...f].map((x) => x.data) };
}

async function* frames(list: TimedFrame[]): AsyncIterable<TimedFrame> {
  yield* list;
}

/** Every frame leaves the sender at seq × 10 ms; `arrives(seq)` says whether (and in which order) the receiver gets it. */
async function analysed(lostWhen: (seq: number) => boolean, order?: (seqs: number[]) => number[]) {
  const f = sentFlow();
  const at = (seqs: number[], offset: number) => seqs.map((seq) => ({ tsNs: BigInt(seq * 10_000_000 + offset), data: f.sent[seq]! }));
  const all = f.sent.map((_, seq) => seq);
  const delivered = all.filter((seq) => !lostWhen(seq));
  const captures: Partial<Record<CapturePoint, AsyncIterable<TimedFrame>>> = {
    'left-host': frames(at(all, 0)),
    'right-host': frames(at(order ? order(delivered) : delivered, 50_000)),
  };
  return (await analyzeTraffic({ runId: RUN, flows: [f], hosts: HOSTS, captures })).flows[0]!;
}

const BOUNDS = { maxOutageSeconds: 3, maxReorderedAfter: 0 };

describe('loss runs in the frame join', () => {
  it('an outage of frames 300..499: one run, from the first lost frame to the first delivered again on the sender clock', async () => {
    const f = await analysed((seq) => (seq >= 300 && seq < 500) || seq === 900);
    expect(f.lossRuns[0]).toEqual({ firstSeq: 300, lastSeq: 499, frames: 200, fromNs: 3e9, resumedNs: 5e9, reorderedAfter: 0 });
    expect(f.lossRuns[1]).toMatchObject({ firstSeq: 900, frames: 1 });
    const o = directionOutage(f, RATE);
    expect(o).toMatchObject({ direction: 'left→right', outageS: 2, stayedDown: false, lost: 201 });
    expect(outageProblems('the restart', [o], BOUNDS)).toEqual([]);
    expect(describeOutage(o)).toMatch(/left→right: outage 2.000 s, first lost frame 300, 200 lost in a row, 201 of 1000 lost/);
  });

  it('a direction that never comes back stayed down, and the problem names it', async () => {
    const o = directionOutage(await analysed((seq) => seq >= 300), RATE);
    expect(o).toMatchObject({ stayedDown: true, outageS: undefined, downForAtLeastS: 7 });
    const [problem] = outageProblems('the service restart', [o], BOUNDS);
    expect(problem).toMatch(/^left→right stayed down after the service restart: no frame was delivered again for the 7.0 s left/);
  });

  it('an outage above the bound, and reordering after recovery, fail naming the bound', async () => {
    const swapAfter = (seqs: number[]) => {
      const out = [...seqs];
      const i = out.indexOf(800);
      [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
      return out;
    };
    const o = directionOutage(await analysed((seq) => seq >= 100 && seq < 500, swapAfter), RATE);
    expect(o).toMatchObject({ outageS: 4, reorderedAfter: 1 });
    const problems = outageProblems('the guest reboot', [o], BOUNDS);
    expect(problems[0]).toMatch(/interrupted traffic for 4.00 s .* above the bound of 3 s \(restart.maxOutageSeconds\)/);
    expect(problems[1]).toMatch(/1 frames arrived out of order after recovering from the guest reboot/);
  });

  it('nothing lost: no outage', async () => {
    const o = directionOutage(await analysed(() => false), RATE);
    expect(o).toMatchObject({ outageS: 0, stayedDown: false, lost: 0 });
    expect(outageProblems('the NIC flap', [o], BOUNDS)).toEqual([]);
  });
});
