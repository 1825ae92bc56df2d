# Sourced by init.sh (as /etc/wirelab/policy.sh) in the transparent-firewall reference images, once
# br0 holds both ports and before they come up: the policy of lab-profiles/nested-policy-firewall.yaml,
# written as a network engineer would write it — nftables rules in the bridge family for what is
# dropped, marked or tracked (connection state), a tc policer for what is rate-limited. The faulty variant's FAULT lists the
# mistakes it makes on purpose, one per class, so each of the policy suite's checks can be seen failing.
NFT=/usr/sbin/nft

has_fault() { case " $FAULT " in *" $1 "*) return 0 ;; esac; return 1; }

# wideport: the telnet rule written as a range that also catches the neighbouring port 24.
telnet_ports=23
has_fault wideport && telnet_ports=23-24
# oneway-snmp: SNMP dropped only from the left; replies from the right side leak through.
snmp_from=
has_fault oneway-snmp && snmp_from='iifname "left"'
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
    iifname "left" tcp dport $telnet_ports drop
    $snmp_from udp dport 161 drop
    vlan id 300 drop
    iifname "left" udp dport 5060 ip dscp set $voice_dscp
    $web_reply
    iifname "right" tcp dport 8080 drop
  }
}
RULES

# Bulk UDP to port 5001 leaves towards the right host by the right NIC: police it there to 256 kbit/s
# (tc counts each frame from its Ethernet header, as the policy's bitsPerSecond does). A 10 KB bucket
# (20 frames of 512 bytes) absorbs the bunching of a guest under emulation without passing much more.
# noshape: the policer is never installed.
if ! has_fault noshape; then
  $TC qdisc add dev right clsact &&
    $TC filter add dev right egress protocol ip u32 match ip protocol 17 0xff match ip dport 5001 0xffff \
      action police rate 256kbit burst 10k conform-exceed drop || fail "tc policer failed"
fi
