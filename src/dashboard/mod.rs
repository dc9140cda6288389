//! The dashboard: a page for marketing teams, served by the collector.
//!
//! Everything it shows comes from the stats API (`POST /api/v2/query`,
//! `GET /api/v2/realtime`) called from the page itself, so the dashboard,
//! the API and the CLI cannot disagree. This module only serves the page's
//! embedded assets (no CDN: it works offline and behind strict firewalls)
//! and the credentials:
//!
//! - [`users`]: logins, passwords as argon2id hashes;
//! - [`sessions`]: the HttpOnly cookie a login sets;
//! - [`shares`]: read-only, revocable share links for one site;
//! - [`tokens`]: how their secrets are made and stored.
//!
//! The cookie is for the site owner reading their dashboard, never for the
//! visitors of their sites: the tracker sets none.
//!
//! Cross-site requests: the cookie is `SameSite=Strict`, and every state
//! changing endpoint requires `Content-Type: application/json`, which a
//! cross-site form cannot send without a CORS preflight we never grant.

pub mod login_gate;
pub mod sessions;
pub mod shares;
pub mod tokens;
pub mod users;

use std::net::IpAddr;

use crate::clock::RandomSource;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::query::access::{self, AccessKind};
use crate::query::QueryError;
use crate::server::body;
use crate::server::reply::{self, Body};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

pub use login_gate::LOGIN_ATTEMPTS_PER_MINUTE;

/// Dashboard settings and state.
pub struct Dashboard {
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookie: bool,
    /// How long a login lasts.
    pub session_lifetime: chrono::Duration,
    /// The budgets and verification slots in front of argon2.
    logins: login_gate::LoginGate,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("secure_cookie", &self.secure_cookie)
            .field("session_lifetime", &self.session_lifetime)
            .finish()
    }
}

impl Dashboard {
    /// Settings from the configuration; one verification slot per core.
    pub fn new(secure_cookie: bool, session_days: u32, random: &dyn RandomSource) -> Dashboard {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Dashboard {
            secure_cookie,
            session_lifetime: chrono::Duration::days(i64::from(session_days.max(1))),
            logins: login_gate::LoginGate::new(cores, random),
        }
    }
}

/// Whether `path` belongs to the dashboard.
pub fn owns(path: &str) -> bool {
    path == "/dashboard"
        || path.starts_with("/dashboard/")
        || path == "/share"
        || path.starts_with("/api/dashboard/")
}

/// Answers a dashboard request.
pub async fn route(state: &AppState, peer: IpAddr, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_string();
    match (path.as_str(), request.method()) {
        ("/dashboard" | "/dashboard/" | "/share", &Method::GET) => {
            page("text/html; charset=utf-8", INDEX_HTML)
        }
        ("/dashboard/app.js", &Method::GET) => page("text/javascript; charset=utf-8", APP_JS),
        ("/dashboard/app.css", &Method::GET) => page("text/css; charset=utf-8", APP_CSS),
        ("/api/dashboard/login", &Method::POST) => login(state, peer, request).await,
        ("/api/dashboard/logout", &Method::POST) => logout(state, request).await,
        ("/api/dashboard/me", &Method::GET) => me(state, request).await,
        ("/api/dashboard/shares", &Method::GET) => list_shares(state, request).await,
        ("/api/dashboard/shares", &Method::POST) => create_share(state, request).await,
        ("/api/dashboard/shares/revoke", &Method::POST) => revoke_share(state, request).await,
        (p, _) if p.starts_with("/api/dashboard/") && !p.contains("..") => json(
            StatusCode::NOT_FOUND,
            json!({"error": "no such dashboard endpoint"}),
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            json!({"error": "not found (or wrong method)"}),
        ),
    }
}

fn page(content_type: &'static str, body: &'static str) -> Response<Body> {
    reply::page(content_type, body.as_bytes())
}

fn json(status: StatusCode, body: Value) -> Response<Body> {
    let mut response = reply::json(status, &body);
    reply::harden(&mut response);
    response
}

fn error(e: QueryError) -> Response<Body> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = %e, "dashboard request failed");
    }
    json(status, json!({"error": e.public_message()}))
}

/// Reads a small JSON body (the dashboard's limit, the shared read
/// timeout), insisting on `Content-Type: application/json` (see the module
/// comment on cross-site requests).
async fn json_body(state: &AppState, request: Request<Incoming>) -> Result<Value, Response<Body>> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"error": "send Content-Type: application/json"}),
        ));
    }
    let (_, bytes) = crate::server::read_body(state, request, body::DASHBOARD)
        .await
        .map_err(|mut response| {
            reply::harden(&mut response);
            response
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        json(
            StatusCode::BAD_REQUEST,
            json!({"error": format!("body: not valid JSON: {e}")}),
        )
    })
}

