//! Configuration: a TOML file, then `SALTMARK_*` environment variables on top.
//!
//! Every key has exactly one environment name, derived from its dotted path
//! (`clickhouse.url` → `SALTMARK_CLICKHOUSE_URL`). The list of keys is fixed in
//! [`KEYS`], so the mapping is unambiguous even for keys with underscores, and a
//! misspelt `SALTMARK_` variable is an error rather than silently ignored.
//!
//! The environment is passed in as a map (see [`Config::load`]) so tests never
//! touch process state. Errors name the offending key; the binary prints them
//! as one line and exits with status 2.

pub mod reference;
pub mod types;
pub mod urls;

pub use types::{
    ForwardingHeader, FsyncPolicy, LogFormat, Months, PathGlobs, PerSite, ServerProfile,
};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A configuration problem, always naming the key at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("config file {path}: {detail}")]
    File { path: PathBuf, detail: String },
    /// A key has a value of the wrong shape.
    #[error("invalid config key `{key}`: {detail}")]
    Invalid { key: String, detail: String },
    /// A `SALTMARK_` variable that is not a configuration key.
    #[error("unknown environment variable {name}: not a saltmark config key (known: {known})")]
    UnknownEnv { name: String, known: String },
}

/// How an environment value is turned into a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A single value (string, number or boolean; coerced on deserialisation).
    Scalar,
    /// A comma-separated list.
    List,
}

