//! Bad input, table-driven: every row runs the built binary and expects exit code 1, exactly one
//! line on stderr (`error: …`, pinned in full where the text is ours and stable), no document on
//! stdout, no file touched (inputs byte-identical, outputs absent or byte-identical, no temporary
//! file left behind), and a bounded run time.
//!
//! `<cert>` is `testdata/keys/rsa4096.crt`; `{…}` stands for a temporary path; "…" marks a
//! fragment (the rest comes from the OS or a parser).
//!
//! | input | command | message after `error: ` | exit |
//! |---|---|---|---|
//! | empty stdin | `--cert <cert>` | `no secrets found. Ensure the input is valid and UTF-8 encoded` | 1 |
//! | binary garbage | `--cert <cert>` | `input is not valid UTF-8 (invalid byte at offset 0); Ensure the input is valid and UTF-8 encoded` | 1 |
//! | invalid UTF-8 in a value | `--cert <cert>` | `input is not valid UTF-8 (invalid byte at offset 66); Ensure the input is valid and UTF-8 encoded` | 1 |
//! | YAML alias bomb (10 levels × 10) | `--cert <cert>` | `invalid YAML: line 6 column 14: too large, too deeply nested or too many aliases (Nodes { nodes: 250001 }); simplify the document` | 1 |
//! | stdin of `MAX_INPUT_BYTES` + 1 | `--cert <cert>` | `failed to read standard input: it is larger than 64 MiB, the most kubectl-seal reads; a Secret holds at most 1 MiB, so check the input` | 1 |
//! | endless stdin | `--raw --name x -n y --cert <cert>` | same as above (reads at most 64 MiB + 1) | 1 |
//! | file of `MAX_INPUT_BYTES` + 1 | `-f {big} --cert <cert>` | `failed to read {big}: it is larger than 64 MiB, …` | 1 |
//! | 100 000 nested `[` (YAML) | `--cert <cert>` | `invalid YAML: line 1 column 259: recursion limit exceeded` | 1 |
//! | 3 000 nested maps (YAML) | `--cert <cert>` | `invalid YAML: line 65 column 129: too large, too deeply nested or too many aliases (Depth { depth: 65 }); simplify the document` | 1 |
//! | 100 000 nested `[` (JSON) | `--cert <cert>` | `invalid JSON: recursion limit exceeded at line 1 column 128` | 1 |
//! | a ConfigMap | `--cert <cert>` | `document 1 is a v1 ConfigMap, not a v1 Secret; pass only Secret objects` | 1 |
//! | a v1 List holding a ConfigMap | `--cert <cert>` | same | 1 |
//! | a Secret without a name | `--cert <cert>` | `missing metadata.name in input Secret` | 1 |
//! | a Secret without a namespace, no kubeconfig | `--cert <cert>` | none: sealed into `default` (SPEC §5), exit 0 | 0 |
//! | duplicate key in YAML | `--cert <cert>` | `invalid YAML: line 8 column 3: duplicate mapping key: a (a key may appear only once)` | 1 |
//! | YAML syntax error | `--cert <cert>` | `invalid YAML: line 1 column 5: mapping values are not allowed in this context` | 1 |
//! | non-base64 `data` | `--cert <cert>` | `secret data item "a" is not valid base64: illegal base64 data at input byte 3` | 1 |
//! | a number in `stringData` | `--cert <cert>` | `secret stringData item "port" is not a string; quote it` | 1 |
//! | expired certificate | `--cert expired.crt` | `failed to encrypt using an expired certificate on January 1, 2021` | 1 |
//! | EC certificate | `--cert ec.crt` | `cannot use certificate {ec.crt}: the key is not an RSA key` | 1 |
//! | garbage as certificate | `--cert {garbage}` | `cannot use certificate {garbage}: failed to read PEM CERTIFICATE: no such block` | 1 |
//! | a private key as certificate | `--cert rsa4096.key` | `cannot use certificate {key}: failed to read PEM CERTIFICATE: no such block` | 1 |
//! | DER certificate (no PEM) | `--cert {der}` | same "no such block" | 1 |
//! | PEM of a truncated DER | `--cert {pem}` | `cannot use certificate {pem}: invalid certificate: not a DER X.509 certificate: …` | 1 |
//! | missing certificate file | `--cert {missing}` | `open {missing}: no such file or directory` (Go's words, as kubeseal) | 1 |
//! | cert URL, closed port | `--cert http://127.0.0.1:{port}/v1/cert.pem` | `cannot fetch certificate from {url}: Connection refused (os error 111); check the URL, or pass the certificate as a file with --cert` | 1 |
//! | cert URL that never answers | `… --request-timeout 1s` | `fetching {url}: timed out after 1s; is the server reachable? (--request-timeout sets the limit)` (≈1 s) | 1 |
//! | API server, closed port | `--kubeconfig {kc}` | `cannot get service kube-system/sealed-secrets-controller: Connection refused (os error 111); check the kubeconfig's server (or --server) is reachable, or seal offline with --cert` | 1 |
//! | API server that never answers | `--kubeconfig {kc} --request-timeout 1s` | `getting service kube-system/sealed-secrets-controller: timed out after 1s; is the API server reachable? (--request-timeout sets the limit)` | 1 |
//! | `-w` into a missing directory | `-w {dir}/missing/x.yaml` | `cannot write {…}/x.yaml: {dir}/missing does not exist; create it first` | 1 |
//! | `-w` under a regular file | `-w {file}/x.yaml` | `cannot write {file}/x.yaml: {file} is not a directory` | 1 |
//! | `-w` a directory | `-w {dir}` | `cannot write {dir}: it is a directory; give a file path` | 1 |
//! | `-w` an existing file, bad input | `-w {out}` | the input's error; `{out}` byte-identical | 1 |
//! | `-w` an existing file, expired certificate | `-w {out}` | the certificate's error; `{out}` byte-identical | 1 |
//! | `-w` a dangling symlink | `-w {link}` | `cannot write {link}: it is a symlink to a missing file; create the file or remove the link` | 1 |
//! | stdout is full (`/dev/full`) | `--cert <cert>` | `failed to write to standard output: No space left on device (os error 28)` | 1 |
//! | `--merge-into` a Secret | `--merge-into {f}` | `cannot merge into {f}: document 1 is a v1 Secret, not a bitnami.com/v1alpha1 SealedSecret; pass only SealedSecret objects` | 1 |
//! | `--merge-into` a ConfigMap | `--merge-into {f}` | same, `a v1 ConfigMap` | 1 |
//! | `--merge-into` garbage | `--merge-into {f}` | `cannot merge into {f}: input is not valid UTF-8 (invalid byte at offset 0); …` | 1 |
//! | `--merge-into` a good file, garbage stdin | `--merge-into {f}` | `input is not valid UTF-8 …`; `{f}` byte-identical | 1 |
//! | `--merge-into` a good file, ConfigMap stdin | `--merge-into {f}` | `document 1 is a v1 ConfigMap, not a v1 Secret; pass only Secret objects`; `{f}` byte-identical | 1 |
//! | `--merge-into` a missing file | `--merge-into {f}` | `open {f}: no such file or directory`; not created | 1 |
//! | `set` a missing file | `set {f} k --from-literal v` | `open {f}: no such file or directory`; not created | 1 |
//! | `set` a Secret | `set {f} k --from-literal v` | `cannot read {f}: document 1 is a v1 Secret, not a bitnami.com/v1alpha1 SealedSecret; pass only SealedSecret objects` | 1 |
//! | `set` with an expired certificate | `set {f} k …` | `failed to encrypt using an expired certificate on January 1, 2021` | 1 |
//! | `set` with a value over `MAX_INPUT_BYTES` | `set {f} k --from-file {big}` | `failed to read {big}: it is larger than 64 MiB, …` | 1 |
//! | `unset` a missing file | `unset {f} k` | `open {f}: no such file or directory` | 1 |
//! | `unset` a ConfigMap | `unset {f} k` | `cannot read {f}: document 1 is a v1 ConfigMap, …` | 1 |
//! | `unset` garbage | `unset {f} k` | `{f} is not UTF-8: invalid utf-8 sequence of 1 bytes from index 0` | 1 |
//! | `unset` a missing key | `unset {f} nokey` | `{f} has no item "nokey"; its items are: api-token, password, username` | 1 |
//! | `validate` garbage | `validate {f} --cert <cert>` | `1 of 1 files failed validation` (stdout: `FAIL {f}: …`) | 1 |
//! | `--validate` garbage | `--validate` | `input is not valid UTF-8 (invalid byte at offset 0); …` | 1 |
//! | `reencrypt` a non-SealedSecret file | `reencrypt {f} …` | `1 file(s) could not be re-encrypted (FAIL lines above); 0 file(s) changed, …` (stdout: `FAIL {f}: holds no SealedSecret …`) | 1 |
//! | `reencrypt` without a key that opens it | `reencrypt {f} --recovery-private-key rsa4096-b.key …` | same; `{f}` byte-identical | 1 |
//! | `--re-encrypt -f {f}` without a kubeconfig | | `cannot read the kubeconfig (…); set --kubeconfig or KUBECONFIG, or use --cert to seal offline`; `{f}` byte-identical | 1 |
//! | `--re-encrypt -f {f}`, controller answers 409 / 500 | fake API | `unable to rotate secret` / `cannot re-encrypt secret: HTTP 500 Internal Server Error: status 500`; `{f}` byte-identical | 1 |
//! | `--recovery-unseal`, wrong key | `--recovery-private-key rsa4096-b.key` | `cannot unseal standard input: cannot unseal mysecret: no key could decrypt secret (api-token, password, username)` | 1 |
//! | `--recovery-unseal`, a certificate as key | `--recovery-private-key rsa4096.crt` | `failed to load private key(s) from {crt}: failed to read PEM RSA PRIVATE KEY or PRIVATE KEY: no such block` | 1 |
//! | `--recovery-unseal`, EC key | `--recovery-private-key ec.key` | `failed to load private key(s) from {ec.key}: the key is not an RSA key` | 1 |
//! | `--recovery-unseal`, encrypted key | `--recovery-private-key {enc}` | `failed to load private key(s) from {enc}: the key is encrypted with a passphrase; decrypt it first, e.g. openssl pkey -in KEY -out PLAIN.key (and keep PLAIN.key private)` | 1 |
//! | `--recovery-unseal`, garbage key | `--recovery-private-key {garbage}` | `failed to load private key(s) from {garbage}: not UTF-8: …` | 1 |
//! | `--recovery-unseal`, a Secret without tls.key as key | `--recovery-private-key {secret}` | `failed to load private key(s) from {secret}: Secret mysecret has no tls.key` | 1 |
//! | `--recovery-unseal` of garbage | `--recovery-private-key rsa4096.key` | `cannot unseal standard input: input is not valid UTF-8 (invalid byte at offset 0); …` | 1 |
//! | `--pq`, a certificate without an ML-KEM key | `--pq --cert <cert>` (objects, `--raw`, `--merge-into {f}`, `set {f}`) | `--pq needs a certificate with an ML-KEM-768 key, and this one has none (an upstream controller's key, or one made before post-quantum support): renew the controller's key (restart it with --key-cutoff-time set to now, docs/pq.md), then fetch the certificate again`; `{f}` byte-identical | 1 |
//! | `--pq`, an ML-KEM key the self-signature does not cover | `--pq --cert {tampered}` | `--pq: cannot use the certificate's ML-KEM key: invalid certificate: its RSA self-signature does not verify, so its ML-KEM key cannot be trusted` | 1 |
//! | `reencrypt --pq` offline, a certificate without an ML-KEM key | `reencrypt --pq {f} …` | `1 file(s) could not be re-encrypted (FAIL lines above); …`; `{f}` byte-identical | 1 |
//! | `ui --pq` (or `SEALED_SECRETS_PQ=true`) | `ui --pq --cert <cert>` | `--pq: the sealing page seals classical items only (browsers have no ML-KEM-768 yet); seal post-quantum with kubectl seal --pq, or unset SEALED_SECRETS_PQ for ui` | 1 |
//! | `--recovery-unseal`, a key Secret with a bad `mlkem768.seed` | `--recovery-private-key {secret}` | `failed to load private key(s) from {secret}: Secret bad-seed: mlkem768.seed: invalid ML-KEM-768 key: a seed is 64 bytes (d ‖ z)` | 1 |
//! | `--recovery-unseal -w {out}` | good key | none: `{out}` is written with mode 0600 (plaintext) | 0 |

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use seal_api::MAX_INPUT_BYTES;

