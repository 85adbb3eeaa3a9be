//! EME-OAEP encoding (RFC 8017 §7.1.1, SHA-256 and MGF1-SHA-256) and the public-exponent RSA
//! operation, for [`crate::seal_with_rng`].
//!
//! This exists because aws-lc-rs cannot take a caller's RNG for OAEP: with it, sealing with a
//! seeded RNG gives the same bytes in every backend, which tests and known-answer vectors
//! need. It touches only public data apart from the padded block (which hides the session key
//! and is zeroized; the `BigUint` copies of it cannot be). [`crate::seal`] uses the backend's
//! own OAEP and never comes here.

use num_bigint::BigUint;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize as _, Zeroizing};

use crate::{Error, PublicKey, Result};

const H_LEN: usize = 32;

/// RSA-OAEP encryption of `message` to `key`, with the OAEP seed drawn from `rng`.
pub(crate) fn encrypt<R: RngCore + CryptoRng>(
    rng: &mut R,
    key: &PublicKey,
    label: &[u8],
    message: &[u8],
) -> Result<Vec<u8>> {
    let k = key.modulus_len();
    let em = encode(rng, k, label, message)?;
    // EM starts with 0x00, so as a number it is below 256^(k-1) <= n.
    let m = BigUint::from_bytes_be(&em);
    let c = m.modpow(key.e(), key.n()).to_bytes_be();
    let mut out = vec![0u8; k];
    out[k - c.len()..].copy_from_slice(&c);
    Ok(out)
}

/// EM = 0x00 ‖ maskedSeed ‖ maskedDB, with DB = lHash ‖ PS ‖ 0x01 ‖ M.
fn encode<R: RngCore + CryptoRng>(
    rng: &mut R,
    k: usize,
    label: &[u8],
    message: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if k < 2 * H_LEN + 2 || message.len() > k - 2 * H_LEN - 2 {
        return Err(Error::Encrypt);
    }
    let mut em = Zeroizing::new(vec![0u8; k]);
    let (head, db) = em.split_at_mut(1 + H_LEN);
    let seed = &mut head[1..];
    rng.fill_bytes(seed);
    db[..H_LEN].copy_from_slice(&Sha256::digest(label));
    let message_at = db.len() - message.len();
    db[message_at - 1] = 0x01;
    db[message_at..].copy_from_slice(message);
    mgf1_xor(db, seed);
    mgf1_xor(seed, db);
    Ok(em)
}

/// `out ^= MGF1-SHA-256(seed, out.len())`.
fn mgf1_xor(out: &mut [u8], seed: &[u8]) {
    for (counter, chunk) in out.chunks_mut(H_LEN).enumerate() {
        let counter =
            u32::try_from(counter).expect("an RSA block needs far fewer than 2^32 rounds");
        let mut mask = Sha256::new()
            .chain_update(seed)
            .chain_update(counter.to_be_bytes())
            .finalize();
        for (o, m) in chunk.iter_mut().zip(mask.iter()) {
            *o ^= m;
        }
        mask.as_mut_slice().zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counter "RNG": deterministic, for shape tests only.
    struct Counter(u8);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for Counter {}

    /// Decodes EM by the RFC's steps, to check `encode` against the spec independently.
    fn decode(em: &[u8], label: &[u8]) -> Vec<u8> {
        assert_eq!(em[0], 0);
        let mut seed = em[1..=H_LEN].to_vec();
        let mut db = em[1 + H_LEN..].to_vec();
        mgf1_xor(&mut seed, &db);
        mgf1_xor(&mut db, &seed);
        assert_eq!(&db[..H_LEN], Sha256::digest(label).as_slice());
        let one = H_LEN + db[H_LEN..].iter().position(|&b| b != 0).expect("a 0x01");
        assert_eq!(db[one], 1);
        db[one + 1..].to_vec()
    }

    #[test]
    fn encoding_decodes_back_by_the_rfc_steps() {
        for (label, message) in [
            (&b""[..], &[7u8; 32][..]),
            (b"ns/name", b""),
            (b"ns", &[1; 190]),
        ] {
            let em = encode(&mut Counter(0), 256, label, message).expect("fits");
            assert_eq!(em.len(), 256);
            assert_eq!(decode(&em, label), message);
        }
    }

    #[test]
    fn the_longest_message_fits_and_one_more_byte_does_not() {
        assert!(encode(&mut Counter(0), 256, b"", &[0; 190]).is_ok());
        assert!(matches!(
            encode(&mut Counter(0), 256, b"", &[0; 191]),
            Err(Error::Encrypt)
        ));
        assert!(matches!(
            encode(&mut Counter(0), 60, b"", b""),
            Err(Error::Encrypt)
        ));
    }

    #[test]
    fn same_rng_same_encoding() {
        let a = encode(&mut Counter(3), 256, b"l", b"m").expect("fits");
        let b = encode(&mut Counter(3), 256, b"l", b"m").expect("fits");
        let c = encode(&mut Counter(4), 256, b"l", b"m").expect("fits");
        assert_eq!(*a, *b);
        assert_ne!(*a, *c);
    }
}
