#!/usr/bin/env bash
# Installs the Debian packages storha's build, tests and demo need on the host.
# Idempotent: does nothing when everything is present.
set -euo pipefail
PKGS=(
  build-essential pkg-config
  iproute2 iputils-arping iputils-ping procps psmisc
  libxml2-utils            # xmllint, used by ocf-tester and the meta-data tests
  resource-agents          # ocf-tester, IPaddr2 (the reference agent) and its DTD
  pacemaker pacemaker-cli-utils corosync crmsh
  hyperfine strace
  fence-agents snmp        # fence_apc_snmp and net-snmp: the independent clients fence_ipstrip is checked against
  python3 python3-pycryptodome openssl   # the power strip emulator (SNMPv3 privacy, HTTPS test certificates)
  python3-pytest           # tests/host: the lab tooling's own tests
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v cargo >/dev/null || { echo "install-deps: cargo (Rust toolchain) not found on PATH" >&2; exit 1; }
