//! `"include": {"imports": true}`: a query's answer with the site's
//! imported history (`crate::imports`) added, as Plausible's v2 API adds it.
//!
//! Design:
//! - **One table answers, or none.** Imported rows are daily sums per
//!   table (sources, pages, devices…), so a question can use them only if
//!   one table holds every dimension and every filter it asks about (two
//!   UTM filters and a source breakdown: the sources table; a device filter
//!   under a source breakdown: none). Otherwise the answer is the native
//!   one and `meta` says why (`imports_skip_reason`, `imports_warning`:
//!   Plausible's codes and words). Time buckets of a day or longer work
//!   with every table; an hour or a minute is too short for daily rows.
//! - **Added, not deduplicated.** Imported visitors cannot be matched with
//!   ours, so counts are sums of both sides; rates are recomputed from the
//!   sums (bounce rate = bounces / visits, duration = seconds / visits,
//!   views per visit = page views / visits), each side weighted by its
//!   visits. Our side is read with its rates unrounded, so that the merge
//!   rounds once.
//! - **What a table counts.** Events are page views for every table but
//!   custom events; a page row without page views is left out (Plausible's);
//!   an entry page's visits are its entrances, an exit page's its exits.
//!   An `event:goal` filter uses the custom-events table for event goals.
//! - Metrics that need single events (time on page, scroll depth, exit
//!   rate, revenue, conversion rates) are not in daily sums: such a query is
//!   answered without imports, said so.

use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::builder::{build, BuildOptions, Built, GroupSet, DIRECT};
use super::dates::Period;
use super::request::{Filter, QueryRequest, NOT_SET};
use super::run::Row;
use super::sampling::Sample;
use super::vocabulary::{Dimension, Metric, Operator, TimeBucket, VisitAttr};
use super::QueryError;
use crate::goals::{Goal, GoalKind};
use crate::imports::Kind;
use crate::store::sql::{Param, Sql};
use crate::store::Store;

/// Why a query was answered without imported data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The site has no imported rows.
    NoImportedData,
    /// None of them in the period.
    OutOfRange,
    /// No one table holds every dimension, filter and metric asked about.
    UnsupportedQuery,
    /// Time buckets shorter than a day.
    UnsupportedInterval,
}

impl SkipReason {
    /// Plausible's code.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::NoImportedData => "no_imported_data",
            SkipReason::OutOfRange => "out_of_range",
            SkipReason::UnsupportedQuery => "unsupported_query",
            SkipReason::UnsupportedInterval => "unsupported_interval",
        }
    }

    /// Plausible's warning, where it gives one.
    pub fn warning(self) -> Option<&'static str> {
        match self {
            SkipReason::UnsupportedQuery => Some(
                "Imported stats are not included in the results because query parameters are not supported. \
                 Only one table of imported data (sources, pages, entry or exit pages, custom events, \
                 locations, devices, browsers or operating systems) can answer a question, and not every metric.",
            ),
            SkipReason::UnsupportedInterval => Some(
                "Imported stats are not included because the time dimension (i.e. the interval) is too short.",
            ),
            _ => None,
        }
    }
}

/// How a query reads the imported rows: which table, and how each
/// dimension and filter reads its columns.
#[derive(Debug, Clone)]
pub struct ImportedPlan {
    kind: Kind,
    /// One SQL expression per query dimension (over `imported`).
    dimensions: Vec<Sql>,
    /// Conditions on the rows (the filters, and blank values a breakdown
    /// leaves out).
    conditions: Vec<Sql>,
}

/// What `include.imports` comes to for a query.
#[derive(Debug, Clone)]
pub enum Inclusion {
    /// Imported rows are added.
    Included(ImportedPlan),
    /// They are not, for this reason.
    Skipped(SkipReason),
}

/// The metrics daily sums can answer: the counts and views per visit (the
/// custom-events table: visitors and events only), and with visits'
/// bounces and seconds (not the pages table) bounce rate and duration.
fn metric_supported(metric: Metric, kind: Kind) -> bool {
    use Metric::*;
    match kind {
        Kind::CustomEvents => matches!(metric, Visitors | Events | Percentage),
        _ if matches!(
            metric,
            Visitors | Visits | Pageviews | Events | ViewsPerVisit | Percentage
        ) =>
        {
            true
        }
        Kind::Pages => false,
        _ => matches!(metric, BounceRate | VisitDuration),
    }
}

