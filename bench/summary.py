#!/usr/bin/env python3
"""A summary of bench/queries --set full's table rows (read on stdin): how
many questions meet the target, the median per period, the slowest, and the
largest sampling error.

    summary.py TARGET_MS < rows
"""
import re
import statistics
import sys

target = float(sys.argv[1])
rows = []
for line in sys.stdin:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 7:
        continue
    name, median, bare, _ratio, _verdict, sample, err = cells[:7]
    ms = float(median.split()[0])
    bare_ms = float(bare.split()[0])
    period = re.search(r"\((7d|30d|12mo)", name).group(1)
    errors = [float(x) for x in re.findall(r"([0-9.]+) %", err)]
    rows.append((name, ms, bare_ms, period, sample, errors, "over the limits" in err))
if not rows:
    sys.exit(0)
passed = sum(1 for r in rows if r[1] <= target)
median = statistics.median(r[1] for r in rows)
per = ", ".join(
    f"{p}: {statistics.median(r[1] for r in rows if r[3] == p) / 1000:.2f} s"
    for p in ("7d", "30d", "12mo") if any(r[3] == p for r in rows))
slowest = max(rows, key=lambda r: r[1])
faster_than_bare30 = None
bare30 = [r[2] for r in rows if r[3] == "30d"]
if bare30:
    b = statistics.median(bare30)
    faster_than_bare30 = (sum(1 for r in rows if r[1] < b), b)
sampled = [r for r in rows if r[4] != "exact"]
totals = [r[5][0] for r in rows if r[5]]
tops = [r[5][1] for r in rows if len(r[5]) > 1]
headline_totals = [r[5][0] for r in rows if r[5] and r[0].startswith("headline")]
lines = [
    f"**Summary:** {passed} of {len(rows)} questions answer within {target:.0f} ms; the median is "
    f"{median / 1000:.2f} s ({per}); the slowest is {slowest[0]}, {slowest[1] / 1000:.2f} s "
    f"against a {slowest[2] / 1000:.2f} s bare scan."
]
if faster_than_bare30:
    n, b = faster_than_bare30
    lines.append(f"{n} of {len(rows)} answer faster than the bare 30-day scan ({b / 1000:.2f} s).")
lines.append(f"{len(sampled)} of {len(rows)} answers were sampled.")
if totals:
    parts = [f"period totals at most {max(totals):.2f} % (median {statistics.median(totals):.2f} %)"]
    if headline_totals:
        parts.append(f"headlines at most {max(headline_totals):.2f} %")
    text = "Visitors error of the sampled answers: " + ", ".join(parts)
    if tops:
        text += f"; top rows at most {max(tops):.2f} % (median {statistics.median(tops):.2f} %)"
    lines.append(text + ".")
over = sum(1 for r in rows if r[6])
if over:
    lines.append(f"{over} exact answers (asked only to measure the error) were over the bench's limits.")
print(" ".join(lines))
