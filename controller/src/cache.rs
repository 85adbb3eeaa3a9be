//! What the controller keeps of each SealedSecret between reconciles.
//!
//! The watch delivers whole objects; the cache keeps only what the fast path, status writes
//! and events need (SPEC §8: no restart storm, bounded memory):
//! - of the metadata: name, namespace, uid, resourceVersion, generation, deletionTimestamp, the
//!   scope annotations, Flux's `requestedAt` and the `app.kubernetes.io/instance` label;
//! - status;
//! - of the spec, `template.immutable` and a [`SpecHash`] of the rest;
//! - the whole spec (ciphertexts, templates) and the key hint only while the object is not yet
//!   synced by us (no `Synced` True at this generation with our
//!   [`UNSEALED`](crate::decide::UNSEALED) record), and only
//!   within [`RETAIN_BUDGET`] bytes for all objects at once: the reconcile decrypts from it
//!   without a GET, then releases it ([`Cached::release_spec`]). An object over the budget is
//!   fetched before it is decrypted.
//!
//! [`Cached`] is what the watch deserializes into, so a list page never holds more than its
//! text and these entries. Each object's spec is decoded on its own: one SealedSecret that
//! passes the CRD schema but cannot be read (non-string labels under the schema-less
//! `spec.template.metadata`, say) is cached as invalid, and reported on its own status, instead
//! of failing the list and watch of every other object.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::ApiResource;
use seal_api::{
    ANNOTATION_CLUSTER_WIDE, ANNOTATION_KEY_ID, ANNOTATION_NAMESPACE_WIDE, SealedSecret,
    SealedSecretSpec, SealedSecretStatus, SecretTemplateSpec,
};
use serde::Deserialize;

use crate::decide::{self, Digest, SpecHash};

/// The label copied into `condition_info`.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Flux's request for an immediate reconcile.
pub const FLUX_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// The annotations the cache keeps: the scope (bound into the digest) and Flux's request.
const KEPT_ANNOTATIONS: [&str; 3] = [
    ANNOTATION_NAMESPACE_WIDE,
    ANNOTATION_CLUSTER_WIDE,
    FLUX_REQUESTED_AT,
];

/// Longest decode error kept for status and events.
const MAX_DETAIL: usize = 300;

/// The most bytes of whole specs ([`Retained`]) the cache holds at once, over all objects.
///
/// About 1,100 new 5-item RSA-4096 objects (3.7 KiB of spec each); beyond that, objects are
/// fetched one by one. Sized so that a first start at 10,000 SealedSecrets beside 50,000 other
/// Secrets stays within 64 MiB: 12 MiB took the peak from 57 to 68.5 MiB (benches/README.md).
pub const RETAIN_BUDGET: usize = 4 << 20;

/// Bytes held by every [`Retained`] alive in this process.
static RETAINED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes held by retained specs in this process now.
pub fn retained_bytes() -> usize {
    RETAINED_BYTES.load(Ordering::Relaxed)
}

/// A whole spec kept for the reconcile, counted against [`RETAIN_BUDGET`] while it lives.
#[derive(Debug)]
pub struct Retained {
    /// The spec as the watch delivered it.
    pub spec: SealedSecretSpec,
    /// The object's `seal.dev/key-id` hint.
    pub key_hint: Option<String>,
    bytes: usize,
}

impl Retained {
    /// Takes `bytes` of the budget for `spec`; `None` when the budget has no room.
    fn new(spec: SealedSecretSpec, key_hint: Option<String>) -> Option<Arc<Self>> {
        let bytes = spec_bytes(&spec);
        let mut now = RETAINED_BYTES.load(Ordering::Relaxed);
        loop {
            if now.saturating_add(bytes) > RETAIN_BUDGET {
                return None;
            }
            match RETAINED_BYTES.compare_exchange_weak(
                now,
                now + bytes,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => now = actual,
            }
        }
        Some(Arc::new(Retained {
            spec,
            key_hint,
            bytes,
        }))
    }
}

impl Drop for Retained {
    fn drop(&mut self) {
        RETAINED_BYTES.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// About what a spec occupies: its strings plus the map and struct around them.
fn spec_bytes(spec: &SealedSecretSpec) -> usize {
    let strings: usize = spec
        .encrypted_data
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(16, str::len) + 64)
        .sum();
    let templates: usize = spec
        .template
        .data
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_ref().map_or(0, String::len) + 64)
        .sum();
    let meta = spec
        .template
        .metadata
        .as_ref()
        .map_or(0, |m| serde_json::to_vec(m).map_or(0, |v| v.len()));
    strings + templates + meta + 256
}