/// A dimension's table, its column and how its blank value reads.
fn column_of(dimension: &Dimension) -> Option<(Kind, &'static str, Option<&'static str>)> {
    Some(match dimension {
        Dimension::Event("pathname") => (Kind::Pages, "page", None),
        Dimension::Event("hostname") => (Kind::Pages, "hostname", None),
        Dimension::Event("name") => (Kind::CustomEvents, "name", None),
        Dimension::Visit(VisitAttr::EntryPage) => (Kind::EntryPages, "entry_page", None),
        Dimension::Visit(VisitAttr::ExitPage) => (Kind::ExitPages, "exit_page", None),
        Dimension::Visit(VisitAttr::CountryName) => (Kind::Locations, "country", None),
        Dimension::Visit(VisitAttr::Column(column)) => match *column {
            "referrer_source" => (Kind::Sources, "source", Some(DIRECT)),
            "referrer" => (Kind::Sources, "referrer", Some(DIRECT)),
            "utm_source" => (Kind::Sources, "utm_source", Some(NOT_SET)),
            "utm_medium" => (Kind::Sources, "utm_medium", Some(NOT_SET)),
            "utm_campaign" => (Kind::Sources, "utm_campaign", Some(NOT_SET)),
            "utm_content" => (Kind::Sources, "utm_content", Some(NOT_SET)),
            "utm_term" => (Kind::Sources, "utm_term", Some(NOT_SET)),
            "country_code" => (Kind::Locations, "country", None),
            "region_code" => (Kind::Locations, "region", None),
            "device" => (Kind::Devices, "device", Some(NOT_SET)),
            "browser" => (Kind::Browsers, "browser", Some(NOT_SET)),
            "browser_version" => (Kind::Browsers, "browser_version", Some(NOT_SET)),
            "os" => (Kind::OperatingSystems, "os", Some(NOT_SET)),
            "os_version" => (Kind::OperatingSystems, "os_version", Some(NOT_SET)),
            _ => return None,
        },
        _ => return None,
    })
}

/// The stored value a filter on `dimension` compares (the country's name
/// for `visit:country_name`, as our events answer it).
fn stored(dimension: &Dimension, column: &str) -> Sql {
    if matches!(dimension, Dimension::Visit(VisitAttr::CountryName)) {
        let (codes, names) = super::names::country_names();
        return Sql::new(
            "transform(country, ?, ?, '')",
            vec![Param::Strs(codes), Param::Strs(names)],
        );
    }
    Sql::raw(column)
}

/// The table and condition of one filter, or `None` if no table answers it.
fn filter_plan(filter: &Filter, goals: &[Goal]) -> Option<(Kind, Sql)> {
    match filter {
        Filter::Compare {
            op,
            dimension: Dimension::Goal,
            values,
            case_sensitive,
        } if matches!(op, Operator::Is | Operator::Contains) => {
            let picked = super::builder::goals_named(goals, *op, values, *case_sensitive);
            let mut names = Vec::new();
            for goal in picked {
                match &goal.kind {
                    GoalKind::Event { name } if goal.props.is_empty() => names.push(name.clone()),
                    _ => return None,
                }
            }
            Some((
                Kind::CustomEvents,
                Sql::new("has(?, name)", vec![Param::Strs(names)]),
            ))
        }
        Filter::Compare {
            op,
            dimension,
            values,
            case_sensitive,
        } => {
            let (kind, column, label) = column_of(dimension)?;
            let expr = stored(dimension, column);
            Some((
                kind,
                super::builder::compare_stored(*op, &expr, label, values, *case_sensitive),
            ))
        }
        Filter::And(parts) | Filter::Or(parts) => {
            let joiner = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            let planned: Option<Vec<(Kind, Sql)>> =
                parts.iter().map(|p| filter_plan(p, goals)).collect();
            let planned = planned?;
            let kind = planned.first()?.0;
            if planned.iter().any(|(k, _)| *k != kind) {
                return None;
            }
            let mut sql = Sql::raw("(");
            sql.push(Sql::join(
                planned.into_iter().map(|(_, s)| s).collect(),
                joiner,
            ));
            sql.text.push(')');
            Some((kind, sql))
        }
        Filter::Not(inner) => {
            let (kind, condition) = filter_plan(inner, goals)?;
            let mut sql = Sql::raw("NOT (");
            sql.push(condition);
            sql.text.push(')');
            Some((kind, sql))
        }
        Filter::HasDone { .. } | Filter::Sequence { .. } => None,
    }
}

