// The simulated bench host's container image (`wirelab sim-bench`): OpenSSH, libvirt and QEMU on the
// Debian base, built here from the recipe in images/bench-host/ and cached by content. Built on first
// use (the first `wirelab sim-bench up`, or the lab test), not by `wirelab prepare`: it adds about a
// minute and 430 MB that the nested lab never needs.
import { repoPath } from '../core/paths.ts';
import { ensureRecipeImage, recipeImageTag, type ImageRecipe } from './container-image.ts';

const RECIPE: ImageRecipe = {
  repository: 'wirelab/wlsb-bench-host',
  dir: repoPath('images', 'bench-host') + '/',
  lockFile: '/var/lib/wirelab/locks/bench-host-image.lock',
  buildHint:
    `Fix: on a machine with debootstrap and a reachable Debian mirror in apt's sources, run 'wirelab sim-bench up' again ` +
    `(the build takes one to two minutes the first time).`,
};

export function benchHostImageTag(): Promise<string> {
  return recipeImageTag(RECIPE);
}

let ensuring: Promise<string> | undefined;

/** The local bench-host image tag, built first if it is missing (`onBuild` says so before the build starts). */
export function ensureBenchHostImage(onBuild?: (tag: string) => void): Promise<string> {
  ensuring ??= ensureRecipeImage(RECIPE, onBuild).catch((e) => {
    ensuring = undefined;
    throw e;
  });
  return ensuring;
}
