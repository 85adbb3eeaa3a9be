//! RSA public and private keys: parsing, encoding, generation and key IDs.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use der::asn1::{AnyRef, BitStringRef, UintRef};
use der::{Decode as _, Encode as _};
use num_bigint::BigUint;
use sha2::{Digest as _, Sha256};
use spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use crate::backend::active;
use crate::{Error, Result, pem};

/// `rsaEncryption` (RFC 8017 A.1).
pub(crate) const RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The `AlgorithmIdentifier` of an RSA key: `rsaEncryption` with NULL parameters, as Go writes it.
pub(crate) fn rsa_algorithm() -> AlgorithmIdentifierRef<'static> {
    AlgorithmIdentifierRef {
        oid: RSA_ENCRYPTION,
        parameters: Some(AnyRef::NULL),
    }
}

/// Wraps a PKCS#1 `RSAPrivateKey` in a PKCS#8 `PrivateKeyInfo`. The result is secret.
#[cfg(feature = "aws-lc")]
pub(crate) fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    // `to_der` sizes its buffer exactly before writing, so no reallocated copy is left behind.
    pkcs8::PrivateKeyInfo::new(rsa_algorithm(), pkcs1)
        .to_der()
        .map(Zeroizing::new)
        .map_err(|e| Error::bad_key_from("failed to wrap the key in PKCS#8", e))
}

/// Unwraps the PKCS#1 `RSAPrivateKey` from a PKCS#8 `PrivateKeyInfo`. The result is secret.
pub(crate) fn pkcs8_to_pkcs1(pkcs8: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let info = pkcs8::PrivateKeyInfo::try_from(pkcs8)
        .map_err(|e| Error::bad_key_from("not a PKCS#8 PrivateKeyInfo", e))?;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return Err(Error::NotRsa);
    }
    Ok(Zeroizing::new(info.private_key.to_vec()))
}

/// An RSA public key.
///
/// Not secret, so it is `Clone` and `Debug` (which shows the size and [key ID](Self::key_id)).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    n: BigUint,
    e: BigUint,
    modulus_len: usize,
    /// Canonical `SubjectPublicKeyInfo` DER (rsaEncryption, NULL parameters).
    spki: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.bits())
            .field("key_id", &self.key_id())
            .finish()
    }
}

impl PublicKey {
    /// Builds a key from big-endian modulus and exponent bytes.
    fn from_n_e(n: &[u8], e: &[u8]) -> Result<Self> {
        let n_uint = UintRef::new(n).map_err(|err| Error::bad_key_from("bad modulus", err))?;
        let e_uint = UintRef::new(e).map_err(|err| Error::bad_key_from("bad exponent", err))?;
        let n_big = BigUint::from_bytes_be(n);
        let e_big = BigUint::from_bytes_be(e);
        if n_big.bits() < 512 || !n_big.bit(0) {
            return Err(Error::bad_key("the modulus is too small or even"));
        }
        if e_big.bits() < 2 || !e_big.bit(0) {
            return Err(Error::bad_key("the public exponent is not an odd number above 1"));
        }
        let pkcs1 = pkcs1::RsaPublicKey {
            modulus: n_uint,
            public_exponent: e_uint,
        }
        .to_der()
        .map_err(|err| Error::bad_key_from("failed to encode the public key", err))?;
        let spki = SubjectPublicKeyInfoRef {
            algorithm: rsa_algorithm(),
            subject_public_key: BitStringRef::from_bytes(&pkcs1)
                .map_err(|err| Error::bad_key_from("failed to encode the public key", err))?,
        }
        .to_der()
        .map_err(|err| Error::bad_key_from("failed to encode the public key", err))?;
        let modulus_len = usize::try_from(n_big.bits().div_ceil(8))
            .map_err(|_| Error::bad_key("the modulus is too large"))?;
        Ok(Self {
            n: n_big,
            e: e_big,
            modulus_len,
            spki,
        })
    }

