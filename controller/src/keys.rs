//! The key Secrets (SPEC §7): loading, hot reload, generation and renewal.
//!
//! A key Secret lives in the controller namespace, has type `kubernetes.io/tls`, holds a PEM
//! RSA key in `tls.key` and its certificate in `tls.crt`, and is labelled
//! `sealedsecrets.bitnami.com/sealed-secrets-key: active` (or is the legacy Secret named exactly
//! `--key-prefix`). Keys generated here also hold an ML-KEM-768 seed in `mlkem768.seed` (their
//! certificate carries the matching public key; see docs/pq.md). [`KeyStore`] holds the parsed keys, newest first; [`run_key_manager`] keeps it
//! in step with the cluster and, on the leader, generates keys. Keys are never deleted.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use futures::{Stream, StreamExt as _};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use seal_api::crypto::{CertParams, Certificate, MLKEM_SEED_DATA_KEY, PrivateKey, key_secret_data};
use seal_api::{KEY_ACTIVE, KeyEntry, Keyring, LABEL_SEALED_SECRETS_KEY};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::config::{Config, KeyOrder};
use crate::{LeaderFlag, Readiness};

/// The key Secret's type.
pub const SECRET_TYPE_TLS: &str = "kubernetes.io/tls";
/// The key Secret's private-key item.
pub const TLS_KEY: &str = "tls.key";
/// The key Secret's certificate item.
pub const TLS_CERT: &str = "tls.crt";

