// HTTP requests through a service that acts on what a connection carries (a DPI or SQL-injection filter,
// a header-rewriting proxy): the requests the policy suite sends, derived from the declared request
// classes alone — for each class a request inside it from each side it applies to, and requests just
// outside it: the same request without the pattern, with the pattern in another case, URL-encoded, in a
// header instead of the body (or the other way round), another method or path, the other direction. What
// each must do is what the classes say of the very request built (first match wins, unmatched requests
// are forwarded), so a probe that lands inside a class is held to that class.
//
// Pure: a request policy in, request descriptions and bytes out; bytes in, parsed requests out.
import { otherSide, SIDES, type Side } from '../core/sides.ts';
import { parse } from '../frames/index.ts';
import { appliesFrom, type RequestBehaviour, type RequestClass, type RequestMatch, type RequestPolicy } from './model.ts';

/** A request as the suite writes it; the id header, Host and Content-Length are added when it is built. */
export interface RequestSpec {
  method: string;
  /** Path with an optional query. */
  target: string;
  headers: [string, string][];
  body: string;
}

export interface RequestProbe {
  /** Unique within the policy: "sql-injection: the pattern in another case left→right". */
  name: string;
  /** The class it was derived from ('no class' for the unmatched requests). */
  of: string;
  kind: 'in-class' | 'neighbour' | 'unmatched';
  what: string;
  from: Side;
  spec: RequestSpec;
}

/** What the policy says of one request: its class (or none: forwarded). */
export interface RequestClassification {
  class?: RequestClass;
  behaviour: RequestBehaviour;
}

/** The header that carries a request's id, and the one the server's response carries it back in. */
export const REQUEST_ID_HEADER = 'X-Wirelab-Request';
export const RESPONSE_ID_HEADER = 'X-Wirelab-Response';
/** How an id appears on the wire (in a request, a response, a UDP datagram): what the capture join searches for. */
export const requestMarker = (id: string) => `wlreq-${id}`;
export const responseMarker = (id: string) => `wlrsp-${id}`;

const BASE_HEADERS: [string, string][] = [
  ['User-Agent', 'wirelab'],
  ['Accept', '*/*'],
];
/** Where a class's pattern goes when the match does not say (the body of a form POST, as a login form sends it). */
const PATTERN_FIELD = 'comment=';
/** The header a pattern is moved into when it is probed outside the body. */
const NOTE_HEADER = 'X-Note';

export function classifyRequest(policy: RequestPolicy, spec: RequestSpec, from: Side): RequestClassification {
  const hit = policy.classes.find((c) => requestMatches(c.match, spec, from));
  return hit ? { class: hit, behaviour: hit.behaviour } : { behaviour: { action: 'forward' } };
}

export function requestMatches(m: RequestMatch, spec: RequestSpec, from: Side): boolean {
  if (!appliesFrom(m, from)) return false;
  const has = (text: string, part: string) => (m.ignoreCase ? text.toLowerCase().includes(part.toLowerCase()) : text.includes(part));
  const path = spec.target.split('?')[0]!;
  if (m.method !== undefined && spec.method !== m.method) return false;
  if (m.path !== undefined && path !== m.path) return false;
  if (m.pathPrefix !== undefined && !path.startsWith(m.pathPrefix)) return false;
  if (m.header !== undefined) {
    const want = m.header;
    const values = spec.headers.filter(([n]) => n.toLowerCase() === want.name.toLowerCase()).map(([, v]) => v);
    if (values.length === 0 || (want.contains !== undefined && !values.some((v) => has(v, want.contains!)))) return false;
  }
  if (m.bodyContains !== undefined && !has(spec.body, m.bodyContains)) return false;
  if (m.contains !== undefined && !has(requestText(spec), m.contains)) return false;
  return true;
}

/** The request inside a class: its method, path, header and pattern where it names them, plain values elsewhere. */
export function inClassRequest(c: RequestClass): RequestSpec {
  const m = c.match;
  const pattern = m.bodyContains ?? m.contains;
  const method = m.method ?? (pattern !== undefined ? 'POST' : 'GET');
  const path = m.path ?? (m.pathPrefix !== undefined ? joinPath(m.pathPrefix, 'item') : '/wirelab/page');
  const headers: [string, string][] = [...BASE_HEADERS];
  if (m.header) headers.push([m.header.name, m.header.contains ?? 'on']);
  // A class that removes or replaces a header is shown doing it on a request that carries it.
  const change = c.behaviour.action === 'rewrite-header' ? c.behaviour.header : undefined;
  if (change && !headers.some(([n]) => n.toLowerCase() === change.name.toLowerCase())) headers.push([change.name, 'wirelab-original']);
  return { method, target: path, headers, body: pattern !== undefined ? `user=wirelab&${PATTERN_FIELD}${pattern}` : '' };
}

