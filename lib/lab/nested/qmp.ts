// A tiny QMP (QEMU Machine Protocol) client: connect to QEMU's unix socket, negotiate, run commands.
// Only what wirelab needs — one command at a time, asynchronous events ignored.
import { createConnection, type Socket } from 'node:net';

export class QmpClient {
  private buffer = '';
  private waiters: { resolve: (msg: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
  private closedError: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    const onEnd = (e?: Error): void => {
      this.closedError = e ?? new Error('QMP connection closed');
      for (const w of this.waiters.splice(0)) w.reject(this.closedError);
    };
    socket.on('error', onEnd);
    socket.on('close', () => onEnd());
  }

  /** Connect and leave capabilities negotiation mode, within timeoutMs. */
  static async connect(socketPath: string, timeoutMs: number): Promise<QmpClient> {
    const socket = createConnection(socketPath);
    const timer = setTimeout(() => socket.destroy(new Error(`no QMP greeting within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const client = new QmpClient(socket);
      const greeting = await client.nextMessage();
      if (!('QMP' in greeting)) throw new Error(`unexpected QMP greeting: ${JSON.stringify(greeting)}`);
      await client.execute('qmp_capabilities');
      return client;
    } catch (e) {
      socket.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Run a command; resolves with its `return` value, rejects with QMP's error description. */
  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    this.socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    for (;;) {
      const msg = await this.nextMessage();
      if ('event' in msg) continue;
      if ('error' in msg) {
        const err = msg.error as { class?: string; desc?: string };
        throw new Error(`QMP ${command} failed: ${err.desc ?? err.class ?? 'unknown error'}`);
      }
      return msg.return;
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private queue: Record<string, unknown>[] = [];

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(msg);
      else this.queue.push(msg);
    }
  }

  private nextMessage(): Promise<Record<string, unknown>> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
}
