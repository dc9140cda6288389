//! `saltmark users`: set, list and remove dashboard logins; the password is
//! asked for on a terminal or read from standard input.
//!
//! Its own file, as every subcommand with a body (see [`super`]).

use chrono::Utc;

use saltmark::auth::users;
use saltmark::clock::OsRandom;
use saltmark::config::Config;

/// The subcommands of `saltmark users`.
#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Create a user, or set an existing user's password and sites. The
    /// password is asked for on a terminal, or read as one line from
    /// standard input; only its argon2id hash is stored.
    Set {
        /// The login name.
        user: String,
        /// A site the user may read (repeat for several).
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
    },
    /// List users and their sites.
    List,
    /// Remove a user; their sessions end at once.
    Remove {
        /// The login name.
        user: String,
    },
}

/// Runs `saltmark users …`.
pub async fn run(config: &Config, command: UsersCommand) -> anyhow::Result<()> {
    let (store, _managed) = saltmark::open_storage(config).await?;
    match command {
        UsersCommand::Set { user, sites } => {
            let sites: Vec<String> = sites
                .iter()
                .map(|s| saltmark::config::normalise_site(s))
                .collect();
            let password = read_password()?;
            super::check_sites(config, &store, &sites).await?;
            users::set(&store, &user, &password, &sites, Utc::now(), &OsRandom).await?;
            println!("user {user} can read {}", sites.join(", "));
        }
        UsersCommand::List => {
            println!("{:<24} sites", "user");
            for user in users::list(&store).await? {
                println!("{:<24} {}", user.user, user.user_sites.join(","));
            }
        }
        UsersCommand::Remove { user } => {
            if users::remove(&store, &user, Utc::now()).await? {
                println!("user {user} removed");
            } else {
                anyhow::bail!("no user {user}");
            }
        }
    }
    Ok(())
}

/// A new password: asked twice on a terminal, else one line of stdin.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let second = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}
