//! Queue → batches → ClickHouse, without losing or doubling what was accepted.
//!
//! Design and invariants:
//! - Ingest puts rows into a bounded channel with `try_send`. When it is full,
//!   ingest answers 503 + Retry-After: the memory bound is explicit, and an
//!   event is either accepted (and then delivered) or refused — never accepted
//!   and silently dropped.
//! - One writer task takes up to `batch_rows` rows, or whatever arrived within
//!   `batch_age` of the first, and inserts them with RowBinary.
//! - A batch is split by month so that each insert lands in a single
//!   partition: ClickHouse then writes it as one part, which is atomic — it is
//!   stored entirely or not at all.
//! - Each insert carries a random `batch_id` in every row. An insert that fails
//!   may still have been stored (the connection broke after the server
//!   committed). Before retrying, the writer counts the rows with that
//!   `batch_id` in the batch's time range: all there → done (counted in
//!   `batches_deduplicated`); none → insert again. This works on 18.16, which
//!   has no insert deduplication for plain MergeTree.
//! - Failures are retried with exponential backoff (100 ms → 5 s). While the
//!   writer retries, the channel fills and ingest pushes back with 503s.
//!   With several ClickHouse nodes configured, each failure also moves the
//!   store to the next node ([`crate::clickhouse::Store::fail_over`]), so
//!   the retry — including the count-by-`batch_id` check — goes there.
//! - With the disk spool (`spool.max_bytes` > 0, see [`super::spool`]): a
//!   batch whose insert fails is appended to the spool with its `batch_id`
//!   instead of being retried in memory, and from then on — while the spool
//!   holds anything — every new batch goes behind it, and ingest appends rows
//!   to the spool directly (so a 202 during an outage is on disk per the
//!   fsync policy). A memory queue that is full sends rows to the spool too.
//!   A replay task delivers the spool in order; replay always starts with the
//!   count-by-`batch_id` check (only the batches not yet stored are inserted),
//!   so a batch is never stored twice. Only a full spool makes ingest answer
//!   503.
//! - Shutdown: the channel is closed to new rows, everything already queued is
//!   written (or spooled), then replay goes on for at most `shutdown_timeout`;
//!   what is left stays in the spool for the next start. Without a spool,
//!   what is still undelivered then is logged and counted as lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::row::EventRow;
use super::spool::{FsyncPolicy, Spool, SpoolError, SpooledBatch};
use crate::clickhouse::{Store, StoreError};
use crate::clock::RandomSource;
use crate::metrics::Metrics;

/// Batching settings.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Rows per insert at most.
    pub batch_rows: usize,
    /// Age of the oldest queued row that triggers an insert.
    pub batch_age: Duration,
    /// Channel capacity (the memory bound).
    pub queue_capacity: usize,
    /// How long shutdown keeps retrying.
    pub shutdown_timeout: Duration,
}

/// Why a row was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The memory bound is reached; try again shortly.
    Full,
    /// The writer is shutting down.
    Closed,
}

/// The sending side, held by ingest.
#[derive(Clone)]
pub struct WriterHandle {
    sender: mpsc::Sender<EventRow>,
    healthy: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    spool: Option<Arc<Spool>>,
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
    /// Queues the rows of one event without waiting, all or none: into
    /// memory, or — while the spool is in use or the memory queue is full —
    /// onto the disk spool as one record.
    pub fn try_queue_all(&self, rows: Vec<EventRow>) -> Result<(), QueueError> {
        if self.is_spooling() {
            return self.spool_rows(rows);
        }
        match self.sender.try_reserve_many(rows.len()) {
            Ok(permits) => {
                self.metrics.queue_depth.inc_by(rows.len() as i64);
                for (permit, row) in permits.zip(rows) {
                    permit.send(row);
                }
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(())) if self.spool.is_some() => {
                self.spool_rows(rows)
            }
            Err(mpsc::error::TrySendError::Full(())) => Err(QueueError::Full),
            Err(mpsc::error::TrySendError::Closed(())) => Err(QueueError::Closed),
        }
    }

