// A lock file that serializes one-at-a-time work across processes (starting dockerd, building an
// image). The lock is a file created exclusively that holds the owner's pid; a lock whose owner is
// gone (crashed run) is stale and is taken over, so a killed run never blocks the next one.
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import { WirelabError } from '../core/errors.ts';
import { processAlive } from './ledger.ts';

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
    if (owner !== undefined && !processAlive(owner)) {
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
  return parseOwner(await readFile(path, 'utf8').catch(() => ''));
}

/**
 * Whether the lock at `path` is held right now, without waiting: it exists and its owner lives. A lock
 * without a pid yet (its owner is between creating and writing it) counts as held.
 */
export function isLockHeld(path: string): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  const owner = parseOwner(text);
  return owner === undefined || processAlive(owner);
}

function parseOwner(text: string): number | undefined {
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
