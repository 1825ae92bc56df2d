// The realistic reference images (Debian bookworm disks with systemd and IPv6 at Debian's defaults,
// lib/images/disk-image.ts) on the real lab, as a user runs wirelab on an image of their own: a nested
// profile whose guest is the qcow2. Each good image boots to its ready line, forwards, and halts on the
// ACPI power button (readiness, image-hygiene); the router routes; the monitor passes its suite; each
// faulty variant still boots and forwards, so that its fault is the only thing wrong with it. What the full l2-bridge suite says about
// their IPv6 chatter is left to the emission checks being built (see images/disk/README.md).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { buildDiskImage, DISK_IMAGES, type BuiltDiskImage } from '../../lib/images/disk-image.ts';
import { wirelab } from './wirelab-cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-disk-'));
/** The first build of the base and an image takes ~3 min; a boot ~1 min under TCG; two runs per test. */
const TEST_TIMEOUT_MS = 30 * 60_000;

const build = (name: string): Promise<BuiltDiskImage> => buildDiskImage(name, { log: (line) => console.log(line) });

/**
 * A nested profile booting the disk image: disk images need ≥ 60 s to be ready under TCG (90 s here). Open
 * vSwitch took up to 73 s here; an STP bridge forwards only two forward delays (30 s) after its links come up.
 */
const READY_SECONDS: Record<string, number> = { 'debian-bridge-ovs': 120, 'debian-bridge-stp': 150 };

function diskProfile(image: BuiltDiskImage): string {
  const readySeconds = READY_SECONDS[image.name] ?? 90;
  const hosts =
    image.role === 'l3-forwarder'
      ? 'trafficHosts:\n  left: { ipv4: 198.18.1.2/24, gateway: 198.18.1.1 }\n  right: { ipv4: 198.18.2.2/24, gateway: 198.18.2.1 }\n'
      : 'trafficHosts:\n  left: { ipv4: 198.18.0.1/24 }\n  right: { ipv4: 198.18.0.2/24 }\n';
  const text =
    `name: ${image.name}\nkind: nested\nrole: ${image.role}\n` +
    `guest:\n  image: { disk: ${image.disk} }\n` +
    `  ready: { consolePattern: '${image.readyPattern.replace(/'/g, "''")}', timeoutSeconds: ${readySeconds} }\n` +
    hosts;
  const file = path.join(dir, `${image.name}-${Math.random().toString(16).slice(2, 8)}.yaml`);
  writeFileSync(file, text);
  return file;
}

/**
 * `wirelab run` on the image, one suite file at a time: two disk guests booting at once on two cores
 * would each take longer than the readiness timeout allows.
 */
function wirelabRun(suites: string[], profile: string, grep?: string) {
  const json = path.join(dir, `results-${Math.random().toString(16).slice(2, 8)}.json`);
  const report = path.join(dir, `report-${path.basename(profile, '.yaml')}`);
  return wirelab(
    ['run', ...suites, '--profile', profile, '--report-dir', report, '--workers', '1', ...(grep ? ['--grep', grep] : [])],
    json,
  );
}

const good = DISK_IMAGES.filter((s) => !s.fault).map((s) => s.name);
const faulty = DISK_IMAGES.filter((s) => s.fault).map((s) => s.name);

describe('Debian disk images: good ones', () => {
  it.each(good)(
    '%s: builds, carries no 70-persistent-net.rules, boots to its ready line, forwards and halts (readiness, image-hygiene)',
    async (name) => {
      const image = await build(name);
      expect(image.disk).toMatch(new RegExp(`/${name}-[0-9a-f]{16}\\.qcow2$`));
      // Offline, read-only, as a user would check their own image before uploading it.
      const check = await execa(process.execPath, [path.resolve('bin/wirelab.mjs'), 'image', 'check', image.disk], {
        reject: false,
        all: true,
        timeout: 180_000,
      });
      expect(check.exitCode, String(check.all)).toBe(0);

      const run = await wirelabRun(['readiness', 'image-hygiene'], diskProfile(image));
      expect(
        run.tests.filter((t) => t.status !== 'passed'),
        run.output.slice(-3000),
      ).toEqual([]);
      expect(run.tests.length).toBeGreaterThanOrEqual(2);
      expect(run.exitCode).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "debian-router routes both ways (the l3-forwarder suite's test)",
    async () => {
      const run = await wirelabRun(['l3-forwarder'], diskProfile(await build('debian-router')), 'routes both ways');
      expect(
        run.tests.filter((t) => t.status !== 'passed'),
        run.output.slice(-3000),
      ).toEqual([]);
      expect(run.tests.map((t) => t.name).join('\n')).toMatch(/routes both ways/);
      expect(run.exitCode).toBe(0);
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

describe('Debian disk images: faulty variants (negative controls)', () => {
  it.each(faulty)(
    '%s: builds and still boots and forwards (readiness): its fault is the only thing wrong',
    async (name) => {
      const image = await build(name);
      const run = await wirelabRun(['readiness'], diskProfile(image));
      expect(
        run.tests.filter((t) => t.status !== 'passed'),
        run.output.slice(-3000),
      ).toEqual([]);
      expect(run.exitCode).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );
});
