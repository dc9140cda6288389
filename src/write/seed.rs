//! `saltmark seed-demo`: realistic synthetic traffic for one site, for the
//! demo, the tests and the bench. Deterministic for a given seed.
//!
//! The model: visitors (a fifth of them come back) make visits; a visit has
//! one source (weighted: direct, search engines, social networks, an email
//! campaign with UTM tags, AI assistants), one location and one device, a
//! first page that depends on the source, 45 % of visits are bounces, the
//! rest view 2–8 pages 20 s – 5 min apart, and some sign up or download
//! (custom events with props); a paid plan's signup is followed by a
//! `Purchase` with revenue in euros. Three page views in four end with
//! the `engagement` event a tracker sends on leaving the page (engaged
//! time and deepest scroll), so time on page and scroll depth have data.
//! Visit starts follow a day/night curve.

use chrono::{DateTime, Duration, Utc};

use crate::store::{Store, StoreError};
use crate::write::row::EventRow;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// The site.
    pub site: String,
    /// About this many events (the last visit may go a few over).
    pub events: u64,
    /// Spread over this many days before `end`.
    pub days: u32,
    /// PRNG seed.
    pub seed: u64,
    /// The end of the period (exclusive).
    pub end: DateTime<Utc>,
}

/// What was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// Events inserted (page views and custom events).
    pub events: u64,
    /// `engagement` rows inserted besides (not events: they count nowhere
    /// but in time on page and scroll depth).
    pub engagements: u64,
    /// Visits.
    pub visits: u64,
}

/// splitmix64: small, fast, good enough for synthetic data.
struct Prng(u64);

/// A visitor number spread over the whole `u64` range (splitmix64's
/// finaliser, a bijection, so distinct numbers stay distinct): real visitor
/// ids are keyed hashes, and `SAMPLE BY visitor_id` samples a fraction of
/// that range, so ids `1…n` would all fall into every sample.
fn spread(n: u64) -> u64 {
    splitmix_finish(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// splitmix64's output function: a bijection that mixes every bit.
fn splitmix_finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix_finish(self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn weighted<'a, T>(&mut self, items: &'a [(u64, T)]) -> &'a T {
        let total: u64 = items.iter().map(|(w, _)| w).sum();
        let mut pick = self.below(total);
        for (weight, item) in items {
            if pick < *weight {
                return item;
            }
            pick -= weight;
        }
        &items[items.len() - 1].1
    }
}

/// Five labels of a synthetic visit, with a weight.
type Weighted5 = (
    u64,
    (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ),
);

// (weight, (source, referrer, utm_source, utm_medium, utm_campaign))
const SOURCES: &[Weighted5] = &[
    (35, ("", "", "", "", "")),
    (28, ("Google", "google.com", "", "", "")),
    (5, ("Bing", "bing.com", "", "", "")),
    (3, ("DuckDuckGo", "duckduckgo.com", "", "", "")),
    (5, ("Twitter", "t.co", "", "", "")),
    (4, ("Facebook", "facebook.com", "", "", "")),
    (3, ("LinkedIn", "linkedin.com", "", "", "")),
    (5, ("newsletter", "", "newsletter", "email", "spring_sale")),
    (
        3,
        ("newsletter", "", "newsletter", "email", "product_launch"),
    ),
    (3, ("Hacker News", "news.ycombinator.com", "", "", "")),
    (2, ("ChatGPT", "chatgpt.com", "", "", "")),
    (2, ("Google", "google.com", "google", "cpc", "brand_search")),
    (
        2,
        (
            "someblog.example.net",
            "someblog.example.net/review",
            "",
            "",
            "",
        ),
    ),
];

/// (country, region name, ISO 3166-2 region code, city)
type Place = (&'static str, &'static str, &'static str, &'static str);

const PLACES: &[(u64, Place)] = &[
    (22, ("US", "California", "US-CA", "San Francisco")),
    (10, ("US", "New York", "US-NY", "New York")),
    (12, ("DE", "Berlin", "DE-BE", "Berlin")),
    (6, ("DE", "Bavaria", "DE-BY", "Munich")),
    (10, ("GB", "England", "GB-ENG", "London")),
    (7, ("FR", "Île-de-France", "FR-IDF", "Paris")),
    (5, ("NL", "North Holland", "NL-NH", "Amsterdam")),
    (8, ("IN", "Karnataka", "IN-KA", "Bengaluru")),
    (5, ("BR", "São Paulo", "BR-SP", "São Paulo")),
    (5, ("JP", "Tokyo", "JP-13", "Tokyo")),
    (4, ("CA", "Ontario", "CA-ON", "Toronto")),
    (6, ("", "", "", "")),
];

