// Checks on HTTP requests through the service, each against what its request class declares
// (lib/policy/requests.ts): a forwarded request reaches the server as sent — method, target, every
// header one by one, body — and its response reaches the client as the server sent it; a blocked one
// never reaches the server (yet reached the guest), and the client sees what the class declares (a reset,
// no answer, an error page); a rewritten one reaches the server with exactly the declared header change.
// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not compared. A failure names
// the class, the direction, the request and the cause; where the request stopped comes from the four
// capture points.
//
// Pure: what the server logged, what the client got and the capture tallies in, match results out.
import { flowPath, otherSide, pointName } from '../core/sides.ts';
import type { MarkerTrace } from '../analysis/request-join.ts';
import type { MatchResult } from '../analysis/matchers.ts';
import type { HeaderChange, RequestBehaviour } from './model.ts';
import { describeRequest, parseHttp, serverResponse, type RequestClassification, type RequestProbe, type RequestSpec } from './requests.ts';

/** What the client saw of one request (lib/traffic/http-exchange.ts). */
export interface ClientExchange {
  outcome: 'response' | 'closed' | 'timeout' | 'connect-timeout' | 'reset' | 'refused' | 'error';
  /** The bytes it received (a response, or what came before a reset). */
  received: Buffer;
  ms: number;
  error?: string;
}

export interface RequestEvidence {
  probe: RequestProbe;
  id: string;
  /** The request as the client sent it. */
  sent: Buffer;
  /** The requests with this id the server received (more than one: something retried it). */
  served: Buffer[];
  client?: ClientExchange;
  trace: MarkerTrace;
}

export interface RequestVerdict {
  checks: { check: string; result: MatchResult }[];
  declared: string;
  observed: string;
}

