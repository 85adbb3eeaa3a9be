//! The SealedSecret resource and the rules that turn Secrets into SealedSecrets and back,
//! wire-compatible with Bitnami Sealed Secrets.
//!
//! - [`SealedSecret`]: the `bitnami.com/v1alpha1` custom resource, field for field as upstream.
//! - [`Scope`]: strict, namespace-wide or cluster-wide, and the OAEP label each binds to.
//! - [`seal_secret`]: a v1 Secret → a SealedSecret, as `kubeseal` does.
//! - [`unseal`]: a SealedSecret and a [`Keyring`] → the Secret the controller writes, with
//!   template data rendered as Go templates.
//! - [`read_secrets`], [`read_sealed_secrets`], [`sealed_secret_to_string`]: manifests in and
//!   out, multi-document YAML or JSON streams, in kubeseal's output shapes.
//!
//! ```
//! use seal_api::{Keyring, KeyEntry, SealOptions, UnsealOptions, read_secrets, seal_secret, unseal};
//! use seal_api::crypto::{Certificate, PrivateKey};
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/keys");
//! let cert = Certificate::from_pem(&std::fs::read(format!("{dir}/rsa2048.crt"))?)?;
//! let key = PrivateKey::from_pem(&std::fs::read_to_string(format!("{dir}/rsa2048.key"))?)?;
//!
//! let input = b"apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\nstringData: {password: hunter2}\n";
//! let secret = &read_secrets(input)?[0];
//! let sealed = seal_secret(secret, cert.public_key(), &SealOptions::default())?;
//!
//! let mut keyring = Keyring::new();
//! keyring.insert(KeyEntry::from_pair(key, cert, "rsa2048.key"));
//! let unsealed = unseal(&sealed, &keyring, &UnsealOptions::default())?;
//! assert_eq!(unsealed.secret.data.unwrap()["password"].0, b"hunter2");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

mod b64;
mod goyaml;
mod keyring;
mod manifest;
#[cfg(test)]
mod regressions;
mod resource;
mod scope;
mod seal;
mod unseal;

pub use b64::{Base64Error, decode as decode_base64, encode as encode_base64};
pub use keyring::{KeyEntry, Keyring};
pub use manifest::{
    Format, MAX_INPUT_BYTES, go_shape, read_documents, read_sealed_secrets, read_secrets,
    sealed_secret_to_string, to_value, to_yaml_string, write_document,
};
pub use resource::{
    SealedSecret, SealedSecretCondition, SealedSecretSpec, SealedSecretStatus, SecretTemplateSpec,
    crd,
};
pub use scope::Scope;
pub use seal::{SealOptions, raw_label, seal_raw, seal_secret, seal_secret_with_rng};
pub use seal_template::{Error as TemplateError, render as render_template};
pub use unseal::{
    NO_KEY_COULD_DECRYPT, RSA_LIMIT_REACHED, UnsealFailure, UnsealOptions, Unsealed,
    owner_reference, unseal,
};

pub use k8s_openapi;
pub use seal_crypto as crypto;

/// The upstream release whose wire format, flags, output bytes and error texts this project
/// reproduces, and which it was checked against; both programs print it in `--version` as
/// upstream does (`kubeseal version: …`, `controller version: …`).
pub const UPSTREAM_VERSION: &str = "v0.36.6";
/// Upstream's annotation and label prefix.
pub const UPSTREAM_PREFIX: &str = "sealedsecrets.bitnami.com/";
/// Top-level annotation: sealed for any name in the namespace.
pub const ANNOTATION_NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// Top-level annotation: sealed for any namespace and name.
pub const ANNOTATION_CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";
/// Secret annotation: the controller may take over and replace this Secret.
pub const ANNOTATION_MANAGED: &str = "sealedsecrets.bitnami.com/managed";
/// Secret annotation: the controller merges into this Secret instead of replacing it.
pub const ANNOTATION_PATCH: &str = "sealedsecrets.bitnami.com/patch";
/// Template annotation: create the Secret without an owner reference.
pub const ANNOTATION_SKIP_SET_OWNER_REFERENCES: &str =
    "sealedsecrets.bitnami.com/skip-set-owner-references";
/// Label on key Secrets; the value `active` makes a key usable.
pub const LABEL_SEALED_SECRETS_KEY: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
/// The value of [`LABEL_SEALED_SECRETS_KEY`] for keys in use.
pub const KEY_ACTIVE: &str = "active";
/// Default name prefix of key Secrets (`--key-prefix`).
pub const DEFAULT_KEY_PREFIX: &str = "sealed-secrets-key";

/// This project's own annotation prefix. Upstream ignores annotations under it.
pub const PREFIX: &str = "seal.dev/";
/// Top-level SealedSecret annotation: the ID (`SHA256:…`) of the key it was sealed with. Not
/// secret; the controller tries that key first.
pub const ANNOTATION_KEY_ID: &str = "seal.dev/key-id";
/// Secret annotation written by the controller: a keyed digest of what the Secret was unsealed
/// from, so unchanged objects are not decrypted again.
pub const ANNOTATION_DIGEST: &str = "seal.dev/unsealed-digest";

/// Everything that can go wrong sealing, unsealing or reading manifests.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more items could not be opened; the message names them.
    #[error("{}", .0.message())]
    Unseal(UnsealFailure),
    /// Both `encryptedData` and the deprecated `data` are set.
    #[error(
        "cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"
    )]
    BothDataFields,
    /// The deprecated `data` field is set but not accepted.
    #[error("using deprecated 'data' field, use 'encryptedData' or flip the feature flag")]
    DeprecatedData,
    /// A `template.data` entry failed to parse or render; the message names it.
    #[error("{0}")]
    Template(String),
    /// The input had no Secret in it.
    #[error("no secrets found. Ensure the input is valid and UTF-8 encoded")]
    NoSecrets,
    /// The input Secret has no items.
    #[error(
        "secret.data is empty in input Secret, assuming this is an error and aborting. To work with empty data, --allow-empty-data can be used"
    )]
    EmptyData,
    /// The input Secret has no name.
    #[error("missing metadata.name in input Secret")]
    MissingName,
    /// The input Secret's namespace differs from the one asked for.
    #[error(
        "namespace mismatch: input secret is in namespace {input:?} but {flag:?} was specified"
    )]
    NamespaceMismatch {
        /// The input's namespace.
        input: String,
        /// The `-n` flag's namespace.
        flag: String,
    },
    /// No namespace could be determined for a namespaced scope.
    #[error("secret must declare a namespace")]
    NoNamespace,
    /// An unknown `--scope`.
    #[error("must be one of: strict, namespace-wide, cluster-wide")]
    InvalidScope(String),
    /// `--raw` below cluster-wide needs a namespace.
    #[error("must provide the --namespace flag with --raw and --scope {0}")]
    RawNeedsNamespace(Scope),
    /// `--raw` with strict scope needs a name.
    #[error("must provide the --name flag with --raw and --scope strict")]
    RawNeedsName,
    /// A manifest could not be read; the message says which document and why.
    #[error("{0}")]
    Manifest(String),
    /// Sealing or opening a value failed.
    #[error(transparent)]
    Crypto(#[from] seal_crypto::Error),
}

impl Error {
    fn manifest(msg: impl Into<String>) -> Self {
        Error::Manifest(msg.into())
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
