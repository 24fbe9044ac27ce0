# SPDX-License-Identifier: GPL-2.0-or-later
"""storha's nfs-export in the lab: ocf-tester with the server managed by the
agent, hostile parameters, exit codes side by side with ClusterLabs'
exportfs, and a planned switchover under Pacemaker (DRBD 8.4, Filesystem,
nfs-export, floating-ip) while a client writes self-checking records over
NFSv3 and NFSv4.2."""

import shlex

import drbd
import storhalab

AGENT = "/usr/lib/ocf/resource.d/storha/nfs-export"
EXPORTFS = "/usr/lib/ocf/resource.d/heartbeat/exportfs"
NET = f"{storhalab.SUBNET}.0/24"
VIP = storhalab.FREE_IPS[5]
MNT = "/srv/nfs"          # the DRBD filesystem
DATA = f"{MNT}/data"      # the export
STATE = f"{MNT}/state"    # the server's shared state


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


CRM = f"""
primitive p_drbd ocf:linbit:drbd params drbd_resource={drbd.RESOURCE} \\
    op monitor interval=29s role=Promoted timeout=60s \\
    op monitor interval=31s role=Unpromoted timeout=60s \\
    op start timeout=240s op stop timeout=100s op promote timeout=90s op demote timeout=90s
clone ms_drbd p_drbd meta promotable=true promoted-max=1 promoted-node-max=1 \\
    clone-max=2 clone-node-max=1 notify=true
primitive p_fs ocf:heartbeat:Filesystem \\
    params device=/dev/drbd0 directory={MNT} fstype=ext4 \\
    op monitor interval=20s timeout=60s op start timeout=120s op stop timeout=120s
primitive p_nfs ocf:storha:nfs-export \\
    params directory={DATA} clientspec={NET} options=rw,sync,no_root_squash,no_subtree_check \\
        fsid=101 create_directory=true nfs_shared_infodir={STATE} nfs_server_scope=storha-lab \\
        nfs_ip={VIP} lease_time=15 grace_time=15 \\
    op monitor interval=10s timeout=30s \\
    op monitor interval=31s timeout=30s OCF_CHECK_LEVEL=10 \\
    op start timeout=120s op stop timeout=120s
primitive p_vip ocf:storha:floating-ip params ip={VIP} cidr_netmask=24 \\
    op monitor interval=10s timeout=20s
group g_nfs p_fs p_nfs p_vip
colocation c_nfs_on_primary inf: g_nfs ms_drbd:Promoted
order o_promote_before_nfs Mandatory: ms_drbd:promote g_nfs:start
location l_nfs_nodes g_nfs rule -inf: #uname ne node1 and #uname ne node2
location l_drbd_nodes ms_drbd rule -inf: #uname ne node1 and #uname ne node2
"""

# Writes record N at offset N*64: "N sha256(N,payload)[:32] payload", each
# fsync'd; prints N to the acknowledgement log only after fsync returned.
WRITER = r"""
import hashlib, os, sys, time
path, acks = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
log = open(acks, "a")
n = 0
while not os.path.exists("/tmp/stop-writers"):
    payload = ("%016d" % (n * 7919)).encode()
    body = b"%010d " % n + hashlib.sha256(b"%d:" % n + payload).hexdigest()[:32].encode() + b" " + payload
    rec = body.ljust(63, b".") + b"\n"
    os.pwrite(fd, rec, n * 64)
    os.fsync(fd)
    log.write("%d\n" % n); log.flush(); os.fsync(log.fileno())
    n += 1
    time.sleep(0.05)
"""

CHECKER = r"""
import hashlib, sys
data = open(sys.argv[1], "rb").read()
acked = [int(x) for x in open(sys.argv[2]).read().split()]
bad = []
for n in acked:
    rec = data[n * 64:(n + 1) * 64]
    try:
        seq, digest, payload = rec.rstrip(b"\n").rstrip(b".").split(b" ")
        ok = int(seq) == n and digest == hashlib.sha256(b"%d:" % n + payload).hexdigest()[:32].encode()
    except ValueError:
        ok = False
    if not ok:
        bad.append(n)
print(len(acked), len(bad), bad[:10])
"""


