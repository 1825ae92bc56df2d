// The `wirelab` command: a handler per command (help.ts has their help). Exit codes: 0 success, 1 a run or test failed, 2 usage.
// A WirelabError (a user mistake or a missing prerequisite) prints as one paragraph without a stack.
import { DEFAULT_PROFILE } from '../core/paths.ts';
import { parseArgs } from 'node:util';
import { WirelabError, isWirelabError } from '../core/errors.ts';
import { loadProfile } from '../profile/load.ts';
import { cleanUp } from '../lab/reaper.ts';
import { helpFor, overview, type CommandName } from './help.ts';
import { rfc2544Flags } from '../rfc2544/config.ts';

type Handler = (args: string[]) => Promise<number> | number;

/** One handler per command of the help table (lib/cli/help.ts): a command without help does not type-check. */
const HANDLERS: Record<CommandName, Handler> = {
  run: async (args) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        profile: { type: 'string' },
        'report-dir': { type: 'string' },
        grep: { type: 'string' },
        json: { type: 'string' },
        shard: { type: 'string' },
        workers: { type: 'string' },
        seed: { type: 'string' },
        ...Object.fromEntries(rfc2544Flags().map((f) => [f.flag, { type: 'string' as const }])),
      },
      strict: true,
    });
    // The rfc2544 settings given as flags reach the suite as their environment overrides.
    const flagged = values as Record<string, string | undefined>;
    const env = Object.fromEntries(rfc2544Flags().flatMap((f) => (flagged[f.flag] === undefined ? [] : [[f.env, flagged[f.flag]!]])));
    const { runSuites } = await import('./run-suites.ts');
    return await runSuites(positionals, {
      profile: values.profile ?? DEFAULT_PROFILE,
      reportDir: values['report-dir'] ?? 'reports',
      grep: values.grep,
      json: values.json,
      shard: values.shard,
      workers: values.workers,
      seed: values.seed,
      env,
    });
  },
  plan: async (args) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { profile: { type: 'string' }, seed: { type: 'string' }, json: { type: 'string' } },
      strict: true,
    });
    if (positionals.length > 0) throw usage("'wirelab plan' takes no positional arguments, e.g. wirelab plan --profile my.yaml --seed 7.");
    const { planCommand } = await import('./plan.ts');
    return planCommand({ profile: values.profile ?? DEFAULT_PROFILE, seed: values.seed, json: values.json });
  },
  compare: async (args) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { html: { type: 'string' }, json: { type: 'string' } },
      strict: true,
    });
    if (positionals.length !== 2) throw usage("'wirelab compare' takes two runs, e.g. wirelab compare reports-v1 reports-v2.");
    const { compareCommand } = await import('./compare.ts');
    return await compareCommand(positionals[0]!, positionals[1]!, values);
  },
  'merge-reports': async (args) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { 'report-dir': { type: 'string' }, json: { type: 'string' } },
      strict: true,
    });
    const { mergeReports } = await import('./merge-reports.ts');
    return await mergeReports(positionals, { reportDir: values['report-dir'] ?? 'reports', json: values.json });
  },
  validate: (args) => validateCommand(args),
  up: async (args) => {
    const { values } = parseArgs({ args, options: { profile: { type: 'string' }, hold: { type: 'boolean' } }, strict: true });
    if (!values.profile) throw usage("'wirelab up' needs --profile <file>, e.g. --profile lab-profiles/nested-l2-bridge.yaml.");
    // Lab code loads only for commands that need it: `validate` stays instant.
    const { labUp } = await import('./lab-up.ts');
    return await labUp(values.profile, { hold: values.hold ?? false });
  },
  image: async (args) => (await import('./image.ts')).imageCommand(args),
  prepare: async () => (await import('./prepare.ts')).prepare(),
  images: async () => (await import('./prepare.ts')).listImages(),
  doctor: async (args) => {
    const { values } = parseArgs({ args, options: { profile: { type: 'string' } }, strict: true });
    return (await import('./doctor.ts')).doctor(values.profile ? loadProfile(values.profile) : undefined);
  },
  'sim-bench': async (args) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { reference: { type: 'string' }, all: { type: 'boolean' } },
      strict: true,
    });
    return (await import('./sim-bench.ts')).simBenchCommand(positionals, values);
  },
  clean: async (args) => {
    const { values } = parseArgs({ args, options: { all: { type: 'boolean' }, profile: { type: 'string' } }, strict: true });
    // A profile is read first: a bad one fails before anything is removed.
    const profile = values.profile ? loadProfile(values.profile) : undefined;
    const report = await cleanUp({ includeLive: values.all ?? false });
    const runs =
      report.runs.length === 0
        ? ''
        : `${report.runs.length} run(s): ${report.runs.join(', ')} (${report.netns.length} namespace(s), ` +
          `${report.containers.length} container(s), ${report.workDirs.length} work dir(s))`;
    const locks = report.locks.length === 0 ? '' : `${report.locks.length} stale lock file(s): ${report.locks.join(', ')}`;
    console.log(
      runs || locks ? `wirelab clean: removed ${[runs, locks].filter(Boolean).join('; ')}.` : 'wirelab clean: nothing to remove.',
    );
    for (const line of report.benchHosts) console.log(`wirelab clean: restored ${line}`);
    // Simulated bench labs made for a process that is gone (a killed test).
    const { removeOrphanedSimBenches } = await import('../lab/sim-bench/sim-bench.ts');
    for (const id of await removeOrphanedSimBenches())
      console.log(`wirelab clean: removed the simulated bench lab ${id} (its owner is gone)`);
    if (profile?.kind === 'host') {
      const { cleanBenchHost } = await import('./doctor.ts');
      return await cleanBenchHost(profile);
    }
    return 0;
  },
  help: (args) => {
    if (args.length === 0) {
      console.log(overview());
      return 0;
    }
    const text = helpFor(args);
    if (!text) throw usage(`'${args.join(' ')}' is not a wirelab command.`);
    console.log(text);
    return 0;
  },
};

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(HANDLERS, name);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      console.log(overview());
      return 2;
    }
    if (command === '--help' || command === '-h') return await HANDLERS.help([]);
    if (!isCommand(command)) throw usage(`'${command}' is not a wirelab command.`);
    if (rest.includes('--help') || rest.includes('-h')) {
      const sub = rest[0] && !rest[0].startsWith('-') ? [rest[0]] : [];
      console.log(helpFor([command, ...sub]) ?? helpFor([command]));
      return 0;
    }
    return await HANDLERS[command](rest);
  } catch (error) {
    if (isWirelabError(error)) {
      console.error(`wirelab: ${error.message}`);
      return error.exitCode;
    }
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      const help = command && isCommand(command) ? `wirelab ${command} --help` : 'wirelab --help';
      console.error(`wirelab: ${(error as Error).message}. Fix: see '${help}'.`);
      return 2;
    }
    throw error;
  }
}

function usage(message: string): WirelabError {
  return new WirelabError(`${message} See 'wirelab --help'.`, { exitCode: 2 });
}

function validateCommand(files: string[]): number {
  if (files.length === 0) throw usage("'wirelab validate' needs at least one profile file.");
  let status = 0;
  for (const file of files) {
    try {
      const profile = loadProfile(file);
      console.log(`${file}: valid (${profile.kind} lab, ${profile.role}).`);
    } catch (error) {
      if (!isWirelabError(error)) throw error;
      console.error(error.message);
      status = error.exitCode;
    }
  }
  return status;
}
