//! The double, driven by an unmodified kube client and kube-runtime watchers.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt};
use http::Method;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher as watch_all;
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use kube_double::{ApiDouble, Fault, ResourceKind};
use serde_json::{Value, json};

const NS: &str = "default";

fn ss_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("bitnami.com", "v1alpha1", "SealedSecret"),
        "sealedsecrets",
    )
}

fn sealed_secrets(client: Client) -> Api<DynamicObject> {
    Api::namespaced_with(client, NS, &ss_resource())
}

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some(name.to_owned());
    s.data = Some(
        data.iter()
            .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
            .collect(),
    );
    s
}

fn api_code(err: &kube::Error) -> Option<(u16, String)> {
    match err {
        kube::Error::Api(s) => Some((s.code, s.reason.clone())),
        _ => None,
    }
}

fn api_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// The next watcher event, skipping nothing; fails the test after 10 s.
async fn next<K, S>(stream: &mut S) -> Result<Event<K>, watcher::Error>
where
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a watcher event within 10 s")
        .expect("the watcher stream does not end")
}

/// Reads a full initial listing (Init, InitApply*, InitDone) and returns the names.
async fn initial_names<K: ResourceExt, S>(stream: &mut S) -> Vec<String>
where
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    loop {
        match next(stream).await {
            Ok(Event::Init) => break,
            Ok(_) => panic!("expected Init"),
            Err(_) => continue,
        }
    }
    let mut names = Vec::new();
    loop {
        match next(stream).await.expect("no error during the listing") {
            Event::InitApply(o) => names.push(o.name_any()),
            Event::InitDone => return names,
            _ => panic!("unexpected event during the initial listing"),
        }
    }
}

#[tokio::test]
async fn secrets_support_create_get_replace_delete() {
    let api = ApiDouble::start().await;
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);

    let created = secrets
        .create(&PostParams::default(), &secret("a", &[("k", "v")]))
        .await
        .expect("created");
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    assert_eq!(
        created.metadata.generation, None,
        "core Secrets carry no generation"
    );
    assert_eq!(created.type_.as_deref(), Some("Opaque"));

    let got = secrets.get("a").await.expect("got");
    assert_eq!(
        got.metadata.resource_version,
        created.metadata.resource_version
    );

    let mut changed = got.clone();
    changed.data = Some(BTreeMap::from([(
        "k".to_owned(),
        ByteString(b"w".to_vec()),
    )]));
    let replaced = secrets
        .replace("a", &PostParams::default(), &changed)
        .await
        .expect("replaced");
    assert_ne!(
        replaced.metadata.resource_version,
        got.metadata.resource_version
    );
    assert_eq!(replaced.metadata.uid, created.metadata.uid);

    // An unchanged replace does not write.
    let again = secrets
        .replace("a", &PostParams::default(), &replaced)
        .await
        .expect("no-op");
    assert_eq!(
        again.metadata.resource_version,
        replaced.metadata.resource_version
    );

    let dup = secrets
        .create(&PostParams::default(), &secret("a", &[]))
        .await
        .expect_err("duplicate");
    assert_eq!(api_code(&dup), Some((409, "AlreadyExists".into())));
    assert_eq!(api_message(&dup), "secrets \"a\" already exists");

    let deleted = secrets
        .delete("a", &DeleteParams::default())
        .await
        .expect("deleted");
    assert!(
        deleted.is_right(),
        "built-in types answer a deletion with a Status"
    );
    let missing = secrets.get("a").await.expect_err("gone");
    assert_eq!(api_code(&missing), Some((404, "NotFound".into())));
    assert_eq!(api_message(&missing), "secrets \"a\" not found");
    assert!(secrets.get_opt("a").await.expect("get_opt").is_none());
    let missing = secrets
        .delete("a", &DeleteParams::default())
        .await
        .expect_err("gone");
    assert_eq!(api_code(&missing).map(|c| c.0), Some(404));
    assert_eq!(api.get("v1", "Secret", Some(NS), "a"), None);
}

