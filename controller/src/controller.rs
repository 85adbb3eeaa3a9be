//! The reconcile loop: SealedSecret → Secret (SPEC §6, §8).
//!
//! - Triggers: a SealedSecret is added, its `spec` (generation) changes, or its
//!   `reconcile.fluxcd.io/requestedAt` annotation changes; an owned or `managed` Secret is
//!   deleted or (with `--self-heal`) edited; the keys change. Status-only and metadata-only
//!   changes are ignored.
//! - Secrets are watched metadata-only; only Secrets carrying our digest annotation are
//!   remembered (name, resourceVersion, digest), and a full Secret is fetched only when it may
//!   need a write.
//! - An object whose Secret carries a digest matching its spec and keys, whose Secret is at the
//!   resourceVersion we wrote or verified, and whose status says `Synced` True at this
//!   generation, is done without any API call or decryption (no restart storm).
//! - SealedSecrets are watched untyped and cached slim ([`crate::cache`]): no ciphertexts, and
//!   one unreadable object is reported on its own status instead of failing the watch. The
//!   slow path fetches the whole object before it decrypts.
//! - API refusals that cannot pass on retry (400, 422) stall until the spec changes; other
//!   failures are retried with back-off.
//! - RSA work runs on a bounded pool (`--workers` blocking threads); the applier runs at least
//!   that many objects at once, one at a time per object.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, DynamicObject, PostParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Action, applier};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use seal_api::{ANNOTATION_DIGEST, Keyring, SealedSecret, SealedSecretStatus, UnsealOptions};
use tokio::sync::{Semaphore, watch};

use crate::cache::Cached;
use crate::config::Config;
use crate::decide::{
    self, Digest, DigestKey, EventSpec, Failure, Outcome, Ownership, Plan, SpecHash, content_mac,
    spec_mac,
};
use crate::events::Recorder;
use crate::keys::KeyStore;
use crate::metrics::Metrics;

pub use crate::cache::FLUX_REQUESTED_AT;
use crate::cache::INSTANCE_LABEL;
/// First retry delay.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// What went wrong in one reconcile; every variant is retried by [`error_policy`].
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
    /// The unseal worker thread died.
    #[error("unseal worker failed")]
    Worker,
}

impl Error {
    /// The `unseal_errors_total` reason.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "update",
            Error::Unseal(_) | Error::Worker => "unseal",
        }
    }
}

