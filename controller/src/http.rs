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
//! | `GET /ui/…` | the sealing page ([`seal_ui`]); `/` and `/ui` redirect to `ui/`; off with `--disable-ui` |
//!
//! `/v1/verify` and `/v1/rotate` are rate limited (GCRA, `--rate-limit` per second with
//! `--rate-limit-burst` extra) per path and client (`X-Forwarded-For`, else the peer address,
//! kept as a SHA-256 digest; at most [`MAX_LIMITER_CLIENTS`] clients are tracked); over the
//! limit: 429. Request bodies over [`MAX_BODY_BYTES`] get 413. RSA work runs on the blocking
//! pool, for at most [`rsa_workers`] requests at a time, and stops after [`MAX_RSA_ATTEMPTS`]
//! decryptions per request (422 when that leaves the answer open). A client has a bounded time
//! to send each request's headers (`--read-timeout`, [`serve`]). Every request is counted in `http_requests_total` and
//! `http_request_duration_seconds`.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
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
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use seal_api::crypto::Error as CryptoError;
use seal_api::{
    ANNOTATION_KEY_ID, KeyEntry, Keyring, NO_KEY_COULD_DECRYPT, RSA_LIMIT_REACHED, Scope,
    SealedSecret, UnsealFailure, UnsealOptions,
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutLayer;

use crate::Readiness;
use crate::config::{Config, listen_socket_addr};
use crate::keys::KeyStore;
use crate::metrics::{self, Metrics};

/// Largest request body accepted by `/v1/verify` and `/v1/rotate`; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The certificate's content type.
pub const PEM_CONTENT_TYPE: &str = "application/x-pem-file";
/// Clients the rate limiter tracks at most (one entry each, keyed by a 32-byte digest). When
/// that many are tracked, entries that no longer limit anyone are dropped; if more than half
/// still do (more clients within one rate period than the limiter holds), all are forgotten
/// rather than the map growing.
pub const MAX_LIMITER_CLIENTS: usize = 65_536;
/// RSA decryptions one `/v1/verify` or `/v1/rotate` request may spend, counted as keys tried
/// over all sealed values. A value that opens with the hinted (`seal.dev/key-id`) or the
/// previous value's key costs one; a value no key opens costs one per key. So any SealedSecret
/// whose values open with one key verifies with up to 4,096 values less the number of keys, more
/// than the largest object etcd stores holds (about 4,000 values of RSA-2048 size, 2,000 of
/// RSA-4096 size). A request that runs out gets 409 if a value already failed (it cannot
/// unseal), else 422.
pub const MAX_RSA_ATTEMPTS: usize = 4096;

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
    limiter: Option<Arc<ClientLimiter>>,
    /// Permits for RSA work on the blocking pool ([`rsa_workers`]).
    rsa: Arc<Semaphore>,
}

