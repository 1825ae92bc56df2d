#!/usr/bin/env bash
# The L2-bridge qualification written as a plain shell script, the way a network engineer would do it
# without wirelab: the honest baseline that the benchmark times wirelab's default suite against. It
# runs the same checks as the default suites (suites/l2-bridge.test.ts and
# suites/l2-bridge-vrouter-mac.test.ts), on the nested lab that lab-lifecycle.sh brings up (netns wlsh-<6hex>,
# QEMU/TCG guest on tap0/tap1, two traffic-host containers reached over ssh).
#
#   l2-qualification.sh --kernel K --initrd I --image TAG --plan PLAN.json [--append STR] [--ready REGEX]
#                       [--memory MiB] [--cpus N]
#
#   TAG is the traffic-host image with scapy in it (bench/bench-env.ts ensureScapyImage()).
#   PLAN.json is the test plan: `wirelab plan --profile lab-profiles/nested-l2-bridge.yaml --seed N --json PLAN.json`
#   (the bridge contract's rows and every case of seed N: its dimension values, row, direction, size).
#
# The checks, in this order: readiness (frames cross within 1 s of the ready line); one check per row
# of the contract the plan promises something for (reserved-groups: not forwarded; known-unicast,
# unknown-unicast, broadcast, multicast: every case delivered once, byte-exact, in order, none sent
# back towards its sender), distinct-macs (unicast between the hosts' own MACs, byte-exact) and
# frame-space (every value of every dimension sent) — all judged from one functional window that sends
# every case of the plan (4 frames each at 3 frames/s) from both hosts at once; bursts (20 bursts of
# 32 back-to-back frames: none lost, duplicated or reordered), load (IMIX: loss, duplicates,
# reflections, order; latency p50 within 2 ms of the lab's own floor, the directions' p50 within 1.5
# ms, p99 under 100 ms), emissions (nothing the guest sent by itself on its taps since the lab came
# up, a 3 s quiet spell included), vrouter-same-mac (a second lab whose hosts share one MAC: nothing
# may flow), image-hygiene (fresh NIC MACs, graceful halt in 30 s). A row whose promise is "either
# way" (frames to 01:80:c2:00:00:00) is reported on stderr, not judged, as in wirelab.
#
# Each traffic window captures at four points at once (each host's eth1, with tcpdump inside the
# container over ssh, and the guest's two taps, with tcpdump in the lab's namespace), sends signed
# frames with scapy from both hosts at once, and judges the four pcaps with l2-scapy.py on this
# machine (which frames arrived, byte-identical or not, latency across the guest, the guest's own).
# Checks judged from one window (the functional window's) show the window's time on the first of
# them and 0 on the rest, as a test runner shows a shared fixture's time.
#
# stdout: one line per check, `PASS <check> (<s> s)` or `FAIL <check>: <reason> (<s> s)` (a failed
# row names its first failing cases, their dimension values and what happened), then
# `RESULT <passed>/<total> passed in <s> s`. stderr: what each check saw (per-flow counts, rates).
# Exit 0: all passed; 1: a check failed; 2: bad usage. Everything it starts is removed on any exit,
# Ctrl-C included: labs (lab-lifecycle.sh down), captures and ssh connections (by pid), the work dir.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIFECYCLE=$HERE/lab-lifecycle.sh
SCAPY=$HERE/l2-scapy.py
PY=/usr/bin/python3 # Debian's python3 with scapy; the one on PATH may lack it
STATE_ROOT=${TMPDIR:-/tmp} # where lab-lifecycle.sh keeps each lab's ssh keys

LEFT_CIDR=198.18.0.1/24
RIGHT_CIDR=198.18.0.2/24
VROUTER_MAC=00:01:00:5e:00:00 # OpenContrail's vRouter shows every VM this one MAC
READY_GAP_MAX_US=1000000      # frames must cross within 1 s of the ready line
READY_PROBE_S=16              # probe that long after the ready line (bound + 15 s, as wirelab)
HYGIENE_PROBE_S=20
QUIET_S=3
REMOTE_CAPTURE=/tmp/l2q-capture # file prefix inside the traffic hosts
TCPDUMP_OPTS=(-Z root -n -s 65535 -U --immediate-mode --time-stamp-precision=nano -B 32768)
REMOTE_PLAN=/tmp/l2q-plan.json # the plan's copy inside the traffic hosts