    /// Parses a DER `SubjectPublicKeyInfo` holding an RSA key.
    ///
    /// # Errors
    ///
    /// [`Error::NotRsa`] for another key type, [`Error::BadKey`] for malformed DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| Error::bad_key_from("not a DER SubjectPublicKeyInfo", e))?;
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(Error::NotRsa);
        }
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::bad_key("the public key is not a whole number of bytes"))?;
        Self::from_pkcs1_der(bits)
    }

    /// Parses a DER PKCS#1 `RSAPublicKey`.
    fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let key = pkcs1::RsaPublicKey::from_der(der)
            .map_err(|e| Error::bad_key_from("not a DER PKCS#1 RSAPublicKey", e))?;
        Self::from_n_e(key.modulus.as_bytes(), key.public_exponent.as_bytes())
    }

    /// Parses the first `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS#1) PEM block.
    ///
    /// # Errors
    ///
    /// [`Error::BadPem`] when there is no such block, otherwise as [`PublicKey::from_spki_der`].
    pub fn from_pem(pem: &str) -> Result<Self> {
        const EXPECTED: &str = "PUBLIC KEY";
        let block = pem::first(pem.as_bytes(), &["PUBLIC KEY", "RSA PUBLIC KEY"]).ok_or(
            Error::BadPem {
                expected: EXPECTED,
                problem: "no such block",
            },
        )?;
        let der = block.decode().ok_or(Error::BadPem {
            expected: EXPECTED,
            problem: "invalid base64",
        })?;
        if block.label == "RSA PUBLIC KEY" {
            Self::from_pkcs1_der(&der)
        } else {
            Self::from_spki_der(&der)
        }
    }

    /// The DER `SubjectPublicKeyInfo` (rsaEncryption with NULL parameters, as Go's
    /// `x509.MarshalPKIXPublicKey`).
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// The DER `SubjectPublicKeyInfo`, borrowed.
    pub(crate) fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The modulus size in bytes: the length of an RSA block made with this key (512 for RSA-4096).
    pub fn modulus_len(&self) -> usize {
        self.modulus_len
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        usize::try_from(self.n.bits()).expect("modulus_len fitted in usize, so bits do too")
    }

    pub(crate) fn n(&self) -> &BigUint {
        &self.n
    }

    pub(crate) fn e(&self) -> &BigUint {
        &self.e
    }

    /// The upstream key ID: the OpenSSH SHA-256 fingerprint, `SHA256:` followed by unpadded
    /// standard base64 of SHA-256 over the SSH wire encoding of the key (RFC 4253 §6.6:
    /// string `"ssh-rsa"`, mpint e, mpint n). The same string `ssh-keygen -lf` prints.
    pub fn key_id(&self) -> String {
        let mut wire = Vec::with_capacity(self.modulus_len + 32);
        put_ssh_string(&mut wire, b"ssh-rsa");
        put_ssh_mpint(&mut wire, &self.e);
        put_ssh_mpint(&mut wire, &self.n);
        format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&wire)))
    }

    /// Lowercase hex SHA-256 of the DER `SubjectPublicKeyInfo`.
    pub fn fingerprint_sha256(&self) -> String {
        hex(&Sha256::digest(&self.spki))
    }
}

