// The policy suite: an in-line service (a transparent firewall, a shaper, a marker) does to each
// class of traffic what its profile's `policy` declares — and only to that class. One boot: a flow
// per class from each side it applies to, plus probes just outside each class (the neighbouring
// port, VLAN or address, the other protocol, the other direction) and traffic no class matches, all
// derived from the declared policy (lib/policy/probes.ts) and judged by what the policy says of
// each frame sent (lib/policy/classify.ts). Dropped classes must never cross yet reach the guest,
// forwarded ones arrive byte-exact (or with their allowed changes), rewrites are checked per frame,
// rate limits are measured over a window of their own at three times the declared rate.
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { DEFAULT_PROFILE } from '../lib/core/paths.ts';
import { otherSide } from '../lib/core/sides.ts';
import type { Lab } from '../lib/lab/lab.ts';
import { checkPolicyFlow, type PolicyHints } from '../lib/policy/checks.ts';
import { checkConnections } from '../lib/policy/connection-checks.ts';
import { classify, factsOf, type Classification } from '../lib/policy/classify.ts';
import { describeBehaviour, describeMatch, type Policy, type PolicyClass } from '../lib/policy/model.ts';
import { policyProbes, type Probe } from '../lib/policy/probes.ts';
import { loadProfile } from '../lib/profile/load.ts';
import type { PolicyCells } from '../lib/report/visuals.ts';
import { sliceRun } from '../lib/traffic/slice.ts';
import { probeTemplate } from '../lib/traffic/templates.ts';
import { runTraffic, type FlowDefinition, type TrafficRun } from '../lib/traffic/traffic-run.ts';
import { runConnections } from '../lib/traffic/tcp-connections.ts';
import { readFile } from 'node:fs/promises';
import { attachTrafficEvidence } from '../fixtures/evidence.ts';
import { describe, expect, test } from '../fixtures/lab.ts';
import { emissionsTest } from '../fixtures/qualification.ts';
import { checks } from '../fixtures/verdict.ts';

/** Every class's frames and probes that are not rate-limited: few frames, slowly, all in one window. */
const FUNCTIONAL = { count: 50, ratePps: 50, size: 128 } as const;
/** The rate window: frames this large, offered at this multiple of the declared rate, for this long. */
const RATE_FRAME = 512;
const RATE_OVERLOAD = 3;
const RATE_WINDOW_S = 4;
/** The most a rate window offers per flow: well inside what a TCG guest forwards without loss. */
const MAX_RATE_PPS = 600;

interface PolicyFlow {
  def: FlowDefinition;
  probe: Probe;
  expected: Classification;
  window: 'functional' | 'rate';
}

/** The class a probe belongs to, when it was derived from one. */
function classOf(policy: Policy, probe: Probe): PolicyClass | undefined {
  return policy.classes.find((c) => c.name === probe.of);
}

/** Frames per second a rate-limit class declares (bit/s over the rate window's frame size). */
function declaredFps(c: PolicyClass): number | undefined {
  if (c.behaviour.action !== 'rate-limit') return undefined;
  const { framesPerSecond, bitsPerSecond } = c.behaviour.rate;
  return framesPerSecond ?? bitsPerSecond! / (RATE_FRAME * 8);
}

function plan(lab: Lab, policy: Policy): PolicyFlow[] {
  return policyProbes(policy).map((probe) => {
    const to = otherSide(probe.from);
    const template = probeTemplate(lab, probe.from, to, probe.frame);
    // What the policy says of the very frame built: the expectation is derived, never written twice.
    const expected = classify(policy, factsOf(template), probe.from);
    // A rate-limit class's frames and its probes go in the rate window, at a multiple of the declared rate.
    const source = classOf(policy, probe);
    const fps = (source && declaredFps(source)) ?? (expected.class && declaredFps(expected.class));
    const shape =
      fps === undefined
        ? FUNCTIONAL
        : (() => {
            const ratePps = Math.min(MAX_RATE_PPS, RATE_OVERLOAD * fps);
            return { count: Math.round(ratePps * RATE_WINDOW_S), ratePps, size: RATE_FRAME };
          })();
    return {
      def: { name: probe.name, from: probe.from, to, template, ...shape },
      probe,
      expected,
      window: fps === undefined ? ('functional' as const) : ('rate' as const),
    };
  });
}

const windows = new WeakMap<Lab, Map<string, Promise<TrafficRun>>>();

/** A window of the lab's policy traffic, sent once (interleaved); later tests get the same run. */
function windowOf(lab: Lab, flows: PolicyFlow[], which: PolicyFlow['window']): Promise<TrafficRun> {
  let mine = windows.get(lab);
  if (!mine) windows.set(lab, (mine = new Map()));
  let run = mine.get(which);
  if (!run) {
    const defs = flows.filter((f) => f.window === which).map((f) => f.def);
    run = runTraffic(lab, defs, { name: `policy-${which}`, interleave: true });
    mine.set(which, run);
  }
  return run;
}

