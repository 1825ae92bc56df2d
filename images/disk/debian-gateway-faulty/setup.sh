# One mistake per class of lab-profiles/nested-policy-debian-gateway.yaml, each a one-line edit of the good
# gateway's configuration (checked to have taken):
# SNMP dropped from the left only,
sed -i 's/^    udp dport 161 drop$/    iifname "eth0" udp dport 161 drop/' /etc/nftables.conf
grep -qx '    iifname "eth0" udp dport 161 drop' /etc/nftables.conf
# the replies of UDP exchanges dropped before connection tracking lets them back,
sed -i 's/^    ct state established,related accept$/    iifname "eth1" udp sport 5353 drop\n&/' /etc/nftables.conf
grep -qx '    iifname "eth1" udp sport 5353 drop' /etc/nftables.conf
# the SQL-injection filter looking at the headers only (a pattern in the body gets through),
sed -i '/^    acl sqli req.body /d' /etc/haproxy/haproxy.cfg
if grep -q 'req.body' /etc/haproxy/haproxy.cfg; then exit 1; fi
# and API requests tagged https instead of http.
sed -i 's/set-header X-Forwarded-Proto http /set-header X-Forwarded-Proto https /' /etc/haproxy/haproxy.cfg
grep -q 'set-header X-Forwarded-Proto https ' /etc/haproxy/haproxy.cfg
