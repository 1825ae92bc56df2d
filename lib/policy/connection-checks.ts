// Checks on real TCP connections through the service: those the policy lets through are established,
// every byte echoed, with their set-up time reported; those it blocks never are (and their SYNs did
// reach the guest). A failure says where the connection broke, from the segments seen at the four
// points: the SYN never crossed, or it crossed and the reply did not — an image that drops the
// return direction of connections, which stateless frame checks cannot see.
//
// Pure: the client's results and the per-connection traces in, a match result out.
import { guestPoint, hostPoint, otherSide, pointName } from '../core/sides.ts';
import type { MatchResult } from '../analysis/matchers.ts';
import type { ConnectionTrace, SegmentTally } from '../analysis/tcp-join.ts';
import type { ConnectionExpectation } from './model.ts';

/** What the client reported of one connection (lib/traffic/tcp-connections.ts). */
export interface ClientOutcome {
  ok: boolean;
  setupMs: number | null;
  sent: number;
  received: number;
  error?: string;
}

export function checkConnections(
  spec: ConnectionExpectation,
  results: readonly ClientOutcome[],
  traces: readonly ConnectionTrace[],
): MatchResult {
  const to = otherSide(spec.from);
  const label = `connections "${spec.name}" (${spec.from} → ${to}:${spec.port})`;
  const established = results.filter((r) => r.setupMs !== null).length;
  const whole = results.filter((r) => r.ok).length;
  const count = results.length;
  const sum = (point: 'cHost' | 'cGuest' | 'sGuest' | 'sHost', key: keyof SegmentTally) =>
    traces.reduce(
      (n, t) =>
        n +
        t.points[{ cHost: hostPoint(spec.from), cGuest: guestPoint(spec.from), sGuest: guestPoint(to), sHost: hostPoint(to) }[point]][key],
      0,
    );
  const cPort = pointName(guestPoint(spec.from));
  const sPort = pointName(guestPoint(to));
  const seen =
    `SYNs seen: ${sum('cHost', 'syn')} leaving the ${spec.from} host, ${sum('cGuest', 'syn')} at ${cPort}, ` +
    `${sum('sGuest', 'syn')} at ${sPort}, ${sum('sHost', 'syn')} at the ${to} host; ` +
    `SYN-ACKs: ${sum('sHost', 'synAck')} leaving the ${to} host, ${sum('sGuest', 'synAck')} at ${sPort}, ` +
    `${sum('cGuest', 'synAck')} at ${cPort}, ${sum('cHost', 'synAck')} at the ${spec.from} host.`;
  const errors = [...new Set(results.map((r) => r.error).filter(Boolean))].join('; ');
  if (count === 0) return fail(`${label}: the client reported no connection at all.`, [seen]);
  if (spec.expect === 'blocked') {
    if (established === 0 && sum('cGuest', 'syn') > 0)
      return ok(
        `${label}: none of ${count} connections was established, as the policy blocks them ` +
          `(${sum('cGuest', 'syn')} SYNs reached the guest).`,
      );
    if (established === 0)
      return fail(`${label}: no SYN reached the guest, so its blocking them proves nothing (the lab stopped them).`, [seen]);
    return fail(
      `${label}: ${established} of ${count} connections were established, but the policy blocks them — the image lets new ` +
        `connections in from the ${spec.from}.`,
      [seen],
    );
  }
  const setups = results
    .map((r) => r.setupMs)
    .filter((v): v is number => v !== null)
    .sort((a, b) => a - b);
  const setupText =
    setups.length > 0 ? `set-up ${fmt(setups[Math.floor(setups.length / 2)]!)} median, ${fmt(setups.at(-1)!)} max` : 'no set-up';
  if (whole === count) return ok(`${label}: all ${count} connections established, ${spec.bytes} bytes each way each (${setupText}).`);
  let cause: string;
  if (established < count && sum('sGuest', 'synAck') > 0 && sum('cGuest', 'synAck') === 0)
    cause =
      `the SYN crossed the guest, but the reply (SYN-ACK) reached its ${to} port and never left its ${spec.from} port: the image ` +
      'drops the return direction of connections';
  else if (established < count && sum('cGuest', 'syn') > 0 && sum('sGuest', 'syn') === 0)
    cause = 'the image drops the SYNs: it blocks these connections';
  else if (established < count) cause = `they did not complete (${errors || 'no error reported'})`;
  else cause = `connected, but the bytes did not all cross (${errors || 'short echo'}): the image drops data of established connections`;
  return fail(`${label}: ${whole} of ${count} completed — ${cause}.`, [
    `Each connection sends ${spec.bytes} bytes and reads them back; ${established} of ${count} were established (${setupText}).`,
    seen,
    errors ? `The client said: ${errors}.` : '',
  ]);
}

function fmt(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}

function ok(headline: string): MatchResult {
  return { pass: true, headline, message: headline };
}

function fail(headline: string, details: string[]): MatchResult {
  return { pass: false, headline, message: [headline, ...details.filter(Boolean)].join('\n') };
}
