# Sourced by init.sh (as /etc/wirelab/policy.sh) in the reference images whose faults lie outside any
# fixed menu of frames: each FAULT token is one mistake a real service image makes with some kind of
# frame a wire carries — an "IP-only" filter, a scrubber, a VLAN-aware bridge, bridge netfilter, a
# router that translates, bleaches or stays silent. They are the negative controls of the role
# contracts (lib/contracts/): each must be named by the dimension it breaks, never by its name here.
NFT=/usr/sbin/nft
BRIDGE_TOOL=/usr/sbin/bridge

has_fault() { case " $FAULT " in *" $1 "*) return 0 ;; esac; return 1; }

# nft_rules FAMILY HOOK RULES: one chain of the given hook, RULES one rule per line.
nft_rules() {
  printf 'table %s wirelab_faults {\n  chain %s { type filter hook %s priority 0; policy accept;\n%s\n  }\n}\n' "$1" "$2" "$2" "$3" |
    $NFT -f - || fail "nft rules for '$FAULT' failed"
}
NL='
'

case "$ROLE" in
  l2-bridge)
    rules=""
    # An "IP-only" bridge: frames of other EtherTypes (MPLS, experimental, 802.3/LLC) are not its business.
    has_fault ethertypes && rules="$rules${NL}meta protocol != { ip, ip6, arp, 8021q, 8021ad } drop"
    # A scan filter: TCP segments with FIN, PSH and URG set ("christmas tree") are dropped.
    has_fault xmas && rules="$rules${NL}tcp flags & (fin | psh | urg) == fin | psh | urg drop"
    # IPv4 fragments after the first are dropped (no transport header to filter on).
    has_fault laterfrag && rules="$rules${NL}ip frag-off & 0x1fff != 0 drop"
    # A scrubber: DSCP bleached to 0, expiring packets dropped, UDP without a checksum dropped.
    has_fault dscp && rules="$rules${NL}ip dscp != 0 ip dscp set 0${NL}ip6 dscp != 0 ip6 dscp set 0"
    has_fault ttl && rules="$rules${NL}ip ttl < 2 drop${NL}ip6 hoplimit < 2 drop"
    has_fault udpzero && rules="$rules${NL}udp checksum 0 drop"
    # IPv6 with hop-by-hop, destination-options or routing headers first is dropped.
    has_fault ipv6ext && rules="$rules${NL}ip6 nexthdr { 0, 43, 60 } drop"
    # Runts: frames with less than 500 bytes of payload past the Ethernet header are dropped.
    has_fault small && rules="$rules${NL}meta length < 500 drop"
    [ -z "$rules" ] || nft_rules bridge forward "$rules"
    # VLAN-aware: only VLAN 100 is a member of both ports (VLAN 1 stays the untagged PVID).
    if has_fault vlanaware; then
      echo 1 > /sys/class/net/br0/bridge/vlan_filtering
      $BRIDGE_TOOL vlan add dev left vid 100 && $BRIDGE_TOOL vlan add dev right vid 100 || fail "bridge vlan failed"
    fi
    # Bridge netfilter: frames crossing the bridge are handed to iptables, which first validates IPv4/IPv6 headers.
    if has_fault brnf; then
      echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables && echo 1 > /proc/sys/net/bridge/bridge-nf-call-ip6tables ||
        fail "bridge netfilter sysctls missing"
    fi
    # Unknown unicast is not flooded; 802.1X and LLDP frames are relayed (group_fwd_mask bits 3 and 14).
    has_fault noflood && for p in left right; do echo 0 > /sys/class/net/br0/brif/$p/unicast_flood; done
    has_fault relay-reserved && echo 0x4008 > /sys/class/net/br0/bridge/group_fwd_mask
    # A byte of every IPv4/UDP frame's payload is overwritten on its way out (30 bytes after the IP header).
    if has_fault corrupt; then
      for p in left right; do
        $TC qdisc add dev $p clsact &&
          $TC filter add dev $p egress protocol ip flower ip_proto udp action pedit munge offset 30 u8 set 0x5a || fail "tc pedit failed"
      done
    fi
    ;;
  l3-forwarder)
    # A NAT gateway nobody declared: every forwarded packet leaves with the router's address as its source.
    if has_fault nat; then
      $NFT -f - <<RULES || fail "nft nat failed"
table inet wirelab_nat {
  chain postrouting { type nat hook postrouting priority 100; policy accept; masquerade; }
}
RULES
    fi
    rules=""
    # Bleaches DSCP; drops IPv4 with options and IPv6 with hop-by-hop / destination options first.
    has_fault dscp && rules="$rules${NL}ip dscp != 0 ip dscp set 0${NL}ip6 dscp != 0 ip6 dscp set 0"
    has_fault exthdr && rules="$rules${NL}ip hdrlength > 5 drop${NL}ip6 nexthdr { 0, 60 } drop"
    # Packets that need fragmenting are dropped instead (a "no fragments" policy).
    has_fault nofrag && rules="$rules${NL}ip frag-off & 0x4000 == 0 meta length > 1400 drop"
    [ -z "$rules" ] || nft_rules inet forward "$rules"
    # Silent where it must answer: no ICMPv6 Time Exceeded, no ICMP Fragmentation Needed (a PMTU black hole).
    out=""
    has_fault quiet6 && out="$out${NL}icmpv6 type time-exceeded drop"
    has_fault pmtu4 && out="$out${NL}icmp type destination-unreachable icmp code frag-needed drop"
    [ -z "$out" ] || nft_rules inet output "$out"
    # Directed broadcasts to the other subnet are forwarded (RFC 2644 says off by default).
    if has_fault directed; then
      for f in /proc/sys/net/ipv4/conf/*/bc_forwarding; do echo 1 > "$f"; done
    fi
    ;;
esac
