// Running commands on the bench host, wherever it is: on this machine (optionally inside a network
// namespace — how wirelab's own tests simulate a bench host) or over SSH. The host driver only ever
// speaks through this small interface, so the same code brings up a lab locally and remotely.
// Commands are argv arrays on both paths (SshHost quotes them); nothing is a shell string.
import { spawn } from 'node:child_process';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { WirelabError } from '../../core/errors.ts';
import { run, withNetns, type RunResult } from '../../runtime/exec.ts';
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
  /** Copy a file of this machine to `path` on the host (over SFTP when remote), reporting bytes done and the total. */
  upload(localFile: string, path: string, onProgress?: (done: number, total: number) => void): Promise<void>;
  /**
   * Start a process on the host that lives exactly as long as this connection (or, locally, this
   * process): it reads its stdin until end-of-file. Resolves to its pid once it runs.
   */
  hold(argv: readonly string[]): Promise<{ pid: number; release(): void }>;
  /** Why the connection to the host is gone, or undefined while commands can still run there. */
  lost(): string | undefined;
  /** A fresh shell to the same host (after the connection was lost). */
  reopen(): Promise<HostShell>;
  close(): Promise<void>;
}

/** The holder's script: say its pid, then read until the connection (or the owning process) ends. */
const HOLD_SCRIPT = 'echo $$; cat >/dev/null';

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

  async upload(localFile: string, path: string, onProgress?: (done: number, total: number) => void): Promise<void> {
    await copyFile(localFile, path);
    const { size } = await stat(path);
    onProgress?.(size, size);
  }

  async hold(argv: readonly string[]): Promise<{ pid: number; release(): void }> {
    const [cmd, args] = withNetns('sh', ['-c', HOLD_SCRIPT, ...argv], this.netns || undefined);
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'], env: this.env ? { ...process.env, ...this.env } : undefined });
    // Neither the child nor its pipes keep this process alive; this process's end closes the pipe.
    child.unref();
    (child.stdin as unknown as Socket).unref?.();
    (child.stdout as unknown as Socket).unref?.();
    child.stdin.on('error', () => {});
    const pid = await firstLinePid(child.stdout, 'a holder process on this machine');
    return { pid, release: () => child.stdin.end() };
  }

  lost(): string | undefined {
    return undefined;
  }

  async reopen(): Promise<HostShell> {
    return this;
  }

  async close(): Promise<void> {}
}

export class SshShell implements HostShell {
  readonly local = false;
  readonly netns = '';

  private constructor(
    readonly ssh: SshHost,
    readonly label: string,
    private readonly target: SshShellTarget,
  ) {}

  static async connect(opts: SshShellTarget): Promise<SshShell> {
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
    return new SshShell(ssh, label, opts);
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

  async upload(localFile: string, path: string, onProgress?: (done: number, total: number) => void): Promise<void> {
    await this.ssh.upload(localFile, path, onProgress);
  }

  async hold(argv: readonly string[]): Promise<{ pid: number; release(): void }> {
    const proc = await this.ssh.spawn(['sh', '-c', HOLD_SCRIPT, ...argv]);
    proc.stderr.resume();
    const pid = await firstLinePid(proc.stdout, `a holder process on ${this.label}`);
    return { pid, release: () => proc.closeStdin() };
  }

  lost(): string | undefined {
    return this.ssh.lostReason;
  }

  reopen(): Promise<HostShell> {
    return SshShell.connect(this.target);
  }

  close(): Promise<void> {
    return this.ssh.close();
  }
}

export interface SshShellTarget {
  address: string;
  port: number;
  user: string;
  hostKey: string;
  privateKeyFile?: string;
  /** The profile field naming the key file, for errors. */
  field: string;
}

/** The pid a holder prints first (bounded: a host that never answers must not hang the run). */
function firstLinePid(out: Readable, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new WirelabError(`${what} did not start within 10 s.`)), 10_000);
    out.on('data', (d: Buffer) => {
      text += d.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n')) {
        clearTimeout(timer);
        const pid = Number(line);
        if (Number.isInteger(pid) && pid > 1) resolve(pid);
        else reject(new WirelabError(`${what} said '${line}' instead of its pid.`));
      }
    });
    out.on('end', () => {
      clearTimeout(timer);
      reject(new WirelabError(`${what} ended before it started.`));
    });
  });
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
