# The scapy half of the shell baseline (l2-qualification.sh): builds the test frames of every traffic
# check, sends them from a traffic host, and judges the four captures of a check afterwards. Both
# halves take the same check name and lab arguments and build the same frames from them, so the
# analyzer knows exactly what was sent without any file passing between the hosts and this machine.
#
#   python3 l2-scapy.py send CHECK SIDE LAB-ARGS             inside a traffic host (the scapy image;
#                                                            copied there, or fed: python3 - send ... <l2-scapy.py)
#   /usr/bin/python3 l2-scapy.py analyze CHECK DIR LAB-ARGS  on this machine, DIR holding the pcaps
#
#   LAB-ARGS: --run-id N --left-mac MAC --right-mac MAC --left-ip CIDR --right-ip CIDR [--iface eth1]
#
# `send` prints one line (frames sent, rate achieved). `analyze` reads DIR/<point>.pcap for the four
# capture points (left-host, guest-left, guest-right, right-host) and DIR/<point>.log (tcpdump's
# stderr, for "dropped by kernel"), prints one line per flow on stderr, and on stdout "ok" (exit 0)
# or the reason the check failed (exit 1).
#
# Every test frame carries an 18-byte signature right after its L4 header (ARP: in the padding after
# the ARP payload): b"WLB1", u32 run id, u16 flow id, u32 sequence, u32 0, big endian. Frames are
# matched across the captures by (flow, sequence).
import argparse
import ipaddress
import struct
import sys
import time

# Only the layers needed: `from scapy.all import *` takes twice as long to import.
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

MAGIC = b"WLB1"
SIG_LEN = 18
BROADCAST = "ff:ff:ff:ff:ff:ff"
POINTS = ("left-host", "guest-left", "guest-right", "right-host")
# Simple IMIX 7:4:1 (64, 594, 1518 bytes on the wire, i.e. with FCS), spread over a 12-frame cycle.
IMIX_SIZES = (60, 590, 1514)
IMIX_CYCLE = (0, 1, 0, 0, 1, 0, 2, 0, 1, 0, 0, 1)
LATENCY_P99_MS = 100
# As the default profile's expect.latencyP50Ms and expect.latencyAsymmetryMs: the median across the
# guest at most 2 ms above the lab's own floor (sending host to the guest's port), and the two
# directions' medians within 1.5 ms of each other.
LATENCY_P50_ABOVE_FLOOR_MS = 2
LATENCY_ASYMMETRY_MS = 1.5
BURST, BURSTS, BURST_GAP_S = 32, 20, 0.025


class Lab:
    """The two traffic hosts as the frames address them."""

    def __init__(self, args):
        self.run_id = args.run_id
        self.mac = {"left": args.left_mac.lower(), "right": args.right_mac.lower()}
        self.cidr = {"left": args.left_ip, "right": args.right_ip}

    def ip(self, side):
        return self.cidr[side].split("/")[0]

    def broadcast(self, side):
        return str(ipaddress.ip_interface(self.cidr[side]).network.broadcast_address)


class Flow:
    """`count` signed frames from one header template, sent from one host to the other at `rate`."""

    def __init__(self, flow_id, name, frm, to, headers, count, rate, size, run_id, burst=0):
        self.flow_id, self.name, self.frm, self.to = flow_id, name, frm, to
        self.headers, self.count, self.rate, self.run_id = headers, count, rate, run_id
        self.burst = burst  # frames sent back to back, bursts 1/rate*burst apart; 0: evenly spaced
        self.sizes = [size] if isinstance(size, int) else list(size)
        self.sig_off = len(headers)  # the signature follows the headers

    def size_of(self, seq):
        return self.sizes[IMIX_CYCLE[seq % len(IMIX_CYCLE)]] if len(self.sizes) > 1 else self.sizes[0]

    def frame(self, seq):
        """The frame as a scapy packet: headers, signature, then a byte pattern up to the size."""
        size = self.size_of(seq)
        sig = struct.pack("!4sIHII", MAGIC, self.run_id, self.flow_id, seq, 0)
        # A pattern rather than zeros: a truncated-then-padded frame cannot pass as intact.
        pad = bytes(i & 0xFF for i in range(SIG_LEN, size - self.sig_off))
        return self.headers / Raw(sig + pad)

    @property
    def ingress(self):  # the guest port the frames enter by
        return "guest-" + self.frm

    @property
    def egress(self):
        return "guest-" + self.to

    @property
    def sender(self):
        return self.frm + "-host"

    @property
    def receiver(self):
        return self.to + "-host"