    fn spool_rows(&self, mut rows: Vec<EventRow>) -> Result<(), QueueError> {
        let Some(spool) = &self.spool else {
            return Err(QueueError::Full);
        };
        let batch_id = self.random.next_u64();
        for row in &mut rows {
            row.batch_id = batch_id;
        }
        match spool.append(&SpooledBatch { batch_id, rows }) {
            Ok(()) => Ok(()),
            Err(SpoolError::Full) => Err(QueueError::Full),
            Err(e) => {
                tracing::error!(error = %e, "cannot write to the spool");
                Err(QueueError::Full)
            }
        }
    }

    /// False while inserts are failing.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// True while events wait in the disk spool.
    pub fn is_spooling(&self) -> bool {
        self.spool.as_ref().is_some_and(|s| s.is_active())
    }
}

/// Tells the writer task to drain and stop.
#[derive(Debug)]
pub struct WriterTask {
    stop: CancellationToken,
    join: tokio::task::JoinHandle<()>,
    replay_stop: CancellationToken,
    replay: Option<tokio::task::JoinHandle<()>>,
    spool: Option<Arc<Spool>>,
}

impl WriterTask {
    /// Closes the queue, writes what is in it, replays the spool for at most
    /// the shutdown timeout, and waits for the tasks.
    pub async fn drain(self) {
        self.stop.cancel();
        let _ = self.join.await;
        self.replay_stop.cancel();
        if let Some(replay) = self.replay {
            let _ = replay.await;
        }
        if let Some(spool) = self.spool {
            if let Err(e) = spool.sync() {
                tracing::error!(error = %e, "spool sync at shutdown failed");
            }
            if spool.is_active() {
                tracing::warn!("events left in the spool; they are replayed at the next start");
            }
        }
    }
}

/// Starts the writer task (and, with a spool, the replay and fsync tasks).
pub fn spawn(
    store: Store,
    settings: WriterSettings,
    metrics: Arc<Metrics>,
    random: Arc<dyn RandomSource>,
    spool: Option<Arc<Spool>>,
) -> (WriterHandle, WriterTask) {
    let (sender, receiver) = mpsc::channel(settings.queue_capacity);
    let healthy = Arc::new(AtomicBool::new(true));
    let stop = CancellationToken::new();
    let replay_stop = CancellationToken::new();
    let delivery = Arc::new(Delivery {
        store,
        metrics: metrics.clone(),
        healthy: healthy.clone(),
        shutdown_timeout: settings.shutdown_timeout,
    });
    let writer = Writer {
        delivery: delivery.clone(),
        settings: settings.clone(),
        random: random.clone(),
        stop: stop.clone(),
        spool: spool.clone(),
    };
    let join = tokio::spawn(writer.run(receiver));
    let replay = spool.clone().map(|spool| {
        if let FsyncPolicy::Every(every) = spool.settings().fsync {
            let (spool, stop) = (spool.clone(), replay_stop.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                    if let Err(e) = spool.sync() {
                        tracing::error!(error = %e, "spool sync failed");
                    }
                }
            });
        }
        tokio::spawn(replay(
            delivery,
            spool,
            settings.batch_rows,
            replay_stop.clone(),
        ))
    });
    (
        WriterHandle {
            sender,
            healthy,
            metrics,
            spool: spool.clone(),
            random,
        },
        WriterTask {
            stop,
            join,
            replay_stop,
            replay,
            spool,
        },
    )
}

struct Writer {
    delivery: Arc<Delivery>,
    settings: WriterSettings,
    random: Arc<dyn RandomSource>,
    stop: CancellationToken,
    spool: Option<Arc<Spool>>,
}

