//! The expiry job: nothing older than the retention period survives it.
//!
//! Design and invariants:
//! - The cutoff is `as_of − retention months` (calendar months), per site where
//!   an override exists. An event is expired when `timestamp < cutoff`; an
//!   event exactly at the cutoff stays.
//! - Whole months first: a monthly partition whose every possible timestamp
//!   lies before the *earliest* cutoff of any site is dropped with
//!   `DROP PARTITION` — instant, frees the disk, atomic per partition.
//! - Then the boundary: rows past their site's cutoff in the remaining
//!   partitions, plus every row of sites whose erasure is due, are deleted in
//!   one delete (`ALTER TABLE … DELETE` on 18.16, lightweight `DELETE FROM` on
//!   servers that have it). The job waits for the delete to finish and then
//!   counts again: a run only reports success when nothing expired is left.
//! - Salts older than yesterday (relative to `as_of`) are dropped too.
//! - Every real run, successful or not, leaves one audit row in `expiry_log`
//!   (if ClickHouse is reachable to take it).
//! - Idempotent and restartable: each step recomputes from what is stored, so
//!   a run cut short by a failure leaves consistent data (a dropped partition
//!   is gone whole; an unfinished mutation is finished by the server or redone)
//!   and the next run completes the work; a second run right after a
//!   successful one finds nothing to do.
//! - `--dry-run` computes the same plan and changes nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};

use super::mutations::wait_for_mutations;
use super::{timed, RetentionError};
use crate::clock::RandomSource;
use crate::config::RetentionConfig;
use crate::identify::salts::{destroy_salt_day, stored_salt_days};
use crate::store::sql::{datetime_secs, Param, Sql};
use crate::store::visit_rollup::Mirror;
use crate::store::{rollup, visit_rollup, Store};

/// What the job needs from the configuration.
#[derive(Debug, Clone)]
pub struct ExpirySettings {
    /// Default retention in months.
    pub default_months: u32,
    /// Per-site overrides (shorter or longer).
    pub site_months: BTreeMap<String, u32>,
    /// Longest wait for any one statement or delete.
    pub statement_timeout: Duration,
}

impl ExpirySettings {
    /// From the validated configuration.
    pub fn from_config(config: &RetentionConfig) -> ExpirySettings {
        ExpirySettings {
            default_months: config.months,
            site_months: config.site_overrides(),
            statement_timeout: Duration::from_secs(config.statement_timeout_secs),
        }
    }
}

/// A monthly partition that will be dropped whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionToDrop {
    /// `YYYYMM`.
    pub partition: u32,
    /// Rows it holds.
    pub rows: u64,
}

/// What a run would do (and, after a real run, what it did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryPlan {
    /// The moment the job runs "as of" (`--now`).
    pub as_of: DateTime<Utc>,
    /// The default cutoff.
    pub cutoff: DateTime<Utc>,
    /// Cutoffs of sites with an override.
    pub site_cutoffs: Vec<(String, DateTime<Utc>)>,
    /// Partitions wholly before every cutoff.
    pub partitions: Vec<PartitionToDrop>,
    /// Expired rows in the partitions that stay.
    pub expired_rows: u64,
    /// Sites whose erasure is due.
    pub sites_to_erase: Vec<String>,
    /// Rows of those sites (outside dropped partitions).
    pub erased_rows: u64,
    /// Salt days older than yesterday.
    pub salts_to_destroy: Vec<NaiveDate>,
}

impl ExpiryPlan {
    /// Whether the run has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty()
            && self.expired_rows == 0
            && self.erased_rows == 0
            && self.sites_to_erase.is_empty()
            && self.salts_to_destroy.is_empty()
    }

    /// Every row the run removes.
    pub fn total_rows(&self) -> u64 {
        self.partitions.iter().map(|p| p.rows).sum::<u64>() + self.expired_rows + self.erased_rows
    }
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryReport {
    /// The plan (for a real run: what was done).
    pub plan: ExpiryPlan,
    /// Nothing was changed.
    pub dry_run: bool,
}

