//! Runs a validated query: the main statement, and where asked the previous
//! period, the totals for `percentage`, the goal-less denominator for
//! `conversion_rate`, the row count, the time labels and the empty buckets
//! of a compared time series. Every number the API, the CLI and the
//! dashboard show comes from here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use super::builder::{build, BuildOptions, Built, GroupSet, RevenueCurrencies};
use super::dates::{self, Period};
use super::imported::{ImportedPlan, Inclusion};
use super::request::QueryRequest;
use super::sampling::{Sample, SamplingPolicy};
use super::vocabulary::{Dimension, Direction, Metric, OrderKey};
use super::QueryError;
use crate::goals::Goal;
use crate::store::Store;

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Dimension values, in the requested order.
    pub dimensions: Vec<String>,
    /// Metric values, in the requested order.
    pub metrics: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct JsonCompact {
    data: Vec<Vec<Value>>,
}

pub(super) async fn fetch(
    store: &Store,
    sql: &crate::store::sql::Sql,
    dims: usize,
) -> Result<Vec<(Vec<String>, Vec<f64>)>, QueryError> {
    let query = sql.query(store.reader());
    let shown = tracing::enabled!(tracing::Level::DEBUG).then(|| query.sql_display().to_string());
    let started = std::time::Instant::now();
    let mut cursor = query.fetch_bytes("JSONCompact")?;
    let bytes = cursor.collect().await?;
    if let Some(sql) = shown {
        tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, %sql, "stats statement");
    }
    let parsed: JsonCompact = serde_json::from_slice(&bytes)
        .map_err(|e| QueryError::Internal(format!("unreadable answer from ClickHouse: {e}")))?;
    Ok(parsed
        .data
        .into_iter()
        .map(|row| {
            let dimensions = row[..dims.min(row.len())]
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect();
            let metrics = row[dims.min(row.len())..]
                .iter()
                .map(|v| match v {
                    Value::Number(n) => n.as_f64().unwrap_or(0.0),
                    Value::String(s) => s.parse().unwrap_or(0.0),
                    _ => 0.0,
                })
                .map(|x: f64| if x.is_finite() { x } else { 0.0 })
                .collect();
            (dimensions, metrics)
        })
        .collect())
}

/// Metric values of one SQL row, in the request's order (post-computed
/// metrics filled by the caller); counts read from a sample are scaled up
/// to the whole (see [`super::sampling`]).
fn pick(query: &QueryRequest, built: &Built, values: &[f64], sample: Option<Sample>) -> Vec<f64> {
    let factor = sample.map_or(1.0, |s| s.denominator as f64);
    query
        .metrics
        .iter()
        .map(|m| {
            let value = sql_value(built, values, *m);
            match m {
                Metric::Visitors
                | Metric::Visits
                | Metric::Pageviews
                | Metric::Events
                | Metric::TotalRevenue => value * factor,
                _ => value,
            }
        })
        .collect()
}

/// The sample for `query` over `period` (none when it asks for the exact
/// figure, or the period is small), and the period's events
/// ([`period_events`]). A question the derived `visits` table answers
/// costs about its visit rows: it is sampled by those rows, above a half
/// of the events' threshold (a third under a page filter, which reads
/// each visit's pages), so that a
/// headline with its comparison (two such statements) stays in the time
/// of one over the events, keeping several times as many visitors
/// (bench/RESULTS.md).
async fn sample_for(
    store: &Store,
    query: &QueryRequest,
    period: Period,
    tz: Tz,
    goals: &[Goal],
    policy: SamplingPolicy,
) -> Result<(Option<Sample>, u64), QueryError> {
    if query.exact || policy.above_events == 0 {
        return Ok((None, 0));
    }
    let events = period_events(store, &query.site_id, period, policy).await?;
    let options = BuildOptions {
        goals,
        ..BuildOptions::default()
    };
    if events > policy.above_events / 4 && build(query, period, tz, options).derived {
        let rows =
            crate::store::visit_rollup::rows_between(store, &query.site_id, period.from, period.to)
                .await?;
        // A page filter reads each visit's pages too.
        let weight = if query.filters.iter().any(super::builder::is_page_filter) {
            3
        } else {
            2
        };
        return Ok((policy.for_visit_rows(rows, weight), events));
    }
    Ok((policy.for_events(events), events))
}