/// Which table (if any) answers the query, before looking at the data.
pub fn plan(query: &QueryRequest, goals: &[Goal], period: Period, tz: Tz) -> Inclusion {
    use Inclusion::Skipped;
    let mut kinds: Vec<Kind> = Vec::new();
    let mut dimensions: Vec<Option<(Kind, Sql, bool)>> = Vec::new();
    for dimension in &query.dimensions {
        match dimension {
            Dimension::Time(TimeBucket::Hour | TimeBucket::Minute) => {
                return Skipped(SkipReason::UnsupportedInterval)
            }
            Dimension::Time(_) => dimensions.push(None),
            other => {
                let Some((kind, column, label)) = column_of(other) else {
                    return Skipped(SkipReason::UnsupportedQuery);
                };
                kinds.push(kind);
                let stored = stored(other, column);
                let shown = match label {
                    Some(label) => super::builder::labelled(stored, label),
                    None => stored,
                };
                // A UTM breakdown leaves out visits without the tag
                // (Plausible's).
                let skip_blank = column.starts_with("utm_");
                dimensions.push(Some((kind, shown, skip_blank)));
            }
        }
    }
    let mut conditions = Vec::new();
    for filter in &query.filters {
        let Some((kind, condition)) = filter_plan(filter, goals) else {
            return Skipped(SkipReason::UnsupportedQuery);
        };
        kinds.push(kind);
        conditions.push(condition);
    }
    kinds.sort();
    kinds.dedup();
    let kind = match kinds.as_slice() {
        [] => Kind::Visitors,
        [one] => *one,
        _ => return Skipped(SkipReason::UnsupportedQuery),
    };
    if !query.metrics.iter().all(|m| metric_supported(*m, kind)) {
        return Skipped(SkipReason::UnsupportedQuery);
    }
    let mut exprs = Vec::new();
    for (dimension, planned) in query.dimensions.iter().zip(dimensions) {
        match (dimension, planned) {
            (Dimension::Time(bucket), _) => exprs.push(time_expr(*bucket, days_of(period, tz).0)),
            (_, Some((_, shown, skip_blank))) => {
                if skip_blank {
                    let mut condition = Sql::raw("notEmpty(");
                    condition.push(shown.clone());
                    condition.text.push_str(") AND ");
                    condition.push(shown.clone());
                    condition.push(Sql::new(" != ?", vec![Param::Str(NOT_SET.into())]));
                    conditions.push(condition);
                }
                exprs.push(shown)
            }
            (_, None) => return Skipped(SkipReason::UnsupportedQuery),
        }
    }
    Inclusion::Included(ImportedPlan {
        kind,
        dimensions: exprs,
        conditions,
    })
}

/// A time bucket of the imported day (weeks start on Monday, but never
/// before the period's first day, as our events' buckets).
fn time_expr(bucket: TimeBucket, first_day: NaiveDate) -> Sql {
    match bucket {
        TimeBucket::Week => Sql::new(
            "toString(greatest(toMonday(date), toDate(?)))",
            vec![Param::Str(first_day.to_string())],
        ),
        TimeBucket::Month => Sql::raw("toString(toStartOfMonth(date))"),
        _ => Sql::raw("toString(date)"),
    }
}

/// The period's first and last local day.
fn days_of(period: Period, tz: Tz) -> (NaiveDate, NaiveDate) {
    let first = period.from.with_timezone(&tz).date_naive();
    let last = (period.to - chrono::Duration::seconds(1))
        .max(period.from)
        .with_timezone(&tz)
        .date_naive();
    (first, last)
}

