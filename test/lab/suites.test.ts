// The suites themselves, on the real lab through `wirelab run`: every suite passes its good reference
// image, and each assertion is shown to fail on a faulty image (negative control), with a message
// that names the fault.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReferenceImage } from '../../lib/images/reference-image.ts';
import { signatureRunIds } from './signatures.ts';
import { allureTests, notPassed, type TestOutcome, wirelab } from './wirelab-cli.ts';
import { fileTempDir } from '../temp-dir.ts';

const dir = fileTempDir('wirelab-suites-');

/** A nested profile for a reference image (and extra YAML under `guest:` / `expect:`). */
function profileFor(reference: string, role: string, extra: { guest?: string; expect?: string } = {}): string {
  const hosts =
    role === 'l3-forwarder'
      ? 'trafficHosts:\n  left: { ipv4: 198.18.1.2/24, gateway: 198.18.1.1 }\n  right: { ipv4: 198.18.2.2/24, gateway: 198.18.2.1 }\n'
      : 'trafficHosts:\n  left: { ipv4: 198.18.0.1/24 }\n  right: { ipv4: 198.18.0.2/24 }\n';
  const text = `name: ${reference}\nkind: nested\nrole: ${role}\nguest:\n  image: { reference: ${reference} }\n${extra.guest ?? ''}${hosts}${extra.expect ? `expect:\n${extra.expect}` : ''}`;
  const file = path.join(dir, `${reference}-${Math.random().toString(16).slice(2, 8)}.yaml`);
  writeFileSync(file, text);
  return file;
}

/**
 * `wirelab run` of these suites on this profile, with JSON results, into a report directory of its own:
 * runs go two at a time, and a run starts by clearing its directory's Allure results.
 */
async function wirelabRun(suites: string[], profile: string, grep?: string) {
  const id = Math.random().toString(16).slice(2, 8);
  const reportDir = path.join(dir, `report-${id}`);
  const run = await wirelab(
    ['run', ...suites, '--profile', profile, '--report-dir', reportDir, ...(grep ? ['--grep', grep] : [])],
    path.join(dir, `results-${id}.json`),
  );
  return { ...run, reportDir };
}

/** The pcaps a run attached to its Allure results. */
function attachedPcaps(reportDir: string): string[] {
  return allureTests(path.join(reportDir, 'allure-results')).flatMap((t) =>
    t.attachments.filter((a) => a.file.endsWith('.pcap')).map((a) => a.file),
  );
}

/** A failure's first line, without the error's name that vitest's JSON results put before it. */
function headlineOf(message: string): string {
  return message.split('\n')[0]!.replace(/^(QualificationFailure|AssertionError|Error): /, '');
}

function outcome(tests: TestOutcome[], name: RegExp): TestOutcome {
  const t = tests.find((x) => name.test(x.name));
  if (!t) throw new Error(`no test matching ${name} ran: ${tests.map((x) => x.name).join('; ')}`);
  return t;
}

// Two labs' runs at a time (the lab project's maxConcurrency), as a busy CI runner would have them: a
// good image still passes (a test the host left inconclusive is no failure), a faulty one still fails.
describe.concurrent('every suite passes its good reference image', () => {
  it.each([
    ['l3-forwarder', 'l3-forwarder'],
    ['monitor', 'monitor'],
  ])('%s: the default suites pass', async (reference, role) => {
    const run = await wirelabRun([], profileFor(reference, role));
    expect(run.tests.filter(notPassed), run.output.slice(-3000)).toEqual([]);
    expect(run.tests.length).toBeGreaterThanOrEqual(3);
    expect([0, 3]).toContain(run.exitCode);
  });

  it("l2-bridge: the default suites pass, in parallel vitest workers, a lab each, with no frame of one lab in another's captures", async () => {
    const run = await wirelabRun([], profileFor('l2-bridge', 'l2-bridge'));
    expect(run.tests.filter(notPassed), run.output.slice(-3000)).toEqual([]);
    expect(run.tests.length).toBeGreaterThanOrEqual(12);
    expect([0, 3]).toContain(run.exitCode);
    // On this 2-core machine the default is two workers: some suite files ran at the same time.
    const overlapping = run.files.filter((a) => run.files.some((b) => b !== a && a.start < b.end && b.start < a.end));
    expect(overlapping.length, JSON.stringify(run.files)).toBeGreaterThanOrEqual(2);
    // Every capture holds the test frames of one lab only (each traffic run captures its own lab).
    const runIdsSeen = new Set<number>();
    const pcaps = attachedPcaps(run.reportDir);
    expect(pcaps.length).toBeGreaterThanOrEqual(8);
    for (const pcap of pcaps) {
      const ids = [...(await signatureRunIds(pcap)).keys()];
      expect(ids.length, `${pcap} holds test frames of runs ${ids.map((id) => id.toString(16)).join(', ')}`).toBeLessThanOrEqual(1);
      ids.forEach((id) => runIdsSeen.add(id));
    }
    expect(runIdsSeen.size, 'several labs took part').toBeGreaterThanOrEqual(2);
  });
});

