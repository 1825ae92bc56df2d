# The scapy half of the shell baseline (l2-qualification.sh): builds the test frames of every traffic
# check, sends them from a traffic host, and judges the four captures of a check afterwards. Both
# halves take the same check name and lab arguments and build the same frames from them, so the
# analyzer knows exactly what was sent without any file passing between the hosts and this machine.
#
#   python3 l2-scapy.py send CHECK SIDE LAB-ARGS             inside a traffic host (the scapy image;
#                                                            copied there, or fed: python3 - send ... <l2-scapy.py)
#   /usr/bin/python3 l2-scapy.py analyze CHECK DIR LAB-ARGS  on this machine, DIR holding the pcaps
#   /usr/bin/python3 l2-scapy.py frames functional LAB-ARGS  every case's frames, "<case> <seq> <hex>" per
#                                                            line (the bench compares them with wirelab's)
#
#   LAB-ARGS: --run-id N --left-mac MAC --right-mac MAC --left-ip CIDR --right-ip CIDR [--iface eth1]
#             and for the functional check: --plan FILE --unknown-mac MAC
#
# The functional check sends the role's contract: every case of the test plan that `wirelab plan
# --seed N --json FILE` writes (its dimension values, row, direction and size), each case built here
# with scapy from its values and sent as its own flow (4 frames at 3 frames/s, the cases of a side
# spread evenly over one frame interval), together with the distinct-MACs unicast flow. Each case is
# judged by its row's promise: delivered once, byte-exact, in order, not sent back; or not forwarded.
#
# `send` prints one line (frames sent, rate achieved). `analyze` reads DIR/<point>.pcap for the four
# capture points (left-host, guest-left, guest-right, right-host) and DIR/<point>.log (tcpdump's
# stderr, for "dropped by kernel"), prints one line per flow on stderr, and on stdout "ok" (exit 0)
# or the reason the check failed (exit 1). For the functional check it prints one line per check
# instead, "<check> TAB ok|FAIL TAB <detail>" (exit 1 if any failed).
#
# Every test frame carries an 18-byte signature right after its last header (L4 if any; ARP, MPLS,
# LLC, a bare EtherType or a later fragment: right after that header): b"WLB1", u32 run id, u16
# flow id, u32 sequence, u32 0, big endian (lib/frames/signature.ts). Frames are matched across the
# captures by (flow, sequence).
import argparse
import ipaddress
import json
import struct
import sys
import time

# Only the layers needed: `from scapy.all import *` takes twice as long to import.
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_Router_Alert
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import ARP, LLC, SNAP, Dot1AD, Dot1Q, Ether
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
# The payload after the signature: byte i of the payload is i & 0xff (up to a 9216-byte jumbo frame).
PATTERN = bytes(i & 0xFF for i in range(9216))


class Lab:
    """The two traffic hosts as the frames address them."""

    def __init__(self, args):
        self.run_id = args.run_id
        self.mac = {"left": args.left_mac.lower(), "right": args.right_mac.lower()}
        self.cidr = {"left": args.left_ip, "right": args.right_ip}
        # The hosts have no IPv6 address in the default profile: a bridge carries IPv6 anyway, between
        # these (as wirelab's case frames address them, lib/contracts/case-frames.ts).
        self.ip6 = {"left": "2001:db8:1::1", "right": "2001:db8:1::2"}
        self.unknown_mac = (args.unknown_mac or "").lower()
        self.plan = load_plan(args.plan) if args.plan else None

    def ip(self, side):
        return self.cidr[side].split("/")[0]

    def broadcast(self, side):
        return str(ipaddress.ip_interface(self.cidr[side]).network.broadcast_address)


