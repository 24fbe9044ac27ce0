#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`make soak`: failover after failover of the whole stack in the lab, with
a client writing self-checking records all along.

Each round powers the current Primary off at its strip outlet (it is fenced,
the survivor takes over), checks every acknowledged record through a fresh
mount, lets the fenced node rejoin and resync, and every fourth round (and
the last) adds a planned switchover back to it. ROUNDS (default 20) rounds;
prints records written, acknowledged and lost per round and in total. Boots its own lab (two nodes
and a client) unless one is running, and takes it down unless KEEP=1.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import stack  # noqa: E402
import storhalab  # noqa: E402


def main():
    rounds = int(os.environ.get("ROUNDS", "20"))
    keep = os.environ.get("KEEP") == "1"
    lab = storhalab.Lab()
    booted = False
    if not (lab.state and lab.running()):
        lab.up(2, True)
        booted = True
    elif lab.client is None or len(lab.nodes) != 2:
        print("soak: the running lab is not two nodes and a client; 'make lab-down' first")
        return 1
    t_start = time.monotonic()

    def say(msg):
        print(f"[{time.monotonic() - t_start:6.0f} s] {msg}", flush=True)
    s = stack.Stack(lab, say=say)
    total_written = total_acked = total_lost = 0
    rows = []
    ok = True
    try:
        say("disks: a writeboost cache per node, DRBD's metadata on it, ext4 on the Primary")
        s.prepare()
        say("loading crm-examples/stack-2node.crm")
        primary = s.load()
        for i in range(1, rounds + 1):
            say(f"round {i} of {rounds}: the client writes, {primary.name} (Primary) powered off")
            s.start_writers()
            timeline, survivor = s.power_off(primary)
            got = s.check_records()
            acked = sum(n for n, _, _ in got.values())
            lost = sum(bad for _, bad, _ in got.values())
            written = sum(w for _, _, w in got.values())
            say(f"{primary.name} rejoins and resyncs")
            resync = s.rejoin(primary)
            moved = None
            if i % 4 == 0 or i == rounds:
                say(f"planned switchover back to {primary.name}")
                moved = s.move(primary)
                got2 = s.check_records()
                lost += sum(bad for _, bad, _ in got2.values())
                survivor = primary
            total_written += written
            total_acked += acked
            total_lost += lost
            rows.append((i, timeline["address up"], timeline["client's first write served"],
                         resync, moved, acked, lost))
            served = timeline["client's first write served"]
            print(f"round {i}: address up {timeline['address up']:.1f} s, client served "
                  f"{served:.1f} s, resync {resync:.0f} s"
                  + (f", switchover {moved:.1f} s" if moved is not None else "")
                  + f"; {written} records written, {acked} acknowledged, {lost} lost",
                  flush=True)
            if lost:
                ok = False
            primary = survivor
    except storhalab.LabError as e:
        print(f"soak stopped: {e}", flush=True)
        ok = False
    finally:
        print(f"\n{len(rows)} of {rounds} rounds: {total_written} records written, "
              f"{total_acked} acknowledged, {total_lost} lost", flush=True)
        if not keep:
            try:
                s.teardown()
            except storhalab.LabError as e:
                print(f"teardown: {e}")
            if booted:
                lab.down()
    return 0 if ok and len(rows) == rounds else 1


if __name__ == "__main__":
    sys.exit(main())
