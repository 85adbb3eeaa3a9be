//! Known-answer vectors from `testdata/vectors/`, made by the independent Python generator
//! `testdata/gen/sealtool.py` (see `testdata/README.md`). One `#[test_case]` per file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_crypto::{
    Certificate, Error, PrivateKey, is_hybrid, open, rsa_block_len, seal, seal_hybrid,
};
use test_case::test_case;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn load_key(stem: &str) -> PrivateKey {
    let path = testdata().join("keys").join(format!("{stem}.key"));
    let pem = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    PrivateKey::from_pem(&pem).expect("fixture key loads")
}

/// A fixture key with the ML-KEM half named by `mlkem` (`none`: RSA only).
fn load_hybrid_key(stem: &str, mlkem: &str) -> PrivateKey {
    let key = load_key(stem);
    if mlkem == "none" {
        return key;
    }
    key.with_mlkem_seed(&load_seed(mlkem))
        .expect("fixture seed loads")
}

fn load_seed(stem: &str) -> Vec<u8> {
    let path = testdata()
        .join("keys")
        .join(format!("{stem}.mlkem768.seed"));
    let hex = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let hex = hex.trim();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn load_cert(name: &str) -> Certificate {
    let path = testdata().join("keys").join(name);
    Certificate::from_pem(&std::fs::read(&path).expect("reads")).expect("fixture cert loads")
}

/// A vector file: `field: value` lines (the value is everything after the first `": "`).
struct Vector {
    fields: BTreeMap<String, String>,
}

impl Vector {
    fn load(case: &str) -> Self {
        let path = testdata().join("vectors").join(format!("{case}.txt"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let fields = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let (name, value) = line.split_once(':').expect("a `field: value` line");
                let value = value.strip_prefix(' ').unwrap_or(value);
                (name.to_owned(), value.to_owned())
            })
            .collect();
        Self { fields }
    }

    fn get(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("vector has no `{name}`"))
    }

    fn bytes(&self, name: &str) -> Vec<u8> {
        STANDARD
            .decode(self.get(name))
            .expect("standard padded base64")
    }
}

#[test_case("strict_ascii")]
#[test_case("strict_empty")]
#[test_case("strict_binary")]
#[test_case("strict_large")]
#[test_case("strict_unicode")]
#[test_case("namespace_wide")]
#[test_case("cluster_wide")]
#[test_case("rsa2048_strict")]
#[test_case("too_short_empty")]
#[test_case("too_short_one_byte")]
#[test_case("too_short_truncated_rsa")]
#[test_case("flipped_tag")]
#[test_case("flipped_rsa_block")]
#[test_case("flipped_body")]
#[test_case("flipped_prefix")]
#[test_case("wrong_label")]
#[test_case("wrong_scope")]
#[test_case("wrong_key")]
#[test_case("truncated_tag")]
#[test_case("pq_classical_key")]
#[test_case("pq_cluster_wide")]
#[test_case("pq_flipped_body")]
#[test_case("pq_flipped_kem_ct")]
#[test_case("pq_flipped_length")]
#[test_case("pq_flipped_rsa_block")]
#[test_case("pq_flipped_tag")]
#[test_case("pq_flipped_version")]
#[test_case("pq_header_only")]
#[test_case("pq_kyberpy_strict")]
#[test_case("pq_namespace_wide")]
#[test_case("pq_rsa2048_strict")]
#[test_case("pq_strict_ascii")]
#[test_case("pq_strict_binary")]
#[test_case("pq_strict_empty")]
#[test_case("pq_strict_large")]
#[test_case("pq_swapped_kem_ct")]
#[test_case("pq_swapped_rsa_block")]
#[test_case("pq_truncated_kem_ct")]
#[test_case("pq_truncated_tag")]
#[test_case("pq_wrong_key")]
#[test_case("pq_wrong_label")]
#[test_case("pq_wrong_mlkem_key")]
#[test_case("pq_wrong_scope")]
fn vector(case: &str) {
    let vector = Vector::load(case);
    let key = match vector.fields.get("mlkem") {
        Some(mlkem) => load_hybrid_key(vector.get("key"), mlkem),
        None => load_key(vector.get("key")),
    };
    let label = vector.get("label").as_bytes();
    let ciphertext = vector.bytes("ciphertext-b64");
    let result = open(&[&key], label, &ciphertext);
    match vector.get("expect") {
        "ok" => {
            let opened = result.unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(opened.key_index, 0);
            assert_eq!(*opened.plaintext, vector.bytes("plaintext-b64"));
            assert_eq!(
                rsa_block_len(&ciphertext).expect("long enough"),
                key.modulus_len()
            );
            assert_eq!(is_hybrid(&ciphertext), case.starts_with("pq_"));
        }
        "error:decrypt" => {
            let err = result.err().expect("must not open");
            assert!(matches!(err, Error::Decrypt), "{case}: {err:?}");
            assert_eq!(err.to_string(), "no key could decrypt secret");
        }
        "error:too-short" => {
            let err = result.err().expect("must not open");
            assert!(matches!(err, Error::TooShort), "{case}: {err:?}");
            assert_eq!(err.to_string(), "SealedSecret data is too short");
            assert!(matches!(rsa_block_len(&ciphertext), Err(Error::TooShort)));
        }
        other => panic!("{case}: unknown expectation {other:?}"),
    }
}

