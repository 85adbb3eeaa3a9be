//! seal-api against the fixtures of testdata/: what the independent implementation sealed
//! unseals here, and what is sealed here unseals again under the scope rules.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::Secret;
use rand::SeedableRng;
use seal_api::crypto::{Certificate, PrivateKey};
use seal_api::{
    ANNOTATION_CLUSTER_WIDE, ANNOTATION_KEY_ID, ANNOTATION_NAMESPACE_WIDE,
    ANNOTATION_SKIP_SET_OWNER_REFERENCES, Error, Format, KeyEntry, Keyring, Scope, SealOptions,
    SealedSecret, UnsealOptions, decode_base64, encode_base64, read_sealed_secrets, read_secrets,
    seal_secret, seal_secret_with_rng, sealed_secret_to_string, unseal,
};
use test_case::test_case;

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(testdata(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn cert(stem: &str) -> Certificate {
    Certificate::from_pem(&read(&format!("keys/{stem}.crt"))).expect("fixture cert")
}

fn entry(stem: &str) -> KeyEntry {
    let pem = String::from_utf8(read(&format!("keys/{stem}.key"))).expect("utf8 key");
    let key = PrivateKey::from_pem(&pem).expect("fixture key");
    KeyEntry::from_pair(key, cert(stem), stem)
}

fn keyring(stems: &[&str]) -> Keyring {
    let mut ring = Keyring::new();
    for stem in stems {
        ring.insert(entry(stem));
    }
    ring
}

fn data_b64(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), encode_base64(&v.0)))
        .collect()
}

fn one_sealed(rel: &str) -> SealedSecret {
    let mut all = read_sealed_secrets(&read(rel)).expect("fixture parses");
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn one_secret(rel: &str) -> Secret {
    let mut all = read_secrets(&read(rel)).expect("fixture parses");
    all.remove(0)
}

/// The input's items as plaintext bytes, stringData winning.
fn plain_items(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        out.insert(k.clone(), v.clone().into_bytes());
    }
    out
}

fn unsealed_items(ss: &SealedSecret, ring: &Keyring) -> BTreeMap<String, Vec<u8>> {
    let u = unseal(ss, ring, &UnsealOptions::default()).expect("unseals");
    u.secret
        .data
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, v.0))
        .collect()
}

// --- upstream-format input (from the independent implementation) unseals here -------------

#[test_case("opaque.strict")]
#[test_case("opaque.namespace-wide")]
#[test_case("opaque.cluster-wide")]
#[test_case("opaque-json")]
#[test_case("dockerconfigjson")]
#[test_case("binary")]
#[test_case("stringdata")]
#[test_case("immutable")]
#[test_case("tls")]
#[test_case("template-data")]
#[test_case("template-sprig")]
#[test_case("legacy-v1-data")]
#[test_case("multikey-b")]
fn independently_sealed_fixture_unseals_to_expected_data(name: &str) {
    let ss = one_sealed(&format!("sealed/{name}.json"));
    let expected: BTreeMap<String, String> =
        serde_json::from_slice(&read(&format!("sealed/{name}.expected.json")))
            .expect("expected json");
    let ring = keyring(&["rsa4096", "rsa4096-b", "rsa2048"]);
    let u = unseal(&ss, &ring, &UnsealOptions::default()).expect("unseals");
    assert_eq!(data_b64(&u.secret), expected);
    assert_eq!(u.secret.metadata.name, ss.metadata.name);
    assert_eq!(u.secret.metadata.namespace, ss.metadata.namespace);
    if ss.spec.data.is_none() {
        // (A v1 blob carries its own type.)
        assert_eq!(u.secret.type_, ss.spec.template.type_);
    }
    assert_eq!(u.secret.immutable, ss.spec.template.immutable);
}

#[test]
fn wrong_scope_fixture_fails_with_upstream_message_and_names_the_scope() {
    let ss = one_sealed("sealed/wrong-scope.json");
    let expected = String::from_utf8(read("sealed/wrong-scope.expected-error.txt")).expect("utf8");
    let err =
        unseal(&ss, &keyring(&["rsa4096"]), &UnsealOptions::default()).expect_err("must fail");
    assert_eq!(err.to_string(), expected.trim_end());
    let Error::Unseal(failure) = err else {
        panic!("unexpected error kind")
    };
    assert_eq!(failure.likely_scope, Some(Scope::Strict));
}

