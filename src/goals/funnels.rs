//! Funnels: two to eight of a site's goals in order. A visit goes through a
//! funnel's steps when it meets each step's goal after the previous one's
//! (`query::funnel` counts them). Kept in ClickHouse (`schema/0013_funnels.sql`)
//! like goals: append-only rows, the latest per name wins, read per
//! question so every collector agrees.

use chrono::{DateTime, Utc};

use super::{stored, GoalError};
use crate::store::Store;

/// Fewest and most steps (Plausible's limits).
pub const MIN_STEPS: usize = 2;
/// See [`MIN_STEPS`].
pub const MAX_STEPS: usize = 8;

/// A funnel of a site.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Funnel {
    /// Its name, unique per site.
    pub name: String,
    /// The goals' display names, in order.
    pub steps: Vec<String>,
}

#[derive(clickhouse::Row, serde::Serialize)]
struct FunnelRow {
    site: String,
    name: String,
    steps: Vec<String>,
    created: u64,
    removed: u8,
    version: u64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Listed {
    f_name: String,
    f_steps: Vec<String>,
}

fn micros(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp_micros()).unwrap_or(0)
}

/// The site's funnels, in the order they were added.
pub async fn list(store: &Store, site: &str) -> Result<Vec<Funnel>, GoalError> {
    let rows: Vec<Listed> = store
        .client()
        .query(
            "SELECT name AS f_name, argMax(steps, version) AS f_steps FROM funnels \
             WHERE site = ? GROUP BY name HAVING argMax(removed, version) = 0 \
             ORDER BY argMax(created, version), f_name",
        )
        .bind(site)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Funnel {
            name: r.f_name,
            steps: r.f_steps,
        })
        .collect())
}

/// The site's funnel named `name`, if any.
pub async fn get(store: &Store, site: &str, name: &str) -> Result<Option<Funnel>, GoalError> {
    Ok(list(store, site)
        .await?
        .into_iter()
        .find(|f| f.name == name))
}

/// Adds a funnel: a new name, 2–8 steps, each an existing goal of the
/// site, no goal twice.
pub async fn add(
    store: &Store,
    site: &str,
    name: &str,
    steps: &[String],
    now: DateTime<Utc>,
) -> Result<Funnel, GoalError> {
    let site = crate::config::normalise_site(site);
    let name = name.trim();
    let invalid = |field: &'static str, message: String| GoalError::Invalid { field, message };
    if name.is_empty() || name.chars().count() > super::MAX_TEXT {
        return Err(invalid("--name", "a name of 1 to 2,000 characters".into()));
    }
    if !(MIN_STEPS..=MAX_STEPS).contains(&steps.len()) {
        return Err(invalid(
            "--step",
            format!(
                "a funnel has {MIN_STEPS} to {MAX_STEPS} steps, not {}",
                steps.len()
            ),
        ));
    }
    let goals = stored::list(store, &site).await?;
    for (i, step) in steps.iter().enumerate() {
        if !goals.iter().any(|g| &g.display_name == step) {
            return Err(invalid(
                "--step",
                format!("{site} has no goal {step:?} (add it with `saltmark goals add`)"),
            ));
        }
        if steps[..i].contains(step) {
            return Err(invalid("--step", format!("{step:?} is a step twice")));
        }
    }
    if get(store, &site, name).await?.is_some() {
        return Err(GoalError::Exists {
            site,
            what: "funnel",
            existing: name.to_string(),
        });
    }
    let version = micros(now);
    let row = FunnelRow {
        site,
        name: name.to_string(),
        steps: steps.to_vec(),
        created: version,
        removed: 0,
        version,
    };
    append(store, &row).await?;
    Ok(Funnel {
        name: row.name,
        steps: row.steps,
    })
}

/// Removes the funnel `name`; false when the site has none.
pub async fn remove(
    store: &Store,
    site: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<bool, GoalError> {
    let site = crate::config::normalise_site(site);
    let Some(funnel) = get(store, &site, name).await? else {
        return Ok(false);
    };
    let version = micros(now);
    let row = FunnelRow {
        site,
        name: funnel.name,
        steps: funnel.steps,
        created: version,
        removed: 1,
        version,
    };
    append(store, &row).await?;
    Ok(true)
}

/// Removes every funnel of `site` (its erasure).
pub async fn remove_all(store: &Store, site: &str, now: DateTime<Utc>) -> Result<usize, GoalError> {
    let funnels = list(store, site).await?;
    for funnel in &funnels {
        remove(store, site, &funnel.name, now).await?;
    }
    Ok(funnels.len())
}

async fn append(store: &Store, row: &FunnelRow) -> Result<(), GoalError> {
    let mut insert = store.client().insert::<FunnelRow>("funnels").await?;
    insert.write(row).await?;
    insert.end().await?;
    Ok(())
}