#[tokio::test]
async fn generate_name_and_string_data_are_server_side() {
    let api = ApiDouble::start().await;
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let mut s = Secret::default();
    s.metadata.generate_name = Some("sealed-secrets-key".into());
    s.string_data = Some(BTreeMap::from([("tls.key".to_owned(), "pem".to_owned())]));
    let created = secrets
        .create(&PostParams::default(), &s)
        .await
        .expect("created");
    let name = created.name_any();
    assert_eq!(name.len(), "sealed-secrets-key".len() + 5);
    assert!(name.starts_with("sealed-secrets-key"));
    assert!(
        name[18..]
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    assert_eq!(created.string_data, None);
    assert_eq!(created.data.expect("data")["tls.key"].0, b"pem");

    let mut bad = Secret::default();
    bad.metadata.name = Some("Bad_Name".into());
    let err = secrets
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("invalid");
    assert_eq!(api_code(&err), Some((422, "Invalid".into())));
}

#[tokio::test]
async fn stale_resource_versions_conflict() {
    let api = ApiDouble::start().await;
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let v1 = secrets
        .create(&PostParams::default(), &secret("a", &[("k", "1")]))
        .await
        .expect("created");
    // Another writer gets in first.
    api.modify("v1", "Secret", Some(NS), "a", |s| {
        s["data"]["k"] = json!("Mg==")
    })
    .expect("modified");
    let mut mine = v1.clone();
    mine.data = Some(BTreeMap::from([(
        "k".to_owned(),
        ByteString(b"3".to_vec()),
    )]));
    let err = secrets
        .replace("a", &PostParams::default(), &mine)
        .await
        .expect_err("stale");
    assert_eq!(api_code(&err), Some((409, "Conflict".into())));
    assert_eq!(
        api_message(&err),
        "Operation cannot be fulfilled on secrets \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // Without a resourceVersion, a built-in type is replaced unconditionally.
    mine.metadata.resource_version = None;
    secrets
        .replace("a", &PostParams::default(), &mine)
        .await
        .expect("unconditional");
}

#[tokio::test]
async fn sealed_secrets_isolate_status_and_track_generation() {
    let api = ApiDouble::start().await;
    let ss = sealed_secrets(api.client());
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "s"},
        "spec": {"encryptedData": {"k": "AgB="}},
        "status": {"observedGeneration": 7},
    }))
    .expect("valid object");
    let created = ss
        .create(&PostParams::default(), &obj)
        .await
        .expect("created");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created.data.get("status").is_none(),
        "create ignores status"
    );

    // Status through the main resource is ignored, and does not bump the generation.
    let mut main = created.clone();
    main.data["status"] = json!({"observedGeneration": 1});
    let after = ss
        .replace("s", &PostParams::default(), &main)
        .await
        .expect("replaced");
    assert!(after.data.get("status").is_none());
    assert_eq!(after.metadata.generation, Some(1));

    // The status subresource takes only status.
    let mut st = after.clone();
    st.data["status"] =
        json!({"observedGeneration": 1, "conditions": [{"type": "Synced", "status": "True"}]});
    st.data["spec"] = json!({"encryptedData": {"k": "changed"}});
    let with_status = ss
        .replace_status("s", &PostParams::default(), &st)
        .await
        .expect("status replaced");
    assert_eq!(with_status.data["status"]["observedGeneration"], 1);
    assert_eq!(with_status.data["spec"]["encryptedData"]["k"], "AgB=");
    assert_eq!(with_status.metadata.generation, Some(1));

    // A spec change bumps the generation and keeps the status.
    let mut spec = with_status.clone();
    spec.data["spec"] = json!({"encryptedData": {"k": "AgC="}});
    let bumped = ss
        .replace("s", &PostParams::default(), &spec)
        .await
        .expect("replaced");
    assert_eq!(bumped.metadata.generation, Some(2));
    assert_eq!(bumped.data["status"]["conditions"][0]["type"], "Synced");

    // Custom resources must name the version they replace.
    let mut unconditional = bumped.clone();
    unconditional.metadata.resource_version = None;
    let err = ss
        .replace("s", &PostParams::default(), &unconditional)
        .await
        .expect_err("needs a resourceVersion");
    assert_eq!(api_code(&err).map(|c| c.0), Some(422));

    let gone = ss
        .delete("s", &DeleteParams::default())
        .await
        .expect("deleted");
    assert!(
        gone.is_left(),
        "custom resources answer a deletion with the object"
    );
}

