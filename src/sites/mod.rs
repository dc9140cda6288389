//! Which sites a collector accepts, and each one's time zone and retention:
//! the configuration's `sites` plus the sites added at run time with
//! `saltmark sites add` (kept in ClickHouse, [`stored`]).
//!
//! Design:
//! - **Every collector agrees within seconds.** The stored sites are read
//!   at start and again every [`REFRESH`] by [`Registry::refresh`]; the
//!   pipeline, the erasure page and the stats API read one [`Registry`], an
//!   atomically swapped snapshot, so a request sees one consistent set.
//! - **The configuration seeds, the table adds.** A site in the
//!   configuration is always accepted (a bad table cannot stop a
//!   configured site); `sites remove` removes what `sites add` added. Where
//!   both give a time zone or a retention, the configuration's wins.
//! - An unreadable table keeps the last snapshot (and is logged): events
//!   of known sites keep flowing.

pub mod stored;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono_tz::Tz;

use crate::config::Config;
use crate::store::{Store, StoreError};

/// How often collectors read the stored sites again.
pub const REFRESH: Duration = Duration::from_secs(3);

/// A site's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSettings {
    /// Its time zone.
    pub timezone: Tz,
    /// Its retention in months, where not the default.
    pub retention_months: Option<u32>,
}

/// The accepted sites, shared and swapped whole.
#[derive(Debug, Clone)]
pub struct Registry {
    configured: Arc<BTreeMap<String, SiteSettings>>,
    current: Arc<ArcSwap<BTreeMap<String, SiteSettings>>>,
}

impl Registry {
    /// The configuration's sites only (before the table is read).
    pub fn from_config(config: &Config) -> Registry {
        let overrides = config.retention.site_overrides();
        let configured: BTreeMap<String, SiteSettings> = config
            .sites
            .iter()
            .map(|site| {
                (
                    site.clone(),
                    SiteSettings {
                        timezone: config.timezone_of(site),
                        retention_months: overrides.get(site).copied(),
                    },
                )
            })
            .collect();
        Registry {
            current: Arc::new(ArcSwap::from_pointee(configured.clone())),
            configured: Arc::new(configured),
        }
    }

    /// The configuration's sites and the stored ones (read now).
    pub async fn load(config: &Config, store: &Store) -> Result<Registry, StoreError> {
        let registry = Registry::from_config(config);
        registry.refresh(store).await?;
        Ok(registry)
    }

    /// Reads the stored sites again and swaps the snapshot.
    pub async fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        let stored = stored::list(store).await?;
        let mut all = (*self.configured).clone();
        for site in stored {
            let timezone = site.timezone.parse().unwrap_or(Tz::UTC);
            let retention_months =
                (site.retention_months > 0).then_some(u32::from(site.retention_months));
            all.entry(site.site).or_insert(SiteSettings {
                timezone,
                retention_months,
            });
        }
        self.current.store(Arc::new(all));
        Ok(())
    }

    /// Whether the site is accepted.
    pub fn contains(&self, site: &str) -> bool {
        self.current.load().contains_key(site)
    }

    /// The site's time zone (UTC for an unknown site).
    pub fn timezone_of(&self, site: &str) -> Tz {
        self.current
            .load()
            .get(site)
            .map_or(Tz::UTC, |s| s.timezone)
    }

    /// Every accepted site and its settings, by name.
    pub fn all(&self) -> BTreeMap<String, SiteSettings> {
        (**self.current.load()).clone()
    }

    /// Every accepted site, by name.
    pub fn names(&self) -> Vec<String> {
        self.current.load().keys().cloned().collect()
    }
}
