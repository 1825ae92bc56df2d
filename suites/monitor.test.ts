// The passive monitor (analyzer) contract: it receives a mirror of the traffic between the two
// sides, reports it (on its console, as the profile's monitorReportPattern describes), and injects
// nothing on any data NIC — not while traffic flows, not while it is quiet.
import * as allure from 'allure-js-commons';
import { udpTemplate } from '../lib/traffic/templates.ts';
import { describe, expect, test } from '../fixtures/lab.ts';
import { bothWays, send } from '../fixtures/traffic.ts';

describe('monitor', () => {
  test('receives the mirrored traffic and reports it', async ({ lab, profile }) => {
    const pattern = new RegExp(profile.guest.monitorReportPattern);
    const before = lab.guest.console().length;
    const run = await send(
      lab,
      'mirrored',
      bothWays('mirrored UDP', (from, to) => udpTemplate(lab, from, to), { count: 200, ratePps: 200, size: 128 }),
      { settleMs: 2500 },
    );
    // The mirror is the lab's: traffic between the hosts flows whatever the monitor does.
    for (const result of run.report.flows) expect(result).toDeliverAll(run);
    const reports = lab.guest
      .console()
      .slice(before)
      .split('\n')
      .filter((line) => pattern.test(line));
    allure.parameter('monitor reports after the traffic', reports.slice(-3).join(' | ') || 'none');
    expect(
      reports.length,
      `the monitor printed no line matching /${profile.guest.monitorReportPattern}/ after ${run.report.flows.reduce((n, f) => n + f.sent, 0)} mirrored frames: it did not receive (or did not report) the traffic`,
    ).toBeGreaterThan(0);
  });

  test('injects nothing on its data NICs, with traffic and without', async ({ lab }) => {
    const busy = await send(
      lab,
      'busy',
      bothWays('mirrored UDP', (from, to) => udpTemplate(lab, from, to), { count: 200, ratePps: 200, size: 128 }),
    );
    expect(busy.report).toHaveNoGuestEmissions();
    const quiet = await send(lab, 'quiet', [], { settleMs: 6000 });
    expect(quiet.report).toHaveNoGuestEmissions();
  });
});
