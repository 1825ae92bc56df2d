// Regular expressions from profiles (console patterns) run on every console line, synchronously.
// JavaScript's engine backtracks: a pattern with a quantified group that itself repeats, like
// `^(\S+\s*)*ready$`, takes exponential time on a line that almost matches and would hang the run.
// Such patterns are refused when the profile is validated; so are empty ones (they match anything).

/** Why the pattern cannot be used, or null when it is fine. */
export function patternProblem(source: string): string | null {
  if (source.length === 0) return 'is empty, which matches every line.';
  try {
    new RegExp(source);
  } catch (e) {
    return `is not a valid regular expression (${(e as Error).message}).`;
  }
  const nested = nestedQuantifier(source);
  if (nested) {
    return (
      `has a repeated group that itself repeats (${nested}): on a console line that almost matches, matching it takes ` +
      'exponential time and would hang the run.'
    );
  }
  return null;
}

interface Group {
  start: number;
  /** The group's content can repeat without bound (it holds a *, + or {n,} quantifier). */
  repeats: boolean;
}

/** The first group with an unbounded quantifier inside that is itself quantified without bound, as text. */
function nestedQuantifier(source: string): string | null {
  const stack: Group[] = [{ start: 0, repeats: false }];
  const unboundedAt = (i: number): number => {
    // Returns the length of an unbounded quantifier at i (*, +, {n,}), else 0.
    const c = source[i];
    if (c === '*' || c === '+') return 1;
    const m = /^\{\d+,\}/.exec(source.slice(i));
    return m ? m[0].length : 0;
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      if (unboundedAt(i + 1)) stack.at(-1)!.repeats = true;
      continue;
    }
    if (c === '[') {
      // Skip the character class (an escaped ] does not end it).
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
      if (unboundedAt(i + 1)) stack.at(-1)!.repeats = true;
      continue;
    }
    if (c === '(') {
      stack.push({ start: i, repeats: false });
      continue;
    }
    if (c === ')' && stack.length > 1) {
      const group = stack.pop()!;
      const quantifier = unboundedAt(i + 1);
      if (quantifier && group.repeats) return source.slice(group.start, i + 1 + quantifier);
      if (quantifier || group.repeats) stack.at(-1)!.repeats = true;
      continue;
    }
    if (unboundedAt(i + 1) && c !== '|' && c !== '^') stack.at(-1)!.repeats = true;
  }
  return null;
}
