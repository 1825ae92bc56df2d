// quoteArgv must make a POSIX shell see exactly the arguments it was given; the pinned host key
// parser must agree with OpenSSH about the key and refuse anything else.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { WirelabError } from '../../lib/core/errors.ts';
import { parsePinnedHostKey, quoteArgv, sameKey } from '../../lib/runtime/ssh.ts';

// A throwaway ed25519 public key and the fingerprint `ssh-keygen -lf` printed for it.
const ED25519_PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINLJpCQ9OBraTdAs4nkBzfeZRJxSMJW+6nEN9t7K0VUm test';
const ED25519_FINGERPRINT = 'SHA256:qR7yD+UVSLyc/NRRAO3VRaGbLrXiM+cRhYm10+mLNGY';

/** What a real shell receives as "$@" when it evaluates `set -- <quoted>`. */
function argvSeenByShell(shell: string, quoted: string): string[] {
  const out = execFileSync(shell, ['-c', `set -- ${quoted}; printf '%s\\0' "$@"`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('quoteArgv', () => {
  const tricky = [
    ['echo', 'plain'],
    ['printf', "it's", "'", "''", 'a\'b"c'],
    ['x', 'two words', '  leading and trailing  ', '\ttab'],
    ['x', '$(touch /tmp/wirelab-should-not-exist)', '`id`', '$HOME', '${PATH}', '$1'],
    ['x', 'line1\nline2', '\n'],
    ['x', '', 'after-empty', ''],
    ['x', '*', '?', '[a]', '~', '~root', '!', '#comment', ';', '&&', '|', '>out', '<in', '\\', "a\\'b"],
    ['x', 'ünïcödé', '€'],
  ];

  for (const shell of ['sh', 'bash']) {
    it.each(tricky)(`${shell} sees the exact arguments: %j`, (...argv: string[]) => {
      expect(argvSeenByShell(shell, quoteArgv(argv))).toEqual(argv);
    });
  }

  it('quotes every argument, including the empty string', () => {
    expect(quoteArgv(['a', '', "b'c"])).toBe(`'a' '' 'b'\\''c'`);
  });

  it('refuses an empty argv and NUL bytes', () => {
    expect(() => quoteArgv([])).toThrow(WirelabError);
    expect(() => quoteArgv(['x', 'a\0b'])).toThrow(/NUL/);
  });
});

describe('parsePinnedHostKey', () => {
  it('extracts the algorithm and blob and computes the OpenSSH fingerprint', () => {
    const key = parsePinnedHostKey(ED25519_PUB);
    expect(key.algorithm).toBe('ssh-ed25519');
    expect(key.blob.length).toBe(51); // 4+11 name, 4+32 key
    expect(key.fingerprint).toBe(ED25519_FINGERPRINT);
  });

  it('accepts a line without comment and with surrounding whitespace', () => {
    const [alg, b64] = ED25519_PUB.split(' ');
    expect(parsePinnedHostKey(`  ${alg} ${b64}\n`).fingerprint).toBe(ED25519_FINGERPRINT);
  });

  it('refuses a private key, garbage, and a blob whose type disagrees with the line', () => {
    expect(() => parsePinnedHostKey('-----BEGIN OPENSSH PRIVATE KEY-----')).toThrow(WirelabError);
    expect(() => parsePinnedHostKey('ssh-ed25519')).toThrow(WirelabError);
    const blob = ED25519_PUB.split(' ')[1];
    expect(() => parsePinnedHostKey(`ecdsa-sha2-nistp256 ${blob}`)).toThrow(/does not match its algorithm/);
  });
});

describe('sameKey', () => {
  it('is true only for identical blobs', () => {
    const blob = parsePinnedHostKey(ED25519_PUB).blob;
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 1]! ^= 1;
    expect(sameKey(blob, Buffer.from(blob))).toBe(true);
    expect(sameKey(blob, flipped)).toBe(false);
    expect(sameKey(blob, blob.subarray(0, 50))).toBe(false);
  });
});
