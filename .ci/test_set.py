"""Every test `cargo test --workspace` knows ran under nextest and passed, and nothing else.

    python3 .ci/test_set.py LIST JUNIT

LIST is the stdout of `cargo test --workspace -- --list` (lines `name: test`); JUNIT is
nextest's report. Compared as multisets of test names (a name may repeat across binaries).
A missing or skipped test fails, so a Postgres-backed test cannot vanish silently.
"""
import collections
import sys
import xml.etree.ElementTree as ET

listed = collections.Counter(
    line[: -len(": test")]
    for line in open(sys.argv[1], encoding="utf-8").read().splitlines()
    if line.endswith(": test")
)
passed, not_passed = collections.Counter(), []
for case in ET.parse(sys.argv[2]).getroot().iter("testcase"):
    name = case.get("name")
    outcome = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
    if outcome:
        not_passed.append(f"{case.get('classname')} {name}: {outcome[0]}")
    else:
        passed[name] += 1

missing = listed - passed
extra = passed - listed
postgres = sum(n for name, n in listed.items() if "postgres" in name)
print(f"cargo test --workspace -- --list: {sum(listed.values())} tests ({postgres} named for Postgres)")
print(f"nextest ran and passed: {sum(passed.values())}")
problems = not_passed + [f"did not run: {t}" for t in sorted(missing.elements())]
problems += [f"ran but not listed: {t}" for t in sorted(extra.elements())]
if not listed:
    problems.append("the list is empty: nothing was compared")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