fn put_ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("SSH strings here are far below 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// RFC 4251 §5 mpint: big-endian two's complement, minimal, so a set high bit gets a 0x00 prefix.
fn put_ssh_mpint(out: &mut Vec<u8>, value: &BigUint) {
    if value.bits() == 0 {
        put_ssh_string(out, &[]);
        return;
    }
    let bytes = value.to_bytes_be();
    if bytes[0] & 0x80 != 0 {
        let mut padded = Vec::with_capacity(bytes.len() + 1);
        padded.push(0);
        padded.extend_from_slice(&bytes);
        put_ssh_string(out, &padded);
    } else {
        put_ssh_string(out, &bytes);
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(out, "{b:02x}").expect("writing to a String does not fail");
    }
    out
}

/// An RSA private key.
///
/// Holds the PKCS#1 DER (zeroized on drop) and the parsed backend key. Deliberately neither
/// `Debug` nor `Clone`: key material is never printed and never copied by accident.
pub struct PrivateKey {
    pkcs1: Zeroizing<Vec<u8>>,
    public: PublicKey,
    backend: active::PrivKey,
}

impl PrivateKey {
    /// Parses the first private key in a PEM file: `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY`
    /// (PKCS#8, RSA only). Other blocks (certificates, for instance) before or after it are
    /// skipped.
    ///
    /// # Errors
    ///
    /// [`Error::BadPem`] when there is no key block or its base64 is broken, [`Error::NotRsa`]
    /// for an EC or other non-RSA key, [`Error::BadKey`] for an encrypted or malformed key.
    pub fn from_pem(pem: &str) -> Result<Self> {
        const EXPECTED: &str = "RSA PRIVATE KEY or PRIVATE KEY";
        let block = pem::first(
            pem.as_bytes(),
            &[
                "RSA PRIVATE KEY",
                "PRIVATE KEY",
                "EC PRIVATE KEY",
                "ENCRYPTED PRIVATE KEY",
            ],
        )
        .ok_or(Error::BadPem {
            expected: EXPECTED,
            problem: "no such block",
        })?;
        match block.label {
            "EC PRIVATE KEY" => return Err(Error::NotRsa),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(Error::bad_key("encrypted private keys are not supported"));
            }
            _ if block.encrypted => {
                return Err(Error::bad_key("encrypted private keys are not supported"));
            }
            _ => {}
        }
        let der = block.decode().ok_or(Error::BadPem {
            expected: EXPECTED,
            problem: "invalid base64",
        })?;
        if block.label == "PRIVATE KEY" {
            Self::from_pkcs8_der(&der)
        } else {
            Self::from_pkcs1_der(&der)
        }
    }

    /// Parses a DER PKCS#1 `RSAPrivateKey`.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] when the DER is malformed or the backend rejects the key (aws-lc-rs
    /// takes 2048 to 8192 bits; the `rsa` crate at most 4096).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let public = {
            let key = pkcs1::RsaPrivateKey::from_der(der)
                .map_err(|e| Error::bad_key_from("not a DER PKCS#1 RSAPrivateKey", e))?;
            PublicKey::from_n_e(key.modulus.as_bytes(), key.public_exponent.as_bytes())?
        };
        let backend = active::PrivKey::from_pkcs1(der)?;
        Ok(Self {
            pkcs1: Zeroizing::new(der.to_vec()),
            public,
            backend,
        })
    }

    /// Parses a DER PKCS#8 `PrivateKeyInfo` holding an RSA key.
    ///
    /// # Errors
    ///
    /// [`Error::NotRsa`] for another key type, otherwise as [`PrivateKey::from_pkcs1_der`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        Self::from_pkcs1_der(&pkcs8_to_pkcs1(der)?)
    }

    /// Generates a new key of `bits` bits (public exponent 65537).
    ///
    /// With the default aws-lc backend: 2048, 3072, 4096 or 8192. With only the pure-Rust
    /// backend: 2048, 3072 or 4096.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedKeySize`] for other sizes, [`Error::KeyGeneration`] if the backend fails.
    pub fn generate(bits: usize) -> Result<Self> {
        let der = active::generate_pkcs1(bits)?;
        Self::from_pkcs1_der(&der)
    }

    /// The key as a PKCS#1 `RSA PRIVATE KEY` PEM block, as Go's `pem.Encode` writes it
    /// (LF line endings, 64 columns). This is the `tls.key` of a key Secret.
    pub fn to_pkcs1_pem(&self) -> Zeroizing<String> {
        pem::encode_secret("RSA PRIVATE KEY", &self.pkcs1)
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// The modulus size in bytes.
    pub fn modulus_len(&self) -> usize {
        self.public.modulus_len()
    }

    pub(crate) fn public(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn pkcs1_der(&self) -> &[u8] {
        &self.pkcs1
    }

    pub(crate) fn backend(&self) -> &active::PrivKey {
        &self.backend
    }
}