/// Whether the site has imported rows, and any in the periods (the
/// query's and, with a comparison, the compared one: Plausible includes
/// imports when either has them).
pub async fn check_data(
    store: &Store,
    site: &str,
    periods: &[Period],
    tz: Tz,
) -> Result<Option<SkipReason>, QueryError> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Found {
        all: u64,
        within: u64,
    }
    let mut sql = Sql::raw("SELECT count() AS all, countIf(");
    sql.push(Sql::join(
        periods
            .iter()
            .map(|period| {
                let (first, last) = days_of(*period, tz);
                Sql::new(
                    "(date >= toDate(?) AND date <= toDate(?))",
                    vec![Param::Str(first.to_string()), Param::Str(last.to_string())],
                )
            })
            .collect(),
        " OR ",
    ));
    sql.push(Sql::new(
        ") AS within FROM imported WHERE site = ?",
        vec![Param::Str(site.to_string())],
    ));
    let found: Found = sql.query(store.reader()).fetch_one().await?;
    Ok(if found.all == 0 {
        Some(SkipReason::NoImportedData)
    } else if found.within == 0 {
        Some(SkipReason::OutOfRange)
    } else {
        None
    })
}

/// The sums both sides give for a group.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    visitors: f64,
    visits: f64,
    pageviews: f64,
    events: f64,
    bounces: f64,
    duration: f64,
}

impl Sums {
    fn add(&mut self, other: Sums) {
        self.visitors += other.visitors;
        self.visits += other.visits;
        self.pageviews += other.pageviews;
        self.events += other.events;
        self.bounces += other.bounces;
        self.duration += other.duration;
    }
}

/// The statement of the imported sums per group of the plan over the
/// period: the dimensions `d0…`, then visitors, visits, page views,
/// events, bounces and seconds.
pub fn sums_statement(site: &str, plan: &ImportedPlan, period: Period, tz: Tz) -> Sql {
    let (first, last) = days_of(period, tz);
    let (visits, events) = match plan.kind {
        Kind::EntryPages => ("entrances", "pageviews"),
        Kind::ExitPages => ("exits", "pageviews"),
        Kind::CustomEvents => ("0", "events"),
        _ => ("visits", "pageviews"),
    };
    let mut sql = Sql::raw("SELECT ");
    for (i, expr) in plan.dimensions.iter().enumerate() {
        sql.push(expr.clone());
        sql.text.push_str(&format!(" AS d{i}, "));
    }
    sql.text.push_str(&format!(
        "toFloat64(sum(visitors)), toFloat64(sum({visits})), toFloat64(sum(pageviews)), \
         toFloat64(sum({events})), toFloat64(sum(bounces)), toFloat64(sum(visit_duration)) \
         FROM imported WHERE site = ? AND kind = ? AND date >= toDate(?) AND date <= toDate(?)"
    ));
    sql.params.extend([
        Param::Str(site.to_string()),
        Param::Str(plan.kind.name().to_string()),
        Param::Str(first.to_string()),
        Param::Str(last.to_string()),
    ]);
    for condition in &plan.conditions {
        sql.text.push_str(" AND ");
        sql.push(condition.clone());
    }
    if !plan.dimensions.is_empty() {
        let keys: Vec<String> = (0..plan.dimensions.len())
            .map(|i| format!("d{i}"))
            .collect();
        sql.text.push_str(&format!(" GROUP BY {}", keys.join(", ")));
    }
    if plan.kind == Kind::Pages {
        sql.text.push_str(" HAVING sum(pageviews) > 0");
    }
    sql
}

/// The imported sums per group of the plan over the period.
async fn imported_sums(
    store: &Store,
    site: &str,
    plan: &ImportedPlan,
    period: Period,
    tz: Tz,
) -> Result<Vec<(Vec<String>, Sums)>, QueryError> {
    let sql = sums_statement(site, plan, period, tz);
    let rows = super::run::fetch(store, &sql, plan.dimensions.len()).await?;
    Ok(rows
        .into_iter()
        .filter(|(_, v)| plan.dimensions.is_empty() || v.iter().any(|x| *x > 0.0))
        .map(|(d, v)| {
            (
                d,
                Sums {
                    visitors: v[0],
                    visits: v[1],
                    pageviews: v[2],
                    events: v[3],
                    bounces: v[4],
                    duration: v[5],
                },
            )
        })
        .collect())
}

