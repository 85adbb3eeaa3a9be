//! An in-process Kubernetes API server double.
//!
//! [`ApiDouble::start`] serves a real HTTP/1.1 API on `127.0.0.1:<random port>` with the
//! semantics the seal controller relies on, so an unmodified [`kube::Client`] and kube-runtime's
//! watchers and controllers run against it. Tests seed and inspect state directly
//! ([`ApiDouble::insert`], [`ApiDouble::get`], ...), act as other writers
//! ([`ApiDouble::modify`], [`ApiDouble::delete`]), and break things on purpose
//! ([`ApiDouble::fail_next`], [`ApiDouble::close_watches`], [`ApiDouble::compact`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use k8s_openapi::api::core::v1::Secret;
//! use kube::api::{Api, PostParams};
//! use kube_double::{ApiDouble, Fault};
//!
//! let api = ApiDouble::start().await;
//! let secrets: Api<Secret> = Api::namespaced(api.client(), "default");
//!
//! // Seed without HTTP, read over HTTP.
//! api.insert(serde_json::json!({
//!     "apiVersion": "v1", "kind": "Secret",
//!     "metadata": {"name": "a", "namespace": "default"},
//!     "stringData": {"k": "v"},
//! }));
//! assert_eq!(secrets.get("a").await?.data.unwrap_or_default().len(), 1);
//!
//! // The next create fails with 500, the one after succeeds.
//! api.fail_next(Fault::status(500).on(http::Method::POST).path("/secrets"));
//! let mut s = Secret::default();
//! s.metadata.name = Some("b".into());
//! assert!(secrets.create(&PostParams::default(), &s).await.is_err());
//! secrets.create(&PostParams::default(), &s).await?;
//! assert_eq!(api.list("v1", "Secret", Some("default")).len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! # What it reproduces
//!
//! - Paths `/api/v1[/namespaces/{ns}]/{plural}[/{name}[/status]]` and the `/apis/{group}/{version}`
//!   equivalents, cluster-wide lists, `/version`, legacy and aggregated (v2) discovery.
//! - One global, increasing `resourceVersion`; uid, `creationTimestamp`, `generateName`,
//!   `generation` for custom resources; 409 `AlreadyExists`, 409 `Conflict` on a stale
//!   `resourceVersion`, 404 `NotFound` and 422 `Invalid` `Status` bodies worded as upstream.
//!   An update that changes nothing is not written (same resourceVersion, no watch event).
//! - Status subresources, merge / strategic-merge (as merge) / JSON patches, finalizers
//!   (`deletionTimestamp`, deletion when the last one goes), garbage collection through
//!   `ownerReferences` (background; `Orphan` honoured), namespace deletion, immutable Secrets
//!   and ConfigMaps, Secret `stringData` and size limit, name/label/annotation/owner-reference
//!   validation, create-on-PUT for Leases, Events and Services.
//! - Lists with label and field selectors and `limit`/`continue` paging; watches from a
//!   resource version with bounded history, 410 `Expired`, bookmarks, `timeoutSeconds`,
//!   `sendInitialEvents`, selector transitions as ADDED/DELETED; watches without a
//!   resourceVersion (or `0`) start with ADDED events for the current state, as upstream;
//!   metadata-only (`PartialObjectMetadata`) responses.
//!
//! # What it does not
//!
//! Authentication, RBAC (inject 403s with [`Fault`] instead), admission, defaulting and schema
//! validation beyond the rules above, strategic-merge list semantics, real server-side apply
//! (apply patches are merged, creating the object if absent), consistent snapshots across list
//! pages (later pages show current objects), list `resourceVersionMatch=Exact`, foreground
//! deletion, `managedFields`, protobuf, and GC of objects whose owners never existed.
#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

mod error;
mod kinds;
mod patch;
mod selector;
mod server;
mod store;
mod util;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

pub use error::ApiError;
pub use kinds::ResourceKind;

use server::{RequestLog, Shared, lock};
use store::{Filter, Msg, Store, Write};

/// A running API server double. Cheap to clone; the server stops when the last clone is dropped
/// (open watches end then too).
#[derive(Clone)]
pub struct ApiDouble {
    shared: Arc<Shared>,
    _guard: Arc<Guard>,
}

