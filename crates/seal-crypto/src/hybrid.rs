//! The hybrid (post-quantum) sealed-value format, the one place it is spelled out
//! (docs/spec-amendments.md, "#13: post-quantum sealing"):
//!
//! ```text
//! +----------+----------------+-----------------+--------------------+---------------------+
//! | FF FF 01 | len(R): u16 BE | R: RSA-OAEP(s₁) | C: ML-KEM-768 ct   | AES-256-GCM ‖ tag   |
//! +----------+----------------+-----------------+--------------------+---------------------+
//!   3 bytes    2 bytes          len(R) bytes      1088 bytes           rest of the value
//! ```
//!
//! * `FF FF` can never be a classical `len(R)` (that would be a 524,280-bit RSA key), so a
//!   classical opener (upstream's controller, or ours before this format) refuses the value
//!   without decrypting anything: "SealedSecret data is too short" below 65,537 bytes, "no key
//!   could decrypt secret" above. `01` is the format version.
//! * `s₁` is 32 fresh random bytes, RSA-OAEP (SHA-256, MGF1-SHA-256) encrypted under the scope
//!   label, exactly like the classical session key.
//! * `(C, s₂)` is ML-KEM-768 encapsulation (FIPS 203) to the key's encapsulation key.
//! * The AES-256-GCM key is `K = SHA3-256(DOMAIN ‖ s₂ ‖ s₁ ‖ u16(len R) ‖ R ‖ C ‖
//!   SHA-256(RSA SPKI) ‖ u32(len label) ‖ label)`, the shape of the X-Wing and LAMPS
//!   composite ML-KEM combiners (SHA3-256 over the ML-KEM secret, the traditional secret, the
//!   traditional ciphertext and public key, and a domain label), additionally binding the
//!   ML-KEM ciphertext and the scope label. Every field is fixed-size or length-prefixed.
//! * The GCM nonce is 12 zero bytes with no AAD, as in the classical format: sound only
//!   because `K` is fresh for every value (both `s₁` and `s₂` are), so a (key, nonce) pair can
//!   never repeat.

use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use sha3::{Digest as _, Sha3_256};
use zeroize::Zeroizing;

use crate::backend::active;
use crate::format::{GcmOpen, GcmSeal, Opened, SESSION_KEY_LEN};
use crate::mlkem::{self, CT_LEN, MlKemPrivate, SharedSecret};
use crate::{Error, MlKemPublicKey, PrivateKey, PublicKey, Result, oaep};

/// The first bytes of every hybrid value: an impossible classical `len(R)` and the version.
pub(crate) const MAGIC: [u8; 3] = [0xff, 0xff, 0x01];
/// The combiner's domain label, naming the format version and every algorithm in it.
pub(crate) const DOMAIN: &[u8] =
    b"seal.dev/sealed-value/v1 RSA-OAEP-SHA256+ML-KEM-768 SHA3-256 AES-256-GCM";

/// Whether `ciphertext` is in the hybrid format (by its first bytes; nothing is checked).
pub fn is_hybrid(ciphertext: &[u8]) -> bool {
    ciphertext.starts_with(&MAGIC)
}

/// A hybrid value split into its parts.
pub(crate) struct Parts<'a> {
    pub(crate) rsa_block: &'a [u8],
    pub(crate) kem_ct: &'a [u8],
    pub(crate) body: &'a [u8],
}

/// Splits a hybrid value; [`Error::TooShort`] when it cannot hold its header, `R` and `C`.
pub(crate) fn split(ciphertext: &[u8]) -> Result<Parts<'_>> {
    let rest = ciphertext.strip_prefix(&MAGIC).ok_or(Error::TooShort)?;
    let [hi, lo, rest @ ..] = rest else {
        return Err(Error::TooShort);
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if rest.len() < len + CT_LEN {
        return Err(Error::TooShort);
    }
    let (rsa_block, rest) = rest.split_at(len);
    let (kem_ct, body) = rest.split_at(CT_LEN);
    Ok(Parts {
        rsa_block,
        kem_ct,
        body,
    })
}

