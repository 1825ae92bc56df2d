#!/usr/bin/python3
"""Builds frames with Debian's python3-scapy for wirelab's comparison tests.

stdin: a JSON list of scapy expressions (our own test descriptions, e.g. "Ether(src=...)/IP(...)").
stdout: a JSON list with the hex of bytes(expression) for each, in order.
Only the layers the tests use are imported: importing scapy.all costs about a second more.
"""
import json
import logging
import sys

logging.getLogger("scapy").setLevel(logging.ERROR)

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption  # noqa: E402
from scapy.layers.inet6 import (  # noqa: E402
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import ARP, LLC, SNAP, Dot1AD, Dot1Q, Dot3, Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

NAMES = {
    name: value
    for name, value in globals().items()
    if name[0].isupper()
}
NAMES["bytes"] = bytes  # for explicit padding: bytes(...).ljust(60, b"\x00")

print(json.dumps([bytes(eval(expr, {"__builtins__": {}}, NAMES)).hex() for expr in json.load(sys.stdin)]))