/** Every request probe of the policy: each class's request from each side it applies to, its neighbours, unmatched requests. */
export function requestProbes(policy: RequestPolicy): RequestProbe[] {
  const probes: RequestProbe[] = [];
  const seen = new Set<string>();
  const add = (p: Omit<RequestProbe, 'name' | 'kind'> & { kind?: RequestProbe['kind'] }) => {
    const key = `${p.from}:${JSON.stringify(p.spec)}`;
    if (seen.has(key)) return;
    seen.add(key);
    // A variant that still lies in its class (the pattern in another case, with ignoreCase) is one of its in-class requests.
    const inside = classifyRequest(policy, p.spec, p.from).class?.name === p.of;
    const kind = p.kind ?? (inside ? 'in-class' : 'neighbour');
    probes.push({ ...p, kind, name: `${p.of}: ${p.what} ${p.from === 'left' ? 'left→right' : 'right→left'}` });
  };
  for (const c of policy.classes) {
    const spec = inClassRequest(c);
    const sides = SIDES.filter((s) => appliesFrom(c.match, s));
    for (const from of sides) {
      add({ of: c.name, kind: 'in-class', what: 'in class', from, spec });
      for (const [what, variant] of neighbours(c, spec)) add({ of: c.name, what, from, spec: variant });
    }
    if (sides.length === 1) add({ of: c.name, kind: 'neighbour', what: 'the other direction', from: otherSide(sides[0]!), spec });
  }
  const plain: RequestSpec = { method: 'GET', target: '/wirelab/plain', headers: [...BASE_HEADERS], body: '' };
  for (const from of SIDES)
    if (!classifyRequest(policy, plain, from).class)
      add({ of: 'no class', kind: 'unmatched', what: 'a request no class matches', from, spec: plain });
  return probes;
}

/** Requests that differ from the in-class one in one thing the class matches on. */
function neighbours(c: RequestClass, spec: RequestSpec): [string, RequestSpec][] {
  const m = c.match;
  const out: [string, RequestSpec][] = [];
  const pattern = m.bodyContains ?? m.contains;
  if (pattern !== undefined) {
    const inBody = (text: string) => ({ ...spec, body: spec.body.replace(pattern, text) });
    out.push(['without the pattern', inBody('')]);
    const swapped = swapCase(pattern);
    if (swapped !== pattern) out.push(['the pattern in another case', inBody(swapped)]);
    const encoded = percentEncode(pattern);
    if (encoded !== pattern) out.push(['the pattern URL-encoded', inBody(encoded)]);
    out.push([
      m.bodyContains !== undefined ? 'the pattern in a header, not the body' : 'the pattern in a header',
      { ...inBody(''), headers: [...spec.headers, [NOTE_HEADER, pattern]] },
    ]);
  }
  if (m.header?.contains !== undefined) {
    const name = m.header.name;
    const value = m.header.contains;
    out.push([`header ${name} without "${value}"`, { ...spec, headers: spec.headers.map(([n, v]) => [n, n === name ? 'off' : v]) }]);
    out.push([`"${value}" in the body, not header ${name}`, { ...spec, headers: spec.headers.filter(([n]) => n !== name), body: value }]);
  } else if (m.header !== undefined) {
    out.push([`without header ${m.header.name}`, { ...spec, headers: spec.headers.filter(([n]) => n !== m.header!.name) }]);
  }
  if (m.method !== undefined) {
    const other = m.method === 'GET' ? 'POST' : 'GET';
    out.push([`${other} instead of ${m.method}`, { ...spec, method: other }]);
  }
  if (m.path !== undefined) out.push([`path ${m.path}x (next to ${m.path})`, { ...spec, target: `${m.path}x` }]);
  if (m.pathPrefix !== undefined) {
    const beside = siblingOfPrefix(m.pathPrefix);
    out.push([`path ${beside} (outside ${m.pathPrefix})`, { ...spec, target: beside }]);
  }
  return out;
}

