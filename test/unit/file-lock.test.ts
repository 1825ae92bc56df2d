// The lock file must serialize holders, take over a lock whose owner died, and time out clearly.
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WirelabError } from '../../lib/core/errors.ts';
import { claimLock, EMPTY_LOCK_GRACE_MS, isLockHeld, removeStaleLocks, withFileLock } from '../../lib/runtime/file-lock.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wlt-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('withFileLock', () => {
  it('runs holders one at a time and removes the lock afterwards', async () => {
    const lock = join(dir, 'x.lock');
    const events: string[] = [];
    const holder = (name: string) =>
      withFileLock(lock, { timeoutMs: 5_000, purpose: 'test', pollMs: 10 }, async () => {
        events.push(`${name} in`);
        await sleep(50);
        events.push(`${name} out`);
      });
    await Promise.all([holder('a'), holder('b')]);
    // Either may win the race to create the lock (the thread pool decides); the other waits for it.
    const first = events[0]!.split(' ')[0]!;
    const second = first === 'a' ? 'b' : 'a';
    expect(events).toEqual([`${first} in`, `${first} out`, `${second} in`, `${second} out`]);
    expect(existsSync(lock)).toBe(false);
  });

  it('releases the lock when the work throws', async () => {
    const lock = join(dir, 'x.lock');
    await expect(withFileLock(lock, { timeoutMs: 1_000, purpose: 'test' }, () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock whose owner process no longer exists', async () => {
    const lock = join(dir, 'x.lock');
    await writeFile(lock, '2147483646\n'); // above pid_max: no such process
    await expect(withFileLock(lock, { timeoutMs: 1_000, purpose: 'test' }, async () => 'done')).resolves.toBe('done');
  });

  it('times out with an error naming the purpose and the holder', async () => {
    const lock = join(dir, 'x.lock');
    await writeFile(lock, `${process.pid}\n`); // held by a live process (this one)
    const attempt = withFileLock(lock, { timeoutMs: 100, purpose: 'the image build', pollMs: 10 }, async () => 'never');
    await expect(attempt).rejects.toThrow(WirelabError);
    await expect(attempt).rejects.toThrow(new RegExp(`the image build.*pid ${process.pid}`));
  });

  it('counts an empty lock as held only while its writer may still be writing, then takes it over', async () => {
    const lock = join(dir, 'x.lock');
    writeFileSync(lock, ''); // e.g. ENOSPC between creating the file and writing the pid
    expect(isLockHeld(lock)).toBe(true);
    const old = (Date.now() - EMPTY_LOCK_GRACE_MS - 1_000) / 1000;
    utimesSync(lock, old, old);
    expect(isLockHeld(lock)).toBe(false);
    await expect(withFileLock(lock, { timeoutMs: 1_000, purpose: 'test' }, async () => 'done')).resolves.toBe('done');
  });
});

describe('removeStaleLocks', () => {
  it('removes locks of dead owners and old empty ones, and keeps held and missing ones', () => {
    const dead = join(dir, 'dead.lock');
    const empty = join(dir, 'empty.lock');
    const held = join(dir, 'held.lock');
    writeFileSync(dead, '2147483646\n');
    writeFileSync(empty, '');
    const old = (Date.now() - EMPTY_LOCK_GRACE_MS - 1_000) / 1000;
    utimesSync(empty, old, old);
    writeFileSync(held, `${process.pid}\n`);
    expect(removeStaleLocks([dead, empty, held, join(dir, 'missing.lock')])).toEqual([dead, empty]);
    expect(existsSync(held)).toBe(true);
  });
});

describe('claimLock (a report directory one run writes at a time)', () => {
  it('is taken at once, again by its own process, never from a live holder, and from a dead one', () => {
    const lock = join(dir, 'report', '.wirelab-run.lock');
    const mine = claimLock(lock);
    expect(mine.heldBy).toBeUndefined();
    expect(claimLock(lock).heldBy).toBeUndefined();
    mine.release();
    expect(existsSync(lock)).toBe(false);
    writeFileSync(lock, '1\n'); // init: alive, not us
    expect(claimLock(lock).heldBy).toBe(1);
    writeFileSync(lock, '999999999\n'); // no such process
    const taken = claimLock(lock);
    expect(taken.heldBy).toBeUndefined();
    taken.release();
  });
});
