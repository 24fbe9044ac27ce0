#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The pcs form of stack-2node.crm (read the notes there): the same resources, constraints and
# properties. Run on a cluster node as root; with a file argument, pcs works on that CIB file
# instead of the live cluster (pcs cluster cib FILE; sh stack-2node.pcs.sh FILE;
# pcs cluster cib-push FILE --config).
set -eu
if [ $# -gt 0 ]; then set -- -f "$1"; fi

pcs "$@" property set stonith-enabled=true stonith-timeout=120s priority-fencing-delay=10s
pcs "$@" resource defaults update resource-stickiness=200 migration-threshold=3
pcs "$@" resource op defaults update timeout=60s

pcs "$@" stonith create p_fence fence_ipstrip \
	device=shelly ip=192.168.77.1 ipport=8080 username=admin \
	password_script="cat /etc/storha/fence-strip.secret" \
	pcmk_host_map="node1:0;node2:1" power_timeout=30 \
	op monitor interval=60s timeout=30s

pcs "$@" resource create --no-default-ops p_wbc ocf:storha:writeboost-cache \
	name=wbc backing_dev=/dev/vdb cache_dev=/dev/disk/by-id/virtio-storha-cache \
	format=if-unformatted flush_on_stop=buffer \
	op start timeout=600s interval=0s stop timeout=600s interval=0s on-fail=fence \
	monitor interval=20s timeout=30s \
	clone cl_wbc clone-max=2 clone-node-max=1 interleave=true

pcs "$@" resource create --no-default-ops p_drbd ocf:storha:drbd-tuned drbd_resource=r0 \
	op start timeout=240s interval=0s promote timeout=180s interval=0s \
	demote timeout=90s interval=0s notify timeout=90s interval=0s \
	stop timeout=100s interval=0s \
	monitor interval=29s role=Promoted timeout=30s \
	monitor interval=31s role=Unpromoted timeout=30s \
	promotable ms_drbd promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 \
	notify=true interleave=true priority=10

pcs "$@" resource create --no-default-ops p_fs ocf:heartbeat:Filesystem \
	device=/dev/drbd0 directory=/srv/nfs fstype=ext4 options=noatime \
	op start timeout=60s interval=0s stop timeout=120s interval=0s \
	monitor interval=20s timeout=40s --group g_nfs
pcs "$@" resource create --no-default-ops p_nfs ocf:storha:nfs-export \
	directory=/srv/nfs/data fsid=101 create_directory=true clientspec=192.168.77.0/24 \
	options=rw,sync,no_root_squash,no_subtree_check \
	nfs_shared_infodir=/srv/nfs/.nfs-state nfs_server_scope=storha-nfs \
	nfs_ip=192.168.77.100 lease_time=30 grace_time=30 \
	op start timeout=120s interval=0s stop timeout=120s interval=0s \
	monitor interval=10s timeout=20s \
	monitor interval=61s timeout=30s OCF_CHECK_LEVEL=10 --group g_nfs
pcs "$@" resource create --no-default-ops p_vip ocf:storha:floating-ip \
	ip=192.168.77.100 cidr_netmask=24 nic=eth0 \
	op start timeout=20s interval=0s stop timeout=20s interval=0s \
	monitor interval=10s timeout=20s --group g_nfs

pcs "$@" constraint order start cl_wbc then start ms_drbd
pcs "$@" constraint colocation add ms_drbd with cl_wbc INFINITY
pcs "$@" constraint order promote ms_drbd then start g_nfs
pcs "$@" constraint colocation add g_nfs with Promoted ms_drbd INFINITY