/// Every configuration key, its kind and what it means. The reference in
/// `docs/configuration.md` is generated from this table ([`reference`]).
pub const KEYS: &[(&str, KeyKind, &str)] = &[
    ("listen", KeyKind::Scalar, "address the collector listens on"),
    ("sites", KeyKind::List, "site domains accepted (www. is ignored)"),
    ("site_timezones", KeyKind::List, "per-site IANA time zone as site=Area/City (default UTC); days and periods follow it"),
    ("trusted_proxies", KeyKind::List, "CIDRs whose forwarding headers are believed"),
    ("client_ip_header", KeyKind::Scalar, "the one header read from trusted proxies: X-Forwarded-For (default), Forwarded, or a single-IP header such as CF-Connecting-IP"),
    ("exclude_paths", KeyKind::List, "glob patterns of page paths never recorded, e.g. /admin/**"),
    ("data_dir", KeyKind::Scalar, "directory for the managed ClickHouse and local state; a relative path is relative to the config file's folder (without a config file: the current directory)"),
    ("demo", KeyKind::Scalar, "serve a demo page at /demo that sends page views for the first site"),
    ("log", KeyKind::Scalar, "log filter (tracing EnvFilter syntax), e.g. info or saltmark=debug; one-shot commands log warnings only unless --verbose or this is set (in the file or SALTMARK_LOG)"),
    ("log_format", KeyKind::Scalar, "text (colours only on a terminal) or json (one object per line)"),
    ("metrics.listen", KeyKind::Scalar, "address of the separate /metrics listener (loopback by default, never the public port); empty turns metrics off"),
    ("geo.database", KeyKind::List, "MaxMind-format .mmdb path(s), comma-separated, first match wins (DB-IP ships IPv4 and IPv6 apart); empty disables location"),
    ("geo.reload_secs", KeyKind::Scalar, "how often the .mmdb file is checked for changes"),
    ("clickhouse.url", KeyKind::Scalar, "ClickHouse HTTP URL, or several comma-separated (replicas or cluster nodes: the writer fails over between them); empty starts a managed clickhouse-server"),
    ("clickhouse.database", KeyKind::Scalar, "database holding saltmark's tables"),
    ("clickhouse.user", KeyKind::Scalar, "ClickHouse user"),
    ("clickhouse.password", KeyKind::Scalar, "ClickHouse password"),
    ("clickhouse.reader_user", KeyKind::Scalar, "read-only ClickHouse user for the stats API's queries (the managed server has one); empty = clickhouse.user"),
    ("clickhouse.reader_password", KeyKind::Scalar, "its password"),
    ("clickhouse.connect_timeout_secs", KeyKind::Scalar, "how long commands keep trying to reach ClickHouse before they stop with the reason"),
    ("clickhouse.server_binary", KeyKind::Scalar, "clickhouse-server executable for the managed mode"),
    ("clickhouse.cluster", KeyKind::Scalar, "name of a cluster in the servers' remote_servers: migrations create ReplicatedMergeTree tables ON CLUSTER plus a Distributed events table sharded by visitor; empty = one server"),
    ("clickhouse.profile", KeyKind::Scalar, "memory profile of the managed clickhouse-server: standard, or small for a 1-2 GB machine (`saltmark clickhouse-config` prints it for a self-run server)"),
    ("writer.batch_rows", KeyKind::Scalar, "rows per insert at most"),
    ("writer.batch_age_ms", KeyKind::Scalar, "oldest row's age before a batch is sent"),
    ("writer.queue_capacity", KeyKind::Scalar, "rows kept in memory for the writer (the newest of the spool); with spool.max_bytes = 0, the bound before ingest answers 503"),
    ("writer.shutdown_timeout_secs", KeyKind::Scalar, "how long shutdown keeps retrying ClickHouse"),
    ("writer.insert_timeout_secs", KeyKind::Scalar, "how long an insert may take before it counts as failed (it is then settled and checked before anything is inserted again)"),
    ("spool.max_bytes", KeyKind::Scalar, "bound (bytes) of the write-ahead spool under data_dir/spool: every accepted event is there until ClickHouse has it; full, ingest answers 503; 0 = memory only (a crash loses what is not inserted)"),
    ("spool.fsync", KeyKind::Scalar, "spool durability: always (each event fdatasynced before its 202, grouped) or <N>ms (synced every N ms: a crash loses at most N ms)"),
    ("limits.max_body_bytes", KeyKind::Scalar, "largest event body; larger is answered 413"),
    ("limits.max_header_bytes", KeyKind::Scalar, "largest request line + headers (at least 8192); larger is answered 431"),
    ("limits.header_read_timeout_secs", KeyKind::Scalar, "time a client has to send its request headers; then the connection is closed"),
    ("limits.body_read_timeout_secs", KeyKind::Scalar, "time a client has to send its body; then 408"),
    ("limits.max_connections", KeyKind::Scalar, "open connections at most; beyond, new ones get 503 and are closed"),
    ("limits.visitor_events_per_minute", KeyKind::Scalar, "events per minute per visitor hash (burst of the same size); beyond, 429; 0 = unlimited"),
    ("limits.site_events_per_second", KeyKind::Scalar, "events per second per site (burst of the same size); beyond, 429; 0 = unlimited"),
    ("sessions.timeout_minutes", KeyKind::Scalar, "inactivity that ends a visit"),
    ("sessions.peers", KeyKind::List, "base URLs of every collector sharing open visits, this one included (each visitor's visits are decided by one owner); empty = this collector alone"),
    ("sessions.self_url", KeyKind::Scalar, "this collector's entry in sessions.peers"),
    ("sessions.peer_secret", KeyKind::Scalar, "shared secret (at least 16 characters) for the collectors' /internal/visit calls"),
    ("query.max_execution_secs", KeyKind::Scalar, "longest a stats query may run in ClickHouse (max_execution_time); longer is answered 400"),
    ("query.max_memory_bytes", KeyKind::Scalar, "memory a stats query may use in ClickHouse (max_memory_usage); 0 = the server's own limit"),
    ("query.max_result_rows", KeyKind::Scalar, "rows a stats statement may return (max_result_rows)"),
    ("query.max_concurrent", KeyKind::Scalar, "stats queries running at once, all credentials together; beyond, 503"),
    ("query.max_concurrent_per_credential", KeyKind::Scalar, "stats queries running at once per API key, share link or dashboard user; beyond, 429"),
    ("query.sample_above_events", KeyKind::Scalar, "a question over a period with more events than this is answered from a share of its visitors (said in meta.sampling; include.exact asks for the exact figure); 0 = never sample"),
    ("dashboard.secure_cookie", KeyKind::Scalar, "mark the dashboard's login cookie Secure (set true when served over HTTPS)"),
    ("dashboard.session_days", KeyKind::Scalar, "days a dashboard login lasts"),
    ("retention.months", KeyKind::Scalar, "months events are kept"),
    ("retention.site_months", KeyKind::List, "per-site overrides as site=months, e.g. shop.example.org=6"),
    ("retention.expire_hour_utc", KeyKind::Scalar, "UTC hour at which serve runs the daily expiry job"),
    ("retention.statement_timeout_secs", KeyKind::Scalar, "longest the expiry and erasure jobs wait for ClickHouse per step"),
    ("retention.erasure_round_secs", KeyKind::Scalar, "visitor erasures (POST /api/forget) are carried out together, at most one delete per this many seconds"),
];

