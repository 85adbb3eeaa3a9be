//! Unsealing a SealedSecret into the Secret it describes (SPEC §6).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use seal_crypto::Zeroizing;
use zeroize::Zeroize;

use crate::{
    ANNOTATION_KEY_ID, ANNOTATION_SKIP_SET_OWNER_REFERENCES, Error, KeyEntry, Keyring, Result,
    Scope, SealedSecret, b64,
};

/// Message for a value that no key opens, as upstream words it.
pub const NO_KEY_COULD_DECRYPT: &str = "no key could decrypt secret";

/// Message for a value left unopened because [`UnsealOptions::max_rsa_attempts`] ran out.
pub const RSA_LIMIT_REACHED: &str =
    "not tried: the limit of RSA decryptions for this object was reached";

/// How to unseal.
#[derive(Clone, Debug)]
pub struct UnsealOptions {
    /// `--accept-deprecated-v1-data`: open the v1 `spec.data` blob (default true).
    pub accept_deprecated_v1_data: bool,
    /// Key IDs to try first after the object's own key hint, e.g. the key that opened this
    /// object last time.
    pub preferred_keys: Vec<String>,
    /// When nothing opens, try the other scopes' labels to name the likely mistake (costs one RSA
    /// operation per key and scope, once per failing object).
    pub diagnose_scope: bool,
    /// The most RSA decryptions to spend on the object, counted as keys tried over all values
    /// (`None`: no limit). Each value tries the keys in turn, so a value that no key opens
    /// costs one decryption per key; a value that opens with the hinted or last-used key costs
    /// one. Values left when the limit runs out fail with a "not tried" message (see
    /// [`UnsealFailure::limit_reached`]); the scope diagnosis runs only if the limit leaves
    /// room for it.
    pub max_rsa_attempts: Option<usize>,
}

impl Default for UnsealOptions {
    fn default() -> Self {
        Self {
            accept_deprecated_v1_data: true,
            preferred_keys: Vec::new(),
            diagnose_scope: true,
            max_rsa_attempts: None,
        }
    }
}

/// A successfully unsealed Secret and the keys that opened it.
#[derive(Debug)]
pub struct Unsealed {
    /// The Secret to create or update.
    pub secret: Secret,
    /// IDs of the keys that opened at least one item.
    pub key_ids: BTreeSet<String>,
    /// Item name to the ID of the key that opened it.
    pub opened_by: BTreeMap<String, String>,
}

/// Why unsealing failed, item by item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsealFailure {
    /// Item name to its error message.
    pub items: BTreeMap<String, String>,
    /// When no item opened under the declared scope but one opens under another scope, that
    /// scope: the SealedSecret was most likely sealed with a different `--scope`, or its
    /// scope annotation was lost or added.
    pub likely_scope: Option<Scope>,
}

