//! The real reconcile loop (watches, applier, key manager) against the in-process API double.
//!
//! Each test starts its own [`ApiDouble`], seeds a key Secret from `testdata/keys`, runs the
//! controller in-process and checks what a cluster user would see: Secrets, SealedSecret status
//! and core/v1 Events, plus what the controller did *not* do (decrypt, write).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use http::Method;
use k8s_openapi::api::core::v1::Secret;
use kube_double::{ApiDouble, Fault};
use seal_api::ANNOTATION_DIGEST;
use seal_controller::Readiness;
use seal_controller::config::Config;
use seal_controller::controller::{self, Context};
use seal_controller::events::Recorder;
use seal_controller::keys::{self, KeyStore};
use seal_controller::metrics::Metrics;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

mod common;
use common::*;

struct Running {
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    synced: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Running {
    fn stop(self) {}
}

/// Starts the key manager and the reconcile loop against `api` with extra flags.
async fn start(api: &ApiDouble, flags: &[&str]) -> Running {
    let mut args = vec!["controller", "--workers=2", "--key-renew-period=0"];
    args.extend_from_slice(flags);
    let cfg = Arc::new(Config::try_parse_from(args).expect("flags"));
    let client = api.client();
    let keys = KeyStore::new();
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(Readiness::default());
    let (leader_tx, leader_rx) = tokio::sync::watch::channel(true);
    let mut tasks = Vec::new();
    {
        let (client, cfg, keys, ready) = (client.clone(), cfg.clone(), keys.clone(), ready.clone());
        tasks.push(tokio::spawn(async move {
            let _keep = leader_tx;
            let _ = keys::run_key_manager(
                client,
                cfg,
                keys,
                leader_rx,
                ready,
                |_: &Secret, _: &keys::KeyError| {},
            )
            .await;
        }));
    }
    tokio::time::timeout(
        Duration::from_secs(10),
        seal_controller::wait_for_keys(&keys),
    )
    .await
    .expect("keys load");
    let ctx = Arc::new(Context::new(
        client.clone(),
        keys,
        metrics.clone(),
        cfg,
        Recorder::new(client, "test"),
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
        metrics,
        synced,
        tasks,
    }
}

/// How long the waits of these tests allow.
const WAIT: Duration = Duration::from_secs(15);

async fn eventually<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    common::eventually(what, WAIT, f).await
}

async fn wait_synced(api: &ApiDouble, name: &str, status: &str) -> Value {
    common::wait_synced_in(api, NS, name, status, WAIT).await
}

#[tokio::test]
async fn a_sealed_secret_becomes_an_owned_secret_and_reports_synced() {
    let api = double_with_key().await;
    let created = api.insert(sealed(
        "db",
        &[("password", "hunter2"), ("user", "app")],
        "rsa2048",
    ));
    let _c = start(&api, &[]).await;

    let s = wait_synced(&api, "db", "True").await;
    let sec = secret(&api, "db").expect("Secret created");
    assert_eq!(data_item(&sec, "password"), b"hunter2");
    assert_eq!(data_item(&sec, "user"), b"app");
    assert_eq!(sec["metadata"]["labels"]["tier"], "backend");
    let owner = &sec["metadata"]["ownerReferences"][0];
    assert_eq!(owner["uid"], created["metadata"]["uid"]);
    assert_eq!(owner["kind"], "SealedSecret");
    assert_eq!(owner["apiVersion"], "bitnami.com/v1alpha1");
    assert_eq!(owner["controller"], true);
    assert!(sec["metadata"]["annotations"][ANNOTATION_DIGEST].is_string());

    assert_eq!(
        s["status"]["observedGeneration"],
        s["metadata"]["generation"]
    );
    assert!(
        s["status"]["conditions"][0]
            .get("message")
            .is_none_or(|m| m == "")
    );
    let ready = condition(&s, "Ready").expect("Ready");
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("True"), Some("Unsealed"))
    );
    assert!(condition(&s, "Reconciling").is_none() && condition(&s, "Stalled").is_none());

    let evs = eventually("Unsealed event", || {
        let e = events(&api, "db");
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert_eq!(
        evs,
        [(
            "Normal".into(),
            "Unsealed".into(),
            "SealedSecret unsealed successfully".into()
        )]
    );
    // Core events only (group ""), component sealed-secrets.
    let ev = &api.list("v1", "Event", Some(NS))[0];
    assert_eq!(ev["source"]["component"], "sealed-secrets");
    assert_eq!(api.list("events.k8s.io/v1", "Event", Some(NS)).len(), 0);
}

#[tokio::test]
async fn an_unowned_secret_is_left_alone_and_reported() {
    let api = double_with_key().await;
    api.insert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": NS},
        "stringData": {"password": "theirs"},
    }));
    api.insert(sealed("db", &[("password", "ours")], "rsa2048"));
    let c = start(&api, &[]).await;

    let s = wait_synced(&api, "db", "False").await;
    assert_eq!(
        s["status"]["conditions"][0]["message"],
        "failed update: Resource \"db\" already exists and is not managed by SealedSecret"
    );
    let ready = condition(&s, "Ready").expect("Ready");
    assert_eq!(ready["reason"], "SecretConflict");
    assert_eq!(condition(&s, "Stalled").expect("Stalled")["status"], "True");
    assert_eq!(
        data_item(&secret(&api, "db").expect("kept"), "password"),
        b"theirs"
    );
    let evs = events(&api, "db");
    assert_eq!(
        evs,
        [(
            "Warning".into(),
            "ErrUpdateFailed".into(),
            "Resource \"db\" already exists and is not managed by SealedSecret".into()
        )]
    );
    // Conflicts are decided before decrypting.
    assert_eq!(c.ctx.decrypt_count(), 0);
    assert!(c.metrics.render().contains("reason=\"unmanaged\""));
}