class Flow:
    """`count` signed frames from one header template, sent from one host to the other at `rate`."""

    def __init__(self, flow_id, name, frm, to, headers, count, rate, size, run_id, burst=0, start=0.0):
        self.flow_id, self.name, self.frm, self.to = flow_id, name, frm, to
        self.headers, self.count, self.rate, self.run_id = headers, count, rate, run_id
        self.burst = burst  # frames sent back to back, bursts 1/rate*burst apart; 0: evenly spaced
        self.start = start  # seconds after the window's start that the first frame goes
        self.sizes = [size] if isinstance(size, int) else list(size)
        self.sig_off = len(headers)  # the signature follows the headers

    def size_of(self, seq):
        return self.sizes[IMIX_CYCLE[seq % len(IMIX_CYCLE)]] if len(self.sizes) > 1 else self.sizes[0]

    def frame(self, seq):
        """The frame as a scapy packet: headers, signature, then a byte pattern up to the size."""
        size = self.size_of(seq)
        sig = struct.pack("!4sIHII", MAGIC, self.run_id, self.flow_id, seq, 0)
        # A pattern rather than zeros: a truncated-then-padded frame cannot pass as intact.
        return self.headers / Raw(sig + PATTERN[SIG_LEN : size - self.sig_off])

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


# What each check sends (name, template, frames per direction, frames/s, size without FCS) and expects.
# The functional check's frames come from the test plan (contract_flows below).
EXACT = ["all", "unchanged", "no-dups", "in-order", "no-reflect"]
PLANS = {
    "functional": ([], []),
    "bursts": (
        [("back-to-back bursts", lambda lab, frm, to: udp(lab, frm, to, 10010, 20010), BURST * BURSTS, int(BURST / BURST_GAP_S), 128, BURST)],
        ["all", "no-dups", "in-order", "no-reflect"],
    ),
    "load": ([("IMIX load", udp, 1000, 500, IMIX_SIZES)], ["all", "no-dups", "in-order", "no-reflect", "latency"]),
    # The guest's taps since the lab came up (every check's traffic) and a quiet spell after it.
    "emissions": ([], ["no-emissions"]),
    "vrouter-same-mac": ([("unicast", udp, 50, 100, 128)], ["none"]),
}
# The functional window's other flow: unicast between the hosts' own (distinct) MACs.
DISTINCT_MACS = ("unicast, distinct MACs", lambda lab, frm, to: udp(lab, frm, to, 10005, 20005), 50, 100, 128)


def flows_of(check, lab):
    """Every flow of a check, both ways, flow ids from 1 in the order listed."""
    if check == "functional":
        return contract_flows(lab)
    flows = []
    for name, template, count, rate, size, *burst in PLANS[check][0]:
        for frm, to in (("left", "right"), ("right", "left")):
            flows.append(Flow(len(flows) + 1, f"{name} {frm}->{to}", frm, to, template(lab, frm, to), count, rate, size, lab.run_id, *burst))
    return flows


# ------------------------------------------------------------------------------------------------
# The contract's cases: the test plan as data, each case's frame built from its dimension values
# with the meaning lib/contracts/case-frames.ts gives them.

# As wirelab's functional window sends them (lib/traffic/contract-traffic.ts): per case one flow.
CASE_FRAMES, CASE_RATE = 4, 3
DESTINATION_MACS = {
    "broadcast": BROADCAST,
    "ipv4-multicast": "01:00:5e:01:02:03",
    "ipv6-multicast": "33:33:00:01:00:03",
    "other-group": "01:1b:19:00:00:00",
    "after-reserved": "01:80:c2:00:00:10",
    "reserved-00": "01:80:c2:00:00:00",
    "reserved-03": "01:80:c2:00:00:03",
    "reserved-0e": "01:80:c2:00:00:0e",
}
IPV4_GROUP, IPV6_GROUP = "239.1.2.3", "ff05::1:3"
# VLAN value -> the tags, outermost first: (802.1ad S-tag?, VID)
TAGS = {
    "untagged": [],
    "vid-0": [(False, 0)],
    "vid-1": [(False, 1)],
    "vid-100": [(False, 100)],
    "vid-4094": [(False, 4094)],
    "qinq": [(True, 200), (False, 100)],
    "double-q": [(False, 300), (False, 100)],
}
PRIORITY = {"-": (0, 0), "pcp-0": (0, 0), "pcp-5": (5, 0), "pcp-7-dei": (7, 1)}
TOS = {"default": 0, "ef": 46 << 2, "af11-ect1": (10 << 2) | 1, "max-ce": (63 << 2) | 3}
ETHERTYPES = {"mpls": 0x8847, "experimental": 0x88B5, "lowest-type": 0x0600}
EXPERIMENTAL_PROTOCOL = 253
KNOWN = {
    "destination": {"known-unicast", "unknown-unicast", *DESTINATION_MACS},
    "ethertype": {"ipv4", "ipv6", "arp", "llc", "snap", *ETHERTYPES},
    "vlan": set(TAGS),
    "priority": set(PRIORITY) - {"-"},
    "tos": set(TOS),
    "ttl": {"0", "1", "64", "255"},
    "ipExtras": {"none", "router-alert", "df", "first-fragment", "later-fragment", "bad-checksum", "hop-by-hop", "dest-opts-routing", "fragment-header"},
    "l4": {"udp", "udp-no-checksum", "tcp-syn", "tcp-rst-ack", "tcp-fin-psh-urg", "icmp-echo", "icmp-error", "other-protocol"},
    "size": {"minimum", "medium", "maximum"},
    "direction": {"left-to-right", "right-to-left"},
}


