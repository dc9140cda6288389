//! `saltmark query`: the stats API's questions from the terminal, through
//! the same request parser and query builder as `POST /api/v2/query`.
//!
//! Its own file, as every subcommand with a body (see [`super`]); the flags
//! become a request in [`crate::filters`], the answer text in
//! [`crate::table`].

use chrono::Utc;

use crate::filters::query_request;
use crate::table::{print_answer, OutputFormat};
use saltmark::config::Config;
use saltmark::query::request::QueryRequest;

/// The arguments of `saltmark query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The site.
    #[arg(long)]
    pub site: String,
    /// Comma-separated metrics (visitors, visits, pageviews, views_per_visit,
    /// bounce_rate, visit_duration, events, percentage, conversion_rate).
    #[arg(
        long,
        default_value = "visitors,visits,pageviews,bounce_rate,visit_duration"
    )]
    pub metrics: String,
    /// Dimensions to group by (repeatable or comma-separated), e.g. visit:source, time:day.
    #[arg(long = "by")]
    pub by: Vec<String>,
    /// Period: day, 7d, 28d, 30d, 91d, month, 6mo, 12mo, year, all, realtime.
    #[arg(long, default_value = "30d")]
    pub period: String,
    /// Custom period start (YYYY-MM-DD, inclusive); needs --to.
    #[arg(long)]
    pub from: Option<String>,
    /// Custom period end (YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Filters: dim==a|b (is), dim!=a (is not), dim~=a (contains),
    /// dim!~a (contains not), dim=~re (matches), dim!=~re (matches not).
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// Compare with the previous period.
    #[arg(long)]
    pub compare: bool,
    /// Rows at most.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// Never sample: read every event of a large period (see
    /// `query.sample_above_events`).
    #[arg(long)]
    pub exact: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

/// Runs `saltmark query`.
pub async fn run(config: &Config, args: QueryArgs) -> anyhow::Result<()> {
    let QueryArgs {
        site,
        metrics,
        by,
        period,
        from,
        to,
        filters,
        compare,
        limit,
        exact,
        format,
    } = args;
    let (store, _managed) = saltmark::open_storage(config).await?;
    let site = saltmark::config::normalise_site(&site);
    // An unknown site is an error, not an answer of zeros.
    let sites = super::check_sites(config, &store, std::slice::from_ref(&site)).await?;
    let mut request = query_request(
        &site, &metrics, &by, &period, from, to, &filters, compare, limit,
    )?;
    if exact {
        request["include"]["exact"] = serde_json::Value::Bool(true);
    }
    let query = QueryRequest::from_value(&request)?;
    let answer = saltmark::query::run::execute(
        &store,
        &query,
        sites.timezone_of(&site),
        Utc::now(),
        saltmark::query::sampling::SamplingPolicy {
            above_events: config.query.sample_above_events,
        },
    )
    .await?;
    print_answer(&answer, &query, format);
    // Said on stderr, so a CSV or JSON on stdout stays as it is.
    if let Some(fraction) = answer["meta"]["sampling"]["fraction"].as_f64() {
        eprintln!(
            "estimated from 1/{:.0} of the visitors (a large period); --exact reads every event",
            1.0 / fraction
        );
    }
    Ok(())
}
