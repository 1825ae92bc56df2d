// Packet captures with tcpdump: on the guest's host-side ports (locally, inside the lab's namespace,
// so both ports share one clock) and on the traffic hosts' data NICs (over SSH, streamed back as a
// pcap). A capture is confirmed listening before traffic starts (tcpdump prints "listening on" after
// it has opened the interface), and stopped with SIGINT so it flushes; its kernel drop count is kept.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { WirelabError } from '../core/errors.ts';
import { withNetns } from '../runtime/exec.ts';
import type { SshHost } from '../runtime/ssh.ts';
import type { UndoStack } from '../runtime/teardown.ts';

export interface CaptureResult {
  file: string;
  /** Frames tcpdump reports the kernel dropped (the capture missed them; the wire did not). */
  droppedByKernel: number;
  captured: number;
}

export interface Capture {
  readonly label: string;
  readonly file: string;
  stop(): Promise<CaptureResult>;
}

const LISTEN_BUDGET_MS = 10_000;

/**
 * images/traffic-host/run-until-eof as one constant `sh -c` script (the command comes as "$@"): for
 * hosts wirelab does not build, such as a remote bench host. Keep the two in step.
 */
export const RUN_UNTIL_EOF_SCRIPT = [
  'exec 3<&0',
  'env --default-signal=INT "$@" </dev/null 3<&- &',
  'child=$!',
  '(cat <&3 >/dev/null; kill -INT "$child" 2>/dev/null) >/dev/null 2>&1 &',
  'watcher=$!',
  'exec 3<&-',
  'wait "$child"',
  'status=$?',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');
const STOP_BUDGET_MS = 10_000;

/**
 * tcpdump options common to every capture: nanosecond stamps, no buffering delay, and a ring that
 * does not overflow. In immediate mode libpcap gives every frame a ring slot of the snapshot length:
 * with `-s 0` (256 KiB) an 8 MiB ring held 32 frames and the kernel dropped frames at 1,000 pps.
 * 9,600 bytes covers the largest frame wirelab sends (9,216 + tags) in a 32 MiB ring of ~3,400 slots.
 */
export const CAPTURE_SNAPLEN = 9600;
export function tcpdumpArgs(ifname: string, output: string): string[] {
  return [
    '-i',
    ifname,
    '-n',
    '-s',
    String(CAPTURE_SNAPLEN),
    '-U',
    '--immediate-mode',
    '--time-stamp-precision=nano',
    '-B',
    '32768',
    '-w',
    output,
  ];
}

/** Parse tcpdump's closing statistics ("N packets captured", "N packets dropped by kernel"). */
export function parseTcpdumpStats(stderr: string): { captured: number; droppedByKernel: number } {
  const num = (re: RegExp) => Number(re.exec(stderr)?.[1] ?? 0);
  return { captured: num(/(\d+) packets? captured/), droppedByKernel: num(/(\d+) packets? dropped by kernel/) };
}

/** Resolves once `stderr` shows tcpdump listening; rejects with its words if it exits first. */
function waitListening(label: string, stderrText: () => string, exited: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (stderrText().includes('listening on')) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > LISTEN_BUDGET_MS) {
        clearInterval(timer);
        reject(
          new WirelabError(
            `The capture on ${label} did not start listening within ${LISTEN_BUDGET_MS / 1000} s: ` +
              `${stderrText().trim() || 'tcpdump said nothing'}.`,
          ),
        );
      }
    }, 20);
    void exited.then(() => {
      clearInterval(timer);
      if (!stderrText().includes('listening on'))
        reject(new WirelabError(`The capture on ${label} ended before it started: ${stderrText().trim()}`));
    });
  });
}

/** Capture on an interface of this machine (optionally inside a namespace) into `file`. */
export async function startLocalCapture(opts: {
  label: string;
  netns?: string;
  ifname: string;
  file: string;
  stack: UndoStack;
}): Promise<Capture> {
  // -Z root: tcpdump would otherwise drop to its own user and could not write into the run's 0700 dir.
  const [cmd, argv] = withNetns('tcpdump', ['-Z', 'root', ...tcpdumpArgs(opts.ifname, opts.file)], opts.netns);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const undo = opts.stack.defer(`capture on ${opts.label}`, async () => {
    if (child.exitCode === null) child.kill('SIGKILL'); // by its own pid: the tcpdump this run started
    await exited;
  });
  return listeningCapture(
    opts,
    () => stderr,
    exited,
    undo,
    async () => {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_BUDGET_MS);
      await exited;
      clearTimeout(timer);
    },
  );
}

/**
 * Capture on a traffic host's NIC over SSH. tcpdump writes to the host's own disk while traffic runs
 * (streaming the pcap back live competes with the traffic for CPU and made the kernel drop frames
 * from the capture); after the stop the file is copied back into the local `file` and removed.
 */
export async function startRemoteCapture(opts: {
  label: string;
  ssh: SshHost;
  ifname: string;
  file: string;
  stack: UndoStack;
  stopper?: 'installed' | 'inline';
  /** The run's id, in the remote file's name: what the run left on that host (a killed run's capture) is found by it. */
  runId?: string;
}): Promise<Capture> {
  const remoteFile = `/tmp/wirelab-${opts.runId ? `${opts.runId}-` : ''}capture-${randomBytes(4).toString('hex')}.pcap`;
  // run-until-eof (in the traffic-host image) turns "stdin closed" into SIGINT for tcpdump, since sshd
  // does not deliver signals to a root session. A host without it (a bench host) gets the same logic inline.
  const wrapper = opts.stopper === 'inline' ? ['sh', '-c', RUN_UNTIL_EOF_SCRIPT, 'run-until-eof'] : ['run-until-eof'];
  const proc = await opts.ssh.spawn([...wrapper, 'tcpdump', ...tcpdumpArgs(opts.ifname, remoteFile)]);
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout.resume();
  const stopTcpdump = async () => {
    proc.closeStdin();
    await Promise.race([proc.exit, new Promise((r) => setTimeout(r, STOP_BUDGET_MS))]);
    proc.close();
  };
  const undo = opts.stack.defer(`capture on ${opts.label}`, async () => {
    await stopTcpdump();
    await opts.ssh.exec(['rm', '-f', remoteFile]).catch(() => undefined);
  });
  return listeningCapture(
    opts,
    () => stderr,
    proc.exit,
    undo,
    async () => {
      await stopTcpdump();
      const copy = await opts.ssh.spawn(['cat', remoteFile]);
      const out = createWriteStream(opts.file);
      copy.stdout.pipe(out);
      await Promise.all([copy.exit, finished(out)]);
    },
  );
}

/**
 * The common part of both captures: wait until tcpdump listens (or undo it and fail), then hand out
 * a stop that runs once — `finish` ends tcpdump and puts the pcap in place, then the undo cleans up.
 */
async function listeningCapture(
  opts: { label: string; file: string },
  stderrText: () => string,
  exited: Promise<unknown>,
  undo: () => Promise<void>,
  finish: () => Promise<void>,
): Promise<Capture> {
  try {
    await waitListening(opts.label, stderrText, exited);
  } catch (e) {
    await undo();
    throw e;
  }
  let result: Promise<CaptureResult> | undefined;
  return {
    label: opts.label,
    file: opts.file,
    stop: () =>
      (result ??= (async () => {
        await finish();
        await undo();
        return { file: opts.file, ...parseTcpdumpStats(stderrText()) };
      })()),
  };
}
