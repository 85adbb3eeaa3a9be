//! seal-controller: unseals SealedSecrets into Secrets, owns and renews the sealing keys, and
//! serves the certificate. A drop-in for the Bitnami Sealed Secrets controller.

pub mod config;
pub mod controller;
pub mod decide;
pub mod events;
pub mod http;
pub mod keys;
pub mod leader;
pub mod metrics;

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this replica leads (reconciles, generates keys). Without `--leader-elect` it is
/// always `true`.
pub type LeaderFlag = tokio::sync::watch::Receiver<bool>;

/// What `/readyz` reports: ready once the keys are loaded and the caches are synced.
#[derive(Debug, Default)]
pub struct Readiness {
    keys_loaded: AtomicBool,
    caches_synced: AtomicBool,
}

impl Readiness {
    /// Marks the keys as loaded.
    pub fn set_keys_loaded(&self) {
        self.keys_loaded.store(true, Ordering::Release);
    }
    /// Marks the watch caches as synced.
    pub fn set_caches_synced(&self) {
        self.caches_synced.store(true, Ordering::Release);
    }
    /// True once both are done.
    pub fn is_ready(&self) -> bool {
        self.keys_loaded.load(Ordering::Acquire) && self.caches_synced.load(Ordering::Acquire)
    }
}
