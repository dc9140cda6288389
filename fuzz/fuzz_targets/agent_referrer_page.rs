//! User-agent parsing, referrer classification and page URL parsing on any
//! client-supplied strings: never a panic.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use saltmark::enrich::page::parse_page;
use saltmark::enrich::referrer::ReferrerClassifier;
use saltmark::enrich::useragent::AgentParser;

static AGENTS: OnceLock<AgentParser> = OnceLock::new();
static REFERRERS: OnceLock<ReferrerClassifier> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let agents = AGENTS.get_or_init(|| AgentParser::embedded(1024).expect("embedded data"));
    let referrers = REFERRERS.get_or_init(|| ReferrerClassifier::embedded().expect("embedded data"));
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1}');
    let agent = parts.next().unwrap_or("");
    let referrer = parts.next().unwrap_or("");
    let url = parts.next().unwrap_or(referrer);
    let parsed = agents.parse(agent);
    let _ = parsed.device_class(Some(data.len() as u32));
    for hash_mode in [false, true] {
        if let Ok(page) = parse_page(url, hash_mode) {
            let _ = referrers.classify(Some(referrer), &page.source_param, &page.hostname, "example.com");
        }
    }
    let _ = referrers.classify(Some(referrer), agent, url, "example.com");
});
