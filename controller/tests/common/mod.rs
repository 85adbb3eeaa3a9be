//! Fixtures shared by the controller tests: the loop tests (reconcile.rs, faults.rs) against the
//! API double, and the HTTP tests (keys_http.rs, http_abuse.rs).
//!
//! Each test binary uses its own subset.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube_double::ApiDouble;
use seal_api::crypto::Certificate;
use seal_api::{KEY_ACTIVE, LABEL_SEALED_SECRETS_KEY, SealOptions, seal_secret};
use seal_controller::keys;
use serde_json::{Value, json};

/// The namespace the loop tests put their SealedSecrets in.
pub const NS: &str = "apps";
/// The SealedSecret API version.
pub const SS: &str = "bitnami.com/v1alpha1";

/// A file of testdata/, as text.
pub fn testdata(path: &str) -> String {
    String::from_utf8(read(path)).unwrap_or_else(|e| panic!("testdata/{path}: {e}"))
}

/// A file of testdata/, as bytes.
pub fn read(path: &str) -> Vec<u8> {
    let p = format!("{}/../testdata/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {p}: {e}"))
}

/// An upstream-shaped, active key Secret holding the fixture key pair `stem`, as the API double
/// takes it.
pub fn key_secret(name: &str, stem: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": keys::controller_namespace(),
            "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"},
        },
        "type": "kubernetes.io/tls",
        "stringData": {
            "tls.key": testdata(&format!("keys/{stem}.key")),
            "tls.crt": testdata(&format!("keys/{stem}.crt")),
        },
    })
}

/// The same key Secret, typed, named `sealed-secrets-key<stem>` in `kube-system` and created at
/// `created` (seconds since the epoch), as a `KeyStore` takes it.
pub fn typed_key_secret(stem: &str, created: i64) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(format!("sealed-secrets-key{stem}")),
            namespace: Some("kube-system".to_owned()),
            labels: Some(BTreeMap::from([(
                LABEL_SEALED_SECRETS_KEY.to_owned(),
                KEY_ACTIVE.to_owned(),
            )])),
            creation_timestamp: Some(Time(
                jiff::Timestamp::from_second(created).expect("valid time"),
            )),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(BTreeMap::from([
            (
                "tls.key".to_owned(),
                ByteString(read(&format!("keys/{stem}.key"))),
            ),
            (
                "tls.crt".to_owned(),
                ByteString(read(&format!("keys/{stem}.crt"))),
            ),
        ])),
        ..Secret::default()
    }
}

/// The fixture certificate `stem`.
pub fn cert(stem: &str) -> Certificate {
    Certificate::from_pem(testdata(&format!("keys/{stem}.crt")).as_bytes()).expect("fixture cert")
}

/// A SealedSecret in `ns` for `items`, sealed (strict scope) with the certificate `cert_stem`.
pub fn sealed_in(ns: &str, name: &str, items: &[(&str, &[u8])], cert_stem: &str) -> Value {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(ns.to_owned()),
            labels: Some([("tier".to_owned(), "backend".to_owned())].into()),
            ..ObjectMeta::default()
        },
        data: Some(
            items
                .iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.to_vec())))
                .collect(),
        ),
        ..Secret::default()
    };
    let ss = seal_secret(
        &secret,
        cert(cert_stem).public_key(),
        &SealOptions::default(),
    )
    .expect("seal");
    serde_json::to_value(ss).expect("serialize")
}

/// A SealedSecret in [`NS`] for text `items`.
pub fn sealed(name: &str, items: &[(&str, &str)], cert_stem: &str) -> Value {
    let items: Vec<(&str, &[u8])> = items.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    sealed_in(NS, name, &items, cert_stem)
}

/// Polls `f` every 25 ms until it gives a value; panics naming `what` after `limit`.
pub async fn eventually<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A fresh API double holding one key Secret (the 2048-bit fixture).
pub async fn double_with_key() -> ApiDouble {
    let api = ApiDouble::start().await;
    api.insert(key_secret("sealed-secrets-keyaaaaa", "rsa2048"));
    api
}

pub fn secret_in(api: &ApiDouble, ns: &str, name: &str) -> Option<Value> {
    api.get("v1", "Secret", Some(ns), name)
}

pub fn secret(api: &ApiDouble, name: &str) -> Option<Value> {
    secret_in(api, NS, name)
}

pub fn ss_in(api: &ApiDouble, ns: &str, name: &str) -> Value {
    api.get(SS, "SealedSecret", Some(ns), name)
        .expect("SealedSecret exists")
}

pub fn ss(api: &ApiDouble, name: &str) -> Value {
    ss_in(api, NS, name)
}

/// The status condition of `type_`, if present.
pub fn condition(ss: &Value, type_: &str) -> Option<Value> {
    ss["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
}

/// The status of the first condition when it is `Synced`.
pub fn synced_status(ss: &Value) -> Option<String> {
    let c = &ss["status"]["conditions"][0];
    (c["type"] == "Synced").then(|| c["status"].as_str().unwrap_or_default().to_owned())
}

/// (type, reason, message) of the events about `name` in `ns`.
pub fn events_in(api: &ApiDouble, ns: &str, name: &str) -> Vec<(String, String, String)> {
    api.list("v1", "Event", Some(ns))
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == name)
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
                e["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub fn events(api: &ApiDouble, name: &str) -> Vec<(String, String, String)> {
    events_in(api, NS, name)
}

/// One item of a Secret's `data`, decoded.
pub fn data_item(secret: &Value, item: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(secret["data"][item].as_str().unwrap_or_default())
        .expect("base64 data")
}

/// Waits (up to `limit`) until `ns/name` reports `Synced` = `status`; returns the object.
pub async fn wait_synced_in(
    api: &ApiDouble,
    ns: &str,
    name: &str,
    status: &str,
    limit: Duration,
) -> Value {
    eventually(&format!("{ns}/{name} Synced={status}"), limit, || {
        let s = ss_in(api, ns, name);
        (synced_status(&s).as_deref() == Some(status)).then_some(s)
    })
    .await
}
