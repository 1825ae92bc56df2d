// One QEMU guest (a service image under test) running inside the lab's network namespace.
// Its serial console is captured in memory and in <workDir>/console.log; readiness is a console
// pattern; a halt is an ACPI power button press over QMP, with a hard kill by pid as the fallback.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, readFile, readlink, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { WirelabError } from '../../core/errors.ts';
import { run } from '../../runtime/exec.ts';
import { ConsoleEnded, ConsoleGuest, ConsoleTimeout } from '../guest-console.ts';
import { QmpClient } from './qmp.ts';
import type { UndoStack } from '../../runtime/teardown.ts';
import type { GuestHealth } from '../lab.ts';

export interface GuestNic {
  /** A tap that already exists in the netns, enslaved to its bridge by the caller. */
  tap: string;
  mac: string;
}

export interface QemuGuestOptions {
  name: string;
  netns: string;
  workDir: string;
  stack: UndoStack;
  /** Kernel + initramfs guest. */
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Or a disk image; never modified (the guest writes to a qcow2 overlay in workDir). */
  disk?: string;
  memoryMiB: number;
  cpus: number;
  /** NICs in PCI order: the guest sees the first one first. */
  nics: GuestNic[];
  /** 'auto' means TCG: KVM fails or hangs on the machines wirelab runs on (see DESIGN.md). */
  accel: 'auto' | 'kvm' | 'tcg';
  ready: { pattern: string; timeoutMs: number };
}

