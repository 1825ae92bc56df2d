// libvirt on the bench host: its tools must be there, and its daemon must answer. Where PID 1 is not
// systemd nobody starts libvirtd, so wirelab starts `virtlogd -d` and `libvirtd -d` itself (in the
// shell's network namespace, so libvirt's vnetN ports appear next to the bridges) and stops exactly
// those processes, by the pids in their pidfiles, at the end. A daemon that already ran is left alone.
import { WirelabError } from '../../core/errors.ts';
import type { HostShell } from './host-shell.ts';
import type { UndoStack } from '../../runtime/teardown.ts';

const TOOLS = ['virsh', 'libvirtd', 'virtlogd', 'qemu-img'] as const;
const DAEMONS = [
  { name: 'virtlogd', pidfile: '/run/virtlogd.pid' },
  { name: 'libvirtd', pidfile: '/run/libvirtd.pid' },
] as const;
/** libvirtd probes QEMU's capabilities on first contact: ~10 s on a busy TCG-only machine. */
const ANSWER_BUDGET_MS = 60_000;
const STOP_BUDGET_MS = 15_000;

/** Refuse a host without libvirt before anything is created there. */
export async function checkLibvirtTools(shell: HostShell): Promise<void> {
  const missing: string[] = [];
  for (const tool of TOOLS) if (!(await shell.has(tool))) missing.push(tool);
  if (missing.length > 0) {
    throw new WirelabError(
      `libvirt is not usable on ${shell.label}: ${missing.join(', ')} not found on its PATH. A bench-host lab runs the guest under ` +
        `libvirt. ` +
        `Fix: on that host, apt-get install libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils (Debian), or run the ` +
        `nested lab instead.`,
      { exitCode: 2 },
    );
  }
}

/** Make sure libvirtd answers on `uri`; start the daemons (and register their stop) if none runs. */
export async function ensureLibvirtd(
  shell: HostShell,
  uri: string,
  stack: UndoStack,
  progress: (m: string) => void = () => {},
  /** Told each daemon started here (its pid), for the bench host's ledger. */
  onStarted: (name: string, pid: number) => Promise<void> = async () => {},
): Promise<{ startedByUs: boolean }> {
  if (await answers(shell, uri, 15_000)) return { startedByUs: false };
  if (uri !== 'qemu:///system') {
    throw new WirelabError(
      `libvirt does not answer at '${uri}' on ${shell.label}. Fix: start libvirtd there, or use qemu:///system (which wirelab starts ` +
        `itself when no daemon runs).`,
    );
  }
  progress(`starting virtlogd and libvirtd on ${shell.label}`);
  for (const daemon of DAEMONS) {
    if (await runningPid(shell, daemon.name, daemon.pidfile)) continue; // someone else's: keep it
    await shell.run([daemon.name, '-d']);
    const pid = await waitForPid(shell, daemon.name, daemon.pidfile);
    stack.defer(`${daemon.name} (pid ${pid}) on ${shell.label}`, () => stopDaemon(shell, daemon.name, pid));
    await onStarted(daemon.name, pid);
  }
  const deadline = Date.now() + ANSWER_BUDGET_MS;
  while (!(await answers(shell, uri, 20_000))) {
    if (Date.now() > deadline)
      throw new WirelabError(
        `libvirtd was started on ${shell.label} but did not answer at ${uri} within ${ANSWER_BUDGET_MS / 1000} s. Fix: look at its ` +
          `log (/var/log/libvirt/libvirtd.log).`,
      );
    await sleep(500);
  }
  return { startedByUs: true };
}

async function answers(shell: HostShell, uri: string, timeoutMs: number): Promise<boolean> {
  const r = await shell.run(['virsh', '-q', '-c', uri, 'version', '--daemon'], { allowFailure: true, timeoutMs });
  return r.exitCode === 0;
}

/** The pid in `pidfile` if that process is alive and really is `name`. */
async function runningPid(shell: HostShell, name: string, pidfile: string): Promise<number | null> {
  const text = await shell.run(['cat', pidfile], { allowFailure: true });
  const pid = Number(text.stdout.trim());
  if (!Number.isInteger(pid) || pid <= 1) return null;
  const comm = await shell.run(['cat', `/proc/${pid}/comm`], { allowFailure: true });
  return comm.exitCode === 0 && comm.stdout.trim() === name ? pid : null;
}

async function waitForPid(shell: HostShell, name: string, pidfile: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const pid = await runningPid(shell, name, pidfile);
    if (pid) return pid;
    await sleep(100);
  }
  throw new WirelabError(`${name} was started on ${shell.label} but wrote no live pid to ${pidfile} within 5 s.`);
}

/** SIGTERM the daemon we started (checked by name first: a pid may be reused), SIGKILL if it lingers. */
export async function stopDaemon(shell: HostShell, name: string, pid: number): Promise<void> {
  const isOurs = async () => (await shell.run(['cat', `/proc/${pid}/comm`], { allowFailure: true })).stdout.trim() === name;
  if (!(await isOurs())) return;
  await shell.run(['kill', '-TERM', String(pid)], { allowFailure: true });
  const deadline = Date.now() + STOP_BUDGET_MS;
  while (await isOurs()) {
    if (Date.now() > deadline) {
      await shell.run(['kill', '-KILL', String(pid)], { allowFailure: true });
      return;
    }
    await sleep(200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}
