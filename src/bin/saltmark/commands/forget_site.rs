//! `saltmark forget-site`: erase a site's events now or after a grace
//! period, and stop accepting them.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use chrono::Utc;

use super::confirm;
use saltmark::config::Config;

/// The arguments of `saltmark forget-site`.
#[derive(Debug, clap::Args)]
pub struct ForgetSiteArgs {
    /// The site's domain.
    pub domain: String,
    /// Delete after this many days instead of now (carried out by the expiry job).
    #[arg(long, default_value_t = 0)]
    pub after_days: u32,
    /// Do not ask for confirmation on a terminal.
    #[arg(long)]
    pub yes: bool,
}

/// Runs `saltmark forget-site`.
pub async fn run(config: &Config, args: ForgetSiteArgs) -> anyhow::Result<()> {
    let ForgetSiteArgs {
        domain,
        after_days,
        yes,
    } = args;
    let site = saltmark::config::normalise_site(&domain);
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
    let (store, _managed) = saltmark::open_storage(config).await?;
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