# Header templates, as the sending host's own stack would address the frames through a bridge.
def udp(lab, frm, to, sport=10000, dport=20000):
    return Ether(src=lab.mac[frm], dst=lab.mac[to]) / IP(src=lab.ip(frm), dst=lab.ip(to)) / UDP(sport=sport, dport=dport)


def broadcast(lab, frm, _to):
    return Ether(src=lab.mac[frm], dst=BROADCAST) / IP(src=lab.ip(frm), dst=lab.broadcast(frm)) / UDP(sport=10001, dport=20001)


def arp_request(lab, frm, to):
    return Ether(src=lab.mac[frm], dst=BROADCAST) / ARP(op=1, hwsrc=lab.mac[frm], psrc=lab.ip(frm), hwdst="00:00:00:00:00:00", pdst=lab.ip(to))


def arp_reply(lab, frm, to):
    return Ether(src=lab.mac[frm], dst=lab.mac[to]) / ARP(op=2, hwsrc=lab.mac[frm], psrc=lab.ip(frm), hwdst=lab.mac[to], pdst=lab.ip(to))


def tagged(vlan, outer=None):
    """802.1Q (TPID 0x8100), or QinQ: an 802.1ad service tag (TPID 0x88a8) outside the 802.1Q tag."""

    def template(lab, frm, to):
        tags = Dot1Q(vlan=vlan) if outer is None else Dot1AD(vlan=outer) / Dot1Q(vlan=vlan)
        return Ether(src=lab.mac[frm], dst=lab.mac[to]) / tags / IP(src=lab.ip(frm), dst=lab.ip(to)) / UDP(sport=10002, dport=20002)

    return template


def ipv6(lab, frm, to):
    addr = {"left": "2001:db8:1::1", "right": "2001:db8:1::2"}
    return Ether(src=lab.mac[frm], dst=lab.mac[to]) / IPv6(src=addr[frm], dst=addr[to]) / UDP(sport=10003, dport=20003)


# What each check sends (name, template, frames per direction, frames/s, size without FCS) and expects.
FULL = 1514  # MTU 1500 + the 14-byte Ethernet header
EXACT = ["all", "unchanged", "no-reflect"]
PLANS = {
    "unicast": ([("unicast", udp, 100, 100, 128)], EXACT),
    "broadcast": ([("broadcast", broadcast, 100, 100, 128)], EXACT),
    "arp": ([("ARP request", arp_request, 100, 100, 60), ("ARP reply", arp_reply, 100, 100, 60)], EXACT),
    "vlan": ([("802.1Q vlan 100", tagged(100), 100, 100, 128), ("QinQ 200/100", tagged(100, 200), 100, 100, 128)], EXACT),
    "ipv6": ([("IPv6 UDP", ipv6, 100, 100, 128)], EXACT),
    "full-size": (
        [("1514-byte", udp, 100, 100, FULL), ("1518-byte 802.1Q", tagged(100), 100, 100, FULL + 4), ("1522-byte QinQ", tagged(100, 200), 100, 100, FULL + 8)],
        EXACT,
    ),
    "bursts": (
        [("back-to-back bursts", lambda lab, frm, to: udp(lab, frm, to, 10010, 20010), BURST * BURSTS, int(BURST / BURST_GAP_S), 128, BURST)],
        ["all", "no-dups", "in-order", "no-reflect"],
    ),
    "load": ([("IMIX load", udp, 1000, 500, IMIX_SIZES)], ["all", "no-dups", "in-order", "no-reflect", "latency"]),
    # The guest's taps since the lab came up (every check's traffic) and a quiet spell after it.
    "emissions": ([], ["no-emissions"]),
    "distinct-macs": ([("unicast", udp, 50, 100, 128)], ["all"]),
    "vrouter-same-mac": ([("unicast", udp, 50, 100, 128)], ["none"]),
}


def flows_of(check, lab):
    """Every flow of a check, both ways, flow ids from 1 in the order listed."""
    flows = []
    for name, template, count, rate, size, *burst in PLANS[check][0]:
        for frm, to in (("left", "right"), ("right", "left")):
            flows.append(Flow(len(flows) + 1, f"{name} {frm}->{to}", frm, to, template(lab, frm, to), count, rate, size, lab.run_id, *burst))
    return flows


# ------------------------------------------------------------------------------------------------
# send


