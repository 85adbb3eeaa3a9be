//! Differential tests against upstream's own `kubeseal`: the same inputs through both CLIs,
//! compared byte for byte. Skipped unless `SEAL_UPSTREAM_KUBESEAL` names the upstream binary
//! (built from bitnami-labs/sealed-secrets, e.g. v0.36.6).
//!
//! Sealed values are random, so sealed output is compared with every ciphertext replaced by
//! `<SEALED>` and with our additive key-hint annotation taken out; recovered Secrets are
//! deterministic and compared as they are. Where SPEC marks a behaviour FIX (a v1 `List` input,
//! `managedFields`, an input without a namespace, upstream's panics and vaguer errors), the case
//! is left out here and covered by our own tests.
//!
//! With `SEAL_E2E_KUBECONFIG` too (a cluster with a controller installed as upstream installs
//! it), `--fetch-cert`, `--validate` and `--re-encrypt` are compared as well.

use super::*;

fn upstream() -> Option<PathBuf> {
    let path = std::env::var_os("SEAL_UPSTREAM_KUBESEAL")?;
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "SEAL_UPSTREAM_KUBESEAL={} is not a file",
        path.display()
    );
    Some(path)
}

/// One CLI run: exit code, stdout, stderr.
#[derive(Debug, PartialEq)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_bin(bin: &Path, args: &[&str], stdin: &[u8], cwd: &Path) -> Run {
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("SEALED_SECRETS_") || k.ends_with("_PROXY") || k.ends_with("_proxy") {
            c.env_remove(k);
        }
    }
    c.env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", "/nonexistent")
        .current_dir(cwd)
        .args(args);
    let out = run_cmd(c, stdin);
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// Runs both CLIs on the same arguments and input, each in its own copy of `files` (for `-w`
/// and `--merge-into`); returns both runs and both directories.
struct Pair {
    ours: (Run, TempDir),
    theirs: (Run, TempDir),
}

fn both(kubeseal: &Path, args: &[&str], stdin: &[u8], files: &[(&str, &[u8])]) -> Pair {
    let mk = |bin: &Path| {
        let dir = TempDir::new();
        for (name, bytes) in files {
            dir.write(name, bytes);
        }
        (run_bin(bin, args, stdin, &dir.0), dir)
    };
    Pair {
        ours: mk(Path::new(BIN)),
        theirs: mk(kubeseal),
    }
}

