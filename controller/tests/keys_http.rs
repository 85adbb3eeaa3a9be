//! The HTTP API over a key store loaded from the fixture keys, exercised in-process
//! (`tower::ServiceExt::oneshot`, no network): health, readiness, certificate, verify, rotate,
//! rate limiting, body limits and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use clap::Parser as _;
use http::{Request, Response, StatusCode, header};
use k8s_openapi::api::core::v1::Secret;
use seal_api::crypto::Certificate;
use seal_api::{
    ANNOTATION_KEY_ID, KeyEntry, Keyring, LABEL_SEALED_SECRETS_KEY, SealedSecret, UnsealOptions,
};
use seal_controller::Readiness;
use seal_controller::config::{Config, KeyOrder};
use seal_controller::http::{HttpState, metrics_router, router};
use seal_controller::keys::KeyStore;
use seal_controller::metrics::Metrics;
use serde_json::Value;
use test_case::test_case;
use tower::ServiceExt as _;

mod common;
use common::{read, typed_key_secret};

fn key_id(stem: &str) -> String {
    String::from_utf8(read(&format!("keys/{stem}.keyid")))
        .expect("text")
        .trim()
        .to_owned()
}

/// A store whose keys are `stems`, the last one the newest (ranked by creation time: the
/// fixture certificates share a NotBefore).
fn store_of(stems: &[&str]) -> KeyStore {
    let store = KeyStore::new();
    for (i, stem) in stems.iter().enumerate() {
        let created = 1_700_000_000 + i64::try_from(i).expect("few keys") * 1000;
        store
            .apply_secret(
                &typed_key_secret(stem, created),
                KeyOrder::SecretCreationTimestamp,
            )
            .expect("fixture key loads");
    }
    store
}

fn config(args: &[&str]) -> Config {
    Config::try_parse_from(std::iter::once("controller").chain(args.iter().copied()))
        .expect("flags parse")
}

struct App {
    router: Router,
    state: HttpState,
}

fn app_with(store: KeyStore, args: &[&str]) -> App {
    let state = HttpState {
        keys: store,
        metrics: Arc::new(Metrics::new("test")),
        ready: Arc::new(Readiness::default()),
        cfg: Arc::new(config(args)),
    };
    App {
        router: router(state.clone()),
        state,
    }
}

/// Both fixture keys, rsa2048 the newest; rate limiting off.
fn app() -> App {
    app_with(store_of(&["rsa4096", "rsa2048"]), &["--rate-limit=0"])
}

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let resp: Response<Body> = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, ctype, body.to_vec())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path).body(body.into()).expect("request")
}

fn sealed(name: &str) -> Vec<u8> {
    read(&format!("sealed/{name}.json"))
}

fn parse_ss(body: &[u8]) -> SealedSecret {
    serde_json::from_slice(body).expect("a SealedSecret")
}

fn expected_data(name: &str) -> BTreeMap<String, String> {
    serde_json::from_slice(&read(&format!("sealed/{name}.expected.json"))).expect("expected data")
}

/// A keyring with the single fixture key `stem`.
fn ring_of(stem: &str) -> Keyring {
    let key = seal_api::crypto::PrivateKey::from_pem(
        &String::from_utf8(read(&format!("keys/{stem}.key"))).expect("text"),
    )
    .expect("key");
    let cert = Certificate::from_pem(&read(&format!("keys/{stem}.crt"))).expect("cert");
    let mut ring = Keyring::new();
    ring.insert(KeyEntry::from_pair(key, cert, stem));
    ring
}

fn unsealed_data(ss: &SealedSecret, ring: &Keyring) -> BTreeMap<String, String> {
    use base64::Engine as _;
    let unsealed = seal_api::unseal(ss, ring, &UnsealOptions::default()).expect("unseals");
    unsealed
        .secret
        .data
        .expect("data")
        .into_iter()
        .map(|(k, v)| (k, base64::engine::general_purpose::STANDARD.encode(v.0)))
        .collect()
}

fn items(ss: &SealedSecret) -> BTreeMap<String, String> {
    ss.spec
        .encrypted_data
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
        .collect()
}

