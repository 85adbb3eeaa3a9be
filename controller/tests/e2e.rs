//! End-to-end tests against a real cluster: the `controller` binary runs locally as a process
//! (KUBECONFIG from `SEAL_E2E_KUBECONFIG`, `POD_NAMESPACE` a fresh test namespace), serving
//! HTTP on free local ports. Needs cluster-admin on a disposable cluster; run with
//! `SEAL_E2E_KUBECONFIG=... cargo test -p seal-controller --test e2e -- --ignored --test-threads=1`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, ResourceExt};
use seal_api::crypto::Certificate;
use seal_api::{SealOptions, SealedSecret, seal_secret};
use serde_json::{Value, json};

const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";

fn kubeconfig_path() -> PathBuf {
    PathBuf::from(std::env::var("SEAL_E2E_KUBECONFIG").expect("set SEAL_E2E_KUBECONFIG"))
}

async fn client() -> Client {
    let kc = Kubeconfig::read_from(kubeconfig_path()).expect("readable kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("usable kubeconfig");
    Client::try_from(cfg).expect("client")
}

fn testdata(path: &str) -> String {
    let p = format!("{}/../testdata/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {p}: {e}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn eventually<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Installs (or keeps) the CRD from `controller/deploy/crd.yaml`.
async fn apply_crd(client: &Client) {
    let crd: CustomResourceDefinition =
        serde_saphyr::from_str(&testdata("../controller/deploy/crd.yaml")).expect("crd.yaml");
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    match api.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("cannot install the CRD: {e}"),
    }
    eventually("CRD established", 30, || {
        let api = api.clone();
        async move {
            let crd = api.get("sealedsecrets.bitnami.com").await.ok()?;
            crd.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        }
    })
    .await;
}

/// A fresh namespace, deleted on drop (best effort).
struct TestNs {
    client: Client,
    name: String,
}

impl TestNs {
    async fn new(client: &Client, prefix: &str) -> TestNs {
        let name = format!("{prefix}-{:x}", jiff::Timestamp::now().as_millisecond());
        let api: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
        api.create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        TestNs {
            client: client.clone(),
            name,
        }
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let (client, name) = (self.client.clone(), self.name.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let api: Api<Namespace> = Api::all(client);
                let _ = api.delete(&name, &DeleteParams::default()).await;
            });
        }
    }
}

/// A running `controller` process, killed on drop.
struct Controller {
    child: Child,
    port: u16,
}

impl Controller {
    fn start(namespace: &str, extra: &[&str]) -> Controller {
        let port = free_port();
        let metrics = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_controller"))
            .env("KUBECONFIG", kubeconfig_path())
            .env("POD_NAMESPACE", namespace)
            .args([
                format!("--listen-addr=127.0.0.1:{port}"),
                format!("--listen-metrics-addr=127.0.0.1:{metrics}"),
                // Smaller keys keep generation quick; the size is not what is under test.
                "--key-size=2048".to_owned(),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the controller binary");
        Controller { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn http_get(url: &str) -> Option<(u16, String)> {
    // A tiny blocking HTTP/1.0 client (no chunked bodies) is enough for a local, plain-text endpoint.
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://")?;
        let (host, path) = rest.split_once('/')?;
        let mut s = std::net::TcpStream::connect(host).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let req = format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
        Some((code, body))
    })
    .await
    .ok()
    .flatten()
}

async fn active_keys(client: &Client, ns: &str) -> Vec<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default().labels(&format!("{KEY_LABEL}=active")))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

fn key_secret(ns: &str, name: &str, stem: &str) -> Secret {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "labels": {KEY_LABEL: "active"}},
        "type": "kubernetes.io/tls",
        "stringData": {
            "tls.key": testdata(&format!("keys/{stem}.key")),
            "tls.crt": testdata(&format!("keys/{stem}.crt")),
        },
    }))
    .expect("key Secret")
}

