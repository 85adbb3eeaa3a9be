//! The pure-Rust backend: `rsa` (decrypting with blinding) and `aes-gcm`.
//!
//! Exposed to RUSTSEC-2023-0071 (the Marvin timing attack on RSA decryption in the `rsa`
//! crate); see the crate docs. Kept for portability; the default build uses aws-lc-rs.

use aes_gcm::aead::AeadInPlace as _;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::{Aes256Gcm, KeyInit as _};
use rand_core::{OsRng, RngCore as _};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use zeroize::{Zeroize as _, Zeroizing};

use super::ZERO_NONCE;
use crate::{Error, PublicKey, Result};

const TAG_LEN: usize = 16;

/// A parsed private key, ready for OAEP decryption.
pub(crate) struct PrivKey {
    key: RsaPrivateKey,
}

impl PrivKey {
    /// Loads a PKCS#1 `RSAPrivateKey`.
    pub(crate) fn from_pkcs1(pkcs1: &[u8]) -> Result<Self> {
        let key = RsaPrivateKey::from_pkcs1_der(pkcs1)
            .map_err(|e| Error::bad_key_from("the rsa crate rejected the private key", e))?;
        Ok(Self { key })
    }

    /// RSA-OAEP (SHA-256, MGF1-SHA-256) decryption, blinded. `None` on any failure.
    ///
    /// `rsa` 0.9 takes the OAEP label as a `String`, so a label that is not UTF-8 cannot be
    /// used here and never decrypts. Scope labels are Kubernetes names, always ASCII.
    pub(crate) fn oaep_decrypt(&self, label: &[u8], block: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let padding = oaep_padding(label)?;
        self.key
            .decrypt_blinded(&mut OsRng, padding, block)
            .ok()
            .map(Zeroizing::new)
    }
}

fn oaep_padding(label: &[u8]) -> Option<Oaep> {
    if label.is_empty() {
        return Some(Oaep::new::<Sha256>());
    }
    std::str::from_utf8(label)
        .ok()
        .map(Oaep::new_with_label::<Sha256, _>)
}

/// RSA-OAEP (SHA-256, MGF1-SHA-256) encryption.
pub(crate) fn oaep_encrypt(key: &PublicKey, label: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let Some(padding) = oaep_padding(label) else {
        // `rsa` cannot take a non-UTF-8 label; our own OAEP encoder can, and encryption only
        // uses public data.
        return crate::oaep::encrypt(&mut OsRng, key, label, message);
    };
    let public = RsaPublicKey::from_public_key_der(key.spki_der())
        .map_err(|e| Error::bad_key_from("the rsa crate rejected the public key", e))?;
    public
        .encrypt(&mut OsRng, padding, message)
        .map_err(|_| Error::Encrypt)
}

/// PKCS#1 v1.5 signature with SHA-256, for certificates.
pub(crate) fn sign_pkcs1_sha256(pkcs1: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let key = RsaPrivateKey::from_pkcs1_der(pkcs1)
        .map_err(|e| Error::bad_key_from("the rsa crate rejected the signing key", e))?;
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key);
    signer
        .try_sign(message)
        .map(|signature| signature.to_vec())
        .map_err(|_| Error::Sign)
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(GenericArray::from_slice(key))
}

/// AES-256-GCM with the zero nonce and no AAD: ciphertext ‖ 16-byte tag.
pub(crate) fn gcm_seal(key: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    match cipher(key).encrypt_in_place(GenericArray::from_slice(&ZERO_NONCE), b"", &mut buf) {
        Ok(()) => Ok(buf),
        Err(_) => {
            buf.zeroize();
            Err(Error::Encrypt)
        }
    }
}

/// Opens what [`gcm_seal`] made. `None` on any failure.
pub(crate) fn gcm_open(key: &[u8; 32], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let split = sealed.len().checked_sub(TAG_LEN)?;
    let (ciphertext, tag) = sealed.split_at(split);
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    cipher(key)
        .decrypt_in_place_detached(
            GenericArray::from_slice(&ZERO_NONCE),
            b"",
            &mut buf,
            GenericArray::from_slice(tag),
        )
        .ok()?;
    Some(buf)
}

/// Fills `dest` from the system CSPRNG.
pub(crate) fn fill_random(dest: &mut [u8]) {
    OsRng.fill_bytes(dest);
}

/// Generates a key and returns it as PKCS#1 DER.
pub(crate) fn generate_pkcs1(bits: usize) -> Result<Zeroizing<Vec<u8>>> {
    if !matches!(bits, 2048 | 3072 | 4096) {
        return Err(Error::UnsupportedKeySize { bits });
    }
    let key = RsaPrivateKey::new(&mut OsRng, bits).map_err(|_| Error::KeyGeneration)?;
    let der = key.to_pkcs1_der().map_err(|_| Error::KeyGeneration)?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

/// An ML-KEM-768 decapsulation key in `ml-kem` (zeroized on drop by that crate).
pub(crate) struct KemKey {
    dk: Box<ml_kem::ml_kem_768::DecapsulationKey>,
}

impl KemKey {
    pub(crate) fn new(expanded: ml_kem::ml_kem_768::DecapsulationKey) -> Result<Self> {
        Ok(Self {
            dk: Box::new(expanded),
        })
    }

    /// ML-KEM-768 decapsulation; `None` only for a ciphertext of the wrong size.
    pub(crate) fn decapsulate(&self, ct: &[u8]) -> Option<crate::mlkem::SharedSecret> {
        use ml_kem::Decapsulate as _;
        let ct = ml_kem::array::Array::try_from(ct).ok()?;
        let ss = self.dk.decapsulate(&ct);
        let mut out = Zeroizing::new([0u8; crate::mlkem::SS_LEN]);
        out.copy_from_slice(ss.as_slice());
        Some(out)
    }
}

/// ML-KEM-768 encapsulation with fresh randomness: (ciphertext, shared secret).
pub(crate) fn kem_encapsulate(
    ek: &crate::MlKemPublicKey,
) -> Result<(Vec<u8>, crate::mlkem::SharedSecret)> {
    let mut m = Zeroizing::new([0u8; 32]);
    fill_random(&mut *m);
    crate::mlkem::encapsulate_deterministic(ek, &m)
}

/// PKCS#1 v1.5 SHA-256 signature check (the self-signature of a certificate).
pub(crate) fn verify_pkcs1_sha256(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    use rsa::signature::Verifier as _;
    let Ok(public) = RsaPublicKey::from_public_key_der(key.spki_der()) else {
        return false;
    };
    let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
        return false;
    };
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public)
        .verify(message, &signature)
        .is_ok()
}
