//! ClickHouse: the connection ([`Store`]), the schema ([`migrate`]) and the
//! embedded server that saltmark runs when no URL is configured ([`managed`]).
//!
//! We speak HTTP through the `clickhouse` crate. Two server generations matter:
//! Debian's 18.16 and modern releases. [`ServerVersion`] is read once at connect
//! time and decides which DDL the migrations emit (TTL and LowCardinality only
//! where the server has them). Schema validation of the crate is switched off
//! because it sends a setting 18.16 rejects.

pub mod backfill;
pub mod event_granules;
pub mod managed;
pub mod migrate;
pub mod rollup;
pub mod sql;
pub mod visit_rollup;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use crate::config::urls::{node_urls, redact_url, split_credentials};
use crate::config::ClickHouseConfig;

/// Something went wrong talking to ClickHouse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The server answered with an error or could not be reached.
    #[error("clickhouse: {0}")]
    Client(#[from] clickhouse::error::Error),
    /// `SELECT version()` gave something we cannot read.
    #[error("clickhouse returned an unreadable version {0:?}")]
    Version(String),
    /// The database was migrated by a newer saltmark: this one would not
    /// know its tables.
    #[error(
        "the database's schema is version {found}, newer than this saltmark ({binary}) knows \
         (up to {known}): run the saltmark release that upgraded it, or a newer one (CHANGELOG.md)"
    )]
    NewerSchema {
        /// The database's newest schema version.
        found: u32,
        /// This binary's newest.
        known: u32,
        /// This binary's version.
        binary: &'static str,
    },
    /// A migration failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: u32,
        name: String,
        source: clickhouse::error::Error,
    },
    /// No node answered within the connect deadline.
    #[error("cannot reach ClickHouse at {url}: {reason} (tried for {waited_secs} s)")]
    Unreachable {
        /// The URL(s), passwords hidden.
        url: String,
        /// What the last attempt met: refused, not found, no answer, …
        reason: String,
        /// How long it was tried.
        waited_secs: u64,
        /// The last attempt's error.
        #[source]
        source: Option<clickhouse::error::Error>,
    },
    /// Making `events` again (`event_granules`) left rows of the old table
    /// out of the new one; the old table is kept.
    #[error(
        "{left} rows of events_old are not in the new events table; events_old is kept \
         (run `saltmark migrate` again)"
    )]
    EventsCopy {
        /// Rows of the old table not found in the new one.
        left: u64,
    },
    /// A step that waits for the server (a mutation to reach this replica)
    /// did not finish in time.
    #[error("clickhouse did not finish {0} in time")]
    Timeout(&'static str),
    /// The server refused the user or password (not retried).
    #[error("ClickHouse at {url} refused the login of user {user:?}: {reason}")]
    Credentials {
        /// The URL, password hidden.
        url: String,
        /// The user tried.
        user: String,
        /// The server's reason (wrong password, unknown user, …).
        reason: String,
    },
}

/// Why connecting failed, in words an operator can act on, and whether
/// trying again can help.
fn describe_failure(error: &clickhouse::error::Error) -> (String, bool) {
    // 192 UNKNOWN_USER, 193 WRONG_PASSWORD, 194 REQUIRED_PASSWORD,
    // 516 AUTHENTICATION_FAILED (modern servers).
    if let Some(code @ (192 | 193 | 194 | 516)) = error_code(error) {
        let reason = match code {
            192 => "unknown user",
            193 => "wrong password",
            194 => "a password is required",
            _ => "authentication failed (unknown user or wrong password)",
        };
        return (reason.to_string(), false);
    }
    let refused = "connection refused (is the server running, and is this its HTTP port?)";
    let mut chain = String::new();
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = cause {
        chain.push_str(&e.to_string().to_ascii_lowercase());
        chain.push(' ');
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return (refused.to_string(), true),
                std::io::ErrorKind::TimedOut => return ("no answer (timed out)".into(), true),
                std::io::ErrorKind::ConnectionReset => {
                    return ("the connection was reset".into(), true)
                }
                _ => {}
            }
        }
        cause = e.source();
    }
    if chain.contains("dns error") || chain.contains("failed to lookup") {
        return ("host name not found".to_string(), true);
    }
    if chain.contains("connection refused") {
        return (refused.to_string(), true);
    }
    (error.to_string(), true)
}

/// A server's version, for feature checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    /// Year-based major (18, 20, … 26).
    pub major: u32,
    /// Minor release.
    pub minor: u32,
}

