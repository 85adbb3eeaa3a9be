//! Hostile clients of the HTTP API: oversized and endless bodies (with and without a
//! Content-Length, chunked over a socket), malformed bodies (binary, invalid UTF-8, deep
//! nesting, YAML alias bombs, huge SealedSecrets, hostile templates), request floods from one
//! client and from many `X-Forwarded-For` values, and slow clients on a real socket.
//!
//! Every request must get a proper status in bounded time; nothing may panic. Most tests drive
//! the router in-process with `tower::ServiceExt::oneshot`, as `keys_http.rs` does; the socket
//! tests run `seal_controller::http::serve` itself on a free 127.0.0.1 port.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use clap::Parser as _;
use http::{Request, StatusCode, header};
use seal_api::crypto::Certificate;
use seal_controller::Readiness;
use seal_controller::config::{Config, KeyOrder};
use seal_controller::http::{HttpState, MAX_BODY_BYTES, MAX_RSA_ATTEMPTS, router, serve};
use seal_controller::keys::KeyStore;
use seal_controller::metrics::Metrics;
use serde_json::{Value, json};
use test_case::test_case;
use tower::ServiceExt as _;

mod common;
use common::{read, typed_key_secret};

/// A store holding the 2048-bit fixture key (fast to decrypt with, even unoptimised).
fn store() -> KeyStore {
    store_of(&["rsa2048"])
}

/// A store holding the fixture keys `stems` (`testdata/keys/<stem>.key`).
fn store_of(stems: &[&str]) -> KeyStore {
    let store = KeyStore::new();
    for (i, stem) in stems.iter().enumerate() {
        store
            .apply_secret(
                &typed_key_secret(stem, 1_700_000_000 + i64::try_from(i).expect("few")),
                KeyOrder::SecretCreationTimestamp,
            )
            .expect("fixture key loads");
    }
    store
}

fn state(args: &[&str]) -> HttpState {
    state_with(store(), args)
}

fn state_with(keys: KeyStore, args: &[&str]) -> HttpState {
    HttpState {
        keys,
        metrics: Arc::new(Metrics::new("test")),
        ready: Arc::new(Readiness::default()),
        cfg: Arc::new(
            Config::try_parse_from(std::iter::once("controller").chain(args.iter().copied()))
                .expect("flags parse"),
        ),
    }
}

/// The API router over the fixture key; `args` are controller flags.
fn app(args: &[&str]) -> Router {
    router(state(args))
}

/// Without a rate limit, for the body tests.
fn unlimited() -> Router {
    app(&["--rate-limit=0"])
}

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path).body(body.into()).expect("request")
}

const PATHS: [&str; 2] = ["/v1/verify", "/v1/rotate"];

/// Posts `body` to both endpoints and checks the status, and that each answer came quickly.
async fn expect_both(router: &Router, body: &[u8], want: StatusCode) -> String {
    let mut last = String::new();
    for path in PATHS {
        let started = Instant::now();
        let (status, text) = call(router, post(path, body.to_vec())).await;
        assert_eq!(status, want, "{path}: {text}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{path} took {:?}",
            started.elapsed()
        );
        last = text;
    }
    last
}

/// The fixture certificate's key.
fn public_key() -> seal_api::crypto::PublicKey {
    Certificate::from_pem(&read("keys/rsa2048.crt"))
        .expect("fixture cert")
        .public_key()
        .clone()
}

/// A strict-scope SealedSecret `ns/name` with the given items (sealed to the fixture key)
/// and template data.
fn sealed_secret(items: &[(String, Vec<u8>)], template_data: Value) -> Vec<u8> {
    let key = public_key();
    let encrypted: serde_json::Map<String, Value> = items
        .iter()
        .map(|(k, v)| {
            let sealed = seal_api::crypto::seal(&key, b"ns/name", v).expect("seals");
            (k.clone(), Value::String(seal_api::encode_base64(&sealed)))
        })
        .collect();
    serde_json::to_vec(&json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "name", "namespace": "ns"},
        "spec": {
            "encryptedData": encrypted,
            "template": {"metadata": {"name": "name", "namespace": "ns"}, "data": template_data},
        },
    }))
    .expect("json")
}

// ---------------------------------------------------------------------------------------------
// Oversized bodies.

