#!/usr/bin/env python3
"""Turns bench/run's raw figures into bench/RESULTS.md and prints the table.

Usage: bench/report.py <raw dir> <RESULTS.md path>
"""

import json
import os
import statistics
import sys

RAW, OUT = sys.argv[1], sys.argv[2]
BENCH = os.path.dirname(os.path.abspath(__file__))
MIB = 1024


def read_env(path):
    values = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            values[key] = value
    return values


def num(value, default=0.0):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


F = read_env(os.path.join(RAW, "figures.env"))
rounds = int(F["rounds"])
cores = int(F["cores"])


def wrk_round(label, r):
    with open(os.path.join(RAW, f"wrk-{label}-{r}.json")) as f:
        result = json.load(f)
    result.update({k: num(v) for k, v in read_env(os.path.join(RAW, f"wrk-{label}-{r}.cpu")).items()})
    result["round"] = r
    return result


bare_runs = [wrk_round("bare", r) for r in range(1, rounds + 1)]
salt_runs = [wrk_round("saltmark", r) for r in range(1, rounds + 1)]
for r, run in enumerate(salt_runs, 1):
    run["clickhouse_cpu_s"] = num(F.get(f"saltmark_clickhouse_cpu_s_{r}"))
for run in bare_runs:
    run["clickhouse_cpu_s"] = 0.0
for run in bare_runs + salt_runs:
    capacity = cores * run["wall_s"]
    ours = run["server_cpu_s"] + run["wrk_cpu_s"] + run["clickhouse_cpu_s"]
    run["other_pct"] = max(0.0, run["machine_busy_s"] - ours) / capacity * 100 if capacity else 0.0
    run["cpu_per_m"] = run["server_cpu_s"] / run["requests"] * 1e6 if run["requests"] else 0.0

# The best round of each (highest throughput): the least disturbed by other
# work on the shared machine.
bare = max(bare_runs, key=lambda run: run["rps"])
salt = max(salt_runs, key=lambda run: run["rps"])

# Steady resident memory: median of the samples in the second half of each
# saltmark run; the highest of the rounds.
steady = []
steady_anon = []
for r in range(1, rounds + 1):
    samples = []
    with open(os.path.join(RAW, f"rss-saltmark-{r}.txt")) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1].isdigit() and parts[2].isdigit():
                samples.append((float(parts[0]), int(parts[1]), int(parts[2])))
    if samples:
        start, end = samples[0][0], samples[-1][0]
        tail = [s for s in samples if s[0] >= (start + end) / 2] or samples
        steady.append(statistics.median(s[1] for s in tail))
        steady_anon.append(statistics.median(s[2] for s in tail))
steady_kb = max(steady) if steady else 0
steady_anon_kb = max(steady_anon) if steady_anon else 0
peak_kb = max(num(F.get(f"saltmark_hwm_kb_{r}")) for r in range(1, rounds + 1))
bare_peak_kb = max(num(F.get(f"bare_rss_kb_{r}")) for r in range(1, rounds + 1))
idle_kb = num(F.get("idle_rss_kb"))

with open(os.path.join(RAW, "e2e.json")) as f:
    e2e = json.load(f)
e2e_secs = num(e2e.get("readable_secs"), 0.0)
e2e_rows = e2e["accepted"]
e2e_rate = e2e_rows / e2e_secs if e2e_secs else 0.0
e2e_posted_rate = e2e["count"] / e2e_secs if e2e_secs else 0.0
base_rows = int(num(F.get("baseline_rows")))
base_secs = num(F.get("baseline_secs"))
base_rate = base_rows / base_secs if base_secs else 0.0
e2e_cpu_per_m = (
    (num(F.get("e2e_saltmark_cpu_s")) + num(F.get("e2e_clickhouse_cpu_s"))) / e2e_rows * 1e6 if e2e_rows else 0.0
)
base_cpu_per_m = (
    (num(F.get("baseline_client_cpu_s")) + num(F.get("baseline_clickhouse_cpu_s"))) / base_rows * 1e6
    if base_rows
    else 0.0
)
e2e_other = max(
    0.0,
    num(F.get("e2e_machine_busy_s"))
    - num(F.get("e2e_saltmark_cpu_s"))
    - num(F.get("e2e_clickhouse_cpu_s"))
    - num(F.get("e2e_loader_cpu_s")),
)
e2e_other_pct = e2e_other / (cores * e2e_secs) * 100 if e2e_secs else 0.0


