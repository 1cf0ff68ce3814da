//! The auth service of one device: `GET /`, `POST /login`, `GET /status`,
//! `POST /logout`. The caller is the peer its connection's source address
//! belongs to; anything else is refused with 403.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Value};
use wgrs_gate_netlink::{Key, PeerState};
use wgrs_gate_state::LoginOutcome;

use crate::agent::{Agent, DeviceCtx};
use crate::html;
use crate::keys::to_base64;

/// The connection a request came on (set by the server loop).
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    pub local: SocketAddr,
}

#[derive(Clone)]
struct AppState {
    agent: Arc<Agent>,
    dev: usize,
}

impl AppState {
    fn dev(&self) -> &DeviceCtx {
        &self.agent.devices[self.dev]
    }
}

/// The router of device number `dev` of `agent`.
pub fn router(agent: Arc<Agent>, dev: usize) -> Router {
    let limit = agent.http.max_body_bytes;
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/status", get(status))
        .route("/logout", post(logout))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            announced_too_big,
        ))
        .with_state(AppState { agent, dev })
}

enum Reply {
    Html(StatusCode, String),
    Json(StatusCode, Value),
    /// A reply with a `Retry-After` header.
    RetryAfter(u64, Box<Reply>),
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut r = match self {
            Reply::Html(s, body) => (
                s,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response(),
            Reply::Json(s, v) => (
                s,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{v}\n"),
            )
                .into_response(),
            Reply::RetryAfter(secs, inner) => {
                let mut r = inner.into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
        };
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        r
    }
}

fn reply(json: bool, status: StatusCode, message: &str, extra: Value, again: bool) -> Reply {
    if json {
        let mut v = json!({ "ok": status.is_success(), "message": message });
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        Reply::Json(status, v)
    } else {
        Reply::Html(status, html::result(status.is_success(), message, again))
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    let has = |h: header::HeaderName, what: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains(what))
    };
    has(header::CONTENT_TYPE, "application/json")
        || (has(header::ACCEPT, "application/json") && !has(header::ACCEPT, "text/html"))
}

fn source(conn: &ConnInfo) -> IpAddr {
    conn.remote.ip().to_canonical()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow::anyhow!("worker: {e}"))?
}

fn internal(st: &AppState, json: bool, e: &anyhow::Error) -> Reply {
    st.agent.audit.log(
        "error",
        &[
            ("device", json!(st.dev().cfg.name)),
            ("error", json!(format!("{e:#}"))),
        ],
    );
    reply(
        json,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; the administrator can find it in the agent's log",
        json!({}),
        false,
    )
}

/// The caller's peer, or the reply refusing the request.
async fn identify(st: &AppState, conn: &ConnInfo, json: bool, what: &str) -> Result<Key, Reply> {
    let src = source(conn);
    let agent = Arc::clone(&st.agent);
    let dev = st.dev;
    let found = blocking(move || agent.peer_of(&agent.devices[dev], src)).await;
    match found {
        Ok(Some(k)) => Ok(k),
        Ok(None) => {
            st.agent.unknown_source(st.dev(), src, what);
            Err(reply(
                json,
                StatusCode::FORBIDDEN,
                "this address belongs to no peer of this WireGuard device",
                json!({}),
                false,
            ))
        }
        Err(e) => Err(internal(st, json, &e)),
    }
}

fn decode_component(s: &str) -> Result<String, ()> {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ())
}

/// The `code` field of an `application/x-www-form-urlencoded` body.
/// Invalid UTF-8, raw or percent-encoded, is an error (not replaced).
pub fn form_code(body: &[u8]) -> Result<Option<String>, &'static str> {
    const BAD: &str = "the form is not valid UTF-8";
    let s = std::str::from_utf8(body).map_err(|_| BAD)?;
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode_component(k).map_err(|()| BAD)? == "code" {
            return Ok(Some(decode_component(v).map_err(|()| BAD)?));
        }
    }
    Ok(None)
}

#[derive(serde::Deserialize)]
struct LoginJson {
    code: String,
}

/// Spaces and dashes people type inside codes are dropped.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

async fn index(State(st): State<AppState>, Extension(conn): Extension<ConnInfo>) -> Reply {
    let key = match identify(&st, &conn, false, "page").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let agent = Arc::clone(&st.agent);
    let dev = st.dev;
    let res = blocking(move || agent.status(&agent.devices[dev], &key)).await;
    match res {
        Ok((peer, enrolled)) => {
            let (state, detail, authorized) = match peer {
                Some(p) if p.state == PeerState::Authorized => (
                    "unlocked",
                    p.session_remaining_ms
                        .map(|ms| format!("Session ends in {} minutes.", ms.div_ceil(60_000)))
                        .unwrap_or_default(),
                    true,
                ),
                Some(p) => (
                    "locked",
                    p.lock_reason
                        .map(|r| format!("Reason: {}.", r.as_str()))
                        .unwrap_or_default(),
                    false,
                ),
                None => ("unknown to the gate", String::new(), false),
            };
            Reply::Html(
                StatusCode::OK,
                html::index(&st.dev().cfg.name, state, &detail, authorized, enrolled),
            )
        }
        Err(e) => internal(&st, false, &e),
    }
}

