#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Baselines of the reference agents, for later comparison with storha's:
the mean wall time of `monitor` (repeated runs inside a VM) and how many
processes one monitor execs (strace -f, successful execve calls, the agent's
own exec included). Then storha's writeboost-cache against its floors
(scripts/bench-writeboost.sh, run inside node1): monitor against a plain
`dmsetup status` of the same device, and stop with dirty data against the
bare drain of the same data, both as ratios. nfs-export against exportfs and
nfsserver; drbd-tuned against ocf:linbit:drbd (monitor Promoted and
Unpromoted with the programs each runs, promote and demote times).

Runs against the running lab (`make lab-up`), on node1 (and node2 for DRBD's
peer), outside Pacemaker: the cluster's resources are erased first.
node1's HDD and NVMe are overwritten.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "lab"))

import drbd  # noqa: E402  (tests/lab/drbd.py: the lab's DRBD resource)
import storhalab  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
OCF = "/usr/lib/ocf/resource.d"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WB_SCRIPT = os.path.join(REPO, "scripts", "bench-writeboost.sh")
# BENCH_REFERENCE=0 / BENCH_WRITEBOOST=0 leave one part out.
REFERENCE = os.environ.get("BENCH_REFERENCE", "1") != "0"
WRITEBOOST = os.environ.get("BENCH_WRITEBOOST", "1") != "0"
NFS = os.environ.get("BENCH_NFS", "1") != "0"
NFS_ROUNDS = int(os.environ.get("BENCH_NFS_ROUNDS", "3"))
DRBD = os.environ.get("BENCH_DRBD", "1") != "0"
DRBD_ROUNDS = int(os.environ.get("BENCH_DRBD_ROUNDS", "5"))

# Runs one agent action RUNS times and prints one line per run: rc and
# microseconds. Then counts the execs of one more run under strace.
TIMER = r"""
set -u
export OCF_ROOT=/usr/lib/ocf
for i in $(seq {runs}); do
	s=$(date +%s%N)
	{agent} monitor >/dev/null 2>&1
	rc=$?
	e=$(date +%s%N)
	echo "run $rc $(( (e - s) / 1000 ))"
done
strace -f -qq -e trace=execve -e status=successful -o /tmp/bench.strace {agent} monitor >/dev/null 2>&1
echo "execs $(grep -c 'execve' /tmp/bench.strace)"
"""


def measure(vm, env, agent):
    script = TIMER.format(runs=RUNS, agent=f"env {env} {agent}")
    out = vm.run(script, timeout=1800).out
    times, rcs, execs = [], set(), None
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "run":
            rcs.add(int(parts[1]))
            times.append(int(parts[2]) / 1000.0)
        elif parts[0] == "execs":
            # The `env` wrapper is one successful execve more than the agent.
            execs = int(parts[1]) - 1
    mean = sum(times) / len(times)
    sd = (sum((t - mean) ** 2 for t in times) / len(times)) ** 0.5
    return mean, sd, min(times), max(times), rcs, execs