fn kube_err(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
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

type Key = (String, String);

/// What we remember of a Secret that carries our digest.
#[derive(Clone, Debug)]
struct SecretMeta {
    resource_version: String,
    digest: Option<Digest>,
}

#[derive(Default)]
struct Retry {
    generation: Option<i64>,
    key_epoch: u64,
    count: u32,
}

#[derive(Default)]
struct State {
    /// Secrets with our digest, from the metadata watch.
    secrets: HashMap<Key, SecretMeta>,
    /// The resourceVersion of each Secret we wrote or whose content we verified.
    verified: HashMap<Key, String>,
    /// Consecutive failures per SealedSecret.
    retries: HashMap<Key, Retry>,
    /// Objects to reconcile fully (Flux requestedAt), bypassing the fast path once.
    forced: HashSet<Key>,
    /// Digest keys by key ID.
    digest_keys: HashMap<String, Arc<DigestKey>>,
    /// The status we last wrote per SealedSecret (uid, generation, resourceVersion after the
    /// write), newer than the watch cache until the watch catches up.
    statuses: HashMap<Key, WrittenStatus>,
    /// With `--update-status=false`: the last event emitted per SealedSecret (and its uid),
    /// standing in for the status that would otherwise tell a change from a repeat.
    last_events: HashMap<Key, (Option<String>, EventSpec)>,
}

#[derive(Clone)]
struct WrittenStatus {
    uid: Option<String>,
    generation: Option<i64>,
    resource_version: Option<String>,
    status: SealedSecretStatus,
}

/// Shared state of the reconcile loop.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The keys.
    pub keys: KeyStore,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The flags.
    pub cfg: Arc<Config>,
    /// Event writer.
    pub recorder: Recorder,
    pool: Arc<Semaphore>,
    state: Mutex<State>,
    decrypts: AtomicU64,
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
            client,
            keys,
            metrics,
            cfg,
            recorder,
            pool: Arc::new(Semaphore::new(workers)),
            state: Mutex::new(State::default()),
            decrypts: AtomicU64::new(0),
        }
    }

    /// How many times this process ran the unseal (RSA) step.
    pub fn decrypt_count(&self) -> u64 {
        self.decrypts.load(Ordering::Relaxed)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn key_epoch(&self) -> u64 {
        *self.keys.changes().borrow()
    }

    fn digest_key(&self, keyring: &Keyring, id: &str) -> Option<Arc<DigestKey>> {
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

    fn record_failure(&self, key: &Key, generation: Option<i64>) -> u32 {
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

    fn failures(&self, key: &Key) -> u32 {
        self.state().retries.get(key).map_or(0, |r| r.count)
    }
}

/// The object's status as we know it best: what we wrote last (same uid and generation) when
/// the watch cache has not caught up yet, else the cached object's.
fn current_status(
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
fn written_after(written: Option<&str>, seen: Option<&str>) -> bool {
    let number = |rv: Option<&str>| rv.and_then(|r| r.parse::<u64>().ok());
    matches!((number(written), number(seen)), (Some(w), Some(s)) if w > s)
}

/// `Synced` True at the current generation, by the status we know best ([`current_status`]).
fn synced_now(ctx: &Context, c: &Cached) -> bool {
    let (status, _) = current_status(ctx, c.meta(), c.status.as_ref());
    decide::synced_at_generation(status.as_ref(), c.meta().generation)
}

fn key_of(ss: &SealedSecret) -> Key {
    (ss.namespace().unwrap_or_default(), ss.name_any())
}

/// Reconciles one SealedSecret: decide, write, update status, return an [`Action`].
///
/// # Errors
///
/// An [`Error`] when the object must be retried (API failures, unseal failures below
/// `--max-unseal-retries`).
#[tracing::instrument(skip(cached, ctx), fields(namespace = %cached.namespace().unwrap_or_default(), name = %cached.name_any()))]
pub async fn reconcile(cached: Arc<Cached>, ctx: Arc<Context>) -> Result<Action, Error> {
    let key = key_of_cached(&cached);
    let (ns, name) = key.clone();
    if cached.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let spec_hash = match &cached.spec {
        Ok(h) => *h,
        Err(detail) => {
            tracing::warn!(error = %detail, "cannot read the SealedSecret; waiting for a spec change");
            ctx.metrics.unseal_error("unseal", &ns);
            let f = Failure::invalid(detail);
            return finish(&ctx, &cached.view(), Outcome::Failed(f), false).await;
        }
    };
    let keyring = ctx.keys.keyring();
    let forced = ctx.state().forced.remove(&key);
    if !forced && fast_path(&ctx, &cached, &spec_hash, &keyring) {
        tracing::trace!("in sync");
        // After a restart the metric is still there for every object, as upstream has it.
        let instance = cached
            .labels()
            .get(INSTANCE_LABEL)
            .map_or("", String::as_str);
        ctx.metrics
            .set_condition(&ns, &name, decide::SYNCED, instance, 1);
        return Ok(Action::await_change());
    }
    let view = cached.view();
    let ss = &view;
    ctx.metrics.unseal_request();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let existing = match secrets.get_opt(&name).await {
        Ok(s) => s,
        Err(e) => {
            ctx.metrics.unseal_error("fetch", &ns);
            return fail_api(&ctx, ss, &key, e, "get Secret").await;
        }
    };
    let uid = ss.uid().unwrap_or_default();

    if let Some(existing) = &existing {
        let owner = decide::ownership(&existing.metadata, &uid);
        if owner == Ownership::Unmanaged {
            ctx.metrics.unseal_error("unmanaged", &ns);
            return finish(&ctx, ss, Outcome::Failed(Failure::conflict(&name)), false).await;
        }
        if verify_content(&ctx, ss, &spec_hash, &keyring, existing) {
            tracing::debug!("Secret matches its digest; no decryption needed");
            remember_verified(&ctx, existing);
            return finish(&ctx, ss, Outcome::Synced, false).await;
        }
    }

    // The cache has no ciphertexts: fetch the object, as it is now.
    let full = match fetch_sealed(&ctx, ss).await {
        Ok(Some(full)) => full,
        Ok(None) => return Ok(Action::await_change()),
        Err(e) => {
            ctx.metrics.unseal_error("fetch", &ns);
            return fail_api(&ctx, ss, &key, e, "get SealedSecret").await;
        }
    };

    // Decrypt on the worker pool.
    let preferred = existing
        .as_ref()
        .and_then(|s| Digest::of(&s.metadata))
        .map(|d| d.key_ids)
        .unwrap_or_default();
    let unsealed = match unseal_on_pool(&ctx, &full, &keyring, preferred).await? {
        Ok(u) => u,
        Err(err) => {
            // Redacted: template and v1 errors can quote plaintext (see the function).
            let hint = match &err {
                seal_api::Error::Unseal(f) => decide::scope_hint(&full, f),
                _ => None,
            };
            let failure = Failure::unseal(&decide::unseal_error_message(&err), hint);
            ctx.metrics.unseal_error("unseal", &ns);
            let count = ctx.record_failure(&key, ss.metadata.generation);
            if count > ctx.cfg.max_unseal_retries {
                tracing::warn!(
                    attempts = count,
                    "cannot unseal; giving up until the spec or keys change"
                );
                return finish(&ctx, ss, Outcome::Failed(failure.stalled()), false).await;
            }
            tracing::info!(attempts = count, "cannot unseal; will retry");
            let msg = failure.synced_message.clone();
            finish(&ctx, ss, Outcome::Failed(failure), false).await?;
            return Err(Error::Unseal(msg));
        }
    };
    for (id, n) in count_items(&unsealed.opened_by) {
        if let Some(entry) = keyring.get(&id) {
            ctx.metrics.items_opened(&id, n, entry.order_time());
        }
    }

    let key_ids: Vec<String> = if unsealed.key_ids.is_empty() {
        keyring
            .newest()
            .map(|e| e.id().to_owned())
            .into_iter()
            .collect()
    } else {
        unsealed.key_ids.iter().cloned().collect()
    };
    let dkey = key_ids.first().and_then(|id| ctx.digest_key(&keyring, id));
    let full_hash = SpecHash::of(&full.spec);
    let smac = dkey
        .as_ref()
        .map(|k| spec_mac(k, &full.metadata, &full_hash, &key_ids));
    let digest = |s: &Secret| match (&dkey, &smac) {
        (Some(k), Some(sm)) => Digest {
            key_ids: key_ids.clone(),
            spec: sm.clone(),
            content: content_mac(k, s),
        }
        .to_annotation(),
        _ => String::new(),
    };
    let plan = decide::plan_write(existing.as_ref(), unsealed.secret, &uid, digest);
    let written = match plan {
        Plan::Unchanged => {
            if let Some(e) = &existing {
                remember_verified(&ctx, e);
            }
            false
        }
        Plan::Create(_) if !still_exists(&ctx, ss).await => {
            tracing::debug!("SealedSecret has gone; not recreating its Secret");
            return Ok(Action::await_change());
        }
        Plan::Create(secret) => match secrets.create(&PostParams::default(), &secret).await {
            Ok(s) => {
                tracing::info!("created Secret");
                remember_verified(&ctx, &s);
                true
            }
            Err(e) => {
                ctx.metrics.unseal_error("update", &ns);
                return fail_api(&ctx, ss, &key, e, "create Secret").await;
            }
        },
        Plan::Replace(secret) => {
            match secrets
                .replace(&name, &PostParams::default(), &secret)
                .await
            {
                Ok(s) => {
                    tracing::info!("updated Secret");
                    remember_verified(&ctx, &s);
                    true
                }
                Err(e)
                    if api_message(&e).ends_with("field is immutable when `immutable` is set") =>
                {
                    ctx.metrics.unseal_error("update", &ns);
                    let f = Failure::immutable(&ns, &name);
                    return finish(&ctx, ss, Outcome::Failed(f), false).await;
                }
                Err(e) => {
                    ctx.metrics.unseal_error("update", &ns);
                    return fail_api(&ctx, ss, &key, e, "update Secret").await;
                }
            }
        }
        Plan::Conflict(f) => {
            ctx.metrics.unseal_error("unmanaged", &ns);
            return finish(&ctx, ss, Outcome::Failed(f), false).await;
        }
        Plan::Immutable(f) => {
            ctx.metrics.unseal_error("update", &ns);
            return finish(&ctx, ss, Outcome::Failed(f), false).await;
        }
    };
    finish(&ctx, ss, Outcome::Synced, written).await
}

/// The whole SealedSecret for decryption, if it is still the object and generation the cache
/// holds. `None` when it has gone, been replaced, moved to a newer generation or become
/// unreadable: the watch brings that change and reconciles again.
async fn fetch_sealed(
    ctx: &Context,
    ss: &SealedSecret,
) -> Result<Option<SealedSecret>, kube::Error> {
    let api: Api<SealedSecret> =
        Api::namespaced(ctx.client.clone(), &ss.namespace().unwrap_or_default());
    let full = match api.get_opt(&ss.name_any()).await {
        Ok(f) => f,
        Err(kube::Error::SerdeError(error)) => {
            tracing::debug!(%error, "SealedSecret changed and cannot be read; waiting for the watch");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    Ok(full.filter(|f| {
        let same = f.uid() == ss.uid() && f.metadata.generation == ss.metadata.generation;
        if !same {
            tracing::debug!("SealedSecret changed since it was cached; waiting for the watch");
        }
        same
    }))
}

/// Before recreating a Secret: is the SealedSecret still there (same uid, not being deleted)?
///
/// Our cache can be behind: after a relist (410 Gone) or when the Secret watch reports the
/// garbage collector's delete before the SealedSecret watch reports the owner's, a "deleted
/// Secret" trigger may come for a SealedSecret that has gone, and creating would resurrect its
/// Secret with a dangling owner. Only asked when the object was reconciled before (it has a
/// status, or there is none to go by), so first-time creates cost no extra request. An API
/// error counts as "exists": the create then fails or succeeds as before.
async fn still_exists(ctx: &Context, ss: &SealedSecret) -> bool {
    if ctx.cfg.update_status && ss.status.is_none() {
        return true;
    }
    let api: Api<SealedSecret> =
        Api::namespaced(ctx.client.clone(), &ss.namespace().unwrap_or_default());
    match api.get_opt(&ss.name_any()).await {
        Ok(Some(now)) => now.uid() == ss.uid() && now.metadata.deletion_timestamp.is_none(),
        Ok(None) => false,
        Err(_) => true,
    }
}

fn count_items(opened_by: &std::collections::BTreeMap<String, String>) -> HashMap<String, u64> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for id in opened_by.values() {
        *out.entry(id.clone()).or_default() += 1;
    }
    out
}

/// No API call, no decryption: the remembered Secret carries a digest of this spec under keys
/// we still hold, is at a resourceVersion we wrote or verified, and the status is Synced at
/// this generation.
fn fast_path(ctx: &Context, c: &Cached, spec: &SpecHash, keyring: &Keyring) -> bool {
    if ctx.cfg.update_status && !synced_now(ctx, c) {
        return false;
    }
    let key = key_of_cached(c);
    let digest = {
        let st = ctx.state();
        let Some(meta) = st.secrets.get(&key) else {
            return false;
        };
        if st.verified.get(&key) != Some(&meta.resource_version) {
            return false;
        }
        match &meta.digest {
            Some(d) => d.clone(),
            None => return false,
        }
    };
    spec_matches(ctx, c.meta(), spec, keyring, &digest).is_some()
}

/// The digest key when `digest` was made for this spec with keys we hold.
fn spec_matches(
    ctx: &Context,
    meta: &ObjectMeta,
    spec: &SpecHash,
    keyring: &Keyring,
    digest: &Digest,
) -> Option<Arc<DigestKey>> {
    if !digest.key_ids.iter().all(|id| keyring.get(id).is_some()) {
        return None;
    }
    let dkey = ctx.digest_key(keyring, &digest.key_ids[0])?;
    (spec_mac(&dkey, meta, spec, &digest.key_ids) == digest.spec).then_some(dkey)
}

/// The full Secret still holds exactly what we wrote for this spec.
fn verify_content(
    ctx: &Context,
    ss: &SealedSecret,
    spec: &SpecHash,
    keyring: &Keyring,
    secret: &Secret,
) -> bool {
    let Some(digest) = Digest::of(&secret.metadata) else {
        return false;
    };
    let Some(dkey) = spec_matches(ctx, &ss.metadata, spec, keyring, &digest) else {
        return false;
    };
    if content_mac(&dkey, secret) != digest.content {
        return false;
    }
    // A template `immutable: true` must still be applied, and `type` must match.
    let template = &ss.spec.template;
    let immutable_pending = template.immutable == Some(true) && secret.immutable != Some(true);
    !immutable_pending
}

fn remember_verified(ctx: &Context, secret: &Secret) {
    let key = (secret.namespace().unwrap_or_default(), secret.name_any());
    let rv = secret.resource_version().unwrap_or_default();
    let mut st = ctx.state();
    st.secrets.insert(
        key.clone(),
        SecretMeta {
            resource_version: rv.clone(),
            digest: Digest::of(&secret.metadata),
        },
    );
    st.verified.insert(key, rv);
}

async fn unseal_on_pool(
    ctx: &Context,
    ss: &SealedSecret,
    keyring: &Arc<Keyring>,
    preferred: Vec<String>,
) -> Result<seal_api::Result<seal_api::Unsealed>, Error> {
    let _permit = ctx
        .pool
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Error::Worker)?;
    ctx.decrypts.fetch_add(1, Ordering::Relaxed);
    let opts = UnsealOptions {
        accept_deprecated_v1_data: ctx.cfg.accept_deprecated_v1_data,
        preferred_keys: preferred,
        diagnose_scope: true,
        max_rsa_attempts: None,
    };
    let ss = ss.clone();
    let keyring = keyring.clone();
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || seal_api::unseal(&ss, &keyring, &opts))
        .await
        .map_err(|_| Error::Worker)?;
    ctx.metrics.observe_unseal(started.elapsed());
    Ok(result)
}

/// An API failure: status `UpdateFailed` (retrying), event, and an error for the backoff.
async fn fail_api(
    ctx: &Context,
    ss: &SealedSecret,
    key: &Key,
    err: kube::Error,
    context: &str,
) -> Result<Action, Error> {
    ctx.record_failure(key, ss.metadata.generation);
    if decide::is_permanent(&err) {
        tracing::warn!(error = %err, "cannot {context}; the API server refuses it, waiting for a spec change");
        let f = Failure::refused(&api_message(&err));
        return finish(ctx, ss, Outcome::Failed(f), false).await;
    }
    tracing::warn!(error = %err, "cannot {context}; will retry");
    let f = Failure::update(&api_message(&err));
    // The status write may fail too; the retry will sort it out.
    let _ = finish(ctx, ss, Outcome::Failed(f), false).await;
    Err(kube_err(context)(err))
}

/// Writes status (if changed), emits the event (if any), sets the condition metric.
async fn finish(
    ctx: &Context,
    ss: &SealedSecret,
    outcome: Outcome,
    secret_written: bool,
) -> Result<Action, Error> {
    let (ns, name) = key_of(ss);
    if outcome == Outcome::Synced {
        ctx.state().retries.remove(&(ns.clone(), name.clone()));
    }
    let (prev, rv) = current_status(ctx, &ss.metadata, ss.status.as_ref());
    let prev = prev.as_ref();
    // Decided against the status before this reconcile; emitted once the status recording it
    // is written (a failed write is retried and decides again).
    let mut event = decide::event_for(prev, &outcome, secret_written);
    if !ctx.cfg.update_status {
        event = unless_repeated(ctx, ss, event, secret_written);
    }
    if ctx.cfg.update_status {
        let now = Time(jiff::Timestamp::now());
        if let Some(status) = decide::next_status(prev, ss.metadata.generation, &outcome, &now) {
            // Untyped: the reply is the whole object, which need not be readable (see `cache`).
            // The API server takes only `status` from this PUT, so the cached spec will do.
            let api: Api<DynamicObject> =
                Api::namespaced_with(ctx.client.clone(), &ns, &Cached::api_resource());
            let mut obj = ss.clone();
            obj.metadata.resource_version = rv;
            obj.status = Some(status.clone());
            let body: DynamicObject = serde_json::to_value(&obj)
                .and_then(serde_json::from_value)
                .expect("a SealedSecret is an object");
            match api
                .replace_status(&name, &PostParams::default(), &body)
                .await
            {
                Ok(done) => {
                    ctx.state().statuses.insert(
                        (ns.clone(), name.clone()),
                        WrittenStatus {
                            uid: ss.uid(),
                            generation: ss.metadata.generation,
                            resource_version: done.resource_version(),
                            status,
                        },
                    );
                }
                Err(e) => {
                    ctx.state().statuses.remove(&(ns.clone(), name.clone()));
                    ctx.metrics.unseal_error("status", &ns);
                    return Err(kube_err("update SealedSecret status")(e));
                }
            }
        }
    }
    if let Some(event) = event {
        ctx.recorder.publish(ss, &event).await;
    }
    let instance = ss.labels().get(INSTANCE_LABEL).cloned().unwrap_or_default();
    let synced = match &outcome {
        Outcome::Synced => 1,
        Outcome::Failed(_) => -1,
    };
    // Synced only, as upstream: Ready mirrors it, and a second series per object doubles the
    // metric's memory and scrape size.
    ctx.metrics
        .set_condition(&ns, &name, decide::SYNCED, &instance, synced);
    Ok(Action::await_change())
}

/// With `--update-status=false` there is no stored status to decide "on change" against, so
/// every retry or resync would repeat its event (upstream #223). Instead, drop an event equal
/// to the last one emitted for this object (same uid), unless the Secret was just written.
fn unless_repeated(
    ctx: &Context,
    ss: &SealedSecret,
    event: Option<EventSpec>,
    secret_written: bool,
) -> Option<EventSpec> {
    let event = event?;
    let uid = ss.uid();
    let mut st = ctx.state();
    let repeated = st
        .last_events
        .get(&key_of(ss))
        .is_some_and(|(u, last)| *u == uid && *last == event);
    if repeated && !secret_written {
        return None;
    }
    st.last_events.insert(key_of(ss), (uid, event.clone()));
    Some(event)
}

/// Retries with exponential backoff, 1 s doubling to 5 min.
pub fn error_policy(cached: Arc<Cached>, err: &Error, ctx: Arc<Context>) -> Action {
    let ss = &*cached;
    let n = ctx.failures(&key_of_cached(ss)).max(1);
    let delay = backoff(n);
    tracing::debug!(namespace = %ss.namespace().unwrap_or_default(), name = %ss.name_any(), error = %err, ?delay, "requeue");
    Action::requeue(delay)
}

/// The delay before retry number `n` (1-based).
pub fn backoff(n: u32) -> Duration {
    let exp = n.saturating_sub(1).min(16);
    BACKOFF_MIN.saturating_mul(1u32 << exp).min(BACKOFF_MAX)
}

// ---------------------------------------------------------------------------------------------
// Watches and triggers

/// (generation, requestedAt, uid): what makes a SealedSecret event a trigger.
type Fingerprint<'a> = (Option<i64>, Option<&'a String>, Option<&'a String>);

fn fingerprint(c: &Cached) -> Fingerprint<'_> {
    (
        c.meta().generation,
        c.meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(FLUX_REQUESTED_AT)),
        c.meta().uid.as_ref(),
    )
}

