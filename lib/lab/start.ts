// Choosing the lab driver for a profile. A boot is busy work: it waits while another lab on this
// machine runs a timed measurement, which its CPU load would distort (lib/runtime/quiet-machine.ts).
import { WirelabError } from '../core/errors.ts';
import { asBusyWork } from '../runtime/quiet-machine.ts';
import type { LabProfile } from '../profile/types.ts';
import type { Lab, ProgressFn } from './lab.ts';
import { startHostLab } from './bench-host/bench-host-lab.ts';
import { startNestedLab } from './nested/nested-lab.ts';

export async function startLab(profile: LabProfile, opts: { onProgress?: ProgressFn } = {}): Promise<Lab> {
  const driver = profile.kind === 'nested' ? startNestedLab : profile.kind === 'host' ? startHostLab : undefined;
  if (driver) return asBusyWork(`booting a ${profile.kind} lab for ${profile.name}`, () => driver(profile, opts));
  throw new WirelabError(`${profile.file}: field 'kind' is "${String(profile.kind)}"; wirelab knows 'nested' and 'host'.`, { exitCode: 2 });
}
