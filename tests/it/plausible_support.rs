//! What the ported Plausible cases share (`plausible_*.rs`): a builder for
//! the rows of Plausible's factory (`build(:pageview, …)`,
//! `build(:event, …)`), and a runner that gives every case a site of its
//! own on one collector, stores the rows directly in ClickHouse, asks each
//! case's question through `POST /api/v2/query` and collects every case
//! whose answer differs, so one run reports them all.
//!
//! Plausible's factory makes every event its own visitor and visit unless
//! the test shares a `user_id`; events of one user belong to one visit
//! while they are less than 30 minutes apart (Plausible's session
//! timeout), and so they do here. Plausible's default timestamp is "now";
//! here it is a fixed instant ([`DEFAULT_TIME`]), which every `"all"` query
//! covers just the same. The visit's channel is classified from its source
//! and UTM tags by saltmark's own classifier, as ingest would.

use crate::common::*;
use saltmark::enrich::channel::{classify, ChannelInput};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The timestamp of an event whose Plausible test gives none ("now").
pub const DEFAULT_TIME: &str = "2021-01-01 00:00:00";

/// One row of Plausible's factory.
#[derive(Clone, Debug)]
pub struct Ev {
    pub name: String,
    pub timestamp: String,
    pub pathname: String,
    /// `None`: the site's domain, as Plausible's factory does.
    pub hostname: Option<String>,
    pub referrer: String,
    pub referrer_source: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_content: String,
    pub utm_term: String,
    pub country_code: String,
    pub region_code: String,
    pub region: String,
    pub city: String,
    pub browser: String,
    pub browser_version: String,
    pub os: String,
    pub os_version: String,
    pub device: String,
    pub props: Vec<(String, String)>,
    /// Plausible's `user_id`; `None`: a visitor of its own.
    pub user: Option<u64>,
    /// An engagement row's deepest scroll, percent (255: not said).
    pub scroll_depth: u8,
    /// An engagement row's engaged milliseconds.
    pub engagement_time: u32,
    /// Revenue in thousandths, and its currency (Plausible's
    /// `revenue_reporting_amount` / `_currency`).
    pub revenue: Option<(i64, String)>,
}

/// `build(:pageview)`.
pub fn pv() -> Ev {
    Ev {
        name: "pageview".into(),
        timestamp: DEFAULT_TIME.into(),
        pathname: "/".into(),
        hostname: None,
        referrer: String::new(),
        referrer_source: String::new(),
        utm_source: String::new(),
        utm_medium: String::new(),
        utm_campaign: String::new(),
        utm_content: String::new(),
        utm_term: String::new(),
        country_code: String::new(),
        region_code: String::new(),
        region: String::new(),
        city: String::new(),
        browser: String::new(),
        browser_version: String::new(),
        os: String::new(),
        os_version: String::new(),
        device: String::new(),
        props: Vec::new(),
        user: None,
        scroll_depth: 0,
        engagement_time: 0,
        revenue: None,
    }
}

/// `build(:engagement, …)`: set its measures with [`Ev::engaged`].
pub fn engagement() -> Ev {
    ev("engagement")
}

/// `build(:event, name: …)`.
pub fn ev(name: &str) -> Ev {
    Ev {
        name: name.into(),
        ..pv()
    }
}

