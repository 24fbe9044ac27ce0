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
