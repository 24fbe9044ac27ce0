#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The storha lab: Debian VMs under qemu forming a Corosync/Pacemaker cluster.

This one module is both the command line behind `make lab-*` / `lab/power` and
the library the lab tests use (tests/lab/). Everything the lab starts is
recorded in its run directory (LAB_RUN, default /var/tmp/storha-lab):

    lab.json          topology and the image in use
    <vm>/console.log  serial console (appended across power cycles)
    <vm>/qmp.sock     QMP socket (power control)
    <vm>/qemu.pid     qemu's pid while the VM is powered
    <vm>/ssh.pid      pid of the ssh master connection to the VM
    <vm>/*.qcow2|raw  its disks: root overlay, "HDD" (virtio), "NVMe"

All VMs sit on one bridge inside a network namespace the lab makes; the host
reaches them only from inside that namespace, and no traffic leaves it.
"""

import argparse
import concurrent.futures
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
TOP_DIR = os.path.dirname(LAB_DIR)
RUN_DIR = os.environ.get("LAB_RUN", "/var/tmp/storha-lab")
CACHE_DIR = os.environ.get("LAB_CACHE", "/var/cache/storha-lab")
NETNS = os.environ.get("LAB_NETNS", "storha-lab")
BRIDGE = "br0"
SUBNET = "192.168.77"
HOST_IP = SUBNET + ".1"
PREFIX = 24
# Free addresses of the segment, for floating IPs in tests.
# Where the lab puts the package in a VM (tests reinstall it from there).
DEB_IN_VM = "/var/tmp/storha.deb"
FREE_IPS = [f"{SUBNET}.{n}" for n in range(100, 110)]

VM_MEMORY = os.environ.get("LAB_MEMORY", "1024")
HDD_SIZE = 256 << 20    # the "HDD": DRBD's backing disk, or writeboost's origin
NVME_SIZE = 128 << 20   # the "NVMe": writeboost's cache

# The bus of the "NVMe" (the cache disk): virtio by default. qemu 7.2's NVMe
# emulation under TCG was seen to stop completing I/O during bursts of writes
# (a cache format, a replay): commands stay outstanding until the guest's
# nvme_core.io_timeout, a controller reset completes them and the queue stalls
# again. LAB_CACHE_BUS=nvme brings the emulated NVMe back, e.g. to try a newer
# qemu. The guest sees the cache disk under CACHE_DEVS[bus] on every node.
CACHE_BUSES = ("virtio", "nvme")
CACHE_SERIAL = "storha-cache"
CACHE_DEVS = {"virtio": f"/dev/disk/by-id/virtio-{CACHE_SERIAL}", "nvme": "/dev/nvme0n1"}

# Generous deadlines: emulation is 5-10x slower than hardware, and the host
# may be busy compiling.
BOOT_TIMEOUT = 420
CLUSTER_TIMEOUT = 300

# How much of a serial console log goes into a failed test's logs.
CONSOLE_TAIL = 4 << 20

# Corosync's token sized for emulation (the default is 3000 ms on hardware).
TOKEN_MS = 10000

# Cluster-wide settings the lab applies after every start or erase. Fencing
# is off until the lab has a fence device; op timeouts sized for emulation.
CLUSTER_PROPERTIES = [
    ("crm_config", "stonith-enabled", "false"),
    ("crm_config", "cluster-recheck-interval", "60s"),
    ("op_defaults", "timeout", "240s"),
    ("rsc_defaults", "resource-stickiness", "100"),
]


def log(msg):
    print(f"lab: {msg}", file=sys.stderr, flush=True)


class LabError(Exception):
    pass


def vm_ip(name):
    if name == "client":
        return f"{SUBNET}.20"
    return f"{SUBNET}.{10 + int(name[4:])}"


def session_cache_dev():
    """The cache disk's path in the nodes of the lab a test session uses: the
    running lab's, or that of the lab the session would boot."""
    lab = Lab()
    if lab.state and lab.running():
        return lab.cache_dev
    return CACHE_DEVS.get(os.environ.get("LAB_CACHE_BUS", "virtio"), CACHE_DEVS["virtio"])


def vm_index(name):
    return 20 if name == "client" else int(name[4:])


def sh(args, check=True, **kw):
    """Runs a host command, returning the CompletedProcess."""
    return subprocess.run(args, check=check, **kw)


# --------------------------------------------------------------------------
# Host checks


def host_problems():
    """What stops qemu VMs from running here; an empty list if nothing."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (network namespaces, taps and image build need root)")
    if not shutil.which("qemu-system-x86_64"):
        problems.append("qemu-system-x86_64 not installed (make lab-deps)")
    if not os.path.exists("/dev/net/tun"):
        problems.append("no /dev/net/tun for the VMs' taps")
    for tool in ("ip", "ssh", "qemu-img"):
        if not shutil.which(tool):
            problems.append(f"{tool} not installed (make lab-deps)")
    return problems


def accel_args():
    """Real KVM only where the kernel has kvm_intel or kvm_amd and /dev/kvm is
    writable: a PVM /dev/kvm cannot run Debian's kernel, so use TCG there."""
    real_kvm = (os.path.isdir("/sys/module/kvm_intel") or os.path.isdir("/sys/module/kvm_amd"))
    if real_kvm and os.access("/dev/kvm", os.W_OK) and not os.environ.get("LAB_TCG"):
        return ["-enable-kvm", "-cpu", "host"]
    return ["-accel", "tcg,thread=multi,tb-size=256", "-cpu", "max"]


def image_dir(build=True):
    """The image folder for the current recipe, built first if asked."""
    script = os.path.join(LAB_DIR, "image", "build.sh")
    args = [script] if build else [script, "--dir"]
    env = dict(os.environ, LAB_CACHE=CACHE_DIR)
    out = sh(args, stdout=subprocess.PIPE, text=True, env=env).stdout
    return out.strip().splitlines()[-1]


def prune_images(keep):
    """Removes the cached images of older recipes (each is about 1 GiB)."""
    for entry in os.listdir(CACHE_DIR):
        path = os.path.join(CACHE_DIR, entry)
        if entry.startswith("image-") and not entry.endswith(".tmp") and path != keep:
            log(f"removing the image of an older recipe: {path}")
            shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------
# Results of commands run in a VM


class Result:
    def __init__(self, cmd, rc, out, err):
        self.cmd, self.rc, self.out, self.err = cmd, rc, out, err

    @property
    def ok(self):
        return self.rc == 0

    def __repr__(self):
        return f"Result(rc={self.rc}, cmd={self.cmd!r})"

    def __str__(self):
        return (f"$ {self.cmd}\n[rc={self.rc}]\n--- stdout ---\n{self.out}"
                f"--- stderr ---\n{self.err}")


class CommandFailed(LabError):
    def __init__(self, node, result):
        super().__init__(f"on {node}: command failed\n{result}")
        self.result = result


# --------------------------------------------------------------------------
# One VM


class VM:
    def __init__(self, lab, name):
        self.lab = lab
        self.name = name
        self.ip = vm_ip(name)
        self.dir = os.path.join(lab.run_dir, name)
        self.console = os.path.join(self.dir, "console.log")
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.pidfile = os.path.join(self.dir, "qemu.pid")
        self.ssh_sock = os.path.join(self.dir, "ssh.sock")
        self.ssh_pidfile = os.path.join(self.dir, "ssh.pid")

    def __repr__(self):
        return f"VM({self.name})"

    # ---- disks and qemu

    def create_disks(self):
        os.makedirs(self.dir, exist_ok=True)
        base = os.path.join(self.lab.image, "base.raw")
        root = os.path.join(self.dir, "root.qcow2")
        sh(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, root])
        for disk, size in (("hdd.raw", HDD_SIZE), ("nvme.raw", NVME_SIZE)):
            with open(os.path.join(self.dir, disk), "wb") as f:
                f.truncate(size)

    def qemu_args(self):
        i = vm_index(self.name)
        img = self.lab.image
        # nvme_core.io_timeout: an emulated NVMe on a busy host can take
        # longer than the 30 s default for one command, and a timed-out
        # command is aborted and failed with EIO. loglevel=3: kernel errors
        # go to the journal and dmesg, not to the (slow) serial console.
        cmdline = (f"root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 loglevel=3 "
                   f"nvme_core.io_timeout=600 "
                   f"lab.hostname={self.name} lab.ip={self.ip}/{PREFIX}")
        d = self.dir
        if self.lab.cache_bus == "nvme":
            cache = ["-drive", f"file={d}/nvme.raw,if=none,id=nvme0,format=raw,cache=unsafe",
                     "-device", f"nvme,serial=storha-nvme{i},drive=nvme0"]
        else:
            cache = ["-drive", f"file={d}/nvme.raw,if=none,id=cache0,format=raw,cache=unsafe",
                     "-device", f"virtio-blk-pci,drive=cache0,serial={CACHE_SERIAL},addr=0x6"]
        # Disk caching: cache=unsafe skips host fsyncs (speed); a QMP quit
        # still hands every write the guest made to the host's files, so a
        # power cut loses what a real power cut would, no more.
        return [
            "qemu-system-x86_64", "-name", self.name,
            "-machine", "q35", *accel_args(),
            "-smp", "1", "-m", VM_MEMORY,
            "-nodefaults", "-display", "none", "-vga", "none",
            "-chardev", f"file,id=ser0,path={self.console},append=on",
            "-serial", "chardev:ser0",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            "-kernel", os.path.join(img, "vmlinuz"),
            "-initrd", os.path.join(img, "initrd.img"),
            "-append", cmdline,
            # Fixed PCI slots keep the guest's names: root vda, "HDD" vdb,
            # then the cache disk (vdc on virtio).
            "-drive", f"file={d}/root.qcow2,if=none,id=root0,format=qcow2,cache=unsafe",
            "-device", "virtio-blk-pci,drive=root0,addr=0x4",
            "-drive", f"file={d}/hdd.raw,if=none,id=hdd0,format=raw,cache=unsafe",
            "-device", "virtio-blk-pci,drive=hdd0,addr=0x5",
            *cache,
            "-netdev", f"tap,id=n0,ifname=tap{i},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac=52:54:00:77:00:{i:02x},romfile=",
            "-object", "rng-random,id=rng0,filename=/dev/urandom",
            "-device", "virtio-rng-pci,rng=rng0",
            "-no-reboot", "-daemonize", "-pidfile", self.pidfile,
        ]

    def pid(self):
        """qemu's pid if it is running, else None."""
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        # Make sure the pid is still our qemu, not a recycled number.
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"qemu-system" not in f.read():
                    return None
        except OSError:
            return None
        return pid

    def power_on(self):
        if self.pid():
            log(f"{self.name} is already on")
            return
        with open(self.console, "a") as f:
            f.write(f"\n===== lab: power on {time.strftime('%F %T')} =====\n")
        sh(["ip", "netns", "exec", NETNS, *self.qemu_args()])
        log(f"{self.name} on (pid {self.pid()}, {self.ip})")

    def qmp(self, command, timeout=10):
        """Sends one QMP command over the VM's socket and returns the answer."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.qmp_path)
        f = s.makefile("rw")
        try:
            json.loads(f.readline())  # greeting
            f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
            f.flush()
            json.loads(f.readline())
            f.write(json.dumps({"execute": command}) + "\n")
            f.flush()
            while True:
                line = f.readline()
                if not line:
                    return None  # qemu went away (quit)
                msg = json.loads(line)
                if "return" in msg or "error" in msg:
                    return msg
        finally:
            f.close()
            s.close()

    def power_off(self, timeout=30):
        """A hard power-off, as a power strip cutting the power: QMP quit, no
        shutdown inside the guest."""
        self.ssh_close()
        pid = self.pid()
        if not pid:
            return
        try:
            self.qmp("quit")
        except OSError as e:
            log(f"{self.name}: QMP quit failed ({e}); killing pid {pid}")
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while self.pid() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.pid():
            os.kill(pid, signal.SIGKILL)
        log(f"{self.name} off")

    def power_status(self):
        if not self.pid():
            return "off"
        try:
            answer = self.qmp("query-status")
            return "on" if answer["return"]["status"] == "running" else answer["return"]["status"]
        except (OSError, KeyError, TypeError, ValueError):
            return "on"

    # ---- ssh

    def ssh_base(self):
        return ["ip", "netns", "exec", NETNS, "ssh", "-F", "/dev/null",
                "-i", os.path.join(self.lab.image, "id_ed25519"),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                "-o", f"ControlPath={self.ssh_sock}"]

    def ssh_open(self):
        """Starts a master connection that later commands share (an ssh
        handshake with an emulated guest takes a while)."""
        if os.path.exists(self.ssh_sock):
            check = sh(self.ssh_base() + ["-O", "check", f"root@{self.ip}"],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if check.returncode == 0:
                return
        p = subprocess.Popen(
            self.ssh_base() + ["-N", "-o", "ControlMaster=yes",
                               "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=12",
                               f"root@{self.ip}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        with open(self.ssh_pidfile, "w") as f:
            f.write(f"{p.pid}\n")
        deadline = time.monotonic() + 60
        while not os.path.exists(self.ssh_sock):
            if p.poll() is not None or time.monotonic() > deadline:
                log(f"{self.name}: ssh master did not start; using plain connections")
                return
            time.sleep(0.1)

    def ssh_close(self):
        try:
            with open(self.ssh_pidfile) as f:
                pid = int(f.read())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"ssh" in f.read():
                    os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass
        for path in (self.ssh_pidfile, self.ssh_sock):
            try:
                os.unlink(path)
            except OSError:
                pass

    def wait_ssh(self, timeout=BOOT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if not self.pid():
                raise LabError(f"{self.name}: qemu is not running; see {self.console}")
            r = sh(self.ssh_base() + [f"root@{self.ip}", "true"], check=False,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: no ssh after {timeout} s; see {self.console}")
            time.sleep(2)
        self.ssh_open()

    def run(self, cmd, check=True, timeout=300, input=None):
        """Runs a shell command in the VM as root; returns a Result with its
        exit code, stdout and stderr. Raises CommandFailed if check and rc != 0."""
        args = self.ssh_base() + [f"root@{self.ip}", cmd]
        try:
            p = subprocess.run(args, input=input if input is not None else b"",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
            r = Result(cmd, p.returncode, p.stdout.decode(errors="replace"),
                       p.stderr.decode(errors="replace"))
        except subprocess.TimeoutExpired as e:
            r = Result(cmd, 124, (e.stdout or b"").decode(errors="replace"),
                       (e.stderr or b"").decode(errors="replace") + f"\n[timed out after {timeout} s]")
        if check and r.rc != 0:
            raise CommandFailed(self.name, r)
        return r

    def put(self, local, remote, mode=None):
        """Copies a host file into the VM."""
        with open(local, "rb") as f:
            data = f.read()
        self.put_bytes(remote, data, mode)

    def put_bytes(self, remote, data, mode=None):
        if isinstance(data, str):
            data = data.encode()
        q = shlex.quote(remote)
        cmd = f"mkdir -p $(dirname {q}) && cat > {q}"
        if mode is not None:
            cmd += f" && chmod {mode:o} {q}"
        self.run(cmd, input=data)

    def get(self, remote, local):
        """Copies a file out of the VM."""
        args = self.ssh_base() + [f"root@{self.ip}", f"cat {shlex.quote(remote)}"]
        with open(local, "wb") as f:
            p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise LabError(f"{self.name}: cannot read {remote}: {p.stderr.decode()}")

    def put_tree(self, local_dir, remote_dir="/"):
        """Copies a host directory's contents into the VM (tar over ssh)."""
        tar = subprocess.run(["tar", "-C", local_dir, "-cf", "-", "."],
                             stdout=subprocess.PIPE, check=True).stdout
        self.run(f"tar -C {shlex.quote(remote_dir)} --no-same-owner -xf -", input=tar)

    def wait_for(self, cmd, timeout=120, what=None):
        """Runs cmd until it succeeds, until the deadline."""
        return self.lab.wait_for(lambda: self.run(cmd, check=False, timeout=60).ok,
                                 timeout, what or f"{self.name}: {cmd}")


# --------------------------------------------------------------------------
# The lab


class Lab:
    def __init__(self, run_dir=RUN_DIR):
        self.run_dir = run_dir
        self.state_file = os.path.join(run_dir, "lab.json")
        self.state = {}
        if os.path.exists(self.state_file):
            with open(self.state_file) as f:
                self.state = json.load(f)
        self.image = self.state.get("image", "")

    @property
    def cache_bus(self):
        """The cache disk's bus in this lab (recorded when it was booted;
        labs from before the choice existed had the NVMe)."""
        return self.state.get("cache_bus", "nvme")

    @property
    def cache_dev(self):
        """The path of the cache disk ("NVMe") inside every node."""
        return CACHE_DEVS[self.cache_bus]

    # ---- topology

    @property
    def node_names(self):
        return [f"node{i}" for i in range(1, self.state.get("nodes", 0) + 1)]

    @property
    def vm_names(self):
        return self.node_names + (["client"] if self.state.get("client") else [])

    @property
    def nodes(self):
        return [VM(self, n) for n in self.node_names]

    @property
    def client(self):
        return VM(self, "client") if self.state.get("client") else None

    def vm(self, name):
        if name.isdigit():
            name = f"node{name}"
        if name not in self.vm_names:
            raise LabError(f"no VM {name} in this lab (has: {' '.join(self.vm_names) or 'none'})")
        return VM(self, name)

    def __getitem__(self, name):
        return self.vm(name)

    def running(self):
        return [n for n in self.vm_names if VM(self, n).pid()]

    def save(self):
        os.makedirs(self.run_dir, exist_ok=True)
        with open(self.state_file, "w") as f:
            json.dump(self.state, f, indent=2)

    # ---- network

    def netns_up(self):
        if sh(["ip", "netns", "pids", NETNS], check=False, stdout=subprocess.DEVNULL,
              stderr=subprocess.DEVNULL).returncode != 0:
            sh(["ip", "netns", "add", NETNS])
        ipn = ["ip", "-n", NETNS]
        sh(ipn + ["link", "set", "lo", "up"])
        if sh(ipn + ["link", "show", BRIDGE], check=False, stdout=subprocess.DEVNULL,
              stderr=subprocess.DEVNULL).returncode != 0:
            sh(ipn + ["link", "add", BRIDGE, "type", "bridge"])
            sh(ipn + ["addr", "add", f"{HOST_IP}/{PREFIX}", "dev", BRIDGE])
        sh(ipn + ["link", "set", BRIDGE, "up"])
        for name in self.vm_names:
            tap = f"tap{vm_index(name)}"
            if sh(ipn + ["link", "show", tap], check=False, stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL).returncode != 0:
                sh(ipn + ["tuntap", "add", "dev", tap, "mode", "tap"])
            sh(ipn + ["link", "set", tap, "master", BRIDGE, "up"])

    def netns_down(self):
        sh(["ip", "netns", "del", NETNS], check=False, stderr=subprocess.DEVNULL)

    # ---- parallel helper

    def each(self, vms, fn):
        """Runs fn(vm) for every VM at once; raises the first error."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(vms))) as ex:
            futures = [ex.submit(fn, vm) for vm in vms]
            return [f.result() for f in futures]

    # ---- up / down

    def up(self, nodes=2, client=False, install=True, cluster=True):
        """Boots the topology and starts the cluster. On any failure, the
        VMs' logs go to <run dir>/failed-up/ and every VM is killed."""
        if nodes not in (2, 3):
            raise LabError("NODES must be 2 or 3")
        problems = host_problems()
        if problems:
            raise LabError("qemu VMs cannot run here: " + "; ".join(problems))
        if self.running():
            raise LabError(f"a lab is already running ({' '.join(self.running())}); "
                           f"'make lab-down' first")
        try:
            self._up(nodes, client, install, cluster)
        except BaseException:
            if self.state and self.running():
                dest = os.path.join(self.run_dir, "failed-up")
                log(f"lab up failed; logs of every VM in {dest}")
                self.collect_logs(dest)
            self.kill_all()
            self.netns_down()
            raise

    def _up(self, nodes, client, install, cluster):
        t0 = time.monotonic()
        image = image_dir(build=True)
        t_image = time.monotonic() - t0
        prune_images(keep=image)
        # A fresh run directory: overlays and disks of an earlier lab go away.
        if os.path.isdir(self.run_dir):
            shutil.rmtree(self.run_dir)
        bus = os.environ.get("LAB_CACHE_BUS", "virtio")
        if bus not in CACHE_BUSES:
            raise LabError(f"LAB_CACHE_BUS={bus}: must be one of {' '.join(CACHE_BUSES)}")
        self.state = {"nodes": nodes, "client": bool(client), "image": image,
                      "cache_bus": bus, "started": time.strftime("%F %T")}
        self.image = image
        self.save()
        self.netns_up()
        vms = [VM(self, n) for n in self.vm_names]
        for vm in vms:
            vm.create_disks()
            vm.power_on()
        t1 = time.monotonic()
        self.each(vms, lambda vm: vm.wait_ssh())
        t_ssh = time.monotonic() - t1
        log(f"ssh up on {' '.join(v.name for v in vms)} after {t_ssh:.0f} s")
        if install:
            self.install_storha()
        t_cluster = 0
        if cluster:
            t2 = time.monotonic()
            self.cluster_start()
            t_cluster = time.monotonic() - t2
        self.state["timings"] = {"image_s": round(t_image, 1), "boot_to_ssh_s": round(t_ssh, 1),
                                 "cluster_online_s": round(t_cluster, 1),
                                 "total_s": round(time.monotonic() - t0, 1)}
        self.save()
        log(f"lab up: {self.state['timings']}")

    def down(self):
        for name in self.vm_names:
            vm = VM(self, name)
            vm.power_off()
        self.netns_down()
        # Keep console logs; drop disks (the root overlays grow).
        for name in self.vm_names:
            d = os.path.join(self.run_dir, name)
            for disk in ("root.qcow2", "hdd.raw", "nvme.raw"):
                try:
                    os.unlink(os.path.join(d, disk))
                except OSError:
                    pass
        if self.state:
            self.state["stopped"] = time.strftime("%F %T")
            self.save()

    def kill_all(self):
        """Kills every VM this lab recorded, by pid, at once (for traps)."""
        for name in self.vm_names:
            vm = VM(self, name)
            vm.ssh_close()
            pid = vm.pid()
            if pid:
                os.kill(pid, signal.SIGKILL)

    # ---- storha

    def build_deb(self):
        """`make deb`: the package every lab run installs; returns its path."""
        make = os.environ.get("MAKE", "make")
        r = sh([make, "-s", "-C", TOP_DIR, "deb"], check=False, stdout=subprocess.PIPE)
        lines = r.stdout.decode(errors="replace").split()
        if r.returncode != 0 or not lines:
            raise LabError("'make deb' failed: storha cannot go into the VMs")
        return os.path.join(TOP_DIR, lines[-1])

    def install_storha(self, vms=None):
        """Installs the freshly built storha into the VMs from its Debian
        package (`make deb`, then `dpkg -i`), so the package itself is what
        every lab run tests. On a running lab this is an upgrade, which
        leaves running resources alone."""
        deb = self.build_deb()
        vms = vms or [VM(self, n) for n in self.vm_names]

        def install(vm):
            vm.put(deb, DEB_IN_VM)
            vm.run(f"dpkg -i {DEB_IN_VM}", timeout=300)
        self.each(vms, install)
        log(f"storha installed from {os.path.basename(deb)} in {' '.join(v.name for v in vms)}")

    # ---- cluster

    def corosync_conf(self):
        lines = [
            "# Written by the storha lab.",
            "totem {",
            "    version: 2",
            "    cluster_name: storha-lab",
            "    transport: knet",
            "    crypto_cipher: none",
            "    crypto_hash: none",
            f"    token: {TOKEN_MS}",
            "}",
            "nodelist {",
        ]
        for name in self.node_names:
            lines += [
                "    node {",
                f"        ring0_addr: {vm_ip(name)}",
                f"        name: {name}",
                f"        nodeid: {vm_index(name)}",
                "    }",
            ]
        lines += [
            "}",
            "quorum {",
            "    provider: corosync_votequorum",
        ]
        if len(self.node_names) == 2:
            lines.append("    two_node: 1")
        lines += [
            "}",
            "logging {",
            "    to_logfile: yes",
            "    logfile: /var/log/corosync/corosync.log",
            "    to_syslog: yes",
            "    timestamp: on",
            "}",
        ]
        return "\n".join(lines) + "\n"

    def cluster_start(self, nodes=None, timeout=CLUSTER_TIMEOUT):
        """Writes corosync.conf, starts corosync and pacemaker on the nodes and
        waits until every node of the lab is online with a DC."""
        nodes = nodes or self.nodes
        conf = self.corosync_conf()

        def start(vm):
            vm.put_bytes("/etc/corosync/corosync.conf", conf)
            vm.run("systemctl start corosync && systemctl start pacemaker", timeout=timeout)
        self.each(nodes, start)
        t0 = time.monotonic()
        self.wait_cluster(online=self.node_names, timeout=timeout)
        log(f"cluster online ({' '.join(self.node_names)}) {time.monotonic() - t0:.0f} s "
            f"after pacemaker started")
        self.apply_properties()

    def apply_properties(self):
        node = self.first_online()
        for kind, name, value in CLUSTER_PROPERTIES:
            node.run(f"crm_attribute --type {kind} --name {name} --update {value}")

    def reset_cluster(self, timeout=CLUSTER_TIMEOUT):
        """Stops and removes every resource and constraint, then restores the
        lab's properties, without a reboot. crm refuses to erase a CIB with
        running resources, so everything is stopped first."""
        node = self.first_online()
        if self.active_resources():
            node.run("crm_attribute --type rsc_defaults --name target-role --update Stopped")
            self.wait_for(lambda: not self.active_resources(), timeout, "resources stopped",
                          describe=lambda: node.run("crm_mon -1 -r", check=False).out)
        node.run("crm configure erase", timeout=300)
        self.apply_properties()
        node.run("crm_resource --cleanup", check=False)

    def active_resources(self, vm=None):
        """Ids of the resources active anywhere (or None if crm_mon failed)."""
        mon = self.crm_mon(vm)
        if mon is None:
            return ["<crm_mon failed>"]
        return [r.get("id") for r in mon.iter("resource")
                if r.get("active") == "true" or r.get("failed") == "true"]

    def first_online(self):
        for vm in self.nodes:
            if vm.pid():
                return vm
        raise LabError("no node is running")

    def crm_mon(self, vm=None):
        """crm_mon's XML status, parsed, from vm (default: first node on)."""
        vm = vm or self.first_online()
        r = vm.run("crm_mon --output-as=xml", check=False, timeout=60)
        if r.rc != 0:
            return None
        try:
            return ET.fromstring(r.out)
        except ET.ParseError:
            return None

    def cluster_nodes(self, vm=None):
        """{node name: 'online'|'offline'|'pending'|...} as seen from vm, or {}."""
        mon = self.crm_mon(vm)
        if mon is None:
            return {}
        state = {}
        for n in mon.iter("node"):
            if n.get("name") is None or n.get("online") is None:
                continue
            if n.get("online") == "true":
                state[n.get("name")] = "online"
            elif n.get("pending") == "true":
                state[n.get("name")] = "pending"
            else:
                state[n.get("name")] = "offline"
        has_dc = any(c.get("present") == "true" for c in mon.iter("current_dc"))
        return state if has_dc else {}

    def resource_roles(self, rsc_id, vm=None):
        """{node: role} of every instance of a resource (a clone's primitives
        too), as seen from vm."""
        mon = self.crm_mon(vm)
        roles = {}
        if mon is None:
            return roles
        for r in mon.iter("resource"):
            rid = r.get("id", "")
            if rid != rsc_id and rid.split(":")[0] != rsc_id:
                continue
            for n in r.findall("node"):
                role = r.get("role")
                # Pacemaker 2.1 may still print the old names.
                role = {"Master": "Promoted", "Slave": "Unpromoted"}.get(role, role)
                roles[n.get("name")] = role
        return roles

    def wait_cluster(self, online=(), offline=(), vm=None, timeout=CLUSTER_TIMEOUT):
        """Waits until, as seen from vm, the nodes in online are online and
        those in offline are not."""
        def ok():
            state = self.cluster_nodes(vm)
            return (state and all(state.get(n) == "online" for n in online)
                    and all(state.get(n) not in ("online", None) for n in offline))
        what = f"cluster: online={list(online)} offline={list(offline)}"
        return self.wait_for(ok, timeout, what,
                             describe=lambda: f"crm_mon nodes: {self.cluster_nodes(vm)}")

    @staticmethod
    def wait_for(cond, timeout, what, interval=2, describe=None):
        """Polls cond() until it returns a true value, which it returns; raises
        LabError at the deadline (a deadline, never a fixed sleep)."""
        deadline = time.monotonic() + timeout
        t0 = time.monotonic()
        while True:
            value = cond()
            if value:
                return value
            if time.monotonic() > deadline:
                extra = f"; last: {describe()}" if describe else ""
                raise LabError(f"timed out after {timeout} s waiting for {what}{extra}")
            time.sleep(min(interval, max(0.1, deadline - time.monotonic())))
            if time.monotonic() - t0 > 30 and interval < 5:
                interval += 1

    # ---- power

    def power(self, name, action):
        vm = self.vm(name)
        if action == "off":
            vm.power_off()
        elif action == "on":
            self.netns_up()
            vm.power_on()
        elif action == "status":
            return vm.power_status()
        else:
            raise LabError(f"power: unknown action {action} (off|on|status)")
        return vm.power_status()

    def boot_again(self, name, timeout=BOOT_TIMEOUT):
        """Powers a VM on and waits for ssh (its disks are the same)."""
        vm = self.vm(name)
        vm.power_on()
        vm.wait_ssh(timeout)
        return vm

    # ---- logs

    def collect_logs(self, dest):
        """Copies each VM's journal, pacemaker and corosync logs, crm_mon,
        dmesg and serial console into dest/<vm>/. Never raises."""
        os.makedirs(dest, exist_ok=True)
        cmds = {
            "journal.txt": "journalctl -b --no-pager -o short-precise",
            "dmesg.txt": "dmesg -T | tail -n 20000",
            "crm_mon.txt": "crm_mon -1 -r -f -A 2>&1",
            "cib.xml": "cibadmin -Q 2>&1",
            "pacemaker.log": "cat /var/log/pacemaker/pacemaker.log",
            "corosync.log": "cat /var/log/corosync/corosync.log",
            "drbd.txt": "cat /proc/drbd; drbdadm status 2>&1; drbdsetup show 2>&1",
            "dmsetup.txt": "dmsetup table; dmsetup status",
            "exports.txt": "exportfs -v; cat /proc/fs/nfsd/versions",
            "ip.txt": "ip addr; ip route",
        }

        def one(name):
            vm = VM(self, name)
            d = os.path.join(dest, name)
            os.makedirs(d, exist_ok=True)
            try:  # the end of the console: it is kept across power cycles
                with open(vm.console, "rb") as src, \
                        open(os.path.join(d, "console.log"), "wb") as dst:
                    src.seek(max(0, os.path.getsize(vm.console) - CONSOLE_TAIL))
                    shutil.copyfileobj(src, dst)
            except OSError:
                pass
            if not vm.pid():
                return
            for fname, cmd in cmds.items():
                try:
                    r = vm.run(cmd, check=False, timeout=60)
                    with open(os.path.join(d, fname), "w") as f:
                        f.write(r.out + r.err)
                except Exception as e:  # a VM that hangs must not stop the rest
                    with open(os.path.join(d, fname), "w") as f:
                        f.write(f"could not collect: {e}\n")
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
            list(ex.map(one, self.vm_names))
        return dest

    # ---- status

    def status_text(self):
        if not self.state:
            return f"no lab in {self.run_dir}"
        lines = [f"lab in {self.run_dir} (image {self.image})",
                 f"topology: {len(self.node_names)} nodes"
                 + (" + client" if self.state.get("client") else "")
                 + f", cache disk on {self.cache_bus} ({self.cache_dev})"
                 + f", started {self.state.get('started')}"]
        if "timings" in self.state:
            lines.append(f"timings: {self.state['timings']}")
        for name in self.vm_names:
            vm = VM(self, name)
            pid = vm.pid()
            lines.append(f"  {name:8} {vm.ip:15} {vm.power_status():8} "
                         + (f"pid {pid}" if pid else ""))
        if any(VM(self, n).pid() for n in self.node_names):
            try:
                members = " ".join(f"{n}={s}" for n, s in sorted(self.cluster_nodes().items()))
                lines.append("cluster: " + (members or "no DC yet"))
            except LabError as e:
                lines.append(f"cluster: {e}")
        else:
            lines.append("not running")
        return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line


def main(argv=None):
    p = argparse.ArgumentParser(prog="storhalab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build/reuse the image, boot the VMs, start the cluster")
    up.add_argument("--nodes", type=int, default=2)
    up.add_argument("--client", type=int, default=0)
    up.add_argument("--no-cluster", action="store_true")
    sub.add_parser("down", help="power every VM off, remove the namespace")
    sub.add_parser("kill", help="kill every recorded VM at once (for traps)")
    sub.add_parser("status", help="what is running")
    sub.add_parser("check", help="exit 0 if qemu VMs can run here, else say why")
    sub.add_parser("install", help="make deb and dpkg -i it in every VM")
    sub.add_parser("image", help="build the image if its recipe changed; print its folder")
    s = sub.add_parser("ssh", help="a shell, or a command, on a VM")
    s.add_argument("vm")
    s.add_argument("command", nargs=argparse.REMAINDER)
    pw = sub.add_parser("power", help="power control: off (hard), on, status")
    pw.add_argument("vm")
    pw.add_argument("action", choices=["off", "on", "status"])
    lg = sub.add_parser("logs", help="collect logs of every VM into a folder")
    lg.add_argument("dest")
    a = p.parse_args(argv)

    lab = Lab()
    try:
        if a.cmd == "up":
            lab.up(a.nodes, bool(a.client), cluster=not a.no_cluster)
            print(lab.status_text())
        elif a.cmd == "down":
            lab.down()
            print(f"lab down (console logs kept in {lab.run_dir})")
        elif a.cmd == "kill":
            lab.kill_all()
            lab.netns_down()
        elif a.cmd == "status":
            print(lab.status_text())
        elif a.cmd == "check":
            problems = host_problems()
            for pr in problems:
                print(f"lab: cannot run VMs: {pr}", file=sys.stderr)
            return 1 if problems else 0
        elif a.cmd == "install":
            if lab.running():
                lab.install_storha([VM(lab, n) for n in lab.running()])
            else:
                print("lab: no VM running; storha goes in when the lab boots")
        elif a.cmd == "image":
            print(image_dir(build=True))
        elif a.cmd == "ssh":
            vm = lab.vm(a.vm)
            args = vm.ssh_base() + (["-t"] if not a.command else []) + [f"root@{vm.ip}"]
            if a.command:
                args.append(" ".join(a.command))  # as ssh itself joins them
            os.execvp(args[0], args)
        elif a.cmd == "power":
            print(lab.power(a.vm, a.action))
        elif a.cmd == "logs":
            print(lab.collect_logs(a.dest))
    except (LabError, subprocess.CalledProcessError) as e:
        print(f"lab: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
