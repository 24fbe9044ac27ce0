# SPDX-License-Identifier: GPL-2.0-or-later
"""storha's drbd-tuned on the real DRBD 8.4 module of the lab: ocf-tester
with promote and demote, hostile and broken parameters, and the promotable
clone in the two-node cluster with a planned switchover and back."""

import drbd

AGENT = "/usr/lib/ocf/resource.d/storha/drbd-tuned"
RES = drbd.RESOURCE

CRM_CONFIG = f"""
primitive p_dt ocf:storha:drbd-tuned \\
    params drbd_resource={RES} \\
    op monitor interval=29s role=Promoted timeout=60s \\
    op monitor interval=31s role=Unpromoted timeout=60s \\
    op start timeout=240s op stop timeout=100s \\
    op promote timeout=90s op demote timeout=90s
clone ms_dt p_dt \\
    meta promotable=true promoted-max=1 promoted-node-max=1 \\
    clone-max=2 clone-node-max=1 notify=true
location l_dt_nodes ms_dt rule -inf: #uname ne node1 and #uname ne node2
"""


def agent(vm, action, params, meta=None, check=False):
    env = " ".join(f"OCF_RESKEY_{k}='{v}'" for k, v in params.items())
    env += " " + " ".join(f"OCF_RESKEY_CRM_meta_{k}='{v}'" for k, v in (meta or {}).items())
    return vm.run(f"env OCF_ROOT=/usr/lib/ocf {env} {AGENT} {action}", check=check, timeout=300)


def test_ocf_tester_with_promote_and_demote(lab, node1, node2):
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    drbd.down(lab, nodes)
    try:
        r = node1.run(f"ocf-tester -n dt -o drbd_resource={RES} -o CRM_meta_clone_max=2 "
                      f"-o CRM_meta_notify=true {AGENT}", check=False, timeout=900)
        assert r.rc == 0 and "passed all tests" in r.out, str(r)
        assert "does not support promotable" not in r.out and "partially" not in r.out, r.out
        assert "cs:" not in node1.run("cat /proc/drbd").out, "ocf-tester's last stop took it down"
    finally:
        drbd.down(lab, nodes)


