//! Hardening: the real controller (watches, applier, key manager, leader election, HTTP) against
//! the in-process API double while the double misbehaves on purpose.
//!
//! - API faults: 500s, timeouts, 409s, watch disconnects and `410 Gone` relists.
//! - Key Secrets: malformed ones, deletion at runtime, a process killed while generating.
//! - Two replicas with `--leader-elect`, and the election itself.
//! - Large objects, namespace and label scoping, Flux's `requestedAt`, `--update-status=false`.
//! - No plaintext in logs, events or status.
//!
//! Fixtures shared with `reconcile.rs` live in `common/`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskCx, Poll};
use std::time::Duration;

use base64::Engine as _;
use clap::Parser;
use http::Method;
use k8s_openapi::api::core::v1::Secret;
use kube_double::{ApiDouble, Fault};
use seal_controller::Readiness;
use seal_controller::config::Config;
use seal_controller::controller::{self, Context};
use seal_controller::events::{EVENT_BAD_KEY, Recorder};
use seal_controller::keys::{self, KeyStore};
use seal_controller::leader::{self, LEASE_NAME, Timing};
use seal_controller::metrics::Metrics;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod common;
use common::*;

const LEASES: &str = "coordination.k8s.io/v1";

/// Replaces the spec of SealedSecret `name` (a `spec` change: the generation moves).
fn set_spec(api: &ApiDouble, name: &str, new: &Value) {
    api.modify(SS, "SealedSecret", Some(NS), name, |s| {
        s["spec"] = new["spec"].clone();
    })
    .expect("spec change");
}

// ---------------------------------------------------------------------------------------------
// A request tap: which replica sent what, and a switch that hangs its requests (a partition).

#[derive(Default)]
struct Probe {
    log: Mutex<Vec<(Method, String)>>,
    stalled: AtomicBool,
}

impl Probe {
    fn requests(&self) -> Vec<(Method, String)> {
        self.log.lock().expect("lock").clone()
    }
    /// Secret writes in `NS` and SealedSecret status writes: what only a leader may send.
    fn object_writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|(m, p)| {
                matches!(*m, Method::POST | Method::PUT | Method::DELETE)
                    && (p.starts_with(&format!("/api/v1/namespaces/{NS}/secrets"))
                        || p.ends_with("/status"))
            })
            .map(|(m, p)| format!("{m} {p}"))
            .collect()
    }
}

struct Tap<S> {
    inner: S,
    probe: Arc<Probe>,
}

impl<S, B> tower::Service<http::Request<B>> for Tap<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
    S::Response: 'static,
    S::Error: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskCx<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let target = match req.uri().query() {
            Some(q) => format!("{}?{q}", req.uri().path()),
            None => req.uri().path().to_owned(),
        };
        self.probe
            .log
            .lock()
            .expect("lock")
            .push((req.method().clone(), target));
        if self.probe.stalled.load(Ordering::SeqCst) {
            // A partition: the request never gets an answer.
            return Box::pin(std::future::pending());
        }
        Box::pin(self.inner.call(req))
    }
}

struct TapLayer(Arc<Probe>);

impl<S> tower::Layer<S> for TapLayer {
    type Service = Tap<S>;
    fn layer(&self, inner: S) -> Tap<S> {
        Tap {
            inner,
            probe: self.0.clone(),
        }
    }
}

fn tapped_client(api: &ApiDouble, probe: Arc<Probe>) -> kube::Client {
    kube::client::ClientBuilder::try_from(api.config())
        .expect("client config")
        .with_layer(&TapLayer(probe))
        .build()
}

/// A client whose requests time out after `read` without an answer (watches stay alive through
/// the double's bookmarks, which the caller must make frequent).
fn impatient_client(api: &ApiDouble, read: Duration) -> kube::Client {
    let mut cfg = api.config();
    cfg.read_timeout = Some(read);
    kube::Client::try_from(cfg).expect("client")
}

// ---------------------------------------------------------------------------------------------
// Running the controller

struct Running {
    ctx: Arc<Context>,
    keys: KeyStore,
    metrics: Arc<Metrics>,
    synced: Arc<AtomicBool>,
    health: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn config(flags: &[&str]) -> Arc<Config> {
    let mut args = vec!["controller", "--workers=2", "--key-renew-period=0"];
    args.extend_from_slice(flags);
    Arc::new(Config::try_parse_from(args).expect("flags"))
}

/// Serves the API router (`/healthz`, …) on a local port, as `run` does.
async fn serve_http(
    keys: &KeyStore,
    metrics: &Arc<Metrics>,
    ready: &Arc<Readiness>,
    cfg: &Arc<Config>,
) -> (SocketAddr, JoinHandle<()>) {
    let state = seal_controller::http::HttpState {
        keys: keys.clone(),
        metrics: metrics.clone(),
        ready: ready.clone(),
        cfg: cfg.clone(),
    };
    let router = seal_controller::http::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    (addr, task)
}

/// The status code of `GET /healthz`, or `None` when nothing answered within 2 s.
async fn healthz(addr: SocketAddr) -> Option<u16> {
    // A plain blocking socket on a blocking thread: tokio's io-util is not a dependency.
    tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let t = Duration::from_secs(2);
        let mut s = std::net::TcpStream::connect_timeout(&addr, t).ok()?;
        s.set_read_timeout(Some(t)).ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).ok()?;
        let head = String::from_utf8_lossy(&buf);
        head.split_whitespace().nth(1)?.parse().ok()
    })
    .await
    .ok()
    .flatten()
}

/// Polls `/healthz` every 50 ms until dropped; collects every answer that was not 200.
struct HealthWatch {
    bad: Arc<Mutex<Vec<Option<u16>>>>,
    polls: Arc<std::sync::atomic::AtomicUsize>,
    task: JoinHandle<()>,
    addr: SocketAddr,
}