/** Headers of one connection, not of the message (RFC 9110 §7.6.1): a proxy may change them. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export function describeRequestBehaviour(b: RequestBehaviour): string {
  switch (b.action) {
    case 'forward':
      return 'forward as sent';
    case 'block':
      return `block (${b.blockedAs === 'error-page' ? `error page ${b.status}` : b.blockedAs})`;
    case 'rewrite-header':
      return `rewrite header ${describeChange(b.header)}`;
  }
}

export function checkRequest(e: RequestEvidence, expected: RequestClassification, pattern?: string): RequestVerdict {
  const p = e.probe;
  const arrow = p.from === 'left' ? 'left→right' : 'right→left';
  const label =
    p.kind === 'unmatched'
      ? `requests no class matches (${arrow})`
      : p.kind === 'neighbour'
        ? `request probe outside class "${p.of}" (${p.what}, ${arrow})`
        : p.what === 'in class'
          ? `request class "${p.of}" ${arrow}`
          : `request class "${p.of}" (${p.what}, ${arrow})`;
  const by = expected.class ? `class "${expected.class.name}"` : 'no class (requests no class matches are forwarded)';
  const declared = `${describeRequestBehaviour(expected.behaviour)} (${expected.class ? `class "${expected.class.name}"` : 'no class'})`;
  const what = describeRequest(parseSpec(e.sent), pattern);
  const checks: RequestVerdict['checks'] = [];
  const add = (result: MatchResult) => checks.push({ check: `${p.name}: ${declared}`, result });
  const b = expected.behaviour;
  if (b.action === 'block') {
    const blocked = notServed(e, label, what, by);
    add(blocked);
    // What the client saw says how it was blocked; a request that was not blocked at all has said everything.
    if (blocked.pass) add(clientSawBlock(e, label, what, b));
  } else {
    const served = reachedServer(e, label, what, by);
    add(served);
    if (served.pass) add(arrivedAsDeclared(e, label, what, by, b.action === 'rewrite-header' ? b.header : undefined));
    add(responseIntact(e, label, what));
  }
  return { checks, declared, observed: observedText(e) };
}

function notServed(e: RequestEvidence, label: string, what: string, by: string): MatchResult {
  const path = flowPath({ from: e.probe.from, to: otherSide(e.probe.from) });
  const atGuest = e.trace[path.ingress].requests;
  if (e.served.length > 0)
    return fail(`${label}: ${what} reached the server, but ${by} blocks it — the image lets it through.`, [
      `The server received it ${e.served.length === 1 ? 'once' : `${e.served.length} times`}; ${seenText(e)}`,
    ]);
  if (atGuest === 0)
    return fail(`${label}: ${what} never reached the guest, so its blocking proves nothing (the lab or the client stopped it).`, [
      seenText(e),
      clientText(e),
    ]);
  return ok(`${label}: ${what} reached the guest and never the server, as ${by} declares.`);
}

function clientSawBlock(e: RequestEvidence, label: string, what: string, b: Extract<RequestBehaviour, { action: 'block' }>): MatchResult {
  const c = e.client;
  if (!c) return fail(`${label}: the client reported nothing for ${what}.`, []);
  const status = c.outcome === 'response' || c.outcome === 'closed' ? statusOf(c.received) : undefined;
  const saw =
    b.blockedAs === 'reset'
      ? c.outcome === 'reset'
      : b.blockedAs === 'timeout'
        ? c.outcome === 'timeout' && c.received.length === 0
        : status === b.status;
  const declaredText =
    b.blockedAs === 'error-page' ? `an error page with status ${b.status}` : b.blockedAs === 'reset' ? 'a reset' : 'no answer';
  if (saw) return ok(`${label}: the client saw ${declaredText}, as declared.`);
  return fail(`${label}: the client saw ${clientOutcomeText(c)}, not the declared ${declaredText}.`, [clientText(e), seenText(e)]);
}

function reachedServer(e: RequestEvidence, label: string, what: string, by: string): MatchResult {
  if (e.served.length === 1) return ok(`${label}: ${what} reached the server.`);
  if (e.served.length > 1)
    return fail(`${label}: the server received ${what} ${e.served.length} times — the image repeats requests.`, [seenText(e)]);
  const path = flowPath({ from: e.probe.from, to: otherSide(e.probe.from) });
  const atIngress = e.trace[path.ingress].requests;
  const atEgress = e.trace[path.egress].requests;
  const where =
    atIngress === 0
      ? 'it never reached the guest (lost in the lab, or the client could not connect)'
      : atEgress === 0
        ? `it reached ${pointName(path.ingress)} and never left ${pointName(path.egress)}`
        : 'it left the guest but the server never logged it';
  const cause =
    atIngress === 0 || atEgress > 0
      ? where
      : e.probe.kind === 'neighbour'
        ? `the image blocks more than class "${e.probe.of}": its rule matches too wide`
        : 'the image blocks a request its policy forwards';
  return fail(`${label}: ${what} never reached the server, but ${by} forwards it — ${cause}.`, [
    `Where: ${where}. ${seenText(e)}`,
    clientText(e),
  ]);
}

function arrivedAsDeclared(e: RequestEvidence, label: string, what: string, by: string, change?: HeaderChange): MatchResult {
  const sent = parseHttp(e.sent);
  const got = parseHttp(e.served[0]!);
  const expectedHeaders = change ? applyChange(sent.headers, change) : sent.headers;
  const { missing, extra } = headerDiff(expectedHeaders, got.headers);
  const problems: string[] = [];
  if (got.startLine !== sent.startLine) problems.push(`request line "${got.startLine}", not "${sent.startLine}"`);
  if (change) {
    const values = got.headers.filter(([n]) => n.toLowerCase() === change.name.toLowerCase()).map(([, v]) => v);
    if (change.remove && values.length > 0) problems.push(`header ${change.name}: ${values.join(', ')} still there, not removed`);
    if (!change.remove && (values.length !== 1 || values[0] !== change.set))
      problems.push(
        `header ${change.name} ${values.length === 0 ? 'absent' : `as ${values.map((v) => `"${v}"`).join(', ')}`}, not "${change.set}"`,
      );
  }
  const others = (list: [string, string][]) => list.filter(([n]) => !change || n.toLowerCase() !== change.name.toLowerCase());
  for (const [n, v] of others(missing)) problems.push(`header ${n}: ${v} missing`);
  for (const [n, v] of others(extra)) problems.push(`header ${n}: ${v} added`);
  if (!got.body.equals(sent.body)) problems.push(`body of ${got.body.length} bytes, not the ${sent.body.length} sent`);
  if (problems.length === 0)
    return ok(`${label}: the server got ${what} ${change ? `with exactly ${describeChange(change)}` : 'as sent, header by header'}.`);
  const cause = change
    ? problems[0]!.startsWith(`header ${change.name}`)
      ? 'the image rewrites the header wrongly'
      : `the image changes more than ${describeChange(change)}`
    : 'the image changes requests it should pass as they are';
  return fail(`${label}: the server got ${problems[0]}, but ${by} declares ${change ? describeChange(change) : 'no change'} — ${cause}.`, [
    `Differences: ${problems.join('; ')}.`,
    `Sent:\n${indent(e.sent)}`,
    `Received by the server:\n${indent(e.served[0]!)}`,
  ]);
}

function responseIntact(e: RequestEvidence, label: string, what: string): MatchResult {
  const c = e.client;
  if (!c) return fail(`${label}: the client reported nothing for ${what}.`, []);
  if (e.served.length === 0) return ok(`${label}: no response expected (the server never got the request).`);
  const sent = parseHttp(serverResponse(e.id));
  if (c.outcome !== 'response' && c.outcome !== 'closed') {
    const path = flowPath({ from: otherSide(e.probe.from), to: e.probe.from });
    const cause =
      e.trace[path.ingress].responses > 0 && e.trace[path.egress].responses === 0
        ? `the response reached ${pointName(path.ingress)} and never left ${pointName(path.egress)}: the image drops the responses`
        : 'the response did not come back';
    return fail(`${label}: the server answered ${what}, but the client saw ${clientOutcomeText(c)} — ${cause}.`, [
      seenText(e),
      clientText(e),
    ]);
  }
  const got = parseHttp(c.received);
  const { missing, extra } = headerDiff(sent.headers, got.headers);
  const problems = [
    ...(got.startLine !== sent.startLine ? [`status line "${got.startLine}", not "${sent.startLine}"`] : []),
    ...missing.map(([n, v]) => `header ${n}: ${v} missing`),
    ...extra.map(([n, v]) => `header ${n}: ${v} added`),
    ...(!got.body.equals(sent.body)
      ? [`body "${got.body.toString('latin1').slice(0, 60)}", not "${sent.body.toString('latin1').trim()}"`]
      : []),
  ];
  if (problems.length === 0) return ok(`${label}: the response reached the client as the server sent it.`);
  return fail(`${label}: the response to ${what} reached the client with ${problems[0]} — the image changes responses.`, [
    `Differences: ${problems.join('; ')}.`,
    `Received by the client:\n${indent(c.received)}`,
  ]);
}

/** The end-to-end headers of `expected` that `got` lacks, and those `got` has beyond it (names case-insensitive, values exact). */
export function headerDiff(
  expected: [string, string][],
  got: [string, string][],
): { missing: [string, string][]; extra: [string, string][] } {
  const key = ([n, v]: [string, string]) => `${n.toLowerCase()}\0${v}`;
  const endToEnd = (list: [string, string][]) => list.filter(([n]) => !HOP_BY_HOP.has(n.toLowerCase()));
  const left = new Map<string, number>();
  for (const h of endToEnd(got)) left.set(key(h), (left.get(key(h)) ?? 0) + 1);
  const missing: [string, string][] = [];
  for (const h of endToEnd(expected)) {
    const n = left.get(key(h)) ?? 0;
    if (n > 0) left.set(key(h), n - 1);
    else missing.push(h);
  }
  const extra = endToEnd(got).filter((h) => {
    const n = left.get(key(h)) ?? 0;
    if (n > 0) left.set(key(h), n - 1);
    return n > 0;
  });
  return { missing, extra };
}

