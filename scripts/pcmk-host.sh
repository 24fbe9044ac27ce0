#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# pcmk-host.sh: a real single-node Corosync + Pacemaker cluster on this machine, for the demo and
# for the Pacemaker integration test. Works without systemd (daemons are started by hand).
#
#   scripts/pcmk-host.sh up            start corosync + pacemaker, wait for a DC, create the demo link
#   scripts/pcmk-host.sh down          stop everything this script started, wipe its CIB and link
#   scripts/pcmk-host.sh status        what is running, the demo network, crm_mon -1
#   scripts/pcmk-host.sh wait-online   wait until the node is online and a DC is elected
#   scripts/pcmk-host.sh in-use        exit 0 (and name it) if the cluster is up and its owner,
#                                      another process than the caller, is still running
#
# Sharing the one cluster of this machine (tests, the demo, people):
# * The cluster has an owner: the process that ran `up` (the caller of this script, or the pid in
#   STORHA_PCMK_OWNER). `up` on a cluster whose owner is still running fails ("in use"); a
#   cluster whose owner has exited (the demo with KEEP=1, a crashed test) is a leftover that the
#   next `up` adopts. `down` always works: it is the explicit way out.
# * Programs that use the cluster for a while also hold an exclusive flock(2) on
#   /run/storha-pcmk.lock for that time (the demo, tests/pacemaker.rs), so they queue behind each
#   other instead of racing; then they wait while `in-use` says another owner still uses it.
#
# Design choices (why it looks like this):
#
# * Network namespace: the cluster runs in the host's ROOT network namespace. Pacemaker's and
#   corosync's IPC endpoints (libqb) are abstract unix sockets, which are per network namespace:
#   in a dedicated netns every crm_mon/crm/cibadmin call, the test and the sysadmin's own shell
#   would have to go through `ip netns exec`, and a user's `crm_mon` would silently talk to
#   whatever else (or nothing) runs in the root namespace. A netns would not isolate the cluster
#   anyway: the CIB directory, /dev/shm ring buffers and /run are shared by all namespaces. The
#   isolation that matters is provided differently:
#     - the floating IP lives only on a veth pair this script creates (sth-demo0 on the host side,
#       its peer inside a "client" namespace sth-demo-client, so the address can be pinged from a
#       client) in a documentation range (198.51.100.0/24, 2001:db8:5707::/64): no host interface
#       is ever touched;
#     - Pacemaker's state directory (/var/lib/pacemaker: CIB, scheduler inputs) is a scratch
#       directory bind-mounted over /var/lib/pacemaker in a private mount namespace that only
#       pacemakerd and its children see. The host's own CIB is never read, written or wiped, and
#       `down` just deletes the scratch directory, so the next `up` starts from an empty CIB.
#       The mount namespace is a "slave" of the host's, so netns handles created later under
#       /run/netns still appear inside it (agents with network_namespace= need them).
#     - corosync gets its own config file (corosync -c), /etc/corosync is not modified.
# * Only one cluster stack can listen on the IPC names of a network namespace. If another
#   corosync/pacemakerd runs, `up` refuses, except for the case of a fresh Debian install where
#   systemd started the packaged stack with an empty CIB: those units are stopped and restarted
#   again by `down`.
# * Both daemons run in their own session (setsid) and their pids are recorded; `down` stops
#   them by pid (SIGTERM: pacemakerd stops the resources first), then kills what is left of
#   them and nothing else: corosync's session, and the processes of pacemaker's private mount
#   namespace (subdaemons, agents, their helpers) with their descendants.
#
# Environment (all optional): STORHA_PCMK_STATE (/run/storha-pcmk), STORHA_PCMK_LOGDIR
# (/var/log/storha-pcmk), STORHA_PCMK_TIMEOUT (seconds to wait for the DC, 90).
set -euo pipefail