impl Ev {
    /// An engagement's scroll depth (percent) and engaged milliseconds.
    pub fn engaged(mut self, scroll_depth: u8, engagement_time: u32) -> Ev {
        self.scroll_depth = scroll_depth;
        self.engagement_time = engagement_time;
        self
    }
    /// Revenue: `amount` in thousandths of `currency`.
    pub fn revenue(mut self, milli: i64, currency: &str) -> Ev {
        self.revenue = Some((milli, currency.into()));
        self
    }
    pub fn at(mut self, timestamp: &str) -> Ev {
        self.timestamp = timestamp.into();
        self
    }
    pub fn path(mut self, pathname: &str) -> Ev {
        self.pathname = pathname.into();
        self
    }
    pub fn host(mut self, hostname: &str) -> Ev {
        self.hostname = Some(hostname.into());
        self
    }
    pub fn user(mut self, user: u64) -> Ev {
        self.user = Some(user);
        self
    }
    pub fn referrer(mut self, referrer: &str) -> Ev {
        self.referrer = referrer.into();
        self
    }
    pub fn source(mut self, source: &str) -> Ev {
        self.referrer_source = source.into();
        self
    }
    pub fn utm_source(mut self, v: &str) -> Ev {
        self.utm_source = v.into();
        self
    }
    pub fn utm_medium(mut self, v: &str) -> Ev {
        self.utm_medium = v.into();
        self
    }
    pub fn utm_campaign(mut self, v: &str) -> Ev {
        self.utm_campaign = v.into();
        self
    }
    pub fn utm_content(mut self, v: &str) -> Ev {
        self.utm_content = v.into();
        self
    }
    pub fn utm_term(mut self, v: &str) -> Ev {
        self.utm_term = v.into();
        self
    }
    pub fn country(mut self, code: &str) -> Ev {
        self.country_code = code.into();
        self
    }
    /// Plausible's `subdivision1_code` and the English name saltmark keeps
    /// beside it, and the city's English name (Plausible's geoname id).
    pub fn place(mut self, region_code: &str, region: &str, city: &str) -> Ev {
        self.region_code = region_code.into();
        self.region = region.into();
        self.city = city.into();
        self
    }
    pub fn browser(mut self, name: &str) -> Ev {
        self.browser = name.into();
        self
    }
    pub fn browser_version(mut self, v: &str) -> Ev {
        self.browser_version = v.into();
        self
    }
    pub fn os(mut self, name: &str) -> Ev {
        self.os = name.into();
        self
    }
    pub fn os_version(mut self, v: &str) -> Ev {
        self.os_version = v.into();
        self
    }
    /// Plausible's `screen_size`.
    pub fn device(mut self, v: &str) -> Ev {
        self.device = v.into();
        self
    }
    /// One of `"meta.key"`/`"meta.value"`.
    pub fn prop(mut self, key: &str, value: &str) -> Ev {
        self.props.push((key.into(), value.into()));
        self
    }
    /// Sets the column a Plausible test names (`{column, value}` tables).
    pub fn set(self, column: &str, value: &str) -> Ev {
        match column {
            "referrer_source" => self.source(value),
            "referrer" => self.referrer(value),
            "utm_medium" => self.utm_medium(value),
            "utm_source" => self.utm_source(value),
            "utm_campaign" => self.utm_campaign(value),
            "utm_content" => self.utm_content(value),
            "utm_term" => self.utm_term(value),
            "operating_system" => self.os(value),
            "browser" => self.browser(value),
            "screen_size" => self.device(value),
            other => panic!("no column {other}"),
        }
    }
}

/// `n` copies of an event (each its own visitor unless it has a user).
pub fn times(n: usize, e: Ev) -> Vec<Ev> {
    vec![e; n]
}

/// `build(:imported_<kind>, …)` with the factory's defaults (their
/// `date` is "today"; here [`DEFAULT_TIME`]'s day); set columns with
/// [`Imp::with`].
pub fn imported(kind: &str) -> saltmark::imports::ImportedRow {
    let defaults: &[(&str, &str)] = match kind {
        "visitors" => &[
            ("visitors", "1"),
            ("pageviews", "1"),
            ("visits", "1"),
            ("visit_duration", "10"),
        ],
        "pages" => &[("visitors", "1"), ("pageviews", "1")],
        "entry_pages" => &[
            ("visitors", "1"),
            ("entrances", "1"),
            ("visit_duration", "10"),
        ],
        "exit_pages" => &[("visitors", "1"), ("exits", "1")],
        "custom_events" => &[("visitors", "1"), ("events", "1")],
        _ => &[("visitors", "1"), ("visits", "1"), ("visit_duration", "10")],
    };
    let mut row = saltmark::imports::ImportedRow {
        kind: kind.to_string(),
        import_id: 1,
        ..Default::default()
    };
    row.set_column("date", &DEFAULT_TIME[..10]).unwrap();
    for (column, value) in defaults {
        row.set_column(column, value).unwrap();
    }
    row
}

