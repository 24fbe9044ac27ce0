# SPDX-License-Identifier: GPL-2.0-or-later
"""Reads the JUnit files of a lab run and says whether it may pass: at least
one test ran, none failed, none was skipped (a skipped lab test is an
untested change). Prints one `lab: N passed, N failed, N skipped` line.

    results.py FILE.xml [FILE.xml ...]    exit 0 only for a clean run
"""

import sys
import xml.etree.ElementTree as ET


def count(path):
    """(passed, failed, skipped) of one JUnit file; a missing or unreadable
    file is one failure (pytest did not get to write it)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return 0, 1, 0
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    passed = failed = skipped = 0
    for s in suites:
        tests = int(s.get("tests", 0))
        f = int(s.get("failures", 0)) + int(s.get("errors", 0))
        k = int(s.get("skipped", 0))
        failed += f
        skipped += k
        passed += tests - f - k
    return passed, failed, skipped


def verdict(counts):
    passed = sum(c[0] for c in counts)
    failed = sum(c[1] for c in counts)
    skipped = sum(c[2] for c in counts)
    problems = []
    if passed + failed == 0:
        problems.append("no lab test ran")
    if skipped:
        problems.append(f"{skipped} lab test(s) skipped: CI runs every lab test")
    if failed:
        problems.append(f"{failed} lab test(s) failed")
    return (passed, failed, skipped), problems


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    (p, f, k), problems = verdict([count(a) for a in argv[1:]])
    print(f"lab: {p} passed, {f} failed, {k} skipped")
    for pr in problems:
        print(f"lab: FAILED: {pr}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