/// The events of `site` in `period`, as the sampling policy sizes it: from
/// the derived hourly counts (`store::rollup`: a few thousand rows however
/// large the site), and counted exactly where that may be near the
/// threshold (cheap there, because the period is small).
pub(super) async fn period_events(
    store: &Store,
    site: &str,
    period: Period,
    policy: SamplingPolicy,
) -> Result<u64, QueryError> {
    let events = crate::store::rollup::events_between(store, site, period.from, period.to).await?;
    if events >= policy.above_events.saturating_mul(2) {
        return Ok(events);
    }
    let exact = crate::store::sql::Sql::new(
        "SELECT count() AS n FROM events WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?)",
        vec![
            crate::store::sql::Param::Str(site.to_string()),
            crate::store::sql::Param::time(period.from),
            crate::store::sql::Param::time(period.to),
        ],
    );
    Ok(exact.query(store.reader()).fetch_one::<u64>().await?)
}

/// What `meta.sampling` says of a sampled period.
pub(super) fn sampling_meta(sample: Option<Sample>, events: u64) -> Option<Value> {
    sample.map(|s| {
        json!({
            "fraction": s.fraction(),
            "events_in_period": events,
            "note": "counts are estimated from this share of the visitors; ask with include.exact for exact figures",
        })
    })
}

/// The value of `metric` in one SQL row read by `built` (0 where the
/// statement does not compute it).
pub(super) fn sql_value(built: &Built, values: &[f64], metric: Metric) -> f64 {
    built
        .sql_metrics
        .iter()
        .position(|m| *m == metric)
        .and_then(|i| values.get(i).copied())
        .unwrap_or(0.0)
}

fn visitors_of(built: &Built, values: &[f64]) -> f64 {
    sql_value(built, values, Metric::Visitors)
}

/// The visitors of a statement without dimensions (a total; 0 when the
/// period is empty).
pub(super) async fn total_visitors(store: &Store, totals: &Built) -> Result<f64, QueryError> {
    Ok(fetch(store, &totals.sql, 0)
        .await?
        .first()
        .map(|(_, v)| visitors_of(totals, v))
        .unwrap_or(0.0))
}

