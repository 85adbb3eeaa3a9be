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
    start_with(api, flags, |ctx| ctx).await
}

/// [`start`], with the context adjusted by `tweak` before the loop runs.
async fn start_with(
    api: &ApiDouble,
    flags: &[&str],
    tweak: impl FnOnce(Context) -> Context,
) -> Running {
    let mut args = vec!["controller", "--workers=2", "--key-renew-period=0"];
    args.extend_from_slice(flags);
    let cfg = Arc::new(Config::try_parse_from(args).expect("flags"));
    // With `--kubeclient-*` given, the clients are limited as `seal_controller::run` builds
    // them: a bucket for Secrets and keys, one for SealedSecrets (events are not limited here).
    let limited = flags.iter().any(|f| f.starts_with("--kubeclient-"));
    let limit = seal_controller::throttle::ClientLimit::from_flags(
        cfg.kubeclient_qps,
        cfg.kubeclient_burst,
    )
    .expect("limit");
    let build = || {
        if limited {
            seal_controller::throttle::client_with_limits(api.config(), limit, None)
                .expect("client")
        } else {
            api.client()
        }
    };
    let client = build();
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
    let ctx = Arc::new(tweak(
        Context::new(
            client.clone(),
            keys,
            metrics.clone(),
            cfg,
            Recorder::new(api.client(), "test"),
        )
        .with_sealed_client(build()),
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
    // The Secret carries the template's annotations and nothing of ours (upstream's
    // integration suite compares them exactly); the record of it is in the status.
    assert!(
        sec["metadata"]
            .get("annotations")
            .is_none_or(|a| a == &json!({})),
        "{}",
        sec["metadata"]
    );
    assert!(
        sec["metadata"]["annotations"]
            .get(ANNOTATION_DIGEST)
            .is_none()
    );
    let record = condition(&s, "seal.dev/Unsealed").expect("our record");
    assert_eq!(record["status"], "True");
    let msg = record["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("v2;")
            && msg.ends_with(&format!(
                ";{}",
                sec["metadata"]["resourceVersion"].as_str().unwrap_or("?")
            )),
        "{msg}"
    );
    // Synced stays first; upstream's integration suite checks its times on a first sync.
    assert_eq!(
        s["status"]["conditions"][0]["lastTransitionTime"],
        s["status"]["conditions"][0]["lastUpdateTime"]
    );

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
    // Retried with backoff, as upstream retries it: the Secret may be deleted or annotated.
    assert_eq!(
        condition(&s, "Reconciling").expect("Reconciling")["status"],
        "True"
    );
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
    // Conflicts are decided before decrypting, from the metadata watch: no GET.
    assert_eq!(c.ctx.decrypt_count(), 0);
    assert!(c.metrics.render().contains("reason=\"unmanaged\""));
    let gets = api
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::GET && r.path.ends_with(&format!("/{NS}/secrets/db")))
        .count();
    assert_eq!(gets, 0);
}

/// Upstream's integration spec "should not recreate the secret" (an unowned Secret without the
/// managed annotation): deleting a Secret that is neither ours nor managed is no trigger
/// (SPEC §6), and a SealedSecret in conflict finds the name free at its next scheduled retry.
#[tokio::test]
async fn deleting_a_foreign_secret_is_no_trigger_and_the_retry_takes_the_name() {
    let api = double_with_key().await;
    api.insert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": NS},
        "stringData": {"password": "theirs"},
    }));
    api.insert(sealed("db", &[("password", "ours")], "rsa2048"));
    let c = start(&api, &[]).await;
    wait_synced(&api, "db", "False").await;
    eventually("the conflict's retry scheduled", || {
        (c.ctx.reconcile_count() >= 1 && c.ctx.requeue_count() == 1).then_some(())
    })
    .await;
    let triggers = c.ctx.trigger_count();

    delete_secret_seen(&api, &c.ctx, "db").await;
    // The watch event was handled (the index changed in the same step) and queued nothing;
    // only the scheduled retry will reconcile it.
    assert_eq!(c.ctx.trigger_count(), triggers, "the delete was no trigger");

    // The retry (backoff 1 s) finds the name free and creates our Secret.
    wait_synced(&api, "db", "True").await;
    let sec = secret(&api, "db").expect("created at the retry");
    assert_eq!(data_item(&sec, "password"), b"ours");
}

