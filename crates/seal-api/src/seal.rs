//! Sealing a Secret into a SealedSecret (SPEC §5), as kubeseal does.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use seal_crypto::{MlKemPublicKey, PublicKey};

use crate::{
    ANNOTATION_KEY_ID, Error, Result, Scope, SealedSecret, SealedSecretSpec, SecretTemplateSpec,
    b64,
};

/// Annotations that record a whole applied object, secrets included, and must never be sealed
/// into a template in the clear.
const LAST_APPLIED_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
];

/// How to seal: the kubeseal flags that shape the result.
#[derive(Clone, Debug, Default)]
pub struct SealOptions {
    /// An explicit `--scope`. It wins over the input's scope annotations (SPEC §3 FIX).
    pub scope: Option<Scope>,
    /// `--name`: renames the Secret.
    pub name: Option<String>,
    /// An explicit `-n/--namespace`.
    pub namespace: Option<String>,
    /// The namespace of the kubeconfig context, used when neither the input nor `-n` has one.
    pub default_namespace: Option<String>,
    /// `--allow-empty-data`: seal a Secret with no items.
    pub allow_empty_data: bool,
    /// Write the key-hint annotation ([`ANNOTATION_KEY_ID`]) at the top level.
    pub key_hint: bool,
    /// Labels of the input copied to the SealedSecret's own metadata as well (e.g. for tools
    /// that select SealedSecrets by label).
    pub top_level_labels: Vec<String>,
    /// Annotations of the input copied to the SealedSecret's own metadata as well (e.g.
    /// `argocd.argoproj.io/sync-wave`).
    pub top_level_annotations: Vec<String>,
    /// `--pq`: seal every item in the hybrid RSA-OAEP + ML-KEM-768 format to this ML-KEM key
    /// (the one in the sealing certificate, [`seal_crypto::Certificate::mlkem_public_key`]).
    /// `None` seals classically, byte-compatible with upstream.
    pub pq: Option<MlKemPublicKey>,
}

/// Seals one value to `key`, in the hybrid format when `pq` is given, else classically.
///
/// # Errors
///
/// A crypto error.
pub fn seal_value(
    key: &PublicKey,
    pq: Option<&MlKemPublicKey>,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    Ok(match pq {
        Some(pq) => seal_crypto::seal_hybrid(key, pq, label, plaintext)?,
        None => seal_crypto::seal(key, label, plaintext)?,
    })
}

/// Seals every item of `secret` with `key`.
///
/// # Errors
///
/// [`Error::EmptyData`], [`Error::MissingName`], [`Error::NamespaceMismatch`],
/// [`Error::NoNamespace`], or a crypto error.
pub fn seal_secret(secret: &Secret, key: &PublicKey, opts: &SealOptions) -> Result<SealedSecret> {
    seal_secret_using(secret, key, opts, &mut |label, plaintext| {
        seal_value(key, opts.pq.as_ref(), label, plaintext)
    })
}

/// As [`seal_secret`] with the randomness drawn from `rng`, for reproducible output in tests.
///
/// # Errors
///
/// As [`seal_secret`].
pub fn seal_secret_with_rng<
    R: seal_crypto::rand_core::RngCore + seal_crypto::rand_core::CryptoRng,
>(
    rng: &mut R,
    secret: &Secret,
    key: &PublicKey,
    opts: &SealOptions,
) -> Result<SealedSecret> {
    seal_secret_using(secret, key, opts, &mut |label, plaintext| {
        Ok(match &opts.pq {
            Some(pq) => seal_crypto::seal_hybrid_with_rng(rng, key, pq, label, plaintext)?,
            None => seal_crypto::seal_with_rng(rng, key, label, plaintext)?,
        })
    })
}

type Sealer<'a> = dyn FnMut(&[u8], &[u8]) -> Result<Vec<u8>> + 'a;

