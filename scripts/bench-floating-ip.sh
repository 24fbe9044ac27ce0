#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench-floating-ip.sh: cost of one `monitor` of storha's floating-ip against IPaddr2's.
#
# A monitor runs every 10 s for every floating address of every cluster, forever, so its cost
# matters more than start's or stop's. This script measures it as Pacemaker's executor runs it:
# a fresh process per call, the parameters and meta attributes in OCF_RESKEY_* (interval 10000),
# Pacemaker's logging variables, stdin not a terminal.
#
# In a network namespace of its own (sth-bench) holding one veth pair, the address is added once;
# then both agents, configured for the same ip/nic, run `monitor` RUNS times each, alternating
# (which one goes first flips every round, so neither profits from the other's cache warm-up).
# Every call must return 0 (running). The number of programs one monitor executes is counted with
# strace (execve calls that succeeded, the agent itself included).
#
# Output: a table on stdout, also written to target/bench/floating-ip.txt for the README.
#
# Environment: RUNS (200), WARMUP (10), STORHA_BIN (target/release/storha), OUT
# (target/bench/floating-ip.txt). Needs root (network namespace), strace.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-200}
WARMUP=${WARMUP:-10}
STORHA_BIN=${STORHA_BIN:-$REPO/target/release/storha}
OUT=${OUT:-$REPO/target/bench/floating-ip.txt}
IPADDR2=/usr/lib/ocf/resource.d/heartbeat/IPaddr2

NS=sth-bench
NIC=sth-bench0
PEER=sth-bench0p
BASE=203.0.113.1      # documentation range (TEST-NET-3), only inside the namespace
VIP=203.0.113.10
PREFIX=24

die() { printf 'bench-floating-ip: error: %s\n' "$*" >&2; exit 1; }

# The measuring half, run inside the namespace (see the end of the file).
inside() {
	local work=$1
	# The multi-call binary picks the agent from the name it is called by.
	ln -sfn "$STORHA_BIN" "$work/floating-ip"
	local storha=$work/floating-ip

	# What pacemaker-execd puts in an agent's environment for a recurring monitor.
	export OCF_ROOT=/usr/lib/ocf OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1
	export OCF_RESOURCE_INSTANCE=vip OCF_EXIT_REASON_PREFIX=ocf-exit-reason:
	export OCF_RESKEY_ip=$VIP OCF_RESKEY_cidr_netmask=$PREFIX OCF_RESKEY_nic=$NIC
	export OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_CRM_meta_timeout=20000
	export OCF_RESKEY_CRM_meta_name=monitor OCF_RESKEY_crm_feature_set=3.16.1
	export HA_LOGFACILITY=daemon HA_LOGFILE=$work/agent.log HA_debug=0
	export PCMK_logfacility=daemon PCMK_logfile=$work/agent.log

	# Each agent gets its own type/provider, as Pacemaker sets them per resource.
	run_storha() { OCF_RESOURCE_TYPE=floating-ip OCF_RESOURCE_PROVIDER=storha "$storha" monitor; }
	run_ipaddr2() { OCF_RESOURCE_TYPE=IPaddr2 OCF_RESOURCE_PROVIDER=heartbeat "$IPADDR2" monitor; }
	# The floor: creating and reaping any process at all from this shell.
	run_true() { /bin/true; }

	local a rc
	for a in storha ipaddr2; do
		rc=0
		"run_$a" </dev/null >"$work/$a.first.out" 2>&1 || rc=$?
		if [ $rc -ne 0 ]; then
			cat "$work/$a.first.out" >&2
			die "$a monitor returned $rc, expected 0 (address $VIP/$PREFIX is on $NIC)"
		fi
	done

	# Programs executed by one monitor (strace -E sets the per-agent variables without a shell
	# in between, so every execve counted is the agent's or its children's).
	strace -f -qq -e trace=execve -o "$work/storha.strace" \
		-E OCF_RESOURCE_TYPE=floating-ip -E OCF_RESOURCE_PROVIDER=storha \
		"$storha" monitor </dev/null >/dev/null 2>&1
	strace -f -qq -e trace=execve -o "$work/ipaddr2.strace" \
		-E OCF_RESOURCE_TYPE=IPaddr2 -E OCF_RESOURCE_PROVIDER=heartbeat \
		"$IPADDR2" monitor </dev/null >/dev/null 2>&1
	# With -f, a call interrupted by another process's is logged as "execve(... <unfinished ...>"
	# then "<... execve resumed>) = 0": count the lines that report success.
	for a in storha ipaddr2; do
		grep -cE 'execve.* = 0$' "$work/$a.strace" >"$work/$a.execs" || true
	done

	# Timing. EPOCHREALTIME is a bash variable: reading it forks nothing, so the figure is the
	# agent's own fork+exec+run+exit, as seen by its parent.
	local i t0 t1 order
	: >"$work/storha.ms"
	: >"$work/ipaddr2.ms"
	: >"$work/true.ms"
	for ((i = -WARMUP; i < RUNS; i++)); do
		if ((i % 2 == 0)); then order="storha ipaddr2 true"; else order="true ipaddr2 storha"; fi
		for a in $order; do
			rc=0
			t0=$EPOCHREALTIME
			"run_$a" </dev/null >/dev/null 2>&1 || rc=$?
			t1=$EPOCHREALTIME
			[ $rc -eq 0 ] || die "$a monitor returned $rc in round $i"
			((i < 0)) || echo "$t0 $t1" >>"$work/$a.ms"
		done
	done
}

