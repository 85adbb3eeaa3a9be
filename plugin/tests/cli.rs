//! kubectl-seal end to end: the built binary, fixture keys, and a stand-in API server.
#![allow(clippy::unwrap_used)] // tests

mod bad_input;
mod fake_api;
mod parity;
mod pq;
mod upstream;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use seal_api::crypto::{PrivateKey, open};
use seal_api::{Scope, decode_base64, read_sealed_secrets};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-seal");

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

fn td(rel: &str) -> String {
    testdata(rel).display().to_string()
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kubectl-seal-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary with a clean environment: no SEALED_SECRETS_* and no kubeconfig.
fn cmd() -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("SEALED_SECRETS_") || k.ends_with("_PROXY") || k.ends_with("_proxy") {
            c.env_remove(k);
        }
    }
    c.env("KUBECONFIG", "/nonexistent/kubeconfig");
    c.env("HOME", "/nonexistent");
    c
}

fn run_cmd(mut c: Command, stdin: &[u8]) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut c = cmd();
    c.args(args);
    run_cmd(c, stdin)
}

fn ok(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = run(args, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn fails(args: &[&str], stdin: &[u8]) -> String {
    let out = run(args, stdin);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

fn secret_yaml(name: &str, ns: Option<&str>, items: &[(&str, &str)]) -> String {
    let mut s = format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n");
    if let Some(ns) = ns {
        s.push_str(&format!("  namespace: {ns}\n"));
    }
    s.push_str("type: Opaque\nstringData:\n");
    for (k, v) in items {
        s.push_str(&format!("  {k}: \"{v}\"\n"));
    }
    s
}

/// Unseals with the binary's recovery path and returns each Secret's decoded data.
fn recover(sealed: &[u8], keys: &[&str]) -> Vec<BTreeMap<String, Vec<u8>>> {
    let mut args = vec!["--recovery-unseal"];
    for k in keys {
        args.push("--recovery-private-key");
        args.push(k);
    }
    let out = ok(&args, sealed);
    serde_json::Deserializer::from_slice(&out)
        .into_iter::<Value>()
        .map(|doc| {
            let doc = doc.unwrap();
            assert_eq!(doc["kind"], "Secret");
            doc["data"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), decode_base64(v.as_str().unwrap()).unwrap()))
                .collect()
        })
        .collect()
}

fn data(items: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn key4096() -> PrivateKey {
    PrivateKey::from_pem(&std::fs::read_to_string(testdata("keys/rsa4096.key")).unwrap()).unwrap()
}

fn python_ok() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography, yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------------------------------------
// trycmd snapshots: help, errors, exit codes.

#[test]
fn cli_snapshots() {
    trycmd::TestCases::new()
        .register_bin("kubectl-seal", Path::new(BIN))
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .case("tests/cmd/*.toml");
}

// ---------------------------------------------------------------------------------------------
// Offline sealing.

#[test]
fn sealing_then_recovery_unseal_gives_back_the_input_in_every_scope() {
    let input = secret_yaml(
        "db",
        Some("prod"),
        &[("user", "admin"), ("password", "hunter2")],
    );
    for scope in ["strict", "namespace-wide", "cluster-wide"] {
        for format in ["json", "yaml", "YAML"] {
            let sealed = ok(
                &[
                    "--cert",
                    &td("keys/rsa4096.crt"),
                    "--scope",
                    scope,
                    "-o",
                    format,
                ],
                input.as_bytes(),
            );
            if format == "json" {
                assert!(sealed.starts_with(b"{\n  \"kind\": \"SealedSecret\""));
            } else {
                assert!(sealed.starts_with(b"---\n"));
            }
            let ss = &read_sealed_secrets(&sealed).unwrap()[0];
            assert_eq!(
                Scope::from_annotations(ss.metadata.annotations.as_ref()).as_str(),
                scope
            );
            let hint = &ss.metadata.annotations.as_ref().unwrap()[seal_api::ANNOTATION_KEY_ID];
            let want = std::fs::read_to_string(testdata("keys/rsa4096.keyid")).unwrap();
            assert_eq!(hint, want.trim());
            let back = recover(&sealed, &[&td("keys/rsa4096.key")]);
            assert_eq!(
                back,
                vec![data(&[("user", "admin"), ("password", "hunter2")])]
            );
        }
    }
}

#[test]
fn multi_document_input_gives_one_sealed_secret_each() {
    let sealed = ok(
        &[
            "--cert",
            &td("keys/rsa4096.crt"),
            "-f",
            &td("secrets/multi.yaml"),
        ],
        b"",
    );
    let n = read_sealed_secrets(&sealed).unwrap().len();
    assert!(n >= 2, "{n}");
    assert_eq!(recover(&sealed, &[&td("keys/rsa4096.key")]).len(), n);
}

#[test]
fn namespace_comes_from_the_flag_then_the_kubeconfig_then_default() {
    let input = std::fs::read(testdata("secrets/no-namespace.yaml")).unwrap();
    let ns_of = |out: &[u8]| {
        read_sealed_secrets(out).unwrap()[0]
            .metadata
            .namespace
            .clone()
    };
    let cert = td("keys/rsa4096.crt");
    let out = ok(&["--cert", &cert, "-n", "flag-ns"], &input);
    assert_eq!(ns_of(&out).as_deref(), Some("flag-ns"));
    let out = ok(&["--cert", &cert], &input);
    assert_eq!(ns_of(&out).as_deref(), Some("default"));
    let dir = TempDir::new();
    let kc = dir.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: x, namespace: kc-ns}\n",
    );
    let out = ok(
        &["--cert", &cert, "--kubeconfig", kc.to_str().unwrap()],
        &input,
    );
    assert_eq!(ns_of(&out).as_deref(), Some("kc-ns"));
    let out = ok(&["--cert", &cert, "--scope", "cluster-wide"], &input);
    assert_eq!(ns_of(&out), None);
    let err = fails(
        &["--cert", &cert, "-n", "other"],
        secret_yaml("a", Some("mine"), &[("k", "v")]).as_bytes(),
    );
    assert_eq!(
        err,
        "error: namespace mismatch: input secret is in namespace \"mine\" but \"other\" was specified\n"
    );
}

