// Every command and subcommand answers --help with its usage, what it does and an example; help
// for a command wirelab does not know is a usage error that names it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, type CommandHelp } from '../../lib/cli/help.ts';
import { main } from '../../lib/cli/main.ts';

function captured(): { out: () => string; err: () => string } {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  return { out: () => log.mock.calls.map((c) => c.join(' ')).join('\n'), err: () => error.mock.calls.map((c) => c.join(' ')).join('\n') };
}

afterEach(() => vi.restoreAllMocks());

const everyCommand: CommandHelp[] = (COMMANDS as readonly CommandHelp[]).flatMap((c) => [c, ...(c.subcommands ?? [])]);

describe('wirelab --help', () => {
  it.each(everyCommand.map((c) => [c.name]))('wirelab %s --help: usage, summary and an example, exit 0', async (name) => {
    const io = captured();
    expect(await main([...name.split(' '), '--help'])).toBe(0);
    const text = io.out();
    expect(text).toMatch(new RegExp(`^usage: wirelab ${name}\\b`));
    expect(text).toMatch(/\nexamples?:\n {2}wirelab /);
    expect(io.err()).toBe('');
  });

  it('the overview lists every command, and `wirelab help <command>` is `<command> --help`', async () => {
    let io = captured();
    expect(await main(['--help'])).toBe(0);
    for (const c of COMMANDS) expect(io.out()).toMatch(new RegExp(`^ {2}${c.name} `, 'm'));
    vi.restoreAllMocks();
    io = captured();
    await main(['help', 'image', 'check']);
    const viaHelp = io.out();
    vi.restoreAllMocks();
    io = captured();
    await main(['image', 'check', '--help']);
    expect(io.out()).toBe(viaHelp);
    expect(viaHelp).toContain('wirelab image check <image.qcow2>');
  });

  it('run --help lists every option run accepts', async () => {
    const io = captured();
    await main(['run', '--help']);
    for (const flag of ['--profile', '--report-dir', '--grep', '--json', '--shard', '--workers']) expect(io.out()).toContain(flag);
  });

  it('an unknown command, or help for one, is a usage error naming it (exit 2)', async () => {
    let io = captured();
    expect(await main(['frobnicate'])).toBe(2);
    expect(io.err()).toMatch(/'frobnicate' is not a wirelab command\. See 'wirelab --help'\./);
    vi.restoreAllMocks();
    io = captured();
    expect(await main(['help', 'image', 'shrink'])).toBe(2);
    expect(io.err()).toContain("'image shrink' is not a wirelab command");
  });

  it('a bad option points at the command’s own help', async () => {
    const io = captured();
    expect(await main(['compare', '--colour'])).toBe(2);
    expect(io.err()).toMatch(/Fix: see 'wirelab compare --help'/);
  });
});
