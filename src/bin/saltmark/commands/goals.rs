//! `saltmark goals`: add, list and remove a site's goals.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use chrono::Utc;

use saltmark::config::Config;
use saltmark::goals::{stored, GoalKind, GoalSpec};

/// The subcommands of `saltmark goals`.
#[derive(Debug, clap::Subcommand)]
pub enum GoalsCommand {
    /// Add a goal: a custom event (`--event`), a page (`--page`, with `*`
    /// or `**` matching any characters), or a scroll depth on a page
    /// (`--page … --scroll PERCENT`).
    Add {
        /// The site.
        #[arg(long)]
        site: String,
        /// An event goal: the custom event's name.
        #[arg(long, conflicts_with = "page")]
        event: Option<String>,
        /// A page goal: the page's path.
        #[arg(long)]
        page: Option<String>,
        /// A scroll goal: how far the page must be scrolled, percent.
        #[arg(long, requires = "page")]
        scroll: Option<i64>,
        /// A property the event must carry, `key=value` (up to three).
        #[arg(long = "prop", value_parser = parse_prop)]
        props: Vec<(String, String)>,
        /// The name the API and the dashboard show (default: the event's
        /// name, "Visit /path", or "Scroll /path PERCENT").
        #[arg(long)]
        name: Option<String>,
        /// An event goal with revenue: its currency (ISO 4217, e.g. EUR).
        #[arg(long, requires = "event")]
        currency: Option<String>,
    },
    /// List a site's goals, in the order they were added.
    List {
        /// The site.
        #[arg(long)]
        site: String,
    },
    /// Remove a goal by its name (as `goals list` shows it).
    Remove {
        /// The site.
        #[arg(long)]
        site: String,
        /// The goal's name.
        #[arg(long)]
        name: String,
    },
}

fn parse_prop(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?}: write key=value"))
}

/// Runs `saltmark goals …`.
pub async fn run(config: &Config, command: GoalsCommand) -> anyhow::Result<()> {
    let site = match &command {
        GoalsCommand::Add { site, .. }
        | GoalsCommand::List { site }
        | GoalsCommand::Remove { site, .. } => saltmark::config::normalise_site(site),
    };
    let (store, _managed) = saltmark::open_storage(config).await?;
    super::check_sites(config, &store, std::slice::from_ref(&site)).await?;
    match command {
        GoalsCommand::Add {
            event,
            page,
            scroll,
            props,
            name,
            currency,
            ..
        } => {
            let goal = GoalSpec {
                event,
                page,
                scroll,
                props,
                display_name: name,
                currency,
            }
            .check()?;
            stored::add(&store, &site, &goal, Utc::now()).await?;
            println!("goal {:?} added to {site}", goal.display_name);
        }
        GoalsCommand::List { .. } => {
            let goals = stored::list(&store, &site).await?;
            println!("{:<32} {:<7} definition", "name", "kind");
            for goal in goals {
                let (kind, what) = match &goal.kind {
                    GoalKind::Event { name } => ("event", format!("event {name}")),
                    GoalKind::Page { path } => ("page", format!("page {path}")),
                    GoalKind::Scroll { path, threshold } => {
                        ("scroll", format!("page {path} scrolled {threshold} %"))
                    }
                };
                let mut definition = what;
                for (key, value) in &goal.props {
                    definition.push_str(&format!(" {key}={value}"));
                }
                if let Some(currency) = &goal.currency {
                    definition.push_str(&format!(" revenue in {currency}"));
                }
                println!(
                    "{:<32} {:<7} {}",
                    saltmark::escape::terminal(&goal.display_name),
                    kind,
                    saltmark::escape::terminal(&definition)
                );
            }
        }
        GoalsCommand::Remove { name, .. } => {
            if stored::remove(&store, &site, &name, Utc::now()).await? {
                println!("goal {name:?} removed from {site}");
            } else {
                anyhow::bail!(
                    "{site} has no goal named {name:?} (see `saltmark goals list --site {site}`)"
                );
            }
        }
    }
    Ok(())
}