#[test]
fn name_renames_the_input_and_top_level_metadata_is_opt_in() {
    let input = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: n\n  labels: {team: x}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"5\"\nstringData: {k: v}\n";
    let out = ok(
        &[
            "--cert",
            &td("keys/rsa4096.crt"),
            "--name",
            "renamed",
            "--top-level-annotation",
            "argocd.argoproj.io/sync-wave",
            "--top-level-label",
            "team",
        ],
        input.as_bytes(),
    );
    let ss = &read_sealed_secrets(&out).unwrap()[0];
    assert_eq!(ss.metadata.name.as_deref(), Some("renamed"));
    assert_eq!(
        ss.metadata.annotations.as_ref().unwrap()["argocd.argoproj.io/sync-wave"],
        "5"
    );
    assert_eq!(ss.metadata.labels.as_ref().unwrap()["team"], "x");
    let plain = ok(&["--cert", &td("keys/rsa4096.crt")], input.as_bytes());
    let ss = &read_sealed_secrets(&plain).unwrap()[0];
    assert!(ss.metadata.labels.is_none());
    assert!(
        !ss.metadata
            .annotations
            .as_ref()
            .unwrap()
            .contains_key("argocd.argoproj.io/sync-wave")
    );
}

#[test]
fn empty_data_needs_allow_empty_data() {
    let input = std::fs::read(testdata("secrets/empty.yaml")).unwrap();
    let cert = td("keys/rsa4096.crt");
    let err = fails(&["--cert", &cert], &input);
    assert_eq!(
        err,
        "error: secret.data is empty in input Secret, assuming this is an error and aborting. To work with empty data, --allow-empty-data can be used\n"
    );
    ok(&["--cert", &cert, "--allow-empty-data"], &input);
}

#[test]
fn expired_and_non_rsa_certificates_are_refused() {
    let input = secret_yaml("a", Some("b"), &[("k", "v")]);
    let err = fails(&["--cert", &td("keys/expired.crt")], input.as_bytes());
    assert_eq!(
        err,
        "error: failed to encrypt using an expired certificate on January 1, 2021\n"
    );
    let err = fails(&["--cert", &td("keys/ec.crt")], input.as_bytes());
    assert!(err.contains("not an RSA key"), "{err}");
    let file_url = format!("file://{}", td("keys/rsa4096.crt"));
    ok(&["--cert", &file_url], input.as_bytes());
}

#[test]
fn raw_values_open_with_the_scope_label() {
    let cert = td("keys/rsa4096.crt");
    let key = key4096();
    let cases: [(&[&str], &[u8]); 3] = [
        (&["--scope", "strict", "-n", "ns", "--name", "nm"], b"ns/nm"),
        (&["--scope", "namespace-wide", "-n", "ns"], b"ns"),
        (&["--scope", "cluster-wide"], b""),
    ];
    for (flags, label) in cases {
        let mut args = vec!["--raw", "--cert", &cert];
        args.extend_from_slice(flags);
        let out = ok(&args, b"s3cr3t\x00bytes");
        assert!(!out.ends_with(b"\n"), "no newline after --raw");
        let ct = decode_base64(std::str::from_utf8(&out).unwrap()).unwrap();
        let opened = open(&[&key], label, &ct).unwrap();
        assert_eq!(&opened.plaintext[..], b"s3cr3t\x00bytes");
    }
    let dir = TempDir::new();
    let value = dir.write("value", b"from a file");
    let out = ok(
        &[
            "--raw",
            "--cert",
            &cert,
            "--scope",
            "cluster-wide",
            "--from-file",
            &format!("ignored={}", value.display()),
        ],
        b"",
    );
    let ct = decode_base64(std::str::from_utf8(&out).unwrap()).unwrap();
    assert_eq!(
        &open(&[&key], b"", &ct).unwrap().plaintext[..],
        b"from a file"
    );
}

#[test]
fn raw_flag_errors_are_kubeseals() {
    let cert = td("keys/rsa4096.crt");
    assert_eq!(
        fails(&["--raw", "--cert", &cert, "--name", "x"], b"v"),
        "error: must provide the --namespace flag with --raw and --scope strict\n"
    );
    assert_eq!(
        fails(&["--raw", "--cert", &cert, "-n", "x"], b"v"),
        "error: must provide the --name flag with --raw and --scope strict\n"
    );
    assert_eq!(
        fails(
            &["--raw", "--cert", &cert, "--scope", "namespace-wide"],
            b"v"
        ),
        "error: must provide the --namespace flag with --raw and --scope namespace-wide\n"
    );
    assert_eq!(
        fails(&["--raw", "--cert", &cert, "--from-file", "a,b"], b"v"),
        "error: must provide only one --from-file when encrypting a single item with --raw\n"
    );
    assert_eq!(
        fails(&["--from-file", "a", "--cert", &cert], b"v"),
        "error: --from-file requires --raw\n"
    );
}

