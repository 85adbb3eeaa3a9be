//! Fixture loading for unit tests: the committed keys and certs in `testdata/keys/`.

use std::path::PathBuf;

use crate::{Certificate, PrivateKey};

pub(crate) fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keys")
}

pub(crate) fn read(name: &str) -> String {
    let path = keys_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub(crate) fn key(stem: &str) -> PrivateKey {
    PrivateKey::from_pem(&read(&format!("{stem}.key"))).expect("fixture key loads")
}

pub(crate) fn cert(stem: &str) -> Certificate {
    Certificate::from_pem(read(&format!("{stem}.crt")).as_bytes()).expect("fixture cert loads")
}

/// A seeded, reproducible CSPRNG for deterministic sealing.
pub(crate) fn seeded_rng(seed: u64) -> rand::rngs::StdRng {
    use rand::SeedableRng as _;
    rand::rngs::StdRng::seed_from_u64(seed)
}