/// One cached SealedSecret.
#[derive(Clone, Debug)]
pub struct Cached {
    meta: ObjectMeta,
    /// The status as the watch last saw it.
    pub status: Option<SealedSecretStatus>,
    /// The spec's hash, or why the spec could not be read.
    pub spec: Result<SpecHash, String>,
    /// `spec.template.immutable`.
    pub immutable: Option<bool>,
    /// The whole spec until the object is synced (shared by clones of this entry).
    retained: Arc<Mutex<Option<Arc<Retained>>>>,
}

/// The wire shape the watch reads: metadata typed, spec and status decoded separately.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<serde_json::Value>,
    #[serde(default)]
    status: Option<serde_json::Value>,
}

impl<'de> Deserialize<'de> for Cached {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        let status = w
            .status
            .and_then(|s| serde_json::from_value::<SealedSecretStatus>(s).ok());
        let spec = match w.spec {
            None | Some(serde_json::Value::Null) => Err("spec is missing".to_owned()),
            Some(v) => serde_path_to_error::deserialize::<_, SealedSecretSpec>(v)
                .map_err(|e| detail(&e.path().to_string(), e.inner())),
        };
        let done = decide::synced_at_generation(status.as_ref(), w.metadata.generation)
            && Digest::of_status(status.as_ref()).is_some();
        let key_hint = w
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_KEY_ID))
            .cloned();
        let (spec, retained) = match spec {
            Ok(s) => {
                let hash = SpecHash::of(&s);
                let immutable = s.template.immutable;
                let retained = if done {
                    None
                } else {
                    Retained::new(s, key_hint)
                };
                (Ok((hash, immutable)), retained)
            }
            Err(e) => (Err(e), None),
        };
        Ok(Cached {
            meta: slim_meta(w.metadata),
            status,
            immutable: spec.as_ref().ok().and_then(|(_, i)| *i),
            spec: spec.map(|(h, _)| h),
            retained: Arc::new(Mutex::new(retained)),
        })
    }
}

impl Cached {
    /// A SealedSecret with what the cache holds: good for status writes (the API server takes
    /// only `status` from a `/status` PUT), events and the decisions on metadata and status;
    /// never for unsealing (no ciphertexts).
    pub fn view(&self) -> SealedSecret {
        SealedSecret {
            metadata: self.meta.clone(),
            spec: SealedSecretSpec {
                template: SecretTemplateSpec {
                    immutable: self.immutable,
                    ..SecretTemplateSpec::default()
                },
                ..SealedSecretSpec::default()
            },
            status: self.status.clone(),
        }
    }

    /// The whole object, if the cache still holds its spec: good for unsealing.
    pub fn full(&self) -> Option<(SealedSecret, Arc<Retained>)> {
        let retained = self
            .retained
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let mut ss = self.view();
        ss.spec = retained.spec.clone();
        if let Some(hint) = &retained.key_hint {
            ss.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(ANNOTATION_KEY_ID.to_owned(), hint.clone());
        }
        Some((ss, retained))
    }

    /// Whether the cache holds the whole spec.
    pub fn holds_spec(&self) -> bool {
        self.retained
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Drops the whole spec, returning its bytes to the budget: the object is synced, or will
    /// not be retried before it changes.
    pub fn release_spec(&self) {
        self.retained
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// The resource the watch asks for.
    pub fn api_resource() -> ApiResource {
        ApiResource::erase::<SealedSecret>(&())
    }
}

fn slim_meta(meta: ObjectMeta) -> ObjectMeta {
    let keep = |m: Option<BTreeMap<String, String>>, keys: &[&str]| {
        let kept: BTreeMap<String, String> = m
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .collect();
        (!kept.is_empty()).then_some(kept)
    };
    ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resource_version: meta.resource_version,
        generation: meta.generation,
        deletion_timestamp: meta.deletion_timestamp,
        annotations: keep(meta.annotations, &KEPT_ANNOTATIONS),
        labels: keep(meta.labels, &[INSTANCE_LABEL]),
        ..ObjectMeta::default()
    }
}

/// `spec.<path>: <serde's message>`, cut to [`MAX_DETAIL`]. The spec holds ciphertext and
/// templates, never plaintext.
fn detail(path: &str, err: &serde_json::Error) -> String {
    let mut msg = if path == "." || path.is_empty() {
        format!("spec: {err}")
    } else {
        format!("spec.{path}: {err}")
    };
    if msg.len() > MAX_DETAIL {
        let mut cut = MAX_DETAIL;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
        msg.push('…');
    }
    msg
}

impl Resource for Cached {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        SealedSecret::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        SealedSecret::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        SealedSecret::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        SealedSecret::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.meta
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cached(v: serde_json::Value) -> Cached {
        serde_json::from_value(v).expect("never fails on an object")
    }