def test_linbit_conditions_and_hostile_params(lab, node1, node2):
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    drbd.down(lab, nodes)
    meta = {"clone_max": "2", "notify": "true"}
    try:
        node1.run("rm -f /tmp/pwned")
        for bad in [f"{RES};touch /tmp/pwned", "$(touch /tmp/pwned)", "-c/tmp/pwned"]:
            r = agent(node1, "start", {"drbd_resource": bad}, meta)
            assert r.rc == 6 and "ocf-exit-reason:" in r.err, str(r)
            assert agent(node1, "stop", {"drbd_resource": bad}, meta).rc == 0
        assert node1.run("test -e /tmp/pwned", check=False).rc != 0
        # Unknown resource: LINBIT's codes (5; a probe is "not running"; stop 0).
        r = agent(node1, "start", {"drbd_resource": "nosuch"}, meta)
        assert r.rc == 5 and "not found in configuration" in r.err, str(r)
        assert agent(node1, "monitor", {"drbd_resource": "nosuch"}, meta).rc == 7
        assert agent(node1, "stop", {"drbd_resource": "nosuch"}, meta).rc == 0
        # Wrong configuration path.
        r = agent(node1, "start", {"drbd_resource": RES, "drbdconf": "/etc/nonexistent.conf"}, meta)
        assert r.rc == 5 and "not readable" in r.err, str(r)
        # Clone meta checks and notify.
        r = agent(node1, "start", {"drbd_resource": RES}, {"clone_max": "3", "notify": "true"})
        assert r.rc == 6 and "clone-max <= 2" in r.err, str(r)
        r = agent(node1, "start", {"drbd_resource": RES}, {"clone_max": "2"})
        assert r.rc == 6 and "notify" in r.err, str(r)
        # A bad score list is forgiven (the default applies), with an error logged.
        r = agent(node1, "validate-all", {"drbd_resource": RES, "adjust_master_score": "1 2 x"}, meta)
        assert r.rc == 0, str(r)
        assert "cs:" not in node1.run("cat /proc/drbd").out, "nothing was brought up"

        # Double start and stop, and promote while the peer is Primary.
        p = {"drbd_resource": RES}
        for vm in nodes:
            assert agent(vm, "start", p, meta).rc == 0
        assert agent(node1, "start", p, meta).rc == 0
        lab.wait_for(lambda: "cs:Connected" in node1.run("cat /proc/drbd").out, 120, "connected")
        assert agent(node2, "promote", p, meta).rc == 0
        assert agent(node2, "monitor", p, {**meta, "interval": "10000"}).rc == 8
        assert agent(node1, "monitor", p, {**meta, "interval": "10000"}).rc == 0
        r = agent(node1, "promote", p, meta)
        assert r.rc == 1 and "ocf-exit-reason:" in r.err, str(r)
        assert "ro:Secondary/Primary" in node1.run("cat /proc/drbd").out
        # A disconnect (StandAlone) never fails the monitor, on either side.
        node1.run(f"drbdadm disconnect {RES}")
        assert agent(node2, "monitor", p, {**meta, "interval": "10000"}).rc == 8
        assert agent(node1, "monitor", p, {**meta, "interval": "10000"}).rc == 0
        assert agent(node2, "demote", p, meta).rc == 0
        for vm in nodes:
            assert agent(vm, "stop", p, meta).rc == 0
            assert agent(vm, "stop", p, meta).rc == 0
            assert agent(vm, "monitor", p, meta).rc == 7
        # The demote of a stopped resource: LINBIT's own agent (9.22) answers 1, so do we.
        linbit = node1.run(f"env OCF_ROOT=/usr/lib/ocf OCF_RESKEY_drbd_resource={RES} "
                           "OCF_RESKEY_CRM_meta_clone_max=2 OCF_RESKEY_CRM_meta_notify=true "
                           "/usr/lib/ocf/resource.d/linbit/drbd demote", check=False)
        ours = agent(node1, "demote", p, meta)
        assert (linbit.rc, ours.rc) == (1, 1), f"{linbit}\n{ours}"
    finally:
        drbd.down(lab, nodes)


def sha_of_device(vm):
    return vm.run("dd if=/dev/drbd0 bs=1M count=8 iflag=direct status=none | sha256sum").out.split()[0]


def test_promotable_clone_switchover_and_back(cluster, node1, node2):
    lab = cluster
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    drbd.down(lab, nodes)

    def promoted_on(want=None):
        def ok():
            roles = lab.resource_roles("p_dt")
            vals = sorted(roles.get(n.name) or "" for n in nodes)
            if vals != ["Promoted", "Unpromoted"]:
                return None
            if want and roles.get(want) != "Promoted":
                return None
            return roles
        return lab.wait_for(ok, 600, f"ms_dt Promoted on {want or 'one node'}, Unpromoted on the other",
                            describe=lambda: node1.run("crm_mon -1 -r", check=False).out)

    try:
        node1.put_bytes("/tmp/dt.crm", CRM_CONFIG)
        node1.run("crm configure load update /tmp/dt.crm", timeout=300)
        roles = promoted_on()
        primary = next(n for n in nodes if roles[n.name] == "Promoted")
        other = next(n for n in nodes if n is not primary)
        mon = node1.run("crm_mon -1 -r").out
        assert "Promoted" in mon and "Unpromoted" in mon, mon
        assert "ro:Primary/Secondary" in primary.run("cat /proc/drbd").out
        # Promotion scores as LINBIT's: both UpToDate and connected, 10000.
        for vm in nodes:
            s = vm.run(f"crm_attribute -N {vm.name} -n master-p_dt -l reboot -G -q",
                       check=False).out.strip()
            assert s == "10000", f"{vm.name}: score {s!r}"

        primary.run("dd if=/dev/urandom of=/dev/drbd0 bs=1M count=8 oflag=direct status=none")
        before = sha_of_device(primary)

        node1.run(f"crm_resource --move --promoted --resource ms_dt --node {other.name}")
        promoted_on(other.name)
        assert sha_of_device(other) == before
        node1.run("crm_resource --clear --resource ms_dt")
        node1.run(f"crm_resource --move --promoted --resource ms_dt --node {primary.name}")
        promoted_on(primary.name)
        assert sha_of_device(primary) == before
        node1.run("crm_resource --clear --resource ms_dt")

        # The score purged behind the agent's back (as Pacemaker does when a node
        # leaves and rejoins) comes back with a later monitor.
        get = f"crm_attribute -N {other.name} -n master-p_dt -l reboot -G -q"
        other.run(f"crm_attribute -N {other.name} -n master-p_dt -l reboot -D")
        assert other.run(get, check=False).out.strip() == ""
        lab.wait_for(lambda: other.run(get, check=False).out.strip() == "10000", 240,
                     "promotion score written again after the purge")
        failed = node1.run("crm_mon -1 -r --output-as=xml", check=False).out
        assert "<failure " not in failed, failed
    finally:
        lab.reset_cluster()
        lab.wait_for(lambda: all("cs:" not in n.run("cat /proc/drbd", check=False).out
                                 for n in nodes), 240, "DRBD stopped by Pacemaker",
                     describe=lambda: node1.run("crm_mon -1 -r", check=False).out)