// (browser, version, os, os_version, device)
const AGENTS: &[Weighted5] = &[
    (28, ("Chrome", "120.0", "Windows", "10", "Desktop")),
    (10, ("Safari", "17.2", "Mac", "10.15", "Desktop")),
    (6, ("Firefox", "121.0", "Windows", "10", "Desktop")),
    (6, ("Microsoft Edge", "120.0", "Windows", "10", "Desktop")),
    (4, ("Chrome", "120.0", "GNU/Linux", "", "Desktop")),
    (20, ("Safari", "17.1", "iOS", "17.1", "Mobile")),
    (16, ("Chrome", "120.0", "Android", "14", "Mobile")),
    (5, ("Samsung Internet", "23.0", "Android", "14", "Mobile")),
    (5, ("Safari", "17.1", "iOS", "17.1", "Tablet")),
];

const PAGES: &[&str] = &[
    "/",
    "/pricing",
    "/features",
    "/about",
    "/contact",
    "/signup",
    "/blog",
    "/blog/cookie-free-analytics",
    "/blog/clickhouse-tips",
    "/blog/privacy-by-design",
    "/blog/launch-week",
    "/docs",
    "/docs/install",
    "/docs/api",
    "/docs/tracker",
];

/// Generates and inserts the traffic.
pub async fn seed_demo(store: &Store, options: &SeedOptions) -> Result<SeedReport, StoreError> {
    let mut rng = Prng(options.seed ^ 0x5EED);
    let visitors_pool = (options.events / 6).max(10);
    let span_secs = i64::from(options.days.max(1)) * 86_400;
    let start = options.end - Duration::seconds(span_secs);
    // Rows per insert. Each insert adds a part per month it touches to
    // `events` and to each derived table; at 100 M events, 3 000 inserts of
    // 50 000 rows failed part way (ClickHouse closed the connection mid-insert,
    // most likely at its limit of parts a partition may hold while merges
    // lag; each insert now waits for them, `wait_for_merges`). Large seeds
    // insert up to 200 000 rows at once; small ones keep
    // 50 000 (a few hundred MB of the server's memory per insert at most,
    // which the small profile's limits hold).
    let batch_rows = usize::try_from(options.events / 500)
        .unwrap_or(usize::MAX)
        .clamp(50_000, 200_000);
    let mut batch: Vec<EventRow> = Vec::with_capacity(batch_rows);
    let (mut events, mut visits, mut engagements) = (0u64, 0u64, 0u64);
    while events < options.events {
        visits += 1;
        let visitor_id = spread(if rng.chance(20) {
            rng.below(visitors_pool / 5 + 1) + 1
        } else {
            rng.below(visitors_pool) + 1
        });
        let session_id = rng.next() | 1;
        // A day/night curve: more visits 8–22 h UTC.
        let day = rng.below(u64::from(options.days.max(1))) as i64;
        let hour = if rng.chance(80) {
            8 + rng.below(14)
        } else {
            rng.below(24)
        } as i64;
        let mut at =
            start + Duration::seconds(day * 86_400 + hour * 3_600 + rng.below(3_600) as i64);
        let (source, referrer, utm_source, utm_medium, utm_campaign) = *rng.weighted(SOURCES);
        let (country, region, region_code, city) = *rng.weighted(PLACES);
        let (browser, browser_version, os, os_version, device) = *rng.weighted(AGENTS);
        let channel = crate::enrich::channel::classify(&crate::enrich::channel::ChannelInput {
            source,
            utm_source,
            utm_medium,
            utm_campaign,
            click_id: None,
        });
        let pages = if rng.chance(45) { 1 } else { 2 + rng.below(7) };
        let mut page = match source {
            "Google" | "Bing" | "DuckDuckGo" | "ChatGPT" => PAGES[7 + rng.below(8) as usize],
            "newsletter" => "/pricing",
            _ => PAGES[rng.below(6) as usize],
        };
        for i in 0..pages {
            if at >= options.end {
                break;
            }
            let first = i == 0;
            batch.push(EventRow {
                site: options.site.clone(),
                timestamp: at.timestamp() as u32,
                name: "pageview".into(),
                pathname: page.into(),
                hostname: options.site.clone(),
                referrer: if first {
                    referrer.into()
                } else {
                    String::new()
                },
                referrer_source: if first { source.into() } else { String::new() },
                utm_source: utm_source.into(),
                utm_medium: utm_medium.into(),
                utm_campaign: utm_campaign.into(),
                country_code: country.into(),
                region: region.into(),
                region_code: region_code.into(),
                city: city.into(),
                browser: browser.into(),
                browser_version: browser_version.into(),
                os: os.into(),
                os_version: os_version.into(),
                device: device.into(),
                channel: crate::shared::SharedStr::from_static(channel.as_str()),
                visitor_id,
                session_id,
                ..EventRow::default()
            });
            events += 1;
            let viewed = batch.last().cloned().unwrap_or_default();
            if page == "/signup" || (i + 1 == pages && pages > 2 && rng.chance(25)) {
                let plan = *rng.weighted(&[(60, "free"), (30, "pro"), (10, "team")]);
                let mut signup = batch.last().cloned().unwrap_or_default();
                signup.name = "Signup".into();
                signup.referrer.clear();
                signup.referrer_source.clear();
                signup.prop_keys = vec!["plan".into()];
                signup.prop_values = vec![plan.into()];
                signup.timestamp += 5;
                let purchase = (plan != "free").then(|| {
                    let mut purchase = signup.clone();
                    purchase.name = "Purchase".into();
                    purchase.timestamp += 40;
                    purchase.revenue_milli = if plan == "pro" { 19_000 } else { 49_000 };
                    purchase.revenue_currency = "EUR".into();
                    purchase
                });
                batch.push(signup);
                events += 1;
                if let Some(purchase) = purchase {
                    batch.push(purchase);
                    events += 1;
                }
            } else if page.starts_with("/docs") && rng.chance(15) {
                let mut download = batch.last().cloned().unwrap_or_default();
                download.name = "File Download".into();
                download.referrer.clear();
                download.referrer_source.clear();
                download.prop_keys = vec!["url".into()];
                download.prop_values = vec!["/files/saltmark-linux-x86_64.tar.gz".into()];
                download.timestamp += 3;
                batch.push(download);
                events += 1;
            }
            let gap = 20 + rng.below(280) as i64;
            if rng.chance(75) {
                // Engaged for part of the time until the next page (or,
                // on the last page, until leaving), scrolled some way down.
                let mut engagement = viewed;
                engagement.name = crate::ingest::payload::ENGAGEMENT.into();
                engagement.referrer.clear();
                engagement.referrer_source.clear();
                engagement.engagement_time = (1_000 * (3 + rng.below(gap as u64))) as u32;
                engagement.scroll_depth = (10 + rng.below(91)) as u8;
                engagement.timestamp += gap as u32 - 1;
                if i64::from(engagement.timestamp) < options.end.timestamp() {
                    batch.push(engagement);
                    engagements += 1;
                }
            }
            at += Duration::seconds(gap);
            page = PAGES[rng.below(PAGES.len() as u64) as usize];
        }
        if batch.len() >= batch_rows {
            flush(store, &mut batch).await?;
        }
    }
    flush(store, &mut batch).await?;
    Ok(SeedReport {
        events,
        engagements,
        visits,
    })
}

