# The fault: hairpin mode on both ports, so a flooded frame also goes back out of the port it came in on.
sed -i 's/^brctl addif br0 eth1$/&\nbrctl hairpin br0 eth0 on\nbrctl hairpin br0 eth1 on/' /etc/rc.local
grep -qx 'brctl hairpin br0 eth1 on' /etc/rc.local
