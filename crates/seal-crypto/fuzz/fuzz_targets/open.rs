//! `seal_crypto::open` on arbitrary bytes, with the 2048-bit fixture key and its ML-KEM-768 half,
//! so both the classical and the hybrid parser are reached.
//!
//! Input: one byte `n`, then `n % 64` bytes of OAEP label, then the sealed value. The seeds
//! are the known-answer vectors (label `default/mysecret` opens `rsa2048_strict` and
//! `pq_rsa2048_strict`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use seal_crypto::{Error, PrivateKey, is_hybrid, open, rsa_block_len};

fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let hex = include_str!("../../../../testdata/keys/rsa2048.mlkem768.seed").trim();
        let seed: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        PrivateKey::from_pem(include_str!("../../../../testdata/keys/rsa2048.key"))
            .expect("the fixture key parses")
            .with_mlkem_seed(&seed)
            .expect("the fixture seed loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (label, ciphertext) = rest.split_at(usize::from(n % 64).min(rest.len()));
    match open(&[key()], label, ciphertext) {
        Ok(opened) => {
            assert_eq!(opened.key_index, 0);
            // A value that opens has a whole RSA block for this key (and, if hybrid, its header
            // and a whole ML-KEM ciphertext).
            assert_eq!(rsa_block_len(ciphertext).ok(), Some(256));
            let header = if is_hybrid(ciphertext) { 3 + 1088 } else { 0 };
            assert!(ciphertext.len() >= header + 2 + 256 + 16);
        }
        Err(Error::TooShort) => assert!(rsa_block_len(ciphertext).is_err()),
        Err(Error::Decrypt) => {}
        Err(other) => panic!("open returned an unexpected error: {other:?}"),
    }
});
