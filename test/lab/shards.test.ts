// Sharding a run across bench hosts, on this machine: two shards of the same `wirelab run` (two suite
// files, one quick test each), each with its own report directory, then one merge. Each shard ran
// only its part; the merged report holds both shards' tests with their evidence, and the merged
// summary counts them all. (runSuites/mergeReports are what `wirelab run --shard` and
// `wirelab merge-reports` call.)
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeReports } from '../../lib/cli/merge-reports.ts';
import { runSuites } from '../../lib/cli/run-suites.ts';
import { WirelabError } from '../../lib/core/errors.ts';
import { allureTests, bridgeProfile } from './wirelab-cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-shards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// The l2-bridge file also checks readiness: only the readiness file's own test is meant here.
const GREP = '^l2-bridge broadcast frames|^readiness readiness:';
const QUICK = [/broadcast frames \(flooded\)/, /frames cross soon/];

describe('sharded runs merged into one report', () => {
  it('two shards each run their part; the merge holds both, with evidence, in one summary and one Allure report', async () => {
    const profile = bridgeProfile(dir, 'l2-bridge');
    const shardDirs = [path.join(dir, 'host-a'), path.join(dir, 'host-b')];
    const codes: number[] = [];
    for (const [i, reportDir] of shardDirs.entries()) {
      codes.push(await runSuites(['l2-bridge', 'readiness'], { profile, reportDir, grep: GREP, shard: `${i + 1}/2` }));
    }
    expect(codes).toEqual([0, 0]);

    // Each shard ran one of the two suite files, and left a blob next to its Allure results.
    const perShard = shardDirs.map((d) => allureTests(path.join(d, 'allure-results')).map((t) => t.name));
    for (const names of perShard) expect(names).toHaveLength(1);
    expect(perShard.flat().sort()).toEqual(expect.arrayContaining([expect.stringMatching(QUICK[0]!), expect.stringMatching(QUICK[1]!)]));
    for (const [i, d] of shardDirs.entries()) expect(existsSync(path.join(d, 'blob', `blob-${i + 1}-2.json`))).toBe(true);

    const merged = path.join(dir, 'merged');
    const json = path.join(dir, 'merged.json');
    expect(await mergeReports(shardDirs, { reportDir: merged, json })).toBe(0);

    const tests = allureTests(path.join(merged, 'allure-results'));
    expect(tests.map((t) => t.name).sort()).toEqual(perShard.flat().sort());
    expect(tests.every((t) => t.status === 'passed')).toBe(true);
    // The evidence came along: the broadcast test's flow table and pcaps are in the merged results.
    const broadcast = tests.find((t) => QUICK[0]!.test(t.name))!;
    expect(broadcast.attachments.map((a) => a.name)).toEqual(
      expect.arrayContaining(['contract:broadcast: flows', 'contract:broadcast: right-host.pcap']),
    );
    for (const a of broadcast.attachments) expect(existsSync(a.file), a.name).toBe(true);

    const summary = JSON.parse(readFileSync(json, 'utf8')) as {
      numTotalTests: number;
      numPassedTests: number;
      testResults: { assertionResults: { fullName: string; status: string }[] }[];
    };
    const ran = summary.testResults.flatMap((f) => f.assertionResults).filter((a) => a.status !== 'skipped');
    expect(ran.map((a) => a.fullName)).toEqual(
      expect.arrayContaining([expect.stringMatching(QUICK[0]!), expect.stringMatching(QUICK[1]!)]),
    );
    expect(ran.every((a) => a.status === 'passed')).toBe(true);

    expect(readFileSync(path.join(merged, 'allure-results', 'environment.properties'), 'utf8')).toMatch(/^shards=2$/m);
    expect(existsSync(path.join(merged, 'allure-report', 'index.html'))).toBe(true);
    // One JUnit XML of both shards' tests, for the CI system (docs/ci.md).
    const junit = readFileSync(path.join(merged, 'junit.xml'), 'utf8');
    for (const quick of QUICK) expect(junit).toMatch(new RegExp(`<testcase [^>]*name="[^"]*${quick.source}`));
  });

  it('refuses a bad shard or a directory that is no shard, before anything runs', async () => {
    const profile = bridgeProfile(dir, 'l2-bridge');
    for (const shard of ['3/2', '0/2', 'half']) {
      await expect(runSuites(['readiness'], { profile, reportDir: path.join(dir, 'never'), shard })).rejects.toThrow(WirelabError);
    }
    await expect(runSuites(['readiness'], { profile, reportDir: path.join(dir, 'never'), shard: '3/2' })).rejects.toThrow(
      /--shard is '3\/2'; use i\/n/,
    );
    await expect(mergeReports([path.join(dir, 'nothing-here')], { reportDir: path.join(dir, 'm2') })).rejects.toThrow(/no allure-results/);
    expect(existsSync(path.join(dir, 'never'))).toBe(false);
  });
});
