systemctl enable nftables.service haproxy.service gateway-ready.service