impl ServerVersion {
    /// Parses `"18.16.1"` or `"24.3.2.23"`.
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(ServerVersion { major, minor })
    }

    /// `TTL` clauses (since 19.6; we require 20 as the issue tracker's line).
    pub fn has_ttl(self) -> bool {
        self.major >= 20
    }

    /// `LowCardinality` without an experimental setting.
    pub fn has_low_cardinality(self) -> bool {
        self.major >= 20
    }

    /// `DROP TABLE … SYNC`. Servers from 20.10 on drop a table of an Atomic
    /// database later unless told to wait; earlier ones drop at once.
    pub fn has_drop_sync(self) -> bool {
        self.major >= 21
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A connection to the events database plus what we learnt about the server.
///
/// `clickhouse.url` may name several nodes (comma-separated): replicas of
/// one shard, or nodes of a cluster that each hold the Distributed tables.
/// One node is *active* and serves every statement; when an insert fails the
/// writer calls [`Store::fail_over`] and retries on the next node, so one
/// stopped node costs a retry, not an outage. Clones share the active node.
#[derive(Clone)]
pub struct Store {
    nodes: Arc<[Node]>,
    active: Arc<AtomicUsize>,
    database: String,
    version: ServerVersion,
    cluster: Option<String>,
}

struct Node {
    url: String,
    client: clickhouse::Client,
    server_client: clickhouse::Client,
    /// Stats queries: the read-only user when one is configured, and the
    /// statement limits on every query.
    reader: clickhouse::Client,
}

/// Limits on every statement of the stats path (set as query settings, so
/// they hold on a server saltmark does not configure, too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementLimits {
    /// `max_execution_time`, seconds.
    pub max_execution_secs: u64,
    /// `max_memory_usage`, bytes; 0 leaves the server's own.
    pub max_memory_bytes: u64,
    /// `max_result_rows` (with `result_overflow_mode = 'throw'`).
    pub max_result_rows: u64,
}

impl From<&crate::config::QueryConfig> for StatementLimits {
    fn from(query: &crate::config::QueryConfig) -> Self {
        StatementLimits {
            max_execution_secs: query.max_execution_secs,
            max_memory_bytes: query.max_memory_bytes,
            max_result_rows: query.max_result_rows,
        }
    }
}

impl Default for StatementLimits {
    fn default() -> Self {
        StatementLimits {
            max_execution_secs: 30,
            max_memory_bytes: 0,
            max_result_rows: 1_000_000,
        }
    }
}

/// The ClickHouse error code of a failed statement (`Code: 241. …`).
pub fn error_code(error: &clickhouse::error::Error) -> Option<u32> {
    let clickhouse::error::Error::BadResponse(text) = error else {
        return None;
    };
    let rest = &text[text.find("Code: ")? + "Code: ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether a failed statement hit one of its resource limits (time,
/// memory, result size, rows or bytes read, or the server's concurrency).
pub fn is_limit_error(error: &clickhouse::error::Error) -> bool {
    // 158 TOO_MANY_ROWS, 159 TIMEOUT_EXCEEDED, 160 TOO_SLOW, 241
    // MEMORY_LIMIT_EXCEEDED, 307 TOO_MANY_BYTES, 396 TOO_MANY_ROWS_OR_BYTES.
    matches!(error_code(error), Some(158 | 159 | 160 | 241 | 307 | 396))
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url())
            .field("nodes", &self.nodes.len())
            .field("database", &self.database)
            .field("version", &self.version)
            .finish()
    }
}

impl Store {
    /// Connects to the first of `urls` (comma-separated) that answers, and
    /// reads its version. Does not create the database: that is
    /// [`migrate::run`]'s job.
    pub async fn connect(urls: &str, cfg: &ClickHouseConfig) -> Result<Store, StoreError> {
        Store::connect_with_limits(urls, cfg, StatementLimits::default()).await
    }

