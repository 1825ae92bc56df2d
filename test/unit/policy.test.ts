// The policy model: the profile's `policy` section is checked field by field and across fields (each
// problem names the field and the fix), converted into classes, and frames are classified the way a
// firewall's rule list does it (first match wins, direction included, the default for the rest); the
// probes come from the policy alone, and the checks name the class and the cause.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProfileError } from '../../lib/core/errors.ts';
import { Dot1Q, Ether, IPv4, IPv6, IPv6Fragment, Raw, stack, TCP, UDP, ARP } from '../../lib/frames/index.ts';
import { traceConnections } from '../../lib/analysis/tcp-join.ts';
import { checkConnections } from '../../lib/policy/connection-checks.ts';
import type { FlowResult } from '../../lib/analysis/flow-report.ts';
import { checkPolicyFlow, measuredRates } from '../../lib/policy/checks.ts';
import { classify, factsOf } from '../../lib/policy/classify.ts';
import { describeBehaviour, describeMatch, type Policy, type PolicyClass } from '../../lib/policy/model.ts';
import { openDimensions, policyProbes, type Probe } from '../../lib/policy/probes.ts';
import { addressPast, hostIn, parseIpRange } from '../../lib/policy/addresses.ts';
import { splitByDimension, type VariantOutcome } from '../../lib/policy/dimension-split.ts';
import { planPolicyTraffic, RATE_OVERLOAD, TOO_WIDE_SHARE } from '../../lib/policy/traffic-plan.ts';
import { loadProfile, parseProfile } from '../../lib/profile/load.ts';
import { cleanFlow, cleanRewrites } from './fake-flow.ts';

const BASE = `
name: t
kind: nested
role: l2-bridge
guest:
  image:
    reference: l2-bridge
trafficHosts:
  left:
    ipv4: 198.18.0.1/24
  right:
    ipv4: 198.18.0.2/24
`;