def reference(lab, n1, n2):
    """Monitor baselines of the reference agents on node1."""
    print(f"bench: resetting the cluster; {RUNS} monitor runs per agent on node1")
    lab.reset_cluster()

    cases = []
    # DRBD: the lab's resource connected and Primary on node1, as a promotable
    # clone instance would see it.
    drbd.prepare(lab, [n1, n2])
    n1.run(f"drbdadm primary {drbd.RESOURCE}")
    cases.append(("ocf:linbit:drbd (Primary, connected)",
                  f"OCF_RESOURCE_INSTANCE=p_drbd OCF_RESKEY_drbd_resource={drbd.RESOURCE} "
                  "OCF_RESKEY_CRM_meta_clone_max=2 OCF_RESKEY_CRM_meta_clone_node_max=1 "
                  "OCF_RESKEY_CRM_meta_promoted_max=1 OCF_RESKEY_CRM_meta_promoted_node_max=1 "
                  "OCF_RESKEY_CRM_meta_master_max=1 OCF_RESKEY_CRM_meta_master_node_max=1 "
                  "OCF_RESKEY_CRM_meta_notify=true OCF_RESKEY_CRM_meta_interval=29000",
                  f"{OCF}/linbit/drbd"))
    # exportfs: one export, active.
    ex_env = ("OCF_RESOURCE_INSTANCE=p_export OCF_RESKEY_directory=/srv/bench "
              "OCF_RESKEY_clientspec=192.168.77.0/24 OCF_RESKEY_fsid=90 OCF_RESKEY_options=rw")
    n1.run("mkdir -p /srv/bench && systemctl start nfs-server", timeout=180)
    n1.run(f"OCF_ROOT=/usr/lib/ocf env {ex_env} {OCF}/heartbeat/exportfs start")
    cases.append(("ocf:heartbeat:exportfs (exported)", ex_env, f"{OCF}/heartbeat/exportfs"))
    # IPaddr2: the address up.
    ip_env = (f"OCF_RESOURCE_INSTANCE=p_ip OCF_RESKEY_ip={storhalab.FREE_IPS[2]} "
              "OCF_RESKEY_cidr_netmask=24")
    n1.run(f"OCF_ROOT=/usr/lib/ocf env {ip_env} {OCF}/heartbeat/IPaddr2 start")
    cases.append(("ocf:heartbeat:IPaddr2 (started)", ip_env, f"{OCF}/heartbeat/IPaddr2"))

    rows = []
    try:
        for name, env, agent in cases:
            mean, sd, lo, hi, rcs, execs = measure(n1, env, agent)
            rows.append((name, mean, sd, lo, hi, rcs, execs))
    finally:
        n1.run(f"OCF_ROOT=/usr/lib/ocf env {ip_env} {OCF}/heartbeat/IPaddr2 stop", check=False)
        n1.run(f"OCF_ROOT=/usr/lib/ocf env {ex_env} {OCF}/heartbeat/exportfs stop", check=False)
        n1.run(f"drbdadm secondary {drbd.RESOURCE}", check=False)
        drbd.down(lab, [n1, n2])

    accel = "kvm" if "-enable-kvm" in storhalab.accel_args() else "tcg"
    print(f"\nmonitor baselines, node1 ({accel}, 1 vCPU), {RUNS} runs each:")
    print(f"{'agent':40} {'mean ms':>8} {'sd':>7} {'min':>7} {'max':>7} {'rc':>5} {'execs':>6}")
    for name, mean, sd, lo, hi, rcs, execs in rows:
        print(f"{name:40} {mean:8.1f} {sd:7.1f} {lo:7.1f} {hi:7.1f} "
              f"{','.join(map(str, sorted(rcs))):>5} {execs if execs is not None else '?':>6}")


# Times each command of a list once, in order, in milliseconds.
STEPS = r"""
set -u
export OCF_ROOT=/usr/lib/ocf
for c in {cmds}; do
	s=$(date +%s%N)
	env $c >/dev/null 2>&1 || echo "failed $c"
	e=$(date +%s%N)
	echo "step $(( (e - s) / 1000 ))"
done
"""


def timed(vm, cmds):
    import shlex
    out = vm.run(STEPS.format(cmds=" ".join(shlex.quote(c) for c in cmds)), timeout=1800).out
    bad = [line for line in out.splitlines() if line.startswith("failed")]
    if bad:
        raise RuntimeError("; ".join(bad))
    return [int(line.split()[1]) / 1000.0 for line in out.splitlines() if line.startswith("step")]


