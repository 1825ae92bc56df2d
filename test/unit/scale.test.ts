// The pure parts of running at scale: which suites run by default (the measurement suites only when
// named), the --shard and --workers options, and how shards' Allure environments merge.
import { describe, expect, it } from 'vitest';
import { mergeEnvironments } from '../../lib/cli/merge-reports.ts';
import { availableSuites, defaultSuitesFor, parseShard, suiteWorkers } from '../../lib/cli/run-suites.ts';
import type { LabProfile } from '../../lib/profile/types.ts';

describe('the RFC 2544, RFC 2889 and restart-outage suites run only when named', () => {
  it("are suites, and in no role's default list", () => {
    for (const named of ['rfc2544', 'rfc2889', 'restart-outage']) {
      expect(availableSuites()).toContain(named);
      for (const role of ['l2-bridge', 'l3-forwarder', 'monitor'] as const) expect(defaultSuitesFor(role)).not.toContain(named);
    }
    // Readiness and image hygiene are checked inside each role's suite, on its own boot.
    expect(defaultSuitesFor('l2-bridge')).toEqual(['l2-bridge', 'l2-bridge-vrouter-mac']);
    expect(defaultSuitesFor('monitor')).toEqual(['monitor']);
    // A profile that declares a policy adds the policy suite; without one the defaults stay as they are.
    expect(defaultSuitesFor('l2-bridge', true)).toEqual(['l2-bridge', 'l2-bridge-vrouter-mac', 'policy']);
  });

  it("a role's suites are '<role>' and '<role>-<part>', never another role's", () => {
    expect(defaultSuitesFor('l3-forwarder')).not.toContain('l2-bridge-vrouter-mac');
    expect(defaultSuitesFor('monitor')).not.toContain('l2-bridge');
  });
});

describe('--workers', () => {
  const nested = { kind: 'nested', file: 'lab-profiles/nested-l2-bridge.yaml' } as LabProfile;
  const host = { kind: 'host', file: 'lab-profiles/bench-host.yaml' } as LabProfile;

  it('defaults to one per CPU (at most 4) on a nested lab, one on a bench host', () => {
    expect(suiteWorkers(nested, undefined, 2)).toBe(2);
    expect(suiteWorkers(nested, undefined, 1)).toBe(1);
    expect(suiteWorkers(nested, undefined, 32)).toBe(4);
    expect(suiteWorkers(host, undefined, 32)).toBe(1);
  });

  it('takes a whole number, and refuses more than one lab on a bench host, naming the profile', () => {
    expect(suiteWorkers(nested, '3', 2)).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'two', ''])
      expect(() => suiteWorkers(nested, bad), bad).toThrow(/--workers is '.*'; use a whole number >= 1/);
    expect(() => suiteWorkers(host, '2')).toThrow(/bench-host\.yaml describes a bench host.*--shard/);
    expect(suiteWorkers(host, '1')).toBe(1);
  });
});

describe('--shard', () => {
  it('reads i/n', () => {
    expect(parseShard('1/2')).toEqual({ index: 1, count: 2 });
    expect(parseShard('3/3')).toEqual({ index: 3, count: 3 });
  });

  it('refuses anything else, naming the value and the form', () => {
    for (const bad of ['0/2', '3/2', '1/0', '1', 'a/b', '1/2/3', ' 1/2'])
      expect(() => parseShard(bad), bad).toThrow(/--shard is '.*'; use i\/n with 1 <= i <= n/);
  });
});

describe('merged Allure environment', () => {
  it('keeps shared values once, lists differing ones, and counts the shards', () => {
    const merged = mergeEnvironments(
      ['profile.name=a\nhost.kernel=Linux 6.1\nnode=v20\n', 'profile.name=a\nhost.kernel=Linux 6.8\nnode=v20\n'],
      2,
    );
    expect(merged.split('\n')).toEqual(['profile.name=a', 'host.kernel=Linux 6.1 | Linux 6.8', 'node=v20', 'shards=2', '']);
  });

  it('copes with no environment at all', () => {
    expect(mergeEnvironments([], 3)).toBe('shards=3\n');
  });
});
