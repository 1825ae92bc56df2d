// Offline image hygiene, as the OpenContrail guide does it with guestfish: a service image must not
// carry /etc/udev/rules.d/70-persistent-net.rules from an earlier boot. That file pins NIC names to
// the MACs the image had then; booted with new MACs (every orchestrator gives new ones) the NICs come
// up as eth2/eth3 and scripts that name eth0/eth1 break. checkImage reads the image read-only;
// fixImage writes a cleaned copy (the original only when asked to work in place).
import { spawn } from 'node:child_process';
import { copyFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { WirelabError } from '../core/errors.ts';
import { haveCommand, run } from '../runtime/exec.ts';

export const PERSISTENT_NET_RULES = '/etc/udev/rules.d/70-persistent-net.rules';

export interface PinnedNic {
  mac: string;
  name: string;
}

export interface HygieneReport {
  image: string;
  /** The filesystem (inside the image) holding /etc, e.g. /dev/sda1. */
  filesystem: string | null;
  /** True when the persistent-net rules file is present. */
  persistentNetRules: boolean;
  pinned: PinnedNic[];
}

/** The libguestfs appliance boots under TCG here (~10 s idle, far longer on a busy machine; the first run builds it). */
const LAUNCH_TIMEOUT_MS = 300_000;
const COMMAND_TIMEOUT_MS = 60_000;

/** guestfish needs the direct backend and TCG where KVM does not boot guests (see DESIGN.md). */
function guestfishEnv(): Record<string, string> {
  return {
    LIBGUESTFS_BACKEND: process.env.LIBGUESTFS_BACKEND ?? 'direct',
    LIBGUESTFS_BACKEND_SETTINGS: process.env.LIBGUESTFS_BACKEND_SETTINGS ?? 'force_tcg',
  };
}

/**
 * One libguestfs appliance for a whole check or fix (launching it is what costs): guestfish in
 * remote-control mode (`--listen`), driven command by command with `--remote=<pid>`, each an argv.
 */
class GuestfishSession {
  private constructor(
    private readonly image: string,
    private readonly pid: number,
  ) {}

  static async open(image: string, mode: '--ro' | '--rw'): Promise<GuestfishSession> {
    if (!(await haveCommand('guestfish'))) {
      throw new WirelabError(`Cannot inspect ${image}: guestfish is not installed. Fix: apt-get install libguestfs-tools.`);
    }
    const pid = await startServer(image, mode);
    const session = new GuestfishSession(image, pid);
    const launched = await session.cmd(['run'], LAUNCH_TIMEOUT_MS);
    if (launched.exitCode !== 0) {
      await session.close();
      throw openError(image, launched.stderr);
    }
    return session;
  }

  /** Run one guestfish command in the appliance; a failure is returned (callers decide). */
  cmd(words: string[], timeoutMs = COMMAND_TIMEOUT_MS) {
    return run('guestfish', [`--remote=${this.pid}`, '--', ...words], { env: guestfishEnv(), timeoutMs, allowFailure: true });
  }

  async ok(words: string[]): Promise<string> {
    const r = await this.cmd(words);
    if (r.exitCode !== 0) throw new WirelabError(`guestfish '${words.join(' ')}' failed on ${this.image}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Shut the appliance down; if the server does not go, end it by its own pid. */
  async close(): Promise<void> {
    await this.cmd(['exit'], 30_000);
    for (let i = 0; i < 50 && alive(this.pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(this.pid)) process.kill(this.pid, 'SIGKILL');
  }
}

/**
 * `guestfish --listen` forks a server and prints its pid; the server keeps our stdout open, so read
 * the pid line and let go of the pipes instead of waiting for them to close.
 */
function startServer(image: string, mode: '--ro' | '--rw'): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('guestfish', ['--listen', mode, '-a', image], {
      env: { ...process.env, ...guestfishEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => finish(new Error('no GUESTFISH_PID line within 60 s')), COMMAND_TIMEOUT_MS);
    const finish = (error: Error | null, pid?: number) => {
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      if (error) reject(openError(image, `${err} ${error.message}`));
      else resolve(pid!);
    };
    child.on('error', (e) => finish(e));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const pid = Number(/GUESTFISH_PID=(\d+)/.exec(out)?.[1]);
      if (pid > 1) finish(null, pid);
    });
    child.on('exit', (code) => {
      if (code !== 0) finish(new Error(`exit ${code}`));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function openError(image: string, stderr: string): WirelabError {
  return new WirelabError(
    `guestfish could not open ${image}: ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no message'}. Fix: check that it is a ` +
      `disk image (qcow2 or raw) that no running guest uses.`,
  );
}

/** Parse udev persistent-net rules: each `ATTR{address}=="<mac>"` line's `NAME="<name>"`. */
export function parsePersistentNetRules(text: string): PinnedNic[] {
  const pinned: PinnedNic[] = [];
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('#')) continue;
    const mac = /ATTR\{address\}=="([0-9a-fA-F:]{17})"/.exec(line)?.[1];
    const name = /NAME="([^"]+)"/.exec(line)?.[1];
    if (mac && name) pinned.push({ mac: mac.toLowerCase(), name });
  }
  return pinned;
}