/// Inserting with retries and the exactly-once check; shared by the writer
/// and the spool replay.
struct Delivery {
    store: Store,
    metrics: Arc<Metrics>,
    healthy: Arc<AtomicBool>,
    shutdown_timeout: Duration,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct CountRow {
    batch_id: u64,
    rows: u64,
}

impl Writer {
    async fn run(self, mut receiver: mpsc::Receiver<EventRow>) {
        let mut shutdown_deadline: Option<Instant> = None;
        loop {
            let first = tokio::select! {
                row = receiver.recv() => row,
                _ = self.stop.cancelled(), if shutdown_deadline.is_none() => {
                    receiver.close();
                    shutdown_deadline = Some(Instant::now() + self.settings.shutdown_timeout);
                    continue;
                }
            };
            let Some(first) = first else { break };
            let mut batch = Vec::with_capacity(self.settings.batch_rows.min(4096));
            batch.push(first);
            let age_deadline = tokio::time::Instant::now() + self.settings.batch_age;
            while batch.len() < self.settings.batch_rows {
                tokio::select! {
                    row = receiver.recv() => match row {
                        Some(row) => batch.push(row),
                        None => break,
                    },
                    _ = tokio::time::sleep_until(age_deadline), if shutdown_deadline.is_none() => break,
                    _ = self.stop.cancelled(), if shutdown_deadline.is_none() => {
                        receiver.close();
                        shutdown_deadline = Some(Instant::now() + self.settings.shutdown_timeout);
                    }
                }
            }
            self.delivery.metrics.queue_depth.dec_by(batch.len() as i64);
            if let Some(lost) = self.write_batch(batch, &mut shutdown_deadline).await {
                self.delivery.metrics.events_lost_at_shutdown.inc_by(lost);
            }
        }
        tracing::info!("writer drained");
    }

    /// Writes one batch (to ClickHouse or the spool), retrying; returns the
    /// number of rows given up (only possible once shutdown's deadline has
    /// passed, and with a spool only if it is full).
    async fn write_batch(
        &self,
        mut batch: Vec<EventRow>,
        shutdown_deadline: &mut Option<Instant>,
    ) -> Option<u64> {
        batch.sort_by_key(EventRow::partition_month);
        let mut lost = 0u64;
        for month in batch.chunk_by_mut(|a, b| a.partition_month() == b.partition_month()) {
            let batch_id = self.random.next_u64();
            for row in month.iter_mut() {
                row.batch_id = batch_id;
            }
            let span = tracing::info_span!("batch", batch_id, rows = month.len());
            let stored = self
                .deliver(month, batch_id, shutdown_deadline)
                .instrument(span)
                .await;
            if !stored {
                lost += month.len() as u64;
            }
        }
        (lost > 0).then(|| {
            tracing::error!(
                events = lost,
                "ClickHouse stayed unreachable during shutdown; events not stored"
            );
            lost
        })
    }