def located(lab, rsc):
    return [n for n, role in lab.resource_roles(rsc).items() if role == "Started"]


def test_switchover_under_pacemaker_keeps_every_acknowledged_write(cluster, node1, node2, client):
    lab = cluster
    nodes = [node1, node2]
    for vm in nodes:
        quiet_server(vm)
        vm.run(f"mkdir -p {MNT}")
    drbd.prepare(lab, nodes)
    node1.run(f"drbdadm primary {drbd.RESOURCE} && mkfs.ext4 -q -F /dev/drbd0 && "
              f"drbdadm secondary {drbd.RESOURCE}", timeout=300)
    drbd.down(lab, nodes)
    mounts = {"v3": "vers=3,proto=tcp,nolock", "v42": "vers=4.2"}
    try:
        node1.put_bytes("/tmp/nfs.crm", CRM)
        node1.run("crm configure load update /tmp/nfs.crm", timeout=300)
        first = lab.wait_for(lambda: located(lab, "p_vip"), 600, "g_nfs started",
                             describe=lambda: node1.run("crm_mon -1 -r", check=False).out)[0]
        primary = lab.vm(first)
        other = next(n for n in nodes if n is not primary)
        assert primary.run("findmnt -n -o SOURCE /var/lib/nfs", check=False).out.strip() != ""
        assert primary.run("cat /proc/fs/nfsd/threads").out.strip() == "8"

        client.put_bytes("/tmp/writer.py", WRITER)
        client.put_bytes("/tmp/checker.py", CHECKER)
        client.run("rm -f /tmp/stop-writers /tmp/acks-*")
        for name, opts in mounts.items():
            client.run(f"mkdir -p /mnt/{name} && mount -t nfs -o {opts},hard,timeo=50 "
                       f"{VIP}:{DATA} /mnt/{name}", timeout=240)
            assert DATA in client.run(f"findmnt -n -o SOURCE /mnt/{name}").out
            client.run(f"setsid python3 /tmp/writer.py /mnt/{name}/records-{name} "
                       f"/tmp/acks-{name} </dev/null >/tmp/writer-{name}.log 2>&1 &")

        def acked(name):
            return len(client.run(f"cat /tmp/acks-{name}", check=False).out.split())

        lab.wait_for(lambda: all(acked(n) >= 20 for n in mounts), 120, "writers running")
        before = {n: acked(n) for n in mounts}

        node1.run(f"crm_resource --move --resource g_nfs --node {other.name}")
        lab.wait_for(lambda: located(lab, "p_vip") == [other.name], 600,
                     f"g_nfs moved to {other.name}",
                     describe=lambda: node1.run("crm_mon -1 -r", check=False).out)
        node1.run("crm_resource --clear --resource g_nfs")
        # The old node let go of everything: no threads, no bind mount.
        assert primary.run("cat /proc/fs/nfsd/threads", check=False).out.strip() in ("", "0")
        assert primary.run("findmnt -n /var/lib/nfs", check=False).out.strip() == ""
        # Both writers carry on through the new server.
        lab.wait_for(lambda: all(acked(n) >= before[n] + 40 for n in mounts), 300,
                     "writers resumed after the switchover",
                     describe=lambda: str({n: acked(n) for n in mounts}))
        client.run("touch /tmp/stop-writers; sleep 2")
        for name, opts in mounts.items():
            client.run(f"umount /mnt/{name}", timeout=180)
            client.run(f"mount -t nfs -o {opts} {VIP}:{DATA} /mnt/{name}", timeout=240)
            out = client.run(f"python3 /tmp/checker.py /mnt/{name}/records-{name} "
                             f"/tmp/acks-{name}").out.split(" ", 2)
            assert int(out[0]) > before[name] and out[1] == "0", f"{name}: {out}"
            client.run(f"umount /mnt/{name}", timeout=180)
        failed = node1.run("crm_mon -1 -r --output-as=xml", check=False).out
        assert "<failure " not in failed, failed
    finally:
        client.run("touch /tmp/stop-writers; sleep 1; umount -f /mnt/v3 /mnt/v42", check=False,
                   timeout=180)
        lab.reset_cluster()
        drbd.down(lab, nodes)
