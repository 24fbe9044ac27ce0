#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs the Debian packages the lab needs on the host (Debian 12, as root).
# Idempotent: does nothing when everything is present.
set -euo pipefail
PKGS=(
  qemu-system-x86 qemu-utils   # the VMs (TCG, or KVM where the host has real KVM)
  mmdebstrap e2fsprogs         # the image: a Debian root, then mkfs.ext4 -d
  dpkg-dev make gcc            # dm-writeboost module build, the local module package
  openssh-client iproute2      # ssh into the VMs from inside the lab's namespace
  python3 python3-pytest       # the lab's CLI and test harness
  tar
)
# Headers of the kernel the image gets, for the dm-writeboost module.
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
  apt-get update -qq
fi
ABI=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n1)
PKGS+=("linux-headers-$ABI")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "lab-deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
