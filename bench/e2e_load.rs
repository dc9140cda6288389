//! Load generator for `bench/run` and `bench/profile`.
//!
//! One deterministic beacon generator, used three ways:
//!
//! * `e2e_load gen <out.tsv> [--count N] [--seed S]` writes `N` beacons as
//!   `ip<TAB>user agent<TAB>body` lines; `bench/beacons.lua` turns them into
//!   wrk requests.
//! * `e2e_load send --addr HOST:PORT --count N [--conns C] [--seed S]
//!   [--first I] [--clickhouse HOST:PORT --table DB.T --base ROWS]` posts
//!   beacons `I..I+N` over `C` keep-alive connections as fast as the server
//!   answers (a 503 is retried after 5 ms), then, with `--clickhouse`, polls
//!   `SELECT count()` until `base + accepted` rows are readable. Prints one
//!   `E2E_RESULT {json}` line.
//!
//! Beacon `i` depends only on `(seed, i)`: many visitors (public IPv4 and
//! IPv6 addresses sent through `X-Forwarded-For`), real browser and bot user
//! agents, two sites, paths, search / social / internal / no referrers, UTM
//! tags, custom events with props.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------
// Deterministic generator
// ---------------------------------------------------------------------------

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        Rng(splitmix(seed ^ splitmix(stream)))
    }
    fn next(&mut self) -> u64 {
        self.0 = splitmix(self.0);
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pct(&mut self) -> u64 {
        self.below(100)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn weighted<'a, T>(&mut self, items: &'a [(u32, T)]) -> &'a T {
        let total: u32 = items.iter().map(|(w, _)| w).sum();
        let mut roll = self.below(u64::from(total)) as u32;
        for (weight, item) in items {
            if roll < *weight {
                return item;
            }
            roll -= weight;
        }
        &items[items.len() - 1].1
    }
}

/// Distinct visitors (an IP address and a user agent each).
const VISITORS: u64 = 8_000;

/// First octets of publicly routed IPv4 space (RIPE, ARIN, APNIC, LACNIC,
/// AFRINIC allocations); none of the private, shared, loopback, link-local,
/// multicast or reserved ranges.
const IPV4_FIRST_OCTETS: &[u8] = &[
    1, 2, 5, 14, 23, 24, 27, 31, 36, 37, 39, 41, 42, 46, 49, 50, 58, 59, 60, 61, 62, 64, 65, 66,
    67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90,
    91, 92, 93, 94, 95, 96, 97, 98, 99, 101, 102, 104, 105, 107, 108, 109, 110, 111, 112, 113, 114,
    115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 151, 154, 173, 174, 175, 176, 177, 178,
    179, 181, 184, 185, 186, 187, 188, 189, 190, 191, 193, 194, 195, 196, 197, 200, 201, 212, 213,
    217,
];

/// Global unicast IPv6 prefixes of large access networks.
const IPV6_PREFIXES: &[&str] = &[
    "2a00:23c5",
    "2a01:cb00",
    "2a02:8108",
    "2a02:c7c",
    "2a01:e0a",
    "2600:1700",
    "2601:600",
    "2603:7000",
    "2605:a601",
    "2406:3003",
    "2404:6800",
    "2800:810",
    "2a02:a46",
    "2001:818",
];

