// Each role's contract as a table: frame classes (conditions on a case's dimensions, tried in order,
// first match decides, as in a rule list) × the behaviour the role promises for them. The traffic plan,
// the checks, the suites' tests and the README's role table all come from these tables.
//
// Pure: settings in, a table out.
import type { GuestRole } from '../core/roles.ts';
import { feasibleSpace, type Condition, type FrameCase, type FrameSpace } from './frame-space.ts';
import type { ContractSettings } from './settings.ts';
import { bridgeSpace, routerSpace } from './spaces.ts';

/** What the role promises for a class of frames. */
export type Behaviour =
  /** Delivered once each, in order, none reflected, byte for byte as sent. */
  | { kind: 'byte-exact' }
  /**
   * Delivered once each, in order, routed: source MAC = the egress NIC, destination MAC = the next hop,
   * TTL/hop limit − 1, nothing else changed.
   */
  | { kind: 'routed' }
  /** Delivered in IPv4 fragments that fit the egress MTU and reassemble to the routed datagram. */
  | { kind: 'fragmented' }
  /** Not forwarded; `answer` is what the sender gets back: nothing, a named ICMP error, or anything (not judged). */
  | { kind: 'dropped'; answer: 'nothing' | 'time-exceeded' | 'too-big' | 'any' }
  /** Received (the monitor counts it); nothing forwarded or sent. */
  | { kind: 'mirrored' }
  /** Either delivered byte-exact or not forwarded: reported, never failed. */
  | { kind: 'either'; why: string };

export interface ContractRow {
  /** Stable id: the test's slice of the functional window. */
  id: string;
  /** The frames, as a sentence names them: "frames to a MAC the bridge has learned". */
  frames: string;
  /** Any of these lists of conditions, each list all-must-hold; an empty `when` matches every case. */
  when: readonly (readonly Condition[])[];
  behaviour: Behaviour;
  /** The standard (and section) the promise comes from. */
  basis: string;
}

export interface RoleContract {
  role: GuestRole;
  settings: ContractSettings;
  space: FrameSpace;
  rows: readonly ContractRow[];
}

const is = (dimension: string, ...oneOf: string[]): Condition => ({ dimension, oneOf });

export function contractFor(settings: ContractSettings): RoleContract {
  const space = feasibleSpace(settings.role === 'l3-forwarder' ? routerSpace(settings) : bridgeSpace(settings));
  const rows = settings.role === 'l3-forwarder' ? ROUTER_ROWS : settings.role === 'monitor' ? MONITOR_ROWS : bridgeRows(settings);
  const values = new Map(space.dimensions.map((d) => [d.id, new Set(d.values.map((v) => v.id))]));
  return { role: settings.role, settings, space, rows: rows.filter((row) => canMatch(row, values)) };
}

/**
 * Whether some case of this space can fall in the row: a row about values the lab cannot send (packets
 * over the egress MTU when both sides have the same MTU) is no promise to test, not a test of 0 cases.
 */
function canMatch(row: ContractRow, values: ReadonlyMap<string, ReadonlySet<string>>): boolean {
  if (row.when.length === 0) return true;
  return row.when.some((all) => all.every((c) => c.oneOf.some((v) => values.get(c.dimension)?.has(v) ?? false)));
}

function bridgeRows(settings: ContractSettings): ContractRow[] {
  const delivered = (id: string, frames: string, when: Condition[], basis: string): ContractRow => ({
    id,
    frames,
    when: [when],
    behaviour: { kind: 'byte-exact' },
    basis,
  });
  const reserved: ContractRow[] =
    settings.reservedGroups === 'pass'
      ? [
          delivered(
            'reserved-groups',
            'frames to the reserved group addresses 01:80:c2:00:00:00/03/0e (relayed, as declared: expect.reservedGroups: pass)',
            [is('destination', 'reserved-00', 'reserved-03', 'reserved-0e')],
            'the profile: a bump in the wire invisible to the switches around it relays them',
          ),
        ]
      : [
          {
            id: 'reserved-groups',
            frames:
              settings.reservedGroups === 'filter'
                ? 'frames to the reserved group addresses 01:80:c2:00:00:00/03/0e (never relayed, as declared: ' +
                  'expect.reservedGroups: filter)'
                : 'frames to the reserved group addresses 01:80:c2:00:00:03/0e (never relayed)',
            when: [[is('destination', ...(settings.reservedGroups === 'filter' ? ['reserved-00'] : []), 'reserved-03', 'reserved-0e')]],
            behaviour: { kind: 'dropped', answer: 'nothing' },
            basis: 'IEEE 802.1Q §8.6.3 and Table 8-1: a bridge never relays frames to 01:80:c2:00:00:00–0f',
          },
          ...(settings.reservedGroups === 'standard'
            ? [
                {
                  id: 'bpdu-address',
                  frames: 'frames to 01:80:c2:00:00:00 (the STP BPDU address)',
                  when: [[is('destination', 'reserved-00')]],
                  behaviour: {
                    kind: 'either' as const,
                    why: 'a bridge that runs no spanning tree may relay BPDUs (Linux does); declare expect.reservedGroups to judge them',
                  },
                  basis: 'IEEE 802.1Q Table 8-1 and common practice',
                },
              ]
            : []),
        ];
  return [
    ...reserved,
    delivered(
      'known-unicast',
      'unicast frames to a MAC the bridge has learned',
      [is('destination', 'known-unicast')],
      'IEEE 802.1Q §8.6.3: forwarded by the filtering database',
    ),
    delivered(
      'unknown-unicast',
      'unicast frames to a MAC never seen (flooded)',
      [is('destination', 'unknown-unicast')],
      'IEEE 802.1Q §8.7.6: a destination not in the filtering database is flooded to every other port',
    ),
    delivered(
      'broadcast',
      'broadcast frames (flooded)',
      [is('destination', 'broadcast')],
      'IEEE 802.1Q §8.6.3: the broadcast address is flooded',
    ),
    {
      id: 'multicast-bad-checksum',
      frames: 'IPv4 with a bad header checksum to group addresses',
      when: [[is('destination', 'ipv4-multicast', 'ipv6-multicast', 'other-group', 'after-reserved'), is('ipExtras', 'bad-checksum')]],
      behaviour: {
        kind: 'either',
        why:
          'a bridge that snoops IGMP reads the IPv4 header of frames to group addresses and may drop one it cannot read, as ' +
          'Linux bridges do',
      },
      basis: 'RFC 4541 §2.1 (IGMP snooping) and IEEE 802.1Q §8.8.6',
    },
    delivered(
      'multicast',
      'frames to group addresses: IPv4 and IPv6 multicast, other groups, 01:80:c2:00:00:10 (flooded)',
      [is('destination', 'ipv4-multicast', 'ipv6-multicast', 'other-group', 'after-reserved')],
      'IEEE 802.1Q §8.8.6 and RFC 4541: group addresses are flooded when no IGMP/MLD querier is present (the lab has none)',
    ),
  ];
}