def load_plan(path):
    """The test plan `wirelab plan --json` wrote; every value must be one this script can build."""
    with open(path, encoding="utf-8") as f:
        plan = json.load(f)
    if plan.get("role") != "l2-bridge":
        raise SystemExit(f"{path}: the plan is for role {plan.get('role')!r}; this script qualifies an l2-bridge")
    for case in plan["cases"]:
        for dim, value in case["values"].items():
            if value not in KNOWN.get(dim, ()):
                raise SystemExit(f"{path}: case {case['index']} has {dim}={value}, which this script cannot build; update l2-scapy.py")
    return plan


def case_headers(case, lab):
    """A case's headers as scapy layers, down to the last header before the signature."""
    v, frm, to, index = case["values"], case["from"], case["to"], case["index"]
    dest = v["destination"]
    dst = lab.mac[to] if dest == "known-unicast" else lab.unknown_mac if dest == "unknown-unicast" else DESTINATION_MACS[dest]
    group = dest not in ("known-unicast", "unknown-unicast")
    prio, dei = PRIORITY[v.get("priority", "-")]
    frame = Ether(src=lab.mac[frm], dst=dst)
    for outer, vid in TAGS[v.get("vlan", "untagged")]:
        frame = frame / (Dot1AD if outer else Dot1Q)(vlan=vid, prio=prio, id=dei)
    et = v["ethertype"]
    if et in ("ipv4", "ipv6"):
        return frame / ip_headers(v, lab, frm, to, index, group)
    if et == "arp":
        hwdst = "00:00:00:00:00:00" if group else dst
        return frame / ARP(op=1 if group else 2, hwsrc=lab.mac[frm], psrc=lab.ip(frm), hwdst=hwdst, pdst=lab.ip(to))
    if et == "mpls":
        return frame / MPLS(label=16, s=1, ttl=64)
    if et in ETHERTYPES:
        last_type(frame, ETHERTYPES[et])
        return frame
    # 802.3: scapy would write 0x8870 for LLC after Ether or a tag; the field must hold the length
    # of what follows it (the LLC header, signature and pattern): set below, once the size is known.
    return frame / (LLC(dsap=0xF0, ssap=0xF0, ctrl=3) if et == "llc" else LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x88B6))


def last_type(frame, value):
    """Sets the type/length field of the innermost Ether or VLAN tag."""
    layer, last = frame, frame
    while layer and isinstance(layer, (Ether, Dot1Q, Dot1AD)):
        last, layer = layer, layer.payload
    last.type = value


