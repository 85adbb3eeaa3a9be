//! One SealedSecret's reconcile, as the steps it takes (SPEC §6, §8).
//!
//! 1. In sync already? The status records the Secret (digest and resourceVersion) for this
//!    spec and keys, and the metadata watch shows that Secret still at that resourceVersion:
//!    nothing to do, no request.
//! 2. Where the Secret stands, from the metadata watch: none (no GET), someone else's (no GET,
//!    no write), ours and as recorded or as listed at startup (no GET), or ours and changed
//!    (GET, then compare against the record without decrypting).
//! 3. Decrypt on the worker pool, from the cached spec (no GET) or, over the cache's budget, a
//!    fetched one.
//! 4. Write the Secret if its content differs; an upstream-made Secret whose content is already
//!    right is not written.
//! 5. Write status (with the record of the Secret) and the event, set the metric.
//!
//! Requests counted against `--kubeclient-qps`: 2 for a new object (Secret, status), 1 for an
//! already-correct object migrated from upstream (status), 0 for a synced one after a restart.
//! Events go through their own budget ([`crate::events`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DynamicObject, PostParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use seal_api::{Keyring, SealedSecret, SealedSecretStatus, UnsealOptions};

use super::context::{
    Context, Error, Key, Seen, WrittenStatus, api_message, current_status, key_of, key_of_cached,
    kube_err, recorded_digest, synced_now,
};
use crate::cache::{Cached, INSTANCE_LABEL};
use crate::decide::{
    self, Digest, DigestKey, EventSpec, Failure, Outcome, Ownership, Plan, SecretFacts, SpecHash,
    content_mac, spec_mac,
};

/// First retry delay.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Reconciles one SealedSecret: decide, write, update status, return an [`Action`].
///
/// # Errors
///
/// An [`Error`] when the object must be retried (API failures, unseal failures and conflicts
/// below `--max-unseal-retries`).
#[tracing::instrument(skip(cached, ctx), fields(namespace = %cached.namespace().unwrap_or_default(), name = %cached.name_any()))]
pub async fn reconcile(cached: Arc<Cached>, ctx: Arc<Context>) -> Result<Action, Error> {
    let cached = ctx.latest(cached);
    let result = steps(&cached, &ctx).await;
    // A failure is counted once `error_policy` has scheduled its retry.
    if result.is_ok() {
        ctx.reconciles.fetch_add(1, Ordering::SeqCst);
    }
    result
}

async fn steps(cached: &Cached, ctx: &Context) -> Result<Action, Error> {
    if cached.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let key = key_of_cached(cached);
    let ss = cached.view();
    let spec_hash = match &cached.spec {
        Ok(h) => *h,
        Err(detail) => {
            tracing::warn!(error = %detail, "cannot read the SealedSecret; waiting for a spec change");
            ctx.metrics.unseal_error("unseal", &key.0);
            let f = Failure::invalid(detail);
            return finish(ctx, &ss, Outcome::Failed(f), false, None).await;
        }
    };
    let keyring = ctx.keys.keyring();
    let forced = ctx.state().forced.remove(&key);

    // 1. In sync already.
    if !forced && in_sync(ctx, cached, &spec_hash, &keyring) {
        tracing::trace!("in sync");
        set_synced_metric(ctx, cached);
        return Ok(Action::await_change());
    }
    ctx.metrics.unseal_request();

    // 2. Where the Secret stands.
    let found = match locate(ctx, cached, &ss, &spec_hash, &keyring, forced).await {
        Located::Found(found) => found,
        Located::Done(result) => return result,
    };

    // 3. Decrypt.
    let Some(full) = whole_object(ctx, cached, &ss).await? else {
        return Ok(Action::await_change());
    };
    let preferred = found.digest().map(|d| d.key_ids).unwrap_or_default();
    let unsealed = match unseal_on_pool(ctx, &full, &keyring, preferred).await? {
        Ok(u) => u,
        Err(err) => return unseal_failed(ctx, cached, &ss, &key, &full, &err).await,
    };
    count_opened(ctx, &keyring, &unsealed.opened_by);
    let record = Recorder::new(ctx, &keyring, &full, &unsealed.key_ids);

    // 4. Write the Secret.
    let (secret, written) = match write_secret(ctx, cached, &ss, &key, found, unsealed.secret).await
    {
        Written::Secret(s, written) => (s, written),
        Written::Done(result) => return result,
    };

    // 5. Status, event, metric.
    let digest = record.digest(&secret);
    remember(ctx, &key, &secret, digest.clone());
    let result = finish(ctx, &ss, Outcome::Synced, written, digest).await;
    if result.is_ok() {
        cached.release_spec();
    }
    result
}

