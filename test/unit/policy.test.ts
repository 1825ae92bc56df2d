// The policy model: the profile's `policy` section is checked field by field and across fields (each
// problem names the field and the fix), converted into classes, and frames are classified the way a
// firewall's rule list does it (first match wins, direction included, the default for the rest).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProfileError } from '../../lib/core/errors.ts';
import { Dot1Q, Ether, IPv4, stack, TCP, UDP, ARP } from '../../lib/frames/index.ts';
import { classify, factsOf } from '../../lib/policy/classify.ts';
import { describeBehaviour, describeMatch } from '../../lib/policy/model.ts';
import { loadProfile, parseProfile } from '../../lib/profile/load.ts';

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
    expect(p.policy?.classes.map((c) => c.name)).toEqual(['block-telnet', 'block-snmp', 'block-vlan-300', 'mark-voice', 'limit-bulk']);
    const limit = p.policy!.classes[4]!;
    expect(limit.behaviour).toEqual({ action: 'rate-limit', rate: { bitsPerSecond: 256000, tolerance: 0.15 } });
    expect(describeBehaviour(limit.behaviour)).toBe('rate-limit to 256 kbit/s ±15 %');
    expect(describeMatch(p.policy!.classes[0]!.match)).toBe('tcp dstPort 23, left→right');
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

  it('a policy on a role other than l2-bridge is refused with the reason', () => {
    const base = BASE.replace('role: l2-bridge', 'role: monitor').replace('reference: l2-bridge', 'reference: monitor');
    const problems = problemsOf('policy:\n  classes:\n    - { name: a, match: { l4: tcp }, action: drop }\n', base);
    expect(problems.find((p) => p.path === 'policy')?.message).toMatch(/the role is monitor; policies are qualified for transparent/);
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
    expect(of(stack(Ether(eth), Dot1Q({ vlan: 300 }), IPv4(ip), UDP({ dport: 7 })), 'left').class?.name).toBe('block-vlan-300');
    expect(of(stack(Ether(eth), Dot1Q({ vlan: 301 }), IPv4(ip), UDP({ dport: 7 })), 'left').class).toBeUndefined();
    const facts = factsOf(stack(Ether(eth), IPv4({ ...ip, tos: 46 << 2 }), UDP({ sport: 1, dport: 2 })));
    expect(facts).toEqual({ l3: 'ipv4', l4: 'udp', srcIp: '198.18.0.1', dstIp: '198.18.0.2', srcPort: 1, dstPort: 2, dscp: 46 });
    const byAddress = {
      default: 'drop' as const,
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