use crate::fake_api::FakeApi;
use crate::{TempDir, cmd, td, testdata};

/// What stderr says after `error: `.
enum Msg {
    /// The whole line.
    Exact(String),
    /// A prefix and a suffix of it (the middle is the OS's or a parser's).
    Around(String, String),
    /// Fragments that must all appear.
    Has(Vec<String>),
}

fn exact(s: impl Into<String>) -> Msg {
    Msg::Exact(s.into())
}

fn around(prefix: impl Into<String>, suffix: impl Into<String>) -> Msg {
    Msg::Around(prefix.into(), suffix.into())
}

fn has(parts: &[&str]) -> Msg {
    Msg::Has(parts.iter().map(|s| (*s).to_owned()).collect())
}

enum Stdin {
    Bytes(Vec<u8>),
    /// Writes forever, until the binary stops reading.
    Endless,
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    stdin: Stdin,
    msg: Msg,
    /// Files that must be byte-identical afterwards (inputs, and outputs that existed).
    unchanged: Vec<PathBuf>,
    /// Paths that must not exist afterwards.
    absent: Vec<PathBuf>,
    /// stdout may carry report lines (`ok …`, `FAIL …`), never a document.
    report: bool,
    /// stdout goes to /dev/full instead of a pipe.
    stdout_full: bool,
    /// The longest the run may take.
    limit: Duration,
}

