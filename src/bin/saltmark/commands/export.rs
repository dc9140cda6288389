//! `saltmark export`: stream a site's events to standard output as NDJSON
//! or CSV, or write them as Plausible's CSV export (a zip archive).
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use super::parse_time;
use saltmark::config::Config;
use saltmark::retention::export::ExportFormat;

/// The arguments of `saltmark export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The site's domain.
    #[arg(long)]
    pub site: String,
    /// First instant (RFC 3339 or YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub from: Option<String>,
    /// Last instant (RFC 3339 or YYYY-MM-DD, exclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: ExportFormatArg,
}

/// `--format` of `saltmark export`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormatArg {
    // No doc comments on the values: clap would show them in `--help`.
    Ndjson,
    Csv,
    PlausibleCsv,
}

/// Runs `saltmark export`.
pub async fn run(config: &Config, args: ExportArgs) -> anyhow::Result<()> {
    let ExportArgs {
        site,
        from,
        to,
        format,
    } = args;
    let (store, _managed) = saltmark::open_storage(config).await?;
    let from = from.as_deref().map(parse_time).transpose()?;
    let to = to.as_deref().map(parse_time).transpose()?;
    let site = saltmark::config::normalise_site(&site);
    let sites = super::check_sites(config, &store, std::slice::from_ref(&site)).await?;
    let format = match format {
        ExportFormatArg::Ndjson => ExportFormat::Ndjson,
        ExportFormatArg::Csv => ExportFormat::Csv,
        ExportFormatArg::PlausibleCsv => {
            // A zip archive of Plausible's ten files, per day in the
            // site's time zone.
            let zip = saltmark::imports::export::export_zip(
                &store,
                &site,
                sites.timezone_of(&site),
                from,
                to,
            )
            .await?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&zip)?;
            out.flush()?;
            return Ok(());
        }
    };
    let mut out = tokio::io::stdout();
    saltmark::retention::export::export_site(&store, &site, from, to, format, &mut out).await?;
    Ok(())
}