    /// [`Store::connect`] with these limits on the stats path's statements.
    pub async fn connect_with_limits(
        urls: &str,
        cfg: &ClickHouseConfig,
        limits: StatementLimits,
    ) -> Result<Store, StoreError> {
        let nodes: Arc<[Node]> = node_urls(urls)
            .into_iter()
            .map(|url| {
                // Credentials in the URL win over clickhouse.user/password.
                let (url, from_url) = split_credentials(url);
                let (user, password) =
                    from_url.unwrap_or_else(|| (cfg.user.clone(), cfg.password.clone()));
                let url = url.as_str();
                let mut server_client = clickhouse::Client::default()
                    .with_url(url)
                    .with_user(&user)
                    .with_password(&password)
                    .with_validation(false);
                if cfg.cluster.is_some() {
                    // An insert into the Distributed table returns only once
                    // every shard has its rows: a 200 means stored, as on
                    // one server, and a retry after a failure meets the
                    // replicas' block deduplication.
                    server_client = server_client.with_setting("insert_distributed_sync", "1");
                }
                let (reader_user, reader_password) = match &cfg.reader_user {
                    Some(reader) => (reader.clone(), cfg.reader_password.clone()),
                    None => (user.clone(), password.clone()),
                };
                let mut reader = clickhouse::Client::default()
                    .with_url(url)
                    .with_user(&reader_user)
                    .with_password(&reader_password)
                    .with_validation(false)
                    .with_database(&cfg.database)
                    .with_setting("max_execution_time", limits.max_execution_secs.to_string())
                    .with_setting("max_result_rows", limits.max_result_rows.to_string())
                    .with_setting("result_overflow_mode", "throw");
                if limits.max_memory_bytes > 0 {
                    reader = reader
                        .with_setting("max_memory_usage", limits.max_memory_bytes.to_string());
                }
                Node {
                    url: url.to_string(),
                    client: server_client.clone().with_database(&cfg.database),
                    server_client,
                    reader,
                }
            })
            .collect();
        let mut last_error = None;
        for (index, node) in nodes.iter().enumerate() {
            match node
                .server_client
                .query("SELECT version()")
                .fetch_one::<String>()
                .await
            {
                Ok(version_text) => {
                    let version = ServerVersion::parse(&version_text)
                        .ok_or(StoreError::Version(version_text))?;
                    return Ok(Store {
                        nodes: nodes.clone(),
                        active: Arc::new(AtomicUsize::new(index)),
                        database: cfg.database.clone(),
                        version,
                        cluster: cfg.cluster.clone(),
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(StoreError::Client(last_error.unwrap_or_else(|| {
            clickhouse::error::Error::Custom("no ClickHouse URL given".into())
        })))
    }

    /// Connects, retrying until `deadline` passes: the managed server and
    /// containers often need a moment after the process starts.
    ///
    /// Says at once what it tries (the URL, passwords hidden, and the user),
    /// warns every few seconds with the reason while it waits, gives up at
    /// once when the server refuses the credentials (trying again cannot
    /// help), and ends with an error naming the URL and the reason.
    pub async fn connect_with_retry(
        urls: &str,
        config: &crate::config::Config,
        deadline: Duration,
    ) -> Result<Store, StoreError> {
        let shown = redact_url(urls);
        let user = node_urls(urls)
            .first()
            .and_then(|u| split_credentials(u).1)
            .map_or_else(|| config.clickhouse.user.clone(), |(user, _)| user);
        tracing::info!(url = %shown, user = %user, "connecting to ClickHouse");
        let started = tokio::time::Instant::now();
        // The first failure is said at once (a one-shot command logs only
        // warnings), then every 5 s while retrying.
        let mut last_warning: Option<tokio::time::Instant> = None;
        let limits = StatementLimits::from(&config.query);
        let attempt_limit = Duration::from_secs(5).min(deadline.max(Duration::from_secs(1)));
        loop {
            let attempt = tokio::time::timeout(
                attempt_limit,
                Store::connect_with_limits(urls, &config.clickhouse, limits),
            )
            .await;
            let (reason, retry, source) = match attempt {
                Ok(Ok(store)) => return Ok(store),
                Ok(Err(StoreError::Client(e))) => {
                    let (reason, retry) = describe_failure(&e);
                    (reason, retry, Some(e))
                }
                Ok(Err(other)) => return Err(other),
                Err(_) => (
                    format!("no answer within {} s", attempt_limit.as_secs()),
                    true,
                    None,
                ),
            };
            if !retry {
                return Err(StoreError::Credentials {
                    url: shown,
                    user,
                    reason,
                });
            }
            let waited = started.elapsed();
            if waited >= deadline {
                return Err(StoreError::Unreachable {
                    url: shown,
                    reason,
                    waited_secs: waited.as_secs().max(1),
                    source,
                });
            }
            if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                last_warning = Some(tokio::time::Instant::now());
                tracing::warn!(
                    url = %shown,
                    reason = %reason,
                    retrying_for_secs = (deadline - waited).as_secs(),
                    "ClickHouse not reachable yet"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn node(&self) -> &Node {
        &self.nodes[self.active.load(Ordering::Relaxed) % self.nodes.len()]
    }

    /// Makes the next configured node active; returns its URL, or `None`
    /// when there is only one node. Called after a failed statement: the
    /// next attempt goes elsewhere. (Round robin: a node that comes back is
    /// used again once the others fail.)
    pub fn fail_over(&self) -> Option<&str> {
        if self.nodes.len() < 2 {
            return None;
        }
        let next = (self.active.load(Ordering::Relaxed) + 1) % self.nodes.len();
        self.active.store(next, Ordering::Relaxed);
        let url = self.nodes[next].url.as_str();
        tracing::warn!(node = url, "clickhouse: failing over to the next node");
        Some(url)
    }

    /// The cluster name in cluster mode.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// The table that holds the event rows: `events` on one server,
    /// `events_local` (each node's shard) in cluster mode, where `events` is
    /// the Distributed table over them. Reads and inserts use `events`;
    /// partition drops and deletes must name this one.
    pub fn events_storage(&self) -> &'static str {
        if self.cluster.is_some() {
            "events_local"
        } else {
            "events"
        }
    }

    /// The table that holds a sharded table's rows (see
    /// [`Store::events_storage`]): `<table>_local` in cluster mode.
    pub fn storage_of(&self, table: &str) -> String {
        if self.cluster.is_some() {
            format!("{table}_local")
        } else {
            table.to_string()
        }
    }

    /// ` ON CLUSTER <name>` in cluster mode, else empty: DDL and mutations
    /// then reach every node.
    pub fn on_cluster(&self) -> String {
        match &self.cluster {
            Some(name) => format!(" ON CLUSTER {name}"),
            None => String::new(),
        }
    }

    /// The start of the cheapest correct delete this server offers on
    /// `table`, up to `WHERE `: a lightweight `DELETE FROM` (23.3 and later:
    /// rows are masked, not rewritten), else `ALTER TABLE … DELETE`, a
    /// mutation (18.16), with ` ON CLUSTER` in cluster mode.
    pub fn delete_where_prefix(&self, table: &str) -> String {
        let version = self.version();
        let on_cluster = self.on_cluster();
        if version.major > 23 || (version.major == 23 && version.minor >= 3) {
            format!("DELETE FROM {table}{on_cluster} WHERE ")
        } else {
            format!("ALTER TABLE {table}{on_cluster} DELETE WHERE ")
        }
    }

    /// [`Store::fail_over`], counted in `saltmark_clickhouse_failovers_total`
    /// when it switched: what every component that meets a failed node calls.
    pub fn fail_over_counted(&self, metrics: &crate::metrics::Metrics) {
        if self.fail_over().is_some() {
            metrics.clickhouse_failovers.inc();
        }
    }

    /// The client bound to saltmark's database.
    pub fn client(&self) -> &clickhouse::Client {
        &self.node().client
    }

    /// The client of the stats path: read-only where a reader user is
    /// configured, every statement under [`StatementLimits`].
    pub fn reader(&self) -> &clickhouse::Client {
        &self.node().reader
    }

    /// A client with no default database (for `CREATE DATABASE`).
    pub fn server_client(&self) -> &clickhouse::Client {
        &self.node().server_client
    }

    /// The database name (a validated identifier, see `config::is_identifier`).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The server's version.
    pub fn version(&self) -> ServerVersion {
        self.version
    }

    /// The HTTP URL of the active node.
    pub fn url(&self) -> &str {
        &self.node().url
    }

    /// Whether the server answers a trivial query now.
    pub async fn ping(&self) -> bool {
        self.server_client()
            .query("SELECT 1")
            .fetch_one::<u8>()
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_used_and_never_shown() {
        let (plain, creds) = split_credentials("http://saltmark:s%40cret@127.0.0.1:8123");
        assert_eq!(plain, "http://127.0.0.1:8123");
        assert_eq!(creds, Some(("saltmark".into(), "s@cret".into())));
        assert_eq!(split_credentials("http://127.0.0.1:8123").1, None);
        let shown = redact_url("http://a:pw1@n1:8123, http://n2:8123");
        assert_eq!(shown, "http://a:<hidden>@n1:8123, http://n2:8123");
        assert!(!shown.contains("pw1"));
    }

    #[test]
    fn versions_parse_and_gate_features() {
        let old = ServerVersion::parse("18.16.1").unwrap();
        assert!(!old.has_ttl() && !old.has_low_cardinality());
        let new = ServerVersion::parse("26.1.2.11").unwrap();
        assert!(new.has_ttl() && new.has_low_cardinality());
        assert!(ServerVersion::parse("garbage").is_none());
    }
}
