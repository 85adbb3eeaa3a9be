//! The aws-lc-rs backend: constant-time RSA and AES-GCM from AWS-LC.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{
    KeyPair, KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use zeroize::{Zeroize as _, Zeroizing};

use super::ZERO_NONCE;
use crate::{Error, PublicKey, Result, keys};

/// A parsed private key, ready for OAEP decryption.
pub(crate) struct PrivKey {
    oaep: OaepPrivateDecryptingKey,
}

impl PrivKey {
    /// Loads a PKCS#1 `RSAPrivateKey`. aws-lc-rs reads PKCS#8, so the key is wrapped first.
    pub(crate) fn from_pkcs1(pkcs1: &[u8]) -> Result<Self> {
        let pkcs8 = keys::pkcs1_to_pkcs8(pkcs1)?;
        let key = PrivateDecryptingKey::from_pkcs8(&pkcs8)
            .map_err(|e| Error::bad_key_from("aws-lc-rs rejected the private key", e))?;
        let oaep = OaepPrivateDecryptingKey::new(key)
            .map_err(|e| Error::bad_key_from("aws-lc-rs rejected the key for OAEP", e))?;
        Ok(Self { oaep })
    }

    /// RSA-OAEP (SHA-256, MGF1-SHA-256) decryption. `None` on any failure, whatever the cause.
    pub(crate) fn oaep_decrypt(&self, label: &[u8], block: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.oaep.min_output_size()]);
        let len = self
            .oaep
            .decrypt(&OAEP_SHA256_MGF1SHA256, block, &mut out, label_opt(label))
            .ok()?
            .len();
        out.truncate(len);
        Some(out)
    }
}

/// An empty label and no label are the same thing in OAEP (the hash of the empty string).
fn label_opt(label: &[u8]) -> Option<&[u8]> {
    (!label.is_empty()).then_some(label)
}

/// RSA-OAEP (SHA-256, MGF1-SHA-256) encryption.
pub(crate) fn oaep_encrypt(key: &PublicKey, label: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let key = PublicEncryptingKey::from_der(key.spki_der())
        .map_err(|e| Error::bad_key_from("aws-lc-rs rejected the public key", e))?;
    let key = OaepPublicEncryptingKey::new(key).map_err(|_| Error::Encrypt)?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let len = key
        .encrypt(&OAEP_SHA256_MGF1SHA256, message, &mut out, label_opt(label))
        .map_err(|_| Error::Encrypt)?
        .len();
    out.truncate(len);
    Ok(out)
}

/// PKCS#1 v1.5 signature with SHA-256, for certificates.
pub(crate) fn sign_pkcs1_sha256(pkcs1: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let pair = KeyPair::from_der(pkcs1)
        .map_err(|e| Error::bad_key_from("aws-lc-rs rejected the signing key", e))?;
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        message,
        &mut signature,
    )
    .map_err(|_| Error::Sign)?;
    Ok(signature)
}

fn gcm_key(key: &[u8; 32]) -> LessSafeKey {
    // LessSafeKey because the nonce is fixed (zero); see `crate::format` for why that is sound.
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32 bytes is an AES-256 key"))
}

/// AES-256-GCM with the zero nonce and no AAD: ciphertext ‖ 16-byte tag.
pub(crate) fn gcm_seal(key: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(plaintext.len() + 16);
    buf.extend_from_slice(plaintext);
    match gcm_key(key).seal_in_place_append_tag(
        Nonce::assume_unique_for_key(ZERO_NONCE),
        Aad::empty(),
        &mut buf,
    ) {
        Ok(()) => Ok(buf),
        Err(_) => {
            buf.zeroize();
            Err(Error::Encrypt)
        }
    }
}

/// Opens what [`gcm_seal`] made. `None` on any failure.
pub(crate) fn gcm_open(key: &[u8; 32], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(sealed.to_vec());
    let len = gcm_key(key)
        .open_in_place(
            Nonce::assume_unique_for_key(ZERO_NONCE),
            Aad::empty(),
            &mut buf,
        )
        .ok()?
        .len();
    buf.truncate(len);
    Some(buf)
}

