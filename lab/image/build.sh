#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds the lab's VM image from Debian packages alone, cached outside the
# source tree and rebuilt only when its recipe (the files of lab/image/) or the
# kernel ABI changes.
#
#   lab/image/build.sh             build the image if needed, print its folder
#   lab/image/build.sh --dir       print the folder the current recipe maps to
#
# The folder holds: base.raw (ext4 root), vmlinuz, initrd.img, abi,
# id_ed25519[.pub] (root's ssh key in the image) and build.log.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
LAB_CACHE=${LAB_CACHE:-/var/cache/storha-lab}
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
SECURITY=http://deb.debian.org/debian-security
IMAGE_SIZE=2G

log() { echo "lab-image: $*" >&2; }

# The kernel ABI the image gets: the one Debian's linux-image-amd64 points at now.
# The dm-writeboost module is built on the host for exactly this ABI.
kernel_abi() {
	local abi
	abi=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n1)
	if [ -z "$abi" ]; then
		log "cannot tell the kernel ABI: run 'apt-get update' first"
		exit 1
	fi
	echo "$abi"
}

# The cache key: a hash over every file of the recipe plus the kernel ABI.
recipe_key() {
	(
		cd "$HERE"
		find . -type f ! -name '*.swp' -print0 | LC_ALL=C sort -z |
			xargs -0 sha256sum
		echo "abi $1"
	) | sha256sum | cut -c1-16
}

ABI=$(kernel_abi)
KEY=$(recipe_key "$ABI")
OUT=$LAB_CACHE/image-$KEY

if [ "${1:-}" = "--dir" ]; then
	echo "$OUT"
	exit 0
fi

if [ -f "$OUT/done" ]; then
	log "cached: $OUT"
	echo "$OUT"
	exit 0
fi

[ "$(id -u)" = 0 ] || { log "must run as root (mmdebstrap in root mode)"; exit 1; }
for tool in mmdebstrap mkfs.ext4 dpkg-deb make gcc ssh-keygen; do
	command -v "$tool" >/dev/null || { log "missing $tool: run 'make lab-deps'"; exit 1; }
done
if [ ! -d "/usr/src/linux-headers-$ABI" ]; then
	log "missing /usr/src/linux-headers-$ABI: run 'make lab-deps'"
	exit 1
fi

start=$(date +%s)
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
WORK=$OUT.tmp
trap 'rm -rf "$WORK/rootfs" "$WORK/wb"' EXIT

# 1. dm-writeboost, built on the host for the image's kernel from the source
#    in Debian's dm-writeboost-dkms package (no gcc nor dkms in the image).
log "building dm-writeboost for $ABI"
mkdir -p "$WORK/wb"
# (as root: apt's _apt sandbox user cannot write into the cache folder)
(cd "$WORK/wb" && apt-get download -q -o APT::Sandbox::User=root dm-writeboost-dkms >/dev/null)
dpkg-deb -x "$WORK"/wb/dm-writeboost-dkms_*.deb "$WORK/wb/x"
WBSRC=$(dirname "$(find "$WORK/wb/x/usr/src" -name Makefile | head -n1)")
make -s -C "/usr/src/linux-headers-$ABI" M="$WBSRC" modules >"$WORK/wb/make.log" 2>&1 ||
	{ cat "$WORK/wb/make.log" >&2; exit 1; }
WBVER=$(dpkg-deb -f "$WORK"/wb/dm-writeboost-dkms_*.deb Version)

# A small local package carrying the module; it provides dm-writeboost-dkms so
# that Debian's writeboost tools install without dkms.
PKG=$WORK/wb/pkg
mkdir -p "$PKG/DEBIAN" "$PKG/lib/modules/$ABI/updates"
cp "$WBSRC/dm-writeboost.ko" "$PKG/lib/modules/$ABI/updates/"
cat >"$PKG/DEBIAN/control" <<CTRL
Package: storha-lab-dm-writeboost
Version: $WBVER
Architecture: amd64
Maintainer: storha lab <root@localhost>
Provides: dm-writeboost-dkms
Depends: linux-image-$ABI
Description: dm-writeboost module for linux $ABI (storha lab)
CTRL
printf '#!/bin/sh\nset -e\ndepmod -a %s\n' "$ABI" >"$PKG/DEBIAN/postinst"
chmod 0755 "$PKG/DEBIAN/postinst"
dpkg-deb -Zxz --build "$PKG" "$WORK/storha-lab-dm-writeboost.deb" >/dev/null

