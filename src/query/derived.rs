//! Visit questions answered from the derived `visits` table
//! (`store::visit_rollup`) instead of the raw events.
//!
//! A visit question regroups the period's events by visit. `visits` holds
//! each visit's states per hour, so the same question merges a few rows per
//! visit. It gives the same answer exactly when:
//! - the period is made of whole hours (its bounds fall on an hour: a site
//!   whose zone is a whole number of hours from UTC), and so is every time
//!   bucket asked for (hour, day, week, month; not minute);
//! - every dimension is a visit attribute or a time bucket, and every
//!   filter looks only at the visit or is a page filter (the table keeps
//!   the page of each page view and event, so the matching ones are
//!   counted as the raw query counts them); a goal, property, name or
//!   hostname filter needs the events themselves;
//! - the metrics are visitors, visits, page views, events, views per visit,
//!   bounce rate and visit duration (revenue and scroll goals read events);
//! - the raw question would regroup by visit at all (a flat count over
//!   events is already one pass).
//!
//! Anything else is answered from `events`, as before; a joined statement
//! (an event dimension under a visit filter) still takes its visit side
//! from here over whole hours ([`visit_side`]).
//!
//! With time buckets, a visit counts in every bucket it had events in, as
//! the raw query counts it: its hour rows are kept apart (`groupArray`) while
//! its visit-wide figures (page views for the bounce rate, length, source…)
//! are merged, then each hour row is put in its bucket.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::builder::{
    dimension_expr, entry_page_condition_needed, filter_sql, is_page_filter, metric_columns, Scope,
};
use super::dates::Period;
use super::request::{Filter, QueryRequest};
use super::sampling::Sample;
use super::vocabulary::{Dimension, Metric, TimeBucket, VisitAttr};
use crate::store::sql::{Param, Sql};

/// Whether the derived table answers this question exactly (see the module
/// comment); `filters` and `dimensions` are those the statement uses.
pub fn answers(
    dimensions: &[Dimension],
    filters: &[&Filter],
    sql_metrics: &[Metric],
    scope: Scope<'_>,
) -> bool {
    let metrics_ok = sql_metrics.iter().all(|m| {
        matches!(
            m,
            Metric::Visitors
                | Metric::Visits
                | Metric::Pageviews
                | Metric::Events
                | Metric::ViewsPerVisit
                | Metric::BounceRate
                | Metric::VisitDuration
        )
    });
    let has_time = dimensions.iter().any(|d| matches!(d, Dimension::Time(_)));
    let dimensions_ok = dimensions.iter().all(|d| {
        matches!(
            d,
            Dimension::Visit(_)
                | Dimension::Time(
                    TimeBucket::Hour | TimeBucket::Day | TimeBucket::Week | TimeBucket::Month
                )
        )
    });
    let filters_ok = filters.iter().all(|f| {
        let dims = f.dimensions();
        is_page_filter(f) || (!dims.is_empty() && dims.iter().all(|d| d.is_visit()))
    });
    metrics_ok && dimensions_ok && filters_ok && scope.revenue.is_none() && covers(&scope, has_time)
}

/// Whether `visits` holds what the scope reads of each visit: no
/// engagement rows asked for (the table leaves them out) and whole hours
/// (with `buckets`, in a zone whole hours from UTC). What a joined
/// statement's visit side needs too (`visit_side`).
pub(super) fn covers(scope: &Scope<'_>, buckets: bool) -> bool {
    !scope.with_engagement && whole_hours(scope.period, scope.tz, buckets)
}

/// Whether the period's bounds fall on whole hours, and (for time buckets)
/// the zone's offset is a whole number of hours throughout the period
/// (checked at its ends and every 30 days between: zones with a half-hour
/// offset keep it all year or for whole seasons).
fn whole_hours(period: Period, tz: Tz, buckets: bool) -> bool {
    let on_hour = |t: DateTime<Utc>| t.timestamp().rem_euclid(3_600) == 0;
    if !on_hour(period.from) || !on_hour(period.to) {
        return false;
    }
    if !buckets {
        return true;
    }
    let whole = |t: DateTime<Utc>| {
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
            % 3_600
            == 0
    };
    let mut t = period.from;
    while t < period.to {
        if !whole(t) {
            return false;
        }
        t += chrono::Duration::days(30);
    }
    whole(period.to)
}

/// The visit attributes the statement reads: those of its dimensions and
/// filters, each once.
fn attributes(dimensions: &[Dimension], filters: &[&Filter]) -> Vec<VisitAttr> {
    let mut attrs: Vec<VisitAttr> = Vec::new();
    for dimension in dimensions
        .iter()
        .chain(filters.iter().flat_map(|f| f.dimensions()))
    {
        if let Dimension::Visit(attr) = dimension {
            if !attrs.iter().any(|a| a.alias() == attr.alias()) {
                attrs.push(*attr);
            }
        }
    }
    attrs
}