/// Fills `dest` from the system CSPRNG.
pub(crate) fn fill_random(dest: &mut [u8]) {
    aws_lc_rs::rand::fill(dest).expect("the system random number generator does not fail");
}

/// Generates a key and returns it as PKCS#1 DER.
pub(crate) fn generate_pkcs1(bits: usize) -> Result<Zeroizing<Vec<u8>>> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        8192 => KeySize::Rsa8192,
        _ => return Err(Error::UnsupportedKeySize { bits }),
    };
    let key = PrivateDecryptingKey::generate(size).map_err(|_| Error::KeyGeneration)?;
    let pkcs8 = key.as_der().map_err(|_| Error::KeyGeneration)?;
    keys::pkcs8_to_pkcs1(pkcs8.as_ref())
}

/// An ML-KEM-768 decapsulation key in aws-lc-rs, loaded from the FIPS 203 expanded form
/// (aws-lc-rs 1.19 cannot load the 64-byte seed; `ml-kem` expands it, see `crate::mlkem`).
pub(crate) struct KemKey {
    dk: aws_lc_rs::kem::DecapsulationKey,
}

impl KemKey {
    pub(crate) fn new(expanded: ml_kem::ml_kem_768::DecapsulationKey) -> Result<Self> {
        #[allow(
            deprecated,
            reason = "aws-lc-rs loads only the expanded form, not the seed"
        )]
        let mut bytes = ml_kem::ExpandedKeyEncoding::to_expanded_bytes(&expanded);
        let dk = aws_lc_rs::kem::DecapsulationKey::new(&aws_lc_rs::kem::ML_KEM_768, &bytes);
        bytes.as_mut_slice().zeroize();
        let dk = dk.map_err(|_| Error::BadMlKemKey {
            context: "aws-lc-rs rejected the decapsulation key",
        })?;
        Ok(Self { dk })
    }

    /// ML-KEM-768 decapsulation; `None` only for a ciphertext of the wrong size.
    pub(crate) fn decapsulate(&self, ct: &[u8]) -> Option<crate::mlkem::SharedSecret> {
        let ss = self
            .dk
            .decapsulate(aws_lc_rs::kem::Ciphertext::from(ct))
            .ok()?;
        let mut out = Zeroizing::new([0u8; crate::mlkem::SS_LEN]);
        (out.len() == ss.as_ref().len()).then_some(())?;
        out.copy_from_slice(ss.as_ref());
        Some(out)
    }
}

/// ML-KEM-768 encapsulation with fresh randomness: (ciphertext, shared secret).
pub(crate) fn kem_encapsulate(
    ek: &crate::MlKemPublicKey,
) -> Result<(Vec<u8>, crate::mlkem::SharedSecret)> {
    let ek = aws_lc_rs::kem::EncapsulationKey::new(&aws_lc_rs::kem::ML_KEM_768, ek.as_bytes())
        .map_err(|_| Error::BadMlKemKey {
            context: "aws-lc-rs rejected the encapsulation key",
        })?;
    let (ct, ss) = ek.encapsulate().map_err(|_| Error::Encrypt)?;
    let mut out = Zeroizing::new([0u8; crate::mlkem::SS_LEN]);
    if ss.as_ref().len() != out.len() {
        return Err(Error::Encrypt);
    }
    out.copy_from_slice(ss.as_ref());
    Ok((ct.as_ref().to_vec(), out))
}

/// PKCS#1 v1.5 SHA-256 signature check (the self-signature of a certificate).
pub(crate) fn verify_pkcs1_sha256(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    let Ok(spki) = spki::SubjectPublicKeyInfoRef::try_from(key.spki_der()) else {
        return false;
    };
    let Some(pkcs1) = spki.subject_public_key.as_bytes() else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pkcs1)
        .verify(message, signature)
        .is_ok()
}