#[test]
fn a_key_missing_from_the_ring_means_no_key_could_decrypt() {
    let ss = one_sealed("sealed/multikey-b.json");
    let err = unseal(
        &ss,
        &keyring(&["rsa4096", "rsa2048"]),
        &UnsealOptions::default(),
    )
    .expect_err("fails");
    assert!(
        err.to_string().starts_with("no key could decrypt secret ("),
        "{err}"
    );
}

#[test]
fn legacy_v1_data_obeys_the_feature_flag_and_field_exclusivity() {
    let ss = one_sealed("sealed/legacy-v1-data.json");
    let ring = keyring(&["rsa4096"]);
    let off = UnsealOptions {
        accept_deprecated_v1_data: false,
        ..UnsealOptions::default()
    };
    assert_eq!(
        unseal(&ss, &ring, &off).expect_err("flag off").to_string(),
        "using deprecated 'data' field, use 'encryptedData' or flip the feature flag"
    );
    let mut both = ss.clone();
    both.spec
        .encrypted_data
        .insert("x".into(), serde_json::json!("AgA="));
    assert_eq!(
        unseal(&both, &ring, &UnsealOptions::default())
            .expect_err("both")
            .to_string(),
        "cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"
    );
}

// --- round trips --------------------------------------------------------------------------

#[test_case("secrets/opaque.yaml")]
#[test_case("secrets/opaque.json")]
#[test_case("secrets/dockerconfigjson.yaml")]
#[test_case("secrets/tls.yaml")]
#[test_case("secrets/binary.yaml")]
#[test_case("secrets/stringdata.yaml")]
#[test_case("secrets/immutable.yaml")]
#[test_case("secrets/five-items.yaml")]
fn every_sample_round_trips_in_every_scope(rel: &str) {
    let secret = one_secret(rel);
    let ring = keyring(&["rsa2048"]);
    for scope in Scope::ALL {
        let opts = SealOptions {
            scope: Some(scope),
            key_hint: true,
            ..SealOptions::default()
        };
        let ss = seal_secret(&secret, cert("rsa2048").public_key(), &opts).expect("seals");
        assert_eq!(
            Scope::from_annotations(ss.metadata.annotations.as_ref()),
            scope
        );
        assert_eq!(
            unsealed_items(&ss, &ring),
            plain_items(&secret),
            "{rel} {scope}"
        );
    }
}