enum Input {
    Sealed(usize, Box<Result<watcher::Event<Cached>, watcher::Error>>),
    Secret(
        usize,
        Box<Result<watcher::Event<PartialObjectMeta<Secret>>, watcher::Error>>,
    ),
    KeysChanged,
}

/// Namespaces the controller serves: `None` for all.
pub fn watched_namespaces(cfg: &Config, controller_namespace: &str) -> Option<Vec<String>> {
    if cfg.all_namespaces {
        return None;
    }
    let mut out = vec![controller_namespace.to_owned()];
    for ns in cfg.additional_namespaces() {
        if !out.contains(&ns) {
            out.push(ns);
        }
    }
    Some(out)
}

fn in_scope(namespaces: &Option<Vec<String>>, source: usize, ns: &str) -> bool {
    match namespaces {
        None => true,
        Some(list) => list.get(source).is_some_and(|n| n == ns),
    }
}

struct Driver {
    ctx: Arc<Context>,
    namespaces: Option<Vec<String>>,
    /// The cache; marked ready (empty) from the start, filled by `Apply` events.
    writer: reflector::store::Writer<Cached>,
    reader: Store<Cached>,
    triggers: futures::channel::mpsc::UnboundedSender<ObjectRef<Cached>>,
    ss_relist: Vec<Option<HashSet<ObjectRef<Cached>>>>,
    ss_synced: Vec<bool>,
    sec_relist: Vec<Option<HashMap<Key, SecretMeta>>>,
    sec_synced: Vec<bool>,
    ready: bool,
    on_ready: Option<Box<dyn FnOnce() + Send>>,
}