/** A run on a loaded machine took up to 3 min (TCG guests of other runs booting beside it); ~40 s alone. */
const CONTROL_TIMEOUT_MS = 420_000;

/** Contract rows (their tests' names) that a fault's run looks at. */
const LEARNED = /unicast frames to a MAC the bridge has learned/;
const UNKNOWN = /unicast frames to a MAC never seen/;
const BROADCAST = / broadcast frames \(flooded\)/;
const RESERVED = /frames to the reserved group addresses/;
const ROUTED = /every other packet to the host on the other side/;
const EXPIRES = /packets whose TTL \/ hop limit expires here/;
const TOO_BIG = /packets larger than the egress side's MTU that may not be fragmented/;
const FRAGMENTED = /IPv4 packets larger than the egress side's MTU without DF/;
const NOT_ROUTABLE = /packets to the limited broadcast/;

/** A test name, what its first line says, and whether that is said in the details instead (a second fault). */
type ExpectedFailure = readonly [RegExp, RegExp, 'details'?];

function expectFailures(run: Awaited<ReturnType<typeof wirelabRun>>, expected: ReadonlyArray<ExpectedFailure>): void {
  expect(run.exitCode, run.output.slice(-3000)).toBe(1);
  for (const [test, pattern, where] of expected) {
    const t = outcome(run.tests, test);
    expect(t.status, t.message.slice(0, 2000)).toBe('failed');
    // The first line names the main way a class failed; a second fault of the same image may be in the details.
    expect(where === 'details' ? t.message : headlineOf(t.message)).toMatch(pattern);
  }
}

/** A dual-stack router profile with a smaller right side, as lab-profiles/nested-l3-forwarder.yaml. */
function routerProfileFor(reference: string): string {
  const file = path.join(dir, `${reference}-${Math.random().toString(16).slice(2, 8)}.yaml`);
  writeFileSync(
    file,
    `name: ${reference}\nkind: nested\nrole: l3-forwarder\nguest:\n  image: { reference: ${reference} }\n  nics: { right: { mtu: 1400 } }\n` +
      'trafficHosts:\n' +
      '  left: { ipv4: 198.18.1.2/24, gateway: 198.18.1.1, ipv6: 2001:db8:1::2/64, gateway6: 2001:db8:1::1 }\n' +
      '  right: { ipv4: 198.18.2.2/24, gateway: 198.18.2.1, ipv6: 2001:db8:2::2/64, gateway6: 2001:db8:2::1 }\n',
  );
  return file;
}