// ---------------------------------------------------------------------------------------------
// 1. In sync

/// No API call, no decryption: the Secret recorded for this spec (under keys we still hold) is
/// still at the recorded resourceVersion, and the status is Synced at this generation.
fn in_sync(ctx: &Context, c: &Cached, spec: &SpecHash, keyring: &Keyring) -> bool {
    if ctx.cfg.update_status && !synced_now(ctx, c) {
        return false;
    }
    let Some(digest) = recorded_digest(ctx, c) else {
        return false;
    };
    still_as_recorded(&ctx.seen(&key_of_cached(c)), &digest)
        && spec_matches(ctx, c.meta(), spec, keyring, &digest).is_some()
}

/// The Secret the watch shows is at the resourceVersion `digest` records.
fn still_as_recorded(seen: &Seen, digest: &Digest) -> bool {
    let Some(rv) = digest.secret_rv.as_deref() else {
        return false;
    };
    match seen {
        Seen::Facts(f) => f.resource_version == rv,
        Seen::Foreign(Some(n)) => rv.parse::<u64>().ok() == Some(*n),
        Seen::Foreign(None) | Seen::Absent => false,
    }
}

/// Whether the startup list should fetch this object's Secret: it may be ours, it is not in sync
/// and no record says what it holds (made by upstream's controller, say).
pub(super) fn needs_listing(ctx: &Context, c: &Cached) -> bool {
    let Ok(spec) = &c.spec else {
        return false;
    };
    let Seen::Facts(facts) = ctx.seen(&key_of_cached(c)) else {
        return false;
    };
    let uid = c.uid().unwrap_or_default();
    matches!(facts.ownership(&uid), Ownership::Owned | Ownership::Managed)
        && !in_sync(ctx, c, spec, &ctx.keys.keyring())
}

fn set_synced_metric(ctx: &Context, c: &Cached) {
    let (ns, name) = key_of_cached(c);
    // After a restart the metric is still there for every object, as upstream has it.
    let instance = c.labels().get(INSTANCE_LABEL).map_or("", String::as_str);
    ctx.metrics
        .set_condition(&ns, &name, decide::SYNCED, instance, 1);
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

// ---------------------------------------------------------------------------------------------
// 2. Where the Secret stands

/// The Secret before the write.
enum Found {
    /// None of that name.
    Nothing,
    /// Owned or `managed`, not fetched: the startup list holds its content MAC.
    Listed(SecretFacts, super::context::Listed),
    /// Fetched.
    Fetched(Box<Secret>),
}

impl Found {
    /// The keys that opened the object last, from the legacy annotation, to try first.
    fn digest(&self) -> Option<Digest> {
        match self {
            Found::Fetched(s) => Digest::of_legacy(&s.metadata),
            Found::Listed(_, l) => l.legacy.clone(),
            Found::Nothing => None,
        }
    }
}

enum Located {
    Found(Found),
    /// Nothing more to do (conflict, or the Secret verified without decryption).
    Done(Result<Action, Error>),
}

/// `full`: a full check was asked for (Flux's `requestedAt`): the Secret is fetched and
/// compared, whatever the watch and the record say.
async fn locate(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
    spec: &SpecHash,
    keyring: &Keyring,
    full: bool,
) -> Located {
    let key = key_of(ss);
    let uid = ss.uid().unwrap_or_default();
    let facts = match ctx.seen(&key) {
        Seen::Absent => return Located::Found(Found::Nothing),
        Seen::Foreign(_) => {
            let f = Failure::conflict(&key.1);
            return Located::Done(conflict(ctx, cached, ss, &key, f).await);
        }
        Seen::Facts(f) => f,
    };
    if facts.ownership(&uid) == Ownership::Unmanaged {
        let f = Failure::conflict(&key.1);
        return Located::Done(conflict(ctx, cached, ss, &key, f).await);
    }
    // Still the Secret the record describes (a status write was lost, say).
    if !full
        && let Some(d) = recorded_digest(ctx, cached)
        && still_as_recorded(&Seen::Facts(facts.clone()), &d)
        && spec_matches(ctx, ss.meta(), spec, keyring, &d).is_some()
    {
        tracing::debug!("Secret as recorded; no decryption needed");
        return Located::Done(verified(ctx, cached, ss, &key, d).await);
    }
    let listed = ctx.state().listed.get(&key).cloned();
    if let Some(l) = listed.filter(|l| !full && l.resource_version == facts.resource_version) {
        // An earlier release's digest on the Secret, checked against its content at listing.
        if let Some(legacy) = &l.legacy
            && spec_matches(ctx, ss.meta(), spec, keyring, legacy).is_some()
            && !immutable_pending(ss, None)
        {
            let d = Digest {
                secret_rv: Some(l.resource_version.clone()),
                ..legacy.clone()
            };
            return Located::Done(verified(ctx, cached, ss, &key, d).await);
        }
        if matches!(facts.ownership(&uid), Ownership::Owned | Ownership::Managed) {
            return Located::Found(Found::Listed(facts, l));
        }
    }
    match fetch_secret(ctx, ss, &key).await {
        Ok(Some(s)) => located_fetched(ctx, cached, ss, &key, spec, keyring, s).await,
        Ok(None) => Located::Found(Found::Nothing),
        Err(result) => Located::Done(result),
    }
}

async fn located_fetched(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
    key: &Key,
    spec: &SpecHash,
    keyring: &Keyring,
    secret: Secret,
) -> Located {
    let uid = ss.uid().unwrap_or_default();
    if decide::ownership(&secret.metadata, &uid) == Ownership::Unmanaged {
        let f = Failure::conflict(&key.1);
        return Located::Done(conflict(ctx, cached, ss, key, f).await);
    }
    if let Some(d) = verify_content(ctx, cached, ss, spec, keyring, &secret) {
        tracing::debug!("Secret matches its digest; no decryption needed");
        return Located::Done(verified(ctx, cached, ss, key, d).await);
    }
    Located::Found(Found::Fetched(Box::new(secret)))
}

async fn fetch_secret(
    ctx: &Context,
    ss: &SealedSecret,
    key: &Key,
) -> Result<Option<Secret>, Result<Action, Error>> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &key.0);
    match secrets.get_opt(&key.1).await {
        Ok(s) => Ok(s),
        Err(e) => {
            ctx.metrics.unseal_error("fetch", &key.0);
            Err(fail_api(ctx, ss, key, e, "get Secret").await)
        }
    }
}

