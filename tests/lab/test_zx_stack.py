# SPDX-License-Identifier: GPL-2.0-or-later
"""The whole stack, from the user-facing examples: the crmsh and pcs forms of
both clusters (two nodes with DRBD 8.4, three with DRBD 9) checked by
crm_verify and compared with each other, DRBD's resource files parsed by
drbdadm; then crm-examples/stack-2node.crm loaded into the lab's cluster, a
client writing self-checking records through the floating IP over NFSv4.2
and NFSv3, the Primary powered off at its strip outlet (fenced through
fence_ipstrip, the survivor promoted, DRBD's fence-peer constraint placed),
the old Primary rejoining as Unpromoted and resyncing (the constraint
removed), and a planned switchover back to it. After each failover every
acknowledged record reads back intact through a fresh mount. Across the
switchover the client holds an NFSv4 and an NLM lock, reclaimed on the new
server with no I/O error, while a second client (a network namespace of the
client VM with its own address and node name) is refused its conflicting
locks.

Runs in the two-node topology with a client, before the fencing test."""

import os
import re
import xml.etree.ElementTree as ET

import pytest

import stack

EXAMPLES = stack.EXAMPLES


def cib_of(vm, kind, name):
    """An empty CIB file on vm with one example loaded into it, and
    crm_verify's verdict."""
    path = f"/tmp/verify-{name}.xml"
    vm.run(f"cibadmin --empty > {path}")
    src = os.path.join(EXAMPLES, name)
    with open(src) as f:
        vm.put_bytes(f"/tmp/{name}", f.read())
    if kind == "crm":
        r = vm.run(f"CIB_file={path} crm -F configure load update /tmp/{name}", check=False,
                   timeout=300)
    else:
        r = vm.run(f"PCS_FORCE=1 sh /tmp/{name} {path}", check=False, timeout=600)
    assert r.rc == 0, f"{name}: {r}"
    v = vm.run(f"crm_verify -x {path} -V", check=False, timeout=120)
    # An offline CIB has no node status: nodes it names are "unclean" and
    # there is no quorum. crm_verify warns of exactly that (exit 78) and of
    # nothing else for a valid configuration.
    offline = ("lack of quorum", "is unclean but cannot be fenced",
               "Warnings found during check")
    other = [line for line in (v.out + v.err).splitlines()
             if line.strip() and not any(o in line for o in offline)]
    assert v.rc == 0 or (v.rc == 78 and not other), f"{name}: crm_verify: {v}"
    return ET.fromstring(vm.run(f"cat {path}").out)


def summary(cib):
    """What both forms must agree on: every resource with its agent,
    parameters, meta attributes and operations; constraints by kind and
    members; the cluster's properties and defaults; fencing levels."""
    conf = cib.find("configuration")

    def nvs(e, tag):
        return sorted((nv.get("name"), nv.get("value")) for s in e.findall(tag)
                      for nv in s.findall("nvpair"))
    rsc = {}
    for p in conf.iter("primitive"):
        ops = sorted((o.get("name"), o.get("interval"), o.get("timeout"), o.get("role") or "",
                      o.get("on-fail") or "", tuple(nvs(o, "instance_attributes")))
                     for o in p.iter("op"))
        rsc[p.get("id")] = (p.get("class"), p.get("provider"), p.get("type"),
                            nvs(p, "instance_attributes"), ops)
    for tag in ("clone", "group"):
        for c in conf.iter(tag):
            kids = [k.get("id") for k in c if k.tag in ("primitive", "group")]
            rsc[c.get("id")] = (tag, kids, nvs(c, "meta_attributes"))
    cons = []
    for c in conf.find("constraints"):
        if c.tag == "rsc_order":
            cons.append(("order", c.get("first"), c.get("first-action") or "start",
                         c.get("then"), c.get("then-action") or "start"))
        elif c.tag == "rsc_colocation":
            score = c.get("score")
            cons.append(("colocation", c.get("rsc"), c.get("with-rsc"),
                         c.get("with-rsc-role") or "", "INFINITY" if score in
                         ("INFINITY", "inf", "+INFINITY") else score))
    props = [nv for nv in nvs(conf.find("crm_config"), "cluster_property_set")]
    defaults = [(tag, nvs(conf, f"{tag}/meta_attributes")) for tag in ("rsc_defaults",
                                                                        "op_defaults")]
    levels = sorted((lv.get("target"), lv.get("index"), lv.get("devices"))
                    for lv in conf.iter("fencing-level"))
    return rsc, sorted(cons), props, defaults, levels