# mean median p95 min (ms) of the "t0 t1" lines of a file.
stats() {
	awk '{ printf "%.6f\n", ($2 - $1) * 1000 }' "$1" | sort -n | awk '
		{ v[NR] = $1; s += $1 }
		END {
			med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			p95 = v[int(NR * 0.95 + 0.999999)]
			printf "%.2f %.2f %.2f %.2f\n", s / NR, med, p95, v[1]
		}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }

main() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (it creates a network namespace)"
	command -v strace >/dev/null || die "strace not found (scripts/install-deps.sh)"
	[ -x "$IPADDR2" ] || die "$IPADDR2 not found (package resource-agents)"
	[ -x "$STORHA_BIN" ] || die "$STORHA_BIN not found: build it first (make build)"
	if ! [[ $RUNS =~ ^[0-9]+$ ]] || [ "$RUNS" -lt 2 ]; then die "RUNS must be a number >= 2"; fi

	local work
	work=$(mktemp -d /tmp/storha-bench.XXXXXX)
	chmod 0755 "$work"
	# shellcheck disable=SC2064 # expand now: the values are fixed
	trap "ip netns del $NS 2>/dev/null || true; rm -rf '$work'" EXIT
	ip netns del "$NS" 2>/dev/null || true
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" link add "$NIC" type veth peer name "$PEER"
	ip -n "$NS" addr add "$BASE/$PREFIX" dev "$NIC"
	ip -n "$NS" link set "$NIC" up
	ip -n "$NS" link set "$PEER" up
	# The address both agents watch, added once: the benchmark is about monitor only.
	ip -n "$NS" addr add "$VIP/$PREFIX" dev "$NIC"

	echo "bench-floating-ip: $RUNS monitors per agent (after $WARMUP warm-up rounds), alternating, in namespace $NS"
	ip netns exec "$NS" env RUNS="$RUNS" WARMUP="$WARMUP" STORHA_BIN="$STORHA_BIN" \
		bash "$0" __inside "$work"

	local s_mean s_med s_p95 s_min i_mean i_med i_p95 i_min t_mean t_med t_p95 t_min s_exec i_exec
	read -r s_mean s_med s_p95 s_min < <(stats "$work/storha.ms")
	read -r i_mean i_med i_p95 i_min < <(stats "$work/ipaddr2.ms")
	read -r t_mean t_med t_p95 t_min < <(stats "$work/true.ms")
	s_exec=$(cat "$work/storha.execs")
	i_exec=$(cat "$work/ipaddr2.execs")

	local cpu kernel ra_ver storha_ver
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	kernel=$(uname -r)
	ra_ver=$(dpkg-query -W -f='${Version}' resource-agents 2>/dev/null || echo unknown)
	storha_ver=$("$STORHA_BIN" --version 2>/dev/null | head -n 1 || true)
	storha_ver="${storha_ver:-storha} ($(git -C "$REPO" describe --always --dirty 2>/dev/null || echo "no git"))"

	mkdir -p "$(dirname "$OUT")"
	{
		echo "floating-ip monitor vs IPaddr2 monitor ($(date -u +%Y-%m-%d))"
		echo "$RUNS monitors each, alternating, fresh process per call, OCF_RESKEY_CRM_meta_interval=10000"
		echo "host: $cpu, $(nproc) CPUs, Linux $kernel; resource-agents $ra_ver; $storha_ver"
		echo
		printf '%-24s %9s %11s %8s %8s %16s\n' agent "mean ms" "median ms" "p95 ms" "min ms" "execs/monitor"
		printf '%-24s %9s %11s %8s %8s %16s\n' ocf:storha:floating-ip "$s_mean" "$s_med" "$s_p95" "$s_min" "$s_exec"
		printf '%-24s %9s %11s %8s %8s %16s\n' ocf:heartbeat:IPaddr2 "$i_mean" "$i_med" "$i_p95" "$i_min" "$i_exec"
		printf '%-24s %9s %11s %8s %8s %16s\n' "(baseline: /bin/true)" "$t_mean" "$t_med" "$t_p95" "$t_min" 1
		printf '%-24s %9s %11s %8s %8s\n' "IPaddr2 / floating-ip" \
			"$(ratio "$i_mean" "$s_mean")" "$(ratio "$i_med" "$s_med")" \
			"$(ratio "$i_p95" "$s_p95")" "$(ratio "$i_min" "$s_min")"
		echo
		echo "execs/monitor: programs executed (successful execve), the agent itself included."
		echo "baseline: the cost of starting any process from the measuring shell, included in both."
		echo "min: the least disturbed run; on a busy machine it is the steadiest of the figures."
	} | tee "$OUT"
	echo "bench-floating-ip: written to ${OUT#"$REPO"/}"
}

if [ "${1:-}" = __inside ]; then
	inside "$2"
else
	main "$@"
fi
