// What a report must say about where it was made: the profile, the service image's digest, the guest
// kernel, QEMU, the host. Written as Allure's environment.properties into the results directory.
import { createHash } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../runtime/exec.ts';
import { buildReferenceImage } from '../images/reference-image.ts';
import type { LabProfile } from '../profile/types.ts';
import { remoteSha256 } from '../lab/bench-host/bench-files.ts';
import { SshShell } from '../lab/bench-host/host-shell.ts';
import { keyPath } from '../lab/bench-host/profile-paths.ts';

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function describeEnvironment(profile: LabProfile): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    'profile.name': profile.name,
    'profile.file': profile.file,
    'lab.kind': profile.kind,
    'service.role': profile.role,
  };
  const image = profile.guest.image;
  if (image.kind === 'reference') {
    const built = await buildReferenceImage(image.reference);
    Object.assign(env, { 'image.reference': image.reference, 'image.digest': built.digest, 'guest.kernel': path.basename(built.kernel) });
  } else if (image.kind === 'kernel') {
    Object.assign(env, {
      'image.kernel': image.kernel,
      'image.kernel.sha256': await sha256(image.kernel),
      'image.initrd.sha256': await sha256(image.initrd),
    });
  } else if (!onBenchHostOverSsh(profile)) {
    Object.assign(env, { 'image.disk': image.disk, 'image.disk.sha256': await sha256(image.disk) });
  }
  if (onBenchHostOverSsh(profile)) {
    // The guest runs there: its disk's digest and QEMU are the bench host's, asked over SSH.
    Object.assign(env, await benchHostFacts(profile));
  } else {
    const qemu = await run('qemu-system-x86_64', ['--version'], { allowFailure: true }).catch(() => ({ stdout: '' }));
    env['qemu'] = qemu.stdout.split('\n')[0] ?? 'unknown';
  }
  env['host.kernel'] = `${os.type()} ${os.release()}`;
  env['host.cpus'] = String(os.cpus().length);
  env['node'] = process.version;
  return env;
}

/** The service image as a run names it: the reference name or file name, and its content digest. */
export function imageIdentity(profile: LabProfile, env: Record<string, string>): { name: string; digest: string } {
  const image = profile.guest.image;
  if (image.kind === 'reference') return { name: image.reference, digest: env['image.digest'] ?? 'unknown' };
  if (image.kind === 'kernel') return { name: path.basename(image.kernel), digest: `sha256:${env['image.kernel.sha256'] ?? 'unknown'}` };
  return { name: path.basename(image.disk), digest: `sha256:${env['image.disk.sha256'] ?? 'unknown'}` };
}

export function writeAllureEnvironment(resultsDir: string, env: Record<string, string>): void {
  // .properties: one key=value a line; values here never contain newlines.
  writeFileSync(
    path.join(resultsDir, 'environment.properties'),
    Object.entries(env)
      .map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`)
      .join('\n') + '\n',
  );
}

function onBenchHostOverSsh(profile: LabProfile): boolean {
  return profile.kind === 'host' && profile.host?.connection === 'ssh';
}

/** QEMU's version on the bench host and, for a disk image, its SHA-256 there (the upload's, when it is uploaded). */
async function benchHostFacts(profile: LabProfile): Promise<Record<string, string>> {
  const facts: Record<string, string> = { 'bench.host': profile.host!.ssh!.address };
  const image = profile.guest.image;
  if (image.kind === 'disk') {
    facts['image.disk'] = image.disk;
    if (image.upload) facts['image.disk.sha256'] = await sha256(image.upload);
  }
  const target = profile.host!.ssh!;
  const shell = await SshShell.connect({
    ...target,
    privateKeyFile: keyPath(target.privateKeyFile, path.dirname(profile.file)),
    field: 'host.ssh.privateKeyFile',
  });
  try {
    const qemu = await shell.run(['qemu-system-x86_64', '--version'], { allowFailure: true });
    facts['qemu'] = qemu.stdout.split('\n')[0] || 'unknown';
    if (image.kind === 'disk' && !facts['image.disk.sha256'])
      facts['image.disk.sha256'] = (await remoteSha256(shell, image.disk)) ?? 'unknown';
  } finally {
    await shell.close();
  }
  return facts;
}
