//! The dashboard's endpoints: its embedded page (`/dashboard`, `/share`),
//! login and logout (`/api/dashboard/login`, `/logout`), who is asking
//! (`/api/dashboard/me`) and share links (`/api/dashboard/shares`).
//!
//! Cross-site requests: the cookie is `SameSite=Strict`, and every state
//! changing endpoint requires `Content-Type: application/json`, which a
//! cross-site form cannot send without a CORS preflight we never grant.
//! Every answer carries the page hardening headers.

use std::net::IpAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use super::body;
use super::reply::{self, refused, Body, Refusal};
use crate::app::{HttpState, LoginState};
use crate::auth::access::{self, AccessKind};
use crate::auth::login_gate::LoginRefusal;
use crate::auth::{sessions, shares, users, AuthError};

impl Refusal for LoginRefusal {
    fn status(&self) -> StatusCode {
        StatusCode::TOO_MANY_REQUESTS
    }

    fn reason(&self) -> Option<&'static str> {
        Some(LoginRefusal::reason(self))
    }

    fn public_message(&self) -> String {
        self.to_string()
    }

    fn retry_after(&self) -> Option<Duration> {
        Some(LoginRefusal::retry_after(self))
    }
}

/// Whether `path` belongs to the dashboard.
pub(super) fn owns(path: &str) -> bool {
    path == "/dashboard"
        || path.starts_with("/dashboard/")
        || path == "/share"
        || path.starts_with("/api/dashboard/")
}

