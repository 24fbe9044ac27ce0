# SPDX-License-Identifier: GPL-2.0-or-later
"""`make deb`: the package's control fields and contents, read with dpkg-deb,
and its prerm's decisions, with crm_mon answers put on PATH."""

import gzip
import os
import pathlib
import re
import stat
import struct
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MON_ACTIVE = """<pacemaker-result api-version="2.25" request="crm_mon">
  <nodes><node name="node1" id="1" online="true"/></nodes>
  <resources>
    <resource id="vip" resource_agent="ocf:storha:floating-ip" role="Started" active="true">
      <node name="node1" id="1" cached="true"/>
    </resource>
  </resources>
</pacemaker-result>
"""


def make_var(name):
    out = subprocess.run(
        ["make", "-s", "-C", TOP, "--eval", f"print-var: ; @echo $({name})", "print-var"],
        check=True, capture_output=True, text=True)
    return out.stdout.split()


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = subprocess.run(["make", "-s", "-C", TOP, "deb"], check=True,
                         capture_output=True, text=True)
    path = os.path.join(TOP, out.stdout.strip().splitlines()[-1])
    assert os.path.isfile(path), out.stdout
    root = tmp_path_factory.mktemp("deb")
    subprocess.run(["dpkg-deb", "-x", path, str(root)], check=True)
    subprocess.run(["dpkg-deb", "-e", path, str(root / "DEBIAN")], check=True)
    return path, root


def field(path, name):
    return subprocess.run(["dpkg-deb", "-f", path, name], check=True,
                          capture_output=True, text=True).stdout.strip()


def relations(text):
    """'a (>= 1) | b, c' -> [['a', 'b'], ['c']]"""
    return [[re.sub(r"\s*\(.*\)", "", alt).strip() for alt in dep.split("|")]
            for dep in text.split(",") if dep.strip()]


def test_control_fields(deb):
    path, _ = deb
    cargo = open(os.path.join(TOP, "Cargo.toml")).read()
    version = re.search(r'^version = "(.*)"', cargo, re.M).group(1)
    assert field(path, "Package") == "storha"
    assert field(path, "Version").startswith(version + "-")
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                          text=True).stdout.strip()
    assert field(path, "Architecture") == arch
    assert field(path, "Section") == "admin"
    depends = relations(field(path, "Depends"))
    assert any("pacemaker" in alts for alts in depends), depends
    recommends = sum(relations(field(path, "Recommends")), [])
    suggests = sum(relations(field(path, "Suggests")), [])
    everything = sum(depends, []) + recommends + suggests
    assert "resource-agents" not in everything
    assert {"drbd-utils", "nfs-kernel-server"} <= set(recommends), recommends
    assert "dm-writeboost-dkms" in recommends + suggests
    for heavy in ("drbd-utils", "nfs-kernel-server", "dm-writeboost-dkms"):
        assert heavy not in sum(depends, []), "only some agents need " + heavy
    listing = subprocess.run(["dpkg-deb", "-c", path], check=True, capture_output=True,
                             text=True).stdout
    assert all(" root/root " in line for line in listing.splitlines()), listing


def is_static(path):
    """True when the ELF file has no program interpreter (PT_INTERP)."""
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    assert data[:4] == b"\x7fELF" and data[4] == 2, "a 64-bit ELF file"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    return 3 not in types


def test_binary_links_and_agents(deb):
    _, root = deb
    binary = root / "usr/bin/storha"
    assert stat.S_IMODE(binary.stat().st_mode) == 0o755
    assert is_static(binary), "the packaged binary is statically linked"
    ocf = make_var("OCF_AGENTS")
    fence = make_var("FENCE_AGENTS")
    assert ocf and fence
    provider = root / "usr/lib/ocf/resource.d/storha"
    assert sorted(os.listdir(provider)) == sorted(ocf)
    for a in ocf:
        link = provider / a
        assert os.readlink(link) == "../../../../bin/storha"
        out = subprocess.run([str(link), "meta-data"], capture_output=True, text=True)
        assert out.returncode == 0 and f'<resource-agent name="{a}"' in out.stdout
    for a in fence:
        link = root / "usr/sbin" / a
        assert os.readlink(link) == "../bin/storha"
        out = subprocess.run([str(link), "-o", "metadata"], capture_output=True, text=True)
        assert out.returncode == 0 and f'<resource-agent name="{a}"' in out.stdout, out


