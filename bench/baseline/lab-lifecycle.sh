#!/usr/bin/env bash
# The nested lab brought up and taken down by a plain shell script, as a network engineer would write
# it: the honest baseline that `npm run bench` times wirelab against. It does the same work as
# lib/lab/nested/nested-lab.ts: a namespace with br0/br1 and two taps, the guest under QEMU/TCG with the same
# kernel, initrd and NIC layout, two traffic-host containers running sshd with per-run keys, a veth
# from each into its bridge, and an OpenSSH command on both hosts with the host key pinned.
#
#   lab-lifecycle.sh up --kernel K --initrd I --image TAG [--id wlsh-1a2b3c] [--memory MiB] [--cpus N]
#                       [--append STR] [--ready REGEX] [--left-ip CIDR] [--right-ip CIDR]
#                       [--left-mac MAC] [--right-mac MAC]
#       prints the lab id on stdout once the guest is ready and both hosts answered over ssh
#   lab-lifecycle.sh down ID      ACPI power button over the QEMU monitor, wait for exit, remove it all
#
# Everything carries the id (netns wlsh-<6hex>, containers labelled wirelab.bench=<id>, state in
# /tmp/<id>). A failed or interrupted `up` removes what it created before it exits.
set -euo pipefail

STATE_ROOT=${TMPDIR:-/tmp}
LAB_MTU=9000
READY_BUDGET_S=60
SSH_BUDGET_S=15
HALT_BUDGET_S=30

die() { echo "lab-lifecycle.sh: $*" >&2; exit 1; }

# QEMU option values use ',' as a separator: a literal comma is written twice.
qemu_opt() { printf '%s' "${1//,/,,}"; }

# Poll until "$@" succeeds, every $2 seconds for at most $1 seconds (bounded, like every loop here).
retry() {
  local budget_s=$1 step_s=$2 tries i
  shift 2
  tries=$(awk -v b="$budget_s" -v s="$step_s" 'BEGIN { print int(b / s) }')
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep "$step_s"
  done
  return 1
}

# True while process $1 runs. An exited process counts as gone even before it is reaped: a daemonized
# QEMU is a child of PID 1, and this machine's PID 1 reaps orphans only ~1.5 s after they exit.
running() {
  local state
  read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" && [[ $state != Z ]]
}

# The pid in the pidfile, if that process is still our QEMU (never signal a recycled pid).
qemu_pid() {
  local pid
  pid=$(cat "$1/qemu.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && running "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == qemu-system-* ]] || return 1
  echo "$pid"
}

# Remove everything of lab $1. With "graceful", press the power button first and wait for QEMU to exit.
teardown() {
  [[ $1 =~ ^wlsh-[0-9a-f]{6}$ ]] || die "refusing to tear down '$1': not a wlsh-<6hex> id"
  local id=$1 mode=$2 state="$STATE_ROOT/$1" pid halted=graceful ids
  if pid=$(qemu_pid "$state"); then
    if [[ $mode == graceful ]]; then
      echo system_powerdown >"$state/monitor.in"
      # shellcheck disable=SC2016 # eval expands it
      retry "$HALT_BUDGET_S" 0.05 eval '! running "$pid"' || halted=forced
    fi
    if running "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      # shellcheck disable=SC2016 # eval expands it
      retry 5 0.05 eval '! running "$pid"' || echo "lab-lifecycle.sh: QEMU pid $pid survived SIGKILL" >&2
    fi
  fi
  ids=$(docker ps -aq --filter "label=wirelab.bench=$id")
  # shellcheck disable=SC2086 # one id per word
  [[ -z $ids ]] || docker rm -f -v $ids >/dev/null
  if [[ -e /run/netns/$id ]]; then
    # Whatever still runs in the lab's namespace is ours (e.g. a QEMU interrupted before its pidfile).
    for pid in $(ip netns pids "$id"); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$id"
  fi
  rm -rf -- "$state"
  [[ $halted == graceful ]] || { echo "lab-lifecycle.sh: the guest ignored the power button for ${HALT_BUDGET_S} s and was killed" >&2; return 3; }
}

# Run a command inside a container's network namespace, entered from the host (the host's tools do the work).
in_ct() {
  local pid=$1
  shift
  nsenter --net="/proc/$pid/ns/net" "$@"
}