impl Driver {
    /// Queues a reconcile; until both caches are synced, nothing is queued (everything cached
    /// is queued once they are, by [`Driver::check_ready`]).
    fn trigger(&self, r: ObjectRef<Cached>) {
        if self.ready {
            let _ = self.triggers.unbounded_send(r);
        }
    }

    fn on_sealed(&mut self, src: usize, ev: watcher::Event<Cached>) {
        match ev {
            watcher::Event::Init => self.ss_relist[src] = Some(HashSet::new()),
            watcher::Event::InitApply(obj) | watcher::Event::Apply(obj) => {
                if let Err(detail) = &obj.spec {
                    tracing::debug!(namespace = %obj.namespace().unwrap_or_default(), name = %obj.name_any(), error = %detail, "unreadable SealedSecret");
                }
                let r = ObjectRef::from_obj(&obj);
                if let Some(set) = self.ss_relist[src].as_mut() {
                    set.insert(r.clone());
                }
                // What changed since the cached copy decides whether this is a trigger.
                let (same, forced) = match self.reader.get(&r) {
                    Some(prev) => {
                        let (p, n) = (fingerprint(&prev), fingerprint(&obj));
                        (p == n, p.1 != n.1 && p.0 == n.0 && p.2 == n.2)
                    }
                    None => (false, false),
                };
                self.forget_written_status(&obj);
                self.writer.apply_watcher_event(&watcher::Event::Apply(obj));
                if forced {
                    self.ctx.state().forced.insert(key_of_ref(&r));
                }
                if !same {
                    self.trigger(r);
                }
            }
            watcher::Event::Delete(obj) => {
                self.writer
                    .apply_watcher_event(&watcher::Event::Delete(obj.clone()));
                self.on_deleted(&obj);
            }
            watcher::Event::InitDone => {
                let listed = self.ss_relist[src].take().unwrap_or_default();
                let stale: Vec<Arc<Cached>> = self
                    .reader
                    .state()
                    .into_iter()
                    .filter(|c| {
                        in_scope(
                            &self.namespaces,
                            src,
                            c.meta().namespace.as_deref().unwrap_or_default(),
                        ) && !listed.contains(&ObjectRef::from_obj(&**c))
                    })
                    .collect();
                for obj in stale {
                    self.writer
                        .apply_watcher_event(&watcher::Event::Delete((*obj).clone()));
                    self.on_deleted(&obj);
                }
                self.ss_synced[src] = true;
                self.check_ready();
            }
        }
    }