#[tokio::test]
async fn patches_merge_and_json() {
    let api = ApiDouble::start().await;
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    secrets
        .create(
            &PostParams::default(),
            &secret("a", &[("k", "v"), ("x", "y")]),
        )
        .await
        .expect("created");
    let patched = secrets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}, "data": {"x": null}})),
        )
        .await
        .expect("merge patched");
    assert_eq!(patched.labels()["app"], "web");
    assert_eq!(
        patched.data.expect("data").keys().collect::<Vec<_>>(),
        ["k"]
    );

    // kube names json-patch's type only behind a feature; let inference name it.
    let ops = Patch::<()>::Json(
        serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/labels/app", "value": "web"},
            {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/x"]},
        ]))
        .expect("valid ops"),
    );
    let patched = secrets
        .patch("a", &PatchParams::default(), &ops)
        .await
        .expect("json patched");
    assert_eq!(patched.finalizers(), ["example.com/x"]);

    let failing = Patch::<()>::Json(
        serde_json::from_value(
            json!([{"op": "test", "path": "/metadata/labels/app", "value": "db"}]),
        )
        .expect("valid ops"),
    );
    let err = secrets
        .patch("a", &PatchParams::default(), &failing)
        .await
        .expect_err("test op fails");
    assert_eq!(api_code(&err).map(|c| c.0), Some(422));

    // A finalizer holds the deletion until it is removed.
    secrets
        .delete("a", &DeleteParams::default())
        .await
        .expect("deleting");
    let held = secrets.get("a").await.expect("still there");
    assert!(held.metadata.deletion_timestamp.is_some());
    secrets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("finalized");
    assert!(secrets.get_opt("a").await.expect("get_opt").is_none());
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let api = ApiDouble::start().await;
    for (name, ns, app) in [
        ("a", "one", "web"),
        ("b", "one", "db"),
        ("c", "two", "web"),
        ("d", "two", ""),
    ] {
        let mut labels = json!({});
        if !app.is_empty() {
            labels["app"] = json!(app);
        }
        api.insert(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": ns, "labels": labels}}));
    }
    let all: Api<Secret> = Api::all(api.client());
    let names = |list: kube::core::ObjectList<Secret>| {
        list.items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>()
    };
    let lp = |s: &str| ListParams::default().labels(s);
    assert_eq!(
        names(all.list(&lp("app=web")).await.expect("list")),
        ["a", "c"]
    );
    assert_eq!(
        names(all.list(&lp("app!=web")).await.expect("list")),
        ["b", "d"]
    );
    assert_eq!(
        names(all.list(&lp("app")).await.expect("list")),
        ["a", "b", "c"]
    );
    assert_eq!(names(all.list(&lp("!app")).await.expect("list")), ["d"]);
    assert_eq!(
        names(all.list(&lp("app in (db,x)")).await.expect("list")),
        ["b"]
    );
    assert_eq!(
        names(all.list(&lp("app notin (web)")).await.expect("list")),
        ["b", "d"]
    );
    let fp = ListParams::default().fields("metadata.namespace=two,metadata.name!=c");
    assert_eq!(names(all.list(&fp).await.expect("list")), ["d"]);
    let one: Api<Secret> = Api::namespaced(api.client(), "one");
    assert_eq!(
        names(one.list(&ListParams::default()).await.expect("list")),
        ["a", "b"]
    );
    let err = all
        .list(&ListParams::default().fields("data.x=1"))
        .await
        .expect_err("unsupported field");
    assert_eq!(api_code(&err).map(|c| c.0), Some(400));
}

#[tokio::test]
async fn lists_page_with_continue_tokens() {
    let api = ApiDouble::start().await;
    for i in 0..1200 {
        api.insert(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("s{i:04}"), "namespace": format!("ns{}", i % 3)}}));
    }
    let all: Api<Secret> = Api::all(api.client());
    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(500);
    let mut pages = 0;
    let mut rv = None;
    loop {
        let page = all.list(&lp).await.expect("page");
        pages += 1;
        rv.get_or_insert(page.metadata.resource_version.clone());
        assert_eq!(
            page.metadata.resource_version,
            *rv.as_ref().expect("set"),
            "pages share the first page's version"
        );
        seen.extend(page.items.iter().map(ResourceExt::name_any));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => lp = lp.continue_token(&c),
            None => break,
        }
        // Writes between pages do not disturb the paging.
        api.insert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{pages}")}}));
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 1200);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 1200);

    // kube-runtime's watcher pages with limit=500 by default.
    let mut w = watch_all(all, watcher::Config::default()).boxed();
    assert_eq!(initial_names(&mut w).await.len(), 1200);
    let lists = api
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::GET && r.targets("secrets") && !r.is_watch())
        .count();
    assert_eq!(lists, 3 + 3);
}

