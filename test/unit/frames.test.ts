// The DSL's own behaviour: summaries, analysis accessors, padding, malformed input, signatures.
import { describe, expect, it } from 'vitest';
import {
  ARP,
  BINDINGS,
  Dot1AD,
  Dot1Q,
  Ether,
  findSignature,
  ICMPv6NS,
  IPv4,
  IPv6,
  parse,
  Raw,
  readSignature,
  signatureBytes,
  stack,
  UDP,
  unwrapSendTime,
} from '../../lib/frames/index.ts';
import { readIPv6, writeIPv6 } from '../../lib/frames/addr.ts';
import { WirelabError } from '../../lib/core/errors.ts';

const M1 = '02:00:00:00:00:01';
const M2 = '02:00:00:00:00:02';
const udp4 = (payload: Uint8Array | string = Buffer.alloc(18)) =>
  stack(
    Ether({ src: M1, dst: M2 }),
    Dot1Q({ vlan: 10 }),
    IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }),
    UDP({ sport: 1000, dport: 2000 }),
    Raw(payload),
  );

describe('summary and analysis accessors', () => {
  it('prints one scapy-like line', () => {
    expect(parse(udp4().build()).summary()).toBe(
      'Ether 02:00:00:00:00:01 > 02:00:00:00:00:02 / 802.1Q vlan=10 / IPv4 198.18.0.1 > 198.18.0.2 ttl=64 / UDP 1000 > 2000 / Raw 18B',
    );
  });

  it('gives MACs, VLAN tags (outer first), TTL / hop limit', () => {
    const qinq = parse(
      stack(
        Ether({ src: M1, dst: M2 }),
        Dot1AD({ vlan: 100 }),
        Dot1Q({ vlan: 10, prio: 3 }),
        IPv4({ src: '198.18.0.1', dst: '198.18.0.2', ttl: 7 }),
        UDP(),
      ).build(),
    );
    expect(qinq.get('Ether')).toMatchObject({ src: M1, dst: M2, type: 0x88a8 });
    expect(qinq.vlans()).toEqual([100, 10]);
    expect(qinq.get('Dot1Q')?.prio).toBe(3);
    expect(qinq.hopLimit()).toBe(7);
    const v6 = parse(stack(Ether({ src: M1, dst: M2 }), IPv6({ src: '2001:db8::1', dst: '2001:db8::2', hopLimit: 9 })).build());
    expect(v6.hopLimit()).toBe(9);
    expect(v6.get('IPv6')?.dst).toBe('2001:db8::2');
  });

  it('sets IPv6 hop limit 255 under neighbour discovery unless given', () => {
    const ns = parse(
      stack(Ether({ src: M1 }), IPv6({ src: '2001:db8::1', dst: 'ff02::1:ff00:2' }), ICMPv6NS({ target: '2001:db8::2' })).build(),
    );
    expect(ns.hopLimit()).toBe(255);
  });
});

describe('checksum validity', () => {
  it('flags the layers whose checksum a corrupted byte breaks', () => {
    const bytes = udp4('payload!').build();
    expect(parse(bytes).checksumErrors()).toEqual([]);
    bytes[bytes.length - 1]! ^= 0xff; // payload: only UDP covers it
    expect(parse(bytes).checksumErrors()).toEqual(['UDP']);
    bytes[18 + 8]! -= 1; // TTL: the IPv4 header checksum covers it, the UDP one does not
    expect(parse(bytes).checksumErrors()).toEqual(['IPv4', 'UDP']);
  });
});

describe('padding', () => {
  it('does not pad short frames (like scapy bytes()) unless asked', () => {
    const arp = stack(Ether({ src: M1 }), ARP({ hwsrc: M1, psrc: '198.18.0.1', pdst: '198.18.0.2' }));
    expect(arp.build()).toHaveLength(42);
    const padded = arp.build({ padTo: 60 });
    expect(padded).toHaveLength(60);
    const parsed = parse(padded);
    expect(parsed.padding).toHaveLength(18);
    expect(parsed.summary()).toMatch(/ \/ Padding 18B$/);
    expect(parsed.build().equals(padded)).toBe(true);
  });

  it('keeps Ethernet padding after an IPv4 datagram out of the UDP payload', () => {
    const bytes = stack(Ether({ src: M1, dst: M2 }), IPv4({ src: '198.18.0.1', dst: '198.18.0.2' }), UDP(), Raw('ab')).build({ padTo: 60 });
    const parsed = parse(bytes);
    expect(parsed.get('Raw')?.load).toEqual(Buffer.from('ab'));
    expect(parsed.padding).toHaveLength(60 - 44);
    expect(parsed.checksumErrors()).toEqual([]);
  });
});