/// A tool that deletes and recreates its Secret (`kubectl replace --force`, `helm upgrade
/// --force`) while a SealedSecret of that name arrives: the name freed by deleting a Secret that
/// is not ours is left to its owner (here for longer than the test runs, so no clock is raced),
/// the owner gets it back, and the SealedSecret reports the conflict instead of having taken it.
#[tokio::test]
async fn a_name_freed_by_deleting_a_foreign_secret_is_left_to_its_owner() {
    let api = double_with_key().await;
    let theirs = |v: &str| {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": NS},
            "stringData": {"password": v},
        })
    };
    api.insert(theirs("theirs-1"));
    api.insert(sealed("probe", &[("password", "p")], "rsa2048"));
    let c = start_with(&api, &[], |ctx| {
        ctx.with_freed_name_grace(Duration::from_secs(3600))
    })
    .await;
    wait_synced(&api, "probe", "True").await;

    delete_secret_seen(&api, &c.ctx, "db").await;
    api.insert(sealed("db", &[("password", "ours")], "rsa2048"));
    eventually("our create waits", || {
        (c.ctx.deferral_count() == 1).then_some(())
    })
    .await;
    assert!(secret(&api, "db").is_none(), "nothing created in the gap");

    // Their create finds the name free; the SealedSecret sees a foreign Secret.
    api.insert(theirs("theirs-2"));
    let s = wait_synced(&api, "db", "False").await;
    assert_eq!(
        s["status"]["conditions"][0]["message"],
        "failed update: Resource \"db\" already exists and is not managed by SealedSecret"
    );
    let sec = secret(&api, "db").expect("theirs");
    assert_eq!(data_item(&sec, "password"), b"theirs-2");
    assert!(sec["metadata"].get("ownerReferences").is_none());
    let creates = api
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::POST && r.path.ends_with(&format!("/{NS}/secrets")))
        .count();
    assert_eq!(
        creates, 1,
        "only the probe's Secret was created by the controller"
    );
}

/// The deletion of a Secret a SealedSecret only patches is no trigger, and nothing waits on the
/// name (upstream's "should not recreate the secret" with the patch annotation).
#[tokio::test]
async fn deleting_a_patched_secret_is_no_trigger() {
    let api = double_with_key().await;
    api.insert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": NS,
                     "annotations": {"sealedsecrets.bitnami.com/patch": "true"}},
        "stringData": {"other": "theirs"},
    }));
    api.insert(sealed("db", &[("password", "ours")], "rsa2048"));
    let c = start(&api, &[]).await;
    wait_synced(&api, "db", "True").await;
    assert_eq!(
        data_item(&secret(&api, "db").expect("patched"), "password"),
        b"ours"
    );
    let triggers = c.ctx.trigger_count();
    delete_secret_seen(&api, &c.ctx, "db").await;
    assert_eq!(c.ctx.trigger_count(), triggers, "the delete was no trigger");
    assert_eq!(c.ctx.deferral_count(), 0);
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
    let c = start(&api, &["--skip-recreate"]).await;
    wait_synced(&api, "db", "True").await;
    eventually("Secret", || secret(&api, "db")).await;
    eventually("the reconcile done", || {
        (c.ctx.reconcile_count() >= 1).then_some(())
    })
    .await;
    let triggers = c.ctx.trigger_count();
    api.delete("v1", "Secret", Some(NS), "db");
    // The decision is taken when the watch delivers the delete, in the step that updates the
    // index: once the index shows it gone, nothing was queued.
    eventually("the watch saw the delete", || {
        (!c.ctx.sees_secret(NS, "db")).then_some(())
    })
    .await;
    assert_eq!(c.ctx.trigger_count(), triggers, "nothing queued");
    assert!(secret(&api, "db").is_none());
    let creates = api
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::POST && r.path.ends_with(&format!("{NS}/secrets")))
        .count();
    assert_eq!(creates, 1, "created once, not recreated");
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
    for n in ["a", "b", "c"] {
        let evs = eventually("the Unsealed event", || {
            Some(events(&api, n)).filter(|e| !e.is_empty())
        })
        .await;
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
    eventually("every object reconciled once", || {
        (second.ctx.reconcile_count() >= 3).then_some(())
    })
    .await;
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
    // Nothing to verify: no list of whole Secrets either.
    let full_lists = api
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::GET && r.path.ends_with("/secrets") && !r.is_watch())
        .filter(|r| r.query.contains("helm.sh"))
        .count();
    assert_eq!(full_lists, 0);
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
    let c = start(&api, &[]).await;
    eventually("caches synced", || {
        c.synced.load(Ordering::SeqCst).then_some(())
    })
    .await;
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
    let before = c.ctx.decrypt_count();
    assert_eq!(before, 1);

    // Metadata-only change: no reconcile. (The status times are moved into the past with it,
    // so the spec change below is seen to move lastUpdateTime without waiting a second.)
    const PAST: &str = "2020-01-01T00:00:00Z";
    api.modify(
        "bitnami.com/v1alpha1",
        "SealedSecret",
        Some(NS),
        "db",
        |s| {
            s["metadata"]["labels"] = json!({"x": "y"});
            s["status"]["conditions"][0]["lastUpdateTime"] = json!(PAST);
            s["status"]["conditions"][0]["lastTransitionTime"] = json!(PAST);
        },
    )
    .expect("label");

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
    // Events of one object arrive in order: the label change came first and cost nothing, the
    // spec change one decryption.
    assert_eq!(c.ctx.decrypt_count(), before + 1);
    // As upstream's: Synced stayed True, so lastUpdateTime moved and lastTransitionTime not.
    let synced = &s["status"]["conditions"][0];
    assert_eq!(synced["type"], "Synced");
    assert_eq!(synced["lastTransitionTime"], PAST);
    assert_ne!(synced["lastUpdateTime"], PAST);
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
    // The reconcile ended without scheduling a retry.
    eventually("the reconcile done", || {
        (c.ctx.reconcile_count() >= 1).then_some(())
    })
    .await;
    assert_eq!(c.ctx.requeue_count(), 0, "no retry scheduled");
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