/// Keys whose values are secrets: `check-config` and every other display
/// of the configuration shows them as `<hidden>` (and `clickhouse.url`
/// with any password in it hidden).
pub const SECRET_KEYS: &[&str] = &[
    "clickhouse.password",
    "clickhouse.reader_password",
    "sessions.peer_secret",
];

/// Short aliases, documented in `docs/configuration.md` (`SALTMARK_GEO_DB`).
const ENV_ALIASES: &[(&str, &str)] = &[("SALTMARK_GEO_DB", "geo.database")];

/// The environment name of a key: `clickhouse.url` → `SALTMARK_CLICKHOUSE_URL`.
pub fn env_name(key: &str) -> String {
    format!("SALTMARK_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// The whole configuration, validated.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Accepted site domains, normalised (lowercase, no `www.`).
    pub sites: Vec<String>,
    /// Each site's time zone (from `site=Area/City` entries); a site's day
    /// starts at its local midnight.
    pub site_timezones: PerSite<chrono_tz::Tz>,
    /// Peers whose forwarding headers we believe. Empty by default: a collector
    /// that trusted anyone's X-Forwarded-For would let any client pick its IP.
    pub trusted_proxies: Vec<IpNet>,
    /// The one forwarding header believed from trusted proxies.
    #[serde(with = "types::text")]
    pub client_ip_header: ForwardingHeader,
    /// Paths never recorded (glob patterns, compiled once).
    pub exclude_paths: PathGlobs,
    /// Local state: the managed ClickHouse lives under `data_dir/clickhouse`.
    pub data_dir: PathBuf,
    /// Serve `/demo`, a page that sends page views for the first site.
    pub demo: bool,
    /// Log filter.
    pub log: String,
    /// How log lines are written.
    #[serde(with = "types::text")]
    pub log_format: LogFormat,
    /// The `/metrics` listener.
    pub metrics: MetricsConfig,
    /// Geolocation settings.
    pub geo: GeoConfig,
    /// Where events are stored.
    pub clickhouse: ClickHouseConfig,
    /// Batching of inserts.
    pub writer: WriterConfig,
    /// The disk spool for outages.
    pub spool: SpoolConfig,
    /// Request limits and rate limits.
    pub limits: LimitsConfig,
    /// Visit grouping.
    pub sessions: SessionsConfig,
    /// Bounds on the stats API.
    pub query: QueryConfig,
    /// The dashboard's logins.
    pub dashboard: DashboardConfig,
    /// How long events are kept.
    pub retention: RetentionConfig,
}

/// The `/metrics` listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `/metrics` is served; `None` turns it off. Never the public
    /// listener: the counters describe every tenant, and the ingest port is
    /// open to the whole internet.
    #[serde(deserialize_with = "empty_as_none", serialize_with = "none_as_empty")]
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
        }
    }
}

/// An optional value where the empty string (as an environment variable
/// can only say it) means "none".
fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

/// Bounds on the stats API: what one statement may cost, and how many run.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// `max_execution_time` of every stats statement.
    pub max_execution_secs: u64,
    /// `max_memory_usage` of every stats statement (0: the server's).
    pub max_memory_bytes: u64,
    /// `max_result_rows` of every stats statement.
    pub max_result_rows: u64,
    /// Queries at once, everyone together.
    pub max_concurrent: usize,
    /// Queries at once per credential.
    pub max_concurrent_per_credential: usize,
    /// Sample periods with more events than this (0: never).
    pub sample_above_events: u64,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            max_execution_secs: 30,
            max_memory_bytes: 0,
            max_result_rows: 1_000_000,
            max_concurrent: 16,
            max_concurrent_per_credential: 4,
            sample_above_events: crate::query::sampling::DEFAULT_SAMPLE_ABOVE_EVENTS,
        }
    }
}