STATE=${STORHA_PCMK_STATE:-/run/storha-pcmk}
LOGDIR=${STORHA_PCMK_LOGDIR:-/var/log/storha-pcmk}
TIMEOUT=${STORHA_PCMK_TIMEOUT:-90}
CLUSTER_NAME=storha-demo
# Pacemaker names the local node after the corosync nodelist entry; uname -n is what crm_node -n,
# crmsh and a sysadmin expect, so use it in the nodelist.
NODE=$(uname -n)

# The demo network. sth-demo0 carries a static address (a floating address is added next to an
# existing one, like on a real server) and the floating IPs; its peer is the "client".
NIC=sth-demo0
PEER=sth-demo0p
CLIENT_NS=sth-demo-client
NET4_PREFIX=198.51.100
HOST4=$NET4_PREFIX.1
CLIENT4=$NET4_PREFIX.2
VIP4=$NET4_PREFIX.10
NET6_PREFIX=2001:db8:5707
HOST6=$NET6_PREFIX::1
CLIENT6=$NET6_PREFIX::2
VIP6=$NET6_PREFIX::10

COROSYNC_CONF=$STATE/corosync.conf
COROSYNC_PID=$STATE/corosync.pid
PACEMAKER_PID=$STATE/pacemakerd.pid
PCMK_LIB=$STATE/var-lib-pacemaker
RESTART_UNITS=$STATE/restart-units
OWNER_FILE=$STATE/owner
OWNER=${STORHA_PCMK_OWNER:-$PPID}
COROSYNC_LOG=$LOGDIR/corosync.log
PACEMAKER_LOG=$LOGDIR/pacemaker.log

log() { printf 'pcmk-host: %s\n' "$*"; }
die() { printf 'pcmk-host: error: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

need_tools() {
	local t missing=()
	for t in corosync pacemakerd crm_mon crm_attribute cibadmin ip unshare setsid; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]} (run scripts/install-deps.sh)"
}

# Whether a process exists and is not a zombie. The daemons are reparented to PID 1 once this
# script exits, and PID 1 may take its time to reap them: a dead daemon can linger as a zombie.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# pid from a pid file if that process is still alive and is the program we expect.
live_pid() { # file comm
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	alive "$pid" || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
	echo "$pid"
}

# A process's start time (clock ticks since boot): with the pid, it tells a process apart from a
# later one that reuses its pid.
proc_start() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- $stat
	echo "${20}"
}

record_owner() {
	echo "$OWNER $(proc_start "$OWNER" || echo 0)" >"$OWNER_FILE"
}

# The owner's pid if it is still the same running process.
live_owner() {
	local pid start
	[ -s "$OWNER_FILE" ] || return 1
	read -r pid start <"$OWNER_FILE"
	alive "$pid" && [ "$(proc_start "$pid")" = "$start" ] || return 1
	echo "$pid"
}

# Whether the cluster is up and owned by another running process than $OWNER.
in_use() {
	local owner
	live_pid "$PACEMAKER_PID" pacemakerd >/dev/null || live_pid "$COROSYNC_PID" corosync >/dev/null || return 1
	owner=$(live_owner) || return 1
	[ "$owner" != "$OWNER" ] || return 1
	echo "$owner"
}

describe_pid() {
	printf '%s (%s)' "$1" "$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | cut -c1-80 | sed 's/ *$//')"
}

# Processes in session $1. corosync runs in its own session (setsid), so its session id is its pid.
session_pids() {
	ps -eo pid=,sid= | awk -v s="$1" '$2 == s { print $1 }'
}

