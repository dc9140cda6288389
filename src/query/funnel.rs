//! Funnels (`POST /api/v2/funnel`): how many visitors went through each
//! step of a funnel, in order, within one visit.
//!
//! Design:
//! - Per visit, ClickHouse's `windowFunnel` finds the furthest step reached
//!   in order (each step's goal met after the previous one's, as
//!   `builder::goal_condition` defines the goal); per visitor the furthest
//!   over their visits; then the visitors per furthest step. The visitors
//!   at step *i* are those whose furthest step is *i* or later.
//! - Only the site's events in the period are read (engagement rows too,
//!   for scroll goals); every value is bound.
//! - Plausible counts a funnel per visitor within 24 hours; saltmark within
//!   one visit, so a step done in a later visit does not continue it
//!   (docs/goals.md).
//! - Filters (the stats API's) pick the visits that count: those with a
//!   matching event, or with the filtered visit attribute
//!   (`builder::matching_visits`).
//! - A large period is read from a share of the visitors, as the stats
//!   API's questions are (`super::sampling`, sized by the period's events,
//!   which is what the statement reads): each kept visitor's every visit
//!   is in it, so each step's visitors are multiplied by n and the rates
//!   are those of the kept visitors; `meta.sampling` says so, and
//!   `"include": {"exact": true}` asks for the exact figures.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use super::builder::{goal_condition, matching_visits, Scope};
use super::dates;
use super::request::QueryRequest;
use super::sampling::{Sample, SamplingPolicy};
use super::QueryError;
use crate::goals::{funnels, stored, Goal, GoalError};
use crate::store::sql::{Param, Sql};
use crate::store::Store;

/// The longest a visit's funnel may take, seconds: longer than any visit.
const WINDOW_SECS: u64 = 7 * 86_400;

/// A funnel question: the site, the funnel's name and the period (the
/// rest of a v2 query's fields are refused).
#[derive(Debug, Clone)]
pub struct FunnelRequest {
    /// The site, its period and time zone anchor (as a v2 query has them).
    pub query: QueryRequest,
    /// The funnel's name.
    pub funnel: String,
}

