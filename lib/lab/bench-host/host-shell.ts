// Running commands on the bench host, wherever it is: on this machine (optionally inside a network
// namespace — how wirelab's own tests simulate a bench host) or over SSH. The host driver only ever
// speaks through this small interface, so the same code brings up a lab locally and remotely.
// Commands are argv arrays on both paths (SshHost quotes them); nothing is a shell string.
import { readFile, writeFile } from 'node:fs/promises';
import { WirelabError } from '../../core/errors.ts';
import { run, type RunResult } from '../../runtime/exec.ts';
import { SshHost } from '../../runtime/ssh.ts';

export interface ShellRunOptions {
  allowFailure?: boolean;
  input?: Buffer;
  timeoutMs?: number;
}

export interface HostShell {
  /** Who this is, for error messages: "bench host 'local'" or "bench host bench1 (ssh)". */
  readonly label: string;
  /** True when the host's files are this machine's files (no upload needed). */
  readonly local: boolean;
  /** For local captures: the network namespace commands run in ('' = this machine's own). */
  readonly netns: string;
  /** For remote captures: the SSH connection to the bench host. */
  readonly ssh?: SshHost;
  run(argv: readonly string[], opts?: ShellRunOptions): Promise<RunResult>;
  /** True when `command` is on the host's PATH. */
  has(command: string): Promise<boolean>;
  /** Write `data` to `path` on the host. */
  writeFile(path: string, data: Buffer): Promise<void>;
  close(): Promise<void>;
}

export class LocalShell implements HostShell {
  readonly local = true;
  readonly label: string;

  /** `env` is for tests that hide tools (e.g. a PATH without virsh). */
  constructor(
    readonly netns = '',
    private readonly env?: Record<string, string>,
  ) {
    this.label = netns ? `bench host (local, network namespace ${netns})` : "bench host 'local'";
  }

  run(argv: readonly string[], opts: ShellRunOptions = {}): Promise<RunResult> {
    const [cmd, ...args] = argv;
    if (!cmd) throw new WirelabError('Cannot run an empty command on the bench host.');
    return run(cmd, args, { ...opts, netns: this.netns || undefined, env: this.env });
  }

  async has(command: string): Promise<boolean> {
    // The script is a constant; the command name arrives as a positional parameter.
    const r = await run('sh', ['-c', 'command -v "$1"', 'sh', command], { allowFailure: true, env: this.env });
    return r.exitCode === 0;
  }

  async writeFile(path: string, data: Buffer): Promise<void> {
    // A network namespace shares this machine's files: write directly.
    await writeFile(path, data);
  }

  async close(): Promise<void> {}
}

export class SshShell implements HostShell {
  readonly local = false;
  readonly netns = '';

  private constructor(
    readonly ssh: SshHost,
    readonly label: string,
  ) {}

  static async connect(opts: {
    address: string;
    port: number;
    user: string;
    hostKey: string;
    privateKeyFile?: string;
    field: string;
  }): Promise<SshShell> {
    const label = `bench host ${opts.address} (ssh)`;
    const privateKey = await readPrivateKey(opts.privateKeyFile, opts.field, label);
    const ssh = await new SshHost().connect({
      label,
      host: opts.address,
      port: opts.port,
      username: opts.user,
      privateKey,
      hostKey: opts.hostKey,
    });
    return new SshShell(ssh, label);
  }

  async run(argv: readonly string[], opts: ShellRunOptions = {}): Promise<RunResult> {
    const r = await this.ssh.exec(argv, { stdin: opts.input, timeoutMs: opts.timeoutMs });
    const out = { stdout: r.stdout.toString('utf8').replace(/\n$/, ''), stderr: r.stderr, exitCode: r.code ?? -1 };
    if (out.exitCode !== 0 && !opts.allowFailure) {
      const err = out.stderr.trim().split('\n').slice(-3).join(' | ');
      throw new WirelabError(`Command '${argv.join(' ')}' on ${this.label} exited ${out.exitCode}${err ? `: ${err}` : ''}`);
    }
    return out;
  }

  async has(command: string): Promise<boolean> {
    return (await this.run(['sh', '-c', 'command -v "$1"', 'sh', command], { allowFailure: true })).exitCode === 0;
  }

  async writeFile(path: string, data: Buffer): Promise<void> {
    await this.run(['cp', '/dev/stdin', path], { input: data });
  }

  close(): Promise<void> {
    return this.ssh.close();
  }
}

/** Read an SSH private key named by a profile field; its content is never logged. */
export async function readPrivateKey(file: string | undefined, field: string, who: string): Promise<string> {
  if (!file) {
    throw new WirelabError(
      `${who}: field '${field}' is not set, and wirelab logs in with key files only (no agent, no password). ` +
        `Fix: set '${field}' to the private key whose public half is in that host's authorized_keys.`,
      { exitCode: 2 },
    );
  }
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new WirelabError(
      `${who}: field '${field}' is "${file}", which cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}). Fix: give the ` +
        `path of a readable private key file.`,
      { exitCode: 2, cause: e },
    );
  }
}