ssh_cmd() { # state side command...
  local dir="$1/ssh-$2"
  shift 2
  ssh -F /dev/null -i "$dir/client" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o HostKeyAlgorithms=ssh-ed25519 -o ConnectTimeout=5 -o LogLevel=ERROR \
    "root@$(cat "$dir/address")" "$@"
}

# Start one traffic host: keys, container running sshd, veth from the bridge into it as eth1.
start_host() {
  local id=$1 side=$2 bridge=$3 mac=$4 cidr=$5 image=$6 state="$STATE_ROOT/$1"
  local dir="$state/ssh-$side" s=${side:0:1} pid address
  mkdir -m 0700 "$dir"
  ssh-keygen -q -t ed25519 -N '' -C "$id $side host" -f "$dir/host"
  ssh-keygen -q -t ed25519 -N '' -C "$id client" -f "$dir/client"
  docker run -d --name "$id-$side" --label "wirelab.bench=$id" --cap-add NET_ADMIN --cap-add NET_RAW \
    -v "$dir/host:/etc/ssh/ssh_host_ed25519_key:ro" -v "$dir/host.pub:/etc/ssh/ssh_host_ed25519_key.pub:ro" \
    -v "$dir/client.pub:/root/.ssh/authorized_keys:ro" \
    "$image" /usr/sbin/sshd -D -e >/dev/null
  read -r pid address < <(docker inspect -f '{{.State.Pid}} {{.NetworkSettings.IPAddress}}' "$id-$side")
  [[ $pid =~ ^[1-9][0-9]*$ && -n $address ]] || die "container $id-$side has no pid or no address"
  echo "$address" >"$dir/address"
  echo "$address $(cut -d' ' -f1,2 "$dir/host.pub")" >"$dir/known_hosts"

  # The veth: "<id>-Xh" on the bridge, "<id>-Xc" moved into the container and renamed eth1.
  ip -n "$id" link add "$id-${s}h" mtu "$LAB_MTU" type veth peer name "$id-${s}c" mtu "$LAB_MTU"
  ip -n "$id" link set "$id-${s}h" addrgenmode none
  ip -n "$id" link set "$id-${s}h" master "$bridge" up
  ip -n "$id" link set "$id-${s}c" netns "$pid"
  in_ct "$pid" ip link set "$id-${s}c" name eth1
  in_ct "$pid" ip link set eth1 address "$mac"
  in_ct "$pid" ip link set eth1 addrgenmode none
  # No IPv6 chatter from the data NIC (no DAD, no router solicitations), as wirelab does.
  in_ct "$pid" sysctl -qw net.ipv6.conf.eth1.accept_dad=0 net.ipv6.conf.eth1.accept_ra=0 \
    net.ipv6.conf.eth1.autoconf=0 net.ipv6.conf.eth1.router_solicitations=0 || true
  in_ct "$pid" ip address add "$cidr" dev eth1
  in_ct "$pid" ip link set eth1 up
}

guest_ready() { # state pattern
  grep -Eq -- "$2" "$1/console.log" 2>/dev/null && return 0
  qemu_pid "$1" >/dev/null || die "QEMU exited before its ready line; console tail: $(tail -n 5 "$1/console.log" 2>/dev/null | tr '\n' '|')"
  return 1
}

# Globals, not locals: the EXIT trap runs after cmd_up has returned.
LAB_ID=''
UP_OK=0

