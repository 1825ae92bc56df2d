// A service image under libvirt on the bench host, as the OpenContrail guide runs it: a domain with two
// virtio NICs of type 'bridge' on br0/br1, the serial console in a file, readiness read from that
// file, a graceful halt by `virsh shutdown` (ACPI) and `virsh destroy` only when the image will not
// halt. The image is never modified: a disk runs on a qcow2 overlay in the run's directory, and QEMU
// runs without relabeling (libvirt would otherwise chown the image and its backing chain).
import { WirelabError } from '../../core/errors.ts';
import { ConsoleEnded, ConsoleGuest, ConsoleTimeout } from '../guest-console.ts';
import type { HostShell } from './host-shell.ts';
import type { UndoStack } from '../../runtime/teardown.ts';

export interface LibvirtGuestOptions {
  shell: HostShell;
  uri: string;
  /** Domain name (letters, digits, . _ -). */
  name: string;
  /** A directory on the bench host for the console log and the disk overlay. */
  hostDir: string;
  /** Paths on the bench host. */
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Disks (paths on the bench host); each runs on an overlay, the first is vda. */
  disks: string[];
  memoryMiB: number;
  cpus: number;
  /** 'auto' and 'tcg' give a type='qemu' domain (TCG): KVM does not boot guests on every host. */
  accel: 'auto' | 'kvm' | 'tcg';
  nics: { bridge: string; mac: string }[];
  ready: { pattern: string; timeoutMs: number };
  stack: UndoStack;
}

export interface GuestInterface {
  /** The host-side port libvirt created (vnetN). */
  ifname: string;
  bridge: string;
  mac: string;
}

const POLL_MS = 250;
const DESTROY_WAIT_MS = 10_000;

export class LibvirtGuest extends ConsoleGuest {
  private readBytes = 0;
  private refreshing: Promise<void> | null = null;
  private ticker: NodeJS.Timeout | undefined;
  private halted: { graceful: boolean; ms: number } | null = null;
  readonly consoleFile: string;

  private constructor(private readonly opts: LibvirtGuestOptions) {
    super();
    this.consoleFile = `${opts.hostDir}/console.log`;
  }

  /** Define, start and wait for the ready line; every step registers its undo on opts.stack. */
  static async start(opts: LibvirtGuestOptions): Promise<LibvirtGuest> {
    const ready = validate(opts);
    const guest = new LibvirtGuest(opts);
    const { shell } = opts;
    const disks: string[] = [];
    for (const [i, disk] of opts.disks.entries()) disks.push(await createOverlay(shell, disk, `${opts.hostDir}/disk${i}-overlay.qcow2`));
    // The console file exists before start, so polling never races its creation.
    await shell.writeFile(guest.consoleFile, Buffer.alloc(0));
    const xmlFile = `${opts.hostDir}/domain.xml`;
    await shell.writeFile(xmlFile, Buffer.from(domainXml(opts, guest.consoleFile, disks)));

    await guest.virsh(['define', xmlFile]);
    opts.stack.defer(`libvirt domain ${opts.name} (undefine)`, async () => {
      await guest.virsh(['undefine', opts.name], true);
      // libvirt's own per-domain log; the domain was the run's, so is the log.
      await shell.run(['rm', '-f', `/var/log/libvirt/qemu/${opts.name}.log`], { allowFailure: true });
    });
    // The stop goes on the stack before the start: a `virsh start` that times out may still have started it.
    opts.stack.defer(`libvirt domain ${opts.name} (stop)`, () => guest.destroy());
    const startedAt = Date.now();
    await guest.virsh(['start', opts.name]);
    guest.ticker = setInterval(() => void guest.refresh().catch(() => undefined), 1000).unref();

    try {
      await guest.waitForConsole(ready, opts.ready.timeoutMs);
    } catch (e) {
      if (!(e instanceof ConsoleEnded || e instanceof ConsoleTimeout)) throw e;
      const state = await guest.state();
      await guest.destroy();
      const where = `(full log on ${shell.label}: ${guest.consoleFile})`;
      if (state !== 'running') {
        throw new WirelabError(
          `Guest '${opts.name}' stopped (domain state "${state}") ${Date.now() - startedAt} ms after start, before it was ready ` +
            `${where}. Last console lines:\n${guest.serial.quoteTail()}`,
          { cause: e },
        );
      }
      throw new WirelabError(
        `Guest '${opts.name}' was not ready within ${opts.ready.timeoutMs} ms: no console line matched ${ready}. The guest has been ` +
          `stopped. Last console lines ${where}:\n${guest.serial.quoteTail()}`,
        { cause: e },
      );
    }
    guest.readyMs = Date.now() - startedAt;
    return guest;
  }

