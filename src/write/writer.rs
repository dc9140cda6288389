//! Spool → batches → ClickHouse, without losing or doubling what was accepted.
//!
//! Design and invariants:
//! - Ingest appends each accepted request's rows to the write-ahead spool
//!   ([`super::spool`]) before answering 202 (and, with `fsync = always`,
//!   waits until they are synced). The spool's bound — disk, or memory with
//!   `spool.max_bytes = 0` — is the only reason ingest answers 503: an event
//!   is either accepted (and then delivered) or refused, never accepted and
//!   silently dropped.
//! - One writer task takes up to `batch_rows` rows from the spool, or
//!   whatever waited `batch_age`, and inserts them with RowBinary; only once
//!   ClickHouse answered does it acknowledge them, and the spool then drops
//!   them (whole segments at a time).
//! - A batch is split by month so that each insert lands in a single
//!   partition: ClickHouse writes it as one part, which is atomic — stored
//!   entirely or not at all.
//! - Every record (one request's rows) carries a random `batch_id`. An insert
//!   that fails may still be stored — the connection broke after the server
//!   committed, or the server was stalled past the timeout and commits when
//!   it resumes. So before inserting anything again (and before inserting
//!   anything replayed from disk after a restart) the writer:
//!   1. kills the earlier attempt if it is still running
//!      (`KILL QUERY … SYNC`: every attempt of an insert has the same
//!      `query_id`), waits a moment and does so once more — a stalled
//!      server that resumes picks the stale request up first, and after
//!      this it is either committed or gone;
//!   2. counts the rows of each `batch_id` in the batch's time range, and
//!      inserts only the records not stored. A retry of the same insert
//!      while the old one still runs is refused by ClickHouse (same
//!      `query_id`) and goes back to step 1.
//!
//!   On servers that have it (23+, one node), each insert also carries an
//!   `insert_deduplication_token` and the table a deduplication window, so
//!   the server itself drops a second copy of the same block, whatever the
//!   timing. In cluster mode the replicated tables deduplicate identical
//!   blocks on their own.
//! - Failures are retried with exponential backoff (100 ms → 5 s). With
//!   several ClickHouse nodes configured, each failure also moves the store
//!   to the next node ([`crate::store::Store::fail_over`]).
//! - Shutdown: the spool is closed to new rows, everything in it is written
//!   for at most `shutdown_timeout`; what is left stays in the spool for the
//!   next start (without a disk it is logged and counted as lost).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::row::EventRow;
use super::spool::{Readiness, Spool, SpoolError, SpooledBatch};
use crate::clock::RandomSource;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// Batching settings.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Rows per insert at most.
    pub batch_rows: usize,
    /// Age of the oldest waiting row that triggers an insert.
    pub batch_age: Duration,
    /// How long shutdown keeps retrying.
    pub shutdown_timeout: Duration,
    /// How long an insert may take before it counts as failed (and is
    /// settled before anything is inserted again).
    pub insert_timeout: Duration,
}

/// Why rows were not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The spool's bound is reached; try again shortly.
    Full,
    /// The collector is shutting down.
    Closed,
    /// The spool cannot make rows durable (a disk error).
    Unsynced,
}

impl From<&SpoolError> for QueueError {
    fn from(e: &SpoolError) -> Self {
        match e {
            SpoolError::Full => QueueError::Full,
            SpoolError::Closed => QueueError::Closed,
            _ => QueueError::Unsynced,
        }
    }
}

/// A request's rows in the spool; [`WriterHandle::durable`] waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued(u64);

/// The appending side, held by ingest.
#[derive(Clone)]
pub struct WriterHandle {
    spool: Arc<Spool>,
    healthy: Arc<AtomicBool>,
    random: Arc<dyn RandomSource>,
}

impl std::fmt::Debug for WriterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterHandle")
            .field("spool", &self.spool)
            .finish_non_exhaustive()
    }
}

