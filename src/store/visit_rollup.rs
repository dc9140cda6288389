//! The per-visit derived table `visits`: what a visit question merges
//! instead of regrouping the visit's events.
//!
//! Design and invariants:
//! - One row per (site, hour, visitor, visit) with events of the visit in
//!   that hour (engagement rows left out), holding aggregate states: page
//!   views and events counted, the first and last time seen, the page of
//!   each page view and of each other event (so a page filter can count the
//!   matching ones), and every visit
//!   attribute as `query::vocabulary::VisitAttr::aggregate` takes it from the
//!   visit's events (entry and exit page from the first and last page view,
//!   the rest from the first event, a page view first within a second).
//!   Merging a visit's rows over whole hours gives exactly what the raw
//!   query computes from that visit's events in those hours; the query
//!   builder reads it only for periods made of whole hours (see
//!   `query::derived`).
//! - `events` is the single source of truth. The table is filled by a
//!   materialised view on `events` (`schema/0017_visits.sql`, made again
//!   with finer granules by `schema/0019_visits_granules.sql`), so every
//!   write path — ingest, spool replay, `seed-demo`, imports, each shard of
//!   a cluster — keeps it without code of its own. [`STATES`] is the view's
//!   select list, kept here for the statements that remake rows from the
//!   events (a unit test holds the two equal).
//! - The key puts the visitor right after the day, and granules hold 256
//!   rows: `SAMPLE 1/n` keeps a range of visitor ids within each day and
//!   ClickHouse reads whole granules, so small granules make a sample read
//!   about what it keeps (with the default 8 192 a day was a few granules).
//! - A view sees inserts only. Where events are deleted, the table follows
//!   ([`Mirror`]): a delete that takes whole visits (a site erasure, a
//!   visitor erasure from an hour's start on) is applied to `visits` with the
//!   same condition; any other (the expiry's boundary, an insert whose
//!   outcome was unclear) remakes the touched hours: their rows are
//!   deleted, and once no such row is left, made again from the events
//!   left. A dropped month is dropped here too.
//! - A remake of an hour that other writers insert into at that moment may
//!   count their new events twice (they reach `visits` through the view and
//!   again through the remake). Remakes touch old hours (expiry) or a
//!   writer's own batch, which that writer does not insert into meanwhile;
//!   erasures use the same-condition delete, which cannot race.
//! - The rows stored before the table existed are added once after the
//!   migration ([`backfill`], recorded as [`BACKFILL_VERSION`]): it empties
//!   the table and fills it from every event, so a collector stopped in the
//!   middle does it again from the start.

use std::collections::BTreeMap;
use std::time::Duration;

use super::sql::{Param, Sql};
use super::{Store, StoreError};

/// The version under which the backfill is recorded in `schema_migrations`.
pub const BACKFILL_VERSION: u32 = 18;
/// Its name there.
pub const BACKFILL_NAME: &str = "visits_backfill";
/// The version under which the rows are made again after the table was
/// made again with finer granules (`schema/0019_visits_granules.sql`).
pub const REBUILD_VERSION: u32 = 20;
/// Its name there.
pub const REBUILD_NAME: &str = "visits_rebuild";