#[tokio::test]
async fn a_managed_secret_is_replaced_and_a_patch_secret_merged() {
    let api = double_with_key().await;
    api.insert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "managed", "namespace": NS,
                     "labels": {"old": "label"},
                     "annotations": {"sealedsecrets.bitnami.com/managed": "true"}},
        "stringData": {"stale": "x", "password": "old"},
    }));
    api.insert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "patched", "namespace": NS,
                     "labels": {"keep": "me"},
                     "annotations": {"sealedsecrets.bitnami.com/patch": "true"}},
        "stringData": {"other": "kept", "password": "old"},
    }));
    let m = api.insert(sealed("managed", &[("password", "new")], "rsa2048"));
    api.insert(sealed("patched", &[("password", "new")], "rsa2048"));
    let _c = start(&api, &[]).await;
    wait_synced(&api, "managed", "True").await;
    wait_synced(&api, "patched", "True").await;

    let managed = secret(&api, "managed").expect("managed");
    assert_eq!(data_item(&managed, "password"), b"new");
    assert!(
        managed["data"].get("stale").is_none(),
        "replaced, not merged"
    );
    assert!(managed["metadata"]["labels"].get("old").is_none());
    assert_eq!(managed["metadata"]["labels"]["tier"], "backend");
    assert_eq!(
        managed["metadata"]["ownerReferences"][0]["uid"],
        m["metadata"]["uid"]
    );

    let patched = secret(&api, "patched").expect("patched");
    assert_eq!(data_item(&patched, "password"), b"new");
    assert_eq!(data_item(&patched, "other"), b"kept");
    assert_eq!(patched["metadata"]["labels"]["keep"], "me");
    assert_eq!(patched["metadata"]["labels"]["tier"], "backend");
    assert!(
        patched["metadata"].get("ownerReferences").is_none(),
        "patch without managed keeps owners"
    );
}

