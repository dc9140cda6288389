//! ClickHouse: the connection ([`Store`]), the schema ([`migrate`]) and the
//! embedded server that saltmark runs when no URL is configured ([`managed`]).
//!
//! We speak HTTP through the `clickhouse` crate. Two server generations matter:
//! Debian's 18.16 and modern releases. [`ServerVersion`] is read once at connect
//! time and decides which DDL the migrations emit (TTL and LowCardinality only
//! where the server has them). Schema validation of the crate is switched off
//! because it sends a setting 18.16 rejects.

pub mod managed;
pub mod migrate;
pub mod sql;

use std::fmt;
use std::time::Duration;

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
    /// A migration failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: u32,
        name: String,
        source: clickhouse::error::Error,
    },
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
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A connection to the events database plus what we learnt about the server.
#[derive(Clone)]
pub struct Store {
    client: clickhouse::Client,
    server_client: clickhouse::Client,
    database: String,
    version: ServerVersion,
    url: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("version", &self.version)
            .finish()
    }
}

impl Store {
    /// Connects to `url`, reads the server version. Does not create the
    /// database: that is [`migrate::run`]'s job.
    pub async fn connect(url: &str, cfg: &ClickHouseConfig) -> Result<Store, StoreError> {
        let server_client = clickhouse::Client::default()
            .with_url(url)
            .with_user(&cfg.user)
            .with_password(&cfg.password)
            .with_validation(false);
        let client = server_client.clone().with_database(&cfg.database);
        let version_text: String = server_client.query("SELECT version()").fetch_one().await?;
        let version =
            ServerVersion::parse(&version_text).ok_or(StoreError::Version(version_text))?;
        Ok(Store {
            client,
            server_client,
            database: cfg.database.clone(),
            version,
            url: url.to_string(),
        })
    }

    /// Connects, retrying until `deadline` passes: the managed server and
    /// containers often need a moment after the process starts.
    pub async fn connect_with_retry(
        url: &str,
        cfg: &ClickHouseConfig,
        deadline: Duration,
    ) -> Result<Store, StoreError> {
        let started = tokio::time::Instant::now();
        loop {
            match Store::connect(url, cfg).await {
                Ok(store) => return Ok(store),
                Err(e) if started.elapsed() < deadline => {
                    tracing::debug!(error = %e, "clickhouse not ready yet");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The client bound to saltmark's database.
    pub fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// A client with no default database (for `CREATE DATABASE`).
    pub fn server_client(&self) -> &clickhouse::Client {
        &self.server_client
    }

    /// The database name (a validated identifier, see `config::is_identifier`).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The server's version.
    pub fn version(&self) -> ServerVersion {
        self.version
    }

    /// The HTTP URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the server answers a trivial query now.
    pub async fn ping(&self) -> bool {
        self.server_client
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
    fn versions_parse_and_gate_features() {
        let old = ServerVersion::parse("18.16.1").unwrap();
        assert!(!old.has_ttl() && !old.has_low_cardinality());
        let new = ServerVersion::parse("26.1.2.11").unwrap();
        assert!(new.has_ttl() && new.has_low_cardinality());
        assert!(ServerVersion::parse("garbage").is_none());
    }
}
