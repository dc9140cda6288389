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
//! | [`storage`] | which ClickHouse, as which users, and whether a database may be created |
//! | [`app`] | builds all stages from the config and runs the background jobs |
//! | [`config`] | TOML file + `SALTMARK_*` environment |
//! | [`escape`] | escaping for HTML, CSV and the terminal |
//! | [`files`] | private (0600/0700) files and directories |
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
pub mod files;
pub mod identify;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod retention;
pub mod server;
pub mod storage;
pub mod tracker;
pub mod write;

pub use storage::{open_storage, prepare_storage, StorageError};
