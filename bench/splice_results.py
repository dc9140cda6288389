#!/usr/bin/env python3
"""Puts the full dashboard question set (bench/QUERIES-full-<events>.md,
written by `bench/queries --set full`) into bench/RESULTS.md, as its section
"Every dashboard question", replacing the previous one. bench/report.py
calls it too, so a new `bench/run` keeps the section.

    splice_results.py [RESULTS.md]
"""
import glob
import os
import re
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
START = "<!-- every dashboard question: from bench/QUERIES-full-*.md by bench/splice_results.py -->"
END = "<!-- end of every dashboard question -->"


def section():
    files = sorted(glob.glob(os.path.join(BENCH, "QUERIES-full-*.md")),
                   key=lambda p: int(re.search(r"-(\d+)\.md$", p).group(1)))
    if not files:
        return ""
    parts = [START, "## Every dashboard question (issue 17)", ""]
    for path in files:
        events = int(re.search(r"-(\d+)\.md$", path).group(1))
        with open(path) as f:
            text = f.read().strip()
        # The file's own title becomes a subsection.
        text = re.sub(r"^# .*$", f"### {events / 1e6:g} M events "
                      f"(`bench/{os.path.basename(path)}`)", text, count=1, flags=re.M)
        parts += [text, ""]
    parts.append(END)
    return "\n".join(parts)


def splice(results):
    text = open(results).read() if os.path.exists(results) else "# Benchmark results\n"
    new = section()
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before.rstrip() + ("\n\n" + new if new else "") + after
    elif new:
        text = text.rstrip() + "\n\n" + new + "\n"
    with open(results, "w") as f:
        f.write(text)


if __name__ == "__main__":
    splice(sys.argv[1] if len(sys.argv) > 1 else os.path.join(BENCH, "RESULTS.md"))