/// A client, the CRD, a controller namespace holding the upstream-style key Secret `key` (from
/// `testdata/keys/<stem>`), and an application namespace.
async fn with_key(
    ctl_prefix: &str,
    app_prefix: &str,
    key: &str,
    stem: &str,
) -> (Client, TestNs, TestNs) {
    let client = client().await;
    apply_crd(&client).await;
    let ctl_ns = TestNs::new(&client, ctl_prefix).await;
    let app_ns = TestNs::new(&client, app_prefix).await;
    let keys: Api<Secret> = Api::namespaced(client.clone(), &ctl_ns.name);
    keys.create(&PostParams::default(), &key_secret(&ctl_ns.name, key, stem))
        .await
        .expect("create the key Secret");
    (client, ctl_ns, app_ns)
}

async fn apply_ss(client: &Client, ns: &str, mut v: Value) -> SealedSecret {
    v["metadata"]["namespace"] = json!(ns);
    let ss: SealedSecret = serde_json::from_value(v).expect("SealedSecret");
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &ss)
        .await
        .expect("create SealedSecret")
}

async fn synced(client: &Client, ns: &str, name: &str) -> SealedSecret {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    eventually(&format!("{ns}/{name} Synced"), 60, || {
        let api = api.clone();
        let name = name.to_owned();
        async move {
            let ss = api.get(&name).await.ok()?;
            let st = ss.status.as_ref()?;
            let ok = st.observed_generation == ss.metadata.generation
                && st
                    .conditions
                    .first()
                    .is_some_and(|c| c.type_ == "Synced" && c.status == "True");
            ok.then_some(ss)
        }
    })
    .await
}

async fn get_secret(client: &Client, ns: &str, name: &str) -> Option<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.get_opt(name).await.ok().flatten()
}

fn item(s: &Secret, k: &str) -> Vec<u8> {
    s.data
        .as_ref()
        .and_then(|d| d.get(k))
        .map(|v| v.0.clone())
        .unwrap_or_default()
}

fn seal_with(cert_pem: &str, ns: &str, name: &str, value: &str) -> Value {
    let cert = Certificate::from_pem(cert_pem.as_bytes()).expect("cert");
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "stringData": {"value": value},
    }))
    .expect("secret");
    serde_json::to_value(
        seal_secret(&secret, cert.public_key(), &SealOptions::default()).expect("seal"),
    )
    .expect("json")
}

#[tokio::test]
#[ignore = "needs a cluster: set SEAL_E2E_KUBECONFIG"]
async fn a_key_is_generated_with_upstream_labels_and_its_cert_served() {
    let client = client().await;
    apply_crd(&client).await;
    let ns = TestNs::new(&client, "seal-e2e-keygen").await;
    let ctl = Controller::start(&ns.name, &[]);

    let healthz = eventually("healthz", 30, || http_get_ok(ctl.url("/healthz"))).await;
    assert_eq!(healthz, "ok\n");
    let keys = eventually("a generated key", 120, || {
        let client = client.clone();
        let ns = ns.name.clone();
        async move { Some(active_keys(&client, &ns).await).filter(|k| !k.is_empty()) }
    })
    .await;
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key.type_.as_deref(), Some("kubernetes.io/tls"));
    assert_eq!(
        key.metadata.generate_name.as_deref(),
        Some("sealed-secrets-key")
    );
    let crt = String::from_utf8(item(key, "tls.crt")).expect("PEM");
    assert!(
        String::from_utf8(item(key, "tls.key"))
            .expect("PEM")
            .contains("BEGIN RSA PRIVATE KEY")
    );

    let served = eventually("cert.pem", 30, || http_get_ok(ctl.url("/v1/cert.pem"))).await;
    assert_eq!(
        Certificate::from_pem(served.as_bytes())
            .expect("served cert")
            .der(),
        Certificate::from_pem(crt.as_bytes())
            .expect("stored cert")
            .der()
    );
    eventually("readyz", 30, || http_get_ok(ctl.url("/readyz"))).await;
}

