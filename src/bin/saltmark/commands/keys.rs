//! `saltmark keys`: create, list and revoke stats API keys.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use saltmark::clock::OsRandom;
use saltmark::config::Config;

/// The subcommands of `saltmark keys`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key for one or more sites; the key is printed once.
    Create {
        /// A site the key may read (repeat for several).
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
        /// A note to recognise the key by.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List keys (ids, sites, state; never the keys themselves).
    List,
    /// Revoke a key by its id.
    Revoke {
        /// The id shown by `keys list`.
        id: String,
    },
}

/// Runs `saltmark keys …`.
pub async fn run(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let (store, _managed) = saltmark::open_storage(config).await?;
    match command {
        KeysCommand::Create { sites, label } => {
            let sites: Vec<String> = sites
                .iter()
                .map(|s| saltmark::config::normalise_site(s))
                .collect();
            super::check_sites(config, &store, &sites).await?;
            let created =
                saltmark::auth::keys::create(&store, &sites, &label, chrono::Utc::now(), &OsRandom)
                    .await?;
            println!("{}", created.key);
            eprintln!(
                "key {} for {} — shown once; only its hash is stored",
                created.id,
                created.sites.join(", ")
            );
        }
        KeysCommand::List => {
            let keys = saltmark::auth::keys::list(&store).await?;
            super::print_credentials(
                "sites",
                keys.iter().map(|key| super::CredentialLine {
                    id: &key.key_id,
                    revoked: key.is_revoked == 1,
                    created: key.first_created,
                    scope: key.key_sites.join(","),
                    label: &key.key_label,
                }),
            );
        }
        KeysCommand::Revoke { id } => {
            if saltmark::auth::keys::revoke(&store, &id, chrono::Utc::now()).await? {
                println!("key {id} revoked");
                tracing::info!(target: "saltmark", key_id = %id, "API key revoked");
            } else {
                anyhow::bail!("no key with id {id}");
            }
        }
    }
    Ok(())
}
