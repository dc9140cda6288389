//! The tracker script as the collector serves it: encodings, caching,
//! size budget, variants.

use std::io::Read;

use crate::common::*;

/// The default script's budget, gzipped (docs/api.md: "Tracker script").
const MAX_GZIP: usize = 1024;

async fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client().get(server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request sent")
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_is_served_compressed_cached_and_small() {
    let server = TestServer::start("tracker", &[]).await;

    let plain = get(&server, "/js/script.js", &[]).await;
    assert_eq!(plain.status(), 200);
    let headers = plain.headers().clone();
    assert_eq!(
        headers["content-type"],
        "application/javascript; charset=utf-8"
    );
    assert!(headers.get("content-encoding").is_none());
    assert_eq!(headers["vary"], "Accept-Encoding");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=86400, stale-while-revalidate=604800"
    );
    assert!(headers.get("set-cookie").is_none());
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
        "{etag}"
    );
    let js = plain.bytes().await.unwrap();
    let text = std::str::from_utf8(&js).unwrap();
    assert!(text.starts_with("(function(w,d){"), "{text}");
    assert!(text.contains("sendBeacon") && text.contains("/api/event"));
    // No comments, no source-only markers; tagged events are a variant.
    assert!(!text.contains("//@") && !text.contains("@features"));
    assert!(!text.contains("saltmark-event"));

    let gz = get(
        &server,
        "/js/script.js",
        &[("accept-encoding", "gzip, deflate")],
    )
    .await;
    assert_eq!(gz.status(), 200);
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.headers()["vary"], "Accept-Encoding");
    let gz_etag = gz.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(gz_etag, etag, "each encoding has its own strong ETag");
    let gz_bytes = gz.bytes().await.unwrap();
    assert_eq!(gunzip(&gz_bytes), js);
    println!("script.js: {} bytes, {} gzipped", js.len(), gz_bytes.len());
    assert!(
        gz_bytes.len() <= MAX_GZIP,
        "script.js is {} bytes gzipped, over {MAX_GZIP}",
        gz_bytes.len()
    );

    let br = get(
        &server,
        "/js/script.js",
        &[("accept-encoding", "gzip, deflate, br, zstd")],
    )
    .await;
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()["content-encoding"], "br");
    let br_bytes = br.bytes().await.unwrap();
    assert_eq!(unbrotli(&br_bytes), js);
    assert!(br_bytes.len() < gz_bytes.len());

    // Revalidation: the ETag of any encoding gives a 304 without a body.
    for (tag, accept) in [(&etag, "identity"), (&gz_etag, "gzip"), (&etag, "br")] {
        let response = get(
            &server,
            "/js/script.js",
            &[("if-none-match", tag.as_str()), ("accept-encoding", accept)],
        )
        .await;
        assert_eq!(response.status(), 304, "{tag} {accept}");
        assert!(response.headers().get("etag").is_some());
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=86400, stale-while-revalidate=604800"
        );
        assert!(response.bytes().await.unwrap().is_empty());
    }
    let list = format!("\"nope\", W/{gz_etag}");
    let response = get(&server, "/js/script.js", &[("if-none-match", &list)]).await;
    assert_eq!(response.status(), 304);
    let stale = get(&server, "/js/script.js", &[("if-none-match", "\"nope\"")]).await;
    assert_eq!(stale.status(), 200);

    let head = client()
        .head(server.url("/js/script.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        js.len().to_string().as_str()
    );
    let post = client()
        .post(server.url("/js/script.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_are_served_in_plausibles_naming() {
    let server = TestServer::start("tracker_variants", &[]).await;
    let default = get(&server, "/js/script.js", &[])
        .await
        .bytes()
        .await
        .unwrap();
    let all = "/js/script.tagged-events.outbound-links.file-downloads.hash.js";
    let response = get(&server, all, &[("accept-encoding", "gzip")]).await;
    assert_eq!(response.status(), 200);
    let variant = gunzip(&response.bytes().await.unwrap());
    let variant = String::from_utf8(variant).unwrap();
    assert!(variant.contains("'hash outbound-links file-downloads tagged-events'"));
    assert!(variant.contains("saltmark-event"));
    assert!(variant.len() > default.len());

    // The same features in another order are the same script.
    let a = get(&server, "/js/script.outbound-links.file-downloads.js", &[])
        .await
        .bytes()
        .await
        .unwrap();
    let b = get(&server, "/js/script.file-downloads.outbound-links.js", &[])
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(a, b);
    assert!(std::str::from_utf8(&a)
        .unwrap()
        .contains("'outbound-links file-downloads'"));

    for path in [
        "/js/script.hash.js",
        "/js/script.outbound-links.js",
        "/js/script.file-downloads.js",
        "/js/script.tagged-events.js",
    ] {
        let response = get(&server, path, &[("accept-encoding", "br")]).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-encoding"], "br");
    }
    for path in [
        "/js/script.manual.js",
        "/js/plausible.js",
        "/js/script.hash.hash.js.map",
        "/js/",
    ] {
        assert_eq!(get(&server, path, &[]).await.status(), 404, "{path}");
    }
    server.stop().await;
}