SHIM = "/tmp/score-shim"
LINBIT = "/usr/lib/ocf/resource.d/linbit/drbd"


def scores_of_both(vm, n):
    """(rc, score) of LINBIT's monitor and of drbd-tuned's on vm, the scores
    taken from what each hands to crm_master / crm_attribute (shims that only
    log). None means the score is removed."""
    env = (f"OCF_ROOT=/usr/lib/ocf OCF_RESKEY_drbd_resource={RES} OCF_RESOURCE_INSTANCE=p_x "
           "OCF_RESKEY_CRM_meta_clone_max=2 OCF_RESKEY_CRM_meta_notify=true "
           "OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_CRM_meta_timeout=20000 "
           "OCF_RESKEY_crm_feature_set=3.16.2")
    out = []
    for agent, tool in [(LINBIT, "crm_master"), (AGENT, "crm_attribute")]:
        vm.run(f"rm -rf {SHIM}/log {SHIM}/rsctmp-{n}; mkdir -p {SHIM}/rsctmp-{n}")
        r = vm.run(f"env {env} HA_SBIN_DIR={SHIM} HA_RSCTMP={SHIM}/rsctmp-{n} PATH={SHIM}:$PATH "
                   f"{agent} monitor", check=False)
        log = vm.run(f"cat {SHIM}/log", check=False).out.split("\n")
        sets = [line.split() for line in log if " -v " in f" {line} " or " -D" in f" {line}"]
        assert sets, f"{agent} wrote no score: {r}"
        last = sets[-1]
        out.append((r.rc, last[last.index("-v") + 1] if "-v" in last else None))
    return out


def test_scores_match_linbits_agent_on_real_states(lab, node1, node2):
    """The differential: for each real 8.4 state, LINBIT's own agent's monitor
    and drbd-tuned's give the same exit code and the same promotion score."""
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    shim = "#!/bin/sh\necho \"$*\" >> /tmp/score-shim/log\n"
    for vm in nodes:
        vm.run(f"mkdir -p {SHIM}")
        for tool in ("crm_master", "crm_attribute", "crm_resource", "attrd_updater"):
            vm.put_bytes(f"{SHIM}/{tool}", shim, mode=0o755)
    n = 0

    def same(vm, want_rc, want_score, what):
        nonlocal n
        n += 1
        (lrc, lscore), (src, sscore) = scores_of_both(vm, n)
        assert (lrc, lscore) == (src, sscore), f"{what} on {vm.name}: LINBIT {lrc}/{lscore}, drbd-tuned {src}/{sscore}"
        assert (src, sscore) == (want_rc, want_score), f"{what} on {vm.name}: {src}/{sscore}"

    try:
        same(node1, 0, "10000", "both Secondary, connected, UpToDate")
        node1.run(f"drbdadm primary {RES}")
        same(node1, 8, "10000", "Primary, connected")
        same(node2, 0, "10000", "Secondary under a Primary")
        node2.run(f"drbdadm disconnect {RES}")
        same(node2, 0, "1000", "StandAlone Secondary")
        lab.wait_for(lambda: "cs:WFConnection" in node1.run("cat /proc/drbd").out, 60, "WFConnection")
        same(node1, 8, "10000", "Primary, WFConnection")
        node2.run(f"drbdadm outdate {RES}")
        same(node2, 0, None, "Outdated, StandAlone")
        node1.run(f"drbdadm secondary {RES}")
        same(node1, 0, "1000", "Secondary, WFConnection")
    finally:
        for vm in nodes:
            vm.run(f"rm -rf {SHIM}", check=False)
        drbd.down(lab, nodes)


