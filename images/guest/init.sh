#!/bin/busybox sh
# PID 1 of every wirelab reference service image (a busybox initramfs on the Debian cloud kernel).
# The image builder (lib/images/reference-image.ts) adds /etc/wirelab/variant.env (ROLE, FAULT, addresses) and
# /etc/wirelab/modules.list (kernel modules in dependency order). Contract with wirelab:
#  - data NICs are taken in PCI order: first = left (on br0), second = right (on br1), whatever their MACs;
#  - exactly one line "wirelab-guest: ready role=<role>" on the console, once the role really works;
#  - nothing of its own on the data NICs (no IPv6, no STP, no multicast snooping), except ARP for an
#    L3 forwarder's next hops;
#  - an ACPI power button press powers it off cleanly.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# Busybox runs its own cut-down `tc` applet before PATH, so the real iproute2 tc is called by path.
TC=/usr/sbin/tc
IP=/usr/sbin/ip-iproute2
VARIANT=unknown
ROLE=l2-bridge
FAULT=
LEFT_CIDR=198.18.1.1/24
RIGHT_CIDR=198.18.2.1/24
LEFT_CIDR6=2001:db8:1::1/64
RIGHT_CIDR6=2001:db8:2::1/64
LEFT_MTU=
RIGHT_MTU=
. /etc/wirelab/variant.env

say() { echo "wirelab-guest: $*"; }

fail() {
  say "error: $*"
  # A broken image must not hang the caller until its timeout: power off at once.
  poweroff -f
}

say "booting variant=$VARIANT role=$ROLE"

# Kernel command line overrides (e.g. wirelab.left=198.18.5.1/24).
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    wirelab.left=*) LEFT_CIDR="${arg#*=}" ;;
    wirelab.right=*) RIGHT_CIDR="${arg#*=}" ;;
    wirelab.left6=*) LEFT_CIDR6="${arg#*=}" ;;
    wirelab.right6=*) RIGHT_CIDR6="${arg#*=}" ;;
    wirelab.leftmtu=*) LEFT_MTU="${arg#*=}" ;;
    wirelab.rightmtu=*) RIGHT_MTU="${arg#*=}" ;;
  esac
done

# IPv6 off before any NIC exists: otherwise every interface sends router solicitations, DAD and MLD.
# (The ipv6 variant keeps Debian's default, as many real images do.)
if [ -d /proc/sys/net/ipv6 ] && [ "$FAULT" != ipv6 ]; then
  echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
  echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
fi

while read -r module; do
  [ -n "$module" ] && { insmod "/lib/modules/$module" || fail "insmod $module failed"; }
done < /etc/wirelab/modules.list

# PCI order, not MAC or kernel name: a service image must survive new NIC MACs.
nics=""
for dev in /sys/bus/pci/devices/*/virtio*/net/*; do
  [ -e "$dev" ] && nics="$nics ${dev##*/}"