/// Setting a column of an imported row in a case.
pub trait Imp {
    fn with(self, column: &str, value: impl ToString) -> Self;
}

impl Imp for saltmark::imports::ImportedRow {
    fn with(mut self, column: &str, value: impl ToString) -> Self {
        self.set_column(column, &value.to_string())
            .unwrap_or_else(|e| panic!("{column}: {e}"));
        self
    }
}

/// What a case expects.
pub enum Expect {
    /// `results`, each as `{"dimensions", "metrics"}` (and `"comparison"`
    /// when the answer carries one), in order.
    Results(Value),
    /// The same rows in any order.
    ResultsAnyOrder(Value),
    /// A 400 whose `error` contains this text: Plausible's message, which
    /// saltmark writes after the field it is about and without its final
    /// period (`filters[0][1]: Behavioral filters … filters`, see
    /// docs/api.md), so a final period here is not looked for.
    Error(&'static str),
    /// A 400 about a malformed query, whose `error` contains each text.
    /// Plausible writes these as `#/dimensions/0: Invalid dimension "x"`;
    /// saltmark names the field (`dimensions[0]`), the value and what is
    /// allowed instead (docs/api.md: a deliberate difference in wording).
    Invalid(&'static [&'static str]),
    /// Results in order and these `meta` fields (a text field: contained
    /// in the answer's; a field given as null: absent).
    WithMeta(Value, Value),
    /// Anything else: checks the whole answer.
    Check(fn(&Value) -> Result<(), String>),
}

/// One of Plausible's tests: its name, its rows, its request (without
/// `site_id`) and its asserted answer.
pub struct Case {
    pub name: &'static str,
    pub events: Vec<Ev>,
    pub query: Value,
    pub expect: Expect,
    /// The site's time zone, when the test sets one.
    pub timezone: Option<&'static str>,
    /// Further questions on the same rows (Plausible's tests that post
    /// several queries, or one query per dimension).
    pub more: Vec<(Value, Expect)>,
    /// Posts the first answer's `query` again and wants the same results
    /// (Plausible's "using the returned query object in a new POST request").
    pub repost: bool,
    /// The site's goals, in the order the test inserts them (see [`goal`]).
    pub goals: Vec<saltmark::goals::Goal>,
    /// Imported rows (Plausible's `populate_stats` with `imported_*`
    /// factories), stored under import 1.
    pub imported: Vec<saltmark::imports::ImportedRow>,
}

/// A goal in the notation of the ported cases: `event:NAME`, `page:PATH`,
/// `scroll:PATH@PERCENT`, each optionally with a revenue currency `[USD]`,
/// property conditions `{key=value,key=value}` and then `=DISPLAY NAME`.
pub fn goal(notation: &str) -> saltmark::goals::Goal {
    // `[USD]`: a revenue goal's currency.
    let (notation, currency) = match (notation.find('['), notation.find(']')) {
        (Some(open), Some(close)) if open < close => (
            format!("{}{}", &notation[..open], &notation[close + 1..]),
            Some(notation[open + 1..close].to_string()),
        ),
        _ => (notation.to_string(), None),
    };
    let (notation, props) = match (notation.find('{'), notation.find('}')) {
        (Some(open), Some(close)) if open < close => {
            let props: Vec<(String, String)> = notation[open + 1..close]
                .split(',')
                .map(|pair| {
                    let (k, v) = pair.split_once('=').expect("key=value");
                    (k.to_string(), v.to_string())
                })
                .collect();
            (
                format!("{}{}", &notation[..open], &notation[close + 1..]),
                props,
            )
        }
        _ => (notation.to_string(), Vec::new()),
    };
    let notation = notation.as_str();
    let (definition, name) = match notation.split_once('=') {
        Some((d, n)) => (d, Some(n.to_string())),
        None => (notation, None),
    };
    let (kind, what) = definition.split_once(':').expect("kind:what");
    let mut spec = saltmark::goals::GoalSpec {
        display_name: name,
        props,
        currency,
        ..Default::default()
    };
    match kind {
        "event" => spec.event = Some(what.into()),
        "page" => spec.page = Some(what.into()),
        "scroll" => {
            let (path, threshold) = what.split_once('@').expect("PATH@PERCENT");
            spec.page = Some(path.into());
            spec.scroll = Some(threshold.parse().expect("a percentage"));
        }
        other => panic!("unknown goal kind {other}"),
    }
    spec.check().expect("a valid goal")
}

