# SPDX-License-Identifier: GPL-2.0-or-later
"""storha's nfs-export in the lab: ocf-tester with the server managed by the
agent, hostile parameters, exit codes side by side with ClusterLabs'
exportfs, NFSv4.2 paths with and without a pseudo-root, an IPv6 client
specification and an NFSv4-only server. The planned
switchover and the power-off failover under Pacemaker, with a client writing
self-checking records over NFSv3 and NFSv4.2, are the whole stack's test
(test_zx_stack.py)."""

import shlex

import storhalab

AGENT = "/usr/lib/ocf/resource.d/storha/nfs-export"
EXPORTFS = "/usr/lib/ocf/resource.d/heartbeat/exportfs"
NET = f"{storhalab.SUBNET}.0/24"


def agent(vm, action, params, path=AGENT, env="", check=False):
    kv = " ".join(f"OCF_RESKEY_{k}={shlex.quote(v)}" for k, v in params.items())
    return vm.run(f"env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=p_nx {env} {kv} "
                  f"{path} {action}", check=check, timeout=300)


def quiet_server(vm):
    """No NFS server of anybody else's on vm (earlier tests start systemd's)."""
    vm.run("systemctl stop nfs-server nfs-mountd rpc-statd nfsdcld 2>/dev/null; "
           "exportfs -ua; rpc.nfsd 0 2>/dev/null; true", timeout=120)


def etab(vm):
    return vm.run("cat /var/lib/nfs/etab", check=False).out


def test_ocf_tester_and_hostile_parameters(node1):
    quiet_server(node1)
    node1.run("mkdir -p /srv/nx1 /srv/nx2 && rm -f /tmp/pwned")
    r = node1.run(f"ocf-tester -n nx -o directory='/srv/nx1 /srv/nx2' -o clientspec='{NET} *' "
                  f"-o fsid='91 92' -o options=rw,sync -o lease_time=10 -o grace_time=10 "
                  f"{AGENT}", check=False, timeout=600)
    assert r.rc == 0 and "passed all tests" in r.out, str(r)
    assert node1.run("cat /proc/fs/nfsd/threads", check=False).out.strip() in ("", "0")

    ok = {"directory": "/srv/nx1", "clientspec": NET, "fsid": "93", "options": "rw,sync"}
    hostile = [
        ({"directory": "/srv/nx1;touch /tmp/pwned"}, "contains ';'"),
        ({"directory": "/srv/nx1/../../etc"}, "'..' component"),
        ({"directory": "/srv/nx1\n/etc *(rw)"}, "control character"),
        ({"options": "rw /etc *(rw,no_root_squash)"}, "contains ' '"),
        ({"options": "rw),*(rw"}, "contains ')'"),
        ({"options": "rw,async"}, "async"),
        ({"clientspec": "*;touch /tmp/pwned"}, "not valid"),
        ({"fsid": "93,94"}, "comma"),
        ({"fsid": "$(touch /tmp/pwned)"}, "neither an integer"),
    ]
    for extra, why in hostile:
        for action in ("validate-all", "start"):
            r = agent(node1, action, {**ok, **extra})
            assert r.rc == 6 and "ocf-exit-reason:" in r.err and why in r.err, str(r)
        assert agent(node1, "stop", {**ok, **extra}).rc == 0
    assert node1.run("test -e /tmp/pwned", check=False).rc != 0
    assert "/etc" not in etab(node1) and "/srv/nx1" not in etab(node1), etab(node1)
    assert node1.run("cat /proc/fs/nfsd/threads", check=False).out.strip() in ("", "0")

    # Start, the deep monitor (real RPC calls), and a monitor that forks nothing.
    try:
        assert agent(node1, "start", ok).rc == 0
        r = agent(node1, "monitor", ok, env="OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=10000")
        assert r.rc == 0, str(r)
        r = node1.run(f"env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=p_nx "
                      f"OCF_RESKEY_CRM_meta_interval=10000 "
                      + " ".join(f"OCF_RESKEY_{k}={shlex.quote(v)}" for k, v in ok.items())
                      + f" strace -f -qq -e trace=execve -o /tmp/nx.strace {AGENT} monitor",
                      check=False)
        assert r.rc == 0, str(r)
        execs = node1.run("grep -c execve /tmp/nx.strace").out.strip()
        assert execs == "1", node1.run("cat /tmp/nx.strace").out
        # mountd hung: the NULL call to nfsd still passes, the EXPORT call does not.
        node1.run("pkill -STOP -x rpc.mountd")
        try:
            r = agent(node1, "monitor", ok, env="OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=10000")
            assert r.rc == 1 and "rpc.mountd does not answer" in r.err, str(r)
        finally:
            node1.run("pkill -CONT -x rpc.mountd")
    finally:
        assert agent(node1, "stop", ok).rc == 0
    assert agent(node1, "monitor", ok).rc == 7


