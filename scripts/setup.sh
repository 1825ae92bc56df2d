#!/usr/bin/env bash
# wirelab's set-up on Debian 12 as root, idempotent: installs the Debian and npm packages wirelab
# needs (only what is missing), starts the container engine with wirelab's safe flags, and builds the
# cached images (reference service images, traffic-host container image) unless they are current.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "wirelab setup: must run as root (it installs Debian packages, and labs need bridges, taps and namespaces)." >&2
  exit 2
fi

debian_packages=(
  qemu-system-x86 qemu-utils tcpdump tcpreplay openssh-client busybox-static iproute2 kmod cpio zstd
  linux-image-cloud-amd64 docker.io debootstrap python3-scapy procps ca-certificates
  # The bench-host driver and offline image hygiene: libvirt (without its default NAT network) and guestfish.
  libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu libguestfs-tools e2fsprogs
  # The Debian disk images (lib/images/disk-image.ts): a FAT boot partition with syslinux, an MBR, no mounts.
  syslinux mtools dosfstools fdisk
  # The policy reference images (images/guest/firewall.sh): the real nft, copied into the initramfs as tc and ip are.
  nftables
  # Headless Chromium opens a rendered Allure report in wirelab's own tests (test/lab/terminal.test.ts); ~11 s to install.
  chromium
)
# `setup.sh --bench` (npm run bench): also what the benchmarks compare wirelab against, so every
# row of the table is measured in the same run.
if [ "${1:-}" = "--bench" ]; then debian_packages+=(tshark); fi
missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "wirelab setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Packages must not start their daemons (dockerd, libvirtd): wirelab starts what it needs, with its own
  # flags. Machines built from container images already refuse service starts; elsewhere, do so for now.
  temporary_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    temporary_policy=/usr/sbin/policy-rc.d
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$temporary_policy" ] || rm -f "$temporary_policy"
fi

# npm packages: install when node_modules is missing or older than the lock file. A node_modules that
# is a symbolic link (a git worktree sharing another checkout's) belongs to that checkout: npm ci here
# would empty it under the other checkout's feet.
if [ -L node_modules ]; then
  echo "wirelab setup: node_modules is a link to $(readlink node_modules); leaving the npm packages to that checkout"
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "wirelab setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

node bin/wirelab.mjs prepare