#[test]
fn sealed_secret_file_is_written_atomically_and_only_on_success() {
    let dir = TempDir::new();
    let input = secret_yaml("a", Some("b"), &[("k", "v")]);
    let out = dir.path("out.yaml");
    let stdout = ok(
        &[
            "--cert",
            &td("keys/rsa4096.crt"),
            "-w",
            out.to_str().unwrap(),
        ],
        input.as_bytes(),
    );
    assert!(stdout.is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with("---\n"), ".yaml forces YAML");
    let json_out = dir.path("out.json");
    ok(
        &[
            "--cert",
            &td("keys/rsa4096.crt"),
            "-w",
            json_out.to_str().unwrap(),
        ],
        input.as_bytes(),
    );
    assert!(std::fs::read_to_string(&json_out).unwrap().starts_with('{'));

    // Failures leave no file, and an existing one untouched.
    let missing = dir.path("never.json");
    fails(
        &[
            "--cert",
            &td("keys/expired.crt"),
            "-w",
            missing.to_str().unwrap(),
        ],
        input.as_bytes(),
    );
    assert!(!missing.exists());
    fails(
        &[
            "--cert",
            &td("keys/rsa4096.crt"),
            "-w",
            out.to_str().unwrap(),
        ],
        b"not: a secret\n",
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written);
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn env_vars_set_flags_and_the_command_line_wins() {
    let input = secret_yaml("a", Some("b"), &[("k", "v")]);
    let mut c = cmd();
    c.env("SEALED_SECRETS_CERT", td("keys/rsa4096.crt"))
        .env("SEALED_SECRETS_FORMAT", "yaml");
    let out = run_cmd(c, input.as_bytes());
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"---\n"));
    let mut c = cmd();
    c.env("SEALED_SECRETS_CERT", td("keys/expired.crt"))
        .env("SEALED_SECRETS_FORMAT", "yaml")
        .args(["--cert", &td("keys/rsa4096.crt"), "-o", "json"]);
    let out = run_cmd(c, input.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(b"{"));
    let mut c = cmd();
    c.env("SEALED_SECRETS_SCOPE", "cluster-wide")
        .args(["--cert", &td("keys/rsa4096.crt")]);
    let out = run_cmd(c, input.as_bytes());
    let ss = &read_sealed_secrets(&out.stdout).unwrap()[0];
    assert!(ss.metadata.annotations.as_ref().unwrap()[seal_api::ANNOTATION_CLUSTER_WIDE] == "true");
}

#[test]
fn invoked_as_kubeseal_it_is_kubeseal() {
    let dir = TempDir::new();
    let link = dir.path("kubeseal");
    std::fs::copy(BIN, &link).unwrap();
    let out = Command::new(&link).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Usage: kubeseal"), "{help}");
    let mut c = Command::new(&link);
    c.args(["--cert", &td("keys/rsa4096.crt")]);
    let out = run_cmd(c, secret_yaml("a", Some("b"), &[("k", "v")]).as_bytes());
    assert!(out.status.success());
}

#[test]
fn fetch_cert_prints_the_file_as_it_is() {
    let out = ok(&["--fetch-cert", "--cert", &td("keys/expired.crt")], b"");
    assert_eq!(out, std::fs::read(testdata("keys/expired.crt")).unwrap());
}

// ---------------------------------------------------------------------------------------------
// Recovery.

#[test]
fn recovery_unseal_opens_upstream_format_fixtures() {
    let dir = testdata("sealed");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.contains(".expected") {
            continue;
        }
        // Template rendering belongs to seal-api's tests.
        if name.starts_with("template-") {
            continue;
        }
        let stem = name.trim_end_matches(".json");
        let out = run(
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                &format!("{},{}", td("keys/rsa4096.key"), td("keys/rsa4096-b.key")),
                "-f",
                path.to_str().unwrap(),
            ],
            b"",
        );
        let expected_err = dir.join(format!("{stem}.expected-error.txt"));
        if expected_err.exists() {
            let want = std::fs::read_to_string(&expected_err).unwrap();
            let err = String::from_utf8(out.stderr).unwrap();
            assert!(err.contains(want.trim()), "{name}: {err}");
            continue;
        }
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let secret: Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{stem}.expected.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(secret["data"], expected, "{name}");
        let owner = &secret["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "SealedSecret", "{name}");
        seen += 1;
    }
    assert!(seen >= 10, "{seen}");
}

#[test]
fn recovery_keys_can_be_pem_pkcs8_key_secrets_and_lists() {
    let sealed = ok(
        &["--cert", &td("keys/rsa4096.crt")],
        secret_yaml("a", Some("b"), &[("k", "v")]).as_bytes(),
    );
    assert_eq!(
        recover(&sealed, &[&td("keys/rsa4096.pk8.key")]),
        vec![data(&[("k", "v")])]
    );
    let b64 = |p: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(testdata(p)).unwrap())
    };
    let secret = |name: &str, key: &str, crt: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "kube-system"},
            "data": {"tls.key": b64(key), "tls.crt": b64(crt)}})
    };
    let dir = TempDir::new();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        secret("k-b", "keys/rsa4096-b.key", "keys/rsa4096-b.crt"),
        secret("k-a", "keys/rsa4096.key", "keys/rsa4096.crt"),
    ]});
    let list_file = dir.write("keys.json", list.to_string());
    assert_eq!(
        recover(&sealed, &[list_file.to_str().unwrap()]),
        vec![data(&[("k", "v")])]
    );
    let err = fails(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            &td("keys/rsa4096-b.key"),
        ],
        &sealed,
    );
    assert!(err.contains("no key could decrypt secret (k)"), "{err}");
    // Without any key, kubeseal goes on and fails to decrypt; scripts match that text.
    let err = fails(&["--recovery-unseal"], &sealed);
    assert_eq!(
        err,
        "error: cannot unseal standard input: cannot unseal a: no key could decrypt secret (k); no --recovery-private-key was given: pass the controller's key backup\n"
    );
    // A key backup written by `json.Marshal` of a typed SecretList (client-go's List result):
    // no kind or apiVersion on the list or its items. kubeseal reads it as a v1 List.
    let bare = |name: &str, key: &str, crt: &str| {
        let mut s = secret(name, key, crt);
        let m = s.as_object_mut().unwrap();
        m.remove("kind");
        m.remove("apiVersion");
        s
    };
    let typed = serde_json::json!({"metadata": {"resourceVersion": "42"}, "items": [
        bare("k-b", "keys/rsa4096-b.key", "keys/rsa4096-b.crt"),
        bare("k-a", "keys/rsa4096.key", "keys/rsa4096.crt"),
    ]});
    let typed_file = dir.write("typed-list.json", typed.to_string());
    assert_eq!(
        recover(&sealed, &[typed_file.to_str().unwrap()]),
        vec![data(&[("k", "v")])]
    );
    // `kubectl get secret -o json` writes a SecretList.
    let mut kubectl = typed.clone();
    kubectl["kind"] = "SecretList".into();
    kubectl["apiVersion"] = "v1".into();
    let kubectl_file = dir.write("secret-list.json", kubectl.to_string());
    assert_eq!(
        recover(&sealed, &[kubectl_file.to_str().unwrap()]),
        vec![data(&[("k", "v")])]
    );
}