    async fn deliver(
        &self,
        rows: &[EventRow],
        batch_id: u64,
        shutdown_deadline: &mut Option<Instant>,
    ) -> bool {
        let Some(spool) = &self.spool else {
            return self
                .delivery
                .insert_until_stored(rows, false, &self.stop, shutdown_deadline)
                .await;
        };
        let spooled = || SpooledBatch {
            batch_id,
            rows: rows.to_vec(),
        };
        if !spool.is_active() {
            let started = Instant::now();
            match self.delivery.insert(rows).await {
                Ok(()) => {
                    self.delivery.succeeded(rows.len(), Some(started.elapsed()));
                    return true;
                }
                Err(e) => {
                    self.delivery.failed(&e, None);
                    tracing::warn!(
                        "batch goes to the disk spool; replayed when ClickHouse is back"
                    );
                }
            }
        }
        // Spooling: append (the replay's first step is the batch_id check,
        // so a failed insert that was in fact stored is not stored twice).
        let mut backoff = Duration::from_millis(50);
        loop {
            match spool.append(&spooled()) {
                Ok(()) => return true,
                Err(SpoolError::Full) => {}
                Err(e) => tracing::error!(error = %e, "cannot write to the spool"),
            }
            if !spool.is_active() {
                // The replay caught up meanwhile: insert directly again.
                return self
                    .delivery
                    .insert_until_stored(rows, true, &self.stop, shutdown_deadline)
                    .await;
            }
            if shutdown_deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.stop.cancelled(), if shutdown_deadline.is_none() => {
                    *shutdown_deadline = Some(Instant::now() + self.settings.shutdown_timeout);
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}

/// Delivers the spool in order until it is empty, then waits for appends.
/// On shutdown (`stop`), goes on for at most the shutdown timeout.
async fn replay(
    delivery: Arc<Delivery>,
    spool: Arc<Spool>,
    batch_rows: usize,
    stop: CancellationToken,
) {
    let mut shutdown_deadline: Option<Instant> = None;
    loop {
        let chunk = match spool.read_next(batch_rows) {
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the spool; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = stop.cancelled() => return,
                }
            }
        };
        if chunk.batches.is_empty() {
            if stop.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = spool.appended() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.cancelled() => {}
            }
            continue;
        }
        // One insert per month partition (atomic), in spool order.
        let records = chunk.batches.len() as u64;
        let mut rows: Vec<EventRow> = chunk.batches.into_iter().flat_map(|b| b.rows).collect();
        rows.sort_by_key(EventRow::partition_month);
        let mut all_stored = true;
        for month in rows.chunk_by(|a, b| a.partition_month() == b.partition_month()) {
            let span = tracing::info_span!("replay", rows = month.len());
            let stored = delivery
                .insert_until_stored(month, true, &stop, &mut shutdown_deadline)
                .instrument(span)
                .await;
            if !stored {
                all_stored = false;
                break;
            }
        }
        if !all_stored {
            // Shutdown deadline passed: the chunk stays in the spool.
            return;
        }
        if let Err(e) = spool.ack(chunk.end, records, rows.len() as u64) {
            tracing::error!(error = %e, "cannot record spool progress; batches may be checked again");
        }
        if !spool.is_active() {
            tracing::info!("spool replayed; writing to ClickHouse directly again");
        }
    }
}

impl Delivery {
    /// Inserts `rows` (each carrying its batch's `batch_id`) until stored.
    /// With `maybe_stored`, first asks which batches are already there and
    /// inserts only the rest. Gives up only once shutdown's deadline passed.
    async fn insert_until_stored(
        &self,
        rows: &[EventRow],
        mut maybe_stored: bool,
        stop: &CancellationToken,
        shutdown_deadline: &mut Option<Instant>,
    ) -> bool {
        let mut backoff = Duration::from_millis(100);
        let mut pending: Vec<EventRow> = rows.to_vec();
        loop {
            if maybe_stored {
                match self.missing(&pending).await {
                    Ok(missing) if missing.is_empty() => {
                        self.metrics.batches_deduplicated.inc();
                        self.succeeded(pending.len(), None);
                        tracing::info!("batch was already stored; not inserting twice");
                        return true;
                    }
                    Ok(missing) => {
                        if missing.len() < pending.len() {
                            self.metrics.batches_deduplicated.inc();
                            self.succeeded(pending.len() - missing.len(), None);
                        }
                        pending = missing;
                        maybe_stored = false;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot check batch yet");
                        self.store.fail_over_counted(&self.metrics);
                    }
                }
            }
            if !maybe_stored {
                let started = Instant::now();
                match self.insert(&pending).await {
                    Ok(()) => {
                        self.succeeded(pending.len(), Some(started.elapsed()));
                        return true;
                    }
                    Err(e) => {
                        self.failed(&e, Some(backoff));
                        maybe_stored = true;
                    }
                }
            }
            if shutdown_deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.cancelled(), if shutdown_deadline.is_none() => {
                    *shutdown_deadline = Some(Instant::now() + self.shutdown_timeout);
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    fn failed(&self, e: &StoreError, retry_in: Option<Duration>) {
        self.metrics.insert_errors.inc();
        self.store.fail_over_counted(&self.metrics);
        self.healthy.store(false, Ordering::Relaxed);
        match retry_in {
            Some(backoff) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "insert failed")
            }
            None => tracing::warn!(error = %e, "insert failed"),
        }
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

    async fn insert(&self, rows: &[EventRow]) -> Result<(), StoreError> {
        let mut insert = self
            .store
            .client()
            .insert::<EventRow>("events")
            .await?
            .with_timeouts(Some(Duration::from_secs(10)), Some(Duration::from_secs(30)));
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// The rows of `rows` whose batch is not (wholly) stored. One insert into
    /// one partition is one part, so a batch is there entirely or not at all;
    /// a partial count means that invariant broke, and the batch is
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