impl fmt::Display for ExpiryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = &self.plan;
        let verb = if self.dry_run {
            "would remove"
        } else {
            "removed"
        };
        writeln!(
            f,
            "expiry as of {} (cutoff {}){}",
            plan.as_of.to_rfc3339(),
            plan.cutoff.to_rfc3339(),
            if self.dry_run {
                " — dry run, nothing changed"
            } else {
                ""
            }
        )?;
        for (site, cutoff) in &plan.site_cutoffs {
            writeln!(f, "  site {site}: cutoff {}", cutoff.to_rfc3339())?;
        }
        if plan.partitions.is_empty() {
            writeln!(f, "  partitions: none to drop")?;
        }
        for p in &plan.partitions {
            writeln!(
                f,
                "  partition {}: {verb} whole ({} rows)",
                p.partition, p.rows
            )?;
        }
        writeln!(
            f,
            "  expired rows in kept partitions: {verb} {}",
            plan.expired_rows
        )?;
        if !plan.sites_to_erase.is_empty() {
            writeln!(
                f,
                "  erased sites {}: {verb} {} rows",
                plan.sites_to_erase.join(", "),
                plan.erased_rows
            )?;
        }
        let salts: Vec<String> = plan
            .salts_to_destroy
            .iter()
            .map(|d| d.to_string())
            .collect();
        writeln!(
            f,
            "  salts older than yesterday: {verb} {}",
            if salts.is_empty() {
                "none".to_string()
            } else {
                salts.join(", ")
            }
        )?;
        write!(f, "  total rows: {}", plan.total_rows())
    }
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct PartitionRows {
    partition: String,
    rows: u64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Count {
    n: u64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct SiteRow {
    site: String,
}

#[derive(clickhouse::Row, serde::Serialize)]
struct AuditRow {
    started: u32,
    finished: u32,
    run_as_of: u32,
    cutoff: u32,
    partitions_dropped: Vec<String>,
    rows_deleted: u64,
    salts_destroyed: Vec<u16>,
    sites_erased: Vec<String>,
    outcome: String,
    message: String,
}

/// Works out what a run at `as_of` removes, without changing anything.
pub async fn plan(
    store: &Store,
    settings: &ExpirySettings,
    as_of: DateTime<Utc>,
) -> Result<ExpiryPlan, RetentionError> {
    let limit = settings.statement_timeout;
    let cutoff = months_before(as_of, settings.default_months);
    // The configuration's overrides, then the retention of sites added at
    // run time (`saltmark sites add --retention-months`).
    let mut site_months = settings.site_months.clone();
    for site in crate::sites::stored::list(store).await? {
        if site.retention_months > 0 {
            site_months
                .entry(site.site)
                .or_insert(u32::from(site.retention_months));
        }
    }
    let site_cutoffs: Vec<(String, DateTime<Utc>)> = site_months
        .iter()
        .map(|(site, months)| (site.clone(), months_before(as_of, *months)))
        .collect();
    let earliest = site_cutoffs
        .iter()
        .map(|(_, c)| *c)
        .chain([cutoff])
        .min()
        .unwrap_or(cutoff);

    // One server: the partition list is metadata. A cluster: this node's
    // system.parts shows only its own shard, so count through the
    // Distributed table instead (a scan of one column, once a day).
    let listing = if store.cluster().is_some() {
        store.client().query(
            "SELECT toString(toYYYYMM(timestamp)) AS partition, count() AS rows FROM events \
             GROUP BY partition ORDER BY partition",
        )
    } else {
        store
            .server_client()
            .query(
                "SELECT partition, sum(rows) AS rows FROM system.parts \
                 WHERE database = ? AND table = 'events' AND active GROUP BY partition ORDER BY partition",
            )
            .bind(store.database())
    };
    let parts: Vec<PartitionRows> = timed("listing partitions", limit, listing.fetch_all()).await?;
    let partitions: Vec<PartitionToDrop> = parts
        .iter()
        .filter_map(|p| {
            let partition: u32 = p.partition.trim_matches('\'').parse().ok()?;
            (month_end(partition)? <= earliest).then_some(PartitionToDrop {
                partition,
                rows: p.rows,
            })
        })
        .collect();
    let dropped: Vec<u64> = partitions.iter().map(|p| u64::from(p.partition)).collect();

    let sites_to_erase: Vec<String> = timed(
        "listing due site erasures",
        limit,
        store
            .client()
            .query(
                "SELECT site FROM site_erasures GROUP BY site \
                 HAVING argMax(status, (updated, status = 'done')) = 'pending' \
                 AND argMax(due, (updated, status = 'done')) <= toDateTime(?) \
                 ORDER BY site",
            )
            .bind(datetime_secs(as_of))
            .fetch_all::<SiteRow>(),
    )
    .await?
    .into_iter()
    .map(|row| row.site)
    .collect();

    let mut kept = Sql::raw("NOT ");
    kept.push(Sql::has_u64(&dropped, "toUInt64(toYYYYMM(timestamp))"));
    let mut expired = kept.clone();
    expired.text.push_str(" AND (");
    expired.push(expired_predicate(cutoff, &site_cutoffs));
    expired.text.push(')');
    let expired_rows = count(store, &expired, limit).await?;
    let erased_rows = if sites_to_erase.is_empty() {
        0
    } else {
        let mut erased = kept;
        erased.text.push_str(" AND ");
        erased.push(Sql::has_str(&sites_to_erase, "site"));
        erased.text.push_str(" AND NOT (");
        erased.push(expired_predicate(cutoff, &site_cutoffs));
        erased.text.push(')');
        count(store, &erased, limit).await?
    };

    let yesterday = as_of.date_naive().pred_opt().unwrap_or(as_of.date_naive());
    let salts_to_destroy: Vec<NaiveDate> = timed("listing salts", limit, async {
        stored_salt_days(store).await.map_err(store_to_ch)
    })
    .await?
    .into_iter()
    .filter(|day| *day < yesterday)
    .collect();

    Ok(ExpiryPlan {
        as_of,
        cutoff,
        site_cutoffs,
        partitions,
        expired_rows,
        sites_to_erase,
        erased_rows,
        salts_to_destroy,
    })
}

/// Runs the job once (the caller holds the lock): plan, then carry it out.
pub async fn execute(
    store: &Store,
    settings: &ExpirySettings,
    as_of: DateTime<Utc>,
    dry_run: bool,
) -> Result<ExpiryReport, RetentionError> {
    let plan = plan(store, settings, as_of).await?;
    if dry_run {
        return Ok(ExpiryReport { plan, dry_run });
    }
    let limit = settings.statement_timeout;
    // What the dropped months change in the derived counts, corrected as
    // after any other delete (see `delete_where`).
    let dropped_hours = if plan.partitions.is_empty() {
        Default::default()
    } else {
        let months: Vec<u64> = plan
            .partitions
            .iter()
            .map(|p| u64::from(p.partition))
            .collect();
        let in_months = Sql::new(
            "has(?, toUInt64(toYYYYMM(timestamp)))",
            vec![Param::U64s(months)],
        );
        timed("listing the hours of the dropped months", limit, async {
            rollup::affected_hours(store, &in_months)
                .await
                .map_err(store_to_ch)
        })
        .await?
    };
    for partition in &plan.partitions {
        drop_month(store, partition.partition, limit).await?;
        tracing::info!(
            partition = partition.partition,
            rows = partition.rows,
            "dropped partition"
        );
    }
    correct_derived(
        store,
        &dropped_hours,
        &Mirror::Remake {
            erased_sites: Vec::new(),
        },
        limit,
    )
    .await?;
    let mut doomed = expired_predicate(plan.cutoff, &plan.site_cutoffs);
    if !plan.sites_to_erase.is_empty() {
        doomed = Sql::join(
            vec![doomed, Sql::has_str(&plan.sites_to_erase, "site")],
            " OR ",
        );
    }
    if plan.expired_rows + plan.erased_rows > 0 {
        // The expiry's boundary hours are made again in `visits`; sites
        // being erased lose every row there.
        let mirror = Mirror::Remake {
            erased_sites: plan.sites_to_erase.clone(),
        };
        delete_where(store, &doomed, None, &mirror, limit).await?;
        let remaining = count(store, &doomed, limit).await?;
        if remaining > 0 {
            return Err(RetentionError::Incomplete {
                step: "the expiry delete".into(),
                remaining,
            });
        }
        tracing::info!(
            rows = plan.expired_rows + plan.erased_rows,
            "deleted expired rows"
        );
    }
    // Imported history obeys the same retention and erasures (by its day:
    // a day before the cutoff's day is past it).
    let mut imported_doomed = expired_days_predicate(plan.cutoff, &plan.site_cutoffs);
    if !plan.sites_to_erase.is_empty() {
        imported_doomed = Sql::join(
            vec![imported_doomed, Sql::has_str(&plan.sites_to_erase, "site")],
            " OR ",
        );
    }
    timed("deleting expired imported rows", limit, async {
        crate::imports::stored::delete_if_any(store, &imported_doomed)
            .await
            .map_err(store_to_ch)
    })
    .await?;
    for site in &plan.sites_to_erase {
        timed(
            "marking a site erasure done",
            limit,
            store
                .client()
                .query(
                    "INSERT INTO site_erasures (site, requested, due, status, updated) \
                     SELECT site, argMax(requested, updated), argMax(due, updated), 'done', now() \
                     FROM site_erasures WHERE site = ? GROUP BY site",
                )
                .bind(site)
                .execute(),
        )
        .await?;
        tracing::info!(site = %site, "site erasure carried out");
    }
    for day in &plan.salts_to_destroy {
        timed("destroying a salt", limit, async {
            destroy_salt_day(store, *day).await.map_err(store_to_ch)
        })
        .await?;
        tracing::info!(day = %day, "salt destroyed");
    }
    Ok(ExpiryReport { plan, dry_run })
}

/// The job as `saltmark expire` and `serve` run it: under the shared lock,
/// with an audit row for every real run.
pub async fn run(
    store: &Store,
    settings: &ExpirySettings,
    as_of: DateTime<Utc>,
    dry_run: bool,
    random: &dyn RandomSource,
) -> Result<ExpiryReport, RetentionError> {
    if dry_run {
        return execute(store, settings, as_of, true).await;
    }
    let lock = timed(
        "taking the expiry lock",
        settings.statement_timeout + super::lock::SETTLE,
        async {
            super::lock::try_acquire(store, "expiry", super::lock::LEASE, random)
                .await
                .map_err(store_to_ch)
        },
    )
    .await?
    .ok_or_else(|| RetentionError::Locked("expiry".into()))?;
    let keep_alive = lock.keep_alive(super::lock::LEASE);
    let started = Utc::now();
    let result = execute(store, settings, as_of, false).await;
    drop(keep_alive);
    let audit = match &result {
        Ok(report) => audit_row(started, as_of, &report.plan, "ok", String::new()),
        Err(e) => {
            let cutoff = months_before(as_of, settings.default_months);
            let mut row = audit_row(
                started,
                as_of,
                &empty_plan(as_of, cutoff),
                "failed",
                e.to_string(),
            );
            row.cutoff = datetime_secs(cutoff);
            row
        }
    };
    if let Err(e) = write_audit(store, &audit, settings.statement_timeout).await {
        tracing::error!(error = %e, "could not write the expiry audit row");
        if result.is_ok() {
            return Err(e);
        }
    }
    let release = timed(
        "releasing the expiry lock",
        settings.statement_timeout,
        async { lock.release().await.map_err(store_to_ch) },
    );
    if let Err(e) = release.await {
        tracing::warn!(error = %e, "could not release the expiry lock; it expires by itself");
    }
    result
}

async fn write_audit(store: &Store, row: &AuditRow, limit: Duration) -> Result<(), RetentionError> {
    timed("writing the audit row", limit, async {
        let mut insert = store.client().insert::<AuditRow>("expiry_log").await?;
        insert.write(row).await?;
        insert.end().await
    })
    .await
}

fn audit_row(
    started: DateTime<Utc>,
    as_of: DateTime<Utc>,
    plan: &ExpiryPlan,
    outcome: &str,
    message: String,
) -> AuditRow {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    AuditRow {
        started: datetime_secs(started),
        finished: datetime_secs(Utc::now()),
        run_as_of: datetime_secs(as_of),
        cutoff: datetime_secs(plan.cutoff),
        partitions_dropped: plan
            .partitions
            .iter()
            .map(|p| p.partition.to_string())
            .collect(),
        rows_deleted: plan.total_rows(),
        salts_destroyed: plan
            .salts_to_destroy
            .iter()
            .map(|d| (*d - epoch).num_days() as u16)
            .collect(),
        sites_erased: plan.sites_to_erase.clone(),
        outcome: outcome.to_string(),
        message,
    }
}

fn empty_plan(as_of: DateTime<Utc>, cutoff: DateTime<Utc>) -> ExpiryPlan {
    ExpiryPlan {
        as_of,
        cutoff,
        site_cutoffs: Vec::new(),
        partitions: Vec::new(),
        expired_rows: 0,
        sites_to_erase: Vec::new(),
        erased_rows: 0,
        salts_to_destroy: Vec::new(),
    }
}

/// `timestamp` is past its site's cutoff.
fn expired_predicate(cutoff: DateTime<Utc>, site_cutoffs: &[(String, DateTime<Utc>)]) -> Sql {
    let override_sites: Vec<String> = site_cutoffs.iter().map(|(s, _)| s.clone()).collect();
    let mut default = Sql::raw("NOT ");
    default.push(Sql::has_str(&override_sites, "site"));
    default.push(Sql::new(
        " AND timestamp < toDateTime(?)",
        vec![Param::time(cutoff)],
    ));
    let mut parts = vec![default];
    for (site, site_cutoff) in site_cutoffs {
        parts.push(Sql::new(
            "site = ? AND timestamp < toDateTime(?)",
            vec![Param::Str(site.clone()), Param::time(*site_cutoff)],
        ));
    }
    Sql::join(parts, " OR ")
}

/// An imported day is past its site's cutoff (the day before the
/// cutoff's UTC day and earlier: a day is kept while any of it is).
fn expired_days_predicate(cutoff: DateTime<Utc>, site_cutoffs: &[(String, DateTime<Utc>)]) -> Sql {
    let day = |t: DateTime<Utc>| Param::Str(t.date_naive().to_string());
    let override_sites: Vec<String> = site_cutoffs.iter().map(|(s, _)| s.clone()).collect();
    let mut default = Sql::raw("NOT ");
    default.push(Sql::has_str(&override_sites, "site"));
    default.push(Sql::new(" AND date < toDate(?)", vec![day(cutoff)]));
    let mut parts = vec![default];
    for (site, site_cutoff) in site_cutoffs {
        parts.push(Sql::new(
            "site = ? AND date < toDate(?)",
            vec![Param::Str(site.clone()), day(*site_cutoff)],
        ));
    }
    Sql::join(parts, " OR ")
}

/// `SELECT count()` of the events matching `predicate`.
pub(crate) async fn count(
    store: &Store,
    predicate: &Sql,
    limit: Duration,
) -> Result<u64, RetentionError> {
    let mut sql = Sql::raw("SELECT count() AS n FROM events WHERE ");
    sql.push(predicate.clone());
    let row: Count = timed(
        "counting rows",
        limit,
        sql.query(store.client()).fetch_one(),
    )
    .await?;
    Ok(row.n)
}

/// Removes one whole month of events. `DROP PARTITION` is metadata only,
/// but a replicated table on servers before 21 forwards it from a
/// non-leader replica to the leader as user `default` without a password —
/// with `ON CLUSTER`, every non-leader does so, and on a cluster whose
/// `default` user has a password the drop fails depending on which replica
/// won the leader election. There it is a delete of the month instead (a
/// mutation, which replicas share through ZooKeeper and never forward);
/// the derived counts are corrected by the caller either way.
async fn drop_month(store: &Store, partition: u32, limit: Duration) -> Result<(), RetentionError> {
    if store.cluster().is_some() && store.version().major < 21 {
        let in_month = Sql::new(
            "toYYYYMM(timestamp) = ?",
            vec![Param::U64(u64::from(partition))],
        );
        for sql in delete_statements(store, &in_month, Some(&[partition])) {
            timed(
                "deleting a month",
                limit,
                sql.query(store.client()).execute(),
            )
            .await?;
        }
        wait_for_delete(store, store.events_storage(), &in_month, limit).await?;
        // The month's visit rows, in one delete too.
        let visits_in_month =
            Sql::new("toYYYYMM(hour) = ?", vec![Param::U64(u64::from(partition))]);
        return timed("deleting a month of visits", limit, async {
            visit_rollup::delete(store, &visits_in_month, limit)
                .await
                .map_err(store_to_ch)
        })
        .await;
    }
    timed(
        "dropping a partition",
        limit,
        store
            .client()
            .query(&format!(
                "ALTER TABLE {}{} DROP PARTITION ?",
                store.events_storage(),
                store.on_cluster()
            ))
            .bind(partition)
            .execute(),
    )
    .await?;
    // The month's visit rows (the same partition: both are by the month of
    // the hour); what is left of them is remade afterwards with the rest.
    timed("dropping a partition of visits", limit, async {
        visit_rollup::drop_month(store, partition)
            .await
            .map_err(store_to_ch)
    })
    .await
}

/// The statements that delete the rows matching `predicate`, with the
/// cheapest correct delete the server offers:
/// - 25.x and later: a lightweight `DELETE FROM … IN PARTITION p` per
///   partition in `partitions` (when given), so no other partition is
///   touched;
/// - 23.3 and later: a lightweight `DELETE FROM … WHERE` (rows are masked,
///   not rewritten);
/// - older servers (18.16): `ALTER TABLE … DELETE WHERE`, a mutation that
///   rewrites every part of the table whatever the predicate — which is why
///   visitor erasures are coalesced into rounds (see `erasure`).
pub fn delete_statements(store: &Store, predicate: &Sql, partitions: Option<&[u32]>) -> Vec<Sql> {
    let version = store.version();
    let table = store.events_storage();
    let on_cluster = store.on_cluster();
    match partitions {
        Some(partitions) if version.major >= 25 => partitions
            .iter()
            .map(|p| {
                let mut sql = Sql::new(
                    format!("DELETE FROM {table}{on_cluster} IN PARTITION ? WHERE "),
                    vec![Param::U64(u64::from(*p))],
                );
                sql.push(predicate.clone());
                sql
            })
            .collect(),
        _ => {
            let mut sql = Sql::raw(store.delete_where_prefix(table));
            sql.push(predicate.clone());
            vec![sql]
        }
    }
}

/// Deletes rows with the cheapest correct delete the server offers (see
/// [`delete_statements`]), and waits until it is done.
pub(crate) async fn delete_where(
    store: &Store,
    predicate: &Sql,
    partitions: Option<&[u32]>,
    mirror: &Mirror,
    limit: Duration,
) -> Result<(), RetentionError> {
    let table = store.events_storage();
    // What the delete changes in the derived tables (`store::rollup`),
    // corrected once the events are gone.
    let hours = timed("listing the hours a delete touches", limit, async {
        rollup::affected_hours(store, predicate)
            .await
            .map_err(store_to_ch)
    })
    .await?;
    for sql in delete_statements(store, predicate, partitions) {
        timed("deleting rows", limit, sql.query(store.client()).execute()).await?;
    }
    wait_for_delete(store, table, predicate, limit).await?;
    correct_derived(store, &hours, mirror, limit).await
}

/// Makes the derived tables agree with the events left after a delete
/// that touched these hours: the counts of the hours corrected and merged
/// so that nothing summing to zero stays on disk, the visit rows following
/// as `mirror` says.
async fn correct_derived(
    store: &Store,
    hours: &std::collections::BTreeMap<String, Vec<u64>>,
    mirror: &Mirror,
    limit: Duration,
) -> Result<(), RetentionError> {
    if hours.is_empty() {
        return Ok(());
    }
    timed("correcting the derived counts", limit, async {
        rollup::reconcile(store, hours).await.map_err(store_to_ch)?;
        rollup::compact(store, hours).await.map_err(store_to_ch)
    })
    .await?;
    timed("correcting the derived visits", limit, async {
        mirror
            .follow(store, hours, limit)
            .await
            .map_err(store_to_ch)
    })
    .await
}

/// Waits until a delete's mutation is done (on one server) or no matching
/// row is left on any shard (a cluster).
async fn wait_for_delete(
    store: &Store,
    table: &str,
    predicate: &Sql,
    limit: Duration,
) -> Result<(), RetentionError> {
    if store.cluster().is_none() {
        return wait_for_mutations(store, table, limit).await;
    }
    // A cluster: this node's system.mutations knows only its own shard, so
    // wait until no matching row is left anywhere (read through the
    // Distributed table).
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if count(store, predicate, limit).await? == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(RetentionError::Timeout {
                step: "the delete on every shard".into(),
                seconds: limit.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `as_of` minus whole calendar months (the 31st clamps to the month's end).
pub fn months_before(as_of: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    as_of
        .checked_sub_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The first instant after partition `YYYYMM`.
fn month_end(partition: u32) -> Option<DateTime<Utc>> {
    let (year, month) = ((partition / 100) as i32, partition % 100);
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = first.checked_add_months(Months::new(1))?;
    Some(Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0)?)).filter(|t| t.year() > 1970)
}

fn store_to_ch(e: crate::store::StoreError) -> clickhouse::error::Error {
    match e {
        crate::store::StoreError::Client(inner) => inner,
        other => clickhouse::error::Error::Custom(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_are_calendar_months() {
        let as_of = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
        assert_eq!(
            months_before(as_of, 24),
            Utc.with_ymd_and_hms(2024, 3, 31, 12, 0, 0).unwrap()
        );
        assert_eq!(
            months_before(as_of, 1),
            Utc.with_ymd_and_hms(2026, 2, 28, 12, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_partition_ends_at_the_next_month() {
        assert_eq!(
            month_end(202412),
            Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(month_end(202413), None);
    }
}