done
set -- $nics
[ $# -ge 2 ] || fail "need two virtio NICs, found $#:$nics"
ip link set dev "$1" name left || fail "cannot rename $1"
ip link set dev "$2" name right || fail "cannot rename $2"

# Wait (bounded) until a file holds a value: virtio carrier comes about 1 s after `up`.
wait_for() { # file value seconds
  tries=$(($3 * 10))
  while [ "$(cat "$1" 2>/dev/null)" != "$2" ]; do
    tries=$((tries - 1))
    [ $tries -gt 0 ] || fail "timed out waiting for $1 = $2"
    usleep 100000
  done
}

power_button() {
  # acpid runs /etc/acpi/PWRF/00000080 for the power button (busybox's default event map); it
  # reads the button's /dev/input/event* device (button.ko and evdev.ko are in modules.list).
  if [ "$FAULT" = nohalt ]; then
    return
  fi
  acpid -c /etc/acpi -l /dev/null || fail "acpid did not start"
}

apply_fault() {
  case "$FAULT" in
    oneway) # drop everything that enters on the left: left -> right is dead, right -> left passes
      $TC qdisc add dev left ingress &&
        $TC filter add dev left parent ffff: matchall action drop ;;
    macrewrite) # forwarded frames leave with a source MAC that is not the sender's
      $TC qdisc add dev left clsact &&
        $TC filter add dev left egress matchall action pedit ex munge eth src set 02:77:00:00:00:01 &&
        $TC qdisc add dev right clsact &&
        $TC filter add dev right egress matchall action pedit ex munge eth src set 02:77:00:00:00:02 ;;
    delay)
      $TC qdisc add dev left root netem delay 250ms limit 10000 &&
        $TC qdisc add dev right root netem delay 250ms limit 10000 ;;
    lossy)
      $TC qdisc add dev left root netem loss random 5% limit 10000 &&
        $TC qdisc add dev right root netem loss random 5% limit 10000 ;;
    reorder) # half the frames wait 1 ms: frames closer together than that overtake each other
      $TC qdisc add dev left root netem delay 1ms reorder 50% limit 10000 &&
        $TC qdisc add dev right root netem delay 1ms reorder 50% limit 10000 ;;
    skew) # 3 ms more left -> right only (frames leave the guest towards the right on its right NIC)
      $TC qdisc add dev right root netem delay 3ms limit 10000 ;;
    slowdown) # a delay queue on each egress that the soak fault below lengthens every second
      $TC qdisc add dev left root netem delay 0ms limit 100000 &&
        $TC qdisc add dev right root netem delay 0ms limit 100000 ;;
    *) true ;;
  esac || fail "tc setup for fault '$FAULT' failed"
}

make_bridge() {
  brctl addbr br0 || fail "cannot create bridge"
  # Busybox ip cannot set bridge options: sysfs. No STP (no BPDUs), no snooping (no IGMP/MLD
  # queries), no VLAN filtering (tags pass as they are), forward at once.
  echo 0 > /sys/class/net/br0/bridge/stp_state
  echo 0 > /sys/class/net/br0/bridge/forward_delay
  echo 0 > /sys/class/net/br0/bridge/multicast_snooping
  echo 0 > /sys/class/net/br0/bridge/vlan_filtering
  # The nolearn variant learns no MACs (ageing time 0: every frame is flooded to the other port).
  if [ "$FAULT" = nolearn ]; then echo 0 > /sys/class/net/br0/bridge/ageing_time; fi
  # The stp variant runs the spanning tree: BPDUs to 01:80:c2:00:00:00 every hello time.
  if [ "$FAULT" = stp ]; then echo 1 > /sys/class/net/br0/bridge/stp_state; fi
  brctl addif br0 left && brctl addif br0 right || fail "cannot add ports to br0"
  # The reflect variant floods frames back out of the port they came in by (hairpin mode).
  if [ "$FAULT" = reflect ]; then
    echo 1 > /sys/class/net/br0/brif/left/hairpin_mode && echo 1 > /sys/class/net/br0/brif/right/hairpin_mode || fail "hairpin"
  fi
}

start_l2_bridge() {
  # Tagged frames: 1500-byte payload + 802.1Q/QinQ tags must pass untouched, so make room for two tags.
  ip link set dev left mtu 1508 && ip link set dev right mtu 1508 || fail "cannot set MTU"
  make_bridge
  apply_fault
  # A policy image (a transparent firewall, a shaper) installs its rules before any frame crosses.
  if [ -f /etc/wirelab/policy.sh ]; then . /etc/wirelab/policy.sh; fi
  ip link set dev left up && ip link set dev right up && ip link set dev br0 up || fail "link up failed"
  wait_for /sys/class/net/br0/brif/left/state 3 30
  wait_for /sys/class/net/br0/brif/right/state 3 30
}

