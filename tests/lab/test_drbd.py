# SPDX-License-Identifier: GPL-2.0-or-later
"""DRBD 8.4 between two nodes: by hand, then as a promotable clone under
Pacemaker with ocf:linbit:drbd."""

import drbd

# The promotable clone, kept to node1 and node2 (the lab may have a third node).
CRM_CONFIG = f"""
primitive p_drbd ocf:linbit:drbd \\
    params drbd_resource={drbd.RESOURCE} \\
    op monitor interval=29s role=Promoted timeout=120s \\
    op monitor interval=31s role=Unpromoted timeout=120s \\
    op start timeout=240s op stop timeout=240s \\
    op promote timeout=240s op demote timeout=240s
clone ms_drbd p_drbd \\
    meta promotable=true promoted-max=1 promoted-node-max=1 \\
    clone-max=2 clone-node-max=1 notify=true
location l_drbd_nodes ms_drbd rule -inf: #uname ne node1 and #uname ne node2
"""


def test_drbd_connected_and_primary(lab, node1, node2):
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    try:
        node1.run(f"drbdadm primary {drbd.RESOURCE}")
        status = node1.run("cat /proc/drbd").out
        assert "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate" in status, status
        node1.run("mkfs.ext4 -q -F /dev/drbd0 && mkdir -p /mnt/drbd && mount /dev/drbd0 /mnt/drbd")
        node1.run("echo replicated > /mnt/drbd/file && umount /mnt/drbd")
        node1.run(f"drbdadm secondary {drbd.RESOURCE}")
        # The peer sees the same data once it is Primary.
        node2.run(f"drbdadm primary {drbd.RESOURCE}")
        node2.run("mkdir -p /mnt/drbd && mount -o ro /dev/drbd0 /mnt/drbd")
        assert node2.run("cat /mnt/drbd/file").out == "replicated\n"
        node2.run(f"umount /mnt/drbd && drbdadm secondary {drbd.RESOURCE}")
    finally:
        for vm in nodes:
            vm.run("umount /mnt/drbd", check=False)
        drbd.down(lab, nodes)


def test_drbd_promotable_clone_in_cluster(cluster, node1, node2):
    lab = cluster
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    drbd.down(lab, nodes)  # Pacemaker brings it up
    try:
        # One crmsh run for the whole configuration: crmsh is slow to start
        # in an emulated VM.
        node1.put_bytes("/tmp/drbd.crm", CRM_CONFIG)
        node1.run("crm configure load update /tmp/drbd.crm", timeout=300)

        def promoted():
            roles = lab.resource_roles("p_drbd")
            vals = sorted(roles.get(n.name) or "" for n in nodes)
            return vals == ["Promoted", "Unpromoted"] and roles
        roles = lab.wait_for(promoted, 600, "ms_drbd Promoted on one node, Unpromoted on the other",
                             describe=lambda: node1.run("crm_mon -1 -r", check=False).out)
        primary = next(n for n in nodes if roles[n.name] == "Promoted")
        status = primary.run("cat /proc/drbd").out
        assert "ro:Primary/Secondary" in status, status
    finally:
        lab.reset_cluster()
        lab.wait_for(lambda: all("cs:" not in n.run("cat /proc/drbd", check=False).out
                                 for n in nodes), 240, "DRBD stopped by Pacemaker",
                     describe=lambda: node1.run("crm_mon -1 -r", check=False).out)