pub fn case(name: &'static str, events: Vec<Ev>, query: Value, expect: Expect) -> Case {
    Case {
        name,
        events,
        query,
        expect,
        timezone: None,
        more: Vec::new(),
        repost: false,
        goals: Vec::new(),
        imported: Vec::new(),
    }
}

impl Case {
    pub fn tz(mut self, zone: &'static str) -> Case {
        self.timezone = Some(zone);
        self
    }
    /// The site's goals ([`goal`] notation), added in this order.
    pub fn goals(mut self, goals: &[&str]) -> Case {
        self.goals = goals.iter().map(|g| goal(g)).collect();
        self
    }
    /// Imported rows ([`imported`]).
    pub fn imported(mut self, rows: Vec<saltmark::imports::ImportedRow>) -> Case {
        self.imported = rows;
        self
    }
    pub fn repost(mut self) -> Case {
        self.repost = true;
        self
    }
    pub fn and(mut self, query: Value, expect: Expect) -> Case {
        self.more.push((query, expect));
        self
    }
}

/// `{"dimensions", "metrics"}` rows from `[[dimensions], [metrics]]` pairs.
pub fn rows(pairs: Value) -> Value {
    Value::Array(
        pairs
            .as_array()
            .expect("a list of [dimensions, metrics]")
            .iter()
            .map(|p| json!({"dimensions": p[0], "metrics": p[1]}))
            .collect(),
    )
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn sql_texts(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| sql_text(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// The site of case `i`.
pub fn site_of(i: usize) -> String {
    format!("c{i}.plausible.test")
}

/// The VALUES tuples of one site's rows, with visitors and visits as
/// Plausible's factory makes them.
fn values(site: &str, site_index: usize, events: &[Ev]) -> Vec<String> {
    // Each user's events in time order; a gap of 30 minutes or more starts
    // a new visit.
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|a, b| events[*a].timestamp.cmp(&events[*b].timestamp));
    let base = (site_index as u64 + 1) * 1_000_000;
    let mut last: HashMap<u64, (chrono::NaiveDateTime, u64)> = HashMap::new();
    let mut session_of = vec![0u64; events.len()];
    let mut next_session = base + 500_000;
    for &i in &order {
        let e = &events[i];
        let t = chrono::NaiveDateTime::parse_from_str(&e.timestamp, "%Y-%m-%d %H:%M:%S")
            .unwrap_or_else(|_| panic!("timestamp {}", e.timestamp));
        match e.user {
            None => {
                next_session += 1;
                session_of[i] = next_session;
            }
            Some(user) => {
                let session = match last.get(&user) {
                    Some((prev, s)) if (t - *prev).num_seconds() < 30 * 60 => *s,
                    _ => {
                        next_session += 1;
                        next_session
                    }
                };
                last.insert(user, (t, session));
                session_of[i] = session;
            }
        }
    }
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let visitor = match e.user {
                Some(user) => base + user,
                None => base + 100_000 + i as u64,
            };
            let channel = classify(&ChannelInput {
                source: &e.referrer_source,
                utm_source: &e.utm_source,
                utm_medium: &e.utm_medium,
                utm_campaign: &e.utm_campaign,
                click_id: None,
            })
            .to_string();
            let keys: Vec<String> = e.props.iter().map(|(k, _)| k.clone()).collect();
            let vals: Vec<String> = e.props.iter().map(|(_, v)| v.clone()).collect();
            let texts = [
                site,
                &e.timestamp,
                &e.name,
                &e.pathname,
                e.hostname.as_deref().unwrap_or(site),
                &e.referrer,
                &e.referrer_source,
                &e.utm_source,
                &e.utm_medium,
                &e.utm_campaign,
                &e.utm_content,
                &e.utm_term,
                &e.country_code,
                &e.region_code,
                &e.region,
                &e.city,
                &e.browser,
                &e.browser_version,
                &e.os,
                &e.os_version,
                &e.device,
                &channel,
            ];
            let texts: Vec<String> = texts.iter().map(|t| sql_text(t)).collect();
            let (milli, currency) = e.revenue.clone().unwrap_or((0, String::new()));
            format!(
                "({}, {visitor}, {}, {}, {}, {}, {}, {milli}, {})",
                texts.join(", "),
                session_of[i],
                sql_texts(&keys),
                sql_texts(&vals),
                e.scroll_depth,
                e.engagement_time,
                sql_text(&currency)
            )
        })
        .collect()
}

