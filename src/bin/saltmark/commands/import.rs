//! `saltmark import`: load a saltmark NDJSON export (`saltmark export
//! --format ndjson`) into this database, exactly once.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use anyhow::Context;
use saltmark::config::Config;

/// The arguments of `saltmark import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The site the rows are stored under (a site may change its domain on
    /// the way).
    #[arg(long)]
    pub site: String,
    /// The export file (`-` for standard input).
    #[arg(long)]
    pub ndjson: String,
}

/// Runs `saltmark import`.
pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let ImportArgs { site, ndjson } = args;
    let site = saltmark::config::normalise_site(&site);
    super::check_site(config, &site)?;
    let text = if ndjson == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("reading standard input")?;
        text
    } else {
        std::fs::read_to_string(&ndjson).with_context(|| format!("reading {ndjson}"))?
    };
    let (store, _managed) = saltmark::open_storage(config).await?;
    let report = saltmark::write::import::import_ndjson(&store, &site, &text)
        .await
        .with_context(|| format!("importing {ndjson}"))?;
    println!(
        "{site}: {} rows read, {} inserted, {} stored already",
        report.rows, report.inserted, report.skipped
    );
    Ok(())
}