def ip_headers(v, lab, frm, to, index, group):
    """The IP header (with options or IPv6 extension headers) and the transport of a case."""
    dest, extras, l4 = v["destination"], v["ipExtras"], v.get("l4", "-")
    ttl, tos = int(v["ttl"]), TOS[v["tos"]]
    sport, dport = 30000 + index % 10000, 40000 + index % 10000
    v4 = v["ethertype"] == "ipv4"
    transport = {
        "udp": lambda: UDP(sport=sport, dport=dport),
        "udp-no-checksum": lambda: UDP(sport=sport, dport=dport, chksum=0),
        "tcp-syn": lambda: TCP(sport=sport, dport=dport, flags="S"),
        "tcp-rst-ack": lambda: TCP(sport=sport, dport=dport, flags="RA"),
        "tcp-fin-psh-urg": lambda: TCP(sport=sport, dport=dport, flags="FPU", urgptr=1),
        "icmp-echo": lambda: ICMP(type=8, id=index & 0xFFFF, seq=1) if v4 else ICMPv6EchoRequest(id=index & 0xFFFF, seq=1),
        "icmp-error": lambda: ICMP(type=3, code=3) if v4 else ICMPv6DestUnreach(code=4),
    }.get(l4)
    if v4:
        dst = lab.broadcast(frm) if dest == "broadcast" else IPV4_GROUP if group else lab.ip(to)
        later = extras == "later-fragment"
        ip = IP(
            src=lab.ip(frm),
            dst=dst,
            ttl=ttl,
            tos=tos,
            id=(index * 16 + 1) & 0xFFFF,
            flags=("DF" if extras == "df" else "MF" if extras == "first-fragment" else 0),
            frag=185 if later else 0,  # offset 1480
            options=[IPOption_Router_Alert()] if extras == "router-alert" else [],
        )
        if later:
            ip.proto = 17  # a later fragment of a UDP datagram: no UDP header of its own
            return ip
        if transport is None:
            ip.proto = EXPERIMENTAL_PROTOCOL
            return ip
        return ip / transport()
    dst = "ff02::1" if dest == "broadcast" else IPV6_GROUP if group else lab.ip6[to]
    ip = IPv6(src=lab.ip6[frm], dst=dst, hlim=ttl, tc=tos)
    ext = {
        "hop-by-hop": lambda: [IPv6ExtHdrHopByHop()],
        "dest-opts-routing": lambda: [IPv6ExtHdrDestOpt(), IPv6ExtHdrRouting(type=253, segleft=0)],
        "fragment-header": lambda: [IPv6ExtHdrFragment(m=1, id=index + 1)],
    }.get(extras, lambda: [])()
    if transport is None:  # nothing follows: the last header announces the experimental protocol
        (ext[-1] if ext else ip).nh = EXPERIMENTAL_PROTOCOL
    for header in ext:
        ip = ip / header
    return ip / transport() if transport else ip


class CaseFlow(Flow):
    """One case of the plan: CASE_FRAMES frames at CASE_RATE, from its sending host."""

    def __init__(self, case, lab, start):
        headers = case_headers(case, lab)
        super().__init__(case["index"], case["name"], case["from"], case["to"], headers, CASE_FRAMES, CASE_RATE, case["size"], lab.run_id, start=start)
        self.case = case
        if self.sig_off + SIG_LEN > case["size"]:
            raise SystemExit(f"case {case['index']}: its headers take {self.sig_off} bytes, too many for its {case['size']}-byte frame")
        if case["values"]["ethertype"] in ("llc", "snap"):
            tags = len(TAGS[case["values"].get("vlan", "untagged")])
            last_type(headers, case["size"] - 14 - 4 * tags)

    def frame(self, seq):
        pkt = super().frame(seq)
        if self.case["values"].get("ipExtras") == "bad-checksum":
            # The right checksum with its low byte inverted: bad, and the same for every frame.
            pkt[IP].chksum = Ether(bytes(pkt))[IP].chksum ^ 0x00FF
        return pkt