/// Sets metric `index` of each row to its visitors (from `raw`, read by
/// `built`) as a percentage of `denominator` of the row's dimensions, two
/// decimals; 0 where the denominator is 0.
fn fill_shares(
    rows: &mut [Row],
    raw: &[(Vec<String>, Vec<f64>)],
    built: &Built,
    index: usize,
    denominator: impl Fn(&Vec<String>) -> f64,
) {
    for (row, (_, v)) in rows.iter_mut().zip(raw) {
        let all = denominator(&row.dimensions);
        row.metrics[index] = if all > 0.0 {
            round2(100.0 * visitors_of(built, v) / all)
        } else {
            0.0
        };
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Shares (`percentage`, `conversion_rate`) to two decimals, as Plausible
/// rounds them.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The compared period's rows of `groups` (sampled by its own size) and
/// what `meta.comparison_sampling` says of them.
#[allow(clippy::too_many_arguments)]
async fn comparison_rows(
    store: &Store,
    unpaged: &QueryRequest,
    previous: Period,
    tz: Tz,
    groups: &GroupSet,
    sampling: SamplingPolicy,
    goals: &[Goal],
    imported: Option<&ImportedPlan>,
) -> Result<(Vec<Row>, Option<Value>), QueryError> {
    let (sample, events) = sample_for(store, unpaged, previous, tz, goals, sampling).await?;
    let rows = rows_for(
        store,
        unpaged,
        previous,
        tz,
        false,
        Some(groups),
        sample,
        goals,
        imported,
    )
    .await?;
    Ok((rows, sampling_meta(sample, events)))
}

/// Runs the query for one period (only `only_groups` when given).
#[allow(clippy::too_many_arguments)]
async fn rows_for(
    store: &Store,
    query: &QueryRequest,
    period: Period,
    tz: Tz,
    paginate: bool,
    only_groups: Option<&GroupSet>,
    sample: Option<Sample>,
    goals: &[Goal],
    imported: Option<&ImportedPlan>,
) -> Result<Vec<Row>, QueryError> {
    // With imported sums: every group, merged; the caller pages them.
    if let Some(plan) = imported {
        return super::imported::merged_rows(
            store,
            query,
            plan,
            period,
            tz,
            only_groups,
            sample,
            goals,
        )
        .await;
    }
    // Ordered by time on page or scroll depth (computed in a query of their
    // own, below): every group is read, ordered and paged here instead.
    let engagement_order = paginate && ordered_by_engagement(query);
    let options = BuildOptions {
        paginate: paginate && !engagement_order,
        only_groups,
        sample,
        goals,
        ..BuildOptions::default()
    };
    let built = build(query, period, tz, options);
    let dims = query.dimensions.len();
    let raw = fetch(store, &built.sql, dims).await?;
    let mut rows: Vec<Row> = raw
        .iter()
        .map(|(d, v)| Row {
            dimensions: d.clone(),
            metrics: pick(query, &built, v, sample),
        })
        .collect();
    if let Some(index) = query.metrics.iter().position(|m| *m == Metric::Percentage) {
        let totals = build(
            query,
            period,
            tz,
            BuildOptions {
                without_dimensions: true,
                ..options
            },
        );
        let total = total_visitors(store, &totals).await?;
        fill_shares(&mut rows, &raw, &built, index, |_| total);
    }
    if let Some(index) = query
        .metrics
        .iter()
        .position(|m| *m == Metric::ConversionRate)
    {
        // One denominator for every row: the period's visitors under the
        // query's filters other than goals and properties (Plausible's).
        let base = build(
            query,
            period,
            tz,
            BuildOptions {
                without_goals: true,
                without_dimensions: true,
                paginate: false,
                only_groups: None,
                ..options
            },
        );
        let all = total_visitors(store, &base).await?;
        fill_shares(&mut rows, &raw, &built, index, |_| all);
    }
    if let Some(index) = query
        .metrics
        .iter()
        .position(|m| *m == Metric::GroupConversionRate)
    {
        // Each group's own visitors, without the goal and property filters;
        // only the groups of this page.
        let page = GroupSet {
            dimensions: (0..dims).collect(),
            keys: Vec::new(),
        };
        let page = GroupSet {
            keys: rows.iter().map(|r| page.key_of(&r.dimensions)).collect(),
            ..page
        };
        let base = build(
            query,
            period,
            tz,
            BuildOptions {
                without_goals: true,
                paginate: false,
                only_groups: Some(&page),
                ..options
            },
        );
        let denominators: HashMap<Vec<String>, f64> = fetch(store, &base.sql, dims)
            .await?
            .into_iter()
            .map(|(d, v)| (d, visitors_of(&base, &v)))
            .collect();
        fill_shares(&mut rows, &raw, &built, index, |dimensions| {
            denominators.get(dimensions).copied().unwrap_or(0.0)
        });
    }
    if let Some(index) = query.metrics.iter().position(|m| *m == Metric::ExitRate) {
        // Exits from a page over the page's page views, both under the
        // query's filters (an exit-page filter becoming a page filter).
        let pages: Vec<String> = rows.iter().map(|r| r.dimensions[0].clone()).collect();
        let mut views = query.clone();
        views.metrics = vec![Metric::Pageviews];
        views.dimensions = vec![Dimension::Event("pathname")];
        views.order_by.clear();
        views.filters = query.filters.iter().map(exit_page_as_page).collect();
        let page_set = GroupSet {
            dimensions: vec![0],
            keys: pages,
        };
        let built_views = build(
            &views,
            period,
            tz,
            BuildOptions {
                only_groups: Some(&page_set),
                sample,
                goals,
                ..BuildOptions::default()
            },
        );
        let pageviews: HashMap<String, f64> = fetch(store, &built_views.sql, 1)
            .await?
            .into_iter()
            .map(|(d, v)| (d[0].clone(), v.first().copied().unwrap_or(0.0)))
            .collect();
        let visits_at = built.sql_metrics.iter().position(|m| *m == Metric::Visits);
        for (row, (_, v)) in rows.iter_mut().zip(&raw) {
            let exits = visits_at.and_then(|i| v.get(i).copied()).unwrap_or(0.0);
            let views = pageviews.get(&row.dimensions[0]).copied().unwrap_or(0.0);
            row.metrics[index] = if views > 0.0 {
                round1(100.0 * exits / views)
            } else {
                0.0
            };
        }
    }
    let engagement: Vec<(usize, Metric)> = query
        .metrics
        .iter()
        .enumerate()
        .filter(|(_, m)| m.is_engagement())
        .map(|(i, m)| (i, *m))
        .collect();
    if !engagement.is_empty() {
        let built_engagement = super::builder::build_engagement(query, period, tz, sample);
        let measured: HashMap<Vec<String>, Vec<f64>> = fetch(store, &built_engagement.sql, dims)
            .await?
            .into_iter()
            .collect();
        for row in rows.iter_mut() {
            let values = measured.get(&row.dimensions);
            for (i, metric) in &engagement {
                let column = usize::from(*metric == Metric::TimeOnPage);
                row.metrics[*i] = values.and_then(|v| v.get(column).copied()).unwrap_or(-1.0);
            }
        }
    }
    if engagement_order {
        sort_rows(query, &mut rows);
        rows = page_of(query, rows);
    }
    Ok(rows)
}

/// The query's page (`offset`, `limit`) of rows read whole and ordered here.
pub(super) fn page_of(query: &QueryRequest, rows: Vec<Row>) -> Vec<Row> {
    rows.into_iter()
        .skip(query.offset as usize)
        .take(query.limit as usize)
        .collect()
}

/// Whether the query's order starts with an engagement metric: asked for
/// by `order_by`, or by default (no `order_by`, the first metric one).
fn ordered_by_engagement(query: &QueryRequest) -> bool {
    use super::vocabulary::OrderKey;
    match query.order_by.first() {
        Some(_) => query
            .order_by
            .iter()
            .any(|(key, _)| matches!(key, OrderKey::Metric(m) if m.is_engagement())),
        None => query.metrics.first().is_some_and(|m| m.is_engagement()),
    }
}

/// Orders rows as `builder::order_terms` orders them in SQL: the
/// `order_by` keys (by default time ascending, then the first metric
/// descending), then every dimension ascending. A metric no visit said
/// (engagement's -1, null in the answer) comes last either way.
pub(super) fn sort_rows(query: &QueryRequest, rows: &mut [Row]) {
    use super::vocabulary::{Direction, OrderKey};
    use std::cmp::Ordering;
    let mut keys: Vec<(Option<usize>, Option<usize>, Direction)> = Vec::new();
    if query.order_by.is_empty() {
        if let Some(i) = query
            .dimensions
            .iter()
            .position(|d| matches!(d, Dimension::Time(_)))
        {
            keys.push((Some(i), None, Direction::Asc));
        }
        keys.push((None, Some(0), Direction::Desc));
    } else {
        for (key, direction) in &query.order_by {
            match key {
                OrderKey::Metric(m) => {
                    keys.push((None, query.metrics.iter().position(|x| x == m), *direction))
                }
                OrderKey::Dimension(d) => keys.push((
                    query.dimensions.iter().position(|x| x == d),
                    None,
                    *direction,
                )),
            }
        }
    }
    for i in 0..query.dimensions.len() {
        keys.push((Some(i), None, Direction::Asc));
    }
    let unsaid = |m: usize, x: f64| query.metrics[m].is_engagement() && x < 0.0;
    rows.sort_by(|a, b| {
        for (dimension, metric, direction) in &keys {
            let order = match (dimension, metric) {
                (Some(i), _) => a.dimensions[*i].cmp(&b.dimensions[*i]),
                (None, Some(m)) => {
                    let (x, y) = (a.metrics[*m], b.metrics[*m]);
                    match (unsaid(*m, x), unsaid(*m, y)) {
                        (true, true) => Ordering::Equal,
                        (true, false) => return Ordering::Greater,
                        (false, true) => return Ordering::Less,
                        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                    }
                }
                _ => Ordering::Equal,
            };
            let order = if *direction == Direction::Desc {
                order.reverse()
            } else {
                order
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    });
}

/// A filter with `visit:exit_page` read as `event:page` (the page views
/// an exit rate divides by).
fn exit_page_as_page(filter: &super::request::Filter) -> super::request::Filter {
    use super::request::Filter;
    use super::vocabulary::VisitAttr;
    match filter {
        Filter::Compare {
            op,
            dimension: Dimension::Visit(VisitAttr::ExitPage),
            values,
            case_sensitive,
        } => Filter::Compare {
            op: *op,
            dimension: Dimension::Event("pathname"),
            values: values.clone(),
            case_sensitive: *case_sensitive,
        },
        Filter::And(parts) => Filter::And(parts.iter().map(exit_page_as_page).collect()),
        Filter::Or(parts) => Filter::Or(parts.iter().map(exit_page_as_page).collect()),
        Filter::Not(inner) => Filter::Not(Box::new(exit_page_as_page(inner))),
        other => other.clone(),
    }
}

/// How many groups the query has over `period`: counted by ClickHouse
/// (`SELECT count() FROM (…)`), never by fetching every group.
async fn count_groups(
    store: &Store,
    query: &QueryRequest,
    period: Period,
    tz: Tz,
    goals: &[Goal],
) -> Result<u64, QueryError> {
    let options = BuildOptions {
        goals,
        ..BuildOptions::default()
    };
    let built = build(query, period, tz, options);
    let mut sql = crate::store::sql::Sql::raw("SELECT count() AS n FROM (");
    sql.push(built.sql);
    sql.text.push(')');
    Ok(sql.query(store.reader()).fetch_one::<u64>().await?)
}

/// Change from `previous` to `current` as Plausible computes it: for the
/// bounce rate the difference in points (none when there was no bounce rate
/// before); for every other metric, percentages included, the relative change
/// in whole percent (100 from nothing, 0 from nothing to nothing).
fn change(metric: Metric, current: f64, previous: f64) -> Value {
    match metric {
        Metric::BounceRate if previous > 0.0 => number(current - previous),
        Metric::BounceRate => Value::Null,
        _ if previous == 0.0 => {
            if current > 0.0 {
                json!(100)
            } else {
                json!(0)
            }
        }
        _ => json!(((current - previous) / previous * 100.0).round() as i64),
    }
}

/// A metric's value as Plausible writes it: shares of a whole are decimals
/// (`50.0`), everything else whole when it is whole.
fn metric_value(metric: Metric, x: f64) -> Value {
    match metric {
        Metric::Percentage
        | Metric::ConversionRate
        | Metric::GroupConversionRate
        | Metric::ExitRate => json!(x),
        // No visit of the group said it: Plausible answers null.
        Metric::TimeOnPage | Metric::ScrollDepth if x < 0.0 => Value::Null,
        _ => number(x),
    }
}

fn metric_values(metrics: &[Metric], values: &[f64]) -> Vec<Value> {
    metrics
        .iter()
        .zip(values)
        .map(|(m, x)| metric_value(*m, *x))
        .collect()
}

fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// The site's goals when the query speaks of goals (read per question: a
/// goal added on any collector counts at once), after checking that every
/// goal an `is` filter names is one of them, as Plausible checks.
async fn goals_for(store: &Store, query: &QueryRequest) -> Result<Vec<Goal>, QueryError> {
    let mentioned = query.dimensions.contains(&Dimension::Goal)
        || query.filters.iter().any(super::builder::mentions_goal)
        || query.metrics.iter().any(|m| m.is_revenue());
    if !mentioned {
        return Ok(Vec::new());
    }
    let goals = crate::goals::stored::list(store, &query.site_id)
        .await
        .map_err(|e| match e {
            crate::goals::GoalError::Store(e) => QueryError::Store(e),
            other => QueryError::Internal(other.to_string()),
        })?;
    for filter in &query.filters {
        for (values, case_sensitive) in goal_names(filter) {
            for value in values {
                let picked = super::builder::goals_named(
                    &goals,
                    super::vocabulary::Operator::Is,
                    std::slice::from_ref(value),
                    case_sensitive,
                );
                if picked.is_empty() {
                    return Err(QueryError::invalid(
                        "filters",
                        format!(
                            "The goal `{value}` is not configured for this site. Find out how to \
                             configure goals with `saltmark goals add` (docs/goals.md)"
                        ),
                    ));
                }
            }
        }
    }
    Ok(goals)
}

/// The values of every `is` filter on `event:goal` in `filter`, with their
/// letter-case setting.
fn goal_names(filter: &super::request::Filter) -> Vec<(&[String], bool)> {
    use super::request::Filter;
    match filter {
        Filter::Compare {
            op: super::vocabulary::Operator::Is,
            dimension: Dimension::Goal,
            values,
            case_sensitive,
        } => vec![(values.as_slice(), *case_sensitive)],
        Filter::Compare { .. } => Vec::new(),
        Filter::And(parts) | Filter::Or(parts) => parts.iter().flat_map(goal_names).collect(),
        Filter::Not(inner) | Filter::HasDone { inner, .. } => goal_names(inner),
        Filter::Sequence { steps, .. } => steps.iter().flat_map(goal_names).collect(),
    }
}

/// Runs `query` for a site in time zone `tz` at `now`; returns the API answer.
pub async fn execute(
    store: &Store,
    query: &QueryRequest,
    tz: Tz,
    now: DateTime<Utc>,
    sampling: SamplingPolicy,
) -> Result<Value, QueryError> {
    let period = dates::resolve(&query.date_range, query.date, now, tz)?;
    let goals = goals_for(store, query).await?;
    let (sample, events_in_period) = sample_for(store, query, period, tz, &goals, sampling).await?;
    let time_index = query
        .dimensions
        .iter()
        .position(|d| matches!(d, Dimension::Time(_)));
    // Every bucket of the period: reported in `meta.time_labels` when asked
    // for, and the rows of a compared time series (Plausible compares every
    // bucket, empty ones too). Otherwise only non-empty buckets are rows.
    let all_buckets = match time_index.map(|i| &query.dimensions[i]) {
        Some(Dimension::Time(bucket)) if query.time_labels || query.comparison.is_some() => {
            Some(dates::time_labels(period, *bucket, tz)?)
        }
        _ => None,
    };
    let zero_fill =
        all_buckets.is_some() && query.comparison.is_some() && query.dimensions.len() == 1;
    let labels = all_buckets.as_ref().filter(|_| query.time_labels).cloned();
    // A comparison whose rows do not depend on this period's page (every
    // dimension is time: a headline or a time series) is read at the same
    // time as this period, which halves its wait.
    let previous_period = query
        .comparison
        .as_ref()
        .map(|comparison| dates::compared(period, comparison, &query.date_range, now, tz))
        .transpose()?;
    // `include.imports`: whether the imported history answers too (the
    // data's absence first, as Plausible reports it).
    let inclusion = if query.imports {
        let periods: Vec<Period> = std::iter::once(period).chain(previous_period).collect();
        Some(
            match super::imported::check_data(store, &query.site_id, &periods, tz).await? {
                Some(reason) => Inclusion::Skipped(reason),
                None => super::imported::plan(query, &goals, period, tz),
            },
        )
    } else {
        None
    };
    let imported_plan = match &inclusion {
        Some(Inclusion::Included(plan)) => Some(plan),
        _ => None,
    };
    let grouped_by = |i: usize| Some(i) != time_index;
    let independent_comparison =
        previous_period.filter(|_| !(0..query.dimensions.len()).any(grouped_by));
    // Rows with imported sums come whole (merged here, not paged in SQL):
    // counted and paged below.
    let paginate = !zero_fill && imported_plan.is_none();
    let now_rows = rows_for(
        store,
        query,
        period,
        tz,
        paginate,
        None,
        sample,
        &goals,
        imported_plan,
    );
    let (rows, early_comparison) = match independent_comparison {
        Some(previous) => {
            let every_group = GroupSet {
                dimensions: Vec::new(),
                keys: Vec::new(),
            };
            let mut unpaged = query.clone();
            unpaged.order_by.clear();
            let (now_rows, then_rows) = tokio::join!(
                now_rows,
                comparison_rows(
                    store,
                    &unpaged,
                    previous,
                    tz,
                    &every_group,
                    sampling,
                    &goals,
                    imported_plan
                ),
            );
            (now_rows?, Some(then_rows?))
        }
        None => (now_rows.await?, None),
    };
    let mut rows = rows;
    let imported_groups = match imported_plan {
        Some(_) if !zero_fill => {
            let groups = rows.len() as u64;
            rows = page_of(query, rows);
            Some(groups)
        }
        _ => None,
    };
    if zero_fill {
        let labels = all_buckets.as_ref().expect("checked");
        let mut by_label: HashMap<String, Row> = rows
            .drain(..)
            .map(|r| (r.dimensions[0].clone(), r))
            .collect();
        rows = labels
            .iter()
            .map(|label| {
                by_label.remove(label).unwrap_or_else(|| Row {
                    dimensions: vec![label.clone()],
                    metrics: vec![0.0; query.metrics.len()],
                })
            })
            .collect();
        if let Some((OrderKey::Metric(m), direction)) = query.order_by.first() {
            let i = query.metrics.iter().position(|x| x == m).unwrap_or(0);
            rows.sort_by(|a, b| {
                let ord = a.metrics[i]
                    .partial_cmp(&b.metrics[i])
                    .unwrap_or(std::cmp::Ordering::Equal);
                if *direction == Direction::Desc {
                    ord.reverse()
                } else {
                    ord
                }
            });
        } else if let Some((OrderKey::Dimension(_), Direction::Desc)) = query.order_by.first() {
            rows.reverse();
        }
    }
    let total_rows = if query.total_rows {
        if zero_fill {
            Some(rows.len() as u64)
        } else if let Some(groups) = imported_groups {
            Some(groups)
        } else {
            Some(count_groups(store, query, period, tz, &goals).await?)
        }
    } else {
        None
    };
    if zero_fill {
        rows = page_of(query, rows);
    }
    let mut comparison_period = None;
    let mut comparison_sampling = None;
    // The previous period's rows, keyed by dimensions; a time bucket is
    // matched with the bucket at the same position in the previous period.
    let mut previous_rows: Option<HashMap<Vec<String>, Row>> = None;
    let mut bucket_map: HashMap<String, String> = HashMap::new();
    if let Some(previous) = previous_period {
        comparison_period = Some(previous);
        if let (Some(Dimension::Time(bucket)), Some(now_labels)) =
            (time_index.map(|i| &query.dimensions[i]), &all_buckets)
        {
            let then_labels = dates::time_labels(previous, *bucket, tz)?;
            bucket_map = now_labels.iter().cloned().zip(then_labels).collect();
        }
        let mut unpaged = query.clone();
        unpaged.order_by.clear();
        // The previous period's values of this page's groups, not every
        // group of the period (a time bucket maps to another label there,
        // so the key leaves it out).
        let groups = GroupSet {
            dimensions: (0..query.dimensions.len())
                .filter(|i| Some(*i) != time_index)
                .collect(),
            keys: Vec::new(),
        };
        let groups = GroupSet {
            keys: rows.iter().map(|r| groups.key_of(&r.dimensions)).collect(),
            ..groups
        };
        let rows = if rows.is_empty() {
            Vec::new()
        } else {
            let (then_rows, then_sampling) = match early_comparison {
                Some(early) => early,
                None => {
                    comparison_rows(
                        store,
                        &unpaged,
                        previous,
                        tz,
                        &groups,
                        sampling,
                        &goals,
                        imported_plan,
                    )
                    .await?
                }
            };
            comparison_sampling = then_sampling;
            then_rows
        };
        previous_rows = Some(
            rows.into_iter()
                .map(|r| (r.dimensions.clone(), r))
                .collect(),
        );
    }
    // Revenue metrics in their goal's currency (null without one).
    let top_level: Vec<&super::request::Filter> = query.filters.iter().collect();
    let currencies = super::builder::revenue_currencies(&goals, &top_level, &query.dimensions);
    let goal_at = query.dimensions.iter().position(|d| *d == Dimension::Goal);
    let currency_of = |dimensions: &[String]| -> Option<String> {
        match &currencies {
            RevenueCurrencies::Single(c) => Some(c.clone()),
            RevenueCurrencies::PerGoal(pairs) => {
                let goal = dimensions.get(goal_at?)?;
                pairs
                    .iter()
                    .find(|(g, _)| g == goal)
                    .map(|(_, c)| c.clone())
            }
            RevenueCurrencies::None(_) => None,
        }
    };
    let values_of = |dimensions: &[String], values: &[f64]| -> Vec<Value> {
        let mut out = metric_values(&query.metrics, values);
        let currency = currency_of(dimensions);
        for (i, metric) in query.metrics.iter().enumerate() {
            if metric.is_revenue() {
                out[i] = super::money::value(values[i], currency.as_deref());
            }
        }
        out
    };
    let results: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut entry = json!({
                "metrics": values_of(&row.dimensions, &row.metrics),
                "dimensions": row.dimensions,
            });
            if let Some(previous) = &previous_rows {
                let mut key = row.dimensions.clone();
                if let Some(i) = time_index {
                    key[i] = bucket_map.get(&key[i]).cloned().unwrap_or_default();
                }
                let before = previous
                    .get(&key)
                    .map(|r| r.metrics.clone())
                    .unwrap_or_else(|| vec![0.0; query.metrics.len()]);
                let mut comparison = json!({
                    "metrics": values_of(&row.dimensions, &before),
                    "change": query.metrics.iter().enumerate()
                        .map(|(i, m)| change(*m, row.metrics[i], before[i]))
                        .collect::<Vec<_>>(),
                });
                comparison["dimensions"] = json!(key);
                entry["comparison"] = comparison;
            }
            entry
        })
        .collect();
    let mut meta = json!({});
    if let RevenueCurrencies::None(reason) = currencies {
        let warnings: serde_json::Map<String, Value> = query
            .metrics
            .iter()
            .filter(|m| m.is_revenue())
            .map(|m| {
                (
                    m.name().to_string(),
                    json!({"code": reason.code(), "warning": reason.warning()}),
                )
            })
            .collect();
        if !warnings.is_empty() {
            meta["metric_warnings"] = Value::Object(warnings);
        }
    }
    if let Some(labels) = labels {
        meta["time_labels"] = json!(labels);
    }
    match &inclusion {
        Some(Inclusion::Included(_)) => meta["imports_included"] = json!(true),
        Some(Inclusion::Skipped(reason)) => {
            meta["imports_included"] = json!(false);
            meta["imports_skip_reason"] = json!(reason.code());
            if let Some(warning) = reason.warning() {
                meta["imports_warning"] = json!(warning);
            }
        }
        None => {}
    }
    if let Some(total) = total_rows {
        meta["total_rows"] = json!(total);
    }
    if let Some(mut sampling) = sampling_meta(sample, events_in_period) {
        // How far the first row's visitors (a headline's total) may be
        // from the exact figure, 19 times in 20.
        let visitors_at = query.metrics.iter().position(|m| *m == Metric::Visitors);
        let margin = sample.zip(visitors_at).and_then(|(s, i)| {
            rows.first()
                .and_then(|row| row.metrics.get(i))
                .and_then(|v| s.visitors_margin(*v))
        });
        if let Some(margin) = margin {
            sampling["visitors_margin"] = json!((margin * 10_000.0).round() / 10_000.0);
        }
        meta["sampling"] = sampling;
    }
    if let Some(sampling) = comparison_sampling {
        meta["comparison_sampling"] = sampling;
    }
    // The period as Plausible writes it: first and last second, in the
    // site's zone. Posting the echo again asks the same question.
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).to_rfc3339();
    let inclusive = |p: dates::Period| {
        json!([
            local(p.from),
            local((p.to - chrono::Duration::seconds(1)).max(p.from))
        ])
    };
    let mut query_echo = Value::Object(query.source.clone());
    query_echo["site_id"] = json!(query.site_id);
    query_echo["metrics"] = json!(query.metrics.iter().map(|m| m.name()).collect::<Vec<_>>());
    query_echo["date_range"] = inclusive(period);
    query_echo["dimensions"] = json!(query
        .dimensions
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>());
    if let Some(echo) = query_echo.as_object_mut() {
        echo.remove("date");
    }
    meta["time_zone"] = json!(tz.name());
    if let Some(previous) = comparison_period {
        meta["comparison_date_range"] = inclusive(previous);
    }
    Ok(json!({ "results": results, "meta": meta, "query": query_echo }))
}
