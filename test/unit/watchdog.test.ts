// The run's watchdog: when the process owning a run dies by SIGKILL, the watchdog removes what the
// run left (here its ledger entry and work directory, in a private state dir and tmpdir); when the
// owner unwinds by itself, the watchdog exits without touching anything. No root needed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processAlive } from '../../lib/runtime/ledger.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'wlt-watchdog-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const tsx = path.resolve('node_modules/tsx/dist/loader.mjs');
const bringUp = path.resolve('lib/lab/bring-up.ts');

/** A process that opens a run (watchdog, ledger, work dir), prints its run id, then waits or unwinds. */
function owner(mode: 'wait' | 'unwind', env: Record<string, string>) {
  const script =
    `const { openRun } = await import(${JSON.stringify(bringUp)});` +
    `const run = openRun({ file: 'unit.yaml' });` +
    `const { readRunRecords } = await import(${JSON.stringify(path.resolve('lib/runtime/ledger.ts'))});` +
    `console.log(JSON.stringify({ runId: run.runId, workDir: run.workDir, watchdog: readRunRecords()[0].watchdogPid }));` +
    (mode === 'unwind' ? `await run.stack.unwind();` : `setInterval(() => {}, 1000);`);
  const child = spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const started = new Promise<{ runId: string; workDir: string; watchdog: number }>((resolve) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!));
    });
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, started, exited };
}

async function waitFor(check: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

describe('run watchdog', () => {
  it('reaps the ledger entry and the work directory after the owner is SIGKILLed', async () => {
    const env = { WIRELAB_STATE_DIR: mkdtempSync(path.join(root, 'state-')), TMPDIR: mkdtempSync(path.join(root, 'tmp-')) };
    const o = owner('wait', env);
    const { runId, workDir, watchdog } = await o.started;
    const ledger = path.join(env.WIRELAB_STATE_DIR, `${runId}.json`);
    expect(existsSync(ledger)).toBe(true);
    expect(existsSync(workDir)).toBe(true);
    expect(JSON.parse(readFileSync(ledger, 'utf8')).watchdogPid).toBe(watchdog);
    o.child.kill('SIGKILL');
    await o.exited;
    // The ledger goes last (after a second pass for late containers): 3 s plus the reap itself.
    await waitFor(() => !existsSync(ledger), 10_000);
    expect(existsSync(workDir)).toBe(false);
    await waitFor(() => !processAlive(watchdog), 2_000);
    expect(readdirSync(env.WIRELAB_STATE_DIR).filter((f) => f.endsWith('.log'))).toEqual([]);
  }, 20_000);

  it('exits without reaping when the owner unwound the run itself', async () => {
    const env = { WIRELAB_STATE_DIR: mkdtempSync(path.join(root, 'state-')), TMPDIR: mkdtempSync(path.join(root, 'tmp-')) };
    const o = owner('unwind', env);
    const { runId, workDir, watchdog } = await o.started;
    await o.exited;
    expect(existsSync(path.join(env.WIRELAB_STATE_DIR, `${runId}.json`))).toBe(false);
    expect(existsSync(workDir)).toBe(false);
    // Released: it exits at once, well before a reap's second pass would end.
    expect(await waitFor(() => !processAlive(watchdog), 2_000)).toBeLessThan(2_000);
  }, 20_000);
});
