//! `events` made again with granules of 1 024 rows (recorded as
//! [`VERSION`]), so that a sampled read of the events reads about what it
//! keeps.
//!
//! Why: `events` is keyed by (site, day, name, visitor, time) and sampled by
//! visitor, and ClickHouse reads whole granules. With its first 8 192-row
//! granules a sample read at least one granule per day and event name —
//! at 10 M events, `SAMPLE 1/53` over 90 days still read about a quarter of
//! the rows. `index_granularity` cannot be altered, so the table is made
//! again and its rows copied.
//!
//! Design and invariants:
//! - Nothing is lost. The rows are copied a month (partition) at a time into
//!   `events_next`, which then takes the name `events` (one `RENAME`); the
//!   old table stays as `events_old` until every row of it is in the new one.
//!   An insert that reached the old table after its month was copied (a
//!   second collector writing meanwhile) is found by its (month, `batch_id`)
//!   — a part is inserted whole, so a batch's rows of one month are all
//!   there or none — and copied after the rename; only then is the old
//!   table dropped. A run cut short is resumed: with the rename done, only
//!   the catch-up and the drop are left; before it, the copy starts again.
//!   Rows without a batch of their own (`seed-demo`'s, batch 0) inserted
//!   by another process during the copy are not told apart from those
//!   copied: seeding a database while it is migrated is not supported.
//! - The derived tables are derived again. The views are made again on the
//!   new table (a modern server's view follows the renamed old one), and
//!   `event_counts` and `visits` are then made from the events (what any
//!   insert made meanwhile through a missing or an old view is thereby
//!   righted): the caller runs `rollup::reconcile_all` and
//!   `visit_rollup::backfill` after [`run`].
//! - One server only. In cluster mode `events_local` is a replicated table
//!   per shard, which an `INSERT … SELECT` on one node cannot copy for every
//!   shard; a cluster keeps its granules (documented in docs/operations.md).

use super::migrate::{render, Target, MIGRATIONS};
use super::{Store, StoreError};

/// The version under which the rewrite is recorded in `schema_migrations`.
pub const VERSION: u32 = 21;
/// Its name there.
pub const NAME: &str = "events_granules";
/// Rows per granule of the new table.
pub const GRANULE_ROWS: u32 = 1_024;

/// The new table: `events`' columns as they are now (every migration's
/// columns), its partitions, key and sample, finer granules.
fn create_next(target: Target<'_>) -> String {
    let ttl = if target.ttl {
        format!(
            " TTL timestamp + INTERVAL {} MONTH",
            target.retention_months
        )
    } else {
        String::new()
    };
    format!(
        "CREATE TABLE {db}.events_next AS {db}.events ENGINE = MergeTree \
         PARTITION BY toYYYYMM(timestamp) \
         ORDER BY (site, toDate(timestamp), name, visitor_id, timestamp) \
         SAMPLE BY visitor_id{ttl} SETTINGS index_granularity = {GRANULE_ROWS}",
        db = target.database
    )
}

/// The views on `events`, as their migrations make them: each view's
/// name and the statement of the last migration that makes it.
fn views(target: Target<'_>) -> Vec<(String, String)> {
    let mut latest = std::collections::BTreeMap::new();
    for migration in MIGRATIONS {
        for statement in render(migration.sql, target) {
            if let Some(rest) = statement.strip_prefix("CREATE MATERIALIZED VIEW IF NOT EXISTS ") {
                let name = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                latest.insert(name, statement);
            }
        }
    }
    latest.into_iter().collect()
}

/// The copy: the new table made, each month's rows copied, the names
/// swapped.
pub fn copy_statements(target: Target<'_>, partitions: &[u32]) -> Vec<String> {
    let db = target.database;
    let mut out = vec![
        format!("DROP TABLE IF EXISTS {db}.events_next"),
        create_next(target),
    ];
    out.extend(partitions.iter().map(|p| {
        format!("INSERT INTO {db}.events_next SELECT * FROM {db}.events WHERE toYYYYMM(timestamp) = {p}")
    }));
    out.push(format!(
        "RENAME TABLE {db}.events TO {db}.events_old, {db}.events_next TO {db}.events"
    ));
    out
}

/// Every view on the events dropped and made again (on the new table).
pub fn view_statements(target: Target<'_>) -> Vec<String> {
    views(target)
        .into_iter()
        .flat_map(|(name, view)| [format!("DROP TABLE IF EXISTS {name}"), view])
        .collect()
}

