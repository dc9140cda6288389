//! The first stage: a request becomes a validated event, is enriched and
//! identified, and leaves as an anonymous row — or is dropped or refused with
//! a reason.
//!
//! - [`payload`]: parse and cap the client's fields;
//! - [`client_ip`]: pick the client address, believing proxies only if trusted;
//! - [`limits`]: rate limits per visitor hash and per site;
//! - [`Pipeline`] (here): run the stages in order and hand the row to the writer.
//!
//! The raw IP and user agent enter [`Pipeline::process`] as arguments and are
//! used for exactly three things — geo lookup, user-agent parsing and the
//! visitor hash — none of which keeps them. They are never logged: tracing
//! fields in this module name sites and reasons, never addresses or agents.

pub mod client_ip;
pub mod limits;
pub mod payload;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use globset::GlobSet;

use crate::clock::{Clock, RandomSource};
use crate::config::normalise_site;
use crate::enrich::geo::GeoLocator;
use crate::enrich::page::parse_page;
use crate::enrich::referrer::ReferrerClassifier;
use crate::enrich::useragent::AgentParser;
use crate::identify::salts::SaltStore;
use crate::identify::sessions::Sessions;
use crate::identify::visitor::visitor_id;
use crate::metrics::Metrics;
use crate::write::row::EventRow;
use crate::write::shared::SharedStr;
use crate::write::writer::{QueueError, WriterHandle};
use payload::EventInput;

/// Why an event was deliberately not recorded (answered 202 all the same, so
/// a tracker never retries and a bot learns nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The domain is not in `sites`.
    UnknownSite,
    /// Crawler, headless browser, monitor or HTTP library.
    Bot,
    /// The path matches `exclude_paths`.
    ExcludedPath,
    /// The site was erased (`saltmark forget-site`) and is no longer accepted.
    ErasedSite,
}

impl DropReason {
    /// The value of the `x-saltmark-dropped` header and the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::UnknownSite => "unknown_site",
            DropReason::Bot => "bot",
            DropReason::ExcludedPath => "excluded_path",
            DropReason::ErasedSite => "erased_site",
        }
    }
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The page URL is unusable (400).
    BadPage(String),
    /// The memory queue is full (503, retry).
    QueueFull,
    /// Today's salt is not loaded yet (503, retry).
    NoSalt,
    /// Shutting down (503, retry elsewhere).
    ShuttingDown,
    /// Over a rate limit (429, retry after the wait).
    RateLimited(limits::LimitKind, std::time::Duration),
}

/// The outcome of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Queued for storage (once per accepted site).
    Accepted,
    /// Deliberately not recorded.
    Dropped(DropReason),
    /// Refused.
    Refused(Refusal),
}

