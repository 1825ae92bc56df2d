// What a run may leave on this machine, looked up by its run id: the check behind every
// "nothing is left" assertion in the lab tests. Only the run's own resources are looked at (other
// labs may be up on this machine at the same time).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../lib/runtime/exec.ts';
import { listNetns } from '../../lib/lab/nested/netns.ts';
import { LEDGER_DIR } from '../../lib/runtime/ledger.ts';

export interface Leftovers {
  netns: boolean;
  containers: string[];
  processes: string[];
  ledger: boolean;
  /** Its work directories (<tmpdir>/wirelab-<run id>-*). */
  workDirs: string[];
}

/** Processes whose command line mentions the run id (qemu, tcpdump, sshd started for the run, its watchdog). */
function processesOf(runId: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(path.join('/proc', pid, 'cmdline'), 'utf8')
        .split('\0')
        .join(' ');
      if (cmd.includes(runId) && !cmd.includes('vitest')) found.push(`${pid}: ${cmd.slice(0, 120)}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

export async function leftoversOf(runId: string): Promise<Leftovers> {
  const containers = await run('docker', ['ps', '-aq', '--filter', `label=wirelab.run=${runId}`], { allowFailure: true });
  return {
    netns: (await listNetns()).includes(runId),
    containers: containers.stdout.split('\n').filter(Boolean),
    processes: processesOf(runId),
    ledger: existsSync(path.join(LEDGER_DIR, `${runId}.json`)),
    workDirs: readdirSync(os.tmpdir()).filter((d) => d.startsWith(`wirelab-${runId}-`)),
  };
}

export const NOTHING_LEFT: Leftovers = { netns: false, containers: [], processes: [], ledger: false, workDirs: [] };

/** Poll until nothing of the run is left; resolves to how long that took, or to what was still left after `boundMs`. */
export async function untilNothingLeft(runId: string, boundMs: number): Promise<{ ms: number; left: Leftovers }> {
  const t0 = Date.now();
  for (;;) {
    const left = await leftoversOf(runId);
    const empty = JSON.stringify(left) === JSON.stringify(NOTHING_LEFT);
    if (empty || Date.now() - t0 > boundMs) return { ms: Date.now() - t0, left };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Docker objects a run could add besides containers: networks and volumes. */
export async function dockerState(): Promise<{ networks: string[]; volumes: string[] }> {
  const networks = await run('docker', ['network', 'ls', '-q'], { allowFailure: true });
  const volumes = await run('docker', ['volume', 'ls', '-q'], { allowFailure: true });
  return { networks: networks.stdout.split('\n').filter(Boolean).sort(), volumes: volumes.stdout.split('\n').filter(Boolean).sort() };
}