/// Stops the server when the last handle goes.
struct Guard {
    _shutdown: watch::Sender<()>,
    tx: broadcast::Sender<Msg>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Nobody listening is fine.
        let _ = self.tx.send(Msg::Close);
    }
}

/// An injected failure or delay for matching HTTP requests; see [`ApiDouble::fail_next`].
///
/// ```
/// use kube_double::Fault;
/// use std::time::Duration;
/// // Refuse every Secret patch, as an RBAC role without `patch` would.
/// let no_patch = Fault::status(403).on(http::Method::PATCH).path("/secrets/").always();
/// // Make the next two requests for SealedSecrets slow, then answer normally.
/// let slow = Fault::slow(Duration::from_millis(200)).path("/sealedsecrets").times(2);
/// # let _ = (no_patch, slow);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Only requests with this method; any when `None`.
    pub method: Option<Method>,
    /// Only requests whose path and query (`/api/v1/namespaces/ns/secrets?watch=true`) contain this.
    pub path_contains: String,
    /// The status code to answer with, as a `Status` object with the matching reason;
    /// `None` answers normally (after `delay`).
    pub status: Option<u16>,
    /// The `Status` message; a generic one when `None`.
    pub message: Option<String>,
    /// How many matching requests to affect; `usize::MAX` means all.
    pub times: usize,
    /// A delay before answering.
    pub delay: Option<Duration>,
    /// Drop the connection instead of answering (after the headers), like a network failure.
    pub disconnect: bool,
}

impl Fault {
    /// Answer the next matching request with `code` (e.g. 500, 409, 429, 404, 410, 403).
    ///
    /// kube's client retries 429, 503 and 504 by itself, so those are seen only as delays
    /// unless they are injected more times than it retries.
    pub fn status(code: u16) -> Self {
        Fault {
            method: None,
            path_contains: String::new(),
            status: Some(code),
            message: None,
            times: 1,
            delay: None,
            disconnect: false,
        }
    }

    /// Delay the next matching request by `delay`, then answer it normally.
    pub fn slow(delay: Duration) -> Self {
        Fault {
            status: None,
            delay: Some(delay),
            ..Fault::status(0)
        }
    }

    /// Drop the connection of the next matching request mid-response, like a network failure.
    pub fn disconnect() -> Self {
        Fault {
            status: None,
            disconnect: true,
            ..Fault::status(0)
        }
    }

    /// Only requests with this method.
    #[must_use]
    pub fn on(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Only requests whose path and query contain `fragment`.
    #[must_use]
    pub fn path(mut self, fragment: &str) -> Self {
        fragment.clone_into(&mut self.path_contains);
        self
    }

    /// Affect `n` matching requests instead of one.
    #[must_use]
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    /// Affect every matching request until [`ApiDouble::clear_faults`].
    #[must_use]
    pub fn always(self) -> Self {
        self.times(usize::MAX)
    }

    /// Wait `delay` before answering.
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The `Status` message to send.
    #[must_use]
    pub fn message(mut self, message: &str) -> Self {
        self.message = Some(message.to_owned());
        self
    }
}

/// One HTTP request the double answered, for assertions such as "no Secret was written".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// The HTTP method.
    pub method: Method,
    /// The URL path, e.g. `/api/v1/namespaces/ns/secrets/name`.
    pub path: String,
    /// The raw query string, without `?` (still percent-encoded).
    pub query: String,
    /// The response status; 200 for watches, whose outcome streams later; 0 for an injected
    /// disconnect.
    pub status: u16,
}

impl RequestRecord {
    /// Whether it was a watch (`watch=true` or `watch=1`).
    pub fn is_watch(&self) -> bool {
        self.query
            .split('&')
            .any(|p| p == "watch=true" || p == "watch=1")
    }

    /// Whether it could change state (POST, PUT, PATCH, DELETE).
    pub fn is_write(&self) -> bool {
        matches!(
            self.method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        )
    }

    /// The plural of the resource the path addresses (`secrets` for
    /// `/api/v1/namespaces/ns/secrets/x`), or `None` for discovery paths.
    pub fn resource(&self) -> Option<&str> {
        let segs: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let rest = match segs.as_slice() {
            ["api", _, rest @ ..] | ["apis", _, _, rest @ ..] => rest,
            _ => return None,
        };
        let namespace_sub = rest.len() == 3 && matches!(rest[2], "status" | "finalize");
        let rest = if rest.len() >= 3 && rest[0] == "namespaces" && !namespace_sub {
            &rest[2..]
        } else {
            rest
        };
        rest.first().copied()
    }

