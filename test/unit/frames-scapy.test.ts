// Our frames must be byte-identical to what Debian's python3-scapy builds for the same description.
// All scapy expressions go to one /usr/bin/python3 run. Every scapy Ether() names its dst: a missing
// one makes scapy resolve it (ARP/ND on the host's network), which a test must never cause.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ARP,
  Dot1AD,
  Dot1Q,
  Ether,
  ICMP,
  ICMPv6EchoReply,
  ICMPv6EchoRequest,
  ICMPv6NA,
  ICMPv6NS,
  IPv4,
  IPv6,
  IPv6DestOpts,
  IPv6Fragment,
  IPv6HopByHop,
  IPv6Routing,
  LLC,
  type Packet,
  parse,
  Raw,
  stack,
  TCP,
  UDP,
} from '../../lib/frames/index.ts';

const PYTHON = '/usr/bin/python3';
const HELPER = new URL('./scapy/build.py', import.meta.url).pathname;

const M1 = '02:00:00:00:00:01';
const M2 = '02:00:00:00:00:02';
const A = '198.18.0.1';
const B = '198.18.0.2';
const A6 = '2001:db8::1';
const B6 = '2001:db8::2';
const E = `Ether(src="${M1}", dst="${M2}")`;
const EB = `Ether(src="${M1}", dst="ff:ff:ff:ff:ff:ff")`;
const ip = `IP(src="${A}", dst="${B}")`;
const ip6 = `IPv6(src="${A6}", dst="${B6}")`;
const eth = () => Ether({ src: M1, dst: M2 });
const v4 = (o: Partial<Parameters<typeof IPv4>[0]> = {}) => IPv4({ src: A, dst: B, ...o });
const v6 = (o: Partial<Parameters<typeof IPv6>[0]> = {}) => IPv6({ src: A6, dst: B6, ...o });
const payload = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff));
const pyBytes = (n: number) => `bytes.fromhex("${payload(n).toString('hex')}")`;

interface Case {
  name: string;
  ours: Packet;
  scapy: string;
  /** For padded cases: our build option and scapy's explicit ljust. */
  padTo?: number;
}

