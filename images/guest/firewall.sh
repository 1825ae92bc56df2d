# Sourced by init.sh (as /etc/wirelab/policy.sh) in the transparent-firewall reference images, once
# br0 holds both ports and before they come up: the policy of lab-profiles/nested-policy-firewall.yaml,
# written as a network engineer would write it — nftables rules in the bridge family for what is
# dropped, marked or tracked (connection state), a tc policer for what is rate-limited. A class that names
# no IP version or VLAN holds for all of them: the rules match on the transport header (`tcp dport`), which
# the bridge family finds in IPv4 and IPv6 frames, tagged or not. The faulty variants' FAULT lists the
# mistakes they make on purpose, so each of the policy suite's checks can be seen failing.
NFT=/usr/sbin/nft

has_fault() { case " $FAULT " in *" $1 "*) return 0 ;; esac; return 1; }

# wideport: the telnet rule written as a range that also catches the neighbouring port 24.
telnet_ports=23
has_fault wideport && telnet_ports=23-24
# v4only: the telnet rule matches IPv4 only (`meta protocol ip`); IPv6 telnet crosses.
telnet_l3=
has_fault v4only && telnet_l3='meta protocol ip'
# oneway-snmp: SNMP dropped only from the left; replies from the right side leak through.
snmp_from=
has_fault oneway-snmp && snmp_from='iifname "left"'
# untagged-only: the SNMP rule checks the EtherType, which a tagged frame's header reads as 802.1Q: tagged SNMP crosses.
snmp_l2=
has_fault untagged-only && snmp_l2='ether type { ip, ip6 }'
# Port 8080 statefully: connections opened from the left pass, the right side answers only within them,
# and none is opened from the right. noreply: the reply direction (the right's SYN-ACKs) is dropped.
web_reply='iifname "right" tcp sport 8080 ct state != established drop'
has_fault noreply && web_reply='iifname "right" tcp sport 8080 tcp flags & (syn | ack) == syn | ack drop'
# wrong-dscp: voice marked AF41 (34) instead of Expedited Forwarding (46).
voice_dscp=ef
has_fault wrong-dscp && voice_dscp=af41

$NFT -f - <<RULES || fail "nft rules failed"
table bridge wirelab_policy {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "left" $telnet_l3 tcp dport $telnet_ports drop
    $snmp_l2 $snmp_from udp dport 161 drop
    vlan id 3000 drop
    iifname "left" udp dport 5060 ip dscp set $voice_dscp
    iifname "left" udp dport 5060 ip6 dscp set $voice_dscp
    iifname "left" vlan type ip udp dport 5060 ip dscp set $voice_dscp
    iifname "left" vlan type ip6 udp dport 5060 ip6 dscp set $voice_dscp
    $web_reply
    iifname "right" tcp dport 8080 drop
  }
}
RULES

# Bulk UDP to port 5001 leaves towards the right host by the right NIC: police it there to 256 kbit/s
# (tc counts each frame from its Ethernet header, as the policy's bitsPerSecond does), IPv4 and IPv6, untagged
# and 802.1Q-tagged (tc sees a tagged frame's protocol as 802.1Q, so it needs filters of its own) — all through
# one shared policer (index 1): the class as a whole gets the rate. A 10 KB bucket (20 frames of 512 bytes)
# absorbs the bunching of a guest under emulation without passing much more. noshape: no policer at all.
bulk() { # protocol [flower match before ip_proto]...
  proto=$1
  shift
  $TC filter add dev right egress protocol "$proto" flower "$@" ip_proto udp dst_port 5001 action police index 1 $police
}
if ! has_fault noshape; then
  police='rate 256kbit burst 10k conform-exceed drop'
  $TC qdisc add dev right clsact && bulk ip && police= && bulk ipv6 &&
    bulk 802.1Q vlan_ethtype ip && bulk 802.1Q vlan_ethtype ipv6 || fail "tc policer failed"
fi
