//! The `saltmark` binary: argument parsing and process concerns (signals,
//! logging, exit codes). Everything else lives in the library.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use saltmark::app::{App, Deps};
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

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormatArg {
    Ndjson,
    Csv,
}

fn main() -> ExitCode {
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
            let (store, _managed) = saltmark::prepare_storage(&config).await?;
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
        Command::CheckConfig => {
            let mut shown = config.clone();
            if !shown.clickhouse.password.is_empty() {
                shown.clickhouse.password = "<hidden>".into();
            }
            println!("{shown:#?}");
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
    let (store, _managed) = saltmark::prepare_storage(&config).await?;
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
    let (store, _managed) = saltmark::prepare_storage(&config).await?;
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