impl WriterHandle {
    /// Appends the rows of one request to the spool, all or none, as one
    /// record with its own `batch_id`.
    pub fn try_queue_all(&self, mut rows: Vec<EventRow>) -> Result<Queued, QueueError> {
        let batch_id = self.random.next_u64();
        for row in &mut rows {
            row.batch_id = batch_id;
        }
        match self.spool.append(SpooledBatch { batch_id, rows }) {
            Ok(seq) => Ok(Queued(seq)),
            Err(e) => {
                if !matches!(e, SpoolError::Full | SpoolError::Closed) {
                    tracing::error!(error = %e, "cannot write to the spool");
                }
                Err(QueueError::from(&e))
            }
        }
    }

    /// Waits until the queued rows are durable per the fsync policy (with
    /// `always`, synced to disk): the 202 is answered after this.
    pub async fn durable(&self, queued: Queued) -> Result<(), QueueError> {
        self.spool
            .durable(queued.0)
            .await
            .map_err(|e| QueueError::from(&e))
    }

    /// False while inserts are failing.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// True while accepted events wait on disk only (ClickHouse has been
    /// away longer than the memory cache holds).
    pub fn is_spooling(&self) -> bool {
        self.spool.is_backlogged()
    }
}

/// Tells the writer task to drain and stop.
#[derive(Debug)]
pub struct WriterTask {
    stop: CancellationToken,
    join: tokio::task::JoinHandle<()>,
    spool: Arc<Spool>,
    sync_thread: Option<std::thread::JoinHandle<()>>,
}

impl WriterTask {
    /// Closes the spool, writes what is in it for at most the shutdown
    /// timeout, syncs what is left, and waits for the tasks.
    pub async fn drain(self) {
        self.spool.close();
        self.stop.cancel();
        let _ = self.join.await;
        if let Err(e) = self.spool.sync() {
            tracing::error!(error = %e, "spool sync at shutdown failed");
        }
        if let Some(thread) = self.sync_thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        if self.spool.is_active() {
            tracing::warn!("events left in the spool; they are delivered at the next start");
        }
    }
}

/// Starts the writer task and the spool's sync thread.
pub fn spawn(
    store: Store,
    settings: WriterSettings,
    metrics: Arc<Metrics>,
    random: Arc<dyn RandomSource>,
    spool: Arc<Spool>,
) -> (WriterHandle, WriterTask) {
    let healthy = Arc::new(AtomicBool::new(true));
    let stop = CancellationToken::new();
    let dedup_token = store.version().major >= 23 && store.cluster().is_none();
    let kill_stale = store.cluster().is_none();
    let writer = Writer {
        delivery: Delivery {
            store,
            metrics,
            healthy: healthy.clone(),
            shutdown_timeout: settings.shutdown_timeout,
            insert_timeout: settings.insert_timeout,
            dedup_token,
            kill_stale,
        },
        settings,
        stop: stop.clone(),
        spool: spool.clone(),
    };
    let join = tokio::spawn(writer.run());
    let sync_thread = spool.start_sync();
    (
        WriterHandle {
            spool: spool.clone(),
            healthy,
            random,
        },
        WriterTask {
            stop,
            join,
            spool,
            sync_thread,
        },
    )
}

struct Writer {
    delivery: Delivery,
    settings: WriterSettings,
    stop: CancellationToken,
    spool: Arc<Spool>,
}

/// Inserting with retries and the exactly-once protocol.
struct Delivery {
    store: Store,
    metrics: Arc<Metrics>,
    healthy: Arc<AtomicBool>,
    shutdown_timeout: Duration,
    insert_timeout: Duration,
    /// Send `insert_deduplication_token` (23+, one node).
    dedup_token: bool,
    /// Kill a stale attempt before checking (one node; a cluster's
    /// replicated tables deduplicate by themselves).
    kill_stale: bool,
}

