//! Numbered schema migrations from `schema/`, applied in order and recorded.
//!
//! Every migration is written with `IF NOT EXISTS`, and applied versions are
//! recorded in `schema_migrations`, so running `migrate` twice, or from two
//! collectors at once, is harmless. The SQL is templated for the server
//! generation (see [`render`]): modern servers get LowCardinality and TTL,
//! 18.16 gets plain types and relies on the expiry job.
//!
//! Cluster mode (`clickhouse.cluster`): every statement runs `ON CLUSTER`.
//! The event rows live in `events_local`, a ReplicatedMergeTree per shard
//! (`/clickhouse/tables/{shard}/<db>/events_local`, replica `{replica}` —
//! the servers' macros), under a Distributed table named `events` that
//! shards by `visitor_id` (a visitor's rows share a shard, and visitor_id is
//! already a uniform hash). Every other table (salts, keys, locks, erasure
//! requests, dashboard users…) is small and needed everywhere, so it is one
//! ReplicatedMergeTree dataset with *every* node as a replica
//! (`/clickhouse/tables/all/<db>/<table>`). The templates stay single-node
//! SQL; [`render`] rewrites them.

use super::{Store, StoreError};

/// A migration compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Order of application.
    pub version: u32,
    /// File name without the number.
    pub name: &'static str,
    /// The template.
    pub sql: &'static str,
}

/// One entry of [`MIGRATIONS`]: its number, name and file under `schema/`.
macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../schema/", $file)),
        }
    };
}

/// All migrations, in order.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "events", "0001_events.sql"),
    migration!(2, "salts", "0002_salts.sql"),
    migration!(3, "retention", "0003_retention.sql"),
    migration!(4, "api_keys", "0004_api_keys.sql"),
    migration!(5, "dashboard", "0005_dashboard.sql"),
    migration!(6, "session_user_version", "0006_session_user_version.sql"),
    migration!(7, "plausible_vocabulary", "0007_plausible_vocabulary.sql"),
    // 8 is the vocabulary backfill (`store::backfill::VERSION`).
    migration!(9, "event_counts", "0009_event_counts.sql"),
    // 10 is the event_counts backfill (`store::rollup::BACKFILL_VERSION`).
    migration!(11, "engagement", "0011_engagement.sql"),
    migration!(12, "goals", "0012_goals.sql"),
    migration!(13, "funnels", "0013_funnels.sql"),
    migration!(14, "revenue", "0014_revenue.sql"),
    migration!(15, "imported", "0015_imported.sql"),
    migration!(16, "sites", "0016_sites.sql"),
    migration!(17, "visits", "0017_visits.sql"),
    // 18 is the visits backfill (`store::visit_rollup::BACKFILL_VERSION`).
    migration!(19, "visits_granules", "0019_visits_granules.sql"),
    // 20 makes the visits again (`store::visit_rollup::REBUILD_VERSION`).
];

/// The newest schema version this binary knows: `events` made again with
/// fine granules (21, `store::event_granules`; the backfills, 8, 10, 18 and
/// 20, are recorded between and after the migrations). Recorded in
/// `schema_migrations`; an older binary refuses a database past its own.
pub const SCHEMA_VERSION: u32 = 21;
const _: () = assert!(
    super::backfill::VERSION < SCHEMA_VERSION
        && super::rollup::BACKFILL_VERSION < SCHEMA_VERSION
        && super::visit_rollup::BACKFILL_VERSION < SCHEMA_VERSION
        && super::visit_rollup::REBUILD_VERSION < SCHEMA_VERSION
        && super::event_granules::VERSION == SCHEMA_VERSION
);

/// Tables whose rows are sharded in cluster mode (`<name>_local` per shard
/// under a Distributed `<name>`): the events and what is derived from them
/// (each shard derives its own share; a sum over the Distributed table adds
/// them up).
const SHARDED: &[&str] = &["events", "event_counts", "visits"];

/// The Distributed table's sharding key: a visitor's events share a shard;
/// derived rows may live anywhere, they are only ever summed.
fn sharding_key(table: &str) -> &'static str {
    if table == "events" || table == "visits" {
        "visitor_id"
    } else {
        "rand()"
    }
}

/// `db.t` → `db.t_local` for the sharded tables, where a name ends.
fn to_local(statement: &str, database: &str) -> String {
    let mut out = statement.to_string();
    for table in SHARDED {
        let name = format!("{database}.{table}");
        let mut rewritten = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&name) {
            let after = &rest[at + name.len()..];
            rewritten.push_str(&rest[..at + name.len()]);
            if !after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                rewritten.push_str("_local");
            }
            rest = after;
        }
        rewritten.push_str(rest);
        out = rewritten;
    }
    out
}