def contract_flows(lab):
    """The functional window: every case of the plan (the cases of a side spread evenly over one frame
    interval, as wirelab does), then the distinct-MACs unicast both ways."""
    if lab.plan is None or not lab.unknown_mac:
        raise SystemExit("the functional check needs --plan FILE and --unknown-mac MAC")
    cases = lab.plan["cases"]
    flows = []
    for side in ("left", "right"):
        mine = [c for c in cases if c["from"] == side]
        flows += [CaseFlow(c, lab, k / len(mine) / CASE_RATE) for k, c in enumerate(mine)]
    flows.sort(key=lambda f: f.flow_id)
    name, template, count, rate, size = DISTINCT_MACS
    for frm, to in (("left", "right"), ("right", "left")):
        flow_id = max(f.flow_id for f in flows) + 1
        flows.append(Flow(flow_id, f"{name} {frm}->{to}", frm, to, template(lab, frm, to), count, rate, size, lab.run_id))
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
    if args.check == "functional":
        return send_scheduled(mine, args.side, args.iface)
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


def send_scheduled(flows, side, iface):
    """Every frame at its own time (flow start + seq / rate), on one L2 socket: sendp's `inter` can
    only space frames evenly, and hundreds of flows of different rates interleave unevenly."""
    from scapy.config import conf

    built = time.monotonic()
    schedule = sorted((f.start + seq / f.rate, f.flow_id, seq) for f in flows for seq in range(f.count))
    by_id = {f.flow_id: f for f in flows}
    # Built to bytes up front, so that the send loop only sends.
    frames = [(t, Raw(bytes(by_id[i].frame(seq)))) for t, i, seq in schedule]
    built = time.monotonic() - built
    sock = conf.L2socket(iface=iface)
    late = 0
    try:
        t0 = time.monotonic()
        for t, frame in frames:
            delay = t0 + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.01:
                late += 1
            sock.send(frame)
        seconds = time.monotonic() - t0
    finally:
        sock.close()
    print(
        f"{side}: built {len(frames)} frames of {len(flows)} flows in {built:.2f} s, sent them in {seconds:.2f} s "
        f"(scheduled {frames[-1][0]:.2f} s; {late} more than 10 ms late)"
    )
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
        self.sent_bytes = {}  # seq -> the frame as its sending host's capture saw it leave
        self.received = {}  # seq -> the first copy at the receiving host, compared at the end
        self.answers = []  # ICMP errors about this flow's frames from a station that is not a traffic host

    def record(self, point, seq, ts, data, compare):
        seen = self.seen[point]
        if point == self.flow.ingress and not seen[seq]:
            self.t_in[seq] = ts
        if point == self.flow.egress and not seen[seq]:
            self.t_out[seq] = ts
        if point == self.flow.sender and not seen[seq]:
            self.t_sent[seq] = ts
            self.sent_bytes[seq] = data
        if point == self.flow.receiver:
            if seen[seq]:
                self.dups += 1
            else:
                # RFC 4737: a frame is reordered when one sent later arrived before it.
                if seq < self.highest:
                    self.reordered += 1
                self.highest = max(self.highest, seq)
                if compare:
                    self.received[seq] = data
        seen[seq] = min(255, seen[seq] + 1)

    def compare_all(self):
        """Each frame received against the same frame as it left its sender (rebuilt if that capture missed it)."""
        for seq, received in sorted(self.received.items()):
            sent = self.sent_bytes.get(seq) or bytes(self.flow.frame(seq))
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
    started = time.monotonic()
    lab = Lab(args)
    flows = flows_of(args.check, lab)
    expects = PLANS[args.check][1]
    compare = "unchanged" in expects or args.check == "functional"
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
                if tally and isinstance(tally.flow, CaseFlow):
                    role = case_frame_role(tally.flow, off, data, host_macs)
                    if role != "frame":
                        if role and point == tally.flow.sender:
                            tally.answers.append(role)
                        continue
                # A signature quoted inside another frame (an ICMP error) does not make a test frame.
                elif tally and off != tally.flow.sig_off and off != l4_payload_offset(data):
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
    for t in tallies.values():
        t.compare_all()
    if args.check == "functional":
        print(f"  analyzed the four captures in {time.monotonic() - started:.2f} s", file=sys.stderr)
        return judge_functional(lab, tallies, drops)
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