#[tokio::test]
async fn a_deleted_secret_is_recreated_and_drift_is_restored() {
    let api = double_with_key().await;
    api.insert(sealed("db", &[("password", "hunter2")], "rsa2048"));
    let c = start(&api, &[]).await;
    wait_synced(&api, "db", "True").await;
    let first = secret(&api, "db").expect("created");

    api.delete("v1", "Secret", Some(NS), "db");
    let again = eventually("recreated", || secret(&api, "db")).await;
    assert_ne!(again["metadata"]["uid"], first["metadata"]["uid"]);
    assert_eq!(data_item(&again, "password"), b"hunter2");

    api.modify("v1", "Secret", Some(NS), "db", |s| {
        s["data"]["password"] = json!("ZWRpdGVk"); // "edited"
    })
    .expect("edit");
    eventually("drift restored", || {
        let s = secret(&api, "db")?;
        (data_item(&s, "password") == b"hunter2").then_some(())
    })
    .await;
    // Recreate and restore emit events (Secret written), but no failure events.
    let evs = events(&api, "db");
    assert!(evs.iter().all(|e| e.1 == "Unsealed"), "{evs:?}");
    assert!(c.ctx.decrypt_count() >= 3);
}

#[tokio::test]
async fn skip_recreate_leaves_a_deleted_secret_deleted() {
    let api = double_with_key().await;
    api.insert(sealed("db", &[("password", "hunter2")], "rsa2048"));
    let _c = start(&api, &["--skip-recreate"]).await;
    wait_synced(&api, "db", "True").await;
    eventually("Secret", || secret(&api, "db")).await;
    api.delete("v1", "Secret", Some(NS), "db");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(secret(&api, "db").is_none());
}

#[tokio::test]
async fn a_wrong_key_fails_once_and_a_key_added_at_runtime_fixes_it() {
    let api = double_with_key().await;
    api.insert(sealed("db", &[("b", "1"), ("a", "2")], "rsa4096"));
    let c = start(&api, &["--max-unseal-retries=1"]).await;

    let s = wait_synced(&api, "db", "False").await;
    assert_eq!(
        s["status"]["conditions"][0]["message"],
        "no key could decrypt secret (a, b)"
    );
    assert_eq!(
        condition(&s, "Ready").expect("Ready")["reason"],
        "UnsealFailed"
    );
    assert!(secret(&api, "db").is_none());
    // One retry after 1 s, then Stalled.
    let s = eventually("Stalled", || {
        let s = ss(&api, "db");
        condition(&s, "Stalled").map(|_| s)
    })
    .await;
    assert!(condition(&s, "Reconciling").is_none());
    let evs = events(&api, "db");
    assert_eq!(
        evs,
        [(
            "Warning".into(),
            "ErrUnsealFailed".into(),
            "Failed to unseal: no key could decrypt secret (a, b)".into()
        )],
        "one event for the failure, none per retry"
    );
    let decrypts = c.ctx.decrypt_count();
    assert_eq!(decrypts, 2);

    api.insert(key_secret("sealed-secrets-keybbbbb", "rsa4096"));
    wait_synced(&api, "db", "True").await;
    let sec = secret(&api, "db").expect("created after the key arrived");
    assert_eq!(data_item(&sec, "a"), b"2");
    let s = ss(&api, "db");
    assert!(condition(&s, "Stalled").is_none());
}

#[tokio::test]
async fn a_scope_mistake_is_named() {
    let api = double_with_key().await;
    let mut v = sealed("db", &[("a", "1")], "rsa2048");
    // Sealed strict, then marked cluster-wide.
    v["metadata"]["annotations"] = json!({"sealedsecrets.bitnami.com/cluster-wide": "true"});
    api.insert(v);
    let _c = start(&api, &[]).await;
    let s = wait_synced(&api, "db", "False").await;
    let ready = condition(&s, "Ready").expect("Ready");
    let msg = ready["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("--scope strict") && msg.contains("cluster-wide"),
        "{msg}"
    );
    let evs = eventually("event", || {
        Some(events(&api, "db")).filter(|e| !e.is_empty())
    })
    .await;
    assert!(evs[0].2.contains("likely mistake"), "{evs:?}");
}

