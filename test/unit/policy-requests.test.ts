// L7 and UDP request/response policies: the profile's `requests` and `exchanges` sections (each problem
// named with its field and fix), the requests derived from request classes alone (in class, and just
// outside: without the pattern, another case, URL-encoded, in a header, another path, the other
// direction), their bytes and the server's answer, the capture join by marker, and the checks' headlines.
import { describe, expect, it } from 'vitest';
import { ProfileError } from '../../lib/core/errors.ts';
import { Ether, IPv4, Raw, stack, TCP } from '../../lib/frames/index.ts';
import { emptyTrace, traceMarkers } from '../../lib/analysis/request-join.ts';
import { checkExchange } from '../../lib/policy/exchange-checks.ts';
import { checkRequest, headerDiff } from '../../lib/policy/request-checks.ts';
import {
  buildRequest,
  classifyRequest,
  idOf,
  parseHttp,
  requestProbes,
  serverResponse,
  type RequestProbe,
} from '../../lib/policy/requests.ts';
import type { RequestPolicy } from '../../lib/policy/model.ts';
import { parseProfile } from '../../lib/profile/load.ts';
import { parseClientExchangeLine, parseServedLine } from '../../lib/traffic/http-exchange.ts';

const ROUTED = `
name: t
kind: nested
role: l3-forwarder
guest:
  image:
    reference: l3-forwarder
trafficHosts:
  left: { ipv4: 198.18.1.2/24, gateway: 198.18.1.1 }
  right: { ipv4: 198.18.2.2/24, gateway: 198.18.2.1 }
`;

