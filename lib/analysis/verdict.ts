// One test's verdict from many checks: every check is made (none stops the others), and a failure
// lists every failing check. Its first line names them all in short — what failed and the likely
// cause — within a length a report's status line can show; each check's details follow.
//
// Pure: match results in, a verdict out.
import type { MatchResult } from './matchers.ts';

/** The longest first line of a failure: what a report shows as its status message. */
export const MAX_HEADLINE = 280;

export interface CheckOutcome {
  /** What was checked, e.g. "unicast left→right: delivered". */
  check: string;
  result: MatchResult;
}

export class Verdict {
  readonly outcomes: CheckOutcome[] = [];

  /** Record a check's result; returns whether it passed. */
  add(check: string, result: MatchResult): boolean {
    this.outcomes.push({ check, result });
    return result.pass;
  }

  get failures(): CheckOutcome[] {
    return this.outcomes.filter((o) => !o.result.pass);
  }

  get passed(): boolean {
    return this.failures.length === 0;
  }

  /** The failure's first line: each failing check's headline, shortened to fit MAX_HEADLINE. */
  headline(): string {
    const failures = this.failures;
    if (failures.length === 0) return `All ${this.outcomes.length} checks passed.`;
    if (failures.length === 1) return shorten(failures[0]!.result.headline, MAX_HEADLINE);
    const prefix = `${failures.length} of ${this.outcomes.length} checks failed: `;
    const parts = failures.map((f) => f.result.headline.replace(/\.$/, ''));
    let text = prefix + parts.join('; ');
    if (text.length <= MAX_HEADLINE) return `${text}.`;
    // Keep whole checks while they fit, then say how many more there are.
    text = prefix;
    for (const [i, part] of parts.entries()) {
      const more = ` (+${parts.length - i} more)`;
      const next = `${text}${i > 0 ? '; ' : ''}${part}`;
      if (next.length + more.length > MAX_HEADLINE) return i === 0 ? shorten(next, MAX_HEADLINE - more.length) + more : `${text}${more}`;
      text = next;
    }
    return text;
  }

  /** The whole failure: the headline, then every failing check's details. */
  message(): string {
    const details = this.failures.map((f) => `• ${f.check}: ${f.result.message}`);
    return [this.headline(), '', ...details].join('\n');
  }

  /** Every check and its outcome, one line each (for the report's evidence). */
  summary(): string {
    return this.outcomes.map((o) => `${o.result.pass ? 'passed' : 'FAILED'}  ${o.check} — ${o.result.headline}`).join('\n');
  }
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
