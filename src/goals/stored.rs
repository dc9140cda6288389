//! Goals in ClickHouse (`schema/0012_goals.sql`): adding and removing
//! append a row, and a goal's state is its row with the highest `version`,
//! so every collector of a database reads the same goals and nothing is
//! updated in place. A site's goals are read per question that needs them:
//! a few rows by the table's key, so a goal added with the CLI counts on
//! every collector at once.

use chrono::{DateTime, Utc};

use super::{Goal, GoalError, GoalKind};
use crate::store::Store;

#[derive(clickhouse::Row, serde::Serialize)]
struct GoalRow {
    site: String,
    display_name: String,
    event_name: String,
    page_path: String,
    scroll_threshold: i16,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
    currency: String,
    created: u64,
    removed: u8,
    version: u64,
}

impl GoalRow {
    fn of(site: &str, goal: &Goal, created: u64, removed: bool, version: u64) -> GoalRow {
        let (event_name, page_path, scroll_threshold) = match &goal.kind {
            GoalKind::Event { name } => (name.clone(), String::new(), -1),
            GoalKind::Page { path } => (String::new(), path.clone(), -1),
            GoalKind::Scroll { path, threshold } => {
                (String::new(), path.clone(), i16::from(*threshold))
            }
        };
        GoalRow {
            site: site.to_string(),
            display_name: goal.display_name.clone(),
            event_name,
            page_path,
            scroll_threshold,
            prop_keys: goal.props.iter().map(|(k, _)| k.clone()).collect(),
            prop_values: goal.props.iter().map(|(_, v)| v.clone()).collect(),
            currency: goal.currency.clone().unwrap_or_default(),
            created,
            removed: u8::from(removed),
            version,
        }
    }

    fn goal(self) -> Goal {
        let kind = if !self.event_name.is_empty() {
            GoalKind::Event {
                name: self.event_name,
            }
        } else if self.scroll_threshold >= 0 {
            GoalKind::Scroll {
                path: self.page_path,
                threshold: self.scroll_threshold.clamp(0, 100) as u8,
            }
        } else {
            GoalKind::Page {
                path: self.page_path,
            }
        };
        Goal {
            display_name: self.display_name,
            kind,
            props: self.prop_keys.into_iter().zip(self.prop_values).collect(),
            currency: (!self.currency.is_empty()).then_some(self.currency),
        }
    }
}

/// Microseconds since 1970: a goal row's version and creation time.
fn micros(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp_micros()).unwrap_or(0)
}

/// A goal's latest row, as [`list`] reads it (aliases differ from the
/// columns: an alias named like a column would stand for it inside the
/// other aggregates).
#[derive(clickhouse::Row, serde::Deserialize)]
struct Listed {
    g_name: String,
    g_event: String,
    g_page: String,
    g_scroll: i16,
    g_keys: Vec<String>,
    g_values: Vec<String>,
    g_currency: String,
}

/// The site's goals, in the order they were added.
pub async fn list(store: &Store, site: &str) -> Result<Vec<Goal>, GoalError> {
    let rows: Vec<Listed> = store
        .client()
        .query(
            "SELECT display_name AS g_name, argMax(event_name, version) AS g_event, \
             argMax(page_path, version) AS g_page, argMax(scroll_threshold, version) AS g_scroll, \
             argMax(prop_keys, version) AS g_keys, argMax(prop_values, version) AS g_values, \
             argMax(currency, version) AS g_currency \
             FROM goals WHERE site = ? GROUP BY display_name \
             HAVING argMax(removed, version) = 0 ORDER BY argMax(created, version), g_name",
        )
        .bind(site)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            GoalRow {
                site: site.to_string(),
                display_name: r.g_name,
                event_name: r.g_event,
                page_path: r.g_page,
                scroll_threshold: r.g_scroll,
                prop_keys: r.g_keys,
                prop_values: r.g_values,
                currency: r.g_currency,
                created: 0,
                removed: 0,
                version: 0,
            }
            .goal()
        })
        .collect())
}

/// Adds `goal` to `site`; refused when the site has a goal of that name or
/// of the same definition.
pub async fn add(
    store: &Store,
    site: &str,
    goal: &Goal,
    now: DateTime<Utc>,
) -> Result<(), GoalError> {
    let site = crate::config::normalise_site(site);
    if site.is_empty() {
        return Err(GoalError::Invalid {
            field: "--site",
            message: "required".into(),
        });
    }
    if let Some(existing) = list(store, &site)
        .await?
        .into_iter()
        .find(|g| g.display_name == goal.display_name || g.same_definition(goal))
    {
        return Err(GoalError::Exists {
            site,
            what: "goal",
            existing: existing.display_name,
        });
    }
    let version = micros(now);
    append(store, &GoalRow::of(&site, goal, version, false, version)).await
}

/// Removes the goal named `display_name`; false when the site has none.
/// A goal that is a funnel's step stays until the funnel is removed.
pub async fn remove(
    store: &Store,
    site: &str,
    display_name: &str,
    now: DateTime<Utc>,
) -> Result<bool, GoalError> {
    let site = crate::config::normalise_site(site);
    let Some(goal) = list(store, &site)
        .await?
        .into_iter()
        .find(|g| g.display_name == display_name)
    else {
        return Ok(false);
    };
    if let Some(funnel) = super::funnels::list(store, &site)
        .await?
        .into_iter()
        .find(|f| f.steps.iter().any(|s| s == display_name))
    {
        return Err(GoalError::Invalid {
            field: "--name",
            message: format!(
                "{display_name:?} is a step of the funnel {:?}; remove the funnel first",
                funnel.name
            ),
        });
    }
    let version = micros(now);
    append(store, &GoalRow::of(&site, &goal, version, true, version)).await?;
    Ok(true)
}

/// Removes every funnel and goal of `site` (its erasure); returns how many
/// goals there were.
pub async fn remove_all(store: &Store, site: &str, now: DateTime<Utc>) -> Result<usize, GoalError> {
    super::funnels::remove_all(store, site, now).await?;
    let goals = list(store, site).await?;
    let version = micros(now);
    for goal in &goals {
        append(store, &GoalRow::of(site, goal, version, true, version)).await?;
    }
    Ok(goals.len())
}

async fn append(store: &Store, row: &GoalRow) -> Result<(), GoalError> {
    let mut insert = store.client().insert::<GoalRow>("goals").await?;
    insert.write(row).await?;
    insert.end().await?;
    Ok(())
}
