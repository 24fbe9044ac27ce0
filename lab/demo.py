#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`make demo`: the whole storha stack in the lab, failed over.

Boots two storage nodes and a client (Debian VMs under qemu, the image built
or taken from the cache), loads crm-examples/stack-2node.crm into their
cluster (writeboost cache -> DRBD -> ext4 -> NFS export -> floating IP, fenced
through a power strip), shows crm_mon, starts a client writing self-checking
records through the floating IP over NFSv4.2 and NFSv3, powers the Primary off
at its strip outlet, and prints the failover's timeline and the client's data
check. Cleans up at the end; KEEP=1 leaves the lab and the stack running.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import stack  # noqa: E402
import storhalab  # noqa: E402

T0 = time.monotonic()


def say(msg=""):
    print(f"[{time.monotonic() - T0:6.0f} s] {msg}" if msg else "", flush=True)


def step(msg):
    say()
    say(f"== {msg}")


def main():
    keep = os.environ.get("KEEP") == "1"
    lab = storhalab.Lab()
    if lab.state and lab.running():
        say(f"a lab is already running ({' '.join(lab.running())}): not touching it; "
            "'make lab-down' first")
        return 1
    ok = False
    s = None
    try:
        step("booting two storage nodes and a client (image built once, then cached)")
        lab.up(2, True)
        s = stack.Stack(lab, say=say)
        step("disks: a writeboost cache per node, DRBD's metadata on it, ext4 on the Primary")
        s.prepare()
        step("loading crm-examples/stack-2node.crm (fencing through the strip emulator)")
        primary = s.load()
        other = next(vm for vm in lab.nodes if vm is not primary)
        print(s.crm_text(), flush=True)
        step(f"the client mounts {stack.VIP}:{stack.DATA} (NFSv4.2 and NFSv3) and writes "
             "records with fsync")
        s.start_writers()
        time.sleep(5)
        say(f"acknowledged so far: { {n: s.acked(n) for n in s.mounts} }")
        dirty = primary.run("dmsetup status wbc").out.split()[9]
        step(f"powering {primary.name}, the Primary, off at its strip outlet "
             f"({dirty} dirty blocks in its cache)")
        timeline, survivor = s.power_off(primary)
        print(s.crm_text(survivor), flush=True)
        hist = survivor.run(f"stonith_admin --history {primary.name}", check=False).out
        print(hist.strip(), flush=True)
        step("the client's data: every acknowledged record, read back through a fresh mount")
        got = s.check_records()
        for name, (n, bad, written) in got.items():
            say(f"{name}: {written} records written, {n} acknowledged, {bad} of those lost "
                "or damaged")
        step(f"{primary.name} rejoins (the fencing rebooted it) and resyncs as Unpromoted")
        took = s.rejoin(primary)
        say(f"{primary.name} UpToDate again after {took:.0f} s; service stays on {other.name}")
        say()
        say("timeline of the failover, from the power-off:")
        say(f"  {0.0:6.1f} s  kill: {primary.name}'s outlet switched off")
        for what, label in (("node lost", f"node lost: corosync on {other.name} drops it"),
                            ("fenced", "fenced: stonith reports the reboot done"),
                            ("promoted", f"promoted: DRBD Primary on {other.name}"),
                            ("exported", "exported: nfs-export started"),
                            ("address up", "address up: floating-ip started"),
                            ("client's first write served",
                             "the client's first new write acknowledged")):
            say(f"  {timeline[what]:6.1f} s  {label}")
        ok = all(bad == 0 for _, bad, _ in got.values())
        say()
        say("no acknowledged write lost" if ok else "ACKNOWLEDGED WRITES LOST")
    except storhalab.LabError as e:
        say(f"demo failed: {e}")
    finally:
        if keep:
            say("KEEP=1: the lab and the stack stay up ('make lab-ssh NODE=1', "
                "'make lab-down' to end)")
        else:
            # The lab is the demo's own: powering it off drops its disks, so
            # nothing inside the VMs needs undoing; the strip emulator runs
            # on this host.
            step("cleaning up: the strip emulator stopped, the VMs off, their disks removed")
            if s is not None and s.strip is not None:
                s.strip.stop()
            lab.down()
    say(f"demo done in {time.monotonic() - T0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