/// The metrics our events must give for the merge.
fn components(query: &QueryRequest) -> Vec<Metric> {
    let asks = |ms: &[Metric]| query.metrics.iter().any(|m| ms.contains(m));
    let mut out = vec![Metric::Visitors];
    if asks(&[
        Metric::Visits,
        Metric::ViewsPerVisit,
        Metric::BounceRate,
        Metric::VisitDuration,
    ]) {
        out.push(Metric::Visits);
    }
    if asks(&[Metric::Pageviews, Metric::ViewsPerVisit]) {
        out.push(Metric::Pageviews);
    }
    if asks(&[Metric::Events]) {
        out.push(Metric::Events);
    }
    if asks(&[Metric::BounceRate]) {
        out.push(Metric::BounceRate);
    }
    if asks(&[Metric::VisitDuration]) {
        out.push(Metric::VisitDuration);
    }
    out
}

/// The query our events answer for the merge: the sums it needs, unordered.
pub fn native_query(query: &QueryRequest) -> QueryRequest {
    let mut native = query.clone();
    native.metrics = components(query);
    native.order_by.clear();
    native
}

/// The statement of [`native_query`], its rates unrounded: the merge
/// rounds once (the only `round(` of these metrics' statements is theirs:
/// views per visit, whose rounding takes two arguments, is never asked).
pub fn native_statement(
    native: &QueryRequest,
    period: Period,
    tz: Tz,
    options: BuildOptions<'_>,
) -> Built {
    let mut built = build(native, period, tz, options);
    built.sql.text = built.sql.text.replace("round(", "(");
    built
}