/// What the templates need to know about the target.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Database name (a validated identifier).
    pub database: &'a str,
    /// Whether LowCardinality may be used.
    pub low_cardinality: bool,
    /// Whether TTL may be used.
    pub ttl: bool,
    /// Retention for the TTL clause.
    pub retention_months: u32,
    /// Whether a drop must say `SYNC` to be done before the next statement
    /// (a table made again under the same name, and ZooKeeper path).
    pub sync_drop: bool,
    /// Cluster mode: the cluster's name.
    pub cluster: Option<&'a str>,
}

/// The ZooKeeper path of a replicated table: sharded for events and what
/// is derived from them, one dataset across all nodes for everything else.
fn replicated_engine(database: &str, table: &str) -> String {
    replicated(database, table, "MergeTree")
}

/// A `Replicated<kind>` engine (kind `MergeTree`, `SummingMergeTree`).
fn replicated(database: &str, table: &str, kind: &str) -> String {
    let sharded = table
        .strip_suffix("_local")
        .is_some_and(|name| SHARDED.contains(&name));
    let shard = if sharded { "{shard}" } else { "all" };
    format!("Replicated{kind}('/clickhouse/tables/{shard}/{database}/{table}', '{{replica}}')")
}

/// Rewrites one single-node `CREATE TABLE` for a cluster; other statements
/// pass through with ON CLUSTER where they are DDL.
fn for_cluster(statement: String, database: &str, cluster: &str) -> Vec<String> {
    let alter = format!("ALTER TABLE {database}.");
    if let Some(rest) = statement.strip_prefix(&alter) {
        // `ALTER TABLE db.t …` → `ALTER TABLE db.t ON CLUSTER c …` (on the
        // shards' table for events; the Distributed one follows its columns).
        let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (name, action) = rest.split_at(name_end);
        let storage = if name == "events" {
            "events_local"
        } else {
            name
        };
        let mut out = vec![format!("{alter}{storage} ON CLUSTER {cluster}{action}")];
        // A mutation (UPDATE/DELETE) changes rows, which only the shards'
        // table holds. A column change must reach the Distributed table
        // too, but a cluster with internal replication refuses ALTER ON
        // CLUSTER of a table that is not replicated: the Distributed table
        // holds no data, so it is made again with the shards' columns.
        let mutates =
            action.trim_start().starts_with("UPDATE") || action.trim_start().starts_with("DELETE");
        if name == "events" && !mutates {
            out.push(format!(
                "DROP TABLE IF EXISTS {database}.events ON CLUSTER {cluster}"
            ));
            out.push(distributed_events(database, cluster));
        }
        return out;
    }
    let drop = format!("DROP TABLE IF EXISTS {database}.");
    if let Some(rest) = statement.strip_prefix(&drop) {
        // `DROP TABLE IF EXISTS db.t [SYNC]` → on every node; a sharded
        // table is its Distributed table and the shards' table.
        let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (name, tail) = rest.split_at(name_end);
        let on = |table: &str| format!("{drop}{table} ON CLUSTER {cluster}{tail}");
        return if SHARDED.contains(&name) {
            vec![on(name), on(&format!("{name}_local"))]
        } else {
            vec![on(name)]
        };
    }
    let view = format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.");
    if let Some(rest) = statement.strip_prefix(&view) {
        // A view fills a shard's table from the rows that shard receives.
        let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (name, body) = rest.split_at(name_end);
        return vec![format!(
            "{view}{name} ON CLUSTER {cluster}{}",
            to_local(body, database)
        )];
    }
    let prefix = format!("CREATE TABLE IF NOT EXISTS {database}.");
    let Some(rest) = statement.strip_prefix(&prefix) else {
        return vec![statement];
    };
    let name_end = rest
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(rest.len());
    let (name, body) = rest.split_at(name_end);
    let sharded = SHARDED.contains(&name);
    let storage = if sharded {
        format!("{name}_local")
    } else {
        name.to_string()
    };
    let body = match ["AggregatingMergeTree", "SummingMergeTree", "MergeTree"]
        .into_iter()
        .find(|kind| body.contains(&format!("ENGINE = {kind}")))
    {
        Some(kind) => body.replacen(
            &format!("ENGINE = {kind}"),
            &format!("ENGINE = {}", replicated(database, &storage, kind)),
            1,
        ),
        None => body.to_string(),
    };
    let mut out = vec![format!("{prefix}{storage} ON CLUSTER {cluster}{body}")];
    if sharded {
        out.push(distributed(database, cluster, name));
    }
    out
}