function applyChange(headers: [string, string][], change: HeaderChange): [string, string][] {
  const kept = headers.filter(([n]) => n.toLowerCase() !== change.name.toLowerCase());
  return change.remove ? kept : [...kept, [change.name, change.set!]];
}

function describeChange(change: HeaderChange): string {
  return change.remove ? `${change.name} removed` : `${change.name}: ${change.set}`;
}

function parseSpec(raw: Buffer): RequestSpec {
  const m = parseHttp(raw);
  const [method = '', target = ''] = m.startLine.split(' ');
  return { method, target, headers: m.headers, body: m.body.toString('latin1') };
}

function statusOf(raw: Buffer): number | undefined {
  const status = /^HTTP\/\d\.\d (\d{3})/.exec(raw.toString('latin1'))?.[1];
  return status === undefined ? undefined : Number(status);
}

function clientOutcomeText(c: ClientExchange): string {
  switch (c.outcome) {
    case 'response':
    case 'closed': {
      const status = statusOf(c.received);
      return status !== undefined
        ? `a response with status ${status}`
        : c.received.length > 0
          ? 'an unreadable answer'
          : 'the connection closed with no answer';
    }
    case 'timeout':
      return c.received.length > 0 ? 'part of an answer, then nothing' : 'no answer (timed out)';
    case 'connect-timeout':
      return 'no connection (the connect timed out)';
    case 'reset':
      return 'a reset';
    case 'refused':
      return 'the connection refused';
    case 'error':
      return `an error (${c.error ?? 'unknown'})`;
  }
}

function clientText(e: RequestEvidence): string {
  return e.client
    ? `The client saw ${clientOutcomeText(e.client)} after ${e.client.ms.toFixed(0)} ms${e.client.error ? ` (${e.client.error})` : ''}.`
    : '';
}

/** Where the request's and the response's bytes were seen: the four points in path order. */
function seenText(e: RequestEvidence): string {
  const to = otherSide(e.probe.from);
  const path = flowPath({ from: e.probe.from, to });
  const points = [path.sender, path.ingress, path.egress, path.receiver];
  const req = points.map((pt) => `${e.trace[pt].requests} at ${pointName(pt)}`).join(', ');
  const rsp = [...points]
    .reverse()
    .map((pt) => `${e.trace[pt].responses} at ${pointName(pt)}`)
    .join(', ');
  const resets = points.filter((pt) => e.trace[pt].resets > 0).map((pt) => `${e.trace[pt].resets} at ${pointName(pt)}`);
  return `Segments carrying the request: ${req}; the response: ${rsp}${resets.length ? `; resets: ${resets.join(', ')}` : ''}.`;
}

function observedText(e: RequestEvidence): string {
  const c = e.client ? clientOutcomeText(e.client) : 'nothing from the client';
  return e.served.length > 0 ? `served; the client saw ${c}` : `NOT served; the client saw ${c}`;
}

function indent(raw: Buffer): string {
  return raw
    .toString('latin1')
    .slice(0, 1500)
    .split('\r\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function ok(headline: string): MatchResult {
  return { pass: true, headline, message: headline };
}

function fail(headline: string, details: string[]): MatchResult {
  return { pass: false, headline, message: [headline, ...details.filter(Boolean)].join('\n') };
}