ICMP_ERROR_TYPES = {4: {3, 4, 5, 11, 12}, 6: {1, 2, 3, 4}}
ECHO_REPLY_TYPES = {0, 129}


def case_frame_role(flow, off, data, host_macs):
    """What a frame carrying a case's signature is: the case's own frame ("frame", changed or not), an
    ICMP error about it from a station that is not a traffic host (its description), or the hosts'
    own answer to it (None): an echo reply, or an ICMP error from a host's stack."""
    if off == flow.sig_off:
        # An echo reply quotes the request's payload at the same place: told by its ICMP type.
        if flow.case["values"].get("l4") == "icmp-echo" and data[off - 8] in ECHO_REPLY_TYPES:
            return None
        return "frame"
    pkt = Ether(data)
    icmp = pkt.getlayer(ICMP)
    version, kind = (4, icmp) if icmp is not None else (6, next((l for l in pkt.iterpayloads() if type(l).__name__.startswith("ICMPv6")), None))
    if kind is None or pkt.src.lower() == flow.headers.src.lower():
        return "frame"  # the case's frame with a header added or removed before the signature
    if kind.type in ECHO_REPLY_TYPES or pkt.src.lower() in host_macs:
        return None
    if kind.type in ICMP_ERROR_TYPES[version]:
        return f"ICMP{'v6' if version == 6 else ''} type {kind.type} code {kind.code} from {pkt.src}"
    return "frame"


def judge_case(t, behaviour):
    """(verdict, what happened) of one case against its row's promise, as wirelab's judge orders them."""
    f = t.flow
    reached, crossed, arrived = t.count(f.ingress), t.count(f.egress), t.count(f.receiver)
    if behaviour == "either":
        return "either", f"{arrived} of {f.count} delivered"
    if reached == 0:
        return "fail", f"never reach the guest: none of {f.count} frames reached the guest's {f.frm} port (the lab stopped them)"
    if behaviour == "dropped":
        if arrived:
            return "fail", f"are forwarded: {arrived} of {f.count} frames crossed the guest, which must not forward them"
        if t.answers:
            return "fail", f"are answered with {t.answers[0]}; they must be discarded silently"
        return "pass", f"none of {f.count} forwarded ({reached} reached the guest)"
    if arrived == 0:
        if crossed == 0:
            return "fail", f"never cross: none of {f.count} frames left the guest's {f.to} port ({reached} entered its {f.frm} port)"
        return "fail", f"never reach the receiving host: {crossed} left the guest, none reached the {f.to} host"
    if t.unchanged < arrived:
        return "fail", f"arrive changed: {arrived - t.unchanged} of {arrived} ({t.first_change})"
    if arrived < f.count:
        return "fail", f"lose frames: {f.count - arrived} of {f.count} lost ({t.path()})"
    if t.dups:
        return "fail", f"arrive more than once: {t.dups} extra copies"
    if t.reflected():
        return "fail", f"come back towards their sender: {t.reflected()} frame(s) seen again on the sender's side"
    if t.reordered:
        return "fail", f"arrive out of order: {t.reordered} after a later one"
    if t.answers:
        return "fail", f"are delivered but also answered with {t.answers[0]}"
    return "pass", f"all {f.count} delivered once, in order, byte-exact"


def describe_values(case):
    return " ".join(f"{d}={v}" for d, v in case["values"].items() if d != "direction")