/// How many `/v1/verify` and `/v1/rotate` requests of one router do RSA work at a time: half
/// the CPUs, at least one, so requests can never take every core from the reconcile loop's
/// unseals. Others wait their turn (within `--write-timeout`).
pub fn rsa_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// The API router (`/healthz`, `/readyz`, `/v1/cert.pem`, `/v1/verify`, `/v1/rotate`).
pub fn router(state: HttpState) -> Router {
    // Upstream's GCRA (throttled) lets `burst` requests exceed the rate: `burst + 1` at once.
    let limiter = NonZeroU32::new(state.cfg.rate_limit).map(|rate| {
        let burst = NonZeroU32::new(state.cfg.rate_limit_burst.saturating_add(1))
            .unwrap_or(NonZeroU32::MIN);
        Arc::new(ClientLimiter::new(
            Quota::per_second(rate).allow_burst(burst),
            MAX_LIMITER_CLIENTS,
        ))
    });
    let write_timeout = state.cfg.write_timeout;
    let metrics = Arc::clone(&state.metrics);
    let app = AppState {
        http: state,
        limiter,
        rsa: Arc::new(Semaphore::new(rsa_workers())),
    };
    let ui = if app.http.cfg.disable_ui {
        Router::new()
    } else {
        ui_router()
    };
    Router::new()
        .merge(ui)
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

/// Serves `router` over HTTP/1.1 on a Go-style address (`:8080`) until `shutdown` completes,
/// with the peer address available to the rate limiter; then lets requests in flight finish.
///
/// A client has `read_timeout` (`--read-timeout`; zero means an hour) to send each request's
/// headers, counted from the connection's start or the previous response, so a client that
/// stalls inside its headers, or idles between requests, is disconnected: as Go's
/// `ReadTimeout`, which covers the headers too. The body has its own `--read-timeout` (408).
///
/// # Errors
///
/// A bad address or a port that cannot be bound.
pub async fn serve(
    addr: &str,
    router: Router,
    read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sock = listen_socket_addr(addr).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(sock)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(addr = %sock, "HTTP server listening");

    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(nonzero(read_timeout));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
        };
        // Nagle plus delayed ACKs would add 40 ms to small responses.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Hang-ups and timed-out headers end the connection, not the server.
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Per-connection accept errors are the client's; others (out of file descriptors) get a
/// pause so the loop does not spin.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept an HTTP connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
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

/// The sealing page: `/ui/` and its files, with `/` and `/ui` redirecting to `ui/`.
fn ui_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(ui))
        .route("/ui", get(ui))
        .route("/ui/", get(ui))
        .route("/ui/{*file}", get(ui))
}

async fn ui(uri: http::Uri) -> Response {
    match seal_ui::route(uri.path()) {
        seal_ui::Route::Asset(asset) => {
            let mut response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, asset.content_type)],
                asset.body,
            )
                .into_response();
            for (name, value) in seal_ui::SECURITY_HEADERS {
                response
                    .headers_mut()
                    .insert(name, HeaderValue::from_static(value));
            }
            response
        }
        seal_ui::Route::Redirect => (
            StatusCode::FOUND,
            [(header::LOCATION, seal_ui::REDIRECT_LOCATION)],
        )
            .into_response(),
        seal_ui::Route::NotFound => text(StatusCode::NOT_FOUND, "404 page not found\n"),
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

/// The rate-limit key: a SHA-256 of the path and the `X-Forwarded-For` values (joined with
/// commas, as one header), else of the path and the peer address. Fixed in size whatever the
/// client sends.
fn client_key(req: &Request) -> [u8; 32] {
    let mut digest = Sha256::new();
    digest.update(req.uri().path().as_bytes());
    let mut forwarded = req.headers().get_all("x-forwarded-for").iter().peekable();
    if forwarded.peek().is_some() {
        digest.update(b"|forwarded|");
        for (i, value) in forwarded.enumerate() {
            if i > 0 {
                digest.update(b",");
            }
            digest.update(value.as_bytes());
        }
    } else {
        digest.update(b"|peer|");
        if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
            digest.update(addr.ip().to_string().as_bytes());
        }
    }
    digest.finalize().into()
}

type KeyedLimiter = DefaultKeyedRateLimiter<[u8; 32]>;

/// A keyed GCRA limiter that tracks at most about `max_clients` clients (plus the requests in
/// flight): see [`MAX_LIMITER_CLIENTS`].
struct ClientLimiter {
    quota: Quota,
    max_clients: usize,
    current: RwLock<Arc<KeyedLimiter>>,
    /// Held while making room, so one request sweeps and the others wait for it.
    sweeping: Mutex<()>,
}

impl ClientLimiter {
    fn new(quota: Quota, max_clients: usize) -> Self {
        Self {
            quota,
            max_clients,
            current: RwLock::new(Arc::new(RateLimiter::keyed(quota))),
            sweeping: Mutex::new(()),
        }
    }

    fn current(&self) -> Arc<KeyedLimiter> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether the client under `key` may go on; counts the request.
    fn check(&self, key: &[u8; 32]) -> bool {
        let mut limiter = self.current();
        if limiter.len() >= self.max_clients {
            self.make_room();
            limiter = self.current();
        }
        limiter.check_key(key).is_ok()
    }