TUNE = {
    "replication_nic": "tune0",
    "mtu": "1400",
    "qdisc": "fq",
    "net_core_rmem_max": "8388608",
    "net_core_wmem_max": "8388608",
    "net_ipv4_tcp_rmem": "4096 87380 8388608",
    "net_ipv4_tcp_wmem": "4096 65536 8388608",
    "cpu_governor": "performance",
    "irq_affinity": "0",
}
KNOBS = ("cat /proc/sys/net/core/rmem_max /proc/sys/net/core/wmem_max /proc/sys/net/ipv4/tcp_rmem "
         "/proc/sys/net/ipv4/tcp_wmem /sys/class/net/tune0/mtu; tc qdisc show dev tune0")
RECORD = "/run/resource-agents/storha-drbd-tuned.tuning.json"


def admin_json(vm, action, params):
    import json
    ps = " ".join(f"-p '{k}={v}'" for k, v in params.items())
    ps += " -p CRM_meta_clone_max=2 -p CRM_meta_notify=true"
    r = vm.run(f"storha drbd-tuned {action} {ps} --interval 10s --json", check=False)
    return r, json.loads(r.out)


def test_tuning_applied_drift_reported_restored_also_after_a_kill(lab, node1, node2):
    """The tuning on the real kernel of a lab VM: sysctls, the fq qdisc and the MTU of
    a replication interface (a dummy one: the VM's only NIC carries the corosync ring,
    which the agent must not touch), applied on start, changed by hand and reported as
    drift, restored byte for byte on stop, also after the agent was killed mid-start."""
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    drbd.down(lab, nodes)
    meta = {"clone_max": "2", "notify": "true"}
    p = {"drbd_resource": RES, "wfc_timeout": "1", **TUNE}
    node1.run("modprobe dummy; ip link del tune0 2>/dev/null; ip link add tune0 type dummy && "
              "ip link set tune0 up")
    try:
        before = node1.run(KNOBS).out
        assert "qdisc noqueue 0: root" in before and "\n1500\n" in before, before
        r = agent(node1, "start", p, meta)
        assert r.rc == 0, str(r)
        # No cpufreq and no interrupts on a dummy NIC in the VM: warnings, never a failure.
        assert "no CPU with cpufreq" in r.err and "no MSI interrupts" in r.err, r.err
        applied = node1.run(KNOBS).out
        assert applied.startswith("8388608\n8388608\n4096\t87380\t8388608\n4096\t65536\t8388608\n1400\n"), applied
        assert "qdisc fq " in applied, applied
        r, doc = admin_json(node1, "monitor", p)
        assert doc["exit_code"] == 0 and doc["state"]["tuning"]["drift"] == [], r.out
        # Changed by hand: reported, never a failure.
        node1.run("sysctl -qw net.core.wmem_max=1048576; ip link set tune0 mtu 1300")
        r, doc = admin_json(node1, "monitor", p)
        assert doc["exit_code"] == 0, r.out
        drift = {d["what"]: (d["expected"], d["now"]) for d in doc["state"]["tuning"]["drift"]}
        assert drift == {"net.core.wmem_max": ("8388608", "1048576"), "MTU of tune0": ("1400", "1300")}, drift
        assert "tuning drift: " in r.err, r.err
        assert agent(node1, "stop", p, meta).rc == 0
        assert node1.run(KNOBS).out == before, "restored byte for byte"
        assert node1.run(f"test -e {RECORD}", check=False).rc != 0

        # Killed mid-start: node2 is down, so start waits for the connection after
        # tuning (wfc_timeout 60); the agent and its drbdsetup get SIGKILL there.
        env = " ".join(f"OCF_RESKEY_{k}='{v}'" for k, v in {**p, "wfc_timeout": "60"}.items())
        env += " OCF_RESKEY_CRM_meta_clone_max=2 OCF_RESKEY_CRM_meta_notify=true"
        pid = node1.run(f"env OCF_ROOT=/usr/lib/ocf {env} {AGENT} start </dev/null "
                        ">/tmp/tune-start.log 2>&1 & echo $!").out.strip()
        lab.wait_for(lambda: node1.run("cat /sys/class/net/tune0/mtu").out.strip() == "1400" and
                     "cs:WFConnection" in node1.run("cat /proc/drbd").out, 60, "tuned and waiting",
                     describe=lambda: node1.run("cat /tmp/tune-start.log; cat /proc/drbd").out)
        node1.run(f"pkill -9 -P {pid}; kill -9 {pid}", check=False)
        lab.wait_for(lambda: node1.run(f"kill -0 {pid}", check=False).rc != 0, 30, "the start killed")
        assert node1.run(KNOBS).out != before and node1.run(f"test -s {RECORD}", check=False).rc == 0
        assert agent(node1, "stop", p, meta).rc == 0
        assert node1.run(KNOBS).out == before, "restored byte for byte after the kill"
        assert "cs:" not in node1.run("cat /proc/drbd").out

        # The VM's NIC carries the corosync ring: its MTU is left alone.
        mtu0 = node1.run("cat /sys/class/net/eth0/mtu").out
        r = agent(node1, "start", {"drbd_resource": RES, "wfc_timeout": "1",
                                   "replication_nic": "eth0", "mtu": "1400"}, meta)
        assert r.rc == 0 and "carries the corosync ring" in r.err, str(r)
        assert node1.run("cat /sys/class/net/eth0/mtu").out == mtu0
        assert agent(node1, "stop", {"drbd_resource": RES}, meta).rc == 0

        # validate-all warns about flushes turned off over a write-back cache.
        node1.run(f"sed -i 's|meta-disk internal;|meta-disk internal;\\n\\tdisk {{ disk-flushes no; md-flushes no; }}|' "
                  f"/etc/drbd.d/{RES}.res")
        wc = node1.run("cat /sys/class/block/vdb/queue/write_cache").out.strip()
        assert wc == "write back", "the lab's virtio disk advertises a volatile cache"
        r = agent(node1, "validate-all", p, meta)
        assert r.rc == 0, str(r)
        assert "disk-flushes no, md-flushes no with backing device /dev/vdb" in r.err, r.err
    finally:
        agent(node1, "stop", p, meta)
        drbd.down(lab, nodes)
        lab.each(nodes, lambda vm: vm.run(f"sed -i '/disk-flushes/d' /etc/drbd.d/{RES}.res", check=False))
        node1.run("ip link del tune0", check=False)


