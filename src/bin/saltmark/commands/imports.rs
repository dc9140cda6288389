//! `saltmark imports list|remove`: the imports of a site's history from
//! another tool (`saltmark import --from-plausible`).
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use saltmark::config::Config;

/// `saltmark imports …`.
#[derive(Debug, clap::Subcommand)]
pub enum ImportsCommand {
    /// List a site's imports (id, when, days, rows, tables).
    List {
        /// The site's domain.
        #[arg(long)]
        site: String,
    },
    /// Remove one import whole.
    Remove {
        /// The site's domain.
        #[arg(long)]
        site: String,
        /// The import's id (from `imports list`).
        id: u64,
    },
}

/// Runs `saltmark imports …`.
pub async fn run(config: &Config, command: ImportsCommand) -> anyhow::Result<()> {
    let site = match &command {
        ImportsCommand::List { site } | ImportsCommand::Remove { site, .. } => {
            saltmark::config::normalise_site(site)
        }
    };
    let (store, _managed) = saltmark::open_storage(config).await?;
    super::check_sites(config, &store, std::slice::from_ref(&site)).await?;
    match command {
        ImportsCommand::List { .. } => {
            let imports = saltmark::imports::stored::list(&store, &site).await?;
            if imports.is_empty() {
                println!("{site}: no imports");
            }
            for import in imports {
                let when = chrono::DateTime::from_timestamp(i64::from(import.imported_at), 0)
                    .map_or(String::new(), |t| {
                        t.format("%Y-%m-%d %H:%M UTC").to_string()
                    });
                println!(
                    "{}\timported {when}\t{} – {}\t{} rows\t{}",
                    import.import_id,
                    import.first_day,
                    import.last_day,
                    import.rows,
                    import.kinds.join(", ")
                );
            }
        }
        ImportsCommand::Remove { id, .. } => {
            let rows = saltmark::imports::stored::remove(&store, &site, id).await?;
            println!("{site}: import {id} removed ({rows} rows)");
        }
    }
    Ok(())
}
