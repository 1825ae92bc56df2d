// SSH to the traffic hosts (ssh2). The server's host key is pinned (generated per run by wirelab)
// and checked in constant time; authentication is by key only. Remote commands are argv arrays,
// quoted for the remote POSIX shell by quoteArgv, never strings assembled from values.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Client, type ClientChannel, type PublicKeyAuthMethod, type ServerHostKeyAlgorithm, type SFTPWrapper } from 'ssh2';
import { WirelabError } from '../core/errors.ts';

export interface SshConnectOptions {
  /** Who this is for people reading errors, e.g. "traffic host 'left'". */
  label: string;
  host: string;
  port?: number;
  username: string;
  /** OpenSSH private key text. Never logged. */
  privateKey: string | Buffer;
  /** The pinned server key as an OpenSSH .pub line, e.g. 'ssh-ed25519 AAAA... comment'. */
  hostKey: string;
  readyTimeoutMs?: number;
}

export interface ExecOptions {
  stdin?: Buffer | Readable;
  timeoutMs?: number;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: string;
  /** Exit status; null when the command was killed by a signal or the session ended without one. */
  code: number | null;
  signal?: string;
}

/** A long-running remote command. */
export interface RemoteProcess {
  stdout: Readable;
  stderr: Readable;
  /** Send EOF to the command's stdin (with run-until-eof this is how to stop it). */
  closeStdin(): void;
  /** Resolves when the channel closes; never rejects. */
  exit: Promise<{ code: number | null; signal?: string }>;
  /** Close the channel without waiting for the command. */
  close(): void;
  /**
   * Close stdin and wait for the command to exit (run-until-eof then interrupts it); if it has not
   * exited within `timeoutMs`, close the channel and throw.
   */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal?: string }>;
}

export interface PinnedHostKey {
  algorithm: ServerHostKeyAlgorithm;
  blob: Buffer;
  /** OpenSSH-style fingerprint, e.g. 'SHA256:abc...'. */
  fingerprint: string;
}

/** SSH keepalives: a request every intervalMs; countMax unanswered ones in a row close the connection. */
export const KEEPALIVE = { intervalMs: 5_000, countMax: 3 } as const;

const HOST_KEY_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
];

