//! Private keys for `--recovery-private-key`: PEM keys, key Secrets and Lists of them.

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use anyhow::{Context as _, Result, bail};
use seal_api::crypto::{Certificate, PrivateKey};
use seal_api::{KeyEntry, Keyring, decode_base64, read_documents};
use serde_json::Value;

use crate::files::read_file;

/// Loads every key of every file into one keyring.
pub fn load_keyring(paths: &[PathBuf]) -> Result<Keyring> {
    let mut ring = Keyring::new();
    for path in paths {
        let bytes = read_file(path)?;
        let source = path.display().to_string();
        let entries = parse_key_file(&bytes, &source)
            .with_context(|| format!("failed to load private key(s) from {source}"))?;
        for entry in entries {
            ring.insert(entry);
        }
    }
    if ring.is_empty() {
        bail!("no private key found in --recovery-private-key");
    }
    Ok(ring)
}

fn parse_key_file(bytes: &[u8], source: &str) -> Result<Vec<KeyEntry>> {
    let text = std::str::from_utf8(bytes).context("not UTF-8")?;
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        bail!(
            "the key is encrypted with a passphrase; decrypt it first, e.g. openssl pkey -in KEY -out PLAIN.key (and keep PLAIN.key private)"
        );
    }
    if text.contains("-----BEGIN") {
        let key = PrivateKey::from_pem(text)?;
        let cert = Certificate::from_pem(bytes).ok();
        return Ok(vec![entry(key, cert, source)]);
    }
    let mut out = Vec::new();
    for doc in flatten(read_documents(bytes)?) {
        // Items of a list that `json.Marshal` wrote from a typed SecretList (a key backup made
        // with client-go) carry no kind; upstream decodes them as Secrets.
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("Secret");
        if kind != "Secret" {
            bail!("expected a PEM key, a Secret or a v1 List of Secrets, found a {kind:?}");
        }
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let data = |item: &str| -> Result<Option<Vec<u8>>> {
            match doc.pointer(&format!("/data/{}", item.replace('/', "~1"))) {
                Some(Value::String(s)) => Ok(Some(
                    decode_base64(s).with_context(|| format!("Secret {name}: {item}"))?,
                )),
                _ => Ok(None),
            }
        };
        let key_pem = data("tls.key")?.with_context(|| format!("Secret {name} has no tls.key"))?;
        let key =
            PrivateKey::from_pem(std::str::from_utf8(&key_pem).context("tls.key is not UTF-8")?)
                .with_context(|| format!("Secret {name}: tls.key"))?;
        let cert = data("tls.crt")?.and_then(|c| Certificate::from_pem(&c).ok());
        out.push(entry(key, cert, &format!("{source}: {name}")));
    }
    Ok(out)
}

fn entry(key: PrivateKey, cert: Option<Certificate>, source: &str) -> KeyEntry {
    match cert {
        Some(cert) if cert.public_key() == &key.public_key() => {
            KeyEntry::from_pair(key, cert, source)
        }
        _ => KeyEntry::new(key, None, UNIX_EPOCH, source),
    }
}

/// Unpacks lists: a v1 `List`, a `SecretList` (what `kubectl get secret -o yaml` writes), and a
/// document without a kind that has `items`, as `json.Marshal` writes a typed SecretList, which
/// upstream decodes as a v1 List.
fn flatten(docs: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for doc in docs {
        let is_list = match doc.get("kind").and_then(Value::as_str) {
            Some(kind) => kind == "List" || kind == "SecretList",
            None => doc.get("items").is_some_and(Value::is_array),
        };
        if is_list {
            if let Some(Value::Array(items)) = doc.get("items") {
                out.extend(flatten(items.clone()));
            }
        } else {
            out.push(doc);
        }
    }
    out
}
