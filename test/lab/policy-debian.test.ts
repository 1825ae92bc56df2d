// The policy suite on realistic images (Debian bookworm disks with systemd and IPv6 at Debian's defaults,
// images/disk/), as a user runs it on an image of their own with the shipped profiles:
// - a transparent firewall whose policy is nftables in the bridge family and a tc policer passes every
//   class — IPv4 and IPv6, untagged and tagged, rate class measured alone — and its connections;
// - a routed gateway (l3-forwarder) with a stateful nftables firewall, UDP request/response through it and a
//   reverse proxy (haproxy) that blocks SQL injection and tags API requests passes its frame classes, its
//   connections, its exchanges and its request classes; its faulty twin — one mistake per class — fails each
//   of them with the class and the cause named: SNMP dropped one way only, the UDP replies dropped, the SQL
//   pattern in a body let through, the header tagged with the wrong value.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDiskImage, type BuiltDiskImage } from '../../lib/images/disk-image.ts';
import { notPassed, wirelab, type TestOutcome } from './wirelab-cli.ts';
import { fileTempDir } from '../temp-dir.ts';

const dir = fileTempDir('wirelab-policy-debian-');
/** A first build of an image is ~45 s (the base is shared with the other disk-image tests); a run ~1.5 min under TCG. */
const TEST_TIMEOUT_MS = 20 * 60_000;

const build = (name: string): Promise<BuiltDiskImage> => buildDiskImage(name, { log: (line) => console.log(line) });

/** The shipped profile, booting the image just built (its cached qcow2, not the link the profile names). */
function shippedWith(profile: string, image: BuiltDiskImage): string {
  const file = path.join(dir, `${image.name}.yaml`);
  const text = readFileSync(path.resolve('lab-profiles', profile), 'utf8').replace(/disk: \S+\.qcow2/, `disk: ${image.disk}`);
  expect(text).toContain(image.disk);
  writeFileSync(file, text);
  return file;
}

function runPolicy(profile: string, name: string, extra: string[] = []) {
  return wirelab(
    ['run', 'policy', '--profile', profile, '--report-dir', path.join(dir, name), '--workers', '1', ...extra],
    path.join(dir, `${name}.json`),
  );
}

function outcome(tests: TestOutcome[], name: RegExp): TestOutcome {
  const t = tests.find((x) => name.test(x.name));
  if (!t) throw new Error(`no test matching ${name} ran: ${tests.map((x) => x.name).join('; ')}`);
  return t;
}

const headlineOf = (t: TestOutcome) => t.message.split('\n')[0]!.replace(/^(QualificationFailure|AssertionError|Error): /, '');
/** Tests that neither passed nor ended inconclusive, with their headlines. */
const notPassedHeadlines = (tests: TestOutcome[]) => tests.filter(notPassed).map((t) => `${t.name}: ${headlineOf(t)}`);

// Two disk guests at a time (the lab project's maxConcurrency): the rate classes' windows wait for a quiet machine.
describe.concurrent('the policy suite on Debian images', () => {
  it(
    'debian-firewall-nftables (nftables bridge family, tc policer) passes every class of nested-policy-debian-firewall.yaml',
    async () => {
      const run = await runPolicy(shippedWith('nested-policy-debian-firewall.yaml', await build('debian-firewall-nftables')), 'firewall');
      expect(notPassedHeadlines(run.tests), run.output.slice(-3000)).toEqual([]);
      expect(run.tests.length).toBe(10);
      expect([0, 3]).toContain(run.exitCode);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'debian-gateway (routed, stateful nftables, haproxy reverse proxy) passes its frame classes, connections, exchanges and requests',
    async () => {
      const run = await runPolicy(shippedWith('nested-policy-debian-gateway.yaml', await build('debian-gateway')), 'gateway');
      expect(notPassedHeadlines(run.tests), run.output.slice(-3000)).toEqual([]);
      // Three frame classes, two kinds of connection, two request classes and the unmatched requests, two exchanges,
      // the unmatched frames, the emissions check.
      expect(run.tests.length).toBe(12);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'debian-gateway-faulty fails each class it gets wrong, naming the class, the request or header, and the cause',
    async () => {
      const profile = shippedWith('nested-policy-debian-gateway.yaml', await build('debian-gateway-faulty'));
      const grep = 'class block-(snmp|telnet)|exchanges dns-from-left|request class|requests no class';
      const run = await runPolicy(profile, 'gateway-faulty', ['--grep', grep]);
      expect(run.exitCode, run.output.slice(-3000)).toBe(1);
      expect(headlineOf(outcome(run.tests, /class block-snmp/))).toBe(
        'class "block-snmp" right→left: 20 of 20 frames crossed the guest, but class "block-snmp" drops them — the image drops this ' +
          'class from the left side only: its rule matches one direction.',
      );
      expect(headlineOf(outcome(run.tests, /exchanges dns-from-left/))).toBe(
        'exchanges "dns-from-left" (left → right:5353, UDP): 0 of 10 requests answered — the responder answered, but the replies ' +
          "reached the guest's right port and never left the guest's left port: the image drops the replies.",
      );
      expect(headlineOf(outcome(run.tests, /request class sql-injection/))).toBe(
        `request class "sql-injection" left→right: POST /wirelab/page with "' OR 1=1 --" in its body reached the server, but class ` +
          '"sql-injection" blocks it — the image lets it through.',
      );
      expect(headlineOf(outcome(run.tests, /request class tag-api/))).toBe(
        'request class "tag-api" left→right: the server got header X-Forwarded-Proto as "https", not "http", but class "tag-api" ' +
          'declares X-Forwarded-Proto: http — the image rewrites the header wrongly.',
      );
      // What it gets right still passes.
      for (const name of [/class block-telnet/, /requests no class matches/]) expect(outcome(run.tests, name).status).toBe('passed');
    },
    TEST_TIMEOUT_MS,
  );
});