# The service restart a profile can declare as a console command (`wirelab-restart-service`): the
# bridge is torn down and made again, as a service's stop/start would. The norestart variant's
# restart leaves the left port's ingress dropping: left -> right stays down, right -> left comes back.
restart_l2_bridge() {
  say "service restarting"
  ip link set dev br0 down
  brctl delif br0 left
  brctl delif br0 right
  brctl delbr br0
  make_bridge
  if [ "$FAULT" = norestart ]; then
    $TC qdisc add dev left ingress && $TC filter add dev left parent ffff: matchall action drop
  fi
  ip link set dev br0 up
  wait_for /sys/class/net/br0/brif/left/state 3 30
  wait_for /sys/class/net/br0/brif/right/state 3 30
  say "service restarted role=$ROLE"
}

# Lines typed on the serial console (wirelab's typeOnConsole): the service restart, nothing else.
console_commands() {
  while read -r line; do
    case "$line" in
      wirelab-restart-service) [ "$ROLE" = l2-bridge ] && restart_l2_bridge ;;
    esac
  done
}

start_l3_forwarder() {
  echo 1 > /proc/sys/net/ipv4/ip_forward
  for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > "$f"; done
  ip addr add "$LEFT_CIDR" dev left || fail "bad wirelab.left '$LEFT_CIDR'"
  ip addr add "$RIGHT_CIDR" dev right || fail "bad wirelab.right '$RIGHT_CIDR'"
  # The profile's per-side MTUs (a router's egress MTU decides fragmentation and Packet Too Big).
  if [ -n "$LEFT_MTU" ]; then ip link set dev left mtu "$LEFT_MTU" || fail "bad wirelab.leftmtu '$LEFT_MTU'"; fi
  if [ -n "$RIGHT_MTU" ]; then ip link set dev right mtu "$RIGHT_MTU" || fail "bad wirelab.rightmtu '$RIGHT_MTU'"; fi
  # IPv6 routing on the data NICs only: forwarding (so no router solicitations), no autoconfiguration, no DAD delay.
  for nic in left right; do
    echo 0 > /proc/sys/net/ipv6/conf/$nic/disable_ipv6
    echo 0 > /proc/sys/net/ipv6/conf/$nic/accept_ra
    echo 0 > /proc/sys/net/ipv6/conf/$nic/autoconf
    echo 0 > /proc/sys/net/ipv6/conf/$nic/accept_dad
  done
  echo 1 > /proc/sys/net/ipv6/conf/all/forwarding
  $IP -6 addr add "$LEFT_CIDR6" dev left nodad || fail "bad wirelab.left6 '$LEFT_CIDR6'"
  $IP -6 addr add "$RIGHT_CIDR6" dev right nodad || fail "bad wirelab.right6 '$RIGHT_CIDR6'"
  apply_fault
  if [ -f /etc/wirelab/policy.sh ]; then . /etc/wirelab/policy.sh; fi
  ip link set dev left up && ip link set dev right up || fail "link up failed"
  wait_for /sys/class/net/left/carrier 1 30
  wait_for /sys/class/net/right/carrier 1 30
}

start_monitor() {
  # fake: its NICs never come up, yet it reports counts (report_rx).
  [ "$FAULT" = fake ] && return
  for nic in left right; do
    if [ "$FAULT" = chatty ]; then
      ip link set dev $nic promisc on up || fail "link up failed"
    elif [ "$FAULT" = nopromisc ]; then
      # Not promiscuous: the NIC filters out frames addressed to other stations' MACs.
      ip link set dev $nic arp off up || fail "link up failed"
    else
      ip link set dev $nic promisc on arp off up || fail "link up failed"
    fi
  done
  wait_for /sys/class/net/left/carrier 1 30
  wait_for /sys/class/net/right/carrier 1 30
}

# The chatty monitor's fault: a gratuitous ARP on the left NIC every few seconds.
chatter() {
  ip addr add 198.18.0.250/32 dev left
  while true; do
    arping -U -c 1 -I left -s 198.18.0.250 198.18.0.250 > /dev/null 2>&1
    sleep 3
  done
}

