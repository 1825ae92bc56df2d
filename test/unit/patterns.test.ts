// Console patterns from profiles: the ones that backtrack catastrophically are refused before a run.
import { describe, expect, it } from 'vitest';
import { patternProblem } from '../../lib/profile/patterns.ts';

describe('patternProblem', () => {
  it.each([
    'wirelab-guest: ready role=l2-bridge(?![\\w-])',
    '^ready$',
    'rx left=\\d+ right=\\d+',
    '(ab)+c',
    '(a|b){2,3}x',
    '[()*+]+ok',
    '\\(x+\\)*',
  ])('accepts %s', (source) => expect(patternProblem(source)).toBeNull());

  it.each([
    ['^(\\S+\\s*)*ready$', '(\\S+\\s*)*'],
    ['(a+)+b', '(a+)+'],
    ['((ab)*c)*d', '((ab)*c)*'],
    ['(x{2,})+y', '(x{2,})+'],
    ['(?:[a-z]+\\.)*example$', '(?:[a-z]+\\.)*'],
  ])('refuses %s, naming the group', (source, group) => {
    expect(patternProblem(source)).toContain(`(${group})`);
  });

  it('refuses empty and invalid patterns', () => {
    expect(patternProblem('')).toMatch(/empty/);
    expect(patternProblem('(')).toMatch(/not a valid regular expression/);
  });
});
