//! What the controller keeps of each SealedSecret between reconciles.
//!
//! The watch delivers whole objects; the cache keeps only what the fast path needs (SPEC §8: no
//! restart storm, bounded memory):
//! - metadata, without `managedFields` and kubectl's last-applied annotation (a second copy of
//!   the whole object);
//! - status;
//! - of the spec, `template.immutable` and a [`SpecHash`] of the rest. Ciphertexts are not kept:
//!   the slow path fetches the object before it decrypts.
//!
//! Objects are decoded one by one from the watch's untyped objects, so one SealedSecret that
//! passes the CRD schema but cannot be read (non-string labels under the schema-less
//! `spec.template.metadata`, say) is cached as invalid, and reported on its own status, instead
//! of failing the list and watch of every other object.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::{ApiResource, DynamicObject};
use seal_api::{SealedSecret, SealedSecretSpec, SealedSecretStatus, SecretTemplateSpec};

use crate::decide::SpecHash;

/// kubectl's copy of the applied object, as large as the object itself.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Longest decode error kept for status and events.
const MAX_DETAIL: usize = 300;

/// One cached SealedSecret.
#[derive(Clone, Debug)]
pub struct Cached {
    /// Metadata (slimmed), status, and a spec holding only `template.immutable`. Good for status
    /// writes (the API server takes only `status` from a `/status` PUT) and events, never for
    /// unsealing.
    pub ss: SealedSecret,
    /// The spec's hash, or why the spec could not be read.
    pub spec: Result<SpecHash, String>,
}

impl Cached {
    /// The cache entry for a whole SealedSecret.
    pub fn of(ss: &SealedSecret) -> Self {
        Cached {
            ss: SealedSecret {
                metadata: slim_meta(ss.metadata.clone()),
                spec: slim_spec(&ss.spec),
                status: ss.status.clone(),
            },
            spec: Ok(SpecHash::of(&ss.spec)),
        }
    }

    /// The cache entry for an object from the untyped watch.
    pub fn from_dynamic(obj: DynamicObject) -> Self {
        let DynamicObject {
            metadata, mut data, ..
        } = obj;
        let status = data
            .get_mut("status")
            .map(serde_json::Value::take)
            .and_then(|s| serde_json::from_value::<SealedSecretStatus>(s).ok());
        let spec = match data.get_mut("spec").map(serde_json::Value::take) {
            None | Some(serde_json::Value::Null) => Err("spec is missing".to_owned()),
            Some(v) => serde_path_to_error::deserialize::<_, SealedSecretSpec>(v)
                .map_err(|e| detail(&e.path().to_string(), e.inner())),
        };
        let (slim, hash) = match spec {
            Ok(spec) => (slim_spec(&spec), Ok(SpecHash::of(&spec))),
            Err(e) => (SealedSecretSpec::default(), Err(e)),
        };
        Cached {
            ss: SealedSecret {
                metadata: slim_meta(metadata),
                spec: slim,
                status,
            },
            spec: hash,
        }
    }

    /// The resource the untyped watch asks for.
    pub fn api_resource() -> ApiResource {
        ApiResource::erase::<SealedSecret>(&())
    }
}

fn slim_meta(mut meta: ObjectMeta) -> ObjectMeta {
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
    meta
}

fn slim_spec(spec: &SealedSecretSpec) -> SealedSecretSpec {
    SealedSecretSpec {
        template: SecretTemplateSpec {
            immutable: spec.template.immutable,
            ..SecretTemplateSpec::default()
        },
        ..SealedSecretSpec::default()
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
        &self.ss.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.ss.metadata
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dynamic(v: serde_json::Value) -> DynamicObject {
        serde_json::from_value(v).expect("a DynamicObject")
    }

    fn sample() -> serde_json::Value {
        json!({
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": {
                "name": "s", "namespace": "ns", "uid": "u1", "generation": 3,
                "annotations": {LAST_APPLIED: "{\"huge\":true}", "keep": "me"},
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
    fn the_cache_keeps_the_hash_not_the_ciphertexts_and_drops_bulky_metadata() {
        let v = sample();
        let typed: SealedSecret = serde_json::from_value(v.clone()).expect("typed");
        let c = Cached::from_dynamic(dynamic(v));
        assert_eq!(
            c.spec,
            Ok(SpecHash::of(&typed.spec)),
            "same hash as the typed object"
        );
        assert_eq!(Cached::of(&typed).spec, c.spec);
        assert!(c.ss.spec.encrypted_data.is_empty());
        assert!(c.ss.spec.template.metadata.is_none());
        assert_eq!(c.ss.spec.template.immutable, Some(true));
        assert!(c.ss.metadata.managed_fields.is_none());
        let ann = c.ss.metadata.annotations.as_ref().expect("annotations");
        assert!(!ann.contains_key(LAST_APPLIED));
        assert_eq!(ann.get("keep").map(String::as_str), Some("me"));
        assert_eq!(c.ss.metadata.generation, Some(3));
        assert_eq!(
            c.ss.status.as_ref().and_then(|s| s.observed_generation),
            Some(3)
        );
    }

    #[test]
    fn a_changed_ciphertext_changes_the_hash() {
        let a = Cached::from_dynamic(dynamic(sample()));
        let mut v = sample();
        v["spec"]["encryptedData"]["a"] = json!("AgBx");
        let b = Cached::from_dynamic(dynamic(v));
        assert_ne!(a.spec, b.spec);
    }

    #[test]
    fn an_unreadable_spec_is_kept_with_a_message_naming_the_field() {
        let mut v = sample();
        v["spec"]["template"]["metadata"]["labels"]["x"] = json!(1);
        let c = Cached::from_dynamic(dynamic(v));
        let err = c.spec.expect_err("labels must be strings");
        assert!(
            err.starts_with("spec.template.metadata.labels.x: invalid type: integer `1`"),
            "{err}"
        );
        assert_eq!(c.ss.metadata.name.as_deref(), Some("s"));
        assert!(c.ss.status.is_some(), "status still read");

        let mut v = sample();
        v.as_object_mut().expect("object").remove("spec");
        let err = Cached::from_dynamic(dynamic(v)).spec.expect_err("no spec");
        assert_eq!(err, "spec is missing");
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let mut v = sample();
        let key = "é".repeat(400);
        v["spec"]["template"]["metadata"]["labels"] = json!({ key: 1 });
        let err = Cached::from_dynamic(dynamic(v)).spec.expect_err("invalid");
        assert!(err.len() <= MAX_DETAIL + '…'.len_utf8(), "{}", err.len());
        assert!(err.ends_with('…'));
    }
}
