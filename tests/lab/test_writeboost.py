# SPDX-License-Identifier: GPL-2.0-or-later
"""A dm-writeboost device over a node's "HDD" with its "NVMe" as the cache."""

import storhalab

HDD = "/dev/vdb"
NVME = storhalab.session_cache_dev()  # the "NVMe": the cache disk


def test_writeboost_device(node1):
    vm = node1
    vm.run(f"test -b {NVME} && test -b {HDD}")
    vm.run("modprobe dm-writeboost")
    # A zeroed first sector makes writeboost format the cache.
    vm.run(f"wipefs -qa {HDD}; dd if=/dev/zero of={NVME} bs=1M count=1 oflag=direct status=none")
    try:
        vm.run(f"dmsetup create wbdev --table \"0 $(blockdev --getsz {HDD}) writeboost {HDD} {NVME}\"")
        table = vm.run("dmsetup table wbdev").out
        assert "writeboost" in table, table
        vm.run("mkfs.ext4 -q -F /dev/mapper/wbdev && mkdir -p /mnt/wb && mount /dev/mapper/wbdev /mnt/wb")
        vm.run("dd if=/dev/urandom of=/mnt/wb/data bs=1M count=8 status=none && sync")
        checksum = vm.run("sha256sum < /mnt/wb/data").out
        vm.run("umount /mnt/wb && mount /dev/mapper/wbdev /mnt/wb")
        assert vm.run("sha256sum < /mnt/wb/data").out == checksum
        status = vm.run("dmsetup status wbdev").out
        assert "writeboost" in status, status
        vm.run("umount /mnt/wb")
    finally:
        vm.run("umount /mnt/wb", check=False)
        vm.run("dmsetup remove wbdev", check=False)
    assert "wbdev" not in vm.run("dmsetup ls").out