def nfs(lab, n1):
    """storha's nfs-export against exportfs (and nfsserver) in node1: the
    monitor with the same export, and start plus stop of the whole service."""
    print(f"\nbench: nfs-export against exportfs and nfsserver on node1, {RUNS} monitors each")
    lab.reset_cluster()
    ex = ("OCF_RESOURCE_INSTANCE=p_export OCF_RESKEY_directory=/srv/bench "
          "OCF_RESKEY_clientspec=192.168.77.0/24 OCF_RESKEY_fsid=90 OCF_RESKEY_options=rw")
    ns = "OCF_RESOURCE_INSTANCE=p_server"
    rows = []
    n1.run("mkdir -p /srv/bench && systemctl start nfs-server", timeout=180)
    try:
        n1.run(f"OCF_ROOT=/usr/lib/ocf env {ex} {OCF}/heartbeat/exportfs start")
        for name, env, agent in [
                ("ocf:heartbeat:exportfs", ex, f"{OCF}/heartbeat/exportfs"),
                ("ocf:heartbeat:nfsserver", ns, f"{OCF}/heartbeat/nfsserver"),
                ("nfs-export, manage_server=false", ex + " OCF_RESKEY_manage_server=false",
                 f"{OCF}/storha/nfs-export")]:
            rows.append((name,) + measure(n1, env + " OCF_RESKEY_CRM_meta_interval=10000", agent))
    finally:
        n1.run(f"OCF_ROOT=/usr/lib/ocf env {ex} {OCF}/heartbeat/exportfs stop", check=False)
        n1.run("systemctl stop nfs-server; exportfs -ua", check=False, timeout=180)
    # The whole service: nfsserver + exportfs against nfs-export managing both.
    theirs = [f"{ns} {OCF}/heartbeat/nfsserver start", f"{ex} {OCF}/heartbeat/exportfs start",
              f"{ex} {OCF}/heartbeat/exportfs stop", f"{ns} {OCF}/heartbeat/nfsserver stop"]
    ours = [f"{ex} {OCF}/storha/nfs-export start", f"{ex} {OCF}/storha/nfs-export stop"]
    t_theirs, t_ours = [], []
    try:
        n1.run(f"OCF_ROOT=/usr/lib/ocf env {ex} {OCF}/storha/nfs-export start")
        rows.append(("nfs-export, server managed",)
                    + measure(n1, ex + " OCF_RESKEY_CRM_meta_interval=10000",
                              f"{OCF}/storha/nfs-export"))
        rows.append(("nfs-export, managed, OCF_CHECK_LEVEL=10",)
                    + measure(n1, ex + " OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=10000",
                              f"{OCF}/storha/nfs-export"))
        n1.run(f"OCF_ROOT=/usr/lib/ocf env {ex} {OCF}/storha/nfs-export stop")
        for _ in range(NFS_ROUNDS):
            a = timed(n1, theirs)
            t_theirs.append((a[0] + a[1], a[2] + a[3]))
            b = timed(n1, ours)
            t_ours.append((b[0], b[1]))
    finally:
        n1.run(f"OCF_ROOT=/usr/lib/ocf env {ex} {OCF}/storha/nfs-export stop", check=False)
        n1.run(f"OCF_ROOT=/usr/lib/ocf env {ns} {OCF}/heartbeat/nfsserver stop", check=False)
    print(f"{'monitor':42} {'mean ms':>8} {'sd':>7} {'min':>7} {'max':>7} {'rc':>5} {'execs':>6}")
    for name, mean, sd, lo, hi, rcs, execs in rows:
        print(f"{name:42} {mean:8.1f} {sd:7.1f} {lo:7.1f} {hi:7.1f} "
              f"{','.join(map(str, sorted(rcs))):>5} {execs if execs is not None else '?':>6}")
    ref = rows[0][1]
    for name, mean, *_ in rows[2:]:
        print(f"exportfs / {name}: {ref / mean:.1f}x")

    def avg(v):
        return sum(v) / len(v)
    st, sp = avg([a for a, _ in t_theirs]), avg([b for _, b in t_theirs])
    ost, osp = avg([a for a, _ in t_ours]), avg([b for _, b in t_ours])
    print(f"start, mean of {NFS_ROUNDS}: nfsserver+exportfs {st:.0f} ms, nfs-export {ost:.0f} ms "
          f"({ost / st:.2f})")
    print(f"stop,  mean of {NFS_ROUNDS}: exportfs+nfsserver {sp:.0f} ms, nfs-export {osp:.0f} ms "
          f"({osp / sp:.2f})")


# What Pacemaker passes a promotable clone instance of two nodes; the feature
# set makes drbd-tuned keep its promotion score and node attributes as it
# does under Pacemaker (LINBIT's agent writes its score in any case).
DRBD_ENV = (f"OCF_RESOURCE_INSTANCE=p_drbd OCF_RESKEY_drbd_resource={drbd.RESOURCE} "
            "OCF_RESKEY_crm_feature_set=3.16.2 "
            "OCF_RESKEY_CRM_meta_clone_max=2 OCF_RESKEY_CRM_meta_clone_node_max=1 "
            "OCF_RESKEY_CRM_meta_promoted_max=1 OCF_RESKEY_CRM_meta_promoted_node_max=1 "
            "OCF_RESKEY_CRM_meta_master_max=1 OCF_RESKEY_CRM_meta_master_node_max=1 "
            "OCF_RESKEY_CRM_meta_notify=true")
# drbd-tuned's per-boot cache of the score and attributes, made older than
# every refresh interval: the periodic read-back of a steady state.
DRBD_CACHE = "/run/resource-agents/storha-drbd-tuned-p_drbd.*"


