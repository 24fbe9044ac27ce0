# SPDX-License-Identifier: GPL-2.0-or-later
"""The Debian package under a running cluster: an upgrade (the same package
again, then a newer one) leaves a running storha resource untouched, and
`dpkg -r storha` refuses while the resource is active on the node and goes
ahead once it is stopped. The lab installs storha from this package
(storhalab.install_storha), so every other lab test runs on it too."""

import json
import re
import time

import pytest

import storhalab

RSC = "pkg-vip"
IP = storhalab.FREE_IPS[7]


def started_on(lab):
    roles = lab.resource_roles(RSC)
    nodes = [n for n, r in roles.items() if r == "Started"]
    return nodes[0] if len(nodes) == 1 else None


def last_op(vm):
    """(operation, call-id) of the resource's last non-recurring operation on
    the node, from the CIB's status section: a stop and start change it."""
    r = vm.run(f"cibadmin --query --xpath \"//node_state[@uname='{vm.name}']"
               f"//lrm_resource[@id='{RSC}']"
               f"/lrm_rsc_op[@id='{RSC}_last_0']\"")
    op = re.search(r'operation="([^"]+)"', r.out).group(1)
    call = re.search(r'call-id="([^"]+)"', r.out).group(1)
    return op, call


def log_lines(vm):
    return int(vm.run("wc -l < /var/log/pacemaker/pacemaker.log").out.strip())


def new_log(vm, since):
    return vm.run(f"tail -n +{since + 1} /var/log/pacemaker/pacemaker.log").out


def stop_or_start_logged(text):
    """Pacemaker's log lines of a stop, start or reload of the resource (the
    DC's "Initiating", the node's "Requesting local execution", "Result of")."""
    return [line for line in text.splitlines()
            if re.search(rf"\b(stop|start|reload|reload-agent|restart) operation "
                         rf"(for )?{RSC}\b|{RSC}_(stop|start|reload)_0", line)]


def healthy(lab, node):
    mon = lab.crm_mon()
    if mon is None:
        return False
    rsc = [r for r in mon.iter("resource") if r.get("id") == RSC]
    return (len(rsc) == 1 and rsc[0].get("failed") == "false" and started_on(lab) == node
            and not list(mon.iter("failure")))


@pytest.fixture(scope="module")
def vip(lab):
    lab.wait_cluster(online=lab.node_names)
    lab.reset_cluster()
    node = lab.first_online()
    node.run(f"crm configure primitive {RSC} ocf:storha:floating-ip "
             f"params ip={IP} cidr_netmask=24 op monitor interval=5s timeout=20s")
    name = lab.wait_for(lambda: started_on(lab), 120, f"{RSC} started")
    yield lab.vm(name)
    for vm in lab.nodes:  # whatever happened, every node has storha again
        vm.run(f"dpkg -i {storhalab.DEB_IN_VM}", check=False)
    # `crm resource start` left target-role=Started on the resource, which
    # the lab's reset (rsc_defaults target-role=Stopped) would not override.
    node.run(f"crm resource stop {RSC}", check=False)
    lab.reset_cluster()


def test_status_shows_the_floating_ip(lab, vip):
    r = vip.run("storha status --json", check=False)
    doc = json.loads(r.out)
    assert doc["pacemaker"] is True and doc["node"] == vip.name, doc
    fip = [f for f in doc["floating_ips"] if f["resource"] == RSC]
    assert fip and fip[0]["ip"] == IP and fip[0]["started_on"] == [vip.name], doc
    assert fip[0]["here_on"] and fip[0]["link_up"] is True, doc
    assert not [p for p in doc["problems"] if RSC in p], doc
    other = [vm for vm in lab.nodes if vm.name != vip.name][0]
    doc = json.loads(other.run("storha status --json", check=False).out)
    fip = [f for f in doc["floating_ips"] if f["resource"] == RSC]
    assert fip and fip[0]["here_on"] is None, doc


def test_upgrade_leaves_a_running_resource_alone(lab, vip):
    before = last_op(vip)
    assert before[0] == "start", before
    since = {vm.name: log_lines(vm) for vm in lab.nodes}
    # The same package again, then a newer one made from it.
    vip.run(f"dpkg -i {storhalab.DEB_IN_VM}")
    vip.run(f"rm -rf /tmp/pkg-new && dpkg-deb -R {storhalab.DEB_IN_VM} /tmp/pkg-new && "
            "sed -i 's/^Version: .*/Version: 99.0.0-1/' /tmp/pkg-new/DEBIAN/control && "
            "dpkg-deb --root-owner-group -b /tmp/pkg-new /tmp/storha-new.deb >/dev/null && "
            "dpkg -i /tmp/storha-new.deb")
    assert vip.run("dpkg-query -W -f='${Version}' storha").out == "99.0.0-1"
    # Pacemaker logs a recurring monitor only when its result changes, so
    # the resource is watched for three monitor intervals on the new binary.
    end = time.monotonic() + 15
    while time.monotonic() < end:
        assert healthy(lab, vip.name), vip.run("crm_mon -1 -f", check=False).out
        time.sleep(1)
    for vm in lab.nodes:
        logged = stop_or_start_logged(new_log(vm, since[vm.name]))
        assert not logged, f"{vm.name}: {logged}"
    assert last_op(vip) == before
    assert f"inet {IP}/24" in vip.run("ip -4 addr show").out
    # Back to the lab's own version (a downgrade, for dpkg).
    vip.run(f"dpkg -i {storhalab.DEB_IN_VM}")
    assert last_op(vip) == before


def test_removal_refused_while_active_then_allowed(lab, vip):
    r = vip.run("dpkg -r storha", check=False)
    assert r.rc != 0, r
    assert "not removed" in r.err and RSC in r.err, r
    # Still installed (dpkg -r leaves the selection at deinstall).
    assert vip.run("dpkg-query -W -f='${Status}' storha").out.endswith(" ok installed")
    assert vip.run("test -x /usr/lib/ocf/resource.d/storha/floating-ip", check=False).ok
    assert started_on(lab) == vip.name

    vip.run(f"crm resource stop {RSC}")
    lab.wait_for(lambda: not lab.active_resources(), 120, f"{RSC} stopped")
    vip.run("dpkg -r storha")
    assert not vip.run("test -e /usr/bin/storha", check=False).ok
    assert not vip.run("test -e /usr/lib/ocf/resource.d/storha/floating-ip", check=False).ok
    vip.run(f"dpkg -i {storhalab.DEB_IN_VM}")
    assert vip.run("storha --version").out.startswith("storha ")
    vip.run(f"crm resource start {RSC}")
    assert lab.wait_for(lambda: started_on(lab), 120, f"{RSC} started again")