def test_split_brain_reported_from_the_kernel_never_resolved_by_the_agent(lab, node1, node2):
    """A split brain made on purpose (both sides Primary and written while
    disconnected, then connected): both report it with DRBD's own words, neither
    loses its data, and the documented resolution works; a plain disconnect
    before it is not called split brain."""
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    p = {"drbd_resource": RES}
    try:
        node1.run(f"drbdadm disconnect {RES}")
        r, doc = admin_json(node1, "monitor", p)
        assert doc["exit_code"] == 0 and doc["state"]["split_brain"] is None, r.out
        node1.run(f"drbdadm connect {RES}")
        lab.wait_for(lambda: "cs:Connected" in node1.run("cat /proc/drbd").out, 60, "connected again")

        # node1 has DRBD's split-brain handler set to storha's; node2 has none
        # and finds the kernel's message instead.
        node1.run(f"sed -i 's|meta-disk internal;|meta-disk internal;\\n\\thandlers "
                  f"{{ split-brain \"/usr/bin/storha drbd-split-brain\"; }}|' /etc/drbd.d/{RES}.res")
        node1.run(f"drbdadm dump {RES} | grep -q 'storha drbd-split-brain'")
        sums = {}
        for vm in nodes:
            vm.run(f"drbdadm disconnect {RES}; drbdadm primary {RES}")
            vm.run("dd if=/dev/urandom of=/dev/drbd0 bs=1M count=8 oflag=direct status=none")
            sums[vm.name] = sha_of_device(vm)
        for vm in nodes:
            vm.run(f"drbdadm connect {RES}")
        for vm in nodes:
            lab.wait_for(lambda: "Split-Brain detected but unresolved" in vm.run("dmesg").out, 60,
                         f"split brain seen by {vm.name}'s kernel")
        for vm in nodes:
            r, doc = admin_json(vm, "monitor", p)
            assert doc["exit_code"] == 8, r.out
            sb = doc["state"]["split_brain"] or ""
            if vm is node1:
                assert f"DRBD's split-brain handler ran for {RES}" in sb, r.out
            else:
                assert "Split-Brain detected but unresolved" in sb, r.out
            assert "--discard-my-data" in doc["state"]["split_brain_resolution"], r.out
            assert "split brain" in r.err, r.err
            assert sha_of_device(vm) == sums[vm.name], f"{vm.name} kept its data"

        # The resolution the README documents: node2's changes are thrown away.
        node2.run(f"drbdadm secondary {RES} && drbdadm connect --discard-my-data {RES}")
        node1.run(f"drbdadm connect {RES}")
        lab.wait_for(lambda: "ds:UpToDate/UpToDate" in node1.run("cat /proc/drbd").out and
                     "cs:Connected" in node1.run("cat /proc/drbd").out, 120, "resynced",
                     describe=lambda: node1.run("cat /proc/drbd").out)
        r, doc = admin_json(node1, "monitor", p)
        assert doc["state"]["split_brain"] is None, r.out
        assert node1.run(f"test -e /run/resource-agents/storha-drbd-split-brain.{RES}",
                         check=False).rc != 0, "the handler's marker went with the connection"
        node1.run(f"drbdadm secondary {RES}")
        node2.run(f"drbdadm primary {RES}")
        assert sha_of_device(node2) == sums[node1.name], "node2 has node1's data"
        r, doc = admin_json(node2, "monitor", p)
        assert doc["exit_code"] == 8 and doc["state"]["split_brain"] is None, r.out
    finally:
        drbd.down(lab, nodes)
        node1.run(f"sed -i '/split-brain/d' /etc/drbd.d/{RES}.res", check=False)