const QEMU = 'qemu-system-x86_64';
const DEFAULT_APPEND = 'console=ttyS0 quiet panic=-1';
const KILL_WAIT_MS = 5_000;
const BALLOON = 'balloon0';
const BALLOON_PATH = `/machine/peripheral/${BALLOON}`;
/** How often the guest's balloon driver refreshes its statistics once asked to. */
const HEALTH_POLL_S = 1;
const HALT_POLL_MS = 100;
/** Unix socket paths are limited to 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export class QemuGuest extends ConsoleGuest {
  readonly pid: number;

  private readonly exited: Promise<void>;
  private exitStatus: { code: number | null; signal: string | null } | null = null;
  private stderrText = '';
  private readonly log: WriteStream;
  private readonly logClosed: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly opts: QemuGuestOptions,
    private readonly qmpPath: string,
    private readonly startedAt: number,
  ) {
    super();
    this.pid = child.pid!;
    this.log = createWriteStream(join(opts.workDir, 'console.log'));
    this.logClosed = new Promise((done) => this.log.on('close', () => done()));
    child.stdout!.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      this.serial.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrText = (this.stderrText + chunk.toString('utf8')).slice(-8192);
    });
    // The stdin pipe stays open for the guest's lifetime (a closed stdin is EOF to the guest shell).
    child.stdin!.on('error', () => {});
    this.exited = new Promise((done) => {
      // 'close' rather than 'exit': QEMU's last stderr and console bytes have been read by then.
      child.on('close', (code, signal) => {
        this.exitStatus = { code, signal };
        child.stdin!.destroy();
        this.log.end();
        this.serial.end(`exited (${describeExit(this.exitStatus)})`);
        done();
      });
    });
  }

  /** Boot the guest; resolves once its console shows the ready pattern. Registers its undo on opts.stack. */
  static async start(opts: QemuGuestOptions): Promise<QemuGuest> {
    const ready = validate(opts);
    const workDir = resolve(opts.workDir);
    await mkdir(workDir, { recursive: true });
    const qmpPath = join(workDir, 'qmp.sock');
    const pidFile = join(workDir, 'qemu.pid');
    await rm(qmpPath, { force: true });
    await rm(pidFile, { force: true });
    await checkTaps(opts.netns, opts.nics, opts.name);

    const args = ['-name', opts.name, '-machine', 'pc', '-accel', opts.accel === 'kvm' ? 'kvm' : 'tcg'];
    args.push('-m', String(opts.memoryMiB), '-smp', String(opts.cpus));
    args.push('-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot');
    args.push('-chardev', 'stdio,id=console,signal=off', '-serial', 'chardev:console');
    args.push('-qmp', `unix:${qemuOpt(qmpPath)},server=on,wait=off`, '-pidfile', pidFile);
    if (opts.kernel) {
      args.push('-kernel', resolve(opts.kernel), '-append', opts.append ?? DEFAULT_APPEND);
      if (opts.initrd) args.push('-initrd', resolve(opts.initrd));
    }
    if (opts.disk) {
      const overlay = await createOverlay(opts.disk, workDir, opts.name, opts.stack);
      args.push('-drive', `id=disk0,file=${qemuOpt(overlay)},format=qcow2,if=virtio`);
    }
    // A memory balloon, as libvirt gives every domain by default: its statistics are the guest's memory as the guest sees it.
    args.push('-device', `virtio-balloon-pci,id=${BALLOON}`);
    opts.nics.forEach((nic, i) => {
      args.push('-netdev', `tap,id=nic${i},ifname=${nic.tap},script=no,downscript=no`);
      args.push('-device', `virtio-net-pci,netdev=nic${i},mac=${nic.mac}`);
    });

    // `ip netns exec` enters the namespace and execs QEMU, so the child's pid is QEMU's (checked below).
    const startedAt = Date.now();
    const child = spawn('ip', ['netns', 'exec', opts.netns, QEMU, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    if (child.pid === undefined) {
      const why = await new Promise<string>((done) => child.once('error', (e) => done(e.message)));
      throw new WirelabError(`Could not start QEMU for guest '${opts.name}': ${why}. Fix: apt-get install qemu-system-x86 iproute2.`);
    }
    const guest = new QemuGuest(child, { ...opts, workDir }, qmpPath, startedAt);
    opts.stack.defer(`QEMU guest ${opts.name} (pid ${guest.pid})`, () => guest.kill());

    try {
      await guest.waitForConsole(ready, opts.ready.timeoutMs);
    } catch (e) {
      await guest.kill();
      if (e instanceof ConsoleTimeout) throw guest.readyTimeoutError(ready);
      if (e instanceof ConsoleEnded) throw guest.earlyExitError();
      throw e;
    }
    guest.readyMs = Date.now() - startedAt;
    await guest.verifyPid(pidFile);
    return guest;
  }

  /** Wait until a console line (in the console so far, from mark `from`, or to come) matches; resolves with that line. */
  waitForConsole(pattern: RegExp, timeoutMs: number, from = 0): Promise<string> {
    return this.serial.waitFor(pattern, timeoutMs, this.opts.name, from);
  }

  /**
   * A cold reset (QMP system_reset), as a power cycle: the guest boots again from its kernel and
   * initramfs or disk. QEMU runs with -no-reboot (a guest that panics must stop, not loop), which
   * would turn the reset into an exit: the reset action is switched to "reset" for it, and back.
   */
  async resetGuest(): Promise<void> {
    await this.qmp(async (qmp) => {
      await qmp.execute('set-action', { reboot: 'reset' });
      await qmp.execute('system_reset');
    });
    // The reset is carried out by QEMU's main loop after the command returns: restore the action a moment later.
    setTimeout(() => void this.qmp((qmp) => qmp.execute('set-action', { reboot: 'shutdown' })).catch(() => undefined), 2000).unref();
  }

  /** The link of the NIC on this side (netdev nic0 = left, nic1 = right): down is carrier loss in the guest. */
  async setGuestLink(side: 'left' | 'right', up: boolean): Promise<void> {
    await this.qmp((qmp) => qmp.execute('set_link', { name: side === 'left' ? 'nic0' : 'nic1', up }));
  }

  /** One line on the serial console's input (QEMU's stdin). */
  async typeOnConsole(line: string): Promise<void> {
    if (this.exitStatus) throw new WirelabError(`Guest '${this.opts.name}' has exited: nothing to type on its console.`);
    await new Promise<void>((done, fail) => this.child.stdin!.write(`${line}\n`, (e) => (e ? fail(e) : done())));
  }

  /**
   * Memory as the guest reports it (virtio balloon statistics, polled every HEALTH_POLL_S once asked for)
   * and QEMU's resident memory. A guest without a balloon driver gives no memory figures.
   */
  async health(): Promise<GuestHealth> {
    const health: GuestHealth = {};
    const rss = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${this.pid}/status`, 'utf8').catch(() => ''));
    if (rss) health.rssMiB = Number(rss[1]) / 1024;
    try {
      const stats = await this.qmp(async (qmp) => {
        if (!this.balloonPolling) {
          await qmp.execute('qom-set', { path: BALLOON_PATH, property: 'guest-stats-polling-interval', value: HEALTH_POLL_S });
          this.balloonPolling = true;
        }
        return (await qmp.execute('qom-get', { path: BALLOON_PATH, property: 'guest-stats' })) as { stats?: Record<string, number> };
      });
      const mib = (key: string) => {
        const v = stats.stats?.[key];
        return v !== undefined && v >= 0 ? v / 1048576 : undefined;
      };
      const [total, available, free] = [mib('stat-total-memory'), mib('stat-available-memory'), mib('stat-free-memory')];
      if (total !== undefined) health.memTotalMiB = total;
      if (available !== undefined) health.memAvailableMiB = available;
      if (free !== undefined) health.memFreeMiB = free;
    } catch {
      // No QMP answer (the guest is going down): the RSS alone.
    }
    return health;
  }

  private balloonPolling = false;

  private async qmp<T>(use: (qmp: QmpClient) => Promise<T>): Promise<T> {
    const qmp = await QmpClient.connect(this.qmpPath, 5_000);
    try {
      return await use(qmp);
    } finally {
      qmp.close();
    }
  }

  /** Press the ACPI power button (QMP system_powerdown) and wait for QEMU to exit (`timeoutMs` + `extendMs()`); else kill it. */
  async halt(timeoutMs: number, extendMs: () => number = () => 0): Promise<{ graceful: boolean; ms: number }> {
    const t0 = Date.now();
    if (this.exitStatus) return { graceful: true, ms: 0 };
    try {
      const qmp = await QmpClient.connect(this.qmpPath, Math.min(timeoutMs, 5_000));
      try {
        await qmp.execute('system_powerdown');
      } finally {
        qmp.close();
      }
    } catch {
      // QMP unreachable (QEMU wedged or already exiting): fall through to the wait and the hard stop.
    }
    // Re-read the deadline while waiting: the host's stalls during the wait extend it.
    const left = () => t0 + timeoutMs + extendMs() - Date.now();
    while (!this.exitStatus && left() > 0) await Promise.race([this.exited, sleep(Math.min(HALT_POLL_MS, left()))]);
    if (this.exitStatus) {
      await this.logClosed;
      return { graceful: true, ms: Date.now() - t0 };
    }
    await this.kill();
    return { graceful: false, ms: Date.now() - t0 };
  }

  /** Stop QEMU hard, by its own pid, if it still runs. Idempotent; used by the undo stack. */
  async kill(): Promise<void> {
    if (!this.exitStatus) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // Already gone between the check and the kill.
      }
      const gone = await Promise.race([this.exited.then(() => true), sleep(KILL_WAIT_MS).then(() => false)]);
      if (!gone) throw new Error(`QEMU pid ${this.pid} did not exit ${KILL_WAIT_MS} ms after SIGKILL`);
    }
    await this.logClosed;
  }

  private readyTimeoutError(pattern: RegExp): WirelabError {
    return new WirelabError(
      `Guest '${this.opts.name}' was not ready within ${this.opts.ready.timeoutMs} ms: no console line matched ${pattern}. ` +
        `The guest has been stopped. Last console lines (full log: ${join(this.opts.workDir, 'console.log')}):\n${this.serial.quoteTail()}`,
    );
  }

  private earlyExitError(): WirelabError {
    const stderr = this.stderrText.trim().split('\n').slice(-5).join(' | ') || '(no stderr)';
    return new WirelabError(
      `QEMU for guest '${this.opts.name}' exited (${describeExit(this.exitStatus)}) ${Date.now() - this.startedAt} ms after start, ` +
        `before it was ready. ` +
        `QEMU said: ${stderr}. Last console lines:\n${this.serial.quoteTail()}`,
    );
  }

  /** The pid we will kill must be QEMU's own: compare with QEMU's pidfile and the process image. */
  private async verifyPid(pidFile: string): Promise<void> {
    const fromFile = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    const exe = await readlink(`/proc/${this.pid}/exe`).catch(() => '');
    if (fromFile !== this.pid || !basename(exe).startsWith('qemu-system')) {
      await this.kill();
      throw new Error(`QEMU pid check failed: child pid ${this.pid}, pidfile says ${fromFile}, exe ${exe || '?'}`);
    }
  }
}

function validate(opts: QemuGuestOptions): RegExp {
  const bad = (field: string, value: unknown, allowed: string): WirelabError =>
    new WirelabError(`QemuGuest option '${field}' is ${JSON.stringify(value)}; ${allowed}.`, { exitCode: 2 });
  if (!/^[\w.-]{1,64}$/.test(opts.name)) throw bad('name', opts.name, 'use 1-64 letters, digits, dot, dash or underscore');
  if (!opts.kernel && !opts.disk) throw bad('kernel', opts.kernel, 'give a kernel (+initrd) or a disk image');
  if (opts.initrd && !opts.kernel) throw bad('initrd', opts.initrd, 'an initrd needs a kernel');
  for (const [field, path] of [
    ['kernel', opts.kernel],
    ['initrd', opts.initrd],
    ['disk', opts.disk],
  ] as const) {
    if (path && !existsSync(path)) throw bad(field, path, 'the file does not exist');
  }
  if (!Number.isInteger(opts.memoryMiB) || opts.memoryMiB < 64) throw bad('memoryMiB', opts.memoryMiB, 'use an integer >= 64');
  if (!Number.isInteger(opts.cpus) || opts.cpus < 1) throw bad('cpus', opts.cpus, 'use an integer >= 1');
  if (!['auto', 'kvm', 'tcg'].includes(opts.accel)) throw bad('accel', opts.accel, "use 'auto', 'kvm' or 'tcg'");
  opts.nics.forEach((nic, i) => {
    if (!/^[\w.-]{1,15}$/.test(nic.tap)) throw bad(`nics[${i}].tap`, nic.tap, 'use an interface name of at most 15 characters');
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(nic.mac)) throw bad(`nics[${i}].mac`, nic.mac, 'use six colon-separated hex bytes');
  });
  if (!(opts.ready.timeoutMs > 0)) throw bad('ready.timeoutMs', opts.ready.timeoutMs, 'use a positive number of milliseconds');
  if (Buffer.byteLength(join(resolve(opts.workDir), 'qmp.sock')) > MAX_SOCKET_PATH) {
    throw bad('workDir', opts.workDir, `the QMP socket path in it must stay under ${MAX_SOCKET_PATH} bytes: use a shorter directory`);
  }
  try {
    return new RegExp(opts.ready.pattern);
  } catch (e) {
    throw bad('ready.pattern', opts.ready.pattern, `it must be a regular expression (${(e as Error).message})`);
  }
}

/** QEMU would silently create a missing tap (on no bridge): the guest would boot but see no traffic. */
async function checkTaps(netns: string, nics: GuestNic[], name: string): Promise<void> {
  for (const nic of nics) {
    const r = await run('ip', ['-n', netns, '-o', 'link', 'show', 'dev', nic.tap], { allowFailure: true });
    if (r.exitCode !== 0) {
      throw new WirelabError(
        `Guest '${name}': tap '${nic.tap}' does not exist in network namespace '${netns}' (${r.stderr.trim() || 'not found'}). ` +
          `Fix: create it and add it to its bridge before starting the guest.`,
      );
    }
  }
}

/** A copy-on-write overlay so the guest never writes to the caller's disk image. */
async function createOverlay(disk: string, workDir: string, name: string, stack: UndoStack): Promise<string> {
  const base = resolve(disk);
  const info = JSON.parse((await run('qemu-img', ['info', '--output=json', base])).stdout) as { format?: string };
  const overlay = join(workDir, `${name}-overlay.qcow2`);
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', info.format ?? 'raw', overlay]);
  stack.defer(`disk overlay ${overlay}`, () => rm(overlay, { force: true }));
  return overlay;
}

/** QEMU option values use ',' as a separator; a literal comma is written twice. */
function qemuOpt(value: string): string {
  return value.replace(/,/g, ',,');
}

function describeExit(status: { code: number | null; signal: string | null } | null): string {
  if (!status) return 'still running';
  return status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}