def drbd_tuned(lab, n1, n2):
    """drbd-tuned against ocf:linbit:drbd in node1 over the lab's DRBD 8.4
    resource (connected to node2, UpToDate): monitor Promoted and
    Unpromoted, the programs each runs, then promote and demote times."""
    print(f"\nbench: drbd-tuned against ocf:linbit:drbd on node1, {RUNS} monitors each, "
          f"{DRBD_ROUNDS} promote/demote rounds each", flush=True)
    lab.reset_cluster()
    drbd.prepare(lab, [n1, n2])
    agents = [("ocf:linbit:drbd", f"{OCF}/linbit/drbd"),
              ("ocf:storha:drbd-tuned", f"{OCF}/storha/drbd-tuned")]
    rows, expired, times = [], [], {a: ([], []) for a, _ in agents}
    try:
        for role, cmd, interval in (("Promoted", "primary", 10000),
                                    ("Unpromoted", "secondary", 20000)):
            n1.run(f"drbdadm {cmd} {drbd.RESOURCE}")
            env = f"{DRBD_ENV} OCF_RESKEY_CRM_meta_interval={interval}"
            for name, agent in agents:
                rows.append((f"{name}, {role}",) + measure(n1, env, agent))
            # One more monitor of drbd-tuned with its cache older than every
            # refresh interval: what the periodic read-back costs.
            r = n1.run(f"touch -d '-10 min' {DRBD_CACHE}; "
                       f"OCF_ROOT=/usr/lib/ocf strace -f -qq -e trace=execve -e status=successful "
                       f"-o /tmp/bench.strace env {env} {agents[1][1]} monitor >/dev/null 2>&1; "
                       "awk -F'\"' '/execve/ {print $2}' /tmp/bench.strace", check=False)
            progs = [os.path.basename(x) for x in r.out.split()][2:]
            expired.append((role, progs))
        n1.run(f"drbdadm secondary {drbd.RESOURCE}")
        env = f"{DRBD_ENV} OCF_RESKEY_CRM_meta_interval=0"
        for _ in range(DRBD_ROUNDS):
            for name, agent in agents:
                p, d = timed(n1, [f"{env} {agent} promote", f"{env} {agent} demote"])
                times[name][0].append(p)
                times[name][1].append(d)
    finally:
        n1.run(f"drbdadm secondary {drbd.RESOURCE}", check=False)
        n1.run("OCF_RESOURCE_INSTANCE=p_drbd crm_attribute --promotion -l reboot -D; "
               f"attrd_updater -n drbd-{drbd.RESOURCE}-replication -D; true", check=False)
        drbd.down(lab, [n1, n2])

    accel = "kvm" if "-enable-kvm" in storhalab.accel_args() else "tcg"
    print(f"monitor, node1 ({accel}, 1 vCPU), DRBD 8.4 connected, both UpToDate:")
    print(f"{'agent, role':42} {'mean ms':>8} {'sd':>7} {'min':>7} {'max':>7} {'rc':>5} {'execs':>6}")
    for name, mean, sd, lo, hi, rcs, execs in rows:
        print(f"{name:42} {mean:8.1f} {sd:7.1f} {lo:7.1f} {hi:7.1f} "
              f"{','.join(map(str, sorted(rcs))):>5} {execs if execs is not None else '?':>6}")
    for i in range(0, len(rows), 2):
        ref, ours = rows[i], rows[i + 1]
        print(f"{ref[0]} / drbd-tuned: {ref[1] / ours[1]:.1f}x (mean), "
              f"{ref[3] / ours[3]:.1f}x (min); programs {ref[6]} against {ours[6]}")
    for role, progs in expired:
        print(f"drbd-tuned, {role}, cache older than every refresh: "
              f"{len(progs)} programs ({', '.join(progs) or 'none'})")

    def avg(v):
        return sum(v) / len(v)
    for name, _ in agents:
        p, d = times[name]
        print(f"{name:24} promote mean {avg(p):7.0f} ms (min {min(p):.0f}, max {max(p):.0f}); "
              f"demote mean {avg(d):7.0f} ms (min {min(d):.0f}, max {max(d):.0f}), "
              f"{DRBD_ROUNDS} rounds")


def writeboost(n1, cache_dev):
    """storha's writeboost-cache against its floors, inside node1 (the
    script's own environment: WB_RUNS, WB_ROUNDS, WB_DIRTY_MIB)."""
    env = " ".join(f"{k}={os.environ[w]}" for k, w in
                   (("RUNS", "WB_RUNS"), ("ROUNDS", "WB_ROUNDS"), ("DIRTY_MIB", "WB_DIRTY_MIB"))
                   if w in os.environ)
    env += f" NVME={cache_dev}"
    print("\nbench: writeboost-cache on node1 (its HDD and NVMe are overwritten)", flush=True)
    # The device must be free: nothing of the tests or the cluster on it.
    n1.run("dmsetup remove wbt-top; dmsetup remove wbt; dmsetup remove wbc; true", check=False)
    with open(WB_SCRIPT, "rb") as f:
        r = n1.run(f"env {env} bash -s", input=f.read(), timeout=3600, check=False)
    print(r.out.rstrip())
    if r.rc != 0:
        print(f"bench: writeboost-cache failed (rc {r.rc}): {r.err.strip()}", file=sys.stderr)
        return False
    return True


def main():
    lab = storhalab.Lab()
    if not lab.running():
        print("bench: no lab running (make lab-up)", file=sys.stderr)
        return 1
    n1, n2 = lab.vm("node1"), lab.vm("node2")
    ok = True
    if REFERENCE:
        reference(lab, n1, n2)
    if NFS:
        nfs(lab, n1)
    if DRBD:
        drbd_tuned(lab, n1, n2)
    if WRITEBOOST:
        if not REFERENCE:
            lab.reset_cluster()
        ok = writeboost(n1, lab.cache_dev)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