#[tokio::test]
async fn a_restart_with_everything_synced_decrypts_nothing_and_writes_nothing() {
    let api = double_with_key().await;
    for n in ["a", "b", "c"] {
        api.insert(sealed(n, &[("k", n)], "rsa2048"));
    }
    let first = start(&api, &[]).await;
    for n in ["a", "b", "c"] {
        wait_synced(&api, n, "True").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in ["a", "b", "c"] {
        let evs = events(&api, n);
        assert_eq!(evs.len(), 1, "{n}: {evs:?}");
    }
    first.stop();
    let events_before = api.list("v1", "Event", Some(NS)).len();
    api.clear_requests();

    let second = start(&api, &[]).await;
    eventually("caches synced", || {
        second.synced.load(Ordering::SeqCst).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(second.ctx.decrypt_count(), 0, "no restart storm");
    assert_eq!(
        api.list("v1", "Event", Some(NS)).len(),
        events_before,
        "no new events"
    );
    let writes: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    // The one full list of Secrets leaves Helm's release Secrets out.
    let full_lists: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::GET && r.path.ends_with("/secrets") && !r.is_watch())
        .filter(|r| !r.query.contains("metadata") && r.query.contains("fieldSelector"))
        .collect();
    assert!(
        full_lists
            .iter()
            .any(|r| r.query.contains("type%21%3Dhelm.sh%2Frelease.v1")),
        "{full_lists:?}"
    );
    // condition_info is still exported for every object, as after an upstream restart.
    let metrics = second.metrics.render();
    for n in ["a", "b", "c"] {
        let series = format!(
            "sealed_secrets_controller_condition_info{{namespace=\"{NS}\",name=\"{n}\",condition=\"Synced\",ss_app_kubernetes_io_instance=\"\"}} 1"
        );
        assert!(metrics.contains(&series), "{n}: {metrics}");
    }
    let gets = api
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == Method::GET
                && r.path
                    .starts_with(&format!("/api/v1/namespaces/{NS}/secrets/"))
        })
        .count();
    assert_eq!(gets, 0, "synced objects need no GET either");

    // Drift that happened while no controller ran is still noticed.
    second.stop();
    api.modify("v1", "Secret", Some(NS), "b", |s| {
        s["data"]["k"] = json!("eA==")
    })
    .expect("edit");
    let third = start(&api, &[]).await;
    eventually("drift restored after restart", || {
        let s = secret(&api, "b")?;
        (data_item(&s, "k") == b"b").then_some(())
    })
    .await;
    assert_eq!(third.ctx.decrypt_count(), 1);
}

/// Random and time-dependent template functions are rendered once per spec: a restart renders
/// nothing again, so a generated password stays what the Secret holds; a spec change renders
/// anew (docs/spec-amendments.md, "#11: template functions").
#[tokio::test]
async fn generated_template_values_survive_a_restart_and_change_with_the_spec() {
    let api = double_with_key().await;
    let mut v = sealed("gen", &[("user", "admin")], "rsa2048");
    v["spec"]["template"]["data"] = json!({
        "password": "{{ randAlphaNum 32 }}",
        "rendered-at": "{{ now | unixEpoch }}",
    });
    api.insert(v);
    let first = start(&api, &[]).await;
    wait_synced(&api, "gen", "True").await;
    let password = data_item(&secret(&api, "gen").expect("written"), "password");
    assert_eq!(password.len(), 32);
    assert!(
        password.iter().all(u8::is_ascii_alphanumeric),
        "{password:?}"
    );
    first.stop();

    let second = start(&api, &[]).await;
    // The restarted controller has looked at the object once it exports its condition again.
    let series = format!(
        "sealed_secrets_controller_condition_info{{namespace=\"{NS}\",name=\"gen\",condition=\"Synced\",ss_app_kubernetes_io_instance=\"\"}} 1"
    );
    eventually("the restarted controller saw the object", || {
        second.metrics.render().contains(&series).then_some(())
    })
    .await;
    assert_eq!(second.ctx.decrypt_count(), 0, "nothing rendered again");
    let after = data_item(&secret(&api, "gen").expect("still there"), "password");
    assert_eq!(after, password, "a restart keeps the generated password");

    // A spec change renders the template again, with a fresh value.
    api.modify(
        "bitnami.com/v1alpha1",
        "SealedSecret",
        Some(NS),
        "gen",
        |ss| {
            ss["spec"]["template"]["data"]["note"] = json!("changed");
        },
    )
    .expect("edit");
    eventually("re-rendered after the spec change", || {
        let s = secret(&api, "gen")?;
        (data_item(&s, "note") == b"changed").then_some(())
    })
    .await;
    let changed = data_item(&secret(&api, "gen").expect("still there"), "password");
    assert_ne!(changed, password, "the new spec got a new value");
}

