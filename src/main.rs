//! The `saltmark` binary: argument parsing and process concerns (signals,
//! logging, exit codes). Everything else lives in the library.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use saltmark::app::{App, Deps};
use saltmark::cli::filters::query_request;
use saltmark::cli::table::{print_answer, OutputFormat};
use saltmark::clock::OsRandom;
use saltmark::config::Config;
use saltmark::retention::expiry::{ExpiryReport, ExpirySettings};
use saltmark::retention::export::ExportFormat;

/// Cookie-free, first-party web analytics collector.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (every key can also be set as SALTMARK_<KEY>).
    #[arg(long, global = true, env = "SALTMARK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the collector (starts a managed clickhouse-server when no URL is set).
    Serve,
    /// Apply schema migrations and exit.
    Migrate,
    /// Print the effective configuration (secrets hidden) and exit.
    CheckConfig,
    /// Print the memory settings of a ClickHouse profile (the configured
    /// `clickhouse.profile` unless given) as two files for a server you run
    /// yourself: one for `config.d/`, one for `users.d/`.
    ClickhouseConfig {
        /// standard, or small (a 1–2 GB machine).
        #[arg(long)]
        profile: Option<saltmark::store::managed::ServerProfile>,
    },
    /// Remove events older than the retention period, carry out due site
    /// erasures and destroy salts older than yesterday (for cron / systemd).
    Expire {
        /// Print what would be removed and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run as of this time (RFC 3339) instead of now.
        #[arg(long)]
        now: Option<String>,
        /// Do not ask for confirmation on a terminal.
        #[arg(long)]
        yes: bool,
    },
    /// Erase all events of a site (now, or after a grace period) and stop
    /// accepting its events.
    ForgetSite {
        /// The site's domain.
        domain: String,
        /// Delete after this many days instead of now (carried out by the expiry job).
        #[arg(long, default_value_t = 0)]
        after_days: u32,
        /// Do not ask for confirmation on a terminal.
        #[arg(long)]
        yes: bool,
    },
    /// Ask the stats API's questions from the terminal (same query builder).
    Query {
        /// The site.
        #[arg(long)]
        site: String,
        /// Comma-separated metrics (visitors, visits, pageviews, views_per_visit,
        /// bounce_rate, visit_duration, events, percentage, conversion_rate).
        #[arg(
            long,
            default_value = "visitors,visits,pageviews,bounce_rate,visit_duration"
        )]
        metrics: String,
        /// Dimensions to group by (repeatable or comma-separated), e.g. visit:source, time:day.
        #[arg(long = "by")]
        by: Vec<String>,
        /// Period: day, 7d, 28d, 30d, 91d, month, 6mo, 12mo, year, all, realtime.
        #[arg(long, default_value = "30d")]
        period: String,
        /// Custom period start (YYYY-MM-DD, inclusive); needs --to.
        #[arg(long)]
        from: Option<String>,
        /// Custom period end (YYYY-MM-DD, inclusive).
        #[arg(long)]
        to: Option<String>,
        /// Filters: dim==a|b (is), dim!=a (is not), dim~=a (contains),
        /// dim!~a (contains not), dim=~re (matches), dim!=~re (matches not).
        #[arg(long = "filter")]
        filters: Vec<String>,
        /// Compare with the previous period.
        #[arg(long)]
        compare: bool,
        /// Rows at most.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Manage stats API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage dashboard logins.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage read-only dashboard share links.
    Share {
        #[command(subcommand)]
        command: ShareCommand,
    },
    /// Fill a site with realistic synthetic traffic.
    SeedDemo {
        /// The site.
        #[arg(long)]
        site: String,
        /// About this many events.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Spread over this many days up to now.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// PRNG seed (same seed, same data).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Stream a site's events to standard output.
    Export {
        /// The site's domain.
        #[arg(long)]
        site: String,
        /// First instant (RFC 3339 or YYYY-MM-DD, inclusive).
        #[arg(long)]
        from: Option<String>,
        /// Last instant (RFC 3339 or YYYY-MM-DD, exclusive).
        #[arg(long)]
        to: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "ndjson")]
        format: ExportFormatArg,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key for one or more sites; the key is printed once.
    Create {
        /// A site the key may read (repeat for several).
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
        /// A note to recognise the key by.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List keys (ids, sites, state; never the keys themselves).
    List,
    /// Revoke a key by its id.
    Revoke {
        /// The id shown by `keys list`.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user, or set an existing user's password and sites. The
    /// password is asked for on a terminal, or read as one line from
    /// standard input; only its argon2id hash is stored.
    Set {
        /// The login name.
        user: String,
        /// A site the user may read (repeat for several).
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
    },
    /// List users and their sites.
    List,
    /// Remove a user; their sessions end at once.
    Remove {
        /// The login name.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum ShareCommand {
    /// Create a read-only link to one site's dashboard; printed once.
    Create {
        /// The site.
        #[arg(long)]
        site: String,
        /// A note to recognise the link by.
        #[arg(long, default_value = "")]
        label: String,
        /// The collector's public address, to print a whole URL.
        #[arg(long, default_value = "")]
        base_url: String,
    },
    /// List links (ids, sites, state; never the tokens).
    List,
    /// Revoke a link by its id.
    Revoke {
        /// The id shown by `share list`.
        id: String,
    },
}

/// A new password: asked twice on a terminal, else one line of stdin.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let second = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormatArg {
    Ndjson,
    Csv,
}

fn main() -> ExitCode {
    // Everything this process and its managed ClickHouse write is private.
    saltmark::files::private_umask();
    let cli = Cli::parse();
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(name, _)| name != "SALTMARK_CONFIG")
        .collect();
    let config = match Config::load(cli.config.as_deref(), &env) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("saltmark: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("saltmark: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("saltmark: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let (store, _managed) = saltmark::prepare_storage(&config).await?;
            println!(
                "schema of database {} is up to date (ClickHouse {})",
                store.database(),
                store.version()
            );
            Ok(())
        }
        Command::Expire { dry_run, now, yes } => expire(config, dry_run, now, yes).await,
        Command::ForgetSite {
            domain,
            after_days,
            yes,
        } => forget_site(config, &domain, after_days, yes).await,
        Command::Export {
            site,
            from,
            to,
            format,
        } => {
            let (store, _managed) = saltmark::open_storage(&config).await?;
            let from = from.as_deref().map(parse_time).transpose()?;
            let to = to.as_deref().map(parse_time).transpose()?;
            let format = match format {
                ExportFormatArg::Ndjson => ExportFormat::Ndjson,
                ExportFormatArg::Csv => ExportFormat::Csv,
            };
            let site = saltmark::config::normalise_site(&site);
            let mut out = tokio::io::stdout();
            saltmark::retention::export::export_site(&store, &site, from, to, format, &mut out)
                .await?;
            Ok(())
        }
        Command::Query {
            site,
            metrics,
            by,
            period,
            from,
            to,
            filters,
            compare,
            limit,
            format,
        } => {
            let (store, _managed) = saltmark::open_storage(&config).await?;
            let site = saltmark::config::normalise_site(&site);
            let request = query_request(
                &site, &metrics, &by, &period, from, to, &filters, compare, limit,
            )?;
            let query = saltmark::query::request::QueryRequest::from_value(&request)?;
            let answer = saltmark::query::run::execute(
                &store,
                &query,
                config.timezone_of(&site),
                Utc::now(),
            )
            .await?;
            print_answer(&answer, &query, format);
            Ok(())
        }
        Command::Keys { command } => {
            let (store, _managed) = saltmark::open_storage(&config).await?;
            match command {
                KeysCommand::Create { sites, label } => {
                    let sites: Vec<String> = sites
                        .iter()
                        .map(|s| saltmark::config::normalise_site(s))
                        .collect();
                    let created =
                        saltmark::auth::keys::create(&store, &sites, &label, &OsRandom).await?;
                    println!("{}", created.key);
                    eprintln!(
                        "key {} for {} — shown once; only its hash is stored",
                        created.id,
                        created.sites.join(", ")
                    );
                }
                KeysCommand::List => {
                    println!(
                        "{:<10} {:<8} {:<20} {:<24} label",
                        "id", "state", "created", "sites"
                    );
                    for key in saltmark::auth::keys::list(&store).await? {
                        let created = DateTime::from_timestamp(i64::from(key.first_created), 0)
                            .unwrap_or_default();
                        println!(
                            "{:<10} {:<8} {:<20} {:<24} {}",
                            key.key_id,
                            if key.is_revoked == 1 {
                                "revoked"
                            } else {
                                "active"
                            },
                            created.format("%Y-%m-%d %H:%M:%S"),
                            key.key_sites.join(","),
                            key.key_label
                        );
                    }
                }
                KeysCommand::Revoke { id } => {
                    if saltmark::auth::keys::revoke(&store, &id).await? {
                        println!("key {id} revoked");
                        tracing::info!(key_id = %id, "API key revoked");
                    } else {
                        anyhow::bail!("no key with id {id}");
                    }
                }
            }
            Ok(())
        }
        Command::Users { command } => {
            use saltmark::auth::users;
            let (store, _managed) = saltmark::open_storage(&config).await?;
            match command {
                UsersCommand::Set { user, sites } => {
                    let sites: Vec<String> = sites
                        .iter()
                        .map(|s| saltmark::config::normalise_site(s))
                        .collect();
                    let password = read_password()?;
                    users::set(&store, &user, &password, &sites, Utc::now(), &OsRandom).await?;
                    println!("user {user} can read {}", sites.join(", "));
                }
                UsersCommand::List => {
                    println!("{:<24} sites", "user");
                    for user in users::list(&store).await? {
                        println!("{:<24} {}", user.user, user.user_sites.join(","));
                    }
                }
                UsersCommand::Remove { user } => {
                    if users::remove(&store, &user, Utc::now()).await? {
                        println!("user {user} removed");
                    } else {
                        anyhow::bail!("no user {user}");
                    }
                }
            }
            Ok(())
        }
        Command::Share { command } => {
            use saltmark::auth::shares;
            let (store, _managed) = saltmark::open_storage(&config).await?;
            match command {
                ShareCommand::Create {
                    site,
                    label,
                    base_url,
                } => {
                    let link = shares::create(&store, &site, &label, Utc::now(), &OsRandom).await?;
                    println!("{}/share#{}", base_url.trim_end_matches('/'), link.token);
                    eprintln!(
                        "share link {} for {} — shown once; revoke with `saltmark share revoke {}`",
                        link.id, link.site, link.id
                    );
                }
                ShareCommand::List => {
                    println!(
                        "{:<10} {:<8} {:<20} {:<24} label",
                        "id", "state", "created", "site"
                    );
                    for link in shares::list(&store, None).await? {
                        let created = DateTime::from_timestamp(i64::from(link.first_created), 0)
                            .unwrap_or_default();
                        println!(
                            "{:<10} {:<8} {:<20} {:<24} {}",
                            link.link_id,
                            if link.is_revoked == 1 {
                                "revoked"
                            } else {
                                "active"
                            },
                            created.format("%Y-%m-%d %H:%M:%S"),
                            link.link_site,
                            link.link_label
                        );
                    }
                }
                ShareCommand::Revoke { id } => {
                    if shares::revoke(&store, &id, None, Utc::now()).await? {
                        println!("share link {id} revoked");
                    } else {
                        anyhow::bail!("no active share link with id {id}");
                    }
                }
            }
            Ok(())
        }
        Command::SeedDemo {
            site,
            events,
            days,
            seed,
        } => {
            let (store, _managed) = saltmark::open_storage(&config).await?;
            let options = saltmark::write::seed::SeedOptions {
                site: saltmark::config::normalise_site(&site),
                events,
                days,
                seed,
                end: Utc::now(),
            };
            let started = std::time::Instant::now();
            let report = saltmark::write::seed::seed_demo(&store, &options).await?;
            println!(
                "{}: inserted {} events in {} visits over {} days ({:.1}s)",
                options.site,
                report.events,
                report.visits,
                days,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::ClickhouseConfig { profile } => {
            let (server, users) = profile
                .unwrap_or(config.clickhouse.profile)
                .standalone_files();
            println!("<!-- /etc/clickhouse-server/config.d/saltmark-memory.xml -->\n{server}");
            println!("<!-- /etc/clickhouse-server/users.d/saltmark-memory.xml -->\n{users}");
            Ok(())
        }
        Command::CheckConfig => {
            print!("{}", config.to_toml_redacted());
            Ok(())
        }
    }
}

fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("{text:?} is neither RFC 3339 nor YYYY-MM-DD"))?;
    Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

/// Asks on a terminal; non-interactive runs (cron, CI) proceed.
fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes || !std::io::stdin().is_terminal() {
        return Ok(true);
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

async fn expire(
    config: Config,
    dry_run: bool,
    now: Option<String>,
    yes: bool,
) -> anyhow::Result<()> {
    let as_of = match now {
        Some(text) => parse_time(&text)?,
        None => Utc::now(),
    };
    let (store, _managed) = saltmark::open_storage(&config).await?;
    let settings = ExpirySettings::from_config(&config.retention);
    if !dry_run {
        let plan = saltmark::retention::expiry::plan(&store, &settings, as_of).await?;
        let preview = ExpiryReport {
            plan,
            dry_run: true,
        };
        if !yes && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            println!("{preview}");
        }
        if !confirm("Remove this data for good?", yes)? {
            println!("nothing changed");
            return Ok(());
        }
    }
    let report = saltmark::retention::expiry::run(&store, &settings, as_of, dry_run, &OsRandom)
        .await
        .context("expiry run failed; data is consistent and the next run completes the work")?;
    println!("{report}");
    tracing::info!(dry_run, rows = report.plan.total_rows(), "expire finished");
    Ok(())
}

async fn forget_site(
    config: Config,
    domain: &str,
    after_days: u32,
    yes: bool,
) -> anyhow::Result<()> {
    let site = saltmark::config::normalise_site(domain);
    let when = if after_days == 0 {
        "now".to_string()
    } else {
        format!("in {after_days} days")
    };
    if !confirm(
        &format!("Erase every event of {site} {when} and stop accepting it?"),
        yes,
    )? {
        println!("nothing changed");
        return Ok(());
    }
    let (store, _managed) = saltmark::open_storage(&config).await?;
    let timeout = std::time::Duration::from_secs(config.retention.statement_timeout_secs);
    let erasure =
        saltmark::retention::erasure::forget_site(&store, &site, Utc::now(), after_days, timeout)
            .await?;
    match erasure.rows_deleted {
        Some(rows) => println!("{site}: erased {rows} events; the site is no longer accepted"),
        None => println!(
            "{site}: no longer accepted; its events will be erased by the expiry job after {}",
            erasure.due.to_rfc3339()
        ),
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let (store, managed) = saltmark::prepare_storage(&config).await?;
    let app = App::start(&config, store, Deps::default()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    if config.sites.is_empty() {
        tracing::warn!(
            "no sites configured (SALTMARK_SITES): every event will be dropped as unknown_site"
        );
    }
    saltmark::server::run(listener, shutdown_signal(), app).await?;
    if let Some(managed) = managed {
        tokio::task::spawn_blocking(move || drop(managed)).await?;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
    }
}
