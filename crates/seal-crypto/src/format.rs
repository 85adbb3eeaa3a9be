//! The sealed-value byte format (SPEC §2), the one place it is spelled out:
//!
//! ```text
//! +----------------+---------------------------+----------------------------------+
//! | len(R): u16 BE | R: RSA-OAEP(session key)  | AES-256-GCM(plaintext) ‖ tag(16) |
//! +----------------+---------------------------+----------------------------------+
//!   2 bytes          len(R) = modulus size       rest of the value
//! ```
//!
//! * R is RSA-OAEP with SHA-256 and MGF1-SHA-256 over a fresh random 32-byte session key; the
//!   OAEP label is the caller's (the scope, SPEC §3), and an empty label is no label.
//! * The body is AES-256-GCM under the session key with a 12-byte all-zero nonce and no AAD.

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::backend::active;
use crate::{Error, PrivateKey, PublicKey, Result, oaep};

/// Size of the big-endian length prefix.
const PREFIX_LEN: usize = 2;
/// Size of the AES-256 session key.
pub(crate) const SESSION_KEY_LEN: usize = 32;

/// A backend's AES-256-GCM sealing function (zero nonce, no AAD, tag appended).
pub(crate) type GcmSeal = fn(&[u8; SESSION_KEY_LEN], &[u8]) -> Result<Vec<u8>>;
/// A backend's AES-256-GCM opening function; `None` on any failure.
pub(crate) type GcmOpen = fn(&[u8; SESSION_KEY_LEN], &[u8]) -> Option<Zeroizing<Vec<u8>>>;

/// A sealed value, opened.
pub struct Opened {
    /// Index, into the `keys` given to [`open`], of the key that opened the value.
    pub key_index: usize,
    /// The plaintext, zeroized on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
}

/// The length of the RSA block `R`, read from the 2-byte prefix.
///
/// # Errors
///
/// [`Error::TooShort`] when `ciphertext` has fewer than 2 bytes, or fewer than `len(R) + 2`.
pub fn rsa_block_len(ciphertext: &[u8]) -> Result<usize> {
    split(ciphertext).map(|(rsa_block, _)| rsa_block.len())
}

/// Splits a sealed value into `R` and the AES-GCM body (ciphertext ‖ tag).
fn split(ciphertext: &[u8]) -> Result<(&[u8], &[u8])> {
    let [hi, lo, rest @ ..] = ciphertext else {
        return Err(Error::TooShort);
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if rest.len() < len {
        return Err(Error::TooShort);
    }
    Ok(rest.split_at(len))
}

/// Lays out `len(R)` ‖ R ‖ body.
fn assemble(rsa_block: &[u8], body: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(rsa_block.len()).map_err(|_| Error::Encrypt)?;
    let mut out = Vec::with_capacity(PREFIX_LEN + rsa_block.len() + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(rsa_block);
    out.extend_from_slice(body);
    Ok(out)
}

fn finish(
    rsa_block: &[u8],
    session_key: &[u8; SESSION_KEY_LEN],
    plaintext: &[u8],
    gcm_seal: GcmSeal,
) -> Result<Vec<u8>> {
    // The nonce is fixed at 12 zero bytes, as upstream's format requires. That is sound only
    // because `session_key` is fresh and random for this one value and never used again, so a
    // (key, nonce) pair can never repeat.
    let body = gcm_seal(session_key, plaintext)?;
    assemble(rsa_block, &body)
}

/// Seals `plaintext` to `key` under OAEP label `label`, with fresh randomness from the system.
///
/// The label is the scope (SPEC §3): `"<namespace>/<name>"`, `"<namespace>"` or empty.
///
/// # Errors
///
/// [`Error::BadKey`] if the backend refuses the key (aws-lc-rs takes 2048 to 8192 bits),
/// [`Error::Encrypt`] if encryption fails.
pub fn seal(key: &PublicKey, label: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    active::fill_random(&mut *session_key);
    let rsa_block = active::oaep_encrypt(key, label, &*session_key)?;
    finish(&rsa_block, &session_key, plaintext, active::gcm_seal)
}

/// Like [`seal`], but every random byte (the session key, then the OAEP seed) comes from `rng`,
/// so a seeded RNG gives the same output in every backend. For tests and known-answer vectors;
/// use [`seal`] otherwise.
///
/// # Errors
///
/// [`Error::Encrypt`] if the key is too small for OAEP or encryption fails.
pub fn seal_with_rng<R: RngCore + CryptoRng>(
    rng: &mut R,
    key: &PublicKey,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    seal_with_rng_using(rng, key, label, plaintext, active::gcm_seal)
}

pub(crate) fn seal_with_rng_using<R: RngCore + CryptoRng>(
    rng: &mut R,
    key: &PublicKey,
    label: &[u8],
    plaintext: &[u8],
    gcm_seal: GcmSeal,
) -> Result<Vec<u8>> {
    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    rng.fill_bytes(&mut *session_key);
    let rsa_block = oaep::encrypt(rng, key, label, &*session_key)?;
    finish(&rsa_block, &session_key, plaintext, gcm_seal)
}

/// Opens a sealed value with the first of `keys` that can, trying them in the order given.
///
/// Keys whose modulus length differs from `len(R)` cannot have made the value and are not
/// tried. There is no key ID in the format, so every other key is tried until one works.
///
/// # Errors
///
/// [`Error::TooShort`] for truncated input (checked before any key is tried), and
/// [`Error::Decrypt`] for everything else: no key, wrong key, wrong label, tampering.
pub fn open(keys: &[&PrivateKey], label: &[u8], ciphertext: &[u8]) -> Result<Opened> {
    open_with(
        keys.iter().map(|key| {
            (key.modulus_len(), move |label: &[u8], block: &[u8]| {
                key.backend().oaep_decrypt(label, block)
            })
        }),
        label,
        ciphertext,
        active::gcm_open,
    )
}

/// [`open`] over any backend: each candidate is its modulus length and its OAEP decryption.
pub(crate) fn open_with<D>(
    candidates: impl IntoIterator<Item = (usize, D)>,
    label: &[u8],
    ciphertext: &[u8],
    gcm_open: GcmOpen,
) -> Result<Opened>
where
    D: FnOnce(&[u8], &[u8]) -> Option<Zeroizing<Vec<u8>>>,
{
    let (rsa_block, body) = split(ciphertext)?;
    for (key_index, (modulus_len, oaep_decrypt)) in candidates.into_iter().enumerate() {
        if modulus_len != rsa_block.len() {
            // This key's RSA blocks are another size: it cannot have sealed this value.
            continue;
        }
        let Some(session_key) = oaep_decrypt(label, rsa_block) else {
            continue;
        };
        let Ok(session_key) = <&[u8; SESSION_KEY_LEN]>::try_from(session_key.as_slice()) else {
            continue;
        };
        if let Some(plaintext) = gcm_open(session_key, body) {
            return Ok(Opened {
                key_index,
                plaintext,
            });
        }
    }
    Err(Error::Decrypt)
}