#[test]
fn unseal_subcommand_reads_files_and_multi_document_yaml() {
    let dir = TempDir::new();
    let a = ok(
        &["--cert", &td("keys/rsa4096.crt"), "-o", "yaml"],
        secret_yaml("a", Some("n"), &[("k", "1")]).as_bytes(),
    );
    let b = ok(
        &["--cert", &td("keys/rsa4096.crt"), "-o", "yaml"],
        secret_yaml("b", Some("n"), &[("k", "2")]).as_bytes(),
    );
    let file = dir.write("both.yaml", [a, b].concat());
    let out = ok(
        &[
            "unseal",
            file.to_str().unwrap(),
            "--recovery-private-key",
            &td("keys/rsa4096.key"),
        ],
        b"",
    );
    let docs: Vec<Value> = serde_json::Deserializer::from_slice(&out)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1]["metadata"]["name"], "b");
}

// ---------------------------------------------------------------------------------------------
// --merge-into.

#[test]
fn merge_into_keeps_yaml_and_the_files_scope() {
    let dir = TempDir::new();
    let cert = td("keys/rsa4096.crt");
    let first = ok(
        &["--cert", &cert, "-o", "yaml", "--scope", "namespace-wide"],
        secret_yaml("app", Some("prod"), &[("a", "1")]).as_bytes(),
    );
    let file = dir.write("app.yaml", &first);
    // The input's name and namespace do not matter: the file's are used.
    let stdout = ok(
        &["--cert", &cert, "--merge-into", file.to_str().unwrap()],
        secret_yaml("other", Some("elsewhere"), &[("b", "2")]).as_bytes(),
    );
    assert!(stdout.is_empty());
    let merged = std::fs::read(&file).unwrap();
    assert!(merged.starts_with(b"---\n"), "YAML stays YAML");
    let ss = &read_sealed_secrets(&merged).unwrap()[0];
    assert_eq!(ss.metadata.name.as_deref(), Some("app"));
    assert_eq!(
        Scope::from_annotations(ss.metadata.annotations.as_ref()),
        Scope::NamespaceWide
    );
    assert_eq!(
        recover(&merged, &[&td("keys/rsa4096.key")]),
        vec![data(&[("a", "1"), ("b", "2")])]
    );
    let err = fails(
        &[
            "--cert",
            &cert,
            "--merge-into",
            file.to_str().unwrap(),
            "--scope",
            "strict",
        ],
        secret_yaml("x", None, &[("c", "3")]).as_bytes(),
    );
    assert!(err.contains("conflicts with the scope"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), merged);
    // -o wins over the file's format.
    ok(
        &[
            "--cert",
            &cert,
            "--merge-into",
            file.to_str().unwrap(),
            "-o",
            "json",
        ],
        secret_yaml("x", None, &[("c", "3")]).as_bytes(),
    );
    assert!(std::fs::read(&file).unwrap().starts_with(b"{"));
}

#[test]
fn merge_into_a_template_without_labels_or_annotations_does_not_crash() {
    let dir = TempDir::new();
    let bare = "{\"apiVersion\":\"bitnami.com/v1alpha1\",\"kind\":\"SealedSecret\",\"metadata\":{\"name\":\"x\",\"namespace\":\"n\"},\"spec\":{\"encryptedData\":{}}}";
    let file = dir.write("x.json", bare);
    let input = "apiVersion: v1\nkind: Secret\nmetadata: {name: x, labels: {l: v}, annotations: {a: b}}\nstringData: {k: v}\n";
    ok(
        &[
            "--cert",
            &td("keys/rsa4096.crt"),
            "--merge-into",
            file.to_str().unwrap(),
        ],
        input.as_bytes(),
    );
    let ss = &read_sealed_secrets(&std::fs::read(&file).unwrap()).unwrap()[0];
    let meta = ss.spec.template.metadata.as_ref().unwrap();
    assert_eq!(meta.labels.as_ref().unwrap()["l"], "v");
    assert_eq!(meta.annotations.as_ref().unwrap()["a"], "b");
}

// ---------------------------------------------------------------------------------------------
// set / unset.

fn changed_lines(a: &str, b: &str) -> Vec<(String, String)> {
    let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(la.len(), lb.len());
    la.iter()
        .zip(&lb)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| ((*x).to_owned(), (*y).to_owned()))
        .collect()
}

