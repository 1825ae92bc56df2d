// Choosing the lab driver for a profile. A boot is busy work: it waits while another lab on this
// machine runs a timed measurement, which its CPU load would distort (lib/quiet-machine.ts).
import { WirelabError } from '../errors.ts';
import { asBusyWork } from '../quiet-machine.ts';
import type { LabProfile } from '../profile/types.ts';
import type { Lab, ProgressFn } from './lab.ts';
import { startHostLab } from './host.ts';
import { startNestedLab } from './nested.ts';

export async function startLab(profile: LabProfile, opts: { onProgress?: ProgressFn } = {}): Promise<Lab> {
  if (profile.kind === 'nested') return asBusyWork(`booting a lab for ${profile.name}`, () => startNestedLab(profile, opts));
  if (profile.kind === 'host') return asBusyWork(`booting a bench-host lab for ${profile.name}`, () => startHostLab(profile, opts));
  throw new WirelabError(`${profile.file}: field 'kind' is "${String(profile.kind)}"; wirelab knows 'nested' and 'host'.`, { exitCode: 2 });
}
