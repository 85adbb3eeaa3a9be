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
use crate::mlkem::MlKemPrivate;
use crate::{Error, MlKemPublicKey, Result, pem};

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
            return Err(Error::bad_key(
                "the public exponent is not an odd number above 1",
            ));
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
        let block =
            pem::first(pem.as_bytes(), &["PUBLIC KEY", "RSA PUBLIC KEY"]).ok_or(Error::BadPem {
                expected: EXPECTED,
                problem: "no such block",
            })?;
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
    /// The ML-KEM-768 half of a hybrid key, if it has one.
    mlkem: Option<MlKemPrivate>,
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
            mlkem: None,
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

    /// Adds (or replaces) the ML-KEM-768 half from its 64-byte seed `d ‖ z` (FIPS 203), as a
    /// key Secret stores it under [`MLKEM_SEED_DATA_KEY`](crate::MLKEM_SEED_DATA_KEY). The key
    /// then opens hybrid values, and its certificate carries the encapsulation key.
    ///
    /// # Errors
    ///
    /// [`Error::BadMlKemKey`] if the seed is not 64 bytes or the backend refuses the key.
    pub fn with_mlkem_seed(mut self, seed: &[u8]) -> Result<Self> {
        self.mlkem = Some(MlKemPrivate::from_seed(seed)?);
        Ok(self)
    }

    /// Adds a freshly generated ML-KEM-768 half (see [`PrivateKey::with_mlkem_seed`]).
    ///
    /// # Errors
    ///
    /// [`Error::BadMlKemKey`] if the backend refuses the generated key.
    pub fn with_new_mlkem(mut self) -> Result<Self> {
        self.mlkem = Some(MlKemPrivate::generate()?);
        Ok(self)
    }

    /// The ML-KEM-768 seed (64 bytes, secret), if the key has an ML-KEM half.
    pub fn mlkem_seed(&self) -> Option<&[u8]> {
        self.mlkem.as_ref().map(|k| k.seed().as_slice())
    }

    /// The ML-KEM-768 encapsulation key, if the key has an ML-KEM half.
    pub fn mlkem_public_key(&self) -> Option<&MlKemPublicKey> {
        self.mlkem.as_ref().map(MlKemPrivate::public)
    }

    pub(crate) fn mlkem(&self) -> Option<&MlKemPrivate> {
        self.mlkem.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use test_case::test_case;

    use super::*;
    use crate::test_support::{cert, key, read};

    #[test_case("rsa2048", 2048)]
    #[test_case("rsa4096", 4096)]
    #[test_case("rsa4096-b", 4096)]
    fn key_id_and_fingerprint_match_the_independent_generator(stem: &str, bits: usize) {
        let public = key(stem).public_key();
        assert_eq!(public.bits(), bits);
        assert_eq!(public.modulus_len(), bits / 8);
        assert_eq!(public.key_id(), read(&format!("{stem}.keyid")).trim());
        assert_eq!(
            public.fingerprint_sha256(),
            read(&format!("{stem}.sha256")).trim()
        );
        assert_eq!(*cert(stem).public_key(), public);
    }

    /// The key ID computed here from scratch, straight from the PEM: base64 → DER → n, e →
    /// SSH wire format → SHA-256 (the way `ssh-keygen -lf` does), sharing nothing with
    /// `PublicKey::key_id` but the crates.
    #[test]
    fn key_id_is_the_openssh_sha256_fingerprint() {
        let pem = read("rsa4096.key");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("fixture base64");
        let parsed = pkcs1::RsaPrivateKey::from_der(&der).expect("fixture DER");
        let mpint = |b: &[u8]| {
            let mut v = if b[0] >= 0x80 { vec![0u8] } else { vec![] };
            v.extend_from_slice(b);
            v
        };
        let mut wire = Vec::new();
        for field in [
            b"ssh-rsa".to_vec(),
            mpint(parsed.public_exponent.as_bytes()),
            mpint(parsed.modulus.as_bytes()),
        ] {
            wire.extend_from_slice(&u32::try_from(field.len()).expect("small").to_be_bytes());
            wire.extend_from_slice(&field);
        }
        let expected = format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(&wire))
        );
        assert_eq!(key("rsa4096").public_key().key_id(), expected);
        assert!(!expected.ends_with('='));
    }

    #[test]
    fn ssh_mpints_get_a_zero_byte_before_a_set_high_bit() {
        let mut out = Vec::new();
        put_ssh_mpint(&mut out, &BigUint::from(0x80u32));
        assert_eq!(out, [0, 0, 0, 2, 0, 0x80]);
        out.clear();
        put_ssh_mpint(&mut out, &BigUint::from(0x7fu32));
        assert_eq!(out, [0, 0, 0, 1, 0x7f]);
        out.clear();
        put_ssh_mpint(&mut out, &BigUint::from(0u32));
        assert_eq!(out, [0, 0, 0, 0]);
        out.clear();
        put_ssh_mpint(&mut out, &BigUint::from(65537u32));
        assert_eq!(out, [0, 0, 0, 3, 1, 0, 1]);
    }

    #[test_case("rsa2048")]
    #[test_case("rsa4096")]
    fn pkcs1_and_pkcs8_load_the_same_key(stem: &str) {
        let pkcs1 = key(stem);
        let pkcs8 = PrivateKey::from_pem(&read(&format!("{stem}.pk8.key"))).expect("PKCS#8 loads");
        assert_eq!(pkcs1.public_key().key_id(), pkcs8.public_key().key_id());
        assert_eq!(pkcs1.public_key(), pkcs8.public_key());
        // Both write the same PKCS#1 PEM back.
        assert_eq!(*pkcs1.to_pkcs1_pem(), *pkcs8.to_pkcs1_pem());
    }

    #[test_case("rsa2048")]
    #[test_case("rsa4096")]
    fn pkcs1_pem_is_written_as_go_writes_it(stem: &str) {
        let original = read(&format!("{stem}.key"));
        let written = key(stem).to_pkcs1_pem();
        assert_eq!(*written, original);
        assert!(written.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert!(written.ends_with("\n-----END RSA PRIVATE KEY-----\n"));
        assert!(written.lines().all(|l| l.len() <= 64));
    }

    #[test]
    fn the_first_key_block_of_a_multi_block_file_is_used() {
        let bundle = format!(
            "{}{}{}",
            read("rsa2048.crt"),
            read("rsa2048.key"),
            read("rsa4096.key")
        );
        let loaded = PrivateKey::from_pem(&bundle).expect("loads");
        assert_eq!(loaded.modulus_len(), 256);
    }

    #[test]
    fn bad_pem_is_refused_as_bad_pem() {
        for input in ["", "not pem at all", &read("rsa2048.crt")] {
            assert!(matches!(
                PrivateKey::from_pem(input),
                Err(Error::BadPem { .. })
            ));
        }
        let broken = "-----BEGIN RSA PRIVATE KEY-----\n@@@@\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(
            PrivateKey::from_pem(broken),
            Err(Error::BadPem {
                problem: "invalid base64",
                ..
            })
        ));
        let garbage_der =
            "-----BEGIN RSA PRIVATE KEY-----\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(
            PrivateKey::from_pem(garbage_der),
            Err(Error::BadKey { .. })
        ));
        assert!(matches!(
            PublicKey::from_pem("nothing"),
            Err(Error::BadPem { .. })
        ));
    }

    #[test]
    fn ec_keys_are_not_rsa() {
        assert!(matches!(
            PrivateKey::from_pem(&read("ec.key")),
            Err(Error::NotRsa)
        ));
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\naGVsbG8=\n-----END EC PRIVATE KEY-----\n";
        assert!(matches!(PrivateKey::from_pem(sec1), Err(Error::NotRsa)));
    }

    #[test]
    fn encrypted_keys_are_refused() {
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n";
        let pkcs8 = "-----BEGIN ENCRYPTED PRIVATE KEY-----\naGVsbG8=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        for input in [legacy, pkcs8] {
            let err = PrivateKey::from_pem(input).err().expect("refused");
            assert!(matches!(err, Error::BadKey { .. }));
            assert!(err.to_string().contains("encrypted"), "{err}");
        }
    }

    #[test]
    fn public_keys_round_trip_through_spki_pem_and_pkcs1_pem() {
        let public = key("rsa2048").public_key();
        let spki_pem = pem::encode("PUBLIC KEY", &public.to_spki_der());
        assert_eq!(PublicKey::from_pem(&spki_pem).expect("loads"), public);
        assert_eq!(
            PublicKey::from_spki_der(&public.to_spki_der()).expect("loads"),
            public
        );
        let spki = SubjectPublicKeyInfoRef::from_der(public.spki_der()).expect("DER");
        let pkcs1_pem = pem::encode(
            "RSA PUBLIC KEY",
            spki.subject_public_key.as_bytes().expect("bytes"),
        );
        assert_eq!(PublicKey::from_pem(&pkcs1_pem).expect("loads"), public);
        assert!(format!("{public:?}").contains(&public.key_id()));
    }

    #[test]
    fn generated_keys_work_and_odd_sizes_are_refused() {
        let generated = PrivateKey::generate(2048).expect("generates");
        assert_eq!(generated.modulus_len(), 256);
        let reloaded = PrivateKey::from_pem(&generated.to_pkcs1_pem()).expect("reloads");
        assert_eq!(reloaded.public_key(), generated.public_key());
        let sealed = crate::seal(&generated.public_key(), b"l", b"p").expect("seals");
        assert!(crate::open(&[&reloaded], b"l", &sealed).is_ok());
        assert!(matches!(
            PrivateKey::generate(1000),
            Err(Error::UnsupportedKeySize { bits: 1000 })
        ));
    }
}
