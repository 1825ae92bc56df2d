// Choosing the lab driver for a profile.
import { WirelabError } from '../errors.ts';
import type { LabProfile } from '../profile/types.ts';
import type { Lab, ProgressFn } from './lab.ts';
import { startNestedLab } from './nested.ts';

export async function startLab(profile: LabProfile, opts: { onProgress?: ProgressFn } = {}): Promise<Lab> {
  if (profile.kind === 'nested') return startNestedLab(profile, opts);
  throw new WirelabError(
    `${profile.file}: field 'kind' is "host", but this wirelab has no bench-host driver yet. Fix: use a nested profile (lab-profiles/nested-l2-bridge.yaml) until the host driver lands.`,
    { exitCode: 2 },
  );
}
