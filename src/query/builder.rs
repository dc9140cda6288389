//! SQL for a query, in one of three shapes, the cheapest that can answer it:
//!
//! ```text
//! Flat     — no visit attribute, no bounce rate or duration: one GROUP BY
//!            over the site's events in [from, to) (partition + key pruning).
//! Visits   — only visit-level dimensions and filters: one row per visit
//!            (GROUP BY session_id, attributes from its first event), then
//!            GROUP BY the dimensions.
//! Joined   — event-level and visit-level together:
//!            E  = events [ANY LEFT JOIN per-visit attributes USING session_id]
//!            L1 = GROUP BY dimensions, session_id — one row per visit per group
//!            L2 = GROUP BY dimensions             — the metrics
//! ```
//!
//! All three count the same things (the correctness tests run every shape on
//! the same hand-built data): visitors are distinct visitor ids, visits are
//! distinct sessions among the matching events.
//!
//! Visit attributes (`visit:source`, `visit:country`, entry and exit page, …)
//! come from the visit's first event (last, for the exit page), so a later page
//! view whose referrer is the site itself does not change the visit's source.
//! Every value from the request is bound (`?`); column expressions come only
//! from the fixed lists in `vocabulary`.

use chrono_tz::Tz;

use super::dates::Period;
use super::request::{Filter, QueryRequest};
use super::vocabulary::{Dimension, Direction, Metric, Operator, OrderKey, TimeBucket, VisitAttr};
use crate::store::sql::{Param, Sql};

/// The SQL expression of a dimension, at the level of joined event rows.
pub fn dimension_expr(dimension: &Dimension, tz: Tz) -> Sql {
    match dimension {
        Dimension::Event(column) => Sql::raw(*column),
        Dimension::Prop(key) => Sql::new(
            "prop_values[indexOf(prop_keys, ?)]",
            vec![Param::Str(key.clone())],
        ),
        // Only ever a grouping key (the parser refuses it in filters): the
        // array join must not multiply rows inside a WHERE clause.
        Dimension::PropKey => Sql::raw("arrayJoin(prop_keys)"),
        Dimension::Goal => Sql::raw("name"),
        Dimension::Visit(VisitAttr::EntryPage) => Sql::raw("v_entry_page"),
        Dimension::Visit(VisitAttr::ExitPage) => Sql::raw("v_exit_page"),
        // As in Plausible, a visit without a source is "Direct / None" —
        // in results and in filters alike.
        Dimension::Visit(VisitAttr::Column("referrer_source")) => {
            Sql::raw("if(v_referrer_source = '', 'Direct / None', v_referrer_source)")
        }
        Dimension::Visit(VisitAttr::Column(column)) => Sql::raw(format!("v_{column}")),
        Dimension::Time(bucket) => {
            let template = match bucket {
                TimeBucket::Hour => "toString(toStartOfHour(timestamp, ?), ?)",
                TimeBucket::Day => "toString(toDate(timestamp, ?))",
                TimeBucket::Week => "toString(toMonday(toDate(timestamp, ?)))",
                TimeBucket::Month => "toString(toStartOfMonth(toDate(timestamp, ?)))",
            };
            let zone = Param::Str(tz.name().to_string());
            let params = if *bucket == TimeBucket::Hour {
                vec![zone.clone(), zone]
            } else {
                vec![zone]
            };
            Sql::new(template, params)
        }
    }
}

