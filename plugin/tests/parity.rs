//! Where scripts and upstream's own tests hold kubeseal to its exact behaviour: pflag's repeated
//! flags, `--version`, error texts, and the bytes of `--recovery-unseal`.

use super::*;

#[test]
fn repeated_flags_take_the_last_value_as_pflag_does() {
    let input = secret_yaml("a", None, &[("k", "v")]);
    let cert = td("keys/rsa4096.crt");
    // The first --cert is missing, the first -n and -o are overridden.
    let out = ok(
        &[
            "--cert",
            "/missing.crt",
            "--cert",
            &cert,
            "-n",
            "first",
            "-n",
            "second",
            "-o",
            "yaml",
            "--format",
            "json",
            "--scope",
            "cluster-wide",
            "--scope",
            "strict",
        ],
        input.as_bytes(),
    );
    let ss = &read_sealed_secrets(&out).unwrap()[0];
    assert!(out.starts_with(b"{"), "json won");
    assert_eq!(ss.metadata.namespace.as_deref(), Some("second"));
    assert_eq!(
        Scope::from_annotations(ss.metadata.annotations.as_ref()),
        Scope::Strict
    );
    // Wrappers append their own --kubeconfig after the user's.
    let dir = TempDir::new();
    let kc = |ns: &str| {
        dir.write(
            &format!("{ns}.kubeconfig"),
            format!("apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {{cluster: x, namespace: {ns}}}\n"),
        )
    };
    let (one, two) = (kc("one"), kc("two"));
    let out = ok(
        &[
            "--kubeconfig",
            one.to_str().unwrap(),
            "--kubeconfig",
            two.to_str().unwrap(),
            "--cert",
            &cert,
        ],
        input.as_bytes(),
    );
    assert_eq!(
        read_sealed_secrets(&out).unwrap()[0]
            .metadata
            .namespace
            .as_deref(),
        Some("two")
    );
    // Booleans take pflag's forms, and the last one wins too.
    let raw = ok(
        &[
            "--raw=false",
            "--raw",
            "--cert",
            &cert,
            "--name",
            "n",
            "-n",
            "ns",
        ],
        b"value",
    );
    assert!(raw.starts_with(b"Ag"), "--raw won");
    let sealed = ok(
        &["--raw", "--raw=false", "--cert", &cert, "-n", "ns"],
        input.as_bytes(),
    );
    assert!(sealed.starts_with(b"{"), "--raw=false won");
    // A bad value is a usage error, exit 2, as with pflag.
    let out = run(&["--raw=maybe", "--cert", &cert], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("invalid boolean \"maybe\""), "{err}");
}

#[test]
fn list_flags_accumulate_as_pflag_does() {
    let sealed = ok(
        &["--cert", &td("keys/rsa4096-b.crt")],
        secret_yaml("a", Some("b"), &[("k", "v")]).as_bytes(),
    );
    // Repeated and comma-separated keys add up; the second file holds the key.
    let a = td("keys/rsa4096.key");
    let b = td("keys/rsa4096-b.key");
    let out = ok(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            &a,
            "--recovery-private-key",
            &b,
        ],
        &sealed,
    );
    assert!(String::from_utf8(out).unwrap().contains("\"k\": \"dg==\""));
    let out = ok(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            &format!("{a},{b}"),
        ],
        &sealed,
    );
    assert!(String::from_utf8(out).unwrap().contains("\"k\": \"dg==\""));
    // Two --from-file add up to two, which --raw refuses in kubeseal's words.
    let err = fails(
        &[
            "--raw",
            "--cert",
            &td("keys/rsa4096.crt"),
            "--name",
            "n",
            "-n",
            "ns",
            "--from-file",
            &a,
            "--from-file",
            &b,
        ],
        b"",
    );
    assert_eq!(
        err,
        "error: must provide only one --from-file when encrypting a single item with --raw\n"
    );
}