/// How long to wait before trying again after a key could not be generated or stored.
const GENERATE_RETRY: Duration = Duration::from_secs(30);
/// Longest single sleep of the renewal timer; it re-checks the schedule after each.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// Why a key Secret could not be used. The message never contains key material.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// An item is missing or empty.
    #[error("key Secret has no {0} item")]
    Missing(&'static str),
    /// An item is not UTF-8 text.
    #[error("key Secret item {0} is not PEM text")]
    NotText(&'static str),
    /// `tls.key` is not a usable RSA private key.
    #[error("failed to read the private key in tls.key")]
    Key(#[source] seal_api::crypto::Error),
    /// `tls.crt` is not a usable RSA certificate.
    #[error("failed to read the certificate in tls.crt")]
    Certificate(#[source] seal_api::crypto::Error),
    /// The certificate is for another key.
    #[error("the certificate in tls.crt does not belong to the private key in tls.key")]
    Mismatch,
    /// The ML-KEM-768 seed is not usable.
    #[error("failed to read the ML-KEM-768 seed in {MLKEM_SEED_DATA_KEY}")]
    MlKemSeed(#[source] seal_api::crypto::Error),
    /// The certificate's ML-KEM key extension does not verify.
    #[error("failed to read the ML-KEM-768 key in tls.crt")]
    MlKemCertificate(#[source] seal_api::crypto::Error),
    /// The certificate carries another ML-KEM key than the seed's, or the seed has no
    /// certificate extension to be served with.
    #[error("the ML-KEM-768 key in tls.crt does not belong to the seed in {MLKEM_SEED_DATA_KEY}")]
    MlKemMismatch,
}

/// The keys the controller can unseal with, shared between the key manager, the reconciler and
/// the HTTP server. Cheap to clone.
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    changes: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// Key Secret `namespace/name` → its key.
    by_secret: BTreeMap<String, Arc<KeyEntry>>,
    keyring: Arc<Keyring>,
    version: u64,
}

impl Default for KeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

impl KeyStore {
    /// An empty store.
    pub fn new() -> Self {
        let (changes, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                changes,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The current keys, newest first. A snapshot: later changes do not affect it.
    pub fn keyring(&self) -> Arc<Keyring> {
        Arc::clone(&self.lock().keyring)
    }

    /// A counter bumped on every add, replace or remove; `changed()` on it wakes on a new key
    /// (e.g. to requeue objects that failed to unseal).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// The sealing certificate (the newest key's) as PEM.
    pub fn newest_cert_pem(&self) -> Option<String> {
        let ring = self.keyring();
        ring.newest()
            .and_then(|e| e.certificate())
            .map(Certificate::to_pem)
    }

    /// The IDs of the loaded keys, newest first.
    pub fn key_ids(&self) -> Vec<String> {
        self.keyring().iter().map(|e| e.id().to_owned()).collect()
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.keyring().len()
    }

    /// True when no key is loaded.
    pub fn is_empty(&self) -> bool {
        self.keyring().is_empty()
    }

    /// Parses a key Secret (`tls.key`: PKCS#1 or PKCS#8 PEM; `tls.crt`: its certificate, the
    /// first of a chain) and registers its key under the Secret's name, replacing what that
    /// Secret held before. Returns the key ID when something changed, `None` when the Secret
    /// holds the key already registered for it. `order` ranks the key (SPEC §7).
    ///
    /// The caller decides that `secret` is a key Secret ([`is_key_secret`]).
    ///
    /// # Errors
    ///
    /// [`KeyError`] for a malformed Secret; the store is then unchanged (the caller should log
    /// it, emit a Warning event, and usually [`KeyStore::remove_secret`] it).
    pub fn apply_secret(
        &self,
        secret: &Secret,
        order: KeyOrder,
    ) -> Result<Option<String>, KeyError> {
        let entry = parse_key_secret(secret, order)?;
        let source = secret_ref(&secret.metadata);
        let id = entry.id().to_owned();
        let mut state = self.lock();
        if let Some(old) = state.by_secret.get(&source)
            && old.id() == id
            && old.order_time() == entry.order_time()
        {
            return Ok(None);
        }
        state.by_secret.insert(source, Arc::new(entry));
        self.rebuild(&mut state);
        Ok(Some(id))
    }

    /// Unregisters the key of the Secret `namespace/name`, if any. A key also held by another
    /// Secret stays.
    pub fn remove_secret(&self, namespace: &str, name: &str) {
        let mut state = self.lock();
        if state
            .by_secret
            .remove(&format!("{namespace}/{name}"))
            .is_some()
        {
            self.rebuild(&mut state);
        }
    }

    /// True when the Secret `namespace/name` has a registered key.
    pub fn has_secret(&self, namespace: &str, name: &str) -> bool {
        self.lock()
            .by_secret
            .contains_key(&format!("{namespace}/{name}"))
    }

    fn rebuild(&self, state: &mut State) {
        let mut ring = Keyring::new();
        for entry in state.by_secret.values() {
            ring.insert(Arc::clone(entry));
        }
        state.keyring = Arc::new(ring);
        state.version += 1;
        let version = state.version;
        self.inner.changes.send_replace(version);
    }
}

fn secret_ref(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

fn secret_item<'a>(secret: &'a Secret, item: &'static str) -> Result<&'a str, KeyError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(item))
        .map(|b| b.0.as_slice())
        .filter(|b| !b.is_empty())
        .ok_or(KeyError::Missing(item))?;
    std::str::from_utf8(bytes).map_err(|_| KeyError::NotText(item))
}

fn parse_key_secret(secret: &Secret, order: KeyOrder) -> Result<KeyEntry, KeyError> {
    let key = PrivateKey::from_pem(secret_item(secret, TLS_KEY)?).map_err(KeyError::Key)?;
    let cert = Certificate::from_pem(secret_item(secret, TLS_CERT)?.as_bytes())
        .map_err(KeyError::Certificate)?;
    if *cert.public_key() != key.public_key() {
        return Err(KeyError::Mismatch);
    }
    let key = with_mlkem_half(key, &cert, secret)?;
    let order_time = match order {
        KeyOrder::CertNotBefore => cert.not_before(),
        KeyOrder::SecretCreationTimestamp => secret
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or_else(|| cert.not_before(), |t| SystemTime::from(t.0)),
    };
    Ok(KeyEntry::new(
        key,
        Some(cert),
        order_time,
        secret_ref(&secret.metadata),
    ))
}

/// Adds the ML-KEM-768 half from the `mlkem768.seed` item, checking it against the ML-KEM key
/// of the certificate's extension (whose RSA self-signature is checked): a key is served and
/// used whole or not at all. Without either, the key is classical only (an upstream key).
fn with_mlkem_half(
    key: PrivateKey,
    cert: &Certificate,
    secret: &Secret,
) -> Result<PrivateKey, KeyError> {
    let seed = secret
        .data
        .as_ref()
        .and_then(|d| d.get(MLKEM_SEED_DATA_KEY))
        .map(|b| b.0.as_slice())
        .filter(|b| !b.is_empty());
    let served = cert
        .mlkem_public_key()
        .map_err(KeyError::MlKemCertificate)?;
    match (seed, served) {
        (None, None) => Ok(key),
        (None, Some(_)) => Err(KeyError::Missing(MLKEM_SEED_DATA_KEY)),
        (Some(seed), served) => {
            let key = key.with_mlkem_seed(seed).map_err(KeyError::MlKemSeed)?;
            if served.as_ref() != key.mlkem_public_key() {
                return Err(KeyError::MlKemMismatch);
            }
            Ok(key)
        }
    }
}

/// The controller namespace: `$POD_NAMESPACE`, else the service account's namespace file, else
/// `default`.
pub fn controller_namespace() -> String {
    const SA_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
    std::env::var("POD_NAMESPACE")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::fs::read_to_string(SA_NAMESPACE)
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "default".to_owned())
}

/// True for a key Secret: labelled `sealedsecrets.bitnami.com/sealed-secrets-key=active`, or the
/// legacy Secret named exactly `key_prefix` without that label. Any other label value (e.g.
/// `compromised`) excludes it.
pub fn is_key_secret(secret: &Secret, key_prefix: &str) -> bool {
    let label = secret
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_SEALED_SECRETS_KEY));
    match label {
        Some(value) => value == KEY_ACTIVE,
        None => secret.metadata.name.as_deref() == Some(key_prefix),
    }
}

/// A new key Secret in upstream's shape: type `kubernetes.io/tls`, `generateName: <key-prefix>`,
/// the `active` key label plus `--privatekey-labels` (which cannot override it) and
/// `--privatekey-annotations`, and `tls.key` (PKCS#1 PEM) and `tls.crt`. The namespace is left
/// to the API call.
pub fn new_key_secret(key: &PrivateKey, cert: &Certificate, cfg: &Config) -> Secret {
    let mut labels = cfg.privatekey_labels.clone();
    labels.insert(LABEL_SEALED_SECRETS_KEY.to_owned(), KEY_ACTIVE.to_owned());
    let annotations = cfg.privatekey_annotations.clone();
    let (tls_key, tls_crt) = key_secret_data(key, cert);
    let mut data = BTreeMap::from([
        (TLS_KEY.to_owned(), ByteString(tls_key.as_bytes().to_vec())),
        (TLS_CERT.to_owned(), ByteString(tls_crt.into_bytes())),
    ]);
    if let Some(seed) = key.mlkem_seed() {
        data.insert(MLKEM_SEED_DATA_KEY.to_owned(), ByteString(seed.to_vec()));
    }
    Secret {
        metadata: ObjectMeta {
            generate_name: Some(cfg.key_prefix.clone()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        },
        type_: Some(SECRET_TYPE_TLS.to_owned()),
        data: Some(data),
        ..Secret::default()
    }
}

/// Whether a key must be generated at start: there is none, or the newest (its ordering time,
/// the certificate's NotBefore by default) predates `--key-cutoff-time`. A cutoff in the future
/// counts as `now`, so, as upstream, every start generates a key until the cutoff has passed.
pub fn needs_new_key(newest: Option<SystemTime>, now: SystemTime, cfg: &Config) -> bool {
    match (newest, cfg.key_cutoff_time) {
        (None, _) => true,
        (Some(newest), Some(cutoff)) => newest < cutoff.min(now),
        (Some(_), None) => false,
    }
}

/// How long until the next renewal: `period − age(newest)`, at least zero; `None` when renewal
/// is off (`period` is zero).
pub fn next_renewal(
    newest_not_before: SystemTime,
    now: SystemTime,
    period: Duration,
) -> Option<Duration> {
    if period.is_zero() {
        return None;
    }
    let age = now.duration_since(newest_not_before).unwrap_or_default();
    Some(period.saturating_sub(age))
}

/// Generates a key pair (on a blocking thread: RSA generation takes a while) and its
/// self-signed certificate, valid from now for `--key-ttl`, with `CN=--my-cn` (empty DN when
/// empty).
///
/// # Errors
///
/// A key size the backend does not support, or a signing failure.
pub async fn generate_key_pair(cfg: &Config) -> anyhow::Result<(PrivateKey, Certificate)> {
    let bits = cfg.key_size;
    let params = CertParams {
        common_name: cfg.my_cn.clone(),
        not_before: SystemTime::now(),
        validity: cfg.key_ttl,
    };
    tokio::task::spawn_blocking(move || -> anyhow::Result<(PrivateKey, Certificate)> {
        let key = PrivateKey::generate(bits)
            .with_context(|| format!("failed to generate a {bits}-bit RSA key (--key-size)"))?
            .with_new_mlkem()
            .context("failed to generate the key's ML-KEM-768 half")?;
        let cert = Certificate::self_signed(&key, &params)
            .context("failed to create the key's certificate")?;
        Ok((key, cert))
    })
    .await
    .context("key generation thread failed")?
}

/// Which watch a key Secret event came from: the label-selected key Secrets, or the legacy
/// Secret named exactly `--key-prefix` (which only its own watch decides on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Labelled = 0,
    Legacy = 1,
}

/// Applies key Secret events to the store.
struct Loader<F> {
    store: KeyStore,
    cfg: Arc<Config>,
    namespace: String,
    on_bad_key: F,
    /// `name@resourceVersion` of malformed Secrets already reported.
    warned: HashSet<String>,
    /// Names each source currently reports.
    owned: [HashSet<String>; 2],
    /// Names listed since each source's last `Init`.
    relist: [Option<HashSet<String>>; 2],
    synced: [bool; 2],
}

impl<F: Fn(&Secret, &KeyError)> Loader<F> {
    fn apply(&mut self, source: Source, secret: &Secret) {
        let name = secret.metadata.name.clone().unwrap_or_default();
        if source == Source::Labelled && name == self.cfg.key_prefix {
            return; // the legacy watch owns this name
        }
        self.owned[source as usize].insert(name.clone());
        if let Some(seen) = self.relist[source as usize].as_mut() {
            seen.insert(name.clone());
        }
        if !is_key_secret(secret, &self.cfg.key_prefix) {
            if self.store.has_secret(&self.namespace, &name) {
                self.store.remove_secret(&self.namespace, &name);
                info!(secret = %name, "key Secret is no longer active; its key is unregistered");
            }
            return;
        }
        match self.store.apply_secret(secret, self.cfg.key_order_priority) {
            Ok(Some(id)) => info!(secret = %name, key_id = %id, "registered sealing key"),
            Ok(None) => debug!(secret = %name, "key Secret unchanged"),
            Err(err) => {
                if self.store.has_secret(&self.namespace, &name) {
                    self.store.remove_secret(&self.namespace, &name);
                }
                let version = secret.metadata.resource_version.as_deref().unwrap_or("");
                if self.warned.insert(format!("{name}@{version}")) {
                    warn!(secret = %name, error = %err, source = ?std::error::Error::source(&err).map(ToString::to_string), "skipping malformed key Secret");
                    (self.on_bad_key)(secret, &err);
                }
            }
        }
    }

    fn delete(&mut self, source: Source, secret: &Secret) {
        let name = secret.metadata.name.clone().unwrap_or_default();
        if source == Source::Labelled && name == self.cfg.key_prefix {
            return;
        }
        self.owned[source as usize].remove(&name);
        if self.store.has_secret(&self.namespace, &name) {
            self.store.remove_secret(&self.namespace, &name);
            info!(secret = %name, "key Secret deleted; its key is unregistered");
        }
    }

    /// Handles one watch event; true when both watches have listed everything for the first
    /// time.
    fn event(&mut self, source: Source, event: Event<Secret>) -> bool {
        match event {
            Event::Init => self.relist[source as usize] = Some(HashSet::new()),
            Event::InitApply(s) | Event::Apply(s) => self.apply(source, &s),
            Event::Delete(s) => self.delete(source, &s),
            Event::InitDone => {
                let seen = self.relist[source as usize].take().unwrap_or_default();
                let gone: Vec<String> = self.owned[source as usize]
                    .difference(&seen)
                    .cloned()
                    .collect();
                for name in gone {
                    self.owned[source as usize].remove(&name);
                    if self.store.has_secret(&self.namespace, &name) {
                        self.store.remove_secret(&self.namespace, &name);
                        info!(secret = %name, "key Secret gone; its key is unregistered");
                    }
                }
                let first = !self.synced.iter().all(|s| *s);
                self.synced[source as usize] = true;
                return first && self.synced.iter().all(|s| *s);
            }
        }
        false
    }
}

fn key_watches(
    api: &Api<Secret>,
    key_prefix: &str,
) -> impl Stream<Item = (Source, Result<Event<Secret>, watcher::Error>)> + Send + use<> {
    let labelled = watcher::watcher(
        api.clone(),
        watcher::Config::default().labels(LABEL_SEALED_SECRETS_KEY),
    )
    .default_backoff()
    .map(|e| (Source::Labelled, e));
    let legacy = watcher::watcher(
        api.clone(),
        watcher::Config::default().fields(&format!("metadata.name={key_prefix}")),
    )
    .default_backoff()
    .map(|e| (Source::Legacy, e));
    futures::stream::select(labelled, legacy)
}

/// Lists the key Secrets once (`--watch-for-secrets=false`), retrying until the API answers.
async fn load_once<F: Fn(&Secret, &KeyError)>(api: &Api<Secret>, loader: &mut Loader<F>) {
    let mut delay = Duration::from_secs(1);
    loop {
        let listed = api
            .list(
                &ListParams::default().labels(&format!("{LABEL_SEALED_SECRETS_KEY}={KEY_ACTIVE}")),
            )
            .await;
        let legacy = api.get_opt(&loader.cfg.key_prefix).await;
        match (listed, legacy) {
            (Ok(list), Ok(legacy)) => {
                for s in &list.items {
                    loader.apply(Source::Labelled, s);
                }
                if let Some(s) = legacy {
                    loader.apply(Source::Legacy, &s);
                }
                return;
            }
            (Err(e), _) | (_, Err(e)) => {
                warn!(error = %e, retry_in = ?delay, "cannot list the key Secrets");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Creates a new key Secret and registers its key at once (the watch will see it again).
async fn create_key(api: &Api<Secret>, cfg: &Config, store: &KeyStore) -> anyhow::Result<String> {
    let started = std::time::Instant::now();
    let (key, cert) = generate_key_pair(cfg).await?;
    let secret = new_key_secret(&key, &cert, cfg);
    let created = api
        .create(&PostParams::default(), &secret)
        .await
        .with_context(|| {
            format!(
                "failed to create a key Secret (generateName {:?}) in namespace {:?}",
                cfg.key_prefix,
                api.resource_url()
            )
        })?;
    let id = key.public_key().key_id();
    if let Err(e) = store.apply_secret(&created, cfg.key_order_priority) {
        error!(error = %e, "the key Secret just created cannot be read back");
    }
    info!(
        secret = created.metadata.name.as_deref().unwrap_or(""),
        key_id = %id,
        took = ?started.elapsed(),
        "generated a new sealing key"
    );
    Ok(id)
}

/// Keeps `store` in step with the key Secrets of the controller namespace and, while `leader`
/// is true, generates keys (SPEC §7).
///
/// - With `--watch-for-secrets` (default) the key Secrets are watched: adding one or relabelling
///   it `active` registers its key; relabelling it away or deleting it unregisters the key.
///   Without, they are listed once.
/// - `ready.set_keys_loaded()` is called after the first complete load.
/// - A malformed key Secret is logged (never its content), skipped, and passed to
///   `on_bad_key` once per resourceVersion (e.g. to emit a Warning event).
/// - On the leader: a key is generated at once if there is none or the newest predates
///   `--key-cutoff-time`; then when the newest reaches `--key-renew-period` (0: never), and on
///   `SIGUSR1`. Keys are never deleted.
///
/// Runs until the process ends.
///
/// # Errors
///
/// Only when the `SIGUSR1` handler cannot be installed.
pub async fn run_key_manager<F>(
    client: kube::Client,
    cfg: Arc<Config>,
    store: KeyStore,
    mut leader: LeaderFlag,
    ready: Arc<Readiness>,
    on_bad_key: F,
) -> anyhow::Result<()>
where
    F: Fn(&Secret, &KeyError) + Send + Sync + 'static,
{
    use tokio::signal::unix::{SignalKind, signal};

    let namespace = controller_namespace();
    let api: Api<Secret> = Api::namespaced(client, &namespace);
    let mut sigusr1 =
        signal(SignalKind::user_defined1()).context("cannot install the SIGUSR1 handler")?;
    let mut loader = Loader {
        store: store.clone(),
        cfg: Arc::clone(&cfg),
        namespace: namespace.clone(),
        on_bad_key,
        warned: HashSet::new(),
        owned: Default::default(),
        relist: Default::default(),
        synced: [false; 2],
    };
    info!(namespace = %namespace, watch = cfg.watch_for_secrets, "loading sealing keys");

    let mut events: std::pin::Pin<Box<dyn Stream<Item = _> + Send>> = if cfg.watch_for_secrets {
        Box::pin(key_watches(&api, &cfg.key_prefix))
    } else {
        Box::pin(futures::stream::pending())
    };
    let mut loaded = false;
    if !cfg.watch_for_secrets {
        load_once(&api, &mut loader).await;
        loaded = true;
        keys_loaded(&store, &ready);
    }

    let mut leader_alive = true;
    // Whether the start-up check (no key, or the newest older than the cutoff) is still to run
    // for the current leadership term, and its outcome.
    let mut startup_checked = false;
    let mut startup_due = false;
    let mut retry_at: Option<tokio::time::Instant> = None;

    loop {
        let leading = *leader.borrow();
        if !leading {
            startup_checked = false;
            startup_due = false;
        }
        if loaded && leading && !startup_checked {
            startup_checked = true;
            let newest = store.keyring().newest().map(|e| e.order_time());
            startup_due = needs_new_key(newest, SystemTime::now(), &cfg);
            if startup_due && newest.is_some() {
                info!("the newest key predates --key-cutoff-time; generating a new one");
            }
        }
        let wait = if !(loaded && leading) {
            None
        } else if startup_due {
            Some(Duration::ZERO)
        } else {
            store
                .keyring()
                .newest()
                .and_then(|e| next_renewal(e.order_time(), SystemTime::now(), cfg.key_renew_period))
        };
        let wait = match (wait, retry_at) {
            (Some(w), Some(at)) => {
                Some(w.max(at.saturating_duration_since(tokio::time::Instant::now())))
            }
            (w, _) => w,
        };

        let manual = tokio::select! {
            event = events.next() => {
                match event {
                    Some((source, Ok(event))) => {
                        if loader.event(source, event) && !loaded {
                            loaded = true;
                            keys_loaded(&store, &ready);
                        }
                    }
                    Some((source, Err(e))) => {
                        warn!(watch = ?source, error = %e, "key Secret watch failed; retrying");
                    }
                    None => {
                        events = Box::pin(futures::stream::pending());
                    }
                }
                continue;
            }
            changed = leader.changed(), if leader_alive => {
                if changed.is_err() {
                    leader_alive = false;
                }
                continue;
            }
            signal = sigusr1.recv() => {
                if signal.is_none() {
                    anyhow::bail!("the SIGUSR1 handler stopped");
                }
                if !leading {
                    info!("SIGUSR1: not the leader, so not generating a key");
                    continue;
                }
                info!("SIGUSR1: generating a new sealing key");
                true
            }
            () = tokio::time::sleep(wait.unwrap_or(MAX_SLEEP).min(MAX_SLEEP)), if wait.is_some() => {
                if wait.is_some_and(|w| w > MAX_SLEEP) {
                    continue;
                }
                false
            }
        };

        if !manual && !startup_due {
            info!(period = ?cfg.key_renew_period, "the newest key is due for renewal");
        }
        match create_key(&api, &cfg, &store).await {
            Ok(_) => {
                startup_due = false;
                retry_at = None;
            }
            Err(e) => {
                error!(error = format!("{e:#}"), retry_in = ?GENERATE_RETRY, "cannot generate a sealing key");
                retry_at = Some(tokio::time::Instant::now() + GENERATE_RETRY);
            }
        }
    }
}

fn keys_loaded(store: &KeyStore, ready: &Readiness) {
    let ids = store.key_ids();
    info!(count = ids.len(), key_ids = ?ids, "sealing keys loaded");
    ready.set_keys_loaded();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use test_case::test_case;

    fn fixture(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/keys/").to_owned() + name;
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn fixture_str(name: &str) -> String {
        String::from_utf8(fixture(name)).expect("fixture is text")
    }

    fn key_secret(name: &str, key: &str, crt: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("kube-system".to_owned()),
                labels: Some(BTreeMap::from([(
                    LABEL_SEALED_SECRETS_KEY.to_owned(),
                    KEY_ACTIVE.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            type_: Some(SECRET_TYPE_TLS.to_owned()),
            data: Some(BTreeMap::from([
                (TLS_KEY.to_owned(), ByteString(fixture(key))),
                (TLS_CERT.to_owned(), ByteString(fixture(crt))),
            ])),
            ..Secret::default()
        }
    }

    fn cfg(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("controller").chain(args.iter().copied()))
            .expect("flags parse")
    }

    fn with_label(name: &str, label: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                labels: label
                    .map(|v| BTreeMap::from([(LABEL_SEALED_SECRETS_KEY.to_owned(), v.to_owned())])),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    #[test_case("sealed-secrets-keyabcde", Some("active"), true; "labelled active")]
    #[test_case("anything", Some("active"), true; "byo key")]
    #[test_case("sealed-secrets-keyabcde", Some("compromised"), false; "compromised")]
    #[test_case("sealed-secrets-keyabcde", Some(""), false; "empty label value")]
    #[test_case("sealed-secrets-keyabcde", None, false; "unlabelled")]
    #[test_case("sealed-secrets-key", None, true; "legacy name")]
    #[test_case("sealed-secrets-key", Some("compromised"), false; "legacy name compromised")]
    #[test_case("sealed-secrets-key-x", None, false; "prefix only")]
    fn key_secrets_are_recognised(name: &str, label: Option<&str>, want: bool) {
        assert_eq!(
            is_key_secret(&with_label(name, label), "sealed-secrets-key"),
            want
        );
    }

    fn seed_of(stem: &str) -> Vec<u8> {
        let hex = fixture_str(&format!("{stem}.mlkem768.seed"));
        let hex = hex.trim();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn hybrid_secret(crt: &str, seed: Option<Vec<u8>>) -> Secret {
        let mut secret = key_secret("pq", "rsa4096.key", crt);
        if let Some(seed) = seed {
            secret
                .data
                .as_mut()
                .expect("data")
                .insert(MLKEM_SEED_DATA_KEY.to_owned(), ByteString(seed));
        }
        secret
    }

    #[test]
    fn a_key_secret_with_a_seed_and_a_hybrid_certificate_opens_both_formats() {
        let entry = parse_key_secret(
            &hybrid_secret("rsa4096-pq.crt", Some(seed_of("rsa4096"))),
            KeyOrder::CertNotBefore,
        )
        .expect("loads");
        assert!(entry.key().mlkem_public_key().is_some());
        let pq = entry
            .certificate()
            .expect("cert")
            .mlkem_public_key()
            .expect("verifies");
        assert_eq!(pq.as_ref(), entry.key().mlkem_public_key());
        let key = entry.key();
        for sealed in [
            seal_api::crypto::seal(&key.public_key(), b"ns/n", b"classical").expect("seals"),
            seal_api::crypto::seal_hybrid(
                &key.public_key(),
                pq.as_ref().expect("pq"),
                b"ns/n",
                b"hybrid",
            )
            .expect("seals"),
        ] {
            assert!(seal_api::crypto::open(&[key], b"ns/n", &sealed).is_ok());
        }
    }

    #[test]
    fn seed_and_certificate_must_agree() {
        let order = KeyOrder::CertNotBefore;
        // A certificate serving an ML-KEM key whose seed is missing: users would seal to a key
        // nobody can open, so the key Secret is refused.
        assert!(matches!(
            parse_key_secret(&hybrid_secret("rsa4096-pq.crt", None), order),
            Err(KeyError::Missing(MLKEM_SEED_DATA_KEY))
        ));
        // Another key's seed.
        assert!(matches!(
            parse_key_secret(
                &hybrid_secret("rsa4096-pq.crt", Some(seed_of("rsa4096-b"))),
                order
            ),
            Err(KeyError::MlKemMismatch)
        ));
        // A seed, but a certificate without the extension.
        assert!(matches!(
            parse_key_secret(
                &hybrid_secret("rsa4096.crt", Some(seed_of("rsa4096"))),
                order
            ),
            Err(KeyError::MlKemMismatch)
        ));
        let err = parse_key_secret(&hybrid_secret("rsa4096-pq.crt", Some(vec![1; 10])), order)
            .err()
            .expect("refused");
        assert!(matches!(err, KeyError::MlKemSeed(_)));
        assert_eq!(
            err.to_string(),
            "failed to read the ML-KEM-768 seed in mlkem768.seed"
        );
        // Upstream's shape (no seed, no extension) still loads, classical only.
        let classical =
            parse_key_secret(&hybrid_secret("rsa4096.crt", None), order).expect("loads");
        assert!(classical.key().mlkem_public_key().is_none());
    }

    #[test]
    fn new_key_secrets_carry_the_seed_and_load_back_whole() {
        let key = PrivateKey::from_pem(&fixture_str("rsa2048.key"))
            .expect("key")
            .with_mlkem_seed(&[5u8; 64])
            .expect("seed");
        let params = CertParams {
            common_name: String::new(),
            not_before: SystemTime::now(),
            validity: Duration::from_secs(3600),
        };
        let cert = Certificate::self_signed(&key, &params).expect("signs");
        let mut secret = new_key_secret(&key, &cert, &cfg(&[]));
        let data = secret.data.as_ref().expect("data");
        assert_eq!(data[MLKEM_SEED_DATA_KEY].0, vec![5u8; 64]);
        secret.metadata.name = Some("generated".to_owned());
        let loaded = parse_key_secret(&secret, KeyOrder::CertNotBefore).expect("loads");
        assert_eq!(loaded.key().mlkem_public_key(), key.mlkem_public_key());
    }

    #[test]
    fn pkcs1_and_pkcs8_key_secrets_load() {
        let store = KeyStore::new();
        let mut changes = store.changes();
        let id = store
            .apply_secret(
                &key_secret("k1", "rsa2048.key", "rsa2048.crt"),
                KeyOrder::CertNotBefore,
            )
            .expect("PKCS#1 loads")
            .expect("new key");
        assert_eq!(id, fixture_str("rsa2048.keyid").trim());
        assert!(changes.has_changed().expect("sender alive"));
        changes.mark_unchanged();

        // The same key again under the same Secret changes nothing.
        let again = store
            .apply_secret(
                &key_secret("k1", "rsa2048.pk8.key", "rsa2048.crt"),
                KeyOrder::CertNotBefore,
            )
            .expect("PKCS#8 loads");
        assert_eq!(again, None);
        assert!(!changes.has_changed().expect("sender alive"));

        // Under another Secret it is the same key: one entry, two holders.
        store
            .apply_secret(
                &key_secret("k2", "rsa2048.pk8.key", "rsa2048.crt"),
                KeyOrder::CertNotBefore,
            )
            .expect("PKCS#8 loads");
        assert_eq!(store.len(), 1);
        store.remove_secret("kube-system", "k1");
        assert_eq!(store.len(), 1, "k2 still holds the key");
        store.remove_secret("kube-system", "k2");
        assert!(store.is_empty());
        assert!(changes.has_changed().expect("sender alive"));
    }

    #[test]
    fn cert_chain_uses_the_first_certificate() {
        let mut s = key_secret("k", "rsa2048.key", "rsa2048.crt");
        let mut chain = fixture("rsa2048.crt");
        chain.extend(fixture("rsa4096.crt"));
        s.data
            .as_mut()
            .expect("data")
            .insert(TLS_CERT.to_owned(), ByteString(chain));
        let store = KeyStore::new();
        store
            .apply_secret(&s, KeyOrder::CertNotBefore)
            .expect("loads");
        assert_eq!(
            store.newest_cert_pem().expect("cert"),
            Certificate::from_pem(&fixture("rsa2048.crt"))
                .expect("fixture")
                .to_pem()
        );
    }

    #[test_case("ec.key", "ec.crt"; "non-RSA key")]
    #[test_case("rsa2048.key", "ec.crt"; "non-RSA certificate")]
    #[test_case("rsa2048.key", "rsa4096.crt"; "certificate of another key")]
    #[test_case("rsa2048.crt", "rsa2048.crt"; "certificate as key")]
    fn malformed_key_secrets_are_errors(key: &str, crt: &str) {
        let store = KeyStore::new();
        let err = store
            .apply_secret(&key_secret("bad", key, crt), KeyOrder::CertNotBefore)
            .expect_err("malformed");
        assert!(!err.to_string().contains("BEGIN"), "no key material: {err}");
        assert!(store.is_empty());
    }

    #[test]
    fn missing_and_garbage_items_are_errors() {
        let store = KeyStore::new();
        let mut s = key_secret("bad", "rsa2048.key", "rsa2048.crt");
        s.data.as_mut().expect("data").remove(TLS_CERT);
        assert!(matches!(
            store.apply_secret(&s, KeyOrder::CertNotBefore),
            Err(KeyError::Missing("tls.crt"))
        ));
        s.data
            .as_mut()
            .expect("data")
            .insert(TLS_CERT.to_owned(), ByteString(vec![0xff, 0xfe]));
        assert!(matches!(
            store.apply_secret(&s, KeyOrder::CertNotBefore),
            Err(KeyError::NotText("tls.crt"))
        ));
        s.data
            .as_mut()
            .expect("data")
            .insert(TLS_KEY.to_owned(), ByteString(b"not a pem".to_vec()));
        assert!(matches!(
            store.apply_secret(&s, KeyOrder::CertNotBefore),
            Err(KeyError::Key(_))
        ));
        s.data = None;
        assert!(matches!(
            store.apply_secret(&s, KeyOrder::CertNotBefore),
            Err(KeyError::Missing("tls.key"))
        ));
    }

    #[test]
    fn keyring_orders_by_cert_not_before() {
        // rsa2048.crt, rsa4096.crt and rsa4096-b.crt share a NotBefore; order ties by insertion,
        // so compare the ranking times instead of assuming an order among equals.
        let store = KeyStore::new();
        for (name, key, crt) in [
            ("a", "rsa2048.key", "rsa2048.crt"),
            ("b", "rsa4096.key", "rsa4096.crt"),
        ] {
            store
                .apply_secret(&key_secret(name, key, crt), KeyOrder::CertNotBefore)
                .expect("loads");
        }
        let ring = store.keyring();
        let times: Vec<SystemTime> = ring.iter().map(|e| e.order_time()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]));
        for e in ring.iter() {
            assert_eq!(
                Some(e.order_time()),
                e.certificate().map(Certificate::not_before)
            );
        }
    }

    #[test]
    fn keyring_orders_by_secret_creation_timestamp() {
        let store = KeyStore::new();
        let mk = |name: &str, key: &str, crt: &str, secs: i64| {
            let mut s = key_secret(name, key, crt);
            s.metadata.creation_timestamp = Some(Time(
                jiff::Timestamp::from_second(secs).expect("valid time"),
            ));
            s
        };
        let newer = mk("newer", "rsa2048.key", "rsa2048.crt", 1_800_000_000);
        let older = mk("older", "rsa4096.key", "rsa4096.crt", 1_700_000_000);
        store
            .apply_secret(&newer, KeyOrder::SecretCreationTimestamp)
            .expect("loads");
        store
            .apply_secret(&older, KeyOrder::SecretCreationTimestamp)
            .expect("loads");
        let ring = store.keyring();
        assert_eq!(
            ring.newest().expect("newest").id(),
            fixture_str("rsa2048.keyid").trim()
        );
        assert_eq!(
            store.newest_cert_pem().expect("pem"),
            Certificate::from_pem(&fixture("rsa2048.crt"))
                .expect("fixture")
                .to_pem()
        );

        // Flipping the timestamps flips the order.
        let store = KeyStore::new();
        let newer = mk("newer", "rsa4096.key", "rsa4096.crt", 1_800_000_000);
        let older = mk("older", "rsa2048.key", "rsa2048.crt", 1_700_000_000);
        for s in [&older, &newer] {
            store
                .apply_secret(s, KeyOrder::SecretCreationTimestamp)
                .expect("loads");
        }
        assert_eq!(
            store.keyring().newest().expect("newest").id(),
            fixture_str("rsa4096.keyid").trim()
        );
    }

    #[test]
    fn needs_new_key_without_keys_or_before_cutoff() {
        let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let now = t(2_000_000_000);
        let none = cfg(&[]);
        assert!(needs_new_key(None, now, &none));
        assert!(!needs_new_key(Some(t(1)), now, &none));

        // Cutoff = Mon, 02 Jan 2006 15:04:05 -0700 = 1136239445.
        let cut = cfg(&["--key-cutoff-time=Mon, 02 Jan 2006 15:04:05 -0700"]);
        assert!(needs_new_key(Some(t(1_136_239_444)), now, &cut));
        assert!(!needs_new_key(Some(t(1_136_239_445)), now, &cut));
        assert!(!needs_new_key(Some(t(1_500_000_000)), now, &cut));

        // A cutoff in the future acts as now.
        let future = cfg(&["--key-cutoff-time=Mon, 02 Jan 2040 15:04:05 +0000"]);
        assert!(needs_new_key(
            Some(t(1_136_239_444)),
            t(1_800_000_000),
            &future
        ));
    }

    #[test]
    fn next_renewal_is_period_minus_age() {
        let h = |n: u64| Duration::from_secs(n * 3600);
        let nb = SystemTime::UNIX_EPOCH + h(1000);
        assert_eq!(next_renewal(nb, nb + h(100), h(720)), Some(h(620)));
        assert_eq!(next_renewal(nb, nb, h(720)), Some(h(720)));
        assert_eq!(next_renewal(nb, nb + h(800), h(720)), Some(Duration::ZERO));
        assert_eq!(
            next_renewal(nb, nb - h(5), h(720)),
            Some(h(720)),
            "future NotBefore"
        );
        assert_eq!(next_renewal(nb, nb + h(100), Duration::ZERO), None);
    }

    #[test]
    fn new_key_secret_has_upstream_shape() {
        let key = PrivateKey::from_pem(&fixture_str("rsa2048.key")).expect("fixture key");
        let cert = Certificate::from_pem(&fixture("rsa2048.crt")).expect("fixture cert");
        let cfg = cfg(&[
            "--key-prefix=my-keys",
            "--privatekey-labels=team=a,sealedsecrets.bitnami.com/sealed-secrets-key=compromised",
            "--privatekey-annotations=note=x",
        ]);
        let s = new_key_secret(&key, &cert, &cfg);
        assert_eq!(s.metadata.generate_name.as_deref(), Some("my-keys"));
        assert_eq!(s.metadata.name, None);
        assert_eq!(s.type_.as_deref(), Some("kubernetes.io/tls"));
        let labels = s.metadata.labels.as_ref().expect("labels");
        assert_eq!(
            labels[LABEL_SEALED_SECRETS_KEY], "active",
            "cannot be overridden"
        );
        assert_eq!(labels["team"], "a");
        assert_eq!(
            s.metadata.annotations.as_ref().expect("annotations")["note"],
            "x"
        );
        let data = s.data.as_ref().expect("data");
        assert!(
            data[TLS_KEY]
                .0
                .starts_with(b"-----BEGIN RSA PRIVATE KEY-----\n")
        );
        assert!(
            data[TLS_CERT]
                .0
                .starts_with(b"-----BEGIN CERTIFICATE-----\n")
        );

        // It loads back as the same key.
        let mut s = s;
        s.metadata.name = Some("my-keysabcde".to_owned());
        assert!(is_key_secret(&s, "my-keys"));
        let store = KeyStore::new();
        let id = store
            .apply_secret(&s, KeyOrder::CertNotBefore)
            .expect("loads")
            .expect("new");
        assert_eq!(id, key.public_key().key_id());

        // Without extra labels or annotations: only the key label, no annotations.
        let plain = new_key_secret(&key, &cert, &super::tests::cfg(&[]));
        assert_eq!(plain.metadata.labels.as_ref().map(BTreeMap::len), Some(1));
        assert_eq!(plain.metadata.annotations, None);
    }

    #[test]
    fn loader_tracks_relabels_deletes_and_relists() {
        let store = KeyStore::new();
        let bad = Arc::new(Mutex::new(Vec::new()));
        let bad2 = Arc::clone(&bad);
        let mut loader = Loader {
            store: store.clone(),
            cfg: Arc::new(cfg(&[])),
            namespace: "kube-system".to_owned(),
            on_bad_key: move |s: &Secret, _: &KeyError| {
                bad2.lock()
                    .expect("lock")
                    .push(s.metadata.name.clone().unwrap_or_default());
            },
            warned: HashSet::new(),
            owned: Default::default(),
            relist: Default::default(),
            synced: [false; 2],
        };
        let a = key_secret("sealed-secrets-keya", "rsa2048.key", "rsa2048.crt");
        let mut legacy = key_secret("sealed-secrets-key", "rsa4096.key", "rsa4096.crt");
        legacy.metadata.labels = None;

        assert!(!loader.event(Source::Labelled, Event::Init));
        assert!(!loader.event(Source::Labelled, Event::InitApply(a.clone())));
        assert!(!loader.event(Source::Labelled, Event::InitDone));
        assert!(!loader.event(Source::Legacy, Event::Init));
        assert!(!loader.event(Source::Legacy, Event::InitApply(legacy.clone())));
        assert!(
            loader.event(Source::Legacy, Event::InitDone),
            "first full load"
        );
        assert_eq!(store.len(), 2);

        // Relabelled to compromised: unregistered.
        let mut compromised = a.clone();
        compromised.metadata.labels = Some(BTreeMap::from([(
            LABEL_SEALED_SECRETS_KEY.to_owned(),
            "compromised".to_owned(),
        )]));
        loader.event(Source::Labelled, Event::Apply(compromised));
        assert_eq!(store.len(), 1);
        // And back to active: registered again.
        loader.event(Source::Labelled, Event::Apply(a.clone()));
        assert_eq!(store.len(), 2);

        // The labelled watch ignores the legacy name; the legacy watch decides for it.
        loader.event(Source::Labelled, Event::Delete(legacy.clone()));
        assert_eq!(store.len(), 2);
        loader.event(Source::Legacy, Event::Delete(legacy));
        assert_eq!(store.len(), 1);

        // A relist without `a` unregisters it.
        loader.event(Source::Labelled, Event::Init);
        assert!(
            !loader.event(Source::Labelled, Event::InitDone),
            "not the first load"
        );
        assert!(store.is_empty());

        // A malformed key is reported once per resourceVersion.
        let mut broken = key_secret("sealed-secrets-keyb", "ec.key", "ec.crt");
        broken.metadata.resource_version = Some("1".to_owned());
        loader.event(Source::Labelled, Event::Apply(broken.clone()));
        loader.event(Source::Labelled, Event::Apply(broken.clone()));
        broken.metadata.resource_version = Some("2".to_owned());
        loader.event(Source::Labelled, Event::Apply(broken));
        assert_eq!(bad.lock().expect("lock").len(), 2);
        assert!(store.is_empty());
    }

    #[test]
    fn controller_namespace_has_a_fallback() {
        assert!(!controller_namespace().is_empty());
    }
}
