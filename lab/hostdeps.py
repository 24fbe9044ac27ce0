# SPDX-License-Identifier: GPL-2.0-or-later
"""The lab's host packages: what to install, and whether the tools are there.

Two halves, so that the decision can be tested without this machine's state:

- `plan(state)` is pure: from the packages installed (with versions and
  source packages) and the versions apt can install, it returns the apt
  arguments that give a complete and consistent set. "Consistent" matters for
  qemu: a machine may carry qemu-utils from another release (bookworm-
  backports' 10.x, say) while apt only offers bookworm's qemu-system-x86 7.2;
  installing the latter then removes the former, and no qemu-img is left.
  Every package built from qemu's source is therefore pinned to the one
  source version of the qemu-system-x86 that will be installed.
- `tool_problems()` looks at what is really on the machine after installing:
  the commands the lab runs, the kernel headers the module build needs, one
  qemu version for both qemu-img and qemu-system-x86_64.

CLI (used by lab/host-deps.sh, as root):
    hostdeps.py install     plan, apt-get install, then check the tools
    hostdeps.py plan        print the plan only
    hostdeps.py check       check the tools only (exit 1 with the reasons)
"""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

# Packages without a qemu version of their own to agree with.
BASE_PACKAGES = [
    "mmdebstrap", "e2fsprogs",        # the image: a Debian root, then mkfs.ext4 -d
    "dpkg-dev", "make", "gcc",        # dm-writeboost module build, the local module package
    "openssh-client", "iproute2",     # ssh into the VMs from inside the lab's namespace
    "python3", "python3-pytest",      # the lab's CLI and test harness
    "tar",
]
# The qemu packages the lab itself needs; others of qemu's source that happen
# to be installed are brought to the same version.
QEMU_PACKAGES = ["qemu-system-x86", "qemu-utils"]
QEMU_SOURCE = "qemu"

# What the lab runs, and the package that brings it.
TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "mmdebstrap": "mmdebstrap",
    "mkfs.ext4": "e2fsprogs",
    "dpkg-deb": "dpkg",
    "make": "make",
    "gcc": "gcc",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "ip": "iproute2",
    "tar": "tar",
    "sha256sum": "coreutils",
    "truncate": "coreutils",
}


class PlanError(Exception):
    """No consistent set can be installed from the configured sources."""


@dataclass
class Installed:
    version: str
    source: str


@dataclass
class State:
    """What the decision needs to know of a machine."""
    installed: dict = field(default_factory=dict)   # name -> Installed
    available: dict = field(default_factory=dict)   # name -> [versions apt offers]
    candidate: dict = field(default_factory=dict)   # name -> version apt would install
    headers: str = ""                               # linux-headers-<ABI> of the image's kernel


@dataclass
class Plan:
    install: list          # apt-get install arguments: "name" or "name=version"
    downgrade: bool        # some qemu package goes back to an older version
    reasons: list          # one line per decision, for the log


def source_version(version):
    """A binary package's version less its binNMU suffix (`+bN`): what every
    package built from one upload of a source package shares. Arch-all
    packages (qemu-system-data) carry no binNMU suffix while the arch ones
    (qemu-system-x86) may, so this is what "the same qemu" compares."""
    return re.sub(r"\+b[0-9]+$", "", version)


def plan(state):
    reasons = []
    install = []
    required = list(BASE_PACKAGES)
    if state.headers:
        required.append(state.headers)
    for name in required:
        if name not in state.installed:
            install.append(name)
            reasons.append(f"{name}: not installed")

    target_bin = state.candidate.get("qemu-system-x86")
    if not target_bin:
        raise PlanError("apt offers no qemu-system-x86: check the machine's apt sources "
                        "(Debian's main archive) and run apt-get update")
    target = source_version(target_bin)
    family = set(QEMU_PACKAGES)
    family.update(n for n, i in state.installed.items() if i.source == QEMU_SOURCE)
    downgrade = False
    for name in sorted(family):
        have = state.installed.get(name)
        if have and source_version(have.version) == target:
            continue
        offered = [v for v in state.available.get(name, []) if source_version(v) == target]
        if not offered:
            raise PlanError(
                f"{name} {have.version if have else '(not installed)'} does not match "
                f"qemu-system-x86 {target_bin}, and apt offers no {name} of qemu {target}: "
                f"remove {name} or enable the release it came from")
        # Several binNMUs of one upload: the highest, by apt's own ordering
        # where given (the candidate), else the last listed.
        version = state.candidate.get(name) if state.candidate.get(name) in offered else offered[0]
        install.append(f"{name}={version}")
        if have:
            if dpkg_compare(have.version, version) > 0:
                downgrade = True
            reasons.append(f"{name}: {have.version} -> {version} (one qemu version: {target})")
        else:
            reasons.append(f"{name}: not installed, {version} (qemu {target})")
    return Plan(install=install, downgrade=downgrade, reasons=reasons)


# ---------------------------------------------------------------------------
# Debian version ordering (Debian Policy 5.6.12), for the downgrade flag.

