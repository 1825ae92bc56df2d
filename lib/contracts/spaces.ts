// The frame spaces of the roles, from the standards: what kinds of frame a wire carries, as
// dimensions with equivalence classes and their boundary values. A bridge's space (IEEE 802.1Q §8.6,
// 802.3 clause 3; the UNH-IOL bridge-function test plans) varies what a bridge must carry blind: the
// destination class, the EtherType or 802.3 length, the VLAN tags and their priority, and the IP and
// transport fields inside. A router's (RFC 1812 §4–5, RFC 791/792, RFC 8200, RFC 4443, RFC 1191/8201)
// varies what a router must act on: IP version, the link and IP destinations, TTL / hop limit,
// options and extension headers, fragments, header checksum, size against the egress MTU.
//
// Pure: settings in, a space out.
import { otherSide, SIDES } from '../core/sides.ts';
import type { Condition, Dimension, FrameSpace } from './frame-space.ts';
import type { ContractSettings } from './settings.ts';

const is = (dimension: string, ...oneOf: string[]): Condition => ({ dimension, oneOf });

const IP_ETHERTYPES = ['ipv4', 'ipv6'];
const DIRECTION: Dimension = {
  id: 'direction',
  label: 'directions',
  values: [
    { id: 'left-to-right', label: 'left→right' },
    { id: 'right-to-left', label: 'right→left' },
  ],
  basis: 'both ports of the service are equal: every check is made both ways',
};

/** DSCP and ECN: the default, a common class, and the boundary (all ones, with congestion experienced). */
function tosDimension(when: Condition[]): Dimension {
  return {
    id: 'tos',
    label: 'DSCP/ECN values',
    when,
    values: [
      { id: 'default', label: 'DSCP 0, not ECN-capable' },
      { id: 'ef', label: 'DSCP 46 (EF)' },
      { id: 'af11-ect1', label: 'DSCP 10 (AF11), ECT(1)' },
      { id: 'max-ce', label: 'DSCP 63, ECN CE' },
    ],
    basis: 'RFC 2474/3168: the DS field and ECN bits are carried end to end; only a declared marker changes DSCP',
  };
}

/** The transport inside IP: each class a stateless service may treat differently. */
function transportDimension(when: Condition[], withIcmpError: boolean): Dimension {
  return {
    id: 'l4',
    label: 'transports',
    when,
    values: [
      { id: 'udp', label: 'UDP' },
      { id: 'udp-no-checksum', label: 'UDP without checksum (0)', requires: [is('ethertype', 'ipv4')] },
      { id: 'tcp-syn', label: 'TCP SYN' },
      { id: 'tcp-rst-ack', label: 'TCP RST+ACK' },
      { id: 'tcp-fin-psh-urg', label: 'TCP FIN+PSH+URG ("christmas tree")' },
      { id: 'icmp-echo', label: 'ICMP / ICMPv6 echo request' },
      ...(withIcmpError ? [{ id: 'icmp-error', label: 'ICMP / ICMPv6 destination unreachable' }] : []),
      { id: 'other-protocol', label: 'IP protocol 253 (experimental, RFC 3692)' },
    ],
    basis: 'RFC 768/9293/792/4443 and IANA protocol numbers: a forwarder carries every transport',
  };
}

