//! What the reconcile loop shares between objects: the client, keys and flags, and what it
//! knows of Secrets, retries and the statuses it wrote.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use seal_api::{Keyring, SealedSecret, SealedSecretStatus};
use tokio::sync::Semaphore;

use crate::cache::Cached;
use crate::config::Config;
use crate::decide::{self, Digest, DigestKey, EventSpec, SecretFacts};
use crate::events::Recorder;
use crate::keys::KeyStore;
use crate::metrics::Metrics;

/// What went wrong in one reconcile; every variant is retried by
/// [`error_policy`](super::error_policy).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("failed to {context}")]
    Kube {
        /// What was being done.
        context: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Unsealing failed; retried with backoff until `--max-unseal-retries`.
    #[error("failed to unseal: {0}")]
    Unseal(String),
    /// A Secret of that name is not ours; retried with backoff until `--max-unseal-retries`.
    #[error("{0}")]
    Conflict(String),
    /// The unseal worker thread died.
    #[error("unseal worker failed")]
    Worker,
}

impl Error {
    /// The `unseal_errors_total` reason.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "update",
            Error::Conflict(_) => "unmanaged",
            Error::Unseal(_) | Error::Worker => "unseal",
        }
    }
}

pub(super) fn kube_err(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    move |source| Error::Kube {
        context: context.into(),
        source,
    }
}

/// What the API said, without the Rust error wrapping, for status and events.
pub fn api_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// Namespace and name.
pub(super) type Key = (String, String);

#[derive(Default)]
struct Retry {
    generation: Option<i64>,
    key_epoch: u64,
    count: u32,
}

/// What the metadata-only Secret watch shows under a SealedSecret's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// No Secret (as far as the watch knows; a create that finds one falls back to a GET).
    Absent,
    /// A Secret no SealedSecret may write (no SealedSecret controller, neither `managed` nor
    /// `patch`), at this resourceVersion (`None` if it is not a number).
    Foreign(Option<u64>),
    /// A Secret a SealedSecret may write.
    Facts(SecretFacts),
}

#[derive(Default)]
pub(super) struct State {
    /// Secrets a SealedSecret may write, from the metadata watch.
    pub(super) secrets: HashMap<Key, SecretFacts>,
    /// Every other Secret, per watch source: a keyed 64-bit hash of namespace and name to its
    /// resourceVersion (0 if not a number). Enough to know that a name is taken, and whether a
    /// Secret we wrote without an owner reference is still as written, without keeping 50,000
    /// names.
    pub(super) others: Vec<HashMap<u64, u64>>,
    /// The record of the Secret this process wrote or verified, until the cached status carries
    /// it (the status write may fail, or the watch lag).
    pub(super) verified: HashMap<Key, Digest>,
    /// From the startup list, for Secrets no status records yet (made by upstream's controller,
    /// or by an earlier release that kept the digest on the Secret).
    pub(super) listed: HashMap<Key, Listed>,
    /// The key of `listed`'s MACs.
    pub(super) listing_key: Option<Arc<DigestKey>>,
    /// Consecutive failures per SealedSecret.
    retries: HashMap<Key, Retry>,
    /// Objects to reconcile fully (Flux requestedAt), bypassing the fast path once.
    pub(super) forced: HashSet<Key>,
    /// Digest keys by key ID.
    digest_keys: HashMap<String, Arc<DigestKey>>,
    /// The status we last wrote per SealedSecret (uid, generation, resourceVersion after the
    /// write), newer than the watch cache until the watch catches up.
    pub(super) statuses: HashMap<Key, WrittenStatus>,
    /// With `--update-status=false`: the last event emitted per SealedSecret (and its uid),
    /// standing in for the status that would otherwise tell a change from a repeat.
    pub(super) last_events: HashMap<Key, (Option<String>, EventSpec)>,
    /// Names of SealedSecrets whose Secret, not ours, was deleted: when the watch saw it. See
    /// [`Context::freed_recently`].
    pub(super) freed: HashMap<Key, Instant>,
}

