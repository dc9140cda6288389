//! The dashboard: a page for marketing teams, served by the collector.
//!
//! Everything it shows comes from the stats API (`POST /api/v2/query`,
//! `GET /api/v2/realtime`) called from the page itself, so the dashboard,
//! the API and the CLI cannot disagree. This module holds only the page's
//! embedded assets (no CDN: it works offline and behind strict firewalls);
//! its endpoints (login, logout, share links) are in `server::dashboard`,
//! the credentials behind them in [`crate::auth`].
//!
//! The cookie is for the site owner reading their dashboard, never for the
//! visitors of their sites: the tracker sets none.

/// The page (`/dashboard`, `/share`).
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// Its script.
pub const APP_JS: &str = include_str!("assets/app.js");
/// Its styles.
pub const APP_CSS: &str = include_str!("assets/app.css");

/// The embedded file at `path`, with its content type.
pub fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/dashboard" | "/dashboard/" | "/share" => Some(("text/html; charset=utf-8", INDEX_HTML)),
        "/dashboard/app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "/dashboard/app.css" => Some(("text/css; charset=utf-8", APP_CSS)),
        _ => None,
    }
}
