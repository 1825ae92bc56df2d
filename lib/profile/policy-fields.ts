// The lab profile's `policy` section: its fields for the schema engine (validation, defaults and the
// generated docs/profile-reference.md), the rules across a class's fields, and the conversion of the
// validated YAML into the policy model. Each problem names the field and says how to fix it.
import { isMulticastMac, MAC_PATTERN } from '../core/addressing.ts';
import { familyOf, inLabRange, LAB_RANGES, parseIpRange } from '../policy/addresses.ts';
import type { GuestRole } from '../core/roles.ts';
import type { FieldCheck, FieldSpec, ObjectSpec, SchemaProblem } from './schema-engine.ts';
import {
  ACTIONS,
  BLOCKED_AS,
  DEFAULT_ACTIONS,
  REQUEST_ACTIONS,
  DIRECTIONS,
  L3_PROTOCOLS,
  L4_PROTOCOLS,
  REWRITABLE_FIELDS,
  type ActionKind,
  type BlockedAs,
  type ClassMatch,
  type ConnectionExpectation,
  type ExchangeExpectation,
  type HeaderChange,
  type RequestActionKind,
  type RequestClass,
  type RequestMatch,
  type DefaultAction,
  type Policy,
  type PolicyClass,
  type RateLimit,
  type RewritableField,
  type RewriteValues,
} from '../policy/model.ts';

/** The section as the schema validator returns it. */
export interface RawPolicy {
  default: DefaultAction;
  classes: RawClass[];
  connections: ConnectionExpectation[];
  requests?: { port: number; classes: RawRequestClass[] };
  exchanges: ExchangeExpectation[];
}

export interface RawRequestClass {
  name: string;
  match: RequestMatch;
  action: RequestActionKind;
  blockedAs?: BlockedAs;
  status?: number;
  header?: HeaderChange;
}

export interface RawClass {
  name: string;
  match: ClassMatch;
  action: ActionKind;
  mayChange?: RewritableField[];
  rate?: Partial<RateLimit>;
  set?: RewriteValues;
}

const cidrInRange: FieldCheck = (v) => {
  if (typeof v !== 'string') return null;
  const range = parseIpRange(v);
  if (!range) return `is "${v}", which is not an IPv4 or IPv6 address or address/prefix.`;
  const lab = LAB_RANGES[range.family].text;
  return inLabRange(range)
    ? null
    : `is "${v}", outside ${lab}, the only ${range.family === 'ipv4' ? 'IPv4' : 'IPv6'} range lab traffic may use.`;
};

const unicast: FieldCheck = (v) => (typeof v === 'string' && isMulticastMac(v) ? `is "${v}", a multicast/broadcast MAC.` : null);

/** A class's or connection kind's name: it names the flows in the report and in failures. */
const SHORT_NAME = {
  type: 'string' as const,
  required: true,
  pattern: /^[A-Za-z0-9._-]{1,40}$/,
  patternName: 'a short name (letters, digits, . _ -, at most 40)',
};

/** What a request's path, header names and matched strings may hold: they are written into HTTP requests as they are. */
const REQUEST_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,200}$/;
const PATH_NAME = 'a path starting with / (letters, digits and the characters a URL path may hold)';
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const PRINTABLE = /^[\x20-\x7e]{1,200}$/;
const PRINTABLE_NAME = 'printable ASCII text (1–200 characters)';

const port = (doc: string) => ({ type: 'number' as const, integer: true, min: 0, max: 65535, doc, example: '23' });

const ADDRESS_FIX =
  'use an IPv4 address or CIDR inside 198.18.0.0/15, e.g. 198.18.0.0/24, or an IPv6 one inside 2001:db8::/32, e.g. 2001:db8:1::/64 ' +
  '(frames cross the guest by MAC; any such address works).';

