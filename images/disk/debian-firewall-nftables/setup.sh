# Debian's own unit loads /etc/nftables.conf at boot, before the network comes up.
systemctl enable nftables.service
