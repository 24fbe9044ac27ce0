#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench-writeboost.sh: writeboost-cache's monitor and stop against the plain dmsetup floor.
#
# 1. monitor: one `monitor` of the agent, run as Pacemaker's executor runs it (a fresh process,
#    parameters in OCF_RESKEY_*, interval 10000), against one `dmsetup status` of the same device,
#    RUNS times each, alternating. The agent reads table and status by ioctl; the target is to be
#    at or below the dmsetup floor. Programs executed per call are counted with strace when present.
# 2. stop: with D MiB dirty (written with writeback held back, fsync'ed), the agent's stop with
#    flush_on_stop=full against the bare sequence that drains the same data
#    (dmsetup suspend, resume, message drop_caches, remove), ROUNDS times each, alternating, each
#    on a freshly formatted cache. The target is an overhead under 5% of the drain.
#
# Runs inside a lab VM with dm-writeboost (the "HDD" /dev/vdb, the "NVMe" $NVME; their
# contents are destroyed). Run on the host, it runs itself on node1 of the running lab
# (make lab-up) and writes the table to target/bench/writeboost.txt as well.
#
# Environment: RUNS (100), ROUNDS (3), DIRTY_MIB (32), HDD, NVME.
set -euo pipefail

RUNS=${RUNS:-100}
ROUNDS=${ROUNDS:-3}
DIRTY_MIB=${DIRTY_MIB:-32}
HDD=${HDD:-/dev/vdb}
if [ -z "${NVME:-}" ]; then
	# The lab's cache disk: virtio with a serial, or its emulated NVMe.
	NVME=/dev/disk/by-id/virtio-storha-cache
	[ -b "$NVME" ] || NVME=/dev/nvme0n1
fi
AGENT=/usr/lib/ocf/resource.d/storha/writeboost-cache
NAME=wbbench

if [ ! -x "$AGENT" ] || [ ! -b "$NVME" ]; then
	# On the host: run this very script in node1 of the lab.
	REPO=$(cd "$(dirname "$0")/.." && pwd)
	mkdir -p "$REPO/target/bench"
	/usr/bin/python3 "$REPO/lab/storhalab.py" ssh node1 \
		env RUNS="$RUNS" ROUNDS="$ROUNDS" DIRTY_MIB="$DIRTY_MIB" bash -s <"$0" \
		| tee "$REPO/target/bench/writeboost.txt"
	exit "${PIPESTATUS[0]}"
fi

export OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=$NAME
export OCF_RESKEY_name=$NAME OCF_RESKEY_backing_dev=$HDD OCF_RESKEY_cache_dev=$NVME
export OCF_RESKEY_writeback_threshold=0 OCF_RESKEY_format=if-unformatted
export OCF_RESKEY_CRM_meta_timeout=600000

now() { date +%s%N; }
ms() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e6 }'; }

fresh() {
	dmsetup remove "$NAME" 2>/dev/null || true
	dd if=/dev/zero of="$NVME" bs=1M count=1 oflag=direct status=none
	"$AGENT" start </dev/null >/dev/null 2>&1
}

dirty() { dmsetup status "$NAME" | awk '{ print $10 }'; }

trap 'dmsetup remove "$NAME" 2>/dev/null || true' EXIT
modprobe dm-writeboost

# ---- 1. monitor
fresh
dd if=/dev/urandom of=/dev/mapper/$NAME bs=1M count=4 conv=fsync status=none
agent_total=0 dm_total=0
for i in $(seq "$RUNS"); do
	for who in agent dm; do
		[ $((i % 2)) -eq 0 ] && who=$([ "$who" = agent ] && echo dm || echo agent)
		s=$(now)
		if [ "$who" = agent ]; then
			OCF_RESKEY_CRM_meta_interval=10000 "$AGENT" monitor </dev/null >/dev/null 2>&1 \
				|| { echo "monitor failed: $?" >&2; exit 1; }
			agent_total=$((agent_total + $(now) - s))
		else
			dmsetup status "$NAME" >/dev/null
			dm_total=$((dm_total + $(now) - s))
		fi
	done
done
agent_execs=- dm_execs=-
if command -v strace >/dev/null; then
	OCF_RESKEY_CRM_meta_interval=10000 strace -f -qq -e trace=execve -e status=successful \
		-o /tmp/wbbench.strace "$AGENT" monitor </dev/null >/dev/null 2>&1
	agent_execs=$(grep -c execve /tmp/wbbench.strace)
	strace -f -qq -e trace=execve -e status=successful -o /tmp/wbbench.strace \
		dmsetup status "$NAME" >/dev/null
	dm_execs=$(grep -c execve /tmp/wbbench.strace)
fi
mon_agent=$((agent_total / RUNS)) mon_dm=$((dm_total / RUNS))

# ---- 2. stop with DIRTY_MIB dirty against the bare drain
stop_agent=0 stop_dm=0 blocks=0
for r in $(seq "$ROUNDS"); do
	for who in agent dm; do
		[ $((r % 2)) -eq 0 ] && who=$([ "$who" = agent ] && echo dm || echo agent)
		fresh
		dd if=/dev/urandom of=/dev/mapper/$NAME bs=1M count="$DIRTY_MIB" conv=fsync status=none
		blocks=$(dirty)
		s=$(now)
		if [ "$who" = agent ]; then
			OCF_RESKEY_flush_on_stop=full "$AGENT" stop </dev/null >/dev/null 2>&1 \
				|| { echo "stop failed: $?" >&2; exit 1; }
			stop_agent=$((stop_agent + $(now) - s))
		else
			dmsetup suspend "$NAME"
			dmsetup resume "$NAME"
			dmsetup message "$NAME" 0 drop_caches
			dmsetup remove "$NAME"
			stop_dm=$((stop_dm + $(now) - s))
		fi
		if dmsetup info "$NAME" >/dev/null 2>&1; then
			echo "$who: device still present after stop" >&2
			exit 1
		fi
	done
done
stop_agent=$((stop_agent / ROUNDS)) stop_dm=$((stop_dm / ROUNDS))

overhead=$(awk -v a="$stop_agent" -v d="$stop_dm" 'BEGIN { printf "%+.1f", (a - d) * 100 / d }')
ratio=$(awk -v a="$mon_agent" -v d="$mon_dm" 'BEGIN { printf "%.2f", a / d }')
stop_ratio=$(awk -v a="$stop_agent" -v d="$stop_dm" 'BEGIN { printf "%.3f", a / d }')
cat <<TABLE
writeboost-cache benchmark ($(uname -r), dm-writeboost $(dmsetup targets | awk '$1 == "writeboost" { print $2 }'))

monitor, mean of $RUNS runs each (alternating)
  writeboost-cache monitor     $(ms "$mon_agent") ms   programs executed: $agent_execs
  dmsetup status               $(ms "$mon_dm") ms   programs executed: $dm_execs
  ratio agent / dmsetup        $ratio   (target: <= 1)

stop with $DIRTY_MIB MiB dirty ($blocks blocks), mean of $ROUNDS rounds each (alternating)
  writeboost-cache stop (flush_on_stop=full)                $(ms "$stop_agent") ms
  dmsetup suspend + resume + drop_caches + remove           $(ms "$stop_dm") ms
  ratio agent / drain                                       $stop_ratio   (target: < 1.05)
  overhead of the agent                                     $overhead %   (target: < 5 %)
TABLE