/// Requests about each of `names` (its SealedSecret and its Secret) that count against the
/// client's rate limit: everything but watches, lists and events (which have a budget of
/// their own); plus the creates in [`NS`], whose path names no object.
fn requests_per_object(api: &ApiDouble, names: &[&str]) -> (Vec<(String, Vec<String>)>, usize) {
    let reqs = api.requests();
    let per = names
        .iter()
        .map(|n| {
            let mine: Vec<String> = reqs
                .iter()
                .filter(|r| {
                    r.path.ends_with(&format!("/namespaces/{NS}/secrets/{n}"))
                        || r.path
                            .ends_with(&format!("/namespaces/{NS}/sealedsecrets/{n}"))
                        || r.path
                            .ends_with(&format!("/namespaces/{NS}/sealedsecrets/{n}/status"))
                })
                .map(|r| format!("{} {}", r.method, r.path))
                .collect();
            ((*n).to_owned(), mine)
        })
        .collect();
    let creates = reqs
        .iter()
        .filter(|r| {
            r.method == Method::POST && r.path.ends_with(&format!("/namespaces/{NS}/secrets"))
        })
        .count();
    (per, creates)
}

/// Regression test for issue #12: requests counted against `--kubeclient-qps` per object are
/// at most 2 for a new object (Secret create, status), 1 for an object whose Secret upstream's
/// controller already made right (status only, no Secret write), 0 for a synced object after a
/// restart.
#[tokio::test]
async fn requests_per_object_are_two_new_one_migrated_zero_restarted() {
    const NAMES: [&str; 4] = ["a", "b", "c", "d"];
    let n = NAMES.len() as u64;
    let api = double_with_key().await;
    for name in NAMES {
        api.insert(sealed(name, &[("k", name), ("l", "x")], "rsa2048"));
    }

    // New objects: the Secret create and the status write.
    let first = start(&api, &[]).await;
    assert_two_requests_each(&api, &first.ctx, &NAMES).await;
    // Events are sent in the background: wait for them before counting.
    for name in NAMES {
        eventually("the Unsealed event", || {
            Some(events(&api, name)).filter(|e| !e.is_empty())
        })
        .await;
    }
    first.stop();

    // As upstream's controller leaves them: the same Secrets, a status with Synced only.
    for name in NAMES {
        api.modify(SS, "SealedSecret", Some(NS), name, |s| {
            s["status"] = json!({
                "observedGeneration": s["metadata"]["generation"],
                "conditions": [{
                    "type": "Synced", "status": "True",
                    "lastUpdateTime": "2020-01-01T00:00:00Z",
                    "lastTransitionTime": "2020-01-01T00:00:00Z",
                }],
            });
        })
        .expect("status");
    }
    let secrets_before: Vec<Value> = NAMES
        .iter()
        .map(|n| secret(&api, n).expect("kept"))
        .collect();
    let events_before = api.list("v1", "Event", Some(NS)).len();
    api.clear_requests();

    // Migration: content verified by decryption against the startup list, status only.
    let second = start(&api, &[]).await;
    for name in NAMES {
        eventually("our record in the status", || {
            condition(&ss(&api, name), "seal.dev/Unsealed").map(|_| ())
        })
        .await;
    }
    eventually("all reconciled", || {
        (second.ctx.reconcile_count() >= n).then_some(())
    })
    .await;
    let (per, creates) = requests_per_object(&api, &NAMES);
    assert_eq!(creates, 0);
    for (name, reqs) in &per {
        assert_eq!(reqs.len(), 1, "{name}: {reqs:?}");
        assert!(
            reqs[0].starts_with("PUT ") && reqs[0].ends_with("/status"),
            "{reqs:?}"
        );
    }
    assert_eq!(second.ctx.decrypt_count(), n, "each verified by decryption");
    for (name, before) in NAMES.iter().zip(&secrets_before) {
        let now = secret(&api, name).expect("kept");
        assert_eq!(
            now["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
            "{name}: not written"
        );
    }
    // The one list of whole Secrets leaves Helm's release Secrets out.
    let full_lists: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::GET && r.path.ends_with("/secrets") && !r.is_watch())
        .filter(|r| r.query.contains("helm.sh"))
        .collect();
    assert_eq!(full_lists.len(), 1, "{full_lists:?}");
    assert!(
        full_lists[0]
            .query
            .contains("type%21%3Dhelm.sh%2Frelease.v1")
    );
    // Synced stayed True and nothing was written: no event; lastTransitionTime kept.
    assert_eq!(api.list("v1", "Event", Some(NS)).len(), events_before);
    let s = ss(&api, "a");
    assert_eq!(
        s["status"]["conditions"][0]["lastTransitionTime"],
        "2020-01-01T00:00:00Z"
    );
    assert_eq!(condition(&s, "Ready").expect("Ready")["status"], "True");
    second.stop();

    // Restart: nothing per object.
    api.clear_requests();
    let third = start(&api, &[]).await;
    eventually("all reconciled", || {
        (third.ctx.reconcile_count() >= n).then_some(())
    })
    .await;
    let (per, creates) = requests_per_object(&api, &NAMES);
    assert_eq!(creates, 0);
    for (name, reqs) in &per {
        assert!(reqs.is_empty(), "{name}: {reqs:?}");
    }
    assert_eq!(third.ctx.decrypt_count(), 0);
}