/** One kind of connection or exchange: a name, the side that starts it, the port, what is expected, how many. */
function peerKind(o: {
  kind: string;
  starts: string;
  port: { doc: string; example: string };
  expect: readonly [string, string];
  expectDoc: string;
  count: { max: number; default: number; doc: string };
  more?: Record<string, FieldSpec>;
}): ObjectSpec {
  return {
    type: 'object',
    doc: `One kind of ${o.kind}.`,
    fields: {
      name: { ...SHORT_NAME, doc: 'Name, as the report shows it.' },
      from: { type: 'string', required: true, enum: ['left', 'right'], doc: `The side whose host ${o.starts}.` },
      port: { type: 'number', required: true, integer: true, min: 1, max: 65535, ...o.port },
      expect: { type: 'string', required: true, enum: o.expect, doc: o.expectDoc },
      count: { type: 'number', integer: true, min: 1, ...o.count },
      ...o.more,
    },
  };
}

export const policySchema: ObjectSpec = {
  type: 'object',
  doc:
    'What the service does to each class of traffic on purpose (a transparent or routed firewall, a shaper, a marker, a DPI ' +
    'filter, an HTTP proxy, a NAT gateway). When present, `wirelab run` adds the `policy` suite, which sends a flow per class both ' +
    'ways plus probes just outside each class and checks each declared behaviour frame by frame, request by request. For ' +
    '`role: l2-bridge` and `role: l3-forwarder`.',
  fields: {
    default: {
      type: 'string',
      enum: DEFAULT_ACTIONS,
      default: 'role',
      doc:
        "What traffic no class matches gets: `role` — the role's own contract (an l2-bridge forwards it byte-exact); `forward` " +
        '(the same, said outright); `drop` (a default-deny firewall).',
    },
    classes: {
      type: 'list',
      default: [],
      maxItems: 32,
      doc: 'The traffic classes, tried in order: the first class that matches a frame decides what happens to it (as in a rule list).',
      example: '{ name: block-telnet, match: { l4: tcp, dstPort: 23 }, action: drop }',
      items: {
        type: 'object',
        doc: 'One traffic class.',
        fields: {
          name: { ...SHORT_NAME, doc: 'Name of the class, as the report and failure messages show it.', example: 'block-telnet' },
          match: {
            type: 'object',
            required: true,
            doc: 'Which frames belong to the class; every field given must match, fields left out match anything.',
            fields: {
              direction: {
                type: 'string',
                enum: DIRECTIONS,
                default: 'both',
                doc: '`left-to-right` (sent by the left host, from br0), `right-to-left`, or `both`.',
              },
              l3: {
                type: 'string',
                enum: L3_PROTOCOLS,
                doc:
                  'The network protocol (inside any VLAN tags). Left out, the class holds for every one: the suite probes it with ' +
                  'IPv4 and IPv6 (and ARP when nothing else in the match needs IP).',
              },
              l4: { type: 'string', enum: L4_PROTOCOLS, doc: 'The transport protocol (`icmp` is ICMP or ICMPv6 echo).' },
              srcIp: {
                type: 'string',
                doc: 'IPv4 or IPv6 source address or CIDR (the class then matches that IP version only).',
                checks: [cidrInRange],
                fix: ADDRESS_FIX,
                example: '198.18.0.0/24',
              },
              dstIp: {
                type: 'string',
                doc: 'IPv4 or IPv6 destination address or CIDR (the class then matches that IP version only).',
                checks: [cidrInRange],
                fix: ADDRESS_FIX,
                example: '198.18.0.2',
              },
              srcPort: port('UDP/TCP source port (needs `l4: udp` or `l4: tcp`).'),
              dstPort: port('UDP/TCP destination port (needs `l4: udp` or `l4: tcp`).'),
              vlan: {
                type: 'number',
                integer: true,
                min: 1,
                max: 4094,
                doc: 'The outermost 802.1Q VLAN id. Left out, the class holds tagged or not: the suite probes it untagged and tagged.',
                example: '100',
              },
              dscp: { type: 'number', integer: true, min: 0, max: 63, doc: 'The IP DSCP the frame is sent with.', example: '46' },
              fragment: {
                type: 'boolean',
                doc:
                  '`true`: IP fragments only (IPv4 with MF set or an offset, IPv6 with a Fragment header) — e.g. a stateful ' +
                  'firewall that reassembles holds a lone fragment, which then never crosses; `false`: unfragmented packets only.',
              },
            },
          },
          action: {
            type: 'string',
            required: true,
            enum: ACTIONS,
            doc:
              '`forward` (delivered byte-exact, except the fields in `mayChange`), `drop` (never crosses), `rate-limit` (delivered ' +
              'up to `rate`, the rest dropped or queued), `rewrite` (delivered with the fields in `set` set, nothing else changed).',
          },
          mayChange: {
            type: 'list',
            items: { type: 'string', enum: REWRITABLE_FIELDS, doc: 'A header field.' },
            doc: `Only with \`action: forward\`: fields the service may change on this class (${REWRITABLE_FIELDS.join(', ')}).`,
            example: 'ttl',
          },
          rate: {
            type: 'object',
            doc: 'Only with `action: rate-limit`: the declared rate, exactly one of `bitsPerSecond` and `framesPerSecond`.',
            fields: {
              bitsPerSecond: {
                type: 'number',
                min: 1000,
                max: 100_000_000_000,
                doc: 'Declared rate in bit/s, counting each frame from its Ethernet header to its end (no FCS, no preamble).',
                example: '256000',
              },
              framesPerSecond: { type: 'number', min: 1, max: 100_000_000, doc: 'Declared rate in frames/s.', example: '100' },
              tolerance: {
                type: 'number',
                min: 0.01,
                max: 0.9,
                default: 0.15,
                doc: 'How far the achieved rate may be from the declared one, as a fraction (0.15 = ±15 %).',
              },
            },
          },
          set: {
            type: 'object',
            doc: 'Only with `action: rewrite`: the fields the service sets, and their values.',
            fields: {
              dscp: { type: 'number', integer: true, min: 0, max: 63, doc: 'IPv4 DSCP.', example: '46' },
              vlan: { type: 'number', integer: true, min: 1, max: 4094, doc: 'Outermost VLAN id (needs `match.vlan`).', example: '200' },
              ttl: { type: 'number', integer: true, min: 1, max: 255, doc: 'IPv4 TTL / IPv6 hop limit.', example: '32' },
              srcMac: {
                type: 'string',
                pattern: MAC_PATTERN,
                patternName: 'a MAC address',
                checks: [unicast],
                doc: 'Source MAC.',
                example: '02:00:5e:10:00:99',
              },
              dstMac: { type: 'string', pattern: MAC_PATTERN, patternName: 'a MAC address', doc: 'Destination MAC.' },
            },
          },
        },
      },
    },
    connections: {
      type: 'list',
      default: [],
      maxItems: 8,
      doc:
        'Real TCP connections a stateful service must let through or block: a client on one traffic host opens `count` ' +
        'connections one after another to an echo server on the other (each sends `bytes` and reads them back, 3 s to connect). ' +
        'Checked: every connection established and every byte echoed (set-up time reported), or none established; a failure ' +
        'says where the connection broke (the SYN, or the reply that never came back through the guest).',
      example: '{ name: web-from-left, from: left, port: 8080, expect: connect }',
      items: peerKind({
        kind: 'connection',
        starts: 'opens the connections',
        port: { doc: "The server's TCP port.", example: '8080' },
        expect: ['connect', 'blocked'],
        expectDoc: '`connect`: the service lets them through; `blocked`: it lets none be established.',
        count: { max: 10, default: 3, doc: 'Connections opened, one after another.' },
        more: {
          bytes: { type: 'number', integer: true, min: 1, max: 65536, default: 1000, doc: 'Bytes each connection sends and reads back.' },
        },
      }),
    },
    requests: {
      type: 'object',
      doc:
        'HTTP through the service (a DPI or SQL-injection filter, a header-rewriting proxy): a small HTTP server on one traffic ' +
        'host records every request exactly, a client on the other sends scripted requests over real TCP. For each class the ' +
        'suite sends a request inside it from each side it applies to and requests just outside it (the same request without ' +
        'the pattern, with the pattern in another case, URL-encoded or in another header, another method or path, the other ' +
        'direction), and follows each at all four capture points. Requests no class matches are forwarded.',
      fields: {
        port: { type: 'number', integer: true, min: 1, max: 65535, default: 80, doc: "The HTTP server's TCP port.", example: '80' },
        classes: {
          type: 'list',
          required: true,
          maxItems: 16,
          doc: 'The request classes, tried in order: the first class that matches a request decides.',
          example: '{ name: sql-injection, match: { contains: "\' OR 1=1 --" }, action: block, blockedAs: timeout }',
          items: {
            type: 'object',
            doc: 'One request class.',
            fields: {
              name: { ...SHORT_NAME, doc: 'Name of the class, as the report and failure messages show it.', example: 'sql-injection' },
              match: {
                type: 'object',
                required: true,
                doc: 'Which requests belong to the class; every field given must match.',
                fields: {
                  direction: {
                    type: 'string',
                    enum: DIRECTIONS,
                    default: 'both',
                    doc: '`left-to-right` (the client on the left host), `right-to-left`, or `both`.',
                  },
                  method: {
                    type: 'string',
                    pattern: /^[A-Z]{1,16}$/,
                    patternName: 'an HTTP method in capitals',
                    doc: 'The method.',
                    example: 'POST',
                  },
                  path: { type: 'string', pattern: REQUEST_PATH, patternName: PATH_NAME, doc: 'The path, exactly.', example: '/login' },
                  pathPrefix: {
                    type: 'string',
                    pattern: REQUEST_PATH,
                    patternName: PATH_NAME,
                    doc: 'The path starts with this.',
                    example: '/api/',
                  },
                  header: {
                    type: 'object',
                    doc: 'A header the request carries (its name case-insensitive), its value containing `contains` when given.',
                    fields: {
                      name: {
                        type: 'string',
                        required: true,
                        pattern: HEADER_NAME,
                        patternName: 'a header name',
                        doc: 'Header name.',
                        example: 'X-Debug',
                      },
                      contains: { type: 'string', pattern: PRINTABLE, patternName: PRINTABLE_NAME, doc: 'A substring of its value.' },
                    },
                  },
                  bodyContains: {
                    type: 'string',
                    pattern: PRINTABLE,
                    patternName: PRINTABLE_NAME,
                    doc: 'A substring of the body.',
                    example: "' OR 1=1 --",
                  },
                  contains: {
                    type: 'string',
                    pattern: PRINTABLE,
                    patternName: PRINTABLE_NAME,
                    doc: 'A substring anywhere in the request (request line, headers or body), as a string-matching DPI engine looks.',
                    example: "' OR 1=1 --",
                  },
                  ignoreCase: {
                    type: 'boolean',
                    default: false,
                    doc: 'Match `contains`, `bodyContains` and `header.contains` in any case.',
                  },
                },
              },
              action: {
                type: 'string',
                required: true,
                enum: REQUEST_ACTIONS,
                doc:
                  '`forward` (the server receives the request as sent — method, path, every header one by one, body — and the client ' +
                  'the response as sent), `block` (the server never sees it; the client sees `blockedAs`), `rewrite-header` (the ' +
                  'server sees exactly the change in `header` and nothing else; the response comes back as sent). Hop-by-hop headers ' +
                  '(Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade, Proxy-Connection) are per connection and not compared.',
              },
              blockedAs: {
                type: 'string',
                enum: BLOCKED_AS,
                doc:
                  'Only with `action: block`: `reset` (the connection is reset), `timeout` (no answer), `error-page` (a response ' +
                  'with `status`).',
              },
              status: {
                type: 'number',
                integer: true,
                min: 100,
                max: 599,
                doc: 'With `blockedAs: error-page`: its HTTP status.',
                example: '403',
              },
              header: {
                type: 'object',
                doc: 'Only with `action: rewrite-header`: the header and its change, exactly one of `set` and `remove`.',
                fields: {
                  name: {
                    type: 'string',
                    required: true,
                    pattern: HEADER_NAME,
                    patternName: 'a header name',
                    doc: 'Header name.',
                    example: 'X-Forwarded-Proto',
                  },
                  set: {
                    type: 'string',
                    pattern: PRINTABLE,
                    patternName: PRINTABLE_NAME,
                    doc: 'Its value (added, or replacing one the request has).',
                    example: 'http',
                  },
                  remove: { type: 'boolean', default: false, doc: 'Remove it from the request.' },
                },
              },
            },
          },
        },
      },
    },
    exchanges: {
      type: 'list',
      default: [],
      maxItems: 8,
      doc:
        'UDP request/response through the service (a DNS-like exchange, through a firewall or a NAT gateway): a client on one ' +
        'traffic host sends `count` requests to a responder on the other; each answered request must come back to the address ' +
        'and port it was sent from, from the address and port it was sent to (a NAT translates replies back), matched to its ' +
        'request; or none answered.',
      example: '{ name: dns-from-left, from: left, port: 5353, expect: answered }',
      items: peerKind({
        kind: 'exchange',
        starts: 'sends the requests',
        port: { doc: "The responder's UDP port.", example: '5353' },
        expect: ['answered', 'blocked'],
        expectDoc: '`answered`: every request gets its reply; `blocked`: no request gets one.',
        count: { max: 50, default: 10, doc: 'Requests sent, one after another.' },
      }),
    },
  },
}; /** Rules across the fields of the policy section (each field's own problems are already reported). */
export function policyProblems(policy: Partial<RawPolicy>, role: GuestRole | undefined): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const add = (path: string, message: string, fix: string) => problems.push({ path, message, fix });
  if (role === 'monitor')
    add(
      'policy',
      'is set, but the role is monitor; a monitor forwards nothing, so it has no policy to qualify.',
      'remove the `policy` section, or qualify the image as `role: l2-bridge` or `l3-forwarder` if it is in the data path.',
    );
  const inPolicy =
    (policy.classes?.length ?? 0) +
    (policy.connections?.length ?? 0) +
    (policy.requests?.classes?.length ?? 0) +
    (policy.exchanges?.length ?? 0);
  if (policy.classes !== undefined && inPolicy === 0)
    add('policy', 'declares nothing to qualify: no classes, connections, requests or exchanges.', 'add at least one, or remove `policy`.');
  const seen = new Map<string, number>();
  (policy.classes ?? []).forEach((c, i) => {
    if (!c) return;
    const at = `policy.classes[${i}]`;
    if (c.name !== undefined) {
      const first = seen.get(c.name);
      if (first !== undefined)
        add(`${at}.name`, `is "${c.name}", the same name as policy.classes[${first}].`, 'give every class its own name.');
      else seen.set(c.name, i);
    }
    const m = c.match;
    if (m) {
      if (role === 'l3-forwarder' && (m.vlan !== undefined || c.set?.vlan !== undefined))
        add(
          `${at}.match.vlan`,
          "is set, but the role is l3-forwarder: a router's links in a lab carry untagged frames only.",
          'remove the VLAN from the class.',
        );
      if ((m.srcPort !== undefined || m.dstPort !== undefined) && m.l4 !== 'udp' && m.l4 !== 'tcp')
        add(
          `${at}.match`,
          `matches a port but ${m.l4 ? `its l4 is ${m.l4}, which has no ports` : 'names no transport protocol'}.`,
          'add `l4: udp` or `l4: tcp` next to the port.',
        );
      const families = [m.srcIp, m.dstIp].filter((a): a is string => a !== undefined).map(familyOf);
      if (families.length === 2 && families[0] !== families[1])
        add(`${at}.match`, 'matches an IPv4 and an IPv6 address: no frame carries both.', 'give srcIp and dstIp of one IP version.');
      else if (families.length > 0 && m.l3 !== undefined && m.l3 !== families[0])
        add(
          `${at}.match`,
          `matches ${families[0] === 'ipv4' ? 'IPv4' : 'IPv6'} addresses but its l3 is ${m.l3}.`,
          `use \`l3: ${families[0]}\`, or leave \`l3\` out.`,
        );
      if (m.fragment !== undefined && m.l3 === 'arp')
        add(`${at}.match.fragment`, 'is set, but ARP is never fragmented.', 'remove `fragment`, or set `l3: ipv4` or `ipv6`.');
      if (m.l4 !== undefined && m.l3 === 'arp')
        add(`${at}.match.l4`, `is ${m.l4}, but ARP carries no transport protocol.`, 'remove `l4`, or set `l3: ipv4`.');
      for (let j = 0; j < i; j++) {
        const earlier = policy.classes?.[j];
        if (earlier?.match && sameMatch(earlier.match, m))
          add(
            `${at}.match`,
            `is the same match as policy.classes[${j}] ("${earlier.name}"), which comes first, so this class never applies.`,
            'remove one of the two classes, or make their matches differ.',
          );
      }
    }
    // An absent `rate` or `set` comes back from the schema as its defaults: given means with a field of its own.
    const given = {
      mayChange: c.mayChange !== undefined,
      rate: c.rate?.bitsPerSecond !== undefined || c.rate?.framesPerSecond !== undefined,
      set: c.set !== undefined && Object.keys(c.set).length > 0,
    };
    const only = (field: 'mayChange' | 'rate' | 'set', action: ActionKind) => {
      if (given[field] && c.action !== undefined && c.action !== action)
        add(
          `${at}.${field}`,
          `is set, but the action is ${c.action}; \`${field}\` belongs to \`action: ${action}\`.`,
          `remove \`${field}\`, or set \`action: ${action}\`.`,
        );
    };
    only('mayChange', 'forward');
    only('rate', 'rate-limit');
    only('set', 'rewrite');
    if (c.action === 'rate-limit') {
      const r = c.rate ?? {};
      const rates = [r.bitsPerSecond !== undefined, r.framesPerSecond !== undefined].filter(Boolean).length;
      if (rates !== 1)
        add(
          `${at}.rate`,
          rates === 0 ? 'names no rate; a rate-limit class needs its declared rate.' : 'gives both bitsPerSecond and framesPerSecond.',
          'give exactly one, e.g. `rate: { bitsPerSecond: 256000, tolerance: 0.15 }` or `rate: { framesPerSecond: 100 }`.',
        );
    }
    if (c.action === 'rewrite') {
      const set = c.set ?? {};
      if (Object.keys(set).length === 0)
        add(`${at}.set`, 'names no field; a rewrite class must say what it sets.', 'add e.g. `set: { dscp: 46 }`.');
      if (set.vlan !== undefined && m && m.vlan === undefined)
        add(
          `${at}.set.vlan`,
          'is set, but the class matches no VLAN: a VLAN id can only be rewritten on tagged frames.',
          'add `vlan: <id>` to the match.',
        );
      if ((set.dscp !== undefined || set.ttl !== undefined) && m?.l3 === 'arp')
        add(`${at}.set`, 'sets an IP field on ARP frames.', 'match `l3: ipv4` for a DSCP or TTL rewrite.');
    }
  });
  uniqueNames(policy.connections, 'policy.connections', add);
  uniqueNames(policy.exchanges, 'policy.exchanges', add);
  uniqueNames(policy.requests?.classes, 'policy.requests.classes', add);
  (policy.requests?.classes ?? []).forEach((c, i) => {
    if (!c) return;
    const at = `policy.requests.classes[${i}]`;
    const only = (field: 'blockedAs' | 'status' | 'header', action: RequestActionKind, given: boolean) => {
      if (given && c.action !== undefined && c.action !== action)
        add(
          `${at}.${field}`,
          `is set, but the action is ${c.action}; \`${field}\` belongs to \`action: ${action}\`.`,
          `remove \`${field}\`, or set \`action: ${action}\`.`,
        );
    };
    only('blockedAs', 'block', c.blockedAs !== undefined);
    only('status', 'block', c.status !== undefined);
    only('header', 'rewrite-header', c.header?.name !== undefined);
    if (c.action === 'block' && c.blockedAs === undefined)
      add(
        `${at}.blockedAs`,
        'is missing; a block class says what the client sees.',
        'add `blockedAs: reset`, `timeout` or `error-page` (with `status: 403`).',
      );
    if (c.status !== undefined && c.blockedAs !== undefined && c.blockedAs !== 'error-page')
      add(
        `${at}.status`,
        `is set, but blockedAs is ${c.blockedAs}; a status belongs to an error page.`,
        'remove `status`, or set `blockedAs: error-page`.',
      );
    if (c.action === 'rewrite-header') {
      const h = c.header;
      if (!h?.name)
        add(
          `${at}.header`,
          'is missing; a rewrite-header class names the header and its change.',
          'add e.g. `header: { name: X-Forwarded-Proto, set: http }`.',
        );
      else if ((h.set !== undefined) === (h.remove === true))
        add(
          `${at}.header`,
          h.set !== undefined ? 'both sets and removes the header.' : 'neither sets nor removes the header.',
          'give exactly one of `set: <value>` and `remove: true`.',
        );
    }
    const m = c.match;
    if (m) {
      if (m.path !== undefined && m.pathPrefix !== undefined) add(`${at}.match`, 'gives both path and pathPrefix.', 'keep one of them.');
      if (Object.keys(m).every((k) => k === 'direction' || k === 'ignoreCase'))
        add(
          `${at}.match`,
          'matches every request: it leaves nothing outside the class to probe.',
          'match a method, path, header or substring.',
        );
    }
  });
  return problems;
}

