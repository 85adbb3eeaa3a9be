//! Key and certificate parsing on arbitrary bytes: `PrivateKey::from_pem`,
//! `PublicKey::from_pem`, `Certificate::from_pem`/`all_from_pem`/`from_der`, and the DER
//! entry points behind them, and the ML-KEM key extension (`Certificate::mlkem_public_key`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use seal_crypto::{Certificate, PrivateKey, PublicKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = PrivateKey::from_pem(text) {
            // Whatever parses must round-trip through its own encoding.
            let again = PrivateKey::from_pem(&key.to_pkcs1_pem()).expect("own PEM parses");
            assert!(again.public_key() == key.public_key());
        }
        if let Ok(key) = PublicKey::from_pem(text) {
            let _ = key.key_id();
            let again = PublicKey::from_spki_der(&key.to_spki_der()).expect("own SPKI parses");
            assert!(again == key);
        }
    }
    if let Ok(cert) = Certificate::from_pem(data) {
        let again = Certificate::from_pem(cert.to_pem().as_bytes()).expect("own PEM parses");
        assert_eq!(again.der(), cert.der());
        let _ = (cert.common_name(), cert.serial_hex(), cert.not_after());
    }
    let _ = Certificate::all_from_pem(data);
    if let Ok(cert) = Certificate::from_der(data) {
        let _ = (cert.common_name(), cert.serial_hex(), cert.not_before());
        let _ = cert.ensure_not_expired(std::time::SystemTime::UNIX_EPOCH);
        // The PQ key extension: a key comes back only under a verified self-signature.
        if let Ok(Some(pq)) = cert.mlkem_public_key() {
            assert_eq!(pq.as_bytes().len(), 1184);
        }
    }
    let _ = PublicKey::from_spki_der(data);
    let _ = PrivateKey::from_pkcs1_der(data);
    let _ = PrivateKey::from_pkcs8_der(data);
});
