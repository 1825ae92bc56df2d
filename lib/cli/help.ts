// Every wirelab command's help: what it does, its options, and an example — `wirelab --help`,
// `wirelab <command> --help`, `wirelab <command> <subcommand> --help` and `wirelab help <command>`.
// One table: the dispatcher in main.ts is typed by its names, so no command is without help.
import { rfc2544Flags } from '../rfc2544/config.ts';

export interface CommandHelp {
  /** `run`, or `image check` for a subcommand. */
  name: string;
  usage: string;
  summary: string;
  options?: [flag: string, what: string][];
  examples: string[];
  /** Subcommands, each with help of its own. */
  subcommands?: CommandHelp[];
}

export const COMMANDS = [
  {
    name: 'run',
    usage:
      'wirelab run [suite...] [--profile <file>] [--report-dir <dir>] [--grep <pattern>] [--json <file>] [--shard <i/n>] [--workers <n>] ' +
      '[--seed <n>]',
    summary:
      "Run the qualification suites (default: those for the profile's role) against the profile's lab. Shows one progress " +
      "line per lab and ends with a table of every test's verdict and headline numbers. Writes the Allure report " +
      '(<dir>/allure-report/index.html), JUnit XML (<dir>/junit.xml), the run record (<dir>/run.json) and the history of ' +
      'the profile and image (<dir>/history/). Exit 0: all passed; 1: a test failed; 2: a usage or profile error; 3: inconclusive ' +
      '(nothing failed, but the host stalled during a clock-bound check in every try). Suites run only when named: rfc2544, ' +
      'rfc2889, restart-outage, soak.',
    options: [
      ['--profile <file>', 'the lab profile (default lab-profiles/nested-l2-bridge.yaml)'],
      ['--report-dir <dir>', 'where the report, JUnit XML, run record and history go (default reports/)'],
      ['--grep <pattern>', 'only the tests whose name matches'],
      ['--json <file>', "vitest's JSON results too"],
      ['--shard <i/n>', "only this host's share of the suite files; merge with 'wirelab merge-reports' (docs/scale.md)"],
      ['--workers <n>', 'suite files at once, a lab each (nested lab: one per CPU, at most 4; a bench host: 1)'],
      ['--seed <n>', "the frame space's seed (0–4294967295): replays a run's cases; default: a new one, printed"],
      // The rfc2544 suite's settings: over the profile's rfc2544 section and the environment (docs/scale.md).
      ...rfc2544Flags().map((f): [string, string] => [`--${f.flag} ${f.what}`, `rfc2544: ${f.doc} (${f.env})`]),
    ],
    examples: [
      'wirelab run',
      'wirelab run l2-bridge --profile lab-profiles/nested-l2-bridge.yaml --grep "multicast"',
      'wirelab run --seed 1234567   # the same frame-space cases as the run that printed this seed',
      'wirelab run rfc2544 --sizes 64,1518 --trial-seconds 60 --confirm-trials 2',
      "wirelab run soak --profile nightly-soak.yaml    # the profile's soak section: minutes, rate, bounds",
    ],
  },
  {
    name: 'plan',
    usage: 'wirelab plan [--profile <file>] [--seed <n>] [--json <file>]',
    summary:
      "The profile's role contract as a test plan, without a lab: its classes of frames, what the role promises for each, and " +
      'the cases a run with this seed sends (their dimension values, class, direction and size; --json writes them).',
    options: [
      ['--profile <file>', 'the lab profile (default lab-profiles/nested-l2-bridge.yaml)'],
      ['--seed <n>', "the frame space's seed (default: a new one, printed)"],
      ['--json <file>', 'every case and the table as JSON'],
    ],
    examples: ['wirelab plan --profile lab-profiles/nested-l3-forwarder.yaml --seed 7 --json plan.json'],
  },
  {
    name: 'compare',
    usage: 'wirelab compare <runA> <runB> [--html <file>] [--json <file>]',
    summary:
      'What changed from run A to run B: verdicts that flipped, and loss, p50/p99 latency per direction and RFC 2544 ' +
      'throughput that moved beyond the noise. A run is the --report-dir of a wirelab run (its run.json) or a run.json. ' +
      'Exit 0: no regression; 1: B regressed against A; 2: usage error.',
    options: [
      ['--html <file>', 'also render the comparison as an HTML page'],
      ['--json <file>', 'the comparison as JSON'],
    ],
    examples: ['wirelab run --report-dir v1 --profile v1.yaml; wirelab run --report-dir v2 --profile v2.yaml; wirelab compare v1 v2'],
  },
  {
    name: 'merge-reports',
    usage: 'wirelab merge-reports <dir>... [--report-dir <dir>] [--json <file>]',
    summary: 'One report from the --report-dirs of sharded runs (wirelab run --shard i/n on each bench host; docs/scale.md).',
    options: [
      ['--report-dir <dir>', 'where the merged report goes (default reports/)'],
      ['--json <file>', "vitest's JSON results of all shards"],
    ],
    examples: ['wirelab merge-reports host-a/reports host-b/reports --report-dir merged'],
  },
  {
    name: 'validate',
    usage: 'wirelab validate <profile.yaml>...',
    summary: 'Check lab profiles; every problem is reported with file:line, field, value and fix (exit 2 if any).',
    examples: ['wirelab validate lab-profiles/*.yaml'],
  },
  {
    name: 'up',
    usage: 'wirelab up --profile <file> [--hold]',
    summary: 'Bring the lab up, print how to reach it, and take it down.',
    options: [
      ['--profile <file>', 'the lab profile'],
      ['--hold', 'keep the lab up until Ctrl-C'],
    ],
    examples: ['wirelab up --profile lab-profiles/nested-l2-bridge.yaml --hold'],
  },
  {
    name: 'image',
    usage: 'wirelab image <check|fix> ...',
    summary: 'Offline image hygiene with libguestfs: a leftover /etc/udev/rules.d/70-persistent-net.rules and the NICs it pins.',
    examples: ['wirelab image check guest.qcow2'],
    subcommands: [
      {
        name: 'image check',
        usage: 'wirelab image check <image.qcow2>',
        summary: 'Report a leftover 70-persistent-net.rules (read-only). Exit 0: clean; 1: the image carries the rules.',
        examples: ['wirelab image check guest.qcow2'],
      },
      {
        name: 'image fix',
        usage: 'wirelab image fix <src.qcow2> <dst.qcow2> | wirelab image fix <image.qcow2> --in-place',
        summary: 'Write a copy without the rules; the original changes only with --in-place.',
        options: [['--in-place', 'change the image itself']],
        examples: ['wirelab image fix guest.qcow2 clean.qcow2'],
      },
    ],
  },
  {
    name: 'prepare',
    usage: 'wirelab prepare',
    summary: 'Start the container engine and build the cached images (scripts/setup.sh runs it).',
    examples: ['wirelab prepare'],
  },
  {
    name: 'images',
    usage: 'wirelab images',
    summary: 'List the reference service images: the good ones and the faulty variants.',
    examples: ['wirelab images'],
  },
  {
    name: 'doctor',
    usage: 'wirelab doctor [--profile <file>]',
    summary:
      'What this machine lacks for wirelab, and the command that fixes it. With a bench-host profile: what its bench host and ' +
      'traffic hosts lack (libvirt, QEMU/KVM, tcpdump, bridges, free data NICs, MTU, SFTP), asked over SSH.',
    options: [['--profile <file>', 'check the bench host and traffic hosts of this bench-host profile']],
    examples: ['wirelab doctor', 'wirelab doctor --profile my-bench.yaml'],
  },
  {
    name: 'clean',
    usage: 'wirelab clean [--all] [--profile <file>]',
    summary:
      "Remove what crashed runs left behind (only wirelab's own resources, by run id). With a bench-host profile, also restore " +
      "what dead runs left on its bench host and traffic hosts, as the bench host's own ledger records it (over SSH).",
    options: [
      ['--all', 'live runs too'],
      ['--profile <file>', "a bench-host profile: restore its bench host from the bench host's ledger"],
    ],
    examples: ['wirelab clean', 'wirelab clean --profile my-bench.yaml'],
  },
  {
    name: 'sim-bench',
    usage: 'wirelab sim-bench up [--reference <image>] | down <id>... | down --all | list',
    summary:
      'A simulated bench lab on this machine: a bench host (OpenSSH, libvirt, QEMU) and two traffic hosts, each a container ' +
      "reached only over SSH, cabled by veths. 'up' prints a ready kind: host, connection: ssh profile with pinned host keys " +
      'and key files; try a bench-host profile with no hardware.',
    options: [
      ['--reference <image>', 'the reference image the printed profile boots (default l2-bridge)'],
      ['--all', "with 'down': every simulated lab on this machine"],
    ],
    examples: ['wirelab sim-bench up', 'wirelab sim-bench down wlsb-1a2b3c'],
  },
  {
    name: 'help',
    usage: 'wirelab help [command [subcommand]]',
    summary: "This overview, or a command's help (the same as wirelab <command> --help).",
    examples: ['wirelab help run', 'wirelab image check --help'],
  },
] as const satisfies readonly CommandHelp[];