def _order(c):
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _cmp_part(a, b):
    while a or b:
        na = re.match(r"[^0-9]*", a).group(0)
        nb = re.match(r"[^0-9]*", b).group(0)
        for i in range(max(len(na), len(nb))):
            ca = _order(na[i]) if i < len(na) else 0
            cb = _order(nb[i]) if i < len(nb) else 0
            if ca != cb:
                return -1 if ca < cb else 1
        a, b = a[len(na):], b[len(nb):]
        da = re.match(r"[0-9]*", a).group(0)
        db = re.match(r"[0-9]*", b).group(0)
        if int(da or 0) != int(db or 0):
            return -1 if int(da or 0) < int(db or 0) else 1
        a, b = a[len(da):], b[len(db):]
    return 0


def dpkg_compare(a, b):
    """<0, 0 or >0 as version a sorts before, with, or after b."""
    def split(v):
        epoch, _, rest = v.rpartition(":") if ":" in v else ("0", "", v)
        upstream, _, rev = rest.rpartition("-") if "-" in rest else (rest, "", "")
        return int(epoch or 0), upstream, rev
    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _cmp_part(ua, ub) or _cmp_part(ra, rb)


# ---------------------------------------------------------------------------
# This machine's state (not used by the tests).

def _out(argv):
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def kernel_headers():
    """linux-headers-<ABI> for the kernel linux-image-amd64 depends on (the image's)."""
    for line in _out(["apt-cache", "depends", "linux-image-amd64"]).splitlines():
        m = re.search(r"Depends: linux-image-([0-9].*-amd64)$", line.strip())
        if m:
            return "linux-headers-" + m.group(1)
    return ""


def machine_state():
    st = State()
    fmt = "${Package}\t${Version}\t${source:Package}\t${db:Status-Abbrev}\n"
    for line in _out(["dpkg-query", "-W", "-f", fmt]).splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[3].startswith("ii"):
            st.installed[parts[0]] = Installed(parts[1], parts[2])
    st.headers = kernel_headers()
    names = set(QEMU_PACKAGES)
    names.update(n for n, i in st.installed.items() if i.source == QEMU_SOURCE)
    for name in sorted(names):
        # madison lists what the archives offer, highest first; not dpkg's status.
        st.available[name] = [
            f.split("|")[1].strip() for f in _out(["apt-cache", "madison", name]).splitlines()
            if f.count("|") >= 2]
        m = re.search(r"Candidate: (\S+)", _out(["apt-cache", "policy", name]))
        if m and m.group(1) != "(none)":
            st.candidate[name] = m.group(1)
    return st


def _qemu_version(tool):
    m = re.search(r"version ([0-9][^\s,()]*)", _out([tool, "--version"]))
    return m.group(1) if m else None


def tool_problems(headers=None):
    """What the lab needs and does not find on this machine, one line each."""
    problems = []
    for tool, pkg in TOOLS.items():
        if not shutil.which(tool):
            problems.append(f"{tool} not found (package {pkg})")
    if headers is None:
        headers = kernel_headers()
    if not headers:
        problems.append("cannot tell the image's kernel ABI (apt-cache depends linux-image-amd64)")
    elif not os.path.isfile(f"/usr/src/{headers}/Makefile"):
        problems.append(f"/usr/src/{headers}/Makefile missing (package {headers})")
    if subprocess.run(["/usr/bin/python3", "-c", "import pytest"], capture_output=True,
                      check=False).returncode != 0:
        problems.append("/usr/bin/python3 cannot import pytest (package python3-pytest)")
    if shutil.which("qemu-img") and shutil.which("qemu-system-x86_64"):
        a, b = _qemu_version("qemu-img"), _qemu_version("qemu-system-x86_64")
        if not a or not b or a != b:
            problems.append(f"qemu-img {a} and qemu-system-x86_64 {b} are not one qemu version")
    if not os.path.exists("/dev/net/tun"):
        problems.append("no /dev/net/tun for the VMs' taps")
    return problems


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "install"
    if cmd not in ("install", "plan", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    if cmd in ("install", "plan"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        updated = False
        while True:
            try:
                p = plan(machine_state())
                error = None
            except PlanError as e:
                p, error = None, e
            # Stale or missing package lists can hide what apt would offer:
            # refresh them once before installing anything, or before giving up.
            if updated or (p is not None and not p.install):
                break
            subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
            updated = True
        if error is not None:
            print(f"lab-deps: {error}", file=sys.stderr)
            return 1
        for r in p.reasons:
            print(f"lab-deps: {r}")
        if cmd == "plan":
            print(" ".join(p.install) or "(nothing to install)")
            return 0
        if p.install:
            args = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
            if p.downgrade:
                args.append("--allow-downgrades")
            print("lab-deps: " + " ".join(args + p.install))
            r = subprocess.run(args + p.install, env=env, check=False)
            if r.returncode != 0:
                print(f"lab-deps: apt-get install failed ({r.returncode})", file=sys.stderr)
                return 1
    problems = tool_problems()
    for pr in problems:
        print(f"lab-deps: {pr}", file=sys.stderr)
    if problems:
        print("lab-deps: the lab cannot run on this machine (reasons above)", file=sys.stderr)
        return 1
    print(f"lab-deps: every tool present, qemu {_qemu_version('qemu-system-x86_64')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
