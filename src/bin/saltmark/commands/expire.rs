//! `saltmark expire`: the retention run from cron or systemd, with a preview
//! and a confirmation on a terminal.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use anyhow::Context;
use chrono::Utc;

use super::{confirm, parse_time};
use saltmark::clock::OsRandom;
use saltmark::config::Config;
use saltmark::retention::expiry::{ExpiryReport, ExpirySettings};

/// The arguments of `saltmark expire`.
#[derive(Debug, clap::Args)]
pub struct ExpireArgs {
    /// Print what would be removed and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run as of this time (RFC 3339) instead of now.
    #[arg(long)]
    pub now: Option<String>,
    /// Do not ask for confirmation on a terminal.
    #[arg(long)]
    pub yes: bool,
}

/// Runs `saltmark expire`.
pub async fn run(config: &Config, args: ExpireArgs) -> anyhow::Result<()> {
    let ExpireArgs { dry_run, now, yes } = args;
    let as_of = match now {
        Some(text) => parse_time(&text)?,
        None => Utc::now(),
    };
    let (store, _managed) = saltmark::open_storage(config).await?;
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
    tracing::info!(target: "saltmark", dry_run, rows = report.plan.total_rows(), "expire finished");
    Ok(())
}
