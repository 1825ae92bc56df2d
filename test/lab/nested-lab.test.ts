// The nested-virt lab on the real thing: QEMU guest on taps in the run's own namespace, traffic-host
// containers reached over SSH. Frames cross the good bridge and not the one-way one (negative
// control); nothing of a run is left after teardown, a failed boot, SIGINT mid-boot, or a crash that
// also took its watchdog (what a dead machine leaves) + `wirelab clean`.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WirelabError } from '../../lib/core/errors.ts';
import { startNestedLab } from '../../lib/lab/nested/nested-lab.ts';
import type { Lab } from '../../lib/lab/lab.ts';
import { pingProbe } from '../../lib/traffic/ping-probe.ts';
import { listNetns } from '../../lib/lab/nested/netns.ts';
import { loadProfile } from '../../lib/profile/load.ts';
import type { LabProfile } from '../../lib/profile/types.ts';
import { newRunId, RUN_ID_PATTERN } from '../../lib/core/run-id.ts';
import { LEDGER_DIR, type RunRecord } from '../../lib/runtime/ledger.ts';
import { dockerState, leftoversOf, NOTHING_LEFT } from './leftovers.ts';
import { fileTempDir } from '../temp-dir.ts';

const BASE = loadProfile(path.resolve('lab-profiles/nested-l2-bridge.yaml'));
const CLI = path.resolve('bin/wirelab.mjs');

function withImage(reference: string, guest: Partial<LabProfile['guest']> = {}): LabProfile {
  return { ...BASE, guest: { ...BASE.guest, ...guest, image: { kind: 'reference', reference } } };
}

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.down();
  if (lab) expect(await leftoversOf(lab.runId)).toEqual(NOTHING_LEFT);
  lab = undefined;
});

describe('nested lab', () => {
  it('brings up the good l2-bridge: frames cross both ways, SSH reaches both hosts, nothing is left after', async () => {
    const dockerBefore = await dockerState();
    lab = await startNestedLab(BASE);
    expect(lab.runId).toMatch(RUN_ID_PATTERN);
    expect(await listNetns()).toContain(lab.runId);
    expect(lab.guest.console()).toMatch(/wirelab-guest: ready role=l2-bridge/);
    expect(lab.ports.left.guestMac).not.toBe(lab.ports.right.guestMac);

    const leftToRight = await pingProbe(lab.hosts.left, lab.hosts.right);
    expect(leftToRight.framesFromSender).toBe(5);
    expect(leftToRight.replies).toBe(5);
    const rightToLeft = await pingProbe(lab.hosts.right, lab.hosts.left);
    expect(rightToLeft.framesFromSender).toBe(5);

    const halt = await lab.haltGuest();
    expect(halt.graceful).toBe(true);
    const runId = lab.runId;
    await lab.down();
    lab = undefined;
    expect(await leftoversOf(runId)).toEqual(NOTHING_LEFT);
    expect(await dockerState()).toEqual(dockerBefore);
  });

  it('negative control: through the one-way-drop guest, nothing from the left host reaches the right', async () => {
    lab = await startNestedLab(withImage('l2-bridge-oneway'));
    const leftToRight = await pingProbe(lab.hosts.left, lab.hosts.right);
    expect(leftToRight.framesFromSender).toBe(0);
    expect(leftToRight.replies).toBe(0);
  });

  it('a guest that does not get ready in time fails with its console quoted, and leaves nothing', async () => {
    const profile = withImage('l2-bridge-slowboot', { ready: { ...BASE.guest.ready, timeoutSeconds: 8 } });
    const runId = newRunId();
    const error = await startNestedLab(profile, { runId }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WirelabError);
    expect((error as Error).message).toMatch(/wirelab-guest: ready/);
    expect((error as Error).message).toMatch(/8000 ms|8 s/);
    expect((error as Error).message).toMatch(/slow boot|console/i);
    expect(await leftoversOf(runId)).toEqual(NOTHING_LEFT);
  });

  it('reports an image that will not halt on the ACPI power button, and still removes everything', async () => {
    lab = await startNestedLab(withImage('l2-bridge-nohalt', { haltTimeoutSeconds: 3 }));
    const halt = await lab.haltGuest();
    expect(halt.graceful).toBe(false);
  });
});

describe('interrupted runs', () => {
  const dir = fileTempDir('wirelab-interrupt-');

  /** Start `wirelab up --hold` on a profile and wait until its run id is visible as a namespace. */
  async function startCli(reference: string): Promise<{ child: ReturnType<typeof spawn>; runId: string; output: () => string }> {
    const file = path.join(dir, `${reference}.yaml`);
    writeFileSync(
      file,
      `name: interrupt\nkind: nested\nrole: l2-bridge\nguest:\n  image: { reference: ${reference} }\n  ready: { timeoutSeconds: 120 }\ntrafficHosts:\n  left: { ipv4: 198.18.0.1/24 }\n  right: { ipv4: 198.18.0.2/24 }\n`,
    );
    const child = spawn(process.execPath, [CLI, 'up', '--profile', file, '--hold'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 120_000; // a loaded machine (other labs booting) is slow to get here
    for (;;) {
      // The run id from the CLI's own words: other labs' namespaces may appear on this machine meanwhile.
      const runId = /namespace (wl-[0-9a-f]{6})/.exec(output)?.[1];
      // Wait until the guest's QEMU and the containers exist too: "mid-boot" means all parts are starting.
      if (runId && (await listNetns()).includes(runId) && output.includes('booting the guest')) {
        await new Promise((r) => setTimeout(r, 3000));
        return { child, runId, output: () => output };
      }
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the CLI did not start a lab: ${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('SIGINT mid-boot tears everything down', async () => {
    const { child, runId, output } = await startCli('l2-bridge-slowboot');
    const mid = await leftoversOf(runId);
    expect(mid.netns).toBe(true);
    expect(mid.processes.some((p) => p.includes('qemu'))).toBe(true);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code, output()).toBe(130);
    expect(await leftoversOf(runId), output()).toEqual(NOTHING_LEFT);
  });

  it('a crashed run whose watchdog died too (SIGKILL of both) is reaped by `wirelab clean`, which touches nothing else', async () => {
    const { child, runId } = await startCli('l2-bridge');
    await new Promise((r) => setTimeout(r, 3000));
    // The watchdog first (by the pid the run's ledger names), or it would reap the run before clean can.
    const record = JSON.parse(readFileSync(path.join(LEDGER_DIR, `${runId}.json`), 'utf8')) as RunRecord;
    expect(record.watchdogPid).toBeGreaterThan(1);
    process.kill(record.watchdogPid!, 'SIGKILL');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const left = await leftoversOf(runId);
    expect(left.netns && left.containers.length > 0 && left.ledger && left.workDirs.length > 0).toBe(true);
    const clean = spawn(process.execPath, [CLI, 'clean'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    clean.stdout.on('data', (d: Buffer) => (out += d.toString()));
    expect(await new Promise((resolve) => clean.once('exit', resolve))).toBe(0);
    expect(out).toContain(runId);
    expect(await leftoversOf(runId)).toEqual(NOTHING_LEFT);
  });
});
