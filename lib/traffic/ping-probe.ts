// A quick end-to-end probe: ping from one traffic host to the other (5 echoes, bounded in count and
// time) while the receiver captures on its data NIC. It answers the basic question "do frames from
// this host cross the guest, and do they arrive with the sender's MAC?" without the full flow
// instrument, e.g. right after bring-up.
import type { LabTrafficHost } from '../lab/lab.ts';
import { WirelabError } from '../core/errors.ts';

export interface PingProbeResult {
  /** ICMP frames the receiver captured whose source MAC is the sender's. */
  framesFromSender: number;
  /** ICMP frames the receiver captured from any other source MAC (e.g. a guest that rewrote it). */
  framesRewritten: number;
  /** Echo replies the sender got back (needs both directions). */
  replies: number;
  sent: number;
}

const ECHOES = 5;

export async function pingProbe(from: LabTrafficHost, to: LabTrafficHost): Promise<PingProbeResult> {
  const target = to.ipv4.split('/')[0]!;
  // Capture echo requests to the receiver's address, from any MAC, so a rewrite is seen as such.
  const capture = await to.ssh.spawn([
    'timeout',
    '6',
    'tcpdump',
    '-i',
    to.dataIf,
    '-n',
    '-e',
    '-l',
    '-c',
    String(ECHOES),
    'icmp[icmptype] == icmp-echo',
    'and',
    'dst',
    'host',
    target,
  ]);
  let stdout = '';
  capture.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(
      () => reject(new WirelabError(`tcpdump on the ${to.side} traffic host did not start listening within 10 s: ${stderr.trim()}`)),
      10_000,
    );
    capture.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const ping = await from.ssh.exec(['ping', '-c', String(ECHOES), '-i', '0.2', '-W', '1', target], { timeoutMs: 20_000 });
  await capture.exit;
  const lines = stdout.split('\n').filter((l) => l.includes('ICMP echo request'));
  // With -e each line reads "<time> <src MAC> > <dst MAC>, ...": the second word is the source MAC.
  const fromSender = lines.filter((l) => l.split(' ')[1] === from.mac).length;
  return {
    framesFromSender: fromSender,
    framesRewritten: lines.length - fromSender,
    replies: Number(/(\d+) (packets )?received/.exec(ping.stdout.toString())?.[1] ?? 0),
    sent: ECHOES,
  };
}