def test_manuals_completions_and_docs(deb):
    _, root = deb
    man = root / "usr/share/man"
    pages = [man / "man8/storha.8.gz"] + [man / f"man8/{a}.8.gz" for a in make_var("FENCE_AGENTS")]
    pages += [man / f"man7/ocf_storha_{a}.7.gz" for a in make_var("OCF_AGENTS")]
    assert sorted(str(p) for p in man.rglob("*.gz")) == sorted(str(p) for p in pages)
    for p in pages:
        text = gzip.open(p, "rt").read()
        assert text.startswith(".TH "), p
    bash = (root / "usr/share/bash-completion/completions/storha").read_text()
    assert "complete -F _storha" in bash and "floating-ip" in bash
    zsh = (root / "usr/share/zsh/vendor-completions/_storha").read_text()
    assert zsh.startswith("#compdef storha")
    doc = root / "usr/share/doc/storha"
    src = pathlib.Path(TOP, "crm-examples")
    examples = sorted(str(p.relative_to(src)) for p in src.rglob("*") if p.is_file())
    shipped = doc / "crm-examples"
    assert sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file()) \
        == examples
    copyright = (doc / "copyright").read_text()
    assert copyright.startswith("Format: https://www.debian.org/doc/packaging-manuals/"
                                "copyright-format/1.0/")
    assert "License: GPL-2.0-or-later" in copyright
    assert "/usr/share/common-licenses/GPL-2" in copyright
    assert (doc / "changelog.Debian.gz").is_file()
    # Every file in the package is in md5sums.
    sums = {line.split(None, 1)[1] for line in (root / "DEBIAN/md5sums").read_text().splitlines()}
    files = {str(p.relative_to(root)) for p in root.joinpath("usr").rglob("*")
             if p.is_file() and not p.is_symlink()}
    assert sums == files


def fake_bin(tmp_path, binary, mon_status, mon_out):
    """A PATH with the packaged storha and a crm_mon/crm_node that answer as told."""
    d = tmp_path / "bin"
    d.mkdir()
    os.symlink(binary, d / "storha")
    (d / "mon.xml").write_text(mon_out)
    (d / "crm_mon").write_text(f"#!/bin/sh\ncat '{d}/mon.xml'\nexit {mon_status}\n")
    (d / "crm_node").write_text("#!/bin/sh\necho node1\n")
    for f in ("crm_mon", "crm_node"):
        (d / f).chmod(0o755)
    return f"{d}:/usr/bin:/bin"


def prerm(root, path, *args, env=None):
    e = {"PATH": path}
    e.update(env or {})
    return subprocess.run(["/bin/sh", str(root / "DEBIAN/prerm"), *args], env=e,
                          capture_output=True, text=True)


def test_prerm_upgrade_touches_nothing(deb, tmp_path):
    _, root = deb
    # No storha, no crm_mon on PATH: an upgrade looks at nothing and succeeds.
    for arg in (["upgrade", "0.1.0-2"], ["failed-upgrade", "0.1.0-2"]):
        r = prerm(root, str(tmp_path), *arg)
        assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r


def test_prerm_remove_refuses_while_active(deb, tmp_path):
    _, root = deb
    path = fake_bin(tmp_path, root / "usr/bin/storha", 0, MON_ACTIVE)
    r = prerm(root, path, "remove")
    assert r.returncode == 1, r
    assert "not removed" in r.stderr and "vip" in r.stderr and "node1" in r.stderr, r.stderr
    r = prerm(root, path, "remove", env={"STORHA_FORCE_REMOVE": "1"})
    assert r.returncode == 0, r


@pytest.mark.parametrize("status,out", [
    (102, '<pacemaker-result><status code="102" message="Not connected"/></pacemaker-result>'),
    (0, MON_ACTIVE.replace('name="node1" id="1" cached', 'name="node2" id="2" cached')),
])
def test_prerm_remove_allowed_when_nothing_runs_here(deb, tmp_path, status, out):
    _, root = deb
    path = fake_bin(tmp_path, root / "usr/bin/storha", status, out)
    r = prerm(root, path, "remove")
    assert r.returncode == 0, r


def test_prerm_remove_refuses_when_it_cannot_tell(deb, tmp_path):
    _, root = deb
    path = fake_bin(tmp_path, root / "usr/bin/storha", 1, "garbage")
    r = prerm(root, path, "remove")
    assert r.returncode == 1 and "cannot tell" in r.stderr, r