/// The SQL condition of a filter tree.
pub fn filter_sql(filter: &Filter, tz: Tz) -> Sql {
    match filter {
        Filter::Compare {
            op,
            dimension,
            values,
        } => {
            let expr = dimension_expr(dimension, tz);
            let any_of = |template: &str| {
                let parts = values
                    .iter()
                    .map(|v| {
                        let mut part = Sql::raw(template.split("EXPR").next().unwrap_or(""));
                        part.push(expr.clone());
                        part.push(Sql::new(
                            template.split("EXPR").nth(1).unwrap_or(""),
                            vec![Param::Str(v.clone())],
                        ));
                        part
                    })
                    .collect();
                Sql::join(parts, " OR ")
            };
            let positive = match op {
                Operator::Is | Operator::IsNot => {
                    let mut sql = Sql::new("has(?, ", vec![Param::Strs(values.clone())]);
                    sql.push(expr.clone());
                    sql.text.push(')');
                    sql
                }
                Operator::Contains | Operator::ContainsNot => any_of("position(EXPR, ?) > 0"),
                Operator::Matches | Operator::MatchesNot => any_of("match(EXPR, ?)"),
            };
            if matches!(
                op,
                Operator::IsNot | Operator::ContainsNot | Operator::MatchesNot
            ) {
                let mut negated = Sql::raw("NOT (");
                negated.push(positive);
                negated.text.push(')');
                negated
            } else {
                positive
            }
        }
        Filter::And(parts) => Sql::join(parts.iter().map(|p| filter_sql(p, tz)).collect(), " AND "),
        Filter::Or(parts) => Sql::join(parts.iter().map(|p| filter_sql(p, tz)).collect(), " OR "),
        Filter::Not(inner) => {
            let mut sql = Sql::raw("NOT (");
            sql.push(filter_sql(inner, tz));
            sql.text.push(')');
            sql
        }
    }
}

/// Visit columns the query refers to.
fn visit_columns(query: &QueryRequest) -> Vec<VisitAttr> {
    let mut columns: Vec<VisitAttr> = Vec::new();
    let dims = query
        .dimensions
        .iter()
        .chain(query.filters.iter().flat_map(|f| f.dimensions()));
    for dimension in dims {
        if let Dimension::Visit(attr) = dimension {
            if !columns.contains(attr) {
                columns.push(*attr);
            }
        }
    }
    columns
}

/// `, argMin(column, timestamp) AS v_column, …` for the visit attributes used.
fn visit_attribute_columns(query: &QueryRequest) -> String {
    visit_columns(query)
        .into_iter()
        .map(|attr| match attr {
            VisitAttr::EntryPage => {
                ", argMinIf(pathname, timestamp, name = 'pageview') AS v_entry_page".to_string()
            }
            VisitAttr::ExitPage => {
                ", argMaxIf(pathname, timestamp, name = 'pageview') AS v_exit_page".to_string()
            }
            VisitAttr::Column(column) => format!(", argMin({column}, timestamp) AS v_{column}"),
        })
        .collect()
}

/// The joined event rows `E` (see the module comment).
fn event_rows(query: &QueryRequest, period: Period) -> Sql {
    let range = |sql: &mut Sql| {
        sql.push(Sql::new(
            " WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?)",
            vec![
                Param::Str(query.site_id.clone()),
                Param::time(period.from),
                Param::time(period.to),
            ],
        ))
    };
    let mut events = Sql::raw(
        "SELECT session_id, visitor_id, timestamp, name, pathname, hostname, prop_keys, prop_values FROM events",
    );
    range(&mut events);
    if !query.needs_visits() {
        return events;
    }
    let mut visits = Sql::raw(
        "SELECT session_id, countIf(name = 'pageview') AS v_pageviews, \
         toUInt32(max(timestamp)) - toUInt32(min(timestamp)) AS v_duration",
    );
    for attr in visit_columns(query) {
        visits.text.push_str(&match attr {
            VisitAttr::EntryPage => {
                ", argMinIf(pathname, timestamp, name = 'pageview') AS v_entry_page".to_string()
            }
            VisitAttr::ExitPage => {
                ", argMaxIf(pathname, timestamp, name = 'pageview') AS v_exit_page".to_string()
            }
            VisitAttr::Column(column) => format!(", argMin({column}, timestamp) AS v_{column}"),
        });
    }
    visits.text.push_str(" FROM events");
    range(&mut visits);
    visits.text.push_str(" GROUP BY session_id");
    let mut joined = Sql::raw("SELECT * FROM (");
    joined.push(events);
    // Aliases: modern servers require them on joined subqueries.
    joined.text.push_str(") AS e ANY LEFT JOIN (");
    joined.push(visits);
    joined.text.push_str(") AS v USING session_id");
    joined
}

