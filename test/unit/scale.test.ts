// The pure parts of running at scale: which suites run by default (the RFC 2544 suite only when
// named), the --shard notation, and how shards' Allure environments merge.
import { describe, expect, it } from 'vitest';
import { mergeEnvironments } from '../../lib/cli/merge-reports.ts';
import { availableSuites, defaultSuitesFor, parseShard } from '../../lib/cli/run-suites.ts';

describe('the RFC 2544 suite runs only when named', () => {
  it('is a suite, and in no role\'s default list', () => {
    expect(availableSuites()).toContain('rfc2544');
    for (const role of ['l2-bridge', 'l3-forwarder', 'monitor'] as const) expect(defaultSuitesFor(role)).not.toContain('rfc2544');
    expect(defaultSuitesFor('l2-bridge')).toEqual(expect.arrayContaining(['l2-bridge', 'readiness', 'image-hygiene']));
  });
});

describe('--shard', () => {
  it('reads i/n', () => {
    expect(parseShard('1/2')).toEqual({ index: 1, count: 2 });
    expect(parseShard('3/3')).toEqual({ index: 3, count: 3 });
  });

  it('refuses anything else, naming the value and the form', () => {
    for (const bad of ['0/2', '3/2', '1/0', '1', 'a/b', '1/2/3', ' 1/2']) expect(() => parseShard(bad), bad).toThrow(/--shard is '.*'; use i\/n with 1 <= i <= n/);
  });
});

describe('merged Allure environment', () => {
  it('keeps shared values once, lists differing ones, and counts the shards', () => {
    const merged = mergeEnvironments(['profile.name=a\nhost.kernel=Linux 6.1\nnode=v20\n', 'profile.name=a\nhost.kernel=Linux 6.8\nnode=v20\n'], 2);
    expect(merged.split('\n')).toEqual(['profile.name=a', 'host.kernel=Linux 6.1 | Linux 6.8', 'node=v20', 'shards=2', '']);
  });

  it('copes with no environment at all', () => {
    expect(mergeEnvironments([], 3)).toBe('shards=3\n');
  });
});