cmd_up() {
  local id='' kernel='' initrd='' image='' memory=256 cpus=1 append='console=ttyS0 quiet panic=-1'
  local ready='wirelab-guest: ready' left_ip=198.18.0.1/24 right_ip=198.18.0.2/24 left_mac='' right_mac=''
  while (($# > 0)); do
    (($# >= 2)) || die "option $1 needs a value"
    case $1 in
      --id) id=$2 ;; --kernel) kernel=$2 ;; --initrd) initrd=$2 ;; --image) image=$2 ;;
      --memory) memory=$2 ;; --cpus) cpus=$2 ;; --append) append=$2 ;; --ready) ready=$2 ;;
      --left-ip) left_ip=$2 ;; --right-ip) right_ip=$2 ;;
      --left-mac) left_mac=$2 ;; --right-mac) right_mac=$2 ;;
      *) die "unknown option $1 (see the header of this script)" ;;
    esac
    shift 2
  done
  [[ -n $id ]] || id="wlsh-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  [[ $id =~ ^wlsh-[0-9a-f]{6}$ ]] || die "--id is '$id'; use wlsh- and 6 hex digits"
  [[ -f $kernel && -f $initrd ]] || die "--kernel '$kernel' and --initrd '$initrd' must be existing files"
  [[ -n $image ]] || die "--image is required (the traffic-host image tag)"
  local state="$STATE_ROOT/$id" hex=${id#wlsh-}
  local mac_base="02:00:${hex:0:2}:${hex:2:2}:${hex:4:2}"
  # The traffic hosts' data-NIC MACs: derived from the id unless given (e.g. the same vRouter MAC on both).
  left_mac=${left_mac:-$mac_base:11}
  right_mac=${right_mac:-$mac_base:12}
  local mac
  for mac in "$left_mac" "$right_mac"; do
    [[ $mac =~ ^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$ ]] || die "'$mac' is not a MAC like 02:00:00:00:00:01"
  done

  # From here on, leaving for any reason other than success removes what exists.
  LAB_ID=$id
  trap '[[ $UP_OK == 1 ]] || teardown "$LAB_ID" kill || true' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -m 0700 "$state"

  ip netns add "$id"
  # Lab frames must not reach iptables, and lab links stay silent on IPv6 (bridge-nf keys may be absent).
  ip netns exec "$id" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
    net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
    net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
  ip -n "$id" link set lo up
  local n
  for n in 0 1; do
    # ageing_time 0: no MAC learning, every frame is passed on, as the vRouter hands every frame to the VM
    # (with one MAC on both sides, a learning bridge would drop frames addressed to "itself").
    # group_fwd_mask: frames to 01:80:c2:00:00:03-0f (802.1X, LLDP, ...) go on to the guest, as on a cable.
    ip -n "$id" link add "br$n" type bridge stp_state 0 forward_delay 0 mcast_snooping 0 ageing_time 0 group_fwd_mask 0xfff8
    ip -n "$id" link set "br$n" up
    ip -n "$id" tuntap add dev "tap$n" mode tap
    ip -n "$id" link set "tap$n" master "br$n" up
    ip -n "$id" link set "tap$n" mtu "$LAB_MTU"
  done

  # The guest boots in the background (-daemonize) while the traffic hosts start. Its console goes
  # to a file; the monitor listens on a FIFO pair for the power button at `down`.
  mkfifo "$state/monitor.in" "$state/monitor.out"
  ip netns exec "$id" qemu-system-x86_64 -name "$id-guest" -machine pc -accel tcg -m "$memory" -smp "$cpus" \
    -nodefaults -no-user-config -display none -no-reboot -daemonize -pidfile "$state/qemu.pid" \
    -serial "file:$(qemu_opt "$state/console.log")" -monitor "pipe:$(qemu_opt "$state/monitor")" \
    -kernel "$kernel" -initrd "$initrd" -append "$append" \
    -netdev tap,id=nic0,ifname=tap0,script=no,downscript=no -device "virtio-net-pci,netdev=nic0,mac=$mac_base:01" \
    -netdev tap,id=nic1,ifname=tap1,script=no,downscript=no -device "virtio-net-pci,netdev=nic1,mac=$mac_base:02"

  start_host "$id" left br0 "$left_mac" "$left_ip" "$image"
  start_host "$id" right br1 "$right_mac" "$right_ip" "$image"

  local side
  for side in left right; do
    retry "$SSH_BUDGET_S" 0.1 ssh_cmd "$state" "$side" true 2>/dev/null ||
      ssh_cmd "$state" "$side" true || die "traffic host $side did not answer over ssh within ${SSH_BUDGET_S} s"
  done
  retry "$READY_BUDGET_S" 0.05 guest_ready "$state" "$ready" || die "no console line matched '$ready' within ${READY_BUDGET_S} s"

  UP_OK=1
  echo "$id"
}

cmd_down() {
  local id=${1:-}
  [[ $id =~ ^wlsh-[0-9a-f]{6}$ ]] || die "down needs a lab id like wlsh-1a2b3c, got '$id'"
  # Finish the teardown even if interrupted: a half-removed lab is worse than a slow Ctrl-C.
  trap '' INT TERM
  teardown "$id" graceful
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  *) die "usage: $0 up --kernel K --initrd I --image TAG [options] | down ID" ;;
esac
