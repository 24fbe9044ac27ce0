# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash consistency of writeboost -> DRBD -> ext4 with dm-log-writes.

The lab's disks complete every write durably, so a power-off of a VM cannot
catch a lost flush. Here every write and flush under the stack is recorded
(one dm-log-writes device under both the writeboost cache and its backing
device, carved out of it with dm-linear), while a writer fsyncs self-checking
records and marks each acknowledged one in the log. The log is then replayed
to points after flushes and FUA writes, just after acknowledgements and
between flushes; at each point the stack is assembled again over the image
(writeboost replays its log, DRBD attaches and is promoted, ext4 recovers its
journal) and every record acknowledged before that point must read back
intact. lab/crashcheck.py does the work inside node1.

The negative case shows the check can fail: ext4 mounted with barrier=0
sends no flush, so dm-writeboost keeps the fsync'd records in its RAM buffer
(a volatile write cache) and the log shows records acknowledged that were
not on any disk.

CRASH_POINTS=N scales the number of points checked (make soak may use more)."""

import json
import os

import pytest

import stack

TOP = stack.TOP
SCRIPT = os.path.join(TOP, "lab", "crashcheck.py")
SCALE = int(os.environ.get("CRASH_POINTS", "1"))


def run(vm, mode, **overrides):
    cfg = {"dir": "/var/tmp/crash", "cache_mib": 32, "backing_mib": 96, "log_mib": 1024,
           "records": 150, "flush_points": 10, "ack_points": 5, "between_points": 4,
           "drbd_disk": "", "mount_opts": "", "agent": stack.WBC_AGENT,
           "host": vm.name, "addr": vm.run("hostname -I").out.split()[0]}
    cfg.update(overrides)
    with open(SCRIPT) as f:
        vm.put_bytes("/tmp/crashcheck.py", f.read())
    vm.put_bytes("/tmp/crashcheck.json", json.dumps(cfg))
    r = vm.run(f"python3 /tmp/crashcheck.py {mode} /tmp/crashcheck.json", timeout=1200)
    return json.loads(r.out.strip().splitlines()[-1])


@pytest.fixture
def node(node1):
    yield node1
    node1.run("umount /mnt/crash 2>/dev/null; drbdadm down crash 2>/dev/null; "
              "for d in crashwb crash-b crash-c crash-snap crash-lw; do "
              "dmsetup remove --retry $d 2>/dev/null; done; "
              "for f in data log replay cow; do losetup -j /var/tmp/crash/$f.img | cut -d: -f1 "
              "| xargs -r -n1 losetup -d; done; rm -rf /var/tmp/crash /etc/drbd.d/crash.res; true",
              check=False, timeout=300)


def summary(out):
    kinds = {}
    for p in out["points"]:
        kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    return (f"{out['entries']} log entries ({out['flags']}), candidates {out['candidates']}, "
            f"{len(out['points'])} points checked {kinds} in {out['check_s']} s")


@pytest.mark.long
@pytest.mark.nodes(2)
def test_every_acknowledged_record_survives_at_every_replayed_point(node):
    rec = run(node, "record", records=150 * SCALE)
    print(f"\nrecorded: {rec}")
    # The cache (32 MiB, 62 segments) wrapped and wrote back during the run:
    # the log holds writebacks racing the writer, not only cache writes.
    assert rec["wb_current_id"] > rec["wb_segments"] and rec["wb_last_writeback_id"] > 0, rec
    out = run(node, "check", flush_points=10 * SCALE, ack_points=5 * SCALE,
              between_points=4 * SCALE)
    print(summary(out))
    for p in out["points"]:
        print(f"  point {p['point']:6d} {p['kind']:8s} acknowledged {p['acked']:4d} "
              f"lost {p['lost']} intact-unacknowledged {p['intact_unacked']} ({p['s']} s)")
    lost = [p for p in out["points"] if p["lost"] or p["error"]]
    assert not lost, f"acknowledged records lost at {lost}"
    assert len(out["points"]) >= 15, out["points"]
    assert out["points"][-1]["acked"] == rec["records"], out["points"][-1]
    assert out["flags"]["flush"] > 0 and out["flags"]["fua"] > 0, out["flags"]


@pytest.mark.long
@pytest.mark.nodes(2)
def test_a_stack_without_flushes_loses_acknowledged_records_and_the_check_sees_it(node):
    rec = run(node, "record", records=40, mount_opts="barrier=0")
    print(f"\nrecorded (ext4 barrier=0): {rec}")
    out = run(node, "check", mount_opts="barrier=0", flush_points=2, ack_points=4,
              between_points=0)
    print(summary(out))
    for p in out["points"]:
        print(f"  point {p['point']:6d} {p['kind']:8s} acknowledged {p['acked']:4d} "
              f"lost {p['lost']} first lost {p['bad'][:5]}"
              + (f" (stack not assembled: {p['error'][-300:]})" if p["error"] else ""))
    # Lost with the stack assembled and ext4 mounted: the records are
    # missing, not the check broken.
    assert any(p["lost"] and not p["error"] for p in out["points"] if p["kind"] == "ack"), \
        out["points"]