/** The space of a transparent bridge (and of what a monitor is mirrored). */
export function bridgeSpace(settings: ContractSettings): FrameSpace {
  const ip = is('ethertype', ...IP_ETHERTYPES);
  const notLaterFragment = is(
    'ipExtras',
    'none',
    'router-alert',
    'df',
    'first-fragment',
    'bad-checksum',
    'hop-by-hop',
    'dest-opts-routing',
    'fragment-header',
  );
  const dimensions: Dimension[] = [
    DIRECTION,
    {
      id: 'destination',
      label: 'destination classes',
      values: [
        { id: 'known-unicast', label: "unicast to the receiver's MAC (learned)" },
        { id: 'unknown-unicast', label: 'unicast to a MAC never seen (flooded)' },
        { id: 'broadcast', label: 'broadcast ff:ff:ff:ff:ff:ff' },
        { id: 'ipv4-multicast', label: 'IPv4 multicast 01:00:5e:01:02:03' },
        { id: 'ipv6-multicast', label: 'IPv6 multicast 33:33:00:01:00:03' },
        { id: 'other-group', label: 'group address 01:1b:19:00:00:00 (PTP)' },
        { id: 'after-reserved', label: 'group address 01:80:c2:00:00:10 (just past the reserved block)' },
        { id: 'reserved-00', label: 'reserved 01:80:c2:00:00:00 (STP BPDUs)' },
        { id: 'reserved-03', label: 'reserved 01:80:c2:00:00:03 (802.1X)' },
        { id: 'reserved-0e', label: 'reserved 01:80:c2:00:00:0e (LLDP)' },
      ],
      basis:
        'IEEE 802.1Q §8.6.3 and Table 8-1: known unicast is forwarded, unknown unicast and group addresses are flooded (no IGMP/MLD ' +
        'querier in the lab), 01:80:c2:00:00:00–0f are never relayed by a standards bridge; :01 (PAUSE) and :02 (slow protocols) ' +
        "are left out: the lab's own Linux bridges cannot carry them",
    },
    {
      id: 'ethertype',
      label: 'EtherTypes',
      values: [
        { id: 'ipv4', label: 'EtherType 0x0800 (IPv4)' },
        { id: 'ipv6', label: 'EtherType 0x86dd (IPv6)' },
        { id: 'arp', label: 'EtherType 0x0806 (ARP)' },
        { id: 'mpls', label: 'EtherType 0x8847 (MPLS)' },
        { id: 'experimental', label: 'EtherType 0x88b5 (local experimental)' },
        { id: 'lowest-type', label: 'EtherType 0x0600 (the lowest EtherType)' },
        { id: 'llc', label: '802.3 length + LLC' },
        { id: 'snap', label: '802.3 length + LLC/SNAP' },
      ],
      basis: 'IEEE 802.3 clause 3.2.6 and the IEEE EtherType registry: a bridge forwards any EtherType and any length/LLC frame',
    },
    {
      id: 'vlan',
      label: 'VLAN tags',
      values: [
        { id: 'untagged', label: 'untagged' },
        { id: 'vid-0', label: 'priority-tagged (VID 0)' },
        { id: 'vid-1', label: '802.1Q VID 1' },
        { id: 'vid-100', label: '802.1Q VID 100' },
        { id: 'vid-4094', label: '802.1Q VID 4094 (the highest)' },
        { id: 'qinq', label: 'QinQ 802.1ad 200 / 802.1Q 100' },
        { id: 'double-q', label: 'double 802.1Q 300 / 100' },
      ],
      basis: 'IEEE 802.1Q §9.6: VID 0 (priority tag), 1 (default), 4094 (highest usable); 802.1ad S-tags; tags pass unchanged',
    },
    {
      id: 'priority',
      label: 'tag priorities',
      when: [is('vlan', 'vid-0', 'vid-1', 'vid-100', 'vid-4094', 'qinq', 'double-q')],
      values: [
        { id: 'pcp-0', label: 'PCP 0' },
        { id: 'pcp-5', label: 'PCP 5' },
        { id: 'pcp-7-dei', label: 'PCP 7 with DEI' },
      ],
      basis: 'IEEE 802.1Q §6.9.3: PCP and DEI are carried in the tag',
    },
    tosDimension([ip]),
    {
      id: 'ttl',
      label: 'TTL / hop limit values',
      when: [ip],
      values: [
        { id: '64', label: 'TTL 64' },
        { id: '0', label: 'TTL 0' },
        { id: '1', label: 'TTL 1' },
        { id: '255', label: 'TTL 255' },
      ],
      basis: 'a bridge never looks at TTL: its boundary values pass unchanged',
    },
    {
      id: 'ipExtras',
      label: 'IP header forms',
      when: [ip],
      values: [
        { id: 'none', label: 'a plain IP header' },
        { id: 'router-alert', label: 'IPv4 with an option (router alert)', requires: [is('ethertype', 'ipv4')] },
        { id: 'df', label: "IPv4 with don't-fragment", requires: [is('ethertype', 'ipv4')] },
        { id: 'first-fragment', label: 'an IPv4 first fragment (MF)', requires: [is('ethertype', 'ipv4')] },
        { id: 'later-fragment', label: 'an IPv4 later fragment (offset 1480)', requires: [is('ethertype', 'ipv4')] },
        { id: 'bad-checksum', label: 'IPv4 with a bad header checksum', requires: [is('ethertype', 'ipv4')] },
        { id: 'hop-by-hop', label: 'IPv6 with a hop-by-hop options header', requires: [is('ethertype', 'ipv6')] },
        { id: 'dest-opts-routing', label: 'IPv6 with destination options and routing headers', requires: [is('ethertype', 'ipv6')] },
        { id: 'fragment-header', label: 'IPv6 with a fragment header (first fragment)', requires: [is('ethertype', 'ipv6')] },
      ],
      basis: 'RFC 791 (options, flags, fragments, checksum) and RFC 8200 §4 (extension headers): a bridge carries them blind',
    },
    transportDimension([ip, notLaterFragment], true),
    {
      id: 'size',
      label: 'frame sizes',
      values: [
        { id: 'minimum', label: 'the smallest frame (60 bytes or the headers)' },
        { id: 'medium', label: '590-byte frames' },
        { id: 'maximum', label: `full-size frames (MTU ${settings.mtu} + 14 bytes + tags)` },
      ],
      basis: "IEEE 802.3 minimum frame and the profile's MTU (expect.mtu; jumbo when it says so), tags on top (802.3 envelope frames)",
    },
  ];
  return { name: settings.role, dimensions };
}