#[tokio::test]
async fn immutable_secrets_refuse_data_changes() {
    let api = ApiDouble::start().await;
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let mut s = secret("a", &[("k", "v")]);
    s.immutable = Some(true);
    let created = secrets
        .create(&PostParams::default(), &s)
        .await
        .expect("created");
    let mut changed = created.clone();
    changed.data = Some(BTreeMap::from([(
        "k".to_owned(),
        ByteString(b"w".to_vec()),
    )]));
    let err = secrets
        .replace("a", &PostParams::default(), &changed)
        .await
        .expect_err("immutable");
    assert_eq!(api_code(&err), Some((422, "Invalid".into())));
    assert_eq!(
        api_message(&err),
        "Secret \"a\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    assert!(api_message(&err).ends_with("field is immutable when `immutable` is set"));
    // Metadata may still change.
    let mut labelled = created.clone();
    labelled.metadata.labels = Some(BTreeMap::from([("a".to_owned(), "b".to_owned())]));
    secrets
        .replace("a", &PostParams::default(), &labelled)
        .await
        .expect("labels change");
}

#[tokio::test]
async fn deleting_an_owner_collects_its_dependents() {
    let api = ApiDouble::start().await;
    let ss = sealed_secrets(api.client());
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let owner = api.insert(
        json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "s", "namespace": NS}, "spec": {"encryptedData": {}}}),
    );
    let owner_ref = json!([{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "name": "s", "uid": owner["metadata"]["uid"], "controller": true}]);
    let mut owned = secret("s", &[("k", "v")]);
    owned.metadata.owner_references = Some(serde_json::from_value(owner_ref).expect("valid refs"));
    secrets
        .create(&PostParams::default(), &owned)
        .await
        .expect("created");
    secrets
        .create(&PostParams::default(), &secret("free", &[]))
        .await
        .expect("created");

    ss.delete("s", &DeleteParams::default())
        .await
        .expect("deleted");
    assert!(
        secrets.get_opt("s").await.expect("get_opt").is_none(),
        "GC deleted the owned Secret"
    );
    assert!(secrets.get_opt("free").await.expect("get_opt").is_some());

    // Orphaning deletions leave dependents without the reference.
    let owner = api.insert(
        json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "o", "namespace": NS}}),
    );
    api.insert(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "o", "namespace": NS,
        "ownerReferences": [{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "o",
                             "uid": owner["metadata"]["uid"]}]}}));
    let dp = DeleteParams {
        propagation_policy: Some(kube::api::PropagationPolicy::Orphan),
        ..DeleteParams::default()
    };
    ss.delete("o", &dp).await.expect("deleted");
    let orphan = secrets.get("o").await.expect("orphaned, not collected");
    assert_eq!(orphan.metadata.owner_references, None);

    // With GC off, dependents stay.
    api.set_garbage_collection(false);
    let owner = api.insert(
        json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "t", "namespace": NS}}),
    );
    api.insert(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t", "namespace": NS,
        "ownerReferences": [{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "t",
                             "uid": owner["metadata"]["uid"]}]}}));
    api.delete("bitnami.com/v1alpha1", "SealedSecret", Some(NS), "t")
        .expect("deleted");
    assert!(api.get("v1", "secrets", Some(NS), "t").is_some());
}

#[tokio::test]
async fn watcher_sees_changes_and_recovers_from_closed_and_expired_watches() {
    let api = ApiDouble::start().await;
    api.insert(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pre", "namespace": NS}}),
    );
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let mut w = watch_all(secrets.clone(), watcher::Config::default()).boxed();
    assert_eq!(initial_names(&mut w).await, ["pre"]);

    secrets
        .create(&PostParams::default(), &secret("a", &[]))
        .await
        .expect("created");
    match next(&mut w).await.expect("event") {
        Event::Apply(s) => assert_eq!(s.name_any(), "a"),
        _ => panic!("expected Apply(a)"),
    }
    api.modify("v1", "Secret", Some(NS), "a", |s| {
        s["metadata"]["labels"] = json!({"x": "y"})
    })
    .expect("modified");
    match next(&mut w).await.expect("event") {
        Event::Apply(s) => assert_eq!(s.labels()["x"], "y"),
        _ => panic!("expected Apply(a) with the label"),
    }
    api.delete("v1", "Secret", Some(NS), "a").expect("deleted");
    match next(&mut w).await.expect("event") {
        Event::Delete(s) => assert_eq!(s.name_any(), "a"),
        _ => panic!("expected Delete(a)"),
    }

    // A closed watch resumes from the last version: nothing is missed or repeated.
    api.close_watches();
    api.insert(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "namespace": NS}}),
    );
    match next(&mut w).await.expect("event") {
        Event::Apply(s) => assert_eq!(s.name_any(), "b"),
        _ => panic!("expected Apply(b) after the re-watch"),
    }

    // Expired history: the re-watch gets 410, the watcher relists.
    api.close_watches();
    api.insert(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c", "namespace": NS}}),
    );
    api.compact();
    match next(&mut w).await {
        Err(watcher::Error::WatchError(status)) => assert_eq!(status.code, 410),
        _ => panic!("expected a 410 watch error"),
    }
    let mut names = initial_names(&mut w).await;
    names.sort();
    assert_eq!(names, ["b", "c", "pre"]);
    // And it watches again.
    api.insert(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "d", "namespace": NS}}),
    );
    match next(&mut w).await.expect("event") {
        Event::Apply(s) => assert_eq!(s.name_any(), "d"),
        _ => panic!("expected Apply(d)"),
    }
}