#[tokio::test]
async fn injected_server_errors_and_conflicts_are_retried() {
    let api = double_with_key().await;
    api.fail_next(
        Fault::status(500)
            .on(Method::POST)
            .path("/secrets")
            .times(2),
    );
    api.fail_next(Fault::status(409).on(Method::PUT).path("/status").times(1));
    api.insert(sealed("db", &[("password", "hunter2")], "rsa2048"));
    let _c = start(&api, &[]).await;
    let s = wait_synced(&api, "db", "True").await;
    assert!(condition(&s, "Reconciling").is_none());
    assert_eq!(
        data_item(&secret(&api, "db").expect("created"), "password"),
        b"hunter2"
    );
}

#[tokio::test]
async fn a_watch_disconnect_is_recovered() {
    let api = double_with_key().await;
    let _c = start(&api, &[]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    api.close_watches();
    api.insert(sealed("late", &[("k", "v")], "rsa2048"));
    wait_synced(&api, "late", "True").await;
    assert!(secret(&api, "late").is_some());
}

#[tokio::test]
async fn an_immutable_secret_with_other_data_stalls_without_a_write() {
    let api = double_with_key().await;
    let created = api.insert(sealed("db", &[("password", "new")], "rsa2048"));
    api.insert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": NS, "ownerReferences": [{
            "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "db",
            "uid": created["metadata"]["uid"], "controller": true}]},
        "immutable": true,
        "stringData": {"password": "old"},
    }));
    let _c = start(&api, &[]).await;
    let s = wait_synced(&api, "db", "False").await;
    let msg = s["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        msg.starts_with("Error updating apps/db: the target Secret is immutable."),
        "{msg}"
    );
    assert_eq!(
        condition(&s, "Ready").expect("Ready")["reason"],
        "ImmutableSecret"
    );
    assert_eq!(condition(&s, "Stalled").expect("Stalled")["status"], "True");
    let puts = api
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::PUT && r.path.ends_with("/secrets/db"))
        .count();
    assert_eq!(puts, 0, "detected before writing");
}

#[tokio::test]
async fn a_spec_change_updates_the_secret_and_status_only_changes_do_not_reconcile() {
    let api = double_with_key().await;
    api.insert(sealed("db", &[("password", "one")], "rsa2048"));
    let c = start(&api, &[]).await;
    wait_synced(&api, "db", "True").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = c.ctx.decrypt_count();

    // Metadata-only change: no reconcile.
    api.modify(
        "bitnami.com/v1alpha1",
        "SealedSecret",
        Some(NS),
        "db",
        |s| {
            s["metadata"]["labels"] = json!({"x": "y"});
        },
    )
    .expect("label");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.ctx.decrypt_count(), before);

    // Spec change: new data, observedGeneration follows.
    let new = sealed("db", &[("password", "two")], "rsa2048");
    api.modify(
        "bitnami.com/v1alpha1",
        "SealedSecret",
        Some(NS),
        "db",
        |s| {
            s["spec"] = new["spec"].clone();
        },
    )
    .expect("spec");
    eventually("updated", || {
        let s = secret(&api, "db")?;
        (data_item(&s, "password") == b"two").then_some(())
    })
    .await;
    let s = eventually("observedGeneration", || {
        let s = ss(&api, "db");
        (s["status"]["observedGeneration"] == s["metadata"]["generation"]).then_some(s)
    })
    .await;
    assert_eq!(s["metadata"]["generation"], 2);
}

