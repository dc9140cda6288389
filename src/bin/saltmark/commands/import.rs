//! `saltmark import`: load a saltmark NDJSON export (`saltmark export
//! --format ndjson`) or Plausible's CSV export into this database, each
//! exactly once.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use anyhow::Context;
use saltmark::config::Config;

/// The arguments of `saltmark import`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["ndjson", "from_plausible"])))]
pub struct ImportArgs {
    /// The site the rows are stored under (a site may change its domain on
    /// the way).
    #[arg(long)]
    pub site: String,
    /// A saltmark NDJSON export (`-` for standard input).
    #[arg(long)]
    pub ndjson: Option<String>,
    /// Plausible's CSV export: its zip archive, or a directory of its
    /// `imported_*.csv` files.
    #[arg(long)]
    pub from_plausible: Option<std::path::PathBuf>,
}

/// Runs `saltmark import`.
pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let site = saltmark::config::normalise_site(&args.site);
    if let Some(path) = args.from_plausible {
        // Read and checked before the database is opened: a bad file
        // changes nothing anywhere.
        let files = saltmark::imports::plausible_csv::read_export(&path)?;
        let export = saltmark::imports::stored::check(&files)?;
        let (store, _managed) = saltmark::open_storage(config).await?;
        super::check_sites(config, &store, std::slice::from_ref(&site)).await?;
        let summary =
            saltmark::imports::stored::import_plausible(&store, &site, export, chrono::Utc::now())
                .await
                .with_context(|| format!("importing {}", path.display()))?;
        let days = summary
            .days
            .map_or("no days".to_string(), |(a, b)| format!("{a} – {b}"));
        println!(
            "{site}: import {} stored, {} rows ({days})",
            summary.import_id, summary.rows
        );
        for (kind, rows) in summary.per_kind {
            println!("  {kind}: {rows}");
        }
        return Ok(());
    }
    let ndjson = args.ndjson.expect("clap requires one of them");
    let text = if ndjson == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("reading standard input")?;
        text
    } else {
        std::fs::read_to_string(&ndjson).with_context(|| format!("reading {ndjson}"))?
    };
    let (store, _managed) = saltmark::open_storage(config).await?;
    super::check_sites(config, &store, std::slice::from_ref(&site)).await?;
    let report = saltmark::write::import::import_ndjson(&store, &site, &text)
        .await
        .with_context(|| format!("importing {ndjson}"))?;
    println!(
        "{site}: {} rows read, {} inserted, {} stored already",
        report.rows, report.inserted, report.skipped
    );
    Ok(())
}
