// Flows patch a prebuilt template per frame; every frame must equal what a full build of the same
// description gives (lengths, checksums, signature, fill), for fixed sizes, tags, IMIX and varied fields.
import { runTag, type RunId } from '../../lib/core/run-id.ts';
import { describe, expect, it } from 'vitest';
import {
  Dot1Q,
  Ether,
  findSignature,
  flow,
  ICMP,
  ICMPv6EchoRequest,
  IMIX_SIZES,
  IPv4,
  IPv4Layer,
  IPv6,
  IPv6Layer,
  type Layer,
  parse,
  Raw,
  readSignature,
  signatureBytes,
  stack,
  TCP,
  TcpLayer,
  UDP,
  UdpLayer,
} from '../../lib/frames/index.ts';
import { WirelabError } from '../../lib/core/errors.ts';

const eth = () => Ether({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' });
const v4 = () => IPv4({ src: '198.18.0.1', dst: '198.19.0.1' });
const v6 = () => IPv6({ src: '2001:db8::1', dst: '2001:db8:1::1' });
const RUN_ID: RunId = 'wl-c0ffee';
const RUN = runTag(RUN_ID);

/** The reference: a full DSL build of frame `seq`, with the varied fields set by hand. */
function expectedFrame(headers: () => Layer[], size: number, seq: number, tweak: (layers: Layer[]) => void = () => {}): Buffer {
  const layers = headers();
  tweak(layers);
  const headerLen = layers.reduce((n, l) => n + l.headerLength(), 0);
  const payload = Buffer.alloc(size - headerLen);
  signatureBytes({ runTag: RUN, flowId: 7, seq }).copy(payload);
  for (let i = 18; i < payload.length; i++) payload[i] = i & 0xff;
  return stack(...layers, Raw(payload)).build();
}

describe('flow', () => {
  it.each([60, 64, 128, 590, 1000, 1514])('untagged IPv4/UDP frames of %i bytes equal full builds', (size) => {
    const headers = () => [eth(), v4(), UDP({ sport: 1000, dport: 2000 })];
    const f = flow({ template: stack(...headers()), runId: RUN_ID, flowId: 7, count: 5, ratePps: 1000, size });
    let n = 0;
    for (const frame of f) {
      expect(frame.data.length).toBe(size);
      expect(frame.data.equals(expectedFrame(headers, size, frame.seq))).toBe(true);
      expect(frame.tsNs).toBe(BigInt(frame.seq * 1_000_000));
      n++;
    }
    expect(n).toBe(5);
  });

  it.each([64, 1518])('802.1Q-tagged frames of %i bytes equal full builds and carry the tag', (size) => {
    const headers = () => [eth(), Dot1Q({ vlan: 42 }), v4(), UDP({ sport: 1, dport: 2 })];
    const f = flow({ template: stack(...headers()), runId: RUN_ID, flowId: 7, count: 3, ratePps: 10, size });
    for (const frame of f) {
      expect(frame.data.equals(expectedFrame(headers, size, frame.seq))).toBe(true);
      expect(parse(frame.data).vlans()).toEqual([42]);
    }
  });

  it('refuses a size the template cannot carry, naming the allowed range', () => {
    const template = stack(eth(), Dot1Q({ vlan: 1 }), v4(), UDP());
    expect(() => flow({ template, runId: RUN_ID, flowId: 7, count: 1, ratePps: 1, size: 60 })).toThrow(WirelabError);
    expect(() => flow({ template, runId: RUN_ID, flowId: 7, count: 1, ratePps: 1, size: 60 })).toThrow(/allowed: 64\.\.9216/);
  });

  it('IMIX cycles 7:4:1 of 60/590/1514 bytes (64/594/1518 with FCS)', () => {
    const headers = () => [eth(), v4(), UDP({ sport: 1000, dport: 2000 })];
    const f = flow({ template: stack(...headers()), runId: RUN_ID, flowId: 7, count: 24, ratePps: 1e6, size: 'imix' });
    const counts = new Map<number, number>();
    for (const frame of f) {
      counts.set(frame.data.length, (counts.get(frame.data.length) ?? 0) + 1);
      expect(frame.data.equals(expectedFrame(headers, f.sizeOf(frame.seq), frame.seq))).toBe(true);
    }
    expect(IMIX_SIZES).toEqual([60, 590, 1514]);
    expect(Object.fromEntries(counts)).toEqual({ 60: 14, 590: 8, 1514: 2 });
  });

  it('varies UDP source port and IPv4 source address with correct checksums, cycling', () => {
    const headers = () => [eth(), v4(), UDP({ sport: 65530, dport: 2000 })];
    const f = flow({
      template: stack(...headers()),
      runId: RUN_ID,
      flowId: 7,
      count: 600,
      ratePps: 1,
      size: 100,
      vary: { srcPort: 6, srcIp: 300 },
    });
    for (const frame of f) {
      const expected = expectedFrame(headers, 100, frame.seq, (layers) => {
        (layers[2] as UdpLayer).sport = 65530 + (frame.seq % 6);
        const host = 1 + (frame.seq % 300); // carries into the third octet after .255
        (layers[1] as IPv4Layer).src = `198.18.${host >> 8}.${host & 0xff}`;
      });
      expect(frame.data.toString('hex')).toBe(expected.toString('hex'));
      expect(parse(frame.data).checksumErrors()).toEqual([]);
    }
  });

  it('varies IPv6 destination and TCP destination port', () => {
    const headers = () => [eth(), v6(), TCP({ sport: 5000, dport: 80, flags: 'PA' })];
    const f = flow({
      template: stack(...headers()),
      runId: RUN_ID,
      flowId: 7,
      count: 20,
      ratePps: 1,
      size: 200,
      vary: { dstIp: 7, dstPort: 3 },
    });
    for (const frame of f) {
      const expected = expectedFrame(headers, 200, frame.seq, (layers) => {
        (layers[2] as TcpLayer).dport = 80 + (frame.seq % 3);
        (layers[1] as IPv6Layer).dst = `2001:db8:1::${(1 + (frame.seq % 7)).toString(16)}`;
      });
      expect(frame.data.equals(expected)).toBe(true);
    }
  });

  it('signs ICMP and ICMPv6 echo flows and keeps a template payload after the signature', () => {
    for (const headers of [() => [eth(), v4(), ICMP({ id: 9 })], () => [eth(), v6(), ICMPv6EchoRequest({ id: 9 })]]) {
      const f = flow({ template: stack(...headers(), Raw('wirelab')), runId: RUN_ID, flowId: 7, count: 3, ratePps: 1, size: 128 });
      for (const frame of f) {
        const packet = parse(frame.data);
        expect(packet.checksumErrors()).toEqual([]);
        const at = findSignature(frame.data, RUN);
        expect(at).toBe(headers().reduce((n, l) => n + l.headerLength(), 0));
        expect(readSignature(frame.data, at)).toMatchObject({ runTag: RUN, flowId: 7, seq: frame.seq });
        expect(frame.data.subarray(at + 18, at + 25).toString('latin1')).toBe('wirelab');
      }
    }
  });

  it('is lazy: a billion-frame flow yields its first frames at once', () => {
    const f = flow({ template: stack(eth(), v4(), UDP()), runId: RUN_ID, flowId: 1, count: 1e9, ratePps: 1e6, size: 60 });
    const it = f[Symbol.iterator]();
    expect(it.next().value?.seq).toBe(0);
    expect(it.next().value?.seq).toBe(1);
  });

  it('puts the signature after the last header of any template, and rejects a cycle running past the field', () => {
    // A later IPv4 fragment (no transport header) carries the signature right after the IP header.
    const fragment = flow({
      template: stack(eth(), IPv4({ src: '198.18.0.1', dst: '198.18.0.2', fragOffset: 100 })),
      runId: 'wl-000001',
      flowId: 1,
      count: 1,
      ratePps: 1,
      size: 60,
    });
    expect(findSignature(fragment.frameAt(0))).toBe(34);
    const template = stack(eth(), v4(), UDP({ sport: 65535 }));
    expect(() => flow({ template, runId: 'wl-000001', flowId: 1, count: 1, ratePps: 1, size: 60, vary: { srcPort: 2 } })).toThrow(
      /runs past 65535/,
    );
  });
});

describe('ARP flows', () => {
  it('carry the signature in the Ethernet trailer, right after the 28-byte ARP body', async () => {
    const { ARP, Ether, flow, stack, parse, findSignature } = await import('../../lib/frames/index.ts');
    const f = flow({
      template: stack(Ether({ src: '02:00:00:00:00:01' }), ARP({ hwsrc: '02:00:00:00:00:01', psrc: '198.18.0.1', pdst: '198.18.0.2' })),
      runId: 'wl-000001',
      flowId: 2,
      count: 3,
      ratePps: 10,
      size: 60,
    });
    const frame = f.frameAt(2);
    expect(frame.length).toBe(60);
    expect(findSignature(frame, 1)).toBe(42);
    expect(parse(frame).summary()).toMatch(/ARP who-has 198\.18\.0\.2 tell 198\.18\.0\.1/);
  });
});

describe('flows of many stations', () => {
  it('vary the low 32 bits of the source or destination MAC, counting up from the template', () => {
    const f = flow({
      template: stack(Ether({ src: '02:00:00:00:00:fe', dst: '02:00:00:00:01:00' }), IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }), UDP()),
      runId: 'wl-abcdef',
      flowId: 1,
      count: 4,
      ratePps: 100,
      size: 64,
      vary: { srcMac: 3, dstMac: 2 },
    });
    const macs = [...f].map((x) => [x.data.subarray(6, 12).toString('hex'), x.data.subarray(0, 6).toString('hex')]);
    expect(macs).toEqual([
      ['0200000000fe', '020000000100'],
      ['0200000000ff', '020000000101'],
      ['020000000100', '020000000100'],
      ['0200000000fe', '020000000101'],
    ]);
    expect(f.frameAt(2).equals([...f][2]!.data)).toBe(true);
  });
});