/// The answer's rows as the cases state them.
fn comparable(answer: &Value) -> Value {
    Value::Array(
        answer["results"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        let mut row =
                            json!({"dimensions": r["dimensions"], "metrics": r["metrics"]});
                        if !r["comparison"].is_null() {
                            row["comparison"] = r["comparison"].clone();
                        }
                        row
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

fn sorted(rows: &Value) -> Vec<String> {
    let mut v: Vec<String> = rows
        .as_array()
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Numbers as floats: Plausible's tests compare with Elixir's `==`, for
/// which `50 == 50.0`.
pub fn numeric(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) => Value::Array(a.iter().map(numeric).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), numeric(v))).collect()),
        other => other.clone(),
    }
}

fn verdict(status: u16, answer: &Value, expect: &Expect) -> Result<(), String> {
    match expect {
        Expect::Error(text) => {
            let error = answer["error"].as_str().unwrap_or_default();
            if status == 400 && error.contains(text.strip_suffix('.').unwrap_or(text)) {
                Ok(())
            } else {
                Err(format!(
                    "wanted a 400 containing {text:?}, got {status} {answer}"
                ))
            }
        }
        Expect::Invalid(texts) => {
            let error = answer["error"].as_str().unwrap_or_default();
            if status == 400 && texts.iter().all(|t| error.contains(t)) {
                Ok(())
            } else {
                Err(format!(
                    "wanted a 400 containing {texts:?}, got {status} {answer}"
                ))
            }
        }
        _ if status != 200 => Err(format!("status {status}: {answer}")),
        Expect::Results(want) => {
            let got = comparable(answer);
            if numeric(&got) == numeric(want) {
                Ok(())
            } else {
                Err(format!("results\n      got  {got}\n      want {want}"))
            }
        }
        Expect::ResultsAnyOrder(want) => {
            let got = comparable(answer);
            if sorted(&numeric(&got)) == sorted(&numeric(want)) {
                Ok(())
            } else {
                Err(format!(
                    "results (any order)\n      got  {got}\n      want {want}"
                ))
            }
        }
        Expect::WithMeta(want, meta) => {
            let got = comparable(answer);
            if numeric(&got) != numeric(want) {
                return Err(format!("results\n      got  {got}\n      want {want}"));
            }
            for (key, wanted) in meta.as_object().expect("meta fields") {
                let found = &answer["meta"][key];
                let fits = match (wanted, found) {
                    (Value::Null, found) => found.is_null(),
                    (Value::String(w), Value::String(f)) => f.contains(w.as_str()),
                    (w, f) => w == f,
                };
                if !fits {
                    return Err(format!(
                        "meta.{key}: got {found}, want {wanted} (meta {})",
                        answer["meta"]
                    ));
                }
            }
            Ok(())
        }
        Expect::Check(check) => check(answer),
    }
}

