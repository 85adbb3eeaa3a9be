//! ML-KEM-768 (FIPS 203) keys: the post-quantum half of a hybrid controller key.
//!
//! The decapsulation key is kept in its 64-byte seed form `d ‖ z` (FIPS 203 §7.1,
//! `ML-KEM.KeyGen_internal(d, z)`), zeroized on drop. The expansion from the seed is done by
//! RustCrypto's `ml-kem` in every build (aws-lc-rs 1.19 cannot load a seed); the aws-lc
//! backend then decapsulates with the expanded key, the pure-Rust backend with `ml-kem`.

use std::fmt;

use ml_kem::KeyExport as _;
use ml_kem::array::Array;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::backend::active;
use crate::keys::hex;
use crate::{Error, Result};

/// Size of an ML-KEM-768 seed (`d ‖ z`).
pub(crate) const SEED_LEN: usize = 64;
#[cfg(test)]
/// Size of an ML-KEM-768 encapsulation key.
pub(crate) const EK_LEN: usize = 1184;
/// Size of an ML-KEM-768 ciphertext.
pub(crate) const CT_LEN: usize = 1088;
/// Size of the ML-KEM shared secret.
pub(crate) const SS_LEN: usize = 32;

/// An ML-KEM-768 shared secret, zeroized on drop.
pub(crate) type SharedSecret = Zeroizing<[u8; SS_LEN]>;

/// An ML-KEM-768 encapsulation (public) key, as carried in the controller's certificate.
///
/// Not secret, so `Clone` and `Debug` (which shows its SHA-256 fingerprint).
#[derive(Clone, PartialEq, Eq)]
pub struct MlKemPublicKey {
    bytes: Vec<u8>,
}

impl fmt::Debug for MlKemPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlKemPublicKey")
            .field("sha256", &self.fingerprint_sha256())
            .finish()
    }
}

impl MlKemPublicKey {
    /// Parses a raw 1184-byte ML-KEM-768 encapsulation key, with the FIPS 203 §7.2 input
    /// check (every coefficient reduced modulo q).
    ///
    /// # Errors
    ///
    /// [`Error::BadMlKemKey`] for another length or a key that fails the check.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        parse_ek(bytes)?;
        Ok(Self {
            bytes: bytes.to_vec(),
        })
    }

    /// The raw 1184-byte encapsulation key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Lowercase hex SHA-256 of the raw encapsulation key.
    pub fn fingerprint_sha256(&self) -> String {
        hex(&Sha256::digest(&self.bytes))
    }
}

pub(crate) fn parse_ek(bytes: &[u8]) -> Result<ml_kem::ml_kem_768::EncapsulationKey> {
    let array = Array::try_from(bytes).map_err(|_| Error::BadMlKemKey {
        context: "an encapsulation key is 1184 bytes",
    })?;
    ml_kem::ml_kem_768::EncapsulationKey::new(&array).map_err(|_| Error::BadMlKemKey {
        context: "the encapsulation key fails the FIPS 203 modulus check",
    })
}

/// FIPS 203 `ML-KEM.KeyGen_internal(d, z)` from the 64-byte seed, by `ml-kem`.
pub(crate) fn expand(seed: &[u8; SEED_LEN]) -> ml_kem::ml_kem_768::DecapsulationKey {
    ml_kem::ml_kem_768::DecapsulationKey::from_seed(Array::from(*seed))
}

/// FIPS 203 `ML-KEM.Encaps_internal(ek, m)`: deterministic encapsulation for
/// [`crate::seal_hybrid_with_rng`] (tests and vectors), the same in every backend.
pub(crate) fn encapsulate_deterministic(
    ek: &MlKemPublicKey,
    m: &[u8; 32],
) -> Result<(Vec<u8>, SharedSecret)> {
    let ek = parse_ek(ek.as_bytes())?;
    let (ct, ss) = ek.encapsulate_deterministic(&Array::from(*m));
    let mut out = Zeroizing::new([0u8; SS_LEN]);
    out.copy_from_slice(ss.as_slice());
    Ok((ct.as_slice().to_vec(), out))
}

/// The private half: the seed and the backend's decapsulation key. Neither `Debug` nor `Clone`.
pub(crate) struct MlKemPrivate {
    seed: Zeroizing<[u8; SEED_LEN]>,
    public: MlKemPublicKey,
    backend: active::KemKey,
}

impl MlKemPrivate {
    pub(crate) fn from_seed(seed: &[u8]) -> Result<Self> {
        let seed: [u8; SEED_LEN] = seed.try_into().map_err(|_| Error::BadMlKemKey {
            context: "a seed is 64 bytes (d ‖ z)",
        })?;
        let seed = Zeroizing::new(seed);
        let expanded = expand(&seed);
        let public = MlKemPublicKey {
            bytes: expanded.encapsulation_key().to_bytes().as_slice().to_vec(),
        };
        let backend = active::KemKey::new(expanded)?;
        Ok(Self {
            seed,
            public,
            backend,
        })
    }

    pub(crate) fn generate() -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        active::fill_random(&mut *seed);
        Self::from_seed(&*seed)
    }

    pub(crate) fn seed(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }

    pub(crate) fn public(&self) -> &MlKemPublicKey {
        &self.public
    }

    /// Decapsulates `ct`. ML-KEM has implicit rejection: a wrong key or a tampered ciphertext
    /// yields a pseudo-random secret, which the AES-GCM tag then refuses.
    pub(crate) fn decapsulate(&self, ct: &[u8]) -> Option<SharedSecret> {
        self.backend.decapsulate(ct)
    }

    #[cfg(all(test, feature = "aws-lc", feature = "pure-rust"))]
    pub(crate) fn backend(&self) -> &active::KemKey {
        &self.backend
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_key_every_time_and_round_trips() {
        let a = MlKemPrivate::from_seed(&[7u8; 64]).expect("loads");
        let b = MlKemPrivate::from_seed(&[7u8; 64]).expect("loads");
        assert_eq!(a.public(), b.public());
        assert_eq!(a.public().as_bytes().len(), EK_LEN);
        assert_eq!(a.seed(), &[7u8; 64]);
        let (ct, ss) = active::kem_encapsulate(a.public()).expect("encapsulates");
        assert_eq!(ct.len(), CT_LEN);
        assert_eq!(*b.decapsulate(&ct).expect("decapsulates"), *ss);
        let (ct, ss) = encapsulate_deterministic(a.public(), &[1u8; 32]).expect("encapsulates");
        assert_eq!(*a.decapsulate(&ct).expect("decapsulates"), *ss);
        let other = MlKemPrivate::from_seed(&[8u8; 64]).expect("loads");
        assert_ne!(*other.decapsulate(&ct).expect("implicit rejection"), *ss);
    }

    #[test]
    fn bad_seeds_and_public_keys_are_refused() {
        assert!(matches!(
            MlKemPrivate::from_seed(&[0u8; 63]),
            Err(Error::BadMlKemKey { .. })
        ));
        assert!(MlKemPublicKey::from_bytes(&[0u8; 10]).is_err());
        // Coefficients of 0xfff are above q = 3329: the FIPS 203 modulus check refuses them.
        assert!(MlKemPublicKey::from_bytes(&[0xffu8; EK_LEN]).is_err());
        let good = MlKemPrivate::generate().expect("generates");
        let again = MlKemPublicKey::from_bytes(good.public().as_bytes()).expect("parses");
        assert_eq!(&again, good.public());
        assert!(format!("{again:?}").contains(&again.fingerprint_sha256()));
    }
}
