# SPDX-License-Identifier: GPL-2.0-or-later
"""The whole storha stack in the lab: crm-examples/stack-2node.crm loaded into
the two-node cluster (writeboost-cache clone -> drbd-tuned promotable clone ->
Filesystem -> nfs-export -> floating-ip, fenced through the power strip
emulator), a client writing self-checking records through the floating IP,
and the failovers with their timelines. Used by tests/lab/test_zx_stack.py
and by `make demo` (lab/demo.py)."""

import os
import re
import time
import xml.etree.ElementTree as ET

import storhalab
from strip import Strip

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(TOP, "crm-examples")
CRM = os.path.join(EXAMPLES, "stack-2node.crm")
# The same cluster with the reference agents (the failover benchmark).
REFERENCE_CRM = os.path.join(TOP, "lab", "reference-stack.crm")
RES = os.path.join(EXAMPLES, "drbd", "r0-2node.res")
SECRET_FILE = "/etc/storha/fence-strip.secret"
WBC_AGENT = "/usr/lib/ocf/resource.d/storha/writeboost-cache"
HDD = "/dev/vdb"
MNT = "/srv/nfs"
DATA = "/srv/nfs/data"
VIP = storhalab.SUBNET + ".100"
DRBD_RES = "r0"
# The constraint crm-fence-peer.sh puts in the CIB while the peer is fenced off.
FENCE_CONSTRAINT = "drbd-fence-by-handler"

# Writes record N at offset N*64 ("N sha256(N:payload)[:32] payload", padded),
# fsync'd, and only then appends "N time" to the acknowledgement log, itself
# fsync'd: a record in the log is one the client was told is on the server.
WRITER = r"""
import hashlib, os, sys, time
path, acks, stop = sys.argv[1], sys.argv[2], sys.argv[3]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
log = open(acks, "a")
errors = open(acks + ".errors", "a")
n = 0
while not os.path.exists(stop):
    payload = ("%016d" % (n * 7919)).encode()
    body = b"%010d " % n + hashlib.sha256(b"%d:" % n + payload).hexdigest()[:32].encode() \
        + b" " + payload
    try:
        os.pwrite(fd, body.ljust(63, b".") + b"\n", n * 64)
        os.fsync(fd)
    except OSError as e:
        # Not acknowledged: the same record is written again.
        errors.write("%d %.3f %s\n" % (n, time.time(), e.errno))
        errors.flush()
        time.sleep(1)
        continue
    log.write("%d %.3f\n" % (n, time.time()))
    log.flush()
    os.fsync(log.fileno())
    n += 1
    time.sleep(0.05)
"""

# Reads the records file whole and checks every acknowledged record:
# prints "acknowledged bad written first-bad..." (written: records in the file).
CHECKER = r"""
import hashlib, sys
data = open(sys.argv[1], "rb").read()
acked = [int(line.split()[0]) for line in open(sys.argv[2]) if line.strip()]
bad = []
for n in acked:
    rec = data[n * 64:(n + 1) * 64]
    try:
        seq, digest, payload = rec.rstrip(b"\n").rstrip(b".").split(b" ")
        ok = int(seq) == n and \
            digest == hashlib.sha256(b"%d:" % n + payload).hexdigest()[:32].encode()
    except ValueError:
        ok = False
    if not ok:
        bad.append(n)
print(len(acked), len(bad), len(data) // 64, " ".join(map(str, bad[:10])))
"""