impl UnsealFailure {
    /// Upstream's message: equal messages merged as `<msg> (<item1>, <item2>)`, items sorted,
    /// groups joined with newlines.
    pub fn message(&self) -> String {
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (item, msg) in &self.items {
            groups.entry(msg.as_str()).or_default().push(item.as_str());
        }
        groups
            .into_iter()
            .map(|(msg, items)| format!("{msg} ({})", items.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// True when every item failed because no key opened it.
    pub fn no_key(&self) -> bool {
        self.items.values().all(|m| m == NO_KEY_COULD_DECRYPT)
    }

    /// True when [`UnsealOptions::max_rsa_attempts`] ran out before some items were tried.
    pub fn limit_reached(&self) -> bool {
        self.items.values().any(|m| m == RSA_LIMIT_REACHED)
    }

    /// True when some item failed for a reason other than the limit: the object does not
    /// unseal, whatever the untried items hold.
    pub fn failed_before_limit(&self) -> bool {
        self.items.values().any(|m| m != RSA_LIMIT_REACHED)
    }
}

/// RSA decryptions left for one object ([`UnsealOptions::max_rsa_attempts`]).
struct Budget(Option<usize>);

impl Budget {
    /// How many of `available` keys may be tried.
    fn keys_to_try(&self, available: usize) -> usize {
        self.0.map_or(available, |left| left.min(available))
    }

    fn spend(&mut self, n: usize) {
        if let Some(left) = &mut self.0 {
            *left = left.saturating_sub(n);
        }
    }
}

/// The key IDs to try first for `ss`: its key hint, then the `preferred` ones.
fn preferred_ids<'a>(ss: &'a SealedSecret, opts: &'a UnsealOptions) -> Vec<&'a str> {
    let hint = ss
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_KEY_ID));
    hint.map(String::as_str)
        .into_iter()
        .chain(opts.preferred_keys.iter().map(String::as_str))
        .collect()
}

/// Opens one value, trying `order` as far as `budget` allows and moving the key that worked to
/// the front.
fn open_one(
    order: &mut Vec<&KeyEntry>,
    label: &[u8],
    text: &str,
    budget: &mut Budget,
) -> std::result::Result<(Zeroizing<Vec<u8>>, String), String> {
    let ciphertext = b64::decode(text).map_err(|e| e.to_string())?;
    let tried = budget.keys_to_try(order.len());
    let keys: Vec<&seal_crypto::PrivateKey> = order[..tried].iter().map(|e| e.key()).collect();
    match seal_crypto::open(&keys, label, &ciphertext) {
        Ok(opened) => {
            budget.spend(opened.key_index + 1);
            let entry = order.remove(opened.key_index);
            let id = entry.id().to_owned();
            order.insert(0, entry);
            Ok((opened.plaintext, id))
        }
        Err(seal_crypto::Error::TooShort) => Err(seal_crypto::Error::TooShort.to_string()),
        Err(_) => {
            budget.spend(tried);
            if tried < order.len() {
                Err(RSA_LIMIT_REACHED.to_owned())
            } else {
                Err(NO_KEY_COULD_DECRYPT.to_owned())
            }
        }
    }
}

/// Unseals `ss` with the keys of `keyring` into the Secret it describes.
///
/// # Errors
///
/// [`Error::Unseal`] naming each item that failed, [`Error::BothDataFields`],
/// [`Error::DeprecatedData`], [`Error::Template`].
pub fn unseal(ss: &SealedSecret, keyring: &Keyring, opts: &UnsealOptions) -> Result<Unsealed> {
    let name = ss.metadata.name.clone().unwrap_or_default();
    let namespace = ss.metadata.namespace.clone().unwrap_or_default();
    let scope = Scope::from_annotations(ss.metadata.annotations.as_ref());
    let label = scope.label(&namespace, &name);
    let spec = &ss.spec;

    if spec.data.is_some() && !spec.encrypted_data.is_empty() {
        return Err(Error::BothDataFields);
    }
    if spec.data.is_some() && !opts.accept_deprecated_v1_data {
        return Err(Error::DeprecatedData);
    }
    let items = spec.encrypted_items().map_err(|bad| {
        Error::Unseal(UnsealFailure {
            items: bad
                .into_iter()
                .map(|i| (i, "encryptedData value is not a string".to_owned()))
                .collect(),
            likely_scope: None,
        })
    })?;

    let mut order = keyring.ordered(&preferred_ids(ss, opts));
    let mut budget = Budget(opts.max_rsa_attempts);
    let mut failures = BTreeMap::new();
    let mut opened_by = BTreeMap::new();
    let mut data: BTreeMap<String, Zeroizing<Vec<u8>>> = BTreeMap::new();
    let mut v1: Option<Secret> = None;

    for (item, text) in &items {
        match open_one(&mut order, &label, text, &mut budget) {
            Ok((plaintext, id)) => {
                data.insert((*item).to_owned(), plaintext);
                opened_by.insert((*item).to_owned(), id);
            }
            Err(msg) => {
                failures.insert((*item).to_owned(), msg);
            }
        }
    }
    if let Some(blob) = &spec.data {
        match open_one(&mut order, &label, blob, &mut budget) {
            Ok((plaintext, id)) => {
                let decoded: Secret = serde_json::from_slice(&plaintext).map_err(|e| {
                    Error::Unseal(UnsealFailure {
                        items: [(
                            "data".to_owned(),
                            format!("sealed v1 data is not a Secret: {e}"),
                        )]
                        .into(),
                        likely_scope: None,
                    })
                })?;
                opened_by.insert("data".to_owned(), id);
                v1 = Some(decoded);
            }
            Err(msg) => {
                failures.insert("data".to_owned(), msg);
            }
        }
    }

    if !failures.is_empty() {
        let mut failure = UnsealFailure {
            items: failures,
            likely_scope: None,
        };
        // Two other scopes, each tried with every key.
        let diagnosis = keyring.len().saturating_mul(2);
        if opts.diagnose_scope
            && opened_by.is_empty()
            && failure.no_key()
            && budget.keys_to_try(diagnosis) == diagnosis
        {
            failure.likely_scope = diagnose_scope(ss, keyring, scope, &namespace, &name);
        }
        return Err(Error::Unseal(failure));
    }

    let secret = build_secret(ss, data, v1)?;
    let key_ids = opened_by.values().cloned().collect();
    Ok(Unsealed {
        secret,
        key_ids,
        opened_by,
    })
}

/// Which other scope's label opens the object's first item, if any.
fn diagnose_scope(
    ss: &SealedSecret,
    keyring: &Keyring,
    declared: Scope,
    namespace: &str,
    name: &str,
) -> Option<Scope> {
    let text = ss
        .spec
        .encrypted_items()
        .ok()?
        .into_values()
        .next()
        .or(ss.spec.data.as_deref())?;
    let ciphertext = b64::decode(text).ok()?;
    let keys: Vec<_> = keyring.iter().map(|e| e.key()).collect();
    Scope::ALL
        .into_iter()
        .filter(|s| *s != declared)
        .find(|s| seal_crypto::open(&keys, &s.label(namespace, name), &ciphertext).is_ok())
}

/// The owner reference that ties a Secret to its SealedSecret.
pub fn owner_reference(ss: &SealedSecret) -> OwnerReference {
    OwnerReference {
        api_version: "bitnami.com/v1alpha1".to_owned(),
        kind: "SealedSecret".to_owned(),
        name: ss.metadata.name.clone().unwrap_or_default(),
        uid: ss.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: None,
    }
}

fn build_secret(
    ss: &SealedSecret,
    mut data: BTreeMap<String, Zeroizing<Vec<u8>>>,
    v1: Option<Secret>,
) -> Result<Secret> {
    let template = &ss.spec.template;
    let mut meta: ObjectMeta = template.metadata.clone().unwrap_or_default();
    let mut type_ = template.type_.clone();
    let mut out_data: BTreeMap<String, ByteString> = BTreeMap::new();

    if let Some(v1) = v1 {
        let Secret {
            metadata,
            data: v1_data,
            string_data,
            type_: v1_type,
            ..
        } = v1;
        merge_map(&mut meta.labels, metadata.labels);
        merge_map(&mut meta.annotations, metadata.annotations);
        if v1_type.is_some() {
            type_ = v1_type;
        }
        out_data.extend(v1_data.into_iter().flatten());
        for (k, v) in string_data.into_iter().flatten() {
            out_data.insert(k, ByteString(v.into_bytes()));
        }
    }

    if let Some(templates) = template.data.as_ref().filter(|t| !t.is_empty()) {
        let mut dot: BTreeMap<String, String> = data
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        // A `null` entry drops the item of that name from the Secret.
        type Rendered = (String, Option<Zeroizing<Vec<u8>>>);
        let rendered: Result<Vec<Rendered>> = templates
            .iter()
            .map(|(k, src)| match src {
                None => Ok((k.clone(), None)),
                Some(src) => seal_template::render(k, src, &dot)
                    .map(|s| (k.clone(), Some(Zeroizing::new(s.into_bytes()))))
                    .map_err(|e| Error::Template(e.to_string())),
            })
            .collect();
        for v in dot.values_mut() {
            v.zeroize();
        }
        for (k, v) in rendered? {
            match v {
                Some(v) => data.insert(k, v),
                None => data.remove(&k),
            };
        }
    }

    for (k, v) in data {
        out_data.insert(k, ByteString(v.to_vec()));
    }

    meta.name = ss.metadata.name.clone();
    meta.namespace = ss.metadata.namespace.clone();
    let skip_owner = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_SKIP_SET_OWNER_REFERENCES))
        .is_some_and(|v| v == "true");
    meta.owner_references = (!skip_owner).then(|| vec![owner_reference(ss)]);

    Ok(Secret {
        metadata: meta,
        data: Some(out_data),
        immutable: template.immutable,
        type_,
        string_data: None,
    })
}