    /// Once the watch delivers the status we wrote (or a newer one, or another object), our
    /// copy of it is no longer needed: keeps `State::statuses` to writes in flight.
    fn forget_written_status(&self, ss: &Cached) {
        let key = key_of_cached(ss);
        let mut st = self.ctx.state();
        let Some(w) = st.statuses.get(&key) else {
            return;
        };
        let caught_up = !written_after(
            w.resource_version.as_deref(),
            ss.meta().resource_version.as_deref(),
        );
        if caught_up || w.uid != ss.uid() {
            st.statuses.remove(&key);
        }
    }

    fn on_deleted(&self, ss: &Cached) {
        let (ns, name) = key_of_cached(ss);
        self.ctx.metrics.remove_conditions(&ns, &name);
        {
            let mut st = self.ctx.state();
            st.retries.remove(&(ns.clone(), name.clone()));
            st.forced.remove(&(ns.clone(), name.clone()));
            st.statuses.remove(&(ns.clone(), name.clone()));
            st.last_events.remove(&(ns.clone(), name.clone()));
        }
        if self.ctx.cfg.old_gc_behavior {
            let ctx = self.ctx.clone();
            let uid = ss.uid().unwrap_or_default();
            tokio::spawn(async move { delete_secret(&ctx, &ns, &name, &uid).await });
        }
    }