/** Find the filesystem holding /etc and read its persistent-net rules, in an open session. */
async function inspect(session: GuestfishSession, image: string): Promise<HygieneReport> {
  const listing = await session.ok(['list-filesystems']);
  const filesystems = listing
    .split('\n')
    .map((l) => /^(\S+):\s*(\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && !['swap', 'unknown'].includes(m[2]!))
    .map((m) => m[1]!);
  for (const fs of filesystems) {
    if ((await session.cmd(['mount-ro', fs, '/'])).exitCode !== 0) continue;
    try {
      if ((await session.ok(['is-dir', '/etc'])).trim() !== 'true') continue;
      const present = (await session.ok(['is-file', PERSISTENT_NET_RULES])).trim() === 'true';
      const rules = present ? await session.ok(['cat', PERSISTENT_NET_RULES]) : '';
      return { image, filesystem: fs, persistentNetRules: present, pinned: parsePersistentNetRules(rules) };
    } finally {
      await session.cmd(['umount-all']);
    }
  }
  return { image, filesystem: null, persistentNetRules: false, pinned: [] };
}

/** Read-only check: is there a persistent-net rules file, and which NIC names/MACs does it pin? */
export async function checkImage(image: string): Promise<HygieneReport> {
  await requireFile(image);
  const session = await GuestfishSession.open(image, '--ro');
  try {
    return await inspect(session, image);
  } finally {
    await session.close();
  }
}

/**
 * Write a copy of `src` at `dst` without the persistent-net rules. `src` itself is modified only with
 * `inPlace` (then `dst` must be `src`). Returns what was found (the copy is the original's twin).
 */
export async function fixImage(src: string, dst: string, opts: { inPlace?: boolean } = {}): Promise<HygieneReport> {
  await requireFile(src);
  const same = path.resolve(src) === path.resolve(dst);
  if (same && !opts.inPlace) {
    throw new WirelabError(
      `Refusing to fix ${src} in place: the destination is the image itself. Fix: give another destination, or pass --in-place to ` +
        `change the original on purpose.`,
      { exitCode: 2 },
    );
  }
  if (opts.inPlace && !same)
    throw new WirelabError(
      `--in-place changes the image itself, but a different destination (${dst}) was given. Fix: drop --in-place, or give the same ` +
        `path twice.`,
      { exitCode: 2 },
    );
  if (!same) {
    if (
      await stat(dst).then(
        () => true,
        () => false,
      )
    )
      throw new WirelabError(`Refusing to overwrite ${dst}: it exists. Fix: remove it or choose another destination.`, { exitCode: 2 });
    await copyFile(src, dst);
  }
  const session = await GuestfishSession.open(dst, '--rw');
  try {
    const found = await inspect(session, src);
    if (found.filesystem && found.persistentNetRules) {
      await session.ok(['mount', found.filesystem, '/']);
      await session.ok(['rm-f', PERSISTENT_NET_RULES]);
      await session.ok(['umount-all']);
      await session.ok(['sync']);
    }
    return found;
  } finally {
    await session.close();
  }
}

async function requireFile(image: string): Promise<void> {
  const s = await stat(image).catch(() => null);
  if (!s?.isFile())
    throw new WirelabError(`${image} is not a disk image file (no such file). Fix: give the path of a qcow2 or raw image.`, {
      exitCode: 2,
    });
}

/** One line per finding, for the CLI and reports. */
export function describeReport(r: HygieneReport): string {
  if (!r.filesystem) return `${r.image}: no filesystem with /etc found; nothing to check.`;
  if (!r.persistentNetRules) return `${r.image}: clean (no ${PERSISTENT_NET_RULES} on ${r.filesystem}).`;
  const pins = r.pinned.map((p) => `${p.name}=${p.mac}`).join(', ') || 'no NIC rules';
  return (
    `${r.image}: ${PERSISTENT_NET_RULES} on ${r.filesystem} pins ${pins}. Booted with other MACs, its NICs get other names ` +
    `(eth2, eth3, ...) and scripts that name eth0/eth1 break. Fix: wirelab image fix ${r.image} <cleaned copy>.`
  );
}
