// User-facing errors. A WirelabError is a mistake or a missing prerequisite the user can fix:
// the CLI prints its message as one paragraph, without a stack trace, and exits with its code.
// Anything else that escapes is a wirelab bug and is printed with its stack.

export class WirelabError extends Error {
  /** Process exit code the CLI uses: 2 for usage/profile errors, 1 for a failed run step. */
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WirelabError';
    this.exitCode = options.exitCode ?? 1;
  }
}

/** One problem found in a lab profile: where it is, what was found, and how to fix it. */
export interface ProfileProblem {
  file: string;
  /** Dotted path to the field, e.g. `guest.nics[1].mac`. Empty for the document itself. */
  path: string;
  message: string;
  fix: string;
}

export class ProfileError extends WirelabError {
  readonly problems: ProfileProblem[];

  constructor(problems: ProfileProblem[]) {
    super(problems.map(formatProblem).join('\n'), { exitCode: 2 });
    this.name = 'ProfileError';
    this.problems = problems;
  }
}

export function formatProblem(p: ProfileProblem): string {
  const where = p.path ? `${p.file}: field '${p.path}'` : p.file;
  return `${where}: ${p.message} Fix: ${p.fix}`;
}

export function isWirelabError(e: unknown): e is WirelabError {
  return e instanceof WirelabError;
}
