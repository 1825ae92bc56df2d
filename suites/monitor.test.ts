// The passive monitor (analyzer) contract: it receives a mirror of the traffic between the two sides —
// every kind of frame a wire carries (the contract's frame space, pairwise) —, reports what it counted
// (named counts in the profile's monitorReportPattern), and its counts follow what was mirrored to it:
// they match it (within the declared tolerance and sampling ratio) and stay put while nothing is
// mirrored. It injects nothing on any data NIC, ever. One boot for all.
import * as allure from 'allure-js-commons';
import {
  reportedCounts,
  reportedDelta,
  countsFollowMirror,
  quietWhileNothingMirrored,
  type Mirrored,
} from '../lib/contracts/monitor-counts.ts';
import type { Lab } from '../lib/lab/lab.ts';
import type { LabProfile } from '../lib/profile/types.ts';
import { contractPlanOf, contractSlices, frameSpaceTest } from '../fixtures/contract.ts';
import { describe, test } from '../fixtures/lab.ts';
import { emissionsTest, hygieneTests, readinessTest } from '../fixtures/qualification.ts';
import { forwardingChecks, functionalWindow, type FunctionalPlan } from '../fixtures/traffic.ts';
import { checks } from '../fixtures/verdict.ts';

function plan(lab: Lab, _profile: LabProfile): FunctionalPlan {
  return contractSlices(lab);
}

/** The report lines since a console mark. */
function reportLines(lab: Lab, pattern: RegExp, from: number): string[] {
  return lab.guest
    .console()
    .slice(from)
    .split('\n')
    .filter((l) => pattern.test(l));
}

/**
 * Waits until the monitor's reports settle (no new report line for QUIET_MS, at most MAX_SETTLE_MS): a
 * monitor prints about once a second while its counters change. Returns the report lines since `from`.
 */
async function settledReports(lab: Lab, pattern: RegExp, from: number): Promise<string[]> {
  const started = Date.now();
  let seen = reportLines(lab, pattern, from).length;
  let quietSince = Date.now();
  while (Date.now() - quietSince < QUIET_MS && Date.now() - started < MAX_SETTLE_MS) {
    await new Promise((r) => setTimeout(r, 200));
    const now = reportLines(lab, pattern, from).length;
    if (now !== seen) [seen, quietSince] = [now, Date.now()];
  }
  return reportLines(lab, pattern, from);
}

const QUIET_MS = 1500;
const MAX_SETTLE_MS = 6000;
const QUIET_LISTEN_S = 3;

describe('monitor', () => {
  readinessTest();

  test('counts every kind of frame mirrored to it: its reported counts follow the mirror', async ({ lab, profile }) => {
    const pattern = new RegExp(profile.guest.monitorReportPattern);
    const settings = profile.expect.monitorCounting;
    // The count before: the last report once the monitor has settled after boot and the readiness probe.
    const before = reportedCounts(await settledReports(lab, pattern, 0), pattern).at(-1);
    const mark = lab.guest.console().length;
    const run = await functionalWindow(lab, plan(lab, profile));
    const after = reportedCounts(await settledReports(lab, pattern, mark), pattern);
    allure.parameter('reported before / after', `${JSON.stringify(before ?? {})} / ${JSON.stringify(after.at(-1) ?? {})}`);
    const contract = contractPlanOf(lab);
    const byName = new Map(run.report.flows.map((f) => [f.name, f]));
    const tally = (point: 'guest-left' | 'guest-right') => {
      const t = run.report.emissions.find((e) => e.point === point);
      return (t?.fromHosts ?? 0) + (t?.fromGuest ?? 0);
    };
    const mirrored: Mirrored = {
      cases: contract.cases.map((c) => {
        const f = byName.get(c.name);
        const group = !['known-unicast', 'unknown-unicast'].includes(c.case.destination ?? '');
        return { case: c.case, group, frames: { left: f?.received['guest-left'] ?? 0, right: f?.received['guest-right'] ?? 0 } };
      }),
      other: { left: tally('guest-left'), right: tally('guest-right') },
    };
    const verdict = checks();
    // The mirror is the lab's: traffic between the hosts flows whatever the monitor does, and none may come back.
    for (const result of run.report.flows) forwardingChecks(verdict, run, result);
    verdict.check(
      'the counts follow the mirror',
      after.length === 0
        ? {
            pass: false,
            headline: `The monitor printed no report line matching /${profile.guest.monitorReportPattern}/ after the mirrored frames: it did not receive (or did not report) the traffic.`,
            message: 'No report line after the traffic window (guest.monitorReportPattern).',
          }
        : countsFollowMirror(reportedDelta(before, after, settings), mirrored, settings, contract.contract.space),
    );
    await verdict.assert();
  });

  test('reports nothing new while nothing is mirrored', async ({ lab, profile }) => {
    const pattern = new RegExp(profile.guest.monitorReportPattern);
    const settings = profile.expect.monitorCounting;
    // Whatever the counts test's traffic left in flight has settled by now (it waited for the reports to settle).
    const mark = lab.guest.console().length;
    const before = reportedCounts(reportLines(lab, pattern, 0), pattern).at(-1);
    await new Promise((r) => setTimeout(r, QUIET_LISTEN_S * 1000));
    const after = reportedCounts(reportLines(lab, pattern, mark), pattern);
    const grew = after.length === 0 ? {} : reportedDelta(before, after, settings);
    allure.parameter('reports while quiet', String(after.length));
    const verdict = checks();
    verdict.check('quiet', quietWhileNothingMirrored(grew, 0, QUIET_LISTEN_S, settings));
    await verdict.assert();
  });

  frameSpaceTest(plan);
  emissionsTest();
  hygieneTests();
});
