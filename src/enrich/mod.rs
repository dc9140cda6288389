//! Enrichment: turn what a browser sent into the coarse, anonymous columns we
//! store, before anything identifying is thrown away.
//!
//! Each submodule owns one question and the maintained dataset that answers it:
//! - [`geo`]: client IP → country, region, city (MaxMind-format `.mmdb`, reloaded on change);
//! - [`useragent`]: user agent → browser, OS, device class (uap-core `regexes.yaml`);
//! - [`bots`]: is this user agent a crawler, headless browser or monitor (crawler-user-agents);
//! - [`referrer`]: referrer + page URL → source name ("Google", "Facebook", a host, or direct);
//! - [`page`]: page URL → hostname, pathname and UTM tags;
//! - [`channel`]: source + UTM tags + click id → acquisition channel (Plausible's rules).
//!
//! The vendored datasets live in `src/enrich/data/`, each with its licence and
//! version, and are compiled into the binary so a deployment has nothing to fetch.

pub mod bots;
pub mod channel;
pub mod geo;
pub mod page;
pub mod referrer;
pub mod useragent;
