# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures of the lab tests.

The session-scoped `lab` fixture uses the lab that is running (`make lab-up`);
if none is, it boots one (LAB_NODES nodes, default 2, and a client VM unless
LAB_CLIENT=0), reuses it for every test and powers it off at the end. Where
qemu cannot run, every lab test fails with the reason; only `LAB=skip` turns
that into a skip, and never under CI (`CI` set). A test marked `nodes(N)`
runs only in the N-node topology and is deselected (not skipped) in the
others, so that a skipped lab test always means an untested change. When a
test fails, the logs of every VM are copied to
$LAB_ARTIFACTS/<test name>/ (default lab/artifacts/) and the folder is printed.
"""

import os
import re
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "lab"))

import storhalab  # noqa: E402

ARTIFACTS = os.environ.get("LAB_ARTIFACTS", os.path.join(TOP, "lab", "artifacts"))

_lab = None


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "every_topology: run in every topology CI boots (the cluster itself)")
    config.addinivalue_line(
        "markers", "power: powers a node off and on (CI runs it in the 3-node topology)")
    config.addinivalue_line(
        "markers", "fencing: a real STONITH of a node (CI runs it in the 2-node topology)")
    config.addinivalue_line(
        "markers", "nodes(n): runs only in the n-node topology; deselected in the others")
    config.addinivalue_line(
        "markers", "long: beyond CI's time budget; `make lab-test-long` runs these")


def topology():
    """(nodes, has a client) of the lab these tests will run against: the
    running lab's, else the one the `lab` fixture will boot."""
    lab = storhalab.Lab()
    if lab.node_names and lab.running():
        return len(lab.node_names), lab.client is not None
    return int(os.environ.get("LAB_NODES", "2")), os.environ.get("LAB_CLIENT", "1") != "0"


def pytest_collection_modifyitems(config, items):
    n, has_client = topology()
    keep, drop = [], []
    for item in items:
        m = item.get_closest_marker("nodes")
        wrong = (m is not None and m.args[0] != n) or \
            (not has_client and "client" in getattr(item, "fixturenames", ()))
        (drop if wrong else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def lab_skip_allowed():
    """Skipping the lab must be asked for, and CI may not ask."""
    return os.environ.get("LAB") == "skip" and not os.environ.get("CI")


@pytest.fixture(scope="session")
def lab():
    global _lab
    problems = storhalab.host_problems()
    if problems:
        reason = "qemu VMs cannot run here: " + "; ".join(problems)
        if lab_skip_allowed():
            pytest.skip("LAB SKIPPED (LAB=skip): " + reason)
        pytest.fail("the lab cannot run: " + reason + " (make lab-deps; LAB=skip skips the lab "
                    "outside CI)", pytrace=False)
    lab = storhalab.Lab()
    booted = False
    if not lab.running():
        nodes = int(os.environ.get("LAB_NODES", "2"))
        client = os.environ.get("LAB_CLIENT", "1") != "0"
        print(f"\nlab: no lab running; booting {nodes} nodes, client={client}")
        lab.up(nodes, client)
        booted = True
    else:
        missing = [n for n in lab.vm_names if n not in lab.running()]
        for name in missing:  # e.g. left off by an interrupted power test
            lab.boot_again(name)
            if name != "client":
                lab.vm(name).run("systemctl start corosync pacemaker")
        for vm in lab.nodes + ([lab.client] if lab.client else []):
            vm.wait_ssh()
    _lab = lab
    yield lab
    _lab = None
    if booted:
        lab.down()


@pytest.fixture(scope="session")
def node1(lab):
    return lab.vm("node1")


@pytest.fixture(scope="session")
def node2(lab):
    return lab.vm("node2")


@pytest.fixture(scope="session")
def client(lab):
    if not lab.client:
        # Deselected at collection when the topology was known; a lab
        # replaced since then is a broken run, not a reason to pass.
        pytest.fail("this lab has no client VM (make lab-up CLIENT=1)", pytrace=False)
    return lab.client


@pytest.fixture
def cluster(lab):
    """The running cluster, emptied of resources before the test."""
    lab.wait_cluster(online=lab.node_names)
    lab.reset_cluster()
    yield lab
    lab.reset_cluster()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _lab is not None and call.when in ("setup", "call"):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)
        dest = os.path.join(ARTIFACTS, name)
        try:
            _lab.collect_logs(dest)
            msg = f"logs of every VM: {dest}"
        except Exception as e:  # never hide the test's own failure
            msg = f"could not collect logs into {dest}: {e}"
        print(f"\nlab: {msg}", file=sys.stderr)
        rep.sections.append(("lab logs", msg))
