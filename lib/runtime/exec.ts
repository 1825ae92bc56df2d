// Running host commands. Every command is an argument array (never a shell string), optionally
// inside a network namespace, and a failure names the command and quotes its stderr.
import { execa, type Options } from 'execa';
import { WirelabError } from '../core/errors.ts';

export interface RunOptions {
  /** Run inside this network namespace (via `ip netns exec`). */
  netns?: string;
  /** Standard input for the command. */
  input?: string | Buffer;
  /** Give up after this many milliseconds. */
  timeoutMs?: number;
  /** Do not throw on a non-zero exit; the caller inspects the result. */
  allowFailure?: boolean;
  env?: Record<string, string>;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The argv actually executed, with the netns wrapper applied. */
export function withNetns(cmd: string, args: readonly string[], netns?: string): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, [...args]];
}

export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, argv] = withNetns(cmd, args, opts.netns);
  const options: Options = {
    reject: false,
    input: opts.input,
    timeout: opts.timeoutMs,
    env: opts.env,
    stripFinalNewline: true,
  };
  let result;
  try {
    result = await execa(file, argv, options);
  } catch (e) {
    throw new WirelabError(`Could not start '${file}': ${(e as Error).message}. Fix: install it (run 'wirelab doctor').`, { cause: e });
  }
  const out: RunResult = {
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    exitCode: result.exitCode ?? -1,
  };
  if (result.failed && !opts.allowFailure) {
    const why = result.timedOut ? `timed out after ${opts.timeoutMs} ms` : `exited ${out.exitCode}`;
    const err = out.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new WirelabError(`Command '${[file, ...argv].join(' ')}' ${why}${err ? `: ${err}` : ''}`);
  }
  return out;
}

/** True when `cmd` is found on PATH. */
export async function haveCommand(cmd: string): Promise<boolean> {
  const r = await run('sh', ['-c', 'command -v "$1"', 'sh', cmd], { allowFailure: true });
  return r.exitCode === 0;
}