/// The rows of a query with imported sums added: every group of both
/// sides, merged and ordered as the query orders (the caller pages them).
#[allow(clippy::too_many_arguments)]
pub async fn merged_rows(
    store: &Store,
    query: &QueryRequest,
    plan: &ImportedPlan,
    period: Period,
    tz: Tz,
    only_groups: Option<&GroupSet>,
    sample: Option<Sample>,
    goals: &[Goal],
) -> Result<Vec<Row>, QueryError> {
    let native = native_query(query);
    let options = BuildOptions {
        paginate: false,
        only_groups,
        sample,
        goals,
        ..BuildOptions::default()
    };
    let built = native_statement(&native, period, tz, options);
    let factor = sample.map_or(1.0, |s| s.denominator as f64);
    let dims = query.dimensions.len();
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut sums: HashMap<Vec<String>, Sums> = HashMap::new();
    for (key, values) in super::run::fetch(store, &built.sql, dims).await? {
        let value = |m: Metric| super::run::sql_value(&built, &values, m);
        let visits = value(Metric::Visits) * factor;
        let side = Sums {
            visitors: value(Metric::Visitors) * factor,
            visits,
            pageviews: value(Metric::Pageviews) * factor,
            events: value(Metric::Events) * factor,
            bounces: value(Metric::BounceRate) / 100.0 * visits,
            duration: value(Metric::VisitDuration) * visits,
        };
        if !sums.contains_key(&key) {
            groups.push(key.clone());
        }
        sums.entry(key).or_default().add(side);
    }
    let imported = imported_sums(store, &query.site_id, plan, period, tz).await?;
    let mut imported_visitors = 0.0;
    for (key, side) in imported {
        imported_visitors += side.visitors;
        if let Some(only) = only_groups.filter(|o| !o.dimensions.is_empty()) {
            if !only.keys.contains(&only.key_of(&key)) {
                continue;
            }
        }
        if !sums.contains_key(&key) {
            groups.push(key.clone());
        }
        sums.entry(key).or_default().add(side);
    }
    let total_visitors = if query.metrics.contains(&Metric::Percentage) {
        let totals = build(
            &native,
            period,
            tz,
            BuildOptions {
                without_dimensions: true,
                only_groups: None,
                ..options
            },
        );
        super::run::total_visitors(store, &totals).await? * factor + imported_visitors
    } else {
        0.0
    };
    let round = |x: f64, places: i32| {
        let scale = 10f64.powi(places);
        (x * scale).round() / scale
    };
    let mut rows: Vec<Row> = groups
        .into_iter()
        .map(|key| {
            let s = sums[&key];
            let per_visit = |x: f64| if s.visits > 0.0 { x / s.visits } else { 0.0 };
            let metrics = query
                .metrics
                .iter()
                .map(|m| match m {
                    Metric::Visitors => s.visitors.round(),
                    Metric::Visits => s.visits.round(),
                    Metric::Pageviews => s.pageviews.round(),
                    Metric::Events => s.events.round(),
                    Metric::ViewsPerVisit => round(per_visit(s.pageviews), 2),
                    Metric::BounceRate => round(100.0 * per_visit(s.bounces), 0),
                    Metric::VisitDuration => round(per_visit(s.duration), 0),
                    Metric::Percentage if total_visitors > 0.0 => {
                        round(100.0 * s.visitors / total_visitors, 2)
                    }
                    _ => 0.0,
                })
                .collect();
            Row {
                dimensions: key,
                metrics,
            }
        })
        .collect();
    super::run::sort_rows(query, &mut rows);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: serde_json::Value) -> QueryRequest {
        let mut body = body;
        body["site_id"] = json!("example.com");
        body["date_range"] = json!(["2024-01-01", "2024-01-31"]);
        QueryRequest::from_value(&body).unwrap()
    }

    fn period() -> Period {
        Period {
            from: chrono::DateTime::from_timestamp(1_704_067_200, 0).unwrap(),
            to: chrono::DateTime::from_timestamp(1_706_745_600, 0).unwrap(),
        }
    }

    fn kind_of(body: serde_json::Value) -> Result<Kind, SkipReason> {
        match plan(&request(body), &[], period(), Tz::UTC) {
            Inclusion::Included(plan) => Ok(plan.kind),
            Inclusion::Skipped(reason) => Err(reason),
        }
    }

    #[test]
    fn one_table_answers_or_none() {
        assert_eq!(
            kind_of(json!({"metrics": ["visitors"]})),
            Ok(Kind::Visitors)
        );
        assert_eq!(
            kind_of(json!({"metrics": ["visitors"], "dimensions": ["time:week"]})),
            Ok(Kind::Visitors)
        );
        assert_eq!(
            kind_of(
                json!({"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:source"],
                "filters": [["is", "visit:utm_medium", ["cpc"]], ["is", "visit:utm_term", ["x"]]]})
            ),
            Ok(Kind::Sources)
        );
        assert_eq!(
            kind_of(
                json!({"metrics": ["visitors"], "dimensions": ["visit:browser", "visit:browser_version"]})
            ),
            Ok(Kind::Browsers)
        );
        assert_eq!(
            kind_of(json!({"metrics": ["visits"], "dimensions": ["visit:exit_page"]})),
            Ok(Kind::ExitPages)
        );
        // Two tables, a metric of single events, an hour.
        assert_eq!(
            kind_of(
                json!({"metrics": ["visitors"], "dimensions": ["visit:source"],
                "filters": [["is", "visit:device", ["Desktop"]]]})
            ),
            Err(SkipReason::UnsupportedQuery)
        );
        assert_eq!(
            kind_of(json!({"metrics": ["visitors", "bounce_rate"], "dimensions": ["event:page"]})),
            Err(SkipReason::UnsupportedQuery)
        );
        assert_eq!(
            kind_of(json!({"metrics": ["visitors"], "dimensions": ["time:hour"]})),
            Err(SkipReason::UnsupportedInterval)
        );
        assert_eq!(
            kind_of(json!({"metrics": ["visitors"], "dimensions": ["visit:city"]})),
            Err(SkipReason::UnsupportedQuery)
        );
    }

    #[test]
    fn the_sums_read_one_table_over_the_local_days() {
        let Inclusion::Included(plan) = plan(
            &request(
                json!({"metrics": ["visits"], "dimensions": ["visit:entry_page"],
                "filters": [["contains", "visit:entry_page", ["/blog"]]]}),
            ),
            &[],
            period(),
            Tz::UTC,
        ) else {
            panic!("entry pages answer it");
        };
        let sql = sums_statement("example.com", &plan, period(), Tz::UTC);
        assert!(sql.text.contains("sum(entrances)"), "{}", sql.text);
        assert!(
            sql.text.contains("position(entry_page, ?) > 0"),
            "{}",
            sql.text
        );
        assert!(sql.text.ends_with("GROUP BY d0"), "{}", sql.text);
        let texts: Vec<String> = sql
            .params
            .iter()
            .filter_map(|p| match p {
                Param::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            texts,
            [
                "example.com",
                "entry_pages",
                "2024-01-01",
                "2024-01-31",
                "/blog"
            ]
        );
        assert_eq!(SkipReason::OutOfRange.code(), "out_of_range");
        assert!(SkipReason::OutOfRange.warning().is_none());
    }
}
