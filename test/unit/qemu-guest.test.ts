// Unit tests of QemuGuest's option checks: bad options fail at once, name the option, and start nothing.
import { describe, expect, it } from 'vitest';
import { WirelabError } from '../../lib/core/errors.ts';
import { QemuGuest, type QemuGuestOptions } from '../../lib/lab/nested/qemu-guest.ts';
import { UndoStack } from '../../lib/runtime/teardown.ts';

function options(overrides: Partial<QemuGuestOptions>): QemuGuestOptions {
  return {
    name: 'unit',
    netns: 'wlg-unit00',
    workDir: '/tmp/wlg-unit-qemu',
    stack: new UndoStack('unit'),
    kernel: '/dev/null',
    memoryMiB: 256,
    cpus: 1,
    nics: [{ tap: 'wlgtap0', mac: '02:00:00:00:00:01' }],
    accel: 'tcg',
    ready: { pattern: 'ready', timeoutMs: 1000 },
    ...overrides,
  };
}

describe('QemuGuest.start option checks', () => {
  const cases: [string, Partial<QemuGuestOptions>, RegExp][] = [
    ['no kernel and no disk', { kernel: undefined }, /'kernel'.*kernel \(\+initrd\) or a disk/],
    ['a kernel that does not exist', { kernel: '/nonexistent/vmlinuz' }, /'kernel'.*does not exist/],
    ['an initrd without a kernel', { kernel: undefined, disk: '/dev/null', initrd: '/dev/null' }, /'initrd'.*needs a kernel/],
    ['too little memory', { memoryMiB: 16 }, /'memoryMiB' is 16/],
    ['zero cpus', { cpus: 0 }, /'cpus' is 0/],
    ['a bad accel', { accel: 'hvf' as QemuGuestOptions['accel'] }, /'accel' is "hvf"; use 'auto', 'kvm' or 'tcg'/],
    ['a bad MAC', { nics: [{ tap: 'wlgtap0', mac: '02:00:00:00:01' }] }, /'nics\[0\]\.mac'/],
    ['a too long tap name', { nics: [{ tap: 'wlg-tap-name-too-long', mac: '02:00:00:00:00:01' }] }, /'nics\[0\]\.tap'.*15 characters/],
    ['a bad ready pattern', { ready: { pattern: '(', timeoutMs: 1000 } }, /'ready\.pattern'.*regular expression/],
    ['a work dir too long for a unix socket', { workDir: '/tmp/' + 'x'.repeat(120) }, /'workDir'.*shorter directory/],
  ];

  for (const [what, overrides, message] of cases) {
    it(`refuses ${what}`, async () => {
      const opts = options(overrides);
      const error = await QemuGuest.start(opts).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WirelabError);
      expect((error as Error).message).toMatch(message);
      expect(opts.stack.size).toBe(0);
    });
  }
});
