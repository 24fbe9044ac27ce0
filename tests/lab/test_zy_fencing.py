# SPDX-License-Identifier: GPL-2.0-or-later
"""STONITH for real: a 2-node cluster with stonith enabled fences a node
through fence_ipstrip and the power strip emulator, whose outlets drive the
VMs' power (off = hard power-off through QMP, on = boot).

node2 is cut off from node1's corosync traffic (a blackhole route on node2,
so that the host can still watch it over ssh); node1's pacemaker-fenced runs
fence_ipstrip, which switches node2's outlet off and on again (a reboot); the
emulator's hook powers the VM off and boots it. The test checks that node2
really went down (a new boot id), that `stonith_admin --history` records the
fencing as successful, that node2 rejoins once its cluster stack starts, and
that the strip's password shows in no `ps` sample, log or CIB of either node
during all of it.

Runs late in the two-node topology (it takes node2 away for a while)."""

import shlex
import time
import xml.etree.ElementTree as ET

import pytest

import storhalab
from strip import Strip

pytestmark = pytest.mark.fencing

SECRET_FILE = "/etc/storha/fence-strip.secret"
PS_LOG = "/run/storha-ps-samples"


def boot_id(vm):
    return vm.run("cat /proc/sys/kernel/random/boot_id").out.strip()


def fence_history(vm, target):
    """stonith_admin's history of target as (action, status, delegate, target) tuples."""
    r = vm.run(f"stonith_admin --history {target} --output-as=xml", check=False)
    out = []
    try:
        root = ET.fromstring(r.out)
    except ET.ParseError:
        return out
    for e in root.iter("fence_event"):
        out.append((e.get("action"), e.get("status"), e.get("delegate"), e.get("target")))
    return out


@pytest.mark.nodes(2)
def test_node2_fenced_through_the_strip_and_rejoins(cluster):
    lab = cluster
    node1, node2 = lab.vm("node1"), lab.vm("node2")
    node1.run("stonith_admin --cleanup --history '*'", check=False)
    strip = Strip(["node1", "node2"])
    sampler = None
    try:
        port = strip.ports["http"]
        for n in (node1, node2):
            n.put_bytes(SECRET_FILE, strip.password + "\n", mode=0o600)
        # The device may fence node2 only (its map names no other node), and
        # only from node1: node2 cannot shoot back, so the outcome of the split
        # is the one the test expects. Shelly numbers its switches from 0, as
        # the plug numbers do: switch 1 is the strip's second outlet.
        crm = f"""
primitive st-strip stonith:fence_ipstrip \\
    params device=shelly ip={storhalab.HOST_IP} ipport={port} username=admin \\
        password_script="cat {SECRET_FILE}" \\
        pcmk_host_map="node2:1" \\
        power_wait=1 power_timeout=60 \\
    op monitor interval=20s timeout=30s
location l-st-strip-not-on-node2 st-strip -inf: node2
property stonith-enabled=true stonith-timeout=180s
"""
        node1.put_bytes("/tmp/fencing.crm", crm)
        node1.run("crm configure load update /tmp/fencing.crm", timeout=300)
        lab.wait_for(lambda: lab.resource_roles("st-strip").get("node1") == "Started", 180,
                     "st-strip started on node1",
                     describe=lambda: node1.run("crm_mon -1 -r", check=False).out)
        # The fencer knows the device can fence node2, and not node1.
        assert "st-strip" in node1.run("stonith_admin --list node2").out
        assert "st-strip" not in node1.run("stonith_admin --list node1", check=False).out

        # Sample every process's command line on node1 while the fencing runs.
        node1.run(f"rm -f {PS_LOG}; systemd-run --unit=storha-ps-sampler --collect "
                  f"sh -c 'while :; do ps -eo args >> {PS_LOG}; sleep 0.2; done'")
        sampler = node1
        before = boot_id(node2)
        assert strip.state()["outlets"]["2"]["on"] is True

        # Cut node2 off: corosync's packets to node1 go nowhere. ssh from the
        # host still reaches it.
        t0 = time.monotonic()
        node2.run(f"ip route add blackhole {storhalab.vm_ip('node1')}/32")
        # The shared ssh connection to node2 dies with its power: later
        # commands open their own.
        node2.ssh_close()

        def fenced():
            return [h for h in fence_history(node1, "node2")
                    if h[0] in ("reboot", "off") and h[1] == "success"]
        events = lab.wait_for(fenced, 300, "node2 fenced, as stonith_admin --history records",
                              describe=lambda: node1.run("stonith_admin --history '*' -V; "
                                                         "crm_mon -1 -r", check=False).out
                              + "\n--- emulator\n" + strip.text())
        took = time.monotonic() - t0
        assert events[0][2] == "node1" and events[0][3] == "node2", events
        history_text = node1.run("stonith_admin --history node2").out
        assert "node2" in history_text and "successful" in history_text, history_text

        # The strip really cut node2's power and gave it back: the outlet went
        # OFF then ON, and node2 is a freshly booted machine.
        hist = strip.state()["history"]
        assert [2, False] in hist and [2, True] in hist[hist.index([2, False]):], hist
        assert [1, False] not in hist, f"node1's outlet was never switched off: {hist}"
        assert storhalab.VM(lab, "node2").pid(), "node2 is powered on again"
        node2.wait_ssh()
        assert boot_id(node2) != before, "node2 was power-cycled"
        print(f"node2 fenced (reboot through the strip) {took:.1f} s after its corosync was cut")

        # Rejoin: the fresh boot has no blackhole route; the cluster stack
        # starts and node2 is a member again.
        node2.run("systemctl start corosync pacemaker")
        lab.wait_cluster(online=lab.node_names, timeout=300)
        assert not [h for h in fence_history(node1, "node2") if h[1] not in ("success",)], \
            fence_history(node1, "node2")

        # No secret anywhere: ps samples taken during the fencing, both
        # nodes' journals and pacemaker logs, the CIB; the emulator's log.
        node1.run("systemctl stop storha-ps-sampler", check=False)
        samples = node1.run(f"cat {PS_LOG}").out
        assert "fence_ipstrip" in samples or "storha" in samples or len(samples) > 1000, \
            "the ps sampler ran"
        pw = shlex.quote(strip.password)
        for n in (node1, node2):
            where = ("journalctl -b --no-pager -o cat; cat /var/log/pacemaker/pacemaker.log "
                     f"/var/log/corosync/corosync.log {PS_LOG} 2>/dev/null; cibadmin -Q")
            r = n.run(f"({where}) | grep -c -F -- {pw}", check=False)
            assert r.out.strip() == "0", f"{n.name}: the strip's password leaked: {r}"
        assert strip.password not in strip.text()
    finally:
        if sampler is not None:
            sampler.run("systemctl stop storha-ps-sampler", check=False)
        node2.ssh_close()
        if not storhalab.VM(lab, "node2").pid():
            lab.boot_again("node2")
        node2.wait_ssh()
        node2.run(f"ip route del blackhole {storhalab.vm_ip('node1')}/32", check=False)
        node2.run("systemctl start corosync pacemaker", check=False)
        lab.wait_cluster(online=lab.node_names, timeout=300)
        node1.run("crm configure property stonith-enabled=false", check=False)
        for n in (node1, node2):
            n.run(f"rm -f {SECRET_FILE} /tmp/fencing.crm", check=False)
        strip.stop()
