//! saltmark: a cookie-free, first-party web analytics collector.
//!
//! # Layout
//! The modules follow an event's path through the collector:
//!
//! | module | job |
//! |---|---|
//! | [`server`] | HTTP: routes, limits, status codes, accept loop, graceful shutdown |
//! | [`tracker`] | the tracker script (`/js/script.js`), built and precompressed by `build.rs` |
//! | [`ingest`] | payload parsing, client-IP resolution, the stage pipeline |
//! | [`enrich`] | geo (mmdb), user agent + bots, referrer source, page URL + UTM |
//! | [`identify`] | daily salts, the visitor hash, sessions |
//! | [`write`] | the stored row, the bounded queue and batched inserts |
//! | [`query`] | the stats API: request validation, SQL builder, credentials, demo data |
//! | [`dashboard`] | the dashboard page (embedded), logins, sessions, share links |
//! | [`retention`] | the expiry job, erasure, export |
//! | [`clickhouse`] | connection, migrations, the managed `clickhouse-server` child |
//! | [`app`] | builds all stages from the config and runs the background jobs |
//! | [`config`] | TOML file + `SALTMARK_*` environment |
//! | [`escape`] | escaping for HTML, CSV and the terminal |
//! | [`metrics`] | Prometheus counters |
//! | [`clock`] | injected time and randomness |
//!
//! The binary (`src/main.rs`) only parses arguments and calls into these.

pub mod app;
pub mod clickhouse;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod enrich;
pub mod escape;
pub mod identify;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod retention;
pub mod server;
pub mod tracker;
pub mod write;

use std::time::Duration;

use clickhouse::managed::{ManagedClickHouse, ManagedError};
use clickhouse::{Store, StoreError};
use config::Config;

/// Why storage could not be made ready.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The managed server could not run.
    #[error(transparent)]
    Managed(#[from] ManagedError),
    /// Connecting or migrating failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Connects to the configured ClickHouse — starting the managed one under
/// `data_dir/clickhouse` when no URL is set — and applies migrations.
/// The returned [`ManagedClickHouse`] stops the server when dropped.
pub async fn prepare_storage(
    config: &Config,
) -> Result<(Store, Option<ManagedClickHouse>), StorageError> {
    let (url, managed) = match &config.clickhouse.url {
        Some(url) => (url.clone(), None),
        None => {
            let binary = config.clickhouse.server_binary.clone();
            let profile = config.clickhouse.profile;
            let dir = config.data_dir.join("clickhouse");
            if let Some(url) = clickhouse::managed::already_running(&dir) {
                tracing::info!(url = %url, "using the managed clickhouse-server already running");
                let store =
                    Store::connect_with_retry(&url, config, Duration::from_secs(30)).await?;
                clickhouse::migrate::run(&store, config.retention.months).await?;
                return Ok((store, None));
            }
            let managed = tokio::task::spawn_blocking(move || {
                ManagedClickHouse::start_with_profile(
                    &binary,
                    &dir,
                    profile,
                    Duration::from_secs(60),
                )
            })
            .await
            .expect("start task panicked")?;
            tracing::info!(url = %managed.url(), dir = %managed.dir().display(), "managed clickhouse-server running");
            (managed.url(), Some(managed))
        }
    };
    let store = Store::connect_with_retry(&url, config, Duration::from_secs(30)).await?;
    clickhouse::migrate::run(&store, config.retention.months).await?;
    Ok((store, managed))
}
