//! Assembly: builds every stage from the configuration, owns the background
//! jobs, and hands the HTTP layer ([`crate::server`]) what it needs.
//!
//! Background jobs (each an owned task stopped through one cancellation token):
//! - salts: refresh every minute, and right away when the clock's UTC day
//!   changes (checked every second), so rotation and destruction happen on time;
//! - visits: sweep idle visits every minute;
//! - geo: reload the `.mmdb` when it changes;
//! - limits: forget idle rate-limit keys every minute;
//! - site erasures: reload the list of erased sites every minute;
//! - sites: reload the sites added at run time every few seconds;
//! - expiry: at start-up and daily (under the shared lock);
//! - visitor erasures: one delete per round for every waiting request.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, OsRandom, RandomSource, SystemClock};
use crate::config::{Config, LimitsConfig};
use crate::enrich::geo::{GeoError, GeoLocator};
use crate::enrich::referrer::ReferrerClassifier;
use crate::enrich::useragent::AgentParser;
use crate::identify::salts::SaltStore;
use crate::identify::visits::Visits;
use crate::ingest::client_ip::ClientIpResolver;
use crate::ingest::limits::RateLimits;
use crate::ingest::Pipeline;
use crate::metrics::Metrics;
use crate::retention::erasure::{erased_sites, VisitorErasures};
use crate::retention::expiry::{self, ExpirySettings};
use crate::store::{Store, StoreError};
use crate::write::spool::{Spool, SpoolSettings};
use crate::write::writer::{self, WriterSettings, WriterTask};

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// ClickHouse trouble (connect, migrate, salts).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The geo database is unusable.
    #[error(transparent)]
    Geo(#[from] GeoError),
    /// The embedded user-agent dataset failed to load (a build problem).
    #[error("loading the embedded user-agent dataset")]
    UserAgents(#[from] crate::enrich::useragent::UserAgentError),
    /// The embedded referrer dataset failed to load (a build problem).
    #[error("loading the embedded referrer dataset")]
    Referrers(#[from] crate::enrich::referrer::ReferrerDataError),
    /// The list of erased sites could not be read from ClickHouse.
    #[error("reading the erased sites from ClickHouse")]
    ErasedSites(#[source] crate::retention::RetentionError),
    /// The sites added at run time could not be read from ClickHouse.
    #[error("reading the sites from ClickHouse")]
    Sites(#[source] crate::store::StoreError),
    /// `sessions.peers` and `sessions.self_url` do not make a peer set.
    #[error("invalid config key `sessions.self_url`")]
    Peers(#[source] crate::identify::peers::PeersError),
    /// The spool cannot be opened (locked by another collector, disk trouble).
    #[error(transparent)]
    Spool(#[from] crate::write::spool::SpoolError),
    /// The metrics listener's address cannot be bound.
    #[error("cannot listen for /metrics on {address} (metrics.listen)")]
    MetricsListen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What behaviour depends on besides the configuration: time and randomness.
#[derive(Clone)]
pub struct Deps {
    /// Current time.
    pub clock: Arc<dyn Clock>,
    /// Random bytes.
    pub random: Arc<dyn RandomSource>,
}

impl Default for Deps {
    fn default() -> Self {
        Deps {
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
        }
    }
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deps")
    }
}

/// Shared state of a running collector.
pub struct AppState {
    /// The ingest stages.
    pub pipeline: Pipeline,
    /// What every endpoint shares: counters, body limits, client addresses.
    pub http: HttpState,
    /// ClickHouse, for health checks and erasures.
    pub store: Store,
    /// Serve the demo page at /demo.
    pub demo_site: Option<String>,
    /// Expiry and erasure settings (the statement timeout bounds `/api/forget`).
    pub expiry: ExpirySettings,
    /// Visitor erasures (`POST /api/forget`), carried out in rounds.
    pub erasures: Arc<VisitorErasures>,
    /// Where `/metrics` is served (the separate listener), if anywhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The stats endpoints' part.
    pub stats: StatsState,
    /// The dashboard's login and share-link endpoints' part.
    pub logins: LoginState,
}

/// What every HTTP endpoint shares.
pub struct HttpState {
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Client address resolution (forwarding headers from trusted proxies only).
    pub client_ip: ClientIpResolver,
    /// Request size, time and connection limits.
    pub limits: LimitsConfig,
}

/// What the stats endpoints (`/api/v2/query`, `/api/v2/realtime`, `/api/v1/stats/*`) need:
/// the read-only store, time, the concurrency gate and the sites' zones.
pub struct StatsState {
    /// ClickHouse (queries go through its read-only client).
    pub store: Store,
    /// Now, for relative periods and credential expiry.
    pub clock: Arc<dyn Clock>,
    /// How many stats queries run at once.
    pub gate: crate::query::gate::QueryGate,
    /// The accepted sites and their time zones.
    pub sites: crate::sites::Registry,
    /// When large periods are sampled.
    pub sampling: crate::query::sampling::SamplingPolicy,
}

impl StatsState {
    /// The site's time zone (UTC unless configured).
    pub fn timezone_of(&self, site: &str) -> chrono_tz::Tz {
        self.sites.timezone_of(site)
    }
}

/// What the dashboard's endpoints need: the credential tables, time,
/// randomness for new secrets, and the gate in front of argon2.
pub struct LoginState {
    /// ClickHouse (users, sessions, share links).
    pub store: Store,
    /// Now, for session lifetimes.
    pub clock: Arc<dyn Clock>,
    /// Randomness for session tokens and share links.
    pub random: Arc<dyn RandomSource>,
    /// The budgets and verification slots in front of argon2.
    pub gate: crate::auth::login_gate::LoginGate,
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookie: bool,
    /// How long a login lasts.
    pub session_lifetime: chrono::Duration,
    /// The geolocation databases, for the credit their licence asks for.
    pub geo: Arc<GeoLocator>,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("secure_cookie", &self.secure_cookie)
            .field("session_lifetime", &self.session_lifetime)
            .finish_non_exhaustive()
    }
}

/// A started collector: stages built, jobs running, not yet listening.
pub struct App {
    state: Arc<AppState>,
    metrics_listener: Option<tokio::net::TcpListener>,
    writer_task: WriterTask,
    jobs: CancellationToken,
    job_handles: Vec<JoinHandle<()>>,
}

impl App {
    /// Builds the stages, loads salts and starts the writer and jobs. The
    /// schema must already be migrated (see `store::migrate::run`).
    pub async fn start(config: &Config, store: Store, deps: Deps) -> Result<App, StartError> {
        let metrics = Arc::new(Metrics::new());
        let geo = Arc::new(GeoLocator::open_many(config.geo.database.clone())?);
        let agents = AgentParser::embedded(50_000)?;
        let referrers = ReferrerClassifier::embedded()?;
        let salts = Arc::new(SaltStore::new(
            store.clone(),
            deps.clock.clone(),
            deps.random.clone(),
        ));
        salts.refresh().await?;
        let visits = Arc::new(Visits::new(config.sessions.timeout_minutes));
        let spool = Arc::new(Spool::open(
            SpoolSettings {
                dir: (config.spool.max_bytes > 0).then(|| config.data_dir.join("spool")),
                max_bytes: config.spool.max_bytes,
                fsync: config.spool.fsync,
                memory_rows: config.writer.queue_capacity,
            },
            metrics.clone(),
        )?);
        let (writer_handle, writer_task) = writer::spawn(
            store.clone(),
            WriterSettings {
                batch_rows: config.writer.batch_rows,
                batch_age: Duration::from_millis(config.writer.batch_age_ms),
                shutdown_timeout: Duration::from_secs(config.writer.shutdown_timeout_secs),
                insert_timeout: Duration::from_secs(config.writer.insert_timeout_secs),
            },
            metrics.clone(),
            deps.random.clone(),
            spool,
        );
        let sites = crate::sites::Registry::load(config, &store)
            .await
            .map_err(StartError::Sites)?;
        let erased = Arc::new(std::sync::RwLock::new(
            erased_sites(&store)
                .await
                .map_err(StartError::ErasedSites)?,
        ));
        let limits = Arc::new(RateLimits::new(
            config.limits.visitor_events_per_minute,
            config.limits.site_events_per_second,
        ));
        let peers = if config.sessions.peers.is_empty() {
            None
        } else {
            Some(Arc::new(
                crate::identify::peers::Peers::new(
                    &config.sessions.peers,
                    &config.sessions.self_url,
                    &config.sessions.peer_secret,
                    metrics.clone(),
                )
                .map_err(StartError::Peers)?,
            ))
        };
        let pipeline = Pipeline {
            sites: sites.clone(),
            erased_sites: erased.clone(),
            excluded_paths: config.exclude_paths.set().clone(),
            geo: geo.clone(),
            agents,
            referrers,
            salts: salts.clone(),
            visits: visits.clone(),
            peers,
            clock: deps.clock.clone(),
            random: deps.random.clone(),
            limits: limits.clone(),
            writer: writer_handle,
            metrics: metrics.clone(),
        };
        let metrics_listener = match config.metrics.listen {
            Some(address) => Some(
                tokio::net::TcpListener::bind(address)
                    .await
                    .map_err(|source| StartError::MetricsListen { address, source })?,
            ),
            None => None,
        };
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        if let Some(address) = metrics_addr {
            tracing::info!(address = %address, "metrics on their own listener");
        }
        let erasures = Arc::new(VisitorErasures::new(
            store.clone(),
            deps.clock.clone(),
            Duration::from_secs(config.retention.erasure_round_secs),
            Duration::from_secs(config.retention.statement_timeout_secs),
        ));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let state = Arc::new(AppState {
            pipeline,
            http: HttpState {
                metrics,
                client_ip: ClientIpResolver::new(
                    config.trusted_proxies.clone(),
                    config.client_ip_header.0.clone(),
                ),
                limits: config.limits.clone(),
            },
            store: store.clone(),
            demo_site: config.demo.then(|| config.sites.first().cloned()).flatten(),
            expiry: ExpirySettings::from_config(&config.retention),
            erasures: erasures.clone(),
            metrics_addr,
            stats: StatsState {
                store: store.clone(),
                clock: deps.clock.clone(),
                gate: crate::query::gate::QueryGate::new(
                    config.query.max_concurrent,
                    config.query.max_concurrent_per_credential,
                ),
                sites: sites.clone(),
                sampling: crate::query::sampling::SamplingPolicy {
                    above_events: config.query.sample_above_events,
                },
            },
            logins: LoginState {
                store,
                clock: deps.clock.clone(),
                random: deps.random.clone(),
                gate: crate::auth::login_gate::LoginGate::new(cores, deps.random.as_ref()),
                secure_cookie: config.dashboard.secure_cookie,
                session_lifetime: chrono::Duration::days(i64::from(
                    config.dashboard.session_days.max(1),
                )),
                geo: geo.clone(),
            },
        });
        let jobs = CancellationToken::new();
        let job_handles = vec![
            tokio::spawn(salt_job(salts, deps.clock.clone(), jobs.clone())),
            tokio::spawn(visits_job(visits, deps.clock.clone(), jobs.clone())),
            tokio::spawn(limits_job(limits, jobs.clone())),
            tokio::spawn(erased_sites_job(state.store.clone(), erased, jobs.clone())),
            tokio::spawn(sites_job(state.store.clone(), sites, jobs.clone())),
            tokio::spawn(expiry_job(
                state.clone(),
                deps.clone(),
                config.retention.expire_hour_utc,
                jobs.clone(),
            )),
            tokio::spawn(geo_job(
                geo,
                Duration::from_secs(config.geo.reload_secs.max(1)),
                jobs.clone(),
            )),
            tokio::spawn({
                let stop = jobs.clone();
                async move { erasures.run(stop).await }
            }),
        ];
        Ok(App {
            state,
            metrics_listener,
            writer_task,
            jobs,
            job_handles,
        })
    }

    /// The shared state (tests reach the salts and metrics through it).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The bound `/metrics` listener, for the server to serve (once).
    pub fn take_metrics_listener(&mut self) -> Option<tokio::net::TcpListener> {
        self.metrics_listener.take()
    }

    /// Stops the jobs and drains the writer: every queued row is written
    /// (or, if ClickHouse stays down past the shutdown timeout, counted lost).
    pub async fn shutdown(self) {
        self.jobs.cancel();
        for handle in self.job_handles {
            let _ = handle.await;
        }
        self.writer_task.drain().await;
    }
}

async fn salt_job(salts: Arc<SaltStore>, clock: Arc<dyn Clock>, stop: CancellationToken) {
    let mut last_day = clock.now().date_naive();
    let mut since_refresh = Duration::ZERO;
    let tick = Duration::from_secs(1);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
        since_refresh += tick;
        let day = clock.now().date_naive();
        // Also as soon as tomorrow's salt is due (see identify::salts), so
        // it is created in the last minutes of the day, not a day early.
        let tomorrow_due = salts.tomorrow_due() && !salts.has_tomorrow();
        if day != last_day || tomorrow_due || since_refresh >= Duration::from_secs(60) {
            match salts.refresh().await {
                Ok(_) => {
                    last_day = day;
                    since_refresh = Duration::ZERO;
                }
                Err(e) => tracing::warn!(error = %e, "salt refresh failed; will retry"),
            }
        }
    }
}

/// Reads the sites added at run time every few seconds, so a site added
/// with `saltmark sites add` is accepted by every collector without a
/// restart.
async fn sites_job(store: Store, sites: crate::sites::Registry, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(crate::sites::REFRESH) => {}
        }
        if let Err(e) = sites.refresh(&store).await {
            tracing::warn!(error = %e, "could not reload the sites");
        }
    }
}

async fn erased_sites_job(
    store: Store,
    erased: Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        match erased_sites(&store).await {
            Ok(sites) => *erased.write().unwrap_or_else(|p| p.into_inner()) = sites,
            Err(e) => tracing::warn!(error = %e, "could not reload site erasures"),
        }
    }
}

/// Runs the expiry job at start-up and then every day at `hour` UTC. The
/// shared lock makes sure only one collector of a database does the work.
async fn expiry_job(state: Arc<AppState>, deps: Deps, hour: u32, stop: CancellationToken) {
    let mut last_run_day: Option<chrono::NaiveDate> = None;
    let mut first = true;
    loop {
        let now = deps.clock.now();
        let due_today =
            chrono::Timelike::hour(&now) >= hour && last_run_day != Some(now.date_naive());
        if first || due_today {
            first = false;
            // Not cancelled mid-way: a run holds the shared lock and writes
            // its audit row; it is bounded by the statement timeout.
            let outcome = expiry::run(
                &state.store,
                &state.expiry,
                now,
                false,
                deps.random.as_ref(),
            )
            .await;
            let settled = match outcome {
                Ok(report) => {
                    tracing::info!(
                        rows = report.plan.total_rows(),
                        salts = report.plan.salts_to_destroy.len(),
                        "expiry job done"
                    );
                    true
                }
                Err(crate::retention::RetentionError::Locked(_)) => {
                    tracing::info!("expiry job running on another collector");
                    true
                }
                Err(e) => {
                    // Retried next minute, on the next ClickHouse node when
                    // several are configured (this one may be the trouble).
                    state.store.fail_over_counted(&state.http.metrics);
                    tracing::error!(error = %e, "expiry job failed; it will run again");
                    false
                }
            };
            if settled && chrono::Timelike::hour(&now) >= hour {
                last_run_day = Some(now.date_naive());
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

async fn visits_job(visits: Arc<Visits>, clock: Arc<dyn Clock>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        let removed = visits.sweep(clock.now().timestamp());
        tracing::debug!(removed, open = visits.len(), "idle visits swept");
    }
}

async fn limits_job(limits: Arc<RateLimits>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        limits.sweep();
    }
}

async fn geo_job(geo: Arc<GeoLocator>, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let geo = geo.clone();
        match tokio::task::spawn_blocking(move || geo.reload_if_changed()).await {
            Ok(Ok(true)) => tracing::info!("geo database reloaded"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "geo database changed but is unusable; keeping the previous one")
            }
            Err(e) => tracing::error!(error = %e, "geo reload task failed"),
        }
    }
}
