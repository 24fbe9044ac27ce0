#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the Debian package of storha from the built binary with dpkg-deb:
# a staging tree laid out as the package installs it, DEBIAN/ control files,
# then `dpkg-deb --root-owner-group --build`. Called by `make deb`, which
# passes the agents' names (the Makefile's OCF_AGENTS and FENCE_AGENTS), so
# an agent added there is packaged without an edit here.
#
#   BIN=target/.../storha OCF_AGENTS="a b" FENCE_AGENTS="fence_x" \
#   DEB_VERSION=0.1.0-1 scripts/build-deb.sh OUTDIR
#
# Prints the path of the .deb on its last line.
set -euo pipefail

out=${1:?usage: build-deb.sh OUTDIR}
: "${BIN:?BIN: the storha binary to package}"
: "${OCF_AGENTS:?OCF_AGENTS: the OCF agents' names}"
: "${FENCE_AGENTS:?FENCE_AGENTS: the fence agents' names}"
: "${DEB_VERSION:?DEB_VERSION: the package version, e.g. 0.1.0-1}"
MAINTAINER=${DEB_MAINTAINER:-storha developers <storha@localhost>}
top=$(cd "$(dirname "$0")/.." && pwd)
arch=$(dpkg --print-architecture)

root=$out/root
rm -rf "$root"
rm -f "$out"/storha_*.deb
mkdir -p "$root/DEBIAN"

# The binary and the names Pacemaker calls it by (relative links, as Debian
# policy asks within /usr).
install -D -m 0755 "$BIN" "$root/usr/bin/storha"
install -d -m 0755 "$root/usr/lib/ocf/resource.d/storha" "$root/usr/sbin"
for a in $OCF_AGENTS; do
  ln -s ../../../../bin/storha "$root/usr/lib/ocf/resource.d/storha/$a"
done
for a in $FENCE_AGENTS; do
  ln -s ../bin/storha "$root/usr/sbin/$a"
done

# Manual pages, from the binary itself.
for a in storha $FENCE_AGENTS; do
  install -d -m 0755 "$root/usr/share/man/man8"
  "$BIN" man "$a" | gzip -9n >"$root/usr/share/man/man8/$a.8.gz"
done
for a in $OCF_AGENTS; do
  install -d -m 0755 "$root/usr/share/man/man7"
  "$BIN" man "ocf_storha_$a" | gzip -9n >"$root/usr/share/man/man7/ocf_storha_$a.7.gz"
done

# Shell completions.
install -d -m 0755 "$root/usr/share/bash-completion/completions" \
  "$root/usr/share/zsh/vendor-completions"
"$BIN" completions bash >"$root/usr/share/bash-completion/completions/storha"
"$BIN" completions zsh >"$root/usr/share/zsh/vendor-completions/_storha"

# Documentation: README, example configurations, copyright, changelog.
doc=$root/usr/share/doc/storha
install -d -m 0755 "$doc/crm-examples"
# Every example, crmsh and pcs forms and DRBD's resource files (crm-examples/drbd/).
(cd "$top/crm-examples" && find . -type f | sort) | while read -r f; do
	case $f in *.sh) mode=0755 ;; *) mode=0644 ;; esac
	install -D -m "$mode" "$top/crm-examples/$f" "$doc/crm-examples/$f"
done
gzip -9nc "$top/README.md" >"$doc/README.md.gz"
crates=$(cd "$top" && cargo tree --locked --offline -e normal --prefix none \
  --format '{p}: {l}' 2>/dev/null | grep -v -e '(\*)' -e '^storha ' | sort -u |
  sed 's/^/  /') || crates="  (see Cargo.lock in the source)"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: storha
Source: https://github.com/storha

Files: *
Copyright: the storha developers
License: GPL-2.0-or-later
Comment: /usr/bin/storha is linked statically with the GNU C Library
 (LGPL-2.1-or-later) and with these Rust crates, under their own licences:
$(sed 's/^  / /; s/^ $/ ./' <<<"$crates")

License: GPL-2.0-or-later
 This program is free software; you can redistribute it and/or modify it
 under the terms of the GNU General Public License as published by the Free
 Software Foundation; either version 2 of the License, or (at your option)
 any later version.
 .
 This program is distributed in the hope that it will be useful, but WITHOUT
 ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or
 FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public License for
 more details.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in '/usr/share/common-licenses/GPL-2'.
EOF
{
  echo "storha ($DEB_VERSION) unstable; urgency=medium"
  echo
  echo "  * Built from the storha source with make deb."
  echo
  # A fixed date keeps the package reproducible from the same source.
  echo " -- $MAINTAINER  $(date -u -R -d "@${SOURCE_DATE_EPOCH:-0}")"
} | gzip -9n >"$doc/changelog.Debian.gz"

# Maintainer scripts: only prerm. An upgrade runs nothing that touches a
# resource (dpkg swaps the binary by rename; a running agent keeps its old
# image); a removal refuses while storha resources are active here.
install -m 0755 "$top/scripts/deb/prerm" "$root/DEBIAN/prerm"

find "$root" -type d -exec chmod 0755 {} +
find "$root/usr" -type f ! -path "$root/usr/bin/storha" -exec chmod 0644 {} +

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: storha
Version: $DEB_VERSION
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: pacemaker (>= 2.1) | pacemaker-remote (>= 2.1), pacemaker-cli-utils (>= 2.1)
Recommends: dmsetup, drbd-utils, nfs-kernel-server, kmod
Suggests: dm-writeboost-dkms, crmsh | pcs
Section: admin
Priority: optional
Homepage: https://github.com/storha
Description: Pacemaker resource agents for a highly available NFS storage cluster
 One statically linked binary installed under several names: OCF resource
 agents for a floating IP address (drop-in for IPaddr2), a dm-writeboost
 write cache and DRBD (drop-in for ocf:linbit:drbd), under
 /usr/lib/ocf/resource.d/storha/, and fence_ipstrip, a fence agent for IP
 controlled power strips. storha itself runs any agent's action by hand.
 .
 It does not need resource-agents. drbd-utils, nfs-kernel-server and the
 dm-writeboost module are needed only by the agents that manage them.
EOF
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

deb=$out/storha_${DEB_VERSION}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
