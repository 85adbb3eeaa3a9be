//! The RSA and AES-GCM backends. Each offers the same small set of `pub(crate)` items:
//! `PrivKey` (OAEP decryption, PKCS#1 v1.5 signing), `oaep_encrypt`, `gcm_seal`, `gcm_open`,
//! `fill_random` and `generate_pkcs1`. [`active`] is the one the public API uses: aws-lc-rs
//! when its feature is on.

#[cfg(feature = "aws-lc")]
pub(crate) mod aws;

#[cfg(feature = "pure-rust")]
#[cfg_attr(
    all(feature = "aws-lc", not(test)),
    allow(
        dead_code,
        reason = "with both backends on, the public API uses aws-lc-rs and the pure-Rust one \
                  is only exercised by the cross-backend tests"
    )
)]
pub(crate) mod rust;

#[cfg(feature = "aws-lc")]
pub(crate) use aws as active;

#[cfg(all(feature = "pure-rust", not(feature = "aws-lc")))]
pub(crate) use rust as active;

/// The AES-256-GCM nonce: 12 zero bytes, as upstream. See [`crate::format`] for why that is sound.
pub(crate) const ZERO_NONCE: [u8; 12] = [0; 12];
