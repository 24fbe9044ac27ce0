#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# demo.sh: storha's floating-ip agent under a real Pacemaker, from a fresh Debian 12 machine.
#
#   sudo make demo            (or: sudo scripts/demo.sh)
#   sudo make demo KEEP=1     leave the cluster and the address up to look around
#
# Steps: install the Debian packages, build and install storha, start a single-node Corosync +
# Pacemaker cluster on this machine (scripts/pcmk-host.sh), load crm-examples/floating-ip.crm,
# wait for the floating address, show the cluster and the address, then stop and remove it all.
#
# Nothing touches the machine's own network: the address lives on a veth pair the cluster
# script creates (sth-demo0, 198.51.100.0/24, a documentation range).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

KEEP=${KEEP:-0}
RSC=vip
VIP=198.51.100.10
NIC=sth-demo0
CLIENT_NS=sth-demo-client
EXAMPLE=crm-examples/floating-ip.crm
PACEMAKER_LOG=/var/log/storha-pcmk/pacemaker.log

# Bold step titles when writing to a terminal, plain text in a log.
if [ -t 1 ]; then B=$'\e[1m' N=$'\e[0m'; else B='' N=''; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
info() { printf '    %s\n' "$*"; }
# Show a command, then run it.
show() { printf '%s$ %s%s\n' "$B" "$*" "$N"; "$@"; }
die() { printf '\ndemo: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts a cluster): sudo make demo"

# The machine has one cluster (scripts/pcmk-host.sh): queue behind a test that is using it.
exec 9>/run/storha-pcmk.lock
if ! flock -n 9; then
	echo "demo: the single-node cluster is in use (a test?), waiting for it (up to 30 min)"
	flock -w 1800 9 || die "the cluster stayed in use for 30 minutes"
fi

cluster_started=0
finish() {
	local rc=$?
	if [ $rc -ne 0 ] && [ $cluster_started = 1 ]; then
		echo
		echo "--- last lines of $PACEMAKER_LOG"
		tail -n 30 "$PACEMAKER_LOG" 2>/dev/null || true
	fi
	if [ $cluster_started = 1 ] && { [ $rc -ne 0 ] || [ "$KEEP" != 1 ]; }; then
		step "Taking the demo cluster down"
		scripts/pcmk-host.sh down || true
	fi
	exit $rc
}
trap finish EXIT

# Polls "$@" every half second until it succeeds, for at most $1 seconds.
wait_until() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + secs))
	until "$@"; do
		[ $SECONDS -lt $deadline ] || die "$what: not reached within ${secs}s"
		sleep 0.5
	done
}
vip_on_nic() { ip -o -4 addr show dev "$NIC" 2>/dev/null | grep -q " inet $VIP/"; }
vip_gone() { ! vip_on_nic; }
rsc_started() {
	crm_mon -1 --output-as=xml 2>/dev/null |
		grep -q "<resource id=\"$RSC\" [^>]*role=\"Started\" [^>]*active=\"true\""
}
rsc_failed() {
	crm_mon -1 --output-as=xml 2>/dev/null | grep -q "<failure op_key=\"${RSC}_"
}
rsc_started_and_up() {
	rsc_failed && die "Pacemaker reports a failed operation:$(crm_mon -1 | sed -n '/Failed Resource Actions/,$p')"
	rsc_started && vip_on_nic
}

step "1/6 Installing the Debian packages storha needs (scripts/install-deps.sh)"
scripts/install-deps.sh
info "ok: $(dpkg-query -W -f='pacemaker ${Version}' pacemaker), $(dpkg-query -W -f='corosync ${Version}' corosync), $(dpkg-query -W -f='crmsh ${Version}' crmsh)"

step "2/6 Building and installing storha (make install)"
make --no-print-directory install
show ls -l /usr/lib/ocf/resource.d/storha/
show crm_resource --list-agents ocf:storha

step "3/6 Starting a single-node Corosync + Pacemaker cluster (scripts/pcmk-host.sh up)"
info "about 10-30 seconds: Pacemaker elects itself as the designated controller (DC)"
if in_use=$(scripts/pcmk-host.sh in-use); then
	die "the cluster is $in_use (someone's shell?); when it is done: scripts/pcmk-host.sh down"
fi
cluster_started=1
scripts/pcmk-host.sh up

step "4/6 Loading the floating IP ($EXAMPLE)"
info "(crmsh warns \"Blind faith: not fencing unseen nodes\": expected, this demo has no fence device)"
show crm configure load update "$EXAMPLE"
show crm configure show "$RSC"
info "waiting for Pacemaker to start $RSC and for $VIP to appear on $NIC"
wait_until 60 "$RSC started with $VIP on $NIC" rsc_started_and_up

step "5/6 The result"
show crm_mon -1
echo
show ip addr show dev "$NIC"
echo
info "the address answers on the link (ping from the client namespace on the other end of the veth):"
show ip netns exec "$CLIENT_NS" ping -c 2 -W 2 "$VIP"
echo
info "the agent's own check, as an administrator would run it:"
show storha floating-ip monitor --param ip="$VIP" --param nic="$NIC"

if [ "$KEEP" = 1 ]; then
	step "6/6 KEEP=1: leaving the cluster up"
	info "look around:  crm_mon -1 ; crm configure show ; ip addr show dev $NIC"
	info "break it:     ip addr del $VIP/24 dev $NIC   (the monitor notices within 10 s, Pacemaker restores it)"
	info "logs:         $PACEMAKER_LOG"
	info "when done:    scripts/pcmk-host.sh down"
	exit 0
fi

step "6/6 Stopping the floating IP and the cluster"
show crm resource stop "$RSC"
wait_until 60 "$VIP removed from $NIC" vip_gone
show ip addr show dev "$NIC"
show crm configure delete "$RSC"
scripts/pcmk-host.sh down
cluster_started=0
printf '\n%sdemo: success%s: Pacemaker started, monitored and stopped %s with ocf:storha:floating-ip\n' "$B" "$N" "$VIP"
