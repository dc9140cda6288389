//! `saltmark share`: create, list and revoke read-only dashboard share links.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use chrono::Utc;

use saltmark::auth::shares;
use saltmark::clock::OsRandom;
use saltmark::config::Config;

/// The subcommands of `saltmark share`.
#[derive(Debug, clap::Subcommand)]
pub enum ShareCommand {
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

/// Runs `saltmark share …`.
pub async fn run(config: &Config, command: ShareCommand) -> anyhow::Result<()> {
    let (store, _managed) = saltmark::open_storage(config).await?;
    match command {
        ShareCommand::Create {
            site,
            label,
            base_url,
        } => {
            super::check_sites(config, &store, &[saltmark::config::normalise_site(&site)]).await?;
            let link = shares::create(&store, &site, &label, Utc::now(), &OsRandom).await?;
            println!("{}/share#{}", base_url.trim_end_matches('/'), link.token);
            eprintln!(
                "share link {} for {} — shown once; revoke with `saltmark share revoke {}`",
                link.id, link.site, link.id
            );
        }
        ShareCommand::List => {
            let links = shares::list(&store, None).await?;
            super::print_credentials(
                "site",
                links.iter().map(|link| super::CredentialLine {
                    id: &link.link_id,
                    revoked: link.is_revoked == 1,
                    created: link.first_created,
                    scope: link.link_site.clone(),
                    label: &link.link_label,
                }),
            );
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
