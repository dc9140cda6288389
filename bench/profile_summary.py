#!/usr/bin/env python3
"""Summarises a bench/profile run: total instructions, instructions per
beacon, the cost of each pipeline stage and the top functions.

Usage: bench/profile_summary.py <profile dir> <events> <label> <geo name>
(reads annotate-self.txt, annotate-inclusive.txt and measured.txt there,
writes summary.md there and prints it).
"""

import json
import os
import re
import sys

out, events, label, geo = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(os.path.join(out, "measured.txt")) as f:
    measured = json.loads(f.read().split("E2E_RESULT ", 1)[1])

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$")
# "path/to/file.rs:function [object]" → "function"
FILE_PREFIX = re.compile(r"^(?:\?\?\?|[^\s:]*[/.][^\s:]*):(?!:)")
OBJECT_SUFFIX = re.compile(r"\s+\[[^\]]*\]$")


def entries(path):
    """(instructions, function) for every line of a callgrind_annotate listing."""
    total, rows = None, []
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            ir = int(m.group(1).replace(",", ""))
            if "PROGRAM TOTALS" in line:
                total = ir
                continue
            raw = OBJECT_SUFFIX.sub("", m.group(3).strip())
            name = FILE_PREFIX.sub("", raw, count=1)
            if name.startswith("0x"):  # no symbol (assembly): keep the file's name
                name = os.path.basename(raw)
            rows.append((ir, name))
    return total, rows


total, self_rows = entries(os.path.join(out, "annotate-self.txt"))
bare_path = os.path.join(out, "bare-annotate-self.txt")
bare_total = entries(bare_path)[0] if os.path.exists(bare_path) else None
_, incl_rows = entries(os.path.join(out, "annotate-inclusive.txt"))

# Exclusive cost per function: summed over the file sections callgrind splits
# a function into (inlined code from other files).
exclusive = {}
for ir, name in self_rows:
    exclusive[name] = exclusive.get(name, 0) + ir
# Inclusive cost per function: the largest of its sections (sections overlap
# in inclusive listings, so they cannot be added; this is a lower bound).
inclusive = {}
for ir, name in incl_rows:
    inclusive[name] = max(inclusive.get(name, 0), ir)


def incl(name):
    return inclusive.get(name, 0)


def excl_matching(pattern):
    rx = re.compile(pattern)
    return sum(ir for name, ir in exclusive.items() if rx.search(name))


STAGES = [
    ("whole request: routing, body read, payload, pipeline, answer", incl("saltmark::server::route::{{closure}}")),
    ("· payload JSON parsing and validation (`payload::from_json`)", incl("saltmark::ingest::payload::from_json")),
    ("· client IP from `X-Forwarded-For` (`ClientIpResolver::resolve`)", incl("saltmark::ingest::client_ip::ClientIpResolver::resolve")),
    ("· pipeline: enrich, identify, enqueue (`Pipeline::process`)", incl("saltmark::ingest::Pipeline::process")),
    ("·· user agent: cache lookups and misses (`AgentParser::parse`)", incl("saltmark::enrich::useragent::AgentParser::parse")),
    (
        "··· of which uap-core regex extraction on cache misses (`ua_parser::*::Extractor::extract`)",
        sum(incl(f"ua_parser::{part}::Extractor::extract") for part in ("user_agent", "os", "device")),
    ),
    ("··· of which bot matching on cache misses (`BotDetector::is_bot`)", incl("saltmark::enrich::bots::BotDetector::is_bot")),
    # lookup_shared (record cache) since the ingest path shares decoded records.
    ("·· geo lookup and decoding (`GeoLocator::lookup_shared`)", incl("saltmark::enrich::geo::GeoLocator::lookup_shared") or incl("saltmark::enrich::geo::GeoLocator::lookup")),
    ("·· referrer classification (`ReferrerClassifier::classify`)", incl("saltmark::enrich::referrer::ReferrerClassifier::classify")),
    ("·· page URL, UTM tags (`page::parse_page`)", incl("saltmark::enrich::page::parse_page")),
    ("·· visitor hash, blake3 (`visitor::visitor_id`)", incl("saltmark::identify::visitor::visitor_id")),
    ("·· sessions (`Sessions::assign`)", incl("saltmark::identify::sessions::Sessions::assign")),
    ("writer: batching, RowBinary, HTTP insert (`Writer::run`)", incl("saltmark::write::writer::Writer::run::{{closure}}")),
    ("· freeing the inserted rows (`drop_in_place<EventRow>`)", incl("core::ptr::drop_in_place<saltmark::write::row::EventRow>")),
    (
        "allocator, everywhere (malloc/free/realloc, own instructions)",
        excl_matching(r"^(_int_free|_int_malloc|_int_realloc|malloc|free|realloc|calloc|malloc_consolidate|unlink_chunk.*|tcache.*|__rdl_\w+|__rust_\w*alloc\w*|cfree)$"),
    ),
    ("memcpy / memmove / memset, everywhere (own instructions)", excl_matching(r"^__(memcpy|memmove|memset)\w*$")),
]


def short(name, width=100):
    name = name.replace("|", "\\|")
    return name if len(name) <= width else name[: width - 1] + "…"


stored = measured["accepted"]
bots = sum(measured["dropped"].values())
lines = [
    f"Callgrind, `bench/profile` run `{label}`: {events:,} beacons from the fixed generator (seed 8:"
    f" {stored:,} stored, {bots:,} dropped as bots) over 4 keep-alive connections, after a warm-up of"
    f" {events:,}; geo database {geo}. Counted: every instruction of saltmark's own process, user space,"
    " all threads, from the first measured request until the writer had inserted them — not start-up,"
    " not the kernel's share of socket I/O, not ClickHouse (another process).",
    "",
    f"**Total: {total:,} instructions = {total / events:,.0f} instructions per beacon**"
    + (
        f"; the bare hyper server (same stack, no work) under the same requests: {bare_total / events:,.0f}"
        f" per request — saltmark costs **{total / bare_total:.1f}×** the bare server."
        if bare_total
        else ".**"
    ),
    "",
    "Stages (inclusive; `·` = part of the line above):",
    "",
    "| stage | instructions | per beacon | share |",
    "|---|---:|---:|---:|",
]
for title, ir in STAGES:
    lines.append(f"| {title} | {ir:,} | {ir / events:,.0f} | {ir / total * 100:.1f} % |")
lines += [
    "",
    "Top 15 functions by own (exclusive) instructions:",
    "",
    "| instructions | share | function |",
    "|---:|---:|---|",
]
for name, ir in sorted(exclusive.items(), key=lambda kv: -kv[1])[:15]:
    lines.append(f"| {ir:,} | {ir / total * 100:.1f} % | `{short(name)}` |")
summary = "\n".join(lines) + "\n"
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write(summary)
print(summary)
