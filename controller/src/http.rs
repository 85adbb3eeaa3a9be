//! The HTTP API on `--listen-addr` (:8080) and the metrics endpoint on `--listen-metrics-addr`
//! (:8081), SPEC §8.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /healthz` | 200 `ok\n`, from process start |
//! | `GET /readyz` | 200 once keys are loaded and caches synced, 503 before |
//! | `GET /v1/cert.pem` | the newest certificate (`application/x-pem-file`); 500 without keys |
//! | `POST /v1/verify` | one SealedSecret: 200 if it unseals, 409 if not, 400 if unreadable |
//! | `POST /v1/rotate` | the SealedSecret resealed with the newest key (compact JSON), 409 if not decryptable |
//! | `GET /metrics` | Prometheus, on the metrics router |
//!
//! `/v1/verify` and `/v1/rotate` are rate limited (GCRA, `--rate-limit` per second with
//! `--rate-limit-burst` extra) per path and client (`X-Forwarded-For`, else the peer address);
//! over the limit: 429. Request bodies over [`MAX_BODY_BYTES`] get 413. RSA work runs on the
//! blocking pool. Every request is counted in `http_requests_total` and
//! `http_request_duration_seconds`.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderValue, StatusCode, header};
use seal_api::crypto::Error as CryptoError;
use seal_api::{
    ANNOTATION_KEY_ID, Keyring, NO_KEY_COULD_DECRYPT, Scope, SealedSecret, UnsealFailure,
    UnsealOptions,
};
use serde_json::Value;
use tower_http::timeout::TimeoutLayer;

use crate::Readiness;
use crate::config::{Config, listen_socket_addr};
use crate::keys::KeyStore;
use crate::metrics::{self, Metrics};

/// Largest request body accepted by `/v1/verify` and `/v1/rotate`; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The certificate's content type.
pub const PEM_CONTENT_TYPE: &str = "application/x-pem-file";
/// Rate-limiter entries kept before stale ones are swept.
const MAX_LIMITER_KEYS: usize = 65_536;

/// The paths that get their own `path` label; anything else counts as `other`.
const KNOWN_PATHS: [&str; 6] = [
    "/healthz",
    "/readyz",
    "/v1/cert.pem",
    "/v1/verify",
    "/v1/rotate",
    "/metrics",
];

/// What the API handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// The sealing keys.
    pub keys: KeyStore,
    /// Where requests are counted.
    pub metrics: Arc<Metrics>,
    /// What `/readyz` reports.
    pub ready: Arc<Readiness>,
    /// Flags: rate limit, timeouts, `--accept-deprecated-v1-data`.
    pub cfg: Arc<Config>,
}

#[derive(Clone)]
struct AppState {
    http: HttpState,
    limiter: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

/// The API router (`/healthz`, `/readyz`, `/v1/cert.pem`, `/v1/verify`, `/v1/rotate`).
pub fn router(state: HttpState) -> Router {
    // Upstream's GCRA (throttled) lets `burst` requests exceed the rate: `burst + 1` at once.
    let limiter = NonZeroU32::new(state.cfg.rate_limit).map(|rate| {
        let burst = NonZeroU32::new(state.cfg.rate_limit_burst.saturating_add(1))
            .unwrap_or(NonZeroU32::MIN);
        Arc::new(RateLimiter::keyed(
            Quota::per_second(rate).allow_burst(burst),
        ))
    });
    let write_timeout = state.cfg.write_timeout;
    let metrics = Arc::clone(&state.metrics);
    let app = AppState {
        http: state,
        limiter,
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/cert.pem", get(cert_pem))
        .route("/v1/verify", post(verify))
        .route("/v1/rotate", post(rotate))
        .with_state(app)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            nonzero(write_timeout),
        ))
        .layer(middleware::from_fn_with_state(metrics, count_requests))
}

/// The metrics router: `GET /metrics`.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(metrics)
}

