# SPDX-License-Identifier: GPL-2.0-or-later
"""lab/results.py: a lab run passes only with tests run, none failed, none skipped."""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "lab"))

import results  # noqa: E402


def junit(tmp_path, name, tests, failures=0, errors=0, skipped=0):
    p = tmp_path / name
    p.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites>'
        f'<testsuite name="pytest" tests="{tests}" failures="{failures}" errors="{errors}" '
        f'skipped="{skipped}"></testsuite></testsuites>')
    return str(p)


def test_clean_run_passes(tmp_path, capsys):
    a = junit(tmp_path, "a.xml", 28)
    b = junit(tmp_path, "b.xml", 10)
    assert results.main(["results", a, b]) == 0
    assert "lab: 38 passed, 0 failed, 0 skipped" in capsys.readouterr().out


def test_a_skipped_test_fails_the_run(tmp_path, capsys):
    a = junit(tmp_path, "a.xml", 28, skipped=28)
    assert results.main(["results", a]) == 1
    err = capsys.readouterr().err
    assert "28 lab test(s) skipped" in err


def test_no_test_run_fails(tmp_path, capsys):
    assert results.main(["results", junit(tmp_path, "a.xml", 0)]) == 1
    assert "no lab test ran" in capsys.readouterr().err


def test_failures_and_errors_fail(tmp_path):
    assert results.main(["results", junit(tmp_path, "a.xml", 5, failures=1)]) == 1
    assert results.main(["results", junit(tmp_path, "b.xml", 5, errors=1)]) == 1


def test_a_missing_file_is_a_failure(tmp_path):
    # pytest never got to write it: the topology did not boot, or pytest died.
    assert results.main(["results", str(tmp_path / "absent.xml")]) == 1


def test_bare_testsuite_root(tmp_path):
    p = tmp_path / "s.xml"
    p.write_text('<testsuite tests="3" failures="0" errors="0" skipped="0"/>')
    assert results.verdict([results.count(str(p))]) == ((3, 0, 0), [])