    fn on_secret(&mut self, src: usize, ev: watcher::Event<PartialObjectMeta<Secret>>) {
        match ev {
            watcher::Event::Init => self.sec_relist[src] = Some(HashMap::new()),
            watcher::Event::InitApply(obj) => {
                let meta = obj.metadata;
                if let (Some(m), Some(buf)) = (remembered(&meta), self.sec_relist[src].as_mut()) {
                    buf.insert(meta_key(&meta), m);
                }
                if self.ready {
                    self.secret_changed(&meta);
                }
            }
            watcher::Event::Apply(obj) => {
                let meta = obj.metadata;
                {
                    let mut st = self.ctx.state();
                    match remembered(&meta) {
                        Some(m) => st.secrets.insert(meta_key(&meta), m),
                        None => st.secrets.remove(&meta_key(&meta)),
                    };
                }
                self.secret_changed(&meta);
            }
            watcher::Event::Delete(obj) => {
                let meta = obj.metadata;
                {
                    let mut st = self.ctx.state();
                    st.secrets.remove(&meta_key(&meta));
                    st.verified.remove(&meta_key(&meta));
                }
                self.secret_deleted(&meta);
            }
            watcher::Event::InitDone => {
                // The listing is the truth for this source's namespaces: it becomes the map
                // (with other sources' entries moved over), rather than being merged into a
                // second copy.
                let mut listed = self.sec_relist[src].take().unwrap_or_default();
                let gone: Vec<Key> = {
                    let mut st = self.ctx.state();
                    let mut gone = Vec::new();
                    for (k, m) in std::mem::take(&mut st.secrets) {
                        if !in_scope(&self.namespaces, src, &k.0) {
                            listed.insert(k, m);
                        } else if !listed.contains_key(&k) {
                            gone.push(k);
                        }
                    }
                    for k in &gone {
                        st.verified.remove(k);
                    }
                    st.secrets = listed;
                    gone
                };
                if self.ready {
                    for (ns, name) in gone {
                        let r = ObjectRef::new(&name).within(&ns);
                        if self.reader.get(&r).is_some() && !self.ctx.cfg.skip_recreate {
                            self.trigger(r);
                        }
                    }
                }
                self.sec_synced[src] = true;
                self.check_ready();
            }
        }
    }