/// Serves `router` on a Go-style address (`:8080`) until `shutdown` completes, with the peer
/// address available to the rate limiter.
///
/// # Errors
///
/// A bad address, a port that cannot be bound, or a server failure.
pub async fn serve(
    addr: &str,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sock = listen_socket_addr(addr).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(sock)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(addr = %sock, "HTTP server listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .with_context(|| format!("HTTP server on {addr} failed"))
}

/// A timeout of zero means none, as in Go's `http.Server`; an hour stands in for "none".
fn nonzero(d: Duration) -> Duration {
    if d.is_zero() {
        Duration::from_secs(3600)
    } else {
        d
    }
}

async fn count_requests(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path();
    let path = KNOWN_PATHS
        .iter()
        .find(|p| **p == path)
        .copied()
        .unwrap_or("other");
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    metrics.http_request(path, &method, response.status().as_u16(), started.elapsed());
    response
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n")
}

async fn readyz(State(app): State<AppState>) -> Response {
    if app.http.ready.is_ready() {
        text(StatusCode::OK, "ok\n")
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn cert_pem(State(app): State<AppState>) -> Response {
    match app.http.keys.newest_cert_pem() {
        Some(pem) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(PEM_CONTENT_TYPE),
            )],
            pem,
        )
            .into_response(),
        None => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot get certificate\n",
        ),
    }
}

async fn render_metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics.render(),
    )
        .into_response()
}

