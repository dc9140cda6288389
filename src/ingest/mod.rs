//! The first stage: a request becomes a validated event, is enriched and
//! identified, and leaves as an anonymous row — or is dropped or refused with
//! a reason.
//!
//! - [`payload`]: parse and cap the client's fields;
//! - [`client_ip`]: pick the client address, believing proxies only if trusted;
//! - [`limits`]: rate limits per visitor hash and per site;
//! - [`text`]: control and bidi-formatting characters out of every stored text;
//! - [`Pipeline`] (here): run the stages in order and hand the row to the writer.
//!
//! The raw IP and user agent enter [`Pipeline::process`] as arguments and are
//! used for exactly three things — geo lookup, user-agent parsing and the
//! visitor hash — none of which keeps them. They are never logged: tracing
//! fields in this module name sites and reasons, never addresses or agents.

pub mod client_ip;
pub mod limits;
pub mod payload;
pub mod text;

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
use crate::identify::visitor::visitor_id;
use crate::identify::visits::Visits;
use crate::metrics::Metrics;
use crate::shared::SharedStr;
use crate::write::row::EventRow;
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
    /// Allowed site domains, normalised (the configuration's and those
    /// added at run time).
    pub sites: crate::sites::Registry,
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
    pub visits: Arc<Visits>,
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

/// A spool refusal as the client sees it.
fn refusal_of(e: QueueError) -> Refusal {
    match e {
        QueueError::Closed => Refusal::ShuttingDown,
        QueueError::Full | QueueError::Unsynced => Refusal::QueueFull,
    }
}

impl Pipeline {
    /// Runs one event through every stage.
    ///
    /// An event naming several sites (`d` lists more than one) is stored
    /// once per distinct site after normalisation (`example.com`,
    /// `WWW.example.com` and `EXAMPLE.COM` are one site), and for all of them
    /// or none: every site's rate limit is checked before anything is
    /// queued, and the rows are queued in one step. A client that retries a
    /// refused event therefore never stores it twice for the sites that had
    /// accepted it the first time.
    pub async fn process(
        &self,
        input: &EventInput<'_>,
        client_ip: IpAddr,
        user_agent: &str,
    ) -> Outcome {
        let mut sites: Vec<String> = Vec::with_capacity(input.domains.len());
        for domain in &input.domains {
            let site = normalise_site(domain);
            if self.sites.contains(&site) && !sites.contains(&site) {
                sites.push(site);
            }
        }
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
        // Every site's budget first: nothing is queued unless all pass.
        let mut visitors = Vec::with_capacity(sites.len());
        for site in &sites {
            let today_id = visitor_id(&salts.today, site, client_ip, user_agent);
            if let Err((kind, wait)) = self.limits.check(site, today_id) {
                return Outcome::Refused(Refusal::RateLimited(kind, wait));
            }
            visitors.push(today_id);
        }
        for text in [
            &mut page.pathname,
            &mut page.utm_source,
            &mut page.utm_medium,
            &mut page.utm_campaign,
            &mut page.utm_content,
            &mut page.utm_term,
        ] {
            text::clean(text);
        }
        let mut name = text::strip_controls(&input.name).into_owned();
        let (mut prop_keys, mut prop_values): (Vec<String>, Vec<String>) =
            input.props.iter().cloned().unzip();
        text::clean_all(&mut prop_keys);
        text::clean_all(&mut prop_values);
        let location = self.geo.lookup_shared(client_ip);
        let device = SharedStr::from_static(agent.device_class(input.screen_width).as_str());
        let now = self.clock.now().timestamp();
        let site_count = sites.len();
        let mut rows = Vec::with_capacity(site_count);
        for (index, (site, today_id)) in sites.into_iter().zip(visitors).enumerate() {
            // Each site gets a copy; the last (usually the only) one takes
            // the values instead of cloning them.
            let last = index + 1 == site_count;
            let take = |value: &mut String| {
                if last {
                    std::mem::take(value)
                } else {
                    value.clone()
                }
            };
            let mut referrer = self.referrers.classify(
                input.referrer.as_deref(),
                &page.source_param,
                &page.hostname,
                &site,
            );
            text::clean(&mut referrer.referrer);
            text::clean(&mut referrer.source);
            let channel = crate::enrich::channel::classify(&crate::enrich::channel::ChannelInput {
                source: &referrer.source,
                utm_source: &page.source_param,
                utm_medium: &page.utm_medium,
                utm_campaign: &page.utm_campaign,
                click_id: page.click_id,
            });
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
                None => question.decide_locally(&self.visits, self.random.as_ref()),
                Some(peers) => {
                    let key = peers.routing_key(&site, client_ip, user_agent);
                    peers
                        .assign(&self.visits, self.random.as_ref(), key, question)
                        .await
                }
            };
            rows.push(EventRow {
                site,
                timestamp: u32::try_from(now).unwrap_or(0),
                name: take(&mut name),
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
                region_code: location.region_code.clone(),
                city: location.city.clone(),
                browser: agent.browser.clone(),
                browser_version: agent.browser_version.clone(),
                os: agent.os.clone(),
                os_version: agent.os_version.clone(),
                device: device.clone(),
                channel: SharedStr::from_static(channel.as_str()),
                click_id: page
                    .click_id
                    .map_or(SharedStr::EMPTY, |id| SharedStr::from_static(id.as_str())),
                visitor_id: assigned.visitor_id,
                session_id: assigned.session_id,
                prop_keys: if last {
                    std::mem::take(&mut prop_keys)
                } else {
                    prop_keys.clone()
                },
                prop_values: if last {
                    std::mem::take(&mut prop_values)
                } else {
                    prop_values.clone()
                },
                batch_id: 0,
                scroll_depth: input.engagement.map_or(0, |e| e.scroll_depth),
                engagement_time: input.engagement.map_or(0, |e| e.time_ms),
                revenue_milli: input.revenue.as_ref().map_or(0, |r| r.milli),
                revenue_currency: input
                    .revenue
                    .as_ref()
                    .map_or_else(String::new, |r| r.currency.clone()),
            });
        }
        let accepted = rows.len() as u64;
        // In the write-ahead spool, and durable per the fsync policy,
        // before the 202.
        let queued = self.writer.try_queue_all(rows).map_err(refusal_of);
        let durable = match queued {
            Ok(queued) => self.writer.durable(queued).await.map_err(refusal_of),
            Err(refusal) => Err(refusal),
        };
        match durable {
            Ok(()) => {
                self.metrics.events_accepted.inc_by(accepted);
                Outcome::Accepted
            }
            Err(refusal) => Outcome::Refused(refusal),
        }
    }

    fn drop_event(&self, reason: DropReason) -> Outcome {
        self.metrics.dropped(reason.as_str());
        tracing::debug!(reason = reason.as_str(), "event dropped");
        Outcome::Dropped(reason)
    }
}
