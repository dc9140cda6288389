#!/usr/bin/env python3
"""The dashboard's question set (issue 17): every question the dashboard
asks, for 7 days, 30 days and 12 months, without a filter, with one and with
two. Prints one line per question: name, period, JSON body and the API path
it is sent to (tab-separated), for bench/queries --set full. The goals and
the funnel it asks about are the ones bench/queries adds to the seeded site
(its signups, its pricing page, its purchases)."""
import json
import sys

SITE = sys.argv[1] if len(sys.argv) > 1 else "demo.example"
NOT_SET = "(not set)"


def non_empty(dim):
    return [["is_not", dim, ["(none)" if dim.startswith("event:props:") else NOT_SET]]]


def breakdown(dim, metrics=("visitors", "visits"), extra=None):
    return {"metrics": list(metrics), "dimensions": [dim], "filters": extra or [],
            "pagination": {"limit": 10}}


QUESTIONS = [
    ("headline + comparison", lambda p: {
        "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"],
        "filters": [], "include": {"comparisons": {"mode": "previous_period"}}}),
    ("time series", lambda p: {
        "metrics": ["visitors", "pageviews"], "filters": [],
        "dimensions": ["time:month" if p == "12mo" else "time:day"],
        "include": {"time_labels": True}}),
    ("top pages", lambda p: breakdown("event:page", ("visitors", "pageviews"))),
    ("entry pages", lambda p: breakdown("visit:entry_page", extra=non_empty("visit:entry_page"))),
    ("exit pages", lambda p: breakdown("visit:exit_page", extra=non_empty("visit:exit_page"))),
    ("channels", lambda p: breakdown("visit:channel", extra=non_empty("visit:channel"))),
    ("sources", lambda p: breakdown("visit:source")),
    ("referrers", lambda p: breakdown("visit:referrer", extra=non_empty("visit:referrer"))),
    ("UTM campaigns", lambda p: breakdown("visit:utm_campaign", extra=non_empty("visit:utm_campaign"))),
    ("UTM sources", lambda p: breakdown("visit:utm_source", extra=non_empty("visit:utm_source"))),
    ("UTM mediums", lambda p: breakdown("visit:utm_medium", extra=non_empty("visit:utm_medium"))),
    ("countries", lambda p: breakdown("visit:country", extra=non_empty("visit:country"))),
    ("regions", lambda p: breakdown("visit:region_name", extra=non_empty("visit:region_name"))),
    ("cities", lambda p: breakdown("visit:city_name", extra=non_empty("visit:city_name"))),
    ("browsers", lambda p: breakdown("visit:browser")),
    ("operating systems", lambda p: breakdown("visit:os")),
    ("devices", lambda p: breakdown("visit:device")),
    ("custom events", lambda p: breakdown("event:name", ("visitors", "events"),
                                          [["is_not", "event:name", ["pageview"]]])),
    ("property names", lambda p: {"metrics": ["visitors", "events"],
                                  "dimensions": ["event:prop_key"], "filters": [],
                                  "pagination": {"limit": 20}}),
    ("property values", lambda p: breakdown("event:props:plan", ("visitors", "events"),
                                            non_empty("event:props:plan"))),
    ("goal conversions", lambda p: breakdown(
        "event:goal", ("visitors", "events", "conversion_rate", "total_revenue", "average_revenue"))),
    ("funnel", lambda p: {"funnel": "Checkout", "filters": []}),
]
# Where each question is sent (the rest: the stats query).
PATHS = {"funnel": "/api/v2/funnel"}

# What a marketer clicks on: a page, then a source as well.
FILTERS = [
    ("", []),
    ("page", [["is", "event:page", ["/pricing"]]]),
    ("page+source", [["is", "event:page", ["/pricing"]], ["is", "visit:source", ["Google"]]]),
]

for period in ("7d", "30d", "12mo"):
    for name, make in QUESTIONS:
        for label, filters in FILTERS:
            body = make(period)
            body["site_id"] = SITE
            body["date_range"] = period
            body["filters"] = filters + body.get("filters", [])
            title = f"{name} ({period}{', ' + label if label else ''})"
            path = PATHS.get(name, "/api/v2/query")
            print(f"{title}\t{period}\t{json.dumps(body, separators=(',', ':'))}\t{path}")