impl FunnelRequest {
    /// Parses `{"site_id", "funnel", "date_range", "date"?, "filters"?,
    /// "include"?: {"exact"?}}`.
    pub fn from_json(body: &[u8]) -> Result<FunnelRequest, QueryError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| QueryError::invalid("body", format!("not JSON: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| QueryError::invalid("body", "must be a JSON object".into()))?;
        let funnel = object
            .get("funnel")
            .and_then(Value::as_str)
            .filter(|f| !f.trim().is_empty())
            .ok_or_else(|| {
                QueryError::invalid(
                    "funnel",
                    "required: the funnel's name (saltmark funnels list)".into(),
                )
            })?
            .to_string();
        for key in object.keys() {
            if !matches!(
                key.as_str(),
                "site_id" | "funnel" | "date_range" | "date" | "filters" | "include"
            ) {
                return Err(QueryError::invalid(
                    key,
                    "a funnel question takes site_id, funnel, date_range, date, filters and include only"
                        .into(),
                ));
            }
        }
        if let Some(include) = object.get("include") {
            let only_exact = include
                .as_object()
                .is_some_and(|o| o.keys().all(|k| k == "exact"));
            if !only_exact {
                return Err(QueryError::invalid(
                    "include",
                    "a funnel question's include takes exact only".into(),
                ));
            }
        }
        let mut query = object.clone();
        query.remove("funnel");
        query.insert("metrics".into(), json!(["visitors"]));
        let query = QueryRequest::from_value(&Value::Object(query))?;
        Ok(FunnelRequest { query, funnel })
    }
}

fn goal_error(e: GoalError) -> QueryError {
    match e {
        GoalError::Store(e) => QueryError::Store(e),
        other => QueryError::Internal(other.to_string()),
    }
}

/// The statement: rows of (furthest step, visitors), step 0 for visitors
/// who never entered; only the `visits` given (the filters' visits), if any;
/// from the `sample`'s visitors, if any (counts not yet multiplied).
pub fn statement(
    site: &str,
    period: dates::Period,
    steps: &[&Goal],
    visits: Option<Sql>,
    sample: Option<Sample>,
) -> Sql {
    let mut sql = Sql::raw(format!(
        "SELECT step, toUInt64(count()) AS visitors FROM (\
         SELECT visitor_id, max(reached) AS step FROM (\
         SELECT visitor_id, session_id, windowFunnel({WINDOW_SECS})(timestamp, "
    ));
    sql.push(Sql::join(
        steps
            .iter()
            .map(|goal| {
                let mut met = Sql::raw("toUInt8(");
                met.push(goal_condition(goal));
                met.text.push(')');
                met
            })
            .collect(),
        ", ",
    ));
    sql.text.push_str(") AS reached FROM events");
    sql.push(Sample::clause(sample));
    sql.push(Sql::new(
        " WHERE site = ? AND timestamp >= toDateTime(?) \
         AND timestamp < toDateTime(?) AND (name != 'engagement' OR scroll_depth <= 100)",
        vec![
            Param::Str(site.to_string()),
            Param::time(period.from),
            Param::time(period.to),
        ],
    ));
    if let Some(visits) = visits {
        sql.text.push_str(" AND session_id IN (");
        sql.push(visits);
        sql.text.push(')');
    }
    sql.text.push_str(
        " GROUP BY visitor_id, session_id) GROUP BY visitor_id) GROUP BY step ORDER BY step",
    );
    sql
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct StepRow {
    step: u8,
    visitors: u64,
}

/// `part` of `whole` in percent, two decimals (0 of nothing is 0).
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}

/// Answers `request` for a site in time zone `tz` at `now`, a large period
/// from a share of the visitors as `sampling` says.
pub async fn execute(
    store: &Store,
    request: &FunnelRequest,
    tz: Tz,
    now: DateTime<Utc>,
    sampling: SamplingPolicy,
) -> Result<Value, QueryError> {
    let site = &request.query.site_id;
    let funnel = funnels::get(store, site, &request.funnel)
        .await
        .map_err(goal_error)?
        .ok_or_else(|| {
            QueryError::invalid(
                "funnel",
                format!(
                    "{site} has no funnel {:?} (saltmark funnels list --site {site})",
                    request.funnel
                ),
            )
        })?;
    let goals = stored::list(store, site).await.map_err(goal_error)?;
    let steps: Vec<&Goal> = funnel
        .steps
        .iter()
        .map(|name| {
            goals
                .iter()
                .find(|g| &g.display_name == name)
                .ok_or_else(|| {
                    QueryError::invalid(
                        "funnel",
                        format!("the funnel's step {name:?} is no longer a goal of {site}"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let period = dates::resolve(&request.query.date_range, request.query.date, now, tz)?;
    let (sample, events_in_period) = if request.query.exact || sampling.above_events == 0 {
        (None, 0)
    } else {
        let events = super::run::period_events(store, site, period, sampling).await?;
        (sampling.for_events(events), events)
    };
    let visits = (!request.query.filters.is_empty()).then(|| {
        let scope = Scope {
            site,
            period,
            tz,
            // The filters' visits of the same visitors.
            sample,
            goals: &goals,
            goal_groups: &[],
            with_engagement: false,
            revenue: None,
        };
        matching_visits(&request.query, scope)
    });
    let factor = sample.map_or(1, |s| s.denominator);
    let rows: Vec<StepRow> = statement(site, period, &steps, visits, sample)
        .query(store.reader())
        .fetch_all::<StepRow>()
        .await?
        .into_iter()
        .map(|r| StepRow {
            visitors: r.visitors.saturating_mul(factor),
            ..r
        })
        .collect();
    let all: u64 = rows.iter().map(|r| r.visitors).sum();
    let reached = |step: usize| -> u64 {
        rows.iter()
            .filter(|r| usize::from(r.step) >= step)
            .map(|r| r.visitors)
            .sum()
    };
    let entering = reached(1);
    let mut previous: Option<u64> = None;
    let mut answered = Vec::new();
    for (i, name) in funnel.steps.iter().enumerate() {
        let visitors = reached(i + 1);
        let dropoff = previous.map_or(0, |p| p - visitors);
        answered.push(json!({
            "label": name,
            "visitors": visitors,
            "dropoff": dropoff,
            "dropoff_percentage": previous.map_or(0.0, |p| percent(dropoff, p)),
            "conversion_rate": percent(visitors, entering),
            // Of the previous step (Plausible's 0 for the first).
            "conversion_rate_step": previous.map_or(0.0, |p| percent(visitors, p)),
        }));
        previous = Some(visitors);
    }
    let completed = previous.unwrap_or(0);
    let mut meta = json!({"date_range": [period.from.to_rfc3339(), period.to.to_rfc3339()]});
    if let Some(mut said) = super::run::sampling_meta(sample, events_in_period) {
        // As a breakdown's: of the first row's (the first step's) visitors.
        let first = reached(1) as f64;
        if let Some(margin) = sample.and_then(|s| s.visitors_margin(first)) {
            said["visitors_margin"] = json!((margin * 10_000.0).round() / 10_000.0);
        }
        meta["sampling"] = said;
    }
    Ok(json!({
        "funnel": funnel.name,
        "steps": answered,
        "all_visitors": all,
        "entering_visitors": entering,
        "entering_visitors_percentage": percent(entering, all),
        "never_entering_visitors": all - entering,
        "never_entering_visitors_percentage": percent(all - entering, all),
        "conversion_rate": percent(completed, entering),
        "meta": meta,
    }))
}