// Controls run two at a time too: each is a lab of its own, as in a default run with two workers, and
// every timed window waits for the machine to be quiet (lib/runtime/quiet-machine.ts), one at a time.
describe.concurrent(
  "the role contracts: faults on kinds of frame no fixed menu sends fail their class, the dimension named in the failure's first line",
  () => {
    // Only the contract's tests: the window is one, the timed checks and the halt are not needed here.
    const CONTRACT_ONLY = '^(?!.*(load|bursts|hygiene|emissions|readiness|vRouter|frame space)).*$';

    it.each([
      ['l2-bridge-ipfilter', [[LEARNED, /^frames with EtherType 0x8847 \(MPLS\).* never cross, except with QinQ/]]],
      [
        'l2-bridge-scrubber',
        [
          [LEARNED, /frames with (TTL 1 or TTL 0|TTL 0 or TTL 1).* never cross/],
          [LEARNED, /frames with DSCP [^;]* arrive with DSCP 0/],
        ],
      ],
      [
        'l2-bridge-vlanaware',
        [
          [LEARNED, /frames with [^;]*802\.1Q VID 4094[^;]* never cross/],
          [LEARNED, /frames with [^;]*(802\.1Q VID 1|priority-tagged \(VID 0\))[^;]* arrive with no VLAN tag/],
        ],
      ],
      // Only untagged IPv4 reaches iptables, so few cases of a row fail: the first line names them (or their values).
      ['l2-bridge-brnf', [[LEARNED, /never cross.*IPv4 with a bad header checksum|IPv4 with a bad header checksum.* never cross/]]],
      [
        'l2-bridge-noflood',
        [
          [UNKNOWN, /^unicast frames to a MAC never seen \(flooded\): every kind tried never cross/],
          [RESERVED, /^frames to the reserved group addresses .*: every kind tried are forwarded/],
        ],
      ],
      [
        'l2-bridge-corrupt',
        [
          [LEARNED, /^frames with the smallest frame/],
          [BROADCAST, /arrive corrupted/, 'details'],
        ],
      ],
    ] as const)(
      '%s',
      async (reference, expected) => {
        const run = await wirelabRun(['l2-bridge'], profileFor(reference, 'l2-bridge'), CONTRACT_ONLY);
        expectFailures(run, expected as ReadonlyArray<ExpectedFailure>);
      },
      CONTROL_TIMEOUT_MS,
    );

    it.each([
      ['l3-forwarder-nat', [[ROUTED, /arrive with their source address rewritten/]]],
      [
        'l3-forwarder-strict',
        [
          [ROUTED, /frames with [^;]*(router alert|hop-by-hop)[^;]* never cross/],
          [ROUTED, /frames with DSCP [^;]* arrive with DSCP 0/],
        ],
      ],
      [
        'l3-forwarder-quiet',
        [
          [EXPIRES, /^frames with IPv6 get no ICMPv6 Time Exceeded \(3\/0\) back; not so with IPv4/],
          [TOO_BIG, /^frames with IPv4 get no ICMP Fragmentation Needed \(3\/4, MTU 1400\) back; not so with IPv6/],
        ],
      ],
      [
        'l3-forwarder-leaky',
        [
          [NOT_ROUTABLE, /directed broadcast[^;]* are forwarded/],
          [FRAGMENTED, /: every kind tried never cross/],
        ],
      ],
    ] as const)(
      '%s',
      async (reference, expected) => {
        const run = await wirelabRun(['l3-forwarder'], routerProfileFor(reference), CONTRACT_ONLY);
        expectFailures(run, expected as ReadonlyArray<ExpectedFailure>);
      },
      CONTROL_TIMEOUT_MS,
    );

    it.each([
      ['monitor-fake', /reports nothing new/, /reports do not follow the traffic/],
      ['monitor-nopromisc', /counts every kind of frame/, /counted only broadcast frames/],
    ])(
      '%s',
      async (reference, test, headline) => {
        const run = await wirelabRun(['monitor'], profileFor(reference, 'monitor'), 'counts every kind|reports nothing new');
        expect(run.exitCode, run.output.slice(-3000)).toBe(1);
        const t = outcome(run.tests, test);
        expect(t.status).toBe('failed');
        expect(headlineOf(t.message)).toMatch(headline);
      },
      CONTROL_TIMEOUT_MS,
    );
  },
);