/// A Secret as the startup list showed it.
#[derive(Clone, Debug)]
pub(super) struct Listed {
    /// Its resourceVersion then.
    pub(super) resource_version: String,
    /// [`decide::content_mac`] under [`State::listing_key`].
    pub(super) content: String,
    /// The digest annotation of an earlier release, checked against the content.
    pub(super) legacy: Option<Digest>,
}

#[derive(Clone)]
pub(super) struct WrittenStatus {
    pub(super) uid: Option<String>,
    pub(super) generation: Option<i64>,
    pub(super) resource_version: Option<String>,
    pub(super) status: SealedSecretStatus,
}

/// Shared state of the reconcile loop.
pub struct Context {
    /// The API client: Secrets, Events, keys.
    pub client: Client,
    /// The client for SealedSecrets (watch, GET, status). Upstream builds a clientset per API
    /// group, each with its own `--kubeclient-qps` limiter; [`Context::with_sealed_client`]
    /// gives this one a bucket of its own the same way. By default, `client`.
    pub sealed: Client,
    /// The keys.
    pub keys: KeyStore,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The flags.
    pub cfg: Arc<Config>,
    /// Event writer.
    pub recorder: Recorder,
    pub(super) pool: Arc<Semaphore>,
    state: Mutex<State>,
    hasher: RandomState,
    pub(super) decrypts: AtomicU64,
    pub(super) reconciles: AtomicU64,
    pub(super) requeues: AtomicU64,
    pub(super) triggers: AtomicU64,
    /// The SealedSecret cache, once [`run`](super::run) has made it.
    pub(super) store: Mutex<Option<Store<Cached>>>,
    /// [`decide::FREED_NAME_GRACE`], unless a test set another.
    freed_grace: Duration,
    pub(super) deferrals: AtomicU64,
}

impl Context {
    /// A context; the unseal pool gets `cfg.workers` threads.
    pub fn new(
        client: Client,
        keys: KeyStore,
        metrics: Arc<Metrics>,
        cfg: Arc<Config>,
        recorder: Recorder,
    ) -> Self {
        let workers = usize::from(cfg.workers.max(1));
        Self {
            sealed: client.clone(),
            client,
            keys,
            metrics,
            cfg,
            recorder,
            pool: Arc::new(Semaphore::new(workers)),
            state: Mutex::new(State::default()),
            hasher: RandomState::new(),
            decrypts: AtomicU64::new(0),
            reconciles: AtomicU64::new(0),
            requeues: AtomicU64::new(0),
            triggers: AtomicU64::new(0),
            store: Mutex::new(None),
            freed_grace: decide::FREED_NAME_GRACE,
            deferrals: AtomicU64::new(0),
        }
    }

    /// The same context with another grace for names freed by deleting a Secret that is not
    /// ours (tests: a long one makes the wait observable without racing a clock).
    #[must_use]
    pub fn with_freed_name_grace(mut self, grace: Duration) -> Self {
        self.freed_grace = grace;
        self
    }

    /// How many creates waited for a name freed by deleting a Secret that was not ours.
    pub fn deferral_count(&self) -> u64 {
        self.deferrals.load(Ordering::SeqCst)
    }

    /// The same context with SealedSecret requests going through `client`.
    #[must_use]
    pub fn with_sealed_client(mut self, client: Client) -> Self {
        self.sealed = client;
        self
    }

    /// How many times this process ran the unseal (RSA) step.
    pub fn decrypt_count(&self) -> u64 {
        self.decrypts.load(Ordering::Relaxed)
    }

    /// How many reconciles finished: succeeded, or failed with their retry scheduled.
    pub fn reconcile_count(&self) -> u64 {
        self.reconciles.load(Ordering::SeqCst)
    }

    /// How many retries were scheduled after failed reconciles.
    pub fn requeue_count(&self) -> u64 {
        self.requeues.load(Ordering::SeqCst)
    }

    /// How many reconciles the watches queued (retries not included).
    pub fn trigger_count(&self) -> u64 {
        self.triggers.load(Ordering::SeqCst)
    }

    /// Whether the metadata watch currently shows a Secret `namespace/name`.
    pub fn sees_secret(&self, namespace: &str, name: &str) -> bool {
        self.seen(&(namespace.to_owned(), name.to_owned())) != Seen::Absent
    }