#[test_case(&(MAX_BODY_BYTES as u64 + 1).to_string(); "one byte over")]
#[test_case(&u64::MAX.to_string(); "u64 max")]
#[test_case("99999999999999999999999999"; "beyond u64")]
#[tokio::test]
async fn a_declared_oversized_content_length_is_413_without_reading_the_body(length: &str) {
    let router = unlimited();
    for path in PATHS {
        // The body is tiny: the answer must come from the header alone.
        let req = Request::post(path)
            .header(header::CONTENT_LENGTH, length)
            .body(Body::from("{}"))
            .expect("request");
        let (status, text) = call(&router, req).await;
        if length.parse::<u64>().is_ok() {
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {text}");
        } else {
            // Not a number a u64 holds: the header is ignored and the (small) body read.
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
        }
    }
}

#[tokio::test]
async fn a_body_at_the_limit_is_read_and_one_byte_more_is_413() {
    let router = unlimited();
    // Exactly the limit: read, then refused as unreadable (whitespace is no SealedSecret).
    let text = expect_both(
        &router,
        &vec![b' '; MAX_BODY_BYTES],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(text.contains("no SealedSecret"), "{text}");
    expect_both(
        &router,
        &vec![b' '; MAX_BODY_BYTES + 1],
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
}

#[tokio::test]
async fn an_endless_streamed_body_is_413_not_a_hang() {
    let router = unlimited();
    for path in PATHS {
        // No Content-Length and no end: reading must stop at the limit.
        let chunk = axum::body::Bytes::from(vec![b'a'; 64 * 1024]);
        let endless = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        let started = Instant::now();
        let (status, _) = call(&router, post(path, Body::from_stream(endless))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[tokio::test]
async fn a_body_stream_that_fails_is_400() {
    let router = unlimited();
    for path in PATHS {
        let failing = futures::stream::iter([
            Ok(axum::body::Bytes::from_static(b"{\"kind\":")),
            Err(std::io::Error::other("connection reset")),
        ]);
        let (status, text) = call(&router, post(path, Body::from_stream(failing))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed bodies.

/// Deterministic junk (xorshift), with every byte value.
fn junk(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn alias_bomb() -> Vec<u8> {
    // Billion laughs: 9^9 strings if the aliases were expanded.
    let mut doc = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for level in 1..10u8 {
        let (this, prev) = (char::from(b'a' + level), char::from(b'a' + level - 1));
        let refs = vec![format!("*{prev}"); 9].join(",");
        doc.push_str(&format!("{this}: &{this} [{refs}]\n"));
    }
    doc.into_bytes()
}

fn alias_bomb_in_a_sealed_secret() -> Vec<u8> {
    let mut doc = String::from(
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: name, namespace: ns}\n\
         x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n",
    );
    for level in 1..9 {
        let refs = vec![format!("*x{}", level - 1); 10].join(", ");
        doc.push_str(&format!("x{level}: &x{level} [{refs}]\n"));
    }
    doc.push_str("spec:\n  encryptedData: *x8\n");
    doc.into_bytes()
}

fn nested_block_yaml(depth: usize) -> Vec<u8> {
    let mut doc = String::new();
    for level in 0..depth {
        doc.push_str(&" ".repeat(level));
        doc.push_str("a:\n");
    }
    doc.into_bytes()
}

#[test_case(junk(64 * 1024); "binary junk")]
#[test_case(b"\x00\x00\x00\x00".to_vec(); "nul bytes")]
#[test_case(b"{\"kind\":\"SealedSecret\",\"metadata\":{\"name\":\"\xff\xfe\"}}".to_vec(); "invalid utf8 inside json")]
#[test_case(b"kind: SealedSecret\nmetadata: {name: \xc3\x28}\n".to_vec(); "invalid utf8 inside yaml")]
#[test_case("[".repeat(100_000).into_bytes(); "json nested 100k deep")]
#[test_case(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(); "json nested 100k deep closed")]
#[test_case(format!("x: {}", "[".repeat(100_000)).into_bytes(); "yaml flow nested 100k deep")]
#[test_case(format!("x: {}{}", "{a: ".repeat(50_000), "}".repeat(50_000)).into_bytes(); "yaml flow maps nested 50k deep")]
#[test_case("- ".repeat(100_000).into_bytes(); "yaml block sequences nested 100k deep")]
#[test_case(nested_block_yaml(1_500); "yaml block maps nested 1500 deep")]
#[test_case(alias_bomb(); "yaml alias bomb")]
#[test_case(alias_bomb_in_a_sealed_secret(); "yaml alias bomb as encryptedData")]
#[test_case("---\n".repeat(400_000).into_bytes(); "400k empty yaml documents")]
#[test_case("{}".repeat(500_000).into_bytes(); "500k json documents")]
#[test_case(b"&a [*a]".to_vec(); "yaml self alias")]
#[test_case(b"!!binary AAAA: !!python/object {}".to_vec(); "yaml tags")]
#[test_case(format!("\"{}\"", "\\u0000".repeat(300_000)).into_bytes(); "json string of escapes")]
#[tokio::test]
async fn malformed_bodies_are_400(body: Vec<u8>) {
    assert!(
        body.len() <= MAX_BODY_BYTES,
        "the test body must pass the size check"
    );
    expect_both(&unlimited(), &body, StatusCode::BAD_REQUEST).await;
}

#[test_case(json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "name", "namespace": "ns"}, "spec": {"encryptedData": {"a": "!!!"}}}); "bad base64")]
#[test_case(json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "name", "namespace": "ns"}, "spec": {"encryptedData": {"a": ""}}}); "empty value")]
#[test_case(json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "name", "namespace": "ns"}, "spec": {"encryptedData": {"a": "AQA="}}}); "too short")]
#[test_case(json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "name", "namespace": "ns"}, "spec": {"encryptedData": {"a": 7}}}); "a number")]
#[test_case(json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "name", "namespace": "ns"}, "spec": {"encryptedData": {}, "data": "AQA="}}); "v1 data not accepted")]
#[tokio::test]
async fn sealed_secrets_that_do_not_open_are_409(doc: Value) {
    let body = serde_json::to_vec(&doc).expect("json");
    expect_both(&unlimited(), &body, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn a_sealed_secret_with_a_thousand_items_verifies_and_rotates() {
    let items: Vec<_> = (0..1000)
        .map(|i| (format!("item-{i:04}"), format!("value {i}").into_bytes()))
        .collect();
    let body = sealed_secret(&items, json!({}));
    let router = unlimited();
    expect_both(&router, &body, StatusCode::OK).await;

    // One bad item among them: 409 naming it, in bounded time.
    let mut doc: Value = serde_json::from_slice(&body).expect("json");
    doc["spec"]["encryptedData"]["item-0500"] = json!("AgBy3i4OJSWK+PiTySYZZA==");
    let text = expect_both(
        &router,
        &serde_json::to_vec(&doc).expect("json"),
        StatusCode::CONFLICT,
    )
    .await;
    assert!(text.contains("item-0500"), "{text}");
}

#[tokio::test]
async fn a_sealed_secret_of_about_one_mebibyte_verifies_and_rotates() {
    // 768 KiB of plaintext is about 1 MiB of base64.
    let items = vec![("big".to_owned(), junk(768 * 1024))];
    let body = sealed_secret(&items, json!({}));
    assert!(body.len() > 1 << 20 && body.len() < MAX_BODY_BYTES);
    expect_both(&unlimited(), &body, StatusCode::OK).await;

    // Near the limit, one item of junk base64: 409, not a crash.
    let mut doc: Value = serde_json::from_slice(&body).expect("json");
    doc["spec"]["encryptedData"]["big"] = json!(seal_api::encode_base64(&junk(
        MAX_BODY_BYTES / 4 * 3 - 4096
    )));
    let body = serde_json::to_vec(&doc).expect("json");
    assert!(body.len() <= MAX_BODY_BYTES);
    expect_both(&unlimited(), &body, StatusCode::CONFLICT).await;
}

/// `count` items named `item-00000`… holding `value <i>`, for [`sealed_secret`].
fn numbered_items(count: usize) -> Vec<(String, Vec<u8>)> {
    (0..count)
        .map(|i| (format!("item-{i:05}"), format!("value {i}").into_bytes()))
        .collect()
}

#[tokio::test]
async fn a_sealed_secret_needing_more_rsa_decryptions_than_allowed_is_422() {
    // One key and no hint: a decryption per value, one value more than allowed.
    let body = sealed_secret(&numbered_items(MAX_RSA_ATTEMPTS + 1), json!({}));
    assert!(body.len() <= MAX_BODY_BYTES);
    let router = unlimited();
    for (path, what) in [("/v1/verify", "verify"), ("/v1/rotate", "rotate")] {
        let (status, text) = call(&router, post(path, body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with(&format!("too large to {what}: ")) && text.contains("split it"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn values_no_key_opens_cost_every_key_until_the_limit_then_409() {
    // Two keys loaded, neither opens the values: each value tries both, so the limit is
    // reached one value before the end, and that value is reported as not tried.
    let router = router(state_with(
        store_of(&["rsa4096", "rsa4096-b"]),
        &["--rate-limit=0"],
    ));
    let count = MAX_RSA_ATTEMPTS / 2 + 1;
    let body = sealed_secret(&numbered_items(count), json!({}));
    let last = format!("item-{:05}", count - 1);
    for path in PATHS {
        let (status, text) = call(&router, post(path, body.clone())).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}");
        let (no_key, not_tried) = text.split_once('\n').expect("two groups");
        assert!(no_key.starts_with("no key could decrypt secret (item-00000, "));
        assert!(
            no_key.ends_with(&format!("item-{:05})", count - 2)),
            "{path}"
        );
        assert!(!no_key.contains(&last), "{path}");
        assert!(
            not_tried.starts_with("not tried") && not_tried.contains(&last),
            "{path}"
        );
    }
}

#[test_case(r#"{{ repeat 1000000000 "x" }}"#, StatusCode::CONFLICT; "huge repeat")]
// Go's fmt refuses widths over 10^6 itself: `%!(BADWIDTH)1`, a small output.
#[test_case(r#"{{ printf "%999999999d" 1 }}"#, StatusCode::OK; "huge printf width")]
#[test_case(r#"{{ printf "%.999999f" 1.0 | repeat 100 }}"#, StatusCode::CONFLICT; "wide printf repeated")]
#[test_case(r#"{{ range 1000000000 }}x{{ end }}"#, StatusCode::CONFLICT; "huge range")]
#[test_case(r#"{{ define "a" }}{{ template "a" . }}{{ end }}{{ template "a" . }}"#, StatusCode::CONFLICT; "recursive define")]
#[test_case(r#"{{ $l := list 1 }}{{ range until 64 }}{{ $l = concat $l $l }}{{ end }}{{ len $l }}"#, StatusCode::CONFLICT; "doubling list")]
#[test_case(r#"{{ .a | repeat 100000 | repeat 100000 }}"#, StatusCode::CONFLICT; "repeat of repeat")]
#[tokio::test]
async fn hostile_templates_are_refused_in_bounded_time(template: &str, want: StatusCode) {
    let items = vec![("a".to_owned(), b"hunter2".to_vec())];
    let body = sealed_secret(&items, json!({ "out": template }));
    let router = unlimited();
    let started = Instant::now();
    let (status, text) = call(&router, post("/v1/verify", body.clone())).await;
    assert_eq!(status, want, "{text}");
    assert!(
        !text.contains("xxxx"),
        "template output must not leak: {text}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // Rotate does not render templates: the values reseal and the template is kept.
    let (status, text) = call(&router, post("/v1/rotate", body)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

// ---------------------------------------------------------------------------------------------
// Floods.

fn verify_from(xff: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/v1/verify");
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    req.body(Body::from("{}")).expect("request")
}

#[tokio::test]
async fn a_flood_from_one_client_is_rate_limited() {
    // The defaults: 2/s with a burst of 2, so 3 at once pass.
    for xff in [Some("203.0.113.7"), None] {
        let router = app(&[]);
        let (mut passed, mut limited) = (0, 0);
        let started = Instant::now();
        for _ in 0..500 {
            let resp = router
                .clone()
                .oneshot(verify_from(xff))
                .await
                .expect("infallible");
            match resp.status() {
                StatusCode::TOO_MANY_REQUESTS => {
                    assert_eq!(
                        resp.headers()
                            .get(header::RETRY_AFTER)
                            .map(|v| v.as_bytes()),
                        Some(&b"1"[..])
                    );
                    limited += 1;
                }
                // `{}` is no SealedSecret.
                StatusCode::BAD_REQUEST => passed += 1,
                other => panic!("unexpected {other}"),
            }
        }
        // 3 at once, plus 2 more for every second the flood took.
        let secs = started.elapsed().as_secs();
        let allowed = 3 + 2 * usize::try_from(secs + 1).expect("small");
        assert!(
            (3..=allowed).contains(&passed),
            "{xff:?}: {passed} passed, {limited} limited in {secs}s"
        );
        assert_eq!(passed + limited, 500);
    }
}

#[tokio::test]
async fn a_flood_of_forwarded_for_values_gets_answers_and_limits_still_hold() {
    // Each distinct X-Forwarded-For is its own client (upstream's behaviour). The limiter
    // keeps a digest per client, at most MAX_LIMITER_CLIENTS of them: 70,000 distinct
    // clients, each with a long header, cross that line.
    let router = app(&[]);
    let padding = "10.0.0.1, ".repeat(8);
    for i in 0..70_000u32 {
        let [a, b, c, d] = i.to_be_bytes();
        let xff = format!("{a}.{b}.{c}.{d}, {padding}10.0.0.1");
        let resp = router
            .clone()
            .oneshot(verify_from(Some(&xff)))
            .await
            .expect("infallible");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "client {i}");
    }
    // After the sweep, a client that floods is still limited.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(call(&router, verify_from(Some("198.51.100.1"))).await.0);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn odd_forwarded_for_headers_get_proper_answers() {
    let router = app(&[]);
    // A 64 KiB value, many repeated headers, and bytes that are not visible ASCII.
    let long = "1".repeat(64 * 1024);
    let mut req = Request::post("/v1/verify").header("x-forwarded-for", long.as_str());
    for i in 0..100 {
        req = req.header("x-forwarded-for", format!("10.0.0.{i}"));
    }
    let (status, _) = call(&router, req.body(Body::from("{}")).expect("request")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let opaque = http::HeaderValue::from_bytes(b"\xff\xfe\x80").expect("obs-text is allowed");
    let req = Request::post("/v1/verify")
        .header("x-forwarded-for", opaque)
        .body(Body::from("{}"))
        .expect("request");
    assert_eq!(call(&router, req).await.0, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------------------------------------
// Real sockets: slow and chunked clients against `http::serve`.

/// A running `http::serve`; dropping `stop` stops it, and `task` ends then.
struct Served {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Serves the API on a free loopback port with `args` (`--read-timeout` as the server's).
async fn start_on_loopback(args: &[&str]) -> Served {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = state(args);
    let read_timeout = state.cfg.read_timeout;
    let router = router(state);
    let task = tokio::spawn(async move {
        serve(&addr.to_string(), router, read_timeout, async {
            let _ = stopped.await;
        })
        .await
    });
    for _ in 0..100 {
        if TcpStream::connect(addr).is_ok() {
            return Served { addr, stop, task };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server did not start on {addr}");
}

/// [`start_on_loopback`]; returns its address and a handle that stops it when dropped.
async fn serve_on_loopback(args: &[&str]) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let served = start_on_loopback(args).await;
    (served.addr, served.stop)
}

/// Connects, writes `head`, then (in a blocking thread) writes `body` if any and reads the
/// response until the server closes or `wait` passes. Returns what was read and whether the
/// server closed the connection.
async fn exchange(
    addr: SocketAddr,
    head: Vec<u8>,
    body: Vec<u8>,
    wait: Duration,
) -> (String, bool) {
    tokio::task::spawn_blocking(move || {
        let mut conn = TcpStream::connect(addr).expect("connects");
        conn.set_read_timeout(Some(wait)).expect("timeout");
        conn.write_all(&head).expect("writes the head");
        if !body.is_empty() {
            // The server may answer and close before all of it is written.
            let _ = conn.write_all(&body);
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let closed = loop {
            match conn.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false, // timed out
            }
        };
        (String::from_utf8_lossy(&got).into_owned(), closed)
    })
    .await
    .expect("client thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stalls_after_the_headers_gets_408() {
    let (addr, _stop) = serve_on_loopback(&["--rate-limit=0", "--read-timeout=1s"]).await;
    let head =
        b"POST /v1/verify HTTP/1.1\r\nHost: seal\r\nContent-Length: 100\r\n\r\n{\"kind\"".to_vec();
    let started = Instant::now();
    let (resp, _) = exchange(addr, head, Vec::new(), Duration::from_secs(10)).await;
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_over_a_socket_are_413() {
    let (addr, _stop) = serve_on_loopback(&["--rate-limit=0", "--read-timeout=5s"]).await;
    // Declared: refused from the header, before any body is sent.
    let head = format!(
        "POST /v1/verify HTTP/1.1\r\nHost: seal\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        3 * MAX_BODY_BYTES
    );
    let (resp, _) = exchange(addr, head.into_bytes(), Vec::new(), Duration::from_secs(10)).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");

    // Chunked, 64 KiB chunks up to 3 MiB with no end in sight.
    let head = b"POST /v1/rotate HTTP/1.1\r\nHost: seal\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    let mut body = Vec::new();
    for _ in 0..48 {
        body.extend_from_slice(b"10000\r\n");
        body.extend_from_slice(&[b' '; 0x10000]);
        body.extend_from_slice(b"\r\n");
    }
    let (resp, _) = exchange(addr, head, body, Duration::from_secs(10)).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");

    // Malformed chunking: an answer or a closed connection, and the server lives on.
    let head =
        b"POST /v1/verify HTTP/1.1\r\nHost: seal\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
            .to_vec();
    let (resp, closed) = exchange(addr, head, Vec::new(), Duration::from_secs(10)).await;
    assert!(closed || resp.starts_with("HTTP/1.1 4"), "{resp}");
    let head = b"GET /healthz HTTP/1.1\r\nHost: seal\r\nConnection: close\r\n\r\n".to_vec();
    let (resp, _) = exchange(addr, head, Vec::new(), Duration::from_secs(10)).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_stalled_inside_their_headers_do_not_block_others() {
    let (addr, _stop) = serve_on_loopback(&["--rate-limit=0", "--read-timeout=1s"]).await;
    // 50 connections that send half a request line and then nothing.
    let stalled: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut c = TcpStream::connect(addr).expect("connects");
            c.write_all(b"POST /v1/verify HTTP/1.1\r\nHost: se")
                .expect("writes");
            c
        })
        .collect();
    let head = b"GET /healthz HTTP/1.1\r\nHost: seal\r\nConnection: close\r\n\r\n".to_vec();
    let (resp, closed) = exchange(addr, head, Vec::new(), Duration::from_secs(10)).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with("ok\n") && closed, "{resp}");
    drop(stalled);
}

/// Slowloris: `--read-timeout` bounds the headers too, as Go's `ReadTimeout` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stalled_inside_its_headers_is_disconnected() {
    let (addr, _stop) = serve_on_loopback(&["--rate-limit=0", "--read-timeout=1s"]).await;
    let started = Instant::now();
    let head = b"POST /v1/verify HTTP/1.1\r\nHost: se".to_vec();
    let (_, closed) = exchange(addr, head, Vec::new(), Duration::from_secs(10)).await;
    assert!(closed, "the server kept a stalled connection open for 10s");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed too early"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_nothing_or_idles_after_a_response_is_disconnected() {
    let (addr, _stop) = serve_on_loopback(&["--rate-limit=0", "--read-timeout=1s"]).await;
    let (_, closed) = exchange(addr, Vec::new(), Vec::new(), Duration::from_secs(10)).await;
    assert!(closed, "a silent connection was kept for 10s");
    // Keep-alive: the answer, then the connection is closed once the next headers are late.
    let head = b"GET /healthz HTTP/1.1\r\nHost: seal\r\n\r\n".to_vec();
    let (resp, closed) = exchange(addr, head, Vec::new(), Duration::from_secs(10)).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(closed, "an idle keep-alive connection was kept for 10s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_when_asked_despite_idle_connections() {
    let served = start_on_loopback(&["--rate-limit=0", "--read-timeout=1m"]).await;
    // A connection that has not started a request, and one that finished one (keep-alive).
    let silent = TcpStream::connect(served.addr).expect("connects");
    let mut kept = TcpStream::connect(served.addr).expect("connects");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: seal\r\n\r\n")
        .expect("writes");
    let mut buf = [0u8; 256];
    let n = kept.read(&mut buf).expect("an answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

    drop(served.stop);
    let ended = tokio::time::timeout(Duration::from_secs(10), served.task)
        .await
        .expect("the server stops well before its read timeout");
    ended
        .expect("server task")
        .expect("the server stops cleanly");
    assert!(TcpStream::connect(served.addr).is_err(), "still listening");
    drop((silent, kept));
}