# 2. The ssh key the lab logs in with.
ssh-keygen -q -t ed25519 -N '' -C storha-lab -f "$WORK/id_ed25519"

# 3. The root file system.
# (writeboost is installed by a hook, after the module package it needs.)
mapfile -t PKGS < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$HERE/packages")
PKGS+=("linux-image-$ABI")

# Leave out what VMs never need: docs, man pages, locales, and kernel module
# trees for hardware a VM does not have.
DPKG_OPTS=()
for p in /usr/share/man/ /usr/share/doc/ /usr/share/info/ /usr/share/locale/ \
	/usr/share/lintian/ /usr/share/i18n/ \
	"/lib/modules/*/kernel/drivers/gpu/" "/lib/modules/*/kernel/drivers/media/" \
	"/lib/modules/*/kernel/drivers/net/wireless/" "/lib/modules/*/kernel/sound/" \
	"/lib/modules/*/kernel/drivers/infiniband/" "/lib/modules/*/kernel/drivers/staging/" \
	"/lib/modules/*/kernel/drivers/bluetooth/" "/lib/modules/*/kernel/net/wireless/" \
	"/lib/modules/*/kernel/net/mac80211/" "/lib/modules/*/kernel/drivers/iio/" \
	"/lib/modules/*/kernel/drivers/usb/" "/lib/modules/*/kernel/drivers/isdn/" \
	"/lib/modules/*/kernel/drivers/net/ethernet/" "/lib/modules/*/kernel/drivers/thunderbolt/"; do
	DPKG_OPTS+=("--dpkgopt=path-exclude=${p}*")
done
# (virtio-net lives in drivers/net/, outside the excluded ethernet tree.)

log "mmdebstrap $SUITE (${#PKGS[@]} packages)"
mmdebstrap --mode=root --variant=minbase \
	--aptopt='Apt::Install-Recommends "false"' \
	"${DPKG_OPTS[@]}" \
	--include="$(IFS=,; echo "${PKGS[*]}")" \
	--customize-hook="copy-in $WORK/storha-lab-dm-writeboost.deb /tmp" \
	--customize-hook='chroot "$1" dpkg -i /tmp/storha-lab-dm-writeboost.deb' \
	--customize-hook='rm "$1"/tmp/storha-lab-dm-writeboost.deb' \
	--customize-hook='chroot "$1" apt-get install -y -q writeboost' \
	--customize-hook="sync-in $HERE/rootfs /" \
	--customize-hook='mkdir -p "$1/root/.ssh"' \
	--customize-hook="upload $WORK/id_ed25519.pub /root/.ssh/authorized_keys" \
	--customize-hook="chroot \"\$1\" /usr/local/sbin/storha-lab-setup '$ABI'" \
	"$SUITE" "$WORK/rootfs" \
	"deb $MIRROR $SUITE main" \
	"deb $MIRROR $SUITE-updates main" \
	"deb $SECURITY $SUITE-security main" >"$WORK/build.log" 2>&1 ||
	{ tail -n 40 "$WORK/build.log" >&2; log "mmdebstrap failed, log: $WORK/build.log"; exit 1; }

cp "$WORK/rootfs/boot/vmlinuz-$ABI" "$WORK/vmlinuz"
cp "$WORK/rootfs/boot/initrd.img-$ABI" "$WORK/initrd.img"
echo "$ABI" >"$WORK/abi"
log "rootfs: $(du -sh "$WORK/rootfs" | cut -f1)"
mkfs.ext4 -q -L storha-lab -d "$WORK/rootfs" "$WORK/base.raw" "$IMAGE_SIZE"
rm -rf "$WORK/rootfs" "$WORK/wb"
touch "$WORK/done"

rm -rf "$OUT"
mv "$WORK" "$OUT"
trap - EXIT
log "built $OUT in $(( $(date +%s) - start )) s"
echo "$OUT"
