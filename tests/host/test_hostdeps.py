# SPDX-License-Identifier: GPL-2.0-or-later
"""lab/hostdeps.py's decision against made-up package states: what a fresh
machine, a complete one and one carrying another release's qemu get. Nothing
here reads or changes this machine's packages."""

import os
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "lab"))

import hostdeps  # noqa: E402
from hostdeps import Installed, State, plan, PlanError, source_version, dpkg_compare  # noqa: E402

BOOKWORM = "1:7.2+dfsg-7+deb12u18+b3"
BOOKWORM_ALL = "1:7.2+dfsg-7+deb12u18"          # arch-all qemu-system-data: no binNMU suffix
SECURITY = "1:7.2+dfsg-7+deb12u15"
BACKPORTS = "1:10.0.2+ds-2+deb13u1~bpo12+1"
HEADERS = "linux-headers-6.1.0-57-amd64"


def base_installed():
    """Everything but qemu, as a machine that ran the lab once has it."""
    return {n: Installed("1.0", n) for n in hostdeps.BASE_PACKAGES + [HEADERS]}


def bookworm_archive(st):
    for name in ("qemu-system-x86", "qemu-utils", "qemu-system-common", "qemu-block-extra"):
        st.available[name] = [BOOKWORM, SECURITY]
        st.candidate.setdefault(name, BOOKWORM)
    st.available["qemu-system-data"] = [BOOKWORM_ALL, SECURITY]
    st.candidate.setdefault("qemu-system-data", BOOKWORM_ALL)
    st.headers = HEADERS
    return st


def test_binnmu_suffix_is_not_part_of_the_source_version():
    assert source_version(BOOKWORM) == BOOKWORM_ALL
    assert source_version(BACKPORTS) == BACKPORTS
    assert source_version("2.1.5-1+b1") == "2.1.5-1"


def test_debian_version_ordering():
    assert dpkg_compare(BACKPORTS, BOOKWORM) > 0
    assert dpkg_compare(BOOKWORM, SECURITY) > 0
    assert dpkg_compare("1.0~rc1", "1.0") < 0
    assert dpkg_compare("1:1.0", "2.0") > 0
    assert dpkg_compare("1.0-1", "1.0-1") == 0
    assert dpkg_compare("1.0+b1", "1.0") > 0


def test_fresh_machine_gets_everything_from_one_qemu():
    st = bookworm_archive(State())
    p = plan(st)
    for name in hostdeps.BASE_PACKAGES + [HEADERS]:
        assert name in p.install
    assert f"qemu-system-x86={BOOKWORM}" in p.install
    assert f"qemu-utils={BOOKWORM}" in p.install
    assert not p.downgrade


def test_complete_machine_installs_nothing():
    st = bookworm_archive(State(installed=base_installed()))
    for name in ("qemu-system-x86", "qemu-utils", "qemu-system-common"):
        st.installed[name] = Installed(BOOKWORM, "qemu")
    st.installed["qemu-system-data"] = Installed(BOOKWORM_ALL, "qemu")
    p = plan(st)
    assert p.install == []
    assert not p.downgrade


def test_qemu_utils_from_backports_is_brought_to_the_system_emulators_version():
    # The CI machine's image: qemu-utils 10.0.2 from bookworm-backports, whose
    # release is not in the apt sources; apt offers qemu-system-x86 7.2 only.
    st = State(installed=base_installed())
    st.installed["qemu-utils"] = Installed(BACKPORTS, "qemu")
    st = bookworm_archive(st)
    st.candidate["qemu-utils"] = BACKPORTS      # apt keeps the newer installed one
    p = plan(st)
    assert f"qemu-utils={BOOKWORM}" in p.install
    assert f"qemu-system-x86={BOOKWORM}" in p.install
    assert p.downgrade, "going from 10.0.2 to 7.2 needs --allow-downgrades"
    assert any("qemu-utils" in r and BACKPORTS in r for r in p.reasons)


def test_other_installed_qemu_packages_follow_too():
    st = State(installed=base_installed())
    for name in ("qemu-utils", "qemu-block-extra"):
        st.installed[name] = Installed(BACKPORTS, "qemu")
    st.installed["qemu-system-data"] = Installed(BACKPORTS, "qemu")
    st = bookworm_archive(st)
    p = plan(st)
    assert f"qemu-block-extra={BOOKWORM}" in p.install
    # The arch-all package has its own spelling of the same upload.
    assert f"qemu-system-data={BOOKWORM_ALL}" in p.install


def test_both_from_backports_with_backports_enabled_is_consistent():
    # qemu-system-x86's candidate is the installed backports one: keep it.
    st = State(installed=base_installed())
    for name in ("qemu-system-x86", "qemu-utils"):
        st.installed[name] = Installed(BACKPORTS, "qemu")
        st.available[name] = [BACKPORTS, BOOKWORM]
        st.candidate[name] = BACKPORTS
    st.headers = HEADERS
    p = plan(st)
    assert p.install == []


def test_system_emulator_installed_but_utils_missing():
    st = State(installed=base_installed())
    st.installed["qemu-system-x86"] = Installed(BOOKWORM, "qemu")
    st = bookworm_archive(st)
    p = plan(st)
    assert p.install == [f"qemu-utils={BOOKWORM}"]
    assert not p.downgrade


def test_no_matching_version_is_an_error_that_names_the_package():
    st = State(installed=base_installed())
    st.installed["qemu-system-gui"] = Installed(BACKPORTS, "qemu")
    st = bookworm_archive(st)          # offers no qemu-system-gui at all
    with pytest.raises(PlanError, match="qemu-system-gui"):
        plan(st)


def test_no_qemu_in_the_archive_is_an_error():
    st = State(installed=base_installed(), headers=HEADERS)
    with pytest.raises(PlanError, match="qemu-system-x86"):
        plan(st)


def test_missing_kernel_headers_are_installed():
    inst = base_installed()
    del inst[HEADERS]
    st = bookworm_archive(State(installed=inst))
    for name in ("qemu-system-x86", "qemu-utils"):
        st.installed[name] = Installed(BOOKWORM, "qemu")
    assert plan(st).install == [HEADERS]


def test_tool_problems_names_what_is_missing(monkeypatch):
    # The check after installing looks at commands, not at package names.
    monkeypatch.setattr(hostdeps.shutil, "which",
                        lambda t: None if t == "qemu-img" else "/usr/bin/" + t)
    monkeypatch.setattr(hostdeps, "_qemu_version", lambda t: "7.2.19")
    problems = hostdeps.tool_problems(headers="linux-headers-does-not-exist")
    assert any(p.startswith("qemu-img not found") for p in problems)
    assert any("linux-headers-does-not-exist" in p for p in problems)


def test_tool_problems_sees_two_qemu_versions(monkeypatch):
    monkeypatch.setattr(hostdeps.shutil, "which", lambda t: "/usr/bin/" + t)
    monkeypatch.setattr(hostdeps, "_qemu_version",
                        lambda t: "10.0.2" if t == "qemu-img" else "7.2.19")
    problems = hostdeps.tool_problems(headers="linux-headers-does-not-exist")
    assert any("not one qemu version" in p for p in problems)
