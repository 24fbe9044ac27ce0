# SPDX-License-Identifier: GPL-2.0-or-later
"""A hard power-off of a node (QMP quit, as a power strip cutting the power)
is seen by the others; powered on again it boots from the same disks and
rejoins. Runs last: it takes a node away for a while."""

import os
import subprocess
import time

import pytest

pytestmark = [pytest.mark.every_topology, pytest.mark.power]

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POWER = os.path.join(TOP, "lab", "power")


def power(name, action):
    return subprocess.run([POWER, name, action], check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip()


def test_hard_power_off_seen_by_others(lab):
    victim = lab.node_names[-1]
    others = lab.node_names[:-1]
    lab.wait_cluster(online=lab.node_names)
    marker = f"/root/power-{os.getpid()}"
    lab.vm(victim).run(f"touch {marker} && sync")

    assert power(victim, "status") == "on"
    assert power(victim, "off") == "off"
    assert power(victim, "status") == "off"
    t0 = time.monotonic()
    for name in others:
        lab.wait_cluster(online=others, offline=[victim], vm=lab.vm(name), timeout=180)
        out = lab.vm(name).run("crm_mon -1").out
        assert "OFFLINE: [ " + victim + " ]" in out, out
    print(f"{victim} seen OFFLINE by {' '.join(others)} {time.monotonic() - t0:.1f} s after power-off")

    # Power back on: same disks, and the node rejoins once its cluster starts.
    assert power(victim, "on") == "on"
    vm = lab.vm(victim)
    vm.wait_ssh()
    vm.run(f"test -e {marker}")
    vm.run("systemctl start corosync pacemaker")
    lab.wait_cluster(online=lab.node_names, timeout=300)