/// The other way of [`empty_as_none`]: `None` is shown as `""`.
fn none_as_empty<S, T>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    T: std::fmt::Display,
{
    match value {
        Some(value) => serializer.serialize_str(&value.to_string()),
        None => serializer.serialize_str(""),
    }
}

/// The dashboard's logins.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// `Secure` on the session cookie; off by default so the plain-HTTP
    /// demo on a LAN address works; set it when a TLS proxy fronts us.
    pub secure_cookie: bool,
    /// Login lifetime in days.
    pub session_days: u32,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            secure_cookie: false,
            session_days: 14,
        }
    }
}

/// Geolocation settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoConfig {
    /// `.mmdb` paths, asked in order; empty runs without location.
    pub database: Vec<PathBuf>,
    /// Seconds between checks for a changed file.
    pub reload_secs: u64,
}

/// ClickHouse connection. `Debug` hides the passwords (also one inside
/// the URL): nothing that prints a configuration may print a secret.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// HTTP URL; `None` means "start and supervise our own server".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Database name; validated as a plain identifier because it is spliced into DDL.
    pub database: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// The read-only user of the stats API's queries; `None`: the same
    /// user as everything else.
    #[serde(deserialize_with = "empty_as_none", serialize_with = "none_as_empty")]
    pub reader_user: Option<String>,
    /// Its password.
    pub reader_password: String,
    /// How long to keep trying to connect.
    pub connect_timeout_secs: u64,
    /// Server executable for the managed mode.
    pub server_binary: String,
    /// Memory profile of the managed server.
    #[serde(with = "types::text")]
    pub profile: ServerProfile,
    /// Cluster mode: the cluster's name in `remote_servers` (validated as an
    /// identifier, since it is spliced into DDL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

impl std::fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |secret: &str| if secret.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("ClickHouseConfig")
            .field("url", &self.url.as_deref().map(urls::redact_url))
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &hidden(&self.password))
            .field("reader_user", &self.reader_user)
            .field("reader_password", &hidden(&self.reader_password))
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("server_binary", &self.server_binary)
            .field("profile", &self.profile)
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl std::fmt::Debug for SessionsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionsConfig")
            .field("timeout_minutes", &self.timeout_minutes)
            .field("peers", &self.peers)
            .field("self_url", &self.self_url)
            .field("peer_secret", &"<hidden>")
            .finish()
    }
}

/// Insert batching.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WriterConfig {
    /// Maximum rows in one insert.
    pub batch_rows: usize,
    /// A batch is sent once its oldest row is this old.
    pub batch_age_ms: u64,
    /// The in-memory bound: beyond it ingest answers 503 instead of dropping.
    pub queue_capacity: usize,
    /// Shutdown keeps retrying a failing ClickHouse this long before giving up.
    pub shutdown_timeout_secs: u64,
    /// An insert not answered within this long counts as failed.
    pub insert_timeout_secs: u64,
}

/// The disk spool (see `write::spool`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Bound of the segment files; only when it is reached does ingest
    /// answer 503. 0 disables the spool (the memory queue alone).
    pub max_bytes: u64,
    /// When appends are made durable (`always` or `<N>ms`).
    #[serde(with = "types::text")]
    pub fsync: FsyncPolicy,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024 * 1024,
            fsync: FsyncPolicy::Every(std::time::Duration::from_millis(100)),
        }
    }
}

/// Request limits and rate limits (see `server` and `ingest::limits`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest event body (413).
    pub max_body_bytes: usize,
    /// Largest request head (431, answered by hyper); hyper's floor is 8192.
    pub max_header_bytes: usize,
    /// Slow headers: the connection is closed without an answer.
    pub header_read_timeout_secs: u64,
    /// Slow body: 408.
    pub body_read_timeout_secs: u64,
    /// Open connections at most.
    pub max_connections: usize,
    /// Per visitor hash; 0 = unlimited.
    pub visitor_events_per_minute: u32,
    /// Per site; 0 = unlimited.
    pub site_events_per_second: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 10,
            max_connections: 10_000,
            // Off by default: load tests and proxies without a trusted
            // forwarding header would send every event as one visitor.
            visitor_events_per_minute: 0,
            site_events_per_second: 0,
        }
    }
}