DRBD_OPTS = {"drbd_max_buffers": "8000", "drbd_max_epoch_size": "8000", "drbd_ko_count": "4",
             "drbd_ping_int": "8", "drbd_ping_timeout": "10", "drbd_timeout": "50",
             "drbd_sndbuf_size": "2M", "drbd_rcvbuf_size": "2M",
             "drbd_al_extents": "3389", "drbd_c_plan_ahead": "10"}


def test_tuning_applied_drbd_options_over_the_configuration(lab, node1, node2):
    """DRBD's net and disk options as parameters: applied over the configuration
    on start, seen by monitor when an adjust by hand brought the configured
    values back."""
    import re
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    drbd.down(lab, nodes)
    meta = {"clone_max": "2", "notify": "true"}
    p = {"drbd_resource": RES, "wfc_timeout": "1", **DRBD_OPTS}
    stamp = "/run/resource-agents/storha-drbd-tuned-drbd-tuned.tuning-checked"
    try:
        for vm in nodes:
            r = agent(vm, "start", p, meta)
            assert r.rc == 0 and "not applied" not in r.err, str(r)
        lab.wait_for(lambda: "cs:Connected" in node1.run("cat /proc/drbd").out, 60, "connected")
        show = node1.run(f"drbdsetup show {RES}").out
        for opt, want in [("max-buffers", "8000"), ("max-epoch-size", "8000"), ("ko-count", "4"),
                          ("ping-int", "8"), ("ping-timeout", "10"), ("timeout", "50"),
                          ("al-extents", "3389"), ("c-plan-ahead", "10")]:
            assert re.search(rf"\b{opt}\s+{want}\s*;", show), f"{opt} {want}:\n{show}"
        assert re.search(r"\bsndbuf-size\s+(2M|2048k|2097152)\s*;", show), show
        r, doc = admin_json(node1, "monitor", p)
        assert doc["exit_code"] == 0 and doc["state"]["tuning"] is not None, r.out
        node1.run(f"drbdadm adjust {RES}; rm -f {stamp}")
        r, doc = admin_json(node1, "monitor", p)
        assert doc["exit_code"] == 0, r.out
        assert "tuning drift: DRBD max-buffers" in r.err, r.err + node1.run(f"drbdsetup show {RES}").out
        assert any(d["what"] == "DRBD max-buffers" for d in doc["state"]["tuning"]["drift"]), r.out
        for vm in nodes:
            assert agent(vm, "stop", p, meta).rc == 0
    finally:
        drbd.down(lab, nodes)


