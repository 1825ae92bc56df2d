// The passive monitor (analyzer) contract: it receives a mirror of the traffic between the two
// sides, reports it (on its console, as the profile's monitorReportPattern describes), and injects
// nothing on any data NIC — not while traffic flows, not while it is quiet. One boot for all.
import * as allure from 'allure-js-commons';
import type { Lab } from '../lib/lab/lab.ts';
import { udpTemplate } from '../lib/traffic/templates.ts';
import { describe, expect, test } from '../fixtures/lab.ts';
import { emissionsTest, hygieneTests, readinessTest } from '../fixtures/qualification.ts';
import { bothWays, forwardingChecks, functionalSlice, type FunctionalPlan } from '../fixtures/traffic.ts';
import { checks } from '../fixtures/verdict.ts';

function plan(lab: Lab): FunctionalPlan {
  return { mirrored: bothWays('mirrored UDP', (from, to) => udpTemplate(lab, from, to), { count: 200, ratePps: 200, size: 128 }) };
}

describe('monitor', () => {
  readinessTest();

  test('receives the mirrored traffic and reports it', async ({ lab, profile }) => {
    const pattern = new RegExp(profile.guest.monitorReportPattern);
    const before = lab.guest.console().length;
    const run = await functionalSlice(lab, plan(lab), 'mirrored');
    // The mirror is the lab's: traffic between the hosts flows whatever the monitor does, and none may come back.
    const verdict = checks();
    for (const result of run.report.flows) forwardingChecks(verdict, run, result);
    await verdict.assert();
    // A report comes about once a second after the counters change: wait for a new line, bounded.
    const reportsSince = () =>
      lab.guest
        .console()
        .slice(before)
        .split('\n')
        .filter((l) => pattern.test(l));
    for (let waited = 0; reportsSince().length === 0 && waited < 5000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    const reports = reportsSince();
    allure.parameter('monitor reports after the traffic', reports.slice(-3).join(' | ') || 'none');
    const sent = run.report.flows.reduce((n, f) => n + f.sent, 0);
    expect(
      reports.length > 0,
      `the monitor printed no line matching /${profile.guest.monitorReportPattern}/ after ${sent} mirrored frames: it did not receive (or did not report) the traffic`,
    ).toBe(true);
  });

  emissionsTest();
  hygieneTests();
});