    /// Drops the entries that limit no one; if more than half the room is still taken, starts
    /// afresh. Each sweep so frees at least half the room: its cost is spread over as many new
    /// clients.
    fn make_room(&self) {
        let _sweeping = self.sweeping.lock().unwrap_or_else(PoisonError::into_inner);
        let limiter = self.current();
        if limiter.len() < self.max_clients {
            return; // Another request made room.
        }
        limiter.retain_recent();
        if limiter.len() > self.max_clients / 2 {
            tracing::warn!(
                clients = limiter.len(),
                "more clients within one rate-limit period than the limiter tracks; forgetting them"
            );
            *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                Arc::new(RateLimiter::keyed(self.quota));
        } else {
            limiter.shrink_to_fit();
        }
    }

    /// Clients tracked now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.current().len()
    }
}

/// Checks the rate limit, then reads the body within `--read-timeout` and [`MAX_BODY_BYTES`].
async fn limited_body(app: &AppState, req: Request) -> Result<Bytes, Response> {
    if let Some(limiter) = &app.limiter
        && !limiter.check(&client_key(&req))
    {
        let mut resp = text(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded\n");
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Err(resp);
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

/// Runs RSA work on the blocking pool once a permit is free ([`rsa_workers`]). The permit
/// goes with the work, so a request dropped by the write timeout frees it only when the work
/// ends.
async fn rsa_work<T: Send + 'static>(
    app: &AppState,
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "{what} task failed");
        text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
    };
    let permit = Arc::clone(&app.rsa)
        .acquire_owned()
        .await
        .map_err(|e| internal(&e))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|e| internal(&e))
}

/// 422 for an object that [`MAX_RSA_ATTEMPTS`] decryptions could not settle.
fn too_much_rsa_work(what: &str) -> Response {
    text(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "too large to {what}: the SealedSecret needs more than {MAX_RSA_ATTEMPTS} RSA decryptions; reseal it with the newest certificate (kubectl seal sets the seal.dev/key-id hint) or split it into smaller SealedSecrets\n"
        ),
    )
}

/// True when the limit ran out before anything failed: the answer is still open.
fn only_out_of_attempts(failure: &UnsealFailure) -> bool {
    failure.limit_reached() && !failure.failed_before_limit()
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
        max_rsa_attempts: Some(MAX_RSA_ATTEMPTS),
    };
    let outcome = rsa_work(&app, "verify", move || {
        seal_api::unseal(&ss, &ring, &opts).map(|_| ())
    })
    .await;
    match outcome {
        Ok(Ok(())) => text(StatusCode::OK, ""),
        Ok(Err(seal_api::Error::Unseal(failure))) if only_out_of_attempts(&failure) => {
            too_much_rsa_work("verify")
        }
        // Only the item names and upstream's fixed messages: never template output, nor a
        // parser's quote of a v1 blob (any item's ciphertext can be posted as one).
        Ok(Err(seal_api::Error::Unseal(failure))) => text(
            StatusCode::CONFLICT,
            format!("{}\n", crate::decide::redacted_failure(&failure).message()),
        ),
        Ok(Err(_)) => text(StatusCode::CONFLICT, "unable to decrypt sealed secret\n"),
        Err(resp) => resp,
    }
}

async fn rotate(State(app): State<AppState>, req: Request) -> Response {
    // `?pq=true` (what `kubectl seal reencrypt --pq` sends): upgrade classical items too.
    let upgrade_pq = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "pq=true" || p == "pq"));
    let body = match limited_body(&app, req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let ss = match parse_sealed_secret(&body) {
        Ok(ss) => ss,
        Err(msg) => return text(StatusCode::BAD_REQUEST, format!("{msg}\n")),
    };
    let ring = app.http.keys.keyring();
    let work = move || reseal_with(ss, &ring, MAX_RSA_ATTEMPTS, upgrade_pq);
    match rsa_work(&app, "rotate", work).await {
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
        Ok(Err(ResealError::NoKey)) => text(StatusCode::CONFLICT, "no sealing key is loaded\n"),
        Ok(Err(ResealError::Unseal(failure))) if only_out_of_attempts(&failure) => {
            too_much_rsa_work("rotate")
        }
        Ok(Err(ResealError::Unseal(failure))) => {
            text(StatusCode::CONFLICT, format!("{}\n", failure.message()))
        }
        Err(resp) => resp,
    }
}