/** Check the flows derived from one class (or the unmatched ones), each against what the policy says of it. */
async function checkFlows(lab: Lab, all: PolicyFlow[], of: string, slice: string): Promise<void> {
  const mine = all.filter((f) => f.probe.of === of);
  const verdict = checks();
  for (const which of ['functional', 'rate'] as const) {
    const flows = mine.filter((f) => f.window === which);
    if (flows.length === 0) continue;
    const run = await allure.step(`policy ${which} window (every class's ${which} flows sent together)`, () => windowOf(lab, all, which));
    const sliced = await sliceRun(
      run,
      `${slice}-${which}`,
      flows.map((f) => f.def.name),
    );
    const cells: Record<string, PolicyCells> = {};
    for (const f of flows) {
      const result = sliced.report.flows.find((r) => r.name === f.def.name)!;
      const v = checkPolicyFlow(result, f.probe, f.expected, hintsFor(f, flows, sliced));
      for (const c of v.checks) verdict.add(c.check, c.result);
      cells[f.def.name] = { declared: v.declared, observed: v.observed, pass: v.checks.every((c) => c.result.pass) };
    }
    await attachTrafficEvidence(sliced, cells);
  }
  await verdict.assert();
}

/** Whether the same class's in-class frames from the other side were dropped (a rule that matches one direction). */
function hintsFor(f: PolicyFlow, flows: PolicyFlow[], run: TrafficRun): PolicyHints {
  if (f.probe.kind !== 'in-class') return {};
  const twin = flows.find((g) => g.probe.kind === 'in-class' && g.probe.from !== f.probe.from);
  const result = twin && run.report.flows.find((r) => r.name === twin.def.name);
  if (!result) return {};
  const ingress = result.from === 'left' ? 'guest-left' : 'guest-right';
  const egress = result.to === 'left' ? 'guest-left' : 'guest-right';
  return { droppedFromOtherSide: result.received[ingress] > 0 && result.received[egress] === 0 };
}

// Test names come from the profile's policy, so it is read when the suite is collected.
const profile = loadProfile(path.resolve(process.env.WIRELAB_PROFILE ?? DEFAULT_PROFILE));
const policy = profile.policy;

describe('policy', () => {
  if (!policy) {
    test('the profile declares a policy', () => {
      expect.fail(
        `${profile.file} declares no policy, so there is nothing to qualify; add a \`policy\` section (docs/profile-reference.md).`,
      );
    });
    return;
  }
  const flowsOf = new WeakMap<Lab, PolicyFlow[]>();
  const flowsFor = (lab: Lab) => flowsOf.get(lab) ?? flowsOf.set(lab, plan(lab, policy)).get(lab)!;

  for (const c of policy.classes) {
    test(`class ${c.name}: ${describeBehaviour(c.behaviour)} — ${describeMatch(c.match)}; probes just outside it follow their own class`, async ({
      lab,
    }) => {
      allure.parameter('declared', `${describeBehaviour(c.behaviour)} for ${describeMatch(c.match)}`);
      await checkFlows(lab, flowsFor(lab), c.name, c.name);
    });
  }

  for (const c of policy.connections) {
    const to = otherSide(c.from);
    test(`connections ${c.name}: ${c.count} real TCP connections ${c.from} → ${to}:${c.port}, ${c.expect === 'connect' ? 'established, every byte echoed' : 'blocked'}`, async ({
      lab,
    }) => {
      const run = await allure.step(
        `${c.count} connections from the ${c.from} host to an echo server on the ${to} host, port ${c.port}`,
        () =>
          runConnections(lab, `connections-${c.name}`, { from: c.from, port: c.port, count: c.count, bytes: c.bytes, connectTimeoutS: 3 }),
      );
      await allure.attachment(
        `${c.name}: connections`,
        JSON.stringify({ endpoints: run.ends, client: run.results, segmentsPerPoint: run.traces }, null, 2),
        { contentType: 'application/json', fileExtension: 'json' },
      );
      for (const [point, file] of Object.entries(run.pcaps))
        await allure.attachment(`${c.name}: ${point}.pcap`, await readFile(file), {
          contentType: 'application/vnd.tcpdump.pcap',
          fileExtension: 'pcap',
        });
      const verdict = checks();
      verdict.check(`connections ${c.name}`, checkConnections(c, run.results, run.traces));
      await verdict.assert();
    });
  }

  const fallback = policy.default === 'role' ? `the ${profile.role}'s contract` : policy.default;
  test(`traffic no class matches: ${fallback} (policy.default: ${policy.default})`, ({ lab }) =>
    checkFlows(lab, flowsFor(lab), 'no class', 'unmatched'));

  emissionsTest();
});