export type CommandName = (typeof COMMANDS)[number]['name'];

/** The overview: every command, one line each. */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: wirelab <command> [options]     (wirelab <command> --help: its options and an example)',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${firstSentence(c.summary)}`),
    '',
    'example: wirelab run      (the default suites on the default nested lab; report in reports/)',
  ].join('\n');
}

/** A command's (or subcommand's) help, or undefined for a name wirelab does not know. */
export function helpFor(words: readonly string[]): string | undefined {
  const command = (COMMANDS as readonly CommandHelp[]).find((c) => c.name === words[0]);
  if (!command) return undefined;
  const sub = words[1] ? command.subcommands?.find((s) => s.name === `${command.name} ${words[1]}`) : undefined;
  if (words[1] && command.subcommands && !sub) return undefined;
  return format(sub ?? command);
}

function format(c: CommandHelp): string {
  const lines = [`usage: ${c.usage}`, '', c.summary];
  if (c.options?.length) {
    const width = Math.max(...c.options.map(([flag]) => flag.length)) + 2;
    lines.push('', 'options:', ...c.options.map(([flag, what]) => `  ${flag.padEnd(width)}${what}`));
  }
  if (c.subcommands?.length) {
    lines.push('', 'subcommands (each has --help):', ...c.subcommands.map((s) => `  ${s.name.padEnd(16)}${firstSentence(s.summary)}`));
  }
  lines.push('', c.examples.length > 1 ? 'examples:' : 'example:', ...c.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  return end < 0 ? text : text.slice(0, end + 1);
}