/** The request as bytes: request line, Host, the spec's headers, the id header, Content-Length for a body, one request per connection. */
export function buildRequest(spec: RequestSpec, id: string, host: string): Buffer {
  const body = Buffer.from(spec.body, 'latin1');
  const lines = [
    `${spec.method} ${spec.target} HTTP/1.1`,
    `Host: ${host}`,
    ...spec.headers.map(([n, v]) => `${n}: ${v}`),
    `${REQUEST_ID_HEADER}: ${requestMarker(id)}`,
    ...(body.length > 0 || spec.method === 'POST' ? [`Content-Length: ${body.length}`] : []),
    'Connection: close',
  ];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/** What the wirelab HTTP server answers to a request with this id (lib/traffic/http-exchange.ts sends exactly this). */
export function serverResponse(id: string): Buffer {
  const body = `wirelab response ${id}\n`;
  return Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${RESPONSE_ID_HEADER}: ${responseMarker(id)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
    'latin1',
  );
}

/** An HTTP message as parsed: its first line, its headers in order, its body. */
export interface HttpMessage {
  startLine: string;
  headers: [string, string][];
  body: Buffer;
}

/** Parse a request or response; a message without its blank line is all head (body empty). */
export function parseHttp(raw: Buffer): HttpMessage {
  const end = raw.indexOf('\r\n\r\n');
  const head = (end < 0 ? raw : raw.subarray(0, end)).toString('latin1');
  const [startLine = '', ...lines] = head.split('\r\n');
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  return { startLine, headers, body: end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4) };
}

/** The id a request or response carries in its id header, if any. */
export function idOf(message: HttpMessage, header = REQUEST_ID_HEADER): string | undefined {
  const value = message.headers.find(([n]) => n.toLowerCase() === header.toLowerCase())?.[1];
  return value?.replace(/^wl(req|rsp)-/, '');
}

/** "POST /login" — and, where a pattern is in play, where it sits. */
export function describeRequest(spec: RequestSpec, pattern?: string): string {
  const where =
    pattern === undefined
      ? ''
      : spec.body.includes(pattern)
        ? ` with "${pattern}" in its body`
        : spec.headers.some(([, v]) => v.includes(pattern))
          ? ` with "${pattern}" in a header`
          : '';
  return `${spec.method} ${spec.target}${where}`;
}

/** The request as a string-matching engine sees it: the bytes sent (the id and host do not bear on a class's pattern). */
function requestText(spec: RequestSpec): string {
  return buildRequest(spec, '0-0', 'wirelab').toString('latin1');
}

function joinPath(prefix: string, leaf: string): string {
  return prefix.endsWith('/') ? `${prefix}${leaf}` : `${prefix}/${leaf}`;
}

/** A path just outside a prefix: "/api/" → "/apix/item", "/api" → "/x/api/item". */
function siblingOfPrefix(prefix: string): string {
  return prefix.endsWith('/') && prefix.length > 1 ? `${prefix.slice(0, -1)}x/item` : `/x${joinPath(prefix, 'item')}`;
}

function swapCase(text: string): string {
  return [...text].map((ch) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase())).join('');
}

/** Every character that is not a letter or digit as %XX: the pattern as a URL-encoded form field carries it. */
function percentEncode(text: string): string {
  return [...text].map((ch) => (/[A-Za-z0-9]/.test(ch) ? ch : `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** A request class's match as one line: `POST /login containing "' OR 1=1 --", both ways`. */
export function describeRequestMatch(m: RequestMatch): string {
  const parts: string[] = [];
  if (m.method) parts.push(m.method);
  if (m.path) parts.push(m.path);
  if (m.pathPrefix) parts.push(`${m.pathPrefix}*`);
  if (m.header) parts.push(`with header ${m.header.name}${m.header.contains !== undefined ? ` containing "${m.header.contains}"` : ''}`);
  if (m.bodyContains !== undefined) parts.push(`body containing "${m.bodyContains}"`);
  if (m.contains !== undefined) parts.push(`containing "${m.contains}"`);
  if (m.ignoreCase) parts.push('(any case)');
  const dir = m.direction === 'both' ? 'both ways' : m.direction === 'left-to-right' ? 'left→right' : 'right→left';
  return `${parts.join(' ') || 'any request'}, ${dir}`;
}

/**
 * Whether a frame is TCP to or from the request policy's port: a proxy answers the client in the server's
 * name and opens connections of its own to the server — its work, not frames it sends by itself.
 */
export function carriesRequests(port: number): (frame: Buffer) => boolean {
  return (data) => {
    try {
      const tcp = parse(data).get('TCP');
      return tcp !== undefined && (tcp.sport === port || tcp.dport === port);
    } catch {
      return false;
    }
  };
}
