import { describe, expect, it } from 'vitest';
import {
  generatedMac,
  inBenchmarkRange,
  isMulticastMac,
  parseCidr,
  sameSubnet,
  subnetInBenchmarkRange,
  subnetsOverlap,
} from '../../lib/core/addressing.ts';
import { parseSshConnection } from '../../lib/lab/bench-host/management-session.ts';

describe('addressing', () => {
  it('accepts only 198.18.0.0/15', () => {
    expect(inBenchmarkRange('198.18.0.1')).toBe(true);
    expect(inBenchmarkRange('198.19.255.254')).toBe(true);
    expect(inBenchmarkRange('198.20.0.1')).toBe(false);
    expect(inBenchmarkRange('198.17.255.255')).toBe(false);
    expect(inBenchmarkRange('10.0.0.1')).toBe(false);
  });

  it('parses CIDRs strictly', () => {
    expect(parseCidr('198.18.0.1/24')).toEqual({ address: '198.18.0.1', prefix: 24 });
    for (const bad of ['198.18.0.1', '198.18.0.256/24', '198.18.0.1/33', 'x/24', '198.18.0.1/24/1']) expect(parseCidr(bad)).toBeNull();
    expect(sameSubnet(parseCidr('198.18.1.2/24')!, parseCidr('198.18.1.9/24')!)).toBe(true);
    expect(sameSubnet(parseCidr('198.18.1.2/24')!, parseCidr('198.18.2.2/24')!)).toBe(false);
  });

  it('generates stable, distinct, locally administered unicast MACs', () => {
    const a = generatedMac('wl-000001/guest/left');
    expect(a).toBe(generatedMac('wl-000001/guest/left'));
    expect(a).not.toBe(generatedMac('wl-000001/guest/right'));
    expect(parseInt(a.slice(0, 2), 16) & 0b11).toBe(0b10);
    expect(isMulticastMac(a)).toBe(false);
    expect(isMulticastMac('01:00:5e:00:00:01')).toBe(true);
  });

  it('takes the prefix into account: the whole subnet must stay in 198.18.0.0/15', () => {
    expect(subnetInBenchmarkRange(parseCidr('198.18.0.1/24')!)).toBe(true);
    expect(subnetInBenchmarkRange(parseCidr('198.19.0.1/15')!)).toBe(true);
    for (const bad of ['198.18.0.1/14', '198.18.0.1/1', '198.18.0.1/0', '10.0.0.1/24'])
      expect(subnetInBenchmarkRange(parseCidr(bad)!), bad).toBe(false);
    expect(subnetsOverlap(parseCidr('198.18.0.1/15')!, parseCidr('198.19.0.0/16')!)).toBe(true);
    expect(subnetsOverlap(parseCidr('198.18.0.1/16')!, parseCidr('198.19.0.0/16')!)).toBe(false);
  });

  it("reads sshd's SSH_CONNECTION (the address a session arrived at)", () => {
    expect(parseSshConnection('198.19.0.1 51234 198.19.0.7 22\n')).toEqual({ client: '198.19.0.1', server: '198.19.0.7' });
    for (const bad of ['', 'x', '1.2.3.4 5 6.7.8.9', '1.2.3.4 a 5.6.7.8 22', '1 2 3 4 5'])
      expect(parseSshConnection(bad), bad).toBeUndefined();
  });
});
