// wirelab's terminal (lib/cli/terminal-reporter.ts) fed the console lines a suite's worker sends: lab
// events become one line per lab — appended in a log, redrawn in place on a terminal — and any
// other line is printed as it is, never with vitest's `stderr | file > test` header.
import { describe, expect, it } from 'vitest';
import TerminalReporter from '../../lib/cli/terminal-reporter.ts';
import { encodeLabEvent } from '../../lib/report/run-events.ts';

function reporter(live: boolean, columns = 80) {
  let text = '';
  const out = { write: (s: string) => ((text += s), true), columns };
  return { r: new TerminalReporter({ out, live }), text: () => text };
}

const log = (content: string) => ({ content, type: 'stderr' as const, time: Date.now(), size: content.length, taskId: undefined });

describe('the terminal reporter', () => {
  it('in a log: one plain line per lab event, other lines as they are', () => {
    const { r, text } = reporter(false);
    r.onUserConsoleLog(log(`${encodeLabEvent({ lab: 'l2-bridge', stage: 'booting', detail: 'creating network namespace' })}\n`));
    r.onUserConsoleLog(log(`${encodeLabEvent({ lab: 'l2-bridge #2', stage: 'ready', detail: 'lab wl-1 up in 7.0 s' })}\nplain words\n`));
    expect(text().split('\n')).toEqual([
      '[l2-bridge] booting: creating network namespace (0 s)',
      '[l2-bridge #2] ready: lab wl-1 up in 7.0 s (0 s)',
      'plain words',
      '',
    ]);
    expect(text()).not.toMatch(/stderr \|/);
    expect(text()).not.toContain('\x1b');
  });

  it('on a terminal: the block of lab lines is erased and redrawn, a printed line goes above it, a lab that is down leaves it', () => {
    const { r, text } = reporter(true);
    r.onUserConsoleLog(log(encodeLabEvent({ lab: 'a', stage: 'booting', detail: 'x' })));
    r.onUserConsoleLog(log(encodeLabEvent({ lab: 'b', stage: 'booting', detail: 'y' })));
    r.onUserConsoleLog(log(encodeLabEvent({ lab: 'a', stage: 'traffic', detail: 'functional window' })));
    expect(text()).toContain('\x1b[2F\x1b[J[a] traffic: functional window (0 s)\n[b] booting: y (0 s)\n');
    r.onUserConsoleLog(log('a table row'));
    const tail = (expected: string) => expect(text().slice(-expected.length)).toBe(expected);
    tail('\x1b[2F\x1b[Ja table row\n[a] traffic: functional window (0 s)\n[b] booting: y (0 s)\n');
    r.onUserConsoleLog(log(encodeLabEvent({ lab: 'a', stage: 'down', detail: 'lab removed' })));
    // Both lines erased, the one lab still up drawn again.
    tail('\x1b[2F\x1b[J[b] booting: y (0 s)\n');
  });

  it('cuts a lab line to the terminal width, and to 119 columns where a pseudo-terminal reports none', () => {
    const detail = 'x'.repeat(200);
    for (const [columns, width] of [
      [80, 79],
      [0, 119],
    ] as const) {
      const { r, text } = reporter(true, columns);
      r.onUserConsoleLog(log(encodeLabEvent({ lab: 'a', stage: 'traffic', detail })));
      const line = text().split('\n')[0]!;
      expect(line).toHaveLength(width);
      expect(line.endsWith('…')).toBe(true);
    }
  });
});