fn seal_secret_using(
    secret: &Secret,
    key: &PublicKey,
    opts: &SealOptions,
    sealer: &mut Sealer<'_>,
) -> Result<SealedSecret> {
    let no_data = secret.data.as_ref().is_none_or(BTreeMap::is_empty)
        && secret.string_data.as_ref().is_none_or(BTreeMap::is_empty);
    if no_data && !opts.allow_empty_data {
        return Err(Error::EmptyData);
    }

    let mut meta = secret.metadata.clone();
    if let Some(name) = opts.name.as_deref().filter(|n| !n.is_empty()) {
        meta.name = Some(name.to_owned());
    }
    let name = meta
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(Error::MissingName)?;

    let mut annotations = meta.annotations.take().unwrap_or_default();
    if let Some(scope) = opts.scope {
        scope.apply_to(&mut annotations);
    }
    let scope = Scope::from_annotations(Some(&annotations));
    let namespace = resolve_namespace(meta.namespace.as_deref(), scope, opts)?;
    meta.namespace = (!namespace.is_empty()).then(|| namespace.clone());
    meta.annotations = Some(annotations);

    let top_annotations = top_level_metadata(&meta.annotations, scope, &opts.top_level_annotations);
    let top_labels = top_level_metadata(&meta.labels, Scope::Strict, &opts.top_level_labels);
    let template_meta = template_metadata(meta);

    let label = scope.label(&namespace, &name);
    let mut encrypted = BTreeMap::new();
    for (item, value) in secret.data.iter().flatten() {
        let sealed = sealer(&label, &value.0)?;
        encrypted.insert(
            item.clone(),
            serde_json::Value::String(b64::encode(&sealed)),
        );
    }
    for (item, value) in secret.string_data.iter().flatten() {
        let sealed = sealer(&label, value.as_bytes())?;
        encrypted.insert(
            item.clone(),
            serde_json::Value::String(b64::encode(&sealed)),
        );
    }

    let mut top_annotations = top_annotations;
    if opts.key_hint {
        top_annotations.insert(ANNOTATION_KEY_ID.to_owned(), key.key_id());
    }
    Ok(SealedSecret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: (!namespace.is_empty()).then_some(namespace),
            annotations: (!top_annotations.is_empty()).then_some(top_annotations),
            labels: (!top_labels.is_empty()).then_some(top_labels),
            ..ObjectMeta::default()
        },
        spec: SealedSecretSpec {
            template: SecretTemplateSpec {
                metadata: Some(template_meta),
                type_: secret.type_.clone(),
                immutable: secret.immutable,
                data: None,
            },
            data: None,
            encrypted_data: encrypted,
        },
        status: None,
    })
}

/// The namespace a Secret is sealed for (SPEC §5).
fn resolve_namespace(input: Option<&str>, scope: Scope, opts: &SealOptions) -> Result<String> {
    let input = input.unwrap_or("");
    let flag = opts.namespace.as_deref().unwrap_or("");
    if !input.is_empty() && !flag.is_empty() && input != flag {
        return Err(Error::NamespaceMismatch {
            input: input.to_owned(),
            flag: flag.to_owned(),
        });
    }
    if scope == Scope::ClusterWide {
        return Ok(input.to_owned());
    }
    let ns = [Some(input), Some(flag), opts.default_namespace.as_deref()]
        .into_iter()
        .flatten()
        .find(|ns| !ns.is_empty())
        .unwrap_or("");
    if ns.is_empty() {
        return Err(Error::NoNamespace);
    }
    Ok(ns.to_owned())
}

/// The scope annotation plus any entries the user chose to copy to the top level.
fn top_level_metadata(
    source: &Option<BTreeMap<String, String>>,
    scope: Scope,
    chosen: &[String],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    scope.apply_to(&mut out);
    if let Some(source) = source {
        for key in chosen {
            if let Some(v) = source.get(key) {
                out.insert(key.clone(), v.clone());
            }
        }
    }
    out
}

/// The input's metadata minus what must not, or need not, travel into the template.
fn template_metadata(mut meta: ObjectMeta) -> ObjectMeta {
    if let Some(a) = meta.annotations.as_mut() {
        for key in LAST_APPLIED_ANNOTATIONS {
            a.remove(key);
        }
    }
    ObjectMeta {
        owner_references: None,
        self_link: None,
        uid: None,
        resource_version: None,
        generation: None,
        creation_timestamp: None,
        deletion_timestamp: None,
        deletion_grace_period_seconds: None,
        managed_fields: None,
        annotations: meta.annotations.take().filter(|a| !a.is_empty()),
        labels: meta.labels.take().filter(|l| !l.is_empty()),
        ..meta
    }
}

/// The OAEP label for `--raw`, checking that the scope has what it needs (SPEC §9).
///
/// # Errors
///
/// [`Error::RawNeedsNamespace`] or [`Error::RawNeedsName`].
pub fn raw_label(scope: Scope, namespace: Option<&str>, name: Option<&str>) -> Result<Vec<u8>> {
    let namespace = namespace.unwrap_or("");
    let name = name.unwrap_or("");
    if scope != Scope::ClusterWide && namespace.is_empty() {
        return Err(Error::RawNeedsNamespace(scope));
    }
    if scope == Scope::Strict && name.is_empty() {
        return Err(Error::RawNeedsName);
    }
    Ok(scope.label(namespace, name))
}

/// Seals one value for `--raw`: standard base64, no newline.
///
/// # Errors
///
/// As [`raw_label`], or a crypto error.
pub fn seal_raw(
    key: &PublicKey,
    scope: Scope,
    namespace: Option<&str>,
    name: Option<&str>,
    value: &[u8],
) -> Result<String> {
    seal_raw_with(key, None, scope, namespace, name, value)
}

/// [`seal_raw`], in the hybrid format when `pq` is given (`--raw --pq`).
///
/// # Errors
///
/// As [`seal_raw`].
pub fn seal_raw_with(
    key: &PublicKey,
    pq: Option<&MlKemPublicKey>,
    scope: Scope,
    namespace: Option<&str>,
    name: Option<&str>,
    value: &[u8],
) -> Result<String> {
    let label = raw_label(scope, namespace, name)?;
    Ok(b64::encode(&seal_value(key, pq, &label, value)?))
}