async fn login(
    State(st): State<AppState>,
    Extension(conn): Extension<ConnInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let json = wants_json(&headers);
    let is_json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    let code = if is_json_body {
        match serde_json::from_slice::<LoginJson>(&body) {
            Ok(j) => j.code,
            Err(_) => {
                return reply(
                    json,
                    StatusCode::BAD_REQUEST,
                    "expected a JSON object {\"code\": \"123456\"}",
                    json!({}),
                    false,
                )
            }
        }
    } else {
        match form_code(&body) {
            Ok(Some(c)) => c,
            Ok(None) => {
                return reply(
                    json,
                    StatusCode::BAD_REQUEST,
                    "no code in the form",
                    json!({}),
                    true,
                )
            }
            Err(m) => return reply(json, StatusCode::BAD_REQUEST, m, json!({}), true),
        }
    };
    let key = match identify(&st, &conn, json, "login").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    // Anything longer than a code is still an attempt (and charged), but
    // only its first characters are looked at.
    let code: String = normalize(&code).chars().take(16).collect();
    let src = source(&conn);
    let agent = Arc::clone(&st.agent);
    let dev = st.dev;
    let out = blocking(move || agent.login(&agent.devices[dev], &key, &code, src)).await;
    let peer = json!({ "peer": to_base64(&key) });
    match out {
        Ok(LoginOutcome::Authorized { .. }) => reply(
            json,
            StatusCode::OK,
            "Unlocked. You can close this page.",
            json!({ "peer": to_base64(&key), "state": "authorized" }),
            false,
        ),
        Ok(LoginOutcome::KernelRefused { reason, .. }) => reply(
            json,
            StatusCode::BAD_GATEWAY,
            &format!(
                "The code was right, but the kernel refused to unlock this peer ({reason}). \
                 The code is used up; wait for the next one, or ask your administrator."
            ),
            peer,
            true,
        ),
        Ok(LoginOutcome::WrongCode) => {
            reply(json, StatusCode::UNAUTHORIZED, "Wrong code.", peer, true)
        }
        Ok(LoginOutcome::Replay) => reply(
            json,
            StatusCode::UNAUTHORIZED,
            "That code was already used. Wait for the next one.",
            peer,
            true,
        ),
        Ok(LoginOutcome::RateLimited { retry_after }) => Reply::RetryAfter(
            retry_after,
            Box::new(reply(
                json,
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too many attempts. Try again in {retry_after} seconds."),
                json!({ "peer": to_base64(&key), "retry_after": retry_after }),
                false,
            )),
        ),
        Ok(LoginOutcome::NotEnrolled) => reply(
            json,
            StatusCode::FORBIDDEN,
            "No authenticator is enrolled (and confirmed) for this peer: ask your administrator.",
            peer,
            false,
        ),
        Err(e) => internal(&st, json, &e),
    }
}

async fn status(State(st): State<AppState>, Extension(conn): Extension<ConnInfo>) -> Reply {
    let key = match identify(&st, &conn, true, "status").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let agent = Arc::clone(&st.agent);
    let dev = st.dev;
    match blocking(move || agent.status(&agent.devices[dev], &key)).await {
        Ok((peer, enrolled)) => Reply::Json(
            StatusCode::OK,
            json!({
                "device": st.dev().cfg.name,
                "peer": to_base64(&key),
                "enrolled": enrolled,
                "state": peer.as_ref().map(|p| p.state.as_str()),
                "lock_reason": peer.as_ref().and_then(|p| p.lock_reason.map(|r| r.as_str())),
                "exempt": peer.as_ref().map(|p| p.exempt),
                "idle_ms": peer.as_ref().and_then(|p| p.idle_ms),
                "session_remaining_ms": peer.as_ref().and_then(|p| p.session_remaining_ms),
            }),
        ),
        Err(e) => internal(&st, true, &e),
    }
}

async fn logout(
    State(st): State<AppState>,
    Extension(conn): Extension<ConnInfo>,
    headers: HeaderMap,
) -> Reply {
    let json = wants_json(&headers);
    let key = match identify(&st, &conn, json, "logout").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let src = source(&conn);
    let agent = Arc::clone(&st.agent);
    let dev = st.dev;
    match blocking(move || agent.logout(&agent.devices[dev], &key, src)).await {
        Ok(()) => reply(
            json,
            StatusCode::OK,
            "Locked. Enter a code to unlock again.",
            json!({ "peer": to_base64(&key), "state": "locked" }),
            true,
        ),
        Err(e) => internal(&st, json, &e),
    }
}

/// A body announced (`Content-Length`) larger than the limit is refused
/// at once, before anything waits for it; bodies that turn out larger than
/// announced, or chunked ones, are cut by the body limit (also 413).
async fn announced_too_big(
    State(limit): State<usize>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        let mut r = reply(
            wants_json(req.headers()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
            json!({}),
            false,
        )
        .into_response();
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    next.run(req).await
}

async fn not_found() -> Reply {
    Reply::Html(
        StatusCode::NOT_FOUND,
        html::page(
            "Not found",
            "<p>Not found. <a href=\"/\">Start here</a>.</p>",
        ),
    )
}