/// Why [`reseal`] returned no SealedSecret.
#[derive(Debug)]
pub enum ResealError {
    /// No key is loaded.
    NoKey,
    /// Some values did not open (or were not tried: [`UnsealFailure::limit_reached`]).
    Unseal(UnsealFailure),
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
/// Keys are tried hint first, then newest first, and the key that opened a value is tried first
/// for the next; at most `max_rsa_attempts` keys are tried over all values, and values left
/// then fail with [`RSA_LIMIT_REACHED`].
///
/// # Errors
///
/// [`ResealError::NoKey`] without keys; [`ResealError::Unseal`] naming each value that does
/// not open.
pub fn reseal(
    ss: SealedSecret,
    ring: &Keyring,
    max_rsa_attempts: usize,
) -> Result<SealedSecret, ResealError> {
    reseal_with(ss, ring, max_rsa_attempts, false)
}

/// [`reseal`], keeping each value's format: a value sealed post-quantum (hybrid) is resealed
/// hybrid, a classical one classically unless `upgrade_pq`, which reseals it hybrid too
/// (docs/pq.md). A hybrid value already under the newest key stays unchanged; one that would
/// have to lose its ML-KEM half (the newest key has none) fails instead of being downgraded.
///
/// # Errors
///
/// As [`reseal`].
pub fn reseal_with(
    mut ss: SealedSecret,
    ring: &Keyring,
    max_rsa_attempts: usize,
    upgrade_pq: bool,
) -> Result<SealedSecret, ResealError> {
    let Some(newest) = ring.newest() else {
        return Err(ResealError::NoKey);
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
    let mut order: Vec<&KeyEntry> = ring.ordered(&hints);
    let mut attempts_left = max_rsa_attempts;
    let newest_public = newest.key().public_key();
    let newest_pq = newest.key().mlkem_public_key();

    let mut reseal_one = |text: &str| -> Result<Resealed, String> {
        let ciphertext = seal_api::decode_base64(text).map_err(|e| e.to_string())?;
        let tried = attempts_left.min(order.len());
        let keys: Vec<&seal_api::crypto::PrivateKey> =
            order[..tried].iter().map(|e| e.key()).collect();
        let opened = match seal_api::crypto::open(&keys, &label, &ciphertext) {
            Ok(o) => o,
            Err(CryptoError::TooShort) => return Err(CryptoError::TooShort.to_string()),
            Err(_) if tried < order.len() => {
                attempts_left = 0;
                return Err(RSA_LIMIT_REACHED.to_owned());
            }
            Err(_) => {
                attempts_left -= tried;
                return Err(NO_KEY_COULD_DECRYPT.to_owned());
            }
        };
        attempts_left -= opened.key_index + 1;
        let entry = order.remove(opened.key_index);
        order.insert(0, entry);
        let was_hybrid = seal_api::crypto::is_hybrid(&ciphertext);
        let hybrid = was_hybrid || upgrade_pq;
        if entry.id() == newest.id() && was_hybrid == hybrid {
            return Ok(Resealed::Unchanged);
        }
        let pq = match (hybrid, newest_pq) {
            (false, _) => None,
            (true, Some(pq)) => Some(pq),
            (true, None) => {
                return Err(
                    "cannot seal post-quantum: the newest key has no ML-KEM-768 key".to_owned(),
                );
            }
        };
        let sealed = seal_api::seal_value(&newest_public, pq, &label, &opened.plaintext)
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
        return Err(ResealError::Unseal(UnsealFailure {
            items: failures,
            likely_scope: None,
        }));
    }
    if sealed_any {
        ss.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION_KEY_ID.to_owned(), newest.id().to_owned());
    }
    Ok(ss)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn from(xff: &[&str], peer: Option<[u8; 4]>) -> Request {
        let mut req = http::Request::post("/v1/verify");
        for value in xff {
            req = req.header("x-forwarded-for", *value);
        }
        let mut req = req.body(Body::empty()).expect("request");
        if let Some(ip) = peer {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
        }
        req
    }

    /// 2 per second with a burst of 2, as the flags' defaults.
    fn quota() -> Quota {
        Quota::per_second(NonZeroU32::new(2).expect("non-zero"))
            .allow_burst(NonZeroU32::new(3).expect("non-zero"))
    }

    #[test]
    fn the_client_key_is_a_digest_of_path_and_client() {
        let long = "9".repeat(64 * 1024);
        assert_ne!(
            client_key(&from(&[&long], None)),
            client_key(&from(&[&long[1..]], None))
        );
        // Repeated headers are one comma-joined list.
        assert_eq!(
            client_key(&from(&["10.0.0.1, 10.0.0.2"], None)),
            client_key(&from(&["10.0.0.1", " 10.0.0.2"], None))
        );
        // Without X-Forwarded-For, the peer address; the port does not matter.
        let peer = client_key(&from(&[], Some([192, 0, 2, 1])));
        assert_ne!(peer, client_key(&from(&[], Some([192, 0, 2, 2]))));
        assert_ne!(peer, client_key(&from(&["192.0.2.1"], None)));
        let mut other_port = from(&[], None);
        other_port
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 1))));
        assert_eq!(peer, client_key(&other_port));
        let mut rotate = from(&["10.0.0.1"], None);
        *rotate.uri_mut() = http::Uri::from_static("/v1/rotate");
        assert_ne!(client_key(&rotate), client_key(&from(&["10.0.0.1"], None)));
    }

    #[test]
    fn a_flood_of_long_distinct_forwarded_for_values_keeps_the_limiter_bounded() {
        let limiter = ClientLimiter::new(quota(), 1_000);
        let first = limiter.current();
        let repeated = client_key(&from(&["198.51.100.1"], None));
        let started = Instant::now();
        let (mut passed, mut limited) = (0, 0);
        for i in 0..5_000 {
            // 4 KiB each: the limiter keeps 32 bytes per client, at most about 1,000 of them.
            let xff = format!("{i:04096}");
            assert!(
                limiter.check(&client_key(&from(&[&xff], None))),
                "client {i}"
            );
            assert!(limiter.len() <= 1_000, "{} clients", limiter.len());
            // One client sends along: it gets its burst, then is limited.
            if limiter.check(&repeated) {
                passed += 1;
            } else {
                limited += 1;
            }
        }
        // More new clients within the rate period than it holds: the limiter started afresh,
        // at most once per 500 new clients, each time giving the repeated client a new burst
        // of 3; the rate adds 2 per second.
        assert!(!Arc::ptr_eq(&first, &limiter.current()));
        let secs = usize::try_from(started.elapsed().as_secs()).expect("small");
        assert!(
            passed <= 3 * (5_000 / 500 + 1) + 2 * (secs + 1),
            "{passed} passed, {limited} limited in {secs}s"
        );
        assert!(limited > 4_000, "{passed} passed, {limited} limited");
    }

    #[test]
    fn idle_clients_are_swept_and_nobody_is_forgotten() {
        // A request per millisecond per client: each entry idles a millisecond after its use.
        let quota = Quota::per_second(NonZeroU32::new(1_000).expect("non-zero"));
        let limiter = ClientLimiter::new(quota, 100);
        let first = limiter.current();
        for i in 0..1_000 {
            std::thread::sleep(Duration::from_micros(200));
            assert!(limiter.check(&client_key(&from(&[&i.to_string()], None))));
            assert!(limiter.len() <= 100);
        }
        assert!(
            Arc::ptr_eq(&first, &limiter.current()),
            "the limiter started afresh although its clients were idle"
        );
    }
}