#[test]
fn set_and_unset_change_one_item_and_nothing_else() {
    for format in ["yaml", "json"] {
        let dir = TempDir::new();
        let cert = td("keys/rsa4096.crt");
        let sealed = ok(
            &["--cert", &cert, "-o", format],
            secret_yaml("db", Some("prod"), &[("a", "1"), ("c", "3")]).as_bytes(),
        );
        let file = dir.write(&format!("db.{format}"), &sealed);
        let f = file.to_str().unwrap();
        let before = std::fs::read_to_string(&file).unwrap();

        // Replace: exactly one line differs, the item's.
        ok(
            &["set", f, "c", "--from-literal", "three", "--cert", &cert],
            b"",
        );
        let after = std::fs::read_to_string(&file).unwrap();
        let diff = changed_lines(&before, &after);
        assert_eq!(diff.len(), 1, "{format}: {diff:?}");
        assert!(
            diff[0]
                .0
                .trim_start()
                .starts_with(if format == "yaml" { "c:" } else { "\"c\":" })
        );

        // Insert from stdin: the old lines all remain, in order, one new line.
        ok(&["set", f, "b", "--cert", &cert], b"two");
        let inserted = std::fs::read_to_string(&file).unwrap();
        let mut old = after.lines().peekable();
        let mut extra = Vec::new();
        for line in inserted.lines() {
            if old.peek() == Some(&line) {
                old.next();
            } else {
                extra.push(line.to_owned());
            }
        }
        assert!(old.next().is_none(), "{format}: old lines kept");
        assert_eq!(extra.len(), 1, "{format}: {extra:?}");
        assert_eq!(
            recover(inserted.as_bytes(), &[&td("keys/rsa4096.key")]),
            vec![data(&[("a", "1"), ("b", "two"), ("c", "three")])]
        );

        // Unset gives back the file as it was after the replace.
        ok(&["unset", f, "b"], b"");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), after, "{format}");
        let err = fails(&["unset", f, "nope"], b"");
        assert!(err.contains("has no item \"nope\""), "{err}");
    }
}

#[test]
fn set_refuses_files_it_cannot_edit_in_place() {
    let dir = TempDir::new();
    let inline = "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: a, namespace: b}\nspec: {encryptedData: {k: AgAA}}\n";
    let file = dir.write("a.yaml", inline);
    let err = fails(
        &[
            "set",
            file.to_str().unwrap(),
            "k",
            "--from-literal",
            "v",
            "--cert",
            &td("keys/rsa4096.crt"),
        ],
        b"",
    );
    assert!(err.contains("cannot edit"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), inline);
}

// ---------------------------------------------------------------------------------------------
// validate.

#[test]
fn validate_passes_good_files_and_fails_bad_ones() {
    let dir = TempDir::new();
    let good = dir.write(
        "good.json",
        ok(
            &["--cert", &td("keys/rsa4096.crt")],
            secret_yaml("a", Some("b"), &[("k", "v")]).as_bytes(),
        ),
    );
    let small = dir.write(
        "small.json",
        ok(
            &["--cert", &td("keys/rsa2048.crt")],
            secret_yaml("a", Some("b"), &[("k", "v")]).as_bytes(),
        ),
    );
    let text = std::fs::read_to_string(&good).unwrap();
    let urlsafe = dir.write(
        "urlsafe.json",
        text.replacen("\"k\": \"Ag", "\"k\": \"Ag-_", 1),
    );
    let both = dir.write(
        "both.json",
        text.replacen(
            "\"annotations\": {",
            "\"annotations\": {\n      \"sealedsecrets.bitnami.com/cluster-wide\": \"True\",",
            1,
        ),
    );
    let cert = td("keys/rsa4096.crt");
    let out = ok(&["validate", good.to_str().unwrap(), "--cert", &cert], b"");
    assert!(String::from_utf8(out).unwrap().starts_with("ok "));
    for bad in [&small, &urlsafe, &both] {
        let out = run(
            &[
                "validate",
                good.to_str().unwrap(),
                bad.to_str().unwrap(),
                "--cert",
                &cert,
            ],
            b"",
        );
        assert_eq!(out.status.code(), Some(1), "{}", bad.display());
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("FAIL"), "{stdout}");
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "error: 1 of 2 files failed validation\n"
        );
    }
    let out =
        String::from_utf8(run(&["validate", small.to_str().unwrap(), "--cert", &cert], b"").stdout)
            .unwrap();
    assert!(out.contains("2048-bit key"), "{out}");
    let out =
        String::from_utf8(run(&["validate", both.to_str().unwrap(), "--cert", &cert], b"").stdout)
            .unwrap();
    assert!(
        out.contains("exactly \\\"true\\\"") || out.contains("exactly \"true\""),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// reencrypt.

#[test]
fn reencrypt_offline_reseals_old_items_and_leaves_current_files_alone() {
    let dir = TempDir::new();
    let old = ok(
        &["--cert", &td("keys/rsa4096-b.crt"), "-o", "yaml"],
        secret_yaml("old", Some("n"), &[("k", "v")]).as_bytes(),
    );
    let current = ok(
        &["--cert", &td("keys/rsa4096.crt")],
        secret_yaml("cur", Some("n"), &[("k", "w")]).as_bytes(),
    );
    let old_file = dir.write("tree/a/old.yaml", &old);
    let cur_file = dir.write("tree/b/current.json", &current);
    let other = dir.write(
        "tree/b/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let (cur_mtime, other_mtime) = (mtime(&cur_file), mtime(&other));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let keys = format!("{},{}", td("keys/rsa4096.key"), td("keys/rsa4096-b.key"));
    let tree = dir.path("tree");
    let out = run(
        &[
            "reencrypt",
            tree.to_str().unwrap(),
            "--recovery-private-key",
            &keys,
            "--cert",
            &td("keys/rsa4096.crt"),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("old.yaml: 1 item"), "{report}");
    assert!(!report.contains("current.json"), "{report}");
    assert_eq!(mtime(&cur_file), cur_mtime);
    assert_eq!(mtime(&other), other_mtime);
    assert_eq!(std::fs::read(&cur_file).unwrap(), current);
    let resealed = std::fs::read(&old_file).unwrap();
    assert!(resealed.starts_with(b"---\n"), "format kept");
    assert_eq!(
        recover(&resealed, &[&td("keys/rsa4096.key")]),
        vec![data(&[("k", "v")])]
    );
    // A second run changes nothing.
    let out = ok(
        &[
            "reencrypt",
            tree.to_str().unwrap(),
            "--recovery-private-key",
            &keys,
            "--cert",
            &td("keys/rsa4096.crt"),
        ],
        b"",
    );
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    assert_eq!(std::fs::read(&old_file).unwrap(), resealed);
}

// ---------------------------------------------------------------------------------------------
// cert, completion.

#[test]
fn cert_prints_the_pem_and_a_fingerprint() {
    let out = run(&["cert", "--cert", &td("keys/rsa4096.crt")], b"");
    assert!(out.status.success());
    assert_eq!(
        out.stdout,
        std::fs::read(testdata("keys/rsa4096.crt")).unwrap()
    );
    let keyid = std::fs::read_to_string(testdata("keys/rsa4096.keyid")).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with(keyid.trim()), "{stderr}");
    assert!(
        stderr.contains("(RSA 4096 bits), valid until 2125-01-01"),
        "{stderr}"
    );
    let out = ok(
        &["cert", "--fingerprint", "--cert", &td("keys/rsa4096.crt")],
        b"",
    );
    assert_eq!(String::from_utf8(out).unwrap().trim(), keyid.trim());
    let out = run(&["cert", "--cert", &td("keys/expired.crt")], b"");
    assert!(String::from_utf8(out.stderr).unwrap().contains("EXPIRED"));
}

#[test]
fn completion_scripts_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(&["completion", shell], b"");
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("kubectl-seal"), "{shell}");
        assert!(text.contains("recovery-unseal"), "{shell}");
    }
}

