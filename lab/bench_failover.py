#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Failover time of the whole stack, storha's against the reference agents',
side by side in the running lab (two nodes and a client; `make bench`).

Both stacks run on the same VMs, disks, corosync, DRBD resource and nfs.conf
(lease and grace time 30 s on both sides, from /etc/nfs.conf.d, which nfsserver
reads and nfs-export is given as parameters), with stonith through the strip
emulator: storha's stack is crm-examples/stack-2node.crm (fence_ipstrip on the
emulator's Shelly face), the reference lab/reference-stack.crm
(ocf:linbit:drbd, Filesystem, nfsserver, exportfs, IPaddr2, nfsnotify,
fence_apc_snmp on the emulator's APC face). For each: the client writes
records with fsync through the floating IP, the Primary is powered off at its
outlet, and the timeline is taken from the survivor (node lost, fenced,
promoted, exported, address up, client's first write served), with the
agents' own time (the survivor's promote and starts, from the CIB), then the
old Primary rejoins and a planned switchover back is timed (crm resource move,
to the address up and to the client's first write served). ROUNDS (default 1)
failovers per stack; FLAVORS (default "storha reference") which stacks, in
that order."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import stack  # noqa: E402
import storhalab  # noqa: E402

NFS_CONF_FILE = "/etc/nfs.conf.d/storha-bench.conf"
NFS_CONF = "[nfsd]\nlease-time=30\ngrace-time=30\n"
STEPS = ["node lost", "fenced", "promoted", "exported", "address up",
         "client's first write served"]


SNMP_DEBS = ("snmp", "libsnmp40", "libsnmp-base")


def snmp_tools(lab):
    """fence_apc_snmp runs net-snmp's snmpwalk and snmpset, which the lab's
    image lacks: the host's apt fetches Debian's packages (the image is
    bookworm, as the host) and each node installs them."""
    missing = [vm for vm in lab.nodes if vm.run("command -v snmpwalk", check=False).rc]
    if not missing:
        return
    d = tempfile.mkdtemp(prefix="storha-snmp-")
    subprocess.run(["apt-get", "download", *SNMP_DEBS], cwd=d, check=True,
                   stdout=subprocess.DEVNULL)
    for vm in missing:
        for deb in sorted(os.listdir(d)):
            with open(os.path.join(d, deb), "rb") as f:
                vm.put_bytes(f"/tmp/{deb}", f.read())
        vm.run("dpkg -i " + " ".join(f"/tmp/{deb}" for deb in sorted(os.listdir(d))),
               timeout=300)
    shutil.rmtree(d, ignore_errors=True)


def one(lab, flavor):
    def say(m):
        print(f"  [{flavor}] {m}", flush=True)
    s = stack.Stack(lab, flavor=flavor, say=say)
    try:
        for vm in lab.nodes:
            vm.put_bytes(NFS_CONF_FILE, NFS_CONF)
        if flavor == "reference":
            snmp_tools(lab)
        say("preparing the disks, loading the stack")
        s.prepare()
        primary = s.load()
        s.start_writers()
        time.sleep(10)
        timeline, survivor = s.power_off(primary)
        own, ops = s.agents_time(survivor, s.cut)
        say(f"agents' own time {own:.1f} s: "
            + ", ".join(f"{rsc} {op} {t:.1f} s" for rsc, op, t in ops))
        got = s.check_records()
        say(f"records after the power-off (acknowledged, lost, written): {got}")
        say(f"{primary.name} rejoins and resyncs")
        s.rejoin(primary)
        moved = s.switchover(primary)
        say("planned switchover back: "
            + ", ".join(f"{w} {t:.1f} s" for w, t in moved.items()))
        got2 = s.check_records()
        say(f"records after the switchover (acknowledged, lost, written): {got2}")
        lost = sum(b for _, b, _ in got.values()) + sum(b for _, b, _ in got2.values())
        return {"timeline": timeline, "own": own, "ops": ops, "switchover": moved,
                "lost": lost}
    finally:
        s.teardown()
        for vm in lab.nodes:
            vm.run(f"rm -f {NFS_CONF_FILE}", check=False)


def main():
    rounds = int(os.environ.get("ROUNDS", "1"))
    lab = storhalab.Lab()
    if not (lab.state and lab.running()) or lab.client is None:
        print("bench_failover: needs a running lab with a client (make lab-up CLIENT=1)")
        return 1
    results = {"storha": [], "reference": []}
    flavors = os.environ.get("FLAVORS", "storha reference").split()
    for _ in range(rounds):
        for flavor in flavors:
            print(f"failover of the {flavor} stack", flush=True)
            try:
                results[flavor].append(one(lab, flavor))
            except storhalab.LabError as e:
                print(f"  [{flavor}] failed: {e}", flush=True)
    if not all(results[f] for f in flavors):
        return 1
    if len(flavors) < 2:
        return 0
    print()
    print(f"{'seconds from the power-off':32} {'storha':>10} {'reference':>10} {'ratio':>7}")

    def row(name, get):
        a = [get(r) for r in results["storha"]]
        b = [get(r) for r in results["reference"]]
        ma, mb = sum(a) / len(a), sum(b) / len(b)
        ratio = ma / mb if mb else float("nan")
        print(f"{name:32} {ma:10.1f} {mb:10.1f} {ratio:7.2f}")
    for step in STEPS:
        row(step, lambda r, s=step: r["timeline"][s])
    row("agents' own time (survivor)", lambda r: r["own"])
    row("planned switchover: address up", lambda r: r["switchover"]["address up"])
    row("planned switchover: client served",
        lambda r: r["switchover"].get("client's first write served", float("nan")))
    for flavor, rs in results.items():
        for r in rs:
            print(f"{flavor} operations on the survivor: "
                  + ", ".join(f"{rsc} {op} {t:.1f} s" for rsc, op, t in r["ops"]))
    lost = sum(r["lost"] for rs in results.values() for r in rs)
    print(f"acknowledged records lost: {lost}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