/// Everything the stages need, built once at start-up.
pub struct Pipeline {
    /// Allowed site domains, normalised.
    pub sites: HashSet<String>,
    /// Sites with an erasure request: refused even if configured. Reloaded
    /// from ClickHouse every minute, so all collectors follow `forget-site`.
    pub erased_sites: Arc<RwLock<HashSet<String>>>,
    /// Paths never recorded.
    pub excluded_paths: GlobSet,
    /// Coarse geolocation.
    pub geo: Arc<GeoLocator>,
    /// User-agent parsing and bot detection.
    pub agents: AgentParser,
    /// Referrer classification.
    pub referrers: ReferrerClassifier,
    /// Daily salts.
    pub salts: Arc<SaltStore>,
    /// Visit tracking.
    pub sessions: Arc<Sessions>,
    /// The collectors sharing open visits, when several do.
    pub peers: Option<Arc<crate::identify::peers::Peers>>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Randomness for session ids.
    pub random: Arc<dyn RandomSource>,
    /// Rate limits, checked once the visitor hash is known.
    pub limits: Arc<limits::RateLimits>,
    /// Where rows go.
    pub writer: WriterHandle,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

impl Pipeline {
    /// Runs one event through every stage.
    pub async fn process(
        &self,
        input: &EventInput<'_>,
        client_ip: IpAddr,
        user_agent: &str,
    ) -> Outcome {
        let sites: Vec<String> = input
            .domains
            .iter()
            .map(|d| normalise_site(d))
            .filter(|d| self.sites.contains(d))
            .collect();
        if sites.is_empty() {
            return self.drop_event(DropReason::UnknownSite);
        }
        let sites: Vec<String> = {
            let erased = self.erased_sites.read().unwrap_or_else(|p| p.into_inner());
            sites.into_iter().filter(|s| !erased.contains(s)).collect()
        };
        if sites.is_empty() {
            return self.drop_event(DropReason::ErasedSite);
        }
        let agent = self.agents.parse(user_agent);
        if agent.is_bot {
            return self.drop_event(DropReason::Bot);
        }
        let mut page = match parse_page(&input.url, input.hash_mode) {
            Ok(page) => page,
            Err(e) => return Outcome::Refused(Refusal::BadPage(format!("u: {e}"))),
        };
        if self.excluded_paths.is_match(&page.pathname) {
            return self.drop_event(DropReason::ExcludedPath);
        }
        let Some(salts) = self.salts.current() else {
            return Outcome::Refused(Refusal::NoSalt);
        };
        let location = self.geo.lookup_shared(client_ip);
        let device = SharedStr::from_static(agent.device_class(input.screen_width).as_str());
        let now = self.clock.now().timestamp();
        let site_count = sites.len();
        for (index, site) in sites.into_iter().enumerate() {
            // Several sites (`d` lists more than one) get a copy each; the
            // last (usually the only) one takes the values.
            let last = index + 1 == site_count;
            let take = |value: &mut String| {
                if last {
                    std::mem::take(value)
                } else {
                    value.clone()
                }
            };
            let referrer = self.referrers.classify(
                input.referrer.as_deref(),
                &page.source_param,
                &page.hostname,
                &site,
            );
            let today_id = visitor_id(&salts.today, &site, client_ip, user_agent);
            if let Err((kind, wait)) = self.limits.check(&site, today_id) {
                return Outcome::Refused(Refusal::RateLimited(kind, wait));
            }
            let yesterday_id = salts
                .yesterday
                .as_ref()
                .map(|salt| visitor_id(salt, &site, client_ip, user_agent));
            let question = crate::identify::peers::VisitQuestion {
                today: today_id,
                yesterday: yesterday_id,
                now,
            };
            let assigned = match &self.peers {
                None => question.decide_locally(&self.sessions, self.random.as_ref()),
                Some(peers) => {
                    let key = peers.routing_key(&site, client_ip, user_agent);
                    peers
                        .assign(&self.sessions, self.random.as_ref(), key, question)
                        .await
                }
            };
            let (prop_keys, prop_values) = input.props.iter().cloned().unzip();
            let row = EventRow {
                site,
                timestamp: u32::try_from(now).unwrap_or(0),
                name: input.name.to_string(),
                pathname: take(&mut page.pathname),
                hostname: take(&mut page.hostname),
                referrer: referrer.referrer,
                referrer_source: referrer.source,
                utm_source: take(&mut page.utm_source),
                utm_medium: take(&mut page.utm_medium),
                utm_campaign: take(&mut page.utm_campaign),
                utm_content: take(&mut page.utm_content),
                utm_term: take(&mut page.utm_term),
                country_code: location.country_code.clone(),
                region: location.region.clone(),
                city: location.city.clone(),
                browser: agent.browser.clone(),
                browser_version: agent.browser_version.clone(),
                os: agent.os.clone(),
                os_version: agent.os_version.clone(),
                device: device.clone(),
                visitor_id: assigned.visitor_id,
                session_id: assigned.session_id,
                prop_keys,
                prop_values,
                batch_id: 0,
            };
            match self.writer.try_queue(row) {
                Ok(()) => self.metrics.events_accepted.inc(),
                Err(QueueError::Full) => return Outcome::Refused(Refusal::QueueFull),
                Err(QueueError::Closed) => return Outcome::Refused(Refusal::ShuttingDown),
            };
        }
        Outcome::Accepted
    }

    fn drop_event(&self, reason: DropReason) -> Outcome {
        self.metrics.dropped(reason.as_str());
        tracing::debug!(reason = reason.as_str(), "event dropped");
        Outcome::Dropped(reason)
    }
}