describe.concurrent('negative controls: each faulty image fails the assertions it should, naming its fault', () => {
  it('one-way drop: the contract names the direction that never crosses (inside the guest), readiness "never forwarded"', async () => {
    const run = await wirelabRun(['l2-bridge'], profileFor('l2-bridge-oneway', 'l2-bridge'), 'MAC the bridge has learned|readiness');
    expect(run.exitCode).toBe(1);
    const unicast = outcome(run.tests, /MAC the bridge has learned/);
    expect(headlineOf(unicast.message)).toMatch(/^frames with left→right never cross; not so with right→left/);
    expect(unicast.message).toMatch(/dropped inside the guest/);
    expect(outcome(run.tests, /frames cross soon/).message).toMatch(/claimed readiness but did not forward/);
  });

  it('MAC rewrite: the contract says every kind of frame arrives with a rewritten source MAC', async () => {
    const run = await wirelabRun(
      ['l2-bridge'],
      profileFor('l2-bridge-macrewrite', 'l2-bridge'),
      'MAC the bridge has learned|^l2-bridge broadcast',
    );
    expect(run.exitCode).toBe(1);
    for (const name of [/MAC the bridge has learned/, / broadcast frames \(flooded\)/]) {
      const t = outcome(run.tests, name);
      expect(t.status).toBe('failed');
      expect(headlineOf(t.message)).toMatch(/every kind tried arrive with a rewritten source MAC/);
    }
  });

  it('no ACPI halt: image hygiene fails saying it did not power off', async () => {
    const run = await wirelabRun(['image-hygiene'], profileFor('l2-bridge-nohalt', 'l2-bridge', { guest: '  haltTimeoutSeconds: 5\n' }));
    const t = outcome(run.tests, /halts gracefully on the ACPI power button/);
    expect(t.status).toBe('failed');
    expect(t.message).toMatch(/did not power off within 5 s/);
  });

  it('an image that learns no MACs: the vRouter same-MAC case fails, the frames having reached the guest and crossed it', async () => {
    const run = await wirelabRun(['l2-bridge-vrouter-mac'], profileFor('l2-bridge-nolearn', 'l2-bridge'));
    expect(run.exitCode).toBe(1);
    const t = outcome(run.tests, /same vRouter MAC/);
    expect(t.message).toMatch(/the guest forwarded frames it must drop/);
  });

  it('chatty monitor: the emissions check fails naming the ARP it sent', async () => {
    const run = await wirelabRun(['monitor'], profileFor('monitor-chatty', 'monitor'), 'guest emissions');
    const t = outcome(run.tests, /guest emissions/);
    expect(t.status).toBe('failed');
    expect(headlineOf(t.message)).toMatch(/^The guest sent \d+ frames by itself \(\d+ arp\)/);
  });

  it('hairpin reflection: flooded frames fail as coming back towards their sender', async () => {
    const run = await wirelabRun(['l2-bridge'], profileFor('l2-bridge-reflect', 'l2-bridge'), '^l2-bridge broadcast');
    const t = outcome(run.tests, / broadcast frames \(flooded\)/);
    expect(t.status).toBe('failed');
    expect(headlineOf(t.message)).toMatch(/come back towards their sender/);
    expect(t.message).toMatch(/reflected/);
  });

  it.each([
    ['l2-bridge-ipv6', 'ipv6-link-local', /IPv6 is on/, /disable_ipv6/],
    ['l2-bridge-stp', 'link-control', /STP is on/, /brctl stp br0 off/],
    ['l2-bridge-dhcp', 'dhcp', /DHCP client runs/, /no DHCP/],
    ['l2-bridge-igmp', 'igmp', /joined a multicast group/, /leave no group joined/],
    ['l2-bridge-arp', 'arp', /resolves or announces/, /remove IPv4 addresses/],
    ['l2-bridge-spoof', 'spoofed', /forges or replays frames/, /198\.18\.0\.1/],
    ['l2-bridge-ping', 'other', /a service in the image talks/, /keep it off the data NICs/],
  ])('%s: the emissions check fails naming the class (%s), the cause and the fix', async (reference, cls, cause, detail) => {
    const run = await wirelabRun(['l2-bridge'], profileFor(reference, 'l2-bridge'), 'guest emissions');
    const t = outcome(run.tests, /guest emissions/);
    expect(t.status).toBe('failed');
    const headline = headlineOf(t.message);
    const rest = t.message.split('\n').slice(1);
    expect(headline).toMatch(new RegExp(`^The guest sent \\d+ frames by itself \\(\\d+ ${cls}[,)]`));
    expect(headline).toMatch(cause);
    expect(headline!.length).toBeLessThan(300);
    expect(rest.join('\n')).toMatch(detail);
  });

  it('a profile that tolerates the IPv6 chatter of an accepted image: the emissions check passes and reports it', async () => {
    const profile = profileFor('l2-bridge-ipv6', 'l2-bridge', { expect: '  guestMayEmit: [ipv6-link-local]\n' });
    const run = await wirelabRun(['l2-bridge'], profile, 'guest emissions');
    expect(outcome(run.tests, /guest emissions/).status).toBe('passed');
  });

  it('an image that does not route: the l3 suite fails on delivery', async () => {
    // A transparent bridge booted where a router is expected (given as kernel + initrd, as a user's own
    // image would be): frames addressed to its NIC are for the bridge itself and go nowhere.
    const bridge = await buildReferenceImage('l2-bridge');
    const profile = profileFor('l2-bridge', 'l3-forwarder');
    writeFileSync(
      profile,
      readFileSync(profile, 'utf8').replace(
        'image: { reference: l2-bridge }',
        `image: { kernel: ${bridge.kernel}, initrd: ${bridge.initrd}, append: "${bridge.append}" }`,
      ),
    );
    const run = await wirelabRun(['l3-forwarder'], profile, 'every other packet');
    expect(run.exitCode).toBe(1);
    expect(headlineOf(outcome(run.tests, /every other packet/).message)).toMatch(/every kind tried never cross/);
  });
});

