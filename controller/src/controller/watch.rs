//! The watches and what makes a reconcile: triggers, the caches they fill, the startup list.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;

use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, applier};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tokio::sync::watch;

use super::context::{
    Context, Key, Listed, failed_now, key_of_cached, meta_key, recorded_digest, synced_now,
};
use super::reconcile::{error_policy, needs_listing, reconcile};
use crate::cache::{Cached, FLUX_REQUESTED_AT};
use crate::config::Config;
use crate::decide::{self, Digest, Ownership, SecretFacts, content_mac};

/// Reconciles in flight at once, at least: they mostly wait on the API server, so many more
/// than the RSA pool's `--workers` threads keep that pool busy.
const MIN_IN_FLIGHT: u16 = 16;

/// Per RSA worker, reconciles in flight.
const IN_FLIGHT_PER_WORKER: u16 = 8;

/// The page size of the startup list of whole Secrets.
const LIST_PAGE: u32 = 500;

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
    /// The startup list is done.
    Listed,
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

/// A relisting Secret source's entries, until its listing is done.
#[derive(Default)]
struct SecretRelist {
    facts: HashMap<Key, SecretFacts>,
    others: HashMap<u64, u64>,
}

fn rv_number(meta: &ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
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
    sec_relist: Vec<Option<SecretRelist>>,
    sec_synced: Vec<bool>,
    /// The startup list runs (both watches have listed; triggers wait for it).
    listing: bool,
    listed: futures::channel::mpsc::UnboundedSender<()>,
    ready: bool,
    on_ready: Option<Box<dyn FnOnce() + Send>>,
}

