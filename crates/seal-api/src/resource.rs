//! The `SealedSecret` custom resource (`bitnami.com/v1alpha1`), field for field as upstream.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// `encryptedData` values are kept as raw JSON so that one malformed item (say, a number) does not
// make the whole object unreadable; `SealedSecretSpec::encrypted_items` checks them.

/// SealedSecretSpec is the specification of a SealedSecret.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "bitnami.com",
    version = "v1alpha1",
    kind = "SealedSecret",
    namespaced,
    status = "SealedSecretStatus",
    doc = "SealedSecret is the K8s representation of a \"sealed Secret\" - a regular k8s Secret that has been sealed (encrypted) using the controller's key.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[0].message"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[0].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    derive = "Default",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretSpec {
    /// Template defines the structure of the Secret that will be created from this sealed secret.
    #[serde(default, skip_serializing_if = "SecretTemplateSpec::is_empty")]
    pub template: SecretTemplateSpec,

    /// Data is deprecated and will be removed eventually. Use per-value EncryptedData instead.
    // (Standard base64 of a whole v1 Secret, as JSON, sealed as one value.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "byte_string_schema")]
    pub data: Option<String>,

    /// Item name to the sealed value, in standard padded base64.
    // Upstream writes `null` next to a v1 `data` blob; that reads as empty.
    #[serde(deserialize_with = "null_as_empty")]
    #[schemars(schema_with = "encrypted_data_schema")]
    pub encrypted_data: BTreeMap<String, serde_json::Value>,
}

/// The template of the Secret the controller creates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplateSpec {
    /// Standard object's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object_schema")]
    pub metadata: Option<ObjectMeta>,

    /// Used to facilitate programmatic handling of secret data.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,

    /// Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object metadata can be modified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,

    /// Keys that should be templated using decrypted data. Set a key with the same name as in `encryptedData` to `null` to omit the unsealed data from the final secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "nullable_string_map_schema")]
    pub data: Option<BTreeMap<String, Option<String>>>,
}

impl SecretTemplateSpec {
    /// True when nothing is set, so the field can be left out.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The most recently observed status of a SealedSecret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The latest available observations of the object's state; Synced stays at index 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<SealedSecretCondition>,
}

/// One condition of a SealedSecret, in the upstream shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretCondition {
    /// Type of condition: Synced (as upstream), Ready, Reconciling or Stalled.
    #[serde(rename = "type")]
    pub type_: String,

    /// Status of the condition: True, False or Unknown.
    pub status: String,

    /// The last time this condition was updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,

    /// Last time the condition transitioned from one status to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,

    /// The reason for the condition's last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,

    /// A human readable message indicating details about the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, serde_json::Value>, D::Error> {
    Ok(Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default())
}

fn byte_string_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Data is deprecated and will be removed eventually. Use per-value EncryptedData instead.",
        "type": "string",
        "format": "byte",
    })
}

fn encrypted_data_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": { "type": "string" },
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

fn preserved_object_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

fn nullable_string_map_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Keys that should be templated using decrypted data.",
        "type": "object",
        "nullable": true,
        "additionalProperties": { "type": "string" },
    })
}

impl SealedSecretSpec {
    /// The `encryptedData` items as strings; the names of items that are not strings are
    /// returned as the error, sorted.
    ///
    /// # Errors
    ///
    /// The names of every item whose value is not a JSON string.
    pub fn encrypted_items(&self) -> Result<BTreeMap<&str, &str>, Vec<String>> {
        let mut bad = Vec::new();
        let mut items = BTreeMap::new();
        for (name, value) in &self.encrypted_data {
            match value.as_str() {
                Some(s) => {
                    items.insert(name.as_str(), s);
                }
                None => bad.push(name.clone()),
            }
        }
        if bad.is_empty() { Ok(items) } else { Err(bad) }
    }
}

/// The CustomResourceDefinition of SealedSecret as upstream installs it (names complete,
/// including `listKind` and `singular`).
pub fn crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use kube::CustomResourceExt;
    let mut crd = SealedSecret::crd();
    crd.spec.names.list_kind = Some("SealedSecretList".to_owned());
    crd.spec.names.singular = Some("sealedsecret".to_owned());
    crd
}

impl SealedSecret {
    /// The template's annotations (not the top-level ones).
    pub fn template_annotations(&self) -> Option<&BTreeMap<String, String>> {
        self.spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::Resource;

    #[test]
    fn crd_identity_matches_upstream() {
        let crd = crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("sealedsecrets.bitnami.com")
        );
        assert_eq!(crd.spec.group, "bitnami.com");
        assert_eq!(crd.spec.names.kind, "SealedSecret");
        assert_eq!(crd.spec.names.plural, "sealedsecrets");
        assert_eq!(
            crd.spec.names.list_kind.as_deref(),
            Some("SealedSecretList")
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        assert!(crd.spec.names.short_names.is_none());
        assert_eq!(crd.spec.versions.len(), 1);
        let v = &crd.spec.versions[0];
        assert_eq!(v.name, "v1alpha1");
        assert!(v.served && v.storage);
        assert!(
            v.subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        let cols: Vec<_> = v
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(
            cols,
            [
                ("Status", ".status.conditions[0].message"),
                ("Synced", ".status.conditions[0].status"),
                ("Age", ".metadata.creationTimestamp"),
            ]
        );
        assert_eq!(SealedSecret::api_version(&()), "bitnami.com/v1alpha1");
        assert_eq!(
            SealedSecret::url_path(&(), Some("ns")),
            "/apis/bitnami.com/v1alpha1/namespaces/ns/sealedsecrets"
        );
    }

    #[test]
    fn schema_requires_encrypted_data_and_keeps_unknown_items() {
        let crd = serde_json::to_value(crd()).expect("crd serializes");
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["required"], serde_json::json!(["encryptedData"]));
        let ed = &spec["properties"]["encryptedData"];
        assert_eq!(ed["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(ed["additionalProperties"]["type"], "string");
        assert_eq!(spec["properties"]["data"]["format"], "byte");
        let tmeta = &spec["properties"]["template"]["properties"]["metadata"];
        assert_eq!(tmeta["x-kubernetes-preserve-unknown-fields"], true);
    }

    #[test]
    fn non_string_items_are_named_not_dropped() {
        let ss: SealedSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "s", "namespace": "n"},
            "spec": {"encryptedData": {"good": "AgA=", "bad": 12, "worse": {"x": 1}}}
        }))
        .expect("parses");
        assert_eq!(
            ss.spec.encrypted_items(),
            Err(vec!["bad".to_owned(), "worse".to_owned()])
        );
    }
}
