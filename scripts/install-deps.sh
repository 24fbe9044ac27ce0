#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs the Debian packages storha's build, tests and demo need on the host,
# then checks that every command and file they use is really there: a package
# recorded as installed whose program is gone (removed by a conflicting
# install, say) is installed again. Fails, naming what is missing, otherwise.
# Idempotent: does nothing when everything is present.
set -euo pipefail

# What the host tests run, each with the package that brings it.
NEEDS=(
  "cc build-essential" "pkg-config pkg-config"
  "ip iproute2" "arping iputils-arping" "ping iputils-ping" "ps procps" "killall psmisc"
  "xmllint libxml2-utils"                  # ocf-tester and the meta-data tests
  "ocf-tester resource-agents"             # and IPaddr2, the reference agent, and its DTD
  "/usr/lib/ocf/resource.d/heartbeat/IPaddr2 resource-agents"
  "/usr/share/resource-agents/ra-api-1.dtd resource-agents"
  "pacemakerd pacemaker" "crm_mon pacemaker-cli-utils" "crm_verify pacemaker-cli-utils"
  "stonith_admin pacemaker-cli-utils" "corosync corosync" "crm crmsh"
  "hyperfine hyperfine" "strace strace" "groff groff-base"   # groff: the manual pages' test
  "fence_apc_snmp fence-agents" "snmpget snmp"  # independent clients fence_ipstrip is checked against
  "openssl openssl"                        # HTTPS test certificates of the strip emulator
  "dpkg-deb dpkg" "gzip gzip" "md5sum coreutils"  # make deb
  "/usr/bin/python3 python3"
  "py:Cryptodome python3-pycryptodome"     # the strip emulator's SNMPv3 privacy
  "py:pytest python3-pytest"               # tests/host: the lab tooling's own tests
)

present() {
  case "$1" in
    /*) [ -e "$1" ] ;;
    py:*) [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import ${1#py:}" 2>/dev/null ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing() {
  local n tool pkg
  for n in "${NEEDS[@]}"; do
    read -r tool pkg <<<"$n"
    present "$tool" || echo "$tool $pkg"
  done
}

todo=$(missing)
if [ -n "$todo" ]; then
  pkgs=$(awk '{print $2}' <<<"$todo" | sort -u | tr '\n' ' ')
  echo "install-deps: missing $(awk '{print $1}' <<<"$todo" | tr '\n' ' ')-> installing $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --reinstall also brings back files of a package dpkg still lists.
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends --reinstall $pkgs
  todo=$(missing)
  if [ -n "$todo" ]; then
    echo "install-deps: still missing after installing: $(awk '{print $1 " (" $2 ")"}' <<<"$todo" | tr '\n' ' ')" >&2
    exit 1
  fi
fi
command -v cargo >/dev/null || { echo "install-deps: cargo (Rust toolchain) not found on PATH" >&2; exit 1; }
echo "install-deps: every tool present"
