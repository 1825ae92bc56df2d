// The container engine the traffic hosts run on. PID 1 here is not systemd, so when no engine answers
// wirelab starts Debian's dockerd itself, configured to touch nothing outside 198.18.0.0/15: no
// iptables rules, no ip_forward change, no bridge on 172.17/16. dockerd is shared infrastructure
// (other runs and engineers use it at the same time), so wirelab never stops it; starting is
// idempotent and serialized by a lock file.
//
// From a setup script:
//   npx tsx -e "import('./lib/runtime/docker-engine.ts').then(m=>m.ensureDockerEngine())"
import { spawn } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { WirelabError } from '../core/errors.ts';
import { run, type RunOptions, type RunResult } from './exec.ts';
import { withFileLock } from './file-lock.ts';

export const DOCKER_SOCKET = '/var/run/docker.sock';
/** Where wirelab keeps dockerd's log, pidfile and start lock. */
export const DOCKERD_STATE_DIR = '/var/lib/wirelab/dockerd';
export const DOCKERD_LOG = `${DOCKERD_STATE_DIR}/dockerd.log`;
export const DOCKERD_PIDFILE = `${DOCKERD_STATE_DIR}/dockerd.pid`;
export const DOCKERD_LOCK = `${DOCKERD_STATE_DIR}/start.lock`;

/** The flags wirelab starts dockerd with (see the header comment for why). */
export const DOCKERD_ARGS: readonly string[] = [
  `--host=unix://${DOCKER_SOCKET}`,
  `--pidfile=${DOCKERD_PIDFILE}`,
  '--iptables=false',
  '--ip-forward=false',
  '--ip-masq=false',
  '--bip=198.19.255.1/24',
  '--default-address-pool=base=198.19.0.0/16,size=24',
];

const START_BUDGET_MS = 20_000;

export interface DockerEngine {
  socketPath: string;
  /** True when this call started dockerd (it is left running either way). */
  startedByUs: boolean;
}

let ensuring: Promise<DockerEngine> | undefined;

/** Make sure a Docker engine answers on the standard socket, starting dockerd if needed. */
export function ensureDockerEngine(): Promise<DockerEngine> {
  // One check per process is enough; concurrent callers (two traffic hosts) share it.
  ensuring ??= ensureOnce().catch((e) => {
    ensuring = undefined;
    throw e;
  });
  return ensuring;
}

async function ensureOnce(): Promise<DockerEngine> {
  if (await engineAnswers(DOCKER_SOCKET)) return { socketPath: DOCKER_SOCKET, startedByUs: false };
  await mkdir(DOCKERD_STATE_DIR, { recursive: true });
  return withFileLock(DOCKERD_LOCK, { timeoutMs: START_BUDGET_MS + 5_000, purpose: 'another process starting dockerd' }, async () => {
    // Someone may have started it while we waited for the lock.
    if (await engineAnswers(DOCKER_SOCKET)) return { socketPath: DOCKER_SOCKET, startedByUs: false };
    await startDockerd();
    return { socketPath: DOCKER_SOCKET, startedByUs: true };
  });
}

async function startDockerd(): Promise<void> {
  const log = await open(DOCKERD_LOG, 'a');
  let exited: string | undefined;
  try {
    const child = spawn('dockerd', [...DOCKERD_ARGS], { detached: true, stdio: ['ignore', log.fd, log.fd] });
    child.on('error', (e) => (exited = `could not be started (${e.message})`));
    child.on('exit', (code, signal) => (exited = `exited (${signal ?? `code ${code}`})`));
    child.unref(); // shared infrastructure: it outlives this process on purpose
  } finally {
    await log.close();
  }
  const deadline = Date.now() + START_BUDGET_MS;
  while (Date.now() < deadline && exited === undefined) {
    if (await engineAnswers(DOCKER_SOCKET)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = await logTail(DOCKERD_LOG, 8);
  throw new WirelabError(
    `dockerd ${exited ?? `did not answer on ${DOCKER_SOCKET} within ${START_BUDGET_MS} ms`}. ` +
      `Last lines of ${DOCKERD_LOG}: ${tail || '(empty)'}. ` +
      `Fix: install Debian's docker.io package and check that log; wirelab runs 'dockerd ${DOCKERD_ARGS.join(' ')}'.`,
  );
}

/** True when a Docker engine answers `GET /_ping` on the unix socket. */
export function engineAnswers(socketPath: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function logTail(path: string, lines: number): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-lines).join(' | ');
}

/** Environment that points the docker CLI and testcontainers at our engine. */
export function dockerEnv(socketPath = DOCKER_SOCKET): Record<string, string> {
  return { DOCKER_HOST: `unix://${socketPath}`, DOCKER_BUILDKIT: '0' };
}

/**
 * Run the docker CLI (argv only). The legacy builder is selected (DOCKER_BUILDKIT=0) because
 * Debian's dockerd has no buildx component.
 */
export function docker(args: readonly string[], opts: Omit<RunOptions, 'netns'> = {}): Promise<RunResult> {
  return run('docker', args, { ...opts, env: { ...dockerEnv(), ...opts.env } });
}

/** True when the image (by tag or id) exists locally. Never contacts a registry. */
export async function imageExists(image: string): Promise<boolean> {
  const r = await docker(['image', 'inspect', '--format', '{{.Id}}', image], { allowFailure: true });
  return r.exitCode === 0;
}

/** Remove every container carrying `label=value` (the reaper for a run's leftovers). Returns their ids. */
export async function removeContainersByLabel(label: string, value: string): Promise<string[]> {
  const ps = await docker(['ps', '-a', '-q', '--filter', `label=${label}=${value}`]);
  const ids = ps.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids], { allowFailure: true });
  return ids;
}