  /** Poll the console file until a line matches; a domain that stops meanwhile ends the wait. */
  async waitForConsole(pattern: RegExp, timeoutMs: number, from = 0): Promise<string> {
    const waiting = this.serial.waitFor(pattern, timeoutMs, this.opts.name, from);
    let settled = false;
    void waiting.then(
      () => (settled = true),
      () => (settled = true),
    );
    // Feed the console while waiting; a stopped domain prints nothing more (asked now and then: cheaper than every poll).
    void (async () => {
      for (let polls = 0; !settled; polls++) {
        await this.refresh().catch(() => undefined);
        if (polls % 8 === 7 && !settled && (await this.state()) !== 'running') {
          await this.refresh().catch(() => undefined);
          this.serial.end('stopped');
        }
        await sleep(POLL_MS);
      }
    })();
    return waiting;
  }

  /** The host-side ports of the guest's NICs, from `virsh domiflist`, matched by MAC. */
  async interfaces(): Promise<GuestInterface[]> {
    const out = (await this.virsh(['domiflist', this.opts.name])).stdout;
    const rows = out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols.length >= 5 && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(cols[4]!));
    return this.opts.nics.map((nic) => {
      const row = rows.find((cols) => cols[4]!.toLowerCase() === nic.mac.toLowerCase());
      if (!row || row[0] === '-')
        throw new WirelabError(
          `virsh domiflist of '${this.opts.name}' shows no host-side port for the NIC ${nic.mac} on ${nic.bridge}: ${out.trim()}`,
        );
      return { ifname: row[0]!, bridge: nic.bridge, mac: nic.mac };
    });
  }

  /** ACPI shutdown, then wait up to `timeoutMs` (+ `extendMs()`); `virsh destroy` only if it did not halt (graceful=false). */
  async halt(timeoutMs: number, extendMs: () => number = () => 0): Promise<{ graceful: boolean; ms: number }> {
    if (this.halted) return this.halted;
    const t0 = Date.now();
    if (!domainAlive(await this.state())) return (this.halted = { graceful: true, ms: 0 });
    await this.virsh(['shutdown', this.opts.name], true);
    while (Date.now() - t0 < timeoutMs + extendMs()) {
      await sleep(POLL_MS);
      if (!domainAlive(await this.state())) {
        await this.stopTicker();
        return (this.halted = { graceful: true, ms: Date.now() - t0 });
      }
    }
    await this.destroy();
    return (this.halted = { graceful: false, ms: Date.now() - t0 });
  }

  // Outage measurements are not on the bench host yet: its domain is defined to stop on a reboot
  // (on_reboot destroy), and a console typed into needs a pty console, not the file one used here.
  resetGuest(): Promise<void> {
    return Promise.reject(notYet('a guest reset'));
  }

  setGuestLink(): Promise<void> {
    return Promise.reject(notYet('a NIC link flap'));
  }

  typeOnConsole(): Promise<void> {
    return Promise.reject(notYet('typing on the guest console'));
  }

  /** Hard stop if it still runs, paused or half shut down too (undo, and a guest that will not halt). Idempotent. */
  async destroy(): Promise<void> {
    if (domainAlive(await this.state())) await this.virsh(['destroy', this.opts.name], true);
    const deadline = Date.now() + DESTROY_WAIT_MS;
    while (domainAlive(await this.state()) && Date.now() < deadline) await sleep(POLL_MS);
    await this.stopTicker();
  }

  /** libvirt's word for the domain's state ('running', 'shut off', …; 'absent' when undefined). */
  async state(): Promise<string> {
    const r = await this.virsh(['domstate', this.opts.name], true);
    return r.exitCode === 0 ? r.stdout.trim() : 'absent';
  }

  private async stopTicker(): Promise<void> {
    clearInterval(this.ticker);
    await this.refresh().catch(() => undefined);
  }

  /** Read what the console file gained since the last read (one refresh at a time). */
  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const { shell } = this.opts;
        const size = Number((await shell.run(['stat', '-c', '%s', this.consoleFile], { allowFailure: true })).stdout.trim());
        if (!(size > this.readBytes)) return;
        const want = size - this.readBytes;
        const r = await shell.run(
          [
            'dd',
            `if=${this.consoleFile}`,
            'iflag=skip_bytes,count_bytes',
            `skip=${this.readBytes}`,
            `count=${want}`,
            'bs=65536',
            'status=none',
          ],
          { allowFailure: true },
        );
        if (r.exitCode !== 0) return;
        // The command runner strips one final newline from stdout: put it back when it was there.
        const got = Buffer.byteLength(r.stdout);
        this.serial.append(got === want - 1 ? `${r.stdout}\n` : r.stdout);
        this.readBytes = size;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private virsh(args: string[], allowFailure = false) {
    return this.opts.shell.run(['virsh', '-q', '-c', this.opts.uri, ...args], { allowFailure, timeoutMs: 60_000 });
  }
}