#[tokio::test]
async fn raw_watches_follow_the_api_server() {
    let api = ApiDouble::start().await;
    api.set_bookmark_interval(Duration::from_millis(50));
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let first = api.insert(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "a", "namespace": NS, "labels": {"app": "web"}}}));
    let rv0 = first["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_owned();

    // From a version: replay, label transitions as ADDED/DELETED, bookmarks.
    let wp = WatchParams::default().labels("app=web").timeout(5);
    let mut events = secrets.watch(&wp, &rv0).await.expect("watch").boxed();
    api.insert(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "namespace": NS}}),
    );
    api.modify("v1", "Secret", Some(NS), "b", |s| {
        s["metadata"]["labels"] = json!({"app": "web"})
    })
    .expect("label");
    api.modify("v1", "Secret", Some(NS), "a", |s| {
        s["metadata"]["labels"] = json!({})
    })
    .expect("unlabel");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .expect("in time")
            .expect("no error")
            .expect("not ended");
        match ev {
            WatchEvent::Added(s) => seen.push(format!("ADDED {}", s.name_any())),
            WatchEvent::Modified(s) => seen.push(format!("MODIFIED {}", s.name_any())),
            WatchEvent::Deleted(s) => seen.push(format!("DELETED {}", s.name_any())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("unexpected error {e:?}"),
        }
    }
    // b starts matching the selector, a stops matching it.
    assert_eq!(seen, ["ADDED b", "DELETED a"]);
    drop(events);

    // A bookmark arrives when idle.
    let rv = api.resource_version().to_string();
    let mut events = secrets
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();
    let ev = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .expect("in time")
        .expect("no error")
        .expect("not ended");
    match ev {
        WatchEvent::Bookmark(b) => assert_eq!(b.metadata.resource_version, rv),
        other => panic!("expected a bookmark, got {other:?}"),
    }
    drop(events);

    // timeoutSeconds ends the stream.
    let wp = WatchParams::default().timeout(1).disable_bookmarks();
    let mut events = secrets.watch(&wp, &rv).await.expect("watch").boxed();
    let end = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .expect("ends in time")
        .expect("no error");
    assert!(end.is_none());

    // Too old: one ERROR event with 410 Expired.
    api.compact();
    let mut events = secrets
        .watch(&WatchParams::default(), &rv0)
        .await
        .expect("watch")
        .boxed();
    match events.try_next().await.expect("no transport error") {
        Some(WatchEvent::Error(e)) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected 410, got {other:?}"),
    }
    assert!(events.try_next().await.expect("clean end").is_none());
}

#[tokio::test]
async fn streaming_lists_send_initial_events_then_a_marker() {
    let api = ApiDouble::start().await;
    for name in ["a", "b"] {
        api.insert(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS}}));
    }
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let mut w = watch_all(
        secrets.clone(),
        watcher::Config::default().streaming_lists(),
    )
    .boxed();
    assert_eq!(initial_names(&mut w).await, ["a", "b"]);
    api.insert(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c", "namespace": NS}}),
    );
    match next(&mut w).await.expect("event") {
        Event::Apply(s) => assert_eq!(s.name_any(), "c"),
        _ => panic!("expected Apply(c)"),
    }
}

#[tokio::test]
async fn metadata_watcher_gets_metadata_only() {
    let api = ApiDouble::start().await;
    api.insert(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "a", "namespace": NS, "labels": {"l": "v"}}, "data": {"k": "djE="}}));
    // kube 5's way to a metadata watcher: an Api over PartialObjectMeta.
    let metas: Api<PartialObjectMeta<Secret>> = Api::namespaced(api.client(), NS);
    let mut w = watch_all(metas, watcher::Config::default()).boxed();
    assert!(matches!(next(&mut w).await, Ok(Event::Init)));
    match next(&mut w).await.expect("event") {
        Event::InitApply(m) => {
            assert_eq!(m.name_any(), "a");
            assert_eq!(m.labels()["l"], "v");
            assert_eq!(m.types.expect("types").kind, "PartialObjectMetadata");
        }
        _ => panic!("expected InitApply"),
    }
    assert!(matches!(next(&mut w).await, Ok(Event::InitDone)));
    api.insert(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "namespace": NS}}),
    );
    match next(&mut w).await.expect("event") {
        Event::Apply(m) => assert_eq!(m.types.expect("types").kind, "PartialObjectMetadata"),
        _ => panic!("expected Apply"),
    }
    let raw = api
        .client()
        .request_text(
            http::Request::get(format!("/api/v1/namespaces/{NS}/secrets/a"))
                .header(
                    "Accept",
                    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
                )
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("get");
    let raw: Value = serde_json::from_str(&raw).expect("json");
    assert_eq!(raw["apiVersion"], "meta.k8s.io/v1");
    assert!(raw.get("data").is_none());
}