/// `(weight, template, device width range)`; `{c}` is a Chrome-family major
/// version, `{f}` a Firefox one, `{i}` an iOS / Safari major, `{m}` its minor.
const BROWSERS: &[(u32, (&str, u32, u32))] = &[
    (22, ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36", 1280, 2560)),
    (8, ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36", 1280, 1920)),
    (2, ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36", 1280, 2560)),
    (6, ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36 Edg/{c}.0.2903.86", 1280, 1920)),
    (4, ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", 1280, 2560)),
    (1, ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", 1280, 1920)),
    (1, ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", 1280, 1920)),
    (6, ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{i}.{m} Safari/605.1.15", 1280, 1920)),
    (1, ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36 OPR/114.0.0.0", 1280, 1920)),
    (1, ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 YaBrowser/24.10.0.0 Safari/537.36", 1280, 1920)),
    (1, ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36", 1280, 1600)),
    (14, ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Mobile Safari/537.36", 360, 430)),
    (4, ("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/{c}.0.0.0 Mobile Safari/537.36", 360, 412)),
    (16, ("Mozilla/5.0 (iPhone; CPU iPhone OS {i}_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{i}.{m} Mobile/15E148 Safari/604.1", 375, 430)),
    (3, ("Mozilla/5.0 (iPhone; CPU iPhone OS {i}_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{c}.0.6778.73 Mobile/15E148 Safari/604.1", 375, 430)),
    (1, ("Mozilla/5.0 (Android 14; Mobile; rv:{f}.0) Gecko/{f}.0 Firefox/{f}.0", 360, 412)),
    (3, ("Mozilla/5.0 (iPad; CPU OS {i}_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{i}.{m} Mobile/15E148 Safari/604.1", 768, 1024)),
    (1, ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36", 800, 1280)),
    (2, ("Mozilla/5.0 (iPhone; CPU iPhone OS {i}_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/489.0.0.48.107;FBBV/664427823;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/{i}.{m};FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/666012498]", 375, 430)),
    (2, ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{c}.0.0.0 Mobile Safari/537.36 Instagram 346.0.0.34.81 Android (34/14; 420dpi; 1080x2205; Google/google; Pixel 8; shiba; shiba; en_US; 634108303)", 360, 412)),
];

/// Instances from `src/enrich/data/crawler-user-agents.json` (and one
/// uptime-style client): saltmark answers 202 + `x-saltmark-dropped: bot`.
const BOTS: &[&str] = &[
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/103.0.5060.134 Safari/537.36",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/76.0.3803.0 Safari/537.36",
    "python-requests/2.22.0",
    "Go-http-client/2.0",
];

const MAIN_SITE: &str = "bench.example";
const SHOP_SITE: &str = "shop.bench.example";

const MAIN_PATHS: &[&str] = &[
    "/",
    "/",
    "/",
    "/pricing",
    "/pricing",
    "/features",
    "/about",
    "/contact",
    "/docs",
    "/docs/getting-started",
    "/docs/install",
    "/docs/configuration",
    "/docs/api/events",
    "/docs/api/stats",
    "/docs/self-hosting",
    "/blog",
    "/blog/cookie-free-analytics",
    "/blog/why-we-drop-ip-addresses",
    "/blog/clickhouse-at-small-scale",
    "/blog/2024/11/release-notes",
    "/changelog",
    "/careers",
    "/legal/privacy",
    "/login",
    "/signup",
    "/compare/google-analytics",
    "/integrations/wordpress",
    "/integrations/nextjs",
];

const SHOP_PATHS: &[&str] = &[
    "/",
    "/",
    "/collections/new",
    "/collections/sale",
    "/collections/mugs",
    "/products/ceramic-mug-blue",
    "/products/ceramic-mug-white",
    "/products/tote-bag",
    "/products/notebook-a5",
    "/products/sticker-pack",
    "/products/hoodie-grey",
    "/cart",
    "/checkout",
    "/checkout/thank-you",
    "/account",
    "/search",
    "/pages/shipping",
];

/// `(weight, referrer)`; `""` = none (JSON null), `"self"` = another page of
/// the same site.
const REFERRERS: &[(u32, &str)] = &[
    (40, ""),
    (14, "https://www.google.com/"),
    (3, "https://www.google.de/"),
    (2, "https://www.google.co.uk/"),
    (1, "https://www.google.fr/"),
    (5, "https://www.bing.com/"),
    (3, "https://duckduckgo.com/"),
    (1, "https://search.brave.com/"),
    (4, "https://t.co/Xk3bQ9rT2a"),
    (2, "https://x.com/"),
    (3, "https://m.facebook.com/"),
    (1, "https://l.instagram.com/"),
    (
        3,
        "https://www.reddit.com/r/selfhosted/comments/1g2x3y/cookie_free_analytics/",
    ),
    (2, "https://news.ycombinator.com/item?id=42012345"),
    (1, "https://www.linkedin.com/"),
    (2, "https://chatgpt.com/"),
    (1, "https://github.com/saltmark/saltmark"),
    (12, "self"),
];

const UTM: &[(&str, &str, &str)] = &[
    ("newsletter", "email", "november-digest"),
    ("twitter", "social", "launch"),
    ("google", "cpc", "brand"),
    ("google", "cpc", "competitors"),
    ("facebook", "paid_social", "retargeting"),
    ("producthunt", "referral", "launch"),
    ("partner-blog", "referral", "guest-post"),
];

const CUSTOM_EVENTS: &[&str] = &["Signup", "Download", "Outbound Link: Click", "Add to cart"];

struct Beacon {
    ip: String,
    user_agent: String,
    body: String,
    bot: bool,
}

fn visitor(seed: u64, v: u64) -> (String, String, u32, bool) {
    let mut rng = Rng::new(seed, 0x5649_5349_544f_5200 ^ v);
    let ip = if rng.pct() < 12 {
        format!(
            "{}:{:x}:{:x}:{:x}:{:x}",
            rng.pick(IPV6_PREFIXES),
            rng.below(0xffff) + 1,
            rng.below(0xffff),
            rng.below(0xffff),
            rng.below(0xffff) + 1,
        )
    } else {
        format!(
            "{}.{}.{}.{}",
            rng.pick(IPV4_FIRST_OCTETS),
            rng.below(256),
            rng.below(256),
            rng.below(254) + 1
        )
    };
    if rng.pct() < 6 {
        return (ip, (*rng.pick(BOTS)).to_string(), 1280, true);
    }
    let (template, min_width, max_width) = *rng.weighted(BROWSERS);
    let chrome = 118 + rng.below(14);
    let firefox = 115 + rng.below(19);
    let ios = 16 + rng.below(3);
    let ios_minor = rng.below(7);
    let user_agent = template
        .replace("{c}", &chrome.to_string())
        .replace("{f}", &firefox.to_string())
        .replace("{i}", &ios.to_string())
        .replace("{m}", &ios_minor.to_string());
    let width = min_width + rng.below(u64::from(max_width - min_width + 1)) as u32;
    (ip, user_agent, width, false)
}

fn beacon(seed: u64, i: u64) -> Beacon {
    let mut rng = Rng::new(seed, i);
    // Returning visitors are more frequent than new ones.
    let v = rng.below(VISITORS).min(rng.below(VISITORS));
    let (ip, user_agent, width, bot) = visitor(seed, v);
    let (site, paths) = if rng.pct() < 70 {
        (MAIN_SITE, MAIN_PATHS)
    } else {
        (SHOP_SITE, SHOP_PATHS)
    };
    let path = *rng.pick(paths);
    let mut url = format!("https://{site}{path}");
    let query = rng.pct();
    if query < 12 {
        let (source, medium, campaign) = rng.pick(UTM);
        url.push_str(&format!(
            "?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
        ));
        if rng.pct() < 30 {
            url.push_str(&format!("&utm_content=variant-{}", rng.below(3)));
        }
    } else if query < 16 {
        url.push_str(&format!("?page={}", rng.below(5) + 2));
    } else if query < 18 {
        url.push_str("#reviews");
    }
    let referrer = match *rng.weighted(REFERRERS) {
        "" => "null".to_string(),
        "self" => format!("\"https://{site}{}\"", rng.pick(paths)),
        other => format!("\"{other}\""),
    };
    let custom = rng.pct();
    let (name, props) = if custom < 90 {
        ("pageview", String::new())
    } else {
        let name = *rng.pick(CUSTOM_EVENTS);
        let props = match name {
            "Signup" => format!(
                ",\"p\":{{\"plan\":\"{}\"}}",
                rng.pick(&["free", "pro", "team"])
            ),
            "Download" => format!(
                ",\"p\":{{\"file\":\"saltmark-0.{}.tar.gz\",\"os\":\"linux\"}}",
                rng.below(9)
            ),
            "Outbound Link: Click" => {
                ",\"p\":{\"url\":\"https://github.com/saltmark/saltmark\"}".to_string()
            }
            _ => format!(
                ",\"p\":{{\"sku\":\"sku-{}\",\"price\":{}.99,\"qty\":{}}}",
                rng.below(400),
                rng.below(80) + 5,
                rng.below(3) + 1
            ),
        };
        (name, props)
    };
    let body = format!(
        "{{\"n\":\"{name}\",\"u\":\"{url}\",\"d\":\"{site}\",\"r\":{referrer},\"w\":{width}{props}}}"
    );
    Beacon {
        ip,
        user_agent,
        body,
        bot,
    }
}

fn http_request(host: &str, beacon: &Beacon) -> Vec<u8> {
    format!(
        "POST /api/event HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\nUser-Agent: {}\r\nX-Forwarded-For: {}\r\nContent-Length: {}\r\n\r\n{}",
        beacon.user_agent,
        beacon.ip,
        beacon.body.len(),
        beacon.body
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------
// Minimal HTTP/1.1 keep-alive client
// ---------------------------------------------------------------------------

struct Answer {
    status: u16,
    dropped: Option<String>,
    close: bool,
}

struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<Answer> {
        self.stream.write_all(request).await?;
        let head_end = loop {
            if let Some(pos) = find(&self.buffer, b"\r\n\r\n") {
                break pos + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "status line"))?;
        let mut length = 0usize;
        let mut dropped = None;
        let mut close = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("x-saltmark-dropped") {
                dropped = Some(value.to_string());
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        while self.buffer.len() < head_end + length {
            self.fill().await?;
        }
        self.buffer.drain(..head_end + length);
        Ok(Answer {
            status,
            dropped,
            close,
        })
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 8192];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Default)]
struct Tally {
    accepted: u64,
    dropped: BTreeMap<String, u64>,
    other_status: BTreeMap<u16, u64>,
    retries_503: u64,
    reconnects: u64,
    bots_sent: u64,
}

async fn worker(
    addr: Arc<String>,
    seed: u64,
    first: u64,
    count: u64,
    next: Arc<AtomicU64>,
    tally: Arc<Mutex<Tally>>,
) -> std::io::Result<()> {
    let mut local = Tally::default();
    let mut connection = Connection::open(&addr).await?;
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= count {
            break;
        }
        let beacon = beacon(seed, first + index);
        local.bots_sent += u64::from(beacon.bot);
        let request = http_request(&addr, &beacon);
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > 1000 {
                return Err(std::io::Error::other("gave up after 1000 attempts"));
            }
            let answer = match connection.exchange(&request).await {
                Ok(answer) => answer,
                Err(_) => {
                    local.reconnects += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    connection = Connection::open(&addr).await?;
                    continue;
                }
            };
            if answer.close {
                local.reconnects += 1;
                connection = Connection::open(&addr).await?;
            }
            match (answer.status, answer.dropped) {
                (202, None) => local.accepted += 1,
                (202, Some(reason)) => *local.dropped.entry(reason).or_default() += 1,
                (503, _) => {
                    local.retries_503 += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                (status, _) => *local.other_status.entry(status).or_default() += 1,
            }
            break;
        }
    }
    let mut total = tally.lock().expect("tally lock");
    total.accepted += local.accepted;
    total.retries_503 += local.retries_503;
    total.reconnects += local.reconnects;
    total.bots_sent += local.bots_sent;
    for (reason, n) in local.dropped {
        *total.dropped.entry(reason).or_default() += n;
    }
    for (status, n) in local.other_status {
        *total.other_status.entry(status).or_default() += n;
    }
    Ok(())
}

/// `SELECT count() FROM table` over ClickHouse's HTTP interface (HTTP/1.0,
/// so the answer is not chunked). `addr` is `HOST:PORT` or
/// `USER:PASSWORD@HOST:PORT` (the managed server takes only its own users).
async fn clickhouse_count(addr: &str, table: &str) -> std::io::Result<u64> {
    let (auth, addr) = match addr.rsplit_once('@') {
        Some((credentials, host)) => {
            let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
            (
                format!("X-ClickHouse-User: {user}\r\nX-ClickHouse-Key: {password}\r\n"),
                host,
            )
        }
        None => (String::new(), addr),
    };
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET /?query=SELECT%20count()%20FROM%20{table} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").trim();
    body.parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unexpected count answer: {text}"),
        )
    })
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

struct Options {
    positional: Vec<String>,
    named: BTreeMap<String, String>,
}

impl Options {
    fn parse() -> Self {
        let mut positional = Vec::new();
        let mut named = BTreeMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if let Some(name) = arg.strip_prefix("--") {
                named.insert(name.to_string(), args.next().unwrap_or_default());
            } else {
                positional.push(arg);
            }
        }
        Options { positional, named }
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.named.get(name).map(String::as_str)
    }
    fn number(&self, name: &str, default: u64) -> u64 {
        self.get(name)
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| fail(&format!("--{name} wants a number")))
            })
            .unwrap_or(default)
    }
}

fn fail(message: &str) -> ! {
    eprintln!("e2e_load: {message}");
    std::process::exit(2)
}

fn main() {
    let options = Options::parse();
    match options.positional.first().map(String::as_str) {
        Some("gen") => generate(&options),
        Some("send") => {
            let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
            if let Err(e) = runtime.block_on(send(&options)) {
                fail(&e.to_string());
            }
        }
        _ => fail("usage: e2e_load gen <out.tsv> [--count N] [--seed S] | send --addr HOST:PORT --count N [--conns C] [--seed S] [--first I] [--clickhouse HOST:PORT --table DB.T --base ROWS] [--timeout SECS]"),
    }
}

fn generate(options: &Options) {
    let out = options
        .positional
        .get(1)
        .unwrap_or_else(|| fail("gen wants an output path"));
    let count = options.number("count", 20_000);
    let seed = options.number("seed", 1);
    let file = std::fs::File::create(out).unwrap_or_else(|e| fail(&format!("{out}: {e}")));
    let mut file = std::io::BufWriter::new(file);
    let mut bots = 0;
    for i in 0..count {
        let beacon = beacon(seed, i);
        bots += u64::from(beacon.bot);
        writeln!(
            file,
            "{}\t{}\t{}",
            beacon.ip, beacon.user_agent, beacon.body
        )
        .unwrap_or_else(|e| fail(&format!("{out}: {e}")));
    }
    file.flush()
        .unwrap_or_else(|e| fail(&format!("{out}: {e}")));
    eprintln!("e2e_load: wrote {count} beacons ({bots} from bots) to {out}");
}

async fn send(options: &Options) -> std::io::Result<()> {
    let addr = Arc::new(
        options
            .get("addr")
            .unwrap_or_else(|| fail("send wants --addr"))
            .to_string(),
    );
    let count = options.number("count", 10_000);
    let conns = options.number("conns", 64).max(1);
    let seed = options.number("seed", 1);
    let first = options.number("first", 0);
    let timeout = Duration::from_secs(options.number("timeout", 300));
    let clickhouse = options.get("clickhouse").map(str::to_string);
    let table = options
        .get("table")
        .unwrap_or("saltmark.events")
        .to_string();
    let base = options.number("base", 0);

    let next = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        tasks.push(tokio::spawn(worker(
            addr.clone(),
            seed,
            first,
            count,
            next.clone(),
            tally.clone(),
        )));
    }
    for task in tasks {
        task.await.map_err(std::io::Error::other)??;
    }
    let sent_secs = start.elapsed().as_secs_f64();
    let tally = std::mem::take(&mut *tally.lock().expect("tally lock"));

    let mut readable_secs = None;
    let mut rows_seen = None;
    if let Some(clickhouse) = clickhouse {
        let want = base + tally.accepted;
        loop {
            let rows = clickhouse_count(&clickhouse, &table).await?;
            rows_seen = Some(rows);
            if rows >= want {
                readable_secs = Some(start.elapsed().as_secs_f64());
                break;
            }
            if start.elapsed() > timeout {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let dropped: Vec<String> = tally
        .dropped
        .iter()
        .map(|(reason, n)| format!("\"{reason}\":{n}"))
        .collect();
    let other: Vec<String> = tally
        .other_status
        .iter()
        .map(|(status, n)| format!("\"{status}\":{n}"))
        .collect();
    let option_number = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.4}"));
    println!(
        "E2E_RESULT {{\"count\":{count},\"conns\":{conns},\"accepted\":{},\"bots_sent\":{},\"dropped\":{{{}}},\"other_status\":{{{}}},\"retries_503\":{},\"reconnects\":{},\"sent_secs\":{sent_secs:.4},\"readable_secs\":{},\"rows_seen\":{},\"rows_base\":{base}}}",
        tally.accepted,
        tally.bots_sent,
        dropped.join(","),
        other.join(","),
        tally.retries_503,
        tally.reconnects,
        option_number(readable_secs),
        rows_seen.map_or("null".to_string(), |r| r.to_string()),
    );
    Ok(())
}
