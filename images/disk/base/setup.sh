# Runs once inside the base rootfs (sh -eu, in a chroot), after debootstrap and after base/rootfs/ is
# copied in: the initramfs is rebuilt so it loads the virtio modules listed in initramfs-tools/modules.
update-initramfs -u -k all
# The downloaded .debs are not needed again; the package lists are (each image installs its packages).
apt-get clean
