//! Seals a Secret manifest with a certificate and opens it again with the matching key.
//!
//! `cargo run -p seal-api --example roundtrip -- CERT KEY SECRET.yaml`
//!
//! Prints the SealedSecret as kubeseal would, then the names and sizes of the items it unsealed
//! (never their values).
use std::process::ExitCode;

use seal_api::crypto::{Certificate, PrivateKey};
use seal_api::{
    Format, KeyEntry, Keyring, SealOptions, UnsealOptions, read_secrets, seal_secret,
    sealed_secret_to_string, unseal,
};

fn run(cert: &str, key: &str, input: &str) -> Result<(), Box<dyn std::error::Error>> {
    let cert = Certificate::from_pem(&std::fs::read(cert)?)?;
    let key = PrivateKey::from_pem(&std::fs::read_to_string(key)?)?;
    let mut keyring = Keyring::new();
    keyring.insert(KeyEntry::from_pair(key, cert.clone(), "key"));
    let opts = SealOptions {
        key_hint: true,
        default_namespace: Some("default".into()),
        ..SealOptions::default()
    };
    for secret in read_secrets(&std::fs::read(input)?)? {
        let sealed = seal_secret(&secret, cert.public_key(), &opts)?;
        print!("{}", sealed_secret_to_string(&sealed, Format::Yaml)?);
        let unsealed = unseal(&sealed, &keyring, &UnsealOptions::default())?;
        for (item, value) in unsealed.secret.data.iter().flatten() {
            eprintln!("unsealed {item}: {} bytes", value.0.len());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cert, key, input] = args.as_slice() else {
        eprintln!("usage: roundtrip CERT KEY SECRET.yaml");
        return ExitCode::from(2);
    };
    match run(cert, key, input) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