fn merge_map(into: &mut Option<BTreeMap<String, String>>, from: Option<BTreeMap<String, String>>) {
    if let Some(from) = from.filter(|m| !m.is_empty()) {
        into.get_or_insert_with(BTreeMap::new).extend(from);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::crypto::{Certificate, PrivateKey};

    fn read(rel: &str) -> Vec<u8> {
        let path = format!("{}/../../testdata/{rel}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn entry(stem: &str) -> KeyEntry {
        let pem = String::from_utf8(read(&format!("keys/{stem}.key"))).expect("utf8 key");
        let key = PrivateKey::from_pem(&pem).expect("fixture key");
        let cert = Certificate::from_pem(&read(&format!("keys/{stem}.crt"))).expect("cert");
        KeyEntry::from_pair(key, cert, stem)
    }

    fn keyring(stems: &[&str]) -> Keyring {
        let mut ring = Keyring::new();
        for stem in stems {
            ring.insert(entry(stem));
        }
        ring
    }

    /// A strict-scope `ns/name` with items `a`, `b`, `c` sealed to `stem` under `label`, and
    /// `hint` as its key hint.
    fn sealed_to(stem: &str, label: &[u8], hint: Option<&str>) -> SealedSecret {
        let key = entry(stem).key().public_key();
        let items: serde_json::Map<String, serde_json::Value> = ["a", "b", "c"]
            .into_iter()
            .map(|item| {
                let sealed = seal_crypto::seal(&key, label, item.as_bytes()).expect("seals");
                (item.to_owned(), json!(b64::encode(&sealed)))
            })
            .collect();
        let annotations = hint.map(|id| json!({ ANNOTATION_KEY_ID: id }));
        serde_json::from_value(json!({
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": {"name": "name", "namespace": "ns", "annotations": annotations},
            "spec": {"encryptedData": items},
        }))
        .expect("a SealedSecret")
    }

    fn limited(max: usize) -> UnsealOptions {
        UnsealOptions {
            max_rsa_attempts: Some(max),
            ..UnsealOptions::default()
        }
    }

    fn failure(result: Result<Unsealed>) -> UnsealFailure {
        match result {
            Err(Error::Unseal(f)) => f,
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("unsealed"),
        }
    }

    #[test]
    fn values_that_open_first_time_cost_one_decryption_each() {
        let ring = keyring(&["rsa2048"]);
        let ss = sealed_to("rsa2048", b"ns/name", None);
        assert!(unseal(&ss, &ring, &limited(3)).is_ok());

        let f = failure(unseal(&ss, &ring, &limited(2)));
        assert!(f.limit_reached() && !f.failed_before_limit(), "{f:?}");
        assert_eq!(f.items.keys().collect::<Vec<_>>(), ["c"]);
        assert!(f.message().starts_with("not tried"), "{}", f.message());
    }

    #[test]
    fn a_wrong_key_hint_costs_one_more_decryption_then_the_key_that_worked_comes_first() {
        let ring = keyring(&["rsa4096", "rsa4096-b"]);
        let wrong = entry("rsa4096").id().to_owned();
        let ss = sealed_to("rsa4096-b", b"ns/name", Some(&wrong));
        // a: rsa4096 then rsa4096-b; b and c: rsa4096-b at once.
        assert!(unseal(&ss, &ring, &limited(4)).is_ok());
        let f = failure(unseal(&ss, &ring, &limited(3)));
        assert_eq!(f.items.keys().collect::<Vec<_>>(), ["c"]);
        assert!(f.limit_reached() && !f.failed_before_limit());
    }

    #[test]
    fn values_no_key_opens_cost_every_key_and_the_limit_stops_the_rest() {
        let ring = keyring(&["rsa4096-b"]);
        let ss = sealed_to("rsa4096", b"ns/name", None);
        let f = failure(unseal(&ss, &ring, &UnsealOptions::default()));
        assert!(f.no_key() && !f.limit_reached(), "{f:?}");

        // One decryption: a fails with the only key; b and c are not tried.
        let f = failure(unseal(&ss, &ring, &limited(1)));
        assert_eq!(f.items["a"], NO_KEY_COULD_DECRYPT);
        assert_eq!(f.items["b"], RSA_LIMIT_REACHED);
        assert_eq!(f.items["c"], RSA_LIMIT_REACHED);
        assert!(f.limit_reached() && f.failed_before_limit() && !f.no_key());

        // Two keys, neither opens: a costs both, and a limit of three cuts b short.
        let ring = keyring(&["rsa4096-b", "rsa2048"]);
        let f = failure(unseal(&ss, &ring, &limited(3)));
        assert_eq!(f.items["a"], NO_KEY_COULD_DECRYPT);
        assert_eq!(f.items["b"], RSA_LIMIT_REACHED);
    }

    #[test]
    fn the_scope_diagnosis_runs_only_within_the_limit() {
        let ring = keyring(&["rsa2048"]);
        // Sealed cluster-wide, declared strict.
        let ss = sealed_to("rsa2048", b"", None);
        let f = failure(unseal(&ss, &ring, &UnsealOptions::default()));
        assert_eq!(f.likely_scope, Some(Scope::ClusterWide));
        // Three items cost three; the diagnosis would cost two more.
        let f = failure(unseal(&ss, &ring, &limited(5)));
        assert_eq!(f.likely_scope, Some(Scope::ClusterWide));
        let f = failure(unseal(&ss, &ring, &limited(4)));
        assert!(f.no_key() && !f.limit_reached());
        assert_eq!(f.likely_scope, None);
    }
}
