// Captures that stream: tcpdump writes its pcap to stdout (`-w -`) and wirelab reads the frames as
// they come, so a capture of an hour needs no disk and no memory for the frames it has passed on — the
// soak's captures (lib/traffic/soak-run.ts). On the guest's ports locally (in the lab's namespace) or
// over SSH (a traffic host, a remote bench host's ports). Confirmed listening before traffic starts;
// stopped with SIGINT (over SSH: stdin closed, run-until-eof interrupts it) so it flushes.
import { spawn } from 'node:child_process';
import type { CapturePoint } from '../core/sides.ts';
import { WirelabError } from '../core/errors.ts';
import { hostPoint, sideOf } from '../core/sides.ts';
import type { Lab } from '../lab/lab.ts';
import { readPcap, type PcapRecord } from '../pcap/pcap.ts';
import { withNetns } from '../runtime/exec.ts';
import type { SshHost } from '../runtime/ssh.ts';
import { parseTcpdumpStats, RUN_UNTIL_EOF_SCRIPT, tcpdumpArgs } from './capture.ts';

export interface StreamedCapture {
  point: CapturePoint;
  /** The frames as tcpdump writes them; ends once the capture is stopped and flushed. */
  records: AsyncGenerator<PcapRecord>;
  /** Stop tcpdump (idempotent); its closing statistics. */
  stop(): Promise<{ captured: number; droppedByKernel: number }>;
}

const LISTEN_BUDGET_MS = 10_000;
const STOP_BUDGET_MS = 10_000;

/** Stream the capture of one of the lab's four points; its stop is on the lab's undo stack too. */
export async function streamCapture(lab: Lab, point: CapturePoint): Promise<StreamedCapture> {
  const side = sideOf(point);
  if (point === hostPoint(side)) {
    const host = lab.hosts[side];
    return remote(lab, point, host.ssh, host.dataIf, ['run-until-eof']);
  }
  const port = lab.ports[side];
  if (port.ssh) return remote(lab, point, port.ssh, port.ifname, ['sh', '-c', RUN_UNTIL_EOF_SCRIPT, 'run-until-eof']);
  // -Z root: tcpdump would otherwise drop to its own user.
  const [cmd, argv] = withNetns('tcpdump', ['-Z', 'root', ...tcpdumpArgs(port.ifname, '-')], port.netns);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  const undo = lab.stack.defer(`streamed capture on ${point}`, async () => {
    if (child.exitCode === null) child.kill('SIGKILL'); // by its own pid: the tcpdump this run started
    await exited;
  });
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_BUDGET_MS);
    await exited;
    clearTimeout(timer);
    await undo();
  };
  return listening(point, child.stdout, () => stderr, exited, stop);
}

async function remote(lab: Lab, point: CapturePoint, ssh: SshHost, ifname: string, wrapper: string[]): Promise<StreamedCapture> {
  const proc = await ssh.spawn([...wrapper, 'tcpdump', ...tcpdumpArgs(ifname, '-')]);
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = async () => {
    proc.closeStdin();
    await Promise.race([proc.exit, new Promise((r) => setTimeout(r, STOP_BUDGET_MS))]);
    proc.close();
    await undo();
  };
  const undo = lab.stack.defer(`streamed capture on ${point}`, async () => {
    proc.closeStdin();
    await Promise.race([proc.exit, new Promise((r) => setTimeout(r, STOP_BUDGET_MS))]);
    proc.close();
  });
  return listening(point, proc.stdout, () => stderr, proc.exit, stop);
}

async function listening(
  point: CapturePoint,
  stdout: NodeJS.ReadableStream,
  stderr: () => string,
  exited: Promise<unknown>,
  stopTcpdump: () => Promise<void>,
): Promise<StreamedCapture> {
  // The reader starts at once: tcpdump writes its pcap header before it says it listens.
  const records = readPcap(stdout as import('node:stream').Readable);
  const deadline = Date.now() + LISTEN_BUDGET_MS;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!stderr().includes('listening on')) {
    if (gone || Date.now() > deadline) {
      await stopTcpdump();
      throw new WirelabError(`The streamed capture on ${point} did not start listening: ${stderr().trim() || 'tcpdump said nothing'}.`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  let stopped: Promise<{ captured: number; droppedByKernel: number }> | undefined;
  return {
    point,
    records,
    stop: () => (stopped ??= stopTcpdump().then(() => parseTcpdumpStats(stderr()))),
  };
}
