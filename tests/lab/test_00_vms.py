# SPDX-License-Identifier: GPL-2.0-or-later
"""The VMs themselves: reachable, the right kernel pieces, storha installed."""

import pytest

pytestmark = pytest.mark.every_topology


def test_every_vm_answers(lab):
    for vm in lab.nodes + ([lab.client] if lab.client else []):
        r = vm.run("uname -n")
        assert r.out.strip() == vm.name


def test_drbd_module_loads(lab):
    for vm in lab.nodes:
        vm.run("modprobe drbd")
        version = vm.run("cat /proc/drbd").out
        assert "version: 8.4" in version, version


def test_writeboost_target_present(node1):
    node1.run("modprobe dm-writeboost")
    targets = node1.run("dmsetup targets").out
    assert "writeboost" in targets, targets


def test_storha_installed(lab):
    for vm in lab.nodes:
        r = vm.run("ls -l /usr/bin/storha /usr/lib/ocf/resource.d/storha/")
        assert "floating-ip" in r.out, r


def test_harness_copies_files(node1, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("storha lab\n")
    node1.put(str(src), "/tmp/lab-copy/in.txt")
    assert node1.run("cat /tmp/lab-copy/in.txt").out == "storha lab\n"
    back = tmp_path / "out.txt"
    node1.get("/tmp/lab-copy/in.txt", str(back))
    assert back.read_text() == "storha lab\n"
    r = node1.run("echo out; echo err >&2; exit 3", check=False)
    assert (r.rc, r.out, r.err) == (3, "out\n", "err\n")
