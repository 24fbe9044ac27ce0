# SPDX-License-Identifier: GPL-2.0-or-later
"""A DRBD 8.4 resource over the nodes' "HDD" (/dev/vdb), for the lab tests
and baselines."""

RESOURCE = "r0"
DISK = "/dev/vdb"
PORT = 7789


def res_file(nodes):
    """The resource in drbd 8.4 syntax (drbdadm drives the 8.4 module through
    its drbdadm-84 helper)."""
    lines = [f"resource {RESOURCE} {{",
             "\tdevice /dev/drbd0;",
             f"\tdisk {DISK};",
             "\tmeta-disk internal;"]
    for vm in nodes:
        lines.append(f"\ton {vm.name} {{ address {vm.ip}:{PORT}; }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def prepare(lab, nodes):
    """Fresh metadata on both nodes, the resource up and connected, and the
    initial sync skipped (the disks are new): both end UpToDate, Secondary."""
    conf = res_file(nodes)

    def one(vm):
        vm.run(f"drbdadm down {RESOURCE} 2>/dev/null; true")
        vm.put_bytes(f"/etc/drbd.d/{RESOURCE}.res", conf)
        # Zero the start (file systems) and the end (internal metadata).
        vm.run(f"wipefs -qa {DISK}; "
               f"dd if=/dev/zero of={DISK} bs=1M count=2 oflag=direct status=none; "
               f"dd if=/dev/zero of={DISK} bs=1M seek=$(( $(blockdev --getsize64 {DISK}) / 1048576 - 2 )) "
               f"count=2 oflag=direct status=none")
        vm.run(f"modprobe drbd && drbdadm create-md --force {RESOURCE} </dev/null")
        vm.run(f"drbdadm up {RESOURCE}")
    lab.each(nodes, one)
    first = nodes[0]
    lab.wait_for(lambda: "cs:Connected" in first.run("cat /proc/drbd").out, 120,
                 "DRBD connected", describe=lambda: first.run("cat /proc/drbd").out)
    first.run(f"drbdadm -- --clear-bitmap new-current-uuid {RESOURCE}")
    for vm in nodes:
        lab.wait_for(lambda: "ds:UpToDate/UpToDate" in vm.run("cat /proc/drbd").out, 120,
                     f"DRBD UpToDate on {vm.name}", describe=lambda: vm.run("cat /proc/drbd").out)


def down(lab, nodes):
    lab.each(nodes, lambda vm: vm.run(f"drbdadm down {RESOURCE}", check=False))