# Takes a POSIX lock on a file (through NFSv4 it is an NFSv4 lock, through an
# NFSv3 mount an NLM lock) and keeps writing through the locked descriptor
# with fsync, logging "ok N" or "err N errno": with the lock lost (not
# reclaimed) the client fails the descriptor's I/O with EIO. Unlocks and
# logs "done" once the stop file appears.
LOCK_HOLDER = r"""
import fcntl, os, sys, time
path, log, stop = sys.argv[1], sys.argv[2], sys.argv[3]
out = open(log, "a")
def say(s):
    out.write(s + "\n"); out.flush(); os.fsync(out.fileno())
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
fcntl.lockf(fd, fcntl.LOCK_EX)
say("held")
n = 0
while not os.path.exists(stop):
    try:
        os.pwrite(fd, b"%010d\n" % n, 0)
        os.fsync(fd)
        say("ok %d" % n)
    except OSError as e:
        say("err %d %d" % (n, e.errno))
    n += 1
    time.sleep(1)
fcntl.lockf(fd, fcntl.LOCK_UN)
os.close(fd)
say("done")
"""

# One non-blocking attempt at a conflicting lock: prints "got", "refused"
# or "error ERRNO" for each file.
LOCK_TRY = r"""
import errno, fcntl, os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        print(path, "got")
        fcntl.lockf(fd, fcntl.LOCK_UN)
    except OSError as e:
        print(path, "refused" if e.errno in (errno.EAGAIN, errno.EACCES)
              else "error %d" % e.errno)
    os.close(fd)
"""

# The second NFS client: a network namespace in the client VM with its own
# address on the lab's network (ipvlan on the client's interface) and, for
# each attempt, its own UTS node name, so that its NFSv4 client owner and
# its source address differ from the first client's.
SECOND_CLIENT_NS = "nfsb"
SECOND_CLIENT_IP = storhalab.SUBNET + ".30"


def first_served(acks, cut, gap=2.0):
    """Seconds from the cut (client clock) to the acknowledgement that ends
    the outage, from {stream: [(seq, client time)]}: in each stream the first
    one after the cut that follows a silence of at least gap seconds (the
    writers acknowledge every 50 ms while served), the earliest of the
    streams. Writes the old Primary completed just before it lost power,
    logged a moment after the cut, do not count. None while the client
    still waits."""
    first = []
    for stream in acks.values():
        prev = None
        for _, c in stream:
            at = c - cut
            if at > 0 and prev is not None and at - prev >= gap:
                first.append(at)
                break
            prev = at
    return min(first) if first else None


def ops_after(status_xml, node, since):
    """From `cibadmin -Q -o status`: node's operations other than monitors
    whose last run started at since (epoch seconds, node's clock) or later,
    less a second (the CIB keeps whole seconds), as [(resource, operation,
    seconds from since to the start, seconds it ran)]; clone instances under
    their primitive's name."""
    ops = []
    for ns in ET.fromstring(status_xml).iter("node_state"):
        if ns.get("uname") != node:
            continue
        for r in ns.iter("lrm_resource"):
            for op in r.iter("lrm_rsc_op"):
                name, start, ran = (op.get("operation"), op.get("last-rc-change"),
                                    op.get("exec-time"))
                if name in ("monitor", None) or start is None or ran is None:
                    continue
                if float(start) >= since - 1:
                    ops.append((r.get("id").split(":")[0], name, float(start) - since,
                                int(ran) / 1000))
    return ops


def on_failover_path(rsc, op):
    """The survivor's own work between the fencing and the service: DRBD's
    promote and the starts of the NFS group's members."""
    return (rsc == "p_drbd" and op == "promote") or \
        (op == "start" and rsc not in ("p_drbd", "p_wbc", "p_fence"))


def cib_marks(ops):
    """promoted, exported and address up, in seconds from the cut, from
    ops_after(): when each operation ended (the CIB's record, not a poll)."""
    marks = {}
    for what, rsc, op in (("promoted", "p_drbd", "promote"), ("exported", "p_nfs", "start"),
                          ("address up", "p_vip", "start")):
        ends = [at + ran for r, o, at, ran in ops if r == rsc and o == op]
        if ends:
            marks[what] = min(ends)
    return marks