// Controls whose checks are timed (latency, bursts, readiness, boot timeouts): their windows wait for a quiet machine.
describe.concurrent('negative controls, timed: each faulty image fails the assertions it should, naming its fault', () => {
  it('added delay: the load test fails on the latency bound, not on loss', async () => {
    const run = await wirelabRun(['l2-bridge'], profileFor('l2-bridge-delay', 'l2-bridge'), "profile's load");
    const t = outcome(run.tests, /profile's load/);
    expect(t.status).toBe('failed');
    expect(t.message).toMatch(/latency|p99/i);
  });

  it('random loss: the load test fails naming lost frames', async () => {
    const run = await wirelabRun(['l2-bridge'], profileFor('l2-bridge-lossy', 'l2-bridge'), "profile's load");
    const t = outcome(run.tests, /profile's load/);
    expect(t.status).toBe('failed');
    expect(t.message).toMatch(/lost/);
  });

  it('slow boot: every test fails with the readiness timeout and the console quoted', async () => {
    const run = await wirelabRun(
      ['readiness'],
      profileFor('l2-bridge-slowboot', 'l2-bridge', { guest: '  ready: { timeoutSeconds: 15 }\n' }),
    );
    const t = outcome(run.tests, /frames cross soon/);
    expect(t.status).toBe('failed');
    expect(t.message).toMatch(/not ready within 15/);
    expect(t.message).toMatch(/slow boot/);
  });

  it('premature readiness: the readiness suite fails saying how early the claim was', async () => {
    const run = await wirelabRun(['readiness'], profileFor('l2-bridge-liar', 'l2-bridge'));
    const t = outcome(run.tests, /frames cross soon/);
    expect(t.status).toBe('failed');
    expect(t.message).toMatch(/claimed readiness [\d.]+ s before it forwarded/);
  });

  it('reordering of close frames: the burst check fails naming the reordering', async () => {
    const run = await wirelabRun(['l2-bridge'], profileFor('l2-bridge-reorder', 'l2-bridge'), 'back-to-back bursts');
    const t = outcome(run.tests, /back-to-back bursts/);
    expect(t.status).toBe('failed');
    expect(headlineOf(t.message)).toMatch(/arrived out of order/);
  });

  it("3 ms more one way: the load check fails on the directions' medians, naming the slower direction", async () => {
    const run = await wirelabRun(['l2-bridge'], profileFor('l2-bridge-skew', 'l2-bridge'), "profile's load");
    const t = outcome(run.tests, /profile's load/);
    expect(t.status).toBe('failed');
    expect(t.message).toMatch(/flow "IMIX load left→right" \(left → right\): one direction is slower/);
    expect(t.message).not.toMatch(/lost/);
  });
});