def ms(us):
    return f"{us / 1000:.2f} ms"


def ratio(a, b):
    return f"{a / b:.2f}×" if b else "—"


def verdict(ok):
    return "pass" if ok else "**falls short**"


rows = []


def row(key, measure, figure, baseline, rat, target, result):
    rows.append((key, measure, figure, baseline, rat, target, result))


errors = sum(int(salt[k]) for k in salt if k.startswith("errors_"))
row(
    "a",
    f"ingest throughput, {F['conns']} connections",
    f"{salt['rps']:,.0f} req/s",
    f"bare hyper {bare['rps']:,.0f} req/s",
    ratio(salt["rps"], bare["rps"]),
    "≥ 0.80× bare hyper",
    verdict(salt["rps"] >= 0.8 * bare["rps"]),
)
row(
    "a",
    "ingest latency p50",
    ms(salt["p50_us"]),
    f"bare hyper {ms(bare['p50_us'])}",
    ratio(salt["p50_us"], bare["p50_us"]),
    "—",
    "info",
)
row(
    "a",
    f"ingest latency p99, {F['conns']} connections",
    ms(salt["p99_us"]),
    f"bare hyper {ms(bare['p99_us'])}",
    ratio(salt["p99_us"], bare["p99_us"]),
    "≤ 10 ms",
    verdict(salt["p99_us"] <= 10_000),
)
row(
    "a",
    "non-2xx answers / socket errors under (a)",
    f"{errors}",
    f"bare hyper {sum(int(bare[k]) for k in bare if k.startswith('errors_'))}",
    "—",
    "0",
    verdict(errors == 0),
)
row(
    "b",
    f"end to end: {e2e['count']:,} events posted → {e2e_rows:,} rows readable",
    f"{e2e_rate:,.0f} rows/s ({e2e_secs:.2f} s)",
    f"clickhouse-client JSONEachRow {base_rate:,.0f} rows/s ({base_secs:.2f} s)",
    ratio(e2e_rate, base_rate),
    f"≥ 50 000 events/s on {cores} cores",
    verdict(e2e_rate >= 50_000),
)
row(
    "c",
    "resident memory, idle (VmRSS)",
    f"{idle_kb / MIB:.1f} MiB",
    "—",
    "—",
    "—",
    "info",
)
row(
    "c",
    "resident memory, steady under (a) (median VmRSS, 2nd half)",
    f"{steady_kb / MIB:.1f} MiB",
    f"idle {idle_kb / MIB:.1f} MiB",
    ratio(steady_kb, idle_kb),
    "≤ 64 MiB",
    verdict(steady_kb <= 64 * MIB),
)
row(
    "c",
    "resident memory, peak under (a) (VmHWM)",
    f"{peak_kb / MIB:.1f} MiB",
    f"bare hyper peak {bare_peak_kb / MIB:.1f} MiB",
    ratio(peak_kb, bare_peak_kb),
    "≤ 64 MiB",
    verdict(peak_kb <= 64 * MIB),
)
geo_kb = num(F.get("geo_bytes")) / 1024
row(
    "c",
    "of which anonymous (RssAnon), steady under (a)",
    f"{steady_anon_kb / MIB:.1f} MiB",
    f"geo files {geo_kb / MIB:.1f} MiB (mapped: file-backed, not in RssAnon)",
    "—",
    "—",
    "info",
)
row(
    "c",
    "resident memory, peak during (b) (VmHWM)",
    f"{num(F.get('e2e_hwm_kb')) / MIB:.1f} MiB",
    "—",
    "—",
    "— (burst, queue up to 200 000)",
    "info",
)
row(
    "d",
    "CPU per million events, saltmark process under (a)",
    f"{salt['cpu_per_m']:.1f} s",
    f"bare hyper {bare['cpu_per_m']:.1f} s",
    ratio(salt["cpu_per_m"], bare["cpu_per_m"]),
    "—",
    "info",
)
row(
    "d",
    "CPU per million rows end to end (saltmark + ClickHouse) in (b)",
    f"{e2e_cpu_per_m:.1f} s",
    f"clickhouse-client + ClickHouse {base_cpu_per_m:.1f} s",
    ratio(e2e_cpu_per_m, base_cpu_per_m),
    "—",
    "info",
)
# (e) dashboard queries: bench/queries --raw wrote queries.tsv (name, median
# seconds, baseline median seconds) and queries.env.
queries = []
Q = {}
if os.path.exists(os.path.join(RAW, "queries.env")):
    Q = read_env(os.path.join(RAW, "queries.env"))
    with open(os.path.join(RAW, "queries.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                queries.append((parts[0], num(parts[1]) * 1000, num(parts[2]) * 1000))
q_events = int(num(Q.get("queries_events")))
q_small = q_events < 10_000_000
if queries:
    for name, q_ms, base_ms in queries:
        row(
            "e",
            f"dashboard query “{name}”, {q_events:,} events" + (" (quick: not the target's 10 M)" if q_small else ""),
            f"{q_ms:,.0f} ms",
            f"bare 30-day scan {base_ms:,.0f} ms",
            ratio(q_ms, base_ms),
            "< 300 ms on ≥ 10 M events",
            verdict(q_ms < 300) + (f" (at {q_events:,} events only)" if q_small else ""),
        )
else:
    row("e", "dashboard queries", "not measured (bench/queries failed: see queries.log)", "—", "—",
        "< 300 ms", "**not measured**")

# (f) tracker script: build.rs's tracker_sizes.tsv (name, minified, gzip,
# brotli bytes) and what the server answered with Accept-Encoding: gzip.
sizes = {}
served = {}
if os.path.exists(os.path.join(RAW, "tracker_sizes.tsv")):
    with open(os.path.join(RAW, "tracker_sizes.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4:
                sizes[parts[0]] = tuple(int(p) for p in parts[1:])
if os.path.exists(os.path.join(RAW, "tracker_served.tsv")):
    with open(os.path.join(RAW, "tracker_served.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4:
                served[parts[0]] = (parts[1], parts[2], int(num(parts[3])))


def served_note(name):
    status, encoding, size = served.get(name, ("?", "?", 0))
    if status == "200" and encoding == "gzip" and size == sizes[name][1]:
        return "served gzip: same bytes"
    return f"served: HTTP {status}, {encoding}, {size} bytes"


served_ok = bool(served) and all(
    served.get(n, ("", "", 0)) == ("200", "gzip", sizes[n][1]) for n in sizes
)
if "script.js" in sizes:
    plain, gz, br = sizes["script.js"]
    row(
        "f",
        "tracker script `/js/script.js` (default), gzipped",
        f"{gz:,} bytes",
        f"minified {plain:,} bytes; brotli {br:,} bytes; {served_note('script.js')}",
        f"{gz / plain:.2f}× minified" if plain else "—",
        "≤ 1 024 bytes",
        verdict(gz <= 1024 and served_ok),
    )
    largest = max(sizes, key=lambda n: sizes[n][1])
    plain, gz, br = sizes[largest]
    row(
        "f",
        f"largest variant `/js/{largest}`, gzipped",
        f"{gz:,} bytes",
        f"minified {plain:,} bytes; brotli {br:,} bytes; {served_note(largest)}",
        f"{gz / plain:.2f}× minified" if plain else "—",
        "— (build.rs budget for variants: 1 280 bytes)",
        "info",
    )
else:
    row("f", "tracker script, gzipped", "not measured (no tracker_sizes.tsv in the release build)", "—", "—",
        "≤ 1 024 bytes", "**not measured**")

policies = []
for policy in ("memory", "100ms", "always"):
    path = os.path.join(RAW, f"wrk-policy-{policy}.json")
    if os.path.exists(path):
        with open(path) as f:
            policies.append((policy, json.load(f)))
memory_rps = next((r["rps"] for p, r in policies if p == "memory"), 0)
durability = [
    "| spool policy | what a `kill -9` may lose | req/s | p99 | vs bare hyper | vs memory only |",
    "|---|---|---|---|---|---|",
]
loses = {
    "memory": "everything not yet inserted (up to a batch age of traffic)",
    "100ms": "at most the last 100 ms of accepted events",
    "always": "nothing answered 202",
}
for policy, r in policies:
    durability.append(
        f"| `{'spool.max_bytes = 0' if policy == 'memory' else 'spool.fsync = ' + policy}` | {loses[policy]} "
        f"| {r['rps']:,.0f} | {ms(r['p99_us'])} | {ratio(r['rps'], bare['rps'])} "
        f"| {ratio(r['rps'], memory_rps) if memory_rps else '—'} |"
    )

header = "| | measure | figure | baseline (same run) | ratio | target | result |"
table = [header, "|---|---|---|---|---|---|---|"]
for r in rows:
    table.append("| " + " | ".join(str(c) for c in r) + " |")

mode_note = (
    f"{F['mode']} run: wrk {F['duration']} s per server per round, {F['rounds']} round(s) alternating "
    f"bare hyper / saltmark (best round of each shown), -t2 -c{F['conns']}; "
    f"end to end {int(F['e2e_events']):,} events over 64 connections."
)


def noise_line(run, name):
    return (
        f"| {name} | {run['round']} | {run['rps']:,.0f} | {ms(run['p50_us'])} | {ms(run['p99_us'])} "
        f"| {run['server_cpu_s']:.1f} s | {run['wrk_cpu_s']:.1f} s | {run['clickhouse_cpu_s']:.1f} s "
        f"| {run['other_pct']:.0f} % |"
    )


noise = [
    "| server | round | req/s | p50 | p99 | server CPU | wrk CPU | ClickHouse CPU | other processes |",
    "|---|---|---|---|---|---|---|---|---|",
]
for b, s in zip(bare_runs, salt_runs):
    noise.append(noise_line(b, "bare hyper"))
    noise.append(noise_line(s, "saltmark"))

dirty = int(num(F.get("dirty")))
lines = [
    "# Benchmark results",
    "",
    "Written by `bench/run` (see `bench/README.md`); do not edit by hand — the",
    "Profile section comes from `bench/profiles/summary.md` and `bench/profiles/notes.md`,",
    "the Optimisations section from `bench/optimisations.md`.",
    "",
    f"- Date: {F['date']}; commit `{F['commit']}`"
    + (f" plus {dirty} uncommitted change(s) under src/ or Cargo.*" if dirty else ""),
    f"- Machine: {F['cores']} cores ({F['cpu_model']}), "
    f"{num(F['mem_kb']) / 1024 / 1024:.1f} GiB memory; load average at start {F['load_start']}, "
    f"at end {F.get('load_end', '?')}",
    f"- ClickHouse {F.get('clickhouse_version', '?')} (saltmark-managed, throwaway); geo database: {F['geo_db']}",
    f"- {mode_note}",
    "",
    "\n".join(table),
    "",
    "(g) durability: the same wrk load against a fresh saltmark per spool policy (every accepted"
    " event is in the write-ahead spool before its 202; with `always` the 202 waits for the group"
    " commit's `fdatasync`):",
    "",
    "\n".join(durability) if policies else "(g) not measured in this run.",
    "",
    "Bot beacons (~6 % of the mix) are answered 202 + `x-saltmark-dropped: bot` and not stored;"
    f" (b) counts only stored rows ({e2e_rows:,} of {e2e['count']:,} events,"
    f" {e2e_posted_rate:,.0f} posted events/s). The (b) baseline inserts exactly the rows saltmark stored"
    f" ({base_rows:,} rows, {num(F.get('baseline_bytes')) / 1e6:.0f} MB of JSONEachRow), exported from the"
    " table, into a copy of `events` on the same server; its time runs from starting"
    " `clickhouse-client` to the count being readable. saltmark's time runs from the first request"
    f" to the count being readable; it includes the writer's batch age (1 s) and the load generator"
    " sharing the 2 cores.",
    "",
    f"(b) details: {e2e['retries_503']} answers 503 (queue full, retried), other statuses {e2e['other_status']},"
    f" all posted after {num(e2e['sent_secs']):.2f} s, the last row readable {e2e_secs - num(e2e['sent_secs']):.2f} s"
    " later (when that gap is about the writer's 1 s batch age, (b) is bound by the HTTP ingest rate, not by"
    f" the writer or ClickHouse); other processes used {e2e_other_pct:.0f} % of the machine meanwhile.",
    "",
    f"(c) details: idle VmRSS {idle_kb / MIB:.1f} MiB = RssAnon {num(F.get('idle_anon_kb')) / MIB:.1f} MiB"
    f" + RssFile {num(F.get('idle_file_kb')) / MIB:.1f} MiB. saltmark memory-maps a private copy of each `.mmdb`"
    f" file (`src/enrich/geo/mapped.rs`; {geo_kb / MIB:.1f} MiB here): its pages are file-backed (RssFile), resident only"
    " once a lookup touches them, and reclaimable by the kernel; VmRSS counts the touched ones."
    " Memory is saltmark's own process; the managed ClickHouse is a separate process and not counted.",
    "",
    (
        f"(e) details: `bench/queries` on a second throwaway saltmark + ClickHouse, started after the one above"
        f" had stopped; `saltmark seed-demo` put {q_events:,} events over 90 days into one site"
        f" ({Q.get('queries_seed', '?')}), then `OPTIMIZE TABLE … FINAL` ({Q.get('queries_optimize_s', '?')} s)."
        f" Each figure is the median of {Q.get('queries_runs', '?')} timed requests (after one warm-up) over HTTP"
        " through `/api/v2/query` with an API key, as the dashboard sends them: the 30-day period, top 10 where"
        " there is a dimension. The baseline, timed in the same run just before each query, is ClickHouse's own"
        f" bare reading of the same 30 days sent straight to its HTTP port: `{Q.get('queries_baseline_sql', '?')}`."
        f" Other work on the machine: {F.get('idle_busy_pct_e', '?')} % of the {cores} cores busy in a 3 s pause"
        f" just before (e), when none of the benchmark's processes ran ({F.get('idle_busy_pct_start', '?')} % at the"
        f" start of the run); during (e) the machine was {F.get('query_machine_busy_pct', '?')} % busy in all"
        f" (load average {F.get('query_load_start', '?')} → {F.get('query_load_end', '?')})."
        if queries
        else "(e) details: not measured in this run."
    ),
    "",
    (
        "(f) details: sizes from this release build's `tracker_sizes.tsv` (written by `build.rs`: minified,"
        " gzip level 9, brotli 11), and each of the "
        f"{len(sizes)} names requested from the running saltmark with `Accept-Encoding: gzip`: "
        + (
            "every answer was 200, `Content-Encoding: gzip`, exactly those bytes."
            if served_ok
            else "the served sizes differ — see `tracker_served.tsv`."
        )
        if sizes
        else "(f) details: not measured in this run."
    ),
    "",
    "## Every wrk run",
    "",
    "Everything runs on the same machine: wrk and ClickHouse take CPU from the server under test."
    " \"other processes\" is the machine's busy time not accounted to the server, wrk or ClickHouse,"
    " as a share of all cores — high values mean the run was disturbed (e.g. the other engineer's"
    " `cargo test` on the same 2 cores); compare ratios within a round rather than absolute figures.",
    "",
    "\n".join(noise),
    "",
]

profile_parts = []
for name in ("summary.md", "notes.md"):
    path = os.path.join(BENCH, "profiles", name)
    if os.path.exists(path):
        with open(path) as f:
            profile_parts.append(f.read().strip())
lines += ["## Profile", ""]
if profile_parts:
    lines += ["\n\n".join(profile_parts), ""]
else:
    lines += ["Not measured yet: run `bench/profile`.", ""]

optimisations = os.path.join(BENCH, "optimisations.md")
if os.path.exists(optimisations):
    with open(optimisations) as f:
        lines += [f.read().strip(), ""]

with open(OUT, "w") as f:
    f.write("\n".join(lines))
# The full dashboard question set (bench/queries --set full) stays in.
sys.path.insert(0, BENCH)
import splice_results  # noqa: E402

splice_results.splice(OUT)

print()
print("\n".join(table))
if policies:
    print()
    print("\n".join(durability))
print()
print("\n".join(noise))