function sameMatch(a: ClassMatch, b: ClassMatch): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ClassMatch>;
  return [...keys].every((k) => a[k] === b[k]);
}

/** The validated section as the policy model. */
export function policyFromRaw(raw: RawPolicy): Policy {
  return {
    default: raw.default,
    connections: raw.connections,
    exchanges: raw.exchanges,
    ...(raw.requests
      ? {
          requests: {
            port: raw.requests.port,
            classes: raw.requests.classes.map((c): RequestClass => ({
              name: c.name,
              match: c.match,
              behaviour:
                c.action === 'block'
                  ? { action: 'block', blockedAs: c.blockedAs ?? 'timeout', status: c.status ?? 403 }
                  : c.action === 'rewrite-header'
                    ? { action: 'rewrite-header', header: c.header! }
                    : { action: 'forward' },
            })),
          },
        }
      : {}),
    classes: raw.classes.map((c): PolicyClass => {
      const behaviour =
        c.action === 'forward'
          ? { action: c.action, mayChange: c.mayChange ?? [] }
          : c.action === 'drop'
            ? { action: c.action }
            : c.action === 'rate-limit'
              ? { action: c.action, rate: { tolerance: 0.15, ...c.rate } }
              : { action: c.action, set: c.set ?? {} };
      return { name: c.name, match: c.match, behaviour };
    }),
  };
}

function uniqueNames(
  items: readonly ({ name?: string } | undefined)[] | undefined,
  at: string,
  add: (path: string, message: string, fix: string) => void,
): void {
  const names = new Map<string, number>();
  (items ?? []).forEach((c, i) => {
    if (!c?.name) return;
    const first = names.get(c.name);
    if (first !== undefined) add(`${at}[${i}].name`, `is "${c.name}", the same name as ${at}[${first}].`, 'give each its own name.');
    else names.set(c.name, i);
  });
}
