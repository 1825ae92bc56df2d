// `wirelab compare <runA> <runB>`: what changed from one run to another (lib/report/run-history.ts),
// printed, and rendered as HTML or JSON on request. Exit 0: no regression; 1: B regressed; 2: usage.
import { writeFileSync } from 'node:fs';
import { comparisonHtml, comparisonLines, compareRuns } from '../report/run-history.ts';
import { readRunRecord } from './run-record.ts';

export async function compareCommand(a: string, b: string, opts: { html?: string; json?: string }): Promise<number> {
  const cmp = compareRuns(readRunRecord(a), readRunRecord(b));
  console.log(comparisonLines(cmp).join('\n'));
  if (opts.html) writeFileSync(opts.html, comparisonHtml(cmp));
  if (opts.json)
    writeFileSync(opts.json, JSON.stringify({ verdicts: cmp.verdicts, numbers: cmp.numbers, regressed: cmp.regressed }, null, 2));
  return cmp.regressed ? 1 : 0;
}
