# SPDX-License-Identifier: GPL-2.0-or-later
"""Under Pacemaker a storha agent's lines land in the journal as
resource-agents' do: the same transport, tag shape (`AGENT(RESOURCE)` with
the agent's pid), facility and priorities, and the level word leading the
message. IPaddr2, run beside it, is the reference."""

import json
import time

import pytest

import storhalab

pytestmark = pytest.mark.nodes(2)

OURS, REF = "log-vip", "log-ref"


def journal(vm, since, ident):
    r = vm.run(f"journalctl -o json --no-pager --since @{since} SYSLOG_IDENTIFIER={ident!r}")
    return [json.loads(line) for line in r.out.splitlines() if line.startswith("{")]


def test_agent_lines_in_the_journal_look_like_resource_agents(cluster, node1):
    lab = cluster
    since = int(node1.run("date +%s").out) - 1
    node1.run(
        f"crm configure primitive {OURS} ocf:storha:floating-ip params "
        f"ip={storhalab.FREE_IPS[8]} cidr_netmask=24 nic=eth0 && "
        f"crm configure primitive {REF} ocf:heartbeat:IPaddr2 params "
        f"ip={storhalab.FREE_IPS[9]} cidr_netmask=24 nic=eth0 && "
        f"crm configure location {OURS}-here {OURS} inf: {node1.name} && "
        f"crm configure location {REF}-here {REF} inf: {node1.name}")
    for rsc in (OURS, REF):
        lab.wait_for(lambda: lab.resource_roles(rsc).get(node1.name) == "Started", 60,
                     f"{rsc} started on {node1.name}")
    ours = ref = []

    def both():
        nonlocal ours, ref
        ours = journal(node1, since, f"floating-ip({OURS})")
        ref = journal(node1, since, f"IPaddr2({REF})")
        return ours and ref
    lab.wait_for(both, 20, "the agents' lines in the journal",
                 describe=lambda: node1.run(f"journalctl --no-pager --since @{since} | tail -40").out)
    r = ref[0]
    assert r["MESSAGE"].startswith("INFO: ") and r["PRIORITY"] == "6", r
    for e in ours:
        assert e["_TRANSPORT"] == r["_TRANSPORT"] == "syslog", e
        assert e["SYSLOG_FACILITY"] == r["SYSLOG_FACILITY"], (e, r)
        assert e["SYSLOG_PID"].isdigit(), e
        word = e["MESSAGE"].split(":", 1)[0]
        assert word in ("INFO", "WARNING", "ERROR", "DEBUG"), e
        assert e["PRIORITY"] == {"INFO": "6", "WARNING": "4", "ERROR": "3", "DEBUG": "7"}[word], e
    assert any(e["MESSAGE"].startswith("INFO: ") for e in ours), ours
