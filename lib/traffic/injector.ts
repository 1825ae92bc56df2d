// Sending frames from a traffic host. The frames are streamed over SSH into a pcap on the host
// (uploading first and replaying from the host's own disk is about twice as fast as replaying from
// the SSH stream), then tcpreplay sends them on the data NIC at the pcap's own timing — each frame's
// timestamp is its scheduled send time — or as fast as it can. Bounded in count (the file) and in
// time (`timeout`). The achieved rate is reported next to the requested one, so a slow generator is
// never blamed on the guest.
import { PassThrough } from 'node:stream';
import { WirelabError } from '../core/errors.ts';
import type { LabTrafficHost } from '../lab/lab.ts';
import { writePcap } from '../pcap/pcap.ts';
import type { InjectionResult } from '../analysis/run.ts';
import type { TimedFrame } from '../core/timed-frame.ts';

export type { InjectionResult };

export interface InjectOptions {
  /** The intended rate, for the report (pcap timing is what paces the frames), or 'max' for top speed. */
  requestedPps: number | 'max';
  /** Upper bound on the replay's wall time. */
  timeoutMs: number;
  /** Name of the pcap on the host (one per concurrent injection). */
  name?: string;
}

/** Parse tcpreplay's summary. */
export function parseTcpreplayOutput(text: string): { sent: number; failed: number; durationS: number; achievedPps: number } {
  const actual = /Actual: (\d+) packets \(\d+ bytes\) sent in ([\d.]+) seconds/.exec(text);
  const rated = /Rated: .*?([\d.]+) pps/.exec(text);
  const failed = /Failed packets:\s+(\d+)/.exec(text);
  return {
    sent: Number(actual?.[1] ?? 0),
    durationS: Number(actual?.[2] ?? 0),
    achievedPps: Number(rated?.[1] ?? 0),
    failed: Number(failed?.[1] ?? 0),
  };
}

export async function injectFrames(
  host: LabTrafficHost,
  frames: Iterable<TimedFrame> | AsyncIterable<TimedFrame>,
  opts: InjectOptions,
): Promise<InjectionResult> {
  const remoteFile = `/tmp/${opts.name ?? 'wirelab-inject'}.pcap`;
  const stream = new PassThrough();
  const upload = host.ssh.exec(['cp', '/dev/stdin', remoteFile], { stdin: stream, timeoutMs: opts.timeoutMs });
  // Microsecond pcap: tcpreplay paces by it, and sub-µs scheduling means nothing at these rates.
  const count = await writePcap(stream, frames, { precision: 'us' });
  const uploaded = await upload;
  if (uploaded.code !== 0)
    throw new WirelabError(`Could not upload the frames to the ${host.side} traffic host: ${uploaded.stderr.trim()}`);
  try {
    const seconds = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
    const pacing = opts.requestedPps === 'max' ? ['--topspeed'] : [];
    const replay = await host.ssh.exec(
      ['timeout', String(seconds), 'tcpreplay', `--intf1=${host.dataIf}`, '--preload-pcap', ...pacing, remoteFile],
      { timeoutMs: opts.timeoutMs + 5000 },
    );
    const text = `${replay.stdout.toString()}\n${replay.stderr}`;
    if (replay.code === 124)
      throw new WirelabError(
        `Injection from the ${host.side} traffic host did not finish within ${seconds} s (${count} frames); the bound stopped it.`,
      );
    if (replay.code !== 0)
      throw new WirelabError(
        `tcpreplay on the ${host.side} traffic host failed (exit ${replay.code}): ${text.trim().split('\n').slice(-3).join(' | ')}`,
      );
    const stats = parseTcpreplayOutput(text);
    return { side: host.side, frames: count, requestedPps: opts.requestedPps, ...stats };
  } finally {
    await host.ssh.exec(['rm', '-f', remoteFile]).catch(() => undefined);
  }
}