/** The space of an IP router, in the versions its traffic hosts speak. */
export function routerSpace(settings: ContractSettings): FrameSpace {
  const v4 = is('version', '4');
  const v6 = is('version', '6');
  // Sizes above the egress MTU exist only where the ingress side's MTU is larger than the egress side's.
  const shrinking = SIDES.filter((from) => settings.sideMtu[from] > settings.sideMtu[otherSide(from)]).map((from) =>
    from === 'left' ? 'left-to-right' : 'right-to-left',
  );
  const dimensions: Dimension[] = [
    {
      id: 'version',
      label: 'IP versions',
      values: settings.ipVersions.map((v) => ({ id: String(v), label: v === 4 ? 'IPv4' : 'IPv6' })),
      basis: 'RFC 1812 and RFC 8200: a router forwards both versions it is addressed in',
    },
    DIRECTION,
    {
      id: 'ipDestination',
      label: 'IP destinations',
      values: [
        { id: 'far-host', label: 'the host on the other side (routed)' },
        { id: 'limited-broadcast', label: 'the limited broadcast 255.255.255.255', requires: [v4] },
        { id: 'directed-broadcast', label: "the other subnet's directed broadcast", requires: [v4] },
        { id: 'multicast', label: 'a multicast group (239.1.2.3 / ff05::1:3)' },
      ],
      basis:
        'RFC 1812 §5.3.5 (limited broadcasts are never forwarded), RFC 2644 (directed broadcasts not forwarded by default), ' +
        'no multicast routing unless declared',
    },
    {
      id: 'linkDestination',
      label: 'link-layer destinations',
      when: [is('ipDestination', 'far-host')],
      values: [
        { id: 'router', label: "the router's own MAC" },
        { id: 'broadcast', label: 'the link-layer broadcast', requires: [v4] },
        { id: 'other-station', label: "another station's MAC" },
      ],
      basis: 'RFC 1812 §5.3.4: a packet received as a link-layer broadcast with a unicast IP destination is never forwarded',
    },
    tosDimension([]),
    {
      id: 'ipExtras',
      label: 'IP header forms',
      values: [
        { id: 'none', label: 'a plain IP header' },
        { id: 'router-alert', label: 'IPv4 with an option (router alert)', requires: [v4] },
        { id: 'df', label: "IPv4 with don't-fragment", requires: [v4] },
        { id: 'first-fragment', label: 'an IPv4 first fragment (MF)', requires: [v4, is('ipDestination', 'far-host')] },
        { id: 'later-fragment', label: 'an IPv4 later fragment (offset 1480)', requires: [v4, is('ipDestination', 'far-host')] },
        { id: 'bad-checksum', label: 'IPv4 with a bad header checksum', requires: [v4] },
        { id: 'hop-by-hop', label: 'IPv6 with a hop-by-hop options header', requires: [v6] },
        { id: 'dest-opts-routing', label: 'IPv6 with destination options and routing headers', requires: [v6] },
        { id: 'fragment-header', label: 'IPv6 with a fragment header (first fragment)', requires: [v6, is('ipDestination', 'far-host')] },
      ],
      basis: 'RFC 791 / RFC 1812 §4.2.2, §5.2.2 (checksum), §5.3.13 (options); RFC 8200 §4 (extension headers pass unchanged)',
    },
    {
      ...transportDimension(
        [
          is(
            'ipExtras',
            'none',
            'router-alert',
            'df',
            'first-fragment',
            'bad-checksum',
            'hop-by-hop',
            'dest-opts-routing',
            'fragment-header',
          ),
        ],
        false,
      ),
      values: transportDimension([], false).values.map((v) => (v.id === 'udp-no-checksum' ? { ...v, requires: [v4] } : v)),
    },
    {
      id: 'size',
      label: 'frame sizes',
      values: [
        { id: 'minimum', label: 'the smallest frame (60 bytes or the headers)' },
        { id: 'medium', label: '590-byte frames' },
        { id: 'egress-mtu', label: "exactly the egress side's MTU" },
        ...(shrinking.length > 0
          ? [
              {
                id: 'over-egress-mtu',
                label: "larger than the egress side's MTU (the ingress side's MTU)",
                requires: [
                  is('direction', ...shrinking),
                  is('ipDestination', 'far-host'),
                  is('ipExtras', 'none', 'router-alert', 'df', 'hop-by-hop', 'dest-opts-routing'),
                ],
              },
            ]
          : []),
      ],
      basis:
        'RFC 1191/8201 and RFC 791: the egress MTU (guest.nics.<side>.mtu) bounds what leaves; larger packets are fragmented or answered',
    },
    {
      id: 'hopLimit',
      label: 'TTL / hop limit values',
      values: [
        { id: '64', label: 'TTL 64' },
        { id: '255', label: 'TTL 255' },
        { id: '2', label: 'TTL 2 (leaves with 1)' },
        // An expired packet is answered (RFC 1812 §5.3.1, RFC 4443 §3.3) — except where no error may be sent at all.
        {
          id: '1',
          label: 'TTL 1 (expires)',
          requires: [
            is('ipDestination', 'far-host'),
            is('linkDestination', 'router'),
            is('ipExtras', 'none', 'router-alert', 'df', 'hop-by-hop', 'dest-opts-routing'),
            is('size', 'minimum', 'medium', 'egress-mtu'),
          ],
        },
        {
          id: '0',
          label: 'TTL 0 (expired)',
          requires: [
            is('ipDestination', 'far-host'),
            is('linkDestination', 'router'),
            is('ipExtras', 'none', 'router-alert', 'df', 'hop-by-hop', 'dest-opts-routing'),
            is('size', 'minimum', 'medium', 'egress-mtu'),
          ],
        },
      ],
      basis: 'RFC 1812 §5.3.1 and RFC 8200 §3: decrement by one; a packet that would leave with 0 is discarded and answered',
    },
  ];
  return { name: settings.role, dimensions };
}