fn cookie(state: &AppState, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.dashboard.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}",
        sessions::COOKIE
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `POST /api/dashboard/login` `{"user": …, "password": …}`.
async fn login(state: &AppState, peer: IpAddr, request: Request<Incoming>) -> Response<Body> {
    let client_ip = state.client_ip.resolve(peer, request.headers());
    let body = match json_body(state, request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let user = body["user"].as_str().unwrap_or("").trim().to_string();
    let password = body["password"].as_str().unwrap_or("");
    if user.is_empty() || password.is_empty() {
        return json(
            StatusCode::BAD_REQUEST,
            json!({"error": "user and password are required"}),
        );
    }
    let refused = |refusal: login_gate::LoginRefusal| {
        state.metrics.rejected(refusal.reason());
        let mut response = reply::too_many(&refusal.to_string(), refusal.retry_after());
        reply::harden(&mut response);
        response
    };
    if let Err(refusal) = state.dashboard.logins.admit(&user, client_ip) {
        return refused(refusal);
    }
    let slot = match state.dashboard.logins.slot().await {
        Ok(slot) => slot,
        Err(refusal) => return refused(refusal),
    };
    let verified = users::verify(&state.store, &user, password, slot.memory()).await;
    drop(slot);
    match verified {
        Ok(Some(verified)) => {
            let now = state.pipeline.clock.now();
            let lifetime = state.dashboard.session_lifetime;
            let sites = verified.sites;
            match sessions::create(
                &state.store,
                &user,
                verified.version,
                now,
                lifetime,
                state.pipeline.random.as_ref(),
            )
            .await
            {
                Ok(token) => {
                    tracing::info!(user = %user, "dashboard login");
                    let mut response = json(StatusCode::OK, json!({"user": user, "sites": sites}));
                    response.headers_mut().insert(
                        header::SET_COOKIE,
                        cookie(state, &token, lifetime.num_seconds()),
                    );
                    response
                }
                Err(e) => error(e),
            }
        }
        Ok(None) => {
            state.metrics.rejected("login_failed");
            json(
                StatusCode::UNAUTHORIZED,
                json!({"error": "wrong user name or password"}),
            )
        }
        Err(e) => error(e),
    }
}

/// `POST /api/dashboard/logout`: ends the session and clears the cookie.
async fn logout(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let token = access::session_cookie(request.headers());
    if let Err(response) = json_body(state, request).await {
        return response;
    }
    if let Some(token) = token {
        if let Err(e) = sessions::revoke(&state.store, &token, state.pipeline.clock.now()).await {
            return error(e);
        }
    }
    let mut response = json(StatusCode::OK, json!({"logged_out": true}));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(state, "", 0));
    response
}

async fn authorize(
    state: &AppState,
    request: &Request<Incoming>,
) -> Result<access::Access, QueryError> {
    access::authorize(
        &state.store,
        access::credential(request.headers()),
        state.pipeline.clock.now(),
    )
    .await
}

/// `GET /api/dashboard/me`: who is asking and which sites they may see.
async fn me(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    match authorize(state, &request).await {
        Ok(access) if access.kind != AccessKind::ApiKey => json(
            StatusCode::OK,
            json!({
                "mode": if access.kind == AccessKind::ShareLink { "share" } else { "user" },
                "user": access.user,
                "sites": access.sites,
            }),
        ),
        Ok(_) => json(
            StatusCode::FORBIDDEN,
            json!({"error": "API keys are for the stats API; log in to use the dashboard"}),
        ),
        Err(e) => error(e),
    }
}

/// Share-link management is for logged-in users, on their own sites.
async fn user_sites(
    state: &AppState,
    request: &Request<Incoming>,
) -> Result<Vec<String>, QueryError> {
    let access = authorize(state, request).await?;
    if access.kind == AccessKind::Dashboard {
        Ok(access.sites)
    } else {
        Err(QueryError::Forbidden(
            "share links are managed by logged-in users".into(),
        ))
    }
}

/// `GET /api/dashboard/shares`.
async fn list_shares(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let sites = match user_sites(state, &request).await {
        Ok(sites) => sites,
        Err(e) => return error(e),
    };
    match shares::list(&state.store, Some(&sites)).await {
        Ok(links) => json(StatusCode::OK, json!({ "links": links })),
        Err(e) => error(e),
    }
}

/// `POST /api/dashboard/shares` `{"site": …, "label": …}`.
async fn create_share(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let sites = match user_sites(state, &request).await {
        Ok(sites) => sites,
        Err(e) => return error(e),
    };
    let body = match json_body(state, request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let site = crate::config::normalise_site(body["site"].as_str().unwrap_or(""));
    if !sites.contains(&site) {
        return error(QueryError::Forbidden(format!(
            "this credential has no access to site {site:?}"
        )));
    }
    let label = body["label"].as_str().unwrap_or("");
    match shares::create(
        &state.store,
        &site,
        label,
        state.pipeline.clock.now(),
        state.pipeline.random.as_ref(),
    )
    .await
    {
        Ok(link) => json(
            StatusCode::CREATED,
            json!({"id": link.id, "site": link.site, "path": format!("/share#{}", link.token)}),
        ),
        Err(e) => error(e),
    }
}

/// `POST /api/dashboard/shares/revoke` `{"id": …}`.
async fn revoke_share(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let sites = match user_sites(state, &request).await {
        Ok(sites) => sites,
        Err(e) => return error(e),
    };
    let body = match json_body(state, request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let id = body["id"].as_str().unwrap_or("");
    match shares::revoke(&state.store, id, Some(&sites), state.pipeline.clock.now()).await {
        Ok(true) => json(StatusCode::OK, json!({"revoked": id})),
        Ok(false) => json(
            StatusCode::NOT_FOUND,
            json!({"error": "no such active share link on your sites"}),
        ),
        Err(e) => error(e),
    }
}