/// `arrayCount(pathname -> matched, paths)`: how many of the pages in
/// `paths` the page filters match (the filters read `pathname`, here the
/// lambda's argument).
fn matching(matched: &Sql, paths: &str) -> Sql {
    let mut sql = Sql::raw("arrayCount(pathname -> (");
    sql.push(matched.clone());
    sql.text.push_str(&format!("), {paths})"));
    sql
}

/// The merge of an attribute's state.
fn merged(attr: VisitAttr) -> String {
    let function = match attr {
        VisitAttr::EntryPage | VisitAttr::EntryHostname => "argMinIfMerge",
        VisitAttr::ExitPage | VisitAttr::ExitHostname => "argMaxIfMerge",
        _ => "argMinMerge",
    };
    let state = crate::store::visit_rollup::state_column(attr);
    format!("{function}({state}) AS {}", attr.alias())
}

/// One row per visit of the period from `visits`: `visitor`, `spv` (its
/// page views), `sdur` (its length), its attributes, `sentry` (its entry
/// page) with `by_entry`, and either the group's `pv` and `ev` (with page
/// filters, the matching page views and events; visits with none left
/// out) or, with `hours`, its hour rows apart (`hs`, `hpv`, `hev`).
fn per_visit(
    scope: Scope<'_>,
    attrs: &[VisitAttr],
    hours: bool,
    by_entry: bool,
    pages: Option<&Sql>,
) -> Sql {
    let mut sql = Sql::raw(
        "SELECT session_id, any(visitor_id) AS visitor, sumMerge(pageviews) AS spv, \
         toUInt32(maxMerge(last_seen)) - toUInt32(minMerge(first_seen)) AS sdur",
    );
    for attr in attrs {
        sql.text.push_str(", ");
        sql.text.push_str(&merged(*attr));
    }
    if by_entry {
        // Merged again under its own name (the attribute may be merged as
        // `v_entry_page` too, and an alias is not read back in its SELECT).
        sql.text.push_str(", argMinIfMerge(s_entry_page) AS sentry");
    }
    match (hours, pages) {
        (false, None) => sql.text.push_str(", spv AS pv, sumMerge(events) AS ev"),
        (false, Some(matched)) => {
            // Each hour row's own pages, counted there and summed: the
            // same count as over the merged list, without building it
            // (merging the lists is what a page filter cost).
            sql.text.push_str(", sum(");
            sql.push(matching(matched, "finalizeAggregation(page_paths)"));
            sql.text.push_str(") AS pv, pv + sum(");
            sql.push(matching(matched, "finalizeAggregation(other_paths)"));
            sql.text.push_str(") AS ev");
        }
        (true, None) => sql.text.push_str(
            ", groupArray(hour) AS hs, groupArray(finalizeAggregation(pageviews)) AS hpv, \
             groupArray(finalizeAggregation(events)) AS hev",
        ),
        (true, Some(matched)) => {
            sql.text.push_str(", groupArray(hour) AS hs, groupArray(");
            sql.push(matching(matched, "finalizeAggregation(page_paths)"));
            sql.text.push_str(") AS hpv, groupArray(");
            sql.push(matching(matched, "finalizeAggregation(page_paths)"));
            sql.text.push_str(" + ");
            sql.push(matching(matched, "finalizeAggregation(other_paths)"));
            sql.text.push_str(") AS hev");
        }
    }
    sql.push(per_visit_source(scope));
    if pages.is_some() {
        // The visits with a matching event, as the raw query keeps them.
        sql.text.push_str(if hours {
            " HAVING arraySum(hev) > 0"
        } else {
            " HAVING ev > 0"
        });
    }
    sql
}

/// ` FROM visits [SAMPLE …] WHERE <the site and period> GROUP BY
/// session_id`: each visit of the period as one group of its hour rows.
fn per_visit_source(scope: Scope<'_>) -> Sql {
    let mut sql = Sql::raw(" FROM visits");
    sql.push(Sample::clause(scope.sample));
    sql.push(Sql::new(
        " WHERE site = ? AND hour >= toDateTime(?) AND hour < toDateTime(?) GROUP BY session_id",
        vec![
            Param::Str(scope.site.to_string()),
            Param::time(scope.period.from),
            Param::time(scope.period.to),
        ],
    ));
    sql
}

