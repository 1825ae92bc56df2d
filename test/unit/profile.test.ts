// Lab profile validation: the shipped profiles are valid, and each kind of mistake gets its own
// one-paragraph error naming the file, the field, the bad value and the fix — all problems at once.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProfileError } from '../../lib/core/errors.ts';
import { loadProfile, parseProfile } from '../../lib/profile/load.ts';
import { profileSchema } from '../../lib/profile/fields.ts';
import { renderReference } from '../../lib/profile/schema-engine.ts';
import { readFileSync } from 'node:fs';
import { fileTempDir } from '../temp-dir.ts';

const dir = fileTempDir('wirelab-profile-test-');

const GOOD = `
name: t
kind: nested
role: l2-bridge
guest:
  image:
    reference: l2-bridge
trafficHosts:
  left:
    ipv4: 198.18.0.1/24
  right:
    ipv4: 198.18.0.2/24
`;

function problemsOf(text: string): ProfileError['problems'] {
  try {
    parseProfile(text, path.join(dir, 'p.yaml'), 'p.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    return (e as ProfileError).problems;
  }
  throw new Error('profile was accepted');
}

describe('lab profiles', () => {
  it.each(['nested-l2-bridge', 'nested-l3-forwarder', 'nested-monitor', 'nested-l2-bridge-soak'])('shipped profile %s is valid', (name) => {
    const p = loadProfile(path.resolve('lab-profiles', `${name}.yaml`));
    expect(p.kind).toBe('nested');
    expect(p.guest.image.kind).toBe('reference');
  });

  it('fills defaults', () => {
    const p = parseProfile(GOOD, path.join(dir, 'p.yaml'));
    expect(p.guest.memoryMiB).toBe(256);
    expect(p.guest.ready.timeoutSeconds).toBe(60);
    expect(p.guest.ready.consolePattern).toBe('wirelab-guest: ready');
    expect(p.expect.mtu).toBe(1500);
  });

  it('takes a list of tolerated emission classes, and names an unknown one with the known ones', () => {
    expect(parseProfile(GOOD, path.join(dir, 'p.yaml')).expect.guestMayEmit).toEqual([]);
    const tolerant = parseProfile(`${GOOD}expect:\n  guestMayEmit: [ipv6-link-local, igmp]\n`, path.join(dir, 'p.yaml'));
    expect(tolerant.expect.guestMayEmit).toEqual(['ipv6-link-local', 'igmp']);
    const problems = problemsOf(`${GOOD}expect:\n  guestMayEmit: [ipv6-linklocal]\n`);
    expect(problems[0]!.path).toBe('expect.guestMayEmit[0]');
    expect(problems[0]!.fix).toMatch(/did you mean 'ipv6-link-local'/);
    expect(problemsOf(`${GOOD}expect:\n  guestMayEmit: arp\n`)[0]!.message).toMatch(/must be a list/);
  });

  it('refuses a console pattern that would backtrack catastrophically, and an empty one', () => {
    const bad = GOOD.replace(
      '    reference: l2-bridge',
      '    reference: l2-bridge\n  ready:\n    consolePattern: "^(\\\\S+\\\\s*)*ready$"',
    );
    expect(problemsOf(bad)[0]).toMatchObject({ path: 'guest.ready.consolePattern' });
    expect(problemsOf(bad)[0]!.message).toMatch(/repeated group that itself repeats/);
    const empty = GOOD.replace('    reference: l2-bridge', '    reference: l2-bridge\n  ready:\n    consolePattern: ""');
    expect(problemsOf(empty)[0]!.message).toMatch(/empty/);
  });

  it('fills the soak section, and names a soak with two rates or too short, with file:line', () => {
    const p = parseProfile(GOOD, path.join(dir, 'p.yaml'), 'p.yaml');
    expect(p.soak).toMatchObject({ minutes: 10, frameSize: 128, maxLostPerSecond: 0, latencyDriftMs: 5, memoryGrowthMiB: 32 });
    expect(p.soak.framesPerSecond).toBeUndefined();
    const problems = problemsOf(`${GOOD}soak:\n  minutes: 0.1\n  framesPerSecond: 500\n  ndrFraction: 0.5\n`);
    expect(problems.map((x) => `${x.file} ${x.path}`)).toEqual(['p.yaml:14 soak.minutes', 'p.yaml:16 soak.ndrFraction']);
    expect(problems[1]!.message).toMatch(/soak.framesPerSecond \(500\) names the rate too/);
  });

  it('reports a missing required field with its path and line', () => {
    const problems = problemsOf(GOOD.replace('role: l2-bridge\n', ''));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('role');
    expect(problems[0]!.message).toMatch(/missing/);
    expect(problems[0]!.fix).toMatch(/l2-bridge, l3-forwarder, monitor/);
  });

  it('reports a wrong type', () => {
    const problems = problemsOf(GOOD.replace('image:', 'memoryMiB: lots\n  image:'));
    expect(problems.map((p) => p.path)).toEqual(['guest.memoryMiB']);
    expect(problems[0]!.message).toContain('"lots"');
    expect(problems[0]!.message).toContain('must be a number');
    expect(problems[0]!.file).toMatch(/^p\.yaml:\d+$/);
  });

  it('reports an unknown key and suggests the known one', () => {
    const problems = problemsOf(GOOD.replace('reference:', 'refrence:'));
    const unknown = problems.find((p) => p.path === 'guest.image.refrence');
    expect(unknown?.fix).toMatch(/did you mean 'reference'/);
  });

  it('reports a missing image file', () => {
    const problems = problemsOf(GOOD.replace('reference: l2-bridge', 'disk: no/such/disk.qcow2'));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('guest.image.disk');
    expect(problems[0]!.message).toContain('no file is there');
  });

  it('accepts an existing image file relative to the profile', () => {
    writeFileSync(path.join(dir, 'disk.qcow2'), 'x');
    const p = parseProfile(GOOD.replace('reference: l2-bridge', 'disk: disk.qcow2'), path.join(dir, 'p.yaml'));
    expect(p.guest.image).toEqual({ kind: 'disk', disk: path.join(dir, 'disk.qcow2') });
  });

  it('reports a duplicate MAC, naming the vRouter case', () => {
    const text = GOOD.replace(
      'reference: l2-bridge',
      'reference: l2-bridge\n  nics:\n    left: { mac: "00:01:00:5e:00:00" }\n    right: { mac: "00:01:00:5e:00:00" }',
    );
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('guest.nics.right.mac');
    expect(problems[0]!.message).toMatch(/same MAC as 'guest.nics.left.mac'.*vRouter/);
  });

  it('reports an address outside 198.18.0.0/15', () => {
    const problems = problemsOf(GOOD.replace('198.18.0.2/24', '10.0.0.2/24'));
    expect(problems.map((p) => p.path)).toContain('trafficHosts.right.ipv4');
    expect(problems.find((p) => p.path === 'trafficHosts.right.ipv4')!.message).toContain('outside 198.18.0.0/15');
  });

  it('reports every problem at once', () => {
    const text = GOOD.replace('role: l2-bridge', 'role: bridge')
      .replace('198.18.0.1/24', '192.168.1.1/24')
      .replace('reference:', 'colour: red\n    reference:');
    const paths = problemsOf(text)
      .map((p) => p.path)
      .sort();
    expect(paths).toEqual(['guest.image.colour', 'role', 'trafficHosts.left.ipv4']);
  });

  it('refuses a YAML alias bomb with one paragraph instead of expanding it', () => {
    const bomb =
      'a: &a [x, x, x, x, x, x, x, x, x]\n' +
      ['b', 'c', 'd', 'e', 'f', 'g'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdef'[i]}`).join(', ')}]`).join('\n') +
      '\n' +
      GOOD;
    const [problem, ...more] = problemsOf(bomb);
    expect(more).toEqual([]);
    expect(problem!.message).toMatch(/alias/);
    expect(problem!.fix).toMatch(/write the values out/);
  });

  it('reports broken YAML with its line', () => {
    const problems = problemsOf('name: t\nkind: [nested\n');
    expect(problems[0]!.file).toMatch(/^p\.yaml:\d+:\d+$/);
    expect(problems[0]!.message).toMatch(/not valid YAML/);
  });

  it('checks the role topology: an l3-forwarder needs two subnets and gateways', () => {
    const problems = problemsOf(
      GOOD.replace('role: l2-bridge', 'role: l3-forwarder').replace('reference: l2-bridge', 'reference: l3-forwarder'),
    );
    expect(problems.map((p) => p.path).sort()).toEqual([
      'trafficHosts.left.gateway',
      'trafficHosts.right.gateway',
      'trafficHosts.right.ipv4',
    ]);
  });

  it('refuses a bench host whose data NIC is the management NIC', () => {
    const text = GOOD.replace('kind: nested', 'kind: host').replace(
      'trafficHosts:',
      'host:\n  connection: local\n  managementNic: eth0\n  dataNics: { left: eth0 }\ntrafficHosts:',
    );
    const problems = problemsOf(text);
    expect(problems.find((p) => p.path === 'host.dataNics.left')?.message).toMatch(/management NIC/);
  });

  it('refuses a prefix that reaches outside 198.18.0.0/15 (a /1 routes half the Internet over the lab, /0 replaces the default route)', () => {
    for (const bad of ['198.18.0.1/1', '198.18.0.1/0', '198.18.0.1/14']) {
      const [problem, ...more] = problemsOf(GOOD.replace('198.18.0.1/24', bad));
      expect(more).toEqual([]);
      expect(problem!.path).toBe('trafficHosts.left.ipv4');
      expect(problem!.message).toMatch(/prefix .* reaches outside 198\.18\.0\.0\/15/);
      expect(problem!.fix).toMatch(/prefix of 15 or longer/);
    }
    expect(problemsOf(GOOD.replace('198.18.0.1/24', '198.18.0.1/0'))[0]!.message).toMatch(/lose its default route/);
    // In a nested lab a /15 would also cover the container engine's management pool 198.19.0.0/16.
    const wide = problemsOf(GOOD.replace('198.18.0.1/24', '198.18.0.1/15')).find((p) => p.path === 'trafficHosts.left.ipv4');
    expect(wide?.message).toMatch(/overlaps 198\.19\.0\.0\/16/);
  });

  const BENCH = GOOD.replace('kind: nested', 'kind: host').replace(
    'trafficHosts:',
    'host:\n  connection: local\n  managementNic: eth0\ntrafficHosts:',
  );

  it("accepts only the bench host's own libvirtd as host.libvirtUri", () => {
    for (const bad of [
      'qemu+ext:///system?command=/bin/evil',
      'qemu+ssh://root@elsewhere/system?no_verify=1',
      'qemu:///system?x=1',
      'test:///default',
    ]) {
      const problems = problemsOf(BENCH.replace('managementNic: eth0', `managementNic: eth0\n  libvirtUri: "${bad}"`));
      const problem = problems.find((p) => p.path === 'host.libvirtUri');
      expect(problem?.message, bad).toMatch(/not one of qemu:\/\/\/system/);
      expect(problem?.fix).toMatch(/never through libvirt/);
    }
  });

  it('refuses the same bridge on both sides of a bench host', () => {
    const problems = problemsOf(BENCH.replace('managementNic: eth0', 'managementNic: eth0\n  bridges: { left: br0, right: br0 }'));
    expect(problems.find((p) => p.path === 'host.bridges.right')?.message).toMatch(/same bridge as the left side/);
  });

  it('formats each problem as one paragraph naming file, field, value and fix', () => {
    try {
      parseProfile(GOOD.replace('198.18.0.2/24', '10.0.0.2/24'), path.join(dir, 'p.yaml'), 'p.yaml');
    } catch (e) {
      const line = (e as Error).message;
      expect(line).toMatch(/^p\.yaml:\d+: field 'trafficHosts\.right\.ipv4': is "10\.0\.0\.2\/24", outside 198\.18\.0\.0\/15.* Fix: /);
      expect(line).not.toContain('\n');
      return;
    }
    throw new Error('accepted');
  });

  it('documents every field (docs/profile-reference.md is generated from the schema and up to date)', () => {
    const doc = readFileSync('docs/profile-reference.md', 'utf8');
    for (const line of renderReference(profileSchema)) expect(doc).toContain(line);
  });
});
