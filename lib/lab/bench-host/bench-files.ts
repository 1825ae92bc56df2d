// Getting the guest's files onto the bench host. A guest disk is a path on the bench host: wirelab
// finds it there, or — when the profile names a local file to upload (`guest.image.upload`) — copies
// it there over SFTP, with a progress line and a SHA-256 check on both ends, and never replaces a
// different file that is already at that path. Kernels and initramfs images (reference images are
// built on this machine) go to a cache on the bench host named by their content, so each is uploaded
// once. Nothing of the bench host is read from this machine's filesystem: the checks run there.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { WirelabError } from '../../core/errors.ts';
import type { RunId } from '../../core/run-id.ts';
import type { BenchLedger } from './bench-ledger.ts';
import type { HostShell } from './host-shell.ts';

/** On the bench host: boot files uploaded by wirelab, each named by its content's hash. */
export const BENCH_IMAGE_CACHE = '/var/lib/wirelab/images';

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The SHA-256 of a file on the bench host, or undefined when there is none at that path. */
export async function remoteSha256(shell: HostShell, file: string): Promise<string | undefined> {
  const r = await shell.run(['sha256sum', '--', file], { allowFailure: true, timeoutMs: 300_000 });
  if (r.exitCode !== 0) return undefined;
  return /^([0-9a-f]{64})\s/.exec(r.stdout)?.[1];
}

export interface PlaceOptions {
  shell: HostShell;
  runId: RunId;
  ledger: BenchLedger;
  /** The file on this machine. */
  local: string;
  /** Where it must be on the bench host. */
  remote: string;
  /** Its SHA-256, when the caller computed it already. */
  sha256?: string;
  /** What it is, for progress and errors (e.g. "the guest disk"). */
  what: string;
  /** The profile field that named `remote`, for the refusal. */
  field?: string;
  progress: (message: string) => void;
}

/**
 * Make `remote` hold exactly `local`: found there (same SHA-256), or uploaded to a partial file of the
 * run's own (in the ledger before it exists), checked there, and renamed into place.
 */
export async function placeFile(o: PlaceOptions): Promise<'found' | 'uploaded'> {
  const want = o.sha256 ?? (await sha256OfFile(o.local));
  const have = await remoteSha256(o.shell, o.remote);
  if (have === want) {
    o.progress(`${o.what}: found on ${o.shell.label} (${o.remote}, SHA-256 matches)`);
    return 'found';
  }
  if (have !== undefined) {
    throw new WirelabError(
      `${o.field ? `field '${o.field}': ` : ''}${o.remote} on ${o.shell.label} is not ${o.local}: its SHA-256 is ` +
        `${have.slice(0, 16)}…, the ` +
        `file to upload has ${want.slice(0, 16)}…. wirelab never replaces a file on the bench host (another run may be booting ` +
        `from it). Fix: name another path for the upload, or remove that file on the bench host if it is stale.`,
      { exitCode: 2 },
    );
  }
  const partial = `${o.remote}.${o.runId}.part`;
  await o.ledger.creating({ kind: 'file', path: partial });
  await o.shell.run(['mkdir', '-p', path.posix.dirname(o.remote)]);
  let shown = -1;
  const started = Date.now();
  await o.shell.upload(o.local, partial, (done, total) => {
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
    // One line per 10 %: the terminal redraws it in place, a log keeps a few lines.
    if (percent < 100 && Math.floor(percent / 10) === shown) return;
    shown = Math.floor(percent / 10);
    const mib = (n: number) => (n / 1048576).toFixed(1);
    const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
    o.progress(`${o.what}: uploading to ${o.shell.label} over SFTP: ${percent}% (${mib(done)} of ${mib(total)} MiB, ${mib(rate)} MiB/s)`);
  });
  const got = await remoteSha256(o.shell, partial);
  if (got !== want) {
    await o.shell.run(['rm', '-f', partial], { allowFailure: true });
    throw new WirelabError(
      `${o.what}: the upload to ${o.shell.label} arrived damaged (SHA-256 there ${got?.slice(0, 16) ?? 'unreadable'}…, here ` +
        `${want.slice(0, 16)}…). Nothing was kept. Fix: check the disk space on the bench host and run again.`,
    );
  }
  await o.shell.run(['mv', '-f', partial, o.remote]);
  o.progress(`${o.what}: uploaded to ${o.shell.label} (${o.remote}, SHA-256 checked on both ends)`);
  return 'uploaded';
}

/** A boot file (kernel, initramfs) in the bench host's content cache: its path there. */
export async function placeBootFile(o: Omit<PlaceOptions, 'remote' | 'sha256'>): Promise<string> {
  const sha256 = await sha256OfFile(o.local);
  const remote = `${BENCH_IMAGE_CACHE}/${sha256.slice(0, 16)}-${path.basename(o.local).replace(/[^A-Za-z0-9._-]/g, '_')}`;
  await placeFile({ ...o, remote, sha256 });
  return remote;
}
