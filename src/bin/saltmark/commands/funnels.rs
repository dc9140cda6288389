//! `saltmark funnels`: add, list and remove a site's funnels.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use chrono::Utc;

use saltmark::config::Config;
use saltmark::goals::funnels;

/// The subcommands of `saltmark funnels`.
#[derive(Debug, clap::Subcommand)]
pub enum FunnelsCommand {
    /// Add a funnel: 2 to 8 of the site's goals, in order
    /// (`--step "Visit /pricing" --step Signup`).
    Add {
        /// The site.
        #[arg(long)]
        site: String,
        /// The funnel's name.
        #[arg(long)]
        name: String,
        /// A goal's name (as `goals list` shows it), once per step.
        #[arg(long = "step", required = true)]
        steps: Vec<String>,
    },
    /// List a site's funnels.
    List {
        /// The site.
        #[arg(long)]
        site: String,
    },
    /// Remove a funnel by its name.
    Remove {
        /// The site.
        #[arg(long)]
        site: String,
        /// The funnel's name.
        #[arg(long)]
        name: String,
    },
}

/// Runs `saltmark funnels …`.
pub async fn run(config: &Config, command: FunnelsCommand) -> anyhow::Result<()> {
    let site = match &command {
        FunnelsCommand::Add { site, .. }
        | FunnelsCommand::List { site }
        | FunnelsCommand::Remove { site, .. } => saltmark::config::normalise_site(site),
    };
    let (store, _managed) = saltmark::open_storage(config).await?;
    super::check_sites(config, &store, std::slice::from_ref(&site)).await?;
    match command {
        FunnelsCommand::Add { name, steps, .. } => {
            let funnel = funnels::add(&store, &site, &name, &steps, Utc::now()).await?;
            println!(
                "funnel {:?} added to {site}: {}",
                funnel.name,
                funnel.steps.join(" → ")
            );
        }
        FunnelsCommand::List { .. } => {
            for funnel in funnels::list(&store, &site).await? {
                println!(
                    "{}: {}",
                    saltmark::escape::terminal(&funnel.name),
                    saltmark::escape::terminal(&funnel.steps.join(" → "))
                );
            }
        }
        FunnelsCommand::Remove { name, .. } => {
            if funnels::remove(&store, &site, &name, Utc::now()).await? {
                println!("funnel {name:?} removed from {site}");
            } else {
                anyhow::bail!("{site} has no funnel named {name:?} (see `saltmark funnels list --site {site}`)");
            }
        }
    }
    Ok(())
}
