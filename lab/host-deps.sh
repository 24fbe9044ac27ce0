#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs the Debian packages the lab needs on the host (Debian 12, as root),
# one consistent qemu whatever the machine started with, then checks that
# every tool the lab runs is really there. Exits non-zero, with the reasons,
# when the lab cannot run. The decision is lab/hostdeps.py's plan(), tested
# in tests/host/test_hostdeps.py against made-up package states.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/python3 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends python3
fi
exec /usr/bin/python3 hostdeps.py "${1:-install}"
