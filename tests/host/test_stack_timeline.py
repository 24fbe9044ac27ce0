# SPDX-License-Identifier: GPL-2.0-or-later
"""lab/stack.py: the client's first write served after a failover is the
acknowledgement that ends the outage, not one the old Primary completed at
the moment of the cut."""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "lab"))

import stack  # noqa: E402


def acks(times):
    return [(i, t) for i, t in enumerate(times)]


def test_an_ack_logged_just_after_the_cut_is_not_the_service_back():
    # Acks every 50 ms up to the cut at 1000.0, one logged 30 ms after it
    # (its fsync had completed), then silence until the new Primary serves.
    before = [1000.0 - 0.05 * k for k in range(20, 0, -1)]
    got = stack.first_served({"v42": acks(before + [1000.03, 1061.4, 1061.45])}, 1000.0)
    assert abs(got - 61.4) < 1e-6


def test_the_earliest_stream_back_counts():
    a = acks([999.9, 1070.0, 1070.05])
    b = acks([999.95, 1063.2, 1063.25])
    assert abs(stack.first_served({"v42": a, "v3": b}, 1000.0) - 63.2) < 1e-6


def test_still_waiting():
    assert stack.first_served({"v42": acks([999.9, 999.95, 1000.01])}, 1000.0) is None
    assert stack.first_served({"v42": []}, 1000.0) is None


STATUS = """<status>
<node_state uname="node1"><lrm><lrm_resources>
 <lrm_resource id="p_drbd:0"><lrm_rsc_op operation="monitor" last-rc-change="1060" exec-time="900"/>
  <lrm_rsc_op operation="promote" last-rc-change="1045" exec-time="2400"/></lrm_resource>
 <lrm_resource id="p_fs"><lrm_rsc_op operation="start" last-rc-change="1049" exec-time="800"/></lrm_resource>
 <lrm_resource id="p_nfs"><lrm_rsc_op operation="start" last-rc-change="1051" exec-time="3100"/></lrm_resource>
 <lrm_resource id="p_vip"><lrm_rsc_op operation="start" last-rc-change="1056" exec-time="300"/></lrm_resource>
 <lrm_resource id="p_fence"><lrm_rsc_op operation="start" last-rc-change="1040" exec-time="1000"/></lrm_resource>
 <lrm_resource id="p_wbc"><lrm_rsc_op operation="start" last-rc-change="500" exec-time="5000"/></lrm_resource>
</lrm_resources></lrm></node_state>
<node_state uname="node2"><lrm><lrm_resources>
 <lrm_resource id="p_vip"><lrm_rsc_op operation="start" last-rc-change="1070" exec-time="1"/></lrm_resource>
</lrm_resources></lrm></node_state>
</status>"""


def test_the_survivors_operations_after_the_cut_give_the_exact_marks():
    ops = stack.ops_after(STATUS, "node1", 1000.0)
    assert sorted(ops) == sorted([("p_drbd", "promote", 45.0, 2.4), ("p_fs", "start", 49.0, 0.8),
                                  ("p_nfs", "start", 51.0, 3.1), ("p_vip", "start", 56.0, 0.3),
                                  ("p_fence", "start", 40.0, 1.0)])
    marks = stack.cib_marks(ops)
    assert [round(marks[w], 1) for w in ("promoted", "exported", "address up")] == \
        [47.4, 54.1, 56.3]
    own = sum(d for r, o, _, d in ops if stack.on_failover_path(r, o))
    assert round(own, 1) == 6.6
