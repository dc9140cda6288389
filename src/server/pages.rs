//! The collector's own small pages — the visitor's erasure page and the
//! demo — and their assets, all served with the hardening headers and the
//! strict CSP of [`super::reply::harden`].
//!
//! The rule for every page here: no inline script or style (the CSP would
//! refuse them anyway), and data never goes into a script. The erasure
//! page is static and reads its site from its own address; the demo page
//! puts the site into HTML text and an attribute through [`fill`], which
//! escapes it for exactly that context.

use hyper::Response;

use super::reply::{self, Body};

const FORGET_HTML: &str = include_str!("forget.html");
const FORGET_JS: &str = include_str!("forget.js");
const DEMO_HTML: &str = include_str!("demo.html");
const DEMO_JS: &str = include_str!("demo.js");
const PAGES_CSS: &str = include_str!("pages.css");
const HOME_HTML: &str = include_str!("home.html");

/// `GET /api/forget`: the erasure page (a "delete my data" link on a site
/// leads here, to a button, rather than deleting on a GET that any page
/// could trigger with an image tag).
pub fn forget() -> Response<Body> {
    reply::page("text/html; charset=utf-8", FORGET_HTML)
}

/// `GET /`: a small page naming the collector and linking to the
/// dashboard, the erasure page and the health check (a bare "not found"
/// told a visitor nothing).
pub fn home() -> Response<Body> {
    reply::page(
        "text/html; charset=utf-8",
        fill(HOME_HTML, "VERSION", env!("CARGO_PKG_VERSION")),
    )
}

/// `GET /demo`: a page that embeds the real tracker for `site`.
pub fn demo(site: &str) -> Response<Body> {
    reply::page("text/html; charset=utf-8", fill(DEMO_HTML, "SITE", site))
}

/// `GET /assets/…`: the pages' scripts and style sheet.
pub fn asset(path: &str) -> Response<Body> {
    match path {
        "/assets/forget.js" => reply::page("text/javascript; charset=utf-8", FORGET_JS),
        "/assets/demo.js" => reply::page("text/javascript; charset=utf-8", DEMO_JS),
        "/assets/pages.css" => reply::page("text/css; charset=utf-8", PAGES_CSS),
        _ => reply::not_found(),
    }
}

/// `template` with every `{{name}}` replaced by `value`, escaped for HTML
/// text and quoted attributes — the only contexts templates here use.
fn fill(template: &str, name: &str, value: &str) -> String {
    let placeholder = format!("{{{{{name}}}}}");
    template.replace(&placeholder, &crate::escape::html(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_page_holds_inline_script_or_a_script_placeholder() {
        for html in [FORGET_HTML, DEMO_HTML, HOME_HTML] {
            for script in html.split("<script").skip(1) {
                let tag_end = script.find('>').expect("a closed tag");
                assert!(
                    script[..tag_end].contains("src="),
                    "inline script: <script{}",
                    &script[..tag_end]
                );
                assert!(script[tag_end + 1..].starts_with("</script>"));
            }
            assert!(!html.contains("<style"), "inline style");
        }
        assert!(!FORGET_HTML.contains("{{"), "the erasure page is static");
    }

    #[test]
    fn the_demo_site_is_escaped_for_html() {
        let page = fill(DEMO_HTML, "SITE", "x\"><script>alert(1)</script>");
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("data-domain=\"x&quot;&gt;&lt;script&gt;"));
    }
}
