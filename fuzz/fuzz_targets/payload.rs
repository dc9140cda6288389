//! The event payload parser: any body, any query string, never a panic; an
//! accepted payload respects the field caps.
#![no_main]
use libfuzzer_sys::fuzz_target;
use saltmark::ingest::payload::{from_json, from_query};

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = from_json(data) {
        assert!(input.props.len() <= 30, "props capped");
    }
    let text = String::from_utf8_lossy(data);
    let (query, referer) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = from_query(query, Some(referer));
    let _ = from_query(query, None);
});