impl HealthWatch {
    fn start(addr: SocketAddr) -> Self {
        let bad = Arc::new(Mutex::new(Vec::new()));
        let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (b, p) = (bad.clone(), polls.clone());
        let task = tokio::spawn(async move {
            loop {
                let code = healthz(addr).await;
                if code != Some(200) {
                    b.lock().expect("lock").push(code);
                }
                p.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self {
            bad,
            polls,
            task,
            addr,
        }
    }

    async fn assert_always_ok(self) {
        self.task.abort();
        let bad = self.bad.lock().expect("lock").clone();
        assert!(bad.is_empty(), "/healthz answered {bad:?}");
        assert!(self.polls.load(Ordering::SeqCst) > 0, "/healthz was polled");
        assert_eq!(healthz(self.addr).await, Some(200));
    }
}

/// Starts the HTTP server, the key manager (reporting malformed keys as the binary does) and
/// the reconcile loop against `client`, with extra flags.
async fn start_with(client: kube::Client, flags: &[&str]) -> Running {
    let cfg = config(flags);
    let keys = KeyStore::new();
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(Readiness::default());
    let (health, http_task) = serve_http(&keys, &metrics, &ready, &cfg).await;
    let recorder = Recorder::new(client.clone(), "test");
    let (leader_tx, leader_rx) = watch::channel(true);
    let mut tasks = vec![http_task];
    {
        let (client, cfg, keys, ready) = (client.clone(), cfg.clone(), keys.clone(), ready.clone());
        let bad_key = recorder.clone();
        tasks.push(tokio::spawn(async move {
            let _keep = leader_tx;
            let _ = keys::run_key_manager(
                client,
                cfg,
                keys,
                leader_rx,
                ready,
                move |s: &Secret, err: &keys::KeyError| {
                    let (r, s, msg) = (
                        bad_key.clone(),
                        s.clone(),
                        format!("cannot load key: {err}"),
                    );
                    tokio::spawn(async move { r.publish_bad_key(&s, msg).await });
                },
            )
            .await;
        }));
    }
    tokio::time::timeout(
        Duration::from_secs(20),
        seal_controller::wait_for_keys(&keys),
    )
    .await
    .expect("keys load");
    let ctx = Arc::new(Context::new(
        client,
        keys.clone(),
        metrics.clone(),
        cfg,
        recorder,
    ));
    let synced = Arc::new(AtomicBool::new(false));
    {
        let (ctx, synced) = (ctx.clone(), synced.clone());
        let ns = keys::controller_namespace();
        tasks.push(tokio::spawn(async move {
            controller::run(ctx, &ns, move || synced.store(true, Ordering::SeqCst)).await;
        }));
    }
    Running {
        ctx,
        keys,
        metrics,
        synced,
        health,
        tasks,
    }
}

async fn start(api: &ApiDouble, flags: &[&str]) -> Running {
    start_with(api.client(), flags).await
}

/// How long the waits of these tests allow.
const WAIT: Duration = Duration::from_secs(20);

async fn eventually<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    common::eventually(what, WAIT, f).await
}

async fn wait_synced_in(api: &ApiDouble, ns: &str, name: &str, status: &str) -> Value {
    common::wait_synced_in(api, ns, name, status, WAIT).await
}

async fn wait_synced(api: &ApiDouble, name: &str, status: &str) -> Value {
    wait_synced_in(api, NS, name, status).await
}

/// Synced True at the current generation, and the Secret holds `item` = `want`.
async fn wait_converged(api: &ApiDouble, name: &str, item: &str, want: &str) {
    eventually(&format!("{name} converged to {item}={want}"), || {
        let s = ss(api, name);
        let current = s["status"]["observedGeneration"] == s["metadata"]["generation"]
            && synced_status(&s).as_deref() == Some("True")
            && condition(&s, "Reconciling").is_none();
        let sec = secret(api, name)?;
        (current && data_item(&sec, item) == want.as_bytes()).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 1. API faults

/// 500s on the initial list and watch, on create, on a status write and on events: the
/// controller keeps serving and converges.
#[tokio::test]
async fn server_errors_on_list_watch_create_status_and_events_are_retried() {
    let api = double_with_key().await;
    for (name, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        api.insert(sealed(name, &[("k", v)], "rsa2048"));
    }
    let get = Method::GET;
    let sealed_list = format!("/apis/{SS}/sealedsecrets?");
    api.fail_next(
        Fault::status(500)
            .on(get.clone())
            .path(&sealed_list)
            .times(2),
    );
    api.fail_next(Fault::status(500).on(get.clone()).path("watch=").times(2));
    api.fail_next(
        Fault::status(500)
            .on(Method::PUT)
            .path(&format!("/namespaces/{NS}/sealedsecrets/a/status")),
    );
    api.fail_next(
        Fault::status(500)
            .on(Method::POST)
            .path(&format!("/namespaces/{NS}/secrets")),
    );
    api.fail_next(Fault::status(500).on(Method::POST).path("/events"));

    let c = start(&api, &[]).await;
    let health = HealthWatch::start(c.health);
    for (name, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        wait_converged(&api, name, "k", v).await;
    }
    let failed = api.requests().iter().filter(|r| r.status == 500).count();
    assert_eq!(failed, 7, "every fault was hit");
    health.assert_always_ok().await;
    for name in ["a", "b", "c"] {
        let s = ss(&api, name);
        assert!(condition(&s, "Stalled").is_none(), "{s}");
        assert_eq!(condition(&s, "Ready").expect("Ready")["status"], "True");
    }
    assert!(c.metrics.render().contains("reason=\"status\""));
}

/// Timeouts (a delay longer than the client's read timeout), 409s and 500s on status writes
/// and on Secret replaces: retried until the Secret and the status are current.
#[tokio::test]
async fn timeouts_and_conflicts_on_replace_and_status_are_retried() {
    let api = double_with_key().await;
    // Requests time out after 1 s; idle watches get a bookmark every 200 ms, so only injected
    // delays time out.
    api.set_bookmark_interval(Duration::from_millis(200));
    api.insert(sealed("a", &[("k", "1")], "rsa2048"));
    api.insert(sealed("b", &[("k", "2")], "rsa2048"));
    api.fail_next(
        Fault::slow(Duration::from_secs(3))
            .on(Method::PUT)
            .path("/sealedsecrets/a/status"),
    );
    api.fail_next(
        Fault::status(409)
            .on(Method::PUT)
            .path("/sealedsecrets/b/status"),
    );
    api.fail_next(
        Fault::status(500)
            .on(Method::PUT)
            .path("/sealedsecrets/b/status"),
    );

    let c = start_with(impatient_client(&api, Duration::from_secs(1)), &[]).await;
    let health = HealthWatch::start(c.health);
    wait_converged(&api, "a", "k", "1").await;
    wait_converged(&api, "b", "k", "2").await;

    // Replacing a Secret: a 500, a timeout and a 409 before it goes through.
    let secret_a = format!("/namespaces/{NS}/secrets/a");
    let secret_b = format!("/namespaces/{NS}/secrets/b");
    api.fail_next(Fault::status(500).on(Method::PUT).path(&secret_a));
    api.fail_next(
        Fault::slow(Duration::from_secs(3))
            .on(Method::PUT)
            .path(&secret_b),
    );
    api.fail_next(Fault::status(409).on(Method::PUT).path(&secret_b));
    set_spec(&api, "a", &sealed("a", &[("k", "one")], "rsa2048"));
    set_spec(&api, "b", &sealed("b", &[("k", "two")], "rsa2048"));
    wait_converged(&api, "a", "k", "one").await;
    wait_converged(&api, "b", "k", "two").await;

    let failed: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.status >= 400)
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    // The 409 and 500s, plus conflicts the timed-out writes caused when they landed late.
    assert!(failed.len() >= 4, "faults hit: {failed:?}");
    health.assert_always_ok().await;
    assert!(c.metrics.render().contains("reason=\"update\""));
}

/// Watches that end, and a watch history compacted while they were down (`410 Gone`): the
/// relist catches every change made meanwhile (spec change, new object, deleted Secret,
/// deleted SealedSecret).
#[tokio::test]
async fn watch_disconnects_and_410_gone_relist_without_losing_changes() {
    let api = double_with_key().await;
    for (name, v) in [("a", "1"), ("b", "2"), ("d", "4")] {
        api.insert(sealed(name, &[("k", v)], "rsa2048"));
    }
    let c = start(&api, &[]).await;
    let health = HealthWatch::start(c.health);
    for (name, v) in [("a", "1"), ("b", "2"), ("d", "4")] {
        wait_converged(&api, name, "k", v).await;
    }
    eventually("synced", || c.synced.load(Ordering::SeqCst).then_some(())).await;

    // A plain disconnect: watches resume from their resourceVersion.
    api.close_watches();
    api.insert(sealed("e", &[("k", "5")], "rsa2048"));
    wait_converged(&api, "e", "k", "5").await;

    // Down for a while (every re-watch fails), changes meanwhile, then the history is gone.
    api.fail_next(Fault::status(500).on(Method::GET).path("watch=").always());
    api.close_watches();
    eventually("watches closed", || (api.watch_count() == 0).then_some(())).await;
    set_spec(&api, "a", &sealed("a", &[("k", "one")], "rsa2048"));
    api.insert(sealed("c", &[("k", "3")], "rsa2048"));
    api.delete("v1", "Secret", Some(NS), "b");
    api.delete(SS, "SealedSecret", Some(NS), "d");
    api.compact();
    api.clear_faults();

    wait_converged(&api, "a", "k", "one").await;
    wait_converged(&api, "c", "k", "3").await;
    wait_converged(&api, "b", "k", "2").await;
    eventually("d's Secret collected", || {
        secret(&api, "d").is_none().then_some(())
    })
    .await;
    eventually("d forgotten", || {
        (!c.metrics.render().contains("name=\"d\"")).then_some(())
    })
    .await;
    assert!(
        api.requests()
            .iter()
            .any(|r| r.status == 500 && r.is_watch()),
        "the watches were down"
    );
    health.assert_always_ok().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Key Secrets

fn bad_key_events(api: &ApiDouble, name: &str) -> Vec<(String, String, String)> {
    let ns = keys::controller_namespace();
    api.list("v1", "Event", Some(&ns))
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == name && e["involvedObject"]["kind"] == "Secret")
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
                e["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A bad PEM, a non-RSA key and a missing `tls.crt` are each reported once with a Warning
/// event on that Secret and skipped; the good key still works, and one added later too.
#[tokio::test]
async fn malformed_key_secrets_are_reported_and_skipped() {
    let api = double_with_key().await;
    let mut bad_pem = key_secret("sealed-secrets-keybadpem", "rsa2048");
    bad_pem["stringData"]["tls.key"] =
        json!("-----BEGIN RSA PRIVATE KEY-----\nnot base64!\n-----END RSA PRIVATE KEY-----\n");
    let mut non_rsa = key_secret("sealed-secrets-keynonrsa", "rsa2048");
    non_rsa["stringData"]["tls.key"] = json!(testdata("keys/ec.key"));
    non_rsa["stringData"]["tls.crt"] = json!(testdata("keys/ec.crt"));
    let mut no_crt = key_secret("sealed-secrets-keynocrt", "rsa4096");
    no_crt["stringData"]
        .as_object_mut()
        .expect("stringData")
        .remove("tls.crt");
    for s in [bad_pem, non_rsa, no_crt] {
        api.insert(s);
    }
    api.insert(sealed("db", &[("k", "v")], "rsa2048"));
    let c = start(&api, &[]).await;
    let health = HealthWatch::start(c.health);
    wait_converged(&api, "db", "k", "v").await;
    assert_eq!(c.keys.len(), 1, "only the good key is registered");

    for (name, detail) in [
        ("sealed-secrets-keybadpem", "tls.key"),
        ("sealed-secrets-keynonrsa", "tls.key"),
        ("sealed-secrets-keynocrt", "tls.crt"),
    ] {
        let evs = eventually(&format!("event on {name}"), || {
            Some(bad_key_events(&api, name)).filter(|e| !e.is_empty())
        })
        .await;
        assert_eq!(evs.len(), 1, "{name}: {evs:?}");
        let (type_, reason, message) = &evs[0];
        assert_eq!(
            (type_.as_str(), reason.as_str()),
            ("Warning", EVENT_BAD_KEY)
        );
        assert!(
            message.starts_with("cannot load key: ") && message.contains(detail),
            "{message}"
        );
        assert!(!message.contains("BEGIN"), "no key material: {message}");
    }

    // One added at runtime is reported too, and nothing crashed: a good key still registers.
    let mut late = key_secret("sealed-secrets-keylate", "rsa4096");
    late["stringData"]["tls.crt"] = json!(testdata("keys/rsa2048.crt"));
    api.insert(late);
    let evs = eventually("event on the late key", || {
        Some(bad_key_events(&api, "sealed-secrets-keylate")).filter(|e| !e.is_empty())
    })
    .await;
    assert!(evs[0].2.contains("does not belong"), "{evs:?}");
    api.insert(key_secret("sealed-secrets-keyb", "rsa4096"));
    eventually("second good key", || (c.keys.len() == 2).then_some(())).await;
    health.assert_always_ok().await;
}

/// A key Secret deleted while running is unregistered. An object that needs it goes
/// Synced=False after its spec changes, and the Secret already written stays; objects sealed
/// with another key are unaffected.
#[tokio::test]
async fn a_deleted_key_is_unregistered_and_written_secrets_stay() {
    let api = double_with_key().await;
    api.insert(key_secret("sealed-secrets-keybbbbb", "rsa4096"));
    api.insert(sealed("old", &[("k", "v1")], "rsa4096"));
    api.insert(sealed("other", &[("k", "x")], "rsa2048"));
    let c = start(&api, &[]).await;
    wait_converged(&api, "old", "k", "v1").await;
    wait_converged(&api, "other", "k", "x").await;
    assert_eq!(c.keys.len(), 2);

    api.delete(
        "v1",
        "Secret",
        Some(&keys::controller_namespace()),
        "sealed-secrets-keybbbbb",
    );
    eventually("key unregistered", || (c.keys.len() == 1).then_some(())).await;

    set_spec(&api, "old", &sealed("old", &[("k", "v2")], "rsa4096"));
    let s = eventually("old Synced=False at the new generation", || {
        let s = ss(&api, "old");
        (s["status"]["observedGeneration"] == 2 && synced_status(&s).as_deref() == Some("False"))
            .then_some(s)
    })
    .await;
    assert_eq!(
        s["status"]["conditions"][0]["message"],
        "no key could decrypt secret (k)"
    );
    let kept = secret(&api, "old").expect("the Secret already written stays");
    assert_eq!(data_item(&kept, "k"), b"v1");
    assert!(
        api.requests().iter().all(|r| !(r.method == Method::DELETE
            && r.targets("secrets")
            && r.path.ends_with("/old"))),
        "never deleted"
    );
    assert_eq!(synced_status(&ss(&api, "other")).as_deref(), Some("True"));
    assert_eq!(data_item(&secret(&api, "other").expect("kept"), "k"), b"x");
}

// ---------------------------------------------------------------------------------------------
// 4. Leader election

/// Short timings: the Lease lasts 2 s (the API takes whole seconds), the leader gives up after
/// 1.5 s without a renewal, and everyone tries every 250 ms.
const FAST: Timing = Timing {
    lease_duration: Duration::from_secs(2),
    renew_deadline: Duration::from_millis(1500),
    retry: Duration::from_millis(250),
};

fn lease(api: &ApiDouble) -> Option<Value> {
    api.get(
        LEASES,
        "Lease",
        Some(&keys::controller_namespace()),
        LEASE_NAME,
    )
}

fn holder(api: &ApiDouble) -> Option<String> {
    lease(api)?["spec"]["holderIdentity"]
        .as_str()
        .map(str::to_owned)
}

/// One controller process with `--leader-elect`, wired as `seal_controller::run` wires it, on a
/// tapped client.
struct Replica {
    id: String,
    probe: Arc<Probe>,
    leading: watch::Receiver<bool>,
    alive: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    election: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Replica {
    async fn start(api: &ApiDouble, id: &str, timing: Timing) -> Replica {
        let probe = Arc::new(Probe::default());
        let client = tapped_client(api, probe.clone());
        let cfg = config(&["--leader-elect"]);
        let keys = KeyStore::new();
        let metrics = Arc::new(Metrics::default());
        let ready = Arc::new(Readiness::default());
        let namespace = keys::controller_namespace();
        let recorder = Recorder::new(client.clone(), id);
        let (tx, leading) = watch::channel(false);
        let (stop, stop_rx) = watch::channel(false);
        let election = tokio::spawn(leader::run(
            client.clone(),
            namespace.clone(),
            id.to_owned(),
            timing,
            tx,
            async move {
                let mut rx = stop_rx;
                let _ = rx.wait_for(|s| *s).await;
            },
        ));
        let mut tasks = Vec::new();
        {
            let (client, cfg, keys, leader) =
                (client.clone(), cfg.clone(), keys.clone(), leading.clone());
            let ready = ready.clone();
            tasks.push(tokio::spawn(async move {
                let _ = keys::run_key_manager(
                    client,
                    cfg,
                    keys,
                    leader,
                    ready,
                    |_: &Secret, _: &keys::KeyError| {},
                )
                .await;
            }));
        }
        {
            let mut leader = leading.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    if leader.wait_for(|l| *l).await.is_err() {
                        return;
                    }
                    seal_controller::wait_for_keys(&keys).await;
                    let ctx = Arc::new(Context::new(
                        client.clone(),
                        keys.clone(),
                        metrics.clone(),
                        cfg.clone(),
                        recorder.clone(),
                    ));
                    tokio::select! {
                        () = controller::run(ctx, &namespace, || {}) => {}
                        _ = leader.wait_for(|l| !*l) => {}
                    }
                }
            }));
        }
        Replica {
            id: id.to_owned(),
            probe,
            leading,
            alive: Arc::new(AtomicBool::new(true)),
            stop,
            election: Some(election),
            tasks,
        }
    }

    fn is_leading(&self) -> bool {
        self.alive.load(Ordering::SeqCst) && *self.leading.borrow()
    }

    /// The process dies: nothing is released.
    fn kill(&mut self) {
        self.alive.store(false, Ordering::SeqCst);
        if let Some(e) = self.election.take() {
            e.abort();
        }
        for t in &self.tasks {
            t.abort();
        }
    }

    /// SIGTERM: the Lease is released on the way out.
    async fn shut_down(&mut self) {
        self.stop.send_replace(true);
        if let Some(e) = self.election.take() {
            tokio::time::timeout(Duration::from_secs(5), e)
                .await
                .expect("election ends")
                .expect("election task");
        }
        self.alive.store(false, Ordering::SeqCst);
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Samples who leads every 10 ms and remembers any moment with two leaders.
fn watch_for_two_leaders(replicas: &[&Replica]) -> (Arc<AtomicBool>, JoinHandle<()>) {
    let both = Arc::new(AtomicBool::new(false));
    let flags: Vec<(watch::Receiver<bool>, Arc<AtomicBool>)> = replicas
        .iter()
        .map(|r| (r.leading.clone(), r.alive.clone()))
        .collect();
    let b = both.clone();
    let task = tokio::spawn(async move {
        loop {
            let n = flags
                .iter()
                .filter(|(l, alive)| alive.load(Ordering::SeqCst) && *l.borrow())
                .count();
            if n > 1 {
                b.store(true, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    (both, task)
}

async fn leader_of<'a>(api: &ApiDouble, replicas: [&'a Replica; 2]) -> &'a Replica {
    let id = eventually("a leader", || {
        let h = holder(api)?;
        replicas
            .iter()
            .any(|r| r.id == h && r.is_leading())
            .then_some(h)
    })
    .await;
    replicas
        .into_iter()
        .find(|r| r.id == id)
        .expect("a replica")
}

/// Two replicas race for the Lease: one leads and alone writes Secrets and status; when it is
/// killed the other takes over within the lease duration and carries on.
#[tokio::test]
async fn two_replicas_one_leader_and_failover_within_the_lease_duration() {
    let api = double_with_key().await;
    api.insert(sealed("a", &[("k", "1")], "rsa2048"));
    let mut r1 = Replica::start(&api, "replica-1", FAST).await;
    let mut r2 = Replica::start(&api, "replica-2", FAST).await;
    let (two, sampler) = watch_for_two_leaders(&[&r1, &r2]);
    let first = leader_of(&api, [&r1, &r2]).await.id.clone();
    wait_converged(&api, "a", "k", "1").await;
    api.insert(sealed("b", &[("k", "2")], "rsa2048"));
    wait_converged(&api, "b", "k", "2").await;

    let (leader, follower) = if first == r1.id {
        (&mut r1, &mut r2)
    } else {
        (&mut r2, &mut r1)
    };
    assert!(!leader.probe.object_writes().is_empty());
    assert_eq!(
        follower.probe.object_writes(),
        Vec::<String>::new(),
        "the follower wrote"
    );
    assert!(!follower.is_leading());

    // The leader dies without releasing: the follower waits out the lease, then leads.
    leader.kill();
    let killed = tokio::time::Instant::now();
    eventually("failover", || {
        (follower.is_leading() && holder(&api).as_deref() == Some(follower.id.as_str()))
            .then_some(())
    })
    .await;
    let took = killed.elapsed();
    assert!(
        took <= FAST.lease_duration + FAST.retry * 2,
        "failover took {took:?}"
    );
    let before = leader.probe.object_writes().len();
    api.insert(sealed("c", &[("k", "3")], "rsa2048"));
    wait_converged(&api, "c", "k", "3").await;
    assert!(
        !follower.probe.object_writes().is_empty(),
        "the new leader writes"
    );
    assert_eq!(
        leader.probe.object_writes().len(),
        before,
        "the dead one does not"
    );
    assert_eq!(lease(&api).expect("lease")["spec"]["leaseTransitions"], 1);
    sampler.abort();
    assert!(!two.load(Ordering::SeqCst), "two leaders at once");
    follower.shut_down().await;
    assert_eq!(holder(&api), None, "released on shutdown");
}

/// A leader cut off from the API (its requests hang) steps down within the renew deadline,
/// before the other replica may take over, so there are never two leaders.
#[tokio::test]
async fn a_partitioned_leader_steps_down_before_the_other_takes_over() {
    let api = double_with_key().await;
    let r1 = Replica::start(&api, "replica-1", FAST).await;
    let r2 = Replica::start(&api, "replica-2", FAST).await;
    let (two, sampler) = watch_for_two_leaders(&[&r1, &r2]);
    let leader = leader_of(&api, [&r1, &r2]).await;
    let follower = if leader.id == r1.id { &r2 } else { &r1 };
    leader.probe.stalled.store(true, Ordering::SeqCst);
    let cut = tokio::time::Instant::now();
    eventually("the cut-off leader steps down", || {
        (!leader.is_leading()).then_some(())
    })
    .await;
    assert!(
        cut.elapsed() <= FAST.renew_deadline + FAST.retry,
        "stepped down after {:?}",
        cut.elapsed()
    );
    eventually("the other takes over", || {
        (follower.is_leading() && holder(&api).as_deref() == Some(follower.id.as_str()))
            .then_some(())
    })
    .await;
    api.insert(sealed("a", &[("k", "1")], "rsa2048"));
    wait_converged(&api, "a", "k", "1").await;
    sampler.abort();
    assert!(!two.load(Ordering::SeqCst), "two leaders at once");
}

async fn elect(
    api: &ApiDouble,
    id: &str,
) -> (watch::Receiver<bool>, watch::Sender<bool>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(leader::run(
        api.client(),
        keys::controller_namespace(),
        id.to_owned(),
        FAST,
        tx,
        async move {
            let mut rx = stop_rx;
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    (rx, stop, task)
}

async fn wait_leading(rx: &watch::Receiver<bool>, want: bool) {
    eventually(&format!("leading={want}"), || {
        (*rx.borrow() == want).then_some(())
    })
    .await;
}

/// The election alone: acquire a missing Lease, renew it, and release it on shutdown.
#[tokio::test]
async fn leader_acquires_renews_and_releases() {
    let api = ApiDouble::start().await;
    let (rx, stop, task) = elect(&api, "me").await;
    wait_leading(&rx, true).await;
    let l = lease(&api).expect("created");
    assert_eq!(l["spec"]["holderIdentity"], "me");
    assert_eq!(l["spec"]["leaseDurationSeconds"], 2);
    assert_eq!(l["spec"]["leaseTransitions"], 0);
    let renewed = l["spec"]["renewTime"].clone();
    eventually("renewed", || {
        (lease(&api)?["spec"]["renewTime"] != renewed).then_some(())
    })
    .await;
    assert_eq!(holder(&api).as_deref(), Some("me"));
    stop.send_replace(true);
    task.await.expect("election ends");
    assert!(!*rx.borrow());
    assert_eq!(holder(&api), None);
}

/// Someone else's Lease is taken over only once it has not moved for its duration; a 409 on
/// the takeover is a lost race, retried.
#[tokio::test]
async fn leader_takes_over_an_expired_lease_and_survives_a_conflict() {
    let api = ApiDouble::start().await;
    api.insert(json!({
        "apiVersion": LEASES, "kind": "Lease",
        "metadata": {"name": LEASE_NAME, "namespace": keys::controller_namespace()},
        "spec": {"holderIdentity": "ghost", "leaseDurationSeconds": 1,
                 "renewTime": "2020-01-01T00:00:00.000000Z", "leaseTransitions": 3},
    }));
    api.fail_next(Fault::status(409).on(Method::PUT).path("/leases/"));
    let started = tokio::time::Instant::now();
    let (rx, _stop, _task) = elect(&api, "me").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!*rx.borrow(), "waits out the lease by its own clock");
    wait_leading(&rx, true).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    let l = lease(&api).expect("lease");
    assert_eq!(l["spec"]["holderIdentity"], "me");
    assert_eq!(l["spec"]["leaseTransitions"], 4);
    assert!(
        api.requests()
            .iter()
            .any(|r| r.status == 409 && r.targets("leases")),
        "the conflict was hit"
    );
}

/// 409s on renewals (within the renew deadline) do not drop leadership; a leader that cannot
/// renew for longer steps down.
#[tokio::test]
async fn leader_rides_out_renewal_conflicts_but_not_a_lost_lease() {
    let api = ApiDouble::start().await;
    let (rx, _stop, _task) = elect(&api, "me").await;
    wait_leading(&rx, true).await;
    let mut changes = rx.clone();
    changes.mark_unchanged();
    api.fail_next(Fault::status(409).on(Method::PUT).path("/leases/").times(3));
    eventually("conflicts hit", || {
        (api.requests().iter().filter(|r| r.status == 409).count() == 3).then_some(())
    })
    .await;
    tokio::time::sleep(FAST.retry * 2).await;
    assert!(!changes.has_changed().expect("alive"), "never stepped down");
    assert!(*rx.borrow());

    api.fail_next(Fault::status(409).on(Method::PUT).path("/leases/").always());
    let since = tokio::time::Instant::now();
    wait_leading(&rx, false).await;
    let took = since.elapsed();
    assert!(took <= FAST.renew_deadline + FAST.retry * 2, "{took:?}");
}

// ---------------------------------------------------------------------------------------------
// 6. Scoping flags, Flux, --update-status=false

/// `--all-namespaces=false --additional-namespaces=…`: one controller watches exactly the
/// controller namespace and the listed ones; others are left alone.
#[tokio::test]
async fn additional_namespaces_are_the_only_ones_reconciled_by_a_single_instance() {
    let api = double_with_key().await;
    let home = keys::controller_namespace();
    for ns in [NS, "extra", "other", home.as_str()] {
        api.insert(sealed_in(ns, "db", &[("k", ns.as_bytes())], "rsa2048"));
    }
    let _c = start(
        &api,
        &[
            "--all-namespaces=false",
            "--additional-namespaces=apps,extra,apps",
        ],
    )
    .await;
    for ns in [NS, "extra", home.as_str()] {
        wait_synced_in(&api, ns, "db", "True").await;
        let sec = secret_in(&api, ns, "db").expect("Secret");
        assert_eq!(data_item(&sec, "k"), ns.as_bytes());
    }
    // "other" is not watched at all (the request log below shows it), so nothing can reach it.
    assert!(ss_in(&api, "other", "db").get("status").is_none());
    assert!(secret_in(&api, "other", "db").is_none());

    let reqs = api.requests();
    let sealed_lists = |ns: Option<&str>| {
        let path = match ns {
            Some(ns) => format!("/apis/{SS}/namespaces/{ns}/sealedsecrets"),
            None => format!("/apis/{SS}/sealedsecrets"),
        };
        reqs.iter()
            .filter(|r| r.method == Method::GET && r.path == path && !r.is_watch())
            .count()
    };
    assert_eq!(sealed_lists(None), 0, "no cluster-wide list");
    assert_eq!(sealed_lists(Some("other")), 0);
    for ns in [NS, "extra", home.as_str()] {
        assert_eq!(sealed_lists(Some(ns)), 1, "one list (one watcher) in {ns}");
    }
}

/// `--label-selector`: only matching SealedSecrets are reconciled.
#[tokio::test]
async fn label_selector_filters_sealed_secrets() {
    let api = double_with_key().await;
    let mut mine = sealed("mine", &[("k", "v")], "rsa2048");
    mine["metadata"]["labels"] = json!({"team": "a"});
    api.insert(mine);
    api.insert(sealed("theirs", &[("k", "v")], "rsa2048"));
    let mut wrong = sealed("wrong", &[("k", "v")], "rsa2048");
    wrong["metadata"]["labels"] = json!({"team": "b"});
    api.insert(wrong);
    let _c = start(&api, &["--label-selector=team=a"]).await;
    wait_converged(&api, "mine", "k", "v").await;
    // The selector is the server's: the others are never listed, so nothing can reach them.
    let lists_without_selector = api
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/sealedsecrets") && !r.query.contains("labelSelector"))
        .count();
    assert_eq!(lists_without_selector, 0);
    for name in ["theirs", "wrong"] {
        assert!(ss(&api, name).get("status").is_none(), "{name} untouched");
        assert!(secret(&api, name).is_none());
    }
}

/// A changed `reconcile.fluxcd.io/requestedAt` runs a full check even when everything looks
/// in sync: drift that no watch reported (self-heal off) is repaired.
#[tokio::test]
async fn flux_requested_at_forces_a_full_check() {
    let api = double_with_key().await;
    api.insert(sealed("db", &[("k", "right")], "rsa2048"));
    let c = start(&api, &["--self-heal=false"]).await;
    wait_converged(&api, "db", "k", "right").await;
    let triggers = c.ctx.trigger_count();
    let drifted = api
        .modify("v1", "Secret", Some(NS), "db", |s| {
            s["data"]["k"] = json!(base64::engine::general_purpose::STANDARD.encode("wrong"));
        })
        .expect("drift");
    // Once the watch has shown the edit, the decision not to heal was taken.
    eventually("the edit seen", || {
        (c.ctx.secret_version(NS, "db").as_deref()
            == drifted["metadata"]["resourceVersion"].as_str())
        .then_some(())
    })
    .await;
    assert_eq!(
        c.ctx.trigger_count(),
        triggers,
        "no reconcile for the drift"
    );
    assert_eq!(
        data_item(&secret(&api, "db").expect("Secret"), "k"),
        b"wrong"
    );
    let decrypts = c.ctx.decrypt_count();

    api.modify(SS, "SealedSecret", Some(NS), "db", |s| {
        s["metadata"]["annotations"] =
            json!({controller::FLUX_REQUESTED_AT: "2024-01-01T00:00:00Z"});
    })
    .expect("annotate");
    wait_converged(&api, "db", "k", "right").await;
    assert_eq!(c.ctx.decrypt_count(), decrypts + 1);

    // The same value again is not a new request; a new value is.
    let triggers = c.ctx.trigger_count();
    let labelled = api
        .modify(SS, "SealedSecret", Some(NS), "db", |s| {
            s["metadata"]["labels"] = json!({"touched": "yes"});
        })
        .expect("label");
    eventually("the label seen", || {
        (c.ctx.cached_version(NS, "db").as_deref()
            == labelled["metadata"]["resourceVersion"].as_str())
        .then_some(())
    })
    .await;
    assert_eq!(c.ctx.trigger_count(), triggers, "a label is no trigger");
    let gets = |api: &ApiDouble| {
        api.requests()
            .iter()
            .filter(|r| {
                r.method == Method::GET && r.path == format!("/api/v1/namespaces/{NS}/secrets/db")
            })
            .count()
    };
    let before = gets(&api);
    api.modify(SS, "SealedSecret", Some(NS), "db", |s| {
        s["metadata"]["annotations"] =
            json!({controller::FLUX_REQUESTED_AT: "2024-01-02T00:00:00Z"});
    })
    .expect("annotate");
    eventually("a full check (GET of the Secret)", || {
        (gets(&api) > before).then_some(())
    })
    .await;
}

/// `--update-status=false`: no status writes, and no event repeats on retries or resyncs.
#[tokio::test]
async fn update_status_false_writes_no_status_and_repeats_no_event() {
    let api = double_with_key().await;
    api.insert(sealed("good", &[("k", "v")], "rsa2048"));
    api.insert(sealed("bad", &[("k", "v")], "rsa4096"));
    let c = start(&api, &["--update-status=false", "--max-unseal-retries=2"]).await;
    eventually("Secret", || secret(&api, "good")).await;
    // Initial attempt plus two retries (1 s, 2 s apart), then it gives up.
    // good once; bad initially, then two retries, the last of which gives up.
    eventually("retries spent", || {
        (c.ctx.decrypt_count() >= 4 && c.ctx.reconcile_count() >= 4).then_some(())
    })
    .await;

    // Resyncs that change nothing: a key change re-checks every object; Flux asks for a check.
    api.insert(key_secret("sealed-secrets-keyccccc", "rsa4096-b"));
    eventually("key", || (c.keys.len() == 2).then_some(())).await;
    api.modify(SS, "SealedSecret", Some(NS), "good", |s| {
        s["metadata"]["annotations"] = json!({controller::FLUX_REQUESTED_AT: "now"});
    })
    .expect("annotate");
    // The key change reconciles both, the request good once more.
    eventually("the resyncs done", || {
        (c.ctx.reconcile_count() >= 7).then_some(())
    })
    .await;

    assert_eq!(
        events(&api, "good"),
        [(
            "Normal".into(),
            "Unsealed".into(),
            "SealedSecret unsealed successfully".into()
        )]
    );
    let bad = events(&api, "bad");
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].1, "ErrUnsealFailed");
    assert!(
        api.requests().iter().all(|r| !r.path.ends_with("/status")),
        "no status write"
    );
    for name in ["good", "bad"] {
        assert!(ss(&api, name).get("status").is_none());
    }
    // Secret writes still emit: a spec change is a new event.
    set_spec(&api, "good", &sealed("good", &[("k", "w")], "rsa2048"));
    eventually("updated", || {
        (data_item(&secret(&api, "good")?, "k") == b"w").then_some(())
    })
    .await;
    eventually("second Unsealed", || {
        (events(&api, "good").len() == 2).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 3. Killed while generating a key

fn key_secret_names(api: &ApiDouble) -> Vec<String> {
    api.list("v1", "Secret", Some(&keys::controller_namespace()))
        .into_iter()
        .filter(|s| {
            s["metadata"]["labels"]["sealedsecrets.bitnami.com/sealed-secrets-key"] == "active"
        })
        .filter_map(|s| s["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// A key manager that leads, generating 2048-bit keys (fast with aws-lc).
fn spawn_key_manager(
    client: kube::Client,
    keys: KeyStore,
    ready: Arc<Readiness>,
) -> JoinHandle<()> {
    let cfg = config(&["--key-size=2048"]);
    tokio::spawn(async move {
        let (_tx, rx) = watch::channel(true);
        let _ = keys::run_key_manager(
            client,
            cfg,
            keys,
            rx,
            ready,
            |_: &Secret, _: &keys::KeyError| {},
        )
        .await;
    })
}

/// After a restart: the keys are loaded, every key Secret's key is registered (none lost), and
/// none was deleted.
async fn restart_and_check(api: &ApiDouble, at_most: usize) -> Vec<String> {
    let keys = KeyStore::new();
    let ready = Arc::new(Readiness::default());
    let task = spawn_key_manager(api.client(), keys.clone(), ready.clone());
    eventually("keys loaded", || (!keys.is_empty()).then_some(())).await;
    // Give a (wrong) second generation the chance to happen.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let names = key_secret_names(api);
    assert!(
        !names.is_empty() && names.len() <= at_most,
        "{} key Secrets: {names:?}",
        names.len()
    );
    assert_eq!(keys.len(), names.len(), "every key Secret is registered");
    assert!(
        api.requests()
            .iter()
            .all(|r| !(r.method == Method::DELETE && r.targets("secrets"))),
        "key Secrets are never deleted"
    );
    task.abort();
    names
}

/// Killed after the key Secret was created: the restart loads it and generates nothing.
#[tokio::test]
async fn killed_right_after_creating_a_key_loses_nothing_and_adds_nothing() {
    let api = ApiDouble::start().await;
    let task = spawn_key_manager(
        api.client(),
        KeyStore::new(),
        Arc::new(Readiness::default()),
    );
    eventually("key created", || {
        (!key_secret_names(&api).is_empty()).then_some(())
    })
    .await;
    task.abort();
    let before = key_secret_names(&api);
    let after = restart_and_check(&api, 1).await;
    assert_eq!(after, before);
}

/// Killed while generating (keys loaded, no POST yet) and, separately, with the create in
/// flight (the runtime dropped mid-request, as a killed process): the restart ends with at
/// most one key more than the process would have made.
#[tokio::test]
async fn killed_during_generation_or_mid_create_leaves_at_most_one_extra_key() {
    // Before the create: abort as soon as the initial load is done.
    let api = ApiDouble::start().await;
    let probe = Arc::new(Probe::default());
    let ready = Arc::new(Readiness::default());
    // With the caches marked synced, `is_ready` tells when the keys are loaded.
    ready.set_caches_synced();
    let task = spawn_key_manager(
        tapped_client(&api, probe.clone()),
        KeyStore::new(),
        ready.clone(),
    );
    eventually("keys listed", || ready.is_ready().then_some(())).await;
    task.abort();
    let posted = probe.requests().iter().any(|(m, _)| *m == Method::POST);
    let names = restart_and_check(&api, 1).await;
    assert_eq!(names.len(), 1, "posted before the abort: {posted}");

    // Mid-create: the POST is delayed; the whole runtime goes away while it is in flight.
    let api = ApiDouble::start().await;
    api.fail_next(
        Fault::slow(Duration::from_millis(800))
            .on(Method::POST)
            .path("/secrets"),
    );
    let probe = Arc::new(Probe::default());
    let client_api = api.clone();
    let p = probe.clone();
    let process = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let _task = spawn_key_manager(
                tapped_client(&client_api, p.clone()),
                KeyStore::new(),
                Arc::new(Readiness::default()),
            );
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while !p.requests().iter().any(|(m, _)| *m == Method::POST) {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no POST: {:?}",
                    p.requests()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        rt.shutdown_background();
    });
    // Join off the test's runtime thread: the double serves from it.
    tokio::task::spawn_blocking(move || process.join())
        .await
        .expect("join")
        .expect("killed process thread");
    // The delayed create may still land after the "kill", before or after the restart lists.
    let names = restart_and_check(&api, 2).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    let final_names = key_secret_names(&api);
    assert!(final_names.len() <= 2, "{final_names:?}");
    assert!(names.iter().all(|n| final_names.contains(n)), "no key lost");
}

// ---------------------------------------------------------------------------------------------
// 5. Large objects

/// A 1 MiB SealedSecret and one with 1,000 items unseal into their Secrets. The real API
/// server refuses Secret data over 1 MiB (and objects over etcd's ~1.5 MiB request limit);
/// where the double enforces the Secret limit, the refusal shows in the status.
#[tokio::test]
async fn a_one_mib_sealed_secret_and_a_thousand_items_unseal() {
    let api = double_with_key().await;
    let blob: String = (0..786_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let big = sealed("big", &[("blob", &blob)], "rsa2048");
    let size = serde_json::to_vec(&big).expect("json").len();
    assert!((1_000_000..=1_100_000).contains(&size), "{size} bytes");
    api.insert(big);

    let values: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("item-{i:04}"), format!("value {i}")))
        .collect();
    let items: Vec<(&str, &[u8])> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    api.insert(sealed_in(NS, "many", &items, "rsa2048"));

    // Over the Secret limit (if the double enforces it, as the API server does).
    let limit_enforced = api
        .try_insert(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "probe", "namespace": "default"},
            "data": {"x": base64::engine::general_purpose::STANDARD.encode(vec![0u8; 1024 * 1024 + 1])},
        }))
        .is_err();
    let huge: String = blob.repeat(2);
    if limit_enforced {
        api.insert(sealed("huge", &[("blob", &huge)], "rsa2048"));
    }

    let _c = start(&api, &[]).await;
    wait_converged(&api, "big", "blob", &blob).await;
    wait_converged(&api, "many", "item-0999", "value 999").await;
    let many = secret(&api, "many").expect("Secret");
    assert_eq!(many["data"].as_object().expect("data").len(), 1000);
    for (k, v) in &values {
        assert_eq!(data_item(&many, k), v.as_bytes());
    }
    if limit_enforced {
        let s = wait_synced(&api, "huge", "False").await;
        let msg = s["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(msg.contains("1048576"), "{msg}");
        assert!(secret(&api, "huge").is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// 7. No plaintext in logs, events or status

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once for this test binary, a global TRACE subscriber (plus the `log` bridge)
/// writing everything to a buffer. Tests running meanwhile log into it too, which only widens
/// what is checked.
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = LogBuf(buf.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::level_filters::LevelFilter::TRACE)
            .with_ansi(false)
            .with_writer(move || w.clone())
            .try_init()
            .expect("the only subscriber in this binary");
        buf
    })
    .clone()
}

fn marker(n: u32) -> String {
    format!("PLAINTEXT-MARKER-{n}-q7Zx9Kw2")
}

/// A plaintext and the encodings it could leak in.
fn leak_forms(plain: &str) -> [String; 3] {
    [
        plain.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(plain),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain),
    ]
}

fn with_template(mut ss: Value, entries: Value) -> Value {
    ss["spec"]["template"]["data"] = entries;
    ss
}

/// Unsealing that succeeds and that fails (template errors quoting values, a wrong key, a scope
/// mistake, a v1 blob that is not a Secret) writes no plaintext, raw or base64, into any log
/// line at TRACE, any Event, or any SealedSecret status.
#[tokio::test]
async fn no_plaintext_reaches_logs_events_or_status() {
    let logs = capture_logs();
    let api = double_with_key().await;
    let m = |n| marker(n);
    let (m1, m2, m3, m4, m5, m6, m7, m8, m9, m10) =
        (m(1), m(2), m(3), m(4), m(5), m(6), m(7), m(8), m(9), m(10));
    api.insert(sealed("ok", &[("password", &m1), ("user", &m2)], "rsa2048"));
    api.insert(with_template(
        sealed("tpl-ok", &[("password", &m3), ("user", &m4)], "rsa2048"),
        json!({"auth": "{{ .user }}:{{ .password }}"}),
    ));
    api.insert(with_template(
        sealed("tpl-fail", &[("password", &m5)], "rsa2048"),
        json!({"auth": "{{ fail .password }}"}),
    ));
    api.insert(with_template(
        sealed("tpl-fail-b64", &[("password", &m6)], "rsa2048"),
        json!({"auth": "{{ .password | b64enc | fail }}"}),
    ));
    api.insert(with_template(
        sealed("tpl-parse", &[("password", &m10)], "rsa2048"),
        json!({"auth": "{{ .password | nosuchfunc }}"}),
    ));
    api.insert(sealed("wrong-key", &[("password", &m7)], "rsa4096"));
    let mut scope = sealed("scope", &[("password", &m8)], "rsa2048");
    scope["metadata"]["annotations"] = json!({"sealedsecrets.bitnami.com/namespace-wide": "true"});
    api.insert(scope);
    // A v1 `data` blob that opens but is not a Secret: a JSON string.
    let blob = seal_api::seal_raw(
        cert("rsa2048").public_key(),
        seal_api::Scope::Strict,
        Some(NS),
        Some("v1-bad"),
        format!("\"{m9}\"").as_bytes(),
    )
    .expect("seal");
    api.insert(json!({
        "apiVersion": SS, "kind": "SealedSecret",
        "metadata": {"name": "v1-bad", "namespace": NS},
        "spec": {"template": {"metadata": {"name": "v1-bad", "namespace": NS}},
                 "data": blob, "encryptedData": {}},
    }));

    let c = start(&api, &["--max-unseal-retries=1"]).await;
    wait_converged(&api, "ok", "password", &m1).await;
    wait_converged(&api, "tpl-ok", "auth", &format!("{m4}:{m3}")).await;
    let failing = [
        "tpl-fail",
        "tpl-fail-b64",
        "tpl-parse",
        "wrong-key",
        "scope",
        "v1-bad",
    ];
    for name in failing {
        eventually(&format!("{name} stalled"), || {
            condition(&ss(&api, name), "Stalled").map(|_| ())
        })
        .await;
    }
    // The messages still say what went wrong.
    let msg = |name: &str| {
        ss(&api, name)["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        msg("tpl-fail").contains("at <fail .password>: (details withheld"),
        "{}",
        msg("tpl-fail")
    );
    assert!(
        msg("tpl-parse").contains("nosuchfunc"),
        "{}",
        msg("tpl-parse")
    );
    assert_eq!(msg("wrong-key"), "no key could decrypt secret (password)");
    assert!(
        msg("v1-bad").starts_with("sealed v1 data is not a Secret: (details withheld"),
        "{}",
        msg("v1-bad")
    );
    let hint = condition(&ss(&api, "scope"), "Ready").expect("Ready")["message"].clone();
    assert!(
        hint.as_str().unwrap_or_default().contains("likely mistake"),
        "{hint}"
    );

    // The same through /v1/verify, which anyone allowed to reach the service may call.
    let verify_body = {
        let state = seal_controller::http::HttpState {
            keys: c.keys.clone(),
            metrics: c.metrics.clone(),
            ready: Arc::new(Readiness::default()),
            cfg: config(&["--rate-limit=0"]),
        };
        let router = seal_controller::http::router(state);
        let mut bodies = String::new();
        for name in failing {
            use tower::ServiceExt as _;
            let obj = ss(&api, name);
            let req = http::Request::post("/v1/verify")
                .body(axum::body::Body::from(obj.to_string()))
                .expect("request");
            let resp = router.clone().oneshot(req).await.expect("infallible");
            assert_eq!(resp.status(), http::StatusCode::CONFLICT, "{name}");
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body");
            bodies.push_str(&String::from_utf8_lossy(&body));
        }
        bodies
    };

    let plains = [
        m1.clone(),
        m2,
        m3.clone(),
        m4.clone(),
        format!("{m4}:{m3}"),
        m5,
        m6,
        m7,
        m8,
        m9,
        m10,
    ];
    let log_text = String::from_utf8_lossy(&logs.lock().expect("lock")).into_owned();
    assert!(log_text.contains("TRACE"), "TRACE lines are captured");
    assert!(
        log_text.contains("created Secret"),
        "the controller's lines are captured"
    );
    let events: Vec<Value> = api
        .list("v1", "Event", None)
        .into_iter()
        .chain(api.list("events.k8s.io/v1", "Event", None))
        .collect();
    assert!(events.len() >= failing.len(), "{events:?}");
    let events_text = serde_json::to_string(&events).expect("json");
    let statuses: Vec<Value> = api
        .list(SS, "SealedSecret", None)
        .into_iter()
        .map(|s| json!({"status": s["status"], "metadata": s["metadata"]}))
        .collect();
    let status_text = serde_json::to_string(&statuses).expect("json");
    let secret_text = serde_json::to_string(&secret(&api, "ok")).expect("json");
    for p in &plains {
        for form in leak_forms(p) {
            for (what, hay) in [
                ("logs", &log_text),
                ("events", &events_text),
                ("status", &status_text),
                ("/v1/verify", &verify_body),
            ] {
                assert!(
                    !hay.contains(&form),
                    "{what} contain {form:?} (plaintext {p:?})"
                );
            }
        }
    }
    // The search would have found it: the Secret holds the base64 form.
    assert!(secret_text.contains(&leak_forms(&m1)[1]));
}

/// The controller decrypts with aws-lc (constant-time), never the pure-Rust fallback.
#[test]
fn the_controller_decrypts_with_aws_lc() {
    assert_eq!(seal_api::crypto::backend_name(), "aws-lc");
}