/// Runs `cases` on one collector, each on a site of its own, and fails
/// with every case whose answer differs from Plausible's.
pub async fn run(tag: &str, cases: Vec<Case>) {
    let sites: Vec<String> = (0..cases.len()).map(site_of).collect();
    let zones: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.timezone.map(|z| format!("{}={z}", site_of(i))))
        .collect();
    let sites_list = sites.join(",");
    let zones_list = zones.join(",");
    // Plausible's rows are from 2021: past the default 24 months, so the
    // collector's start-up expiry run, if it came after the insert (a busy
    // machine), would delete them mid-run. Keep them.
    let mut overrides = vec![
        ("SALTMARK_SITES", sites_list.as_str()),
        ("SALTMARK_RETENTION_MONTHS", "1200"),
    ];
    if !zones.is_empty() {
        overrides.push(("SALTMARK_SITE_TIMEZONES", zones_list.as_str()));
    }
    let server = TestServer::start(tag, &overrides).await;
    let tuples: Vec<String> = cases
        .iter()
        .enumerate()
        .flat_map(|(i, c)| values(&sites[i], i, &c.events))
        .collect();
    if !tuples.is_empty() {
        ch_query(
            &server.ch_url,
            &server.database,
            &format!(
                "INSERT INTO events (site, timestamp, name, pathname, hostname, referrer, \
                 referrer_source, utm_source, utm_medium, utm_campaign, utm_content, utm_term, \
                 country_code, region_code, region, city, browser, browser_version, os, \
                 os_version, device, channel, visitor_id, session_id, prop_keys, prop_values, \
                 scroll_depth, engagement_time, revenue_milli, revenue_currency) \
                 VALUES {}",
                tuples.join(", ")
            ),
        )
        .await;
    }
    for (i, c) in cases.iter().enumerate() {
        if !c.imported.is_empty() {
            let mut insert = server
                .state
                .store
                .client()
                .insert::<saltmark::imports::ImportedRow>("imported")
                .await
                .unwrap();
            for row in &c.imported {
                let mut row = row.clone();
                row.site = sites[i].clone();
                insert.write(&row).await.unwrap();
            }
            insert.end().await.unwrap();
        }
        for goal in &c.goals {
            saltmark::goals::stored::add(&server.state.store, &sites[i], goal, chrono::Utc::now())
                .await
                .expect("the goal is stored");
        }
    }
    let key = server.api_key(&sites, "plausible").await;
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let questions =
            std::iter::once((&c.query, &c.expect)).chain(c.more.iter().map(|(q, e)| (q, e)));
        for (n, (query, expect)) in questions.enumerate() {
            let (status, answer) = post(&server, &key, &sites[i], query.clone()).await;
            if let Err(why) = verdict(status, &answer, expect) {
                failures.push(format!(
                    "{} (question {}): {why}\n      query {query}",
                    c.name,
                    n + 1
                ));
            }
            if c.repost && n == 0 {
                let (status, again) = post(&server, &key, &sites[i], answer["query"].clone()).await;
                if status != 200 || again["results"] != answer["results"] {
                    failures.push(format!(
                        "{} (the returned query posted again): {status} {again}",
                        c.name
                    ));
                }
            }
        }
    }
    server.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Plausible:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

/// One `POST /api/v2/query` for `site`.
pub async fn post(server: &TestServer, key: &str, site: &str, mut body: Value) -> (u16, Value) {
    body["site_id"] = json!(site);
    server.stats_query(key, &body).await
}