const ROUTER_ROWS: readonly ContractRow[] = [
  {
    id: 'bad-checksum',
    frames: 'IPv4 packets with a bad header checksum',
    when: [[is('ipExtras', 'bad-checksum')]],
    behaviour: { kind: 'dropped', answer: 'nothing' },
    basis: 'RFC 1812 §5.2.2: a packet with a bad header checksum is silently discarded',
  },
  {
    id: 'not-for-the-router',
    frames: "unicast packets sent as a link-layer broadcast or to another station's MAC",
    when: [[is('linkDestination', 'broadcast', 'other-station')]],
    behaviour: { kind: 'dropped', answer: 'nothing' },
    basis:
      'RFC 1812 §5.3.4: a packet received as a link-layer broadcast with a unicast destination is never forwarded; a frame to ' +
      "another MAC is not the router's",
  },
  {
    id: 'not-routable',
    frames: "packets to the limited broadcast, the other subnet's directed broadcast or a multicast group",
    when: [[is('ipDestination', 'limited-broadcast', 'directed-broadcast', 'multicast')]],
    behaviour: { kind: 'dropped', answer: 'any' },
    basis: 'RFC 1812 §5.3.5.1 (never forward the limited broadcast), RFC 2644 (directed broadcasts off by default), no multicast routing',
  },
  {
    id: 'expired',
    frames: 'packets whose TTL / hop limit expires here (0 or 1)',
    when: [[is('hopLimit', '0', '1')]],
    behaviour: { kind: 'dropped', answer: 'time-exceeded' },
    basis: 'RFC 1812 §5.3.1 and RFC 4443 §3.3: discarded, and an ICMP Time Exceeded goes back to the source (rate-limited)',
  },
  {
    id: 'too-big',
    frames: "packets larger than the egress side's MTU that may not be fragmented (IPv4 with DF, all IPv6)",
    when: [
      [is('size', 'over-egress-mtu'), is('version', '6')],
      [is('size', 'over-egress-mtu'), is('ipExtras', 'df')],
    ],
    behaviour: { kind: 'dropped', answer: 'too-big' },
    basis:
      'RFC 1191 and RFC 1812 §4.2.2.5 (Fragmentation Needed with the next-hop MTU), RFC 8200 §5 and RFC 4443 §3.2 (routers never ' +
      'fragment IPv6: Packet Too Big with the MTU)',
  },
  {
    id: 'fragmented',
    frames: "IPv4 packets larger than the egress side's MTU without DF",
    when: [[is('size', 'over-egress-mtu')]],
    behaviour: { kind: 'fragmented' },
    basis: 'RFC 791 and RFC 1812 §4.2.2.7: fragmented to fit the egress MTU; the fragments reassemble to the datagram',
  },
  {
    id: 'routed',
    frames: 'every other packet to the host on the other side',
    when: [[]],
    behaviour: { kind: 'routed' },
    basis:
      'RFC 1812 §5.2–5.3 and RFC 8200: MACs rewritten for the next hop, TTL / hop limit − 1, checksum updated; addresses, ports, ' +
      'DSCP, ECN (but for CE marking), options, extension headers and payload unchanged',
  },
];

const MONITOR_ROWS: readonly ContractRow[] = [
  {
    id: 'mirrored',
    frames: 'every frame mirrored to it, of every kind',
    when: [[]],
    behaviour: { kind: 'mirrored' },
    basis: 'the OpenContrail analyzer: it receives mirrored traffic, reports it, and injects nothing',
  },
];

/** Whether a case is in a row. */
export function rowMatches(row: ContractRow, c: FrameCase): boolean {
  return row.when.some((all) => all.every((cond) => cond.oneOf.includes(c[cond.dimension] ?? '')));
}

/** The row a case is in: the first that matches. */
export function rowOf(contract: RoleContract, c: FrameCase): ContractRow {
  const row = contract.rows.find((r) => rowMatches(r, c));
  if (!row) throw new Error(`no row of the ${contract.role} contract matches a case; the table must end with a catch-all`);
  return row;
}
