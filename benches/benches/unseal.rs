//! Unseal throughput (SPEC §8 workers) and key lookup with many keys (SPEC §2).
//!
//! `cargo bench -p seal-benches --bench unseal` (aws-lc-rs, the default backend), and
//! `cargo bench -p seal-benches --bench unseal --no-default-features --features pure-rust`
//! for the `rsa`-crate backend. `SEAL_BENCH_SMOKE=1` for the CI size. See benches/README.md.
//!
//! 1. Single-core RSA-OAEP private operations per second straight through aws-lc-rs and the
//!    `rsa` crate (blinded, as seal's pure-Rust backend does): the baselines.
//! 2. `seal_api::unseal` — the function the controller's worker pool runs (`unseal_on_pool` in
//!    controller/src/controller/reconcile.rs, private) — on as many threads as the controller's default
//!    `--workers`, over 5-item SealedSecrets under one key, with the controller's options.
//!    Target: items/s ≥ 0.9 × fastest baseline × cores.
//! 3. One object at a time, SealedSecrets sealed with the oldest of 24 keys vs a keyring of
//!    that key alone, with and without the key-hint annotation. Target with the hint: ≤ 1.1×.

use std::sync::atomic::{AtomicUsize, Ordering};

use seal_api::crypto::PrivateKey;
use seal_api::{Keyring, SealedSecret, UnsealOptions};
use seal_benches::{Stats, cores, entry, fixture_key, generated_keys, loadavg, sealed, secret};

const BACKEND: &str = if cfg!(feature = "aws-lc") {
    "aws-lc-rs"
} else {
    "rsa crate (pure-rust)"
};

fn main() {
    let smoke = seal_benches::smoke();
    let bits = if smoke { 2048 } else { 4096 };
    let rounds = seal_benches::size("ROUNDS", 9, 2);
    let base_ops = seal_benches::size("BASE_OPS", 30, 3);
    let objects = seal_benches::size("OBJECTS", 30, 2);
    let nkeys = seal_benches::size("KEYS", 24, 3);
    let lookup_objects = seal_benches::size("LOOKUP_OBJECTS", 6, 2);
    let cores = cores();
    let workers = cores.max(2); // the controller's default --workers (config.rs default_workers)
    println!(
        "# unseal bench: seal backend {BACKEND}, RSA-{bits}, {cores} cores, {workers} workers, \
         {rounds} rounds, load {}{}",
        loadavg(),
        if smoke { ", SMOKE size" } else { "" }
    );

    throughput(bits, rounds, base_ops, objects, workers, cores);
    lookup(bits, rounds, nkeys, lookup_objects);
}

/// The PKCS#8 DER of a fixture key, for the raw baselines.
fn fixture_pkcs8(stem: &str) -> Vec<u8> {
    let pem = seal_benches::testdata(&format!("keys/{stem}.pk8.key"));
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    seal_api::decode_base64(&b64).expect("fixture PEM base64")
}

/// Raw single-core OAEP private operations per second, one sample per call.
struct Baselines {
    block: Vec<u8>,
    label: Vec<u8>,
    aws: aws_lc_rs::rsa::OaepPrivateDecryptingKey,
    rsa: rsa::RsaPrivateKey,
}

