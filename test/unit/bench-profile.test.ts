// A bench-host profile over SSH names its guest disk as a path on the bench host (never read here) and
// may name a local file to upload there; the simulated bench lab's printed profile is a valid one.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProfileError } from '../../lib/core/errors.ts';
import { simBenchProfile, type SimBench } from '../../lib/lab/sim-bench/sim-bench.ts';
import { parseProfile } from '../../lib/profile/load.ts';
import { fileTempDir } from '../temp-dir.ts';

const dir = fileTempDir('wirelab-bench-profile-test-');
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJbv3BXyC7lXxvN1y5rJ+B9OUzI6348rncB2eJo+Jo0J';

const sim: SimBench = {
  id: 'wlsb-1a2b3c',
  dir,
  profileFile: path.join(dir, 'profile.yaml'),
  addresses: { bench: '198.19.7.2', left: '198.19.7.3', right: '198.19.7.4' },
  hostKeys: { bench: `${KEY} bench`, left: `${KEY} left`, right: `${KEY} right` },
  clientKeyFile: path.join(dir, 'client_ed25519'),
  createdAt: '2026-12-06T00:00:00Z',
};
const SIM_PROFILE = simBenchProfile(sim, 'l2-bridge');
const withDisk = (image: string) => SIM_PROFILE.replace('  image: { reference: l2-bridge }', `  image:\n${image}`);

function parse(text: string) {
  return parseProfile(text, path.join(dir, 'p.yaml'), 'p.yaml');
}

function problemsOf(text: string): ProfileError['problems'] {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    return (e as ProfileError).problems;
  }
  throw new Error('profile was accepted');
}

describe('bench-host profiles over SSH', () => {
  it("the simulated bench lab's profile is valid: kind host, connection ssh, every host key pinned, one key file", () => {
    const p = parse(SIM_PROFILE);
    expect(p.kind).toBe('host');
    expect(p.host).toMatchObject({ connection: 'ssh', managementNic: 'eth0', dataNics: { left: 'eth1', right: 'eth2' } });
    expect(p.host!.ssh).toMatchObject({ address: '198.19.7.2', hostKey: `${KEY} bench`, privateKeyFile: sim.clientKeyFile });
    expect(p.trafficHosts.right.ssh).toMatchObject({ address: '198.19.7.4', hostKey: `${KEY} right` });
  });

  it('takes guest.image.disk as a path on the bench host: not looked for here, not made relative to the profile', () => {
    const p = parse(withDisk('    disk: /var/lib/wirelab/images/service.qcow2'));
    expect(p.guest.image).toEqual({ kind: 'disk', disk: '/var/lib/wirelab/images/service.qcow2' });
  });

  it('refuses a bench-host disk path that is relative, climbs with .., or carries shell characters', () => {
    for (const bad of ['images/service.qcow2', '/var/lib/../../etc/shadow', '/tmp/a b.qcow2', '/tmp/x;reboot', '/tmp/$(id)']) {
      const problem = problemsOf(withDisk(`    disk: "${bad}"`)).find((x) => x.path === 'guest.image.disk');
      expect(problem?.message, bad).toMatch(/path on the bench host, and it must be absolute/);
      expect(problem?.fix).toMatch(/absolute path on the bench host/);
    }
  });

  it('resolves guest.image.upload here (relative to the profile) and needs the file to exist', () => {
    writeFileSync(path.join(dir, 'service.qcow2'), 'image');
    const p = parse(withDisk('    disk: /var/lib/wirelab/images/service.qcow2\n    upload: service.qcow2'));
    expect(p.guest.image).toEqual({
      kind: 'disk',
      disk: '/var/lib/wirelab/images/service.qcow2',
      upload: path.join(dir, 'service.qcow2'),
    });
    const missing = problemsOf(withDisk('    disk: /srv/x.qcow2\n    upload: nowhere.qcow2')).find((x) => x.path === 'guest.image.upload');
    expect(missing?.message).toMatch(/no file is there/);
  });

  it('refuses guest.image.upload anywhere but with a disk on a bench host over SSH', () => {
    writeFileSync(path.join(dir, 'service.qcow2'), 'image');
    const local = withDisk('    disk: service.qcow2\n    upload: service.qcow2').replace('connection: ssh', 'connection: local');
    const problem = problemsOf(local).find((x) => x.path === 'guest.image.upload');
    expect(problem?.message).toMatch(/only applies to a `disk` on a bench host over SSH/);
    const withReference = SIM_PROFILE.replace('{ reference: l2-bridge }', '{ reference: l2-bridge, upload: service.qcow2 }');
    expect(problemsOf(withReference).some((x) => x.path === 'guest.image.upload')).toBe(true);
  });
});
