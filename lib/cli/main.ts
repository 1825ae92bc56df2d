// The `wirelab` command. Exit codes: 0 success, 1 a run or test failed, 2 usage or profile error.
// A WirelabError (a user mistake or a missing prerequisite) prints as one paragraph without a stack.
import { DEFAULT_PROFILE } from '../core/paths.ts';
import { parseArgs } from 'node:util';
import { WirelabError, isWirelabError } from '../core/errors.ts';
import { loadProfile } from '../profile/load.ts';
import { reapStaleRuns } from '../lab/reaper.ts';

const USAGE = `usage: wirelab <command> [options]

commands:
  run [suite...] [--profile <file>] [--report-dir <dir>] [--grep <pattern>] [--json <file>] [--shard <i/n>] [--workers <n>]
                                  run the qualification suites (default: those for the profile's role)
                                  against the profile's lab; Allure report in <dir>/allure-report
                                  (default profile lab-profiles/nested-l2-bridge.yaml, dir reports/);
                                  --grep: only tests whose name matches; --json: results as JSON;
                                  --shard i/n: only this host's share of the suite files (docs/scale.md);
                                  --workers n: suite files at once, a lab each (nested lab default:
                                  one per CPU, at most 4; a bench host: 1)
  merge-reports <dir>... [--report-dir <dir>] [--json <file>]
                                  one report from the --report-dirs of sharded runs (docs/scale.md)
  validate <profile.yaml>...      check lab profiles; every problem is reported (exit 2 if any)
  up --profile <file> [--hold]    bring the lab up, print how to reach it, and take it down
                                  (with --hold: keep it up until Ctrl-C)
  image check <qcow2>             offline image hygiene: report a leftover 70-persistent-net.rules (read-only)
  image fix <src> <dst> [--in-place]
                                  write a copy without it (the original only with --in-place)
  prepare                         start the container engine, build the cached images (setup runs it)
  images                          list the reference service images (good ones and faulty variants)
  doctor                          what this machine lacks for wirelab, and how to get it
  clean [--all]                   remove what crashed runs left behind (--all: live runs too)
  help                            this text`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            profile: { type: 'string' },
            'report-dir': { type: 'string' },
            grep: { type: 'string' },
            json: { type: 'string' },
            shard: { type: 'string' },
            workers: { type: 'string' },
          },
          strict: true,
        });
        const { runSuites } = await import('./run-suites.ts');
        return await runSuites(positionals, {
          profile: values.profile ?? DEFAULT_PROFILE,
          reportDir: values['report-dir'] ?? 'reports',
          grep: values.grep,
          json: values.json,
          shard: values.shard,
          workers: values.workers,
        });
      }
      case 'merge-reports': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { 'report-dir': { type: 'string' }, json: { type: 'string' } },
          strict: true,
        });
        const { mergeReports } = await import('./merge-reports.ts');
        return await mergeReports(positionals, { reportDir: values['report-dir'] ?? 'reports', json: values.json });
      }
      case 'validate':
        return validateCommand(rest);
      case 'up': {
        const { values } = parseArgs({ args: rest, options: { profile: { type: 'string' }, hold: { type: 'boolean' } }, strict: true });
        if (!values.profile) throw usage("'wirelab up' needs --profile <file>, e.g. --profile lab-profiles/nested-l2-bridge.yaml.");
        // Lab code loads only for commands that need it: `validate` stays instant.
        const { labUp } = await import('./lab-up.ts');
        return await labUp(values.profile, { hold: values.hold ?? false });
      }
      case 'image':
        return await (await import('./image.ts')).imageCommand(rest);
      case 'prepare':
        return await (await import('./prepare.ts')).prepare();
      case 'images':
        return await (await import('./prepare.ts')).listImages();
      case 'doctor':
        return await (await import('./doctor.ts')).doctor();
      case 'clean': {
        const { values } = parseArgs({ args: rest, options: { all: { type: 'boolean' } }, strict: true });
        const report = await reapStaleRuns({ includeLive: values.all ?? false });
        console.log(
          report.runs.length === 0
            ? 'wirelab clean: nothing to remove.'
            : `wirelab clean: removed ${report.runs.length} run(s): ${report.runs.join(', ')} (${report.netns.length} namespace(s), ` +
                `${report.containers.length} container(s)).`,
        );
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw usage(`'${command}' is not a wirelab command.`);
    }
  } catch (error) {
    if (isWirelabError(error)) {
      console.error(`wirelab: ${error.message}`);
      return error.exitCode;
    }
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`wirelab: ${(error as Error).message}. Fix: see 'wirelab help'.`);
      return 2;
    }
    throw error;
  }
}

function usage(message: string): WirelabError {
  return new WirelabError(`${message} See 'wirelab help'.`, { exitCode: 2 });
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
