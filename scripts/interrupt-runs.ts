// Ctrl-C at random moments: `wirelab run l2-bridge --grep unicast` N times in a row, each sent SIGINT
// to its process group (as a terminal does) at a random moment between its start and the end of its
// first traffic window, then checked for leftovers by its run id (namespace, containers, processes —
// QEMU, tcpdump, the watchdog — ledger entry, work directory). Bounded: each run gets 3 minutes.
//
//   npx tsx scripts/interrupt-runs.ts [--runs 20] [--max-delay-ms 25000]
//
// Prints one line per run and a summary; exits 1 when anything was left behind.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NOTHING_LEFT, untilNothingLeft } from '../test/lab/leftovers.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, 'max-delay-ms': { type: 'string', default: '25000' } },
});
const runs = Number(values.runs);
const maxDelay = Number(values['max-delay-ms']);
if (!Number.isInteger(runs) || runs < 1 || runs > 100 || !(maxDelay > 0)) {
  console.error('interrupt-runs: use --runs 1..100 and a positive --max-delay-ms.');
  process.exit(2);
}
const CLI = path.resolve('bin/wirelab.mjs');
const reports = mkdtempSync(path.join(os.tmpdir(), 'wl-interrupt-runs-'));
const RUN_BUDGET_MS = 180_000;
const AFTER_EXIT_MS = 2_000;

let failures = 0;
for (let i = 1; i <= runs; i++) {
  const delay = Math.round(Math.random() * maxDelay);
  const child = spawn(process.execPath, [CLI, 'run', 'l2-bridge', '--grep', 'unicast', '--report-dir', path.join(reports, String(i))], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const exit = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const t0 = Date.now();
  let sentAt = 0;
  const timer = setTimeout(() => {
    sentAt = Date.now();
    process.kill(-child.pid!, 'SIGINT');
  }, delay);
  const budget = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), RUN_BUDGET_MS);
  const code = await exit;
  clearTimeout(timer);
  clearTimeout(budget);
  const exitMs = sentAt ? Date.now() - sentAt : -1;
  const runIds = [...new Set([...output.matchAll(/namespace (wl-[0-9a-f]{6})/g)].map((m) => m[1]!))];
  const left = [];
  for (const runId of runIds) {
    const { left: l } = await untilNothingLeft(runId, AFTER_EXIT_MS);
    if (JSON.stringify(l) !== JSON.stringify(NOTHING_LEFT)) left.push(`${runId}: ${JSON.stringify(l)}`);
  }
  if (left.length > 0) failures++;
  console.log(
    `run ${i}/${runs}: SIGINT ${sentAt ? `${delay} ms after start` : 'not sent (the run ended first)'}, exit ${code}` +
      `${exitMs >= 0 ? ` ${exitMs} ms after it` : ''}, ${(Date.now() - t0) / 1000} s, labs ${runIds.join(', ') || 'none yet'}: ` +
      (left.length === 0 ? 'nothing left' : `LEFT ${left.join('; ')}`),
  );
}
rmSync(reports, { recursive: true, force: true });
console.log(`interrupt-runs: ${runs - failures}/${runs} runs left nothing behind.`);
process.exitCode = failures > 0 ? 1 : 0;
