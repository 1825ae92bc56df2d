// The policy suite: an in-line service (a transparent or routed firewall, a shaper, a marker, a DPI filter,
// a proxy) does to each class of traffic what its profile's `policy` declares — and only to that class.
// One boot: a flow per class from each side it applies to, over every IP version and tagging the class
// leaves open, plus probes just outside each class (the neighbouring port, VLAN or address, the other
// protocol, the other direction) and traffic no class matches, all derived from the declared policy
// (lib/policy/probes.ts) and judged by what the policy says of each frame sent (lib/policy/classify.ts).
// Dropped classes must never cross yet reach the guest, forwarded ones arrive byte-exact (or with their
// allowed changes), rewrites are checked per frame; where a class's frames split along an open dimension
// the failure names it. Verdicts come from the policy, not the load (lib/policy/traffic-plan.ts): the
// functional window is slow, a rate class is measured one kind of frame at a time at three times its rate
// and its probes beside a baseline of the same path. Real TCP connections, HTTP requests (request classes:
// forward, block, rewrite a header) and UDP request/response exchanges are followed at all four points.
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { DEFAULT_PROFILE } from '../lib/core/paths.ts';
import { otherSide, type Side } from '../lib/core/sides.ts';
import type { Lab } from '../lib/lab/lab.ts';
import type { FlowResult } from '../lib/analysis/flow-report.ts';
import { checkPolicyFlow, type PolicyFlowVerdict, type PolicyHints } from '../lib/policy/checks.ts';
import { splitByDimension, type VariantOutcome } from '../lib/policy/dimension-split.ts';
import { checkConnections } from '../lib/policy/connection-checks.ts';
import { checkExchange } from '../lib/policy/exchange-checks.ts';
import { checkRequest, describeRequestBehaviour } from '../lib/policy/request-checks.ts';
import {
  buildRequest,
  carriesRequests,
  classifyRequest,
  describeRequestMatch,
  idOf,
  parseHttp,
  requestProbes,
  type RequestClassification,
  type RequestProbe,
} from '../lib/policy/requests.ts';
import { emptyTrace } from '../lib/analysis/request-join.ts';
import { addressOf } from '../lib/core/addressing.ts';
import { runTag } from '../lib/core/run-id.ts';
import { runHttpExchanges, type HttpExchangeRun } from '../lib/traffic/http-exchange.ts';
import { runUdpExchange } from '../lib/traffic/udp-exchange.ts';
import { classify, factsOf } from '../lib/policy/classify.ts';
import { describeBehaviour, describeMatch, type Behaviour, type Policy, type RequestPolicy } from '../lib/policy/model.ts';
import { policyProbes, type ProbeFrame, type ProbeOptions } from '../lib/policy/probes.ts';
import { FUNCTIONAL_WINDOW, planPolicyTraffic, RATE_OVERLOAD, TOO_WIDE_SHARE, type PlannedFlow } from '../lib/policy/traffic-plan.ts';
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

interface PolicyFlow extends PlannedFlow {
  def: FlowDefinition;
}

/** What the lab's role carries: an l2-bridge's traffic includes 802.1Q-tagged frames and IPv6; a router's untagged IPv4 links do not. */
function probeOptions(lab: Lab): ProbeOptions {
  const bridge = lab.profile.role === 'l2-bridge';
  return { tagged: bridge, ipv6: bridge };
}

function plan(lab: Lab, policy: Policy): PolicyFlow[] {
  const template = (from: Side, frame: ProbeFrame) => probeTemplate(lab, from, otherSide(from), frame);
  // What the policy says of the very frame built: the expectation is derived, never written twice.
  const probes = policyProbes(policy, probeOptions(lab)).map((probe) => ({
    probe,
    expected: classify(policy, factsOf(template(probe.from, probe.frame)), probe.from),
  }));
  return planPolicyTraffic(policy, probes).map((f) => ({
    ...f,
    def: { name: f.name, from: f.probe.from, to: otherSide(f.probe.from), template: template(f.probe.from, f.probe.frame), ...f.shape },
  }));
}

