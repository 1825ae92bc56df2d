// The realistic reference images (Debian bookworm disks with systemd and IPv6 at Debian's defaults,
// lib/images/disk-image.ts) on the real lab, as a user runs wirelab on an image of their own: a nested
// profile whose guest is the qcow2, and the role's default suites. The good bridges pass everything but
// the emissions check, which names their IPv6 autoconfiguration and the fix — and passes once the
// profile tolerates that chatter (expect.guestMayEmit, the Open vSwitch run); the router and the
// monitor pass with their role's defaults. Faulty variants fail the check their fault breaks.
// Each run is a disk boot and a whole suite (1.5–2 min under TCG), so CI keeps one faulty variant (a
// hairpin port); debian-bridge-stp, -skew and -dhcp break checks whose initrd controls in
// test/lab/suites.test.ts CI already fails (l2-bridge-stp, -skew, -dhcp).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { buildDiskImage, type BuiltDiskImage } from '../../lib/images/disk-image.ts';
import { allureTests, endedInconclusive, wirelab, type TestOutcome } from './wirelab-cli.ts';
import { fileTempDir } from '../temp-dir.ts';

const dir = fileTempDir('wirelab-disk-');
/** The first build of the base and an image takes ~3 min; a boot ~1 min under TCG; two runs per test. */
const TEST_TIMEOUT_MS = 30 * 60_000;

const build = (name: string): Promise<BuiltDiskImage> => buildDiskImage(name, { log: (line) => console.log(line) });

/**
 * A nested profile booting the disk image: disk images need ≥ 60 s to be ready under TCG (90 s here). Open
 * vSwitch took up to 73 s here; an STP bridge forwards only two forward delays (30 s) after its links come up.
 */
const READY_SECONDS: Record<string, number> = { 'debian-bridge-ovs': 120 };

/** What a user accepts of a Debian bridge with IPv6 left on: its link-local chatter (RS, DAD, MLD, and an IGMP report). */
const LINK_LOCAL_CHATTER = '  guestMayEmit: [ipv6-link-local, igmp]\n';

function diskProfile(image: BuiltDiskImage, expectYaml = ''): string {
  const readySeconds = READY_SECONDS[image.name] ?? 90;
  const hosts =
    image.role === 'l3-forwarder'
      ? 'trafficHosts:\n' +
        '  left: { ipv4: 198.18.1.2/24, gateway: 198.18.1.1, ipv6: 2001:db8:1::2/64, gateway6: 2001:db8:1::1 }\n' +
        '  right: { ipv4: 198.18.2.2/24, gateway: 198.18.2.1, ipv6: 2001:db8:2::2/64, gateway6: 2001:db8:2::1 }\n'
      : 'trafficHosts:\n  left: { ipv4: 198.18.0.1/24 }\n  right: { ipv4: 198.18.0.2/24 }\n';
  const text =
    `name: ${image.name}\nkind: nested\nrole: ${image.role}\n` +
    `guest:\n  image: { disk: ${image.disk} }\n` +
    // The Debian router's right link has MTU 1400 (its /etc/network/interfaces): the profile declares it.
    (image.role === 'l3-forwarder' ? '  nics: { right: { mtu: 1400 } }\n' : '') +
    `  ready: { consolePattern: '${image.readyPattern.replace(/'/g, "''")}', timeoutSeconds: ${readySeconds} }\n` +
    hosts +
    (expectYaml ? `expect:\n${expectYaml}` : '');
  const file = path.join(dir, `${image.name}-${Math.random().toString(16).slice(2, 8)}.yaml`);
  writeFileSync(file, text);
  return file;
}

/**
 * `wirelab run` on the image, one suite file at a time. Tests run two at a time (the lab project's
 * maxConcurrency): two disk guests boot in ~45 s at once (32 s alone, within the 90 s readiness
 * timeout), and every timed window waits for the machine to be quiet (lib/runtime/quiet-machine.ts).
 */
function wirelabRun(suites: string[], profile: string, grep?: string) {
  const json = path.join(dir, `results-${Math.random().toString(16).slice(2, 8)}.json`);
  const report = path.join(dir, `report-${path.basename(profile, '.yaml')}`);
  return wirelab(
    ['run', ...suites, '--profile', profile, '--report-dir', report, '--workers', '1', ...(grep ? ['--grep', grep] : [])],
    json,
  );
}

const failedTests = (run: { tests: TestOutcome[] }) => run.tests.filter((t) => t.status === 'failed' && !endedInconclusive(t));
/** A good image's run: exit 0, or 3 when the host left a test inconclusive. */
const GOOD_EXIT = [0, 3];

async function checkedImage(name: string): Promise<BuiltDiskImage> {
  const image = await build(name);
  expect(image.disk).toMatch(new RegExp(`/${name}-[0-9a-f]{16}\\.qcow2$`));
  // Offline, read-only, as a user would check their own image before uploading it.
  const check = await execa(process.execPath, [path.resolve('bin/wirelab.mjs'), 'image', 'check', image.disk], {
    reject: false,
    all: true,
    timeout: 180_000,
  });
  expect(check.exitCode, String(check.all)).toBe(0);
  return image;
}