    /// The cache's current entry for `c`'s object (the applier hands a reconcile the entry of
    /// when it was queued; the watch may have brought our own status write back since).
    pub(super) fn latest(&self, c: Arc<Cached>) -> Arc<Cached> {
        let store = self
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        store
            .and_then(|s| s.get(&ObjectRef::from_obj(&*c)))
            .unwrap_or(c)
    }

    /// The resourceVersion of Secret `namespace/name` as the metadata watch last showed it.
    pub fn secret_version(&self, namespace: &str, name: &str) -> Option<String> {
        match self.seen(&(namespace.to_owned(), name.to_owned())) {
            Seen::Facts(f) => Some(f.resource_version),
            Seen::Foreign(rv) => rv.map(|n| n.to_string()),
            Seen::Absent => None,
        }
    }

    /// The resourceVersion of SealedSecret `namespace/name` in the cache.
    pub fn cached_version(&self, namespace: &str, name: &str) -> Option<String> {
        let store = self
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()?;
        store
            .get(&ObjectRef::new(name).within(namespace))?
            .resource_version()
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn name_hash(&self, key: &Key) -> u64 {
        self.hasher.hash_one(key)
    }

    /// What the Secret watch shows under `key`.
    pub(super) fn seen(&self, key: &Key) -> Seen {
        let hash = self.name_hash(key);
        let st = self.state();
        if let Some(f) = st.secrets.get(key) {
            return Seen::Facts(f.clone());
        }
        if let Some(rv) = st.others.iter().find_map(|m| m.get(&hash)) {
            return Seen::Foreign((*rv != 0).then_some(*rv));
        }
        Seen::Absent
    }

    pub(super) fn key_epoch(&self) -> u64 {
        *self.keys.changes().borrow()
    }

    pub(super) fn digest_key(&self, keyring: &Keyring, id: &str) -> Option<Arc<DigestKey>> {
        if let Some(k) = self.state().digest_keys.get(id) {
            if keyring.get(id).is_some() {
                return Some(k.clone());
            }
            return None;
        }
        let entry = keyring.get(id)?;
        let key = Arc::new(DigestKey::derive(entry.key()));
        self.state().digest_keys.insert(id.to_owned(), key.clone());
        Some(key)
    }

    pub(super) fn record_failure(&self, key: &Key, generation: Option<i64>) -> u32 {
        let epoch = self.key_epoch();
        let mut st = self.state();
        let r = st.retries.entry(key.clone()).or_default();
        if r.generation != generation || r.key_epoch != epoch {
            *r = Retry {
                generation,
                key_epoch: epoch,
                count: 0,
            };
        }
        r.count += 1;
        r.count
    }

    pub(super) fn forget_failures(&self, key: &Key) {
        self.state().retries.remove(key);
    }

    pub(super) fn failures(&self, key: &Key) -> u32 {
        self.state().retries.get(key).map_or(0, |r| r.count)
    }

    /// How many times the object failed at this generation and with these keys (0 when its
    /// failures were at another generation or under other keys).
    fn current_failures(&self, key: &Key, generation: Option<i64>) -> u32 {
        let epoch = self.key_epoch();
        self.state()
            .retries
            .get(key)
            .filter(|r| r.generation == generation && r.key_epoch == epoch)
            .map_or(0, |r| r.count)
    }

    /// A retry is scheduled: the object failed, at this generation and with these keys, no
    /// more than `--max-unseal-retries` times.
    pub(super) fn retry_pending(&self, key: &Key, generation: Option<i64>) -> bool {
        (1..=self.cfg.max_unseal_retries).contains(&self.current_failures(key, generation))
    }

    /// The object failed, at this generation and with these keys, more than
    /// `--max-unseal-retries` times: no retry is scheduled any more.
    pub(super) fn retries_exhausted(&self, key: &Key, generation: Option<i64>) -> bool {
        self.current_failures(key, generation) > self.cfg.max_unseal_retries
    }

    /// A Secret that is not ours was deleted where a SealedSecret would create one.
    pub(super) fn name_freed(&self, key: &Key, at: Instant) {
        let grace = self.freed_grace;
        let mut st = self.state();
        // Deletions anywhere in the cluster land here; only those within the grace matter.
        if st.freed.len() >= 1024 {
            st.freed
                .retain(|_, t| decide::freed_grace_left(grace, *t, at).is_some());
        }
        st.freed.insert(key.clone(), at);
    }

    /// How much longer the name stays with whoever deleted the Secret that is not ours: a
    /// tool that deletes and recreates its Secret (`kubectl replace --force`, `helm upgrade
    /// --force`, an operator) gets its name back instead of losing it to the SealedSecret in
    /// the gap. `None` once the grace is over (and then forgotten).
    pub(super) fn freed_recently(&self, key: &Key, now: Instant) -> Option<Duration> {
        let mut st = self.state();
        let left = st
            .freed
            .get(key)
            .and_then(|at| decide::freed_grace_left(self.freed_grace, *at, now));
        if left.is_none() {
            st.freed.remove(key);
        }
        left
    }

    /// Forgets everything about a SealedSecret that has gone.
    pub(super) fn forget(&self, key: &Key) {
        let mut st = self.state();
        st.retries.remove(key);
        st.forced.remove(key);
        st.statuses.remove(key);
        st.last_events.remove(key);
        st.verified.remove(key);
        st.listed.remove(key);
        st.freed.remove(key);
    }
}

/// The object's status as we know it best: what we wrote last (same uid and generation) when
/// the watch cache has not caught up yet, else the cached object's.
pub(super) fn current_status(
    ctx: &Context,
    meta: &ObjectMeta,
    status: Option<&SealedSecretStatus>,
) -> (Option<SealedSecretStatus>, Option<String>) {
    let cached = ctx.state().statuses.get(&meta_key(meta)).cloned();
    let store_rv = meta.resource_version.clone();
    match cached {
        Some(w) if w.uid == meta.uid && w.generation == meta.generation => {
            if written_after(w.resource_version.as_deref(), store_rv.as_deref()) {
                (Some(w.status), w.resource_version)
            } else {
                (status.cloned(), store_rv)
            }
        }
        _ => (status.cloned(), store_rv),
    }
}

/// Whether the resourceVersion our status write returned is newer than `seen` (the watch's).
/// resourceVersions are etcd revisions; anything that does not read as one counts as not newer.
pub(super) fn written_after(written: Option<&str>, seen: Option<&str>) -> bool {
    let number = |rv: Option<&str>| rv.and_then(|r| r.parse::<u64>().ok());
    matches!((number(written), number(seen)), (Some(w), Some(s)) if w > s)
}

/// `Synced` True at the current generation, by the status we know best ([`current_status`]).
pub(super) fn synced_now(ctx: &Context, c: &Cached) -> bool {
    let (status, _) = current_status(ctx, c.meta(), c.status.as_ref());
    decide::synced_at_generation(status.as_ref(), c.meta().generation)
}

/// Whether the object failed at its current generation and waits for something to change: its
/// status says `Synced` False, or (without status updates) this process counted its retries out.
/// A new object, or one in its first reconcile, is not waiting: its reconcile is queued already.
pub(super) fn failed_now(ctx: &Context, c: &Cached) -> bool {
    let generation = c.meta().generation;
    let (status, _) = current_status(ctx, c.meta(), c.status.as_ref());
    decide::failed_at_generation(status.as_ref(), generation)
        || ctx.retries_exhausted(&key_of_cached(c), generation)
}

/// The record of the Secret for this object: this process's own (newest), else the status's.
pub(super) fn recorded_digest(ctx: &Context, c: &Cached) -> Option<Digest> {
    let key = key_of_cached(c);
    if let Some(d) = ctx.state().verified.get(&key) {
        return Some(d.clone());
    }
    let (status, _) = current_status(ctx, c.meta(), c.status.as_ref());
    Digest::of_status(status.as_ref())
}

pub(super) fn key_of(ss: &SealedSecret) -> Key {
    (ss.namespace().unwrap_or_default(), ss.name_any())
}

pub(super) fn key_of_cached(c: &Cached) -> Key {
    (c.namespace().unwrap_or_default(), c.name_any())
}

pub(super) fn meta_key(meta: &ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}
