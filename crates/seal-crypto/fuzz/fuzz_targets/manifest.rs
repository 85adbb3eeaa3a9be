//! Manifest reading on arbitrary bytes (`read_documents`, `read_secrets`,
//! `read_sealed_secrets`), then unsealing every SealedSecret that parses with the 2048-bit
//! fixture key (which renders `spec.template.data`), and writing it back out.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use seal_api::crypto::{Certificate, PrivateKey};
use seal_api::{Format, KeyEntry, Keyring, UnsealOptions};

fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| {
        let key = PrivateKey::from_pem(include_str!("../../../../testdata/keys/rsa2048.key"))
            .expect("the fixture key parses");
        let cert = Certificate::from_pem(include_bytes!("../../../../testdata/keys/rsa2048.crt"))
            .expect("the fixture certificate parses");
        let mut ring = Keyring::new();
        ring.insert(KeyEntry::from_pair(key, cert, "rsa2048.key"));
        ring
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(docs) = seal_api::read_documents(data) {
        for doc in &docs {
            let _ = seal_api::write_document(doc, Format::Yaml);
        }
    }
    let _ = seal_api::read_secrets(data);
    let Ok(sealed) = seal_api::read_sealed_secrets(data) else {
        return;
    };
    for ss in &sealed {
        let _ = seal_api::sealed_secret_to_string(ss, Format::Json);
        let opts = UnsealOptions {
            accept_deprecated_v1_data: true,
            preferred_keys: Vec::new(),
            diagnose_scope: true,
            max_rsa_attempts: None,
        };
        let _ = seal_api::unseal(ss, keyring(), &opts);
    }
});