const CASES: Case[] = [
  {
    name: 'UDP/IPv4 with payload',
    ours: stack(eth(), v4(), UDP({ sport: 1000, dport: 2000 }), Raw('hello')),
    scapy: `${E}/${ip}/UDP(sport=1000, dport=2000)/Raw(b"hello")`,
  },
  {
    name: '802.1Q',
    ours: stack(eth(), Dot1Q({ vlan: 10 }), v4(), UDP({ sport: 1000, dport: 2000 }), Raw(payload(18))),
    scapy: `${E}/Dot1Q(vlan=10)/${ip}/UDP(sport=1000, dport=2000)/Raw(${pyBytes(18)})`,
  },
  {
    name: 'QinQ 802.1ad + 802.1Q',
    ours: stack(eth(), Dot1AD({ vlan: 100 }), Dot1Q({ vlan: 10 }), v4(), UDP({ sport: 5, dport: 6 })),
    scapy: `${E}/Dot1AD(vlan=100)/Dot1Q(vlan=10)/${ip}/UDP(sport=5, dport=6)`,
  },
  {
    name: '802.1Q prio/dei, TCP',
    ours: stack(eth(), Dot1Q({ vlan: 4094, prio: 5, dei: true }), v4(), TCP({ sport: 40000, dport: 443 })),
    scapy: `${E}/Dot1Q(vlan=4094, prio=5, id=1)/${ip}/TCP(sport=40000, dport=443)`,
  },
  {
    name: 'ARP request',
    ours: stack(Ether({ src: M1 }), ARP({ hwsrc: M1, psrc: A, pdst: B })),
    scapy: `${EB}/ARP(hwsrc="${M1}", psrc="${A}", pdst="${B}")`,
  },
  {
    name: 'ARP reply',
    ours: stack(eth(), ARP({ op: 2, hwsrc: M1, psrc: A, hwdst: M2, pdst: B })),
    scapy: `${E}/ARP(op=2, hwsrc="${M1}", psrc="${A}", hwdst="${M2}", pdst="${B}")`,
  },
  {
    name: 'ARP in 802.1Q',
    ours: stack(Ether({ src: M1 }), Dot1Q({ vlan: 20 }), ARP({ hwsrc: M1, psrc: A, pdst: B })),
    scapy: `${EB}/Dot1Q(vlan=20)/ARP(hwsrc="${M1}", psrc="${A}", pdst="${B}")`,
  },
  {
    name: 'IPv4 ttl/tos/id/DF',
    ours: stack(eth(), v4({ ttl: 1, tos: 0xb8, id: 0x1234, df: true }), UDP({ sport: 7, dport: 9 })),
    scapy: `${E}/IP(src="${A}", dst="${B}", ttl=1, tos=0xb8, id=0x1234, flags="DF")/UDP(sport=7, dport=9)`,
  },
  {
    name: 'IPv4 router-alert option',
    ours: stack(eth(), v4({ options: Buffer.from([0x94, 0x04, 0, 0]) }), UDP()),
    scapy: `${E}/IP(src="${A}", dst="${B}", options=[IPOption(b"\\x94\\x04\\x00\\x00")])/UDP()`,
  },
  {
    name: 'IPv4 odd-length option (padded)',
    ours: stack(eth(), v4({ options: Buffer.from([0x01, 0x01, 0x01]) }), UDP()),
    scapy: `${E}/IP(src="${A}", dst="${B}", options=[IPOption(b"\\x01\\x01\\x01")])/UDP()`,
  },
  {
    name: 'IPv4 first fragment (MF)',
    ours: stack(eth(), v4({ mf: true }), UDP({ sport: 1, dport: 2 }), Raw(payload(32))),
    scapy: `${E}/IP(src="${A}", dst="${B}", flags="MF")/UDP(sport=1, dport=2)/Raw(${pyBytes(32)})`,
  },
  {
    name: 'IPv4 later fragment',
    ours: stack(eth(), v4({ fragOffset: 185, proto: 17 }), Raw(payload(40))),
    scapy: `${E}/IP(src="${A}", dst="${B}", frag=185, proto=17)/Raw(${pyBytes(40)})`,
  },
  {
    name: 'ICMP echo request',
    ours: stack(eth(), v4(), ICMP({ id: 0x4242, seq: 7 }), Raw(payload(56))),
    scapy: `${E}/${ip}/ICMP(id=0x4242, seq=7)/Raw(${pyBytes(56)})`,
  },
  { name: 'ICMP echo reply', ours: stack(eth(), v4(), ICMP({ type: 0, id: 1, seq: 2 })), scapy: `${E}/${ip}/ICMP(type=0, id=1, seq=2)` },
  {
    name: 'ICMP unreachable',
    ours: stack(eth(), v4(), ICMP({ type: 3, code: 1 }), Raw(payload(28))),
    scapy: `${E}/${ip}/ICMP(type=3, code=1)/Raw(${pyBytes(28)})`,
  },
  {
    name: 'TCP SYN with options',
    ours: stack(
      eth(),
      v4(),
      TCP({
        sport: 40000,
        dport: 80,
        seq: 1000,
        options: [
          { kind: 'mss', value: 1460 },
          { kind: 'sackOk' },
          { kind: 'timestamp', tsval: 12345, tsecr: 0 },
          { kind: 'nop' },
          { kind: 'wscale', value: 7 },
        ],
      }),
    ),
    scapy: `${E}/${ip}/TCP(sport=40000, dport=80, seq=1000, options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345, 0)), ("NOP", None), ("WScale", 7)])`,
  },
  {
    name: 'TCP PA with payload',
    ours: stack(
      eth(),
      v4(),
      TCP({ sport: 1234, dport: 80, flags: 'PA', seq: 0xdeadbeef, ack: 42, window: 512 }),
      Raw('GET / HTTP/1.0\r\n\r\n'),
    ),
    scapy: `${E}/${ip}/TCP(sport=1234, dport=80, flags="PA", seq=0xdeadbeef, ack=42, window=512)/Raw(b"GET / HTTP/1.0\\r\\n\\r\\n")`,
  },
  { name: 'TCP FIN-ACK', ours: stack(eth(), v4(), TCP({ flags: 'FA', urgptr: 3 })), scapy: `${E}/${ip}/TCP(flags="FA", urgptr=3)` },
  {
    name: 'TCP MSS only (no padding needed)',
    ours: stack(eth(), v4(), TCP({ options: [{ kind: 'mss', value: 9000 }] })),
    scapy: `${E}/${ip}/TCP(options=[("MSS", 9000)])`,
  },
  {
    name: 'TCP wscale only (padded)',
    ours: stack(eth(), v4(), TCP({ options: [{ kind: 'wscale', value: 14 }] })),
    scapy: `${E}/${ip}/TCP(options=[("WScale", 14)])`,
  },
  {
    name: 'IPv6 UDP',
    ours: stack(eth(), v6(), UDP({ sport: 1000, dport: 2000 }), Raw(payload(10))),
    scapy: `${E}/${ip6}/UDP(sport=1000, dport=2000)/Raw(${pyBytes(10)})`,
  },
  {
    name: 'IPv6 tc/flow label/hlim, TCP',
    ours: stack(eth(), v6({ trafficClass: 0x2e, flowLabel: 0xabcde, hopLimit: 3 }), TCP({ sport: 5000, dport: 22 })),
    scapy: `${E}/IPv6(src="${A6}", dst="${B6}", tc=0x2e, fl=0xabcde, hlim=3)/TCP(sport=5000, dport=22)`,
  },
  {
    name: 'ICMPv6 echo request',
    ours: stack(eth(), v6(), ICMPv6EchoRequest({ id: 0x77, seq: 3 }), Raw(payload(24))),
    scapy: `${E}/${ip6}/ICMPv6EchoRequest(id=0x77, seq=3)/Raw(${pyBytes(24)})`,
  },
  {
    name: 'ICMPv6 echo reply',
    ours: stack(eth(), v6(), ICMPv6EchoReply({ id: 1, seq: 9 })),
    scapy: `${E}/${ip6}/ICMPv6EchoReply(id=1, seq=9)`,
  },
  {
    name: 'ICMPv6 NS with source LL option',
    ours: stack(
      Ether({ src: M1, dst: '33:33:ff:00:00:02' }),
      IPv6({ src: A6, dst: 'ff02::1:ff00:2' }),
      ICMPv6NS({ target: B6, sourceLinkAddr: M1 }),
    ),
    scapy: `Ether(src="${M1}", dst="33:33:ff:00:00:02")/IPv6(src="${A6}", dst="ff02::1:ff00:2")/ICMPv6ND_NS(tgt="${B6}")/ICMPv6NDOptSrcLLAddr(lladdr="${M1}")`,
  },
  { name: 'ICMPv6 NS without option', ours: stack(eth(), v6(), ICMPv6NS({ target: B6 })), scapy: `${E}/${ip6}/ICMPv6ND_NS(tgt="${B6}")` },
  {
    name: 'ICMPv6 NA solicited with target LL',
    ours: stack(eth(), v6(), ICMPv6NA({ target: B6, router: false, solicited: true, targetLinkAddr: M2 })),
    scapy: `${E}/${ip6}/ICMPv6ND_NA(tgt="${B6}", R=0, S=1, O=1)/ICMPv6NDOptDstLLAddr(lladdr="${M2}")`,
  },
  { name: 'ICMPv6 NA defaults', ours: stack(eth(), v6(), ICMPv6NA({ target: B6 })), scapy: `${E}/${ip6}/ICMPv6ND_NA(tgt="${B6}")` },
  {
    name: '802.1Q IPv6 UDP',
    ours: stack(eth(), Dot1Q({ vlan: 300 }), v6(), UDP({ sport: 9, dport: 9 })),
    scapy: `${E}/Dot1Q(vlan=300)/${ip6}/UDP(sport=9, dport=9)`,
  },
  { name: 'Ether with unknown payload', ours: stack(eth(), Raw(payload(46))), scapy: `${E}/Raw(${pyBytes(46)})` },
  {
    name: 'explicit ethertype',
    ours: stack(Ether({ src: M1, dst: M2, type: 0x88b5 }), Raw('local experimental')),
    scapy: `Ether(src="${M1}", dst="${M2}", type=0x88b5)/Raw(b"local experimental")`,
  },
  { name: '6in4', ours: stack(eth(), v4(), v6(), UDP({ sport: 1, dport: 1 })), scapy: `${E}/${ip}/${ip6}/UDP(sport=1, dport=1)` },
  { name: 'UDP checksum 0 (none)', ours: stack(eth(), v4(), UDP({ checksum: 0 }), Raw('x')), scapy: `${E}/${ip}/UDP(chksum=0)/Raw(b"x")` },
  {
    name: 'deliberately wrong IPv4 checksum',
    ours: stack(eth(), v4({ checksum: 0x1234 }), UDP()),
    scapy: `${E}/IP(src="${A}", dst="${B}", chksum=0x1234)/UDP()`,
  },
  { name: 'IPv4 without payload', ours: stack(eth(), v4()), scapy: `${E}/${ip}` },
  { name: 'IPv6 without payload', ours: stack(eth(), v6()), scapy: `${E}/${ip6}` },
  {
    name: 'full-size UDP frame',
    ours: stack(eth(), v4(), UDP({ sport: 1, dport: 2 }), Raw(payload(1472))),
    scapy: `${E}/${ip}/UDP(sport=1, dport=2)/Raw(${pyBytes(1472)})`,
  },
  {
    name: 'ARP padded to 60',
    ours: stack(Ether({ src: M1 }), ARP({ hwsrc: M1, psrc: A, pdst: B })),
    padTo: 60,
    scapy: `bytes(${EB}/ARP(hwsrc="${M1}", psrc="${A}", pdst="${B}")).ljust(60, b"\\x00")`,
  },
  {
    name: 'tagged ICMPv6 echo',
    ours: stack(eth(), Dot1Q({ vlan: 7 }), v6(), ICMPv6EchoRequest({ id: 5, seq: 6 }), Raw(payload(8))),
    scapy: `${E}/Dot1Q(vlan=7)/${ip6}/ICMPv6EchoRequest(id=5, seq=6)/Raw(${pyBytes(8)})`,
  },
  {
    name: '802.3 length + LLC',
    ours: stack(eth(), LLC({ dsap: 0xf0, ssap: 0xf0 }), Raw(payload(43))),
    scapy: `Dot3(src="${M1}", dst="${M2}")/LLC(dsap=0xf0, ssap=0xf0, ctrl=3)/Raw(${pyBytes(43)})`,
  },
  {
    name: '802.3 length + LLC/SNAP',
    ours: stack(eth(), LLC({ snap: { oui: 0, pid: 0x88b5 } }), Raw(payload(38))),
    scapy: `Dot3(src="${M1}", dst="${M2}")/LLC(dsap=0xaa, ssap=0xaa, ctrl=3)/SNAP(OUI=0, code=0x88b5)/Raw(${pyBytes(38)})`,
  },
  {
    name: 'IPv6 hop-by-hop (PadN) + UDP',
    ours: stack(eth(), v6(), IPv6HopByHop(), UDP({ sport: 7, dport: 9 }), Raw(payload(10))),
    scapy: `${E}/${ip6}/IPv6ExtHdrHopByHop()/UDP(sport=7, dport=9)/Raw(${pyBytes(10)})`,
  },
  {
    name: 'IPv6 destination options + routing (type 253) + TCP',
    ours: stack(eth(), v6(), IPv6DestOpts(), IPv6Routing({ routingType: 253 }), TCP({ flags: 'S' })),
    scapy: `${E}/${ip6}/IPv6ExtHdrDestOpt()/IPv6ExtHdrRouting(type=253, segleft=0, addresses=[])/TCP(flags="S")`,
  },
  {
    name: 'IPv6 first fragment',
    ours: stack(eth(), v6(), IPv6Fragment({ more: true, id: 0x1234 }), UDP({ sport: 7, dport: 9 }), Raw(payload(16))),
    scapy: `${E}/${ip6}/IPv6ExtHdrFragment(m=1, id=0x1234)/UDP(sport=7, dport=9)/Raw(${pyBytes(16)})`,
  },
];

