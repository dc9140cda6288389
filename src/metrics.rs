//! Prometheus metrics, one registry per server instance (so tests can run
//! several servers in one process and read each one's counters).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A label holding a reason (`bot`, `unknown_site`, `too_large`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The reason.
    pub reason: String,
}

/// Every metric the collector exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Events accepted into the queue (answered 202 without a drop reason).
    pub events_accepted: Counter,
    /// Events deliberately not recorded, by reason (still answered 202).
    pub events_dropped: Family<ReasonLabel, Counter>,
    /// Requests refused, by reason (4xx / 5xx).
    pub requests_rejected: Family<ReasonLabel, Counter>,
    /// Events waiting in memory for the writer.
    pub queue_depth: Gauge,
    /// Events stored in ClickHouse.
    pub events_written: Counter,
    /// Rows per insert.
    pub batch_rows: Histogram,
    /// Failed insert attempts (each retry counts).
    pub insert_errors: Counter,
    /// Switches of the writer to the next configured ClickHouse node.
    pub clickhouse_failovers: Counter,
    /// Visits decided by the visitor's owner collector (sessions.peers).
    pub visits_asked_owner: Counter,
    /// Visits decided locally because the owner did not answer in time.
    pub visit_owner_unreachable: Counter,
    /// Seconds per successful insert.
    pub insert_seconds: Histogram,
    /// Batches found already stored when retrying after an ambiguous failure.
    pub batches_deduplicated: Counter,
    /// Events given up at shutdown because ClickHouse stayed down.
    pub events_lost_at_shutdown: Counter,
    /// Bytes of spool segment files on disk.
    pub spool_bytes: Gauge,
    /// Undelivered batches in the spool.
    pub spool_records: Gauge,
    /// Events written to the spool.
    pub spool_appended: Counter,
    /// Events replayed from the spool into ClickHouse (replay progress).
    pub spool_replayed: Counter,
    /// Corrupt or torn spool records skipped.
    pub spool_corrupt_records: Counter,
    /// Connections currently open.
    pub connections_open: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("saltmark");
        let events_accepted = Counter::default();
        let events_dropped = Family::<ReasonLabel, Counter>::default();
        let requests_rejected = Family::<ReasonLabel, Counter>::default();
        let queue_depth = Gauge::default();
        let events_written = Counter::default();
        let batch_rows = Histogram::new(exponential_buckets(1.0, 4.0, 10));
        let insert_errors = Counter::default();
        let clickhouse_failovers = Counter::default();
        let visits_asked_owner = Counter::default();
        let visit_owner_unreachable = Counter::default();
        let insert_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let batches_deduplicated = Counter::default();
        let events_lost_at_shutdown = Counter::default();
        let spool_bytes = Gauge::default();
        let spool_records = Gauge::default();
        let spool_appended = Counter::default();
        let spool_replayed = Counter::default();
        let spool_corrupt_records = Counter::default();
        let connections_open = Gauge::default();
        registry.register(
            "spool_bytes",
            "Bytes of spool segment files on disk",
            spool_bytes.clone(),
        );
        registry.register(
            "spool_records",
            "Undelivered batches waiting in the spool",
            spool_records.clone(),
        );
        registry.register(
            "spool_appended_events",
            "Events written to the disk spool",
            spool_appended.clone(),
        );
        registry.register(
            "spool_replayed_events",
            "Events replayed from the disk spool into ClickHouse",
            spool_replayed.clone(),
        );
        registry.register(
            "spool_corrupt_records",
            "Corrupt or torn spool records skipped",
            spool_corrupt_records.clone(),
        );
        registry.register(
            "connections_open",
            "HTTP connections currently open",
            connections_open.clone(),
        );
        registry.register(
            "events_accepted",
            "Events accepted for storage",
            events_accepted.clone(),
        );
        registry.register(
            "events_dropped",
            "Events deliberately not recorded, by reason",
            events_dropped.clone(),
        );
        registry.register(
            "requests_rejected",
            "Requests refused, by reason",
            requests_rejected.clone(),
        );
        registry.register(
            "queue_depth",
            "Events waiting in memory for the writer",
            queue_depth.clone(),
        );
        registry.register(
            "events_written",
            "Events stored in ClickHouse",
            events_written.clone(),
        );
        registry.register("batch_rows", "Rows per insert", batch_rows.clone());
        registry.register(
            "insert_errors",
            "Failed insert attempts",
            insert_errors.clone(),
        );
        registry.register(
            "visits_asked_owner",
            "Visits decided by the visitor's owner collector",
            visits_asked_owner.clone(),
        );
        registry.register(
            "visit_owner_unreachable",
            "Visits decided locally because the owner collector did not answer in time",
            visit_owner_unreachable.clone(),
        );
        registry.register(
            "clickhouse_failovers",
            "Switches to the next configured ClickHouse node after a failure",
            clickhouse_failovers.clone(),
        );
        registry.register(
            "insert_seconds",
            "Seconds per successful insert",
            insert_seconds.clone(),
        );
        registry.register(
            "batches_deduplicated",
            "Batches found already stored when retrying",
            batches_deduplicated.clone(),
        );
        registry.register(
            "events_lost_at_shutdown",
            "Events abandoned at shutdown because ClickHouse stayed down",
            events_lost_at_shutdown.clone(),
        );
        Metrics {
            registry,
            events_accepted,
            events_dropped,
            requests_rejected,
            queue_depth,
            events_written,
            batch_rows,
            insert_errors,
            clickhouse_failovers,
            visits_asked_owner,
            visit_owner_unreachable,
            insert_seconds,
            batches_deduplicated,
            events_lost_at_shutdown,
            spool_bytes,
            spool_records,
            spool_appended,
            spool_replayed,
            spool_corrupt_records,
            connections_open,
        }
    }

    /// Counts a deliberate drop.
    pub fn dropped(&self, reason: &str) {
        self.events_dropped
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts a refused request.
    pub fn rejected(&self, reason: &str) {
        self.requests_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
