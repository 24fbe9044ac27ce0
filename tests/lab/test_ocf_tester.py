# SPDX-License-Identifier: GPL-2.0-or-later
"""ocf-tester inside a VM: the reference agents, then storha's own."""

import storhalab

OCF = "/usr/lib/ocf/resource.d"


def ocf_tester(vm, name, params, agent):
    opts = " ".join(f"-o {k}={v}" for k, v in params.items())
    r = vm.run(f"ocf-tester -n {name} {opts} {agent}", check=False, timeout=600)
    assert r.rc == 0 and "passed all tests" in r.out, str(r)
    return r


def test_ipaddr2(node1):
    ocf_tester(node1, "ip", {"ip": storhalab.FREE_IPS[0], "cidr_netmask": "24"},
               f"{OCF}/heartbeat/IPaddr2")


def test_exportfs(node1):
    node1.run("mkdir -p /srv/ocf-tester && systemctl start nfs-server", timeout=180)
    ocf_tester(node1, "ex", {"directory": "/srv/ocf-tester", "clientspec": "192.168.77.0/24",
                             "fsid": "78", "options": "rw"},
               f"{OCF}/heartbeat/exportfs")


def test_storha_floating_ip(node1):
    ocf_tester(node1, "fip", {"ip": storhalab.FREE_IPS[1]}, f"{OCF}/storha/floating-ip")
