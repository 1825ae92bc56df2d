// Paths a bench-host profile names on this machine (SSH key files): `~/` is the user's home, a
// relative path is relative to the profile's folder.
import { homedir } from 'node:os';
import path from 'node:path';

export function keyPath(file: string | undefined, profileDir: string): string | undefined {
  if (!file) return undefined;
  if (file === '~' || file.startsWith('~/')) return path.join(homedir(), file.slice(1));
  return path.resolve(profileDir, file);
}