impl Baselines {
    fn new(stem: &str, key: &PrivateKey) -> Self {
        use rsa::pkcs8::DecodePrivateKey as _;
        let der = fixture_pkcs8(stem);
        let aws = aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(
            aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&der).expect("aws-lc-rs key"),
        )
        .expect("OAEP key");
        let rsa = rsa::RsaPrivateKey::from_pkcs8_der(&der).expect("rsa key");
        let label = b"bench/baseline".to_vec();
        let sealed =
            seal_api::crypto::seal(&key.public_key(), &label, &[7u8; 32]).expect("sealing");
        let n = key.modulus_len();
        let block = sealed[2..2 + n].to_vec();
        let b = Self {
            block,
            label,
            aws,
            rsa,
        };
        assert_eq!(b.aws_once(), 32);
        assert_eq!(b.rsa_once(), 32);
        b
    }

    fn aws_once(&self) -> usize {
        let mut out = vec![0u8; self.aws.min_output_size()];
        self.aws
            .decrypt(
                &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
                &self.block,
                &mut out,
                Some(&self.label),
            )
            .expect("aws-lc-rs OAEP decrypt")
            .len()
    }

    fn rsa_once(&self) -> usize {
        let label = std::str::from_utf8(&self.label).expect("utf-8 label");
        self.rsa
            .decrypt_blinded(
                &mut rand::thread_rng(),
                rsa::Oaep::new_with_label::<sha2::Sha256, _>(label),
                &self.block,
            )
            .expect("rsa OAEP decrypt")
            .len()
    }

    /// Operations per second over `n` operations of `f` on this thread.
    fn rate(n: usize, f: impl Fn() -> usize) -> f64 {
        let (secs, ()) = seal_benches::timed(|| {
            for _ in 0..n {
                std::hint::black_box(f());
            }
        });
        n as f64 / secs
    }
}

/// The options `unseal_on_pool` passes on a first unseal (no existing Secret).
fn controller_opts() -> UnsealOptions {
    UnsealOptions {
        accept_deprecated_v1_data: true,
        preferred_keys: Vec::new(),
        diagnose_scope: true,
        max_rsa_attempts: None,
    }
}

/// Unseals every object once on `workers` threads, each taking the next object (as the
/// controller's semaphore-bounded `spawn_blocking` pool does). Returns items per second.
fn unseal_parallel(objs: &[SealedSecret], keyring: &Keyring, workers: usize) -> f64 {
    let next = AtomicUsize::new(0);
    let opts = controller_opts();
    let items: usize = objs.iter().map(|o| o.spec.encrypted_data.len()).sum();
    let (secs, ()) = seal_benches::timed(|| {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(ss) = objs.get(i) else { break };
                        let u = seal_api::unseal(ss, keyring, &opts).expect("unseals");
                        std::hint::black_box(u);
                    }
                });
            }
        });
    });
    items as f64 / secs
}

