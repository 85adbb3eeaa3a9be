//! Fixtures shared by the controller loop tests (reconcile.rs, faults.rs).

use seal_controller::keys;
use serde_json::{Value, json};

/// A file of testdata/, as text.
pub fn testdata(path: &str) -> String {
    let p = format!("{}/../testdata/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {p}: {e}"))
}

/// An upstream-shaped, active key Secret holding the fixture key pair `stem`.
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