/// Every vector file has a `#[test_case]` above.
#[test]
fn every_vector_file_is_tested() {
    let source = include_str!("vectors.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(testdata().join("vectors")).expect("vectors/ exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "txt") {
            let case = path
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            if !source.contains(&format!("#[test_case(\"{case}\")]")) {
                missing.push(case);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "vectors without a test_case: {missing:?}"
    );
}

/// With every fixture key loaded, each good vector opens with its own key, found by trying.
#[test]
fn good_vectors_open_with_the_right_key_among_many() {
    let stems = ["rsa4096-b", "rsa2048", "rsa4096"];
    let keys: Vec<PrivateKey> = stems.iter().map(|s| load_key(s)).collect();
    let refs: Vec<&PrivateKey> = keys.iter().collect();
    for case in [
        "strict_ascii",
        "cluster_wide",
        "rsa2048_strict",
        "namespace_wide",
    ] {
        let vector = Vector::load(case);
        let opened = open(
            &refs,
            vector.get("label").as_bytes(),
            &vector.bytes("ciphertext-b64"),
        )
        .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(stems[opened.key_index], vector.get("key"), "{case}");
        assert_eq!(*opened.plaintext, vector.bytes("plaintext-b64"));
    }
}

/// The other direction: the independent Python tool opens what this crate seals. Needs
/// `python3` with `cryptography` (`testdata/gen/requirements.txt`), which `.ci/test` installs.
#[test]
fn the_independent_python_tool_opens_what_we_seal() {
    let tool = testdata().join("gen/sealtool.py");
    for (stem, label, plaintext) in [
        ("rsa4096", "default/mysecret", &b"s3cr3t"[..]),
        ("rsa4096", "", b""),
        ("rsa2048", "default", &[0u8, 1, 2, 255]),
    ] {
        let key = load_key(stem);
        let sealed =
            STANDARD.encode(seal(&key.public_key(), label.as_bytes(), plaintext).expect("seals"));
        let mut child = Command::new("python3")
            .arg(&tool)
            .args(["open", "--key"])
            .arg(testdata().join("keys").join(format!("{stem}.key")))
            .args(["--label", label])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (see testdata/gen/requirements.txt)");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), sealed.as_bytes())
            .expect("writes");
        let output = child.wait_with_output().expect("finishes");
        assert!(
            output.status.success(),
            "sealtool failed for {stem} {label:?}"
        );
        assert_eq!(output.stdout, plaintext);
    }
}

/// The Python-made hybrid certificates carry exactly the ML-KEM key of their seed, under a
/// self-signature we verify; the classical ones carry none.
#[test]
fn python_made_hybrid_certificates_give_the_seeds_mlkem_key() {
    for stem in ["rsa2048", "rsa4096", "rsa4096-b"] {
        let key = load_hybrid_key(stem, stem);
        let cert = load_cert(&format!("{stem}-pq.crt"));
        assert_eq!(cert.public_key(), &key.public_key());
        let pq = cert.mlkem_public_key().expect("verifies").expect("has one");
        assert_eq!(Some(&pq), key.mlkem_public_key());
        assert_eq!(
            load_cert(&format!("{stem}.crt"))
                .mlkem_public_key()
                .expect("no extension"),
            None
        );
    }
}

/// Hybrid good vectors, with every fixture key loaded (hybrid and classical), open with their
/// own key.
#[test]
fn hybrid_vectors_open_with_the_right_key_among_many() {
    let stems = ["rsa4096-b", "rsa2048", "rsa4096"];
    let mut keys: Vec<PrivateKey> = stems.iter().map(|s| load_hybrid_key(s, s)).collect();
    keys.insert(0, load_key("rsa4096"));
    let refs: Vec<&PrivateKey> = keys.iter().collect();
    for case in [
        "pq_strict_ascii",
        "pq_cluster_wide",
        "pq_rsa2048_strict",
        "pq_kyberpy_strict",
    ] {
        let vector = Vector::load(case);
        let opened = open(
            &refs,
            vector.get("label").as_bytes(),
            &vector.bytes("ciphertext-b64"),
        )
        .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(stems[opened.key_index - 1], vector.get("key"), "{case}");
        assert_eq!(*opened.plaintext, vector.bytes("plaintext-b64"));
    }
}

fn python(args: &[&std::ffi::OsStr], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new("python3")
        .arg(testdata().join("gen/sealtool.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (see testdata/gen/requirements.txt)");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), stdin).expect("writes");
    child.wait_with_output().expect("finishes")
}