# Pacemaker's processes cannot be found by session (pacemakerd puts each subdaemon in a session
# of its own), but all of them, and every agent they run, live in the private mount namespace
# where the scratch directory is mounted on /var/lib/pacemaker. That mount identifies them even
# after a crash has lost the pid files. Their descendants are included (a helper that entered
# yet another mount namespace, e.g. through `ip netns exec`, is still a child of one of them).
pcmk_pids() {
	local ours=() f
	# mountinfo fields 4 and 5: the mount's root inside its filesystem (the scratch directory,
	# or its path below /run when /run is a tmpfs of its own) and the mount point.
	for f in $(grep -lF -- "/$(basename "$PCMK_LIB") /var/lib/pacemaker " /proc/[0-9]*/mountinfo 2>/dev/null || true); do
		f=${f#/proc/}
		ours+=("${f%/mountinfo}")
	done
	[ ${#ours[@]} -gt 0 ] || return 0
	ps -eo pid=,ppid= | awk -v roots="${ours[*]}" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) mine[r[i]] = 1 }
		{ parent[$1] = $2 }
		END {
			do {
				grew = 0
				for (p in parent) if (!(p in mine) && (parent[p] in mine)) { mine[p] = 1; grew = 1 }
			} while (grew)
			for (p in mine) if (p in parent) print p
		}'
}

# Any corosync or pacemaker daemon on the machine that this script did not start.
foreign_stack() {
	local ours p
	ours=" $(live_pid "$COROSYNC_PID" corosync || true) $(pcmk_pids | tr '\n' ' ') "
	local name all=()
	# Process names as the kernel keeps them: truncated to 15 characters (pacemaker-schedulerd
	# is "pacemaker-sched"). Exact names only: a prefix would also match unrelated programs.
	for name in corosync pacemakerd pacemaker-based pacemaker-fence pacemaker-execd \
		pacemaker-attrd pacemaker-sched pacemaker-contr; do
		mapfile -t -O "${#all[@]}" all < <(pgrep -x "$name" || true)
	done
	for p in "${all[@]}"; do
		alive "$p" || continue
		case "$ours" in *" $p "*) ;; *) echo "$p" ;; esac
	done
}

cluster_is_online() {
	local xml
	xml=$(crm_mon -1 --output-as=xml 2>/dev/null) || return 1
	grep -q '<current_dc [^>]*present="true"' <<<"$xml" || return 1
	grep -q "<node name=\"$NODE\" [^>]*online=\"true\"" <<<"$xml" || return 1
}

wait_online() {
	local deadline=$((SECONDS + TIMEOUT))
	until cluster_is_online; do
		if [ $SECONDS -ge "$deadline" ]; then
			echo "--- tail of $PACEMAKER_LOG" >&2
			tail -n 40 "$PACEMAKER_LOG" >&2 || true
			die "node $NODE not online with a DC after ${TIMEOUT}s"
		fi
		if ! live_pid "$PACEMAKER_PID" pacemakerd >/dev/null; then
			echo "--- tail of $PACEMAKER_LOG" >&2
			tail -n 40 "$PACEMAKER_LOG" >&2 || true
			die "pacemakerd is not running"
		fi
		sleep 1
	done
}

