#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The lab stage of CI (`make lab-test-all`): host packages, the image (cached),
# then two topologies, each booted once with every lab test run against it:
#   1. two nodes + a client VM: DRBD, writeboost and the writeboost-cache
#      agent, NFS, ocf-tester, the cluster, and last a real fencing of node2
#      through fence_ipstrip (then the monitor baselines if LAB_BENCH=1);
#   2. three nodes: the cluster online, a hard power-off seen by the others,
#      and writeboost-cache replaying its cache after one.
# Logs of every VM land in lab/artifacts/ (or $LAB_ARTIFACTS). Every VM the lab
# started is killed by its recorded pid on any exit.
# The stage fails when the lab cannot run, when any lab test fails or is
# skipped, and when none ran. LAB=skip skips it, loudly, except under CI.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
CLI=(/usr/bin/python3 lab/storhalab.py)
export LAB_ARTIFACTS=${LAB_ARTIFACTS:-$PWD/lab/artifacts}
PYTEST=("$PY" -m pytest -p no:cacheprovider -rs -v -o junit_logging=system-out)
rm -rf "$LAB_ARTIFACTS"
mkdir -p "$LAB_ARTIFACTS"
TIMES=$LAB_ARTIFACTS/timings.txt
t_start=$(date +%s)

stamp() { echo "$1: $(( $(date +%s) - $2 )) s" | tee -a "$TIMES"; }

cleanup() {
	"${CLI[@]}" kill 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

banner() {
	echo "################################################################"
	echo "## $*"
	echo "################################################################"
}

# Skipping the lab is asked for by name (LAB=skip), loudly, and never in CI.
if [ "${LAB:-}" = skip ]; then
	if [ -n "${CI:-}" ]; then
		banner "LAB=skip refused: CI runs the lab, always"
		exit 1
	fi
	banner "LAB SKIPPED (LAB=skip): NOT TESTED against the real DRBD, device-mapper, dm-writeboost, nfsd or the lab cluster:"
	for n in 2 3; do
		LAB_NODES=$n "$PY" -m pytest -p no:cacheprovider --collect-only -q tests/lab 2>/dev/null |
			grep '::' | sed 's/^/##   NOT TESTED: /' || true
	done | sort -u
	banner "LAB SKIPPED (LAB=skip): the changes above are untested in the lab"
	exit 0
fi

t=$(date +%s)
if ! lab/host-deps.sh; then
	banner "LAB CANNOT RUN: the host packages or tools it needs are missing (reasons above)"
	exit 1
fi
stamp "host packages" "$t"

if ! "${CLI[@]}" check; then
	banner "LAB CANNOT RUN: qemu VMs cannot run on this machine (reasons above); LAB=skip skips it outside CI"
	exit 1
fi

t=$(date +%s)
"${CLI[@]}" image
stamp "image (build or cache)" "$t"

rc=0
run_topology() {
	local name=$1 nodes=$2 client=$3
	shift 3
	local t
	banner "lab topology '$name': $nodes nodes, client=$client"
	t=$(date +%s)
	if ! "${CLI[@]}" up --nodes "$nodes" --client "$client"; then
		rc=1
		cp -r "${LAB_RUN:-/var/tmp/storha-lab}/failed-up" "$LAB_ARTIFACTS/$name-boot" 2>/dev/null || true
		"${CLI[@]}" down || true
		return
	fi
	stamp "$name: boot to cluster online" "$t"
	t=$(date +%s)
	LAB_NODES=$nodes LAB_CLIENT=$client \
		"${PYTEST[@]}" --junitxml="$LAB_ARTIFACTS/$name-junit.xml" "$@" || rc=1
	stamp "$name: tests" "$t"
	if [ "$name" = two-nodes ] && [ "${LAB_BENCH:-0}" = 1 ]; then
		t=$(date +%s)
		"$PY" lab/bench.py | tee "$LAB_ARTIFACTS/bench.txt" || rc=1
		stamp "$name: baselines" "$t"
	fi
	"${CLI[@]}" logs "$LAB_ARTIFACTS/$name-final" >/dev/null || true
	"${CLI[@]}" down
}

# Two nodes and the client: everything but the power tests, with the real
# fencing of node2 last. Three nodes: the cluster, and the power tests (a
# power-off seen by the others; writeboost-cache replaying after one).
run_topology two-nodes 2 1 -m "not power and not long" tests/lab
run_topology three-nodes 3 0 -m "every_topology and not long" tests/lab

stamp "lab stage total" "$t_start"
echo "lab: logs and timings in $LAB_ARTIFACTS"
# Every topology's tests ran, none failed, none was skipped; a topology that
# did not boot left no JUnit file, which counts as a failure too.
"$PY" lab/results.py "$LAB_ARTIFACTS/two-nodes-junit.xml" "$LAB_ARTIFACTS/three-nodes-junit.xml" || rc=1
[ "$rc" = 0 ] || banner "LAB STAGE FAILED (see above and $LAB_ARTIFACTS)"
exit $rc
