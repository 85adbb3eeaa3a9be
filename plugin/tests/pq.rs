//! `--pq`: every sealing path in the hybrid format, recovery with a key Secret's ML-KEM seed,
//! validate, and `reencrypt --pq` with minimal churn.

use std::path::Path;

use seal_api::crypto::{PrivateKey, is_hybrid, open};
use seal_api::{decode_base64, read_sealed_secrets};

use crate::{TempDir, cmd, data, fails, ok, recover, run, run_cmd, secret_yaml, td, testdata};

/// The fixture key Secret with `tls.key`, `tls.crt` (hybrid) and `mlkem768.seed`.
const PQ_SECRET: &str = "keys/rsa4096-pq.secret.json";

fn seed(stem: &str) -> Vec<u8> {
    let hex = std::fs::read_to_string(testdata(&format!("keys/{stem}.mlkem768.seed"))).unwrap();
    let hex = hex.trim();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn hybrid_key(stem: &str) -> PrivateKey {
    let pem = std::fs::read_to_string(testdata(&format!("keys/{stem}.key"))).unwrap();
    PrivateKey::from_pem(&pem)
        .unwrap()
        .with_mlkem_seed(&seed(stem))
        .unwrap()
}

/// A key Secret file for `stem` (its hybrid certificate and seed), as a backup holds it.
fn key_secret(dir: &TempDir, stem: &str) -> String {
    let b64 = |rel: &str| seal_api::encode_base64(&std::fs::read(testdata(rel)).unwrap());
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {stem}-key}}\ntype: kubernetes.io/tls\ndata:\n  tls.key: {}\n  tls.crt: {}\n  mlkem768.seed: {}\n",
        b64(&format!("keys/{stem}.key")),
        b64(&format!("keys/{stem}-pq.crt")),
        seal_api::encode_base64(&seed(stem)),
    );
    dir.write(&format!("{stem}-key.yaml"), text)
        .display()
        .to_string()
}

