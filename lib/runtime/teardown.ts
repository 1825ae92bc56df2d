// One undo stack per run: each resource is registered for undo the moment it exists, and undone in
// reverse order. Unwinding keeps going past errors (a failed undo must not leak the rest) and reports
// them all at the end; each undo has a time budget, so one that hangs (a half-open SSH connection)
// cannot hold up the rest. A resource registered after the unwind began (a step that was in flight
// when Ctrl-C came) is undone at once. Signals (SIGINT/SIGTERM) unwind the active stacks before the
// process exits; what a killed process could not undo, its run's watchdog does (lib/lab/watchdog.ts).

export type UndoFn = () => Promise<void> | void;

interface UndoEntry {
  label: string;
  undo: UndoFn;
}

/** How long one undo may take before the unwind gives up on it and goes on with the rest. */
export const UNDO_BUDGET_MS = 60_000;

export class UndoError extends Error {
  constructor(readonly failures: { label: string; error: unknown }[]) {
    super(
      `Teardown left ${failures.length} problem(s): ` +
        failures.map((f) => `${f.label}: ${String((f.error as Error)?.message ?? f.error)}`).join('; '),
    );
    this.name = 'UndoError';
  }
}

const activeStacks = new Set<UndoStack>();
let signalHandlersInstalled = false;
let signalled: NodeJS.Signals | undefined;

/**
 * The signal this process is unwinding for, if any. Steps may still be in flight then (their
 * resources appear after the unwind), so a run's watchdog is asked to sweep rather than released.
 */
export function unwindingForSignal(): NodeJS.Signals | undefined {
  return signalled;
}

export class UndoStack {
  private entries: UndoEntry[] = [];
  private unwinding: Promise<void> | null = null;
  /** Undos of resources registered after the unwind began, still running. */
  private readonly late = new Set<Promise<void>>();
  private readonly lateFailures: { label: string; error: unknown }[] = [];

  constructor(
    readonly name = 'run',
    private readonly budgetMs = UNDO_BUDGET_MS,
  ) {
    activeStacks.add(this);
    installSignalHandlers();
  }

  /**
   * Register the undo of a resource that now exists. Returns a handle that undoes it early. Once the
   * stack has begun to unwind, nothing more is kept: the resource is undone at once.
   */
  defer(label: string, undo: UndoFn): () => Promise<void> {
    const entry = { label, undo };
    if (this.unwinding) {
      const done = this.runUndo(entry).then(
        (failure) => void (failure && this.lateFailures.push(failure)),
        () => undefined,
      );
      this.late.add(done);
      void done.finally(() => this.late.delete(done));
      return () => done;
    }
    this.entries.push(entry);
    return async () => {
      const i = this.entries.indexOf(entry);
      if (i >= 0) {
        this.entries.splice(i, 1);
        await entry.undo();
      }
    };
  }

  get size(): number {
    return this.entries.length;
  }

  /** True once unwind() was called: steps still running should stop creating things. */
  get unwound(): boolean {
    return this.unwinding !== null;
  }

  /** Labels of what is still registered, newest first (for diagnostics). */
  pending(): string[] {
    return this.entries.map((e) => e.label).reverse();
  }

  /** Undo everything, newest first. Idempotent: a second call waits for the first. */
  unwind(): Promise<void> {
    if (!this.unwinding) this.unwinding = this.doUnwind();
    return this.unwinding;
  }

  /** Wait for the unwind and for every late undo that came in meanwhile; throws what either failed with. */
  async settled(): Promise<void> {
    let unwindError: unknown;
    await this.unwind().catch((e: unknown) => (unwindError = e));
    while (this.late.size > 0) await Promise.all([...this.late]);
    const failures = [...((unwindError as UndoError | undefined)?.failures ?? []), ...this.lateFailures.splice(0)];
    if (unwindError && !(unwindError instanceof UndoError)) throw unwindError;
    if (failures.length > 0) throw new UndoError(failures);
  }

  private async doUnwind(): Promise<void> {
    const failures: { label: string; error: unknown }[] = [];
    while (this.entries.length > 0) {
      const failure = await this.runUndo(this.entries.pop()!);
      if (failure) failures.push(failure);
    }
    activeStacks.delete(this);
    if (failures.length > 0) throw new UndoError(failures);
  }

  /** One undo within the budget; resolves to its failure, if any. */
  private async runUndo(entry: UndoEntry): Promise<{ label: string; error: unknown } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not finish within ${this.budgetMs} ms; left to the run's watchdog`)), this.budgetMs);
      timer.unref();
    });
    try {
      await Promise.race([Promise.resolve().then(entry.undo), late]);
      return undefined;
    } catch (error) {
      return { label: entry.label, error };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Unwind every live stack (and what registers late on them); used by the signal handlers and by test harnesses. */
export async function unwindAll(): Promise<void> {
  const results = await Promise.allSettled([...activeStacks].map((s) => s.settled()));
  for (const r of results) if (r.status === 'rejected') console.error(String(r.reason?.message ?? r.reason));
}

function installSignalHandlers(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      // A second signal while unwinding should not kill the cleanup: ignore it until done.
      process.on(signal, () => {});
      signalled ??= signal;
      try {
        console.error(`\nwirelab: ${signal} received, tearing down the lab...`);
      } catch {
        // no one reads our stderr any more (a vitest worker whose parent is gone)
      }
      void unwindAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}