/// The visit side of a joined statement (`builder::event_rows`) from
/// `visits`: one row per visit of the period with its page views
/// (`v_pageviews`), length (`v_duration`) and `attrs`, kept when it meets
/// `visit_filters` (over those attributes). The same rows as the side
/// regrouped from the events when the period is made of whole hours and no
/// engagement row is read (every visit-wide figure is one the table holds);
/// the event side, which the page, name and property dimensions need, stays
/// on `events`.
pub fn visit_side(scope: Scope<'_>, attrs: &[VisitAttr], visit_filters: Vec<Sql>) -> Sql {
    let mut sql = Sql::raw(
        "SELECT session_id, sumMerge(pageviews) AS v_pageviews, \
         toUInt32(maxMerge(last_seen)) - toUInt32(minMerge(first_seen)) AS v_duration",
    );
    for attr in attrs {
        sql.text.push_str(", ");
        sql.text.push_str(&merged(*attr));
    }
    sql.push(per_visit_source(scope));
    if !visit_filters.is_empty() {
        sql.text.push_str(" HAVING ");
        sql.push(Sql::join(visit_filters, " AND "));
    }
    sql
}

/// The statement's body (`SELECT d…, m… FROM …`, without the GROUP BY of
/// the dimensions, which the builder adds as for every shape) when
/// [`answers`] holds.
pub fn statement(
    query: &QueryRequest,
    dimensions: &[Dimension],
    filters: &[&Filter],
    sql_metrics: &[Metric],
    scope: Scope<'_>,
) -> Sql {
    let (page_filters, visit_filters): (Vec<&Filter>, Vec<&Filter>) =
        filters.iter().partition(|f| is_page_filter(f));
    // Bounce rate under a page filter: over the visits that entered on a
    // matching page (as the raw query restricts it).
    let by_entry = entry_page_condition_needed(query);
    let attrs = attributes(dimensions, &visit_filters);
    let pages = (!page_filters.is_empty()).then(|| {
        Sql::join(
            page_filters.iter().map(|f| filter_sql(f, scope)).collect(),
            " AND ",
        )
    });
    let buckets = dimensions.iter().any(|d| matches!(d, Dimension::Time(_)));
    let where_filters = |sql: &mut Sql, first: Option<&str>| {
        let mut parts: Vec<Sql> = first.map(Sql::raw).into_iter().collect();
        parts.extend(visit_filters.iter().map(|f| filter_sql(f, scope)));
        if !parts.is_empty() {
            sql.text.push_str(" WHERE ");
            sql.push(Sql::join(parts, " AND "));
        }
    };
    let dimension_columns = |sql: &mut Sql| {
        for (i, d) in dimensions.iter().enumerate() {
            sql.push(dimension_expr(d, scope));
            sql.text.push_str(&format!(" AS d{i}, "));
        }
    };
    let mut statement = Sql::raw("SELECT ");
    if !buckets {
        // One row per visit: the metrics over them, per group.
        dimension_columns(&mut statement);
        statement.push(metric_columns(query, dimensions, sql_metrics, by_entry));
        statement.text.push_str(" FROM (");
        statement.push(per_visit(scope, &attrs, false, by_entry, pages.as_ref()));
        statement.text.push(')');
        where_filters(&mut statement, None);
        return statement;
    }
    // One row per visit and group: each hour row in its bucket (the hour is
    // named `timestamp`, which the bucket expressions read), the visit's own
    // figures kept whole; under a page filter only the hours with a
    // matching event.
    let mut level1 = Sql::raw("SELECT ");
    dimension_columns(&mut level1);
    level1.text.push_str(
        "session_id, any(visitor) AS visitor, sum(bpv) AS pv, sum(bev) AS ev, \
         any(spv) AS spv, any(sdur) AS sdur",
    );
    if by_entry {
        level1.text.push_str(", any(sentry) AS sentry");
    }
    level1.text.push_str(" FROM (");
    level1.push(per_visit(scope, &attrs, true, by_entry, pages.as_ref()));
    level1
        .text
        .push_str(") ARRAY JOIN hs AS timestamp, hpv AS bpv, hev AS bev");
    where_filters(&mut level1, pages.as_ref().map(|_| "bev > 0"));
    level1.text.push_str(" GROUP BY ");
    for i in 0..dimensions.len() {
        level1.text.push_str(&format!("d{i}, "));
    }
    level1.text.push_str("session_id");
    for i in 0..dimensions.len() {
        statement.text.push_str(&format!("d{i}, "));
    }
    statement.push(metric_columns(query, dimensions, sql_metrics, by_entry));
    statement.text.push_str(" FROM (");
    statement.push(level1);
    statement.text.push(')');
    statement
}