#[test]
fn version_is_kubeseals_line_under_either_name() {
    let check = |out: Output| {
        assert!(out.status.success());
        let stdout = String::from_utf8(out.stdout).unwrap();
        // Upstream's integration test: ^kubeseal version: (v[0-9]+\.[0-9]+\.[0-9]+|[0-9a-f]{40})
        let rest = stdout.strip_prefix("kubeseal version: v").expect(&stdout);
        let version = rest.strip_suffix('\n').expect("one line");
        let parts: Vec<&str> = version.split('.').collect();
        assert!(
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
            "{stdout}"
        );
        // Who is speaking goes to stderr, for people.
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("kubectl-seal ") && stderr.contains("seal"),
            "{stderr}"
        );
    };
    check(run(&["--version"], b""));
    check(run(
        &[
            "--version",
            "--cert",
            "/ignored",
            "--kubeconfig",
            "/nonexistent",
        ],
        b"",
    ));
    let dir = TempDir::new();
    let link = dir.path("kubeseal");
    std::fs::copy(BIN, &link).unwrap();
    check(Command::new(&link).arg("--version").output().unwrap());
    // --version=false runs as if it were not there.
    let err = fails(&["--version=false", "--cert", "/missing.crt"], b"");
    assert_eq!(err, "error: open /missing.crt: no such file or directory\n");
}

/// The Secret that `--recovery-unseal` prints, byte for byte, in kubeseal 0.36's shape: no
/// creationTimestamp, the ownerReference in Go's field order with its empty uid, and an empty
/// value (decrypted or rendered) as `null`, since Go holds it as a nil byte slice.
#[test]
fn recovery_unseal_prints_what_kubeseal_prints() {
    let input = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\n  labels: {tier: db}\nstringData:\n  empty: \"\"\n  user: admin\n";
    let sealed = ok(&["--cert", &td("keys/rsa4096.crt")], input.as_bytes());
    let mut doc: Value = serde_json::from_slice(&sealed).unwrap();
    doc["spec"]["template"]["data"] =
        serde_json::json!({"blank": "{{ .empty }}", "greeting": "hi {{ .user }}"});
    let doc = serde_json::to_vec(&doc).unwrap();
    let out = ok(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            &td("keys/rsa4096.key"),
        ],
        &doc,
    );
    let expected = r#"{
  "kind": "Secret",
  "apiVersion": "v1",
  "metadata": {
    "name": "app",
    "namespace": "prod",
    "labels": {
      "tier": "db"
    },
    "ownerReferences": [
      {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "name": "app",
        "uid": "",
        "controller": true
      }
    ]
  },
  "data": {
    "blank": null,
    "empty": null,
    "greeting": "aGkgYWRtaW4=",
    "user": "YWRtaW4="
  }
}
"#;
    assert_eq!(String::from_utf8(out).unwrap(), expected);
    let out = ok(
        &[
            "--recovery-unseal",
            "-o",
            "yaml",
            "--recovery-private-key",
            &td("keys/rsa4096.key"),
        ],
        &doc,
    );
    let expected = "---\napiVersion: v1\ndata:\n  blank: null\n  empty: null\n  greeting: aGkgYWRtaW4=\n  user: YWRtaW4=\nkind: Secret\nmetadata:\n  labels:\n    tier: db\n  name: app\n  namespace: prod\n  ownerReferences:\n  - apiVersion: bitnami.com/v1alpha1\n    controller: true\n    kind: SealedSecret\n    name: app\n    uid: \"\"\n";
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn a_missing_file_is_reported_in_gos_words() {
    // Upstream's integration suite matches ^error:.*no such file or directory
    let err = fails(&["--cert", "/?this/file/cannot/possibly/exist/right?"], b"");
    assert_eq!(
        err,
        "error: open /?this/file/cannot/possibly/exist/right?: no such file or directory\n"
    );
    let dir = TempDir::new();
    let err = fails(&["--cert", dir.0.to_str().unwrap()], b"");
    assert_eq!(
        err,
        format!("error: read {}: is a directory\n", dir.0.display())
    );
}
