#!/usr/bin/env python3
"""The sampling error of one answer (bench/queries --set full): the relative
error of the sampled answer's visitors (its first metric) against the exact
answer to the same question, for the sum of the rows both answers show
(a headline's one row) and for the exact answer's top row; for a funnel,
of the period's visitors and of its first step. Prints "total% / top%" ("—" where a side has no rows).

    sampling_error.py SAMPLED.json EXACT.json
"""
import json
import sys


def rows(path):
    answer = json.load(open(path))
    if "steps" in answer:
        # A funnel: the period's visitors as its total, the first step as
        # its top row.
        return {(): answer["all_visitors"]}, answer["steps"][0]["visitors"] if answer["steps"] else 0
    results = {tuple(r["dimensions"]): r["metrics"][0] for r in answer.get("results", [])}
    return results, None


def funnel_error(sampled, exact):
    (s_rows, s_first), (e_rows, e_first) = sampled, exact
    total = error(s_rows[()], e_rows[()])
    print(f"{100 * total:.2f} % / {100 * error(s_first, e_first):.2f} %")


def error(sampled, exact):
    if exact == 0:
        return 0.0 if sampled == 0 else float("inf")
    return abs(sampled - exact) / exact


(sampled, s_first), (exact, e_first) = rows(sys.argv[1]), rows(sys.argv[2])
if e_first is not None:
    funnel_error((sampled, s_first), (exact, e_first))
    sys.exit(0)
if not exact:
    print("—")
    sys.exit(0)
# A headline has one row (no dimensions); a breakdown's total is the sum of
# the rows both pages show (a row that moved in or out of a page of ten is
# not an estimation error of the rows shown; visitors may repeat across
# rows, the sum is still what the page shows in all).
both = [k for k in exact if k in sampled]
total_exact = sum(exact[k] for k in both)
total_sampled = sum(sampled[k] for k in both)
top = max(exact, key=lambda k: exact[k])
total = error(total_sampled, total_exact)
top_error = error(sampled.get(top, 0), exact[top])
print(f"{100 * total:.2f} % / {100 * top_error:.2f} %")