/// Replaces every sealed value (standard base64 of at least 256 bytes: the RSA block alone is
/// that long) with `<SEALED>`.
fn mask(text: &str) -> String {
    let b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 344 && (run.starts_with("Ag") || run.starts_with("AQ")) {
            out.push_str("<SEALED>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if b64(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Our output without the key-hint annotation (which upstream doesn't write), re-rendered by
/// the same writer the binary uses.
fn without_key_hint(text: &str) -> String {
    let format = if text.starts_with("---") {
        seal_api::Format::Yaml
    } else {
        seal_api::Format::Json
    };
    let docs = seal_api::read_documents(text.as_bytes()).expect("our output reads back");
    let mut out = String::new();
    for mut doc in docs {
        if let Some(Value::Object(annotations)) = doc.pointer_mut("/metadata/annotations") {
            annotations.remove(seal_api::ANNOTATION_KEY_ID);
            if annotations.is_empty()
                && let Some(Value::Object(meta)) = doc.get_mut("metadata")
            {
                meta.remove("annotations");
            }
        }
        out.push_str(&seal_api::write_document(&doc, format));
    }
    out
}

fn sealed_alike(what: &str, ours: &str, theirs: &str) {
    assert_eq!(
        mask(&without_key_hint(ours)),
        mask(theirs),
        "{what}: sealed output differs from upstream's (ciphertexts masked)"
    );
}

fn same_run(what: &str, pair: &Pair) {
    assert_eq!(pair.ours.0, pair.theirs.0, "{what}");
}

const KEYS: &str = "keys/rsa4096.key";

/// A Secret whose metadata exercises go-yaml's quoting, folding and key order, given as JSON
/// so both CLIs read the same strings (YAML 1.1 and 1.2 read some plain words differently).
fn tricky_secret() -> String {
    let annotations: serde_json::Map<String, Value> = [
        ("long", "word ".repeat(28).trim_end().to_owned()),
        ("multi", "line one\nline two\n".to_owned()),
        ("multi2", "a\nb".to_owned()),
        ("keep", "a\n\n".to_owned()),
        ("lead", " leading".to_owned()),
        ("tmpl", "{{ .user }}:{{ .password }}".to_owned()),
        ("colon", "a: b".to_owned()),
        ("hash", "a #b".to_owned()),
        ("dash", "- a".to_owned()),
        ("quote", "it's".to_owned()),
        ("sq", "'q".to_owned()),
        ("tab", "a\tb".to_owned()),
        ("emoji", "\u{1f600}".to_owned()),
        ("uni", "caf\u{e9}".to_owned()),
        ("html", "<a href='x'>&amp;</a>".to_owned()),
        ("ctrl", "a\u{1}b".to_owned()),
        ("yes", "y".to_owned()),
        ("empty", String::new()),
        ("num", "012".to_owned()),
        ("hex", "0x1F".to_owned()),
        ("date", "2024-01-01".to_owned()),
        ("time", "12:30".to_owned()),
        ("dots", "...".to_owned()),
        (
            "longq",
            format!("\"quoted\" {}", "word ".repeat(20).trim_end()),
        ),
        (
            "longtmpl",
            format!(
                "{{{{ index . \"{}\" }}}} and more words here to pass the width",
                "k".repeat(40)
            ),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::String(v)))
    .collect();
    let labels: serde_json::Map<String, Value> = [
        ("a10", "x"),
        ("a2", "y"),
        ("a_b", "true"),
        ("aB", "no"),
        ("A", "1.5"),
        ("1", "0777"),
        ("10", "on"),
        ("9", "null"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
    .collect();
    serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "tricky", "namespace": "n", "labels": labels, "annotations": annotations},
        "stringData": {"item10": "a", "item2": "b", "Item": "c", "_x": "d", "empty": ""},
    })
    .to_string()
}

#[test]
fn recovery_unseal_prints_upstreams_bytes() {
    let Some(kubeseal) = upstream() else {
        eprintln!("skipped: set SEAL_UPSTREAM_KUBESEAL to upstream's kubeseal");
        return;
    };
    let keys = format!(
        "{},{},{}",
        td(KEYS),
        td("keys/rsa4096-b.key"),
        td("keys/rsa2048.key")
    );
    let mut compared = 0;
    for entry in std::fs::read_dir(testdata("sealed")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // Not SealedSecrets, v1 spec.data (SPEC §9 FIX: kubeseal refuses it), and a failure
        // (our message adds which object failed).
        if name.contains(".expected")
            || name.starts_with("legacy-v1")
            || name.starts_with("wrong-scope")
        {
            continue;
        }
        let input = std::fs::read(&path).unwrap();
        for format in ["json", "yaml"] {
            let pair = both(
                &kubeseal,
                &[
                    "--recovery-unseal",
                    "--recovery-private-key",
                    &keys,
                    "-o",
                    format,
                ],
                &input,
                &[],
            );
            assert_eq!(
                pair.theirs.0.code,
                Some(0),
                "{name}: {}",
                pair.theirs.0.stderr
            );
            same_run(&format!("{name} -o {format}"), &pair);
            compared += 1;
        }
    }
    assert!(compared >= 20, "{compared}");
}

#[test]
fn sealed_output_matches_upstreams_in_every_mode() {
    let Some(kubeseal) = upstream() else {
        eprintln!("skipped: set SEAL_UPSTREAM_KUBESEAL to upstream's kubeseal");
        return;
    };
    let cert = td("keys/rsa4096.crt");
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for name in [
        "binary.yaml",
        "credentials.yaml",
        "dockerconfigjson.yaml",
        "five-items.yaml",
        "immutable.yaml",
        "multi.yaml",
        "opaque.json",
        "stringdata.yaml",
        "tls.yaml",
    ] {
        inputs.push((
            name.to_owned(),
            std::fs::read(testdata(&format!("secrets/{name}"))).unwrap(),
        ));
    }
    inputs.push(("tricky".to_owned(), tricky_secret().into_bytes()));
    for (name, input) in &inputs {
        for args in [
            vec!["-o", "json"],
            vec!["-o", "yaml"],
            vec!["--scope", "namespace-wide"],
            vec!["--scope", "cluster-wide", "-o", "yaml"],
        ] {
            let mut all = vec!["--cert", cert.as_str()];
            all.extend(&args);
            let pair = both(&kubeseal, &all, input, &[]);
            assert_eq!(
                pair.theirs.0.code,
                Some(0),
                "{name}: {}",
                pair.theirs.0.stderr
            );
            assert_eq!(pair.ours.0.code, Some(0), "{name}: {}", pair.ours.0.stderr);
            assert_eq!(pair.ours.0.stderr, pair.theirs.0.stderr, "{name} {args:?}");
            sealed_alike(
                &format!("{name} {args:?}"),
                &pair.ours.0.stdout,
                &pair.theirs.0.stdout,
            );
        }
        // -w: the file gets what stdout would; .yaml forces YAML.
        for file in ["out.json", "out.yaml"] {
            let pair = both(&kubeseal, &["--cert", &cert, "-w", file], input, &[]);
            same_run(&format!("{name} -w {file}"), &pair);
            let ours = std::fs::read_to_string(pair.ours.1.path(file)).unwrap();
            let theirs = std::fs::read_to_string(pair.theirs.1.path(file)).unwrap();
            sealed_alike(&format!("{name} -w {file}"), &ours, &theirs);
        }
    }
}

#[test]
fn raw_merge_into_and_each_others_output_match_upstream() {
    let Some(kubeseal) = upstream() else {
        eprintln!("skipped: set SEAL_UPSTREAM_KUBESEAL to upstream's kubeseal");
        return;
    };
    let cert = td("keys/rsa4096.crt");
    let key = td(KEYS);
    // --raw: one bare value, no newline, for every scope.
    for args in [
        vec!["-n", "ns", "--name", "x"],
        vec!["-n", "ns", "--scope", "namespace-wide"],
        vec!["--scope", "cluster-wide"],
    ] {
        let mut all = vec!["--raw", "--cert", cert.as_str()];
        all.extend(&args);
        let pair = both(&kubeseal, &all, b"s3cr3t", &[]);
        assert_eq!(pair.theirs.0.code, Some(0), "{}", pair.theirs.0.stderr);
        assert_eq!(mask(&pair.ours.0.stdout), "<SEALED>", "{args:?}");
        assert_eq!(mask(&pair.theirs.0.stdout), "<SEALED>", "{args:?}");
        assert_eq!(pair.ours.0.stdout.len(), pair.theirs.0.stdout.len());
    }
    // --merge-into a file upstream wrote (upstream needs labels and annotations in the
    // template, and writes -o's format: SPEC §9 FIX).
    let target_input = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\n  labels: {tier: db}\n  annotations: {owner: team-a}\nstringData:\n  user: admin\n  password: old\n";
    let more = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: ignored\n  labels: {extra: \"1\"}\n  annotations: {note: hello world}\nstringData:\n  password: new\n  token: t0k3n\n";
    for format in ["json", "yaml"] {
        let base = run_bin(
            &kubeseal,
            &["--cert", &cert, "-o", format],
            target_input,
            Path::new("."),
        );
        assert_eq!(base.code, Some(0), "{}", base.stderr);
        let file = format!("target.{format}");
        let pair = both(
            &kubeseal,
            &["--cert", &cert, "-o", format, "--merge-into", &file],
            more,
            &[(&file, base.stdout.as_bytes())],
        );
        same_run(&format!("--merge-into {file}"), &pair);
        let ours = std::fs::read_to_string(pair.ours.1.path(&file)).unwrap();
        let theirs = std::fs::read_to_string(pair.theirs.1.path(&file)).unwrap();
        sealed_alike(&format!("--merge-into {file}"), &ours, &theirs);
    }
    // Each opens what the other sealed, and both print the same Secret.
    let input = tricky_secret();
    for sealer in [Path::new(BIN), kubeseal.as_path()] {
        let sealed = run_bin(sealer, &["--cert", &cert], input.as_bytes(), Path::new("."));
        assert_eq!(sealed.code, Some(0), "{}", sealed.stderr);
        let pair = both(
            &kubeseal,
            &["--recovery-unseal", "--recovery-private-key", &key],
            sealed.stdout.as_bytes(),
            &[],
        );
        assert_eq!(pair.theirs.0.code, Some(0), "{}", pair.theirs.0.stderr);
        same_run(&format!("sealed by {}", sealer.display()), &pair);
    }
}

#[test]
fn errors_and_version_match_upstream_where_spec_keeps_them() {
    let Some(kubeseal) = upstream() else {
        eprintln!("skipped: set SEAL_UPSTREAM_KUBESEAL to upstream's kubeseal");
        return;
    };
    let cert = td("keys/rsa4096.crt");
    let secret = std::fs::read(testdata("secrets/credentials.yaml")).unwrap();
    let no_name = b"apiVersion: v1\nkind: Secret\nmetadata: {namespace: a}\nstringData: {a: b}\n";
    let empty = std::fs::read(testdata("secrets/empty.yaml")).unwrap();
    let cases: Vec<(&str, Vec<&str>, &[u8])> = vec![
        ("version", vec!["--version"], b""),
        (
            "--from-file without --raw",
            vec!["--cert", &cert, "--from-file", "x"],
            &secret,
        ),
        (
            "--raw without --name",
            vec!["--raw", "--cert", &cert, "-n", "ns"],
            b"v",
        ),
        (
            "two --from-file",
            vec![
                "--raw",
                "--cert",
                &cert,
                "-n",
                "ns",
                "--name",
                "a",
                "--from-file",
                "a",
                "--from-file",
                "b",
            ],
            b"",
        ),
        ("bad format", vec!["--cert", &cert, "-o", "xml"], &secret),
        ("no input", vec!["--cert", &cert], b""),
        ("empty data", vec!["--cert", &cert], &empty),
        ("no name", vec!["--cert", &cert], no_name),
        (
            "namespace mismatch",
            vec!["--cert", &cert, "-n", "other"],
            &secret,
        ),
        ("expired cert", vec!["--cert", "EXPIRED"], &secret),
        (
            "missing cert",
            vec!["--cert", "/?this/file/cannot/possibly/exist/right?"],
            &secret,
        ),
        (
            "missing key file",
            vec![
                "--recovery-unseal",
                "--recovery-private-key",
                "/missing.key",
            ],
            b"",
        ),
        (
            "fetch-cert from a file",
            vec!["--fetch-cert", "--cert", &cert],
            b"",
        ),
    ];
    let expired = td("keys/expired.crt");
    for (what, args, stdin) in cases {
        let args: Vec<&str> = args
            .into_iter()
            .map(|a| if a == "EXPIRED" { expired.as_str() } else { a })
            .collect();
        let pair = both(&kubeseal, &args, stdin, &[]);
        if what == "version" {
            // Our own name goes to stderr.
            assert_eq!(pair.ours.0.stdout, pair.theirs.0.stdout, "{what}");
            assert_eq!(pair.ours.0.code, pair.theirs.0.code, "{what}");
        } else {
            same_run(what, &pair);
        }
    }
}

/// `--fetch-cert`, `--validate` and `--re-encrypt` through the API server's service proxy.
#[test]
fn controller_modes_match_upstream_on_a_cluster() {
    let (Some(kubeseal), Some(kubeconfig)) = (upstream(), std::env::var_os("SEAL_E2E_KUBECONFIG"))
    else {
        eprintln!(
            "skipped: set SEAL_UPSTREAM_KUBESEAL and SEAL_E2E_KUBECONFIG (a cluster with a controller)"
        );
        return;
    };
    let kc = kubeconfig.to_string_lossy().into_owned();
    let cert = both(&kubeseal, &["--kubeconfig", &kc, "--fetch-cert"], b"", &[]);
    assert_eq!(
        cert.theirs.0.code,
        Some(0),
        "upstream kubeseal --fetch-cert failed; install a controller as sealed-secrets-controller in kube-system: {}",
        cert.theirs.0.stderr
    );
    same_run("--fetch-cert", &cert);
    let dir = TempDir::new();
    let cert_file = dir.write("cert.pem", &cert.theirs.0.stdout);
    let cert_file = cert_file.to_str().unwrap();
    let sealed = run_bin(
        &kubeseal,
        &["--cert", cert_file],
        secret_yaml("parity", Some("default"), &[("k", "v")]).as_bytes(),
        Path::new("."),
    );
    assert_eq!(sealed.code, Some(0), "{}", sealed.stderr);
    let pair = both(
        &kubeseal,
        &["--kubeconfig", &kc, "--validate"],
        sealed.stdout.as_bytes(),
        &[],
    );
    assert_eq!(pair.theirs.0.code, Some(0), "{}", pair.theirs.0.stderr);
    same_run("--validate, valid", &pair);
    let renamed = sealed
        .stdout
        .replace("\"name\": \"parity\"", "\"name\": \"renamed\"");
    let pair = both(
        &kubeseal,
        &["--kubeconfig", &kc, "--validate"],
        renamed.as_bytes(),
        &[],
    );
    assert_eq!(pair.theirs.0.code, Some(1), "{}", pair.theirs.0.stderr);
    same_run("--validate, renamed", &pair);
    for format in ["json", "yaml"] {
        let pair = both(
            &kubeseal,
            &["--kubeconfig", &kc, "--re-encrypt", "-o", format],
            sealed.stdout.as_bytes(),
            &[],
        );
        assert_eq!(pair.theirs.0.code, Some(0), "{}", pair.theirs.0.stderr);
        assert_eq!(pair.ours.0.stderr, pair.theirs.0.stderr);
        sealed_alike(
            &format!("--re-encrypt -o {format}"),
            &pair.ours.0.stdout,
            &pair.theirs.0.stdout,
        );
    }
}

#[test]
fn masking_hides_only_sealed_values() {
    let sealed = format!("a: Ag{}\nb: AgShort\n", "x".repeat(700));
    assert_eq!(mask(&sealed), "a: <SEALED>\nb: AgShort\n");
    assert_eq!(
        mask(&format!("\"{}\"", "A".repeat(700))),
        format!("\"{}\"", "A".repeat(700))
    );
}

/// Where upstream's output is recorded for CI (made with `SEAL_RECORD_KUBESEAL=1` and
/// `SEAL_UPSTREAM_KUBESEAL` set; see testdata/README.md).
const RECORDED: &str = "kubeseal-v0.36.6";

/// One recorded run: a file name, the arguments, the input, and whether the output is sealed
/// (compared masked, without our key hint).
struct Recorded {
    file: String,
    args: Vec<String>,
    stdin: Vec<u8>,
    sealed: bool,
}

fn recorded_cases() -> Vec<Recorded> {
    let mut cases = Vec::new();
    let keys = format!(
        "{},{},{}",
        td(KEYS),
        td("keys/rsa4096-b.key"),
        td("keys/rsa2048.key")
    );
    let mut sealed: Vec<String> = std::fs::read_dir(testdata("sealed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !n.contains(".expected") && !n.starts_with("legacy-v1") && !n.starts_with("wrong-scope")
        })
        .collect();
    sealed.sort();
    for name in sealed {
        let stem = name.trim_end_matches(".json");
        for format in ["json", "yaml"] {
            cases.push(Recorded {
                file: format!("recover.{stem}.{format}"),
                args: [
                    "--recovery-unseal",
                    "--recovery-private-key",
                    &keys,
                    "-o",
                    format,
                ]
                .map(str::to_owned)
                .to_vec(),
                stdin: std::fs::read(testdata(&format!("sealed/{name}"))).unwrap(),
                sealed: false,
            });
        }
    }
    let cert = td("keys/rsa4096.crt");
    let mut inputs: Vec<(String, Vec<u8>)> = [
        "credentials.yaml",
        "dockerconfigjson.yaml",
        "immutable.yaml",
        "multi.yaml",
        "opaque.json",
        "tls.yaml",
    ]
    .iter()
    .map(|n| {
        (
            (*n).to_owned(),
            std::fs::read(testdata(&format!("secrets/{n}"))).unwrap(),
        )
    })
    .collect();
    inputs.push(("tricky.json".to_owned(), tricky_secret().into_bytes()));
    for (name, input) in inputs {
        let stem = name
            .rsplit_once('.')
            .map_or(name.as_str(), |(s, _)| s)
            .to_owned();
        for (variant, extra) in [
            ("strict.json", vec!["-o", "json"]),
            ("strict.yaml", vec!["-o", "yaml"]),
            ("namespace-wide.json", vec!["--scope", "namespace-wide"]),
            (
                "cluster-wide.yaml",
                vec!["--scope", "cluster-wide", "-o", "yaml"],
            ),
        ] {
            let mut args = vec!["--cert".to_owned(), cert.clone()];
            args.extend(extra.iter().map(|s| (*s).to_owned()));
            cases.push(Recorded {
                file: format!("seal.{stem}.{variant}"),
                args,
                stdin: input.clone(),
                sealed: true,
            });
        }
    }
    cases
}

/// Our output against upstream's, as recorded: runs in CI, without upstream's binary.
#[test]
fn output_matches_upstreams_recorded_output() {
    let dir = testdata(RECORDED);
    let record = std::env::var_os("SEAL_RECORD_KUBESEAL").is_some();
    let kubeseal = if record {
        Some(upstream().expect("SEAL_RECORD_KUBESEAL needs SEAL_UPSTREAM_KUBESEAL"))
    } else {
        None
    };
    let cases = recorded_cases();
    assert!(cases.len() >= 50, "{}", cases.len());
    for case in cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let path = dir.join(&case.file);
        if let Some(kubeseal) = &kubeseal {
            let theirs = run_bin(kubeseal, &args, &case.stdin, Path::new("."));
            assert_eq!(theirs.code, Some(0), "{}: {}", case.file, theirs.stderr);
            let text = if case.sealed {
                mask(&theirs.stdout)
            } else {
                theirs.stdout
            };
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ours = run_bin(Path::new(BIN), &args, &case.stdin, Path::new("."));
        assert_eq!(ours.code, Some(0), "{}: {}", case.file, ours.stderr);
        let got = if case.sealed {
            mask(&without_key_hint(&ours.stdout))
        } else {
            ours.stdout
        };
        assert_eq!(
            got, want,
            "{} differs from upstream's recorded output",
            case.file
        );
    }
}