describe('parse never throws', () => {
  const good = udp4('0123456789abcdef').build();

  it.each(Array.from({ length: good.length }, (_, n) => n))('marks a frame truncated to %i bytes as malformed', (n) => {
    const parsed = parse(good.subarray(0, n));
    // Every prefix shorter than the full frame is missing something the headers promise.
    expect(parsed.malformed).toBeDefined();
    expect(parsed.build().equals(good.subarray(0, n))).toBe(true);
  });

  it('survives random garbage and reports what it could not read', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: rnd() % 120 }, rnd));
      const parsed = parse(bytes);
      expect(parsed.build().equals(bytes)).toBe(true);
    }
  });

  it('names the layer and the problem', () => {
    const bytes = Buffer.from(good);
    bytes[18] = 0x46; // IHL 6 words: the header now claims 4 option bytes that are the UDP header
    bytes.writeUInt16BE(10, 18 + 2); // total length shorter than the header
    expect(parse(bytes).malformed).toBe('IPv4: total length 10 is shorter than its 24-byte header');
    expect(parse(Buffer.from([1, 2, 3])).summary()).toBe('Raw 3B / !malformed: Ether: header truncated (3 of 14 bytes)');
  });
});

describe('signature', () => {
  it('is found anywhere in a frame, and only for the given run', () => {
    const sig = signatureBytes({ runTag: 0xdeadbeef, flowId: 3, seq: 77, sendTime32: 5 });
    const frame = Buffer.concat([Buffer.from('WLB1 decoy WLB1'), Buffer.alloc(33), sig, Buffer.alloc(5)]);
    const at = findSignature(frame, 0xdeadbeef);
    expect(at).toBe(48);
    expect(readSignature(frame, at)).toEqual({ runTag: 0xdeadbeef, flowId: 3, seq: 77, sendTime32: 5 });
    expect(findSignature(frame, 1)).toBe(-1);
    expect(findSignature(frame.subarray(0, 60))).toBe(0); // without run id the decoy matches
    expect(findSignature(frame.subarray(0, 60), 0xdeadbeef)).toBe(-1); // cut signature
  });

  it('unwraps the 32-bit send-time slot next to a full timestamp', () => {
    const sent = 123_456_789_012_345n;
    const slot = Number(sent & 0xffffffffn);
    expect(unwrapSendTime(slot, sent + 1_000_000n)).toBe(sent);
    expect(unwrapSendTime(slot, sent - 2_000_000_000n)).toBe(sent);
    expect(unwrapSendTime(slot, sent + 2_000_000_000n)).toBe(sent);
  });
});

describe('addresses and field validation', () => {
  it('formats IPv6 like RFC 5952', () => {
    const buf = Buffer.alloc(16);
    for (const [input, text] of [
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::', '::'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
    ]) {
      writeIPv6(buf, 0, input!);
      expect(readIPv6(buf, 0)).toBe(text);
    }
  });

  it('rejects bad addresses and out-of-range fields with the name and value', () => {
    expect(() => stack(Ether({ src: '02:00:00:00:00' })).build()).toThrow(/Invalid MAC address '02:00:00:00:00'/);
    expect(() => IPv4({ src: '198.18.0.1', dst: '198.18.0.2', ttl: 256 })).toThrow(WirelabError);
    expect(() => Dot1Q({ vlan: 4096 })).toThrow("field 'vlan' is 4096; allowed: an integer 0..4095");
    expect(() => stack(Ether({ src: M1 }), IPv4({ src: '198.18.0.256', dst: '198.18.0.2' })).build()).toThrow(/IPv4 address/);
  });

  it('has one binding table covering both directions', () => {
    expect(BINDINGS).toContainEqual({ lower: 'Dot1AD', field: 'type', value: 0x8100, upper: 'Dot1Q' });
    expect(BINDINGS).toContainEqual({ lower: 'IPv6', field: 'nextHeader', value: 58, upper: 'ICMPv6' });
  });
});
