//! Getting a ready [`Store`]: which server, which users, and whether a new
//! database may be made.
//!
//! - With `clickhouse.url`, saltmark connects to that server (several
//!   comma-separated nodes fail over), as `clickhouse.user` or the user in
//!   the URL, and the stats API as `clickhouse.reader_user` if set.
//! - Without it, the managed `clickhouse-server` under `data_dir/clickhouse`
//!   is used: the one a `saltmark serve` on this machine already runs, or a
//!   new child. Its generated users (see `store::managed`) are read
//!   from its credentials file.
//!
//! Only `serve` and `migrate` may create a database ([`prepare_storage`]).
//! Every other command ([`open_storage`]) refuses, naming the path or the
//! database, when there is none: `saltmark users remove alice` run from the
//! wrong folder once started a fresh, empty ClickHouse there and reported
//! success.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{ClickHouseConfig, Config};
use crate::store::managed::{self, ManagedClickHouse, ManagedCredentials, ManagedError};
use crate::store::{migrate, Store, StoreError};

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
    /// An administrative command found no managed database where it looked.
    #[error(
        "no saltmark database in {dir} (data_dir {data_dir}): start `saltmark serve` with this \
         configuration first, or point --config or SALTMARK_DATA_DIR at the directory that holds it"
    )]
    NoManagedDatabase {
        /// `data_dir/clickhouse`, absolute.
        dir: PathBuf,
        /// `data_dir`, absolute.
        data_dir: PathBuf,
    },
    /// An administrative command found no saltmark database on the server.
    #[error(
        "ClickHouse at {url} has no saltmark database {database:?}: run `saltmark migrate` \
         (or `saltmark serve`) with this configuration first, or check clickhouse.database"
    )]
    NoDatabase {
        /// The server, password hidden.
        url: String,
        /// `clickhouse.database`.
        database: String,
    },
}

/// Whether a command may create the database it finds missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `serve`, `migrate`: create and migrate.
    Create,
    /// Everything else: an existing database only (then migrated).
    Existing,
}

/// Connects — starting the managed server when no URL is set — creating the
/// database if needed, and applies migrations. For `serve` and `migrate`.
/// The returned [`ManagedClickHouse`] stops the server when dropped.
pub async fn prepare_storage(
    config: &Config,
) -> Result<(Store, Option<ManagedClickHouse>), StorageError> {
    ready(config, Mode::Create).await
}

/// Like [`prepare_storage`], but refuses when there is no database yet: for
/// every administrative command.
pub async fn open_storage(
    config: &Config,
) -> Result<(Store, Option<ManagedClickHouse>), StorageError> {
    ready(config, Mode::Existing).await
}

/// The managed server's users applied to the connection settings.
fn with_managed_users(config: &Config, credentials: &ManagedCredentials) -> Config {
    let mut config = config.clone();
    config.clickhouse = ClickHouseConfig {
        user: credentials.user.clone(),
        password: credentials.password.clone(),
        reader_user: Some(credentials.reader_user.clone()),
        reader_password: credentials.reader_password.clone(),
        ..config.clickhouse
    };
    config
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

async fn ready(
    config: &Config,
    mode: Mode,
) -> Result<(Store, Option<ManagedClickHouse>), StorageError> {
    let deadline = Duration::from_secs(config.clickhouse.connect_timeout_secs);
    let Some(urls) = &config.clickhouse.url else {
        let dir = config.data_dir.join("clickhouse");
        if mode == Mode::Existing && !managed::has_database(&dir) {
            return Err(StorageError::NoManagedDatabase {
                dir: absolute(&dir),
                data_dir: absolute(&config.data_dir),
            });
        }
        if let Some((url, credentials)) = managed::already_running(&dir) {
            tracing::info!(url = %url, "using the managed clickhouse-server already running");
            let config = with_managed_users(config, &credentials);
            let store = Store::connect_with_retry(&url, &config, deadline).await?;
            migrate::run(&store, config.retention.months).await?;
            return Ok((store, None));
        }
        crate::files::private_dir(&config.data_dir).map_err(|source| ManagedError::Io {
            path: config.data_dir.clone(),
            source,
        })?;
        let binary = config.clickhouse.server_binary.clone();
        let profile = config.clickhouse.profile;
        let managed = tokio::task::spawn_blocking(move || {
            ManagedClickHouse::start_with_profile(&binary, &dir, profile, Duration::from_secs(60))
        })
        .await
        .expect("start task panicked")?;
        tracing::info!(url = %managed.url(), dir = %managed.dir().display(), "managed clickhouse-server running");
        let config = with_managed_users(config, managed.credentials());
        let store = Store::connect_with_retry(&managed.url(), &config, deadline).await?;
        migrate::run(&store, config.retention.months).await?;
        return Ok((store, Some(managed)));
    };
    let store = Store::connect_with_retry(urls, config, deadline).await?;
    if mode == Mode::Existing && !migrate::is_migrated(&store).await? {
        return Err(StorageError::NoDatabase {
            url: crate::store::redact_url(store.url()),
            database: store.database().to_string(),
        });
    }
    migrate::run(&store, config.retention.months).await?;
    Ok((store, None))
}
