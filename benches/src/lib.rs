//! Shared helpers of the seal benchmarks: sizes (full or smoke), statistics, fixture and cached
//! generated keys, and SealedSecret builders. See `benches/README.md`.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use seal_api::crypto::{PrivateKey, PublicKey};
use seal_api::{KeyEntry, SealOptions, SealedSecret, seal_secret};

/// True for the CI smoke size: `SEAL_BENCH_SMOKE=1`.
pub fn smoke() -> bool {
    std::env::var("SEAL_BENCH_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A size from `SEAL_BENCH_<NAME>`, else `full` (or `smoke` under [`smoke`]).
pub fn size(name: &str, full: usize, smoke_size: usize) -> usize {
    std::env::var(format!("SEAL_BENCH_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke() { smoke_size } else { full })
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_path_buf()
}

/// The target directory (`CARGO_TARGET_DIR` or `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace().join(p)
            }
        })
        .unwrap_or_else(|| workspace().join("target"))
}

/// A file under `testdata/`.
pub fn testdata(path: &str) -> String {
    let p = workspace().join("testdata").join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// A committed fixture key, `testdata/keys/<stem>.key`.
pub fn fixture_key(stem: &str) -> PrivateKey {
    PrivateKey::from_pem(&testdata(&format!("keys/{stem}.key"))).expect("fixture key parses")
}

/// `n` RSA keys of `bits` bits, generated once with aws-lc-rs and cached as PKCS#8 DER under
/// `target/seal-bench-keys/` (never committed). Index 0 is the oldest.
pub fn generated_keys(n: usize, bits: usize) -> Vec<PrivateKey> {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    let dir = target_dir().join("seal-bench-keys");
    std::fs::create_dir_all(&dir).expect("creating target/seal-bench-keys");
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        other => panic!("unsupported key size {other}"),
    };
    let started = Instant::now();
    let mut made = 0;
    let keys = (0..n)
        .map(|i| {
            let path = dir.join(format!("rsa{bits}-{i:02}.pk8.der"));
            let der = match std::fs::read(&path) {
                Ok(der) => der,
                Err(_) => {
                    let pair = KeyPair::generate(size).expect("aws-lc-rs generates a key");
                    let der = pair.as_der().expect("PKCS#8 export").as_ref().to_vec();
                    std::fs::write(&path, &der).expect("caching a generated key");
                    made += 1;
                    der
                }
            };
            PrivateKey::from_pkcs8_der(&der).expect("cached key parses")
        })
        .collect();
    if made > 0 {
        println!(
            "generated {made} RSA-{bits} keys in {:.1} s (cached in {})",
            started.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    keys
}

/// A keyring entry for `key`, `age_days` old (the keyring orders newest first).
pub fn entry(key: PrivateKey, age_days: u64, source: &str) -> KeyEntry {
    let t = SystemTime::now() - Duration::from_secs(age_days * 86_400);
    KeyEntry::new(key, None, t, source)
}

/// A Secret `ns/name` with `items` items of `value_len` bytes each.
pub fn secret(ns: &str, name: &str, items: usize, value_len: usize) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(ns.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            (0..items)
                .map(|i| {
                    let v: Vec<u8> = format!("{name}-{i}-")
                        .bytes()
                        .cycle()
                        .take(value_len)
                        .collect();
                    (format!("item{i}"), ByteString(v))
                })
                .collect(),
        ),
        ..Secret::default()
    }
}

/// A strict-scope SealedSecret of `secret`, with or without the key-hint annotation.
pub fn sealed(secret: &Secret, key: &PublicKey, key_hint: bool) -> SealedSecret {
    let opts = SealOptions {
        key_hint,
        ..SealOptions::default()
    };
    seal_secret(secret, key, &opts).expect("sealing")
}

/// Median, min and max of a sample.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Stats {
    /// The statistics of `xs` (not empty).
    pub fn of(xs: &[f64]) -> Stats {
        assert!(!xs.is_empty(), "no samples");
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Stats {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(1);
        write!(f, "{:.p$} ({:.p$}–{:.p$})", self.median, self.min, self.max)
    }
}

/// Runs `f` and returns its wall time in seconds and its result.
pub fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed().as_secs_f64(), out)
}

/// The number of CPUs this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The 1-minute load average, for the record.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

/// PASS or MISS; at the smoke size the targets do not apply.
pub fn verdict(ok: bool) -> &'static str {
    match (smoke(), ok) {
        (true, _) => "n/a at smoke size",
        (false, true) => "PASS",
        (false, false) => "MISS",
    }
}