/// What to find out before inserting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Nothing: these rows were never sent.
    None,
    /// Which records are stored already (an earlier run may have sent them).
    Count,
    /// This process's earlier attempt failed ambiguously: kill it if it
    /// still runs, then count.
    SettleAndCount,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct CountRow {
    batch_id: u64,
    rows: u64,
}

impl Writer {
    async fn run(self) {
        let mut deadline: Option<Instant> = None;
        loop {
            if deadline.is_none() && self.stop.is_cancelled() {
                deadline = Some(Instant::now() + self.settings.shutdown_timeout);
            }
            let draining = deadline.is_some();
            match self
                .spool
                .readiness(self.settings.batch_rows, self.settings.batch_age)
            {
                Readiness::Empty if draining => break,
                Readiness::Empty => {
                    tokio::select! {
                        _ = self.spool.appended() => {}
                        _ = self.stop.cancelled() => {}
                    }
                    continue;
                }
                Readiness::At(at) if !draining => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at.into()) => {}
                        _ = self.spool.appended() => {}
                        _ = self.stop.cancelled() => {}
                    }
                    continue;
                }
                _ => {}
            }
            let chunk = match self.spool.read_next(self.settings.batch_rows) {
                Ok(chunk) => chunk,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the spool; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = self.stop.cancelled() => {}
                    }
                    if draining {
                        break;
                    }
                    continue;
                }
            };
            if chunk.batches.is_empty() {
                continue;
            }
            let records = chunk.batches.len() as u64;
            let mut rows: Vec<EventRow> = chunk.batches.into_iter().flat_map(|b| b.rows).collect();
            let row_count = rows.len() as u64;
            let span = tracing::info_span!("batch", rows = row_count, from_disk = chunk.from_disk);
            let check = if chunk.from_earlier_run {
                Check::Count
            } else {
                Check::None
            };
            let stored = self
                .delivery
                .deliver(&mut rows, check, &self.stop, &mut deadline)
                .instrument(span)
                .await;
            if !stored {
                // Shutdown's deadline passed: the rows stay in the spool
                // (not acknowledged) for the next start — or, without a
                // disk, are gone.
                if self.spool.settings().dir.is_none() {
                    self.delivery
                        .metrics
                        .events_lost_at_shutdown
                        .inc_by(row_count);
                    tracing::error!(
                        events = row_count,
                        "ClickHouse stayed unreachable during shutdown; events not stored"
                    );
                }
                break;
            }
            if let Err(e) = self.spool.ack(chunk.end, records, row_count) {
                tracing::error!(error = %e, "cannot record spool progress; batches may be checked again");
            }
        }
        tracing::info!("writer drained");
    }
}

impl Delivery {
    /// Inserts `rows` (each carrying its record's `batch_id`), one insert
    /// per month partition, until stored, finding out `check` first. Gives
    /// up only once shutdown's deadline passed.
    async fn deliver(
        &self,
        rows: &mut [EventRow],
        check: Check,
        stop: &CancellationToken,
        deadline: &mut Option<Instant>,
    ) -> bool {
        rows.sort_by_key(EventRow::partition_month);
        for month in rows.chunk_by(|a, b| a.partition_month() == b.partition_month()) {
            if !self.deliver_one(month, check, stop, deadline).await {
                return false;
            }
        }
        true
    }