/// A migrated Secret whose content is not what the SealedSecret unseals to is rewritten.
#[tokio::test]
async fn a_migrated_secret_with_other_content_is_rewritten() {
    let api = double_with_key().await;
    let names = ["a", "b", "c"];
    for name in names {
        api.insert(sealed(name, &[("k", name)], "rsa2048"));
    }
    let first = start(&api, &[]).await;
    for name in names {
        wait_synced(&api, name, "True").await;
    }
    first.stop();
    for name in names {
        api.modify(SS, "SealedSecret", Some(NS), name, |s| {
            let conds = s["status"]["conditions"]
                .as_array_mut()
                .expect("conditions");
            conds.retain(|c| c["type"] == "Synced");
        })
        .expect("status");
    }
    api.modify("v1", "Secret", Some(NS), "b", |s| {
        s["data"]["k"] = json!("c3RhbGU=") // "stale"
    })
    .expect("edit");
    let second = start(&api, &[]).await;
    eventually("b restored", || {
        let s = secret(&api, "b")?;
        (data_item(&s, "k") == b"b").then_some(())
    })
    .await;
    eventually("all recorded", || {
        names
            .iter()
            .all(|n| condition(&ss(&api, n), "seal.dev/Unsealed").is_some())
            .then_some(())
    })
    .await;
    let puts: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::PUT && r.path.contains(&format!("/{NS}/secrets/")))
        .map(|r| r.path)
        .collect();
    assert_eq!(puts, [format!("/api/v1/namespaces/{NS}/secrets/b")]);
    assert_eq!(second.ctx.decrypt_count(), 3);
}