/** Parse an OpenSSH .pub line into the algorithm and the raw key blob the server will present. */
export function parsePinnedHostKey(line: string): PinnedHostKey {
  const [algorithm, base64] = line.trim().split(/\s+/);
  if (!algorithm || !base64 || !(HOST_KEY_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new WirelabError(
      `Pinned host key '${line.trim().slice(0, 40)}' is not an OpenSSH public key line. Fix: pass the contents of the host's .pub ` +
        `file (one of ${HOST_KEY_ALGORITHMS.join(', ')}).`,
    );
  }
  const blob = Buffer.from(base64, 'base64');
  // The blob starts with its own algorithm name (uint32 length + string): it must agree with the line.
  const nameLength = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (nameLength < 0 || blob.subarray(4, 4 + nameLength).toString('latin1') !== algorithm) {
    throw new WirelabError(`Pinned host key blob does not match its algorithm '${algorithm}'. Fix: copy the .pub line unmodified.`);
  }
  return { algorithm: algorithm as ServerHostKeyAlgorithm, blob, fingerprint: fingerprintOf(blob) };
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Constant-time comparison of two key blobs (their lengths are not secret). */
export function sameKey(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The signature algorithms that prove possession of a key of this type. */
function signatureAlgorithmsFor(algorithm: ServerHostKeyAlgorithm): ServerHostKeyAlgorithm[] {
  return algorithm === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [algorithm];
}

/**
 * Quote argv for a POSIX shell: every argument in single quotes, embedded single quotes as '\''.
 * The remote side (sshd runs `$SHELL -c <command>`) then sees exactly these arguments.
 */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new WirelabError('Cannot run an empty command over ssh. Fix: pass at least the program name.');
  return argv
    .map((arg) => {
      if (arg.includes('\0'))
        throw new WirelabError(`Argument ${JSON.stringify(arg)} contains a NUL byte, which no remote command can receive.`);
      return `'${arg.replaceAll("'", `'\\''`)}'`;
    })
    .join(' ');
}

export class SshHost {
  private client: Client | undefined;
  private label = 'ssh host';
  private closed: Promise<void> | undefined;
  /** Why the connection ended without close() (the peer went away, keepalives unanswered). */
  private lost: string | undefined;

  /** Connect and authenticate; the host key must equal the pinned one. */
  async connect(opts: SshConnectOptions): Promise<this> {
    this.label = opts.label;
    const pinned = parsePinnedHostKey(opts.hostKey);
    const where = `${opts.label} (${opts.host}:${opts.port ?? 22})`;
    let offeredKey: Buffer | undefined;
    // Key only: no password, no keyboard-interactive, no agent.
    const keyAuth: PublicKeyAuthMethod = { type: 'publickey', username: opts.username, key: opts.privateKey };
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (e) => reject(explainConnectError(e, where, pinned, offeredKey)));
      client.connect({
        host: opts.host,
        port: opts.port ?? 22,
        username: opts.username,
        readyTimeout: opts.readyTimeoutMs ?? 10_000,
        // A half-open connection (peer gone, no RST) is noticed within ~20 s instead of TCP's ~15 minutes,
        // and every command and capture on it ends: teardown never hangs on a dead host.
        keepaliveInterval: KEEPALIVE.intervalMs,
        keepaliveCountMax: KEEPALIVE.countMax,
        algorithms: { serverHostKey: signatureAlgorithmsFor(pinned.algorithm) },
        hostVerifier: (key: Buffer) => {
          if (sameKey(key, pinned.blob)) return true;
          offeredKey = Buffer.from(key);
          return false;
        },
        authHandler: [keyAuth],
      });
    });
    // Later transport errors (peer gone) must not crash the process; they surface as failed commands
    // that name the host and why its connection ended.
    client.on('error', (e: Error) => (this.lost ??= e.message));
    client.on('close', () => (this.lost ??= 'the connection closed'));
    this.client = client;
    return this;
  }

  /** Run a command to completion and collect its output. A non-zero exit is returned, not thrown. */
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const command = quoteArgv(argv);
    const { channel, exit } = await this.openChannel(command);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    channel.on('data', (chunk: Buffer) => stdout.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    feedStdin(channel, opts.stdin);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      if (opts.timeoutMs === undefined) return;
      timer = setTimeout(() => {
        channel.close();
        reject(new WirelabError(`Command '${argv.join(' ')}' on ${this.label} timed out after ${opts.timeoutMs} ms.`));
      }, opts.timeoutMs);
    });
    try {
      const { code, signal } = await Promise.race([exit, timedOut]);
      return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8'), code, signal };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Like exec, but a non-zero exit throws a WirelabError quoting stderr. */
  async execOk(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.exec(argv, opts);
    if (result.code !== 0) {
      const why = result.code === null ? `was killed (${result.signal ?? 'no exit status'})` : `exited ${result.code}`;
      const err = result.stderr.trim().split('\n').slice(-3).join(' | ');
      throw new WirelabError(`Command '${argv.join(' ')}' on ${this.label} ${why}${err ? `: ${err}` : ''}`);
    }
    return result;
  }

  /** Start a long-running command; the caller reads its streams and ends it (see RemoteProcess). */
  async spawn(argv: readonly string[]): Promise<RemoteProcess> {
    const { channel, exit } = await this.openChannel(quoteArgv(argv));
    const label = this.label;
    return {
      stdout: channel,
      stderr: channel.stderr,
      closeStdin: () => channel.end(),
      exit,
      close: () => channel.close(),
      async stop(timeoutMs = 10_000) {
        channel.end();
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
        const result = await Promise.race([exit, late]).finally(() => clearTimeout(timer));
        if (result !== 'late') return result;
        channel.close();
        throw new WirelabError(
          `Command '${argv.join(' ')}' on ${label} did not exit within ${timeoutMs} ms of closing its stdin. Fix: start it through ` +
            `run-until-eof.`,
        );
      },
    };
  }

  /** Why the connection ended by itself (the peer went away, keepalives unanswered); undefined while it is up. */
  get lostReason(): string | undefined {
    return this.lost;
  }

  /**
   * Copy a local file to `remotePath` over SFTP (parallel reads and writes; the server's sftp subsystem,
   * no shell in between). `onProgress` gets the bytes done and the total as the transfer goes.
   */
  async upload(localPath: string, remotePath: string, onProgress?: (done: number, total: number) => void): Promise<void> {
    const sftp = await this.openSftp();
    try {
      await new Promise<void>((resolve, reject) =>
        sftp.fastPut(localPath, remotePath, { step: (done, _chunk, total) => onProgress?.(done, total) }, (err) =>
          err
            ? reject(new WirelabError(`Uploading ${localPath} to ${remotePath} on ${this.label} failed: ${err.message}`, { cause: err }))
            : resolve(),
        ),
      );
    } finally {
      sftp.end();
    }
  }

  private openSftp(): Promise<SFTPWrapper> {
    const client = this.client;
    if (!client || this.closed || this.lost) return Promise.reject(new WirelabError(`No ssh connection to ${this.label}.`));
    return new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((err, s) =>
        err
          ? reject(
              new WirelabError(
                `${this.label} refused an SFTP session (${err.message}). Fix: enable the sftp subsystem in its sshd_config ` +
                  `(Subsystem sftp /usr/lib/openssh/sftp-server, Debian's default).`,
                { cause: err },
              ),
            )
          : resolve(s),
      ),
    );
  }

  /** True when the server opens an SFTP session; otherwise why not (with the fix). */
  async sftpAvailable(): Promise<true | string> {
    try {
      (await this.openSftp()).end();
      return true;
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** Close the connection; idempotent. */
  close(): Promise<void> {
    const client = this.client;
    if (!client) return Promise.resolve();
    // A connection that is gone already closes no more: waiting for its 'close' would never end.
    this.closed ??= this.lost
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          client.once('close', () => resolve());
          client.end();
          // A dead peer never sends close. Not unref'd: an unwind waiting here must not find the event loop empty.
          setTimeout(resolve, 2_000);
        });
    return this.closed;
  }

  /**
   * Start `command` on a new channel. Its exit is listened for inside ssh2's callback: a fast command's
   * exit status can arrive in the same packet as the channel's confirmation, and ssh2 emits it before
   * an awaiting caller could attach a listener (it then read as "no exit status" under load).
   */
  private openChannel(command: string): Promise<{ channel: ClientChannel; exit: ReturnType<typeof channelExit> }> {
    const client = this.client;
    if (!client || this.closed) {
      return Promise.reject(new WirelabError(`No ssh connection to ${this.label}. Fix: connect() first (and not after close()).`));
    }
    const gone = (why: string, cause?: unknown) =>
      new WirelabError(
        `The SSH connection to ${this.label} is gone (${why}): the host stopped, or the network to it broke. Nothing more can run ` +
          `there in this run.`,
        { cause },
      );
    if (this.lost) return Promise.reject(gone(this.lost));
    return new Promise((resolve, reject) => {
      try {
        client.exec(command, (err, channel) => {
          // ssh2 answers a channel request still pending when the connection drops with "No response from server".
          if (err && (this.lost || /no response from server|not connected/i.test(err.message)))
            reject(gone(this.lost ?? err.message.toLowerCase(), err));
          else if (err) reject(new WirelabError(`Could not start a command on ${this.label}: ${err.message}`, { cause: err }));
          else resolve({ channel, exit: channelExit(channel) });
        });
      } catch (e) {
        // ssh2 throws "Not connected" at once when the socket is already gone.
        reject(gone(this.lost ?? (e as Error).message, e));
      }
    });
  }
}