/// Answers a dashboard request.
pub(super) async fn route(
    state: &LoginState,
    http: &HttpState,
    peer: IpAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let path = request.uri().path().to_string();
    match (path.as_str(), request.method()) {
        (page, &Method::GET) if crate::dashboard::asset(page).is_some() => {
            let (content_type, body) = crate::dashboard::asset(page).expect("checked");
            reply::page(content_type, body.as_bytes())
        }
        ("/api/dashboard/login", &Method::POST) => login(state, http, peer, request).await,
        ("/api/dashboard/logout", &Method::POST) => logout(state, http, request).await,
        ("/api/dashboard/me", &Method::GET) => me(state, http, request).await,
        ("/api/dashboard/shares", &Method::GET) => list_shares(state, http, request).await,
        ("/api/dashboard/shares", &Method::POST) => create_share(state, http, request)
            .await
            .unwrap_or_else(|refused| refused),
        ("/api/dashboard/shares/revoke", &Method::POST) => revoke_share(state, http, request)
            .await
            .unwrap_or_else(|refused| refused),
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

fn json(status: StatusCode, body: Value) -> Response<Body> {
    let mut response = reply::json(status, &body);
    reply::harden(&mut response);
    response
}

/// A refusal, hardened like every dashboard answer.
fn error(http: &HttpState, refusal: &dyn Refusal) -> Response<Body> {
    let mut response = refused(&http.metrics, refusal);
    reply::harden(&mut response);
    response
}

/// Reads a small JSON body (the dashboard's limit, the shared read
/// timeout), insisting on `Content-Type: application/json` (see the module
/// comment on cross-site requests).
async fn json_body(http: &HttpState, request: Request<Incoming>) -> Result<Value, Response<Body>> {
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
    let (_, bytes) = body::read_or_refuse(http, request, body::DASHBOARD)
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

fn cookie(state: &LoginState, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.secure_cookie { "; Secure" } else { "" };
    let text = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}",
        sessions::COOKIE
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `POST /api/dashboard/login` `{"user": …, "password": …}`.
async fn login(
    state: &LoginState,
    http: &HttpState,
    peer: IpAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let client_ip = http.client_ip.resolve(peer, request.headers());
    let body = match json_body(http, request).await {
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
    if let Err(refusal) = state.gate.admit(&user, client_ip) {
        return error(http, &refusal);
    }
    let slot = match state.gate.slot().await {
        Ok(slot) => slot,
        Err(refusal) => return error(http, &refusal),
    };
    let verified = users::verify(&state.store, &user, password, slot.memory()).await;
    drop(slot);
    match verified {
        Ok(Some(verified)) => {
            let now = state.clock.now();
            let lifetime = state.session_lifetime;
            let sites = verified.sites;
            match sessions::create(
                &state.store,
                &user,
                verified.version,
                now,
                lifetime,
                state.random.as_ref(),
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
                Err(e) => error(http, &e),
            }
        }
        Ok(None) => {
            http.metrics.rejected("login_failed");
            json(
                StatusCode::UNAUTHORIZED,
                json!({"error": "wrong user name or password"}),
            )
        }
        Err(e) => error(http, &e),
    }
}

/// `POST /api/dashboard/logout`: ends the session and clears the cookie.
async fn logout(
    state: &LoginState,
    http: &HttpState,
    request: Request<Incoming>,
) -> Response<Body> {
    let token = access::session_cookie(request.headers());
    if let Err(response) = json_body(http, request).await {
        return response;
    }
    if let Some(token) = token {
        if let Err(e) = sessions::revoke(&state.store, &token, state.clock.now()).await {
            return error(http, &e);
        }
    }
    let mut response = json(StatusCode::OK, json!({"logged_out": true}));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(state, "", 0));
    response
}

async fn authorize(
    state: &LoginState,
    request: &Request<Incoming>,
) -> Result<access::Access, AuthError> {
    access::of_request(&state.store, request.headers(), state.clock.now()).await
}

/// `GET /api/dashboard/me`: who is asking and which sites they may see.
async fn me(state: &LoginState, http: &HttpState, request: Request<Incoming>) -> Response<Body> {
    match authorize(state, &request).await {
        Ok(access) if access.kind != AccessKind::ApiKey => json(
            StatusCode::OK,
            json!({
                "mode": if access.kind == AccessKind::ShareLink { "share" } else { "user" },
                "user": access.user,
                "sites": access.sites,
                // Shown under the locations (DB-IP's licence asks for it).
                "geo_attribution": state.geo.attribution(),
            }),
        ),
        Ok(_) => json(
            StatusCode::FORBIDDEN,
            json!({"error": "API keys are for the stats API; log in to use the dashboard"}),
        ),
        Err(e) => error(http, &e),
    }
}

/// Share-link management is for logged-in users, on their own sites.
async fn user_sites(
    state: &LoginState,
    request: &Request<Incoming>,
) -> Result<Vec<String>, AuthError> {
    let access = authorize(state, request).await?;
    if access.kind == AccessKind::Dashboard {
        Ok(access.sites)
    } else {
        Err(AuthError::Forbidden(
            "share links are managed by logged-in users".into(),
        ))
    }
}

/// A logged-in user's change to their share links: their sites and the
/// request's JSON body (credential first, then the body).
async fn user_change(
    state: &LoginState,
    http: &HttpState,
    request: Request<Incoming>,
) -> Result<(Vec<String>, Value), Response<Body>> {
    let sites = user_sites(state, &request)
        .await
        .map_err(|e| error(http, &e))?;
    let body = json_body(http, request).await?;
    Ok((sites, body))
}

/// `GET /api/dashboard/shares`.
async fn list_shares(
    state: &LoginState,
    http: &HttpState,
    request: Request<Incoming>,
) -> Response<Body> {
    let sites = match user_sites(state, &request).await {
        Ok(sites) => sites,
        Err(e) => return error(http, &e),
    };
    match shares::list(&state.store, Some(&sites)).await {
        Ok(links) => json(StatusCode::OK, json!({ "links": links })),
        Err(e) => error(http, &e),
    }
}

/// `POST /api/dashboard/shares` `{"site": …, "label": …}`.
async fn create_share(
    state: &LoginState,
    http: &HttpState,
    request: Request<Incoming>,
) -> Result<Response<Body>, Response<Body>> {
    let (sites, body) = user_change(state, http, request).await?;
    let site = crate::config::normalise_site(body["site"].as_str().unwrap_or(""));
    if !sites.contains(&site) {
        return Err(error(
            http,
            &AuthError::Forbidden(format!("this credential has no access to site {site:?}")),
        ));
    }
    let label = body["label"].as_str().unwrap_or("");
    let link = shares::create(
        &state.store,
        &site,
        label,
        state.clock.now(),
        state.random.as_ref(),
    )
    .await
    .map_err(|e| error(http, &e))?;
    Ok(json(
        StatusCode::CREATED,
        json!({"id": link.id, "site": link.site, "path": format!("/share#{}", link.token)}),
    ))
}

/// `POST /api/dashboard/shares/revoke` `{"id": …}`.
async fn revoke_share(
    state: &LoginState,
    http: &HttpState,
    request: Request<Incoming>,
) -> Result<Response<Body>, Response<Body>> {
    let (sites, body) = user_change(state, http, request).await?;
    let id = body["id"].as_str().unwrap_or("");
    let revoked = shares::revoke(&state.store, id, Some(&sites), state.clock.now())
        .await
        .map_err(|e| error(http, &e))?;
    Ok(if revoked {
        json(StatusCode::OK, json!({"revoked": id}))
    } else {
        json(
            StatusCode::NOT_FOUND,
            json!({"error": "no such active share link on your sites"}),
        )
    })
}
