// A temporary directory for one test file: made under the OS's temp dir with the given prefix, and
// removed when the file's tests end (pass or fail), so no test leaves /tmp/wirelab-* behind.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

export function fileTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