const windows = new WeakMap<Lab, Map<string, Promise<TrafficRun>>>();

/** A window of the lab's policy traffic, sent once (interleaved); later tests get the same run. */
function windowOf(lab: Lab, flows: PolicyFlow[], which: string): Promise<TrafficRun> {
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

function describeWindow(which: string): string {
  return which === FUNCTIONAL_WINDOW
    ? "policy functional window (every class's frames and probes, a few each, slowly, sent together)"
    : `policy window of ${which.replace(/^rate /, 'class ')}: each frame kind alone at ${RATE_OVERLOAD}× the declared rate, then the probes beside a baseline`;
}

/** Check the flows derived from one class (or the unmatched ones), each against what the policy says of it. */
async function checkFlows(lab: Lab, all: PolicyFlow[], of: string, slice: string): Promise<void> {
  const mine = all.filter((f) => f.probe.of === of);
  const results = new Map<PolicyFlow, FlowResult>();
  const slices: { run: TrafficRun; flows: PolicyFlow[] }[] = [];
  for (const which of [...new Set(mine.map((f) => f.window))]) {
    const flows = mine.filter((f) => f.window === which);
    const run = await allure.step(describeWindow(which), () => windowOf(lab, all, which));
    const sliced = await sliceRun(
      run,
      `${slice}-${which}`,
      flows.map((f) => f.def.name),
    );
    for (const f of flows)
      results.set(
        f,
        sliced.report.flows.find((r) => r.name === f.def.name)!,
      );
    slices.push({ run: sliced, flows });
  }
  const verdicts = new Map<PolicyFlow, PolicyFlowVerdict>();
  for (const [f, result] of results)
    if (f.judge !== 'baseline') verdicts.set(f, checkPolicyFlow(result, f.probe, f.expected, hintsFor(f, results, lab)));
  for (const { run, flows } of slices) {
    const cells: Record<string, PolicyCells> = {};
    for (const f of flows) {
      const v = verdicts.get(f);
      cells[f.def.name] = v
        ? { declared: v.declared, observed: v.observed, pass: v.checks.every((c) => c.result.pass) }
        : { declared: "reference: the path's own loss at this load", observed: baselineText(results.get(f)!), pass: true };
    }
    await attachTrafficEvidence(run, cells);
  }
  // Frame kinds of the class that behave differently along an open dimension: one line naming it.
  const outcomes: VariantOutcome[] = [...verdicts]
    .filter(([f]) => f.probe.kind === 'in-class' && f.judge === 'strict' && f.expected.behaviour !== 'role')
    .map(([f, v]) => ({
      probe: f.probe,
      result: results.get(f)!,
      behaviour: f.expected.behaviour as Behaviour,
      failures: v.checks.filter((c) => !c.result.pass).map((c) => c.result),
    }));
  const splits = of === 'no class' ? [] : splitByDimension(of, outcomes);
  const folded = new Set(splits.flatMap((s) => s.folded));
  const verdict = checks();
  for (const s of splits) verdict.add(`class ${of}: frames along the dimensions it leaves open`, s.result);
  for (const [f, v] of verdicts)
    for (const c of v.checks) if (c.result.pass || !folded.has(f.probe.name) || f.probe.kind !== 'in-class') verdict.add(c.check, c.result);
  await verdict.assert();
}

/** Whether the same frame kind of the class from the other side was dropped (a rule that matches one direction); the baseline beside a probe. */
function hintsFor(f: PolicyFlow, results: Map<PolicyFlow, FlowResult>, lab: Lab): PolicyHints {
  // A router rewrites the MACs and decrements the TTL of every frame it forwards, whatever the class.
  const hints: PolicyHints = lab.profile.role === 'l3-forwarder' ? { roleChanges: ['srcMac', 'dstMac', 'ttl'] } : {};
  if (f.judge === 'beside-baseline') {
    const baseline = [...results].find(([g]) => g.judge === 'baseline' && g.window === f.window && g.probe.from === f.probe.from);
    if (baseline) hints.baseline = { flow: baseline[1], allowedExcess: TOO_WIDE_SHARE * (1 - 1 / RATE_OVERLOAD) };
  }
  if (f.probe.kind !== 'in-class') return hints;
  const twin = [...results].find(
    ([g]) =>
      g.probe.kind === 'in-class' &&
      g.probe.from !== f.probe.from &&
      g.probe.variant.l3 === f.probe.variant.l3 &&
      g.probe.variant.tagged === f.probe.variant.tagged,
  );
  if (!twin) return hints;
  const result = twin[1];
  const ingress = result.from === 'left' ? 'guest-left' : 'guest-right';
  const egress = result.to === 'left' ? 'guest-left' : 'guest-right';
  return { ...hints, droppedFromOtherSide: result.received[ingress] > 0 && result.received[egress] === 0 };
}

function baselineText(f: FlowResult): string {
  return `delivered ${f.sent - f.lost} of ${f.sent} (${f.sent > 0 ? ((f.lost / f.sent) * 100).toFixed(1) : '0.0'} % lost)`;
}

interface RequestPlan {
  requests: RequestPolicy;
  items: { probe: RequestProbe; id: string; raw: Buffer; expected: RequestClassification }[];
}

/** Every request probe with its id and bytes, and what its class says of it. */
function requestPlan(lab: Lab, requests: RequestPolicy): RequestPlan {
  const tag = runTag(lab.runId).toString(16);
  const items = requestProbes(requests).map((probe, i) => {
    const id = `${tag}-${i + 1}`;
    const host = `${addressOf(lab.hosts[otherSide(probe.from)].ipv4)}:${requests.port}`;
    return { probe, id, raw: buildRequest(probe.spec, id, host), expected: classifyRequest(requests, probe.spec, probe.from) };
  });
  return { requests, items };
}

const requestRuns = new WeakMap<Lab, Promise<HttpExchangeRun>>();

/** The lab's HTTP requests, every class's and probe's, sent once (both ways at once); later tests get the same run. */
function requestRunOf(lab: Lab, plan: RequestPlan): Promise<HttpExchangeRun> {
  let run = requestRuns.get(lab);
  if (!run) {
    run = runHttpExchanges(
      lab,
      'policy-requests',
      plan.items.map((x) => ({ id: x.id, from: x.probe.from, raw: x.raw })),
      { port: plan.requests.port, connectTimeoutS: 3, responseTimeoutS: REQUEST_TIMEOUT_S },
    );
    requestRuns.set(lab, run);
  }
  return run;
}

/** How long a client waits for an answer: a blocked request with `blockedAs: timeout` costs this once (all are sent at once). */
const REQUEST_TIMEOUT_S = 4;

/** Check the requests derived from one request class (or the unmatched ones) against what their classes declare. */
async function checkRequests(lab: Lab, plan: RequestPlan, of: string, pattern?: string): Promise<void> {
  const run = await allure.step('HTTP requests: every class and probe, one connection each, both ways at once', () =>
    requestRunOf(lab, plan),
  );
  const verdict = checks();
  const evidence: Record<string, unknown>[] = [];
  for (const x of plan.items.filter((i) => i.probe.of === of)) {
    const served = run.served[otherSide(x.probe.from)].filter((raw) => idOf(parseHttp(raw)) === x.id);
    const client = run.clients.get(x.id);
    const v = checkRequest(
      { probe: x.probe, id: x.id, sent: x.raw, served, ...(client ? { client } : {}), trace: run.traces.get(x.id) ?? emptyTrace() },
      x.expected,
      pattern,
    );
    for (const c of v.checks) verdict.add(c.check, c.result);
    evidence.push({
      request: x.probe.name,
      id: x.id,
      declared: v.declared,
      observed: v.observed,
      sent: x.raw.toString('latin1'),
      servedAs: served.map((b) => b.toString('latin1')),
      client: client ? { ...client, received: client.received.toString('latin1') } : null,
      seenPerPoint: run.traces.get(x.id) ?? null,
    });
  }
  await allure.attachment(`${of}: requests`, JSON.stringify(evidence, null, 2), { contentType: 'application/json', fileExtension: 'json' });
  await attachPcaps(`${of}: requests`, run.pcaps);
  await verdict.assert();
}

async function attachPcaps(name: string, pcaps: Record<string, string>): Promise<void> {
  for (const [point, file] of Object.entries(pcaps))
    await allure.attachment(`${name}: ${point}.pcap`, await readFile(file), {
      contentType: 'application/vnd.tcpdump.pcap',
      fileExtension: 'pcap',
    });
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
      await attachPcaps(c.name, run.pcaps);
      const verdict = checks();
      verdict.check(`connections ${c.name}`, checkConnections(c, run.results, run.traces));
      await verdict.assert();
    });
  }

  const requests = policy.requests;
  if (requests) {
    const exchangesOf = new WeakMap<Lab, RequestPlan>();
    const requestsFor = (lab: Lab) => exchangesOf.get(lab) ?? exchangesOf.set(lab, requestPlan(lab, requests)).get(lab)!;
    for (const c of requests.classes) {
      test(`request class ${c.name}: ${describeRequestBehaviour(c.behaviour)} — ${describeRequestMatch(c.match)}; requests just outside it follow their own class`, async ({
        lab,
      }) => {
        allure.parameter('declared', `${describeRequestBehaviour(c.behaviour)} for ${describeRequestMatch(c.match)}`);
        await checkRequests(lab, requestsFor(lab), c.name, c.match.contains ?? c.match.bodyContains);
      });
    }
    test('requests no class matches: forwarded as sent, both ways', ({ lab }) => checkRequests(lab, requestsFor(lab), 'no class'));
  }

  policy.exchanges.forEach((x, k) => {
    const to = otherSide(x.from);
    test(`exchanges ${x.name}: ${x.count} UDP requests ${x.from} → ${to}:${x.port}, ${x.expect === 'answered' ? 'each answered, matched to its request' : 'none answered'}`, async ({
      lab,
    }) => {
      const run = await allure.step(
        `${x.count} UDP requests from the ${x.from} host to a responder on the ${to} host, port ${x.port}`,
        () =>
          runUdpExchange(lab, `exchanges-${x.name}`, {
            from: x.from,
            port: x.port,
            count: x.count,
            idPrefix: runTag(lab.runId).toString(16),
            first: 10_000 * (k + 1),
            waitS: 2,
          }),
      );
      await allure.attachment(
        `${x.name}: exchanges`,
        JSON.stringify({ client: run.client, server: run.server, sent: run.sent, replies: run.replies, served: run.served }, null, 2),
        { contentType: 'application/json', fileExtension: 'json' },
      );
      await attachPcaps(x.name, run.pcaps);
      const verdict = checks();
      verdict.check(`exchanges ${x.name}`, checkExchange(x, run, run.traces));
      await verdict.assert();
    });
  });

  const fallback = policy.default === 'role' ? `the ${profile.role}'s contract` : policy.default;
  test(`traffic no class matches: ${fallback} (policy.default: ${policy.default})`, ({ lab }) =>
    checkFlows(lab, flowsFor(lab), 'no class', 'unmatched'));

  // A proxy answers requests in the server's name and opens connections of its own to it: that is its declared work.
  emissionsTest(
    requests
      ? { what: `TCP on port ${requests.port} (the HTTP the service handles, policy.requests)`, frame: carriesRequests(requests.port) }
      : undefined,
  );
});