/// The rows of the old table whose (month, batch) the new one lacks.
fn missing(db: &str) -> String {
    format!(
        "FROM {db}.events_old WHERE (toYYYYMM(timestamp), batch_id) NOT IN \
         (SELECT toYYYYMM(timestamp), batch_id FROM {db}.events GROUP BY toYYYYMM(timestamp), batch_id)"
    )
}

/// Copies what only the old table holds into the new one.
pub fn catch_up_statement(db: &str) -> String {
    format!("INSERT INTO {db}.events SELECT * {}", missing(db))
}

/// Counts what only the old table holds (0 once caught up).
pub fn left_statement(db: &str) -> String {
    format!("SELECT count() {}", missing(db))
}

async fn exists(store: &Store, table: &str) -> Result<bool, StoreError> {
    let found: u64 = store
        .client()
        .query("SELECT count() FROM system.tables WHERE database = ? AND name = ?")
        .bind(store.database())
        .bind(table)
        .fetch_one()
        .await?;
    Ok(found > 0)
}

/// Whether a table's statement has the fine granules.
fn is_fine(create: &str) -> bool {
    create.contains(&format!("index_granularity = {GRANULE_ROWS}"))
}

/// Makes `events` again with fine granules on one server (see the module
/// comment); does nothing in cluster mode. The caller derives the derived
/// tables again afterwards.
pub async fn run(store: &Store, target: Target<'_>) -> Result<(), StoreError> {
    if store.cluster().is_some() {
        return Ok(());
    }
    let client = store.client();
    let db = target.database;
    if !exists(store, "events").await? && exists(store, "events_next").await? {
        // Cut short between the rename's two steps: the copy was whole.
        client
            .query(&format!("RENAME TABLE {db}.events_next TO {db}.events"))
            .execute()
            .await?;
    }
    let current: String = client.query("SHOW CREATE TABLE events").fetch_one().await?;
    if !is_fine(&current) {
        let partitions: Vec<u32> = client
            .query("SELECT DISTINCT toUInt32(partition) AS p FROM system.parts WHERE database = ? AND table = 'events' AND active ORDER BY p")
            .bind(db)
            .fetch_all()
            .await?;
        let statements = copy_statements(target, &partitions);
        let count = statements.len();
        for (i, statement) in statements.iter().enumerate() {
            client.query(statement).execute().await?;
            tracing::info!(step = i + 1, of = count, "events made again");
        }
    }
    // The views on the new table (a modern server's follow the old one).
    for statement in view_statements(target) {
        client.query(&statement).execute().await?;
    }
    if exists(store, "events_old").await? {
        client.query(&catch_up_statement(db)).execute().await?;
        let left: u64 = client.query(&left_statement(db)).fetch_one().await?;
        if left > 0 {
            return Err(StoreError::EventsCopy { left });
        }
        client
            .query(&format!("DROP TABLE {db}.events_old"))
            .execute()
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ttl: bool) -> Target<'static> {
        Target {
            database: "sm",
            low_cardinality: ttl,
            ttl,
            retention_months: 13,
            sync_drop: ttl,
            cluster: None,
        }
    }

    #[test]
    fn the_new_table_keeps_the_key_and_the_ttl() {
        let old = create_next(target(false));
        assert!(old.starts_with("CREATE TABLE sm.events_next AS sm.events ENGINE = MergeTree"));
        assert!(old.contains("ORDER BY (site, toDate(timestamp), name, visitor_id, timestamp)"));
        assert!(!old.contains("TTL") && is_fine(&old));
        assert!(create_next(target(true)).contains(" TTL timestamp + INTERVAL 13 MONTH SETTINGS"));
    }

    #[test]
    fn every_view_on_the_events_is_made_again_in_its_last_form() {
        let views = views(target(false));
        assert_eq!(views.len(), 2, "{views:?}");
        assert_eq!(views[0].0, "sm.event_counts_mv");
        assert!(views[0]
            .1
            .starts_with("CREATE MATERIALIZED VIEW IF NOT EXISTS sm.event_counts_mv "));
        assert_eq!(views[1].0, "sm.visits_mv");
        assert!(views[1]
            .1
            .starts_with("CREATE MATERIALIZED VIEW IF NOT EXISTS sm.visits_mv "));
        assert!(views.iter().all(|(_, v)| v.contains("FROM sm.events")));
    }
}
