#!/usr/bin/env python3
"""Puts the full dashboard question set (bench/QUERIES-full-<events>.md,
written by `bench/queries --set full`, and QUERIES-some-<events>.md, written
with `--only`) into bench/RESULTS.md, as its section
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
SOURCES = """Which table answers: the headline, entry and exit pages, channels, sources,
referrers, UTM tabs, locations, browsers, operating systems and devices -- without a
filter, with a page filter and with a page and a source filter -- are visit questions
over whole days, answered from the derived per-visit table `visits`
(`src/store/visit_rollup.rs`, `src/query/derived.rs`), and sampled by its rows above
half of `query.sample_above_events` (a third with a page filter); the time series (visitors and page views: one
pass), top pages, custom events, properties, goal conversions and the funnel (each
visitor's steps in order within a visit, `src/query/funnel.rs`) read `events`, sampled
by events (with a source filter, each visit's source from `visits`). Both tables have fine granules
(`visits` 256 rows, schema version 19; `events` 1 024 rows, version 21), so a sample
reads about the share it keeps instead of at least one 8 192-row granule per day (and
per event name). This shared machine's speed varies from run to run: its bare 30-day
scan took 0.22-0.31 s in the runs of 2026-12-04 and 2026-12-05, 0.17 s on the machine
of the earlier runs and of 2026-12-07; compare each figure with the bare scan of its own
run. The one question of the 10 M full set that fell short (headline + comparison, 7
days, page filter: 302 ms in that run, 178 ms in the run before) was timed again with
the other headlines, five runs each, on 2026-12-07 (`--only '^headline'`, its own
subsection below): 209 ms. The headlines with a page filter over 7 and 30 days are the
slowest questions of the set and the only ones not clearly faster than a bare 30-day
scan: they read both periods' visits and check each kept visit's pages. The bench waits for the
server's merges to finish before it times anything."""
SOURCES_REST = """
At 100 M each question of the full set is timed once (`--runs 1`) and only the
headlines' error is measured (`--errors headline`): the exact answer of every question
at that size takes longer than the run itself. The goal conversions and the funnel,
added to the set after that run, were timed at 100 M on their own on 2026-12-07 (`--only
'^(goal|funnel)'`, three runs each, every error measured; its own subsection below). Earlier runs: bench/QUERIES-before-17.md (no sampling, no
derived table), and git history (10 M and 100 M with sampling only at 6a58dac; 10 M
with the derived table before the joined statements used it at fdf69c6; 10 M at
e1227c8, before the fine granules; 100 M at 7283446, before the fine granules: at
most 0.92 s, median 0.36 s). At 100 M the bare 30-day scan takes ten times as long as
at 10 M (3.0 s against 0.25-0.31 s), while the median answer takes about twice as
long (0.25 s against 0.12 s): the sample keeps the rows read nearly the same. The error
of a filtered headline is larger at 100 M because a sample that small holds fewer of
the filtered visitors."""


def section():
    # The full sets by size, then the runs of some questions only
    # (`--only`, e.g. the goals and the funnel at 100 M) by size.
    def size(p):
        return int(re.search(r"-(\d+)\.md$", p).group(1))
    files = (sorted(glob.glob(os.path.join(BENCH, "QUERIES-full-*.md")), key=size)
             + sorted(glob.glob(os.path.join(BENCH, "QUERIES-some-*.md")), key=size))
    if not files:
        return ""
    parts = [START, "## Every dashboard question (issue 17)", "", SOURCES + "\n" + SOURCES_REST, ""]
    for path in files:
        events = size(path)
        some = "-some-" in os.path.basename(path)
        with open(path) as f:
            text = f.read().strip()
        # The file's own title becomes a subsection.
        text = re.sub(r"^# .*$", f"### {events / 1e6:g} M events{', some questions' if some else ''} "
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