/// The full Secret still holds exactly what a digest (the record, or an earlier release's
/// annotation) says was written for this spec: the digest, at the Secret's resourceVersion.
fn verify_content(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
    spec: &SpecHash,
    keyring: &Keyring,
    secret: &Secret,
) -> Option<Digest> {
    let candidates = [
        recorded_digest(ctx, cached),
        Digest::of_legacy(&secret.metadata),
    ];
    candidates.into_iter().flatten().find_map(|digest| {
        let dkey = spec_matches(ctx, &ss.metadata, spec, keyring, &digest)?;
        let same =
            content_mac(&dkey, secret) == digest.content && !immutable_pending(ss, Some(secret));
        same.then(|| Digest {
            secret_rv: secret.resource_version(),
            ..digest
        })
    })
}

/// A template `immutable: true` that the Secret does not have yet (unknown: not pending).
fn immutable_pending(ss: &SealedSecret, secret: Option<&Secret>) -> bool {
    ss.spec.template.immutable == Some(true) && secret.is_some_and(|s| s.immutable != Some(true))
}

/// The Secret is as recorded: no write, status only.
async fn verified(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
    key: &Key,
    digest: Digest,
) -> Result<Action, Error> {
    ctx.state().verified.insert(key.clone(), digest.clone());
    let result = finish(ctx, ss, Outcome::Synced, false, Some(digest)).await;
    if result.is_ok() {
        cached.release_spec();
    }
    result
}

/// A Secret of that name that is not ours: no write, retried with backoff (the user may delete
/// it or annotate it `managed`), stalled after `--max-unseal-retries`.
async fn conflict(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
    key: &Key,
    failure: Failure,
) -> Result<Action, Error> {
    ctx.metrics.unseal_error("unmanaged", &key.0);
    retry_or_stall(ctx, cached, ss, key, failure, Error::Conflict).await
}

