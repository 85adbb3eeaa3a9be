//! Hybrid (RSA-OAEP + ML-KEM-768, `--pq`) against classical sealing and opening, per item, on
//! the committed RSA-4096 fixture key and its ML-KEM seed, in one run. See benches/README.md.
//!
//! `cargo bench -p seal-benches --bench pq` (aws-lc-rs), and with `--no-default-features
//! --features pure-rust` for the `rsa`/`ml-kem` backend. `SEAL_BENCH_SMOKE=1` for the CI size.
//!
//! Each round times `ITEMS` seals and `ITEMS` opens of a 64-byte value in each format, the two
//! formats interleaved so background load hits both. Reported: medians (min–max) of µs per item
//! and the ratio hybrid / classical. Expectation: ML-KEM-768 is small next to RSA-4096, so the
//! open ratio stays near 1 (RSA private operation dominates) and the seal ratio is larger (the
//! RSA public operation is cheap, so ML-KEM's share shows).

use seal_api::crypto::{PrivateKey, open, seal, seal_hybrid};
use seal_benches::{Stats, fixture_key, loadavg, testdata, timed};

const BACKEND: &str = if cfg!(feature = "aws-lc") {
    "aws-lc-rs"
} else {
    "rsa + ml-kem crates (pure-rust)"
};

fn seed(stem: &str) -> Vec<u8> {
    let hex = testdata(&format!("keys/{stem}.mlkem768.seed"));
    let hex = hex.trim();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex seed"))
        .collect()
}

fn main() {
    let smoke = seal_benches::smoke();
    let stem = if smoke { "rsa2048" } else { "rsa4096" };
    let rounds = seal_benches::size("ROUNDS", 9, 2);
    let items = seal_benches::size("ITEMS", 40, 3);
    let key: PrivateKey = fixture_key(stem)
        .with_mlkem_seed(&seed(stem))
        .expect("fixture seed loads");
    let public = key.public_key();
    let pq = key.mlkem_public_key().expect("hybrid key").clone();
    let label = b"bench/pq-item";
    let value = [0x5au8; 64];
    println!(
        "# pq bench: backend {BACKEND}, {stem}, {rounds} rounds of {items} items, load {}{}",
        loadavg(),
        if smoke { ", SMOKE size" } else { "" }
    );

    let us_per_item = |secs: f64| secs * 1e6 / items as f64;
    let (mut seal_c, mut seal_h, mut open_c, mut open_h) = (vec![], vec![], vec![], vec![]);
    let (mut seal_r, mut open_r) = (vec![], vec![]);
    let mut sizes = (0, 0);
    for _ in 0..rounds {
        let (t, classical) = timed(|| {
            (0..items)
                .map(|_| seal(&public, label, &value).expect("seals"))
                .collect::<Vec<_>>()
        });
        seal_c.push(us_per_item(t));
        let (t, hybrid) = timed(|| {
            (0..items)
                .map(|_| seal_hybrid(&public, &pq, label, &value).expect("seals"))
                .collect::<Vec<_>>()
        });
        seal_h.push(us_per_item(t));
        let (t, ()) = timed(|| {
            for sealed in &classical {
                std::hint::black_box(open(&[&key], label, sealed).expect("opens"));
            }
        });
        open_c.push(us_per_item(t));
        let (t, ()) = timed(|| {
            for sealed in &hybrid {
                std::hint::black_box(open(&[&key], label, sealed).expect("opens"));
            }
        });
        open_h.push(us_per_item(t));
        seal_r.push(seal_h[seal_h.len() - 1] / seal_c[seal_c.len() - 1]);
        open_r.push(open_h[open_h.len() - 1] / open_c[open_c.len() - 1]);
        sizes = (classical[0].len(), hybrid[0].len());
    }
    println!();
    println!("| per 64-byte item | classical µs | hybrid µs | hybrid / classical |");
    println!("|---|---:|---:|---:|");
    println!(
        "| seal | {:.1} | {:.1} | {:.2} |",
        Stats::of(&seal_c),
        Stats::of(&seal_h),
        Stats::of(&seal_r)
    );
    println!(
        "| open (unseal) | {:.1} | {:.1} | {:.2} |",
        Stats::of(&open_c),
        Stats::of(&open_h),
        Stats::of(&open_r)
    );
    println!(
        "| sealed size, bytes | {} | {} | {:.2} |",
        sizes.0,
        sizes.1,
        sizes.1 as f64 / sizes.0 as f64
    );
}