/// Wrappers append flags after the user's; as with upstream's pflag, the last value wins.
#[tokio::test]
#[ignore = "needs a cluster: set SEAL_E2E_KUBECONFIG"]
async fn a_repeated_flag_takes_its_last_value() {
    let client = client().await;
    apply_crd(&client).await;
    let ns = TestNs::new(&client, "seal-e2e-flags").await;
    let ctl = Controller::start(
        &ns.name,
        &[
            "--key-prefix=first-prefix",
            "--key-prefix",
            "second-prefix",
            "--update-status=false",
            "--update-status",
        ],
    );
    eventually("healthz", 30, || http_get_ok(ctl.url("/healthz"))).await;
    let keys = eventually("a generated key", 120, || {
        let client = client.clone();
        let ns = ns.name.clone();
        async move { Some(active_keys(&client, &ns).await).filter(|k| !k.is_empty()) }
    })
    .await;
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].metadata.generate_name.as_deref(),
        Some("second-prefix")
    );
}

async fn http_get_ok(url: String) -> Option<String> {
    http_get(&url)
        .await
        .filter(|(c, _)| *c == 200)
        .map(|(_, b)| b)
}

#[tokio::test]
#[ignore = "needs a cluster: set SEAL_E2E_KUBECONFIG"]
async fn an_upstream_key_is_adopted_and_fixtures_of_each_scope_unseal() {
    let (client, ctl_ns, app_ns) = with_key(
        "seal-e2e-adopt",
        "seal-e2e-apps",
        "sealed-secrets-keyfixed",
        "rsa4096",
    )
    .await;
    let _ctl = Controller::start(&ctl_ns.name, &["--key-renew-period=0"]);

    // Strict binds to default/mysecret; namespace-wide may be renamed; cluster-wide may move.
    let fixtures: [(&str, &str, &str); 3] = [
        ("opaque.strict", "default", "mysecret"),
        ("opaque.namespace-wide", "default", "mysecret-nsw"),
        ("opaque.cluster-wide", &app_ns.name, "mysecret-cw"),
    ];
    for (fixture, ns, name) in fixtures {
        let mut v: Value =
            serde_json::from_str(&testdata(&format!("sealed/{fixture}.json"))).expect("fixture");
        v["metadata"]["name"] = json!(name);
        let ss_api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
        let _ = ss_api.delete(name, &DeleteParams::default()).await;
        apply_ss(&client, ns, v).await;
        synced(&client, ns, name).await;
        let expected: Value =
            serde_json::from_str(&testdata(&format!("sealed/{fixture}.expected.json")))
                .expect("expected");
        let secret = get_secret(&client, ns, name).await.expect("Secret");
        for (k, v) in expected.as_object().expect("object") {
            use base64::Engine as _;
            let want = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().expect("string"))
                .expect("base64");
            assert_eq!(item(&secret, k), want, "{fixture}: {k}");
        }
        let _ = ss_api.delete(name, &DeleteParams::default()).await;
    }
    // Adopted, not replaced: the controller generated nothing.
    assert_eq!(active_keys(&client, &ctl_ns.name).await.len(), 1);
}