/// The SQL of one metric at level L2 (`None` for metrics computed afterwards).
fn metric_expr(metric: Metric) -> Option<&'static str> {
    Some(match metric {
        Metric::Visitors => "toFloat64(uniqExact(visitor))",
        Metric::Visits => "toFloat64(count())",
        Metric::Pageviews => "toFloat64(sum(pv))",
        Metric::Events => "toFloat64(sum(ev))",
        Metric::ViewsPerVisit => "if(count() = 0, 0, round(sum(pv) / count(), 2))",
        Metric::BounceRate => {
            "if(countIf(spv >= 1) = 0, 0, round(100 * countIf(spv = 1) / countIf(spv >= 1)))"
        }
        Metric::VisitDuration => "if(count() = 0, 0, round(avg(sdur)))",
        Metric::Percentage | Metric::ConversionRate => return None,
    })
}

/// What a built statement returns: dimension columns `d0…`, then `m0…` for
/// `sql_metrics`.
#[derive(Debug, Clone)]
pub struct Built {
    /// The statement.
    pub sql: Sql,
    /// Metrics computed in SQL, in column order.
    pub sql_metrics: Vec<Metric>,
}

/// Options for [`build`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    /// Apply ORDER BY / LIMIT (off when the caller paginates itself).
    pub paginate: bool,
    /// Leave out `event:goal` filters (the conversion-rate denominator).
    pub without_goals: bool,
    /// Drop the dimensions (totals).
    pub without_dimensions: bool,
    /// Only the groups named here (a superset filter: the caller matches
    /// rows by their exact dimensions afterwards). A comparison or a
    /// conversion-rate denominator needs the groups of the page it
    /// completes, not every group of the period.
    pub only_groups: Option<&'a GroupSet>,
}

/// Groups by some of the query's dimensions, see [`BuildOptions::only_groups`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSet {
    /// Positions in `query.dimensions` that the keys are made of.
    pub dimensions: Vec<usize>,
    /// For each group, those dimensions' values joined by a tab.
    pub keys: Vec<String>,
}

impl GroupSet {
    /// The key of a row's dimension values.
    pub fn key_of(&self, values: &[String]) -> String {
        self.dimensions
            .iter()
            .map(|i| values.get(*i).map_or("", String::as_str))
            .collect::<Vec<_>>()
            .join("\t")
    }

    /// The SQL of a row's key, over the `d…` columns.
    fn key_sql(&self) -> String {
        match self.dimensions.as_slice() {
            [one] => format!("d{one}"),
            many => format!(
                "concat({})",
                many.iter()
                    .map(|i| format!("d{i}"))
                    .collect::<Vec<_>>()
                    .join(", '\\t', ")
            ),
        }
    }
}

/// Which SQL shape answers a query (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One GROUP BY over events.
    Flat,
    /// Per visit, then per group.
    Visits,
    /// Events joined with visit attributes, per visit per group, then per group.
    Joined,
}

/// The shape for a query with these dimensions and filters.
pub fn shape(query: &QueryRequest, dimensions: &[Dimension], filters: &[&Filter]) -> Shape {
    let touched: Vec<&Dimension> = dimensions
        .iter()
        .chain(filters.iter().flat_map(|f| f.dimensions()))
        .collect();
    let visit_level = touched.iter().any(|d| d.is_visit())
        || query
            .metrics
            .iter()
            .any(|m| matches!(m, Metric::BounceRate | Metric::VisitDuration));
    let event_level = touched.iter().any(|d| !d.is_visit());
    match (visit_level, event_level) {
        (false, _) => Shape::Flat,
        (true, false) => Shape::Visits,
        (true, true) => Shape::Joined,
    }
}

