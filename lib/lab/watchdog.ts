// A run's watchdog: a small process of its own (its own session, so neither a terminal's Ctrl-C nor
// a kill of the run's process group reaches it; vitest does not own it either) that outlives the
// process owning the run. The owner holds the write end of a pipe to the watchdog's stdin: when the
// owner exits by any means, even SIGKILL, the pipe reaches end-of-file. If the owner released it
// first (the run unwound itself), the watchdog just exits; otherwise it reaps the run by its id —
// namespace (and every process in it: QEMU, tcpdump), containers, work directory, ledger entry —
// and touches nothing else. An owner unwinding for a signal asks for a sweep instead: steps it had
// in flight may still create things, which the sweep's second pass catches. Testcontainers' Ryuk is
// the model, with a pipe instead of a socket.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { Socket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../core/paths.ts';
import { isRunId, type RunId } from '../core/run-id.ts';
import { LEDGER_DIR, processAlive } from '../runtime/ledger.ts';

const RELEASE = 'release\n';
const SWEEP = 'sweep\n';
/** How often the owner is looked at besides the pipe (a pipe held open by a stray process must not stall the reap). */
const OWNER_POLL_MS = 1_000;
/** A container whose creation the dead owner had already asked for may appear a moment later: look twice. */
const SECOND_PASS_MS = 3_000;
/** How long a release waits for the watchdog to exit. */
const RELEASE_WAIT_MS = 2_000;
/** How long an owner asking for a sweep waits for it (two reap passes). */
const SWEEP_WAIT_MS = 45_000;

export interface Watchdog {
  pid: number;
  /** The run unwound by itself: tell the watchdog to exit without reaping. */
  release(): Promise<void>;
  /** The run is unwinding for a signal: reap it now, twice, and exit. Resolves when it has (bounded). */
  sweep(): Promise<void>;
}

/** Start the watchdog of `runId`, owned by this process. Returns at once; it needs no handshake. */
export function startWatchdog(runId: RunId): Watchdog {
  const tsx = path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');
  const child = spawn(process.execPath, ['--import', pathToFileURL(tsx).href, fileURLToPath(import.meta.url), runId, String(process.pid)], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { ...process.env, WIRELAB_WATCHDOG: runId },
  });
  // Neither the process nor its pipe keeps this process alive; the pipe's end is the signal.
  child.unref();
  const stdin = child.stdin!;
  (stdin as unknown as Socket).unref?.();
  stdin.on('error', () => {}); // a watchdog that died early: the run still unwinds itself
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  let told: Promise<void> | undefined;
  // Resolves once it has exited (bounded), so "nothing of the run is left" holds when the unwind ends.
  const tell = (message: string, waitMs: number) =>
    (told ??= new Promise<void>((done) => {
      const timer = setTimeout(done, waitMs);
      void exited.then(() => {
        clearTimeout(timer);
        done();
      });
      if (!stdin.destroyed) stdin.end(message);
    }));
  return { pid: child.pid ?? -1, release: () => tell(RELEASE, RELEASE_WAIT_MS), sweep: () => tell(SWEEP, SWEEP_WAIT_MS) };
}

/** The watchdog process itself: wait for the owner to go, then reap if it did not release. */
async function watch(runId: RunId, ownerPid: number): Promise<void> {
  // It runs in its own session; hangups and interrupts are for the run, not for it.
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGPIPE'] as const) process.on(signal, () => {});
  let input = '';
  const ownerGone = new Promise<void>((done) => {
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => (input += chunk));
    process.stdin.on('end', () => done());
    process.stdin.on('error', () => done());
    const poll = setInterval(() => {
      if (!processAlive(ownerPid)) {
        clearInterval(poll);
        done();
      }
    }, OWNER_POLL_MS);
  });
  await ownerGone;
  if (input.includes(RELEASE)) process.exit(0);
  // End-of-file without a release: the owner is gone, or about to be. A sweep is asked by an owner
  // that is still alive, unwinding for a signal; it waits for this process to finish.
  if (!input.includes(SWEEP)) while (processAlive(ownerPid)) await new Promise((r) => setTimeout(r, 200));
  const { reapRun } = await import('./reaper.ts');
  try {
    // The ledger stays until the second pass: whoever waits for the run to be gone waits for both.
    await reapRun(runId, { keepLedger: true });
    await new Promise((r) => setTimeout(r, SECOND_PASS_MS));
    await reapRun(runId);
  } catch (e) {
    // Left for `wirelab clean`: the ledger entry stays, and this says why.
    appendFileSync(path.join(LEDGER_DIR, `${runId}.watchdog.log`), `${new Date().toISOString()} reap failed: ${String(e)}\n`);
    process.exit(1);
  }
  process.exit(0);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [runId, owner] = process.argv.slice(2);
  if (!runId || !isRunId(runId) || !(Number(owner) > 1)) {
    console.error('usage: watchdog.ts <run id> <owner pid>');
    process.exit(2);
  }
  void watch(runId, Number(owner));
}
