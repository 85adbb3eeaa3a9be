//! Sealed-value format, RSA keys and X.509 certificates of Sealed Secrets, byte-compatible
//! with Bitnami's upstream Go implementation.
//!
//! A sealed value is `len(R)` (u16, big-endian) ‖ `R` ‖ AES-256-GCM ciphertext ‖ tag, where
//! `R` is RSA-OAEP (SHA-256, MGF1-SHA-256) over a fresh 32-byte session key, the OAEP label
//! is the scope (`"<namespace>/<name>"`, `"<namespace>"`, or empty for cluster-wide), and the
//! GCM nonce is 12 zero bytes.
//!
//! # Sealing and opening
//!
//! ```
//! use seal_crypto::{PrivateKey, open, seal};
//!
//! # fn main() -> seal_crypto::Result<()> {
//! let key = PrivateKey::generate(2048)?;
//! let sealed = seal(&key.public_key(), b"my-namespace/my-secret", b"hunter2")?;
//! assert_eq!(&sealed[..2], &[0x01, 0x00]); // len(R) = 256 for RSA-2048
//!
//! let opened = open(&[&key], b"my-namespace/my-secret", &sealed)?;
//! assert_eq!(opened.key_index, 0);
//! assert_eq!(opened.plaintext.as_slice(), b"hunter2");
//!
//! // The wrong scope is the same opaque error as the wrong key.
//! let err = open(&[&key], b"other-namespace/my-secret", &sealed).err();
//! assert!(matches!(err, Some(seal_crypto::Error::Decrypt)));
//! # Ok(())
//! # }
//! ```
//!
//! # Post-quantum (hybrid) sealing
//!
//! A key may have an ML-KEM-768 half (FIPS 203, a 64-byte seed). [`seal_hybrid`] then seals
//! so that opening needs both the RSA key and the ML-KEM key; [`open`] opens either format.
//! The certificate of a hybrid key carries the ML-KEM key in a non-critical extension, read
//! back (after checking the RSA self-signature) by [`Certificate::mlkem_public_key`].
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use seal_crypto::{CertParams, Certificate, PrivateKey, is_hybrid, open, seal_hybrid};
//!
//! # fn main() -> seal_crypto::Result<()> {
//! let key = PrivateKey::generate(2048)?.with_new_mlkem()?;
//! let params = CertParams {
//!     common_name: String::new(),
//!     not_before: SystemTime::now(),
//!     validity: Duration::from_secs(3600),
//! };
//! let cert = Certificate::self_signed(&key, &params)?;
//! let pq = cert.mlkem_public_key()?.expect("a hybrid key's certificate carries it");
//!
//! let sealed = seal_hybrid(cert.public_key(), &pq, b"ns/name", b"hunter2")?;
//! assert!(is_hybrid(&sealed)); // starts FF FF 01
//! assert_eq!(open(&[&key], b"ns/name", &sealed)?.plaintext.as_slice(), b"hunter2");
//!
//! // The RSA key alone cannot open it.
//! let rsa_only = PrivateKey::from_pem(&key.to_pkcs1_pem())?;
//! assert!(matches!(open(&[&rsa_only], b"ns/name", &sealed), Err(seal_crypto::Error::Decrypt)));
//! # Ok(())
//! # }
//! ```
//!
//! # Keys and certificates
//!
//! The controller's key Secret holds a PKCS#1 key and a self-signed certificate:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use seal_crypto::{CertParams, Certificate, PrivateKey, key_secret_data};
//!
//! # fn main() -> seal_crypto::Result<()> {
//! let key = PrivateKey::generate(2048)?;
//! let params = CertParams {
//!     common_name: String::new(), // an empty subject, as upstream by default
//!     not_before: SystemTime::now(),
//!     validity: Duration::from_secs(10 * 365 * 24 * 3600),
//! };
//! let cert = Certificate::self_signed(&key, &params)?;
//! assert_eq!(cert.common_name(), None);
//! assert_eq!(cert.public_key().key_id(), key.public_key().key_id());
//! cert.ensure_not_expired(SystemTime::now())?;
//!
//! let (tls_key, tls_crt) = key_secret_data(&key, &cert);
//! assert!(tls_key.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
//! let again = Certificate::from_pem(tls_crt.as_bytes())?;
//! assert_eq!(again.der(), cert.der());
//! assert!(PrivateKey::from_pem(&tls_key)?.public_key() == key.public_key());
//! # Ok(())
//! # }
//! ```
//!
//! # Deterministic sealing
//!
//! [`seal_with_rng`] draws the session key and the OAEP seed from the given RNG, so a seeded
//! RNG gives identical bytes in every backend; it is meant for tests and vectors.
//!
//! # Backends
//!
//! * `aws-lc` (default): aws-lc-rs, whose RSA and AES-GCM are constant-time. The controller
//!   always ships with it.
//! * `pure-rust`: the `rsa` crate (decrypting with `decrypt_blinded`) and `aes-gcm`, for
//!   platforms without a C toolchain. **This build is exposed to
//!   [RUSTSEC-2023-0071](https://rustsec.org/advisories/RUSTSEC-2023-0071.html)** (the Marvin
//!   attack: a timing side channel in the `rsa` crate's private-key operations that blinding
//!   does not fully close), so do not use it to decrypt where an attacker can submit many
//!   ciphertexts and time the answers. It also cannot use an OAEP label that is not UTF-8
//!   (`rsa` 0.9 takes labels as strings; scope labels always are UTF-8), and handles keys of
//!   at most 4096 bits.
//!
//! With both features on, the public API uses aws-lc-rs.
//!
//! # Errors and secrets
//!
//! Every failure to open a value is [`Error::Decrypt`], a unit variant with no source, so an
//! error never tells a wrong key from a bad tag. Plaintexts come back as [`Zeroizing`]
//! buffers; session keys and decoded private keys are zeroized when dropped. [`PrivateKey`]
//! is neither `Debug` nor `Clone`.

#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

#[cfg(not(any(feature = "aws-lc", feature = "pure-rust")))]
compile_error!(
    "seal-crypto needs an RSA backend: enable the `aws-lc` feature (the default, constant-time) \
     or `pure-rust`"
);

mod backend;
mod cert;
mod error;
mod format;
mod hybrid;
mod keys;
mod mlkem;
mod oaep;
mod pem;

#[cfg(test)]
mod regressions;
#[cfg(test)]
mod test_support;

pub use cert::{
    CertParams, Certificate, MLKEM_SEED_DATA_KEY, PQ_KEY_EXTENSION_OID, key_secret_data,
};
pub use error::{Error, Result};
pub use format::{Opened, open, rsa_block_len, seal, seal_with_rng};
pub use hybrid::{is_hybrid, seal_hybrid, seal_hybrid_with_rng};
pub use keys::{PrivateKey, PublicKey};
pub use mlkem::MlKemPublicKey;
/// The backend the public API runs on: `"aws-lc"` (aws-lc-rs, constant-time) or
/// `"pure-rust"` (the `rsa` and `aes-gcm` crates). With both features on it is `"aws-lc"`.
/// Lets a program assert, or report, which one it was built with (the controller must decrypt
/// with aws-lc; see *Backends* above).
///
/// ```
/// assert!(["aws-lc", "pure-rust"].contains(&seal_crypto::backend_name()));
/// ```
pub fn backend_name() -> &'static str {
    if cfg!(feature = "aws-lc") {
        "aws-lc"
    } else {
        "pure-rust"
    }
}

/// The RNG traits [`seal_with_rng`] takes.
pub use rand_core;
/// The zeroize-on-drop wrapper that secrets are returned in.
pub use zeroize::Zeroizing;