/// Every item of every SealedSecret in `out`, decoded.
fn items(out: &[u8]) -> Vec<(String, Vec<u8>)> {
    read_sealed_secrets(out)
        .unwrap()
        .iter()
        .flat_map(|ss| {
            ss.spec
                .encrypted_data
                .iter()
                .map(|(k, v)| (k.clone(), decode_base64(v.as_str().unwrap()).unwrap()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn all_hybrid(out: &[u8]) -> bool {
    let items = items(out);
    !items.is_empty() && items.iter().all(|(_, b)| is_hybrid(b))
}

#[test]
fn pq_seals_every_item_hybrid_and_the_seed_is_needed_to_recover() {
    let cert = td("keys/rsa4096-pq.crt");
    let input = secret_yaml(
        "db",
        Some("prod"),
        &[("user", "admin"), ("password", "s3cr3t")],
    );
    for scope in ["strict", "namespace-wide", "cluster-wide"] {
        let out = ok(
            &["--pq", "--cert", &cert, "--scope", scope],
            input.as_bytes(),
        );
        assert!(all_hybrid(&out), "{scope}");
        assert_eq!(
            recover(&out, &[&td(PQ_SECRET)]),
            vec![data(&[("user", "admin"), ("password", "s3cr3t")])]
        );
        // The RSA key alone (a PEM backup without the seed) cannot open it.
        let err = fails(
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                &td("keys/rsa4096.key"),
            ],
            &out,
        );
        assert!(err.contains("no key could decrypt secret"), "{err}");
    }
    // The same certificate without --pq seals classically, as upstream kubeseal would.
    let classical = ok(&["--cert", &cert], input.as_bytes());
    assert!(
        items(&classical)
            .iter()
            .all(|(_, b)| b.starts_with(&[2, 0]))
    );
    assert_eq!(
        recover(&classical, &[&td("keys/rsa4096.key")]),
        vec![data(&[("user", "admin"), ("password", "s3cr3t")])]
    );
}

#[test]
fn sealed_secrets_pq_env_turns_it_on_and_false_leaves_it_off() {
    let input = secret_yaml("db", Some("prod"), &[("k", "v")]);
    for (value, hybrid) in [("true", true), ("false", false)] {
        let mut c = cmd();
        c.env("SEALED_SECRETS_PQ", value)
            .args(["--cert", &td("keys/rsa4096-pq.crt")]);
        let out = run_cmd(c, input.as_bytes());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(all_hybrid(&out.stdout), hybrid, "{value}");
    }
}

#[test]
fn raw_pq_values_open_with_the_hybrid_key_under_the_scope_label() {
    let key = hybrid_key("rsa4096");
    for (scope, args, label) in [
        ("strict", vec!["-n", "prod", "--name", "db"], "prod/db"),
        ("namespace-wide", vec!["-n", "prod"], "prod"),
        ("cluster-wide", vec![], ""),
    ] {
        let mut argv = vec!["--raw", "--pq", "--scope", scope];
        argv.extend(args);
        let cert = td("keys/rsa4096-pq.crt");
        argv.extend(["--cert", &cert]);
        let out = ok(&argv, b"raw value");
        let bytes = decode_base64(std::str::from_utf8(&out).unwrap()).unwrap();
        assert!(is_hybrid(&bytes), "{scope}");
        let opened = open(&[&key], label.as_bytes(), &bytes).unwrap();
        assert_eq!(opened.plaintext.as_slice(), b"raw value");
    }
}

#[test]
fn merge_into_and_set_with_pq_add_hybrid_items_and_leave_the_rest() {
    let dir = TempDir::new();
    let cert = td("keys/rsa4096-pq.crt");
    let classical = ok(
        &["--cert", &cert, "-o", "yaml"],
        secret_yaml("db", Some("prod"), &[("old", "1")]).as_bytes(),
    );
    let file = dir.write("db.yaml", &classical);
    let old_item = items(&classical)[0].1.clone();

    ok(
        &[
            "--pq",
            "--cert",
            &cert,
            "--merge-into",
            file.to_str().unwrap(),
        ],
        secret_yaml("x", None, &[("merged", "2")]).as_bytes(),
    );
    ok(
        &[
            "--cert",
            &cert,
            "set",
            "--pq",
            file.to_str().unwrap(),
            "set",
            "--from-literal",
            "3",
        ],
        b"",
    );
    let after = std::fs::read(&file).unwrap();
    let by_name: std::collections::BTreeMap<_, _> = items(&after).into_iter().collect();
    assert_eq!(by_name["old"], old_item, "untouched");
    assert!(is_hybrid(&by_name["merged"]));
    assert!(is_hybrid(&by_name["set"]));
    assert_eq!(
        recover(&after, &[&td(PQ_SECRET)]),
        vec![data(&[("old", "1"), ("merged", "2"), ("set", "3")])]
    );
}

#[test]
fn validate_offline_knows_the_hybrid_layout() {
    let dir = TempDir::new();
    let out = ok(
        &["--pq", "--cert", &td("keys/rsa4096-pq.crt")],
        secret_yaml("db", Some("prod"), &[("k", "v")]).as_bytes(),
    );
    let file = dir.write("db.json", &out);
    let f = file.to_str().unwrap();
    ok(&["validate", "--cert", &td("keys/rsa4096-pq.crt"), f], b"");
    // Against a certificate without an ML-KEM key: named as such, not as a 524,280-bit key.
    let res = run(&["validate", "--cert", &td("keys/rsa4096.crt"), f], b"");
    assert_eq!(res.status.code(), Some(1));
    let report = String::from_utf8_lossy(&res.stdout);
    assert!(
        report.contains("is sealed post-quantum (--pq), but the certificate has no ML-KEM-768 key"),
        "{report}"
    );
    // A hybrid item cut short inside its ML-KEM ciphertext.
    let mut ss: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let item = ss["spec"]["encryptedData"]["k"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = decode_base64(&item).unwrap();
    ss["spec"]["encryptedData"]["k"] = seal_api::encode_base64(&bytes[..5 + 512 + 100]).into();
    let short = dir.write("short.json", serde_json::to_vec(&ss).unwrap());
    let res = run(
        &[
            "validate",
            "--cert",
            &td("keys/rsa4096-pq.crt"),
            short.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(res.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&res.stdout).contains("SealedSecret data is too short"));
}

#[test]
fn reencrypt_pq_upgrades_classical_items_and_leaves_current_hybrid_ones_alone() {
    let dir = TempDir::new();
    let newest = td("keys/rsa4096-pq.crt");
    // Classical under the newest key, classical under an old key, hybrid under the newest key.
    let a = ok(
        &["--cert", &newest],
        secret_yaml("a", Some("n"), &[("k", "a")]).as_bytes(),
    );
    let b = ok(
        &["--cert", &td("keys/rsa4096-b.crt")],
        secret_yaml("b", Some("n"), &[("k", "b")]).as_bytes(),
    );
    let c = ok(
        &["--pq", "--cert", &newest],
        secret_yaml("c", Some("n"), &[("k", "c")]).as_bytes(),
    );
    let (fa, fb, fc) = (
        dir.write("t/a.json", &a),
        dir.write("t/b.json", &b),
        dir.write("t/c.json", &c),
    );
    let keys = format!(
        "{},{}",
        key_secret(&dir, "rsa4096"),
        key_secret(&dir, "rsa4096-b")
    );
    let tree = dir.path("t");
    let reencrypt = |extra: &[&str]| {
        let mut argv = vec![
            "reencrypt",
            tree.to_str().unwrap(),
            "--recovery-private-key",
            &keys,
            "--cert",
            &newest,
        ];
        argv.extend(extra);
        ok(&argv, b"")
    };

    // Without --pq nothing is upgraded: only b (old key) is resealed, classically.
    let report = String::from_utf8(reencrypt(&[])).unwrap();
    assert!(report.contains("b.json: 1 item"), "{report}");
    assert_eq!(std::fs::read(&fa).unwrap(), a);
    assert_eq!(std::fs::read(&fc).unwrap(), c);
    let b2 = std::fs::read(&fb).unwrap();
    assert!(!all_hybrid(&b2));

    // With --pq: a and b are upgraded; c, already hybrid under the newest key, is untouched.
    let report = String::from_utf8(reencrypt(&["--pq"])).unwrap();
    assert!(
        report.contains("a.json: 1 item") && report.contains("b.json: 1 item"),
        "{report}"
    );
    assert!(!report.contains("c.json"), "{report}");
    assert_eq!(std::fs::read(&fc).unwrap(), c);
    for (f, v) in [(&fa, "a"), (&fb, "b"), (&fc, "c")] {
        let now = std::fs::read(f).unwrap();
        assert!(all_hybrid(&now), "{}", f.display());
        assert_eq!(recover(&now, &[&td(PQ_SECRET)]), vec![data(&[("k", v)])]);
    }
    // A second run changes nothing.
    assert!(reencrypt(&["--pq"]).is_empty());

    // A hybrid item under an old key stays hybrid when resealed, even without --pq.
    let old_pq = ok(
        &["--pq", "--cert", &td("keys/rsa4096-b-pq.crt")],
        secret_yaml("d", Some("n"), &[("k", "d")]).as_bytes(),
    );
    let fd = dir.write("t/d.json", &old_pq);
    let report = String::from_utf8(reencrypt(&[])).unwrap();
    assert!(report.contains("d.json: 1 item"), "{report}");
    let d2 = std::fs::read(&fd).unwrap();
    assert!(all_hybrid(&d2));
    assert_eq!(recover(&d2, &[&td(PQ_SECRET)]), vec![data(&[("k", "d")])]);
    assert!(Path::new(&fd).exists());
}
