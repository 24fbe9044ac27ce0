#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`make boot-race`: nfs-export's start on freshly booted nodes, BOOTS times
(default 10).

A systemd:nfs-server clone failed its start on a freshly booted node two
times in four (systemd reported it inactive a second before it logged it
started). Each round here boots two fresh nodes (new overlays, no cluster
started) and, as soon as storha is installed, starts nfs-export with the
server managed on both at once, while the nodes' boot may still be going
on; then a monitor at depth 10 and a stop. Prints each start's exit code,
its time and what systemd said of the boot at that moment; exits 1 if any
start, monitor or stop failed. Refuses to run while a lab is running.
"""

import os
import shlex
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import storhalab  # noqa: E402

AGENT = "/usr/lib/ocf/resource.d/storha/nfs-export"
PARAMS = {"directory": "/srv/race", "clientspec": f"{storhalab.SUBNET}.0/24", "fsid": "55",
          "options": "rw,sync", "create_directory": "true"}


def agent(vm, action, extra=""):
    kv = " ".join(f"OCF_RESKEY_{k}={shlex.quote(v)}" for k, v in PARAMS.items())
    t0 = time.monotonic()
    r = vm.run(f"env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=p_race "
               f"OCF_RESKEY_CRM_meta_timeout=120000 {extra} {kv} {AGENT} {action}",
               check=False, timeout=300)
    return r, time.monotonic() - t0


def main():
    boots = int(os.environ.get("BOOTS", "10"))
    lab = storhalab.Lab()
    if lab.state and lab.running():
        print("boot-race: a lab is running; not touching it")
        return 2
    rows = []
    failed = 0
    for i in range(1, boots + 1):
        lab.up(2, False, install=True, cluster=False)
        try:
            results = {}

            def one(vm):
                boot = vm.run("systemctl is-system-running", check=False).out.strip()
                r, took = agent(vm, "start")
                m, _ = agent(vm, "monitor", "OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=10000")
                s, _ = agent(vm, "stop")
                results[vm.name] = (boot, r, took, m, s)
            lab.each(lab.nodes, one)
        finally:
            lab.down()
        for name, (boot, r, took, m, s) in sorted(results.items()):
            ok = r.rc == 0 and m.rc == 0 and s.rc == 0
            failed += not ok
            rows.append((i, name, boot, r.rc, took, m.rc, s.rc))
            print(f"boot {i} {name}: system {boot} at the start; start {r.rc} in {took:.1f} s, "
                  f"monitor {m.rc}, stop {s.rc}", flush=True)
            if not ok:
                print("".join(x.err for x in (r, m, s)), flush=True)
    print(f"\nboot-race: {len(rows)} starts on fresh boots ({boots} boots of 2 nodes), "
          f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