def cmd_send(args):
    from scapy.sendrecv import sendp  # only the sender needs it

    lab = Lab(args)
    mine = [f for f in flows_of(args.check, lab) if f.frm == args.side]
    if not mine:
        print(f"{args.side}: nothing to send")
        return 0
    if len(mine) == 1 and mine[0].burst:
        return send_bursts(mine[0], args.iface, sendp)
    # Interleave this host's flows by their send times, then send at their summed rate.
    schedule = sorted((seq / f.rate, i, seq) for i, f in enumerate(mine) for seq in range(f.count))
    # Built to bytes up front, so that sendp's time per frame is the send alone (~15% more frames/s).
    frames = [Raw(bytes(mine[i].frame(seq))) for _, i, seq in schedule]
    rate = sum(f.rate for f in mine)
    t0 = time.monotonic()
    sendp(frames, iface=args.iface, inter=1.0 / rate, verbose=False)
    seconds = time.monotonic() - t0
    print(f"{args.side}: sent {len(frames)} frames in {seconds:.2f} s = {len(frames) / seconds:.0f} frames/s ({rate} requested)")
    return 0


def send_bursts(f, iface, sendp):
    """Bursts of back-to-back frames (sendp with no gap), each starting burst/rate seconds after the last."""
    frames = [Raw(bytes(f.frame(seq))) for seq in range(f.count)]
    t0 = time.monotonic()
    for k in range(0, f.count, f.burst):
        delay = t0 + (k / f.rate) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sendp(frames[k : k + f.burst], iface=iface, verbose=False)
    print(f"{f.frm}: sent {f.count} frames in bursts of {f.burst} in {time.monotonic() - t0:.2f} s")
    return 0


# ------------------------------------------------------------------------------------------------
# analyze


def read_capture(path):
    """(capture time in ns, frame bytes) of each record of a pcap (nano- or microsecond stamps)."""
    from scapy.utils import RawPcapReader

    reader = RawPcapReader(path)
    scale = 1 if reader.nano else 1000
    try:
        for data, meta in reader:
            yield meta.sec * 1_000_000_000 + meta.usec * scale, data
    finally:
        reader.close()