#[tokio::test]
#[ignore = "needs a cluster: set SEAL_E2E_KUBECONFIG"]
async fn renewal_keeps_old_objects_working_and_secrets_are_recreated_but_foreign_ones_untouched() {
    let (client, ctl_ns, app) = with_key(
        "seal-e2e-renew",
        "seal-e2e-renew-apps",
        "sealed-secrets-keyold00",
        "rsa2048",
    )
    .await;
    let ctl = Controller::start(&ctl_ns.name, &["--key-renew-period=0"]);

    let old = apply_ss(
        &client,
        &app.name,
        seal_with(&testdata("keys/rsa2048.crt"), &app.name, "old", "v1"),
    )
    .await;
    synced(&client, &app.name, "old").await;

    // SIGUSR1 renews now; the old key stays.
    ctl.signal("USR1");
    let all = eventually("a second key", 120, || {
        let client = client.clone();
        let ns = ctl_ns.name.clone();
        async move { Some(active_keys(&client, &ns).await).filter(|k| k.len() == 2) }
    })
    .await;
    let new_cert = all
        .iter()
        .find(|s| s.name_any() != "sealed-secrets-keyold00")
        .map(|s| String::from_utf8(item(s, "tls.crt")).expect("PEM"))
        .expect("new key");
    apply_ss(
        &client,
        &app.name,
        seal_with(&new_cert, &app.name, "new", "v2"),
    )
    .await;
    synced(&client, &app.name, "new").await;
    assert_eq!(
        item(
            &get_secret(&client, &app.name, "old").await.expect("old"),
            "value"
        ),
        b"v1"
    );

    // A deleted owned Secret comes back.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &app.name);
    let before = secrets.get("old").await.expect("old Secret");
    secrets
        .delete("old", &DeleteParams::default())
        .await
        .expect("delete");
    let again = eventually("recreated", 60, || {
        let secrets = secrets.clone();
        async move { secrets.get_opt("old").await.ok().flatten() }
    })
    .await;
    assert_ne!(again.uid(), before.uid());
    assert_eq!(
        again.metadata.owner_references.as_ref().expect("owner")[0].uid,
        old.uid().unwrap_or_default()
    );

    // A foreign Secret of the same name is left alone.
    let foreign: Secret = serde_json::from_value(json!({
        "metadata": {"name": "foreign", "namespace": app.name},
        "stringData": {"value": "theirs"},
    }))
    .expect("secret");
    secrets
        .create(&PostParams::default(), &foreign)
        .await
        .expect("foreign");
    apply_ss(
        &client,
        &app.name,
        seal_with(&new_cert, &app.name, "foreign", "ours"),
    )
    .await;
    let ss_api: Api<SealedSecret> = Api::namespaced(client.clone(), &app.name);
    let failed = eventually("conflict reported", 60, || {
        let ss_api = ss_api.clone();
        async move {
            let ss = ss_api.get("foreign").await.ok()?;
            let c = ss.status?.conditions.into_iter().next()?;
            (c.status == "False").then_some(c)
        }
    })
    .await;
    assert_eq!(
        failed.message.as_deref(),
        Some(
            "failed update: Resource \"foreign\" already exists and is not managed by SealedSecret"
        )
    );
    assert_eq!(
        item(&secrets.get("foreign").await.expect("foreign"), "value"),
        b"theirs"
    );
}

#[tokio::test]
#[ignore = "needs a cluster: set SEAL_E2E_KUBECONFIG"]
async fn two_replicas_elect_one_leader_and_fail_over() {
    let (client, ctl_ns, app) = with_key(
        "seal-e2e-ha",
        "seal-e2e-ha-apps",
        "sealed-secrets-keyha000",
        "rsa2048",
    )
    .await;
    let mut a = Some(Controller::start(
        &ctl_ns.name,
        &["--leader-elect", "--key-renew-period=0"],
    ));
    let b = Controller::start(&ctl_ns.name, &["--leader-elect", "--key-renew-period=0"]);

    let leases: Api<Lease> = Api::namespaced(client.clone(), &ctl_ns.name);
    let holder = eventually("a leader", 60, || {
        let leases = leases.clone();
        async move {
            leases
                .get_opt("sealed-secrets-controller")
                .await
                .ok()
                .flatten()?
                .spec?
                .holder_identity
        }
    })
    .await;
    // Both serve the API.
    for c in [a.as_ref().expect("a"), &b] {
        eventually("cert from every replica", 30, || {
            http_get_ok(c.url("/v1/cert.pem"))
        })
        .await;
    }
    apply_ss(
        &client,
        &app.name,
        seal_with(&testdata("keys/rsa2048.crt"), &app.name, "one", "1"),
    )
    .await;
    synced(&client, &app.name, "one").await;

    // Stop replica a (SIGTERM releases the lease if it led); someone still reconciles.
    if let Some(ctl) = a.as_ref() {
        ctl.signal("TERM");
    }
    drop(a.take());
    let _ = holder;
    apply_ss(
        &client,
        &app.name,
        seal_with(&testdata("keys/rsa2048.crt"), &app.name, "two", "2"),
    )
    .await;
    synced(&client, &app.name, "two").await;
    let now_holder = leases
        .get("sealed-secrets-controller")
        .await
        .expect("lease")
        .spec
        .and_then(|s| s.holder_identity);
    assert!(now_holder.is_some());
    drop(b);
}

