//! saltmark: a cookie-free, first-party web analytics collector.
//!
//! # Layout
//! The modules follow an event's path through the collector:
//!
//! | module | job |
//! |---|---|
//! | [`server`] | HTTP: accept loop and shutdown, routes, one file per endpoint family, shared answers |
//! | [`tracker`] | the tracker script (`/js/script.js`), built and precompressed by `build.rs` |
//! | [`ingest`] | payload parsing and cleaning, client-IP resolution, rate limits, the stage pipeline |
//! | [`enrich`] | geo (mmdb), user agent + bots, referrer source, page URL + UTM |
//! | [`identify`] | daily salts, the visitor hash, visits, visits shared between collectors (peers) |
//! | [`write`] | the stored row, the write-ahead spool, batched exactly-once inserts, demo data |
//! | [`query`] | the stats API's statistics: request validation, periods, SQL builder, execution |
//! | [`auth`] | credentials: API keys, share links, dashboard users and sessions, login limits |
//! | [`dashboard`] | the dashboard page (embedded assets) |
//! | [`goals`] | goals (event, page, scroll) and where they are kept |
//! | [`imports`] | another tool's history (Plausible's CSV export): read, kept apart, removable; our data in its format |
//! | [`retention`] | the expiry job, erasure, export |
//! | [`store`] | ClickHouse: connection, SQL parameters, migrations, the managed `clickhouse-server` child |
//! | [`storage`] | which ClickHouse, as which users, and whether a database may be created |
//! | [`app`] | assembly: builds all stages from the config, hands each endpoint family its state, runs the background jobs |
//! | [`config`] | TOML file + `SALTMARK_*` environment, and the generated reference |
//! | [`sites`] | the accepted sites: the configuration's and those added at run time, refreshed every few seconds |
//! | [`shared`] | the cheaply cloned string of repetitive columns (enrich fills it, write stores it) |
//! | [`escape`] | escaping for HTML, CSV and the terminal |
//! | [`files`] | private (0600/0700) files and directories |
//! | [`metrics`] | Prometheus counters |
//! | [`clock`] | injected time and randomness |
//!
//! `docs/architecture.md` describes each module's room on the data's path
//! and what it may depend on.
//!
//! The binary (`src/bin/saltmark/`: `main.rs` declares the command line,
//! `commands/` holds one file per subcommand, `filters.rs` and `table.rs`
//! the query command's syntax and printing) only parses arguments and calls
//! into these; it is the one place that uses `anyhow`.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod enrich;
pub mod escape;
pub mod files;
pub mod goals;
pub mod identify;
pub mod imports;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod retention;
pub mod server;
pub mod shared;
pub mod sites;
pub mod storage;
pub mod store;
pub mod tracker;
pub mod write;

pub use storage::{open_storage, prepare_storage, StorageError};