def adapted_crm(strip, cache_dev, flavor="storha"):
    """The user-facing example (or the reference stack) with the lab's
    emulator ports and cache disk."""
    with open(CRM if flavor == "storha" else REFERENCE_CRM) as f:
        text = f.read()
    text = text.replace("ipport=8080", f"ipport={strip.ports['http']}")
    text = text.replace("SNMP_PORT", str(strip.ports.get("snmp", "")))
    text = text.replace("SNMP_COMMUNITY", strip.password)
    return text.replace("/dev/disk/by-id/virtio-storha-cache", cache_dev)


class Stack:
    """One run of the stack in a booted two-node lab with a client."""

    def __init__(self, lab, say=print, flavor="storha"):
        self.lab = lab
        self.flavor = flavor
        self.say = say
        self.nodes = lab.nodes
        self.client = lab.client
        self.strip = None
        self.mounts = {"v42": "vers=4.2", "v3": "vers=3,proto=tcp"}
        self.stop_file = "/tmp/stack-stop-writers"

    # ---- set-up

    def wbc(self, vm, action, **extra):
        params = {"name": "wbc", "backing_dev": HDD, "cache_dev": self.lab.cache_dev,
                  "format": "if-unformatted"}
        params.update(extra)
        env = " ".join(f"OCF_RESKEY_{k}={v}" for k, v in params.items())
        return vm.run(f"env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=p_wbc "
                      f"OCF_RESKEY_CRM_meta_timeout=300000 {env} {WBC_AGENT} {action}",
                      timeout=360)

    def prepare(self):
        """Blank disks, a new cache on each node, DRBD's metadata on the
        writeboost device, the initial sync skipped (new disks), ext4 made
        once; then everything down again for Pacemaker to start."""
        with open(RES) as f:
            res = f.read()

        def one(vm):
            vm.run(f"drbdadm down {DRBD_RES} 2>/dev/null; dmsetup remove wbc 2>/dev/null; true")
            vm.run(f"umount {MNT} 2>/dev/null; mkdir -p {MNT}; true")
            # sm-notify needs a name for the address it notifies from.
            vm.run(f"grep -q '^{VIP} ' /etc/hosts || echo '{VIP} storha-nfs' >> /etc/hosts")
            vm.run(f"dd if=/dev/zero of={self.lab.cache_dev} bs=1M count=1 oflag=direct "
                   f"status=none; wipefs -qa {HDD}; dd if=/dev/zero of={HDD} bs=1M count=4 "
                   "oflag=direct status=none")
            self.wbc(vm, "start")
            vm.put_bytes(f"/etc/drbd.d/{DRBD_RES}.res", res)
            vm.run(f"modprobe drbd && drbdadm create-md --force {DRBD_RES} </dev/null")
            vm.run(f"drbdadm up {DRBD_RES}")
        self.lab.each(self.nodes, one)
        first = self.nodes[0]
        self.lab.wait_for(lambda: "cs:Connected" in first.run("cat /proc/drbd").out, 120,
                          "DRBD connected", describe=lambda: first.run("cat /proc/drbd").out)
        first.run(f"drbdadm -- --clear-bitmap new-current-uuid {DRBD_RES}")
        for vm in self.nodes:
            self.lab.wait_for(lambda: "ds:UpToDate/UpToDate" in vm.run("cat /proc/drbd").out,
                              120, f"DRBD UpToDate on {vm.name}")
        # The export's directory is made here (exportfs needs it; nfs-export
        # would create it, create_directory=true).
        first.run(f"drbdadm primary {DRBD_RES} && mkfs.ext4 -q -F /dev/drbd0 && "
                  f"mount /dev/drbd0 {MNT} && mkdir -p {DATA} && umount {MNT} && "
                  f"drbdadm secondary {DRBD_RES}", timeout=300)

        def down(vm):
            vm.run(f"drbdadm down {DRBD_RES}")
            self.wbc(vm, "stop")
        self.lab.each(self.nodes, down)

    def load(self):
        """The strip emulator up, its password on the nodes, the example in."""
        self.strip = Strip([vm.name for vm in self.nodes], snmp=self.flavor != "storha")
        for vm in self.nodes:
            vm.put_bytes(SECRET_FILE, self.strip.password + "\n", mode=0o600)
            vm.run("stonith_admin --cleanup --history '*'", check=False)
        crm = adapted_crm(self.strip, self.lab.cache_dev, self.flavor)
        first = self.nodes[0]
        first.put_bytes("/tmp/stack.crm", crm)
        first.run("crm configure load update /tmp/stack.crm", timeout=300)
        return self.wait_service(600, "the stack started")

    # ---- state

    def mon(self, vm=None):
        return self.lab.crm_mon(vm)

    def service_node(self, vm=None):
        """The node where the floating IP is Started, or None."""
        on = [n for n, role in self.lab.resource_roles("p_vip", vm).items()
              if role == "Started"]
        return on[0] if len(on) == 1 else None

    def promoted(self, vm=None):
        return [n for n, role in self.lab.resource_roles("p_drbd", vm).items()
                if role == "Promoted"]

    def wait_service(self, timeout, what, vm=None, avoid=None):
        def up():
            n = self.service_node(vm)
            return n if n and n != avoid else None
        name = self.lab.wait_for(up, timeout, what, describe=lambda: self.crm_text(vm))
        return self.lab.vm(name)

    def crm_text(self, vm=None):
        vm = vm or self.lab.first_online()
        return vm.run("crm_mon -1 -r -A", check=False).out

    def failures(self, vm=None):
        vm = vm or self.lab.first_online()
        out = vm.run("crm_mon -1 -r --output-as=xml", check=False).out
        return re.findall(r"<failure [^>]*>", out)

    def fence_constraints(self, vm):
        out = vm.run("cibadmin -Q -o constraints", check=False).out
        return re.findall(rf'id="({FENCE_CONSTRAINT}[^"]*)"', out)

    # ---- the client

    def clock_offset(self):
        """client clock - host clock, in seconds (to within an ssh round trip)."""
        t0 = time.time()
        c = float(self.client.run("date +%s.%N").out)
        t1 = time.time()
        return c - (t0 + t1) / 2

    def mount_all(self, opts_extra=""):
        for name, opts in self.mounts.items():
            self.client.run(f"mkdir -p /mnt/{name} && mount -t nfs "
                            f"-o {opts},hard,timeo=50{opts_extra} {VIP}:{DATA} /mnt/{name}",
                            timeout=300)

    def umount_all(self, force=False):
        for name in self.mounts:
            self.client.run(f"umount {'-f ' if force else ''}/mnt/{name}", check=False,
                            timeout=240)

    def start_writers(self):
        self.client.put_bytes("/tmp/stack-writer.py", WRITER)
        self.client.put_bytes("/tmp/stack-checker.py", CHECKER)
        self.client.run(f"rm -f {self.stop_file} /tmp/stack-acks-*")
        self.client.run("pkill -f '[s]tack-writer.py'; true")
        self.umount_all()
        self.mount_all()
        for name in self.mounts:
            self.client.run(f"setsid python3 /tmp/stack-writer.py /mnt/{name}/records-{name} "
                            f"/tmp/stack-acks-{name} {self.stop_file} "
                            f"</dev/null >/tmp/stack-writer-{name}.log 2>&1 &")
        self.lab.wait_for(lambda: all(self.acked(n) >= 20 for n in self.mounts), 180,
                          "the client's writers running")

    def acks(self, name):
        """[(seq, client time)] acknowledged so far."""
        out = self.client.run(f"cat /tmp/stack-acks-{name}", check=False).out
        return [(int(a), float(b)) for a, b in
                (line.split() for line in out.splitlines() if line.strip())]

    def acked(self, name):
        out = self.client.run(f"cat /tmp/stack-acks-{name}", check=False).out
        return len([line for line in out.splitlines() if line.strip()])

    def write_errors(self):
        """{mount: [errno, ...]} of the writes or fsyncs that failed (and were
        retried) so far."""
        out = {}
        for name in self.mounts:
            text = self.client.run(f"cat /tmp/stack-acks-{name}.errors", check=False).out
            out[name] = [int(line.split()[2]) for line in text.splitlines() if line.strip()]
        return out

    def stop_writers(self):
        self.client.run(f"touch {self.stop_file}; sleep 2")

    def check_records(self):
        """The writers stopped, every acknowledged record read back through a
        fresh mount (the client's page cache cannot answer):
        {mount: (acknowledged, bad, written)}."""
        self.stop_writers()
        self.umount_all()
        self.mount_all()
        out = {}
        for name in self.mounts:
            self.client.run("echo 3 > /proc/sys/vm/drop_caches")
            r = self.client.run(f"python3 /tmp/stack-checker.py /mnt/{name}/records-{name} "
                                f"/tmp/stack-acks-{name}", timeout=300).out.split()
            out[name] = (int(r[0]), int(r[1]), int(r[2]))
        return out

    # ---- locks

    def start_lock_holders(self):
        """An NFSv4 lock (through /mnt/v42) and an NLM lock (through /mnt/v3)
        held by the client, each by a process writing through its locked
        descriptor. Returns the lock files' paths under DATA."""
        c = self.client
        c.put_bytes("/tmp/stack-lock-holder.py", LOCK_HOLDER)
        c.put_bytes("/tmp/stack-lock-try.py", LOCK_TRY)
        # The server notifies (NSM) from the floating address's name.
        c.run(f"grep -q '^{VIP} ' /etc/hosts || echo '{VIP} storha-nfs' >> /etc/hosts")
        c.run("rm -f /tmp/stack-lock-stop /tmp/stack-lock-*.log")
        for name in ("v42", "v3"):
            c.run(f"setsid python3 /tmp/stack-lock-holder.py /mnt/{name}/lock-{name} "
                  f"/tmp/stack-lock-{name}.log /tmp/stack-lock-stop "
                  f"</dev/null >/tmp/stack-lock-{name}.out 2>&1 &")
        self.lab.wait_for(lambda: all("held" in self.lock_log(n) for n in ("v42", "v3")), 120,
                          "the client's locks held",
                          describe=lambda: {n: self.lock_log(n) for n in ("v42", "v3")})
        dev = c.run(f"ip -o route get {storhalab.HOST_IP}").out.split(" dev ")[1].split()[0]
        ns = SECOND_CLIENT_NS
        c.run(f"ip netns del {ns} 2>/dev/null; ip netns add {ns} && "
              f"ip link add {ns}0 link {dev} type ipvlan mode l2 && "
              f"ip link set {ns}0 netns {ns} && "
              f"ip -n {ns} addr add {SECOND_CLIENT_IP}/24 dev {ns}0 && "
              f"ip -n {ns} link set {ns}0 up && ip -n {ns} link set lo up")
        return {n: f"{DATA}/lock-{n}" for n in ("v42", "v3")}

    def lock_log(self, name):
        return self.client.run(f"cat /tmp/stack-lock-{name}.log", check=False).out

    def second_client_try(self, timeout=120):
        """The second client (its own network namespace, address and node
        name) mounts the export over NFSv4.2 and tries a conflicting lock on
        both lock files: {"v42": "got"|"refused"|"error N"|"no answer", ...}.
        In the grace period the server answers NFS4ERR_GRACE, which the
        client retries; an attempt still waiting after timeout s is killed."""
        files = " ".join(f"/mnt/lockb/lock-{n}" for n in ("v42", "v3"))
        r = self.client.run(
            f"ip netns exec {SECOND_CLIENT_NS} unshare --uts sh -c '"
            f"hostname storha-client-b && mkdir -p /mnt/lockb && "
            f"mount -t nfs -o vers=4.2,hard,timeo=50 {VIP}:{DATA} /mnt/lockb && "
            f"{{ timeout -s KILL {timeout} python3 /tmp/stack-lock-try.py {files}; "
            f"umount -f /mnt/lockb || umount -l /mnt/lockb; }}'",
            check=False, timeout=timeout + 120)
        got = {n: "no answer" for n in ("v42", "v3")}
        for line in r.out.splitlines():
            path, _, verdict = line.partition(" ")
            got[path.rsplit("-", 1)[-1]] = verdict
        return got

    def locks_on(self, vm, paths):
        """{name: True if vm's kernel holds a POSIX lock on that file}."""
        locks = vm.run("cat /proc/locks").out
        out = {}
        for name, path in paths.items():
            ino = vm.run(f"stat -c %i {path}").out.strip()
            out[name] = any(line.split()[1] == "POSIX" and
                            line.split()[5].rsplit(":", 1)[-1] == ino
                            for line in locks.splitlines() if len(line.split()) > 5)
        return out

    def stop_lock_holders(self):
        """The holders unlock and exit (waited for: a holder still running
        keeps its mount busy)."""
        c = self.client
        c.run("touch /tmp/stack-lock-stop")
        self.lab.wait_for(lambda: c.run("pgrep -f '[s]tack-lock-holder.py'",
                                        check=False).rc != 0, 120,
                          "the lock holders exited",
                          describe=lambda: c.run("ps -ef", check=False).out)
        c.run(f"ip netns del {SECOND_CLIENT_NS}", check=False)
        return {n: self.lock_log(n) for n in ("v42", "v3")}

    def client_kmsg_mark(self, text):
        self.client.run(f"echo 'storha-lab: {text}' > /dev/kmsg")

    def client_kmsg_since(self, text):
        out = self.client.run("dmesg", check=False).out
        i = out.rfind(f"storha-lab: {text}")
        return out[i:].splitlines()[1:] if i >= 0 else out.splitlines()

    # ---- failovers

    def power_off(self, victim):
        """Cuts victim's power at its strip outlet (as a failing PSU or a
        person would), then follows the survivor's view with timestamps:
        node lost, fenced, promoted, exported, address up, and the client's
        first acknowledged write after the cut. Returns (timeline, survivor)."""
        survivor = next(vm for vm in self.nodes if vm is not victim)
        outlet = [vm.name for vm in self.nodes].index(victim.name) + 1
        offset = self.clock_offset()
        victim.ssh_close()
        t0 = time.time()
        self.strip.set(outlet, False)
        self.say(f"  {0.0:6.1f} s  {victim.name} powered off at its strip outlet {outlet}")
        marks = {}

        def mark(what, cond):
            if what not in marks and cond():
                marks[what] = time.time() - t0
                self.say(f"  {marks[what]:6.1f} s  {what}")

        def lost():
            mon = self.mon(survivor)
            if mon is None:
                return False
            for n in mon.iter("node"):
                if n.get("name") == victim.name:
                    return n.get("online") != "true"
            return False

        def fenced():
            out = survivor.run(f"stonith_admin --history {victim.name} --output-as=xml",
                               check=False).out
            return 'status="success"' in out

        steps = [("node lost", lost), ("fenced", fenced),
                 ("promoted", lambda: survivor.name in self.promoted(survivor)),
                 ("exported", lambda: self.lab.resource_roles("p_nfs", survivor)
                  .get(survivor.name) == "Started"),
                 ("address up", lambda: self.service_node(survivor) == survivor.name)]

        def first_new_write():
            return first_served({n: self.acks(n) for n in self.mounts}, t0 + offset)

        served = "client's first write served"
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            for what, cond in steps:
                mark(what, cond)
            if "address up" in marks:
                at = first_new_write()
                if at is not None:
                    marks[served] = at
                    self.say(f"  {at:6.1f} s  {served}")
                    break
            time.sleep(0.5)
        # The polls above see each step a poll late (seconds, on a loaded
        # host); the CIB records when the survivor's operations ran.
        try:
            exact = cib_marks(self.op_times(survivor, t0))
        except (storhalab.LabError, ET.ParseError, ValueError) as e:
            self.say(f"  (no operation times from the CIB: {e})")
            exact = {}
        if exact:
            self.say("  from the CIB: " + ", ".join(f"{w} {exact[w]:.1f} s" for w, _ in steps
                                                     if w in exact))
            marks.update(exact)
        missing = [w for w, _ in steps if w not in marks]
        self.cut = t0
        if missing or served not in marks:
            raise storhalab.LabError(f"failover incomplete, missing {missing}: {marks}\n"
                                     + self.crm_text(survivor))
        return marks, survivor

    def op_times(self, vm, t0):
        """vm's operations that ran after t0 (host clock), from the CIB's
        record of each resource's last operation: [(resource, operation,
        seconds from t0 to its start, seconds it ran)]."""
        off = float(vm.run("date +%s.%N").out) - time.time()
        return ops_after(vm.run("cibadmin -Q -o status").out, vm.name, t0 + off)

    def agents_time(self, vm, t0):
        """Seconds vm's agents spent on the failover's path after t0 (host
        clock): the promote and the service's starts (fencing device and
        cache clone aside, monitors and notifications not recorded), and
        every operation: (seconds, [(resource, operation, seconds)])."""
        ops = [(r, o, d) for r, o, _, d in self.op_times(vm, t0)]
        return sum(d for r, o, d in ops if on_failover_path(r, o)), ops

    def rejoin(self, vm):
        """The fenced node is back on (the fencing was a reboot through the
        strip): its cluster stack starts, and it comes back as Unpromoted and
        resyncs."""
        vm.ssh_close()
        if not storhalab.VM(self.lab, vm.name).pid():
            self.lab.boot_again(vm.name)
        vm.wait_ssh()
        vm.run("systemctl start corosync pacemaker")
        self.lab.wait_cluster(online=self.lab.node_names, timeout=600)
        t0 = time.time()
        self.lab.wait_for(lambda: "ds:UpToDate/UpToDate" in vm.run("cat /proc/drbd",
                                                                    check=False).out,
                          900, f"{vm.name} resynced",
                          describe=lambda: vm.run("cat /proc/drbd", check=False).out)
        return time.time() - t0

    def move(self, target):
        """A planned switchover with crm resource move; returns its seconds."""
        first = self.lab.first_online()
        t0 = time.time()
        first.run(f"crm resource move g_nfs {target.name}")
        self.lab.wait_for(lambda: self.service_node() == target.name, 600,
                          f"the address on {target.name}", describe=self.crm_text)
        took = time.time() - t0
        first.run("crm resource clear g_nfs")
        return took

    def switchover(self, target):
        """A planned switchover with crm resource move while the client
        writes: {"address up": seconds, "client's first write served":
        seconds} from the move."""
        self.start_writers()
        offset = self.clock_offset()
        t0 = time.time()
        took = self.move(target)
        out = {"address up": took}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            at = first_served({n: self.acks(n) for n in self.mounts}, t0 + offset)
            if at is not None:
                out["client's first write served"] = at
                break
            time.sleep(0.5)
        return out

    def teardown(self):
        try:
            self.stop_writers()
        except storhalab.LabError:
            pass
        self.umount_all(force=True)
        for vm in self.nodes:
            vm.ssh_close()
            if not storhalab.VM(self.lab, vm.name).pid():
                self.lab.boot_again(vm.name)
            vm.wait_ssh()
            vm.run("systemctl start corosync pacemaker", check=False)
        self.lab.wait_cluster(online=self.lab.node_names, timeout=600)
        self.lab.reset_cluster()
        for vm in self.nodes:
            vm.run(f"umount {MNT} 2>/dev/null; drbdadm down {DRBD_RES} 2>/dev/null; "
                   f"dmsetup remove wbc 2>/dev/null; rm -f {SECRET_FILE} /tmp/stack.crm; true")
        if self.strip:
            self.strip.stop()