    /// Whether the path addresses `plural` (a collection, an object or its subresource),
    /// e.g. `rec.targets("secrets")`.
    pub fn targets(&self, plural: &str) -> bool {
        self.resource() == Some(plural)
    }
}

/// `apiVersion` and `kind` of an object given to the direct-access methods.
fn type_of(obj: &Value) -> Result<(&str, &str), ApiError> {
    let av = obj.get("apiVersion").and_then(Value::as_str);
    let kind = obj.get("kind").and_then(Value::as_str);
    match (av, kind) {
        (Some(av), Some(kind)) if !av.is_empty() && !kind.is_empty() => Ok((av, kind)),
        _ => Err(ApiError::bad_request(
            "Object 'apiVersion' and 'Kind' are required",
        )),
    }
}

fn unknown(api_version: &str, kind: &str) -> ApiError {
    ApiError::new(
        404,
        format!(
            "the server could not find the requested resource ({kind} in {api_version}); register it first"
        ),
    )
}

impl ApiDouble {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or if no local port can be bound.
    pub async fn start() -> ApiDouble {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0 for the API double");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let (tx, _) = broadcast::channel(16 * 1024);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(tx.clone())),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(RequestLog {
                on: true,
                limit: 100_000,
                records: VecDeque::new(),
            }),
            bookmark_ms: AtomicU64::new(1000),
            open_watches: AtomicUsize::new(0),
            tx: tx.clone(),
            addr,
        });
        let (shutdown, shutdown_rx) = watch::channel(());
        tokio::spawn(server::serve(listener, shared.clone(), shutdown_rx));
        ApiDouble {
            shared,
            _guard: Arc::new(Guard {
                _shutdown: shutdown,
                tx,
            }),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// A kube config for [`url`](Self::url) with default namespace `default`, for tweaking
    /// (e.g. `default_retry = false`) before building a client.
    ///
    /// # Panics
    ///
    /// Never in practice: the URL is always valid.
    pub fn config(&self) -> kube::Config {
        kube::Config::new(self.url().parse().expect("the double's URL is a valid URI"))
    }

    /// A kube client for this double (plain HTTP, default namespace `default`).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (kube's client spawns a buffer task).
    pub fn client(&self) -> kube::Client {
        kube::Client::try_from(self.config())
            .expect("a plain-HTTP kube config always builds a client")
    }

    /// Serves another resource type, or redefines one with the same group and plural
    /// (objects are kept). Built in: v1 `secrets`, `configmaps`, `services`, `events`,
    /// `namespaces`; `events.k8s.io/v1` `events`; `coordination.k8s.io/v1` `leases`;
    /// `bitnami.com/v1alpha1` `sealedsecrets` (custom, status subresource).
    pub fn register(&self, kind: ResourceKind) {
        self.shared.store().register(kind);
    }

    fn resolve(store: &Store, api_version: &str, kind: &str) -> usize {
        store.by_api(api_version, kind).unwrap_or_else(|| {
            panic!("kube-double: no resource {kind} in {api_version}; register it first")
        })
    }

    /// Creates an object without HTTP, as a POST would (uid, resourceVersion, creationTimestamp,
    /// generation, `generateName`, `stringData`; watchers see ADDED). Unlike a POST it keeps
    /// `status` and tolerates a set `resourceVersion`, for seeding. The namespace defaults to
    /// `default`. Returns the stored object.
    ///
    /// # Panics
    ///
    /// When the create fails (e.g. the object exists); see [`try_insert`](Self::try_insert).
    pub fn insert(&self, obj: Value) -> Value {
        self.try_insert(obj)
            .unwrap_or_else(|e| panic!("kube-double: insert failed: {e}"))
    }

    /// [`insert`](Self::insert), returning the API error instead of panicking.
    ///
    /// # Errors
    ///
    /// What a POST would answer: 409 `AlreadyExists`, 422 `Invalid`, 404 for a missing namespace
    /// when namespaces are enforced, or 404 for an unregistered type.
    pub fn try_insert(&self, obj: Value) -> Result<Value, ApiError> {
        let (av, kind) = type_of(&obj)?;
        let mut store = self.shared.store();
        let res = store.by_api(av, kind).ok_or_else(|| unknown(av, kind))?;
        store
            .create(res, None, obj, false, true)
            .map(|o| (*o).clone())
    }

    /// An object by `apiVersion`, kind or plural, namespace (ignored for cluster-scoped types;
    /// `None` means `default`) and name.
    ///
    /// # Panics
    ///
    /// If the type is not registered.
    pub fn get(
        &self,
        api_version: &str,
        kind_or_plural: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let store = self.shared.store();
        let res = Self::resolve(&store, api_version, kind_or_plural);
        let key = store.key(res, ns, name);
        store.get(res, &key).map(|o| (*o).clone())
    }

    /// All objects of a type, in one namespace or (`None`) in all, ordered by namespace and name.
    ///
    /// # Panics
    ///
    /// If the type is not registered.
    pub fn list(&self, api_version: &str, kind_or_plural: &str, ns: Option<&str>) -> Vec<Value> {
        let items = {
            let store = self.shared.store();
            let res = Self::resolve(&store, api_version, kind_or_plural);
            store
                .list(res, ns, &Filter::default(), None, None)
                .expect("a list without a continue token cannot fail")
                .items
        };
        items.iter().map(|o| (**o).clone()).collect()
    }

    /// How many objects of a type exist, in one namespace or (`None`) in all.
    ///
    /// # Panics
    ///
    /// If the type is not registered.
    pub fn count(&self, api_version: &str, kind_or_plural: &str, ns: Option<&str>) -> usize {
        let store = self.shared.store();
        let res = Self::resolve(&store, api_version, kind_or_plural);
        store.len(res, ns)
    }

    /// Replaces an object without HTTP, as another writer would with a PUT, except that `status`
    /// is taken too. A `metadata.resourceVersion` in `obj` must match (else 409 Conflict); without
    /// one the write is unconditional. Watchers see MODIFIED unless nothing changed.
    ///
    /// # Errors
    ///
    /// 404 if absent, 409 on a stale resourceVersion, 422 for an immutable Secret's data.
    pub fn update(&self, mut obj: Value) -> Result<Value, ApiError> {
        let (av, kind) = type_of(&obj)?;
        let (av, kind) = (av.to_owned(), kind.to_owned());
        let mut store = self.shared.store();
        let res = store
            .by_api(&av, &kind)
            .ok_or_else(|| unknown(&av, &kind))?;
        let ns = util::meta_str(&obj, "namespace").to_owned();
        let name = util::meta_str(&obj, "name").to_owned();
        let key = store.key(res, Some(ns.as_str()).filter(|n| !n.is_empty()), &name);
        if store.kind(res).custom && util::meta_str(&obj, "resourceVersion").is_empty() {
            // Direct updates are unconditional on every type.
            if let Some(cur) = store.get(res, &key) {
                let rv = util::meta_str(&cur, "resourceVersion").to_owned();
                util::meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(rv));
            }
        }
        store
            .replace(res, &key, obj, Write::Whole, false)
            .map(|o| (*o).clone())
    }

    /// Edits an object in place without HTTP: `edit` gets the current object, and the result is
    /// written as by [`update`](Self::update) (atomically: no other write can come in between).
    ///
    /// # Errors
    ///
    /// 404 if absent, 422 for an immutable Secret's data, 400 if `edit` renamed the object.
    ///
    /// # Panics
    ///
    /// If the type is not registered.
    pub fn modify(
        &self,
        api_version: &str,
        kind_or_plural: &str,
        ns: Option<&str>,
        name: &str,
        edit: impl FnOnce(&mut Value),
    ) -> Result<Value, ApiError> {
        let mut store = self.shared.store();
        let res = Self::resolve(&store, api_version, kind_or_plural);
        let key = store.key(res, ns, name);
        let kind = store.kind(res).clone();
        let cur = store
            .get(res, &key)
            .ok_or_else(|| ApiError::not_found(&kind.group, &kind.plural, name))?;
        let mut obj = (*cur).clone();
        edit(&mut obj);
        store
            .replace(res, &key, obj, Write::Whole, false)
            .map(|o| (*o).clone())
    }

    /// Deletes an object without HTTP, as a DELETE would: objects with finalizers only get a
    /// `deletionTimestamp`; dependents are garbage-collected. Returns the object's last state,
    /// or `None` if it did not exist.
    ///
    /// # Panics
    ///
    /// If the type is not registered.
    pub fn delete(
        &self,
        api_version: &str,
        kind_or_plural: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let mut store = self.shared.store();
        let res = Self::resolve(&store, api_version, kind_or_plural);
        let key = store.key(res, ns, name);
        store
            .delete(res, &key, None, false, false)
            .ok()
            .map(|(o, _)| (*o).clone())
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().rv()
    }

    /// Queues a fault; each request takes the first queued fault that matches it.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Ends every open watch stream cleanly; clients re-watch from their last resourceVersion.
    pub fn close_watches(&self) {
        // Nobody listening is fine.
        let _ = self.shared.tx.send(Msg::Close);
    }

    /// Breaks every open watch stream: the connection drops mid-stream, as on a network failure.
    /// kube's client reads that as a resumable end, so kube-runtime's watcher re-watches from its
    /// last resourceVersion without reporting an error.
    pub fn break_watches(&self) {
        // Nobody listening is fine.
        let _ = self.shared.tx.send(Msg::Abort);
    }

    /// Forgets the watch history: a watch from any earlier resourceVersion gets a single ERROR
    /// event with a 410 `Expired` Status and ends, so kube-runtime's watcher relists. Open
    /// watches carry on; combine with [`close_watches`](Self::close_watches) to force them
    /// to resume from an expired version.
    pub fn compact(&self) {
        self.shared.store().compact();
    }

    /// How many watch streams are open (useful to wait until a watcher is established).
    pub fn watch_count(&self) -> usize {
        self.shared.open_watches.load(Ordering::SeqCst)
    }

    /// The recorded requests, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).records.iter().cloned().collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).records.clear();
    }

    /// Turns the request log on or off (on by default).
    pub fn set_request_log(&self, on: bool) {
        lock(&self.shared.log).on = on;
    }

    /// Keeps at most `limit` request records (default 100 000), dropping the oldest.
    pub fn set_request_log_limit(&self, limit: usize) {
        let mut log = lock(&self.shared.log);
        log.limit = limit;
        while log.records.len() > limit {
            log.records.pop_front();
        }
    }

    /// Turns garbage collection through `ownerReferences` on or off (on by default).
    pub fn set_garbage_collection(&self, on: bool) {
        self.shared.store().gc = on;
    }

    /// When on, creating an object in a namespace that does not exist fails with 404, as on a
    /// real cluster (off by default). `default`, `kube-system`, `kube-public` and
    /// `kube-node-lease` exist from the start.
    pub fn set_enforce_namespaces(&self, on: bool) {
        self.shared.store().enforce_namespaces = on;
    }

    /// Keeps the last `limit` changes for watches to resume from (default 100 000); resuming
    /// from before them gets 410 Expired.
    pub fn set_history_limit(&self, limit: usize) {
        self.shared.store().history_limit = limit;
    }

    /// How often idle watches that allow bookmarks get one (default 1 s); applies to new watches.
    pub fn set_bookmark_interval(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        self.shared.bookmark_ms.store(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_records_know_their_target() {
        let rec = |m: Method, p: &str, q: &str| RequestRecord {
            method: m,
            path: p.to_owned(),
            query: q.to_owned(),
            status: 200,
        };
        let r = rec(Method::PUT, "/api/v1/namespaces/ns/secrets/x", "");
        assert!(r.targets("secrets") && r.is_write() && !r.is_watch());
        assert!(!r.targets("namespaces"));
        let r = rec(
            Method::GET,
            "/apis/bitnami.com/v1alpha1/sealedsecrets",
            "watch=true&x=1",
        );
        assert!(r.targets("sealedsecrets") && r.is_watch() && !r.is_write());
        let r = rec(
            Method::PUT,
            "/apis/bitnami.com/v1alpha1/namespaces/ns/sealedsecrets/x/status",
            "",
        );
        assert!(r.targets("sealedsecrets"));
        assert!(!r.targets("secrets"));
        let r = rec(Method::GET, "/api/v1/namespaces/ns", "");
        assert!(r.targets("namespaces"));
        let r = rec(Method::GET, "/api/v1/namespaces/secrets", "");
        assert!(r.targets("namespaces"));
    }
}