/// Both directions for the hybrid format, every scope: the Python tool (`cryptography` and
/// `kyber-py`) opens what we seal, and we open what it seals to a certificate we made.
#[test]
fn the_independent_python_tool_and_we_open_each_others_hybrid_values() {
    let keys = testdata().join("keys");
    for (stem, label, plaintext) in [
        ("rsa4096", "default/mysecret", &b"s3cr3t"[..]),
        ("rsa4096", "", b""),
        ("rsa2048", "default", &[0u8, 1, 2, 255]),
    ] {
        let key = load_hybrid_key(stem, stem);
        let pq = key.mlkem_public_key().expect("hybrid");
        let sealed =
            seal_hybrid(&key.public_key(), pq, label.as_bytes(), plaintext).expect("seals");
        let b64 = STANDARD.encode(&sealed);
        let output = python(
            &[
                "open".as_ref(),
                "--key".as_ref(),
                keys.join(format!("{stem}.key")).as_os_str(),
                "--mlkem-seed".as_ref(),
                keys.join(format!("{stem}.mlkem768.seed")).as_os_str(),
                "--label".as_ref(),
                label.as_ref(),
            ],
            b64.as_bytes(),
        );
        assert!(
            output.status.success(),
            "sealtool failed for {stem} {label:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.stdout, plaintext);

        // Our certificate, read by Python, sealed to by Python with both encapsulators.
        let params = seal_crypto::CertParams {
            common_name: String::new(),
            not_before: std::time::SystemTime::now(),
            validity: std::time::Duration::from_secs(3600),
        };
        let cert = Certificate::self_signed(&key, &params).expect("signs");
        let dir = std::env::temp_dir().join(format!("seal-pq-{}-{stem}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cert_path = dir.join("cert.pem");
        std::fs::write(&cert_path, cert.to_pem()).expect("writes");
        for kem in ["cryptography", "kyber-py"] {
            let output = python(
                &[
                    "seal".as_ref(),
                    "--pq".as_ref(),
                    "--kem".as_ref(),
                    kem.as_ref(),
                    "--cert".as_ref(),
                    cert_path.as_os_str(),
                    "--label".as_ref(),
                    label.as_ref(),
                ],
                plaintext,
            );
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let sealed = STANDARD.decode(&output.stdout).expect("base64");
            assert!(is_hybrid(&sealed));
            let opened = open(&[&key], label.as_bytes(), &sealed).expect("we open Python's");
            assert_eq!(*opened.plaintext, plaintext);
        }
        std::fs::remove_dir_all(&dir).expect("cleans up");
    }
}
