//! Known-answer vectors from `testdata/vectors/`, made by the independent Python generator
//! `testdata/gen/sealtool.py` (see `testdata/README.md`). One `#[test_case]` per file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_crypto::{Error, PrivateKey, open, rsa_block_len, seal};
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
fn vector(case: &str) {
    let vector = Vector::load(case);
    let key = load_key(vector.get("key"));
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
