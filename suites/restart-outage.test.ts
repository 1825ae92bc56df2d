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
// ready line again. An outage above the bound that the host canary explains (the host stalled within
// it) is measured again, at most twice, then inconclusive (fixtures/host-stall.ts).
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { describeOutage, directionOutage, outageProblems, type DirectionOutage } from '../lib/analysis/outage.ts';
import { DEFAULT_PROFILE } from '../lib/core/paths.ts';
import type { Side } from '../lib/core/sides.ts';
import type { Lab } from '../lib/lab/lab.ts';
import { loadProfile } from '../lib/profile/load.ts';
import { udpTemplate } from '../lib/traffic/templates.ts';
import { runTraffic, type FlowDefinition, type TrafficRun } from '../lib/traffic/traffic-run.ts';
import { longestStallWithin, stalledMsWithin, type HostExcuse } from '../lib/analysis/host-stall.ts';
import { attachTrafficEvidence } from '../fixtures/evidence.ts';
import { judgeBesideHost } from '../fixtures/host-stall.ts';
import { describe, test } from '../fixtures/lab.ts';
import { checks } from '../fixtures/verdict.ts';

/** Traffic keeps going this long after the outage bound, so a late recovery is seen as one. */
const TAIL_S = 5;
const REFERENCE_SERVICE_COMMAND = 'wirelab-restart-service';
const settings = loadProfile(path.resolve(process.env.WIRELAB_PROFILE ?? DEFAULT_PROFILE)).restart;
const RUN_S = settings.leadSeconds + settings.maxOutageSeconds + TAIL_S;
/** The run, its upload and analysis, and a reboot's readiness wait; each step is bounded by its own timeout too. */
const TEST_TIMEOUT = RUN_S * 3000 + 180_000;

let runs = 0;

interface OutageRun {
  outages: DirectionOutage[];
  run: TrafficRun;
}

/**
 * Constant traffic both ways; `disrupt` runs `leadSeconds` after the frames set off. Returns each direction's
 * outage, measured beside the host canary. A retry (the host stalled during the last) waits for the quiet gate.
 */
async function measureOutage(lab: Lab, what: string, disrupt: () => Promise<void>, retry = false): Promise<OutageRun> {
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
    canary: true,
    timed: retry,
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
  return { outages, run };
}

/**
 * Measure (again while the host's stalls explain an outage above the bound: fixtures/host-stall.ts) and
 * hold each direction to the bounds. An outage less the time the host stalled within it, within the bound, is the host's.
 */
async function outageWithin(lab: Lab, what: string, disrupt: () => Promise<void>, after?: () => Promise<unknown>): Promise<void> {
  await judgeBesideHost(
    what,
    async (attempt) => {
      const measured = await measureOutage(lab, what, disrupt, attempt > 0);
      await after?.();
      return measured;
    },
    ({ outages, run }) => {
      const verdict = checks();
      const problems = outageProblems(what, outages, lab.profile.restart);
      if (problems.length === 0)
        verdict.check(what, { pass: true, headline: `${what}: within the bounds`, message: outages.map(describeOutage).join('; ') });
      for (const p of problems) verdict.check(what, { pass: false, headline: p, message: p });
      return { checks: verdict, excuse: outageExcuse(what, outages, run, lab), windowStartMs: run.host?.startMs };
    },
  );
}

/** The host stall behind outages above the bound, when every other bound holds and the time the host stalled within each explains it. */
function outageExcuse(what: string, outages: DirectionOutage[], run: TrafficRun, lab: Lab): HostExcuse | undefined {
  const host = run.host;
  const bounds = lab.profile.restart;
  if (!host || host.unavailable) return undefined;
  let excuse: HostExcuse | undefined;
  const corrected = outages.map((o) => {
    if (!o.run || o.outageS === undefined || o.outageS <= bounds.maxOutageSeconds) return o;
    const fromMs = o.run.fromNs / 1e6;
    const toMs = o.run.resumedNs! / 1e6;
    const stalled = stalledMsWithin(host, fromMs, toMs);
    const longest = longestStallWithin(host, fromMs, toMs);
    if (longest && (!excuse || stalled > excuse.stallMs)) excuse = { ...longest, stallMs: stalled };
    return { ...o, outageS: Math.max(0, o.outageS - stalled / 1000) };
  });
  return excuse && outageProblems(what, corrected, bounds).length === 0 ? excuse : undefined;
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
      await outageWithin(lab, 'the NIC flap', async () => {
        await lab.disruptions.setGuestLink('left', false);
        await sleep(flap * 1000);
        await lab.disruptions.setGuestLink('left', true);
      });
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
      await outageWithin(lab, 'the service restart', () => lab.disruptions.typeOnConsole(command!));
    },
    TEST_TIMEOUT,
  );

  test(
    'guest reboot: a reset (QMP system_reset), then its ready line again',
    async ({ lab, profile }) => {
      let mark = 0;
      await outageWithin(
        lab,
        'the guest reboot',
        async () => {
          mark = lab.guest.consoleMark();
          await lab.disruptions.resetGuest();
        },
        // The guest came back and said so (bounded by its readiness timeout; normally printed long before).
        () => lab.guest.waitForConsole(new RegExp(profile.guest.ready.consolePattern), profile.guest.ready.timeoutSeconds * 1000, mark),
      );
    },
    TEST_TIMEOUT,
  );
});