function problemsOf(text: string): ProfileError['problems'] {
  try {
    parseProfile(ROUTED + text, '/tmp/p.yaml', 'p.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    return (e as ProfileError).problems;
  }
  throw new Error('profile was accepted');
}

const POLICY: RequestPolicy = {
  port: 80,
  classes: [
    {
      name: 'sql-injection',
      match: { direction: 'left-to-right', contains: "' OR 1=1 --", ignoreCase: false },
      behaviour: { action: 'block', blockedAs: 'error-page', status: 403 },
    },
    {
      name: 'tag-api',
      match: { direction: 'left-to-right', pathPrefix: '/api/', ignoreCase: false },
      behaviour: { action: 'rewrite-header', header: { name: 'X-Forwarded-Proto', set: 'http', remove: false } },
    },
  ],
};

describe('the requests and exchanges sections of a policy', () => {
  it('a routed policy with requests and exchanges is valid and becomes the model', () => {
    const p = parseProfile(
      ROUTED +
        `policy:
  exchanges: [{ name: dns, from: left, port: 5353, expect: answered }]
  requests:
    classes:
      - { name: sqli, match: { contains: "' OR 1=1 --" }, action: block, blockedAs: error-page, status: 403 }
      - { name: api, match: { pathPrefix: /api/ }, action: rewrite-header, header: { name: X-Forwarded-Proto, set: http } }
`,
      '/tmp/p.yaml',
    );
    expect(p.policy!.classes).toEqual([]);
    expect(p.policy!.exchanges).toEqual([{ name: 'dns', from: 'left', port: 5353, expect: 'answered', count: 10 }]);
    expect(p.policy!.requests!.port).toBe(80);
    expect(p.policy!.requests!.classes[0]!.behaviour).toEqual({ action: 'block', blockedAs: 'error-page', status: 403 });
    expect(p.policy!.requests!.classes[1]!.behaviour).toEqual({
      action: 'rewrite-header',
      header: { name: 'X-Forwarded-Proto', set: 'http', remove: false },
    });
  });

  it('each bad request class or exchange gets a problem naming the field and the fix', () => {
    const problems = problemsOf(`policy:
  classes:
    - { name: v, match: { vlan: 5 }, action: drop }
  exchanges: [{ name: d, from: up, port: 53, expect: answered }]
  requests:
    classes:
      - { name: a, match: { contains: x }, action: block }
      - { name: b, match: { path: /x, pathPrefix: /y }, action: rewrite-header, header: { name: X-A, set: "1", remove: true } }
      - { name: c, match: { direction: both }, action: forward, status: 403 }
      - { name: d, match: { path: "no-slash" }, action: forward }
`);
    const at = (p: string) => problems.find((x) => x.path === p);
    expect(at('policy.classes[0].match.vlan')?.message).toMatch(/role is l3-forwarder/);
    expect(at('policy.exchanges[0].from')?.fix).toMatch(/use one of left, right/);
    expect(at('policy.requests.classes[0].blockedAs')?.fix).toMatch(/`blockedAs: reset`, `timeout` or `error-page`/);
    expect(at('policy.requests.classes[1].match')?.message).toMatch(/both path and pathPrefix/);
    expect(at('policy.requests.classes[1].header')?.message).toMatch(/both sets and removes/);
    expect(at('policy.requests.classes[2].status')?.fix).toMatch(/set `action: block`/);
    expect(at('policy.requests.classes[2].match')?.message).toMatch(/matches every request/);
    expect(at('policy.requests.classes[3].match.path')?.message).toMatch(/not a path starting with \//);
  });

  it('a monitor has no policy; an empty policy declares nothing', () => {
    const monitor = `name: t\nkind: nested\nrole: monitor\nguest: { image: { reference: monitor } }\ntrafficHosts:\n  left: { ipv4: 198.18.0.1/24 }\n  right: { ipv4: 198.18.0.2/24 }\n`;
    expect(() => parseProfile(monitor + 'policy:\n  classes: [{ name: a, match: { l4: tcp }, action: drop }]\n', '/tmp/p.yaml')).toThrow(
      /the role is monitor; a monitor forwards nothing/,
    );
    expect(problemsOf('policy:\n  default: role\n')[0]?.message).toMatch(/declares nothing to qualify/);
  });
});

describe('requests derived from the request classes', () => {
  const probes = requestProbes(POLICY);
  const named = (n: string) => probes.find((p) => p.name === n);

  it('in class from the sides it applies to, and just outside: without the pattern, another case, encoded, in a header, the other direction', () => {
    expect(named('sql-injection: in class left→right')?.spec).toEqual({
      method: 'POST',
      target: '/wirelab/page',
      headers: [
        ['User-Agent', 'wirelab'],
        ['Accept', '*/*'],
      ],
      body: "user=wirelab&comment=' OR 1=1 --",
    });
    expect(named('sql-injection: without the pattern left→right')?.kind).toBe('neighbour');
    expect(named('sql-injection: the pattern in another case left→right')?.spec.body).toBe("user=wirelab&comment=' or 1=1 --");
    expect(named('sql-injection: the pattern URL-encoded left→right')?.spec.body).toBe('user=wirelab&comment=%27%20OR%201%3D1%20%2D%2D');
    // `contains` looks anywhere: the pattern in a header is still in the class.
    expect(named('sql-injection: the pattern in a header left→right')?.kind).toBe('in-class');
    expect(named('sql-injection: the other direction right→left')?.kind).toBe('neighbour');
    expect(named('tag-api: in class left→right')?.spec.target).toBe('/api/item');
    // The header a class sets is on the request with another value, so a replacement shows.
    expect(named('tag-api: in class left→right')?.spec.headers).toContainEqual(['X-Forwarded-Proto', 'wirelab-original']);
    expect(named('tag-api: path /apix/item (outside /api/) left→right')?.kind).toBe('neighbour');
    expect(probes.filter((p) => p.kind === 'unmatched').map((p) => p.from)).toEqual(['left', 'right']);
    for (const p of probes) {
      const cls = classifyRequest(POLICY, p.spec, p.from).class?.name;
      if (p.kind === 'in-class') expect(cls, p.name).toBe(p.of);
      else expect(cls, p.name).not.toBe(p.of);
    }
  });

  it('bytes: the id header, Host, Content-Length and Connection: close; parsed back header by header', () => {
    const raw = buildRequest(named('sql-injection: in class left→right')!.spec, 'ab12-7', '198.18.2.2:80');
    const m = parseHttp(raw);
    expect(m.startLine).toBe('POST /wirelab/page HTTP/1.1');
    expect(m.headers).toContainEqual(['Host', '198.18.2.2:80']);
    expect(m.headers).toContainEqual(['Content-Length', String(m.body.length)]);
    expect(idOf(m)).toBe('ab12-7');
    expect(idOf(parseHttp(serverResponse('ab12-7')), 'X-Wirelab-Response')).toBe('ab12-7');
    expect(parseServedLine(`req\t${raw.toString('hex')}`)).toEqual(raw);
    expect(parseClientExchangeLine('rsp\t3\ttimeout\t4001.5\t-\t-')).toEqual({
      index: 3,
      exchange: { outcome: 'timeout', ms: 4001.5, received: Buffer.alloc(0) },
    });
  });

  it('header comparison: names in any case, values exact, hop-by-hop headers not compared', () => {
    const sent: [string, string][] = [
      ['Host', 'h'],
      ['Accept', '*/*'],
      ['Connection', 'close'],
    ];
    expect(
      headerDiff(sent, [
        ['host', 'h'],
        ['accept', '*/*'],
      ]),
    ).toEqual({ missing: [], extra: [] });
    expect(
      headerDiff(sent, [
        ['host', 'h'],
        ['X-A', '1'],
      ]),
    ).toEqual({ missing: [['Accept', '*/*']], extra: [['X-A', '1']] });
  });
});

describe('request checks: the class, the direction, the request and the cause in one line', () => {
  const probe = (name: string): RequestProbe => requestProbes(POLICY).find((p) => p.name === name)!;
  const evidence = (p: RequestProbe, served: boolean, client: Parameters<typeof checkRequest>[0]['client'], serverAs?: Buffer) => {
    const sent = buildRequest(p.spec, '1-1', 'h');
    const trace = emptyTrace();
    trace['left-host'].requests = trace['guest-left'].requests = 1;
    if (served) trace['guest-right'].requests = trace['right-host'].requests = 1;
    return { probe: p, id: '1-1', sent, served: served ? [serverAs ?? sent] : [], ...(client ? { client } : {}), trace };
  };
  const failed = (v: ReturnType<typeof checkRequest>) => v.checks.filter((c) => !c.result.pass).map((c) => c.result.headline);

  it('block: the pattern that got through is named; an error page with the declared status passes', () => {
    const p = probe('sql-injection: in class left→right');
    const expected = classifyRequest(POLICY, p.spec, p.from);
    const page = { outcome: 'response' as const, ms: 3, received: Buffer.from('HTTP/1.1 403 Forbidden\r\n\r\n') };
    expect(failed(checkRequest(evidence(p, false, page), expected, "' OR 1=1 --"))).toEqual([]);
    const leak = { outcome: 'response' as const, ms: 3, received: serverResponse('1-1') };
    expect(failed(checkRequest(evidence(p, true, leak), expected, "' OR 1=1 --"))[0]).toBe(
      `request class "sql-injection" left→right: POST /wirelab/page with "' OR 1=1 --" in its body reached the server, but class ` +
        '"sql-injection" blocks it — the image lets it through.',
    );
  });

  it('a probe outside the class that is blocked is named a rule that matches too wide', () => {
    const p = probe('sql-injection: the pattern URL-encoded left→right');
    const v = checkRequest(evidence(p, false, { outcome: 'response', ms: 3, received: Buffer.from('HTTP/1.1 403 Forbidden\r\n\r\n') }), {
      behaviour: { action: 'forward' },
    });
    expect(failed(v)[0]).toMatch(
      /^request probe outside class "sql-injection" \(the pattern URL-encoded, left→right\): POST \/wirelab\/page never reached the server, but no class .* forwards it — the image blocks more than class "sql-injection": its rule matches too wide\.$/,
    );
  });

  it('rewrite-header: the wrong value is named with the header; any other change too', () => {
    const p = probe('tag-api: in class left→right');
    const expected = classifyRequest(POLICY, p.spec, p.from);
    const sent = buildRequest(p.spec, '1-1', 'h').toString('latin1');
    const asServed = (text: string) => Buffer.from(text, 'latin1');
    const ok = { outcome: 'response' as const, ms: 3, received: serverResponse('1-1') };
    const right = asServed(sent.replace('X-Forwarded-Proto: wirelab-original', 'x-forwarded-proto: http'));
    expect(failed(checkRequest(evidence(p, true, ok, right), expected))).toEqual([]);
    const wrong = asServed(sent.replace('X-Forwarded-Proto: wirelab-original', 'X-Forwarded-Proto: https'));
    expect(failed(checkRequest(evidence(p, true, ok, wrong), expected))[0]).toBe(
      'request class "tag-api" left→right: the server got header X-Forwarded-Proto as "https", not "http", but class "tag-api" ' +
        'declares X-Forwarded-Proto: http — the image rewrites the header wrongly.',
    );
    const more = asServed(sent.replace('X-Forwarded-Proto: wirelab-original', 'X-Forwarded-Proto: http\r\nVia: proxy'));
    expect(failed(checkRequest(evidence(p, true, ok, more), expected))[0]).toMatch(
      /the server got header Via: proxy added, .* — the image changes more than X-Forwarded-Proto: http\.$/,
    );
  });
});

describe('the capture join by marker, and UDP exchanges', () => {
  const frame = (sport: number, dport: number, payload: string, flags = 'PA') =>
    stack(
      Ether({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }),
      IPv4({ src: '198.18.1.2', dst: '198.18.2.2' }),
      TCP({ sport, dport, flags }),
      Raw(Buffer.from(payload)),
    ).build();
  async function* frames(list: Buffer[]) {
    let t = 0n;
    for (const data of list) yield { tsNs: t++, data };
  }

  it('counts each id at each point, and resets on the connection that carried it', async () => {
    const traces = await traceMarkers({
      'left-host': frames([frame(40000, 80, 'GET / HTTP/1.1\r\nX-Wirelab-Request: wlreq-ab-1\r\n\r\n'), frame(40000, 80, '', 'R')]),
      'guest-left': frames([frame(40000, 80, 'X-Wirelab-Request: wlreq-ab-1')]),
    });
    expect(traces.get('ab-1')?.['left-host']).toEqual({ requests: 1, responses: 0, resets: 1 });
    expect(traces.get('ab-1')?.['guest-left'].requests).toBe(1);
    expect(traces.get('ab-1')?.['guest-right'].requests).toBe(0);
  });

  it('answered: every request once, from where it went; replies that never crossed back are named', () => {
    const spec = { name: 'dns', from: 'left' as const, port: 5353, expect: 'answered' as const, count: 2 };
    const obs = {
      client: { ip: '198.18.1.2', port: 40000 },
      server: { ip: '198.18.2.2', port: 5353 },
      sent: ['ab-1', 'ab-2'],
      replies: [
        { fromIp: '198.18.2.2', fromPort: 5353, id: 'ab-1' },
        { fromIp: '198.18.2.2', fromPort: 5353, id: 'ab-2' },
      ],
      served: [{ fromIp: '198.18.1.2', fromPort: 40000, id: 'ab-1' }],
    };
    expect(checkExchange(spec, obs, new Map()).pass).toBe(true);
    const trace = emptyTrace();
    trace['left-host'].requests = trace['guest-left'].requests = trace['guest-right'].requests = trace['right-host'].requests = 1;
    trace['right-host'].responses = trace['guest-right'].responses = 1;
    const dropped = checkExchange(spec, { ...obs, replies: [] }, new Map([['ab-1', trace]]));
    expect(dropped.headline).toBe(
      'exchanges "dns" (left → right:5353, UDP): 0 of 2 requests answered — the responder answered, but the replies reached the ' +
        "guest's right port and never left the guest's left port: the image drops the replies.",
    );
  });
});
