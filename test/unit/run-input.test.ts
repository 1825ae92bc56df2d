// Bad input to `wirelab run` ends in one paragraph naming the flag or file and the fix, exit code 2,
// no stack trace, and before anything is created.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../lib/cli/main.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wlt-run-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function runCli(args: string[]): Promise<{ code: number; said: string }> {
  const lines: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const code = await main(args);
  return { code, said: lines.join('\n') };
}

describe('wirelab run: bad input', () => {
  it('--report-dir naming an existing file', async () => {
    const file = path.join(dir, 'report.txt');
    writeFileSync(file, 'not a directory');
    const { code, said } = await runCli(['run', '--report-dir', file]);
    expect(code).toBe(2);
    expect(said).toMatch(/^wirelab: --report-dir is '.*report\.txt', but that is a file, not a directory\. Fix: /);
    expect(said).not.toMatch(/\n\s+at /);
    expect(readdirSync(dir)).toEqual(['report.txt']);
  });

  it('--report-dir below a file', async () => {
    const file = path.join(dir, 'blocker');
    writeFileSync(file, '');
    const { code, said } = await runCli(['run', '--report-dir', path.join(file, 'sub')]);
    expect(code).toBe(2);
    expect(said).toContain(`but ${file} is a file`);
  });

  it('--json naming a directory', async () => {
    const { code, said } = await runCli(['run', '--report-dir', path.join(dir, 'r'), '--json', dir]);
    expect(code).toBe(2);
    expect(said).toMatch(/--json is '.*', which is a directory\. Fix: name a file/);
  });

  it('a profile that is an alias bomb', async () => {
    const file = path.join(dir, 'bomb.yaml');
    const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    writeFileSync(
      file,
      levels
        .map(
          (k, i) =>
            `${k}: &${k} [${Array(9)
              .fill(i === 0 ? 'lol' : `*${levels[i - 1]}`)
              .join(', ')}]`,
        )
        .join('\n') + '\n',
    );
    const { code, said } = await runCli(['run', '--profile', file]);
    expect(code).toBe(2);
    expect(said).toMatch(/bomb\.yaml: could not be read: .*alias.* Fix: /);
    expect(said).not.toMatch(/\n\s+at /);
  });
});