def capture_drops(path):
    """Frames tcpdump reported as dropped by the kernel (its closing statistics), 0 if none."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if "dropped by kernel" in line:
                    return int(line.split()[0])
    except (OSError, ValueError):
        pass
    return 0


def l4_payload_offset(data):
    """Where the first L4 header's payload starts, or -1 (wirelab's rule for a quoted signature)."""
    pkt = Ether(data)
    layer = pkt
    while layer and not isinstance(layer, Raw):
        if isinstance(layer, (UDP, TCP, ICMP)) or type(layer).__name__.startswith("ICMPv6Echo"):
            return len(data) - len(bytes(layer.payload))
        layer = layer.payload
    return -1


class Tally:
    """What the four captures saw of one flow."""

    def __init__(self, flow):
        self.flow = flow
        self.seen = {p: bytearray(flow.count) for p in POINTS}
        self.t_in = {}  # seq -> first capture time at the guest's ingress port
        self.t_out = {}  # seq -> first capture time at its egress port
        self.t_sent = {}  # seq -> capture time at the sending host
        self.dups = 0
        self.reordered = 0
        self.highest = -1
        self.unchanged = 0
        self.first_change = None

    def record(self, point, seq, ts, data, compare):
        seen = self.seen[point]
        if point == self.flow.ingress and not seen[seq]:
            self.t_in[seq] = ts
        if point == self.flow.egress and not seen[seq]:
            self.t_out[seq] = ts
        if point == self.flow.sender and not seen[seq]:
            self.t_sent[seq] = ts
        if point == self.flow.receiver:
            if seen[seq]:
                self.dups += 1
            else:
                # RFC 4737: a frame is reordered when one sent later arrived before it.
                if seq < self.highest:
                    self.reordered += 1
                self.highest = max(self.highest, seq)
                if compare:
                    self.compare(seq, data)
        seen[seq] = min(255, seen[seq] + 1)

    def compare(self, seq, received):
        sent = bytes(self.flow.frame(seq))
        if sent == received:
            self.unchanged += 1
        elif self.first_change is None:
            self.first_change = f"seq {seq}: {differences(sent, received, self.flow.sig_off)}"

    def count(self, point):
        return sum(1 for x in self.seen[point] if x)

    def path(self):
        f = self.flow
        return f"sender {self.count(f.sender)}, guest {f.frm} port {self.count(f.ingress)}, guest {f.to} port {self.count(f.egress)}, receiver {self.count(f.receiver)}"

    def latencies_ms(self):
        return sorted((self.t_out[s] - self.t_in[s]) / 1e6 for s in self.t_out if s in self.t_in)

    def instrument_ms(self):
        """The lab's own path without the guest: sending host to the guest's port."""
        return sorted((self.t_in[s] - self.t_sent[s]) / 1e6 for s in self.t_in if s in self.t_sent)

    def reflected(self):
        """Frames seen twice where they entered: sent back out of the port they came in by."""
        f = self.flow
        return sum(1 for a, b in zip(self.seen[f.sender], self.seen[f.ingress]) if a >= 2 or b >= 2)


def differences(sent, received, sig_off):
    """What changed between the frame sent and the frame received, in words."""
    a, b = Ether(sent), Ether(received)
    out = []
    if a.src != b.src:
        out.append(f"src MAC {a.src} -> {b.src}")
    if a.dst != b.dst:
        out.append(f"dst MAC {a.dst} -> {b.dst}")
    hop = lambda p: p[IP].ttl if IP in p else p[IPv6].hlim if IPv6 in p else None  # noqa: E731
    if hop(a) != hop(b):
        out.append(f"TTL/hop limit {hop(a)} -> {hop(b)}")
    vlans = lambda p: [l.vlan for l in p.iterpayloads() if isinstance(l, (Dot1Q, Dot1AD))]  # noqa: E731
    if vlans(a) != vlans(b):
        out.append(f"VLAN tags {vlans(a)} -> {vlans(b)}")
    if len(sent) != len(received):
        out.append(f"length {len(sent)} -> {len(received)}")
    elif sent[sig_off:] != received[sig_off:]:
        out.append("payload changed")
    return ", ".join(out) or "other header bytes changed"


def nearest_rank(sorted_values, pct):
    return sorted_values[min(len(sorted_values) - 1, max(0, -(-pct * len(sorted_values) // 100) - 1))]


def cmd_analyze(args):
    lab = Lab(args)
    flows = flows_of(args.check, lab)
    expects = PLANS[args.check][1]
    compare = "unchanged" in expects
    tallies = {f.flow_id: Tally(f) for f in flows}
    key = MAGIC + struct.pack("!I", lab.run_id)
    # Any check's frames of this lab (its run ids share the top 24 bits): never the guest's own.
    lab_key = key[:7]
    host_macs = set(lab.mac.values())
    host_ips = {lab.ip("left"), lab.ip("right")}
    emitted = {p: {} for p in POINTS}  # point -> {summary: count} of frames the guest sent itself

    points = ("guest-left", "guest-right") if args.check == "emissions" else POINTS
    for point in points:
        for ts, data in read_capture(f"{args.dir}/{point}.pcap"):
            off = data.find(key)
            tally = seq = None
            if off >= 0 and off + SIG_LEN <= len(data):
                flow_id, seq = struct.unpack_from("!HI", data, off + 8)
                tally = tallies.get(flow_id)
                # A signature quoted inside another frame (an ICMP error) does not make a test frame.
                if tally and off != tally.flow.sig_off and off != l4_payload_offset(data):
                    tally, off = None, -1
            if tally and seq < tally.flow.count:
                tally.record(point, seq, ts, data, compare)
                continue
            if off >= 0 or data.find(lab_key) >= 0:
                continue  # signed by this lab but of no flow here: not the guest's
            pkt = Ether(data)
            ip_src = pkt[IP].src if IP in pkt else pkt[IPv6].src if IPv6 in pkt else None
            if pkt.src.lower() in host_macs or ip_src in host_ips:
                continue  # the traffic hosts' own stacks (ARP replies, ICMP errors)
            summary = pkt.summary()
            emitted[point][summary] = emitted[point].get(summary, 0) + 1

    drops = {p: capture_drops(f"{args.dir}/{p}.log") for p in points}
    problems = []
    floor_ms = lab_floor_ms(tallies.values())
    for t in tallies.values():
        problems += judge(t, expects, floor_ms)
        report_flow(t, expects)
    if "latency" in expects:
        problems += judge_asymmetry(list(tallies.values()))
    if "no-emissions" in expects:
        for point, kinds in emitted.items():
            if kinds:
                top = sorted(kinds.items(), key=lambda kv: -kv[1])[:3]
                problems.append(f"the guest emitted {sum(kinds.values())} frame(s) of its own at {point}: " + "; ".join(f"{n}x {s}" for s, n in top))
    lossy = [f"{p} {n}" for p, n in drops.items() if n]
    if lossy:
        print(f"  captures dropped frames: {', '.join(lossy)}", file=sys.stderr)
    if not problems:
        print("ok")
        return 0
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    note = f" [captures dropped frames: {', '.join(lossy)}]" if lossy else ""
    print("; ".join(problems[:3]) + more + note)
    return 1


def lab_floor_ms(tallies):
    """The median of the flows' instrument medians (as wirelab's instrumentFloorUs), 0 if not measured."""
    medians = sorted(nearest_rank(m, 50) for m in (t.instrument_ms() for t in tallies) if m)
    return medians[len(medians) // 2] if medians else 0


def judge_asymmetry(tallies):
    """The two directions' median latencies within LATENCY_ASYMMETRY_MS of each other."""
    by_dir = {t.flow.frm: t.latencies_ms() for t in tallies}
    a, b = by_dir.get("left"), by_dir.get("right")
    if not a or not b:
        return []
    gap = abs(nearest_rank(a, 50) - nearest_rank(b, 50))
    if gap <= LATENCY_ASYMMETRY_MS:
        return []
    return [f"latency p50 left->right {nearest_rank(a, 50):.2f} ms vs right->left {nearest_rank(b, 50):.2f} ms: {gap:.2f} ms apart > {LATENCY_ASYMMETRY_MS} ms"]


