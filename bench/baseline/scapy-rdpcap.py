# Baseline for bench/decode.ts: decoding a capture the scapy way, rdpcap() (reads every record and
# dissects it into layers). Runs with Debian's python3-scapy:
#
#   /usr/bin/python3 scapy-rdpcap.py FILE COUNT
#
# Reads the first COUNT frames of FILE and prints what it measured as one JSON line (the time excludes
# the import). Touches every packet's top layer so nothing is left undissected.
import json
import sys
import time

t_import = time.perf_counter()
from scapy.all import rdpcap  # noqa: E402

import_s = time.perf_counter() - t_import

path, count = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
packets = rdpcap(path, count=count)
udp = sum(1 for p in packets if p.haslayer("UDP"))
t1 = time.perf_counter()

print(json.dumps({"frames": len(packets), "udp": udp, "importS": import_s, "seconds": t1 - t0}))