#[tokio::test]
async fn an_unreadable_sealed_secret_is_reported_alone_and_the_others_still_unseal() {
    let api = double_with_key().await;
    // Passes the CRD schema (template.metadata preserves unknown fields) but labels must be
    // strings: a typed list would fail for every object.
    let mut bad = sealed("bad", &[("password", "x")], "rsa2048");
    bad["spec"]["template"]["metadata"]["labels"]["tier"] = json!(7);
    api.insert(bad);
    api.insert(sealed("db", &[("password", "hunter2")], "rsa2048"));
    let c = start(&api, &[]).await;

    wait_synced(&api, "db", "True").await;
    let s = wait_synced(&api, "bad", "False").await;
    let msg = s["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        msg.starts_with(
            "invalid SealedSecret: spec.template.metadata.labels.tier: invalid type: integer `7`"
        ),
        "{msg}"
    );
    assert_eq!(
        condition(&s, "Ready").expect("Ready")["reason"],
        "UnsealFailed"
    );
    let stalled = condition(&s, "Stalled").expect("Stalled");
    assert_eq!(stalled["status"], "True");
    assert_eq!(stalled["message"], "waiting for a spec change");
    assert_eq!(
        s["status"]["observedGeneration"],
        s["metadata"]["generation"]
    );
    assert!(secret(&api, "bad").is_none(), "no Secret for it");
    let evs = eventually("warning event", || {
        let e = events(&api, "bad");
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert_eq!(evs.len(), 1);
    assert_eq!(
        (evs[0].0.as_str(), evs[0].1.as_str()),
        ("Warning", "ErrUnsealFailed")
    );
    assert_eq!(c.ctx.decrypt_count(), 1, "only db was decrypted");

    // Fixing the spec brings it back.
    let mut fixed = ss(&api, "bad");
    fixed["spec"]["template"]["metadata"]["labels"]["tier"] = json!("backend");
    api.update(fixed).expect("update");
    wait_synced(&api, "bad", "True").await;
    let sec = secret(&api, "bad").expect("Secret created after the fix");
    assert_eq!(data_item(&sec, "password"), b"x");
    assert_eq!(sec["metadata"]["labels"]["tier"], "backend");
}

#[tokio::test]
async fn a_secret_the_api_server_refuses_stalls_instead_of_retrying() {
    let api = double_with_key().await;
    let refusal = "Secret \"db\" is invalid: metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters";
    api.fail_next(
        Fault::status(422)
            .on(Method::POST)
            .path(&format!("/namespaces/{NS}/secrets"))
            .message(refusal)
            .always(),
    );
    api.insert(sealed("db", &[("password", "hunter2")], "rsa2048"));
    let c = start(&api, &[]).await;

    let s = wait_synced(&api, "db", "False").await;
    assert_eq!(s["status"]["conditions"][0]["message"], refusal);
    assert_eq!(
        condition(&s, "Ready").expect("Ready")["reason"],
        "UpdateFailed"
    );
    assert_eq!(condition(&s, "Stalled").expect("Stalled")["status"], "True");
    assert!(condition(&s, "Reconciling").is_none(), "no retry pending");
    // A retry would come after 1 s; none comes.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let creates = |api: &ApiDouble| {
        api.requests()
            .into_iter()
            .filter(|r| r.method == Method::POST && r.path.ends_with(&format!("{NS}/secrets")))
            .count()
    };
    assert_eq!(creates(&api), 1, "refused once, not retried");
    assert_eq!(c.ctx.decrypt_count(), 1);

    // A spec change is tried again.
    api.clear_faults();
    let mut changed = ss(&api, "db");
    changed["spec"] = sealed("db", &[("password", "hunter3")], "rsa2048")["spec"].clone();
    api.update(changed).expect("update");
    wait_synced(&api, "db", "True").await;
    assert_eq!(
        data_item(&secret(&api, "db").expect("created"), "password"),
        b"hunter3"
    );
}