#[tokio::test]
async fn faults_fail_the_next_matching_call_then_clear() {
    let api = ApiDouble::start().await;
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    api.fail_next(Fault::status(500).on(Method::POST).path("/secrets"));
    let err = secrets
        .create(&PostParams::default(), &secret("a", &[]))
        .await
        .expect_err("injected");
    assert_eq!(api_code(&err), Some((500, "InternalError".into())));
    secrets
        .create(&PostParams::default(), &secret("a", &[]))
        .await
        .expect("then succeeds");

    api.fail_next(
        Fault::status(409)
            .on(Method::PUT)
            .path("/secrets/a")
            .times(2)
            .message("busy"),
    );
    let cur = secrets.get("a").await.expect("got");
    for _ in 0..2 {
        let err = secrets
            .replace("a", &PostParams::default(), &cur)
            .await
            .expect_err("injected");
        assert_eq!(api_code(&err), Some((409, "Conflict".into())));
        assert_eq!(api_message(&err), "busy");
    }
    secrets
        .replace("a", &PostParams::default(), &cur)
        .await
        .expect("then succeeds");

    // A delay-only fault answers normally.
    api.fail_next(Fault::slow(Duration::from_millis(200)).path("/secrets/a"));
    let t = std::time::Instant::now();
    secrets.get("a").await.expect("slow but fine");
    assert!(t.elapsed() >= Duration::from_millis(200));

    // The request log shows what happened, e.g. that nothing was written.
    api.clear_requests();
    secrets.get("a").await.expect("got");
    let log = api.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].path, format!("/api/v1/namespaces/{NS}/secrets/a"));
    assert_eq!(log[0].status, 200);
    assert!(!log.iter().any(|r| r.is_write() && r.targets("secrets")));

    // An "RBAC" rule: no patching Secrets, ever.
    api.fail_next(
        Fault::status(403)
            .on(Method::PATCH)
            .path("/secrets/")
            .always(),
    );
    for _ in 0..3 {
        let err = secrets
            .patch("a", &PatchParams::default(), &Patch::Merge(json!({})))
            .await
            .expect_err("forbidden");
        assert_eq!(api_code(&err).map(|c| c.0), Some(403));
    }
    api.clear_faults();
    secrets
        .patch("a", &PatchParams::default(), &Patch::Merge(json!({})))
        .await
        .expect("allowed again");
}

#[tokio::test]
async fn namespaces_can_be_enforced_and_deleting_one_empties_it() {
    let api = ApiDouble::start().await;
    let secrets: Api<Secret> = Api::namespaced(api.client(), "nowhere");
    secrets
        .create(&PostParams::default(), &secret("lenient", &[]))
        .await
        .expect("namespaces are not enforced by default");
    api.set_enforce_namespaces(true);
    let err = secrets
        .create(&PostParams::default(), &secret("strict", &[]))
        .await
        .expect_err("no such namespace");
    assert_eq!(api_code(&err), Some((404, "NotFound".into())));
    assert_eq!(api_message(&err), "namespaces \"nowhere\" not found");
    api.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nowhere"}}));
    secrets
        .create(&PostParams::default(), &secret("strict", &[]))
        .await
        .expect("created");
    api.delete("v1", "namespaces", None, "nowhere")
        .expect("deleted");
    assert_eq!(api.count("v1", "Secret", Some("nowhere")), 0);
}

#[tokio::test]
async fn registered_kinds_are_served_and_discovered() {
    let api = ApiDouble::start().await;
    api.register(ResourceKind::custom("example.com", "v1", "Widget", "widgets").cluster_scoped());
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::all_with(api.client(), &ar);
    let w: DynamicObject =
        serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}}))
        .expect("valid");
    widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("created");
    assert_eq!(
        widgets
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    let version = api.client().apiserver_version().await.expect("version");
    assert_eq!(version.major, "1");
    let groups = api.client().list_api_groups().await.expect("groups");
    assert!(groups.groups.iter().any(|g| g.name == "bitnami.com"));
    for discovery in [
        kube::Discovery::new(api.client())
            .run()
            .await
            .expect("legacy discovery"),
        kube::Discovery::new(api.client())
            .run_aggregated()
            .await
            .expect("aggregated discovery"),
    ] {
        let gvk = GroupVersionKind::gvk("bitnami.com", "v1alpha1", "SealedSecret");
        let (found, caps) = discovery
            .resolve_gvk(&gvk)
            .expect("SealedSecrets are discovered");
        assert_eq!(found.plural, "sealedsecrets");
        assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
        let secret = GroupVersionKind::gvk("", "v1", "Secret");
        assert!(discovery.resolve_gvk(&secret).is_some());
        assert!(
            discovery
                .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
                .is_some()
        );
    }
    let resources = api
        .client()
        .list_api_group_resources("bitnami.com/v1alpha1")
        .await
        .expect("resources");
    assert!(
        resources
            .resources
            .iter()
            .any(|r| r.name == "sealedsecrets/status")
    );
}