def judge_functional(lab, tallies, drops):
    """One verdict per check of the functional window: a row of the contract each (its cases judged by
    the row's promise), the distinct-MACs unicast, and the frame space (every value of every dimension sent)."""
    plan = lab.plan
    rows = {r["id"]: r for r in plan["rows"]}
    by_case = {t.flow.case["index"]: t for t in tallies.values() if isinstance(t.flow, CaseFlow)}
    lossy = [f"{p} {n}" for p, n in drops.items() if n]
    note = f" [captures dropped frames: {', '.join(lossy)}]" if lossy else ""
    verdicts = []
    for row_id, row in rows.items():
        kind = row["behaviour"]["kind"]
        behaviour = "either" if kind in ("either", "mirrored") else "dropped" if kind == "dropped" else "delivered"
        cases = [c for c in plan["cases"] if c["row"] == row_id]
        judged = [(c, *judge_case(by_case[c["index"]], behaviour)) for c in cases]
        failed = [(c, what) for c, verdict, what in judged if verdict == "fail"]
        for c, what in failed[:20]:
            print(f"  {row_id}: FAILED case {c['index']} {c['from']}->{c['to']} ({describe_values(c)}): {what}", file=sys.stderr)
        if behaviour == "either":
            delivered = sum(1 for _, _, what in judged if not what.startswith("0 of"))
            print(f"  {row_id}: {len(cases)} cases, {delivered} delivered, {len(cases) - delivered} not (reported, not judged)", file=sys.stderr)
            continue
        print(f"  {row_id}: {len(cases)} cases, {len(cases) - len(failed)} as promised ({row['promise']})", file=sys.stderr)
        if not failed:
            verdicts.append((row_id, True, f"{len(cases)} cases {row['promise']}"))
            continue
        named = "; ".join(f"case {c['index']} {c['from']}->{c['to']} ({describe_values(c)}) {what}" for c, what in failed[:2])
        verdicts.append((row_id, False, f"{len(failed)} of {len(cases)} cases failed: {named}{note}"))

    distinct = [t for t in tallies.values() if not isinstance(t.flow, CaseFlow)]
    problems = [p for t in distinct for p in judge(t, EXACT)]
    for t in distinct:
        report_flow(t, EXACT)
    verdicts.append(("distinct-macs", not problems, "; ".join(problems[:3]) + note if problems else "unicast both ways, byte-exact"))

    sent = [c for c in plan["cases"] if by_case[c["index"]].count(by_case[c["index"]].flow.sender) > 0]
    tried = {(d, v) for c in sent for d, v in c["values"].items()}
    untried = [f"{d['id']}={v['id']}" for d in plan["dimensions"] for v in d["values"] if (d["id"], v["id"]) not in tried]
    values = sum(len(d["values"]) for d in plan["dimensions"])
    verdicts.append(
        (
            "frame-space",
            not untried,
            f"all {values} values of {len(plan['dimensions'])} dimensions sent in {len(sent)} cases"
            if not untried
            else f"{len(untried)} values of the frame space were never sent: {', '.join(untried[:4])}{note}",
        )
    )
    for name, ok, text in verdicts:
        print(f"{name}\t{'ok' if ok else 'FAIL'}\t{text}")
    return 0 if all(ok for _, ok, _ in verdicts) else 1


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


def cmd_frames(args):
    """Every frame of every case, as hex: what `send` would send (the bench checks them against wirelab's)."""
    for f in flows_of(args.check, Lab(args)):
        if isinstance(f, CaseFlow):
            for seq in range(f.count):
                print(f"{f.flow_id} {seq} {bytes(f.frame(seq)).hex()}")
    return 0


def main():
    parser = argparse.ArgumentParser(description="Send and judge the test frames of the L2 qualification checks.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("send", "analyze", "frames"):
        p = sub.add_parser(name)
        p.add_argument("check", choices=sorted(PLANS))
        if name == "send":
            p.add_argument("side", choices=("left", "right"))
        elif name == "analyze":
            p.add_argument("dir", help="directory with <point>.pcap and <point>.log of the four capture points")
        p.add_argument("--run-id", type=int, required=True)
        for side in ("left", "right"):
            p.add_argument(f"--{side}-mac", required=True)
            p.add_argument(f"--{side}-ip", required=True, help="CIDR, e.g. 198.18.0.1/24")
        p.add_argument("--iface", default="eth1")
        p.add_argument("--plan", help="the test plan (wirelab plan --json): the functional check's cases")
        p.add_argument("--unknown-mac", help="a unicast MAC no station of the lab has (the unknown-unicast cases)")
    args = parser.parse_args()
    return {"send": cmd_send, "analyze": cmd_analyze, "frames": cmd_frames}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