#[test]
fn stringdata_wins_over_data_for_the_same_item() {
    let secret = one_secret("secrets/stringdata.yaml");
    let dup: Vec<_> = secret
        .string_data
        .iter()
        .flatten()
        .filter(|(k, _)| secret.data.as_ref().is_some_and(|d| d.contains_key(*k)))
        .collect();
    assert!(!dup.is_empty(), "fixture must have a duplicated item");
    let ss = seal_secret(
        &secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    let items = unsealed_items(&ss, &keyring(&["rsa2048"]));
    for (k, v) in dup {
        assert_eq!(items[k], v.as_bytes());
    }
}

fn moved(ss: &SealedSecret, namespace: &str, name: &str) -> SealedSecret {
    let mut out = ss.clone();
    out.metadata.namespace = Some(namespace.into());
    out.metadata.name = Some(name.into());
    out
}

#[test_case(Scope::Strict, false, false ; "strict binds namespace and name")]
#[test_case(Scope::NamespaceWide, true, false ; "namespace-wide allows a rename")]
#[test_case(Scope::ClusterWide, true, true ; "cluster-wide allows both")]
fn rename_and_namespace_change_follow_the_scope(scope: Scope, rename_ok: bool, move_ok: bool) {
    let secret = one_secret("secrets/opaque.yaml");
    let opts = SealOptions {
        scope: Some(scope),
        ..SealOptions::default()
    };
    let ss = seal_secret(&secret, cert("rsa2048").public_key(), &opts).expect("seals");
    let ring = keyring(&["rsa2048"]);
    let ns = ss.metadata.namespace.clone().unwrap_or_default();
    let opts = UnsealOptions::default();
    assert!(unseal(&moved(&ss, &ns, "mysecret"), &ring, &opts).is_ok());
    assert_eq!(
        unseal(&moved(&ss, &ns, "renamed"), &ring, &opts).is_ok(),
        rename_ok
    );
    assert_eq!(
        unseal(&moved(&ss, "elsewhere", "mysecret"), &ring, &opts).is_ok(),
        move_ok
    );
}

#[test]
fn the_controller_reads_scope_only_from_top_level_annotations() {
    let secret = one_secret("secrets/opaque.yaml");
    let opts = SealOptions {
        scope: Some(Scope::ClusterWide),
        ..SealOptions::default()
    };
    let mut ss = seal_secret(&secret, cert("rsa2048").public_key(), &opts).expect("seals");
    // The template keeps its copy of the annotation; removing the top-level one breaks it.
    ss.metadata.annotations = None;
    let err =
        unseal(&ss, &keyring(&["rsa2048"]), &UnsealOptions::default()).expect_err("strict label");
    let Error::Unseal(failure) = err else {
        panic!("unexpected error")
    };
    assert!(failure.no_key());
    assert_eq!(failure.likely_scope, Some(Scope::ClusterWide));
}

// --- the seal rules (SPEC §5) -------------------------------------------------------------

#[test]
fn template_strips_server_fields_and_last_applied_annotations() {
    let secret = one_secret("secrets/opaque.yaml");
    let ss = seal_secret(
        &secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    let meta = ss
        .spec
        .template
        .metadata
        .as_ref()
        .expect("template metadata");
    let ann = meta.annotations.as_ref().expect("kept annotations");
    assert!(!ann.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    assert!(!ann.contains_key("kubecfg.ksonnet.io/last-applied-configuration"));
    assert_eq!(
        ann.get("example.com/owner").map(String::as_str),
        Some("team-a")
    );
    assert_eq!(meta.labels, secret.metadata.labels);
    assert!(meta.uid.is_none() && meta.resource_version.is_none() && meta.generation.is_none());
    assert!(meta.creation_timestamp.is_none() && meta.self_link.is_none());
    assert!(meta.owner_references.is_none() && meta.managed_fields.is_none());
    // The top level gets only name and namespace (no scope annotation for strict).
    assert_eq!(ss.metadata.name.as_deref(), Some("mysecret"));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("default"));
    assert!(ss.metadata.annotations.is_none() && ss.metadata.labels.is_none());
    // Nothing secret leaked into the output.
    let out = sealed_secret_to_string(&ss, Format::Json).expect("json");
    assert!(!out.contains("czNjcjN0") && !out.contains("s3cr3t"));
}

#[test]
fn explicit_scope_beats_the_input_annotation() {
    let mut secret = one_secret("secrets/opaque.yaml");
    secret
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(ANNOTATION_CLUSTER_WIDE.into(), "true".into());
    let opts = SealOptions {
        scope: Some(Scope::Strict),
        ..SealOptions::default()
    };
    let ss = seal_secret(&secret, cert("rsa2048").public_key(), &opts).expect("seals");
    assert!(ss.metadata.annotations.is_none());
    let tmpl = ss.template_annotations().expect("template annotations");
    assert!(!tmpl.contains_key(ANNOTATION_CLUSTER_WIDE));
    // Without --scope the annotation decides, and is copied to both places.
    let ss = seal_secret(
        &secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    assert_eq!(
        Scope::from_annotations(ss.metadata.annotations.as_ref()),
        Scope::ClusterWide
    );
    assert_eq!(
        ss.template_annotations()
            .and_then(|a| a.get(ANNOTATION_CLUSTER_WIDE))
            .map(String::as_str),
        Some("true")
    );
    let opts = SealOptions {
        scope: Some(Scope::NamespaceWide),
        ..SealOptions::default()
    };
    let ss = seal_secret(&secret, cert("rsa2048").public_key(), &opts).expect("seals");
    let top = ss.metadata.annotations.expect("scope annotation");
    assert_eq!(top.keys().collect::<Vec<_>>(), [ANNOTATION_NAMESPACE_WIDE]);
}

#[test]
fn namespace_resolution_follows_kubeseal() {
    let key = cert("rsa2048");
    let with_ns = one_secret("secrets/opaque.yaml");
    let without = one_secret("secrets/no-namespace.yaml");
    assert!(without.metadata.namespace.is_none());
    let seal = |s: &Secret, o: SealOptions| seal_secret(s, key.public_key(), &o);

    let err = seal(
        &with_ns,
        SealOptions {
            namespace: Some("prod".into()),
            ..Default::default()
        },
    )
    .expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        r#"namespace mismatch: input secret is in namespace "default" but "prod" was specified"#
    );
    let same = seal(
        &with_ns,
        SealOptions {
            namespace: Some("default".into()),
            ..Default::default()
        },
    )
    .expect("same ns");
    assert_eq!(same.metadata.namespace.as_deref(), Some("default"));

    let flag = seal(
        &without,
        SealOptions {
            namespace: Some("prod".into()),
            default_namespace: Some("ctx".into()),
            ..Default::default()
        },
    )
    .expect("flag");
    assert_eq!(flag.metadata.namespace.as_deref(), Some("prod"));
    assert_eq!(
        flag.spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.namespace.as_deref()),
        Some("prod")
    );
    let ctx = seal(
        &without,
        SealOptions {
            default_namespace: Some("ctx".into()),
            ..Default::default()
        },
    )
    .expect("ctx");
    assert_eq!(ctx.metadata.namespace.as_deref(), Some("ctx"));
    let err = seal(&without, SealOptions::default()).expect_err("no namespace");
    assert_eq!(err.to_string(), "secret must declare a namespace");
    // Cluster-wide keeps the input's namespace, even empty.
    let cw = seal(
        &without,
        SealOptions {
            scope: Some(Scope::ClusterWide),
            default_namespace: Some("ctx".into()),
            ..Default::default()
        },
    )
    .expect("cw");
    assert!(cw.metadata.namespace.is_none());
}

#[test]
fn empty_data_needs_the_flag_and_a_name_is_required() {
    let key = cert("rsa2048");
    let empty = one_secret("secrets/empty.yaml");
    let err = seal_secret(&empty, key.public_key(), &SealOptions::default()).expect_err("empty");
    assert!(
        err.to_string()
            .starts_with("secret.data is empty in input Secret")
    );
    let ss = seal_secret(
        &empty,
        key.public_key(),
        &SealOptions {
            allow_empty_data: true,
            ..Default::default()
        },
    )
    .expect("allowed");
    assert!(ss.spec.encrypted_data.is_empty());

    let mut nameless = one_secret("secrets/opaque.yaml");
    nameless.metadata.name = None;
    let err =
        seal_secret(&nameless, key.public_key(), &SealOptions::default()).expect_err("no name");
    assert_eq!(err.to_string(), "missing metadata.name in input Secret");
    let renamed = seal_secret(
        &nameless,
        key.public_key(),
        &SealOptions {
            name: Some("given".into()),
            ..Default::default()
        },
    )
    .expect("named");
    assert_eq!(renamed.metadata.name.as_deref(), Some("given"));
    assert!(unseal(&renamed, &keyring(&["rsa2048"]), &UnsealOptions::default()).is_ok());
}

#[test]
fn key_hint_and_chosen_top_level_metadata_are_written() {
    let mut secret = one_secret("secrets/opaque.yaml");
    secret
        .metadata
        .annotations
        .get_or_insert_default()
        .insert("argocd.argoproj.io/sync-wave".into(), "-1".into());
    let opts = SealOptions {
        key_hint: true,
        top_level_annotations: vec!["argocd.argoproj.io/sync-wave".into(), "absent".into()],
        top_level_labels: vec!["tier".into()],
        ..SealOptions::default()
    };
    let key = cert("rsa2048");
    let ss = seal_secret(&secret, key.public_key(), &opts).expect("seals");
    let top = ss.metadata.annotations.as_ref().expect("annotations");
    let expected_id = String::from_utf8(read("keys/rsa2048.keyid")).expect("utf8");
    assert_eq!(top[ANNOTATION_KEY_ID], expected_id.trim());
    assert_eq!(top["argocd.argoproj.io/sync-wave"], "-1");
    assert!(!top.contains_key("absent"));
    assert_eq!(
        ss.metadata.labels.as_ref().expect("labels")["tier"],
        "backend"
    );
}

#[test]
fn json_output_matches_kubeseal_byte_for_byte() {
    let input = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: n\ntype: Opaque\nstringData:\n  b: two\n  a: one\n";
    let secret = &read_secrets(input).expect("reads")[0];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let ss = seal_secret_with_rng(
        &mut rng,
        secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    let a = ss.spec.encrypted_data["a"].as_str().expect("string");
    let b = ss.spec.encrypted_data["b"].as_str().expect("string");
    let expected = format!(
        "{{\n  \"kind\": \"SealedSecret\",\n  \"apiVersion\": \"bitnami.com/v1alpha1\",\n  \"metadata\": {{\n    \"name\": \"s\",\n    \"namespace\": \"n\"\n  }},\n  \"spec\": {{\n    \"template\": {{\n      \"metadata\": {{\n        \"name\": \"s\",\n        \"namespace\": \"n\"\n      }},\n      \"type\": \"Opaque\"\n    }},\n    \"encryptedData\": {{\n      \"a\": \"{a}\",\n      \"b\": \"{b}\"\n    }}\n  }}\n}}\n"
    );
    assert_eq!(
        sealed_secret_to_string(&ss, Format::Json).expect("json"),
        expected
    );
    assert!(a.starts_with("AQ"), "RSA-2048 prefix");
    // Same seed, same bytes.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let again = seal_secret_with_rng(
        &mut rng,
        secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    assert_eq!(again, ss);
    // YAML is sorted, after a document marker, and reads back to the same object. Neither
    // format has the `creationTimestamp: null` that kubeseal before 0.36 wrote; go-yaml quotes
    // `n`, a YAML 1.1 boolean.
    let yaml = sealed_secret_to_string(&ss, Format::Yaml).expect("yaml");
    assert_eq!(
        yaml,
        format!(
            "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: s\n  namespace: \"n\"\nspec:\n  encryptedData:\n    a: {a}\n    b: {b}\n  template:\n    metadata:\n      name: s\n      namespace: \"n\"\n    type: Opaque\n"
        )
    );
    assert_eq!(
        read_sealed_secrets(yaml.as_bytes()).expect("reads back"),
        vec![ss]
    );
}

// --- the unseal rules (SPEC §6) -----------------------------------------------------------

#[test]
fn the_secret_is_owned_by_its_sealed_secret_unless_told_otherwise() {
    let secret = one_secret("secrets/opaque.yaml");
    let mut ss = seal_secret(
        &secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    ss.metadata.uid = Some("uid-1".into());
    let ring = keyring(&["rsa2048"]);
    let u = unseal(&ss, &ring, &UnsealOptions::default()).expect("unseals");
    let refs = u.secret.metadata.owner_references.expect("owner");
    assert_eq!(refs.len(), 1);
    assert_eq!(
        (
            refs[0].api_version.as_str(),
            refs[0].kind.as_str(),
            refs[0].name.as_str(),
            refs[0].uid.as_str()
        ),
        ("bitnami.com/v1alpha1", "SealedSecret", "mysecret", "uid-1")
    );
    assert_eq!(refs[0].controller, Some(true));
    assert_eq!(u.secret.metadata.labels, secret.metadata.labels);

    ss.spec
        .template
        .metadata
        .get_or_insert_default()
        .annotations
        .get_or_insert_default()
        .insert(ANNOTATION_SKIP_SET_OWNER_REFERENCES.into(), "true".into());
    let u = unseal(&ss, &ring, &UnsealOptions::default()).expect("unseals");
    assert!(u.secret.metadata.owner_references.is_none());
}

#[test]
fn item_errors_are_grouped_and_sorted() {
    let secret = one_secret("secrets/five-items.yaml");
    let mut ss = seal_secret(
        &secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    let names: Vec<String> = ss.spec.encrypted_data.keys().cloned().collect();
    assert!(names.len() >= 4);
    let foreign = seal_secret(
        &secret,
        cert("rsa4096-b").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    ss.spec.encrypted_data.insert(
        names[2].clone(),
        foreign.spec.encrypted_data[&names[2]].clone(),
    );
    ss.spec.encrypted_data.insert(
        names[0].clone(),
        foreign.spec.encrypted_data[&names[0]].clone(),
    );
    ss.spec
        .encrypted_data
        .insert(names[1].clone(), serde_json::json!("AQ=="));
    ss.spec
        .encrypted_data
        .insert(names[3].clone(), serde_json::json!("not_base64-"));
    let err = unseal(&ss, &keyring(&["rsa2048"]), &UnsealOptions::default()).expect_err("fails");
    let expected = format!(
        "SealedSecret data is too short ({})\nillegal base64 data at input byte 3 ({})\nno key could decrypt secret ({}, {})",
        names[1], names[3], names[0], names[2]
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn non_string_items_fail_naming_them() {
    let secret = one_secret("secrets/opaque.yaml");
    let mut ss = seal_secret(
        &secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    ss.spec
        .encrypted_data
        .insert("zz".into(), serde_json::json!(42));
    let err = unseal(&ss, &keyring(&["rsa2048"]), &UnsealOptions::default()).expect_err("fails");
    assert_eq!(err.to_string(), "encryptedData value is not a string (zz)");
}

#[test]
fn key_hint_and_preferred_keys_come_first() {
    let ring = keyring(&["rsa2048", "rsa4096", "rsa4096-b"]);
    let newest_first: Vec<_> = ring
        .ordered(&[])
        .iter()
        .map(|e| e.source().to_owned())
        .collect();
    assert_eq!(newest_first.len(), 3);
    let b_id = ring
        .iter()
        .find(|e| e.source() == "rsa4096-b")
        .expect("b")
        .id()
        .to_owned();
    let ordered: Vec<_> = ring
        .ordered(&[&b_id, "SHA256:unknown"])
        .iter()
        .map(|e| e.source().to_owned())
        .collect();
    assert_eq!(ordered[0], "rsa4096-b");
    assert_eq!(ordered.len(), 3);
}

#[test]
fn templates_render_over_decrypted_items() {
    let secret = one_secret("secrets/opaque.yaml");
    let mut ss = seal_secret(
        &secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    ss.spec.template.data = Some(BTreeMap::from([
        (
            "url".into(),
            Some("postgres://{{ .username }}:{{ index . \"password\" }}@db".into()),
        ),
        ("username".into(), Some("{{ .username | upper }}".into())),
        ("api-token".into(), None),
    ]));
    let items = unsealed_items(&ss, &keyring(&["rsa2048"]));
    assert_eq!(items["url"], b"postgres://admin:s3cr3t@db");
    assert_eq!(items["username"], b"ADMIN");
    assert!(
        !items.contains_key("api-token"),
        "a null template entry drops the item"
    );

    ss.spec.template.data = Some(BTreeMap::from([(
        "bad".into(),
        Some("{{ env \"HOME\" }}".into()),
    )]));
    let err =
        unseal(&ss, &keyring(&["rsa2048"]), &UnsealOptions::default()).expect_err("forbidden");
    assert_eq!(
        err.to_string(),
        "template: bad:1: function \"env\" not defined"
    );
}

#[test]
fn templates_work_with_empty_encrypted_data() {
    let empty = one_secret("secrets/empty.yaml");
    let mut ss = seal_secret(
        &empty,
        cert("rsa2048").public_key(),
        &SealOptions {
            allow_empty_data: true,
            ..Default::default()
        },
    )
    .expect("seals");
    ss.spec.template.data = Some(BTreeMap::from([(
        "static".into(),
        Some("value-{{ .missing }}".into()),
    )]));
    let items = unsealed_items(&ss, &keyring(&["rsa2048"]));
    assert_eq!(items["static"], b"value-<no value>");
}

#[test]
fn url_safe_base64_is_refused_naming_the_item() {
    let secret = one_secret("secrets/opaque.yaml");
    let mut ss = seal_secret(
        &secret,
        cert("rsa2048").public_key(),
        &SealOptions::default(),
    )
    .expect("seals");
    let std = ss.spec.encrypted_data["password"]
        .as_str()
        .expect("s")
        .to_owned();
    let raw = decode_base64(&std).expect("valid");
    use base64::Engine as _;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    ss.spec
        .encrypted_data
        .insert("password".into(), serde_json::json!(url));
    let err = unseal(&ss, &keyring(&["rsa2048"]), &UnsealOptions::default()).expect_err("fails");
    assert!(
        err.to_string()
            .starts_with("illegal base64 data at input byte"),
        "{err}"
    );
    assert!(err.to_string().ends_with("(password)"), "{err}");
}