def test_nfsv42_with_and_without_a_pseudo_root(node1, client):
    """NFSv4 paths: without an fsid=root export a client mounts the full
    path; with a read-only pseudo-root the data export is a mount point
    below it, exported on its own, and mounted by its path below the root."""
    quiet_server(node1)
    node1.run("mkdir -p /srv/v4plain /srv/v4root/data && "
              "(mountpoint -q /srv/v4root/data || "
              "mount -t tmpfs -o size=8m v4data /srv/v4root/data)")
    opts = "rw,sync,no_root_squash,no_subtree_check"
    plain = {"directory": "/srv/v4plain", "clientspec": NET, "fsid": "71", "options": opts}
    root = {"directory": "/srv/v4root", "clientspec": NET, "fsid": "root",
            "options": "ro,sync,no_subtree_check"}
    data = {"directory": "/srv/v4root/data", "clientspec": NET, "fsid": "72", "options": opts,
            "manage_server": "false"}
    mnt = "/mnt/v4"
    client.run(f"mkdir -p {mnt}")
    try:
        assert agent(node1, "start", plain).rc == 0
        client.run(f"mount -t nfs -o vers=4.2 {node1.ip}:/srv/v4plain {mnt}", timeout=240)
        client.run(f"echo plain > {mnt}/f && sync")
        assert node1.run("cat /srv/v4plain/f").out == "plain\n"
        client.run(f"umount {mnt}", timeout=120)
        assert agent(node1, "stop", plain).rc == 0

        assert agent(node1, "start", root).rc == 0
        assert agent(node1, "start", data).rc == 0
        r = agent(node1, "monitor", data, env="OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=10000")
        assert r.rc == 0, str(r)
        client.run(f"mount -t nfs -o vers=4.2 {node1.ip}:/data {mnt}", timeout=240)
        assert client.run(f"findmnt -n -o SOURCE {mnt}").out.strip() == f"{node1.ip}:/data"
        client.run(f"echo under-root > {mnt}/f && sync")
        assert node1.run("cat /srv/v4root/data/f").out == "under-root\n"
        client.run(f"umount {mnt}", timeout=120)
        # The pseudo-root itself is read-only and shows the data export.
        client.run(f"mount -t nfs -o vers=4.2 {node1.ip}:/ {mnt}", timeout=240)
        assert "data" in client.run(f"ls {mnt}").out
        assert client.run(f"touch {mnt}/x", check=False).rc != 0
        client.run(f"umount {mnt}", timeout=120)
    finally:
        client.run(f"umount -f {mnt}", check=False, timeout=120)
        for p in (data, root, plain):
            assert agent(node1, "stop", p).rc == 0
        node1.run("umount /srv/v4root/data", check=False)
    assert "/srv/v4" not in etab(node1), etab(node1)


def test_ipv6_clientspec_and_nfsv4_only(node1, client):
    """An IPv6 subnet next to an IPv4 one in one resource, both in the
    export table; with nfsv4_only the server offers no NFSv3 and no statd,
    a v3 mount is refused and a v4.2 mount works."""
    quiet_server(node1)
    v6 = "fd00:77::/64"
    p = {"directory": "/srv/v6", "clientspec": f"{NET} [fd00:77::]/64",
         "fsid": "81", "options": "rw,sync,no_root_squash,no_subtree_check",
         "create_directory": "true", "nfsv4_only": "true"}
    mnt = "/mnt/v6"
    client.run(f"mkdir -p {mnt}")
    try:
        assert agent(node1, "start", p).rc == 0
        lines = [line for line in etab(node1).splitlines() if line.startswith("/srv/v6\t")]
        assert any(f"\t{v6}(" in line for line in lines), lines
        assert any(f"\t{NET}(" in line for line in lines), lines
        r = agent(node1, "monitor", p, env="OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=10000")
        assert r.rc == 0, str(r)
        versions = node1.run("cat /proc/fs/nfsd/versions").out.split()
        assert "-3" in versions and "+4.2" in versions, versions
        assert node1.run("pgrep -x rpc.statd", check=False).rc != 0
        r = client.run(f"mount -t nfs -o vers=3,proto=tcp,retry=0 {node1.ip}:/srv/v6 {mnt}",
                       check=False, timeout=240)
        assert r.rc != 0, str(r)
        client.run(f"mount -t nfs -o vers=4.2 {node1.ip}:/srv/v6 {mnt}", timeout=240)
        client.run(f"echo v4only > {mnt}/f && sync")
        assert node1.run("cat /srv/v6/f").out == "v4only\n"
        client.run(f"umount {mnt}", timeout=120)
    finally:
        client.run(f"umount -f {mnt}", check=False, timeout=120)
        assert agent(node1, "stop", p).rc == 0
    assert "/srv/v6" not in etab(node1), etab(node1)
    assert node1.run("cat /proc/fs/nfsd/threads", check=False).out.strip() in ("", "0")


