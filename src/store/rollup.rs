//! Derived counts: what ClickHouse keeps from `events` so that sizing a
//! question need not read every event: `event_counts`, events per site,
//! hour and name. (The per-visit table `visits`, which answers questions,
//! is `super::visit_rollup`.)
//!
//! Design and invariants:
//! - `events` is the single source of truth. `event_counts` is filled by a
//!   materialised view on `events` (`schema/0009_event_counts.sql`), so every
//!   write path — ingest, spool replay, `seed-demo`, imports, each shard of
//!   a cluster — keeps it without code of its own.
//! - Invariant: for every (site, hour, name), `sum(events)` in
//!   `event_counts` equals `count()` of those events in `events`.
//! - A view sees inserts only. Where events are deleted — the expiry job,
//!   a site erasure, a visitor erasure, all through
//!   `retention::expiry::delete_where` — [`affected_hours`] is read before
//!   the delete and [`reconcile`] after it: for each of those hours it
//!   inserts the difference between what `events` holds and what
//!   `event_counts` sums (an `Int64` row, negative for removed events).
//!   The expiry's whole-month partition drops are corrected the same way
//!   (one mechanism, on one server and on a cluster alike).
//!   Then [`compact`] merges the touched partitions, and the
//!   SummingMergeTree drops every row that sums to zero: nothing of an
//!   erased site or an expired hour is left on disk, not only in answers.
//! - Rows stored before the table existed are counted by the same
//!   [`reconcile`] over everything, once, after the migration
//!   ([`BACKFILL_VERSION`]); it is idempotent (a second run finds no
//!   difference), so a collector stopped in the middle redoes it.
//! - An insert that lands while a reconcile reads both tables may be
//!   counted on one side only; the next reconcile of that hour corrects it.
//!   The table drives only cheap decisions (how large a period is, whether
//!   to sample it), never a reported figure, so such a moment's difference
//!   cannot reach an answer.
//! - It holds no visitor or visit identifier, and no page: nothing a
//!   visitor erasure must find, beyond the counts it corrects.

use std::collections::BTreeMap;

use super::sql::{Param, Sql};
use super::{Store, StoreError};

/// The version under which the backfill is recorded in `schema_migrations`.
pub const BACKFILL_VERSION: u32 = 10;
/// Its name there.
pub const BACKFILL_NAME: &str = "event_counts_backfill";

/// The hours (unix seconds of their start) of each site's events matching
/// `predicate`: what a delete with that predicate changes.
pub async fn affected_hours(
    store: &Store,
    predicate: &Sql,
) -> Result<BTreeMap<String, Vec<u64>>, StoreError> {
    let rows: Vec<SiteHours> = affected_hours_statement(predicate)
        .query(store.client())
        .fetch_all()
        .await?;
    Ok(rows.into_iter().map(|r| (r.site, r.hours)).collect())
}

/// The statement of [`affected_hours`].
pub fn affected_hours_statement(predicate: &Sql) -> Sql {
    let mut sql = Sql::raw(
        "SELECT toString(site) AS site, groupUniqArray(toUInt64(toUInt32(toStartOfHour(timestamp)))) AS hours \
         FROM events WHERE ",
    );
    sql.push(predicate.clone());
    sql.text.push_str(" GROUP BY site");
    sql
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct SiteHours {
    site: String,
    hours: Vec<u64>,
}

/// The statement that makes `event_counts` agree with `events` for the
/// rows `scope` selects: a condition on `site` and on the hour, written
/// over the hour expression it is given (`hour` in `event_counts`, the
/// event's hour in `events`).
/// Deltas go to `target`, this node's storage table (`event_counts_local`
/// in cluster mode: a sum over the Distributed table adds every shard's
/// rows, wherever a correction lives).
pub fn reconcile_statement(target: &str, scope: &dyn Fn(&str) -> Sql) -> Sql {
    let mut sql = Sql::raw(format!(
        "INSERT INTO {target} (site, hour, name, events) \
         SELECT site, hour, name, stored - counted FROM (\
         SELECT site, toStartOfHour(timestamp) AS hour, name, toInt64(count()) AS stored FROM events WHERE "
    ));
    sql.push(scope("toStartOfHour(timestamp)"));
    sql.text.push_str(
        " GROUP BY site, hour, name) AS stored_rows ALL FULL OUTER JOIN (\
         SELECT site, hour, name, toInt64(sum(events)) AS counted FROM event_counts WHERE ",
    );
    sql.push(scope("hour"));
    sql.text
        .push_str(" GROUP BY site, hour, name) AS counted_rows USING (site, hour, name) WHERE stored != counted");
    sql
}

/// Makes `event_counts` agree with `events` for these hours of these sites.
pub async fn reconcile(
    store: &Store,
    hours: &BTreeMap<String, Vec<u64>>,
) -> Result<(), StoreError> {
    for (site, site_hours) in hours {
        for chunk in site_hours.chunks(5_000) {
            let scope = |hour: &str| {
                Sql::new(
                    format!("site = ? AND has(?, toUInt64(toUInt32({hour})))"),
                    vec![Param::Str(site.clone()), Param::U64s(chunk.to_vec())],
                )
            };
            reconcile_statement(&store.storage_of("event_counts"), &scope)
                .query(store.client())
                .execute()
                .await?;
        }
    }
    Ok(())
}

/// Makes `event_counts` agree with `events` everywhere (the backfill).
pub async fn reconcile_all(store: &Store) -> Result<(), StoreError> {
    reconcile_statement(&store.storage_of("event_counts"), &|_: &str| Sql::raw("1"))
        .query(store.client())
        .execute()
        .await?;
    Ok(())
}

/// Merges the partitions of these hours, so that rows summing to zero are
/// gone from disk. In cluster mode each node merges its own parts in the
/// background instead (18.16 has no `OPTIMIZE … ON CLUSTER`).
pub async fn compact(store: &Store, hours: &BTreeMap<String, Vec<u64>>) -> Result<(), StoreError> {
    if store.cluster().is_some() {
        return Ok(());
    }
    let mut partitions: Vec<u32> = hours
        .values()
        .flatten()
        .filter_map(|secs| chrono::DateTime::from_timestamp(*secs as i64, 0))
        .map(|t| {
            use chrono::Datelike;
            t.year() as u32 * 100 + t.month()
        })
        .collect();
    partitions.sort_unstable();
    partitions.dedup();
    for partition in partitions {
        store
            .client()
            .query("OPTIMIZE TABLE event_counts PARTITION ? FINAL")
            .bind(partition)
            .execute()
            .await?;
    }
    Ok(())
}

/// The events of `site` in [from, to) as `event_counts` sums them (whole
/// hours: an hour the period only partly covers counts whole). Read with
/// the stats path's read-only client.
pub async fn events_between(
    store: &Store,
    site: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    Ok(events_between_statement(site, from, to)
        .query(store.reader())
        .fetch_one::<u64>()
        .await?)
}

/// The statement of [`events_between`].
pub fn events_between_statement(
    site: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Sql {
    Sql::new(
        "SELECT toUInt64(greatest(sum(events), 0)) AS n FROM event_counts \
         WHERE site = ? AND hour >= toStartOfHour(toDateTime(?)) AND hour < toDateTime(?)",
        vec![
            Param::Str(site.to_string()),
            Param::time(from),
            Param::time(to),
        ],
    )
}
