# SPDX-License-Identifier: GPL-2.0-or-later
"""The power strip emulator on the lab's bridge, with one outlet per VM: its
hook drives the VMs' power (outlet off = hard power-off through QMP, on =
boot), so that fence_ipstrip fences the lab's nodes for real. Used by the
fencing test, the stack's failover test and `make demo`."""

import json
import os
import secrets
import signal
import subprocess
import tempfile
import time

import storhalab

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATOR = os.path.join(TOP, "tests", "emulator", "ipstrip_emulator.py")
POWER = os.path.join(TOP, "lab", "power")


class Strip:
    """The emulator, listening on the lab bridge inside the lab's netns, with
    one outlet per node; its hook drives the VMs' power."""

    def __init__(self, names, snmp=False):
        self.dir = tempfile.mkdtemp(prefix="storha-strip-")
        self.password = secrets.token_hex(12)
        with open(os.path.join(self.dir, "secrets"), "w") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(f"username=admin\npassword={self.password}\n"
                    f"community={self.password}\n")
        self.ready = os.path.join(self.dir, "ready.json")
        self.log_path = os.path.join(self.dir, "emulator.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", storhalab.NETNS, "/usr/bin/python3", EMULATOR,
             "--listen", storhalab.HOST_IP, "--http", "0", "--control", "0",
             "--outlets", str(len(names)), "--names", ",".join(names),
             "--secrets", os.path.join(self.dir, "secrets"),
             "--hook", f"{POWER} {{name}} {{state}}", "--ready-file", self.ready]
            + (["--snmp", "0"] if snmp else []),
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"emulator did not start: {self.text()}")
            time.sleep(0.1)
        with open(self.ready) as f:
            self.ports = json.load(f)

    def state(self):
        """The emulator's own record: outlets and the history of changes."""
        get = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
        r = subprocess.run(["ip", "netns", "exec", storhalab.NETNS, "/usr/bin/python3", "-c", get,
                            f"http://127.0.0.1:{self.ports['control']}/state"],
                           stdout=subprocess.PIPE, check=True, timeout=30)
        return json.loads(r.stdout)

    def control(self, path, body):
        """POSTs to the emulator's control API (inside the lab's netns)."""
        post = ("import sys, urllib.request; urllib.request.urlopen(urllib.request.Request("
                "sys.argv[1], data=sys.argv[2].encode(), method='POST'), timeout=30).read()")
        subprocess.run(["ip", "netns", "exec", storhalab.NETNS, "/usr/bin/python3", "-c", post,
                        f"http://127.0.0.1:{self.ports['control']}{path}", json.dumps(body)],
                       check=True, timeout=60)

    def set(self, outlet, on):
        """Switches an outlet (numbered from 1, in the order of the names) as a
        person at the strip's own controls would: its hook powers the VM."""
        self.control("/set", {"outlet": outlet, "on": on})

    def text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.log.close()
