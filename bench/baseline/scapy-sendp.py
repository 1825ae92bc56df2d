# Baseline for bench/injection.ts: sending test frames the way a user's notebook does it with scapy:
# build the frames as scapy packets, then one sendp() call on the data NIC. Runs inside the traffic
# host (the scapy variant of its image), fed on stdin:
#
#   python3 - COUNT IFACE SRC_MAC DST_MAC SRC_IP DST_IP RUN_ID < scapy-sendp.py
#
# Each frame is Ether/IPv4/UDP with wirelab's 18-byte signature as payload: 60 bytes (64 on the wire),
# the same as wirelab's frames. Prints what it measured as one JSON line; times exclude the import.
import json
import struct
import sys
import time

t_import = time.perf_counter()
from scapy.all import IP, UDP, Ether, Raw, sendp  # noqa: E402

import_s = time.perf_counter() - t_import

count = int(sys.argv[1])
iface, src_mac, dst_mac, src_ip, dst_ip = sys.argv[2:7]
run_id = int(sys.argv[7])

t0 = time.perf_counter()
frames = [
    Ether(src=src_mac, dst=dst_mac)
    / IP(src=src_ip, dst=dst_ip)
    / UDP(sport=10000, dport=20000)
    / Raw(struct.pack("!4sIHII", b"WLB1", run_id, 1, seq, 0))
    for seq in range(count)
]
t1 = time.perf_counter()
sendp(frames, iface=iface, verbose=False)
t2 = time.perf_counter()

print(json.dumps({"frames": count, "frameBytes": len(bytes(frames[0])), "importS": import_s, "buildS": t1 - t0, "sendS": t2 - t1}))