/// The Distributed `<table>` over the shards' `<table>_local`.
fn distributed(database: &str, cluster: &str, table: &str) -> String {
    if table == "events" {
        return distributed_events(database, cluster);
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {database}.{table} ON CLUSTER {cluster} \
         AS {database}.{table}_local \
         ENGINE = Distributed({cluster}, {database}, {table}_local, {})",
        sharding_key(table)
    )
}

/// The Distributed `events` over the shards' `events_local`.
fn distributed_events(database: &str, cluster: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {database}.events ON CLUSTER {cluster} \
         AS {database}.events_local \
         ENGINE = Distributed({cluster}, {database}, events_local, visitor_id)"
    )
}

/// Fills in a migration template for `target`. Comment lines are dropped.
pub fn render(sql: &str, target: Target<'_>) -> Vec<String> {
    let lc = if target.low_cardinality {
        "LowCardinality(String)"
    } else {
        "String"
    };
    let ttl = if target.ttl {
        format!("TTL timestamp + INTERVAL {} MONTH", target.retention_months)
    } else {
        String::new()
    };
    let text: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("{{db}}", target.database)
        .replace("{{lc}}", lc)
        .replace("{{events_ttl}}", &ttl)
        .replace("{{sync}}", if target.sync_drop { " SYNC" } else { "" })
        .replace(
            "{{if_not_exists}}",
            if target.ttl { "IF NOT EXISTS" } else { "" },
        );
    let statements = text
        .split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(String::from);
    match target.cluster {
        None => statements.collect(),
        Some(cluster) => statements
            .flat_map(|s| for_cluster(s, target.database, cluster))
            .collect(),
    }
}

/// Inserts carry an `insert_deduplication_token` on servers that have it
/// (23+, see `write::writer`); a plain MergeTree honours it only with a
/// deduplication window. A cluster's replicated tables deduplicate anyway.
pub fn deduplication_window(store: &Store) -> Option<String> {
    (store.version().major >= 23 && store.cluster().is_none()).then(|| {
        "ALTER TABLE events MODIFY SETTING non_replicated_deduplication_window = 1000".to_string()
    })
}

/// Whether the store's database exists and holds saltmark's schema.
pub async fn is_migrated(store: &Store) -> Result<bool, StoreError> {
    let tables: u64 = store
        .server_client()
        .query(
            "SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'",
        )
        .bind(store.database())
        .fetch_one()
        .await?;
    Ok(tables > 0)
}

/// Records `version` as applied in `schema_migrations`.
async fn record(store: &Store, version: u32, name: &str) -> Result<(), StoreError> {
    store
        .client()
        .query("INSERT INTO schema_migrations (version, name, applied_at) SELECT ?, ?, now()")
        .bind(version)
        .bind(name)
        .execute()
        .await?;
    Ok(())
}