function problemsOf(policy: string, base = BASE): ProfileError['problems'] {
  try {
    parseProfile(base + policy, '/tmp/p.yaml', 'p.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    return (e as ProfileError).problems;
  }
  throw new Error('profile was accepted');
}

const eth = { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' };
const ip = { src: '198.18.0.1', dst: '198.18.0.2' };

describe('policy section of a profile', () => {
  it('the shipped firewall profile is valid and becomes classes with their behaviours', () => {
    const p = loadProfile(path.resolve('lab-profiles/nested-policy-firewall.yaml'));
    expect(p.policy?.default).toBe('role');
    expect(p.policy?.classes.map((c) => c.name)).toEqual([
      'hold-fragments',
      'block-telnet',
      'block-snmp',
      'block-vlan-3000',
      'mark-voice',
      'limit-bulk',
    ]);
    const limit = p.policy!.classes[5]!;
    expect(limit.behaviour).toEqual({ action: 'rate-limit', rate: { bitsPerSecond: 256000, tolerance: 0.15 } });
    expect(describeBehaviour(limit.behaviour)).toBe('rate-limit to 256 kbit/s ±15 %');
    expect(describeMatch(p.policy!.classes[1]!.match)).toBe('tcp dstPort 23, left→right');
    expect(describeMatch(p.policy!.classes[0]!.match)).toBe('ipv4 fragments, both ways');
    expect(p.policy!.connections).toEqual([
      { name: 'web-from-left', from: 'left', port: 8080, expect: 'connect', count: 3, bytes: 1000 },
      { name: 'web-from-right', from: 'right', port: 8080, expect: 'blocked', count: 3, bytes: 1000 },
    ]);
  });

  it('a profile without a policy has none', () => {
    expect(parseProfile(BASE, '/tmp/p.yaml').policy).toBeUndefined();
  });

  it('defaults: direction both, tolerance 15 %, mayChange empty', () => {
    const p = parseProfile(
      BASE +
        'policy:\n  classes:\n    - { name: a, match: { l4: udp, dstPort: 1 }, action: rate-limit, rate: { framesPerSecond: 10 } }\n' +
        '    - { name: b, match: { l4: icmp }, action: forward }\n',
      '/tmp/p.yaml',
    );
    expect(p.policy!.classes[0]!.match.direction).toBe('both');
    expect(p.policy!.classes[0]!.behaviour).toEqual({ action: 'rate-limit', rate: { framesPerSecond: 10, tolerance: 0.15 } });
    expect(p.policy!.classes[1]!.behaviour).toEqual({ action: 'forward', mayChange: [] });
  });

  it('each bad class gets a problem naming the field (with its line) and the fix', () => {
    const problems = problemsOf(`policy:
  classes:
    - name: a
      match: { dstPort: 23 }
      action: drop
    - name: a
      match: { l4: udp, dstPort: 99 }
      action: rate-limit
    - name: c
      match: { l4: udp, dstPort: 99 }
      action: rewrite
      set: {}
      rate: { framesPerSecond: 5 }
    - name: d
      match: { dstIp: 10.0.0.1, l4: tcp, dstPrt: 5 }
      action: rewite
`);
    const byPath = (p: string) => problems.find((x) => x.path === p);
    expect(byPath('policy.classes[0].match')?.message).toMatch(/matches a port but names no transport protocol/);
    expect(byPath('policy.classes[0].match')?.fix).toMatch(/add `l4: udp` or `l4: tcp`/);
    expect(byPath('policy.classes[1].name')?.message).toMatch(/the same name as policy.classes\[0\]/);
    expect(byPath('policy.classes[1].rate')?.message).toMatch(/names no rate/);
    expect(byPath('policy.classes[2].match')?.message).toMatch(/never applies/);
    expect(byPath('policy.classes[2].set')?.message).toMatch(/names no field/);
    expect(byPath('policy.classes[2].rate')?.fix).toMatch(/set `action: rate-limit`/);
    expect(byPath('policy.classes[3].match.dstIp')?.message).toMatch(/outside 198.18.0.0\/15/);
    expect(byPath('policy.classes[3].match.dstPrt')?.fix).toMatch(/did you mean 'dstPort'/);
    expect(byPath('policy.classes[3].action')?.fix).toMatch(/did you mean 'rewrite'/);
    // Line numbers reach into the list: the second class's duplicate name points at its own line.
    expect(byPath('policy.classes[1].name')?.file).toBe('p.yaml:18');
  });

  it('a policy on a monitor is refused with the reason', () => {
    const base = BASE.replace('role: l2-bridge', 'role: monitor').replace('reference: l2-bridge', 'reference: monitor');
    const problems = problemsOf('policy:\n  classes:\n    - { name: a, match: { l4: tcp }, action: drop }\n', base);
    expect(problems.find((p) => p.path === 'policy')?.message).toMatch(/the role is monitor; a monitor forwards nothing/);
  });

  it('a VLAN rewrite needs a VLAN match; rate-limit needs exactly one rate', () => {
    const problems = problemsOf(`policy:
  classes:
    - { name: a, match: { l4: udp }, action: rewrite, set: { vlan: 5 } }
    - { name: b, match: { l4: tcp }, action: rate-limit, rate: { framesPerSecond: 5, bitsPerSecond: 5000 } }
`);
    expect(problems.find((p) => p.path === 'policy.classes[0].set.vlan')?.fix).toMatch(/add `vlan: <id>` to the match/);
    expect(problems.find((p) => p.path === 'policy.classes[1].rate')?.message).toMatch(/gives both/);
  });
});

describe('classifying frames', () => {
  const policy = loadProfile(path.resolve('lab-profiles/nested-policy-firewall.yaml')).policy!;
  const of = (packet: ReturnType<typeof stack>, from: 'left' | 'right') => classify(policy, factsOf(packet), from);

  it('the first class that matches decides, by protocol, port and direction', () => {
    const telnet = stack(Ether(eth), IPv4(ip), TCP({ sport: 40000, dport: 23 }));
    expect(of(telnet, 'left').class?.name).toBe('block-telnet');
    expect(of(telnet, 'right').class).toBeUndefined(); // the other direction: not in the class
    expect(of(telnet, 'right').behaviour).toBe('role');
    expect(of(stack(Ether(eth), IPv4(ip), TCP({ dport: 24 })), 'left').class).toBeUndefined(); // the neighbouring port
    expect(of(stack(Ether(eth), IPv4(ip), UDP({ dport: 23 })), 'left').class).toBeUndefined(); // another protocol
    expect(of(stack(Ether(eth), IPv4(ip), UDP({ dport: 161 })), 'right').class?.name).toBe('block-snmp');
  });

  it('VLAN, DSCP and addresses are matched on the frame as sent', () => {
    expect(of(stack(Ether(eth), Dot1Q({ vlan: 300 }), IPv4(ip), UDP({ dport: 161 })), 'left').class?.name).toBe('block-snmp');
    expect(of(stack(Ether(eth), Dot1Q({ vlan: 3000 }), IPv4(ip), UDP({ dport: 7 })), 'left').class?.name).toBe('block-vlan-3000');
    expect(of(stack(Ether(eth), Dot1Q({ vlan: 3001 }), IPv4(ip), UDP({ dport: 7 })), 'left').class).toBeUndefined();
    const facts = factsOf(stack(Ether(eth), IPv4({ ...ip, tos: 46 << 2 }), UDP({ sport: 1, dport: 2 })));
    expect(facts).toEqual({
      l3: 'ipv4',
      l4: 'udp',
      srcIp: '198.18.0.1',
      dstIp: '198.18.0.2',
      srcPort: 1,
      dstPort: 2,
      dscp: 46,
      fragment: false,
    });
    const byAddress = {
      default: 'drop' as const,
      connections: [],
      exchanges: [],
      classes: [
        {
          name: 'x',
          match: { direction: 'both' as const, dstIp: '198.18.0.0/30' },
          behaviour: { action: 'forward' as const, mayChange: [] },
        },
      ],
    };
    expect(classify(byAddress, { l3: 'ipv4', dstIp: '198.18.0.3' }, 'left').class?.name).toBe('x');
    expect(classify(byAddress, { l3: 'ipv4', dstIp: '198.18.0.4' }, 'left')).toEqual({ behaviour: { action: 'drop' } });
    expect(factsOf(stack(Ether(eth), ARP({ op: 1, hwsrc: eth.src, psrc: ip.src, pdst: ip.dst }))).l3).toBe('arp');
  });
});

describe('probes derived from the policy', () => {
  const policy = loadProfile(path.resolve('lab-profiles/nested-policy-firewall.yaml')).policy!;
  const probes = policyProbes(policy);
  const named = (name: string) => probes.find((p) => p.name === name);

  it('each class from each side it applies to, its neighbours, the other direction, and unmatched traffic', () => {
    expect(named('block-telnet: in class left→right')?.frame).toEqual({ l3: 'ipv4', l4: 'tcp', srcPort: 30001, dstPort: 23 });
    expect(named('hold-fragments: in class, IPv6 in 802.1Q VLAN 100 right→left')).toBeUndefined();
    expect(named('hold-fragments: in class, 802.1Q VLAN 100 right→left')?.frame).toEqual({
      l3: 'ipv4',
      l4: 'udp',
      srcPort: 30000,
      dstPort: 40000,
      vlan: 100,
      fragment: true,
    });
    expect(named('hold-fragments: unfragmented left→right')?.kind).toBe('neighbour');
    expect(named('block-telnet: in class right→left')).toBeUndefined();
    expect(named('block-telnet: dstPort 24 (next to 23) left→right')?.kind).toBe('neighbour');
    expect(named('block-telnet: udp instead of tcp left→right')?.frame.l4).toBe('udp');
    expect(named('block-telnet: the other direction right→left')?.frame.dstPort).toBe(23);
    expect(named('block-snmp: in class right→left')).toBeDefined();
    expect(named('block-vlan-3000: vlan 3001 (next to 3000) left→right')?.frame.vlan).toBe(3001);
    expect(probes.filter((p) => p.kind === 'unmatched').map((p) => p.from)).toEqual(['left', 'right']);
    expect(new Set(probes.map((p) => p.name)).size).toBe(probes.length);
    // Every neighbour really lies outside its class (the suite's expectation is the classification).
    for (const p of probes.filter((x) => x.kind !== 'in-class')) expect(classify(policy, p.frame, p.from).class?.name).not.toBe(p.of);
    for (const p of probes.filter((x) => x.kind === 'in-class')) expect(classify(policy, p.frame, p.from).class?.name).toBe(p.of);
  });

  it('an address class gets the address just past its CIDR as a neighbour', () => {
    const byAddress: Policy = {
      default: 'role',
      connections: [],
      exchanges: [],
      classes: [{ name: 'x', match: { direction: 'both', dstIp: '198.18.4.0/30' }, behaviour: { action: 'drop' } }],
    };
    const ps = policyProbes(byAddress);
    expect(ps.find((p) => p.what.startsWith('dstIp'))?.frame.dstIp).toBe('198.18.4.4');
    expect(ps.find((p) => p.kind === 'in-class')?.frame.dstIp).toBe('198.18.4.1');
  });
});

describe('policy checks on flow results', () => {
  const base = (o: Partial<FlowResult> = {}): FlowResult =>
    cleanFlow(50, {
      rewrites: { ...cleanRewrites(50), arrivedDscp: { '0': 50 }, arrivedHopLimit: { '64': 50 }, arrivedVlans: { '': 50 } },
      ...o,
    });
  const probe: Probe = {
    name: 'f',
    of: 'c',
    kind: 'in-class',
    what: 'in class',
    from: 'left',
    frame: { l3: 'ipv4' },
    variant: { l3: 'ipv4', tagged: false },
  };
  const cls = (behaviour: PolicyClass['behaviour']): PolicyClass => ({ name: 'c', match: { direction: 'both' }, behaviour });
  const failures = (v: ReturnType<typeof checkPolicyFlow>) => v.checks.filter((c) => !c.result.pass).map((c) => c.result.headline);

  it('drop: passes when frames reached the guest and none crossed; fails naming the leak', () => {
    const c = cls({ action: 'drop' });
    const none = { 'left-host': 50, 'guest-left': 50, 'guest-right': 0, 'right-host': 0 };
    expect(failures(checkPolicyFlow(base({ lost: 50, received: none }), probe, { class: c, behaviour: c.behaviour }))).toEqual([]);
    const leak = checkPolicyFlow(base(), probe, { class: c, behaviour: c.behaviour }, { droppedFromOtherSide: true });
    expect(failures(leak)[0]).toMatch(/^class "c" left→right: 50 of 50 frames crossed the guest.*from the right side only/);
    expect(leak.observed).toBe('CROSSED: 50 of 50');
    const lab = { 'left-host': 50, 'guest-left': 0, 'guest-right': 0, 'right-host': 0 };
    expect(failures(checkPolicyFlow(base({ lost: 50, received: lab }), probe, { class: c, behaviour: c.behaviour }))[0]).toMatch(
      /no frame reached the guest/,
    );
  });

  it('rewrite: every arrival must carry the value, and nothing else may change', () => {
    const c = cls({ action: 'rewrite', set: { dscp: 46 } });
    const right = base({ rewrites: { ...base().rewrites, unchanged: 0, dscp: 50, arrivedDscp: { '46': 50 }, changeSets: { dscp: 50 } } });
    expect(failures(checkPolicyFlow(right, probe, { class: c, behaviour: c.behaviour }))).toEqual([]);
    const wrong = base({ rewrites: { ...right.rewrites, arrivedDscp: { '34': 50 } } });
    expect(failures(checkPolicyFlow(wrong, probe, { class: c, behaviour: c.behaviour }))[0]).toMatch(
      /50 of 50 frames arrived with DSCP 34, not the declared 46/,
    );
    const more = base({ rewrites: { ...right.rewrites, changeSets: { 'srcMac+dscp': 50 } } });
    expect(failures(checkPolicyFlow(more, probe, { class: c, behaviour: c.behaviour }))[0]).toMatch(
      /arrived changed \(srcMac\+dscp in 50\)/,
    );
  });

  it("rate-limit: achieved vs declared over the flow's own window, the cause named", () => {
    const c = cls({ action: 'rate-limit', rate: { framesPerSecond: 100, tolerance: 0.15 } });
    const times = (n: number, fps: number) => Array.from({ length: n }, (_, i) => (i * 1e6) / fps);
    // 300 frames/s offered for 4 s; 100 frames/s let through.
    const limited = base({ sent: 1200, lost: 800, ingressTimesUs: times(1200, 300), egressTimesUs: times(400, 100).map((t) => t + 50) });
    const r = measuredRates(limited);
    expect(r.offeredFps).toBeCloseTo(300, 0);
    expect(r.achievedFps).toBeCloseTo(100, 0);
    expect(failures(checkPolicyFlow(limited, probe, { class: c, behaviour: c.behaviour }))).toEqual([]);
    const open = base({ sent: 1200, ingressTimesUs: times(1200, 300), egressTimesUs: times(1200, 300) });
    expect(failures(checkPolicyFlow(open, probe, { class: c, behaviour: c.behaviour }))[0]).toMatch(
      /achieved 300\.0 frames\/s \(3\.00× the declared 100 frames\/s ±15 %.*\) — the image does not limit this class/,
    );
    const slow = base({ sent: 400, ingressTimesUs: times(400, 100), egressTimesUs: times(400, 100) });
    expect(failures(checkPolicyFlow(slow, probe, { class: c, behaviour: c.behaviour }))[0]).toMatch(/offered only 100\.0 frames\/s/);
  });

  it('a neighbour that is lost inside the guest is named a rule that matches too wide', () => {
    const lost = base({ lost: 50, lostSeqs: [0], received: { 'left-host': 50, 'guest-left': 50, 'guest-right': 0, 'right-host': 0 } });
    const n: Probe = { ...probe, kind: 'neighbour', what: 'dstPort 24 (next to 23)' };
    expect(failures(checkPolicyFlow(lost, n, { behaviour: 'role' }))[0]).toMatch(
      /^probe outside class "c" \(dstPort 24 \(next to 23\), left→right\): 50 of 50 frames dropped inside the guest, but the role's contract delivers them — it drops more than class "c": its rule matches too wide\.$/,
    );
  });
});

describe('real TCP connections: the join by 4-tuple and the checks', () => {
  const ends = { client: { side: 'left' as const, ip: '198.18.0.1' }, server: { side: 'right' as const, ip: '198.18.0.2', port: 8080 } };
  const segment = (toServer: boolean, flags: string, payload = 0) =>
    stack(
      Ether(toServer ? eth : { src: eth.dst, dst: eth.src }),
      IPv4(toServer ? ip : { src: ip.dst, dst: ip.src }),
      TCP(toServer ? { sport: 40001, dport: 8080, flags } : { sport: 8080, dport: 40001, flags }),
      ...(payload > 0 ? [Raw(Buffer.alloc(payload))] : []),
    ).build();
  async function* frames(list: Buffer[]) {
    let t = 0n;
    for (const data of list) yield { tsNs: t++, data };
  }
  const spec = { name: 'web', from: 'left' as const, port: 8080, expect: 'connect' as const, count: 1, bytes: 100 };

  it('a connection whose SYN-ACK never leaves the guest is named a dropped return direction', async () => {
    const syn = segment(true, 'S');
    const synAck = segment(false, 'SA');
    const traces = await traceConnections(ends, {
      'left-host': frames([syn]),
      'guest-left': frames([syn]),
      'guest-right': frames([syn, synAck]),
      'right-host': frames([syn, synAck, segment(false, 'A', 10)]),
    });
    expect(traces).toHaveLength(1);
    expect(traces[0]!.points['guest-right']).toMatchObject({ syn: 1, synAck: 1 });
    expect(traces[0]!.points['right-host'].bytesToClient).toBe(10);
    const result = checkConnections(spec, [{ ok: false, setupMs: null, sent: 0, received: 0, error: 'timed out' }], traces);
    expect(result.pass).toBe(false);
    expect(result.headline).toBe(
      'connections "web" (left → right:8080): 0 of 1 completed — the SYN crossed the guest, but the reply (SYN-ACK) reached its right ' +
        'port and never left its left port: the image drops the return direction of connections.',
    );
  });

  it('established and echoed passes with the set-up time; blocked needs SYNs that reached the guest', async () => {
    const ok = checkConnections(spec, [{ ok: true, setupMs: 1.5, sent: 100, received: 100 }], []);
    expect(ok).toMatchObject({ pass: true });
    expect(ok.headline).toMatch(/all 1 connections established, 100 bytes each way each \(set-up 1\.5 ms median/);
    const syn = segment(true, 'S');
    const traces = await traceConnections(ends, { 'left-host': frames([syn]), 'guest-left': frames([syn]) });
    const blocked = { ...spec, expect: 'blocked' as const };
    expect(checkConnections(blocked, [{ ok: false, setupMs: null, sent: 0, received: 0 }], traces).pass).toBe(true);
    expect(checkConnections(blocked, [{ ok: true, setupMs: 1, sent: 100, received: 100 }], traces).headline).toMatch(
      /1 of 1 connections were established, but the policy blocks them/,
    );
  });
});

describe('open dimensions: a class that names no IP version or VLAN holds for all of them', () => {
  const policy = loadProfile(path.resolve('lab-profiles/nested-policy-firewall.yaml')).policy!;
  const probes = policyProbes(policy);
  const inClass = (of: string, from: 'left' | 'right') => probes.filter((p) => p.of === of && p.kind === 'in-class' && p.from === from);

  it('each in-class frame kind from each side: IPv4 and IPv6, untagged and tagged (ARP too where nothing needs IP)', () => {
    expect(inClass('block-telnet', 'left').map((p) => p.what)).toEqual([
      'in class',
      'in class, 802.1Q VLAN 100',
      'in class, IPv6',
      'in class, IPv6 in 802.1Q VLAN 100',
    ]);
    expect(inClass('block-telnet', 'right')).toEqual([]);
    expect(inClass('block-snmp', 'right')).toHaveLength(4);
    // A VLAN class is tagged already; its IP version is open, and nothing in it needs IP: ARP too.
    expect(inClass('block-vlan-3000', 'left').map((p) => p.frame)).toEqual([
      { l3: 'ipv4', l4: 'udp', srcPort: 30003, dstPort: 40003, vlan: 3000 },
      { l3: 'ipv6', l4: 'udp', srcPort: 30003, dstPort: 40003, vlan: 3000 },
      { l3: 'arp', vlan: 3000 },
    ]);
    for (const p of probes.filter((x) => x.kind === 'in-class')) expect(classify(policy, p.frame, p.from).class?.name).toBe(p.of);
    // A router's links carry neither tags nor (without IPv6 addresses) IPv6.
    const routed = policyProbes(policy, { tagged: false, ipv6: false }).filter((p) => p.of === 'block-telnet' && p.kind === 'in-class');
    expect(routed.map((p) => p.what)).toEqual(['in class']);
  });

  it('openDimensions: fixed by the match where it names l3, an address, or a VLAN', () => {
    expect(openDimensions({ direction: 'both', l4: 'udp' })).toEqual({ l3: ['ipv4', 'ipv6'], tagged: [false, true] });
    expect(openDimensions({ direction: 'both', dstIp: '2001:db8:5::/64' })).toEqual({ l3: ['ipv6'], tagged: [false, true] });
    expect(openDimensions({ direction: 'both', l3: 'ipv4', vlan: 7 })).toEqual({ l3: ['ipv4'], tagged: [true] });
    expect(openDimensions({ direction: 'both' }).l3).toEqual(['ipv4', 'ipv6', 'arp']);
  });

  it('IPv6 CIDRs: matched, probed inside and just past the range, validated against 2001:db8::/32', () => {
    const v6: Policy = {
      default: 'role',
      connections: [],
      exchanges: [],
      classes: [{ name: 'x', match: { direction: 'both', dstIp: '2001:db8:5::/64' }, behaviour: { action: 'drop' } }],
    };
    const ps = policyProbes(v6);
    expect(ps.find((p) => p.kind === 'in-class')?.frame).toMatchObject({ l3: 'ipv6', dstIp: '2001:db8:5::1' });
    expect(ps.find((p) => p.what.startsWith('dstIp'))?.frame.dstIp).toBe('2001:db8:5:1::');
    expect(classify(v6, { l3: 'ipv6', dstIp: '2001:db8:5::ffff' }, 'left').class?.name).toBe('x');
    expect(classify(v6, { l3: 'ipv4', dstIp: '198.18.0.2' }, 'left').class).toBeUndefined();
    expect(addressPast(parseIpRange('198.18.0.0/15')!)).toBeUndefined();
    expect(hostIn(parseIpRange('198.18.4.0/30')!)).toBe('198.18.4.1');
    const problems = problemsOf(`policy:
  classes:
    - { name: a, match: { dstIp: 2001:db9::/64 }, action: drop }
    - { name: b, match: { srcIp: 198.18.0.1, dstIp: 2001:db8::1 }, action: drop }
    - { name: c, match: { l3: ipv4, dstIp: 2001:db8::1 }, action: drop }
    - { name: d, match: { dstIp: 2001:db8::/24 }, action: drop }
    - { name: e, match: { dstIp: "2001:db8::1" }, action: drop }
`);
    const at = (p: string) => problems.filter((x) => x.path === p).map((x) => x.message);
    expect(at('policy.classes[0].match.dstIp')[0]).toMatch(/outside 2001:db8::\/32, the only IPv6 range/);
    expect(at('policy.classes[1].match')[0]).toMatch(/an IPv4 and an IPv6 address/);
    expect(at('policy.classes[2].match')[0]).toMatch(/matches IPv6 addresses but its l3 is ipv4/);
    expect(at('policy.classes[3].match.dstIp')[0]).toMatch(/outside 2001:db8::\/32/);
    expect(at('policy.classes[4].match.dstIp')).toEqual([]);
  });
});

describe('a class that behaves along one value of an open dimension only: one line naming it', () => {
  const drop = { action: 'drop' } as const;
  const crossed = (n: number) => cleanFlow(n);
  const droppedFlow = (n: number) =>
    cleanFlow(n, { lost: n, received: { 'left-host': n, 'guest-left': n, 'guest-right': 0, 'right-host': 0 } });
  const outcome = (l3: 'ipv4' | 'ipv6' | 'arp', tagged: boolean, from: 'left' | 'right', ok: boolean): VariantOutcome => ({
    probe: {
      name: `c: ${l3} ${tagged} ${from}`,
      of: 'c',
      kind: 'in-class',
      what: '',
      from,
      frame: { l3 },
      variant: { l3, tagged },
    },
    result: ok ? droppedFlow(20) : crossed(20),
    behaviour: drop,
    failures: ok ? [] : [{ pass: false, headline: `c ${l3} ${tagged} ${from} crossed`, message: 'm' }],
  });

  it('the IP version that separates them, per side; the same split both ways reads once', () => {
    const v4only = [outcome('ipv4', false, 'left', true), outcome('ipv4', true, 'left', true), outcome('ipv6', false, 'left', false)];
    const [s] = splitByDimension('block-telnet', [...v4only, outcome('ipv6', true, 'left', false)]);
    expect(s!.result.headline).toBe('class "block-telnet" left→right: IPv6 frames cross, IPv4 are dropped — the rule matches IPv4 only.');
    expect(s!.folded).toHaveLength(2);
    const tagged = (['left', 'right'] as const).flatMap((side) => [
      outcome('ipv4', false, side, true),
      outcome('ipv4', true, side, false),
      outcome('ipv6', false, side, true),
      outcome('ipv6', true, side, false),
    ]);
    const splits = splitByDimension('block-snmp', tagged);
    expect(splits.map((x) => x.result.headline)).toEqual([
      'class "block-snmp" both ways: 802.1Q-tagged frames cross, untagged are dropped — the rule matches untagged frames only.',
    ]);
    expect(splits[0]!.folded).toHaveLength(4);
  });

  it('a combination when no one dimension separates them; one headline for a side where every kind fails', () => {
    const one = [outcome('ipv4', false, 'left', true), outcome('ipv4', true, 'left', true), outcome('ipv6', false, 'left', true)];
    expect(splitByDimension('c', [...one, outcome('ipv6', true, 'left', false)])[0]!.result.headline).toBe(
      'class "c" left→right: IPv6 802.1Q-tagged frames cross, the class\'s other frames are dropped — the rule misses IPv6 802.1Q-tagged frames.',
    );
    const allFail = [outcome('ipv4', false, 'right', false), outcome('ipv6', false, 'right', false)];
    const [s] = splitByDimension('c', [outcome('ipv4', false, 'left', true), ...allFail]);
    expect(s!.result.headline).toBe('c ipv4 false right crossed');
    expect(s!.folded).toEqual(['c: ipv4 false right', 'c: ipv6 false right']);
    expect(splitByDimension('c', [outcome('ipv4', false, 'left', true), outcome('ipv6', false, 'left', true)])).toEqual([]);
  });
});

describe('the traffic plan: verdicts from the policy, not from the load', () => {
  const policy = loadProfile(path.resolve('lab-profiles/nested-policy-firewall.yaml')).policy!;
  const flows = planPolicyTraffic(
    policy,
    policyProbes(policy).map((probe) => ({ probe, expected: classify(policy, probe.frame, probe.from) })),
  );

  it('a rate class: each frame kind alone, one after another; its probes at the same load beside a baseline, and slowly too', () => {
    const rate = flows.filter((f) => f.window === 'rate limit-bulk');
    const alone = rate.filter((f) => f.probe.kind === 'in-class');
    expect(alone.map((f) => f.shape.startMs)).toEqual([0, 4500, 9000, 13500]);
    expect(alone.every((f) => f.shape.ratePps === 187.5 && f.shape.count === 750 && f.judge === 'strict')).toBe(true);
    const probesAtRate = rate.filter((f) => f.judge === 'beside-baseline');
    expect(probesAtRate.map((f) => f.name)).toEqual([
      'limit-bulk: dstPort 5002 (next to 5001) left→right, at the rate',
      'limit-bulk: tcp instead of udp left→right, at the rate',
      'limit-bulk: the other direction right→left, at the rate',
    ]);
    expect(new Set(probesAtRate.map((f) => f.shape.startMs))).toEqual(new Set([18000]));
    expect(rate.filter((f) => f.judge === 'baseline').map((f) => f.probe.from)).toEqual(['left', 'right']);
    expect(flows.find((f) => f.name === 'limit-bulk: dstPort 5002 (next to 5001) left→right')?.window).toBe('functional');
  });

  it('everything else in the functional window: few frames, slowly, far below what a guest under emulation carries', () => {
    const functional = flows.filter((f) => f.window === 'functional');
    const pps = functional.reduce((sum, f) => sum + f.shape.ratePps, 0);
    expect(pps).toBeLessThanOrEqual(500);
    expect(new Set(flows.map((f) => `${f.window}/${f.name}`)).size).toBe(flows.length);
  });

  it('a probe beside the baseline: the path’s own loss is not the class’s; a limiter at the declared rate is', () => {
    const baseline = cleanFlow(750, { lost: 30 });
    const allowed = TOO_WIDE_SHARE * (1 - 1 / RATE_OVERLOAD);
    const n: Probe = {
      name: 'p',
      of: 'limit-bulk',
      kind: 'neighbour',
      what: 'dstPort 5002 (next to 5001)',
      from: 'left',
      frame: { l3: 'ipv4' },
      variant: { l3: 'ipv4', tagged: false },
    };
    const hints = { baseline: { flow: baseline, allowedExcess: allowed } };
    const fail = (v: ReturnType<typeof checkPolicyFlow>) => v.checks.filter((c) => !c.result.pass).map((c) => c.result.headline);
    expect(fail(checkPolicyFlow(cleanFlow(750, { lost: 33 }), n, { behaviour: 'role' }, hints))).toEqual([]);
    const policed = cleanFlow(750, {
      lost: 500,
      received: { 'left-host': 750, 'guest-left': 750, 'guest-right': 250, 'right-host': 250 },
    });
    expect(fail(checkPolicyFlow(policed, n, { behaviour: 'role' }, hints))[0]).toMatch(
      /^probe outside class "limit-bulk" \(dstPort 5002 \(next to 5001\), left→right\): lost 66\.7 % under load where the same path lost 4\.0 %, but the role's contract delivers them — it limits more than class "limit-bulk": its rule matches too wide\.$/,
    );
  });
});

describe('fragments: a class for what a reassembling firewall holds', () => {
  const policy: Policy = {
    default: 'role',
    connections: [],
    exchanges: [],
    classes: [{ name: 'hold', match: { direction: 'both', fragment: true }, behaviour: { action: 'drop' } }],
  };

  it('an IPv4 first or later fragment, an IPv6 packet with a Fragment header, are fragments; a whole packet is not', () => {
    const first = factsOf(stack(Ether(eth), IPv4({ ...ip, mf: true }), UDP({ sport: 1, dport: 2 })));
    const later = factsOf(stack(Ether(eth), IPv4({ ...ip, fragOffset: 185, proto: 17 }), Raw(Buffer.alloc(8))));
    const v6 = factsOf(stack(Ether(eth), IPv6({ src: '2001:db8::1', dst: '2001:db8::2' }), IPv6Fragment({ more: true }), UDP({})));
    expect([first.fragment, later.fragment, v6.fragment]).toEqual([true, true, true]);
    expect(classify(policy, first, 'left').class?.name).toBe('hold');
    expect(classify(policy, factsOf(stack(Ether(eth), IPv4(ip), UDP({}))), 'left').class).toBeUndefined();
    const probes = policyProbes(policy);
    expect(probes.filter((p) => p.kind === 'in-class' && p.from === 'left').map((p) => p.frame.l3)).toEqual([
      'ipv4',
      'ipv4',
      'ipv6',
      'ipv6',
    ]);
    expect(probes.find((p) => p.what === 'unfragmented')?.frame.fragment).toBe(false);
  });
});
