# The fault: 3 ms of delay on eth1's egress only, i.e. on left-to-right frames: the directions differ.
sed -i 's/^ip link set br0 up$/&\ntc qdisc add dev eth1 root netem delay 3ms/' /etc/rc.local
grep -qx 'tc qdisc add dev eth1 root netem delay 3ms' /etc/rc.local
