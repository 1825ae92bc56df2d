// Fault injection on `wirelab run` against the real nested lab: whatever ends the run — Ctrl-C (SIGINT
// to its process group) in the boot or after the guest is ready, a second Ctrl-C, SIGTERM to the CLI
// alone (a CI cancel, `timeout`), SIGKILL of the whole group (an OOM kill) — nothing of its lab is left:
// no namespace, container, process (QEMU, tcpdump, the watchdog), ledger entry or work directory. And
// the guest's QEMU or a traffic-host container killed mid-test fails the run naming that.
// After a signal the CLI returns only once its lab is gone; after SIGKILL the run's watchdog reaps it
// without anyone running `wirelab clean`. Each case boots one lab (the l2-bridge suite, one test).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NOTHING_LEFT, untilNothingLeft } from './leftovers.ts';
import { fileTempDir } from '../temp-dir.ts';

const CLI = path.resolve('bin/wirelab.mjs');
const reports = fileTempDir('wlt-interrupts-');

/** Nothing of the run may be left this long after the CLI returned from a signal it handled. */
const AFTER_EXIT_MS = 2_000;
/** Nothing of a SIGKILLed run may be left this long after the kill (the watchdog reaps it). */
const AFTER_SIGKILL_MS = 15_000;

type Moment = 'booting' | 'ready';
const MARK: Record<Moment, RegExp> = { booting: /booting the guest and starting the traffic hosts/, ready: /guest ready after/ };

interface Interrupted {
  runId: string;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  /** From the (first) signal to the CLI's exit. */
  exitMs: number;
  output: string;
}

/**
 * `wirelab run l2-bridge --grep unicast` as the leader of its own process group; `delayMs` after `moment` send
 * `signal` to the group or to the CLI alone (and `again` a second time, 200 ms later).
 */
async function interruptRun(
  moment: Moment,
  delayMs: number,
  signal: NodeJS.Signals,
  to: 'group' | 'cli' | 'qemu' | 'left host',
  again = false,
) {
  const child = spawn(
    process.execPath,
    [CLI, 'run', 'l2-bridge', '--grep', 'unicast', '--report-dir', mkdtempSync(path.join(reports, 'r-'))],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  let sentAt = 0;
  const send = () => {
    if (to === 'group') process.kill(-child.pid!, signal);
    else if (to === 'cli') child.kill(signal);
    else if (to === 'qemu') process.kill(qemuPidOf(/namespace (wl-[0-9a-f]{6})/.exec(output)![1]!), signal);
    else execFileSync('docker', ['kill', '--signal', signal, `${/namespace (wl-[0-9a-f]{6})/.exec(output)![1]!}-left`]);
  };
  const exit = new Promise<Interrupted['exit']>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      output += b.toString();
      if (sentAt === 0 && MARK[moment].test(output)) {
        sentAt = -1;
        setTimeout(() => {
          sentAt = Date.now();
          send();
          if (again) setTimeout(send, 200);
          resolve();
        }, delayMs);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exit.then(() => reject(new Error(`wirelab run ended before ${moment}: ${output}`)));
  });
  const ended = await exit;
  const runId = /namespace (wl-[0-9a-f]{6})/.exec(output)?.[1];
  expect(runId, output).toBeDefined();
  return { runId: runId!, exit: ended, exitMs: Date.now() - sentAt, output };
}

/** The pid of the run's QEMU (its command line names the guest `<run id>-guest`). */
function qemuPidOf(runId: string): number {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(`${runId}-guest`)) return Number(pid);
    } catch {
      // exited meanwhile
    }
  }
  throw new Error(`no QEMU of ${runId} is running`);
}

describe('interrupted wirelab run', () => {
  it('Ctrl-C twice in the boot: exit 130 once the lab is gone, the second Ctrl-C does not abandon the teardown', async () => {
    const r = await interruptRun('booting', 500, 'SIGINT', 'group', true);
    expect(r.exit.code, r.output).toBe(130);
    expect(r.output).toMatch(/SIGINT received: stopping the suites/);
    expect(r.output).toMatch(/interrupted by SIGINT; 1 lab\(s\) of this run taken down/);
    const { ms, left } = await untilNothingLeft(r.runId, AFTER_EXIT_MS);
    expect(left, `${ms} ms after exit`).toEqual(NOTHING_LEFT);
    console.log(`Ctrl-C in the boot: CLI exited ${r.exitMs} ms after it, nothing left ${ms} ms later`);
  });

  it('Ctrl-C after the guest is ready: exit 130, nothing left', async () => {
    const r = await interruptRun('ready', 1_000, 'SIGINT', 'group');
    expect(r.exit.code, r.output).toBe(130);
    expect(r.output).toMatch(/interrupted by SIGINT; 1 lab\(s\) of this run taken down/);
    const { ms, left } = await untilNothingLeft(r.runId, AFTER_EXIT_MS);
    expect(left, `${ms} ms after exit`).toEqual(NOTHING_LEFT);
    console.log(`Ctrl-C after ready: CLI exited ${r.exitMs} ms after it, nothing left ${ms} ms later`);
  });

  it('SIGTERM to the CLI alone: it stops vitest and its worker, exit 143, nothing left', async () => {
    const r = await interruptRun('ready', 1_000, 'SIGTERM', 'cli');
    expect(r.exit.code, r.output).toBe(143);
    expect(r.output).toMatch(/interrupted by SIGTERM; 1 lab\(s\) of this run taken down/);
    const { ms, left } = await untilNothingLeft(r.runId, AFTER_EXIT_MS);
    expect(left, `${ms} ms after exit`).toEqual(NOTHING_LEFT);
    console.log(`SIGTERM to the CLI: exited ${r.exitMs} ms after it, nothing left ${ms} ms later`);
  });

  it('SIGKILL of the whole run: its watchdog reaps the lab without `wirelab clean`', async () => {
    const r = await interruptRun('ready', 1_000, 'SIGKILL', 'group');
    expect(r.exit.signal).toBe('SIGKILL');
    const { ms, left } = await untilNothingLeft(r.runId, AFTER_SIGKILL_MS);
    expect(left, `${ms} ms after SIGKILL`).toEqual(NOTHING_LEFT);
    console.log(`SIGKILL of the group: nothing left ${r.exitMs + ms} ms after it`);
  });

  it("the guest's QEMU killed mid-test: the failure names the guest stopping (not the lab), exit 1, nothing left", async () => {
    const r = await interruptRun('ready', 500, 'SIGKILL', 'qemu');
    expect(r.exit.code, r.output).toBe(1);
    expect(r.output).toMatch(/the guest stopped during the run \(exited \(killed by SIGKILL\)\), so nothing could cross it/);
    const { ms, left } = await untilNothingLeft(r.runId, AFTER_EXIT_MS);
    expect(left, `${ms} ms after exit`).toEqual(NOTHING_LEFT);
  });

  it('the left traffic host killed mid-test: the failure names its lost SSH connection, exit 1, nothing left', async () => {
    const r = await interruptRun('ready', 500, 'SIGKILL', 'left host');
    expect(r.exit.code, r.output).toBe(1);
    expect(r.output).toMatch(/The SSH connection to traffic host 'left' \(wl-[0-9a-f]{6}-left\) is gone/);
    const { ms, left } = await untilNothingLeft(r.runId, AFTER_EXIT_MS);
    expect(left, `${ms} ms after exit`).toEqual(NOTHING_LEFT);
  });
});
