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