fn case(name: &'static str, args: &[&str], stdin: &[u8], msg: Msg) -> Case {
    Case {
        name,
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        stdin: Stdin::Bytes(stdin.to_vec()),
        msg,
        unchanged: Vec::new(),
        absent: Vec::new(),
        report: false,
        stdout_full: false,
        limit: Duration::from_secs(60),
    }
}

impl Case {
    fn unchanged(mut self, p: &Path) -> Self {
        self.unchanged.push(p.to_path_buf());
        self
    }
    fn absent(mut self, p: &Path) -> Self {
        self.absent.push(p.to_path_buf());
        self
    }
    fn report(mut self) -> Self {
        self.report = true;
        self
    }
    fn endless(mut self) -> Self {
        self.stdin = Stdin::Endless;
        self
    }
    fn within(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }
    fn kubeconfig(mut self, kc: &str) -> Self {
        self.args.insert(0, kc.to_owned());
        self.args.insert(0, "--kubeconfig".to_owned());
        self
    }
}

struct Ran {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    took: Duration,
}

fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Runs one case, killing the binary if it outlives `limit` (the row then fails).
fn execute(c: &Case) -> Ran {
    let mut command = cmd();
    command
        .args(&c.args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    if c.stdout_full {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        command.stdout(full);
    } else {
        command.stdout(Stdio::piped());
    }
    let start = Instant::now();
    let mut child: Child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let feed = match &c.stdin {
        Stdin::Bytes(b) => {
            let b = b.clone();
            std::thread::spawn(move || {
                let _ = input.write_all(&b);
            })
        }
        Stdin::Endless => std::thread::spawn(move || {
            let chunk = vec![b'a'; 1 << 16];
            while input.write_all(&chunk).is_ok() {}
        }),
    };
    let out = child.stdout.take().map(drain);
    let err = drain(child.stderr.take().unwrap());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > c.limit {
            // Killed: reported as a failed row (no exit code, over the limit).
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    feed.join().unwrap();
    Ran {
        code: status.code(),
        stdout: out.map(|h| h.join().unwrap()).unwrap_or_default(),
        stderr: String::from_utf8(err.join().unwrap()).unwrap(),
        took,
    }
}

fn snapshot(paths: &[PathBuf]) -> Vec<Option<Vec<u8>>> {
    paths.iter().map(|p| std::fs::read(p).ok()).collect()
}

/// Dot-files left in `dir` (temporary files of an interrupted atomic write).
fn leftovers(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                stack.push(e.path());
            } else if name.starts_with('.') && name.ends_with(".tmp") {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

/// Runs every case; collects all failures, so one run shows every broken row.
fn check_all(cases: Vec<Case>, dir: &TempDir) {
    let mut failures = Vec::new();
    for c in &cases {
        let before = snapshot(&c.unchanged);
        let ran = execute(c);
        let mut why = Vec::new();
        if ran.code != Some(1) {
            why.push(format!("exit code {:?}, want 1", ran.code));
        }
        let lines: Vec<&str> = ran.stderr.lines().collect();
        if lines.len() != 1 || !ran.stderr.ends_with('\n') {
            why.push(format!("stderr is not one line: {:?}", ran.stderr));
        }
        match lines.first().and_then(|l| l.strip_prefix("error: ")) {
            None => why.push(format!(
                "stderr does not start with `error: `: {:?}",
                ran.stderr
            )),
            Some(msg) => {
                let good = match &c.msg {
                    Msg::Exact(want) => msg == want,
                    Msg::Around(p, s) => msg.starts_with(p.as_str()) && msg.ends_with(s.as_str()),
                    Msg::Has(parts) => parts.iter().all(|p| msg.contains(p.as_str())),
                };
                if !good {
                    why.push(format!("message {msg:?}, want {}", describe(&c.msg)));
                }
            }
        }
        let stdout = String::from_utf8_lossy(&ran.stdout);
        if c.report {
            if let Some(l) = stdout
                .lines()
                .find(|l| !(l.starts_with("FAIL ") || l.starts_with("ok ")))
            {
                why.push(format!("stdout has a non-report line: {l:?}"));
            }
        } else if !ran.stdout.is_empty() {
            why.push(format!("stdout is not empty: {:?}", truncate(&stdout)));
        }
        if snapshot(&c.unchanged) != before {
            why.push(format!("a file changed: {:?}", c.unchanged));
        }
        for p in &c.absent {
            if p.exists() {
                why.push(format!("{} was created", p.display()));
            }
        }
        if ran.took > c.limit {
            why.push(format!("took {:?}, limit {:?}", ran.took, c.limit));
        }
        let left = leftovers(&dir.0);
        if !left.is_empty() {
            why.push(format!("temporary files left: {left:?}"));
        }
        println!(
            "| {} | `{}` | {} |",
            c.name,
            lines.first().unwrap_or(&""),
            ran.code.unwrap_or(-1)
        );
        if !why.is_empty() {
            failures.push(format!("{}:\n    {}", c.name, why.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn describe(m: &Msg) -> String {
    match m {
        Msg::Exact(s) => format!("{s:?}"),
        Msg::Around(p, s) => format!("{p:?} … {s:?}"),
        Msg::Has(parts) => format!("containing {parts:?}"),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

fn garbage(len: usize) -> Vec<u8> {
    // Deterministic noise that starts with a byte no UTF-8 text starts with.
    let mut x: u32 = 0x9e37_79b9;
    let mut out = vec![0xff];
    while out.len() < len {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        out.push((x >> 24) as u8);
    }
    out
}

fn alias_bomb() -> String {
    let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(",");
        s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    s.push_str("apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\n");
    s.push_str("stringData: {k: v}\nbomb: *a9\n");
    s
}

const SECRET: &str =
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: n\nstringData:\n  a: b\n";

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: n\ndata:\n  a: b\n";

fn p(path: &std::path::Path) -> String {
    path.display().to_string()
}

#[test]
fn bad_input_fails_on_one_line_and_touches_nothing() {
    let dir = TempDir::new();
    let cert = td("keys/rsa4096.crt");
    let c: &str = &cert;

    // Inputs and targets.
    let big = dir.path("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(u64::try_from(MAX_INPUT_BYTES).unwrap() + 1)
        .unwrap();
    let junk = dir.write("junk.bin", garbage(4096));
    let der = {
        let pem = std::fs::read_to_string(testdata("keys/rsa4096.crt")).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        seal_api::decode_base64(&b64).unwrap()
    };
    let der_file = dir.write("cert.der", &der);
    let truncated = {
        let b64 = seal_api::encode_base64(&der[..der.len() / 2]);
        let body: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            body.join("\n")
        )
    };
    let truncated = dir.write("truncated.pem", truncated);
    // The marker is what is checked; the body need not decrypt (no passphrase is ever asked).
    let encrypted_key = dir.write(
        "encrypted.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFLTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIm7nXbWf4rZICAggA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let sealed = std::fs::read(testdata("sealed/opaque.strict.json")).unwrap();
    let good = dir.write("good.json", &sealed);
    let good_yaml = {
        let out = crate::ok(&["--cert", c, "-o", "yaml"], SECRET.as_bytes());
        dir.write("good.yaml", out)
    };
    let secret_file = dir.write("secret.yaml", SECRET);
    let cm_file = dir.write("cm.yaml", CONFIG_MAP);
    let secret_no_tls = dir.write(
        "secret-no-tls.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: mysecret}\ndata: {a: YQ==}\n",
    );
    let existing_out = dir.write("existing.json", b"previous content\n");
    let regular = dir.write("regular-file", b"a file, not a directory\n");
    let out_dir = dir.path("out-dir");
    std::fs::create_dir_all(&out_dir).unwrap();
    let missing = dir.path("missing.yaml");
    // A hybrid certificate with one byte of its ML-KEM key flipped: still DER, no longer signed.
    let tampered_pq = {
        let pem = std::fs::read_to_string(testdata("keys/rsa4096-pq.crt")).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut der = seal_api::decode_base64(&body).unwrap();
        let at = der.len() - 512 - 40 - 300;
        der[at] ^= 0x01;
        let b64 = seal_api::encode_base64(&der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        dir.write(
            "tampered-pq.crt",
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            ),
        )
    };
    let bad_seed_secret = dir.write(
        "bad-seed.yaml",
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: bad-seed}}\ndata:\n  tls.key: {}\n  mlkem768.seed: c2hvcnQ=\n",
            seal_api::encode_base64(&std::fs::read(testdata("keys/rsa4096.key")).unwrap())
        ),
    );

    // A closed port, and a listener that accepts (in the kernel's backlog) and never answers.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let kubeconfig = |port: u16, name: &str| {
        p(&dir.write(
            name,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{token: t}}\n"
            ),
        ))
    };
    let kc_closed = kubeconfig(closed, "kc-closed.yaml");
    let kc_silent = kubeconfig(silent_port, "kc-silent.yaml");
    let closed_url = format!("http://127.0.0.1:{closed}/v1/cert.pem");
    let silent_url = format!("http://127.0.0.1:{silent_port}/v1/cert.pem");

    let bad_utf8 =
        b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  x: \"\xff\xfe\"\n";
    let deep_flow = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let deep_block: String = (0..3000)
        .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
        .chain(std::iter::once(format!("{}v\n", "  ".repeat(3000))))
        .collect();
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let list_cm = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n  data: {a: b}\n";
    let utf8_msg = "input is not valid UTF-8 (invalid byte at offset 0); Ensure the input is valid and UTF-8 encoded";
    let too_big = "it is larger than 64 MiB, the most kubectl-seal reads; a Secret holds at most 1 MiB, so check the input";
    let key_b = td("keys/rsa4096-b.key");
    let in_missing_dir = dir.path("missing-dir/x.yaml");
    let under_file = regular.join("x.yaml");
    let reenc_target = dir.write("reenc/old.json", &sealed);
    let reenc_secret = dir.write("reenc/secret.yaml", SECRET);

    let cases = vec![
        // Reading input.
        case("empty stdin", &["--cert", c], b"", exact("no secrets found. Ensure the input is valid and UTF-8 encoded")),
        case("binary garbage", &["--cert", c], &garbage(4096), exact(utf8_msg)),
        case(
            "invalid UTF-8 in a value",
            &["--cert", c],
            bad_utf8,
            exact("input is not valid UTF-8 (invalid byte at offset 66); Ensure the input is valid and UTF-8 encoded"),
        ),
        case("YAML alias bomb", &["--cert", c], alias_bomb().as_bytes(), has(&["invalid YAML: ", "too large, too deeply nested or too many aliases", "; simplify the document"]))
            .within(Duration::from_secs(20)),
        case("stdin over MAX_INPUT_BYTES", &["--cert", c], &vec![b'a'; MAX_INPUT_BYTES + 1], exact(format!("failed to read standard input: {too_big}"))),
        case("endless stdin", &["--raw", "--name", "x", "-n", "y", "--cert", c], b"", exact(format!("failed to read standard input: {too_big}")))
            .endless(),
        case("file over MAX_INPUT_BYTES", &["-f", &p(&big), "--cert", c], b"", exact(format!("failed to read {}: {too_big}", p(&big)))),
        case("deeply nested YAML flow", &["--cert", c], deep_flow.as_bytes(), has(&["invalid YAML: line 1 ", "recursion limit exceeded"])),
        case("deeply nested YAML blocks", &["--cert", c], deep_block.as_bytes(), has(&["invalid YAML: ", "too deeply nested", "Depth"])),
        case("deeply nested JSON", &["--cert", c], deep_json.as_bytes(), exact("invalid JSON: recursion limit exceeded at line 1 column 128")),
        case("a ConfigMap", &["--cert", c], CONFIG_MAP.as_bytes(), exact("document 1 is a v1 ConfigMap, not a v1 Secret; pass only Secret objects")),
        case("a List holding a ConfigMap", &["--cert", c], list_cm.as_bytes(), exact("document 1 is a v1 ConfigMap, not a v1 Secret; pass only Secret objects")),
        case(
            "a Secret without a name",
            &["--cert", c],
            b"apiVersion: v1\nkind: Secret\nmetadata:\n  namespace: n\nstringData:\n  a: b\n",
            exact("missing metadata.name in input Secret"),
        ),
        case(
            "duplicate key in YAML",
            &["--cert", c],
            b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: n\nstringData:\n  a: b\n  a: c\n",
            exact("invalid YAML: line 8 column 3: duplicate mapping key: a (a key may appear only once)"),
        ),
        case("YAML syntax error", &["--cert", c], b"a: b: c\n", exact("invalid YAML: line 1 column 5: mapping values are not allowed in this context")),
        case(
            "non-base64 data",
            &["--cert", c],
            b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: n\ndata:\n  a: \"not base64!\"\n",
            exact("secret data item \"a\" is not valid base64: illegal base64 data at input byte 3"),
        ),
        case(
            "a number in stringData",
            &["--cert", c],
            b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: n\nstringData:\n  port: 5432\n",
            exact("secret stringData item \"port\" is not a string; quote it"),
        ),
        // Certificates.
        case("expired certificate", &["--cert", &td("keys/expired.crt")], SECRET.as_bytes(), exact("failed to encrypt using an expired certificate on January 1, 2021")),
        case("EC certificate", &["--cert", &td("keys/ec.crt")], SECRET.as_bytes(), exact(format!("cannot use certificate {}: the key is not an RSA key", td("keys/ec.crt")))),
        case("garbage as certificate", &["--cert", &p(&junk)], SECRET.as_bytes(), exact(format!("cannot use certificate {}: failed to read PEM CERTIFICATE: no such block", p(&junk)))),
        case("a private key as certificate", &["--cert", &td("keys/rsa4096.key")], SECRET.as_bytes(), exact(format!("cannot use certificate {}: failed to read PEM CERTIFICATE: no such block", td("keys/rsa4096.key")))),
        case("DER certificate", &["--cert", &p(&der_file)], SECRET.as_bytes(), exact(format!("cannot use certificate {}: failed to read PEM CERTIFICATE: no such block", p(&der_file)))),
        case("PEM of a truncated DER", &["--cert", &p(&truncated)], SECRET.as_bytes(), around(format!("cannot use certificate {}: invalid certificate: not a DER X.509 certificate: ", p(&truncated)), "")),
        case("missing certificate file", &["--cert", &p(&missing)], SECRET.as_bytes(), exact(format!("open {}: no such file or directory", p(&missing)))),
        case("cert URL, closed port", &["--cert", &closed_url], SECRET.as_bytes(), around(format!("cannot fetch certificate from {closed_url}: "), "; check the URL, or pass the certificate as a file with --cert"))
            .within(Duration::from_secs(10)),
        case("cert URL that never answers", &["--cert", &silent_url, "--request-timeout", "1s"], SECRET.as_bytes(), exact(format!("fetching {silent_url}: timed out after 1s; is the server reachable? (--request-timeout sets the limit)")))
            .within(Duration::from_secs(10)),
        case("API server, closed port", &[], SECRET.as_bytes(), around("cannot get service kube-system/sealed-secrets-controller: ", "; check the kubeconfig's server (or --server) is reachable, or seal offline with --cert"))
            .kubeconfig(&kc_closed)
            .within(Duration::from_secs(10)),
        case("API server that never answers", &["--request-timeout", "1s"], SECRET.as_bytes(), exact("getting service kube-system/sealed-secrets-controller: timed out after 1s; is the API server reachable? (--request-timeout sets the limit)"))
            .kubeconfig(&kc_silent)
            .within(Duration::from_secs(10)),
        // Writing output.
        case("-w into a missing directory", &["--cert", c, "-w", &p(&in_missing_dir)], SECRET.as_bytes(), exact(format!("cannot write {}: {} does not exist; create it first", p(&in_missing_dir), p(&dir.path("missing-dir")))))
            .absent(&dir.path("missing-dir")),
        case("-w under a regular file", &["--cert", c, "-w", &p(&under_file)], SECRET.as_bytes(), exact(format!("cannot write {}: {} is not a directory", p(&under_file), p(&regular))))
            .unchanged(&regular),
        case("-w a directory", &["--cert", c, "-w", &p(&out_dir)], SECRET.as_bytes(), exact(format!("cannot write {}: it is a directory; give a file path", p(&out_dir)))),
        case("-w an existing file, bad input", &["--cert", c, "-w", &p(&existing_out)], &garbage(64), exact(utf8_msg))
            .unchanged(&existing_out),
        case("-w an existing file, expired certificate", &["--cert", &td("keys/expired.crt"), "-w", &p(&existing_out)], SECRET.as_bytes(), exact("failed to encrypt using an expired certificate on January 1, 2021"))
            .unchanged(&existing_out),
        // --merge-into.
        case("--merge-into a Secret", &["--cert", c, "--merge-into", &p(&secret_file)], SECRET.as_bytes(), exact(format!("cannot merge into {}: document 1 is a v1 Secret, not a bitnami.com/v1alpha1 SealedSecret; pass only SealedSecret objects", p(&secret_file))))
            .unchanged(&secret_file),
        case("--merge-into a ConfigMap", &["--cert", c, "--merge-into", &p(&cm_file)], SECRET.as_bytes(), exact(format!("cannot merge into {}: document 1 is a v1 ConfigMap, not a bitnami.com/v1alpha1 SealedSecret; pass only SealedSecret objects", p(&cm_file))))
            .unchanged(&cm_file),
        case("--merge-into garbage", &["--cert", c, "--merge-into", &p(&junk)], SECRET.as_bytes(), exact(format!("cannot merge into {}: {utf8_msg}", p(&junk))))
            .unchanged(&junk),
        case("--merge-into a good file, garbage stdin", &["--cert", c, "--merge-into", &p(&good)], &garbage(64), exact(utf8_msg))
            .unchanged(&good),
        case("--merge-into a good file, ConfigMap stdin", &["--cert", c, "--merge-into", &p(&good_yaml)], CONFIG_MAP.as_bytes(), exact("document 1 is a v1 ConfigMap, not a v1 Secret; pass only Secret objects"))
            .unchanged(&good_yaml),
        case("--merge-into a missing file", &["--cert", c, "--merge-into", &p(&missing)], SECRET.as_bytes(), exact(format!("open {}: no such file or directory", p(&missing))))
            .absent(&missing),
        // set / unset.
        case("set a missing file", &["--cert", c, "set", &p(&missing), "k", "--from-literal", "v"], b"", exact(format!("open {}: no such file or directory", p(&missing))))
            .absent(&missing),
        case("set a Secret", &["--cert", c, "set", &p(&secret_file), "k", "--from-literal", "v"], b"", exact(format!("cannot read {}: document 1 is a v1 Secret, not a bitnami.com/v1alpha1 SealedSecret; pass only SealedSecret objects", p(&secret_file))))
            .unchanged(&secret_file),
        case("set with an expired certificate", &["--cert", &td("keys/expired.crt"), "set", &p(&good_yaml), "k", "--from-literal", "v"], b"", exact("failed to encrypt using an expired certificate on January 1, 2021"))
            .unchanged(&good_yaml),
        case("set with a value over MAX_INPUT_BYTES", &["--cert", c, "set", &p(&good_yaml), "k", "--from-file", &p(&big)], b"", exact(format!("failed to read {}: {too_big}", p(&big))))
            .unchanged(&good_yaml),
        case("unset a missing file", &["unset", &p(&missing), "k"], b"", exact(format!("open {}: no such file or directory", p(&missing))))
            .absent(&missing),
        case("unset a ConfigMap", &["unset", &p(&cm_file), "k"], b"", exact(format!("cannot read {}: document 1 is a v1 ConfigMap, not a bitnami.com/v1alpha1 SealedSecret; pass only SealedSecret objects", p(&cm_file))))
            .unchanged(&cm_file),
        case("unset garbage", &["unset", &p(&junk), "k"], b"", exact(format!("{} is not UTF-8: invalid utf-8 sequence of 1 bytes from index 0", p(&junk))))
            .unchanged(&junk),
        case("unset a missing key", &["unset", &p(&good), "nokey"], b"", exact(format!("{} has no item \"nokey\"; its items are: api-token, password, username", p(&good))))
            .unchanged(&good),
        // validate.
        case("validate garbage", &["--cert", c, "validate", &p(&junk)], b"", exact("1 of 1 files failed validation"))
            .report()
            .unchanged(&junk),
        case("--validate garbage", &["--validate"], &garbage(64), exact(utf8_msg)),
        // --pq.
        case("--pq with a certificate without an ML-KEM key", &["--pq", "--cert", c], SECRET.as_bytes(), exact("--pq needs a certificate with an ML-KEM-768 key, and this one has none (an upstream controller's key, or one made before post-quantum support): renew the controller's key (restart it with --key-cutoff-time set to now, docs/pq.md), then fetch the certificate again")),
        case("--raw --pq with a certificate without an ML-KEM key", &["--raw", "--pq", "--name", "x", "-n", "y", "--cert", c], b"v", exact("--pq needs a certificate with an ML-KEM-768 key, and this one has none (an upstream controller's key, or one made before post-quantum support): renew the controller's key (restart it with --key-cutoff-time set to now, docs/pq.md), then fetch the certificate again")),
        case("--merge-into --pq with a certificate without an ML-KEM key", &["--pq", "--cert", c, "--merge-into", &p(&good_yaml)], SECRET.as_bytes(), exact("--pq needs a certificate with an ML-KEM-768 key, and this one has none (an upstream controller's key, or one made before post-quantum support): renew the controller's key (restart it with --key-cutoff-time set to now, docs/pq.md), then fetch the certificate again"))
            .unchanged(&good_yaml),
        case("set --pq with a certificate without an ML-KEM key", &["--cert", c, "set", "--pq", &p(&good_yaml), "k", "--from-literal", "v"], b"", exact("--pq needs a certificate with an ML-KEM-768 key, and this one has none (an upstream controller's key, or one made before post-quantum support): renew the controller's key (restart it with --key-cutoff-time set to now, docs/pq.md), then fetch the certificate again"))
            .unchanged(&good_yaml),
        case("--pq with an ML-KEM key the signature does not cover", &["--pq", "--cert", &p(&tampered_pq)], SECRET.as_bytes(), exact("--pq: cannot use the certificate's ML-KEM key: invalid certificate: its RSA self-signature does not verify, so its ML-KEM key cannot be trusted")),
        case("reencrypt --pq with a certificate without an ML-KEM key", &["--cert", c, "--recovery-private-key", &td("keys/rsa4096.key"), "reencrypt", "--pq", &p(&good_yaml)], b"", has(&["1 file(s) could not be re-encrypted (FAIL lines above); 0 file(s) changed"]))
            .report()
            .unchanged(&good_yaml),
        case("ui --pq", &["--cert", c, "ui", "--pq", "--no-browser"], b"", exact("--pq: the sealing page seals classical items only (browsers have no ML-KEM-768 yet); seal post-quantum with kubectl seal --pq, or unset SEALED_SECRETS_PQ for ui")),
        case("--recovery-unseal with a bad mlkem768.seed", &["--recovery-unseal", "--recovery-private-key", &p(&bad_seed_secret)], &sealed, exact(format!("failed to load private key(s) from {}: Secret bad-seed: mlkem768.seed: invalid ML-KEM-768 key: a seed is 64 bytes (d ‖ z)", p(&bad_seed_secret)))),
        // reencrypt (offline).
        case("reencrypt a non-SealedSecret file", &["--cert", c, "--recovery-private-key", &td("keys/rsa4096.key"), "reencrypt", &p(&reenc_secret)], b"", has(&["1 file(s) could not be re-encrypted (FAIL lines above); 0 file(s) changed, 0 already sealed with SHA256:"]))
            .report()
            .unchanged(&reenc_secret),
        case("reencrypt without a key that opens it", &["--cert", c, "--recovery-private-key", &key_b, "reencrypt", &p(&reenc_target)], b"", has(&["1 file(s) could not be re-encrypted (FAIL lines above); 0 file(s) changed"]))
            .report()
            .unchanged(&reenc_target),
        case("--re-encrypt -f without a kubeconfig", &["--re-encrypt", "-f", &p(&good)], b"", around("cannot read the kubeconfig (", "); set --kubeconfig or KUBECONFIG, or use --cert to seal offline"))
            .unchanged(&good),
        // --recovery-unseal.
        case("--recovery-unseal with a wrong key", &["--recovery-unseal", "--recovery-private-key", &key_b], &sealed, exact("cannot unseal standard input: cannot unseal mysecret: no key could decrypt secret (api-token, password, username)")),
        case("--recovery-unseal with a certificate as key", &["--recovery-unseal", "--recovery-private-key", c], &sealed, exact(format!("failed to load private key(s) from {c}: failed to read PEM RSA PRIVATE KEY or PRIVATE KEY: no such block"))),
        case("--recovery-unseal with an EC key", &["--recovery-unseal", "--recovery-private-key", &td("keys/ec.key")], &sealed, exact(format!("failed to load private key(s) from {}: the key is not an RSA key", td("keys/ec.key")))),
        case("--recovery-unseal with an encrypted key", &["--recovery-unseal", "--recovery-private-key", &p(&encrypted_key)], &sealed, exact(format!("failed to load private key(s) from {}: the key is encrypted with a passphrase; decrypt it first, e.g. openssl pkey -in KEY -out PLAIN.key (and keep PLAIN.key private)", p(&encrypted_key)))),
        case("--recovery-unseal with garbage as key", &["--recovery-unseal", "--recovery-private-key", &p(&junk)], &sealed, around(format!("failed to load private key(s) from {}: not UTF-8: ", p(&junk)), "")),
        case("--recovery-unseal with a Secret without tls.key", &["--recovery-unseal", "--recovery-private-key", &p(&secret_no_tls)], &sealed, exact(format!("failed to load private key(s) from {}: Secret mysecret has no tls.key", p(&secret_no_tls)))),
        case("--recovery-unseal of garbage", &["--recovery-unseal", "--recovery-private-key", &td("keys/rsa4096.key")], &garbage(64), exact(format!("cannot unseal standard input: {utf8_msg}"))),
    ];
    let mut cases = cases;
    if std::path::Path::new("/dev/full").exists() {
        let mut full = case(
            "stdout is full",
            &["--cert", c],
            SECRET.as_bytes(),
            exact("failed to write to standard output: No space left on device (os error 28)"),
        );
        full.stdout_full = true;
        cases.push(full);
    }
    #[cfg(unix)]
    {
        let link = dir.path("dangling.json");
        std::os::unix::fs::symlink(dir.path("nowhere.json"), &link).unwrap();
        cases.push(
            case(
                "-w a dangling symlink",
                &["--cert", c, "-w", &p(&link)],
                SECRET.as_bytes(),
                exact(format!(
                    "cannot write {}: it is a symlink to a missing file; create the file or remove the link",
                    p(&link)
                )),
            )
            .absent(&dir.path("nowhere.json")),
        );
    }
    check_all(cases, &dir);
    drop(silent);
}

#[test]
fn re_encrypt_leaves_the_file_alone_when_the_controller_refuses() {
    let api = FakeApi::with_default_controller();
    let dir = TempDir::new();
    let f = dir.write(
        "a.json",
        std::fs::read(testdata("sealed/opaque.strict.json")).unwrap(),
    );
    let kc = p(&api.kubeconfig);
    api.set_status(409);
    check_all(
        vec![
            case(
                "--re-encrypt -f, controller answers 409",
                &["--re-encrypt", "-f", &p(&f)],
                b"",
                exact("unable to rotate secret"),
            )
            .kubeconfig(&kc)
            .unchanged(&f),
        ],
        &dir,
    );
    api.set_status(500);
    check_all(
        vec![
            case(
                "--re-encrypt -f, controller answers 500",
                &["--re-encrypt", "-f", &p(&f)],
                b"",
                exact("cannot re-encrypt secret: HTTP 500 Internal Server Error: status 500"),
            )
            .kubeconfig(&kc)
            .unchanged(&f),
        ],
        &dir,
    );
}

#[test]
fn a_secret_without_a_namespace_seals_into_default_without_a_kubeconfig() {
    let out = crate::ok(
        &["--cert", &td("keys/rsa4096.crt")],
        b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  k: v\n",
    );
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["metadata"]["namespace"], "default");
}

#[test]
fn unsealed_plaintext_written_with_w_is_private_and_keys_are_never_written() {
    let dir = TempDir::new();
    let out = dir.path("unsealed.json");
    let sealed = std::fs::read(testdata("sealed/opaque.strict.json")).unwrap();
    let (key, out_path) = (td("keys/rsa4096.key"), p(&out));
    let unseal = [
        "--recovery-unseal",
        "--recovery-private-key",
        &key,
        "-w",
        &out_path,
    ];
    let stdout = crate::ok(&unseal, &sealed);
    assert!(stdout.is_empty());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"kind\": \"Secret\""), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "plaintext must not be readable by others");
        // Replacing a file that was readable by others makes it private too.
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
        crate::ok(&unseal, &sealed);
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Offline re-encryption reads keys and rewrites only the sealed file: nothing in the
    // directory holds key material afterwards.
    let target = dir.write(
        "tree/s.yaml",
        crate::ok(
            &["--cert", &td("keys/rsa4096-b.crt"), "-o", "yaml"],
            SECRET.as_bytes(),
        ),
    );
    let keys = format!("{},{}", td("keys/rsa4096.key"), td("keys/rsa4096-b.key"));
    crate::ok(
        &[
            "reencrypt",
            &p(&dir.path("tree")),
            "--recovery-private-key",
            &keys,
            "--cert",
            &td("keys/rsa4096.crt"),
        ],
        b"",
    );
    let mut files = vec![out, target];
    files.extend(
        std::fs::read_dir(dir.path("tree"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains("PRIVATE KEY"), "{} holds a key", f.display());
    }
}

#[test]
fn w_through_a_symlink_replaces_the_target_and_keeps_the_link() {
    #[cfg(unix)]
    {
        let dir = TempDir::new();
        let target = dir.write("real.json", b"old\n");
        let link = dir.path("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        crate::ok(
            &["--cert", &td("keys/rsa4096.crt"), "-w", &p(&link)],
            SECRET.as_bytes(),
        );
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::read_to_string(&target)
                .unwrap()
                .contains("SealedSecret")
        );
    }
}
