//! `saltmark seed-demo`: fill a site with realistic synthetic traffic.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use chrono::Utc;

use saltmark::config::Config;

/// The arguments of `saltmark seed-demo`.
#[derive(Debug, clap::Args)]
pub struct SeedDemoArgs {
    /// The site.
    #[arg(long)]
    pub site: String,
    /// About this many events.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Spread over this many days up to now.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// PRNG seed (same seed, same data).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs `saltmark seed-demo`.
pub async fn run(config: &Config, args: SeedDemoArgs) -> anyhow::Result<()> {
    let SeedDemoArgs {
        site,
        events,
        days,
        seed,
    } = args;
    let (store, _managed) = saltmark::open_storage(config).await?;
    super::check_sites(config, &store, &[saltmark::config::normalise_site(&site)]).await?;
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
        "{}: inserted {} events (and {} engagements) in {} visits over {} days ({:.1}s)",
        options.site,
        report.events,
        report.engagements,
        report.visits,
        days,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
