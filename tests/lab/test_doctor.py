# SPDX-License-Identifier: GPL-2.0-or-later
"""`storha doctor` on a node of the running cluster made unready on purpose:
drbd.service and nfs-server.service enabled at boot, and a DRBD resource
whose section names another host. Doctor names each problem with its fix,
exits 1, and passes again once the fixes are applied."""

import json

import pytest

pytestmark = pytest.mark.nodes(2)

RES_FILE = "/etc/drbd.d/doctor.res"


def res_text(lab, me):
    lines = ["resource doctor {", "\tdevice /dev/drbd7;", "\tdisk /dev/vdb;",
             "\tmeta-disk internal;"]
    for vm in lab.nodes:
        lines.append(f"\ton {me if vm.name == lab.nodes[0].name else vm.name} "
                     f"{{ address {vm.ip}:7797; }}")
    return "\n".join(lines + ["}"]) + "\n"


def doctor(vm):
    r = vm.run("storha doctor --json", check=False, timeout=150)
    assert r.rc in (0, 1), r
    report = json.loads(r.out)
    assert (r.rc == 1) == (report["failed"] > 0), r.out
    return r.rc, {c["check"]: c for c in report["checks"]}


def failed(checks):
    return {k: c for k, c in checks.items() if c["status"] == "fail"}


def test_doctor_names_each_problem_and_passes_once_fixed(cluster, node1):
    lab = cluster
    node1.put_bytes(RES_FILE, res_text(lab, node1.name))
    try:
        rc, checks = doctor(node1)
        assert rc == 0, failed(checks)
        for name in ("module drbd", "module dm_writeboost", "module nfsd", "module dm_mod",
                     "tool drbdadm", "tool corosync", "tool pacemaker", "tool nfs",
                     "name pacemaker", "name corosync", "name drbd doctor",
                     "service drbd.service", "service nfs-server.service", "corosync link 0"):
            assert checks[name]["status"] == "ok", checks[name]
        assert "kernel module 8.4" in checks["tool drbdadm"]["detail"]

        # Unready: both units enabled at boot, DRBD's section for another host.
        node1.run("systemctl enable drbd.service nfs-server.service")
        node1.put_bytes(RES_FILE, res_text(lab, "elsewhere"))
        rc, checks = doctor(node1)
        bad = failed(checks)
        assert rc == 1
        assert set(bad) == {"service drbd.service", "service nfs-server.service",
                            "name drbd doctor"}, bad
        assert bad["service drbd.service"]["fix"] == "systemctl disable drbd.service"
        assert bad["service nfs-server.service"]["fix"] == "systemctl disable nfs-server.service"
        assert f"no `on {node1.name}` section" in bad["name drbd doctor"]["detail"], bad
        assert RES_FILE in bad["name drbd doctor"]["fix"], bad
        text = node1.run("storha doctor", check=False, timeout=150)
        assert text.rc == 1 and "NOT ready: 3 check(s) failed" in text.out, text.out

        # The fixes, as doctor gave them.
        node1.run(bad["service drbd.service"]["fix"])
        node1.run(bad["service nfs-server.service"]["fix"])
        node1.put_bytes(RES_FILE, res_text(lab, node1.name))
        rc, checks = doctor(node1)
        assert rc == 0, failed(checks)
    finally:
        node1.run(f"rm -f {RES_FILE}; systemctl disable drbd.service nfs-server.service",
                  check=False)