#[tokio::test]
async fn healthz_answers_from_the_start_and_readyz_waits() {
    let app = app_with(KeyStore::new(), &[]);
    let (status, ctype, body) = call(&app.router, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"ok\n");
    assert!(ctype.starts_with("text/plain"));

    assert_eq!(
        call(&app.router, get("/readyz")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    app.state.ready.set_keys_loaded();
    assert_eq!(
        call(&app.router, get("/readyz")).await.0,
        StatusCode::SERVICE_UNAVAILABLE,
        "caches not synced yet"
    );
    app.state.ready.set_caches_synced();
    let (status, _, body) = call(&app.router, get("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"ok\n");
}

#[tokio::test]
async fn cert_pem_is_the_newest_certificate_only() {
    let app = app();
    let (status, ctype, body) = call(&app.router, get("/v1/cert.pem")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "application/x-pem-file");
    let text = String::from_utf8(body).expect("PEM text");
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 1);
    let served = Certificate::from_pem(text.as_bytes()).expect("parses");
    let want = Certificate::from_pem(&read("keys/rsa2048.crt")).expect("fixture");
    assert_eq!(served, want);
    assert_eq!(served.public_key().key_id(), key_id("rsa2048"));

    // A newer key takes over at once.
    app.state
        .keys
        .apply_secret(
            &typed_key_secret("rsa4096-b", 1_900_000_000),
            KeyOrder::SecretCreationTimestamp,
        )
        .expect("loads");
    let (_, _, body) = call(&app.router, get("/v1/cert.pem")).await;
    let served = Certificate::from_pem(&body).expect("parses");
    assert_eq!(served.public_key().key_id(), key_id("rsa4096-b"));
}

#[tokio::test]
async fn cert_pem_without_keys_is_500() {
    let app = app_with(KeyStore::new(), &[]);
    let (status, _, body) = call(&app.router, get("/v1/cert.pem")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        String::from_utf8_lossy(&body).trim(),
        "cannot get certificate"
    );
}

#[test_case("opaque.strict")]
#[test_case("opaque.namespace-wide")]
#[test_case("opaque.cluster-wide")]
#[test_case("legacy-v1-data")]
#[test_case("template-sprig")]
#[tokio::test]
async fn verify_accepts_what_unseals(name: &str) {
    let app = app();
    let (status, _, body) = call(&app.router, post("/v1/verify", sealed(name))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn verify_reads_yaml_too() {
    let app = app();
    let doc: Value = serde_json::from_slice(&sealed("opaque.strict")).expect("json");
    let yaml = seal_api::to_yaml_string(&doc);
    let (status, _, _) = call(&app.router, post("/v1/verify", yaml)).await;
    assert_eq!(status, StatusCode::OK);
}

#[test_case("wrong-scope")]
#[test_case("multikey-b")]
#[tokio::test]
async fn verify_conflicts_on_what_does_not_unseal(name: &str) {
    let app = app();
    let (status, _, body) = call(&app.router, post("/v1/verify", sealed(name))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        String::from_utf8_lossy(&body).contains("no key could decrypt secret"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test]
async fn verify_with_the_other_key_loaded_accepts_multikey() {
    let app = app_with(store_of(&["rsa4096-b"]), &["--rate-limit=0"]);
    let (status, _, _) = call(&app.router, post("/v1/verify", sealed("multikey-b"))).await;
    assert_eq!(status, StatusCode::OK);
}

#[test_case(b"" as &[u8]; "empty")]
#[test_case(b"{not json"; "bad json")]
#[test_case(b"\xff\xfe"; "not utf8")]
#[test_case(b"kind: Secret\napiVersion: v1\nmetadata: {name: x}\n"; "a secret")]
#[test_case(b"[1, 2, 3]"; "an array")]
#[test_case(b"{\"kind\":\"SealedSecret\",\"spec\":{\"encryptedData\":7}}"; "wrong shape")]
#[test_case(b"{\"kind\":\"SealedSecret\"}\n{\"kind\":\"SealedSecret\"}"; "two documents")]
#[tokio::test]
async fn verify_and_rotate_refuse_unreadable_bodies(body: &'static [u8]) {
    let app = app();
    for path in ["/v1/verify", "/v1/rotate"] {
        let (status, _, _) = call(&app.router, post(path, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = app();
    let big = vec![b' '; 3 * 1024 * 1024];
    for path in ["/v1/verify", "/v1/rotate"] {
        let (status, _, _) = call(&app.router, post(path, big.clone())).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        // Without a Content-Length (a streamed body), too.
        let stream = futures::stream::iter(
            big.chunks(64 * 1024)
                .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                .collect::<Vec<_>>(),
        );
        let (status, _, _) = call(&app.router, post(path, Body::from_stream(stream))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path} streamed");
    }
}

#[tokio::test]
async fn verify_is_rate_limited_per_client() {
    // Rate 1/s, burst 1: two requests at once pass (upstream's GCRA allows 1 + burst).
    let app = app_with(
        store_of(&["rsa4096"]),
        &["--rate-limit=1", "--rate-limit-burst=1"],
    );
    let req = |xff: &str| {
        Request::post("/v1/verify")
            .header("x-forwarded-for", xff)
            .body(Body::from("garbage"))
            .expect("request")
    };
    assert_eq!(
        call(&app.router, req("10.0.0.1")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&app.router, req("10.0.0.1")).await.0,
        StatusCode::BAD_REQUEST
    );
    let resp = app
        .router
        .clone()
        .oneshot(req("10.0.0.1"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key(header::RETRY_AFTER));

    // Another client, and another path, have their own budgets.
    assert_eq!(
        call(&app.router, req("10.0.0.2")).await.0,
        StatusCode::BAD_REQUEST
    );
    let rotate = Request::post("/v1/rotate")
        .header("x-forwarded-for", "10.0.0.1")
        .body(Body::from("garbage"))
        .expect("request");
    assert_eq!(call(&app.router, rotate).await.0, StatusCode::BAD_REQUEST);

    // The default (2/s, burst 2): three pass, the fourth is refused.
    let app = app_with(store_of(&["rsa4096"]), &[]);
    for _ in 0..3 {
        assert_eq!(call(&app.router, req("c")).await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        call(&app.router, req("c")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[test_case("opaque.strict")]
#[test_case("opaque.namespace-wide")]
#[test_case("opaque.cluster-wide")]
#[test_case("template-data")]
#[test_case("template-sprig")]
#[test_case("tls")]
#[test_case("immutable")]
#[tokio::test]
async fn rotate_reseals_with_the_newest_key_keeping_template_and_scope(name: &str) {
    let app = app();
    let input = parse_ss(&sealed(name));
    let (status, ctype, body) = call(&app.router, post("/v1/rotate", sealed(name))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(ctype, "application/json");
    assert!(!body.contains(&b'\n'), "compact JSON");
    let out = parse_ss(&body);

    // Template, name, namespace and scope annotations unchanged (SPEC §8 FIX).
    assert_eq!(out.spec.template, input.spec.template);
    assert_eq!(out.metadata.name, input.metadata.name);
    assert_eq!(out.metadata.namespace, input.metadata.namespace);
    let mut annotations = out.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.remove(ANNOTATION_KEY_ID).as_deref(),
        Some(key_id("rsa2048").as_str()),
        "key hint"
    );
    assert_eq!(
        annotations,
        input.metadata.annotations.clone().unwrap_or_default()
    );

    // Every item is now under rsa2048 (256-byte RSA block: base64 starts "AQ").
    let new_items = items(&out);
    assert_eq!(
        new_items.keys().collect::<Vec<_>>(),
        items(&input).keys().collect::<Vec<_>>()
    );
    assert!(
        new_items.values().all(|v| v.starts_with("AQ")),
        "{new_items:?}"
    );

    // It unseals with the newest key alone, to the same data.
    assert_eq!(
        unsealed_data(&out, &ring_of("rsa2048")),
        expected_data(name)
    );
}

#[tokio::test]
async fn rotate_reseals_v1_data() {
    let app = app();
    let (status, _, body) = call(&app.router, post("/v1/rotate", sealed("legacy-v1-data"))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let out = parse_ss(&body);
    assert!(
        out.spec
            .data
            .as_deref()
            .is_some_and(|d| d.starts_with("AQ"))
    );
    assert!(out.spec.encrypted_data.is_empty());
    assert_eq!(
        unsealed_data(&out, &ring_of("rsa2048")),
        expected_data("legacy-v1-data")
    );
}

#[tokio::test]
async fn rotate_leaves_items_under_the_newest_key_unchanged() {
    // rsa4096 is the newest: the fixture is already under it.
    let newest_4096 = app_with(store_of(&["rsa2048", "rsa4096"]), &["--rate-limit=0"]);
    let input = parse_ss(&sealed("opaque.strict"));
    let (status, _, body) = call(
        &newest_4096.router,
        post("/v1/rotate", sealed("opaque.strict")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let out = parse_ss(&body);
    assert_eq!(items(&out), items(&input));
    assert_eq!(
        out.metadata.annotations.as_ref().expect("hint")[ANNOTATION_KEY_ID],
        key_id("rsa4096")
    );

    // Mixed: one item under an old key is resealed, the others stay byte for byte.
    let app = app();
    let (_, _, body) = call(&app.router, post("/v1/rotate", sealed("opaque.strict"))).await;
    let mut mixed = parse_ss(&body);
    let old = items(&input);
    mixed.spec.encrypted_data.insert(
        "password".to_owned(),
        Value::String(old["password"].clone()),
    );
    let mixed_items = items(&mixed);
    let (status, _, body) = call(
        &app.router,
        post(
            "/v1/rotate",
            serde_json::to_vec(&mixed).expect("serialises"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let out = items(&parse_ss(&body));
    assert_eq!(out["username"], mixed_items["username"]);
    assert_eq!(out["api-token"], mixed_items["api-token"]);
    assert_ne!(out["password"], old["password"]);
    assert!(out["password"].starts_with("AQ"));
}

/// A store with the classical fixture key rsa2048 and, newest, rsa4096 with its ML-KEM half.
fn hybrid_store(newest_hybrid: bool) -> KeyStore {
    let store = store_of(&["rsa2048"]);
    let mut secret = typed_key_secret("rsa4096", 1_800_000_000);
    if newest_hybrid {
        let data = secret.data.as_mut().expect("data");
        data.insert(
            "tls.crt".to_owned(),
            k8s_openapi::ByteString(read("keys/rsa4096-pq.crt")),
        );
        let hex = String::from_utf8(read("keys/rsa4096.mlkem768.seed")).expect("text");
        let hex = hex.trim();
        let seed: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        data.insert(
            seal_api::crypto::MLKEM_SEED_DATA_KEY.to_owned(),
            k8s_openapi::ByteString(seed),
        );
    }
    store
        .apply_secret(&secret, KeyOrder::SecretCreationTimestamp)
        .expect("loads");
    store
}

fn is_hybrid_b64(text: &str) -> bool {
    seal_api::crypto::is_hybrid(&seal_api::decode_base64(text).expect("base64"))
}

#[tokio::test]
async fn rotate_keeps_each_items_format_and_upgrades_only_when_asked() {
    let app = app_with(hybrid_store(true), &["--rate-limit=0"]);
    let ring = app.state.keys.keyring();
    let input = sealed("opaque.strict");
    // Plain rotate: the items are already under the newest key and stay classical, unchanged.
    let (status, _, body) = call(&app.router, post("/v1/rotate", input.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let plain = parse_ss(&body);
    assert_eq!(items(&plain), items(&parse_ss(&input)));

    // ?pq=true: every item comes back hybrid and still unseals to the same data.
    let (status, _, body) = call(&app.router, post("/v1/rotate?pq=true", input.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let upgraded = parse_ss(&body);
    assert!(items(&upgraded).values().all(|v| is_hybrid_b64(v)));
    assert_eq!(
        unsealed_data(&upgraded, &ring),
        expected_data("opaque.strict")
    );
    // /v1/verify accepts the hybrid object.
    let json = serde_json::to_vec(&upgraded).expect("serialises");
    let (status, _, _) = call(&app.router, post("/v1/verify", json.clone())).await;
    assert_eq!(status, StatusCode::OK);

    // Hybrid under the newest key: unchanged by either rotate.
    for path in ["/v1/rotate", "/v1/rotate?pq=true"] {
        let (status, _, body) = call(&app.router, post(path, json.clone())).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(items(&parse_ss(&body)), items(&upgraded), "{path}");
    }

    // Without the ML-KEM half, the same RSA key cannot open hybrid items.
    let classical = app_with(hybrid_store(false), &["--rate-limit=0"]);
    let (status, _, body) = call(&classical.router, post("/v1/verify", json.clone())).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "{}",
        String::from_utf8_lossy(&body)
    );

    // A newer key without an ML-KEM half: hybrid items are refused, never downgraded.
    let store = hybrid_store(true);
    store
        .apply_secret(
            &typed_key_secret("rsa4096-b", 1_900_000_000),
            KeyOrder::SecretCreationTimestamp,
        )
        .expect("loads");
    let classical_newest = app_with(store, &["--rate-limit=0"]);
    let (status, _, body) = call(&classical_newest.router, post("/v1/rotate", json)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let body = String::from_utf8(body).expect("text");
    assert!(
        body.contains("cannot seal post-quantum: the newest key has no ML-KEM-768 key"),
        "{body}"
    );
}

#[test_case("wrong-scope")]
#[test_case("multikey-b")]
#[tokio::test]
async fn rotate_conflicts_when_nothing_decrypts(name: &str) {
    let app = app();
    let (status, _, body) = call(&app.router, post("/v1/rotate", sealed(name))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        String::from_utf8_lossy(&body).trim(),
        "no key could decrypt secret (api-token, password, username)"
    );
}

#[tokio::test]
async fn rotate_conflicts_on_garbage_items() {
    let app = app();
    let garbage = serde_json::json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {"encryptedData": {
            "a": "AQAB",
            "b": "not base64!",
            "c": 5,
            "d": seal_api::encode_base64(&[0x02, 0x00, 1, 2, 3]),
        }}
    });
    let (status, _, body) = call(&app.router, post("/v1/rotate", garbage.to_string())).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let msg = String::from_utf8_lossy(&body);
    assert!(msg.contains("SealedSecret data is too short"), "{msg}");
    assert!(
        msg.contains("encryptedData value is not a string (c)"),
        "{msg}"
    );
    assert!(msg.contains("illegal base64 data"), "{msg}");

    let (status, _, _) = call(&app.router, post("/v1/verify", garbage.to_string())).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn rotate_without_keys_conflicts() {
    let app = app_with(KeyStore::new(), &["--rate-limit=0"]);
    let (status, _, _) = call(&app.router, post("/v1/rotate", sealed("opaque.strict"))).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn wrong_methods_and_paths_are_refused() {
    let app = app();
    assert_eq!(
        call(&app.router, get("/v1/verify")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        call(&app.router, post("/v1/cert.pem", "x")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        call(&app.router, get("/nope")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn requests_are_counted_and_served_as_metrics() {
    let app = app();
    call(&app.router, get("/healthz")).await;
    call(&app.router, post("/v1/verify", sealed("opaque.strict"))).await;
    call(&app.router, post("/v1/verify", sealed("wrong-scope"))).await;
    call(&app.router, get("/some/random/path")).await;
    app.state.metrics.set_key_count(app.state.keys.len());

    let metrics = metrics_router(Arc::clone(&app.state.metrics));
    let (status, ctype, body) = call(&metrics, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let text = String::from_utf8(body).expect("text");
    for want in [
        "sealed_secrets_controller_http_requests_total{path=\"/healthz\",code=\"200\",method=\"GET\"} 1",
        "sealed_secrets_controller_http_requests_total{path=\"/v1/verify\",code=\"200\",method=\"POST\"} 1",
        "sealed_secrets_controller_http_requests_total{path=\"/v1/verify\",code=\"409\",method=\"POST\"} 1",
        "sealed_secrets_controller_http_requests_total{path=\"other\",code=\"404\",method=\"GET\"} 1",
        "sealed_secrets_controller_http_request_duration_seconds_count{path=\"/v1/verify\",method=\"POST\"} 2",
        "sealed_secrets_controller_build_info{revision=\"test\"} 1",
        "sealed_secrets_controller_keys 2",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// The key manager against the API double.

mod key_manager {
    use std::sync::Mutex;
    use std::time::Duration;

    use kube_double::ApiDouble;
    use seal_controller::keys::{KeyError, controller_namespace, run_key_manager};
    use tokio::sync::watch;

    use super::*;

    struct Running {
        api: ApiDouble,
        ns: String,
        store: KeyStore,
        ready: Arc<Readiness>,
        bad: Arc<Mutex<Vec<String>>>,
        leader: watch::Sender<bool>,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    fn secret_json(name: &str, stem: &str, label: Option<&str>, ns: &str) -> Value {
        let mut s = typed_key_secret(stem, 0);
        s.metadata.name = Some(name.to_owned());
        s.metadata.namespace = Some(ns.to_owned());
        s.metadata.creation_timestamp = None;
        s.metadata.labels =
            label.map(|v| BTreeMap::from([(LABEL_SEALED_SECRETS_KEY.to_owned(), v.to_owned())]));
        serde_json::to_value(&s).expect("serialises")
    }

    async fn start(api: ApiDouble, args: &[&str], leading: bool) -> Running {
        let ns = controller_namespace();
        let store = KeyStore::new();
        let ready = Arc::new(Readiness::default());
        ready.set_caches_synced();
        let bad = Arc::new(Mutex::new(Vec::new()));
        let (leader, leader_rx) = watch::channel(leading);
        let seen = Arc::clone(&bad);
        let task = tokio::spawn(run_key_manager(
            api.client(),
            Arc::new(config(args)),
            store.clone(),
            leader_rx,
            Arc::clone(&ready),
            move |s: &Secret, _: &KeyError| {
                seen.lock()
                    .expect("lock")
                    .push(s.metadata.name.clone().unwrap_or_default());
            },
        ));
        Running {
            api,
            ns,
            store,
            ready,
            bad,
            leader,
            task,
        }
    }

    async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !cond() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting: {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn secrets(r: &Running) -> Vec<Value> {
        r.api.list("v1", "Secret", Some(&r.ns))
    }

    fn set_label(r: &Running, name: &str, value: Option<&str>) {
        r.api
            .modify("v1", "Secret", Some(&r.ns), name, |o| {
                let labels = &mut o["metadata"]["labels"];
                match value {
                    Some(v) => {
                        if !labels.is_object() {
                            *labels = serde_json::json!({});
                        }
                        labels[LABEL_SEALED_SECRETS_KEY] = Value::String(v.to_owned());
                    }
                    None => *labels = Value::Null,
                }
            })
            .expect("modified");
    }

    #[tokio::test]
    async fn key_secrets_are_hot_reloaded() {
        let api = ApiDouble::start().await;
        let ns = controller_namespace();
        api.insert(secret_json(
            "sealed-secrets-keyaaaaa",
            "rsa2048",
            Some("active"),
            &ns,
        ));
        api.insert(secret_json("sealed-secrets-key", "rsa4096", None, &ns));
        api.insert(secret_json("unrelated", "rsa4096-b", None, &ns));
        let mut broken = secret_json("sealed-secrets-keybad", "rsa2048", Some("active"), &ns);
        broken["data"]["tls.key"] = Value::String(seal_api::encode_base64(&read("keys/ec.key")));
        api.insert(broken);
        let r = start(api, &["--key-renew-period=0"], false).await;

        wait_for("keys loaded", || r.ready.is_ready()).await;
        assert_eq!(r.store.len(), 2, "the labelled key and the legacy one");
        assert_eq!(*r.bad.lock().expect("lock"), ["sealed-secrets-keybad"]);

        set_label(&r, "sealed-secrets-keyaaaaa", Some("compromised"));
        wait_for("compromised key dropped", || r.store.len() == 1).await;
        set_label(&r, "sealed-secrets-keyaaaaa", None);
        set_label(&r, "sealed-secrets-keyaaaaa", Some("active"));
        wait_for("reactivated key loaded", || r.store.len() == 2).await;
        r.api
            .delete("v1", "Secret", Some(&r.ns), "sealed-secrets-keyaaaaa")
            .expect("deleted");
        wait_for("deleted key dropped", || r.store.len() == 1).await;
        assert_eq!(r.store.key_ids(), [key_id("rsa4096")]);

        // The legacy Secret relabelled away, then a new key added.
        set_label(&r, "sealed-secrets-key", Some("compromised"));
        wait_for("legacy key dropped", || r.store.is_empty()).await;
        r.api.insert(secret_json(
            "sealed-secrets-keybbbbb",
            "rsa4096-b",
            Some("active"),
            &r.ns,
        ));
        wait_for("new key loaded", || r.store.len() == 1).await;
        assert_eq!(r.store.key_ids(), [key_id("rsa4096-b")]);

        // Fixing the broken Secret registers it.
        r.api
            .modify("v1", "Secret", Some(&r.ns), "sealed-secrets-keybad", |o| {
                o["data"]["tls.key"] =
                    Value::String(seal_api::encode_base64(&read("keys/rsa2048.key")));
            })
            .expect("modified");
        wait_for("fixed key loaded", || r.store.len() == 2).await;

        // Not the leader: nothing was generated.
        assert_eq!(secrets(&r).len(), 4, "four seeded and one deleted");
    }

    #[tokio::test]
    async fn without_watching_keys_are_loaded_once() {
        let api = ApiDouble::start().await;
        let ns = controller_namespace();
        api.insert(secret_json(
            "sealed-secrets-keyaaaaa",
            "rsa2048",
            Some("active"),
            &ns,
        ));
        api.insert(secret_json("sealed-secrets-key", "rsa4096", None, &ns));
        let r = start(
            api,
            &["--watch-for-secrets=false", "--key-renew-period=0"],
            false,
        )
        .await;
        wait_for("keys loaded", || r.ready.is_ready()).await;
        assert_eq!(r.store.len(), 2);
        r.api.insert(secret_json(
            "sealed-secrets-keybbbbb",
            "rsa4096-b",
            Some("active"),
            &r.ns,
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(r.store.len(), 2);
    }

    #[tokio::test]
    async fn the_leader_generates_a_key_when_there_is_none() {
        let api = ApiDouble::start().await;
        let r = start(
            api,
            &[
                "--key-size=2048",
                "--key-renew-period=0",
                "--my-cn=seal-test",
                "--privatekey-labels=team=a",
                "--privatekey-annotations=note=x",
            ],
            false,
        )
        .await;
        wait_for("keys loaded", || r.ready.is_ready()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(secrets(&r).is_empty(), "a standby generates nothing");

        r.leader.send(true).expect("manager alive");
        wait_for("key generated", || r.store.len() == 1).await;
        let created = secrets(&r);
        assert_eq!(created.len(), 1);
        let s = &created[0];
        assert_eq!(s["type"], "kubernetes.io/tls");
        assert_eq!(s["metadata"]["generateName"], "sealed-secrets-key");
        assert!(
            s["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("sealed-secrets-key") && n.len() > 18)
        );
        assert_eq!(s["metadata"]["labels"][LABEL_SEALED_SECRETS_KEY], "active");
        assert_eq!(s["metadata"]["labels"]["team"], "a");
        assert_eq!(s["metadata"]["annotations"]["note"], "x");
        let cert = Certificate::from_pem(r.store.newest_cert_pem().expect("cert").as_bytes())
            .expect("parses");
        assert_eq!(cert.common_name().as_deref(), Some("seal-test"));
        assert_eq!(cert.public_key().bits(), 2048);
        // Every generated key is hybrid: the seed in the Secret, the ML-KEM key in the cert.
        let seed = s["data"][seal_api::crypto::MLKEM_SEED_DATA_KEY]
            .as_str()
            .expect("a seed item");
        assert_eq!(seal_api::decode_base64(seed).expect("base64").len(), 64);
        assert!(cert.mlkem_public_key().expect("verifies").is_some());

        // Renewal is off: nothing more.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(secrets(&r).len(), 1);
    }

    #[tokio::test]
    async fn the_leader_renews_a_stale_key_once() {
        // The fixture key's certificate is from 2025-01-01: older than a 720h period.
        let api = ApiDouble::start().await;
        let ns = controller_namespace();
        api.insert(secret_json(
            "sealed-secrets-keyaaaaa",
            "rsa2048",
            Some("active"),
            &ns,
        ));
        let r = start(api, &["--key-size=2048"], true).await;
        wait_for("key renewed", || r.store.len() == 2).await;
        assert_ne!(
            r.store.key_ids()[0],
            key_id("rsa2048"),
            "the new key is the newest"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            secrets(&r).len(),
            2,
            "one renewal, then the next is a period away"
        );
    }

    #[tokio::test]
    async fn the_leader_honours_the_cutoff_time() {
        let api = ApiDouble::start().await;
        let ns = controller_namespace();
        api.insert(secret_json(
            "sealed-secrets-keyaaaaa",
            "rsa2048",
            Some("active"),
            &ns,
        ));
        // A cutoff before the key's NotBefore: nothing to do.
        let r = start(
            api.clone(),
            &[
                "--key-size=2048",
                "--key-renew-period=0",
                "--key-cutoff-time=Mon, 02 Jan 2006 15:04:05 -0700",
            ],
            true,
        )
        .await;
        wait_for("keys loaded", || r.ready.is_ready()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(r.store.len(), 1);
        drop(r);

        // A cutoff after it: a new key at start.
        let r = start(
            api,
            &[
                "--key-size=2048",
                "--key-renew-period=0",
                "--key-cutoff-time=Mon, 02 Jun 2025 00:00:00 +0000",
            ],
            true,
        )
        .await;
        wait_for("key generated", || r.store.len() == 2).await;
        assert_eq!(secrets(&r).len(), 2);
    }
}

// ---------------------------------------------------------------------------------------------
// The sealing page (`/ui/`).

#[tokio::test]
async fn the_sealing_page_is_served_with_its_headers_and_relative_redirects() {
    let app = app();
    for a in &seal_ui::ASSETS {
        let resp = app
            .router
            .clone()
            .oneshot(get(&format!("/ui/{}", a.name)))
            .await
            .expect("infallible");
        assert_eq!(resp.status(), StatusCode::OK, "{}", a.name);
        for (name, value) in seal_ui::SECURITY_HEADERS {
            assert_eq!(
                resp.headers().get(name).map(|v| v.as_bytes()),
                Some(value.as_bytes()),
                "{name}"
            );
        }
        assert!(resp.headers().get(header::SET_COOKIE).is_none());
        let (_, ctype, body) = call(&app.router, get(&format!("/ui/{}", a.name))).await;
        assert_eq!((ctype.as_str(), body.as_slice()), (a.content_type, a.body));
    }
    let (status, ctype, body) = call(&app.router, get("/ui/")).await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::OK, "text/html; charset=utf-8")
    );
    assert_eq!(body, seal_ui::asset("").expect("page").body);

    // Relative, so `…/proxy/` and `…/proxy/ui` land on `…/proxy/ui/` behind any prefix.
    for path in ["/", "/ui"] {
        let resp = app
            .router
            .clone()
            .oneshot(get(path))
            .await
            .expect("infallible");
        assert_eq!(resp.status(), StatusCode::FOUND, "{path}");
        assert_eq!(
            resp.headers().get(header::LOCATION).map(|v| v.as_bytes()),
            Some(&b"ui/"[..])
        );
    }
    assert_eq!(
        call(&app.router, get("/ui/secret.txt")).await.0,
        StatusCode::NOT_FOUND
    );
    // The API is as it was, the page's certificate beside it.
    assert_eq!(call(&app.router, get("/healthz")).await.0, StatusCode::OK);
    assert_eq!(
        call(&app.router, get("/v1/cert.pem")).await.0,
        StatusCode::OK
    );
}

#[test_case(&["--disable-ui"] ; "by flag")]
#[test_case(&["--disable-ui=true"] ; "by flag value")]
#[tokio::test]
async fn disable_ui_turns_the_page_off(args: &[&str]) {
    let app = app_with(store_of(&["rsa4096"]), args);
    for path in ["/", "/ui", "/ui/", "/ui/app.js"] {
        assert_eq!(
            call(&app.router, get(path)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        call(&app.router, get("/v1/cert.pem")).await.0,
        StatusCode::OK
    );
}

#[test]
fn disable_ui_reads_its_environment_variable() {
    let cfg = Config::try_parse_from(["controller"]).expect("defaults");
    assert!(!cfg.disable_ui);
    // The env rule of SPEC §8: SEALED_SECRETS_<FLAG>.
    let cmd = <Config as clap::CommandFactory>::command();
    let env = cmd
        .get_arguments()
        .find(|a| a.get_id() == "disable_ui")
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned());
    assert_eq!(env.as_deref(), Some("SEALED_SECRETS_DISABLE_UI"));
}
