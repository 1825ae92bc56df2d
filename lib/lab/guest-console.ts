// A guest's serial console as text, whichever driver feeds it: QEMU's stdout (nested lab) or the
// console file libvirt writes (bench host), read in chunks. Waiting for a line is event-driven: each
// new chunk re-checks only the lines not yet scanned, and a guest that stopped ends the wait.
//
// Patterns come from profiles; a console line is tested only up to MAX_TESTED_LINE characters, so
// even a pattern that backtracks cannot hold the process for long (profile validation refuses the
// patterns that backtrack catastrophically: lib/profile/fields.ts).
import { StringDecoder } from 'node:string_decoder';
import { WirelabError } from '../core/errors.ts';

/** Console lines longer than this are tested on their first MAX_TESTED_LINE characters. */
export const MAX_TESTED_LINE = 4096;
/** How many lines a failure quotes. */
const QUOTED_LINES = 15;

export class GuestConsole {
  private text = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly listeners = new Set<() => void>();
  private endedBecause: string | undefined;

  /** Append raw console bytes (a UTF-8 character may be split across chunks). */
  push(chunk: Buffer): void {
    this.append(this.decoder.write(chunk));
  }

  /** Append console text that is already decoded. */
  append(text: string): void {
    if (text.length === 0) return;
    this.text += text.replace(/\r/g, '');
    this.notify();
  }

  /** The guest will print nothing more (it stopped): waits end now, with this reason. */
  end(reason: string): void {
    this.endedBecause ??= reason;
    this.notify();
  }

  /** Why the guest will print nothing more, once it stopped. */
  get ended(): string | undefined {
    return this.endedBecause;
  }

  /** Characters of console text so far: a later wait can start from here. */
  get length(): number {
    return this.text.length;
  }

  /** The whole console so far. */
  all(): string {
    return this.text;
  }

  tail(lines: number): string[] {
    const all = this.text.replace(/\n$/, '').split('\n');
    return lines <= 0 ? [] : all.slice(-lines);
  }

  /** The last lines, indented, for an error message. */
  quoteTail(): string {
    const tail = this.tail(QUOTED_LINES);
    return tail.length === 0 || (tail.length === 1 && tail[0] === '') ? '  (the console is empty)' : tail.map((l) => `  | ${l}`).join('\n');
  }

  /**
   * Resolve with the first console line (so far or to come, from offset `from`) that matches; reject when the console
   * ends (ConsoleEnded) or the time is up (ConsoleTimeout). `guest` names it in the messages.
   */
  waitFor(pattern: RegExp, timeoutMs: number, guest: string, from = 0): Promise<string> {
    // A 'g' or 'y' flag would make test() stateful across lines.
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    let scanned = from; // complete lines before this offset did not match (or came before `from`)
    return new Promise<string>((resolve, reject) => {
      const check = (): void => {
        for (let start = scanned; ;) {
          const nl = this.text.indexOf('\n', start);
          const line = nl < 0 ? this.text.slice(start) : this.text.slice(start, nl);
          if (re.test(line.length > MAX_TESTED_LINE ? line.slice(0, MAX_TESTED_LINE) : line)) return finish(() => resolve(line));
          if (nl < 0) break;
          start = scanned = nl + 1;
        }
        if (this.endedBecause !== undefined) {
          const reason = this.endedBecause;
          finish(() => reject(new ConsoleEnded(`Guest '${guest}' ${reason} before its console matched ${pattern}.`)));
        }
      };
      const timer = setTimeout(() => {
        const message = `Guest '${guest}': no console line matched ${pattern} within ${timeoutMs} ms. Last console lines:\n`;
        finish(() => reject(new ConsoleTimeout(message + this.quoteTail())));
        return;
      }, timeoutMs);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** The guest stopped printing (it exited or its domain stopped) before the line came. */
export class ConsoleEnded extends WirelabError {}
/** The line did not come in time. */
export class ConsoleTimeout extends WirelabError {}

/** What both drivers' guests share: a console, and when it said the guest was ready. */
export abstract class ConsoleGuest {
  protected readonly serial = new GuestConsole();
  protected readyMs = 0;

  /** Milliseconds from the guest's start to its ready line. */
  get readyAfterMs(): number {
    return this.readyMs;
  }

  /** The whole serial console so far (carriage returns removed). */
  console(): string {
    return this.serial.all();
  }

  consoleTail(lines: number): string[] {
    return this.serial.tail(lines);
  }

  /** Why the guest is no longer running (its process exited, its domain stopped), or undefined while it runs. */
  stopped(): string | undefined {
    return this.serial.ended;
  }

  /** Where the console is now (characters so far): a wait from here sees only what comes next. */
  consoleMark(): number {
    return this.serial.length;
  }
}
