// `wirelab up`: bring a lab up from a profile, show how to reach its parts, and take it down again
// (at once, or on Ctrl-C with --hold). The quickest way to see a profile work end to end.
import { loadProfile } from '../profile/load.ts';
import { startLab } from '../lab/start.ts';

export async function labUp(profileFile: string, opts: { hold: boolean }): Promise<number> {
  const profile = loadProfile(profileFile);
  const started = performance.now();
  const lab = await startLab(profile, { onProgress: (m) => console.error(`wirelab: ${m}`) });
  const upMs = performance.now() - started;
  console.log(`lab ${lab.runId} up in ${(upMs / 1000).toFixed(1)} s (guest ready after ${(lab.guest.readyAfterMs / 1000).toFixed(1)} s)`);
  for (const side of ['left', 'right'] as const) {
    const host = lab.hosts[side];
    const port = lab.ports[side];
    console.log(
      `  ${side}: traffic host ${host.ipv4} (${host.mac}) on ${port.bridge}; guest NIC ${port.guestMac} on ${port.ifname} (netns ` +
        `${port.netns})`,
    );
  }
  if (opts.hold) {
    console.log(`  console log: ${lab.workDir}/console.log — press Ctrl-C to take the lab down.`);
    await new Promise(() => {}); // the SIGINT handler unwinds the lab and exits
  }
  const downStart = performance.now();
  const halt = await lab.haltGuest();
  await lab.down();
  console.log(
    `lab ${lab.runId} down in ${((performance.now() - downStart) / 1000).toFixed(1)} s (guest halt ` +
      `${halt.graceful ? 'graceful' : 'FORCED: the image did not halt on the ACPI power button'} after ${(halt.ms / 1000).toFixed(1)} s)`,
  );
  return halt.graceful ? 0 : 1;
}