def judge(t, expects, floor_ms=0):
    """The problems of one flow against what its check expects."""
    f = t.flow
    arrived = t.count(f.receiver)
    lost = f.count - arrived
    out = []
    if "all" in expects and lost:
        out.append(f"{f.name}: {lost} of {f.count} lost ({t.path()})")
    if "unchanged" in expects:
        if arrived == 0:
            if "all" not in expects:  # else the loss already says so
                out.append(f"{f.name}: none arrived, nothing to compare")
        elif t.unchanged < arrived:
            out.append(f"{f.name}: {arrived - t.unchanged} of {arrived} arrived changed, first {t.first_change}")
    if "none" in expects:
        # As wirelab's toDeliverNone: nothing arrives, and frames reached the guest (so it is the
        # guest that dropped them), else the check proves nothing.
        if arrived:
            out.append(f"{f.name}: {arrived} of {f.count} arrived, expected none ({t.path()})")
        elif t.count(f.ingress) == 0:
            out.append(f"{f.name}: none arrived, but none reached the guest's {f.frm} port either, which proves nothing about the guest ({t.path()})")
    if "no-reflect" in expects and t.reflected():
        out.append(f"{f.name}: {t.reflected()} frame(s) sent back out of the port they came in by")
    if "no-dups" in expects and t.dups:
        out.append(f"{f.name}: {t.dups} duplicate(s)")
    if "in-order" in expects and t.reordered:
        out.append(f"{f.name}: {t.reordered} of {arrived} arrived out of order")
    if "latency" in expects:
        lat = t.latencies_ms()
        if not lat:
            out.append(f"{f.name}: no frame seen at both guest ports, no latency to judge")
        else:
            if nearest_rank(lat, 99) > LATENCY_P99_MS:
                out.append(f"{f.name}: latency p99 {nearest_rank(lat, 99):.1f} ms > {LATENCY_P99_MS} ms")
            if nearest_rank(lat, 50) > floor_ms + LATENCY_P50_ABOVE_FLOOR_MS:
                out.append(f"{f.name}: latency p50 {nearest_rank(lat, 50):.2f} ms > the lab's floor {floor_ms:.2f} ms + {LATENCY_P50_ABOVE_FLOOR_MS} ms")
    return out


def report_flow(t, expects):
    """One line per flow on stderr: the path counts, and what else the check looks at."""
    f = t.flow
    line = f"  {f.name}: {t.path()} of {f.count}"
    if "unchanged" in expects:
        line += f"; {t.unchanged} unchanged"
    if "latency" in expects and t.latencies_ms():
        lat = t.latencies_ms()
        line += f"; {t.dups} dup, {t.reordered} reordered; latency p50 {nearest_rank(lat, 50):.2f} p99 {nearest_rank(lat, 99):.2f} max {lat[-1]:.2f} ms"
    print(line, file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description="Send and judge the test frames of the L2 qualification checks.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("send", "analyze"):
        p = sub.add_parser(name)
        p.add_argument("check", choices=sorted(PLANS))
        if name == "send":
            p.add_argument("side", choices=("left", "right"))
        else:
            p.add_argument("dir", help="directory with <point>.pcap and <point>.log of the four capture points")
        p.add_argument("--run-id", type=int, required=True)
        for side in ("left", "right"):
            p.add_argument(f"--{side}-mac", required=True)
            p.add_argument(f"--{side}-ip", required=True, help="CIDR, e.g. 198.18.0.1/24")
        p.add_argument("--iface", default="eth1")
    args = parser.parse_args()
    return cmd_send(args) if args.command == "send" else cmd_analyze(args)


if __name__ == "__main__":
    sys.exit(main())
