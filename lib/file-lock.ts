// A lock file that serializes one-at-a-time work across processes (starting dockerd, building an
// image). The lock is a file created exclusively that holds the owner's pid; a lock whose owner is
// gone (crashed run) is stale and is taken over, so a killed run never blocks the next one.
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WirelabError } from './errors.ts';

export interface LockOptions {
  /** Give up waiting for another holder after this long. */
  timeoutMs: number;
  /** What the lock protects, for the error message (e.g. 'the traffic-host image build'). */
  purpose: string;
  pollMs?: number;
}

/** Run `work` while holding the lock file at `path`; the lock is released even if `work` throws. */
export async function withFileLock<T>(path: string, opts: LockOptions, work: () => Promise<T>): Promise<T> {
  await acquire(path, opts);
  try {
    return await work();
  } finally {
    await unlink(path).catch(() => {});
  }
}

async function acquire(path: string, opts: LockOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = await lockOwner(path);
    if (owner !== undefined && !isAlive(owner)) {
      // The holder died without releasing it: remove and retry (another waiter may win the race).
      await unlink(path).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) {
      throw new WirelabError(
        `Timed out after ${opts.timeoutMs} ms waiting for ${opts.purpose} (lock ${path} held by pid ${owner ?? 'unknown'}). ` +
          `Fix: wait for that process to finish, or remove ${path} if no such process exists.`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
  }
}

async function lockOwner(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0 only checks that the process exists
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