usage() {
  echo "usage: $0 --kernel K --initrd I --image TAG --plan PLAN.json [--append STR] [--ready REGEX] [--memory MiB] [--cpus N]" >&2
  exit 2
}

KERNEL='' INITRD='' IMAGE='' PLAN='' APPEND='console=ttyS0 quiet panic=-1' READY='wirelab-guest: ready' MEMORY=256 CPUS=1
while (($# > 0)); do
  (($# >= 2)) || usage
  case $1 in
    --kernel) KERNEL=$2 ;; --initrd) INITRD=$2 ;; --image) IMAGE=$2 ;; --append) APPEND=$2 ;;
    --ready) READY=$2 ;; --memory) MEMORY=$2 ;; --cpus) CPUS=$2 ;; --plan) PLAN=$2 ;;
    *) usage ;;
  esac
  shift 2
done
[[ -f $KERNEL && -f $INITRD && -n $IMAGE && -f $PLAN && $MEMORY =~ ^[1-9][0-9]*$ && $CPUS =~ ^[1-9][0-9]*$ ]] || usage

# The contract's rows that promise something (not "either way"), from the plan: one check each.
mapfile -t ROWS < <(jq -r '.rows[] | select(.behaviour.kind != "either" and .behaviour.kind != "mirrored") | .id' "$PLAN") || true
((${#ROWS[@]} > 0)) || { echo "$0: $PLAN has no rows to judge: is it the JSON of \`wirelab plan --json\`?" >&2; exit 2; }
FUNCTIONAL_CHECKS=("${ROWS[@]}" distinct-macs frame-space)
CHECKS=(readiness "${FUNCTIONAL_CHECKS[@]}" bursts load emissions vrouter-same-mac image-hygiene)
# A unicast MAC no station of the lab has (locally administered): the unknown-unicast cases' destination.
UNKNOWN_MAC="02:$(od -An -N5 -tx1 /dev/urandom | sed 's/^ //; s/ /:/g')"

# ------------------------------------------------------------------------------------------------
# Bookkeeping: what to remove at exit

WORK=''               # pcaps, logs, ssh control sockets of this run
LABS=()               # lab ids that are (or may be) up
UP_PID=''             # a `lab-lifecycle.sh up` still running
BG_PIDS=()            # ssh clients running in the background
LOCAL_CAPTURES=()     # tcpdump pids on the taps
LIFETIME_CAPTURES=()  # tcpdump pids on the taps for the lab's whole life (the emissions check)
declare -A MASTER=()  # "<id>-<side>" -> pid of the ssh control master to that host
declare -A HOST_MAC=() # "<id>-<side>" -> the host's data-NIC MAC
declare -A REMOTE_CAPTURE_PID=() # side -> pid of tcpdump inside that host
UP_AT=''              # $EPOCHREALTIME when the last `up` returned
REASON=''             # why the current check failed (one line)

info() { echo "$*" >&2; }

# True while process $1 runs (a zombie counts as gone).
running() {
  local state
  read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" && [[ $state != Z ]]
}

# Seconds since an $EPOCHREALTIME value, with two decimals.
since() {
  local us=$((${EPOCHREALTIME//[.,]/} - ${1//[.,]/}))
  printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

# Stop a child we started: SIGTERM, up to 2 s, then SIGKILL; reap it.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do running "$pid" || break; sleep 0.05; done
  if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

# Run a command in the background and wait for it: bash defers a trap while a foreground command
# runs, so this way Ctrl-C reaches the cleanup at once (which stops the command by its pid).
run_bg() {
  local pid rc=0 keep=() p
  "$@" &
  pid=$!
  BG_PIDS+=("$pid")
  wait "$pid" || rc=$?
  for p in "${BG_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  BG_PIDS=("${keep[@]}")
  return "$rc"
}

cleanup() {
  local rc=$? pid key id
  set +e
  trap '' INT TERM # finish the cleanup even on a second Ctrl-C: a half-removed lab is worse
  for pid in "${LOCAL_CAPTURES[@]}" "${LIFETIME_CAPTURES[@]}" "${BG_PIDS[@]}"; do stop_pid "$pid"; done
  # An interrupted `up` removes what it created itself once it gets SIGTERM (through timeout).
  [[ -z $UP_PID ]] || stop_pid "$UP_PID"
  for key in "${!MASTER[@]}"; do stop_pid "${MASTER[$key]}"; done
  for id in "${LABS[@]}"; do timeout -k 5 60 bash "$LIFECYCLE" down "$id" >/dev/null 2>&1; done
  [[ -z $WORK ]] || rm -rf -- "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
WORK=$(mktemp -d "${TMPDIR:-/tmp}/l2q.XXXXXX")
cp -- "$PLAN" "$WORK/plan.json"

# ------------------------------------------------------------------------------------------------
# Labs and ssh

# Boot a lab (extra args go to `lab-lifecycle.sh up`); its id in NEW_LAB. Runs in the background so
# that a signal reaches our trap at once.
lab_up() {
  local id
  id="wlsh-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  LABS+=("$id")
  timeout 180 bash "$LIFECYCLE" up --id "$id" --kernel "$KERNEL" --initrd "$INITRD" --image "$IMAGE" \
    --append "$APPEND" --ready "$READY" --memory "$MEMORY" --cpus "$CPUS" \
    --left-ip "$LEFT_CIDR" --right-ip "$RIGHT_CIDR" "$@" >/dev/null 2>"$WORK/$id.up.err" &
  UP_PID=$!
  if wait "$UP_PID"; then
    UP_AT=$EPOCHREALTIME
    UP_PID=''
    NEW_LAB=$id
    return 0
  fi
  UP_PID=''
  forget_lab "$id" # a failed up has removed what it created
  REASON="lab-lifecycle.sh up failed: $(grep -v WARNING "$WORK/$id.up.err" | tail -n 2 | tr '\n' ' ')"
  return 1
}

forget_lab() {
  local keep=() id
  for id in "${LABS[@]}"; do [[ $id == "$1" ]] || keep+=("$id"); done
  LABS=("${keep[@]}")
}

# Take a lab down gracefully (power button); returns lab-lifecycle.sh down's status (3: it had to be killed).
lab_down() {
  local id=$1 side rc=0
  for side in left right; do
    [[ -z ${MASTER[$id-$side]:-} ]] || { stop_pid "${MASTER[$id-$side]}"; unset "MASTER[$id-$side]"; }
  done
  timeout -k 5 90 bash "$LIFECYCLE" down "$id" 2>"$WORK/$id.down.err" || rc=$?
  ((rc == 124 || rc == 137)) || forget_lab "$id" # only a down cut short is retried at exit
  return "$rc"
}

# Run a command on a traffic host, bounded to $3 seconds at both ends; arguments quoted one by one.
rsh() {
  local id=$1 side=$2 seconds=$3 dir="$STATE_ROOT/$1/ssh-$2" mux=(-o ControlPath=none)
  shift 3
  [[ ! -S $WORK/$id-$side.sock ]] || mux=(-o ControlMaster=no -o "ControlPath=$WORK/$id-$side.sock")
  timeout -k 2 "$seconds" ssh -F /dev/null -i "$dir/client" -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/known_hosts" \
    -o GlobalKnownHostsFile=/dev/null -o HostKeyAlgorithms=ssh-ed25519 -o ConnectTimeout=5 -o LogLevel=ERROR \
    "${mux[@]}" "root@$(<"$dir/address")" "$(printf '%q ' timeout "$seconds" "$@")"
}

# One ssh control master per host (a new handshake per command costs ~0.3 s), the scapy helper and
# the test plan copied over (one tar stream), and each host's data-NIC MAC read back.
lab_connect() {
  local id=$1 side dir i pid
  for side in left right; do
    dir="$STATE_ROOT/$id/ssh-$side"
    ssh -F /dev/null -i "$dir/client" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
      -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/known_hosts" -o GlobalKnownHostsFile=/dev/null \
      -o HostKeyAlgorithms=ssh-ed25519 -o ConnectTimeout=5 -o LogLevel=ERROR \
      -M -N -o ControlPersist=no -o "ControlPath=$WORK/$id-$side.sock" "root@$(<"$dir/address")" \
      </dev/null >/dev/null 2>"$WORK/$id-$side.master.err" &
    MASTER[$id-$side]=$!
  done
  for side in left right; do
    for ((i = 0; i < 200; i++)); do
      [[ -S $WORK/$id-$side.sock ]] && break
      running "${MASTER[$id-$side]}" || break
      sleep 0.05
    done
    [[ -S $WORK/$id-$side.sock ]] || { REASON="no ssh connection to the $side host: $(tr '\n' ' ' <"$WORK/$id-$side.master.err")"; return 1; }
  done
  for side in left right; do
    tar -cf - -C "$HERE" l2-scapy.py -C "$WORK" plan.json |
      rsh "$id" "$side" 10 sh -c 'tar -xf - -C /tmp && mv /tmp/plan.json "$1" && cat /sys/class/net/eth1/address' copy "$REMOTE_PLAN" \
        >"$WORK/$id-$side.mac" 2>&1 &
    BG_PIDS+=($!)
  done
  for pid in "${BG_PIDS[@]}"; do wait "$pid" || true; done
  BG_PIDS=()
  for side in left right; do
    HOST_MAC[$id-$side]=$(<"$WORK/$id-$side.mac")
    [[ ${HOST_MAC[$id-$side]} =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]] ||
      { REASON="could not set up the $side host: ${HOST_MAC[$id-$side]//$'\n'/ }"; return 1; }
  done
}

# ------------------------------------------------------------------------------------------------
# Captures: tcpdump on the guest's taps here, on eth1 inside each host; each confirmed listening.

# Inside a host: start tcpdump in the background, wait (bounded) for "listening on", print its pid.
# shellcheck disable=SC2016 # expanded by the traffic host's shell
REMOTE_START='f=$1; shift
tcpdump -i eth1 "$@" -w "$f.pcap" </dev/null >/dev/null 2>"$f.log" &
pid=$!; i=0
until grep -q "listening on" "$f.log"; do
  if [ "$i" -ge 100 ] || ! kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null; tr "\n" " " <"$f.log" >&2; exit 1; fi
  i=$((i + 1)); sleep 0.05
done
echo "$pid"'

# Inside a host: SIGTERM (a background job ignores SIGINT) so tcpdump flushes, wait for it, then the
# pcap on stdout and tcpdump's statistics on stderr.
# shellcheck disable=SC2016 # expanded by the traffic host's shell
REMOTE_STOP='pid=$1 f=$2 i=0
kill -TERM "$pid" 2>/dev/null
while [ "$(cut -d" " -f3 "/proc/$pid/stat" 2>/dev/null || echo Z)" != Z ]; do
  i=$((i + 1)); [ "$i" -le 100 ] || { kill -KILL "$pid"; break; }; sleep 0.02
done
cat "$f.log" >&2; cat "$f.pcap" && rm -f "$f.pcap" "$f.log"'

captures_start() {
  local id=$1 dir=$2 n side pid i ok
  for n in 0 1; do
    side=$([[ $n == 0 ]] && echo left || echo right)
    ip netns exec "$id" tcpdump -i "tap$n" "${TCPDUMP_OPTS[@]}" -w "$dir/guest-$side.pcap" \
      </dev/null >/dev/null 2>"$dir/guest-$side.log" &
    LOCAL_CAPTURES+=($!)
  done
  for side in left right; do
    rsh "$id" "$side" 10 sh -c "$REMOTE_START" start "$REMOTE_CAPTURE" "${TCPDUMP_OPTS[@]}" \
      >"$dir/$side-host.pid" 2>"$dir/$side-host.start.err" &
    BG_PIDS+=($!)
  done
  for pid in "${BG_PIDS[@]}"; do wait "$pid" || true; done
  BG_PIDS=()
  for side in left right; do
    pid=$(<"$dir/$side-host.pid")
    if [[ $pid =~ ^[0-9]+$ ]]; then REMOTE_CAPTURE_PID[$side]=$pid; else REASON+="capture on the $side host did not start: $(<"$dir/$side-host.start.err") "; fi
  done
  [[ -z $REASON ]] || return 1
  for ((i = 0; i < 100; i++)); do
    ok=1
    for side in left right; do grep -q 'listening on' "$dir/guest-$side.log" || ok=0; done
    ((ok)) && return 0
    for pid in "${LOCAL_CAPTURES[@]}"; do running "$pid" || break 2; done
    sleep 0.05
  done
  REASON="capture on a guest port did not start listening: $(cat "$dir"/guest-*.log | tr '\n' ' ')"
  return 1
}

# The guest's taps for the lab's whole life: what it sends by itself, with traffic and without.
emissions_start() {
  local id=$1 n side
  mkdir -p "$WORK/lifetime"
  for n in 0 1; do
    side=$([[ $n == 0 ]] && echo left || echo right)
    ip netns exec "$id" tcpdump -i "tap$n" "${TCPDUMP_OPTS[@]}" -w "$WORK/lifetime/guest-$side.pcap" \
      </dev/null >/dev/null 2>"$WORK/lifetime/guest-$side.log" &
    LIFETIME_CAPTURES+=($!)
  done
}

# After a quiet spell, stop the lifetime captures into the check's directory.
emissions_stop() {
  local dir=$1 pid
  sleep "$QUIET_S"
  for pid in "${LIFETIME_CAPTURES[@]}"; do stop_pid "$pid"; done
  LIFETIME_CAPTURES=()
  mv "$WORK"/lifetime/* "$dir"/
}

captures_stop() {
  local id=$1 dir=$2 side pid rc=0
  for side in "${!REMOTE_CAPTURE_PID[@]}"; do
    rsh "$id" "$side" 10 sh -c "$REMOTE_STOP" stop "${REMOTE_CAPTURE_PID[$side]}" "$REMOTE_CAPTURE" \
      >"$dir/$side-host.pcap" 2>"$dir/$side-host.log" &
    BG_PIDS+=($!)
  done
  for pid in "${LOCAL_CAPTURES[@]}"; do stop_pid "$pid"; done
  LOCAL_CAPTURES=()
  for pid in "${BG_PIDS[@]}"; do wait "$pid" || rc=1; done
  BG_PIDS=()
  REMOTE_CAPTURE_PID=()
  ((rc == 0)) || { REASON="could not fetch a host's capture: $(cat "$dir"/*-host.log | tr '\n' ' ')"; return 1; }
}

# Frames still in flight: at least 0.5 s, then until the guest-port pcaps stop growing for 0.5 s
# (at most 5 s more), so a slow guest's last frames are counted rather than called lost.
settle() {
  local dir=$1 last='' now quiet=0 i
  sleep 0.5
  for ((i = 0; i < 50 && quiet < 5; i++)); do
    now=$(stat -c %s "$dir/guest-left.pcap" "$dir/guest-right.pcap" 2>/dev/null | tr '\n' ' ')
    if [[ $now == "$last" ]]; then quiet=$((quiet + 1)); else quiet=0; fi
    last=$now
    sleep 0.1
  done
}

# ------------------------------------------------------------------------------------------------
# The checks. Each returns 0 (pass) or sets REASON and returns 1. They run as `if` conditions, where
# bash ignores set -e, so every step that can fail is tested explicitly.

# A check's frames carry a run id of its own (lab id's 24 bits, check number): late frames of one
# check can never be counted in the next.
run_id() { echo $((16#${1#wlsh-} * 256 + $2)); }

# Send from both hosts at once (scapy on eth1), capture at the four points, judge the pcaps.
traffic_check() {
  local id=$1 name=$2 no=$3 dir="$WORK/$1-$2" side pid rc=0 verdict
  local lab_args=(--run-id "$(run_id "$id" "$no")" --left-mac "${HOST_MAC[$id-left]}" --right-mac "${HOST_MAC[$id-right]}"
    --left-ip "$LEFT_CIDR" --right-ip "$RIGHT_CIDR")
  local send_args=() analyze_args=()
  if [[ $name == functional ]]; then
    send_args=(--plan "$REMOTE_PLAN" --unknown-mac "$UNKNOWN_MAC")
    analyze_args=(--plan "$WORK/plan.json" --unknown-mac "$UNKNOWN_MAC")
  fi
  mkdir "$dir"
  if [[ $name == emissions ]]; then
    emissions_stop "$dir"
  elif ! captures_start "$id" "$dir"; then
    captures_stop "$id" "$dir" || true
    return 1
  else
    for side in left right; do
      rsh "$id" "$side" 60 python3 /tmp/l2-scapy.py send "$name" "$side" "${lab_args[@]}" "${send_args[@]}" >"$dir/send-$side.out" 2>&1 &
      BG_PIDS+=($!)
    done
    for pid in "${BG_PIDS[@]}"; do wait "$pid" || rc=1; done
    BG_PIDS=()
    sed 's/^/  /' "$dir"/send-*.out >&2
    if ((rc != 0)); then
      REASON="sending failed: $(tail -q -n 1 "$dir"/send-*.out | tr '\n' ' ')"
      captures_stop "$id" "$dir" || true
      return 1
    fi
    settle "$dir"
    captures_stop "$id" "$dir" || return 1
  fi
  rc=0
  run_bg timeout 120 "$PY" "$SCAPY" analyze "$name" "$dir" "${lab_args[@]}" "${analyze_args[@]}" >"$dir/verdict" || rc=$?
  ((rc != 0)) || return 0
  verdict=$(head -n 1 "$dir/verdict")
  REASON=${verdict:-the analyzer failed (exit $rc)}
  return 1
}

# The functional window: every case of the plan and the distinct-MACs unicast, sent once; each of
# FUNCTIONAL_CHECKS reads its line ("<check> TAB ok|FAIL TAB <detail>") of the window's verdict.
WINDOW_RAN=0
WINDOW_REASON=''
functional_check() {
  local id=$1 name=$2 verdict="$WORK/$1-functional/verdict" line status text
  if ((WINDOW_RAN == 0)); then
    WINDOW_RAN=1
    traffic_check "$id" functional 2 || WINDOW_REASON=$REASON
    REASON=''
  fi
  if [[ $name == distinct-macs && ${HOST_MAC[$id-left]} == "${HOST_MAC[$id-right]}" ]]; then
    REASON="both hosts have MAC ${HOST_MAC[$id-left]}: this lab does not have distinct MACs"
    return 1
  fi
  line=$(grep -m 1 "^$name"$'\t' "$verdict" 2>/dev/null) ||
    { REASON="the functional window gave no verdict for $name: ${WINDOW_REASON:-the analyzer printed none}"; return 1; }
  IFS=$'\t' read -r _ status text <<<"$line"
  info "  $text"
  [[ $status == ok ]] && return 0
  REASON=$text
  return 1
}

# Inside the left host: ping the right host until one echo comes back (it crosses the guest both
# ways), for at most $1 seconds; print the time it came back (the containers share this clock).
# shellcheck disable=SC2016 # expanded by the traffic host's shell
PROBE='budget=$1 target=$2
end=$(( $(date +%s) + budget ))
while [ "$(date +%s)" -lt "$end" ]; do
  if ping -q -n -c 1 -i 0.05 -w "$(( end - $(date +%s) ))" "$target" >/dev/null 2>&1; then date +%s.%6N; exit 0; fi
  sleep 0.05
done
exit 1'

# Readiness: the ready line is a claim; frames must cross within 1 s of it. The claim time is when
# `up` returned: it returns once both the ready line is there and the hosts answer over ssh (within
# its 50 ms poll), the later of the two as in wirelab. The gap includes the probe's own ssh
# handshake (~0.3 s; the control masters are opened only after this check) and the ARP + echo round trips.
check_readiness() {
  local id=$1 crossed gap_us rc=0
  run_bg rsh "$id" left $((READY_PROBE_S + 5)) sh -c "$PROBE" probe "$READY_PROBE_S" "${RIGHT_CIDR%/*}" >"$WORK/$id.probe" || rc=$?
  case $rc in
    0) ;;
    1) REASON="no ping crossed the guest (left->right->left) within ${READY_PROBE_S} s of its ready line"; return 1 ;;
    *) REASON="the probe over ssh to the left host failed (exit $rc)"; return 1 ;;
  esac
  crossed=$(<"$WORK/$id.probe")
  [[ $crossed =~ ^[0-9]+\.[0-9]{6}$ ]] || { REASON="the probe printed '$crossed', not a time"; return 1; }
  gap_us=$((${crossed//./} - ${UP_AT//[.,]/}))
  ((gap_us >= 0)) || gap_us=0
  info "  first ping answered $((gap_us / 1000)) ms after the ready line"
  ((gap_us <= READY_GAP_MAX_US)) ||
    { REASON="the guest claimed readiness $((gap_us / 1000)) ms before a ping crossed it (bound 1000 ms)"; return 1; }
}

# vRouter MAC: a second lab whose hosts share one MAC; a learning bridge sees a loop, nothing flows.
# As in wirelab's nested lab, the lab's own br0/br1 already drop these frames (their destination
# MAC was just learned on the port they came in by), so they are seen leaving the sender but not at
# the guest's port; the analyzer, like wirelab's toDeliverNone, requires just that they left the sender.
check_vrouter() {
  local id rc=0
  lab_up --left-mac "$VROUTER_MAC" --right-mac "$VROUTER_MAC" || return 1
  id=$NEW_LAB
  info "  second lab $id up, both hosts $VROUTER_MAC"
  if lab_connect "$id"; then traffic_check "$id" vrouter-same-mac "$1" || rc=1; else rc=1; fi
  local down=0
  lab_down "$id" || down=$?
  ((down == 0)) || info "  second lab $id: down exited $down ($(tr '\n' ' ' <"$WORK/$id.down.err"))"
  return "$rc"
}

# Image hygiene: this lab booted with NIC MACs made from its fresh random id, the guest forwards
# with them, and it powers off on the ACPI power button within 30 s (down exits 3 if it had to be killed).
check_hygiene() {
  local id=$1 hex=${1#wlsh-} macs want t0 rc=0 problems=()
  want="02:00:${hex:0:2}:${hex:2:2}:${hex:4:2}"
  macs=$(tr '\0' '\n' <"/proc/$(<"$STATE_ROOT/$id/qemu.pid")/cmdline" | grep -o 'mac=[0-9a-f:]*' | cut -d= -f2 | paste -sd ' ') ||
    problems+=("cannot read the guest's NIC MACs from QEMU's command line")
  info "  guest MACs this boot: $macs"
  [[ $macs == "$want:01 $want:02" ]] || problems+=("the guest's NIC MACs are '$macs', not fresh ones of this run ($want:01/02)")
  run_bg rsh "$id" left $((HYGIENE_PROBE_S + 5)) sh -c "$PROBE" probe "$HYGIENE_PROBE_S" "${RIGHT_CIDR%/*}" >/dev/null ||
    problems+=("with fresh NIC MACs no ping crossed the guest within ${HYGIENE_PROBE_S} s")
  # The halt is judged whatever the above found: it is a property of its own.
  t0=$EPOCHREALTIME
  lab_down "$id" || rc=$?
  info "  down took $(since "$t0") s (exit $rc)"
  case $rc in
    0) ;;
    3) problems+=("the guest ignored the ACPI power button for 30 s and had to be killed") ;;
    *) problems+=("lab-lifecycle.sh down failed (exit $rc): $(tr '\n' ' ' <"$WORK/$id.down.err")") ;;
  esac
  ((${#problems[@]} == 0)) && return 0
  REASON=$(printf '%s; ' "${problems[@]}")
  REASON=${REASON%; }
  return 1
}

# ------------------------------------------------------------------------------------------------
# Main: the checks in order, each timed, continuing after a failure like a test runner.

PASSED=0
TOTAL=0

# Run one check: `check NAME COMMAND...` prints its PASS/FAIL line.
check() {
  local name=$1 t0=$EPOCHREALTIME
  shift
  REASON=''
  TOTAL=$((TOTAL + 1))
  info "[$name]"
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "PASS $name ($(since "$t0") s)"
  else
    REASON=${REASON//$'\n'/ }
    echo "FAIL $name: ${REASON:-no reason given} ($(since "$t0") s)"
  fi
}

fail_with() { REASON=$1; return 1; }

T0=$EPOCHREALTIME
if lab_up; then
  MAIN=$NEW_LAB
  info "lab $MAIN up in $(since "$T0") s"
  emissions_start "$MAIN"
  check readiness check_readiness "$MAIN"
  if lab_connect "$MAIN"; then
    for name in "${FUNCTIONAL_CHECKS[@]}"; do check "$name" functional_check "$MAIN" "$name"; done
    check bursts traffic_check "$MAIN" bursts 3
    check load traffic_check "$MAIN" load 4
    check emissions traffic_check "$MAIN" emissions 5
  else
    why=$REASON
    for name in "${FUNCTIONAL_CHECKS[@]}" bursts load emissions; do check "$name" fail_with "$why"; done
  fi
  check vrouter-same-mac check_vrouter 6
  check image-hygiene check_hygiene "$MAIN"
else
  why=$REASON
  for name in "${CHECKS[@]}"; do check "$name" fail_with "the lab did not come up: $why"; done
fi
echo "RESULT $PASSED/$TOTAL passed in $(since "$T0") s"
((PASSED == TOTAL))