/// Records the failure; below `--max-unseal-retries` the status says Reconciling and the error
/// schedules a retry, beyond it the status says Stalled and the cached spec is released.
async fn retry_or_stall(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
    key: &Key,
    failure: Failure,
    error: fn(String) -> Error,
) -> Result<Action, Error> {
    let count = ctx.record_failure(key, ss.metadata.generation);
    if count > ctx.cfg.max_unseal_retries {
        tracing::warn!(
            attempts = count,
            reason = failure.reason.as_str(),
            "giving up until something changes"
        );
        cached.release_spec();
        return finish(ctx, ss, Outcome::Failed(failure.stalled()), false, None).await;
    }
    tracing::info!(
        attempts = count,
        reason = failure.reason.as_str(),
        "will retry"
    );
    let msg = failure.synced_message.clone();
    finish(ctx, ss, Outcome::Failed(failure), false, None).await?;
    Err(error(msg))
}

// ---------------------------------------------------------------------------------------------
// 3. Decrypt

/// The whole SealedSecret: from the cache, or fetched if the cache could not hold its spec.
/// `None` when it has gone, changed or become unreadable since: the watch brings that change.
async fn whole_object(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
) -> Result<Option<SealedSecret>, Error> {
    if let Some((full, _)) = cached.full() {
        return Ok(Some(full));
    }
    match fetch_sealed(ctx, ss).await {
        Ok(full) => Ok(full),
        Err(e) => {
            let key = key_of(ss);
            ctx.metrics.unseal_error("fetch", &key.0);
            fail_api(ctx, ss, &key, e, "get SealedSecret")
                .await
                .map(|_| None)
        }
    }
}