function channelExit(channel: ClientChannel): Promise<{ code: number | null; signal?: string }> {
  return new Promise((resolve) => {
    let code: number | null = null;
    let signal: string | undefined;
    channel.on('exit', (c: number | null, s?: string) => {
      code = c;
      signal = s ?? undefined;
    });
    channel.on('close', () => resolve({ code, signal }));
  });
}

function feedStdin(channel: ClientChannel, stdin: Buffer | Readable | undefined): void {
  if (stdin === undefined) channel.end();
  else if (Buffer.isBuffer(stdin)) channel.end(stdin);
  else stdin.pipe(channel);
}

function explainConnectError(
  e: Error & { level?: string },
  where: string,
  pinned: PinnedHostKey,
  offeredKey: Buffer | undefined,
): WirelabError {
  if (offeredKey) {
    return new WirelabError(
      `Host key of ${where} does not match the pinned key: expected ${pinned.algorithm} ${pinned.fingerprint}, ` +
        `the server offered ${fingerprintOf(offeredKey)}. Connection refused. Fix: if the host was re-created, pin its new ` +
        `.pub host key (wirelab generates one per run); otherwise something else answers on that address.`,
      { cause: e },
    );
  }
  if (e.level === 'client-authentication') {
    return new WirelabError(
      `${where} refused our key (key-only login as configured). Fix: make sure the client's public key is in the host's authorized_keys.`,
      { cause: e },
    );
  }
  return new WirelabError(
    `Could not connect over ssh to ${where}: ${e.message}. Fix: check that sshd runs there and the address is reachable.`,
    {
      cause: e,
    },
  );
}
