# The fault: STP on (brctl's default is off): the bridge sends BPDUs to 01:80:c2:00:00:00 every 2 s.
sed -i 's/^brctl addbr br0$/&\nbrctl stp br0 on/' /etc/rc.local
grep -qx 'brctl stp br0 on' /etc/rc.local