    fn sample() -> serde_json::Value {
        json!({
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": {
                "name": "s", "namespace": "ns", "uid": "u1", "generation": 3,
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"huge\":true}",
                    ANNOTATION_CLUSTER_WIDE: "true",
                    FLUX_REQUESTED_AT: "now",
                    "seal.dev/key-id": "SHA256:x",
                },
                "labels": {INSTANCE_LABEL: "app", "team": "a"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            },
            "spec": {
                "encryptedData": {"a": "AgBy", "b": "AgBz"},
                "template": {"immutable": true, "metadata": {"labels": {"x": "y"}}},
            },
            "status": {"observedGeneration": 3, "conditions": [{"type": "Synced", "status": "True"}]},
        })
    }

    #[test]
    fn the_cache_keeps_the_hash_not_the_ciphertexts_and_only_the_metadata_it_reads() {
        let v = sample();
        let typed: SealedSecret = serde_json::from_value(v.clone()).expect("typed");
        let c = cached(v);
        assert_eq!(
            c.spec,
            Ok(SpecHash::of(&typed.spec)),
            "same hash as the typed object"
        );
        let view = c.view();
        assert!(view.spec.encrypted_data.is_empty());
        assert!(view.spec.template.metadata.is_none());
        assert_eq!(view.spec.template.immutable, Some(true));
        assert!(view.metadata.managed_fields.is_none());
        let ann = view.metadata.annotations.as_ref().expect("annotations");
        assert_eq!(
            ann.keys().map(String::as_str).collect::<Vec<_>>(),
            [FLUX_REQUESTED_AT, ANNOTATION_CLUSTER_WIDE]
        );
        let labels = view.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels.keys().collect::<Vec<_>>(), [INSTANCE_LABEL]);
        assert_eq!(
            (view.metadata.name.as_deref(), view.metadata.uid.as_deref()),
            (Some("s"), Some("u1"))
        );
        assert_eq!(view.metadata.generation, Some(3));
        assert_eq!(
            view.status.as_ref().and_then(|s| s.observed_generation),
            Some(3)
        );
        // The scope is bound into the digest: the view keeps it.
        assert_eq!(
            seal_api::Scope::from_annotations(view.metadata.annotations.as_ref()),
            seal_api::Scope::from_annotations(typed.metadata.annotations.as_ref())
        );
    }

    #[test]
    fn the_whole_spec_is_kept_until_synced_with_our_record_and_released_after() {
        // Synced at its generation, but no record of ours (upstream's status): kept, with the
        // key hint, for the reconcile that verifies it.
        let c = cached(sample());
        let (full, _) = c.full().expect("kept until synced by us");
        assert_eq!(full.spec.encrypted_data.len(), 2);
        assert_eq!(
            full.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_KEY_ID))
                .map(String::as_str),
            Some("SHA256:x")
        );
        assert!(retained_bytes() > 0);
        // Clones share it; releasing drops it for all.
        let clone = c.clone();
        c.release_spec();
        assert!(!clone.holds_spec());

        // Synced at this generation with our record: not kept.
        let mut v = sample();
        v["status"]["conditions"] = json!([
            {"type": "Synced", "status": "True"},
            {"type": crate::decide::UNSEALED, "status": "True", "message": "v2;SHA256:x;00;11;42"},
        ]);
        assert!(!cached(v.clone()).holds_spec());
        // The same at an older generation: kept.
        v["status"]["observedGeneration"] = json!(2);
        assert!(cached(v).holds_spec());
    }

    #[test]
    fn a_changed_ciphertext_changes_the_hash() {
        let a = cached(sample());
        let mut v = sample();
        v["spec"]["encryptedData"]["a"] = json!("AgBx");
        let b = cached(v);
        assert_ne!(a.spec, b.spec);
    }

    #[test]
    fn an_unreadable_spec_is_kept_with_a_message_naming_the_field() {
        let mut v = sample();
        v["spec"]["template"]["metadata"]["labels"]["x"] = json!(1);
        let c = cached(v);
        let err = c.spec.clone().expect_err("labels must be strings");
        assert!(
            err.starts_with("spec.template.metadata.labels.x: invalid type: integer `1`"),
            "{err}"
        );
        assert_eq!(c.view().metadata.name.as_deref(), Some("s"));
        assert!(c.status.is_some(), "status still read");

        let mut v = sample();
        v.as_object_mut().expect("object").remove("spec");
        assert_eq!(cached(v).spec, Err("spec is missing".to_owned()));
        // An unreadable status is dropped, not an error.
        let mut v = sample();
        v["status"] = json!({"conditions": "no"});
        let c = cached(v);
        assert!(c.spec.is_ok() && c.status.is_none());
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let mut v = sample();
        let key = "é".repeat(400);
        v["spec"]["template"]["metadata"]["labels"] = json!({ key: 1 });
        let err = cached(v).spec.expect_err("invalid");
        assert!(err.len() <= MAX_DETAIL + '…'.len_utf8(), "{}", err.len());
        assert!(err.ends_with('…'));
    }
}