    /// An edit of a Secret: our own write's echo is ignored; an owned or `managed` (non-patch)
    /// Secret is restored with `--self-heal`; any Secret named like an unsynced SealedSecret
    /// gets it retried (e.g. it was just annotated `managed`).
    fn secret_changed(&self, meta: &ObjectMeta) {
        let key = meta_key(meta);
        let r = ObjectRef::<Cached>::new(&key.1).within(&key.0);
        let Some(cached) = self.reader.get(&r) else {
            return;
        };
        if self.ctx.state().verified.get(&key) == meta.resource_version.as_ref() {
            return;
        }
        let uid = cached.uid().unwrap_or_default();
        let heal = match decide::ownership(meta, &uid) {
            Ownership::Owned | Ownership::Managed => self.ctx.cfg.self_heal,
            Ownership::Patch { .. } | Ownership::Unmanaged => false,
        };
        if heal || !synced_now(&self.ctx, &cached) {
            self.trigger(r);
        }
    }

    /// A deleted owned or `managed` Secret is recreated unless `--skip-recreate`.
    fn secret_deleted(&self, meta: &ObjectMeta) {
        if self.ctx.cfg.skip_recreate {
            return;
        }
        let key = meta_key(meta);
        let r = ObjectRef::<Cached>::new(&key.1).within(&key.0);
        let Some(cached) = self.reader.get(&r) else {
            return;
        };
        let uid = cached.uid().unwrap_or_default();
        let managed = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(seal_api::ANNOTATION_MANAGED))
            .is_some_and(|v| v == "true");
        if decide::is_controlled_by(meta, &uid) || managed || !synced_now(&self.ctx, &cached) {
            self.trigger(r);
        }
    }

    fn check_ready(&mut self) {
        if self.ready || !self.ss_synced.iter().all(|s| *s) || !self.sec_synced.iter().all(|s| *s) {
            return;
        }
        self.ready = true;
        if let Some(f) = self.on_ready.take() {
            f();
        }
        self.trigger_all();
    }

    fn trigger_all(&self) {
        for c in self.reader.state() {
            self.trigger(ObjectRef::from_obj(&*c));
        }
    }
}

fn key_of_cached(c: &Cached) -> Key {
    (c.namespace().unwrap_or_default(), c.name_any())
}

fn key_of_ref(r: &ObjectRef<Cached>) -> Key {
    (r.namespace.clone().unwrap_or_default(), r.name.clone())
}

fn meta_key(meta: &ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn remembered(meta: &ObjectMeta) -> Option<SecretMeta> {
    let has = meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ANNOTATION_DIGEST));
    has.then(|| SecretMeta {
        resource_version: meta.resource_version.clone().unwrap_or_default(),
        digest: Digest::of(meta),
    })
}

/// `--old-gc-behavior`: delete the Secret of a deleted SealedSecret, if it was owned by it or
/// `managed`. A 404 is success.
async fn delete_secret(ctx: &Context, ns: &str, name: &str, ss_uid: &str) {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let meta = match api.get_metadata_opt(name).await {
        Ok(Some(m)) => m.metadata,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(namespace = ns, name, %error, "cannot fetch Secret to delete");
            return;
        }
    };
    match decide::ownership(&meta, ss_uid) {
        Ownership::Owned | Ownership::Managed => {}
        Ownership::Patch { managed } if managed => {}
        _ => return,
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: meta.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => tracing::info!(
            namespace = ns,
            name,
            "SealedSecret has gone, deleted Secret"
        ),
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(error) => tracing::warn!(namespace = ns, name, %error, "cannot delete Secret"),
    }
}

/// The type of the Secrets Helm keeps its releases in.
const HELM_RELEASE_TYPE: &str = "helm.sh/release.v1";

/// Before the first reconcile: lists the Secrets (full, paginated, not kept) once and
/// remembers the resourceVersion of each whose content still matches its own digest, so a
/// restart neither decrypts nor GETs synced objects, yet still notices Secrets edited while no
/// controller ran.
pub async fn prime(ctx: &Context, namespaces: &Option<Vec<String>>) {
    let keyring = ctx.keys.keyring();
    let apis: Vec<Api<Secret>> = match namespaces {
        None => vec![Api::all(ctx.client.clone())],
        Some(list) => list
            .iter()
            .map(|n| Api::namespaced(ctx.client.clone(), n))
            .collect(),
    };
    let mut verified = 0usize;
    for api in apis {
        // Helm keeps each release (gzipped manifests, up to 1 MiB) in a Secret of this type;
        // never one of ours, and 500 of them would be a page of hundreds of MiB.
        let mut lp = kube::api::ListParams::default()
            .limit(500)
            .fields(&format!("type!={HELM_RELEASE_TYPE}"));
        if !ctx.cfg.label_selector.is_empty() {
            lp = lp.labels(&ctx.cfg.label_selector);
        }
        loop {
            let list = match api.list(&lp).await {
                Ok(l) => l,
                Err(error) => {
                    tracing::warn!(%error, "cannot list Secrets to verify digests; continuing");
                    break;
                }
            };
            for s in &list.items {
                let Some(d) = Digest::of(&s.metadata) else {
                    continue;
                };
                if !d.key_ids.iter().all(|id| keyring.get(id).is_some()) {
                    continue;
                }
                let Some(dkey) = ctx.digest_key(&keyring, &d.key_ids[0]) else {
                    continue;
                };
                if content_mac(&dkey, s) == d.content {
                    remember_verified(ctx, s);
                    verified += 1;
                }
            }
            match list.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => lp = lp.continue_token(&c),
                None => break,
            }
        }
    }
    tracing::info!(verified, "verified unsealed Secrets against their digests");
}

