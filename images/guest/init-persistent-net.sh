#!/bin/busybox sh
# PID 1 of the reference variant 'l2-bridge-persistent-net': a service image with the weakness the
# OpenContrail guide warns about. Like a distro image, it names its NICs by the udev rules file on its
# disk (/dev/vda: /etc/udev/rules.d/70-persistent-net.rules), the way udev's persistent-net rules do:
#  - a NIC whose MAC a rule pins gets the rule's NAME;
#  - while rules exist, a NIC with an unknown MAC gets the next free ethN after the pinned names
#    (what the persistent-net generator did), so new MACs turn eth0/eth1 into eth2/eth3;
# and then, like many service images, its bridge script names eth0 and eth1. A leftover rules file
# from another boot therefore breaks it: it never says ready. Without the file it bridges like l2-bridge.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
VARIANT=unknown
ROLE=l2-bridge
. /etc/wirelab/variant.env

say() { echo "wirelab-guest: $*"; }
fail() {
  say "error: $*"
  poweroff -f
}
say "booting variant=$VARIANT role=$ROLE"
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
while read -r module; do
  [ -n "$module" ] && { insmod "/lib/modules/$module" || fail "insmod $module failed"; }
done < /etc/wirelab/modules.list
acpid -c /etc/acpi -l /dev/null || fail "acpid did not start"

# The root disk, read-only: only its /etc matters here.
RULES=/mnt/etc/udev/rules.d/70-persistent-net.rules
mkdir -p /mnt
tries=50
while [ ! -b /dev/vda ] && [ $tries -gt 0 ]; do usleep 100000; tries=$((tries - 1)); done
mount -o ro /dev/vda /mnt 2>/dev/null || say "no disk with /etc on /dev/vda: NIC names stay the kernel's"

# Apply the rules: "ATTR{address}=="<mac>" ... NAME="<name>"" lines, as udev would.
pinned=""
if [ -f "$RULES" ]; then
  pinned=$(sed -n 's/.*ATTR{address}=="\([0-9a-fA-F:]*\)".*NAME="\([^"]*\)".*/\1 \2/p' "$RULES")
  say "persistent-net rules found: $(echo "$pinned" | tr '\n' ' ')"
fi
if [ -n "$pinned" ]; then
  # Highest ethN pinned by a rule: unknown MACs are numbered after it.
  next=0
  for name in $(echo "$pinned" | cut -d' ' -f2); do
    case "$name" in eth*) n=${name#eth}; [ "$n" -ge "$next" ] && next=$((n + 1)) ;; esac
  done
  # Two passes through temporary names, so that swapping names never collides.
  i=0
  for dev in /sys/class/net/eth*; do
    [ -e "$dev" ] || continue
    old=${dev##*/}
    mac=$(cat "$dev/address")
    new=$(echo "$pinned" | while read -r m n; do [ "$(echo "$m" | tr A-F a-f)" = "$mac" ] && echo "$n"; done)
    if [ -z "$new" ]; then new="eth$next"; next=$((next + 1)); fi
    ip link set dev "$old" name "wlrn$i" && echo "$new" > "/tmp/wlrn$i"
    i=$((i + 1))
  done
  for tmp in /tmp/wlrn*; do
    [ -e "$tmp" ] || continue
    ip link set dev "${tmp##*/}" name "$(cat "$tmp")"
  done
fi
say "NICs: $(ls /sys/class/net | tr '\n' ' ')"

# The service's own bridge script: it names eth0 and eth1.
[ -e /sys/class/net/eth0 ] && [ -e /sys/class/net/eth1 ] || fail "bridge script: eth0/eth1 missing, cannot bridge"
ip link set dev eth0 mtu 1508 && ip link set dev eth1 mtu 1508 || fail "cannot set MTU"
brctl addbr br0 || fail "cannot create bridge"
echo 0 > /sys/class/net/br0/bridge/stp_state
echo 0 > /sys/class/net/br0/bridge/forward_delay
echo 0 > /sys/class/net/br0/bridge/multicast_snooping
brctl addif br0 eth0 && brctl addif br0 eth1 || fail "cannot add ports to br0"
ip link set dev eth0 up && ip link set dev eth1 up && ip link set dev br0 up || fail "link up failed"
tries=300
until [ "$(cat /sys/class/net/br0/brif/eth0/state)" = 3 ] && [ "$(cat /sys/class/net/br0/brif/eth1/state)" = 3 ]; do
  tries=$((tries - 1))
  [ $tries -gt 0 ] || fail "bridge ports never forwarded"
  usleep 100000
done
say "ready role=$ROLE"
while true; do sleep 3600; done
