#!/usr/bin/env python3
"""Count test cases from meson's JSON test logs and print `N passed, N failed` last.

Usage: count_tests.py [--extra LABEL=passed,failed]... LABEL=testlog.json...

A suite speaking TAP (the cmocka programs, CMOCKA_MESSAGE_OUTPUT=TAP) counts one case per
`ok`/`not ok` line; cases its plan announced but never reported (a crash) count as failed,
and a suite whose process failed although every case passed (a sanitizer or valgrind
report at exit) counts one more failure. A test without TAP output counts as one case.
"""
import json
import re
import sys

PLAN = re.compile(r"^1\.\.(\d+)")
CASE = re.compile(r"^(not ok|ok)\b(.*)$")
GOOD = {"OK", "EXPECTEDFAIL"}


def count_suite(entry):
    """(passed, failed, skipped, notes) for one test entry of a meson JSON log."""
    passed = failed = skipped = planned = 0
    tap = False
    notes = []
    for line in (entry.get("stdout") or "").splitlines():
        m = PLAN.match(line)
        if m:
            tap = True
            planned += int(m.group(1))
            continue
        m = CASE.match(line)
        if not m:
            continue
        tap = True
        if re.search(r"#\s*skip", m.group(2), re.I):
            skipped += 1
        elif m.group(1) == "ok":
            passed += 1
        else:
            failed += 1
            notes.append(line.strip())
    result = entry.get("result", "ERROR")
    if not tap:
        if result == "SKIP":
            return 0, 0, 1, notes
        if result in GOOD:
            return 1, 0, 0, notes
        return 0, 1, 0, [f"{entry['name']}: {result}"]
    missing = planned - (passed + failed + skipped)
    if missing > 0:
        failed += missing
        notes.append(f"{entry['name']}: {missing} planned case(s) never reported")
    if result not in GOOD and failed == 0:
        failed += 1
        notes.append(f"{entry['name']}: {result} (exit status {entry.get('returncode')}) "
                     "after its cases passed")
    return passed, failed, skipped, notes


def main(argv):
    total = [0, 0, 0]
    rows = []
    args = iter(argv)
    for arg in args:
        if arg == "--extra":
            label, counts = next(args).split("=", 1)
            p, f = (int(v) for v in counts.split(","))
            rows.append((label, p, f, 0, []))
            continue
        label, path = arg.split("=", 1)
        p = f = s = 0
        notes = []
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                entries = [json.loads(line) for line in fh if line.strip()]
        except (OSError, ValueError) as e:
            entries = []
            f = 1
            notes.append(f"no usable test log {path}: {e}")
        if not entries and not notes:
            f = 1
            notes.append("no test ran")
        for entry in entries:
            ep, ef, es, en = count_suite(entry)
            p, f, s = p + ep, f + ef, s + es
            notes += en
        rows.append((label, p, f, s, notes))
    print()
    print("summary:")
    for label, p, f, s, notes in rows:
        print(f"  {label}: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
        for n in notes:
            print(f"    {n}")
        total[0] += p
        total[1] += f
        total[2] += s
    line = f"{total[0]} passed, {total[1]} failed"
    if total[2]:
        line += f", {total[2]} skipped"
    print(line, flush=True)
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