/// The whole SealedSecret for decryption, if it is still the object and generation the cache
/// holds.
async fn fetch_sealed(
    ctx: &Context,
    ss: &SealedSecret,
) -> Result<Option<SealedSecret>, kube::Error> {
    let api: Api<SealedSecret> =
        Api::namespaced(ctx.sealed.clone(), &ss.namespace().unwrap_or_default());
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

async fn unseal_failed(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
    key: &Key,
    full: &SealedSecret,
    err: &seal_api::Error,
) -> Result<Action, Error> {
    // Redacted: template and v1 errors can quote plaintext (see the function).
    let hint = match err {
        seal_api::Error::Unseal(f) => decide::scope_hint(full, f),
        _ => None,
    };
    let failure = Failure::unseal(&decide::unseal_error_message(err), hint);
    ctx.metrics.unseal_error("unseal", &key.0);
    retry_or_stall(ctx, cached, ss, key, failure, Error::Unseal).await
}

fn count_opened(
    ctx: &Context,
    keyring: &Keyring,
    opened_by: &std::collections::BTreeMap<String, String>,
) {
    let mut per_key: HashMap<&str, u64> = HashMap::new();
    for id in opened_by.values() {
        *per_key.entry(id).or_default() += 1;
    }
    for (id, n) in per_key {
        if let Some(entry) = keyring.get(id) {
            ctx.metrics.items_opened(id, n, entry.order_time());
        }
    }
}

/// Makes the record ([`Digest`]) of the Secret unsealed from one spec with some keys.
struct Recorder {
    key_ids: Vec<String>,
    key: Option<Arc<DigestKey>>,
    spec: Option<String>,
}

impl Recorder {
    fn new(
        ctx: &Context,
        keyring: &Keyring,
        full: &SealedSecret,
        opened_with: &std::collections::BTreeSet<String>,
    ) -> Self {
        let key_ids: Vec<String> = if opened_with.is_empty() {
            // Nothing to open (templates only): the newest key makes the MACs.
            keyring
                .newest()
                .map(|e| e.id().to_owned())
                .into_iter()
                .collect()
        } else {
            opened_with.iter().cloned().collect()
        };
        let key = key_ids.first().and_then(|id| ctx.digest_key(keyring, id));
        let spec = key
            .as_ref()
            .map(|k| spec_mac(k, &full.metadata, &SpecHash::of(&full.spec), &key_ids));
        Recorder { key_ids, key, spec }
    }

    fn digest(&self, secret: &Secret) -> Option<Digest> {
        let (key, spec) = (self.key.as_ref()?, self.spec.as_ref()?);
        Some(Digest {
            key_ids: self.key_ids.clone(),
            spec: spec.clone(),
            content: content_mac(key, secret),
            secret_rv: secret.resource_version(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Write the Secret

enum Written {
    /// The Secret as it is now, and whether we wrote it.
    Secret(Box<Secret>, bool),
    /// Nothing more to do.
    Done(Result<Action, Error>),
}

async fn write_secret(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
    key: &Key,
    found: Found,
    desired: Secret,
) -> Written {
    let uid = ss.uid().unwrap_or_default();
    let existing = match found {
        Found::Nothing => None,
        Found::Fetched(s) => Some(*s),
        Found::Listed(facts, listed) => {
            let stored = decide::as_stored(desired.clone());
            let same = ctx
                .state()
                .listing_key
                .as_ref()
                .is_some_and(|k| content_mac(k, &stored) == listed.content);
            if same {
                tracing::debug!("Secret already holds what the SealedSecret unseals to");
                let mut s = stored;
                s.metadata.resource_version = Some(facts.resource_version);
                return Written::Secret(Box::new(s), false);
            }
            match fetch_secret(ctx, ss, key).await {
                Ok(s) => s,
                Err(result) => return Written::Done(result),
            }
        }
    };
    let plan = decide::plan_write(existing.as_ref(), desired.clone(), &uid);
    match execute(ctx, cached, ss, key, plan, existing).await {
        Ok(w) => w,
        Err(Retry::AlreadyExists) => {
            // The watch had not shown it yet: plan again against the Secret as it is.
            let existing = match fetch_secret(ctx, ss, key).await {
                Ok(s) => s,
                Err(result) => return Written::Done(result),
            };
            if let Some(s) = &existing
                && decide::ownership(&s.metadata, &uid) == Ownership::Unmanaged
            {
                let f = Failure::conflict(&key.1);
                return Written::Done(conflict(ctx, cached, ss, key, f).await);
            }
            let plan = decide::plan_write(existing.as_ref(), desired, &uid);
            match execute(ctx, cached, ss, key, plan, existing).await {
                Ok(w) => w,
                Err(Retry::AlreadyExists) => Written::Done(Err(Error::Conflict(format!(
                    "Secret {}/{} appeared while being created",
                    key.0, key.1
                )))),
            }
        }
    }
}

/// A create that found a Secret after all.
enum Retry {
    AlreadyExists,
}

async fn execute(
    ctx: &Context,
    cached: &Cached,
    ss: &SealedSecret,
    key: &Key,
    plan: Plan,
    existing: Option<Secret>,
) -> Result<Written, Retry> {
    let (ns, name) = key;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let failed = |f: Failure| async move {
        Written::Done(finish(ctx, ss, Outcome::Failed(f), false, None).await)
    };
    Ok(match plan {
        Plan::Unchanged => match existing {
            Some(e) => Written::Secret(Box::new(e), false),
            None => Written::Done(Ok(Action::await_change())),
        },
        Plan::Create(_) if let Some(wait) = ctx.freed_recently(key, std::time::Instant::now()) => {
            ctx.deferrals.fetch_add(1, Ordering::SeqCst);
            tracing::info!(
                ?wait,
                "a Secret that was not ours was just deleted here; leaving the name to whoever deleted it before creating ours"
            );
            Written::Done(Ok(Action::requeue(wait)))
        }
        Plan::Create(_) if !still_exists(ctx, ss).await => {
            tracing::debug!("SealedSecret has gone; not recreating its Secret");
            Written::Done(Ok(Action::await_change()))
        }
        Plan::Create(secret) => match secrets.create(&PostParams::default(), &secret).await {
            Ok(s) => {
                tracing::info!("created Secret");
                Written::Secret(Box::new(s), true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => return Err(Retry::AlreadyExists),
            Err(e) => {
                ctx.metrics.unseal_error("update", ns);
                Written::Done(fail_api(ctx, ss, key, e, "create Secret").await)
            }
        },
        Plan::Replace(secret) => match secrets.replace(name, &PostParams::default(), &secret).await
        {
            Ok(s) => {
                tracing::info!("updated Secret");
                Written::Secret(Box::new(s), true)
            }
            Err(e) if api_message(&e).ends_with("field is immutable when `immutable` is set") => {
                ctx.metrics.unseal_error("update", ns);
                failed(Failure::immutable(ns, name)).await
            }
            Err(e) => {
                ctx.metrics.unseal_error("update", ns);
                Written::Done(fail_api(ctx, ss, key, e, "update Secret").await)
            }
        },
        Plan::Conflict(f) => Written::Done(conflict(ctx, cached, ss, key, f).await),
        Plan::Immutable(f) => {
            ctx.metrics.unseal_error("update", ns);
            failed(f).await
        }
    })
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
        Api::namespaced(ctx.sealed.clone(), &ss.namespace().unwrap_or_default());
    match api.get_opt(&ss.name_any()).await {
        Ok(Some(now)) => now.uid() == ss.uid() && now.metadata.deletion_timestamp.is_none(),
        Ok(None) => false,
        Err(_) => true,
    }
}

/// What this process knows after writing or verifying the Secret: its record, and its facts at
/// the new resourceVersion (ahead of the watch, which then brings our own write back as a
/// non-event).
fn remember(ctx: &Context, key: &Key, secret: &Secret, digest: Option<Digest>) {
    let mut st = ctx.state();
    if let Some(d) = digest {
        st.verified.insert(key.clone(), d);
    }
    st.listed.remove(key);
    if let Some(f) = SecretFacts::of(&secret.metadata) {
        st.secrets.insert(key.clone(), f);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Status, event, metric

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
        return finish(ctx, ss, Outcome::Failed(f), false, None).await;
    }
    tracing::warn!(error = %err, "cannot {context}; will retry");
    let f = Failure::update(&api_message(&err));
    // The status write may fail too; the retry will sort it out.
    let _ = finish(ctx, ss, Outcome::Failed(f), false, None).await;
    Err(kube_err(context)(err))
}

/// Writes status (if changed, with `digest` recorded), emits the event (if any), sets the
/// condition metric.
async fn finish(
    ctx: &Context,
    ss: &SealedSecret,
    outcome: Outcome,
    secret_written: bool,
    digest: Option<Digest>,
) -> Result<Action, Error> {
    let (ns, name) = key_of(ss);
    if outcome == Outcome::Synced {
        ctx.forget_failures(&(ns.clone(), name.clone()));
    }
    let (prev, rv) = current_status(ctx, &ss.metadata, ss.status.as_ref());
    let prev = prev.as_ref();
    // Decided against the status before this reconcile; emitted once the status recording it
    // is written (a failed write is retried and decides again).
    let mut event = decide::event_for(prev, &outcome, secret_written);
    if ctx.cfg.update_status {
        let now = Time(jiff::Timestamp::now());
        let next = decide::next_status(
            prev,
            ss.metadata.generation,
            &outcome,
            digest.as_ref(),
            &now,
        );
        if let Some(status) = next {
            write_status(ctx, ss, rv, status).await?;
        }
    } else {
        event = unless_repeated(ctx, ss, event, secret_written);
    }
    if let Some(event) = event {
        ctx.recorder.publish(ss, &event);
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

/// PUTs `status` at resourceVersion `rv`, and remembers it until the watch brings it.
async fn write_status(
    ctx: &Context,
    ss: &SealedSecret,
    rv: Option<String>,
    status: SealedSecretStatus,
) -> Result<(), Error> {
    let key = key_of(ss);
    // Untyped: the reply is the whole object, which need not be readable (see `cache`). The
    // API server takes only `status` from this PUT, so the cached spec will do.
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.sealed.clone(), &key.0, &Cached::api_resource());
    let mut obj = ss.clone();
    obj.metadata.resource_version = rv;
    obj.status = Some(status.clone());
    let body: DynamicObject = serde_json::to_value(&obj)
        .and_then(serde_json::from_value)
        .expect("a SealedSecret is an object");
    match api
        .replace_status(&key.1, &PostParams::default(), &body)
        .await
    {
        Ok(done) => {
            ctx.state().statuses.insert(
                key,
                WrittenStatus {
                    uid: ss.uid(),
                    generation: ss.metadata.generation,
                    resource_version: done.resource_version(),
                    status,
                },
            );
            Ok(())
        }
        Err(e) => {
            ctx.state().statuses.remove(&key);
            ctx.metrics.unseal_error("status", &key.0);
            Err(kube_err("update SealedSecret status")(e))
        }
    }
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
    ctx.requeues.fetch_add(1, Ordering::SeqCst);
    ctx.reconciles.fetch_add(1, Ordering::SeqCst);
    tracing::debug!(namespace = %ss.namespace().unwrap_or_default(), name = %ss.name_any(), error = %err, ?delay, "requeue");
    Action::requeue(delay)
}

/// The delay before retry number `n` (1-based).
pub fn backoff(n: u32) -> Duration {
    let exp = n.saturating_sub(1).min(16);
    BACKOFF_MIN.saturating_mul(1u32 << exp).min(BACKOFF_MAX)
}
