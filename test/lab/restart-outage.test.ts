// The restart-outage suite on the real lab, through `wirelab run restart-outage`: the good reference
// bridge passes the NIC flap (its outage about as long as the link was down), the service restart
// and the reboot (a few seconds of outage per direction, measured frame by frame, within the bound);
// the norestart variant, whose service does not come back in one direction after a restart, fails
// the service restart naming left→right as the direction that stayed down — and only that one.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DirectionOutage } from '../../lib/analysis/outage.ts';
import { allureTests, wirelab } from './wirelab-cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Short runs: 2 s of lead, a 20 s bound, 5 s more. A reboot under TCG took 3.6 s of outage here on a
 * quiet moment and 15.6 s with three other labs booting on the two cores.
 */
const MAX_OUTAGE_S = 20;
const FLAP_S = 2;

function profile(reference: string): string {
  const file = path.join(dir, `${reference}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${reference}`,
      'kind: nested',
      'role: l2-bridge',
      'guest:',
      `  image: { reference: ${reference} }`,
      'trafficHosts:',
      '  left: { ipv4: 198.18.0.1/24 }',
      '  right: { ipv4: 198.18.0.2/24 }',
      `restart: { maxOutageSeconds: ${MAX_OUTAGE_S}, flapSeconds: ${FLAP_S}, leadSeconds: 2, ratePps: 100 }`,
      '',
    ].join('\n'),
  );
  return file;
}

async function restartOutage(reference: string, extra: string[] = []) {
  const reportDir = path.join(dir, reference);
  const run = await wirelab(
    ['run', 'restart-outage', '--profile', profile(reference), '--report-dir', reportDir, ...extra],
    path.join(dir, `${reference}.json`),
  );
  const tests = allureTests(path.join(reportDir, 'allure-results'));
  const outages = (test: RegExp, what: string): DirectionOutage[] => {
    const t = tests.find((x) => test.test(x.name));
    const json = t?.attachments.find((a) => a.name === `outage: ${what} (JSON)`);
    if (!json) throw new Error(`no outage of ${what} in the report of ${reference}:\n${run.output.slice(-3000)}`);
    return JSON.parse(readFileSync(json.file, 'utf8')) as DirectionOutage[];
  };
  const outcome = (name: RegExp) => {
    const t = run.tests.find((x) => name.test(x.name));
    if (!t) throw new Error(`no test matching ${name} ran for ${reference}:\n${run.output.slice(-3000)}`);
    return t;
  };
  return { run, outages, outcome };
}

describe('restart-outage suite through wirelab run', () => {
  it('the good bridge comes back from a NIC flap, a service restart and a reboot within the bound; the norestart variant stays down left→right', async () => {
    const good = await restartOutage('l2-bridge');
    expect(
      good.run.tests.filter((t) => t.status !== 'passed'),
      good.run.output.slice(-3000),
    ).toEqual([]);
    expect(good.run.tests).toHaveLength(3);
    const flap = good.outages(/NIC flap/, 'the NIC flap');
    const reboot = good.outages(/guest reboot/, 'the guest reboot');
    for (const o of [...flap, ...reboot]) {
      expect(o.stayedDown).toBe(false);
      expect(o.lost).toBeGreaterThan(0);
    }
    // The flap's outage is about the time the link was down; a reboot's is the guest's boot, both within the bound.
    for (const o of flap) expect(o.outageS!).toBeGreaterThan(FLAP_S * 0.8);
    for (const o of reboot) {
      expect(o.outageS!).toBeGreaterThan(0.5);
      expect(o.outageS!).toBeLessThanOrEqual(MAX_OUTAGE_S);
    }
    expect(good.outages(/service restart/, 'the service restart').map((o) => o.direction)).toEqual(['left→right', 'right→left']);

    const bad = await restartOutage('l2-bridge-norestart', ['--grep', 'service restart']);
    expect(bad.run.exitCode).toBe(1);
    const failed = bad.outcome(/service restart/);
    expect(failed.status).toBe('failed');
    expect(failed.message).toMatch(/left→right stayed down after the service restart: no frame was delivered again/);
    expect(failed.message).not.toMatch(/right→left stayed down/);
    const [l2r, r2l] = bad.outages(/service restart/, 'the service restart');
    expect(l2r).toMatchObject({ direction: 'left→right', stayedDown: true });
    expect(r2l).toMatchObject({ direction: 'right→left', stayedDown: false });
  }, 900_000);
});