/// Applies whatever is missing; returns the versions applied by this call.
#[tracing::instrument(skip_all, fields(database = store.database(), server = %store.version()))]
pub async fn run(store: &Store, retention_months: u32) -> Result<Vec<u32>, StoreError> {
    let db = store.database();
    let version = store.version();
    let target = Target {
        database: db,
        low_cardinality: version.has_low_cardinality(),
        ttl: version.has_ttl(),
        sync_drop: version.has_drop_sync(),
        retention_months,
        cluster: store.cluster(),
    };
    let on_cluster = store.on_cluster();
    store
        .server_client()
        .query(&format!("CREATE DATABASE IF NOT EXISTS {db}{on_cluster}"))
        .execute()
        .await?;
    let migrations_engine = match target.cluster {
        Some(_) => replicated_engine(db, "schema_migrations"),
        None => "MergeTree".to_string(),
    };
    store
        .server_client()
        .query(&format!(
            "CREATE TABLE IF NOT EXISTS {db}.schema_migrations{on_cluster} \
             (version UInt32, name String, applied_at DateTime) \
             ENGINE = {migrations_engine} ORDER BY version"
        ))
        .execute()
        .await?;
    let applied: Vec<u32> = store
        .client()
        .query("SELECT DISTINCT version FROM schema_migrations")
        .fetch_all()
        .await?;
    // A database a newer saltmark migrated is refused before anything is
    // touched: this binary would not know what its tables hold.
    if let Some(found) = applied
        .iter()
        .copied()
        .filter(|v| *v > SCHEMA_VERSION)
        .max()
    {
        return Err(StoreError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
            binary: env!("CARGO_PKG_VERSION"),
        });
    }
    let mut newly = Vec::new();
    for migration in MIGRATIONS {
        if applied.contains(&migration.version) {
            continue;
        }
        for statement in render(migration.sql, target) {
            match store.server_client().query(&statement).execute().await {
                Ok(()) => {}
                // 18.16 has no `ADD COLUMN IF NOT EXISTS`: a collector that
                // migrates at the same moment as another finds the column
                // there, which is the outcome wanted.
                Err(e)
                    if statement.contains(" ADD COLUMN ")
                        && e.to_string().contains("already exists") =>
                {
                    tracing::info!(version = migration.version, "column already added");
                }
                Err(source) => {
                    return Err(StoreError::Migration {
                        version: migration.version,
                        name: migration.name.to_string(),
                        source,
                    })
                }
            }
        }
        record(store, migration.version, migration.name).await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "migration applied"
        );
        newly.push(migration.version);
    }
    if !applied.contains(&super::backfill::VERSION) {
        super::backfill::run(store).await?;
        record(store, super::backfill::VERSION, super::backfill::NAME).await?;
        newly.push(super::backfill::VERSION);
    }
    if !applied.contains(&super::rollup::BACKFILL_VERSION) {
        // The events stored before `event_counts` existed.
        super::rollup::reconcile_all(store).await?;
        record(
            store,
            super::rollup::BACKFILL_VERSION,
            super::rollup::BACKFILL_NAME,
        )
        .await?;
        newly.push(super::rollup::BACKFILL_VERSION);
    }
    // `events` made again with fine granules (21): its derived tables are
    // then derived again, `visits` with the backfill below.
    let events_rewritten = !applied.contains(&super::event_granules::VERSION);
    if events_rewritten {
        super::event_granules::run(store, target).await?;
        super::rollup::reconcile_all(store).await?;
    }
    // The visits of the events stored before `visits` existed (18), and
    // again after it was made with finer granules (20): one backfill does
    // both, as it makes every row from the events.
    let visit_backfills = [
        (
            super::visit_rollup::BACKFILL_VERSION,
            super::visit_rollup::BACKFILL_NAME,
        ),
        (
            super::visit_rollup::REBUILD_VERSION,
            super::visit_rollup::REBUILD_NAME,
        ),
    ];
    if events_rewritten || visit_backfills.iter().any(|(v, _)| !applied.contains(v)) {
        super::visit_rollup::backfill(store).await?;
        for (version, name) in visit_backfills {
            if !applied.contains(&version) {
                record(store, version, name).await?;
                newly.push(version);
            }
        }
    }
    if events_rewritten {
        record(
            store,
            super::event_granules::VERSION,
            super::event_granules::NAME,
        )
        .await?;
        newly.push(super::event_granules::VERSION);
    }
    if let Some(statement) = deduplication_window(store) {
        store.client().query(&statement).execute().await?;
    }
    if target.ttl {
        // Keep the TTL in step with the configured retention.
        store
            .client()
            .query(&format!(
                "ALTER TABLE {}{on_cluster} MODIFY TTL timestamp + INTERVAL {retention_months} MONTH",
                store.events_storage()
            ))
            .execute()
            .await?;
    }
    Ok(newly)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_version_is_the_last_migration_or_its_backfill() {
        let last = MIGRATIONS.iter().map(|m| m.version).max().unwrap();
        assert_eq!(SCHEMA_VERSION, super::super::event_granules::VERSION);
        assert_eq!(super::super::visit_rollup::REBUILD_VERSION, last + 1);
        assert!(SCHEMA_VERSION > last);
    }

    use super::*;

    #[test]
    fn old_servers_get_plain_types_and_no_ttl() {
        let target = Target {
            database: "saltmark",
            low_cardinality: false,
            ttl: false,
            retention_months: 24,
            sync_drop: false,
            cluster: None,
        };
        let sql = render(MIGRATIONS[0].sql, target).join("\n");
        assert!(!sql.contains("LowCardinality") && !sql.contains("TTL"));
        assert!(!sql.contains("{{"), "unrendered placeholder in {sql}");
        assert!(sql.contains("CREATE TABLE IF NOT EXISTS saltmark.events"));
    }

    #[test]
    fn modern_servers_get_low_cardinality_and_ttl() {
        let target = Target {
            database: "db",
            low_cardinality: true,
            ttl: true,
            retention_months: 13,
            sync_drop: true,
            cluster: None,
        };
        let sql = render(MIGRATIONS[0].sql, target).join("\n");
        assert!(sql.contains("country_code LowCardinality(String)"));
        assert!(sql.contains("TTL timestamp + INTERVAL 13 MONTH"));
    }

    #[test]
    fn cluster_mode_replicates_every_table_and_distributes_events() {
        let target = Target {
            database: "sm",
            low_cardinality: false,
            ttl: false,
            retention_months: 24,
            sync_drop: false,
            cluster: Some("c1"),
        };
        let events = render(MIGRATIONS[0].sql, target);
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].starts_with("CREATE TABLE IF NOT EXISTS sm.events_local ON CLUSTER c1 ("));
        assert!(events[0].contains(
            "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sm/events_local', '{replica}')"
        ));
        assert!(events[1].contains("ENGINE = Distributed(c1, sm, events_local, visitor_id)"));
        for migration in &MIGRATIONS[1..] {
            for statement in render(migration.sql, target) {
                assert!(statement.contains(" ON CLUSTER c1"), "{statement}");
                assert!(
                    statement.starts_with("ALTER TABLE sm.")
                        || statement.starts_with("DROP TABLE IF EXISTS sm.events ON CLUSTER")
                        || statement.starts_with("DROP TABLE IF EXISTS sm.visits")
                        || statement.contains("ENGINE = Distributed(c1, sm, events_local")
                        || statement
                            .contains("ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/sm/")
                        || statement.contains("sm.event_counts")
                        || statement.contains("sm.visits"),
                    "{statement}"
                );
            }
        }
        // The derived counts: per shard, summed through a Distributed
        // table, filled by a view on each shard's events.
        let counts = render(
            MIGRATIONS
                .iter()
                .find(|m| m.name == "event_counts")
                .unwrap()
                .sql,
            target,
        );
        assert_eq!(counts.len(), 3, "{counts:?}");
        assert!(counts[0]
            .starts_with("CREATE TABLE IF NOT EXISTS sm.event_counts_local ON CLUSTER c1 ("));
        assert!(counts[0].contains(
            "ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sm/event_counts_local', '{replica}')"
        ));
        assert!(counts[1].contains(
            "sm.event_counts ON CLUSTER c1 AS sm.event_counts_local ENGINE = Distributed(c1, sm, event_counts_local, rand())"
        ));
        assert!(counts[2].starts_with(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS sm.event_counts_mv ON CLUSTER c1 TO sm.event_counts_local AS"
        ), "{}", counts[2]);
        assert!(counts[2].contains("FROM sm.events_local"), "{}", counts[2]);
        assert_eq!(
            for_cluster(
                "ALTER TABLE sm.events ADD COLUMN x UInt8".into(),
                "sm",
                "c1"
            ),
            [
                "ALTER TABLE sm.events_local ON CLUSTER c1 ADD COLUMN x UInt8",
                "DROP TABLE IF EXISTS sm.events ON CLUSTER c1",
                "CREATE TABLE IF NOT EXISTS sm.events ON CLUSTER c1 AS sm.events_local \
                 ENGINE = Distributed(c1, sm, events_local, visitor_id)"
            ]
        );
        // `visits` made again with finer granules: the view, the
        // Distributed table and the shards' table dropped everywhere first.
        let granules = render(
            MIGRATIONS
                .iter()
                .find(|m| m.name == "visits_granules")
                .unwrap()
                .sql,
            Target {
                sync_drop: true,
                ..target
            },
        );
        assert_eq!(
            granules[..3],
            [
                "DROP TABLE IF EXISTS sm.visits_mv ON CLUSTER c1 SYNC",
                "DROP TABLE IF EXISTS sm.visits ON CLUSTER c1 SYNC",
                "DROP TABLE IF EXISTS sm.visits_local ON CLUSTER c1 SYNC",
            ]
        );
        assert!(
            granules[3].starts_with("CREATE TABLE IF NOT EXISTS sm.visits_local ON CLUSTER c1 (")
        );
        assert!(granules[3].contains(
            "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/sm/visits_local', '{replica}')"
        ));
        assert!(
            granules[3].ends_with("SETTINGS index_granularity = 256"),
            "{}",
            granules[3]
        );
        assert!(granules[4].contains("ENGINE = Distributed(c1, sm, visits_local, visitor_id)"));
        assert!(granules[5].starts_with(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS sm.visits_mv ON CLUSTER c1 TO sm.visits_local AS"
        ));
        assert_eq!(granules.len(), 6);
        assert_eq!(
            for_cluster(
                "ALTER TABLE sm.events UPDATE os = 'Mac' WHERE os = 'macOS'".into(),
                "sm",
                "c1"
            ),
            ["ALTER TABLE sm.events_local ON CLUSTER c1 UPDATE os = 'Mac' WHERE os = 'macOS'"]
        );
    }
}
