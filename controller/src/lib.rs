//! seal-controller: unseals SealedSecrets into Secrets, owns and renews the sealing keys, and
//! serves the certificate. A drop-in for the Bitnami Sealed Secrets controller.
//!
//! ```text
//!  controller namespace ($POD_NAMESPACE)          any watched namespace
//!  ┌──────────────────────────────────────┐      ┌───────────────────────────────────────────┐
//!  │ Secret sealed-secrets-keyXXXXX       │      │ SealedSecret ns/name  (bitnami.com/v1alpha1)│
//!  │  type: kubernetes.io/tls             │      │  metadata.annotations: scope, seal.dev/key-id│
//!  │  label sealed-secrets-key: active    │ keys │  spec.encryptedData: item → RSA-OAEP+AES-GCM │
//!  │  tls.key (PKCS#1)  tls.crt (X.509) ──┼─────►│  spec.template: metadata, type, immutable,  │
//!  │  … one per renewal, never deleted    │      │                 data (Go templates)          │
//!  └──────────────────────────────────────┘      │  status: observedGeneration,                 │
//!        │ newest cert                           │    conditions [Synced, Ready, (Reconciling), │
//!        ▼                                       │                (Stalled), seal.dev/Unsealed]│
//!  GET /v1/cert.pem  (kubectl seal)              └───────────────┬───────────────────────────┘
//!                                                                │ reconcile (leader only):
//!                                                                │ unseal on the worker pool,
//!                                                                ▼ create / replace, never patch
//!                                                ┌───────────────────────────────────────────┐
//!                                                │ Secret ns/name                              │
//!                                                │  ownerReferences: [SealedSecret, controller]│
//!                                                │  labels, annotations: the template's only   │
//!                                                │  type, immutable, data = items + templates  │
//!                                                └───────────────────────────────────────────┘
//! ```
//!
//! - [`controller`]: watches, triggers and `reconcile`; [`decide`]: the pure rules it applies.
//! - [`keys`]: loading, hot reload and renewal of key Secrets; [`leader`]: the Lease.
//! - [`http`]: `/healthz`, `/readyz`, `/v1/cert.pem`, `/v1/verify`, `/v1/rotate`, `/metrics`.
//! - [`throttle`]: the client-side limit on API requests (`--kubeclient-qps`, `--kubeclient-burst`).
//! - [`run`]: everything together, as the `controller` binary runs it.

pub mod cache;
pub mod config;
pub mod controller;
pub mod decide;
pub mod events;
pub mod http;
pub mod keys;
pub mod leader;
pub mod metrics;
pub mod throttle;

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