# A packaged stack started by systemd on a fresh install (empty CIB, no resources) is in the way of
# the IPC names but is nobody's cluster: stop it and remember to start it again on `down`.
# Anything else is someone's cluster: refuse.
handle_foreign_stack() {
	local pids units=() u
	pids=$(foreign_stack)
	[ -z "$pids" ] && return 0
	if [ -d /run/systemd/system ]; then
		for u in pacemaker corosync; do
			systemctl is-active --quiet "$u" && units+=("$u")
		done
	fi
	if [ ${#units[@]} -gt 0 ] && [ -z "$(cibadmin -Q -o resources 2>/dev/null | grep -E '<(primitive|group|clone|bundle)' || true)" ]; then
		log "stopping the packaged cluster stack started by systemd (${units[*]}, no resources configured); 'down' restarts it"
		printf '%s\n' "${units[@]}" >"$RESTART_UNITS"
		systemctl stop pacemaker corosync
		local deadline=$((SECONDS + 60))
		while [ -n "$(foreign_stack)" ]; do
			[ $SECONDS -lt $deadline ] || die "systemd stack did not stop"
			sleep 1
		done
		return 0
	fi
	die "another cluster stack is running (pids: ${pids//$'\n'/ }); this script only runs its own single-node cluster. Stop it first."
}

# The veth pair and the client namespace. Recreated from scratch on every `up`, so a crashed run
# never leaves a half-configured link behind.
net_down() {
	ip link del "$NIC" 2>/dev/null || true
	ip netns del "$CLIENT_NS" 2>/dev/null || true
}

net_up() {
	net_down
	# Refuse to shadow a route the host already uses for this range.
	if [ -n "$(ip -4 route show to match "$VIP4" | grep -v '^default' || true)" ]; then
		die "$NET4_PREFIX.0/24 is already routed on this host: $(ip -4 route show to match "$VIP4" | grep -v '^default')"
	fi
	ip netns add "$CLIENT_NS"
	ip link add "$NIC" type veth peer name "$PEER" netns "$CLIENT_NS"
	# No router advertisements or autoconfiguration on the demo link, and no DAD delay for the
	# static addresses: the link must be usable the moment `up` returns.
	sysctl -qw "net.ipv6.conf.$NIC.accept_ra=0" "net.ipv6.conf.$NIC.autoconf=0" 2>/dev/null || true
	ip addr add "$HOST4/24" dev "$NIC"
	ip addr add "$HOST6/64" dev "$NIC" nodad
	ip link set "$NIC" up
	ip -n "$CLIENT_NS" link set lo up
	ip -n "$CLIENT_NS" addr add "$CLIENT4/24" dev "$PEER"
	ip -n "$CLIENT_NS" addr add "$CLIENT6/64" dev "$PEER" nodad
	ip -n "$CLIENT_NS" link set "$PEER" up
}

write_corosync_conf() {
	# One key per line: corosync's parser rejects blocks written on one line.
	cat >"$COROSYNC_CONF" <<EOF
# Generated by storha scripts/pcmk-host.sh: single-node cluster on the loopback address.
totem {
	version: 2
	cluster_name: $CLUSTER_NAME
	transport: knet
	crypto_cipher: none
	crypto_hash: none
	token: 3000
}

logging {
	to_stderr: no
	to_syslog: no
	to_logfile: yes
	logfile: $COROSYNC_LOG
	timestamp: on
}

quorum {
	provider: corosync_votequorum
}

nodelist {
	node {
		name: $NODE
		nodeid: 1
		ring0_addr: 127.0.0.1
	}
}
EOF
}

# An initial CIB written offline (CIB_file makes the crm tools edit a file instead of the live
# cluster), so the cluster comes up already configured: no fencing device exists yet, so
# stonith-enabled=false (otherwise nothing would ever start; crmsh then prints "Blind faith: not
# fencing unseen nodes" on every configuration change, which is expected here); generous operation timeouts because
# this machine may be slow; a short dc-deadtime since there is no peer to wait for.
seed_cib() {
	install -d -m 0755 "$PCMK_LIB"
	local d
	for d in cib pengine blackbox cores; do
		install -d -m 0750 -o hacluster -g haclient "$PCMK_LIB/$d"
	done
	local cib=$PCMK_LIB/cib/cib.xml
	cibadmin --empty >"$cib"
	CIB_file=$cib crm_attribute --type crm_config --name stonith-enabled --update false
	CIB_file=$cib crm_attribute --type crm_config --name dc-deadtime --update 5s
	CIB_file=$cib crm_attribute --type crm_config --name cluster-name --update "$CLUSTER_NAME"
	# crm_attribute has no op_defaults/rsc_defaults type: create those sections as XML.
	CIB_file=$cib cibadmin --create -o configuration -X \
		'<op_defaults><meta_attributes id="op-options"><nvpair id="op-options-timeout" name="timeout" value="60s"/></meta_attributes></op_defaults>'
	CIB_file=$cib cibadmin --create -o configuration -X \
		'<rsc_defaults><meta_attributes id="rsc-options"><nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="100"/></meta_attributes></rsc_defaults>'
	chown hacluster:haclient "$cib"
	chmod 0600 "$cib"
}

start_corosync() {
	: >"$COROSYNC_LOG"
	# -f: stay in the foreground so the recorded pid is corosync's own.
	setsid corosync -f -c "$COROSYNC_CONF" </dev/null >>"$LOGDIR/corosync.out" 2>&1 &
	echo $! >"$COROSYNC_PID"
	local deadline=$((SECONDS + 30))
	until corosync-quorumtool -s >/dev/null 2>&1; do
		live_pid "$COROSYNC_PID" corosync >/dev/null || {
			tail -n 20 "$LOGDIR/corosync.out" "$COROSYNC_LOG" >&2 || true
			die "corosync exited"
		}
		[ $SECONDS -lt $deadline ] || die "corosync not quorate after 30s (see $COROSYNC_LOG)"
		sleep 0.5
	done
}

start_pacemaker() {
	# Created here so that the daemons running as hacluster can append to it.
	install -m 0660 -o hacluster -g haclient /dev/null "$PACEMAKER_LOG"
	# The inner shell records its own pid, then becomes pacemakerd (exec keeps the pid), inside a
	# private mount namespace where the scratch directory hides the host's /var/lib/pacemaker.
	# shellcheck disable=SC2016 # $$, $1 and $2 are the inner shell's
	PCMK_logfile=$PACEMAKER_LOG PCMK_logfacility=none \
		setsid unshare --mount --propagation slave \
		sh -c 'echo $$ >"$1" && mount --bind "$2" /var/lib/pacemaker && exec pacemakerd' \
		sh "$PACEMAKER_PID" "$PCMK_LIB" </dev/null >>"$LOGDIR/pacemakerd.out" 2>&1 &
	local deadline=$((SECONDS + 10))
	until live_pid "$PACEMAKER_PID" pacemakerd >/dev/null; do
		[ $SECONDS -lt $deadline ] || { tail -n 20 "$LOGDIR/pacemakerd.out" >&2 || true; die "pacemakerd did not start"; }
		sleep 0.2
	done
}

# Stop the daemon of a pid file with SIGTERM (a clean shutdown: pacemakerd stops its resources
# and subdaemons first), SIGKILL after the timeout.
stop_pid() { # pidfile comm timeout
	local pid deadline
	pid=$(live_pid "$1" "$2") || { rm -f "$1"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + $3))
	while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
	if alive "$pid"; then
		log "$2 ($pid) did not stop in $3 s, killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

kill_leftovers() { # name pid...
	local what=$1 p deadline
	shift
	[ $# -gt 0 ] || return 0
	for p in "$@"; do
		alive "$p" || continue
		log "killing leftover $what process $p ($(cat "/proc/$p/comm" 2>/dev/null || echo '?'))"
		kill -KILL "$p" 2>/dev/null || true
	done
	deadline=$((SECONDS + 10))
	for p in "$@"; do
		while alive "$p" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
	done
}

stop_pacemaker() {
	local cpid
	stop_pid "$PACEMAKER_PID" pacemakerd 120
	# shellcheck disable=SC2046 # one pid per word
	kill_leftovers pacemaker $(pcmk_pids)
	cpid=$(live_pid "$COROSYNC_PID" corosync || true)
	stop_pid "$COROSYNC_PID" corosync 30
	# shellcheck disable=SC2046
	[ -z "$cpid" ] || kill_leftovers corosync $(session_pids "$cpid")
}

# The daemons outlive this script: they must not inherit its caller's open files. A lock on
# /run/storha-pcmk.lock held through an inherited descriptor would stay held for as long as the
# cluster runs. (bash reads this script through fd 255: keep that one.)
close_inherited_fds() {
	local fd
	for fd in "/proc/$$/fd/"*; do
		fd=${fd##*/}
		case "$fd" in 0 | 1 | 2 | 255) continue ;; esac
		eval "exec $fd>&-" 2>/dev/null || true
	done
}

cmd_up() {
	need_root
	need_tools
	close_inherited_fds
	mkdir -p "$STATE" "$LOGDIR"
	local owner
	if owner=$(in_use); then
		die "the cluster is in use by $(describe_pid "$owner"), which started it; wait for it, or take the cluster down with: $0 down"
	fi
	if live_pid "$PACEMAKER_PID" pacemakerd >/dev/null && live_pid "$COROSYNC_PID" corosync >/dev/null; then
		log "already up; waiting for the node to be online"
		record_owner
		wait_online
		ip link show "$NIC" >/dev/null 2>&1 || net_up
		return 0
	fi
	# Half-started or crashed earlier run: clean it up first.
	stop_pacemaker
	handle_foreign_stack
	record_owner
	rm -rf "$PCMK_LIB"
	net_up
	write_corosync_conf
	seed_cib
	local t0=$SECONDS
	log "starting corosync (config $COROSYNC_CONF, log $COROSYNC_LOG)"
	start_corosync
	log "starting pacemaker (log $PACEMAKER_LOG)"
	start_pacemaker
	log "waiting for node $NODE to be online and a DC to be elected (up to ${TIMEOUT}s)"
	wait_online
	log "cluster up in $((SECONDS - t0))s: node $NODE online, DC elected"
	log "demo link: $NIC $HOST4/24 $HOST6/64; client namespace $CLIENT_NS ($CLIENT4, $CLIENT6); free floating IPs e.g. $VIP4, $VIP6"
}

cmd_down() {
	need_root
	if live_pid "$PACEMAKER_PID" pacemakerd >/dev/null || live_pid "$COROSYNC_PID" corosync >/dev/null; then
		log "stopping pacemaker and corosync"
	fi
	stop_pacemaker
	rm -rf "$PCMK_LIB"
	rm -f "$COROSYNC_CONF" "$OWNER_FILE"
	net_down
	if [ -s "$RESTART_UNITS" ]; then
		log "restarting the packaged units stopped by 'up': $(tr '\n' ' ' <"$RESTART_UNITS")"
		# corosync first: pacemaker depends on it.
		tac "$RESTART_UNITS" | xargs -r systemctl start || log "warning: could not restart them"
		rm -f "$RESTART_UNITS"
	fi
	log "down (logs kept in $LOGDIR)"
}

cmd_status() {
	local cpid ppid rc=0
	cpid=$(live_pid "$COROSYNC_PID" corosync || true)
	ppid=$(live_pid "$PACEMAKER_PID" pacemakerd || true)
	echo "corosync:   ${cpid:+running, pid }${cpid:-not running}"
	echo "pacemakerd: ${ppid:+running, pid }${ppid:-not running}"
	if [ -n "$cpid$ppid" ]; then
		local owner
		if owner=$(live_owner); then
			echo "owner:      $(describe_pid "$owner")"
		else
			echo "owner:      gone (the process that started the cluster has exited)"
		fi
	fi
	echo "logs:       $COROSYNC_LOG $PACEMAKER_LOG"
	if ip link show "$NIC" >/dev/null 2>&1; then
		echo "demo link:  $NIC ($(ip -br addr show dev "$NIC" | awk '{$1=$2=""; print}' | sed 's/^ *//')), client namespace $CLIENT_NS"
	else
		echo "demo link:  absent"
	fi
	if [ -n "$ppid" ]; then
		echo
		crm_mon -1 || rc=$?
	else
		rc=3
	fi
	return $rc
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
in-use)
	if owner=$(in_use); then
		echo "in use by $(describe_pid "$owner")"
	else
		exit 1
	fi
	;;
wait-online)
	need_root
	wait_online
	log "node $NODE online, DC elected"
	;;
*)
	echo "usage: $0 up|down|status|wait-online|in-use" >&2
	exit 2
	;;
esac