// ---------------------------------------------------------------------------------------------
// The independent Python opener.

#[test]
fn python_sealtool_opens_what_the_plugin_sealed() {
    if !python_ok() {
        eprintln!("skipped: python3 with cryptography and pyyaml is not available");
        return;
    }
    for format in ["json", "yaml"] {
        for scope in ["strict", "namespace-wide", "cluster-wide"] {
            let sealed = ok(
                &[
                    "--cert",
                    &td("keys/rsa4096.crt"),
                    "-o",
                    format,
                    "--scope",
                    scope,
                ],
                secret_yaml("py", Some("ns"), &[("user", "admin"), ("pw", "hunter2")]).as_bytes(),
            );
            let mut c = Command::new("python3");
            c.args([
                &td("gen/sealtool.py"),
                "open-sealed",
                "--key",
                &td("keys/rsa4096.key"),
            ]);
            let out = run_cmd(c, &sealed);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let opened: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();
            let opened: BTreeMap<String, Vec<u8>> = opened
                .into_iter()
                .map(|(k, v)| (k, decode_base64(&v).unwrap()))
                .collect();
            assert_eq!(
                opened,
                data(&[("user", "admin"), ("pw", "hunter2")]),
                "{format} {scope}"
            );
        }
    }
}

#[test]
fn python_sealtool_output_opens_in_the_plugin() {
    if !python_ok() {
        eprintln!("skipped: python3 with cryptography and pyyaml is not available");
        return;
    }
    let mut c = Command::new("python3");
    c.args([
        &td("gen/sealtool.py"),
        "seal-secret",
        "--cert",
        &td("keys/rsa4096.crt"),
        "--scope",
        "namespace-wide",
    ]);
    let out = run_cmd(c, secret_yaml("py", Some("ns"), &[("k", "v")]).as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        recover(&out.stdout, &[&td("keys/rsa4096.key")]),
        vec![data(&[("k", "v")])]
    );
}

// ---------------------------------------------------------------------------------------------
// The controller through a stand-in API server.

mod controller {
    use super::*;
    use fake_api::{FakeApi, Svc};

    fn sealed_doc() -> Vec<u8> {
        ok(
            &["--cert", &td("keys/rsa4096.crt")],
            secret_yaml("a", Some("b"), &[("k", "v")]).as_bytes(),
        )
    }

    fn run_with(api: &FakeApi, args: &[&str], stdin: &[u8]) -> Output {
        let mut c = cmd();
        c.args(["--kubeconfig", api.kubeconfig.to_str().unwrap()])
            .args(args);
        run_cmd(c, stdin)
    }

