// The undo stack: reverse order, keeps going past a failing undo, reports failures, idempotent.
import { describe, expect, it } from 'vitest';
import { UndoError, UndoStack } from '../../lib/runtime/teardown.ts';

describe('UndoStack', () => {
  it('undoes in reverse order of creation', async () => {
    const order: string[] = [];
    const stack = new UndoStack('t');
    for (const name of ['netns', 'bridge', 'tap', 'qemu']) stack.defer(name, () => void order.push(name));
    await stack.unwind();
    expect(order).toEqual(['qemu', 'tap', 'bridge', 'netns']);
  });

  it('keeps going past a failing undo and reports it', async () => {
    const order: string[] = [];
    const stack = new UndoStack('t');
    stack.defer('a', () => void order.push('a'));
    stack.defer('b', () => {
      throw new Error('busy');
    });
    stack.defer('c', () => void order.push('c'));
    const error = await stack.unwind().catch((e: unknown) => e);
    expect(order).toEqual(['c', 'a']);
    expect(error).toBeInstanceOf(UndoError);
    expect((error as Error).message).toContain('b: busy');
  });

  it('is idempotent and lets a resource be undone early', async () => {
    let count = 0;
    const stack = new UndoStack('t');
    const early = stack.defer('x', () => void count++);
    await early();
    expect(stack.size).toBe(0);
    await Promise.all([stack.unwind(), stack.unwind()]);
    expect(count).toBe(1);
  });

  it('undoes at once what a step in flight registers after the unwind began, and waits for it', async () => {
    const order: string[] = [];
    const stack = new UndoStack('t');
    stack.defer('netns', () => void order.push('netns'));
    const unwound = stack.unwind();
    expect(stack.unwound).toBe(true);
    // A container that finished starting while Ctrl-C was being handled.
    stack.defer('container', async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('container');
    });
    expect(stack.size).toBe(0);
    await unwound;
    await stack.settled();
    expect(order).toEqual(['netns', 'container']);
  });

  it('gives up on an undo that hangs after its budget and undoes the rest', async () => {
    const order: string[] = [];
    const stack = new UndoStack('t', 50);
    stack.defer('work dir', () => void order.push('work dir'));
    stack.defer('ssh to a half-open host', () => new Promise<void>(() => {}));
    const error = await stack.unwind().catch((e: unknown) => e);
    expect(order).toEqual(['work dir']);
    expect((error as Error).message).toMatch(/ssh to a half-open host: did not finish within 50 ms/);
  });

  it('reports a late undo that fails', async () => {
    const stack = new UndoStack('t');
    await stack.unwind();
    stack.defer('late', () => {
      throw new Error('gone wrong');
    });
    await expect(stack.settled()).rejects.toThrow(/late: gone wrong/);
  });
});