/// Visit grouping. `Debug` hides the peer secret.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// Minutes of inactivity after which the next event starts a new visit.
    pub timeout_minutes: u32,
    /// Every collector sharing open visits (base URLs), this one included.
    pub peers: Vec<String>,
    /// This collector's entry in `peers`.
    pub self_url: String,
    /// Bearer secret of `/internal/visit`.
    pub peer_secret: String,
}

/// Retention.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Months events are kept.
    pub months: u32,
    /// Per-site overrides of `months`.
    pub site_months: PerSite<Months>,
    /// Hour (UTC) of the daily expiry run inside `serve`.
    pub expire_hour_utc: u32,
    /// Longest wait per step of the expiry and erasure jobs.
    pub statement_timeout_secs: u64,
    /// Visitor erasures are done in rounds at least this far apart.
    pub erasure_round_secs: u64,
}

impl RetentionConfig {
    /// The months each site with an override keeps.
    pub fn site_overrides(&self) -> BTreeMap<String, u32> {
        self.site_months
            .0
            .iter()
            .map(|(site, months)| (site.clone(), months.0))
            .collect()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8000".parse().expect("valid default address"),
            sites: Vec::new(),
            site_timezones: PerSite::default(),
            trusted_proxies: Vec::new(),
            client_ip_header: "x-forwarded-for".parse().expect("a valid header name"),
            exclude_paths: PathGlobs::default(),
            data_dir: PathBuf::from("./data"),
            demo: false,
            log: "info".into(),
            log_format: LogFormat::default(),
            metrics: MetricsConfig::default(),
            geo: GeoConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            writer: WriterConfig::default(),
            spool: SpoolConfig::default(),
            limits: LimitsConfig::default(),
            sessions: SessionsConfig::default(),
            query: QueryConfig::default(),
            dashboard: DashboardConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

impl Default for GeoConfig {
    fn default() -> Self {
        Self {
            database: Vec::new(),
            reload_secs: 10,
        }
    }
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        Self {
            url: None,
            database: "saltmark".into(),
            user: "default".into(),
            password: String::new(),
            reader_user: None,
            reader_password: String::new(),
            connect_timeout_secs: 30,
            server_binary: "clickhouse-server".into(),
            profile: Default::default(),
            cluster: None,
        }
    }
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            batch_rows: 10_000,
            batch_age_ms: 1_000,
            queue_capacity: 100_000,
            shutdown_timeout_secs: 30,
            insert_timeout_secs: 30,
        }
    }
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            peers: Vec::new(),
            self_url: String::new(),
            peer_secret: String::new(),
            timeout_minutes: 30,
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            months: 24,
            site_months: PerSite::default(),
            expire_hour_utc: 3,
            statement_timeout_secs: 300,
            erasure_round_secs: 15,
        }
    }
}

impl Config {
    /// The time zone of `site` (UTC unless configured).
    pub fn timezone_of(&self, site: &str) -> chrono_tz::Tz {
        self.site_timezones.get(site).unwrap_or(chrono_tz::UTC)
    }