    #[test]
    fn the_cert_comes_through_the_service_proxy_of_the_plain_manifest_service() {
        let api = FakeApi::with_default_controller();
        let out = run_with(&api, &["--fetch-cert"], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout,
            std::fs::read(testdata("keys/rsa4096.crt")).unwrap()
        );
        let reqs = api.requests();
        let proxy = reqs.iter().find(|r| r.path.contains("/proxy/")).unwrap();
        assert_eq!(
            proxy.path,
            "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:/proxy/v1/cert.pem"
        );
        assert_eq!(proxy.accept.as_deref(), Some("application/x-pem-file, */*"));
        assert_eq!(
            proxy.authorization.as_deref(),
            Some("Bearer kubeconfig-token")
        );

        // Sealing with the fetched cert works, and --token overrides the kubeconfig's.
        let out = run_with(
            &api,
            &["--token", "flag-token"],
            secret_yaml("a", Some("b"), &[("k", "v")]).as_bytes(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(recover(&out.stdout, &[&td("keys/rsa4096.key")]).len(), 1);
        assert!(
            api.requests()
                .iter()
                .any(|r| r.authorization.as_deref() == Some("Bearer flag-token"))
        );
    }

    #[test]
    fn the_chart_name_and_its_http_port_are_found() {
        let api = FakeApi::start(vec![
            Svc::new(
                "kube-system",
                "sealed-secrets-metrics",
                &[
                    ("app.kubernetes.io/name", "sealed-secrets"),
                    ("app.kubernetes.io/component", "metrics"),
                ],
                &[(Some("metrics"), 8081)],
            ),
            Svc::new(
                "kube-system",
                "sealed-secrets",
                &[("app.kubernetes.io/name", "sealed-secrets")],
                &[(Some("http"), 8080)],
            ),
        ]);
        let out = run_with(&api, &["cert"], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(api.requests().iter().any(|r| r.path
            == "/api/v1/namespaces/kube-system/services/http:sealed-secrets:http/proxy/v1/cert.pem"));
    }

    #[test]
    fn a_label_search_in_every_namespace_finds_a_renamed_release() {
        let api = FakeApi::start(vec![Svc::new(
            "security",
            "my-release-sealed-secrets",
            &[("app.kubernetes.io/name", "sealed-secrets")],
            &[(Some("http"), 8080)],
        )]);
        let out = run_with(&api, &["--fetch-cert"], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(api.requests().iter().any(|r| r.path
            == "/api/v1/namespaces/security/services/http:my-release-sealed-secrets:http/proxy/v1/cert.pem"));
    }

    #[test]
    fn several_controllers_are_an_error_listing_them() {
        let labels = [("app.kubernetes.io/name", "sealed-secrets")];
        let api = FakeApi::start(vec![
            Svc::new("team-a", "ss-a", &labels, &[(Some("http"), 8080)]),
            Svc::new("team-b", "ss-b", &labels, &[(Some("http"), 8080)]),
        ]);
        let out = run_with(&api, &["--fetch-cert"], b"");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "error: found several sealed-secrets controllers (team-a/ss-a, team-b/ss-b); pick one with --controller-name and --controller-namespace\n"
        );
    }

    #[test]
    fn nothing_found_lists_the_attempts_and_the_fix() {
        let api = FakeApi::start(vec![]);
        let out = run_with(
            &api,
            &["--fetch-cert", "--controller-namespace", "kube-system"],
            b"",
        );
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "error: cannot find the sealed-secrets controller in kube-system (tried sealed-secrets-controller, sealed-secrets, label search); set --controller-name/--controller-namespace or use --cert\n"
        );
        let out = run_with(&api, &["--fetch-cert"], b"");
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "error: cannot find the sealed-secrets controller in kube-system (tried sealed-secrets-controller, sealed-secrets, label search, label search in all namespaces); set --controller-name/--controller-namespace or use --cert\n"
        );
    }

    #[test]
    fn forbidden_cluster_wide_listing_is_tolerated() {
        let api = FakeApi::start(vec![Svc::new(
            "kube-system",
            "sealed-secrets",
            &[],
            &[(Some("http"), 8080)],
        )]);
        api.set_forbid_all_namespaces(true);
        let out = run_with(&api, &["--fetch-cert"], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let api = FakeApi::start(vec![]);
        api.set_forbid_all_namespaces(true);
        let out = run_with(&api, &["--fetch-cert"], b"");
        assert!(
            String::from_utf8(out.stderr)
                .unwrap()
                .contains("cannot find the sealed-secrets controller")
        );
    }

    #[test]
    fn an_explicit_controller_name_is_used_as_given() {
        let api = FakeApi::start(vec![Svc::new("ops", "custom", &[], &[(Some("web"), 8080)])]);
        let out = run_with(
            &api,
            &[
                "--fetch-cert",
                "--controller-name",
                "custom",
                "--controller-namespace",
                "ops",
            ],
            b"",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            api.requests()
                .iter()
                .any(|r| r.path
                    == "/api/v1/namespaces/ops/services/http:custom:web/proxy/v1/cert.pem")
        );
        let mut c = cmd();
        c.args([
            "--kubeconfig",
            api.kubeconfig.to_str().unwrap(),
            "--fetch-cert",
        ])
        .env("SEALED_SECRETS_CONTROLLER_NAME", "custom")
        .env("SEALED_SECRETS_CONTROLLER_NAMESPACE", "ops");
        assert!(run_cmd(c, b"").status.success());
    }

    #[test]
    fn validate_maps_200_and_409() {
        let api = FakeApi::with_default_controller();
        let doc = sealed_doc();
        let out = run_with(&api, &["--validate"], &doc);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let verify = api
            .requests()
            .into_iter()
            .find(|r| r.path.ends_with("/v1/verify"))
            .unwrap();
        assert_eq!(verify.method, "POST");
        assert_eq!(verify.body["metadata"]["name"], "a");
        api.set_status(409);
        let out = run_with(&api, &["--validate"], &doc);
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "error: unable to decrypt sealed secret: a\n"
        );
        api.set_status(500);
        let out = run_with(&api, &["--validate"], &doc);
        assert!(
            String::from_utf8(out.stderr)
                .unwrap()
                .starts_with("error: cannot validate sealed secret: ")
        );
        // The validate subcommand without --cert goes online too.
        api.set_status(409);
        let dir = TempDir::new();
        let f = dir.write("a.json", &doc);
        let out = run_with(&api, &["validate", f.to_str().unwrap()], b"");
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .contains("unable to decrypt sealed secret: a")
        );
    }