/// The view's select list: a visit's states from its events (see the
/// module comment), grouped by [`GROUP_BY`].
pub const STATES: &str = "site, toStartOfHour(timestamp) AS hour, visitor_id, session_id,
    sumState(toUInt64(name = 'pageview')) AS pageviews,
    sumState(toUInt64(1)) AS events,
    minState(timestamp) AS first_seen,
    maxState(timestamp) AS last_seen,
    groupArrayIfState(CAST(pathname AS String), name = 'pageview') AS page_paths,
    groupArrayIfState(CAST(pathname AS String), name != 'pageview') AS other_paths,
    argMinIfState(CAST(pathname AS String), timestamp, name = 'pageview') AS s_entry_page,
    argMaxIfState(CAST(pathname AS String), timestamp, name = 'pageview') AS s_exit_page,
    argMinIfState(CAST(hostname AS String), timestamp, name = 'pageview') AS s_entry_hostname,
    argMaxIfState(CAST(hostname AS String), timestamp, name = 'pageview') AS s_exit_hostname,
    argMinState(CAST(referrer_source AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_referrer_source,
    argMinState(CAST(referrer AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_referrer,
    argMinState(CAST(utm_source AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_source,
    argMinState(CAST(utm_medium AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_medium,
    argMinState(CAST(utm_campaign AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_campaign,
    argMinState(CAST(utm_content AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_content,
    argMinState(CAST(utm_term AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_utm_term,
    argMinState(CAST(country_code AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_country_code,
    argMinState(CAST(region_code AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_region_code,
    argMinState(CAST(region AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_region,
    argMinState(CAST(city AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_city,
    argMinState(CAST(channel AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_channel,
    argMinState(CAST(browser AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_browser,
    argMinState(CAST(browser_version AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_browser_version,
    argMinState(CAST(os AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_os,
    argMinState(CAST(os_version AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_os_version,
    argMinState(CAST(device AS String), toUInt64(timestamp) * 2 + (name != 'pageview')) AS s_device";

/// The column holding an attribute's state: `s_…` beside the query's
/// `v_…` for its merged value (an alias may not be a column's name when
/// the same SELECT reads both).
pub fn state_column(attr: crate::query::vocabulary::VisitAttr) -> String {
    let alias = attr.alias();
    format!("s_{}", alias.strip_prefix("v_").unwrap_or(&alias))
}

/// The view's grouping.
pub const GROUP_BY: &str = "site, hour, visitor_id, session_id";

/// How `visits` follows a delete of events.
#[derive(Debug, Clone)]
pub enum Mirror {
    /// The delete takes whole visit-hours: the same rows go, chosen by this
    /// condition over `visits`' columns (`site`, `hour`, `visitor_id`,
    /// `session_id`).
    Same(Sql),
    /// Remake the touched hours from the events left, except for these
    /// sites, whose every row goes (sites being erased: nothing of them is
    /// made again, whatever arrives meanwhile).
    Remake {
        /// Sites erased whole by the delete.
        erased_sites: Vec<String>,
    },
}

impl Mirror {
    /// Makes `visits` follow a delete of events that touched `hours` (per
    /// site, read before the delete).
    pub async fn follow(
        &self,
        store: &Store,
        hours: &BTreeMap<String, Vec<u64>>,
        limit: Duration,
    ) -> Result<(), StoreError> {
        match self {
            Mirror::Same(predicate) => delete(store, predicate, limit).await,
            Mirror::Remake { erased_sites } => {
                if !erased_sites.is_empty() {
                    delete(store, &Sql::has_str(erased_sites, "site"), limit).await?;
                }
                let others: BTreeMap<String, Vec<u64>> = hours
                    .iter()
                    .filter(|(site, _)| !erased_sites.contains(site))
                    .map(|(site, hours)| (site.clone(), hours.clone()))
                    .collect();
                remake(store, &others, None, limit).await
            }
        }
    }
}

/// The statement that makes `visits` rows again from the events `scope`
/// selects (a condition over `events`' columns), into `target` (`visits`,
/// the Distributed table in cluster mode, which places each visitor's rows
/// on its events' shard).
pub fn remake_statement(scope: &Sql) -> Sql {
    let mut sql = Sql::raw(format!(
        "INSERT INTO visits SELECT {STATES} FROM events WHERE name != 'engagement' AND ("
    ));
    sql.push(scope.clone());
    sql.text.push_str(&format!(") GROUP BY {GROUP_BY}"));
    sql
}

/// The condition on a site's hours (unix seconds of their start), over the
/// hour expression given.
fn in_hours(site: &str, hours: &[u64], hour: &str) -> Sql {
    Sql::new(
        format!("site = ? AND has(?, toUInt64(toUInt32({hour})))"),
        vec![Param::Str(site.to_string()), Param::U64s(hours.to_vec())],
    )
}

/// Makes the rows of these hours of these sites again from the events
/// (a [`Mirror::Remake`]), optionally only those of the visits `sessions`
/// names (an insert whose outcome was unclear touches only its own visits).
pub async fn remake(
    store: &Store,
    hours: &BTreeMap<String, Vec<u64>>,
    sessions: Option<&[u64]>,
    limit: Duration,
) -> Result<(), StoreError> {
    for (site, site_hours) in hours {
        // A day's hours per statement (see `backfill`: memory).
        for chunk in site_hours.chunks(24) {
            let scope = |hour: &str| {
                let mut scope = in_hours(site, chunk, hour);
                if let Some(sessions) = sessions {
                    scope.text.push_str(" AND ");
                    scope.push(Sql::has_u64(sessions, "session_id"));
                }
                scope
            };
            delete(store, &scope("hour"), limit).await?;
            remake_statement(&scope("toStartOfHour(timestamp)"))
                .query(store.client())
                .execute()
                .await?;
        }
    }
    Ok(())
}

/// Deletes the rows `predicate` selects and waits until none is left (on
/// every shard, in cluster mode). Nothing to delete, no delete: on 18.16 a
/// delete rewrites every part of the table.
pub async fn delete(store: &Store, predicate: &Sql, limit: Duration) -> Result<(), StoreError> {
    if count(store, predicate).await? == 0 {
        return Ok(());
    }
    let mut sql = Sql::raw(store.delete_where_prefix(&store.storage_of("visits")));
    sql.push(predicate.clone());
    sql.query(store.client()).execute().await?;
    let deadline = tokio::time::Instant::now() + limit;
    while count(store, predicate).await? > 0 {
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Timeout("the delete of derived visit rows"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Rows of `visits` that `predicate` selects.
async fn count(store: &Store, predicate: &Sql) -> Result<u64, StoreError> {
    let mut sql = Sql::raw("SELECT count() AS n FROM visits WHERE ");
    sql.push(predicate.clone());
    Ok(sql.query(store.client()).fetch_one::<u64>().await?)
}

/// The rows of `site` in [from, to) (whole hours, as
/// [`super::rollup::events_between`] counts them: an hour the period only
/// partly covers counts whole): what a question over that period merges.
/// Read with the stats path's read-only client.
pub async fn rows_between(
    store: &Store,
    site: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    Ok(rows_between_statement(site, from, to)
        .query(store.reader())
        .fetch_one::<u64>()
        .await?)
}

/// The statement of [`rows_between`].
pub fn rows_between_statement(
    site: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Sql {
    Sql::new(
        "SELECT count() AS n FROM visits \
         WHERE site = ? AND hour >= toStartOfHour(toDateTime(?)) AND hour < toDateTime(?)",
        vec![
            Param::Str(site.to_string()),
            Param::time(from),
            Param::time(to),
        ],
    )
}

/// Drops a month's partition (the expiry's whole months).
pub async fn drop_month(store: &Store, partition: u32) -> Result<(), StoreError> {
    store
        .client()
        .query(&format!(
            "ALTER TABLE {}{} DROP PARTITION ?",
            store.storage_of("visits"),
            store.on_cluster()
        ))
        .bind(partition)
        .execute()
        .await?;
    Ok(())
}

/// Fills the table from every event stored (once, after the migration):
/// whatever a cut-short earlier run left is deleted first. One statement
/// per day of events: a whole table's visits grouped at once need more
/// memory than a server gives one query (at 16 M rows, over 4 GB), a day's
/// a few hundred megabytes at most. Days are whole UTC days (whole hours
/// on every server whose zone is whole hours from UTC, as the view's).
pub async fn backfill(store: &Store) -> Result<(), StoreError> {
    delete(store, &Sql::raw("1"), Duration::from_secs(3_600)).await?;
    let days: Vec<u32> = store
        .client()
        .query(
            "SELECT DISTINCT intDiv(toUInt32(timestamp), 86400) * 86400 AS day FROM events ORDER BY day",
        )
        .fetch_all()
        .await?;
    for (i, day) in days.iter().enumerate() {
        remake_statement(&Sql::new(
            "timestamp >= toDateTime(?) AND timestamp < toDateTime(?)",
            vec![Param::Time(*day), Param::Time(day.saturating_add(86_400))],
        ))
        .query(store.client())
        .execute()
        .await?;
        if (i + 1) % 30 == 0 {
            tracing::info!(days = i + 1, of = days.len(), "visits backfilled");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view and the remakes compute the same states.
    #[test]
    fn the_views_select_list_is_the_remakes() {
        // The view as the last migration that makes it has it.
        let migration = include_str!("../../schema/0019_visits_granules.sql");
        let view = migration
            .split("AS\nSELECT ")
            .nth(1)
            .expect("the view's select");
        let (list, rest) = view.split_once("\nFROM {{db}}.events").expect("its FROM");
        assert_eq!(list, STATES);
        assert!(rest.contains("WHERE name != 'engagement'"));
        assert!(rest.contains(&format!("GROUP BY {GROUP_BY}")));
    }

    /// Every visit attribute the query can ask for has its state, computed
    /// as the raw query computes it.
    #[test]
    fn every_visit_attribute_has_its_state() {
        use crate::query::vocabulary::VisitAttr;
        for attr in VisitAttr::all() {
            let aggregate = attr.aggregate();
            let (function, args) = aggregate.split_once('(').expect("a function");
            let column = attr.column();
            let cast = args.replacen(column, &format!("CAST({column} AS String)"), 1);
            let state = format!("{function}State({cast} AS {}", state_column(attr));
            assert!(STATES.contains(&state), "{state} is in the view");
        }
    }

    #[test]
    fn a_remake_reads_only_its_scope() {
        let sql = remake_statement(&in_hours("a.example", &[3600], "toStartOfHour(timestamp)"));
        assert!(sql.text.starts_with("INSERT INTO visits SELECT site,"));
        assert!(sql
            .text
            .contains("WHERE name != 'engagement' AND (site = ? AND has(?"));
        assert!(sql.text.ends_with(&format!("GROUP BY {GROUP_BY}")));
    }
}