#[tokio::test]
async fn puts_create_leases_and_metadata_is_validated() {
    let api = ApiDouble::start().await;
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(api.client(), NS);
    let mut lease = k8s_openapi::api::coordination::v1::Lease::default();
    lease.metadata.name = Some("leader".into());
    let created = leases
        .replace("leader", &PostParams::default(), &lease)
        .await
        .expect("a PUT creates a Lease");
    assert!(created.metadata.uid.is_some());
    // Secrets are not created by PUT.
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    let err = secrets
        .replace("nope", &PostParams::default(), &secret("nope", &[]))
        .await
        .expect_err("404");
    assert_eq!(api_code(&err).map(|c| c.0), Some(404));

    let mut bad = secret("bad", &[]);
    bad.metadata.labels = Some(BTreeMap::from([(
        "app".to_owned(),
        "not valid!".to_owned(),
    )]));
    let err = secrets
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("invalid label");
    assert_eq!(api_code(&err), Some((422, "Invalid".into())));
    assert!(
        api_message(&err).starts_with(
            "Secret \"bad\" is invalid: metadata.labels: Invalid value: \"not valid!\""
        )
    );
    let bad = secret("bad", &[("not a key", "v")]);
    let err = secrets
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("invalid key");
    assert_eq!(api_code(&err).map(|c| c.0), Some(422));
}

#[tokio::test]
async fn finalizer_json_patches_work_as_kube_runtime_sends_them() {
    let api = ApiDouble::start().await;
    let ss = sealed_secrets(api.client());
    api.insert(
        json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "s", "namespace": NS}}),
    );
    // Add: test that the list is absent (tests equal to null), then add it.
    let add = Patch::<()>::Json(
        serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["seal/x"]},
        ]))
        .expect("valid ops"),
    );
    let obj = ss
        .patch("s", &PatchParams::default(), &add)
        .await
        .expect("added");
    assert_eq!(obj.finalizers(), ["seal/x"]);
    let held = ss
        .delete("s", &DeleteParams::default())
        .await
        .expect("deleting");
    let held = held.left().expect("the object, held by its finalizer");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(
        held.metadata.generation,
        Some(2),
        "graceful deletion bumps the generation"
    );
    // Remove by index, guarded by a test.
    let remove = Patch::<()>::Json(
        serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": "seal/x"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
        ]))
        .expect("valid ops"),
    );
    ss.patch("s", &PatchParams::default(), &remove)
        .await
        .expect("removed");
    assert!(ss.get_opt("s").await.expect("get_opt").is_none());
}

#[tokio::test]
async fn disconnects_and_broken_watches_surface_as_transport_errors() {
    let api = ApiDouble::start().await;
    let secrets: Api<Secret> = Api::namespaced(api.client(), NS);
    api.fail_next(Fault::disconnect().path("/secrets/a"));
    let err = secrets.get("a").await.expect_err("dropped");
    assert_eq!(
        api_code(&err),
        None,
        "a transport error, not an API error: {err}"
    );
    assert_eq!(api.requests().last().map(|r| r.status), Some(0));

    let mut w = watch_all(secrets.clone(), watcher::Config::default()).boxed();
    assert!(initial_names(&mut w).await.is_empty());
    // The watcher opens its watch only when polled; poll until it has (no event comes meanwhile:
    // the stream keeps its state when a `next()` is dropped).
    while api.watch_count() == 0 {
        let polled = tokio::time::timeout(Duration::from_millis(20), w.next()).await;
        assert!(polled.is_err(), "no event while idle");
    }
    api.break_watches();
    api.insert(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b", "namespace": NS}}),
    );
    // kube reads a connection dropped mid-chunk as a resumable end: it re-watches silently.
    match next(&mut w).await.expect("recovered") {
        Event::Apply(s) => assert_eq!(s.name_any(), "b"),
        _ => panic!("expected Apply(b) after the re-watch"),
    }
    let watches = api.requests().iter().filter(|r| r.is_watch()).count();
    assert_eq!(watches, 2, "the broken watch was replaced");
}

mod controller {
    use std::sync::Arc;

    use kube::Resource as _;
    use kube::runtime::Controller;
    use kube::runtime::controller::Action;

    use super::*;

