# Runs last inside every image's tree (sh -eu, in a chroot): nothing of the build may stay in the image.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
# Empty, not absent: systemd generates a machine id at first boot (each VM gets its own).
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
ln -s /etc/machine-id /var/lib/dbus/machine-id
rm -f /etc/ssh/ssh_host_*
# A leftover rules file pins NIC names to build-time MACs; with new MACs the NICs become eth2/eth3.
rm -f /etc/udev/rules.d/70-persistent-net.rules
rm -rf /tmp/* /var/tmp/* /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/cache/ldconfig/aux-cache
find /var/log -type f -delete
