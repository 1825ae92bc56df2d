// Where wirelab's own files are: the repository root, and the files found relative to it. One place,
// so a module can move between folders without its data paths breaking.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is lib/core/paths.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The profile `wirelab run` and the suites use when none is named. */
export const DEFAULT_PROFILE = 'lab-profiles/nested-l2-bridge.yaml';

/** A path inside the repository. */
export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}
