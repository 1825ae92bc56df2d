// Sending frames for as long as a soak lasts: the pcap is streamed over SSH into tcpreplay's stdin
// while tcpreplay sends it at a constant rate, so the frames of an hour are never on a disk or
// in memory (the SSH channel's window holds back the generator). Bounded in count (the flow) and in
// time (`timeout`). At soak rates (hundreds to thousands of frames/s) the stream keeps well ahead.
import { PassThrough } from 'node:stream';
import { WirelabError } from '../core/errors.ts';
import type { TimedFrame } from '../core/timed-frame.ts';
import type { LabTrafficHost } from '../lab/lab.ts';
import { writePcap } from '../pcap/pcap.ts';
import { parseTcpreplayOutput, type InjectionResult } from './injector.ts';

export async function streamFrames(
  host: LabTrafficHost,
  frames: Iterable<TimedFrame>,
  opts: { requestedPps: number; timeoutMs: number },
): Promise<InjectionResult> {
  const seconds = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
  const stream = new PassThrough();
  // --pps keeps the rate against tcpreplay's start (it catches up); pcap timing sleeps from packet to packet, and
  // under load each sleep overshoots: measured here, 152 frames/s sent of 200 asked with pcap timing, 200.2 with --pps.
  const replay = host.ssh.exec(['timeout', String(seconds), 'tcpreplay', `--intf1=${host.dataIf}`, `--pps=${opts.requestedPps}`, '-'], {
    stdin: stream,
    timeoutMs: opts.timeoutMs + 5000,
  });
  // A tcpreplay that ends early stops reading: end the stream, so the writer does not wait for it for ever.
  void replay.finally(() => stream.destroy());
  const count = await writePcap(stream, frames, { precision: 'us' }).catch(() => -1);
  const result = await replay;
  const text = `${result.stdout.toString()}\n${result.stderr}`;
  if (result.code === 124)
    throw new WirelabError(`The soak's sender on the ${host.side} traffic host did not finish within ${seconds} s; the bound stopped it.`);
  if (result.code !== 0 || count < 0)
    throw new WirelabError(
      `tcpreplay on the ${host.side} traffic host failed (exit ${result.code}): ${text.trim().split('\n').slice(-3).join(' | ')}`,
    );
  return { side: host.side, frames: count, requestedPps: opts.requestedPps, ...parseTcpreplayOutput(text) };
}