/// Waits until `keys` holds at least one key.
pub async fn wait_for_keys(keys: &keys::KeyStore) {
    let mut changes = keys.changes();
    while keys.is_empty() {
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot install the SIGTERM handler");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}

/// Runs the controller: HTTP servers from the start, leader election, the key manager, and
/// (while leading) the reconcile loop, until SIGTERM or SIGINT.
///
/// Every request to the API server, watches included, waits for a token of a bucket sized by
/// `--kubeclient-qps`/`--kubeclient-burst`, with client-go's rules ([`throttle::ClientLimit`]):
/// per API group as upstream's clientsets have (one for SealedSecrets, one for Secrets and
/// keys), plus one for Events and one for the Lease.
///
/// # Errors
///
/// A positive `--kubeclient-qps` with `--kubeclient-burst=0` (or a NaN QPS), no usable
/// kubeconfig or in-cluster configuration, or an HTTP address that cannot be bound.
pub async fn run(cfg: config::Config) -> anyhow::Result<()> {
    use std::sync::Arc;

    use anyhow::Context as _;

    let limit = throttle::ClientLimit::from_flags(cfg.kubeclient_qps, cfg.kubeclient_burst)?;
    let cfg = Arc::new(cfg);
    let ready = Arc::new(Readiness::default());
    let metrics = Arc::new(metrics::Metrics::default());
    let keys = keys::KeyStore::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    // HTTP first: /healthz answers from process start.
    let state = http::HttpState {
        keys: keys.clone(),
        metrics: metrics.clone(),
        ready: ready.clone(),
        cfg: cfg.clone(),
    };
    let api_server = {
        let (addr, router, stop) = (cfg.listen_addr.clone(), http::router(state), stopped());
        let read_timeout = cfg.read_timeout;
        tokio::spawn(async move { http::serve(&addr, router, read_timeout, stop).await })
    };
    let metrics_server = {
        let addr = cfg.listen_metrics_addr.clone();
        let (router, stop) = (http::metrics_router(metrics.clone()), stopped());
        let read_timeout = cfg.read_timeout;
        tokio::spawn(async move { http::serve(&addr, router, read_timeout, stop).await })
    };

    let kube_config = kube::Config::infer()
        .await
        .context("cannot build a Kubernetes client (no kubeconfig or in-cluster config)")?;
    let build = |config| {
        throttle::client_with_limits(config, limit, Some(metrics.clone()))
            .context("cannot build a Kubernetes client from the kubeconfig or in-cluster config")
    };
    let client = build(kube_config.clone())?;
    tracing::info!(%limit, "Kubernetes client rate limit");
    let namespace = keys::controller_namespace();
    let identity = leader::identity();
    // Events get a bucket of their own, as client-go's event broadcaster limits them apart
    // from the requests that do the work: a burst of events never delays a Secret write.
    let recorder = events::Recorder::new(build(kube_config.clone())?, identity.clone());
    // SealedSecrets get a bucket of their own, as upstream's SealedSecrets clientset has its own
    // limiter apart from its core clientset's: the flags mean the same budget per API group.
    let sealed_client = build(kube_config.clone())?;

    let (leader_tx, leader_rx) = if cfg.leader_elect {
        tokio::sync::watch::channel(false)
    } else {
        leader::always_leader()
    };
    let election = if cfg.leader_elect {
        // The Lease gets a bucket of its own, as client-go programs give leader election its
        // own client: a backlog of other requests must not hold a renewal past its deadline.
        let lease_client = build(kube_config)?;
        Some(tokio::spawn(leader::run(
            lease_client,
            namespace.clone(),
            identity.clone(),
            leader::Timing::default(),
            leader_tx,
            stopped(),
        )))
    } else {
        // Keep the sender alive so the flag stays true.
        std::mem::forget(leader_tx);
        None
    };

    let bad_key_recorder = recorder.clone();
    let key_manager = tokio::spawn(keys::run_key_manager(
        client.clone(),
        cfg.clone(),
        keys.clone(),
        leader_rx.clone(),
        ready.clone(),
        move |secret: &k8s_openapi::api::core::v1::Secret, err: &keys::KeyError| {
            let r = bad_key_recorder.clone();
            let s = secret.clone();
            let msg = format!("cannot load key: {err}");
            tokio::spawn(async move { r.publish_bad_key(&s, msg).await });
        },
    ));
    {
        let keys = keys.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut changes = keys.changes();
            loop {
                metrics.set_key_count(keys.len());
                if changes.changed().await.is_err() {
                    break;
                }
            }
        });
    }

    let reconciler = {
        let (client, keys, metrics, cfg, ready) = (
            client.clone(),
            keys.clone(),
            metrics.clone(),
            cfg.clone(),
            ready.clone(),
        );
        let mut leader = leader_rx.clone();
        async move {
            loop {
                if leader.wait_for(|l| *l).await.is_err() {
                    return;
                }
                wait_for_keys(&keys).await;
                tracing::info!("leading: starting the reconcile loop");
                let ctx = Arc::new(
                    controller::Context::new(
                        client.clone(),
                        keys.clone(),
                        metrics.clone(),
                        cfg.clone(),
                        recorder.clone(),
                    )
                    .with_sealed_client(sealed_client.clone()),
                );
                let r = ready.clone();
                tokio::select! {
                    () = controller::run(ctx, &namespace, move || r.set_caches_synced()) => {}
                    _ = leader.wait_for(|l| !*l) => {
                        tracing::info!("lost leadership: stopping the reconcile loop");
                    }
                }
            }
        }
    };
    if cfg.leader_elect {
        // Followers serve the API without caches; they are ready once keys are loaded.
        let (ready, mut leader) = (ready.clone(), leader_rx.clone());
        tokio::spawn(async move {
            let _ = leader.wait_for(|l| !*l).await;
            ready.set_caches_synced();
        });
    }

    tokio::select! {
        () = shutdown_signal() => {}
        () = reconciler => {}
        res = api_server => {
            res.context("the HTTP server panicked")?.context("the HTTP server failed")?;
        }
        res = metrics_server => {
            res.context("the metrics server panicked")?.context("the metrics server failed")?;
        }
    }
    stop_tx.send_replace(true);
    if let Some(election) = election {
        // Releases the Lease.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), election).await;
    }
    key_manager.abort();
    Ok(())
}
