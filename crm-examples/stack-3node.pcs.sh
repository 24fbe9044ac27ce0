#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The pcs form of stack-3node.crm (read the notes there): the same resources, fencing topology,
# constraints and properties. Run on a cluster node as root; with a file argument, pcs works on
# that CIB file instead of the live cluster.
set -eu
if [ $# -gt 0 ]; then set -- -f "$1"; fi

pcs "$@" property set stonith-enabled=true stonith-timeout=120s no-quorum-policy=stop
pcs "$@" resource defaults update resource-stickiness=200 migration-threshold=3
pcs "$@" resource op defaults update timeout=60s

pcs "$@" stonith create p_fence_a fence_ipstrip \
	device=netio ip=10.0.0.201 username=fence \
	password_script="cat /etc/storha/fence-strip-a.secret" \
	pcmk_host_map="stor1:1,2;stor2:3;stor3:4" power_timeout=30 \
	op monitor interval=60s timeout=30s
pcs "$@" stonith create p_fence_b fence_ipstrip \
	device=netio ip=10.0.0.202 username=fence \
	password_script="cat /etc/storha/fence-strip-b.secret" \
	pcmk_host_map="stor3:1" power_timeout=30 \
	op monitor interval=60s timeout=30s
# pcs checks that a level's node exists: with a file argument, on a CIB without these nodes,
# pass --force.
pcs "$@" ${PCS_FORCE:+--force} stonith level add 1 stor1 p_fence_a
pcs "$@" ${PCS_FORCE:+--force} stonith level add 1 stor2 p_fence_a
pcs "$@" ${PCS_FORCE:+--force} stonith level add 1 stor3 p_fence_a,p_fence_b

pcs "$@" resource create --no-default-ops p_wbc ocf:storha:writeboost-cache \
	name=wbc backing_dev=/dev/disk/by-id/ata-HDD_SERIAL \
	cache_dev=/dev/disk/by-id/nvme-NVME_SERIAL flush_on_stop=buffer \
	op start timeout=900s interval=0s stop timeout=600s interval=0s on-fail=fence \
	monitor interval=20s timeout=30s \
	clone cl_wbc clone-max=3 clone-node-max=1 interleave=true

pcs "$@" resource create --no-default-ops p_drbd ocf:storha:drbd-tuned drbd_resource=vdi \
	op start timeout=240s interval=0s promote timeout=180s interval=0s \
	demote timeout=90s interval=0s notify timeout=90s interval=0s \
	stop timeout=100s interval=0s \
	monitor interval=29s role=Promoted timeout=30s \
	monitor interval=31s role=Unpromoted timeout=30s \
	promotable ms_drbd promoted-max=1 promoted-node-max=1 clone-max=3 clone-node-max=1 \
	notify=true interleave=true

pcs "$@" resource create --no-default-ops p_fs ocf:heartbeat:Filesystem \
	device=/dev/drbd/by-res/vdi/0 directory=/srv/vdi fstype=xfs options=noatime \
	op start timeout=60s interval=0s stop timeout=120s interval=0s \
	monitor interval=20s timeout=40s --group g_nfs
pcs "$@" resource create --no-default-ops p_nfs ocf:storha:nfs-export \
	directory="/srv/vdi/desktops /srv/vdi/templates" fsid="201 202" \
	clientspec="10.10.0.0/22 10.10.4.0/24" \
	options=rw,sync,no_root_squash,no_subtree_check \
	nfs_shared_infodir=/srv/vdi/.nfs-state nfs_server_scope=vdi-nfs nfs_ip=10.10.0.10 \
	threads=64 lease_time=30 grace_time=30 \
	op start timeout=120s interval=0s stop timeout=120s interval=0s \
	monitor interval=10s timeout=20s \
	monitor interval=61s timeout=30s OCF_CHECK_LEVEL=10 --group g_nfs
pcs "$@" resource create --no-default-ops p_vip ocf:storha:floating-ip \
	ip=10.10.0.10 cidr_netmask=22 nic=bond0 \
	op start timeout=20s interval=0s stop timeout=20s interval=0s \
	monitor interval=10s timeout=20s --group g_nfs

pcs "$@" constraint order start cl_wbc then start ms_drbd
pcs "$@" constraint colocation add ms_drbd with cl_wbc INFINITY
pcs "$@" constraint order promote ms_drbd then start g_nfs
pcs "$@" constraint colocation add g_nfs with Promoted ms_drbd INFINITY