def test_tuning_after_a_hard_reset_never_restores_the_earlier_boots_record(lab, node1, node2):
    """The tuning applied, then node2 powered off and on (a hard reset). The record
    is kept on a disk that survives the reboot (HA_RSCTMP), so it is there after
    the boot: the stop of the new boot leaves this boot's values alone, the next
    start applies the tuning again and its stop restores what this boot had."""
    nodes = [node1, node2]
    drbd.prepare(lab, nodes)
    drbd.down(lab, nodes)
    tmp = "/var/lib/storha-reboot-test"
    record = f"{tmp}/storha-drbd-tuned.tuning.json"
    sysctls = "cat /proc/sys/net/core/rmem_max /proc/sys/net/core/wmem_max"
    p = {"drbd_resource": RES, "wfc_timeout": "1",
         "net_core_rmem_max": "8388608", "net_core_wmem_max": "8388608"}
    env = " ".join(f"OCF_RESKEY_{k}='{v}'" for k, v in p.items())
    env += f" OCF_RESKEY_CRM_meta_clone_max=2 OCF_RESKEY_CRM_meta_notify=true HA_RSCTMP={tmp}"

    def run(action):
        return node2.run(f"env OCF_ROOT=/usr/lib/ocf {env} {AGENT} {action}", check=False,
                         timeout=300)
    first = node2.run(sysctls).out
    try:
        node2.run(f"rm -rf {tmp}")
        assert run("start").rc == 0
        assert node2.run(sysctls).out == "8388608\n8388608\n"
        boot1 = node2.run("cat /proc/sys/kernel/random/boot_id").out.strip()
        assert boot1 in node2.run(f"cat {record}").out
        node2.run("sync")

        lab.power("node2", "off")
        lab.boot_again("node2")
        boot2 = node2.run("cat /proc/sys/kernel/random/boot_id").out.strip()
        assert boot2 != boot1
        assert boot1 in node2.run(f"cat {record}").out, "the earlier boot's record survived"
        # This boot's values, set by its administrator, differ from the first boot's.
        node2.run("sysctl -qw net.core.rmem_max=1234567")
        mine = node2.run(sysctls).out
        assert mine != first and mine != "8388608\n8388608\n"
        # A stop in the new boot (the resource is down): nothing of the old record restored.
        r = run("stop")
        assert r.rc == 0, str(r)
        assert node2.run(sysctls).out == mine, "the earlier boot's record was not restored"
        assert boot1 not in node2.run(f"cat {record} 2>/dev/null; true").out
        # The next start applies; its stop restores this boot's values.
        assert run("start").rc == 0
        assert node2.run(sysctls).out == "8388608\n8388608\n"
        assert boot2 in node2.run(f"cat {record}").out
        assert run("stop").rc == 0
        assert node2.run(sysctls).out == mine, "restored to this boot's values"
    finally:
        if lab.power("node2", "status") != "on":
            lab.boot_again("node2")
        run("stop")
        node2.run(f"rm -rf {tmp}; sysctl -qw net.core.rmem_max={first.split()[0]}", check=False)
        drbd.down(lab, nodes)
        node2.run("systemctl start corosync pacemaker", check=False)
        lab.wait_cluster(online=lab.node_names, timeout=300)
