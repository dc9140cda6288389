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
//! - Shutdown: the channel is closed to new rows, everything already queued is
//!   written, retrying for at most `shutdown_timeout`; what is still undelivered
//!   then is logged and counted as lost (the disk spool will take it instead).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::row::EventRow;
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
#[derive(Debug, Clone)]
pub struct WriterHandle {
    sender: mpsc::Sender<EventRow>,
    healthy: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl WriterHandle {
    /// Queues a row without waiting.
    pub fn try_queue(&self, row: EventRow) -> Result<(), QueueError> {
        match self.sender.try_send(row) {
            Ok(()) => {
                self.metrics.queue_depth.inc();
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(QueueError::Full),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(QueueError::Closed),
        }
    }

    /// False while inserts are failing.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

/// Tells the writer task to drain and stop.
#[derive(Debug)]
pub struct WriterTask {
    stop: CancellationToken,
    join: tokio::task::JoinHandle<()>,
}

impl WriterTask {
    /// Closes the queue, writes what is in it, and waits for the task.
    pub async fn drain(self) {
        self.stop.cancel();
        let _ = self.join.await;
    }
}

/// Starts the writer task.
pub fn spawn(
    store: Store,
    settings: WriterSettings,
    metrics: Arc<Metrics>,
    random: Arc<dyn RandomSource>,
) -> (WriterHandle, WriterTask) {
    let (sender, receiver) = mpsc::channel(settings.queue_capacity);
    let healthy = Arc::new(AtomicBool::new(true));
    let stop = CancellationToken::new();
    let writer = Writer {
        store,
        settings,
        metrics: metrics.clone(),
        random,
        healthy: healthy.clone(),
        stop: stop.clone(),
    };
    let join = tokio::spawn(writer.run(receiver));
    (
        WriterHandle {
            sender,
            healthy,
            metrics,
        },
        WriterTask { stop, join },
    )
}

struct Writer {
    store: Store,
    settings: WriterSettings,
    metrics: Arc<Metrics>,
    random: Arc<dyn RandomSource>,
    healthy: Arc<AtomicBool>,
    stop: CancellationToken,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct CountRow {
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
            self.metrics.queue_depth.dec_by(batch.len() as i64);
            if let Some(lost) = self.write_batch(batch, &mut shutdown_deadline).await {
                self.metrics.events_lost_at_shutdown.inc_by(lost);
            }
        }
        tracing::info!("writer drained");
    }

    /// Writes one batch, retrying; returns the number of rows given up (only
    /// possible once shutdown's deadline has passed).
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
                .insert_until_stored(month, batch_id, shutdown_deadline)
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

    async fn insert_until_stored(
        &self,
        rows: &[EventRow],
        batch_id: u64,
        shutdown_deadline: &mut Option<Instant>,
    ) -> bool {
        let mut backoff = Duration::from_millis(100);
        let mut maybe_stored = false;
        loop {
            if maybe_stored {
                match self.count_batch(rows, batch_id).await {
                    Ok(n) if n == rows.len() as u64 => {
                        self.metrics.batches_deduplicated.inc();
                        self.succeeded(rows.len(), None);
                        tracing::info!("batch was already stored; not inserting twice");
                        return true;
                    }
                    Ok(0) => maybe_stored = false,
                    Ok(n) => {
                        // One insert into one partition is one part: all or
                        // nothing. Seeing a partial count means that invariant
                        // broke; storing again risks doubles, not storing loses.
                        tracing::error!(
                            found = n,
                            expected = rows.len(),
                            "partial batch found; re-inserting"
                        );
                        maybe_stored = false;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot check batch yet"),
                }
            }
            if !maybe_stored {
                let started = Instant::now();
                match self.insert(rows).await {
                    Ok(()) => {
                        self.succeeded(rows.len(), Some(started.elapsed()));
                        return true;
                    }
                    Err(e) => {
                        self.metrics.insert_errors.inc();
                        self.healthy.store(false, Ordering::Relaxed);
                        tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "insert failed");
                        maybe_stored = true;
                    }
                }
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
            backoff = (backoff * 2).min(Duration::from_secs(5));
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

    async fn count_batch(&self, rows: &[EventRow], batch_id: u64) -> Result<u64, StoreError> {
        let min = rows.iter().map(|r| r.timestamp).min().unwrap_or(0);
        let max = rows.iter().map(|r| r.timestamp).max().unwrap_or(0);
        let found: CountRow = self
            .store
            .client()
            .query(
                "SELECT count() AS rows FROM events \
                 WHERE timestamp >= toDateTime(?) AND timestamp <= toDateTime(?) AND batch_id = ?",
            )
            .bind(min)
            .bind(max)
            .bind(batch_id)
            .fetch_one()
            .await?;
        Ok(found.rows)
    }
}
