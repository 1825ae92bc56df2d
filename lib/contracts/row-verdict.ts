// How a contract row's judgement reads: what the role promises for the row (the tests' names and the
// README's table say it the same way), and the check's result — its first line the smallest
// counterexample, by dimension, then every way the row failed with example cases.
//
// Pure: a judgement in, text out.
import type { MatchResult } from '../analysis/matchers.ts';
import type { Explanation } from './counterexample.ts';
import type { CaseOutcome } from './judge.ts';
import type { Behaviour, ContractRow } from './role-contracts.ts';

/** What a behaviour promises, as the role table and the tests say it. */
export function promiseText(b: Behaviour): string {
  switch (b.kind) {
    case 'byte-exact':
      return 'delivered once, in order, byte-exact (a priority tag, VID 0, may be removed), never back to the sender';
    case 'routed':
      return 'routed: MACs for the next hop, TTL / hop limit − 1, nothing else changed';
    case 'fragmented':
      return 'fragmented to fit the egress MTU; the fragments reassemble to the routed packet';
    case 'dropped':
      return {
        nothing: 'not forwarded, silently',
        'time-exceeded': 'not forwarded; ICMP Time Exceeded back to the sender',
        'too-big': 'not forwarded; ICMP Fragmentation Needed / ICMPv6 Packet Too Big with the egress MTU back to the sender',
        any: 'not forwarded',
      }[b.answer];
    case 'mirrored':
      return 'received and counted by the monitor; nothing sent';
    case 'either':
      return `either way (reported, not judged: ${b.why})`;
  }
}

/** The test's name for a row. */
export function rowTestName(row: ContractRow): string {
  return `${row.frames}: ${promiseText(row.behaviour)}`;
}

const MAX_EXAMPLES = 3;

/** The row's check: passes when every case behaved; fails naming the separating dimensions first. */
export function rowResult(row: ContractRow, outcomes: readonly CaseOutcome[], explanations: readonly Explanation[]): MatchResult {
  const judged = outcomes.filter((o) => o.verdict !== 'either');
  const failed = outcomes.filter((o) => o.verdict === 'fail');
  if (failed.length === 0) {
    const headline = `all ${judged.length} cases of ${row.frames} behaved as promised (${promiseText(row.behaviour)}).`;
    return { pass: true, headline, message: headline };
  }
  // When every case failed one way, the row itself is the separating value: name it.
  const statements = explanations.map((e) =>
    e.separatedBy.length === 0 && e.cases.length === judged.length ? `${row.frames}: every kind tried ${e.what}` : e.statement,
  );
  const headline = `${statements.join('; ')} (${failed.length} of ${judged.length} cases).`;
  const byIndex = new Map(outcomes.map((o) => [o.index, o]));
  const paragraphs = explanations.map((e, i) => {
    const examples = e.cases.slice(0, MAX_EXAMPLES).map((i) => `  - ${byIndex.get(i)!.detail}`);
    const more = e.cases.length > MAX_EXAMPLES ? [`  - … and ${e.cases.length - MAX_EXAMPLES} more cases`] : [];
    return [`${statements[i]}: ${e.cases.length} case(s), e.g.`, ...examples, ...more].join('\n');
  });
  return {
    pass: false,
    headline,
    message: [headline, `The role promises for ${row.frames}: ${promiseText(row.behaviour)} (${row.basis}).`, ...paragraphs].join('\n'),
  };
}