let scapyHex: string[] = [];

beforeAll(() => {
  if (!existsSync(PYTHON)) {
    throw new Error(`${PYTHON} is missing: install Debian's python3 and python3-scapy (apt-get install python3-scapy).`);
  }
  try {
    const out = execFileSync(PYTHON, [HELPER], { input: JSON.stringify(CASES.map((c) => c.scapy)), timeout: 20_000 });
    scapyHex = JSON.parse(out.toString()) as string[];
  } catch (e) {
    throw new Error(`scapy comparison could not run (${PYTHON} ${HELPER}); is python3-scapy installed? ${(e as Error).message}`);
  }
});

describe('frames are byte-identical to scapy', () => {
  it('covers at least 30 descriptions', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(scapyHex).toHaveLength(CASES.length);
  });

  it.each(CASES.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
    const c = CASES[i]!;
    expect(c.ours.build({ padTo: c.padTo }).toString('hex')).toBe(scapyHex[i]);
  });
});

describe('parse', () => {
  it.each(CASES.map((c, i) => [c.name, i] as const))('reads scapy bytes back and rebuilds them exactly: %s', (_name, i) => {
    const bytes = Buffer.from(scapyHex[i]!, 'hex');
    const parsed = parse(bytes);
    expect(parsed.malformed).toBeUndefined();
    expect(parsed.build().equals(bytes)).toBe(true);
    // The parsed summary names the same layers as the description (padding aside).
    expect(parsed.layers.map((l) => l.kind)).toEqual(CASES[i]!.ours.layers.map((l) => l.kind));
  });

  it.each(CASES.map((c, i) => [c.name, i] as const))('round-trips parse(build(x)): %s', (_name, i) => {
    const built = CASES[i]!.ours.build();
    const again = parse(built);
    expect(again.build().equals(built)).toBe(true);
    const bad = CASES[i]!.name === 'deliberately wrong IPv4 checksum' ? ['IPv4'] : [];
    expect(again.checksumErrors()).toEqual(bad);
  });
});
