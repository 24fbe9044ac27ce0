# SPDX-License-Identifier: GPL-2.0-or-later
"""The Corosync/Pacemaker cluster the lab sets up."""

import pytest

pytestmark = pytest.mark.every_topology


def test_all_nodes_online_seen_from_every_node(lab):
    for vm in lab.nodes:
        lab.wait_cluster(online=lab.node_names, vm=vm)
        assert set(lab.cluster_nodes(vm)) == set(lab.node_names)


@pytest.mark.nodes(2)
def test_two_node_cluster(lab):
    q = lab.vm("node1").run("corosync-quorumtool -s").out
    assert "2Node" in q and "Quorate:          Yes" in q, q


@pytest.mark.nodes(3)
def test_three_node_cluster(lab):
    q = lab.vm("node1").run("corosync-quorumtool -s").out
    assert "Total votes:      3" in q and "Quorate:          Yes" in q, q
    assert lab.cluster_nodes() == {"node1": "online", "node2": "online", "node3": "online"}


def test_crm_mon_shows_all_online(lab):
    out = lab.vm("node1").run("crm_mon -1").out
    assert "Online: [ " + " ".join(lab.node_names) + " ]" in out, out
