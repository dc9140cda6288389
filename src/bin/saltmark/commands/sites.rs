//! `saltmark sites add|list|remove`: the sites a collector accepts, changed
//! at run time (every collector of the database follows within seconds,
//! see `saltmark::sites`).
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use chrono::Utc;
use saltmark::config::Config;
use saltmark::sites::stored::{self, StoredSite};

/// `saltmark sites …`.
#[derive(Debug, clap::Subcommand)]
pub enum SitesCommand {
    /// Accept a site's events (or change its settings).
    Add {
        /// The site's domain.
        site: String,
        /// Its IANA time zone (days and periods follow it), e.g. Europe/Berlin.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Its retention in months (default: the configured retention).
        #[arg(long)]
        retention_months: Option<u16>,
    },
    /// List the accepted sites, from the configuration and added.
    List,
    /// Stop accepting a site added with `sites add` (its data stays until
    /// it expires; `forget-site` erases it).
    Remove {
        /// The site's domain.
        site: String,
    },
}

/// Runs `saltmark sites …`.
pub async fn run(config: &Config, command: SitesCommand) -> anyhow::Result<()> {
    let (store, _managed) = saltmark::open_storage(config).await?;
    match command {
        SitesCommand::Add {
            site,
            timezone,
            retention_months,
        } => {
            let site = saltmark::config::normalise_site(&site);
            if site.is_empty() || site.contains(|c: char| c.is_whitespace() || c == '/' || c == ',')
            {
                anyhow::bail!("{site:?} is not a domain (write it as example.com)");
            }
            let zone: chrono_tz::Tz = timezone.parse().map_err(|_| {
                anyhow::anyhow!("{timezone:?} is not an IANA time zone (e.g. Europe/Berlin)")
            })?;
            if let Some(months) = retention_months {
                if !(1..=1200).contains(&months) {
                    anyhow::bail!("--retention-months must be between 1 and 1200");
                }
            }
            stored::add(
                &store,
                &StoredSite {
                    site: site.clone(),
                    timezone: zone.name().to_string(),
                    retention_months: retention_months.unwrap_or(0),
                },
                Utc::now(),
            )
            .await?;
            println!(
                "{site} added ({}, retention {}); collectors accept it within {} s",
                zone.name(),
                retention_months.map_or("the default".to_string(), |m| format!("{m} months")),
                saltmark::sites::REFRESH.as_secs()
            );
        }
        SitesCommand::List => {
            let registry = super::known_sites(config, &store).await?;
            println!(
                "{:<32} {:<24} {:<10} from",
                "site", "time zone", "retention"
            );
            for (site, settings) in registry.all() {
                // The registry holds the configuration's sites and the stored ones.
                let from = if config.sites.contains(&site) {
                    "configuration"
                } else {
                    "sites add"
                };
                let retention = settings.retention_months.map_or_else(
                    || format!("{} mo", config.retention.months),
                    |m| format!("{m} mo"),
                );
                println!(
                    "{:<32} {:<24} {:<10} {from}",
                    saltmark::escape::terminal(&site),
                    settings.timezone.name(),
                    retention
                );
            }
        }
        SitesCommand::Remove { site } => {
            let site = saltmark::config::normalise_site(&site);
            if stored::remove(&store, &site, Utc::now()).await? {
                println!(
                    "{site} removed; collectors stop accepting it within {} s",
                    saltmark::sites::REFRESH.as_secs()
                );
            } else if config.sites.contains(&site) {
                anyhow::bail!("{site} is in the configuration (`sites`): remove it there");
            } else {
                anyhow::bail!("{site} is not a site added with `saltmark sites add`");
            }
        }
    }
    Ok(())
}