# A bridge that talks on the data path by itself, one class of frames per variant (the emission
# checks' negative controls). Every loop repeats each second for the guest's lifetime, so that even a
# short run (one test under --grep: the 3 s quiet listen and little else) sees several frames.
bridge_chatter() {
  case "$FAULT" in
    dhcp) udhcpc -i br0 -b -S -s /bin/true > /dev/null 2>&1 ;;
    igmp) # an address on the bridge, and a multicast group joined: the kernel reports the membership
      ip addr add 198.18.0.251/24 dev br0 && $IP addr add 239.1.2.3/32 dev br0 autojoin ;;
    arp)
      ip addr add 198.18.0.250/24 dev br0
      while true; do arping -U -c 1 -I br0 -s 198.18.0.250 198.18.0.250 > /dev/null 2>&1; sleep 1; done ;;
    spoof) # claims the left traffic host's address as its own
      while true; do arping -U -c 1 -I br0 -s 198.18.0.1 198.18.0.1 > /dev/null 2>&1; sleep 1; done ;;
    ping) # pings a multicast group now and then (a health check or discovery of its own)
      ip addr add 198.18.0.252/24 dev br0 && ip route add 224.0.0.0/4 dev br0
      while true; do ping -c 1 -W 1 239.9.9.9 > /dev/null 2>&1; sleep 1; done ;;
  esac
}

# The soak faults: each shows only after a while, so only a long run sees it.
#  - stopfwd: forwards for 20 s after its ready line, then nothing either way (its bridge goes down: a hung data path);
#  - leak: its service allocates 2 MiB more every second and never frees it (up to 160 MiB);
#  - slowdown: 1 ms more delay each way every second (a queue that grows).
soak_fault() {
  case "$FAULT" in
    stopfwd)
      sleep 20
      ip link set dev br0 down
      say "soak fault: stopped forwarding" ;;
    leak)
      mkdir -p /run/leak
      n=0
      while [ $n -lt 80 ]; do
        n=$((n + 1))
        dd if=/dev/zero of=/run/leak/$n bs=1024 count=2048 2>/dev/null
        sleep 1
      done ;;
    slowdown)
      d=0
      while true; do
        sleep 1
        d=$((d + 1))
        $TC qdisc change dev left root netem delay ${d}ms limit 100000
        $TC qdisc change dev right root netem delay ${d}ms limit 100000
      done ;;
  esac
}

# Print the receive counters when they change, about once per second. The fake variant makes them
# up: they grow by 13 a second whatever arrives.
report_rx() {
  last=""
  made_up=0
  while true; do
    now="left=$(cat /sys/class/net/left/statistics/rx_packets) right=$(cat /sys/class/net/right/statistics/rx_packets)"
    if [ "$FAULT" = fake ]; then
      made_up=$((made_up + 13))
      now="left=$made_up right=$made_up"
    fi
    if [ "$now" != "$last" ]; then
      echo "wirelab-monitor: rx $now"
      last="$now"
    fi
    sleep 1
  done
}

power_button

if [ "$FAULT" = liar ]; then
  # Claims to be ready at once; really forwards only about 8 s later.
  say "ready role=$ROLE"
  sleep 8
fi

case "$ROLE" in
  l2-bridge) start_l2_bridge ;;
  l3-forwarder) start_l3_forwarder ;;
  monitor) start_monitor ;;
  *) fail "unknown role '$ROLE'" ;;
esac

if [ "$FAULT" = slowboot ]; then
  say "slow boot: ready in 40 s"
  sleep 40
fi
[ "$FAULT" = liar ] || say "ready role=$ROLE"

[ "$FAULT" = chatty ] && chatter &
[ "$ROLE" = l2-bridge ] && bridge_chatter &
soak_fault &
# A background job's stdin is /dev/null unless it is given one: the console, for typed commands.
console_commands < /dev/console &
if [ "$ROLE" = monitor ]; then
  report_rx
fi
# PID 1 must never exit (the kernel would panic).
while true; do sleep 3600; done
