// The policy suite on the real lab, through `wirelab run policy`: the transparent-firewall reference
// image passes every class and every kind of real TCP connection of lab-profiles/nested-policy-firewall.yaml,
// and its faulty twin — one mistake per class — fails each such test with a headline that names the class and the cause,
// while the classes it gets right still pass. The checks come from the declared policy only.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allureTests, notPassed, type TestOutcome, wirelab } from './wirelab-cli.ts';
import { fileTempDir } from '../temp-dir.ts';

const dir = fileTempDir('wirelab-policy-');
const SHIPPED = path.resolve('lab-profiles/nested-policy-firewall.yaml');

/** The shipped firewall profile, with another reference image. */
function profileWith(reference: string): string {
  const file = path.join(dir, `${reference}.yaml`);
  writeFileSync(file, readFileSync(SHIPPED, 'utf8').replace('reference: l2-bridge-firewall\n', `reference: ${reference}\n`));
  return file;
}

function runPolicy(profile: string, name: string, extra: string[] = []) {
  return wirelab(['run', 'policy', '--profile', profile, '--report-dir', path.join(dir, name), ...extra], path.join(dir, `${name}.json`));
}

function outcome(tests: TestOutcome[], name: RegExp): TestOutcome {
  const t = tests.find((x) => name.test(x.name));
  if (!t) throw new Error(`no test matching ${name} ran: ${tests.map((x) => x.name).join('; ')}`);
  return t;
}

/** A failure's first line, without the error's name that vitest's JSON results put before it. */
const headlineOf = (t: TestOutcome) => t.message.split('\n')[0]!.replace(/^(QualificationFailure|AssertionError|Error): /, '');

/** A boot and two traffic windows take ~45 s alone; on a machine shared with other labs, several times that. */
const RUN_BUDGET_MS = 480_000;

// Two runs at a time (the lab project's maxConcurrency), a lab each: the rate classes' windows wait for a quiet machine.
describe.concurrent('policy suite', () => {
  it(
    'the transparent firewall passes every class of its declared policy, with "declared" and "observed" in the flow table',
    async () => {
      const run = await runPolicy(SHIPPED, 'good');
      expect(run.tests.filter(notPassed), run.output.slice(-3000)).toEqual([]);
      // Six classes, two kinds of real TCP connection, the unmatched traffic, the emissions check.
      expect(run.tests.length).toBe(10);
      expect([0, 3]).toContain(run.exitCode);
      const tables = allureTests(path.join(dir, 'good', 'allure-results'))
        .flatMap((t) => t.attachments)
        .filter((a) => a.name.endsWith(': flows'));
      const html = tables.map((a) => readFileSync(a.file, 'utf8')).join('\n');
      expect(html).toContain('<th>declared</th><th>observed</th>');
      expect(html).toMatch(/rate-limit to 256 kbit\/s ±15 % \(class &quot;limit-bulk&quot;\)<\/td><td>achieved [\d.]+ kbit\/s of/);
      expect(html).toMatch(/dropped: 0 of \d+ crossed/);
    },
    RUN_BUDGET_MS,
  );

  it(
    'the faulty firewall fails each class it gets wrong, the headline naming the class and the cause',
    async () => {
      const run = await runPolicy(profileWith('l2-bridge-firewall-faulty'), 'faulty');
      expect(run.exitCode, run.output.slice(-3000)).toBe(1);
      // Drops the neighbouring port too: the probe next to the class is lost inside the guest.
      const telnet = outcome(run.tests, /class block-telnet/);
      expect(telnet.status).toBe('failed');
      expect(headlineOf(telnet)).toMatch(
        /^probe outside class "block-telnet" \(dstPort 24 \(next to 23\), left→right\): 20 of 20 frames dropped inside the guest, but the role's contract delivers them — it drops more than class "block-telnet": its rule matches too wide\.$/,
      );
      // Forgets one direction: SNMP from the right crosses.
      const snmp = outcome(run.tests, /class block-snmp/);
      expect(snmp.status).toBe('failed');
      expect(headlineOf(snmp)).toMatch(
        /^class "block-snmp" right→left: 20 of 20 frames crossed the guest, but class "block-snmp" drops them — the image drops this class from the left side only/,
      );
      // Marks the wrong DSCP.
      const voice = outcome(run.tests, /class mark-voice/);
      expect(voice.status).toBe('failed');
      expect(headlineOf(voice)).toMatch(/^class "mark-voice" left→right: 20 of 20 frames arrived with DSCP 34, not the declared 46/);
      // No policer: the achieved rate is named, far above the declared one.
      const bulk = outcome(run.tests, /class limit-bulk/);
      expect(bulk.status).toBe('failed');
      expect(headlineOf(bulk)).toMatch(
        /^class "limit-bulk" left→right: achieved [\d.]+ kbit\/s \([\d.]+× the declared 256 kbit\/s ±15 %, [\d.]+ kbit\/s offered\) — the image does not limit this class/,
      );
      // Drops the replies of connections: SYN through, SYN-ACK dropped, reported as such.
      const web = outcome(run.tests, /connections web-from-left/);
      expect(web.status).toBe('failed');
      expect(headlineOf(web)).toMatch(
        /^connections "web-from-left" \(left → right:8080\): 0 of 3 completed — the SYN crossed the guest, but the reply \(SYN-ACK\) reached its right port and never left its left port: the image drops the return direction of connections\.$/,
      );
      // What it gets right still passes: the checks are per class, not per image.
      for (const name of [/class block-vlan-3000/, /connections web-from-right/, /traffic no class matches/, /guest emissions/])
        expect(outcome(run.tests, name).status, outcome(run.tests, name).message).toBe('passed');
    },
    RUN_BUDGET_MS,
  );

  it(
    'a firewall whose rules are narrower than classes that leave the IP version or the VLAN open fails, naming the dimension',
    async () => {
      // Only the classes concerned (and a passing one beside them): no rate window, no connections.
      const run = await runPolicy(profileWith('l2-bridge-firewall-narrow'), 'narrow', ['--grep', 'class block-(telnet|snmp|vlan-300)']);
      expect(run.exitCode, run.output.slice(-3000)).toBe(1);
      // Its telnet rule says `meta protocol ip`: IPv6 telnet crosses, tagged or not.
      const telnet = outcome(run.tests, /class block-telnet/);
      expect(telnet.status).toBe('failed');
      expect(headlineOf(telnet)).toBe('class "block-telnet" left→right: IPv6 frames cross, IPv4 are dropped — the rule matches IPv4 only.');
      // Its SNMP rule checks the EtherType, which reads 802.1Q on a tagged frame: tagged SNMP crosses, IPv4 or IPv6, both ways.
      const snmp = outcome(run.tests, /class block-snmp/);
      expect(snmp.status).toBe('failed');
      expect(headlineOf(snmp)).toBe(
        'class "block-snmp" both ways: 802.1Q-tagged frames cross, untagged are dropped — the rule matches untagged frames only.',
      );
      expect(snmp.message).toMatch(/block-snmp: in class, IPv6 in 802\.1Q VLAN 100 right→left: .*20 of 20 frames crossed the guest/);
      expect(outcome(run.tests, /class block-vlan-3000/).status).toBe('passed');
    },
    RUN_BUDGET_MS,
  );
});