    /// Loads `file` (if given), applies `SALTMARK_*` entries of `env`, validates.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.to_owned(),
                detail: e.to_string(),
            })?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        for (name, value) in env.iter().filter(|(n, _)| n.starts_with("SALTMARK_")) {
            let key = key_for_env(name).ok_or_else(|| ConfigError::UnknownEnv {
                name: name.clone(),
                known: KEYS
                    .iter()
                    .map(|(k, _, _)| env_name(k))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            let kind = KEYS
                .iter()
                .find(|(k, _, _)| *k == key)
                .map(|(_, kind, _)| *kind)
                .unwrap_or(KeyKind::Scalar);
            let invalid = |e: config::ConfigError| ConfigError::Invalid {
                key: key.to_string(),
                detail: e.to_string(),
            };
            builder = match kind {
                KeyKind::List => {
                    let items: Vec<String> = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect();
                    builder.set_override(key, items).map_err(invalid)?
                }
                KeyKind::Scalar => builder.set_override(key, value.as_str()).map_err(invalid)?,
            };
        }
        let raw = builder.build().map_err(|e| file_error(file, e))?;
        let mut cfg: Config = raw.try_deserialize().map_err(|e| file_error(file, e))?;
        // A relative data_dir belongs to the configuration that names it:
        // relative to the config file's folder, not to wherever a command
        // happens to run (without a file: the current directory).
        if let Some(folder) = file.and_then(Path::parent) {
            if cfg.data_dir.is_relative() {
                cfg.data_dir = folder.join(&cfg.data_dir);
            }
        }
        cfg.normalise_and_validate()?;
        Ok(cfg)
    }

    /// The effective configuration as TOML, every secret hidden (what
    /// `saltmark check-config` prints).
    pub fn to_toml_redacted(&self) -> String {
        let mut value = toml::Value::try_from(self).expect("the configuration serialises");
        for key in SECRET_KEYS {
            let (section, leaf) = key.split_once('.').expect("dotted");
            if let Some(toml::Value::String(secret)) =
                value.get_mut(section).and_then(|t| t.get_mut(leaf))
            {
                if !secret.is_empty() {
                    *secret = "<hidden>".into();
                }
            }
        }
        if let Some(toml::Value::String(url)) =
            value.get_mut("clickhouse").and_then(|t| t.get_mut("url"))
        {
            *url = urls::redact_url(url);
        }
        toml::to_string(&value).expect("TOML")
    }

    fn normalise_and_validate(&mut self) -> Result<(), ConfigError> {
        let invalid = |key: &str, detail: String| ConfigError::Invalid {
            key: key.to_string(),
            detail,
        };
        let mut sites = Vec::with_capacity(self.sites.len());
        for site in &self.sites {
            let site = normalise_site(site);
            if site.is_empty()
                || !site
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':')
            {
                return Err(invalid("sites", format!("{site:?} is not a domain name")));
            }
            if !sites.contains(&site) {
                sites.push(site);
            }
        }
        self.sites = sites;
        if self.clickhouse.url.as_deref() == Some("") {
            self.clickhouse.url = None;
        }
        if let Some(urls) = &self.clickhouse.url {
            for url in urls::node_urls(urls) {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        "clickhouse.url",
                        format!("{url:?} must start with http:// or https://"),
                    ));
                }
            }
        }
        self.geo.database.retain(|p| !p.as_os_str().is_empty());
        self.sessions.peers.retain(|p| !p.trim().is_empty());
        if !self.sessions.peers.is_empty() {
            use urls::normalise_base_url as normalise;
            if !self
                .sessions
                .peers
                .iter()
                .any(|p| normalise(p) == normalise(&self.sessions.self_url))
            {
                return Err(invalid(
                    "sessions.self_url",
                    "must be one of sessions.peers".into(),
                ));
            }
            if self.sessions.peer_secret.len() < 16 {
                return Err(invalid(
                    "sessions.peer_secret",
                    "needs at least 16 characters when sessions.peers is set".into(),
                ));
            }
        }
        if self.clickhouse.cluster.as_deref() == Some("") {
            self.clickhouse.cluster = None;
        }
        if let Some(cluster) = &self.clickhouse.cluster {
            if !is_identifier(cluster) {
                return Err(invalid(
                    "clickhouse.cluster",
                    "must be letters, digits and underscores, not starting with a digit".into(),
                ));
            }
            if self.clickhouse.url.is_none() {
                return Err(invalid(
                    "clickhouse.cluster",
                    "needs clickhouse.url: the managed server is a single node".into(),
                ));
            }
        }
        if !is_identifier(&self.clickhouse.database) {
            return Err(invalid(
                "clickhouse.database",
                "must be letters, digits and underscores, not starting with a digit".into(),
            ));
        }
        if self.writer.batch_rows == 0 {
            return Err(invalid("writer.batch_rows", "must be at least 1".into()));
        }
        if self.writer.insert_timeout_secs == 0 {
            return Err(invalid(
                "writer.insert_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        if self.writer.queue_capacity < self.writer.batch_rows {
            return Err(invalid(
                "writer.queue_capacity",
                "must be at least writer.batch_rows".into(),
            ));
        }
        if self.limits.max_header_bytes < 8192 {
            return Err(invalid(
                "limits.max_header_bytes",
                "must be at least 8192 (hyper's smallest buffer)".into(),
            ));
        }
        for (key, value) in [
            ("limits.max_body_bytes", self.limits.max_body_bytes as u64),
            (
                "limits.header_read_timeout_secs",
                self.limits.header_read_timeout_secs,
            ),
            (
                "limits.body_read_timeout_secs",
                self.limits.body_read_timeout_secs,
            ),
            ("limits.max_connections", self.limits.max_connections as u64),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        for (key, value) in [
            ("query.max_execution_secs", self.query.max_execution_secs),
            ("query.max_result_rows", self.query.max_result_rows),
            ("query.max_concurrent", self.query.max_concurrent as u64),
            (
                "query.max_concurrent_per_credential",
                self.query.max_concurrent_per_credential as u64,
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        if !(1..=366).contains(&self.dashboard.session_days) {
            return Err(invalid(
                "dashboard.session_days",
                "must be between 1 and 366".into(),
            ));
        }
        if self.sessions.timeout_minutes == 0 {
            return Err(invalid(
                "sessions.timeout_minutes",
                "must be at least 1".into(),
            ));
        }
        if self.retention.months == 0 || self.retention.months > 1200 {
            return Err(invalid(
                "retention.months",
                "must be between 1 and 1200".into(),
            ));
        }
        if self.retention.expire_hour_utc > 23 {
            return Err(invalid(
                "retention.expire_hour_utc",
                "must be 0 to 23".into(),
            ));
        }
        if self.retention.erasure_round_secs == 0 {
            return Err(invalid(
                "retention.erasure_round_secs",
                "must be at least 1".into(),
            ));
        }
        if self.retention.statement_timeout_secs == 0 {
            return Err(invalid(
                "retention.statement_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .map_err(|e| invalid("log", e.to_string()))?;
        Ok(())
    }
}

/// Site domains are compared lowercase and without a leading `www.`, so
/// `WWW.Example.com` and `example.com` are one site.
pub fn normalise_site(domain: &str) -> String {
    let lower = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    match lower.strip_prefix("www.") {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

/// A plain SQL identifier: the only shape we allow to be spliced into DDL.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

fn key_for_env(name: &str) -> Option<&'static str> {
    if let Some((_, key)) = ENV_ALIASES.iter().find(|(alias, _)| *alias == name) {
        return Some(key);
    }
    KEYS.iter()
        .map(|(key, _, _)| *key)
        .find(|key| env_name(key) == name)
}

/// Turns the config crate's messages into ours; they already name the key
/// (`invalid type: ... for key `writer.batch_rows``), we add the file.
fn file_error(file: Option<&Path>, e: config::ConfigError) -> ConfigError {
    let detail = e.to_string();
    let key = detail
        .split("for key `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .map(str::to_string);
    match (key, file) {
        (Some(key), _) => ConfigError::Invalid { key, detail },
        (None, Some(path)) => ConfigError::File {
            path: path.to_owned(),
            detail,
        },
        (None, None) => ConfigError::Invalid {
            key: "(environment)".into(),
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_key_has_a_distinct_env_name() {
        let mut names: Vec<String> = KEYS.iter().map(|(k, _, _)| env_name(k)).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KEYS.len());
    }

    #[test]
    fn env_overrides_file_and_lists_split_on_commas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saltmark.toml");
        std::fs::write(
            &path,
            "sites = [\"a.example\"]\n[writer]\nbatch_rows = 5\n[clickhouse]\nurl = \"http://127.0.0.1:1\"\n",
        )
        .unwrap();
        let cfg = Config::load(
            Some(&path),
            &env(&[
                ("SALTMARK_SITES", "www.Example.com, shop.example.org"),
                ("SALTMARK_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1/32"),
                ("SALTMARK_WRITER_BATCH_ROWS", "7"),
                ("SALTMARK_GEO_DB", "/tmp/x.mmdb"),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.sites, vec!["example.com", "shop.example.org"]);
        assert_eq!(cfg.trusted_proxies.len(), 2);
        assert_eq!(cfg.writer.batch_rows, 7);
        assert_eq!(cfg.clickhouse.url.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(cfg.geo.database, vec![PathBuf::from("/tmp/x.mmdb")]);
    }

    #[test]
    fn errors_name_the_key() {
        let err = Config::load(None, &env(&[("SALTMARK_WRITER_BATCH_ROWS", "lots")])).unwrap_err();
        assert!(err.to_string().contains("writer.batch_rows"), "{err}");
        let err = Config::load(None, &env(&[("SALTMARK_LISTEN", "nowhere")])).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let err =
            Config::load(None, &env(&[("SALTMARK_TRUSTED_PROXIES", "10.0.0.0/99")])).unwrap_err();
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
        let err = Config::load(None, &env(&[("SALTMARK_SITEZ", "x")])).unwrap_err();
        assert!(err.to_string().contains("SALTMARK_SITEZ"), "{err}");
        let err =
            Config::load(None, &env(&[("SALTMARK_CLICKHOUSE_DATABASE", "x; DROP")])).unwrap_err();
        assert!(err.to_string().contains("clickhouse.database"), "{err}");
    }

    #[test]
    fn unknown_file_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "sitez = [\"a\"]\n").unwrap();
        let err = Config::load(Some(&path), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("sitez"), "{err}");
    }

    #[test]
    fn the_example_file_shows_every_key() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let example = std::fs::read_to_string(root.join("saltmark.example.toml")).unwrap();
        for (key, _, _) in KEYS {
            let leaf = key.rsplit('.').next().unwrap();
            assert!(example.contains(leaf), "saltmark.example.toml lacks {key}");
        }
    }

    #[test]
    fn secrets_are_hidden_in_every_display_of_the_configuration() {
        let cfg = Config::load(
            None,
            &env(&[
                (
                    "SALTMARK_CLICKHOUSE_URL",
                    "http://writer:url-pass-1@127.0.0.1:8123",
                ),
                ("SALTMARK_CLICKHOUSE_PASSWORD", "plain-pass-2"),
                ("SALTMARK_CLICKHOUSE_READER_USER", "reader"),
                ("SALTMARK_CLICKHOUSE_READER_PASSWORD", "reader-pass-3"),
                ("SALTMARK_SESSIONS_PEERS", "http://a:1,http://b:2"),
                ("SALTMARK_SESSIONS_SELF_URL", "http://a:1"),
                ("SALTMARK_SESSIONS_PEER_SECRET", "peer-secret-4-long-enough"),
            ]),
        )
        .unwrap();
        let toml_text = cfg.to_toml_redacted();
        let debug = format!("{cfg:?}");
        for secret in [
            "url-pass-1",
            "plain-pass-2",
            "reader-pass-3",
            "peer-secret-4",
        ] {
            assert!(!toml_text.contains(secret), "{secret} in {toml_text}");
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        let parsed: toml::Value = toml::from_str(&toml_text).unwrap();
        assert_eq!(parsed["clickhouse"]["password"].as_str(), Some("<hidden>"));
        assert_eq!(parsed["sessions"]["peer_secret"].as_str(), Some("<hidden>"));
        assert_eq!(
            parsed["clickhouse"]["url"].as_str(),
            Some("http://writer:<hidden>@127.0.0.1:8123")
        );
        // Every key that holds a secret is in SECRET_KEYS.
        for (key, _, _) in KEYS {
            if key.contains("password") || key.contains("secret") {
                assert!(SECRET_KEYS.contains(key), "{key}");
            }
        }
    }

    #[test]
    fn example_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("saltmark.example.toml");
        let cfg = Config::load(Some(&path), &BTreeMap::new()).unwrap();
        assert_eq!(cfg.retention.months, 24);
    }
}