fn throughput(
    bits: usize,
    rounds: usize,
    base_ops: usize,
    objects: usize,
    workers: usize,
    cores: usize,
) {
    let stem = if bits == 4096 { "rsa4096" } else { "rsa2048" };
    let key = fixture_key(stem);
    let base = Baselines::new(stem, &key);
    let objs: Vec<SealedSecret> = (0..objects)
        .map(|i| {
            sealed(
                &secret("bench", &format!("s{i}"), 5, 32),
                &key.public_key(),
                true,
            )
        })
        .collect();
    let mut keyring = Keyring::new();
    keyring.insert(entry(key, 0, stem));

    let (mut aws, mut rsa, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so a change in background load hits every series alike.
    for _ in 0..rounds {
        aws.push(Baselines::rate(base_ops, || base.aws_once()));
        rsa.push(Baselines::rate(base_ops.div_ceil(3), || base.rsa_once()));
        ours.push(unseal_parallel(&objs, &keyring, workers));
    }
    // Per round: items/s over (the faster baseline of that round × cores).
    let per_round: Vec<f64> = ours
        .iter()
        .zip(aws.iter().zip(&rsa))
        .map(|(o, (a, r))| o / (a.max(*r) * cores as f64))
        .collect();
    let per_round = Stats::of(&per_round);
    let (aws, rsa, ours) = (Stats::of(&aws), Stats::of(&rsa), Stats::of(&ours));
    let fastest = aws.median.max(rsa.median);
    let own = if cfg!(feature = "aws-lc") { aws } else { rsa };
    let ratio = ours.median / (fastest * cores as f64);
    println!("\n## 1. unseal throughput, RSA-{bits}, 5-item SealedSecrets, one key");
    println!("| series | ops or items per second, median (min–max) |");
    println!("|---|---|");
    println!("| baseline: aws-lc-rs OAEP decrypt, 1 core | {aws:.0} |");
    println!("| baseline: rsa crate OAEP decrypt_blinded, 1 core | {rsa:.0} |");
    println!("| seal_api::unseal ({BACKEND}), {workers} threads, items/s | {ours:.0} |");
    println!(
        "ratio: items/s ÷ (fastest baseline × {cores} cores) = {ratio:.2} of the medians, \
         {per_round:.2} per round (target ≥ 0.90: {}); vs its own backend's baseline × cores: {:.2}",
        seal_benches::verdict(ratio >= 0.9),
        ours.median / (own.median * cores as f64)
    );
}

fn lookup(bits: usize, rounds: usize, nkeys: usize, objects: usize) {
    let keys = generated_keys(nkeys, bits);
    let oldest = generated_keys(1, bits).pop().expect("one key");
    let oldest_id = oldest.public_key().key_id();
    let with_hint: Vec<SealedSecret> = (0..objects)
        .map(|i| {
            sealed(
                &secret("bench", &format!("h{i}"), 5, 32),
                &oldest.public_key(),
                true,
            )
        })
        .collect();
    let without: Vec<SealedSecret> = (0..objects)
        .map(|i| {
            sealed(
                &secret("bench", &format!("n{i}"), 5, 32),
                &oldest.public_key(),
                false,
            )
        })
        .collect();
    let mut one = Keyring::new();
    one.insert(entry(oldest, nkeys as u64, "oldest"));
    let mut many = Keyring::new();
    for (i, k) in keys.into_iter().enumerate() {
        // Index 0 is the oldest.
        many.insert(entry(k, (nkeys - i) as u64, &format!("k{i}")));
    }
    assert_eq!(
        many.iter().last().map(|e| e.id().to_owned()),
        Some(oldest_id.clone())
    );
    let preferred = UnsealOptions {
        preferred_keys: vec![oldest_id],
        ..controller_opts()
    };
    // Milliseconds per object, one thread.
    let per_object = |objs: &[SealedSecret], kr: &Keyring, opts: &UnsealOptions| {
        let (secs, ()) = seal_benches::timed(|| {
            for ss in objs {
                std::hint::black_box(seal_api::unseal(ss, kr, opts).expect("unseals"));
            }
        });
        secs * 1000.0 / objs.len() as f64
    };
    let plain = controller_opts();
    let cases: [(&str, &[SealedSecret], &Keyring, &UnsealOptions); 5] = [
        ("hint, 1 key", &with_hint, &one, &plain),
        ("hint, N keys", &with_hint, &many, &plain),
        ("no hint, 1 key", &without, &one, &plain),
        ("no hint, N keys", &without, &many, &plain),
        (
            "no hint, N keys, last key from the digest (re-unseal)",
            &without,
            &many,
            &preferred,
        ),
    ];
    let mut ms: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for (i, (_, objs, kr, opts)) in cases.iter().enumerate() {
            ms[i].push(per_object(objs, kr, opts));
        }
    }
    // Per-round ratios against the 1-key case of the same round.
    let ratio = |i: usize, base: usize| {
        Stats::of(
            &ms[i]
                .iter()
                .zip(&ms[base])
                .map(|(a, b)| a / b)
                .collect::<Vec<_>>(),
        )
    };
    println!(
        "\n## 2. key lookup: sealed with the oldest of N = {nkeys} RSA-{bits} keys, 5 items, \
         1 thread"
    );
    println!("| case | ms per object, median (min–max) | ratio to 1 key, median (min–max) |");
    println!("|---|---|---|");
    for (i, (name, ..)) in cases.iter().enumerate() {
        let base = if i < 2 { 0 } else { 2 };
        println!(
            "| {name} | {:.2} | {:.2} |",
            Stats::of(&ms[i]),
            ratio(i, base)
        );
    }
    let hinted = ratio(1, 0).median;
    println!(
        "ratio with the hint: {hinted:.2} (target ≤ 1.10: {}); without: {:.2}",
        seal_benches::verdict(hinted <= 1.1),
        ratio(3, 2).median
    );
}
