// Restart outage (RFC 6201 reset time; sonic-mgmt's advanced reboot): with constant, bounded traffic
// both ways, disrupt the service and measure per direction, frame by frame, how long it was out —
// first frame lost to first delivered again — how many frames were lost, and the reordering after
// recovery. Three disruptions on one boot, in this order: a flap of the guest's left NIC (QMP
// set_link), a restart of the service (a line typed on the guest console: the profile's
// restart.serviceCommand, `wirelab-restart-service` for reference images), and a reset of the guest
// (QMP system_reset: a cold reboot). Runs only when named: `wirelab run restart-outage`.
//
// What fails: a direction that stays down (named), an outage above restart.maxOutageSeconds, more
// reordering after recovery than restart.maxReorderedAfter; a reset guest that does not print its
// ready line again.
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { describeOutage, directionOutage, outageProblems, type DirectionOutage } from '../lib/analysis/outage.ts';
import { DEFAULT_PROFILE } from '../lib/core/paths.ts';
import type { Side } from '../lib/core/sides.ts';
import type { Lab } from '../lib/lab/lab.ts';
import { loadProfile } from '../lib/profile/load.ts';
import { udpTemplate } from '../lib/traffic/templates.ts';
import { runTraffic, type FlowDefinition } from '../lib/traffic/traffic-run.ts';
import { attachTrafficEvidence } from '../fixtures/evidence.ts';
import { describe, expect, test } from '../fixtures/lab.ts';

/** Traffic keeps going this long after the outage bound, so a late recovery is seen as one. */
const TAIL_S = 5;
const REFERENCE_SERVICE_COMMAND = 'wirelab-restart-service';
const settings = loadProfile(path.resolve(process.env.WIRELAB_PROFILE ?? DEFAULT_PROFILE)).restart;
const RUN_S = settings.leadSeconds + settings.maxOutageSeconds + TAIL_S;
/** The run, its upload and analysis, and a reboot's readiness wait; each step is bounded by its own timeout too. */
const TEST_TIMEOUT = RUN_S * 3000 + 180_000;

let runs = 0;

/** Constant traffic both ways; `disrupt` runs `leadSeconds` after the frames set off. Returns each direction's outage. */
async function measureOutage(lab: Lab, what: string, disrupt: () => Promise<void>): Promise<DirectionOutage[]> {
  const r = lab.profile.restart;
  const one = (from: Side, to: Side): FlowDefinition => ({
    name: `${what} ${from}→${to}`,
    from,
    to,
    template: udpTemplate(lab, from, to),
    count: Math.round(r.ratePps * RUN_S),
    ratePps: r.ratePps,
    size: 128,
  });
  let started: () => void = () => {};
  const injecting = new Promise<void>((done) => (started = done));
  const traffic = runTraffic(lab, [one('left', 'right'), one('right', 'left')], {
    name: `restart-outage-${++runs}`,
    settleMs: 1000,
    onInjecting: () => started(),
  });
  // The lead also covers the upload of the frames to the traffic hosts before they replay them.
  const disrupted = injecting.then(() => sleep(r.leadSeconds * 1000)).then(disrupt);
  const [run] = await Promise.all([traffic, disrupted]);
  const outages = run.report.flows.map((f) => directionOutage(f, r.ratePps));
  const text = [`${what}:`, ...outages.map((o) => `  ${describeOutage(o)}`)].join('\n');
  console.error(`restart-outage: ${text}`);
  await allure.attachment(`outage: ${what}`, text, 'text/plain');
  await allure.attachment(`outage: ${what} (JSON)`, JSON.stringify(outages, null, 2), {
    contentType: 'application/json',
    fileExtension: 'json',
  });
  await attachTrafficEvidence(run);
  return outages;
}

function expectWithin(what: string, outages: DirectionOutage[], lab: Lab): void {
  const problems = outageProblems(what, outages, lab.profile.restart);
  expect(problems, problems.join('; ')).toEqual([]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

describe('restart-outage', () => {
  test(
    "guest NIC flap: the left NIC's link down and up again",
    async ({ lab }) => {
      const flap = lab.profile.restart.flapSeconds;
      allure.parameter('link down for (s)', String(flap));
      const outages = await measureOutage(lab, 'the NIC flap', async () => {
        await lab.disruptions.setGuestLink('left', false);
        await sleep(flap * 1000);
        await lab.disruptions.setGuestLink('left', true);
      });
      expectWithin('the NIC flap', outages, lab);
    },
    TEST_TIMEOUT,
  );

  test(
    'service restart: the profile-declared console command',
    async ({ lab, profile, skip }) => {
      const command =
        profile.restart.serviceCommand ??
        // Only the reference bridges restart a service on that line; the router and the monitor have none to restart.
        (profile.guest.image.kind === 'reference' && profile.role === 'l2-bridge' ? REFERENCE_SERVICE_COMMAND : undefined);
      if (!command) skip('no restart.serviceCommand in the profile: the service restart is not measured');
      allure.parameter('console command', command!);
      const outages = await measureOutage(lab, 'the service restart', () => lab.disruptions.typeOnConsole(command!));
      expectWithin('the service restart', outages, lab);
    },
    TEST_TIMEOUT,
  );

  test(
    'guest reboot: a reset (QMP system_reset), then its ready line again',
    async ({ lab, profile }) => {
      const mark = lab.guest.consoleMark();
      const outages = await measureOutage(lab, 'the guest reboot', () => lab.disruptions.resetGuest());
      // The guest came back and said so (bounded by its readiness timeout; normally printed long before).
      await lab.guest.waitForConsole(new RegExp(profile.guest.ready.consolePattern), profile.guest.ready.timeoutSeconds * 1000, mark);
      expectWithin('the guest reboot', outages, lab);
    },
    TEST_TIMEOUT,
  );
});
