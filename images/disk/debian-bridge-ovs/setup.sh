systemctl enable ovs-bridge.service
