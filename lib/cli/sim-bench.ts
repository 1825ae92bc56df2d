// `wirelab sim-bench up|down|list`: the simulated bench lab (lib/lab/sim-bench/sim-bench.ts) — three
// containers that stand for a bench host and its two traffic hosts, reached over SSH — so a bench-host
// profile can be tried with no hardware. `up` prints the ready profile.
import { readFileSync } from 'node:fs';
import { WirelabError } from '../core/errors.ts';
import { listSimBenches, simBenchDown, simBenchIds, simBenchUp } from '../lab/sim-bench/sim-bench.ts';

export async function simBenchCommand(args: string[], values: { reference?: string; all?: boolean }): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'up') {
    const t0 = performance.now();
    const sim = await simBenchUp({ reference: values.reference, onProgress: (m) => console.error(`wirelab sim-bench: ${m}`) });
    console.error(
      `wirelab sim-bench: ${sim.id} up in ${((performance.now() - t0) / 1000).toFixed(1)} s. Its profile (${sim.profileFile}):`,
    );
    console.log(readFileSync(sim.profileFile, 'utf8'));
    console.error(`Try it: wirelab run --profile ${sim.profileFile}    Remove it: wirelab sim-bench down ${sim.id}`);
    return 0;
  }
  if (sub === 'down') {
    const ids = values.all ? await simBenchIds() : rest;
    if (ids.length === 0 && !values.all) throw new WirelabError("'wirelab sim-bench down' needs a lab's id (or --all).", { exitCode: 2 });
    if (ids.length === 0) console.log('wirelab sim-bench: no simulated bench lab is here.');
    for (const id of ids) console.log(`wirelab sim-bench: ${id} ${(await simBenchDown(id)) ? 'removed' : 'was not here'}`);
    return 0;
  }
  if (sub === 'list') {
    const sims = listSimBenches();
    if (sims.length === 0) console.log('wirelab sim-bench: no simulated bench lab is here.');
    for (const s of sims)
      console.log(
        `${s.id}  bench host ${s.addresses.bench}, traffic hosts ${s.addresses.left} ${s.addresses.right}  profile ${s.profileFile}`,
      );
    return 0;
  }
  throw new WirelabError(`'wirelab sim-bench ${sub ?? ''}' is not a subcommand; use up, down or list.`, { exitCode: 2 });
}