fn flat_metric_expr(metric: Metric) -> &'static str {
    match metric {
        Metric::Visitors => "toFloat64(uniqExact(visitor_id))",
        Metric::Visits => "toFloat64(uniqExact(session_id))",
        Metric::Pageviews => "toFloat64(countIf(name = 'pageview'))",
        Metric::Events => "toFloat64(count())",
        Metric::ViewsPerVisit => {
            "if(uniqExact(session_id) = 0, 0, round(countIf(name = 'pageview') / uniqExact(session_id), 2))"
        }
        _ => "0",
    }
}

fn site_range(query: &QueryRequest, period: Period) -> Sql {
    Sql::new(
        " WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?)",
        vec![
            Param::Str(query.site_id.clone()),
            Param::time(period.from),
            Param::time(period.to),
        ],
    )
}

/// Builds the statement for `query` over `period`.
pub fn build(query: &QueryRequest, period: Period, tz: Tz, options: BuildOptions<'_>) -> Built {
    let dimensions: Vec<Dimension> = if options.without_dimensions {
        Vec::new()
    } else {
        query.dimensions.clone()
    };
    let filters: Vec<&Filter> = query
        .filters
        .iter()
        .filter(|f| !(options.without_goals && is_goal_filter(f)))
        .collect();
    let mut sql_metrics: Vec<Metric> = query
        .metrics
        .iter()
        .copied()
        .filter(|m| metric_expr(*m).is_some())
        .collect();
    if query
        .metrics
        .iter()
        .any(|m| matches!(m, Metric::Percentage | Metric::ConversionRate))
        && !sql_metrics.contains(&Metric::Visitors)
    {
        sql_metrics.push(Metric::Visitors);
    }
    let shape = shape(query, &dimensions, &filters);
    let where_filters = |sql: &mut Sql, joiner: &str| {
        if !filters.is_empty() {
            sql.text.push_str(joiner);
            sql.push(Sql::join(
                filters.iter().map(|f| filter_sql(f, tz)).collect(),
                " AND ",
            ));
        }
    };
    let dim_cols: Vec<String> = (0..dimensions.len()).map(|i| format!("d{i}")).collect();
    let mut statement = Sql::raw("SELECT ");
    let dims_and_metrics = |statement: &mut Sql, metric_sql: &dyn Fn(Metric) -> String| {
        for (i, d) in dimensions.iter().enumerate() {
            statement.push(dimension_expr(d, tz));
            statement.text.push_str(&format!(" AS d{i}, "));
        }
        let metrics: Vec<String> = sql_metrics
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{} AS m{i}", metric_sql(*m)))
            .collect();
        statement.text.push_str(&metrics.join(", "));
    };
    match shape {
        Shape::Flat => {
            dims_and_metrics(&mut statement, &|m| flat_metric_expr(m).to_string());
            statement.text.push_str(" FROM events");
            statement.push(site_range(query, period));
            where_filters(&mut statement, " AND ");
        }
        Shape::Visits => {
            dims_and_metrics(&mut statement, &|m| {
                metric_expr(m).unwrap_or("0").to_string()
            });
            let mut visits = Sql::raw(
                "SELECT session_id, any(visitor_id) AS visitor, countIf(name = 'pageview') AS pv, \
                 count() AS ev, countIf(name = 'pageview') AS spv, \
                 toUInt32(max(timestamp)) - toUInt32(min(timestamp)) AS sdur",
            );
            visits.text.push_str(&visit_attribute_columns(query));
            visits.text.push_str(" FROM events");
            visits.push(site_range(query, period));
            visits.text.push_str(" GROUP BY session_id");
            statement.text.push_str(" FROM (");
            statement.push(visits);
            statement.text.push(')');
            where_filters(&mut statement, " WHERE ");
        }
        Shape::Joined => {
            // L1: one row per visit per group.
            let mut level1 = Sql::raw("SELECT ");
            for (i, d) in dimensions.iter().enumerate() {
                level1.push(dimension_expr(d, tz));
                level1.text.push_str(&format!(" AS d{i}, "));
            }
            level1.text.push_str(
                "session_id, any(visitor_id) AS visitor, countIf(name = 'pageview') AS pv, count() AS ev, \
                 any(v_pageviews) AS spv, any(v_duration) AS sdur FROM (",
            );
            level1.push(event_rows(query, period));
            level1.text.push(')');
            where_filters(&mut level1, " WHERE ");
            level1.text.push_str(" GROUP BY ");
            for col in &dim_cols {
                level1.text.push_str(&format!("{col}, "));
            }
            level1.text.push_str("session_id");
            // L2: the metrics per group.
            let mut columns: Vec<String> = dim_cols.clone();
            for (i, metric) in sql_metrics.iter().enumerate() {
                columns.push(format!("{} AS m{i}", metric_expr(*metric).unwrap_or("0")));
            }
            statement.text.push_str(&columns.join(", "));
            statement.text.push_str(" FROM (");
            statement.push(level1);
            statement.text.push(')');
        }
    }
    if !dim_cols.is_empty() {
        statement.text.push_str(" GROUP BY ");
        statement.text.push_str(&dim_cols.join(", "));
        if let Some(groups) = options.only_groups.filter(|g| !g.dimensions.is_empty()) {
            let mut having = Sql::new(" HAVING has(?, ", vec![Param::Strs(groups.keys.clone())]);
            having.text.push_str(&groups.key_sql());
            having.text.push(')');
            statement.push(having);
        }
    }
    if options.paginate && !dim_cols.is_empty() {
        statement.text.push_str(" ORDER BY ");
        statement
            .text
            .push_str(&order_terms(query, &dimensions, &sql_metrics).join(", "));
        statement.push(Sql::new(
            " LIMIT ?, ?",
            vec![Param::U64(query.offset), Param::U64(query.limit)],
        ));
    }
    Built {
        sql: statement,
        sql_metrics,
    }
}