/// Secrets written by an earlier release carry the digest as an annotation and their status no
/// record: the annotation, checked against the content, spares the decryption; the status gets
/// the record; the Secret is not written (the annotation stays until the next write).
#[tokio::test]
async fn an_earlier_releases_annotated_secret_is_adopted_without_decryption_or_write() {
    const NAMES: [&str; 3] = ["a", "b", "c"];
    let api = double_with_key().await;
    for name in NAMES {
        api.insert(sealed(name, &[("k", name)], "rsa2048"));
    }
    let first = start(&api, &[]).await;
    for name in NAMES {
        wait_synced(&api, name, "True").await;
    }
    first.stop();
    for name in NAMES {
        let mut record = String::new();
        api.modify(SS, "SealedSecret", Some(NS), name, |s| {
            let conds = s["status"]["conditions"]
                .as_array_mut()
                .expect("conditions");
            let i = conds
                .iter()
                .position(|c| c["type"] == "seal.dev/Unsealed")
                .expect("record");
            record = conds.remove(i)["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        })
        .expect("status");
        // The same MACs, as the earlier release wrote them on the Secret.
        let d = seal_controller::decide::Digest::parse(&record).expect("record");
        let legacy = format!("v1;{};{};{}", d.key_ids.join(","), d.spec, d.content);
        api.modify("v1", "Secret", Some(NS), name, |s| {
            s["metadata"]["annotations"] = json!({ANNOTATION_DIGEST: legacy});
        })
        .expect("annotate");
    }
    api.clear_requests();
    let second = start(&api, &[]).await;
    for name in NAMES {
        eventually("the record in the status", || {
            condition(&ss(&api, name), "seal.dev/Unsealed").map(|_| ())
        })
        .await;
    }
    eventually("all reconciled", || {
        (second.ctx.reconcile_count() >= 3).then_some(())
    })
    .await;
    assert_eq!(
        second.ctx.decrypt_count(),
        0,
        "the annotation spared the decryption"
    );
    let (per, creates) = requests_per_object(&api, &NAMES);
    assert_eq!(creates, 0);
    for (name, reqs) in &per {
        assert_eq!(reqs.len(), 1, "{name}: {reqs:?}");
        assert!(reqs[0].ends_with("/status"), "{reqs:?}");
        let s = secret(&api, name).expect("kept");
        assert!(
            s["metadata"]["annotations"][ANNOTATION_DIGEST].is_string(),
            "left as it is"
        );
    }
}

/// The same economy when the client limit makes every write wait: the watch then shows our own
/// created Secret while its object's status write is still queued, which must not cost a GET.
#[tokio::test]
async fn new_objects_cost_two_requests_each_under_a_tight_client_limit() {
    let names: Vec<String> = (0..20).map(|i| format!("n{i:02}")).collect();
    let api = double_with_key().await;
    for name in &names {
        api.insert(sealed(name, &[("k", name)], "rsa2048"));
    }
    let c = start(&api, &["--kubeclient-qps=20", "--kubeclient-burst=2"]).await;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_two_requests_each(&api, &c.ctx, &refs).await;
}

/// Deletes Secret `name` and waits until the controller's watch has seen it go.
async fn delete_secret_seen(api: &ApiDouble, ctx: &Context, name: &str) {
    api.delete("v1", "Secret", Some(NS), name);
    eventually("the watch saw the delete", || {
        (!ctx.sees_secret(NS, name)).then_some(())
    })
    .await;
}

/// Waits until every one of `names` (all new) is synced and reconciled, then checks that each
/// cost its Secret's create and its status write and nothing else: no GET of the SealedSecret
/// or the Secret.
async fn assert_two_requests_each(api: &ApiDouble, ctx: &Context, names: &[&str]) {
    for name in names {
        wait_synced(api, name, "True").await;
    }
    eventually("all reconciled", || {
        (ctx.reconcile_count() >= names.len() as u64).then_some(())
    })
    .await;
    let (per, creates) = requests_per_object(api, names);
    assert_eq!(creates, names.len(), "one create each");
    for (name, reqs) in &per {
        assert_eq!(
            reqs,
            &[format!(
                "PUT /apis/bitnami.com/v1alpha1/namespaces/{NS}/sealedsecrets/{name}/status"
            )],
            "{name}: no GET of the SealedSecret or the Secret"
        );
    }
}