describe.concurrent("Debian disk images: good ones, the role's default suites", () => {
  it(
    "debian-bridge-brctl (the guide's rc.local bridge): everything passes but the emissions check, which names IPv6 autoconfiguration and the fix",
    async () => {
      const image = await checkedImage('debian-bridge-brctl');
      const run = await wirelabRun(['l2-bridge'], diskProfile(image));
      expect(run.tests.length).toBeGreaterThanOrEqual(12);
      const failed = failedTests(run);
      expect(
        failed.map((t) => t.name),
        run.output.slice(-3000),
      ).toEqual([expect.stringMatching(/guest emissions/)]);
      const headline = failed[0]!.message.split('\n')[0]!.replace(/^QualificationFailure: /, '');
      expect(headline).toMatch(/^The guest sent \d+ frames by itself \(\d+ ipv6-link-local/);
      expect(headline).toMatch(/IPv6 is on/);
      expect(failed[0]!.message).toMatch(/disable_ipv6/);
      expect(run.exitCode).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "debian-bridge-ovs (Open vSwitch, NORMAL action): nothing fails but the order of frames at a new flow's setup",
    async () => {
      // Measured here: the kernel datapath sends a new flow's first frames up to ovs-vswitchd and the
      // later ones straight through once the flow is installed, so under TCG some of the first frames
      // of a new flow (tagged ones here) arrive up to ~10 positions late. That is a breach of the
      // transparent contract wirelab reports, not a wirelab artefact; every other check must pass.
      const run = await wirelabRun(['l2-bridge'], diskProfile(await checkedImage('debian-bridge-ovs'), LINK_LOCAL_CHATTER));
      expect(run.tests.length, run.output.slice(-3000)).toBeGreaterThanOrEqual(12);
      for (const t of failedTests(run)) {
        const headline = t.message.split('\n')[0]!.replace(/^QualificationFailure: /, '');
        expect(headline, `${t.name}: ${t.message.slice(0, 2000)}`).toMatch(/arrived out of order/);
        expect(headline).not.toMatch(/lost|changed|reflected|sent \d+ frames by itself/);
      }
      for (const name of [
        /readiness/,
        /MAC the bridge has learned/,
        /broadcast frames \(flooded\)/,
        /group addresses/,
        /guest emissions/,
        /halts gracefully/,
      ]) {
        const t = run.tests.find((x) => name.test(x.name));
        expect(t && (t.status === 'passed' || endedInconclusive(t)), `${name}: ${t?.message.slice(0, 2000)}`).toBe(true);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "debian-router (ifupdown, dual stack, FRR's OSPF): the role's default suites pass, and OSPF is named among what it may send",
    async () => {
      const image = await checkedImage('debian-router');
      const profile = diskProfile(image);
      const run = await wirelabRun([], profile);
      expect(failedTests(run), run.output.slice(-3000)).toEqual([]);
      expect(run.tests.length).toBeGreaterThanOrEqual(8);
      expect(GOOD_EXIT).toContain(run.exitCode);
      const results = path.join(dir, `report-${path.basename(profile, '.yaml')}`, 'allure-results');
      const emissions = allureTests(results).find((t) => /guest emissions/.test(t.name))!;
      const checks = readFileSync(emissions.attachments.find((a) => a.name === 'checks')!.file, 'utf8');
      expect(checks).toMatch(/Allowed and reported: .*\d+ routing-protocol \(OSPF\)/);
    },
    TEST_TIMEOUT_MS,
  );

  it.each([['debian-monitor', '']])(
    "%s: the role's default suites pass (tolerated: %s)",
    async (name, tolerated) => {
      const image = await checkedImage(name);
      const run = await wirelabRun([], diskProfile(image, tolerated));
      expect(failedTests(run), run.output.slice(-3000)).toEqual([]);
      expect(run.tests.length).toBeGreaterThanOrEqual(5);
      expect(GOOD_EXIT).toContain(run.exitCode);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a cached image is reused: same digest and file, nothing rebuilt',
    async () => {
      const first = await build('debian-bridge-brctl');
      const again = await build('debian-bridge-brctl');
      expect(again).toMatchObject({ disk: first.disk, digest: first.digest, built: false });
    },
    TEST_TIMEOUT_MS,
  );
});

describe.concurrent('Debian disk images: faulty variants fail the check their fault breaks', () => {
  it.each([['debian-bridge-hairpin', 'broadcast frames', /come back towards their sender/]])(
    '%s: "%s" fails (%s)',
    async (name, test, headline) => {
      const run = await wirelabRun(['l2-bridge'], diskProfile(await build(name), LINK_LOCAL_CHATTER), test || undefined);
      const outcome = run.tests.find((t) => t.name.includes(test || 'guest emissions'));
      expect(outcome?.status, run.output.slice(-3000)).toBe('failed');
      expect(outcome!.message.split('\n')[0]!.replace(/^QualificationFailure: /, '')).toMatch(headline);
    },
    TEST_TIMEOUT_MS,
  );
});