    #[test]
    fn re_encrypt_posts_to_rotate_and_rewrites_the_input_file() {
        let api = FakeApi::with_default_controller();
        let doc = sealed_doc();
        let out = run_with(&api, &["--re-encrypt"], &doc);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rotated["metadata"]["annotations"]["rotated"], "yes");
        assert_eq!(rotated["metadata"]["creationTimestamp"], Value::Null);
        assert!(rotated["metadata"].get("generation").is_none());
        let dir = TempDir::new();
        let f = dir.write("a.json", &doc);
        let out = run_with(&api, &["--rotate", "-f", f.to_str().unwrap()], b"");
        assert!(out.status.success());
        assert!(out.stdout.is_empty());
        assert!(
            std::fs::read_to_string(&f)
                .unwrap()
                .contains("\"rotated\": \"yes\"")
        );
        api.set_status(409);
        let out = run_with(&api, &["--re-encrypt"], &doc);
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "error: unable to rotate secret\n"
        );
    }

    #[test]
    fn reencrypt_subcommand_skips_files_already_on_the_newest_key() {
        let api = FakeApi::with_default_controller();
        let dir = TempDir::new();
        let current = dir.write("cur.json", sealed_doc());
        let before = std::fs::read(&current).unwrap();
        let old = ok(
            &["--cert", &td("keys/rsa4096-b.crt")],
            secret_yaml("o", Some("b"), &[("k", "v")]).as_bytes(),
        );
        let old_file = dir.write("old.json", &old);
        let out = run_with(&api, &["reencrypt", dir.0.to_str().unwrap()], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(&current).unwrap(), before);
        assert!(
            std::fs::read_to_string(&old_file)
                .unwrap()
                .contains("\"rotated\": \"yes\"")
        );
        assert_eq!(
            api.requests()
                .iter()
                .filter(|r| r.path.ends_with("/v1/rotate"))
                .count(),
            1
        );
    }

    #[test]
    fn a_slow_server_times_out() {
        let api = FakeApi::with_default_controller();
        api.set_delay(std::time::Duration::from_secs(5));
        let started = std::time::Instant::now();
        let out = run_with(&api, &["--fetch-cert", "--request-timeout", "1s"], b"");
        assert!(started.elapsed() < std::time::Duration::from_secs(4));
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("timed out after 1s"), "{err}");
    }

    #[test]
    fn cert_urls_are_fetched() {
        let api = FakeApi::start(vec![]);
        let url = format!("{}/v1/cert.pem", api.base_url);
        let out = ok(
            &["--cert", &url],
            secret_yaml("a", Some("b"), &[("k", "v")]).as_bytes(),
        );
        assert_eq!(recover(&out, &[&td("keys/rsa4096.key")]).len(), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// `ui`: the sealing page on loopback.

mod ui {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::{Child, Command, Stdio};

    use super::{BIN, testdata};

    /// The server, stopped when dropped.
    struct Server(Child);

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Starts `kubectl-seal ui` on a free port and returns it with the URL it printed.
    fn start() -> (Server, String) {
        let mut child = Command::new(BIN)
            .args(["ui", "--listen", "127.0.0.1:0", "--no-browser", "--cert"])
            .arg(testdata("keys/rsa4096.crt"))
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kubectl-seal ui");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the URL line");
        (Server(child), line.trim().to_owned())
    }

    /// One HTTP/1.1 request; the raw response.
    fn request(url: &str, method: &str, path: &str) -> String {
        let host = url
            .strip_prefix("http://")
            .and_then(|u| u.split('/').next())
            .expect("an http URL");
        let mut stream = TcpStream::connect(host).expect("connect");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut out = String::new();
        stream.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn serves_the_page_with_its_headers_and_the_certificate_beside_it() {
        let (_server, url) = start();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        assert!(url.ends_with("/ui/"), "{url}");

        let page = request(&url, "GET", "/ui/");
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        let lower = page.to_ascii_lowercase();
        for (name, value) in seal_ui::SECURITY_HEADERS {
            assert!(
                lower.contains(&format!("{name}: {}", value.to_ascii_lowercase())),
                "{name}"
            );
        }
        assert!(page.ends_with(
            std::str::from_utf8(seal_ui::asset("").expect("page").body).expect("utf-8")
        ));
        assert!(!lower.contains("set-cookie"));

        let cert = request(&url, "GET", "/v1/cert.pem");
        assert!(cert.starts_with("HTTP/1.1 200"), "{cert}");
        assert!(
            cert.ends_with(&std::fs::read_to_string(testdata("keys/rsa4096.crt")).expect("cert"))
        );

        for path in ["/", "/ui"] {
            let redirect = request(&url, "GET", path);
            assert!(redirect.starts_with("HTTP/1.1 302"), "{redirect}");
            assert!(
                redirect
                    .to_ascii_lowercase()
                    .contains("\r\nlocation: ui/\r\n"),
                "{redirect}"
            );
        }
        assert!(request(&url, "GET", "/ui/../v1/verify").starts_with("HTTP/1.1 404"));
        assert!(request(&url, "GET", "/ui/nothing.js").starts_with("HTTP/1.1 404"));
        assert!(request(&url, "POST", "/v1/verify").starts_with("HTTP/1.1 405"));
        let js = request(&url, "GET", "/ui/format.js");
        assert!(
            js.to_ascii_lowercase()
                .contains("content-type: text/javascript"),
            "{js}"
        );
    }
}