/// The SealedSecret's status as raw JSON: a typed GET would fail on the unreadable object.
async fn raw_status(client: &Client, ns: &str, name: &str) -> Option<Value> {
    let ar = kube::api::ApiResource::erase::<SealedSecret>(&());
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    let obj = api.get(name).await.ok()?;
    obj.data.get("status").cloned()
}

async fn failed_with(client: &Client, ns: &str, name: &str) -> Value {
    eventually(&format!("{ns}/{name} Synced=False, Stalled"), 60, || {
        let (client, ns, name) = (client.clone(), ns.to_owned(), name.to_owned());
        async move {
            let st = raw_status(&client, &ns, &name).await?;
            let conds = st["conditions"].as_array()?.clone();
            let failed = conds[0]["type"] == "Synced" && conds[0]["status"] == "False";
            let stalled = conds
                .iter()
                .any(|c| c["type"] == "Stalled" && c["status"] == "True");
            (failed && stalled).then_some(st)
        }
    })
    .await
}

#[tokio::test]
#[ignore = "needs a cluster: set SEAL_E2E_KUBECONFIG"]
async fn an_unreadable_object_and_a_refused_secret_stall_alone_while_others_unseal() {
    let (client, ctl_ns, app) = with_key(
        "seal-e2e-bad",
        "seal-e2e-badapps",
        "sealed-secrets-keyfixed",
        "rsa2048",
    )
    .await;
    let cert = testdata("keys/rsa2048.crt");

    // Accepted by the CRD (template.metadata preserves unknown fields), unreadable as a
    // SealedSecret: labels must be strings. Created untyped, as kubectl would.
    let mut bad = seal_with(&cert, &app.name, "bad", "x");
    bad["metadata"]["namespace"] = json!(app.name);
    bad["spec"]["template"]["metadata"] = json!({"labels": {"tier": 7}});
    let ar = kube::api::ApiResource::erase::<SealedSecret>(&());
    let dynamic: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), &app.name, &ar);
    dynamic
        .create(
            &PostParams::default(),
            &serde_json::from_value(bad).expect("object"),
        )
        .await
        .expect("the API server accepts it");
    // Readable, but the Secret it describes is invalid: a label value may not start with '-'.
    let mut refused = seal_with(&cert, &app.name, "refused", "y");
    refused["spec"]["template"]["metadata"] = json!({"labels": {"tier": "-x"}});
    apply_ss(&client, &app.name, refused).await;
    apply_ss(&client, &app.name, seal_with(&cert, &app.name, "good", "z")).await;

    let _ctl = Controller::start(&ctl_ns.name, &["--key-renew-period=0"]);
    synced(&client, &app.name, "good").await;
    assert_eq!(
        item(
            &get_secret(&client, &app.name, "good")
                .await
                .expect("Secret"),
            "value"
        ),
        b"z"
    );
    let st = failed_with(&client, &app.name, "bad").await;
    let msg = st["conditions"][0]["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("invalid SealedSecret: spec.template.metadata.labels.tier"),
        "{msg}"
    );
    let st = failed_with(&client, &app.name, "refused").await;
    let ready = st["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready").cloned())
        .expect("Ready");
    assert_eq!(ready["reason"], "UpdateFailed");
    assert!(get_secret(&client, &app.name, "bad").await.is_none());
    assert!(get_secret(&client, &app.name, "refused").await.is_none());
}
