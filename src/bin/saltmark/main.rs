//! The `saltmark` binary: argument parsing and process concerns (signals,
//! logging, exit codes). Everything else lives in the library; each
//! subcommand's body is in [`commands`], one file per command (as in cargo's
//! `src/bin/cargo/commands/`); [`filters`] and [`table`] are the `query`
//! command's flag syntax and printing. The binary is the one place that
//! uses `anyhow`: the library's errors are typed.

mod commands;
mod filters;
mod table;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use commands::{
    expire::ExpireArgs, export::ExportArgs, forget_site::ForgetSiteArgs, funnels::FunnelsCommand,
    goals::GoalsCommand, import::ImportArgs, imports::ImportsCommand, keys::KeysCommand,
    query::QueryArgs, seed_demo::SeedDemoArgs, share::ShareCommand, sites::SitesCommand,
    users::UsersCommand,
};
use saltmark::app::{App, Deps};
use saltmark::config::Config;

/// Cookie-free, first-party web analytics collector.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (every key can also be set as SALTMARK_<KEY>).
    #[arg(long, global = true, env = "SALTMARK_CONFIG")]
    config: Option<PathBuf>,
    /// Log what a one-shot command does, not only what goes wrong.
    #[arg(long, short, global = true)]
    verbose: bool,
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
    Expire(ExpireArgs),
    /// Erase all events of a site (now, or after a grace period) and stop
    /// accepting its events.
    ForgetSite(ForgetSiteArgs),
    /// Ask the stats API's questions from the terminal (same query builder).
    Query(QueryArgs),
    /// Manage stats API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage the accepted sites at run time (no restart needed).
    Sites {
        #[command(subcommand)]
        command: SitesCommand,
    },
    /// Manage dashboard logins.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage a site's goals (events, pages, scroll depths).
    Goals {
        #[command(subcommand)]
        command: GoalsCommand,
    },
    /// Manage a site's funnels (ordered steps of goals).
    Funnels {
        #[command(subcommand)]
        command: FunnelsCommand,
    },
    /// Manage read-only dashboard share links.
    Share {
        #[command(subcommand)]
        command: ShareCommand,
    },
    /// Fill a site with realistic synthetic traffic.
    SeedDemo(SeedDemoArgs),
    /// Stream a site's events to standard output (NDJSON, CSV, or
    /// Plausible's CSV export as a zip archive).
    Export(ExportArgs),
    /// Load a saltmark NDJSON export or Plausible's CSV export into this
    /// database (exactly once).
    Import(ImportArgs),
    /// List or remove a site's imports of another tool's history.
    Imports {
        #[command(subcommand)]
        command: ImportsCommand,
    },
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
    // One-shot commands print their result; their log says only what went
    // wrong unless asked (`--verbose`, or a `log` filter set in the file or
    // the environment).
    let asked =
        cli.verbose || env.contains_key("SALTMARK_LOG") || file_sets_log(cli.config.as_deref());
    let filter = if matches!(cli.command, Command::Serve) || asked {
        config.log.clone()
    } else {
        "warn".to_string()
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&filter))
        .with_writer(std::io::stderr);
    match config.log_format {
        saltmark::config::LogFormat::Json => logs.json().init(),
        // Colour codes only for a terminal: a journal or a file gets text.
        saltmark::config::LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
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

/// Whether the configuration file sets `log` (already read and checked by
/// `Config::load`; read again only for this).
fn file_sets_log(path: Option<&std::path::Path>) -> bool {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|table| table.contains_key("log"))
}

async fn dispatch(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let (store, _managed) = saltmark::prepare_storage(&config).await?;
            println!(
                "schema of database {} is up to date: version {} (ClickHouse {})",
                store.database(),
                saltmark::store::migrate::SCHEMA_VERSION,
                store.version()
            );
            Ok(())
        }
        Command::Expire(args) => commands::expire::run(&config, args).await,
        Command::ForgetSite(args) => commands::forget_site::run(&config, args).await,
        Command::Export(args) => commands::export::run(&config, args).await,
        Command::Import(args) => commands::import::run(&config, args).await,
        Command::Imports { command } => commands::imports::run(&config, command).await,
        Command::Query(args) => commands::query::run(&config, args).await,
        Command::Keys { command } => commands::keys::run(&config, command).await,
        Command::Users { command } => commands::users::run(&config, command).await,
        Command::Share { command } => commands::share::run(&config, command).await,
        Command::Goals { command } => commands::goals::run(&config, command).await,
        Command::Sites { command } => commands::sites::run(&config, command).await,
        Command::Funnels { command } => commands::funnels::run(&config, command).await,
        Command::SeedDemo(args) => commands::seed_demo::run(&config, args).await,
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

async fn serve(config: Config) -> anyhow::Result<()> {
    let (store, managed) = saltmark::prepare_storage(&config).await?;
    let app = App::start(&config, store, Deps::default()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    if config.sites.is_empty() {
        tracing::info!(
            "no sites in the configuration (SALTMARK_SITES): only sites added with `saltmark sites add` are accepted"
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