@pytest.mark.nodes(2)
def test_examples_verify_and_both_forms_agree(node1):
    for n in ("2node", "3node"):
        crm = summary(cib_of(node1, "crm", f"stack-{n}.crm"))
        pcs = summary(cib_of(node1, "pcs", f"stack-{n}.pcs.sh"))
        for part, a, b in zip(("resources", "constraints", "properties", "defaults",
                               "fencing levels"), crm, pcs):
            if isinstance(a, dict):
                diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
            else:
                diff = ([x for x in a if x not in b], [x for x in b if x not in a])
            assert a == b, f"stack-{n}: the crmsh and pcs forms differ in {part} (crm, pcs): {diff}"
        assert crm[0]["ms_drbd"][0] == "clone" and ("promotable", "true") in crm[0]["ms_drbd"][2]
        print(f"stack-{n}: {len(crm[0])} resources, {len(crm[1])} constraints, "
              f"{len(crm[4])} fencing levels; crmsh and pcs forms identical")
    # DRBD's resource files parse (drbdadm of drbd-utils 9.22 reads both dialects).
    # Each in its own dialect (the module loaded here is 8.4) and as one of
    # its hosts.
    for res, version, host in (("r0-2node.res", "8.4.0", "node1"),
                               ("vdi-3node.res", "9.0.0", "stor1")):
        with open(os.path.join(EXAMPLES, "drbd", res)) as f:
            node1.put_bytes(f"/tmp/{res}", f.read())
        name = res.split("-")[0]
        r = node1.run(f"printf 'include \"/tmp/{res}\";\\n' > /tmp/drbd-{res}.conf; "
                      f"__DRBD_NODE__={host} DRBD_DRIVER_VERSION_OVERRIDE={version} "
                      f"drbdadm -c /tmp/drbd-{res}.conf dump {name}", check=False)
        assert r.rc == 0 and f"resource {name}" in r.out, f"{res}: {r}"
        assert "fence-peer" in r.out and "after-resync-target" in r.out, r.out
        assert not re.search(r"(disk|md)-flushes\s+no", r.out), "flushes stay on under a cache"


@pytest.mark.nodes(2)
@pytest.mark.fencing
def test_power_off_failover_rejoin_and_switchback_lose_no_acknowledged_write(
        cluster, node1, node2, client):
    lab = cluster
    s = stack.Stack(lab)
    try:
        s.prepare()
        primary = s.load()
        other = next(vm for vm in lab.nodes if vm is not primary)
        assert s.promoted() == [primary.name], s.crm_text()
        assert primary.run(f"findmnt -n -o SOURCE {stack.MNT}").out.strip() == "/dev/drbd0"
        s.start_writers()
        dirty = primary.run("dmsetup status wbc").out.split()[9]
        print(f"\nservice on {primary.name}; writers running; {dirty} dirty cache blocks there")

        timeline, survivor = s.power_off(primary)
        assert survivor.name == other.name
        order = ["node lost", "fenced", "promoted", "exported", "address up",
                 "client's first write served"]
        print("timeline from the power-off: "
              + ", ".join(f"{w} {timeline[w]:.1f} s" for w in order))
        assert [w for w in sorted(order, key=timeline.get) if w in ("promoted", "exported",
                                                                    "address up")] == \
            ["promoted", "exported", "address up"], timeline
        # The old Primary's outlet went off, and (the fencing's reboot) on again.
        hist = s.strip.state()["history"]
        out = [vm.name for vm in lab.nodes].index(primary.name) + 1
        assert [out, False] in hist and [out, True] in hist[hist.index([out, False]):], hist
        # DRBD's fence-peer handler keeps the old Primary from being promoted
        # until it has resynced.
        assert s.fence_constraints(survivor), survivor.run("cibadmin -Q -o constraints").out
        got = s.check_records()
        print(f"after the power-off (acknowledged, lost): {got}")
        assert all(bad == 0 and n > 20 for n, bad, _ in got.values()), got

        # The old Primary rejoins as Unpromoted, resyncs, and the handler's
        # constraint goes; the client writes on meanwhile.
        s.start_writers()
        took = s.rejoin(primary)
        print(f"{primary.name} rejoined and resynced in {took:.0f} s")
        lab.wait_for(lambda: not s.fence_constraints(survivor), 300,
                     "the fence-peer constraint removed after the resync",
                     describe=lambda: survivor.run("cibadmin -Q -o constraints").out)
        assert lab.resource_roles("p_drbd").get(primary.name) == "Unpromoted", s.crm_text()
        assert s.service_node() == survivor.name, "no fail-back (resource-stickiness)"
        print(f"write errors the client saw (then retried): {s.write_errors()}")

        # A planned switchover back to it: its copy, resynced, serves every
        # acknowledged record. Across it the client holds an NFSv4 lock and
        # an NLM lock, which the new server must have reclaimed; a second
        # client's conflicting locks are refused before, while the server is
        # in its grace period, and after it.
        paths = s.start_lock_holders()
        assert s.second_client_try() == {"v42": "refused", "v3": "refused"}
        assert s.locks_on(survivor, paths) == {"v42": True, "v3": True}
        s.client_kmsg_mark("switchover")
        took = s.move(primary)
        print(f"planned switchover to {primary.name}: {took:.1f} s")
        meanwhile = s.second_client_try()
        print(f"second client's locks right after the switchover: {meanwhile}")
        assert "got" not in meanwhile.values(), meanwhile
        lab.wait_for(lambda: s.locks_on(primary, paths) == {"v42": True, "v3": True}, 120,
                     f"the client's locks reclaimed on {primary.name}",
                     describe=lambda: primary.run("cat /proc/locks").out)
        assert s.second_client_try() == {"v42": "refused", "v3": "refused"}
        logs = s.stop_lock_holders()
        for name, log in logs.items():
            assert log.startswith("held\n") and log.endswith("done\n"), log
            assert "err " not in log, f"the {name} lock holder's I/O failed: {log}"
        klog = [line for line in s.client_kmsg_since("switchover")
                if re.search(r"scope|reclaim|lost lock|lost \d+ lock|failed to", line, re.I)]
        assert not klog, "\n".join(klog)
        print(f"locks held across the switchover: NFSv4 and NLM, reclaimed on {primary.name}; "
              f"the holders wrote {[log.count('ok ') for log in logs.values()]} times, no error")
        got = s.check_records()
        print(f"after the switchover back (acknowledged, lost): {got}")
        assert all(bad == 0 and n > 20 for n, bad, _ in got.values()), got
        assert not s.failures(), s.failures()
    finally:
        s.teardown()
