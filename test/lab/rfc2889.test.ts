// The RFC 2889 suite on the real lab, through `wirelab run rfc2889` (short trials): the good reference
// bridge holds every station tried, learns at a rate above 0 and forwards broadcast, with the three
// tables in the report; the nolearn variant (ageing time 0) is reported as flooding and fails the
// capacity test naming it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allureTests, bridgeProfile, wirelab } from './wirelab-cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-rfc2889-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FLAGS = ['--trial-seconds', '0.5', '--ceiling-frames', '5000', '--resolution', '0.1', '--max-trials', '8', '--min-pps', '300'];
/** Fewer stations than the suite's default: the same check, a shorter trial. */
const ENV = { WIRELAB_RFC2889_MAX_STATIONS: '512', WIRELAB_RFC2889_LEARNING_STATIONS: '128' };

async function rfc2889(reference: string, extra: string[] = []) {
  const reportDir = path.join(dir, reference);
  const run = await wirelab(
    ['run', 'rfc2889', '--profile', bridgeProfile(dir, reference), '--report-dir', reportDir, ...FLAGS, ...extra],
    path.join(dir, `${reference}.json`),
    ENV,
  );
  const tests = allureTests(path.join(reportDir, 'allure-results'));
  const table = (title: string): string => {
    const a = tests.flatMap((t) => t.attachments).find((x) => x.name === title);
    if (!a) throw new Error(`no table '${title}' in the report of ${reference}:\n${run.output.slice(-3000)}`);
    return readFileSync(a.file, 'utf8');
  };
  return { run, table };
}

describe('RFC 2889 suite through wirelab run', () => {
  it('the good bridge learns (every station held, a learning rate, broadcast forwarded); the nolearn variant is reported as flooding', async () => {
    const good = await rfc2889('l2-bridge');
    expect(
      good.run.tests.filter((t) => t.status !== 'passed'),
      good.run.output.slice(-3000),
    ).toEqual([]);
    expect(good.run.tests).toHaveLength(3);
    expect(good.table('RFC 2889 address caching capacity')).toMatch(/≥ 512/);
    expect(good.table('RFC 2889 address learning rate')).toMatch(/<td class="num">128<\/td><td class="num">[1-9][\d,]*<\/td>/);
    expect(good.table('RFC 2889 broadcast forwarding rate')).toMatch(/<td class="num">[1-9][\d,]*<\/td>/);

    const bad = await rfc2889('l2-bridge-nolearn', ['--grep', 'capacity']);
    expect(bad.run.exitCode).toBe(1);
    const failed = bad.run.tests.find((t) => /capacity/.test(t.name));
    expect(failed).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/the bridge floods: all \d+ test frames .* learns no MACs/),
    });
    expect(bad.table('RFC 2889 address caching capacity')).toMatch(/0 \(floods\)/);
  }, 900_000);
});