    async fn deliver_one(
        &self,
        rows: &[EventRow],
        mut check: Check,
        stop: &CancellationToken,
        deadline: &mut Option<Instant>,
    ) -> bool {
        // The same id for every attempt of this insert (see the module
        // comment): a second attempt while the first runs is refused, and
        // a stale first attempt can be found and killed.
        let query_id = format!(
            "saltmark-insert-{:016x}-{}",
            rows[0].batch_id,
            rows[0].partition_month()
        );
        let mut pending: Vec<EventRow> = rows.to_vec();
        let mut backoff = Duration::from_millis(100);
        // Whether this batch may be stored partly (see `reconcile_counts`).
        let mut ambiguous = check != Check::None;
        let delivered = loop {
            if check != Check::None {
                let settle = check == Check::SettleAndCount;
                match self.stored_already(&query_id, &pending, settle).await {
                    Ok(missing) if missing.is_empty() => {
                        self.metrics.batches_deduplicated.inc();
                        self.succeeded(pending.len(), None);
                        tracing::info!("batch was already stored; not inserting twice");
                        break true;
                    }
                    Ok(missing) => {
                        if missing.len() < pending.len() {
                            self.metrics.batches_deduplicated.inc();
                            self.succeeded(pending.len() - missing.len(), None);
                        }
                        pending = missing;
                        check = Check::None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot check the batch yet");
                        self.store.fail_over_counted(&self.metrics);
                    }
                }
            }
            if check == Check::None {
                let started = Instant::now();
                match self.insert(&pending, &query_id).await {
                    Ok(()) => {
                        self.succeeded(pending.len(), Some(started.elapsed()));
                        break true;
                    }
                    Err(e) => {
                        self.failed(&e, backoff);
                        ambiguous = true;
                        check = Check::SettleAndCount;
                    }
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break false;
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.cancelled(), if deadline.is_none() => {
                    *deadline = Some(Instant::now() + self.shutdown_timeout);
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        };
        if delivered && ambiguous {
            self.reconcile_counts(rows).await;
        }
        delivered
    }

    /// After a delivery that was not one clean insert — an earlier attempt
    /// failed, or this run replays what an earlier run may have sent —
    /// makes `event_counts` and `visits` agree with `events` for the batch's
    /// hours. On 18.16 the insert into `events` and its views' inserts are
    /// separate commits: an insert cut off by an outage, a
    /// kill or a stop can leave one without the other. The writer runs this
    /// before its next insert, so its own rows cannot race it.
    async fn reconcile_counts(&self, rows: &[EventRow]) {
        use crate::store::sql::{Param, Sql};
        let min = rows.iter().map(|r| r.timestamp).min().unwrap_or(0);
        let max = rows.iter().map(|r| r.timestamp).max().unwrap_or(0);
        let mut ids: Vec<u64> = rows.iter().map(|r| r.batch_id).collect();
        ids.sort_unstable();
        ids.dedup();
        // The hours as ClickHouse computes them (in its time zone), read
        // from the rows just confirmed stored.
        let predicate = Sql::new(
            "timestamp >= toDateTime(?) AND timestamp <= toDateTime(?) AND has(?, batch_id)",
            vec![Param::Time(min), Param::Time(max), Param::U64s(ids)],
        );
        let mut sessions: Vec<u64> = rows.iter().map(|r| r.session_id).collect();
        sessions.sort_unstable();
        sessions.dedup();
        let cluster = !self.store.on_cluster().is_empty();
        let store = self.store.clone();
        let work = async move {
            let result = async {
                let hours = crate::store::rollup::affected_hours(&store, &predicate).await?;
                crate::store::rollup::reconcile(&store, &hours).await?;
                // The batch's visits, made again from their events in those
                // hours (the view may have missed the insert, or seen it
                // twice).
                crate::store::visit_rollup::remake(
                    &store,
                    &hours,
                    Some(&sessions),
                    Duration::from_secs(600),
                )
                .await
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot reconcile the derived tables after a retried batch; the next reconcile of these hours will");
            }
        };
        if !cluster {
            work.await;
        } else {
            // In cluster mode the remake's delete runs ON CLUSTER and waits
            // for every replica, a stopped one too (up to the DDL timeout):
            // the events are stored, so the writer goes on with the next
            // batches while the derived rows are made again behind it.
            tokio::spawn(work.instrument(tracing::info_span!("reconcile")));
        }
    }

    /// Which rows are not stored yet. With `settle` (after an ambiguous
    /// failure of this insert), first makes sure that no earlier attempt
    /// can still commit.
    async fn stored_already(
        &self,
        query_id: &str,
        rows: &[EventRow],
        settle: bool,
    ) -> Result<Vec<EventRow>, StoreError> {
        if settle && self.kill_stale {
            self.kill(query_id).await?;
            // A server that was stalled may pick the stale request up a
            // moment after it answers again: kill once more after a pause.
            tokio::time::sleep(Duration::from_secs(1)).await;
            self.kill(query_id).await?;
        }
        self.missing(rows).await
    }

    /// `KILL QUERY … SYNC`: returns once no query with this id runs.
    async fn kill(&self, query_id: &str) -> Result<(), StoreError> {
        let kill = self
            .store
            .server_client()
            .query("KILL QUERY WHERE query_id = ? SYNC")
            .bind(query_id)
            .execute();
        match tokio::time::timeout(self.insert_timeout, kill).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(StoreError::Client(clickhouse::error::Error::TimedOut)),
        }
    }

    fn failed(&self, e: &StoreError, retry_in: Duration) {
        self.metrics.insert_errors.inc();
        self.store.fail_over_counted(&self.metrics);
        self.healthy.store(false, Ordering::Relaxed);
        tracing::warn!(error = %e, retry_in_ms = retry_in.as_millis() as u64, "insert failed");
    }

    fn succeeded(&self, rows: usize, took: Option<Duration>) {
        self.healthy.store(true, Ordering::Relaxed);
        self.metrics.events_written.inc_by(rows as u64);
        self.metrics.batch_rows.observe(rows as f64);
        if let Some(took) = took {
            self.metrics.insert_seconds.observe(took.as_secs_f64());
            tracing::debug!(rows, took_ms = took.as_millis() as u64, "batch stored");
        }
    }

    async fn insert(&self, rows: &[EventRow], query_id: &str) -> Result<(), StoreError> {
        let mut insert = self
            .store
            .client()
            .insert::<EventRow>("events")
            .await?
            .with_timeouts(Some(Duration::from_secs(10)), Some(self.insert_timeout))
            .with_setting("query_id", query_id);
        if self.dedup_token {
            insert = insert.with_setting("insert_deduplication_token", query_id);
        }
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// The rows of `rows` whose record is not (wholly) stored. One insert
    /// into one partition is one part, so a record is there entirely or not
    /// at all; a partial count means that invariant broke, and the record is
    /// re-inserted (risking doubles rather than losing).
    async fn missing(&self, rows: &[EventRow]) -> Result<Vec<EventRow>, StoreError> {
        let min = rows.iter().map(|r| r.timestamp).min().unwrap_or(0);
        let max = rows.iter().map(|r| r.timestamp).max().unwrap_or(0);
        let mut expected: HashMap<u64, u64> = HashMap::new();
        for row in rows {
            *expected.entry(row.batch_id).or_default() += 1;
        }
        let ids: Vec<u64> = expected.keys().copied().collect();
        let found: Vec<CountRow> = self
            .store
            .client()
            .query(
                "SELECT batch_id, count() AS rows FROM events \
                 WHERE timestamp >= toDateTime(?) AND timestamp <= toDateTime(?) AND has(?, batch_id) \
                 GROUP BY batch_id",
            )
            .bind(min)
            .bind(max)
            .bind(ids)
            .fetch_all()
            .await?;
        let mut stored = std::collections::HashSet::new();
        for CountRow { batch_id, rows } in found {
            match expected.get(&batch_id) {
                Some(&want) if want == rows => {
                    stored.insert(batch_id);
                }
                Some(&want) => tracing::error!(
                    found = rows,
                    expected = want,
                    "partial batch found; re-inserting"
                ),
                None => {}
            }
        }
        Ok(rows
            .iter()
            .filter(|r| !stored.contains(&r.batch_id))
            .cloned()
            .collect())
    }
}
