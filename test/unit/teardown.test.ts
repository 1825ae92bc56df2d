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
});
