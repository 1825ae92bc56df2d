// One undo stack per run: each resource is registered for undo the moment it exists, and undone in
// reverse order. Unwinding keeps going past errors (a failed undo must not leak the rest) and reports
// them all at the end. Signals (SIGINT/SIGTERM) unwind the active stacks before the process exits.

export type UndoFn = () => Promise<void> | void;

interface UndoEntry {
  label: string;
  undo: UndoFn;
}

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

export class UndoStack {
  private entries: UndoEntry[] = [];
  private unwinding: Promise<void> | null = null;

  constructor(readonly name = 'run') {
    activeStacks.add(this);
    installSignalHandlers();
  }

  /** Register the undo of a resource that now exists. Returns a handle that undoes it early. */
  defer(label: string, undo: UndoFn): () => Promise<void> {
    const entry = { label, undo };
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

  /** Labels of what is still registered, newest first (for diagnostics). */
  pending(): string[] {
    return this.entries.map((e) => e.label).reverse();
  }

  /** Undo everything, newest first. Idempotent: a second call waits for the first. */
  unwind(): Promise<void> {
    if (!this.unwinding) this.unwinding = this.doUnwind();
    return this.unwinding;
  }

  private async doUnwind(): Promise<void> {
    const failures: { label: string; error: unknown }[] = [];
    while (this.entries.length > 0) {
      const entry = this.entries.pop()!;
      try {
        await entry.undo();
      } catch (error) {
        failures.push({ label: entry.label, error });
      }
    }
    activeStacks.delete(this);
    if (failures.length > 0) throw new UndoError(failures);
  }
}

/** Unwind every live stack; used by the signal handlers and by test harnesses. */
export async function unwindAll(): Promise<void> {
  const results = await Promise.allSettled([...activeStacks].map((s) => s.unwind()));
  for (const r of results) if (r.status === 'rejected') console.error(String(r.reason?.message ?? r.reason));
}

function installSignalHandlers(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      // A second signal while unwinding should not kill the cleanup: ignore it until done.
      process.on(signal, () => {});
      console.error(`\nwirelab: ${signal} received, tearing down the lab...`);
      void unwindAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}
