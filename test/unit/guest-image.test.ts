// Unit tests of the reference image builder's pure parts: the variant table, module ordering,
// ldd parsing, the cpio writer and the content digest (with fake host parts in a temp dir).
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCpio } from '../../lib/images/cpio.ts';
import { WirelabError } from '../../lib/core/errors.ts';
import {
  GUEST_MODULES,
  type HostParts,
  REFERENCE_VARIANTS,
  findReferenceVariant,
  imageDigest,
  imageEntries,
  parseLdd,
  readyPatternFor,
  resolveModuleOrder,
} from '../../lib/images/reference-image.ts';

describe('REFERENCE_VARIANTS', () => {
  it('has the variants other suites rely on, with the right roles', () => {
    const roles = Object.fromEntries(REFERENCE_VARIANTS.map((v) => [v.name, v.role]));
    expect(roles).toMatchObject({
      'l2-bridge': 'l2-bridge',
      'l2-bridge-oneway': 'l2-bridge',
      'l2-bridge-macrewrite': 'l2-bridge',
      'l2-bridge-delay': 'l2-bridge',
      'l2-bridge-lossy': 'l2-bridge',
      'l2-bridge-slowboot': 'l2-bridge',
      'l2-bridge-liar': 'l2-bridge',
      'l2-bridge-nohalt': 'l2-bridge',
      'l3-forwarder': 'l3-forwarder',
      monitor: 'monitor',
      'monitor-chatty': 'monitor',
    });
  });

  it('has unique names, a description each, and a fault exactly on the faulty ones', () => {
    const names = REFERENCE_VARIANTS.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const v of REFERENCE_VARIANTS) {
      expect(v.description.length, v.name).toBeGreaterThan(10);
      // Good: the role's own image, or the policy image named for its service; its variants (-faulty, -narrow) carry faults.
      const good = v.name === v.role || (v.policy === 'firewall.sh' && /^[a-z0-9-]+-firewall$/.test(v.name));
      expect(v.fault === undefined, v.name).toBe(good);
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(REFERENCE_VARIANTS)).toBe(true);
    expect(Object.isFrozen(REFERENCE_VARIANTS[0])).toBe(true);
  });

  it('rejects an unknown name with the list of known ones', () => {
    expect(() => findReferenceVariant('l2-brige')).toThrow(WirelabError);
    expect(() => findReferenceVariant('l2-brige')).toThrow(/l2-bridge-oneway/);
  });
});

describe('readyPatternFor', () => {
  it('matches the guest ready line of its role only', () => {
    const re = new RegExp(readyPatternFor('l2-bridge'));
    expect(re.test('wirelab-guest: ready role=l2-bridge')).toBe(true);
    expect(re.test('wirelab-guest: ready role=l2-bridge-x')).toBe(false);
    expect(re.test('wirelab-guest: ready role=monitor')).toBe(false);
  });
});

describe('resolveModuleOrder', () => {
  const dep = [
    'kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko',
    'kernel/net/802/stp.ko: kernel/net/llc/llc.ko',
    'kernel/net/llc/llc.ko:',
    'kernel/net/sched/sch_netem.ko:',
  ].join('\n');

  it('puts every module after its dependencies, once', () => {
    expect(resolveModuleOrder(dep, ['bridge', 'sch_netem', 'stp'])).toEqual([
      'kernel/net/llc/llc.ko',
      'kernel/net/802/stp.ko',
      'kernel/net/bridge/bridge.ko',
      'kernel/net/sched/sch_netem.ko',
    ]);
  });

  it('names a missing module and how to get it', () => {
    expect(() => resolveModuleOrder(dep, ['virtio_net'])).toThrow(/virtio_net.*linux-image-cloud-amd64/);
  });
});

describe('parseLdd', () => {
  it('keeps resolved libraries and the loader, skips the vdso', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd)',
      '\tlibmnl.so.0 => /lib/x86_64-linux-gnu/libmnl.so.0 (0x00007f1)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f3)',
    ].join('\n');
    expect(parseLdd(out)).toEqual(['/lib/x86_64-linux-gnu/libmnl.so.0', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });
});

describe('writeCpio', () => {
  it('writes newc records, 4-byte aligned, parents first, and a trailer', () => {
    const archive = writeCpio([
      { type: 'file', path: '/etc/wirelab/variant.env', mode: 0o644, data: Buffer.from('ROLE=monitor\n') },
      { type: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    ]);
    const names: string[] = [];
    let off = 0;
    for (;;) {
      expect(archive.toString('latin1', off, off + 6)).toBe('070701');
      const field = (i: number): number => parseInt(archive.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
      const nameSize = field(11);
      const name = archive.toString('latin1', off + 110, off + 110 + nameSize - 1);
      names.push(name);
      off = align4(align4(off + 110 + nameSize) + field(6));
      if (name === 'TRAILER!!!') break;
    }
    expect(off).toBe(archive.length);
    expect(names).toEqual(['dev', 'dev/console', 'etc', 'etc/wirelab', 'etc/wirelab/variant.env', 'TRAILER!!!']);
  });

  it('is reproducible and refuses duplicates', () => {
    const entries = [{ type: 'symlink' as const, path: 'bin/sh', target: 'busybox' }];
    expect(writeCpio(entries).equals(writeCpio(entries))).toBe(true);
    expect(() => writeCpio([...entries, ...entries])).toThrow(/duplicate/);
  });
});

function align4(n: number): number {
  return (n + 3) & ~3;
}

describe('image digest', () => {
  let dir: string;
  let host: HostParts;
  const kernel = Buffer.from('fake kernel');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wlg-unit-'));
    const modulesDir = join(dir, 'modules');
    await mkdir(join(modulesDir, 'kernel'), { recursive: true });
    await writeFile(join(modulesDir, 'modules.dep'), GUEST_MODULES.map((m) => `kernel/${m}.ko:`).join('\n') + '\n');
    for (const m of GUEST_MODULES) await writeFile(join(modulesDir, 'kernel', `${m}.ko`), `module ${m}`);
    await writeFile(join(dir, 'busybox'), 'fake busybox');
    // tc and ip must be real dynamic executables: its libraries are found with ldd.
    host = {
      kernel: join(dir, 'vmlinuz'),
      modulesDir,
      busybox: join(dir, 'busybox'),
      tc: '/usr/bin/true',
      ip: '/usr/bin/true',
      nft: '/usr/bin/true',
      bridge: '/usr/bin/true',
    };
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const digestOf = async (name: string): Promise<string> =>
    imageDigest(kernel, writeCpio(await imageEntries(findReferenceVariant(name), host)));

  it('is stable for the same inputs', async () => {
    expect(await digestOf('l2-bridge')).toBe(await digestOf('l2-bridge'));
  });

  it('changes with the variant, a module and the kernel', async () => {
    const base = await digestOf('l2-bridge');
    expect(await digestOf('l2-bridge-oneway')).not.toBe(base);
    await writeFile(join(host.modulesDir, 'kernel', 'bridge.ko'), 'module bridge, patched');
    expect(await digestOf('l2-bridge')).not.toBe(base);
    const archive = writeCpio(await imageEntries(findReferenceVariant('l2-bridge'), host));
    expect(imageDigest(Buffer.from('other kernel'), archive)).not.toBe(imageDigest(kernel, archive));
  });
});
