// Checks on UDP request/response exchanges through the service (a DNS-like service behind a firewall or
// a NAT gateway): every request answered exactly once, each answer matched to its request by its id and
// coming back from the address and port the request went to (a NAT gateway translates replies back), or —
// where the policy blocks them — none answered though the requests reached the guest. A failure says where
// the exchange broke, from the datagrams seen at the four points: the requests never crossed, or they were
// answered and the replies never crossed back (an image that drops the return direction).
//
// Pure: what the client and the responder logged and the capture tallies in, a match result out.
import { flowPath, otherSide, pointName } from '../core/sides.ts';
import type { MarkerTrace } from '../analysis/request-join.ts';
import type { MatchResult } from '../analysis/matchers.ts';
import type { ExchangeExpectation } from './model.ts';

export interface ExchangeObservations {
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  /** Request ids in the order sent. */
  sent: string[];
  /** Every datagram the client received: where from, and the request id it answers. */
  replies: { fromIp: string; fromPort: number; id?: string }[];
  /** Every datagram the responder received: where from (after any translation), its id. */
  served: { fromIp: string; fromPort: number; id?: string }[];
}

export function checkExchange(spec: ExchangeExpectation, obs: ExchangeObservations, traces: Map<string, MarkerTrace>): MatchResult {
  const to = otherSide(spec.from);
  const label = `exchanges "${spec.name}" (${spec.from} → ${to}:${spec.port}, UDP)`;
  const ask = flowPath({ from: spec.from, to });
  const back = flowPath({ from: to, to: spec.from });
  const sum = (key: 'requests' | 'responses', point: keyof MarkerTrace) =>
    obs.sent.reduce((n, id) => n + (traces.get(id)?.[point][key] ?? 0), 0);
  const seen =
    `Requests seen: ${sum('requests', ask.sender)} leaving the ${spec.from} host, ` +
    `${sum('requests', ask.ingress)} at ${pointName(ask.ingress)}, ` +
    `${sum('requests', ask.egress)} at ${pointName(ask.egress)}, ${sum('requests', ask.receiver)} at the ${to} host; replies: ` +
    `${sum('responses', back.sender)} leaving the ${to} host, ${sum('responses', back.ingress)} at ${pointName(back.ingress)}, ` +
    `${sum('responses', back.egress)} at ${pointName(back.egress)}, ${sum('responses', back.receiver)} at the ${spec.from} host.`;
  const sources = [...new Set(obs.served.map((s) => `${s.fromIp}:${s.fromPort}`))];
  const servedText =
    `The responder saw the requests from ${sources.join(', ') || 'nowhere'} ` + `(sent from ${obs.client.ip}:${obs.client.port}).`;
  const n = obs.sent.length;
  if (n === 0) return fail(`${label}: the client sent nothing.`, []);
  const answered = new Set(obs.replies.map((r) => r.id).filter((id) => id !== undefined && obs.sent.includes(id)));
  if (spec.expect === 'blocked') {
    if (answered.size === 0 && sum('requests', ask.ingress) > 0)
      return ok(`${label}: none of ${n} requests answered, as the policy blocks them (${sum('requests', ask.ingress)} reached the guest).`);
    if (answered.size === 0) return fail(`${label}: no request reached the guest, so its blocking them proves nothing.`, [seen]);
    return fail(`${label}: ${answered.size} of ${n} requests were answered, but the policy blocks them — the image lets them through.`, [
      seen,
      servedText,
    ]);
  }
  const wrongSource = obs.replies.filter((r) => r.fromIp !== obs.server.ip || r.fromPort !== obs.server.port);
  const unmatched = obs.replies.filter((r) => r.id === undefined || !obs.sent.includes(r.id));
  const repeated = obs.replies.length - unmatched.length - answered.size;
  if (answered.size === n && wrongSource.length === 0 && unmatched.length === 0 && repeated === 0)
    return ok(
      `${label}: all ${n} requests answered once, each matched to its request, from ${obs.server.ip}:${obs.server.port}. ${servedText}`,
    );
  let cause: string;
  if (answered.size < n && sum('responses', back.ingress) > 0 && sum('responses', back.egress) === 0)
    cause =
      `the responder answered, but the replies reached ${pointName(back.ingress)} and never left ${pointName(back.egress)}: ` +
      'the image drops the replies';
  else if (answered.size < n && sum('requests', ask.ingress) > 0 && sum('requests', ask.egress) === 0)
    cause = 'the requests reached the guest and never left it: the image drops them';
  else if (wrongSource.length > 0)
    cause =
      `${wrongSource.length} replies came from ${[...new Set(wrongSource.map((r) => `${r.fromIp}:${r.fromPort}`))].join(', ')}, not ` +
      `${obs.server.ip}:${obs.server.port} the requests went to: the image does not translate the replies back`;
  else if (unmatched.length > 0) cause = `${unmatched.length} replies match no request sent`;
  else if (repeated > 0) cause = `${repeated} replies came more than once: the image duplicates them`;
  else cause = 'some were lost on the way';
  return fail(`${label}: ${answered.size} of ${n} requests answered — ${cause}.`, [seen, servedText]);
}

function ok(headline: string): MatchResult {
  return { pass: true, headline, message: headline };
}

function fail(headline: string, details: string[]): MatchResult {
  return { pass: false, headline, message: [headline, ...details.filter(Boolean)].join('\n') };
}
