// A lock file that serializes one-at-a-time work across processes (starting dockerd, building an
// image). The lock is a file created exclusively that holds the owner's pid; a lock whose owner is
// gone (crashed run) is stale and is taken over, so a killed run never blocks the next one. So is a
// lock without a pid that has been there longer than any writer needs (its holder could not write
// it — ENOSPC — or died between creating and writing it).
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { WirelabError } from '../core/errors.ts';
import { processAlive } from './ledger.ts';

export interface LockOptions {
  /** Give up waiting for another holder after this long. */
  timeoutMs: number;
  /** What the lock protects, for the error message (e.g. 'the traffic-host image build'). */
  purpose: string;
  pollMs?: number;
}

/** A lock file still without a pid after this long is nobody's: its writer failed or died. */
export const EMPTY_LOCK_GRACE_MS = 5_000;

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
    let handle;
    try {
      handle = await open(path, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (handle) {
      try {
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        return;
      } catch (e) {
        // A lock we could not write our pid into would look held by nobody forever: remove it.
        await handle.close().catch(() => {});
        await unlink(path).catch(() => {});
        throw e;
      }
    }
    const owner = await lockOwner(path);
    if (owner === undefined ? olderThan(path, EMPTY_LOCK_GRACE_MS) : !processAlive(owner)) {
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
 * without a pid yet counts as held while its owner may still be between creating and writing it.
 */
export function isLockHeld(path: string): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  const owner = parseOwner(text);
  return owner === undefined ? !olderThan(path, EMPTY_LOCK_GRACE_MS) : processAlive(owner);
}

/**
 * Take the lock at `path` without waiting, for as long as this process wants it (`release()`, or its
 * exit): `heldBy` is set instead when another live process holds it. A lock this process holds, or
 * one whose owner is gone, is taken.
 */
export function claimLock(path: string): { heldBy?: number; release: () => void } {
  mkdirSync(dirname(path), { recursive: true });
  const remove = () => rmSync(path, { force: true });
  const release = () => {
    process.off('exit', remove);
    remove();
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      process.once('exit', remove);
      return { release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = parseOwner(readFileSync(path, 'utf8'));
    if (owner === process.pid) return { release };
    if (isLockHeld(path)) return { heldBy: owner ?? 0, release: () => {} };
    rmSync(path, { force: true }); // its owner is gone
  }
  return { heldBy: 0, release: () => {} };
}

/** Remove those of `paths` that are lock files nobody holds (for `wirelab clean`); returns them. */
export function removeStaleLocks(paths: readonly string[]): string[] {
  const removed: string[] = [];
  for (const path of paths) {
    try {
      statSync(path);
    } catch {
      continue;
    }
    if (isLockHeld(path)) continue;
    rmSync(path, { force: true });
    removed.push(path);
  }
  return removed;
}

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

function parseOwner(text: string): number | undefined {
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
