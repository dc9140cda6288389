//! The bodies of `saltmark`'s subcommands, one file per subcommand (as in
//! cargo's `src/bin/cargo/commands/`), each with its arguments and a `run`;
//! `main.rs` declares the command line and dispatches here.
//! `serve` stays in the binary: it is the process's signals and lifetime.
//! The one-line commands (`migrate`, `check-config`, `clickhouse-config`)
//! stay in its dispatch too.
//!
//! Their log events keep the target `saltmark` (the binary's) that they had
//! when they were written in `main.rs`, so log lines and filters are as before.

pub mod expire;
pub mod export;
pub mod forget_site;
pub mod funnels;
pub mod goals;
pub mod import;
pub mod imports;
pub mod keys;
pub mod query;
pub mod seed_demo;
pub mod share;
pub mod sites;
pub mod users;

use anyhow::Context;
use chrono::{DateTime, Utc};

/// An RFC 3339 instant, or a day (`YYYY-MM-DD`) from its UTC midnight.
pub(super) fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("{text:?} is neither RFC 3339 nor YYYY-MM-DD"))?;
    Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

/// Asks on a terminal; non-interactive runs (cron, CI) proceed.
pub(super) fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes || !std::io::stdin().is_terminal() {
        return Ok(true);
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// One line of `keys list` or `share list`.
pub(super) struct CredentialLine<'a> {
    /// Public id.
    pub id: &'a str,
    /// Revoked or active.
    pub revoked: bool,
    /// Creation time (unix seconds).
    pub created: u32,
    /// The sites it may read.
    pub scope: String,
    /// Free text.
    pub label: &'a str,
}

/// The listing of keys or share links, one line each (labels and sites
/// made safe for the terminal).
pub(super) fn print_credentials<'a>(
    scope_heading: &str,
    lines: impl IntoIterator<Item = CredentialLine<'a>>,
) {
    println!(
        "{:<10} {:<8} {:<20} {:<24} label",
        "id", "state", "created", scope_heading
    );
    for line in lines {
        let created = DateTime::from_timestamp(i64::from(line.created), 0).unwrap_or_default();
        println!(
            "{:<10} {:<8} {:<20} {:<24} {}",
            line.id,
            if line.revoked { "revoked" } else { "active" },
            created.format("%Y-%m-%d %H:%M:%S"),
            saltmark::escape::terminal(&line.scope),
            saltmark::escape::terminal(line.label)
        );
    }
}

/// The sites this collector knows (the configuration's and those added
/// with `saltmark sites add`), for commands that take `--site`.
pub(super) async fn known_sites(
    config: &saltmark::config::Config,
    store: &saltmark::store::Store,
) -> anyhow::Result<saltmark::sites::Registry> {
    Ok(saltmark::sites::Registry::load(config, store).await?)
}

/// Refuses a site this collector does not know: a typo is an error, not a
/// key, a goal or rows for a site nobody measures.
pub(super) async fn check_sites(
    config: &saltmark::config::Config,
    store: &saltmark::store::Store,
    sites: &[String],
) -> anyhow::Result<saltmark::sites::Registry> {
    let registry = known_sites(config, store).await?;
    if let Some(unknown) = sites.iter().find(|s| !registry.contains(s)) {
        let known = registry.names();
        let known = if known.is_empty() {
            "it has none yet".to_string()
        } else {
            format!("sites: {}", known.join(", "))
        };
        anyhow::bail!(
            "{unknown} is not a site of this collector ({known}); check the spelling, \
             or add it with `saltmark sites add {unknown}`"
        );
    }
    Ok(registry)
}