impl Driver {
    /// Queues a reconcile; until both caches are synced, nothing is queued (everything cached
    /// is queued once they are, by [`Driver::check_ready`]).
    fn trigger(&self, r: ObjectRef<Cached>) {
        if self.ready {
            self.ctx
                .triggers
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
                // Into the cache first: a reconcile reading in between sees our written status
                // or the cache's newer one, never neither.
                let obj = Arc::new(obj);
                self.writer
                    .apply_watcher_event(&watcher::Event::Apply((*obj).clone()));
                self.forget_written_status(&obj);
                self.forget_verified(&obj);
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
        let caught_up = !super::context::written_after(
            w.resource_version.as_deref(),
            ss.meta().resource_version.as_deref(),
        );
        if caught_up || w.uid != ss.uid() {
            st.statuses.remove(&key);
        }
    }

    /// Once the cached status carries the record this process made, the process's own copy is
    /// no longer needed (it is read from the status): keeps `State::verified` to records in
    /// flight, not one per object.
    fn forget_verified(&self, ss: &Cached) {
        let key = key_of_cached(ss);
        let mut st = self.ctx.state();
        let Some(mine) = st.verified.get(&key) else {
            return;
        };
        if Digest::of_status(ss.status.as_ref()).as_ref() == Some(mine) {
            st.verified.remove(&key);
        }
    }

    fn on_deleted(&self, ss: &Cached) {
        let (ns, name) = key_of_cached(ss);
        self.ctx.metrics.remove_conditions(&ns, &name);
        self.ctx.forget(&(ns.clone(), name.clone()));
        if self.ctx.cfg.old_gc_behavior {
            let ctx = self.ctx.clone();
            let uid = ss.uid().unwrap_or_default();
            tokio::spawn(async move { delete_secret(&ctx, &ns, &name, &uid).await });
        }
    }

    /// Files a Secret under `facts` (it may be a SealedSecret's) or `others`.
    fn index_secret(&self, src: usize, meta: &ObjectMeta) {
        let key = meta_key(meta);
        let hash = self.ctx.name_hash(&key);
        let mut st = self.ctx.state();
        match SecretFacts::of(meta) {
            Some(f) => {
                st.secrets.insert(key, f);
                if let Some(m) = st.others.get_mut(src) {
                    m.remove(&hash);
                }
            }
            None => {
                st.secrets.remove(&key);
                if let Some(m) = st.others.get_mut(src) {
                    m.insert(hash, rv_number(meta));
                }
            }
        }
    }

    fn on_secret(&mut self, src: usize, ev: watcher::Event<PartialObjectMeta<Secret>>) {
        match ev {
            watcher::Event::Init => self.sec_relist[src] = Some(SecretRelist::default()),
            watcher::Event::InitApply(obj) => {
                let meta = obj.metadata;
                if let Some(buf) = self.sec_relist[src].as_mut() {
                    match SecretFacts::of(&meta) {
                        Some(f) => {
                            buf.facts.insert(meta_key(&meta), f);
                        }
                        None => {
                            let hash = self.ctx.name_hash(&meta_key(&meta));
                            buf.others.insert(hash, rv_number(&meta));
                        }
                    }
                }
                if self.ready {
                    self.secret_changed(&meta);
                }
            }
            watcher::Event::Apply(obj) => {
                let meta = obj.metadata;
                self.index_secret(src, &meta);
                self.secret_changed(&meta);
            }
            watcher::Event::Delete(obj) => {
                let meta = obj.metadata;
                let key = meta_key(&meta);
                let hash = self.ctx.name_hash(&key);
                {
                    let mut st = self.ctx.state();
                    st.secrets.remove(&key);
                    if let Some(m) = st.others.get_mut(src) {
                        m.remove(&hash);
                    }
                    st.verified.remove(&key);
                    st.listed.remove(&key);
                }
                self.secret_deleted(&meta);
            }
            watcher::Event::InitDone => {
                // The listing is the truth for this source's namespaces: it becomes the maps
                // (with other sources' entries moved over), rather than being merged into a
                // second copy.
                let SecretRelist { mut facts, others } =
                    self.sec_relist[src].take().unwrap_or_default();
                let gone: Vec<Key> = {
                    let mut st = self.ctx.state();
                    let mut gone = Vec::new();
                    for (k, f) in std::mem::take(&mut st.secrets) {
                        if !in_scope(&self.namespaces, src, &k.0) {
                            facts.insert(k, f);
                        } else if !facts.contains_key(&k) {
                            gone.push(k);
                        }
                    }
                    for k in &gone {
                        st.verified.remove(k);
                    }
                    st.secrets = facts;
                    if let Some(m) = st.others.get_mut(src) {
                        *m = others;
                    }
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
    /// Secret is restored with `--self-heal`; an owned, `managed` or `patch` Secret named like
    /// an unsynced SealedSecret gets it retried (e.g. it was just annotated `managed`), and any
    /// other Secret does too unless a retry is already scheduled.
    fn secret_changed(&self, meta: &ObjectMeta) {
        let key = meta_key(meta);
        let r = ObjectRef::<Cached>::new(&key.1).within(&key.0);
        let Some(cached) = self.reader.get(&r) else {
            return;
        };
        let echo = recorded_digest(&self.ctx, &cached)
            .is_some_and(|d| d.secret_rv == meta.resource_version);
        if echo {
            return;
        }
        let uid = cached.uid().unwrap_or_default();
        let unsynced = !synced_now(&self.ctx, &cached);
        let go = match decide::ownership(meta, &uid) {
            Ownership::Owned | Ownership::Managed => self.ctx.cfg.self_heal || unsynced,
            Ownership::Patch { .. } => unsynced,
            Ownership::Unmanaged => {
                unsynced && !self.ctx.retry_pending(&key, cached.meta().generation)
            }
        };
        if go {
            self.trigger(r);
        }
    }

    /// A deleted owned or `managed` Secret is recreated unless `--skip-recreate`. The deletion
    /// of any other Secret (foreign, or one we only patch) is no trigger (SPEC §6), except for
    /// a SealedSecret that failed at its current generation and has no retry scheduled (stalled
    /// on a conflict, say): that Secret was what it waited for. One with a retry scheduled
    /// finds the name free at that retry; a new one, or one whose reconcile is running, plans
    /// against what it finds (a write that meets a vanished Secret is retried like any failure).
    fn secret_deleted(&self, meta: &ObjectMeta) {
        let key = meta_key(meta);
        let r = ObjectRef::<Cached>::new(&key.1).within(&key.0);
        let managed = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(seal_api::ANNOTATION_MANAGED))
            .is_some_and(|v| v == "true");
        let cached = self.reader.get(&r);
        // Without a SealedSecret of this name yet (one may arrive in the gap of a delete and
        // create), any SealedSecret's Secret counts as ours.
        let controlled = match &cached {
            Some(c) => decide::is_controlled_by(meta, &c.uid().unwrap_or_default()),
            None => decide::is_controlled_by_a_sealed_secret(meta),
        };
        let ours = controlled || managed;
        if !ours {
            self.ctx.name_freed(&key, std::time::Instant::now());
        }
        let Some(cached) = cached else {
            return;
        };
        if self.ctx.cfg.skip_recreate {
            return;
        }
        let waiting = failed_now(&self.ctx, &cached)
            && !self.ctx.retry_pending(&key, cached.meta().generation);
        if ours || waiting {
            self.trigger(r);
        }
    }

    fn check_ready(&mut self) {
        if self.ready
            || self.listing
            || !self.ss_synced.iter().all(|s| *s)
            || !self.sec_synced.iter().all(|s| *s)
        {
            return;
        }
        if let Some(wanted) = self.wanted_listing() {
            self.listing = true;
            let (ctx, namespaces, done) = (
                self.ctx.clone(),
                self.namespaces.clone(),
                self.listed.clone(),
            );
            tokio::spawn(async move {
                list_secrets(&ctx, &namespaces, &wanted).await;
                let _ = done.unbounded_send(());
            });
            return;
        }
        self.become_ready();
    }

    /// The Secrets whose content the startup list should read: those of objects that are not in
    /// sync and that no record describes, when there are more of them than list pages (each
    /// page is one request; each Secret fetched alone is one too).
    fn wanted_listing(&self) -> Option<HashSet<Key>> {
        let wanted: HashSet<Key> = self
            .reader
            .state()
            .iter()
            .filter(|c| needs_listing(&self.ctx, c))
            .map(|c| key_of_cached(c))
            .collect();
        let secrets = {
            let st = self.ctx.state();
            st.secrets.len() + st.others.iter().map(HashMap::len).sum::<usize>()
        };
        let pages = secrets / LIST_PAGE as usize + 1;
        (wanted.len() > pages).then_some(wanted)
    }

    fn on_listed(&mut self) {
        self.listing = false;
        self.become_ready();
    }

    fn become_ready(&mut self) {
        if self.ready {
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

fn key_of_ref(r: &ObjectRef<Cached>) -> Key {
    (r.namespace.clone().unwrap_or_default(), r.name.clone())
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

/// Lists the Secrets (whole, paginated, not kept) once, for the `wanted` ones remembering the
/// resourceVersion and a MAC of the content: an object whose Secret already holds what it
/// unseals to (made by upstream's controller, say) then costs a decryption and a status write,
/// not a GET and not a Secret write. A digest an earlier release put on the Secret is checked
/// against the content and kept too, sparing the decryption.
async fn list_secrets(ctx: &Context, namespaces: &Option<Vec<String>>, wanted: &HashSet<Key>) {
    let keyring = ctx.keys.keyring();
    let Some(listing_key) = keyring
        .newest()
        .and_then(|e| ctx.digest_key(&keyring, e.id()))
    else {
        return;
    };
    ctx.state().listing_key = Some(listing_key.clone());
    let apis: Vec<Api<Secret>> = match namespaces {
        None => vec![Api::all(ctx.client.clone())],
        Some(list) => list
            .iter()
            .map(|n| Api::namespaced(ctx.client.clone(), n))
            .collect(),
    };
    let mut found = 0usize;
    for api in apis {
        // Helm keeps each release (gzipped manifests, up to 1 MiB) in a Secret of this type;
        // never one of ours, and 500 of them would be a page of hundreds of MiB.
        let mut lp = kube::api::ListParams::default()
            .limit(LIST_PAGE)
            .fields(&format!("type!={HELM_RELEASE_TYPE}"));
        if !ctx.cfg.label_selector.is_empty() {
            lp = lp.labels(&ctx.cfg.label_selector);
        }
        loop {
            let list = match api.list(&lp).await {
                Ok(l) => l,
                Err(error) => {
                    tracing::warn!(%error, "cannot list Secrets; each will be fetched alone");
                    break;
                }
            };
            for s in &list.items {
                let key = (s.namespace().unwrap_or_default(), s.name_any());
                if !wanted.contains(&key) {
                    continue;
                }
                let legacy = Digest::of_legacy(&s.metadata).filter(|d| {
                    d.key_ids.iter().all(|id| keyring.get(id).is_some())
                        && ctx
                            .digest_key(&keyring, &d.key_ids[0])
                            .is_some_and(|k| content_mac(&k, s) == d.content)
                });
                let entry = Listed {
                    resource_version: s.resource_version().unwrap_or_default(),
                    content: content_mac(&listing_key, s),
                    legacy,
                };
                ctx.state().listed.insert(key, entry);
                found += 1;
            }
            match list.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => lp = lp.continue_token(&c),
                None => break,
            }
        }
    }
    tracing::info!(
        wanted = wanted.len(),
        found,
        "listed Secrets that no status records yet"
    );
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
                vec![Api::all(ctx.sealed.clone())],
                vec![Api::all(ctx.client.clone())],
            ),
            Some(list) => (
                list.iter()
                    .map(|n| Api::namespaced(ctx.sealed.clone(), n))
                    .collect(),
                list.iter()
                    .map(|n| Api::namespaced(ctx.client.clone(), n))
                    .collect(),
            ),
        };
    let n = ss_apis.len();
    ctx.state().others = vec![HashMap::new(); n];
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
    let (listed_tx, listed_rx) = futures::channel::mpsc::unbounded();
    inputs.push(listed_rx.map(|()| Input::Listed).boxed());

    let (writer, reader) = {
        let mut w = reflector::store::Writer::<Cached>::default();
        // Ready and empty: the applier may start at once, and `Driver::trigger` holds the
        // triggers until both watches have listed (one copy of the cache, never two).
        w.apply_watcher_event(&watcher::Event::Init);
        w.apply_watcher_event(&watcher::Event::InitDone);
        let r = w.as_reader();
        (w, r)
    };
    *ctx.store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reader.clone());
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let mut driver = Driver {
        ctx: ctx.clone(),
        namespaces,
        writer,
        reader: reader.clone(),
        triggers: tx,
        ss_relist: vec![None; n],
        ss_synced: vec![false; n],
        sec_relist: (0..n).map(|_| None).collect(),
        sec_synced: vec![false; n],
        listing: false,
        listed: listed_tx,
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
                Input::Listed => driver.on_listed(),
            }
        }
    };
    let concurrency = cfg
        .workers
        .saturating_mul(IN_FLIGHT_PER_WORKER)
        .max(MIN_IN_FLIGHT);
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