function notYet(what: string): WirelabError {
  return new WirelabError(
    `The bench-host lab cannot do ${what} yet (the restart-outage suite runs on the nested lab). Fix: run it with a nested profile.`,
    { exitCode: 2 },
  );
}

function validate(opts: LibvirtGuestOptions): RegExp {
  const bad = (field: string, value: unknown, allowed: string) =>
    new WirelabError(`LibvirtGuest option '${field}' is ${JSON.stringify(value)}; ${allowed}.`, { exitCode: 2 });
  if (!/^[\w.-]{1,64}$/.test(opts.name)) throw bad('name', opts.name, 'use 1-64 letters, digits, dot, dash or underscore');
  if (!opts.kernel && opts.disks.length === 0) throw bad('kernel', opts.kernel, 'give a kernel (+initrd) or a disk image');
  for (const [i, nic] of opts.nics.entries()) {
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(nic.mac)) throw bad(`nics[${i}].mac`, nic.mac, 'use six colon-separated hex bytes');
    if (!/^[\w.-]{1,15}$/.test(nic.bridge)) throw bad(`nics[${i}].bridge`, nic.bridge, 'use an interface name');
  }
  try {
    return new RegExp(opts.ready.pattern);
  } catch (e) {
    throw bad('ready.pattern', opts.ready.pattern, `it must be a regular expression (${(e as Error).message})`);
  }
}

async function createOverlay(shell: HostShell, disk: string, overlay: string): Promise<string> {
  const info = await shell.run(['qemu-img', 'info', '--output=json', disk], { allowFailure: true });
  if (info.exitCode !== 0)
    throw new WirelabError(
      `The guest disk ${disk} cannot be read on ${shell.label}: ${info.stderr.trim()}. Fix: give the path of a qcow2 or raw image on ` +
        `that host.`,
    );
  const format = (JSON.parse(info.stdout) as { format?: string }).format ?? 'raw';
  await shell.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', disk, '-F', format, overlay]);
  return overlay;
}

const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

/**
 * Whether a domain in this `virsh domstate` has a QEMU process: every state but 'shut off' (and
 * 'absent', undefined). A 'paused' or 'in shutdown' domain is alive: undefining it would leave it
 * running as a transient domain.
 */
export function domainAlive(state: string): boolean {
  return state !== 'shut off' && state !== 'absent';
}

/** The domain: ACPI for `virsh shutdown`, no reboot (a guest that powers off stays off), file console. */
export function domainXml(opts: LibvirtGuestOptions, consoleFile: string, overlays: string[]): string {
  const e = xmlEscape;
  const initrd = opts.initrd ? `<initrd>${e(opts.initrd)}</initrd>` : '';
  const boot = opts.kernel
    ? `<kernel>${e(opts.kernel)}</kernel>${initrd}<cmdline>${e(opts.append ?? 'console=ttyS0')}</cmdline>`
    : `<boot dev='hd'/>`;
  const disks = overlays.map((file, i) => {
    const target = `<target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/>`;
    return `
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${e(file)}'/>${target}</disk>`;
  });
  const nics = opts.nics.map((nic) => {
    const source = `<source bridge='${e(nic.bridge)}'/><mac address='${e(nic.mac.toLowerCase())}'/>`;
    return `
    <interface type='bridge'>${source}<model type='virtio'/></interface>`;
  });
  return `<domain type='${opts.accel === 'kvm' ? 'kvm' : 'qemu'}'>
  <name>${e(opts.name)}</name>
  <memory unit='MiB'>${opts.memoryMiB}</memory>
  <vcpu>${opts.cpus}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>${boot}</os>
  <features><acpi/></features>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>${disks.join('')}${nics.join('')}
    <serial type='file'><source path='${e(consoleFile)}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}