def codes(vm, path, params, steps, env=""):
    out = []
    for action in steps:
        e = env + (" OCF_RESKEY_CRM_meta_interval=10000" if action == "monitor-r" else "")
        out.append(agent(vm, action.replace("monitor-r", "monitor"), params, path=path, env=e).rc)
    return out


# Where nfs-export answers differently from exportfs on purpose, and its
# answer: an fsid that is no integer, UUID or "root" is refused by
# validate-all and start (exportfs' validate-all passes it on to
# exportfs(8)). exportfs' codes there are printed, not compared.
DEVIATIONS = {("fsid not a number", "validate-all"): 6,
              ("fsid not a number", "start"): 6}


def test_exit_codes_match_exportfs(node1):
    """ClusterLabs' exportfs (resource-agents 4.12) and nfs-export with
    exportfs' parameters (the server left to systemd) in the same
    environments."""
    quiet_server(node1)
    node1.run("mkdir -p /srv/cx1 /srv/cx2 && rm -rf /srv/cx-missing && "
              "systemctl start nfs-server", timeout=180)
    base = {"clientspec": NET, "options": "rw,sync"}
    cases = [
        ("missing directory", {"directory": "/srv/cx-missing", "fsid": "61"},
         ["validate-all", "start", "monitor", "stop"]),
        ("fsid with a comma", {"directory": "/srv/cx1", "fsid": "61,62"},
         ["validate-all", "start", "stop"]),
        ("uuid fsid for two directories",
         {"directory": "/srv/cx1 /srv/cx2", "fsid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
         ["validate-all", "start", "stop"]),
        ("fsid not a number", {"directory": "/srv/cx1", "fsid": "abc"},
         ["validate-all", "start", "stop"]),
        ("several directories", {"directory": "/srv/cx1 /srv/cx2", "fsid": "63"},
         ["start", "monitor-r", "start", "stop", "stop", "monitor"]),
        ("double start and stop", {"directory": "/srv/cx1", "fsid": "65"},
         ["monitor", "start", "start", "monitor-r", "stop", "stop", "monitor"]),
    ]
    try:
        diffs = []
        for name, params, steps in cases:
            p = {**base, **params}
            theirs = codes(node1, EXPORTFS, p, steps)
            ours = codes(node1, AGENT, {**p, "manage_server": "false"}, steps)
            print(f"{name}: {list(zip(steps, theirs, ours))}")
            for step, t, o in zip(steps, theirs, ours):
                want = DEVIATIONS.get((name, step), t)
                if o != want:
                    diffs.append(f"{name}: {step}: exportfs {t}, nfs-export {o}")
            node1.run("exportfs -ua")
        assert not diffs, "\n".join(diffs)
        # exportfs(8) not installed (hidden in a mount namespace): both
        # starts answer 5; nfs-export's stop 0.
        node1.put_bytes("/tmp/no-exportfs", "#!/bin/sh\nmount --bind /dev/null /usr/sbin/exportfs "
                        "&& exec \"$@\"\n", mode=0o755)
        p = {**base, "directory": "/srv/cx1", "fsid": "66"}
        got = {}
        for path, extra in [(EXPORTFS, {}), (AGENT, {"manage_server": "false"})]:
            kv = " ".join(f"OCF_RESKEY_{k}={shlex.quote(v)}" for k, v in {**p, **extra}.items())
            for action in ("start", "stop"):
                r = node1.run(f"unshare -m /tmp/no-exportfs env OCF_ROOT=/usr/lib/ocf "
                              f"OCF_RESOURCE_INSTANCE=p_nx {kv} {path} {action}", check=False)
                got[(path, action)] = r.rc
        print(f"exportfs(8) missing: {got}")
        assert got[(EXPORTFS, "start")] == got[(AGENT, "start")] == 5, got
        assert got[(AGENT, "stop")] == 0, got
    finally:
        node1.run("exportfs -ua; systemctl stop nfs-server", check=False, timeout=120)
        quiet_server(node1)
