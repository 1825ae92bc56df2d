// Choosing the lab driver for a profile.
import { WirelabError } from '../errors.ts';
import type { LabProfile } from '../profile/types.ts';
import type { Lab, ProgressFn } from './lab.ts';
import { startHostLab } from './host.ts';
import { startNestedLab } from './nested.ts';

export async function startLab(profile: LabProfile, opts: { onProgress?: ProgressFn } = {}): Promise<Lab> {
  if (profile.kind === 'nested') return startNestedLab(profile, opts);
  if (profile.kind === 'host') return startHostLab(profile, opts);
  throw new WirelabError(`${profile.file}: field 'kind' is "${String(profile.kind)}"; wirelab knows 'nested' and 'host'.`, { exitCode: 2 });
}