/// ORDER BY terms: the requested ones, then a default, then every dimension
/// (so pages are stable).
pub fn order_terms(
    query: &QueryRequest,
    dimensions: &[Dimension],
    sql_metrics: &[Metric],
) -> Vec<String> {
    let direction = |d: Direction| if d == Direction::Asc { "ASC" } else { "DESC" };
    let mut terms: Vec<String> = Vec::new();
    for (key, dir) in &query.order_by {
        let column = match key {
            OrderKey::Metric(m) => {
                let metric = if matches!(m, Metric::Percentage | Metric::ConversionRate) {
                    Metric::Visitors
                } else {
                    *m
                };
                sql_metrics
                    .iter()
                    .position(|x| *x == metric)
                    .map(|i| format!("m{i}"))
            }
            OrderKey::Dimension(d) => dimensions
                .iter()
                .position(|x| x == d)
                .map(|i| format!("d{i}")),
        };
        if let Some(column) = column {
            terms.push(format!("{column} {}", direction(*dir)));
        }
    }
    if query.order_by.is_empty() {
        if let Some(i) = dimensions
            .iter()
            .position(|d| matches!(d, Dimension::Time(_)))
        {
            terms.push(format!("d{i} ASC"));
        } else if !sql_metrics.is_empty() {
            terms.push("m0 DESC".into());
        }
    }
    for i in 0..dimensions.len() {
        let term = format!("d{i} ASC");
        if !terms.iter().any(|t| t.starts_with(&format!("d{i} "))) {
            terms.push(term);
        }
    }
    terms
}

/// Whether a top-level filter is an `event:goal` filter.
pub fn is_goal_filter(filter: &Filter) -> bool {
    matches!(
        filter,
        Filter::Compare {
            dimension: Dimension::Goal,
            ..
        }
    )
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests_generated;