/// Active parts a partition of `events` or a derived table may hold before
/// the next insert waits for the merges: ClickHouse delays inserts at 150
/// and refuses them at 300 parts in a partition (18.16's defaults), and a
/// refused insert looks to the client like a connection closed mid-insert.
const MAX_PARTS_BEFORE_INSERT: u64 = 100;

/// Waits (up to ten minutes, then goes on) while merges lag behind the
/// seed's inserts.
async fn wait_for_merges(store: &Store) -> Result<(), StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let parts: u64 = store
            .client()
            .query(
                "SELECT toUInt64(max(n)) FROM (SELECT count() AS n FROM system.parts \
                 WHERE database = ? AND active AND table IN ('events', 'events_local', \
                 'visits', 'visits_local', 'event_counts', 'event_counts_local') \
                 GROUP BY table, partition)",
            )
            .bind(store.database())
            .fetch_one()
            .await?;
        if parts <= MAX_PARTS_BEFORE_INSERT || std::time::Instant::now() > deadline {
            return Ok(());
        }
        tracing::info!(parts, "seed-demo waits for merges");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

async fn flush(store: &Store, batch: &mut Vec<EventRow>) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    wait_for_merges(store).await?;
    let mut insert = store.client().insert::<EventRow>("events").await?;
    for row in batch.iter() {
        insert.write(row).await?;
    }
    insert.end().await?;
    batch.clear();
    Ok(())
}