/// Runs the controller until the returned future is dropped (leadership lost, shutdown).
/// `on_ready` is called once the SealedSecret and Secret caches are synced.
pub async fn run(
    ctx: Arc<Context>,
    controller_namespace: &str,
    on_ready: impl FnOnce() + Send + 'static,
) {
    let cfg = ctx.cfg.clone();
    let namespaces = watched_namespaces(&cfg, controller_namespace);
    prime(&ctx, &namespaces).await;
    let mut wc = watcher::Config::default();
    if !cfg.label_selector.is_empty() {
        wc = wc.labels(&cfg.label_selector);
    }
    let mut inputs: SelectAll<BoxStream<'static, Input>> = SelectAll::new();
    // Read straight into cache entries: one unreadable object does not fail the list for all,
    // and no page holds whole objects (see `cache`).
    let (ss_apis, sec_apis): (Vec<Api<Cached>>, Vec<Api<PartialObjectMeta<Secret>>>) =
        match &namespaces {
            None => (
                vec![Api::all(ctx.client.clone())],
                vec![Api::all(ctx.client.clone())],
            ),
            Some(list) => (
                list.iter()
                    .map(|n| Api::namespaced(ctx.client.clone(), n))
                    .collect(),
                list.iter()
                    .map(|n| Api::namespaced(ctx.client.clone(), n))
                    .collect(),
            ),
        };
    let n = ss_apis.len();
    for (i, api) in ss_apis.into_iter().enumerate() {
        inputs.push(
            watcher(api, wc.clone())
                .default_backoff()
                .map(move |e| Input::Sealed(i, Box::new(e)))
                .boxed(),
        );
    }
    // Metadata-only Secrets are small (a few hundred bytes): larger pages cut the list requests
    // that count against --kubeclient-qps at startup (60k Secrets: 30 instead of 120).
    let sec_wc = wc.clone().page_size(2000);
    for (i, api) in sec_apis.into_iter().enumerate() {
        inputs.push(
            watcher(api, sec_wc.clone())
                .default_backoff()
                .map(move |e| Input::Secret(i, Box::new(e)))
                .boxed(),
        );
    }
    inputs.push(
        key_changes(ctx.keys.changes())
            .map(|()| Input::KeysChanged)
            .boxed(),
    );

    let (writer, reader) = {
        let mut w = reflector::store::Writer::<Cached>::default();
        // Ready and empty: the applier may start at once, and `Driver::trigger` holds the
        // triggers until both watches have listed (one copy of the cache, never two).
        w.apply_watcher_event(&watcher::Event::Init);
        w.apply_watcher_event(&watcher::Event::InitDone);
        let r = w.as_reader();
        (w, r)
    };
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let mut driver = Driver {
        ctx: ctx.clone(),
        namespaces,
        writer,
        reader: reader.clone(),
        triggers: tx,
        ss_relist: vec![None; n],
        ss_synced: vec![false; n],
        sec_relist: vec![None; n],
        sec_synced: vec![false; n],
        ready: false,
        on_ready: Some(Box::new(on_ready)),
    };
    let drive = async move {
        while let Some(input) = inputs.next().await {
            match input {
                Input::Sealed(i, ev) => match *ev {
                    Ok(ev) => driver.on_sealed(i, ev),
                    Err(error) => tracing::warn!(%error, "SealedSecret watch failed; retrying"),
                },
                Input::Secret(i, ev) => match *ev {
                    Ok(ev) => driver.on_secret(i, ev),
                    Err(error) => tracing::warn!(%error, "Secret watch failed; retrying"),
                },
                Input::KeysChanged => {
                    tracing::info!("keys changed; reconciling all SealedSecrets");
                    driver.trigger_all();
                }
            }
        }
    };
    let concurrency = cfg.workers.saturating_mul(2).max(4);
    let apply = applier(
        |ss, ctx| reconcile(ss, ctx).boxed(),
        error_policy,
        ctx,
        reader,
        rx.map(Ok::<_, Infallible>),
        controller::Config::default().concurrency(concurrency),
    )
    .for_each(|res| async move {
        match res {
            Ok(_) => {}
            Err(controller::Error::ReconcilerFailed(error, obj)) => {
                tracing::debug!(object = %obj, %error, "reconcile failed");
            }
            Err(controller::Error::ObjectNotFound(_)) => {}
            Err(error) => tracing::warn!(%error, "controller error"),
        }
    });
    tokio::select! {
        () = drive => tracing::warn!("watches ended"),
        () = apply => tracing::warn!("controller ended"),
    }
}

fn key_changes(rx: watch::Receiver<u64>) -> impl Stream<Item = ()> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    })
}
