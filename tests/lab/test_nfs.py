# SPDX-License-Identifier: GPL-2.0-or-later
"""An NFS export on a node, mounted from the client VM."""

EXPORT = "/srv/nfs-test"


def test_client_mounts_export(node1, client):
    node1.run(f"mkdir -p {EXPORT} && echo from-node1 > {EXPORT}/hello")
    node1.run("systemctl start nfs-server", timeout=180)
    node1.run(f"exportfs -o rw,no_root_squash,sync,fsid=77 '192.168.77.0/24:{EXPORT}'")
    try:
        client.run("mkdir -p /mnt/nfs")
        client.run(f"mount -t nfs -o vers=4.2,timeo=100 {node1.ip}:{EXPORT} /mnt/nfs", timeout=180)
        assert client.run("cat /mnt/nfs/hello").out == "from-node1\n"
        client.run("echo from-client > /mnt/nfs/back && sync")
        assert node1.run(f"cat {EXPORT}/back").out == "from-client\n"
        assert "nfs4" in client.run("grep /mnt/nfs /proc/mounts").out
    finally:
        client.run("umount /mnt/nfs", check=False, timeout=120)
        node1.run(f"exportfs -u '192.168.77.0/24:{EXPORT}'", check=False)
