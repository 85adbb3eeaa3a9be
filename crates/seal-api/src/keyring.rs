//! The set of private keys a controller (or a recovery run) can unseal with.

use std::sync::Arc;
use std::time::SystemTime;

use seal_crypto::{Certificate, PrivateKey};

/// One key pair with what identifies and orders it.
pub struct KeyEntry {
    key: PrivateKey,
    certificate: Option<Certificate>,
    id: String,
    order_time: SystemTime,
    source: String,
}

impl KeyEntry {
    /// A key pair; `order_time` ranks it (the certificate's NotBefore, or the key Secret's
    /// creation time under `--key-order-priority=SecretCreationTimestamp`); `source` says where it
    /// came from (a Secret name or file), for messages.
    pub fn new(
        key: PrivateKey,
        certificate: Option<Certificate>,
        order_time: SystemTime,
        source: impl Into<String>,
    ) -> Self {
        let id = key.public_key().key_id();
        Self {
            key,
            certificate,
            id,
            order_time,
            source: source.into(),
        }
    }

    /// A key pair ranked by its certificate's NotBefore.
    pub fn from_pair(key: PrivateKey, certificate: Certificate, source: impl Into<String>) -> Self {
        let not_before = certificate.not_before();
        Self::new(key, Some(certificate), not_before, source)
    }

    /// The private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }
    /// The certificate, when the key came with one.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }
    /// The key ID (`SHA256:…`).
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The time that ranks this key among the others.
    pub fn order_time(&self) -> SystemTime {
        self.order_time
    }
    /// Where this key came from.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Keys, newest first. Cheap to clone: entries are shared.
#[derive(Clone, Default)]
pub struct Keyring {
    entries: Vec<Arc<KeyEntry>>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key, replacing one with the same ID, keeping the newest-first order.
    pub fn insert(&mut self, entry: impl Into<Arc<KeyEntry>>) {
        let entry = entry.into();
        self.entries.retain(|e| e.id != entry.id);
        let at = self
            .entries
            .partition_point(|e| e.order_time >= entry.order_time);
        self.entries.insert(at, entry);
    }

    /// Removes the key with this ID; true if there was one.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.id != id);
        self.entries.len() != before
    }

    /// The sealing key: the newest.
    pub fn newest(&self) -> Option<&Arc<KeyEntry>> {
        self.entries.first()
    }

    /// The key with this ID.
    pub fn get(&self, id: &str) -> Option<&Arc<KeyEntry>> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// All keys, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<KeyEntry>> {
        self.entries.iter()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys in the order to try them: the `preferred` IDs first (in their order, unknown
    /// ones skipped), then the rest newest first.
    pub fn ordered<'a>(&'a self, preferred: &[&str]) -> Vec<&'a KeyEntry> {
        let mut out: Vec<&KeyEntry> = Vec::with_capacity(self.entries.len());
        for id in preferred {
            if let Some(e) = self.get(id)
                && !out.iter().any(|o| o.id == e.id)
            {
                out.push(e);
            }
        }
        for e in &self.entries {
            if !out.iter().any(|o| o.id == e.id) {
                out.push(e);
            }
        }
        out
    }
}