    async fn reconcile(ss: Arc<DynamicObject>, client: Arc<Client>) -> Result<Action, kube::Error> {
        let ns = ss.namespace().unwrap_or_default();
        let secrets: Api<Secret> = Api::namespaced((*client).clone(), &ns);
        let name = ss.name_any();
        if secrets.get_opt(&name).await?.is_none() {
            let mut s = secret(&name, &[("k", "v")]);
            s.metadata.owner_references = ss.controller_owner_ref(&ss_resource()).map(|r| vec![r]);
            secrets.create(&PostParams::default(), &s).await?;
        }
        Ok(Action::await_change())
    }

    fn error_policy(_: Arc<DynamicObject>, _: &kube::Error, _: Arc<Client>) -> Action {
        Action::requeue(Duration::from_millis(50))
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        for _ in 0..500 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting until {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kube_runtime_controller_converges_and_recovers_owned_objects() {
        let api = ApiDouble::start().await;
        for i in 0..50 {
            api.insert(
                json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                "metadata": {"name": format!("s{i}"), "namespace": format!("ns{}", i % 5)}}),
            );
        }
        let client = api.client();
        let ar = ss_resource();
        let controller = Controller::new_with(
            Api::<DynamicObject>::all_with(client.clone(), &ar),
            watcher::Config::default(),
            ar,
        )
        .owns(
            Api::<Secret>::all(client.clone()),
            watcher::Config::default(),
        )
        .run(reconcile, error_policy, Arc::new(client))
        .for_each(|_| async {});
        let running = tokio::spawn(controller);

        eventually("every SealedSecret has its Secret", || {
            api.count("v1", "Secret", None) == 50
        })
        .await;
        // Someone deletes an owned Secret: the controller recreates it.
        api.delete("v1", "Secret", Some("ns1"), "s1")
            .expect("deleted");
        eventually("the Secret is back", || {
            api.get("v1", "Secret", Some("ns1"), "s1").is_some()
        })
        .await;
        // The SealedSecret goes: the garbage collector takes its Secret.
        api.delete("bitnami.com/v1alpha1", "SealedSecret", Some("ns2"), "s2")
            .expect("deleted");
        assert!(api.get("v1", "Secret", Some("ns2"), "s2").is_none());
        // The watches survive a restart of the watch streams.
        api.close_watches();
        api.insert(
            json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "late", "namespace": "ns0"}}),
        );
        eventually("the late Secret exists", || {
            api.get("v1", "Secret", Some("ns0"), "late").is_some()
        })
        .await;
        running.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_thousand_objects_seed_list_and_watch_without_slowing_down() {
    use std::time::Instant;
    let api = ApiDouble::start().await;
    api.set_request_log_limit(1000);
    let secret_json = |i: usize| {
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("secret-{i:05}"), "namespace": format!("ns{:02}", i % 50),
                         "labels": {"app": "bench"}},
            "data": {"a": "dmFsdWUtYQ==", "b": "dmFsdWUtYg==", "c": "dmFsdWUtYw=="}})
    };
    let t = Instant::now();
    for i in 0..25_000 {
        api.insert(secret_json(i));
    }
    let first_half = t.elapsed();
    let t = Instant::now();
    for i in 25_000..50_000 {
        api.insert(secret_json(i));
    }
    let second_half = t.elapsed();
    for i in 0..10_000 {
        api.insert(
            json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": format!("ss-{i:05}"), "namespace": format!("ns{:02}", i % 50)},
            "spec": {"encryptedData": {"a": "AgBy3i4OJSWK+PiTySYZZA=="}}}),
        );
    }
    let t = Instant::now();
    let metas: Api<PartialObjectMeta<Secret>> = Api::all(api.client());
    let mut w = watch_all(metas, watcher::Config::default()).boxed();
    assert_eq!(initial_names(&mut w).await.len(), 50_000);
    let listed = t.elapsed();
    let t = Instant::now();
    let secrets: Api<Secret> = Api::namespaced(api.client(), "ns07");
    for i in (7..2000).step_by(50) {
        let name = format!("secret-{i:05}");
        let mut s = secrets.get(&name).await.expect("got");
        s.metadata.labels = Some(BTreeMap::from([("touched".to_owned(), "yes".to_owned())]));
        secrets
            .replace(&name, &PostParams::default(), &s)
            .await
            .expect("replaced");
    }
    let writes = t.elapsed();
    eprintln!(
        "seed 25k+25k Secrets: {first_half:?} + {second_half:?}; metadata watcher listed 50k in {listed:?}; 40 get+put in {writes:?}"
    );
    // No quadratic paths: the second half of the inserts costs about what the first did.
    assert!(
        second_half < first_half * 3 + Duration::from_millis(500),
        "{first_half:?} vs {second_half:?}"
    );
    assert!(api.requests().len() <= 1000, "the request log is bounded");
}