/// The rate-limit key: path and `X-Forwarded-For`, else the peer address.
fn client_key(req: &Request) -> String {
    let path = req.uri().path();
    let client = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    if !client.is_empty() {
        return format!("{path}|{client}");
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_default();
    format!("{path}|{peer}")
}

/// Checks the rate limit, then reads the body within `--read-timeout` and [`MAX_BODY_BYTES`].
async fn limited_body(app: &AppState, req: Request) -> Result<Bytes, Response> {
    if let Some(limiter) = &app.limiter {
        let key = client_key(&req);
        if limiter.len() > MAX_LIMITER_KEYS {
            limiter.retain_recent();
        }
        if limiter.check_key(&key).is_err() {
            let mut resp = text(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded\n");
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Err(resp);
        }
    }
    let too_large = || {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {MAX_BODY_BYTES} bytes\n"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let read = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES);
    match tokio::time::timeout(nonzero(app.http.cfg.read_timeout), read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            if error_chain_mentions(&e, "length limit") {
                Err(too_large())
            } else {
                Err(text(
                    StatusCode::BAD_REQUEST,
                    "cannot read the request body\n",
                ))
            }
        }
        Err(_) => Err(text(
            StatusCode::REQUEST_TIMEOUT,
            "timed out reading the request body\n",
        )),
    }
}

fn error_chain_mentions(err: &(dyn std::error::Error + 'static), needle: &str) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.to_string().contains(needle) {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Reads one SealedSecret from a JSON or YAML body.
fn parse_sealed_secret(body: &[u8]) -> Result<SealedSecret, String> {
    let mut docs = seal_api::read_documents(body).map_err(|e| e.to_string())?;
    if docs.len() > 1 {
        return Err(format!(
            "expected one SealedSecret, got {} documents",
            docs.len()
        ));
    }
    let doc = docs.pop().ok_or("no SealedSecret in the request body")?;
    match doc.get("kind").and_then(Value::as_str) {
        None | Some("SealedSecret") => {}
        Some(other) => return Err(format!("expected a SealedSecret, got a {other}")),
    }
    serde_json::from_value(doc).map_err(|e| format!("not a SealedSecret: {e}"))
}

async fn verify(State(app): State<AppState>, req: Request) -> Response {
    let body = match limited_body(&app, req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let ss = match parse_sealed_secret(&body) {
        Ok(ss) => ss,
        Err(msg) => return text(StatusCode::BAD_REQUEST, format!("{msg}\n")),
    };
    let ring = app.http.keys.keyring();
    let opts = UnsealOptions {
        accept_deprecated_v1_data: app.http.cfg.accept_deprecated_v1_data,
        preferred_keys: Vec::new(),
        diagnose_scope: false,
        max_rsa_attempts: None,
    };
    let outcome =
        tokio::task::spawn_blocking(move || seal_api::unseal(&ss, &ring, &opts).map(|_| ())).await;
    match outcome {
        Ok(Ok(())) => text(StatusCode::OK, ""),
        // Only the item names and upstream's fixed messages: never template output, nor a
        // parser's quote of a v1 blob (any item's ciphertext can be posted as one).
        Ok(Err(seal_api::Error::Unseal(failure))) => text(
            StatusCode::CONFLICT,
            format!("{}\n", crate::decide::redacted_failure(&failure).message()),
        ),
        Ok(Err(_)) => text(StatusCode::CONFLICT, "unable to decrypt sealed secret\n"),
        Err(e) => {
            tracing::error!(error = %e, "verify task failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

async fn rotate(State(app): State<AppState>, req: Request) -> Response {
    let body = match limited_body(&app, req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let ss = match parse_sealed_secret(&body) {
        Ok(ss) => ss,
        Err(msg) => return text(StatusCode::BAD_REQUEST, format!("{msg}\n")),
    };
    let ring = app.http.keys.keyring();
    match tokio::task::spawn_blocking(move || reseal(ss, &ring)).await {
        Ok(Ok(ss)) => match serde_json::to_string(&ss) {
            Ok(json) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                json,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a SealedSecret");
                text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
            }
        },
        Ok(Err(msg)) => text(StatusCode::CONFLICT, format!("{msg}\n")),
        Err(e) => {
            tracing::error!(error = %e, "rotate task failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

/// What happened to one sealed value.
enum Resealed {
    /// Already under the newest key: returned unchanged.
    Unchanged,
    /// Opened with an older key and sealed again with the newest.
    New(String),
}

/// Reseals every value of `ss` with the newest key of `ring` under the same label, keeping the
/// template and everything else as it is (SPEC §8 FIX). Values already opened by the newest key
/// stay unchanged (BEYOND). Sets the key-hint annotation to the newest key.
///
/// # Errors
///
/// The merged per-item message when any value does not open, or when there is no key.
pub fn reseal(mut ss: SealedSecret, ring: &Keyring) -> Result<SealedSecret, String> {
    let Some(newest) = ring.newest() else {
        return Err("no sealing key is loaded".to_owned());
    };
    let namespace = ss.metadata.namespace.clone().unwrap_or_default();
    let name = ss.metadata.name.clone().unwrap_or_default();
    let label = Scope::from_annotations(ss.metadata.annotations.as_ref()).label(&namespace, &name);
    let hint = ss
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_KEY_ID))
        .cloned();
    let hints: Vec<&str> = hint.as_deref().into_iter().collect();
    let order = ring.ordered(&hints);
    let keys: Vec<&seal_api::crypto::PrivateKey> = order.iter().map(|e| e.key()).collect();
    let newest_public = newest.key().public_key();

    let reseal_one = |text: &str| -> Result<Resealed, String> {
        let ciphertext = seal_api::decode_base64(text).map_err(|e| e.to_string())?;
        let opened = match seal_api::crypto::open(&keys, &label, &ciphertext) {
            Ok(o) => o,
            Err(CryptoError::TooShort) => return Err(CryptoError::TooShort.to_string()),
            Err(_) => return Err(NO_KEY_COULD_DECRYPT.to_owned()),
        };
        let opened_by = order.get(opened.key_index).map(|e| e.id());
        if opened_by == Some(newest.id()) {
            return Ok(Resealed::Unchanged);
        }
        let sealed = seal_api::crypto::seal(&newest_public, &label, &opened.plaintext)
            .map_err(|e| format!("cannot seal with the newest key: {e}"))?;
        Ok(Resealed::New(seal_api::encode_base64(&sealed)))
    };

    let mut failures = std::collections::BTreeMap::new();
    let mut sealed_any = false;
    for (item, value) in ss.spec.encrypted_data.iter_mut() {
        let Some(text) = value.as_str() else {
            failures.insert(
                item.clone(),
                "encryptedData value is not a string".to_owned(),
            );
            continue;
        };
        match reseal_one(text) {
            Ok(Resealed::Unchanged) => sealed_any = true,
            Ok(Resealed::New(s)) => {
                sealed_any = true;
                *value = Value::String(s);
            }
            Err(msg) => {
                failures.insert(item.clone(), msg);
            }
        }
    }
    if let Some(blob) = ss.spec.data.as_mut() {
        match reseal_one(blob) {
            Ok(Resealed::Unchanged) => sealed_any = true,
            Ok(Resealed::New(s)) => {
                sealed_any = true;
                *blob = s;
            }
            Err(msg) => {
                failures.insert("data".to_owned(), msg);
            }
        }
    }
    if !failures.is_empty() {
        return Err(UnsealFailure {
            items: failures,
            likely_scope: None,
        }
        .message());
    }
    if sealed_any {
        ss.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION_KEY_ID.to_owned(), newest.id().to_owned());
    }
    Ok(ss)
}