/// The combiner (see the module docs).
pub(crate) fn combine(
    kem_secret: &[u8; mlkem::SS_LEN],
    rsa_secret: &[u8; SESSION_KEY_LEN],
    rsa_block: &[u8],
    kem_ct: &[u8],
    rsa_spki: &[u8],
    label: &[u8],
) -> Option<Zeroizing<[u8; SESSION_KEY_LEN]>> {
    let rsa_len = u16::try_from(rsa_block.len()).ok()?;
    let label_len = u32::try_from(label.len()).ok()?;
    let mut hash = Sha3_256::new();
    hash.update(DOMAIN);
    hash.update(kem_secret);
    hash.update(rsa_secret);
    hash.update(rsa_len.to_be_bytes());
    hash.update(rsa_block);
    hash.update(kem_ct);
    hash.update(Sha256::digest(rsa_spki));
    hash.update(label_len.to_be_bytes());
    hash.update(label);
    let mut key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    key.copy_from_slice(&hash.finalize());
    Some(key)
}

fn assemble(rsa_block: &[u8], kem_ct: &[u8], body: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(rsa_block.len()).map_err(|_| Error::Encrypt)?;
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + rsa_block.len() + kem_ct.len() + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(rsa_block);
    out.extend_from_slice(kem_ct);
    out.extend_from_slice(body);
    Ok(out)
}

fn finish(
    rsa: &PublicKey,
    rsa_secret: &[u8; SESSION_KEY_LEN],
    rsa_block: &[u8],
    (kem_ct, kem_secret): (Vec<u8>, SharedSecret),
    label: &[u8],
    plaintext: &[u8],
    gcm_seal: GcmSeal,
) -> Result<Vec<u8>> {
    let key = combine(
        &kem_secret,
        rsa_secret,
        rsa_block,
        &kem_ct,
        rsa.spki_der(),
        label,
    )
    .ok_or(Error::Encrypt)?;
    // Zero nonce: `key` is fresh for this one value (see the module docs).
    let body = gcm_seal(&key, plaintext)?;
    assemble(rsa_block, &kem_ct, &body)
}

/// Seals `plaintext` in the hybrid format to an RSA key and an ML-KEM-768 key together, so
/// that recovering it needs breaking both. The label is the scope, as for [`crate::seal`].
///
/// # Errors
///
/// [`Error::BadKey`] if the backend refuses a key, [`Error::Encrypt`] if encryption fails.
pub fn seal_hybrid(
    rsa: &PublicKey,
    pq: &MlKemPublicKey,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut rsa_secret = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    active::fill_random(&mut *rsa_secret);
    let rsa_block = active::oaep_encrypt(rsa, label, &*rsa_secret)?;
    let kem = active::kem_encapsulate(pq)?;
    finish(
        rsa,
        &rsa_secret,
        &rsa_block,
        kem,
        label,
        plaintext,
        active::gcm_seal,
    )
}

/// Like [`seal_hybrid`], but every random byte comes from `rng`, in this order: the RSA secret
/// (32 bytes), the OAEP seed (32), the ML-KEM message `m` (32). For tests and vectors.
///
/// # Errors
///
/// As [`seal_hybrid`].
pub fn seal_hybrid_with_rng<R: RngCore + CryptoRng>(
    rng: &mut R,
    rsa: &PublicKey,
    pq: &MlKemPublicKey,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    seal_hybrid_with_rng_using(rng, rsa, pq, label, plaintext, active::gcm_seal)
}

pub(crate) fn seal_hybrid_with_rng_using<R: RngCore + CryptoRng>(
    rng: &mut R,
    rsa: &PublicKey,
    pq: &MlKemPublicKey,
    label: &[u8],
    plaintext: &[u8],
    gcm_seal: GcmSeal,
) -> Result<Vec<u8>> {
    let mut rsa_secret = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    rng.fill_bytes(&mut *rsa_secret);
    let rsa_block = oaep::encrypt(rng, rsa, label, &*rsa_secret)?;
    let mut m = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut *m);
    let kem = mlkem::encapsulate_deterministic(pq, &m)?;
    finish(
        rsa,
        &rsa_secret,
        &rsa_block,
        kem,
        label,
        plaintext,
        gcm_seal,
    )
}

/// One key's part in opening a hybrid value.
pub(crate) struct Candidate<'a, D> {
    pub(crate) modulus_len: usize,
    pub(crate) rsa_spki: &'a [u8],
    pub(crate) oaep_decrypt: D,
    pub(crate) mlkem: Option<&'a MlKemPrivate>,
}

