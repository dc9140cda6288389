//! The `saltmark` binary: argument parsing and process concerns (signals,
//! logging, exit codes). Everything else lives in the library.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use saltmark::app::{App, Deps};
use saltmark::config::Config;

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