/// Opens a hybrid value with the first of `keys` that can.
pub(crate) fn open(keys: &[&PrivateKey], label: &[u8], ciphertext: &[u8]) -> Result<Opened> {
    open_with(
        keys.iter().map(|key| Candidate {
            modulus_len: key.modulus_len(),
            rsa_spki: key.public().spki_der(),
            oaep_decrypt: move |label: &[u8], block: &[u8]| {
                key.backend().oaep_decrypt(label, block)
            },
            mlkem: key.mlkem(),
        }),
        label,
        ciphertext,
        active::gcm_open,
    )
}

/// [`open`] over any backend. Keys without an ML-KEM half, or of another modulus length, are
/// skipped without any RSA operation; each other key costs one RSA-OAEP decryption, as in the
/// classical format, and the ML-KEM decapsulation runs only once OAEP has accepted the block.
pub(crate) fn open_with<'a, D>(
    candidates: impl IntoIterator<Item = Candidate<'a, D>>,
    label: &[u8],
    ciphertext: &[u8],
    gcm_open: GcmOpen,
) -> Result<Opened>
where
    D: FnOnce(&[u8], &[u8]) -> Option<Zeroizing<Vec<u8>>>,
{
    let parts = split(ciphertext)?;
    for (key_index, candidate) in candidates.into_iter().enumerate() {
        let Some(mlkem) = candidate.mlkem else {
            continue;
        };
        if candidate.modulus_len != parts.rsa_block.len() {
            continue;
        }
        let Some(rsa_secret) = (candidate.oaep_decrypt)(label, parts.rsa_block) else {
            continue;
        };
        let Ok(rsa_secret) = <&[u8; SESSION_KEY_LEN]>::try_from(rsa_secret.as_slice()) else {
            continue;
        };
        let Some(kem_secret) = mlkem.decapsulate(parts.kem_ct) else {
            continue;
        };
        let Some(key) = combine(
            &kem_secret,
            rsa_secret,
            parts.rsa_block,
            parts.kem_ct,
            candidate.rsa_spki,
            label,
        ) else {
            continue;
        };
        if let Some(plaintext) = gcm_open(&key, parts.body) {
            return Ok(Opened {
                key_index,
                plaintext,
            });
        }
    }
    Err(Error::Decrypt)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::OnceLock;

    use test_case::test_case;

    use super::*;
    use crate::test_support::{key, seeded_rng};

    fn hybrid(stem: &'static str, seed: u8) -> PrivateKey {
        key(stem).with_mlkem_seed(&[seed; 64]).expect("seed loads")
    }

    fn rsa2048() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| hybrid("rsa2048", 1))
    }

    fn rsa4096() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| hybrid("rsa4096", 2))
    }

    fn seal_to(key: &PrivateKey, label: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let pq = key.mlkem_public_key().expect("a hybrid key");
        seal_hybrid(&key.public_key(), pq, label, plaintext).expect("seals")
    }

    fn is_decrypt<T>(result: Result<T>) -> bool {
        matches!(result, Err(Error::Decrypt))
    }

    #[test_case(b"default/mysecret" ; "strict label")]
    #[test_case(b"default" ; "namespace-wide label")]
    #[test_case(b"" ; "cluster-wide empty label")]
    fn hybrid_values_open_with_the_same_label_and_not_another(label: &[u8]) {
        for key in [rsa2048(), rsa4096()] {
            let sealed = seal_to(key, label, b"s3cr3t");
            assert!(is_hybrid(&sealed));
            let opened = crate::open(&[key], label, &sealed).expect("opens");
            assert_eq!(opened.plaintext.as_slice(), b"s3cr3t");
            assert!(is_decrypt(crate::open(&[key], b"other/label", &sealed)));
        }
    }

    #[test]
    fn layout_is_magic_prefix_rsa_block_kem_ciphertext_then_body() {
        for key in [rsa2048(), rsa4096()] {
            let sealed = seal_to(key, b"l", b"12345");
            assert_eq!(sealed[..3], MAGIC);
            let len = usize::from(u16::from_be_bytes([sealed[3], sealed[4]]));
            assert_eq!(len, key.modulus_len());
            assert_eq!(sealed.len(), 3 + 2 + len + CT_LEN + 5 + 16);
            assert_eq!(crate::rsa_block_len(&sealed).expect("long enough"), len);
        }
        // Base64 of FF FF 01 is "//8B": told apart from classical "Ag"/"AQ" at a glance.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(seal_to(rsa2048(), b"", b""));
        assert!(b64.starts_with("//8B"), "{b64}");
    }

    #[test]
    fn a_classical_opener_refuses_hybrid_values_without_decrypting() {
        // What upstream (and the classical path) sees: len(R) = 0xFFFF, longer than the value.
        let sealed = seal_to(rsa4096(), b"l", b"p");
        let tried = Cell::new(0);
        let candidates = [(rsa4096().modulus_len(), |_: &[u8], _: &[u8]| {
            tried.set(tried.get() + 1);
            None
        })];
        let result = crate::format::open_with(candidates, b"l", &sealed, active::gcm_open);
        assert!(matches!(result, Err(Error::TooShort)));
        assert_eq!(tried.get(), 0);
    }

    #[test]
    fn keys_without_an_mlkem_half_or_the_wrong_one_cannot_open() {
        let sealed = seal_to(rsa4096(), b"l", b"p");
        let classical = key("rsa4096");
        assert!(is_decrypt(crate::open(&[&classical], b"l", &sealed)));
        let other_pq = hybrid("rsa4096", 9);
        assert!(is_decrypt(crate::open(&[&other_pq], b"l", &sealed)));
        let other_rsa = hybrid("rsa4096-b", 2);
        assert!(is_decrypt(crate::open(&[&other_rsa], b"l", &sealed)));
        let opened = crate::open(
            &[&classical, &other_pq, rsa2048(), rsa4096()],
            b"l",
            &sealed,
        )
        .expect("the right key is found");
        assert_eq!(opened.key_index, 3);
    }

    #[test]
    fn only_hybrid_keys_of_the_right_size_cost_an_rsa_attempt() {
        let sealed = seal_to(rsa4096(), b"l", b"p");
        let classical = key("rsa4096");
        let keys = [&classical, rsa2048(), rsa4096()];
        let tried = [Cell::new(0), Cell::new(0), Cell::new(0)];
        let candidates = keys.iter().zip(&tried).map(|(key, count)| Candidate {
            modulus_len: key.modulus_len(),
            rsa_spki: key.public().spki_der(),
            oaep_decrypt: move |label: &[u8], block: &[u8]| {
                count.set(count.get() + 1);
                key.backend().oaep_decrypt(label, block)
            },
            mlkem: key.mlkem(),
        });
        let opened = open_with(candidates, b"l", &sealed, active::gcm_open).expect("opens");
        assert_eq!(opened.key_index, 2);
        assert_eq!(tried.map(|c| c.get()), [0, 0, 1]);
    }

    #[test]
    fn flipping_a_bit_in_any_part_fails_to_decrypt() {
        let sealed = seal_to(rsa2048(), b"ns/name", b"0123456789");
        let r = 5..5 + 256;
        let c = r.end..r.end + CT_LEN;
        let body = c.end..sealed.len();
        let mut positions = vec![r.start, r.start + 100, r.end - 1];
        positions.extend([c.start, c.start + 500, c.end - 1]);
        positions.extend(body);
        for at in positions {
            let mut tampered = sealed.clone();
            tampered[at] ^= 0x01;
            assert!(
                is_decrypt(crate::open(&[rsa2048()], b"ns/name", &tampered)),
                "byte {at}"
            );
        }
        // The header: another version, or a length that no longer matches.
        for (at, bit) in [(2, 0x02), (4, 0x01)] {
            let mut tampered = sealed.clone();
            tampered[at] ^= bit;
            assert!(crate::open(&[rsa2048()], b"ns/name", &tampered).is_err());
        }
    }

    #[test]
    fn swapping_either_ciphertext_between_items_fails() {
        let a = seal_to(rsa2048(), b"ns/name", b"first");
        let b = seal_to(rsa2048(), b"ns/name", b"second");
        let c = 5 + 256..5 + 256 + CT_LEN;
        let mut kem_swapped = a.clone();
        kem_swapped[c.clone()].copy_from_slice(&b[c.clone()]);
        assert!(is_decrypt(crate::open(
            &[rsa2048()],
            b"ns/name",
            &kem_swapped
        )));
        let mut rsa_swapped = a.clone();
        rsa_swapped[5..c.start].copy_from_slice(&b[5..c.start]);
        assert!(is_decrypt(crate::open(
            &[rsa2048()],
            b"ns/name",
            &rsa_swapped
        )));
    }

    #[test]
    fn truncation_is_too_short_until_the_kem_ciphertext_is_whole() {
        let sealed = seal_to(rsa2048(), b"l", b"0123456789");
        let whole = 5 + 256 + CT_LEN;
        for len in [3, 4, 5, 200, whole - 1] {
            assert!(
                matches!(
                    crate::open(&[rsa2048()], b"l", &sealed[..len]),
                    Err(Error::TooShort)
                ),
                "{len}"
            );
        }
        for len in [whole, whole + 15, sealed.len() - 1] {
            assert!(
                is_decrypt(crate::open(&[rsa2048()], b"l", &sealed[..len])),
                "{len}"
            );
        }
    }

    #[test]
    fn seal_hybrid_with_rng_is_deterministic_and_stable() {
        use sha2::Digest as _;
        let key = rsa2048();
        let pq = key.mlkem_public_key().expect("hybrid");
        let public = key.public_key();
        let a = seal_hybrid_with_rng(&mut seeded_rng(42), &public, pq, b"ns/n", b"data")
            .expect("seals");
        let b = seal_hybrid_with_rng(&mut seeded_rng(42), &public, pq, b"ns/n", b"data")
            .expect("seals");
        assert_eq!(a, b);
        assert_eq!(
            crate::open(&[key], b"ns/n", &a)
                .expect("opens")
                .plaintext
                .as_slice(),
            b"data"
        );
        let digest = crate::keys::hex(&Sha256::digest(&a));
        assert_eq!(digest, DETERMINISTIC_SHA256);
        let fresh = seal_to(key, b"ns/n", b"data");
        assert_ne!(fresh, seal_to(key, b"ns/n", b"data"));
    }

    const DETERMINISTIC_SHA256: &str =
        "a4c304b459661d05fa75bf694bffc78e25e6f5beb9f0d16b3d4498fa892f0f94";

    #[cfg(all(feature = "aws-lc", feature = "pure-rust"))]
    mod cross_backend {
        use super::*;
        use crate::backend::{aws, rust};

        fn rust_kem(key: &PrivateKey) -> rust::KemKey {
            let seed = key.mlkem_seed().expect("hybrid");
            rust::KemKey::new(mlkem::expand(seed.try_into().expect("64 bytes")))
                .expect("ml-kem loads it")
        }

        #[test]
        fn each_backend_opens_what_the_other_sealed() {
            for key in [rsa2048(), rsa4096()] {
                let pq = key.mlkem_public_key().expect("hybrid");
                for label in [&b"default/mysecret"[..], b"default", b""] {
                    // aws-lc encapsulates, ml-kem decapsulates.
                    let by_aws = seal_to(key, label, b"from aws-lc");
                    let parts = split(&by_aws).expect("splits");
                    let rsa_secret = key
                        .backend()
                        .oaep_decrypt(label, parts.rsa_block)
                        .expect("OAEP");
                    let kem_secret = rust_kem(key).decapsulate(parts.kem_ct).expect("size");
                    let k = combine(
                        &kem_secret,
                        rsa_secret.as_slice().try_into().expect("32"),
                        parts.rsa_block,
                        parts.kem_ct,
                        key.public().spki_der(),
                        label,
                    )
                    .expect("combines");
                    let opened = rust::gcm_open(&k, parts.body).expect("rust opens");
                    assert_eq!(opened.as_slice(), b"from aws-lc");

                    // ml-kem encapsulates (pure-Rust path), aws-lc decapsulates.
                    let (kem_ct, kem_ss) = rust::kem_encapsulate(pq).expect("encapsulates");
                    assert_eq!(
                        *key.mlkem()
                            .expect("hybrid")
                            .backend()
                            .decapsulate(&kem_ct)
                            .expect("size"),
                        *kem_ss
                    );
                    let by_rust = seal_hybrid_with_rng_using(
                        &mut seeded_rng(5),
                        &key.public_key(),
                        pq,
                        label,
                        b"from rust",
                        rust::gcm_seal,
                    )
                    .expect("seals");
                    let opened = crate::open(&[key], label, &by_rust).expect("aws-lc opens");
                    assert_eq!(opened.plaintext.as_slice(), b"from rust");
                    let same = seal_hybrid_with_rng_using(
                        &mut seeded_rng(5),
                        &key.public_key(),
                        pq,
                        label,
                        b"from rust",
                        aws::gcm_seal,
                    )
                    .expect("seals");
                    assert_eq!(same, by_rust, "identical bytes in both backends");
                }
            }
        }
    }
}
