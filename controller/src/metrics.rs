//! Prometheus metrics (SPEC §8), upstream's names under `sealed_secrets_controller_`, plus a key
//! inventory (BEYOND).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The metric name prefix.
pub const PREFIX: &str = "sealed_secrets_controller";

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prometheus's default histogram buckets, as upstream's client_golang uses.
const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RevisionLabels {
    revision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    reason: String,
    namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    namespace: String,
    name: String,
    condition: String,
    ss_app_kubernetes_io_instance: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    path: String,
    code: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpDurationLabels {
    path: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    key_id: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn default_histogram() -> Histogram {
    Histogram::new(DEFAULT_BUCKETS)
}

/// The controller's metrics. Share it in an `Arc`; every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    unseal_requests: Counter,
    unseal_errors: Family<ErrorLabels, Counter>,
    conditions: Family<ConditionLabels, Gauge>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<HttpDurationLabels>,
    keys: Gauge,
    items_opened: Family<KeyLabels, Counter>,
    oldest_key_in_use: Gauge<f64, AtomicU64>,
    unseal_duration: Histogram,
    client_rate_limiter_wait: Histogram,
    /// `(namespace, name)` → the condition label sets set for it, so they can be dropped.
    condition_sets: Mutex<HashMap<(String, String), Vec<ConditionKey>>>,
    /// Length of the last rendering, to size the next one without regrowing.
    last_render: std::sync::atomic::AtomicUsize,
    /// Key ID → ordering time (NotBefore) of the keys that opened something.
    keys_in_use: Mutex<BTreeMap<String, SystemTime>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(option_env!("SEAL_REVISION").unwrap_or(env!("CARGO_PKG_VERSION")))
    }
}

impl Metrics {
    /// The metrics, with `build_info{revision}` set to 1.
    pub fn new(revision: &str) -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let build_info = Family::<RevisionLabels, Gauge>::default();
        build_info
            .get_or_create(&RevisionLabels {
                revision: revision.to_owned(),
            })
            .set(1);
        registry.register("build_info", "Build information.", build_info);
        let unseal_requests = Counter::default();
        registry.register(
            "unseal_requests",
            "Total number of sealed secret unseal requests",
            unseal_requests.clone(),
        );
        let unseal_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "unseal_errors",
            "Total number of sealed secret unseal errors by reason",
            unseal_errors.clone(),
        );
        let conditions = Family::<ConditionLabels, Gauge>::default();
        registry.register(
            "condition_info",
            "Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), 1 (true)",
            conditions.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Total number of HTTP requests by path, code and method",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<HttpDurationLabels> =
            Family::new_with_constructor(default_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request duration in seconds by path and method",
            http_duration.clone(),
        );
        let keys = Gauge::default();
        registry.register("keys", "Number of sealing keys loaded", keys.clone());
        let items_opened = Family::<KeyLabels, Counter>::default();
        registry.register(
            "items_opened",
            "Total number of sealed items opened, by the ID of the key that opened them",
            items_opened.clone(),
        );
        let oldest_key_in_use = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "oldest_key_in_use_age_seconds",
            "Age (since its NotBefore) of the oldest key that has opened an item since start",
            oldest_key_in_use.clone(),
        );
        let unseal_duration = default_histogram();
        registry.register(
            "unseal_duration_seconds",
            "Time spent unsealing one SealedSecret, in seconds",
            unseal_duration.clone(),
        );
        let client_rate_limiter_wait = default_histogram();
        registry.register(
            "kubeclient_rate_limiter_duration_seconds",
            "Time a request to the Kubernetes API waited for the client rate limit (--kubeclient-qps, --kubeclient-burst), in seconds",
            client_rate_limiter_wait.clone(),
        );
        Self {
            registry,
            unseal_requests,
            unseal_errors,
            conditions,
            http_requests,
            http_duration,
            keys,
            items_opened,
            oldest_key_in_use,
            unseal_duration,
            client_rate_limiter_wait,
            condition_sets: Mutex::new(HashMap::new()),
            last_render: std::sync::atomic::AtomicUsize::new(0),
            keys_in_use: Mutex::new(BTreeMap::new()),
        }
    }

    /// Counts one unseal attempt (`unseal_requests_total`).
    pub fn unseal_request(&self) {
        self.unseal_requests.inc();
    }

    /// Counts one failure (`unseal_errors_total`); `reason` is `fetch`, `unseal`, `update`,
    /// `unmanaged` or `status`.
    pub fn unseal_error(&self, reason: &str, namespace: &str) {
        self.unseal_errors
            .get_or_create(&ErrorLabels {
                reason: reason.to_owned(),
                namespace: namespace.to_owned(),
            })
            .inc();
    }

    /// Sets `condition_info` for one condition of one SealedSecret: −1 False, 0 Unknown, 1 True.
    /// `instance` is the SealedSecret's `app.kubernetes.io/instance` label (empty if none).
    pub fn set_condition(
        &self,
        namespace: &str,
        name: &str,
        condition: &str,
        instance: &str,
        value: i64,
    ) {
        let labels = condition_labels(namespace, name, condition, instance);
        let mut sets = self
            .condition_sets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // (condition, instance) per object: enough to find its series again, at a fraction of
        // the labels' size.
        let known = sets
            .entry((namespace.to_owned(), name.to_owned()))
            .or_default();
        // The same condition under another instance label replaces the old series.
        known.retain(|(c, i)| {
            let stale = *c == labels.condition && *i != labels.ss_app_kubernetes_io_instance;
            if stale {
                self.conditions
                    .remove(&condition_labels(namespace, name, c, i));
            }
            !stale
        });
        if !known.iter().any(|(c, _)| *c == labels.condition) {
            known.push((condition.to_owned(), instance.to_owned()));
        }
        self.conditions.get_or_create(&labels).set(value);
    }

    /// Drops every `condition_info` series of a deleted SealedSecret.
    pub fn remove_conditions(&self, namespace: &str, name: &str) {
        let mut sets = self
            .condition_sets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = sets.remove(&(namespace.to_owned(), name.to_owned())) {
            for (c, i) in &known {
                self.conditions
                    .remove(&condition_labels(namespace, name, c, i));
            }
        }
    }

    /// Records the time one SealedSecret took to unseal (`unseal_duration_seconds`).
    pub fn observe_unseal(&self, d: Duration) {
        self.unseal_duration.observe(d.as_secs_f64());
    }

    /// Records the time one request to the Kubernetes API waited for the client rate limit
    /// (`kubeclient_rate_limiter_duration_seconds`); zero when a token was there.
    pub fn observe_client_rate_limiter_wait(&self, d: Duration) {
        self.client_rate_limiter_wait.observe(d.as_secs_f64());
    }

    /// Counts `n` items opened by the key `key_id` (`items_opened_total`), whose ordering time
    /// (NotBefore) is `key_not_before`; feeds `oldest_key_in_use_age_seconds`.
    pub fn items_opened(&self, key_id: &str, n: u64, key_not_before: SystemTime) {
        self.items_opened
            .get_or_create(&KeyLabels {
                key_id: key_id.to_owned(),
            })
            .inc_by(n);
        self.keys_in_use
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key_id.to_owned(), key_not_before);
        self.update_oldest_key_age();
    }

    /// Sets the number of loaded keys (`keys`).
    pub fn set_key_count(&self, n: usize) {
        self.keys.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts one HTTP request (`http_requests_total`, `http_request_duration_seconds`).
    pub fn http_request(&self, path: &str, method: &str, code: u16, took: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                path: path.to_owned(),
                code: code.to_string(),
                method: method.to_owned(),
            })
            .inc();
        self.http_duration
            .get_or_create(&HttpDurationLabels {
                path: path.to_owned(),
                method: method.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    fn update_oldest_key_age(&self) {
        let oldest = self
            .keys_in_use
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .min()
            .copied();
        if let Some(oldest) = oldest {
            let age = SystemTime::now()
                .duration_since(oldest)
                .unwrap_or_default()
                .as_secs_f64();
            self.oldest_key_in_use.set(age);
        }
    }

    /// All metrics in the OpenMetrics text format (serve with [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        use std::sync::atomic::Ordering;
        self.update_oldest_key_age();
        // One series per SealedSecret: sized from the last rendering, a scrape allocates once
        // instead of doubling its way up (three copies at the last step).
        let last = self.last_render.load(Ordering::Relaxed);
        let mut out = String::with_capacity(last + last / 8 + 4096);
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        self.last_render.store(out.len(), Ordering::Relaxed);
        out
    }
}

/// (condition, instance label) of one `condition_info` series of an object.
type ConditionKey = (String, String);

fn condition_labels(
    namespace: &str,
    name: &str,
    condition: &str,
    instance: &str,
) -> ConditionLabels {
    ConditionLabels {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        condition: condition.to_owned(),
        ss_app_kubernetes_io_instance: instance.to_owned(),
    }
}

/// Keeps the `keys` gauge equal to the number of keys in `store`; runs until `store` is gone.
pub async fn track_key_count(metrics: std::sync::Arc<Metrics>, store: crate::keys::KeyStore) {
    let mut changes = store.changes();
    loop {
        metrics.set_key_count(store.len());
        if changes.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_upstream_names_and_labels() {
        let m = Metrics::new("abc123");
        m.unseal_request();
        m.unseal_error("unseal", "prod");
        m.set_condition("prod", "db", "Synced", "app1", -1);
        m.http_request("/v1/verify", "POST", 409, Duration::from_millis(3));
        m.observe_unseal(Duration::from_millis(20));
        m.observe_client_rate_limiter_wait(Duration::from_millis(200));
        m.items_opened(
            "SHA256:abc",
            3,
            SystemTime::now() - Duration::from_secs(100),
        );
        m.set_key_count(2);
        let text = m.render();
        for want in [
            "sealed_secrets_controller_build_info{revision=\"abc123\"} 1",
            "sealed_secrets_controller_unseal_requests_total 1",
            "sealed_secrets_controller_unseal_errors_total{reason=\"unseal\",namespace=\"prod\"} 1",
            "sealed_secrets_controller_condition_info{namespace=\"prod\",name=\"db\",condition=\"Synced\",ss_app_kubernetes_io_instance=\"app1\"} -1",
            "sealed_secrets_controller_http_requests_total{path=\"/v1/verify\",code=\"409\",method=\"POST\"} 1",
            "sealed_secrets_controller_http_request_duration_seconds_count{path=\"/v1/verify\",method=\"POST\"} 1",
            "sealed_secrets_controller_http_request_duration_seconds_bucket{le=\"0.005\",path=\"/v1/verify\",method=\"POST\"} 1",
            "sealed_secrets_controller_unseal_duration_seconds_count 1",
            "sealed_secrets_controller_kubeclient_rate_limiter_duration_seconds_count 1",
            "sealed_secrets_controller_kubeclient_rate_limiter_duration_seconds_bucket{le=\"0.25\"} 1",
            "sealed_secrets_controller_keys 2",
            "sealed_secrets_controller_items_opened_total{key_id=\"SHA256:abc\"} 3",
            "sealed_secrets_controller_oldest_key_in_use_age_seconds 10",
            "# EOF",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[tokio::test]
    async fn key_count_follows_the_store() {
        use k8s_openapi::ByteString;
        use k8s_openapi::api::core::v1::Secret;

        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/keys/");
        let read = |f: &str| ByteString(std::fs::read(format!("{dir}{f}")).expect("fixture"));
        let mut secret = Secret::default();
        secret.metadata.name = Some("k".to_owned());
        secret.metadata.namespace = Some("ns".to_owned());
        secret.data = Some(
            [
                ("tls.key".to_owned(), read("rsa2048.key")),
                ("tls.crt".to_owned(), read("rsa2048.crt")),
            ]
            .into(),
        );

        let m = std::sync::Arc::new(Metrics::new("r"));
        let store = crate::keys::KeyStore::new();
        let task = tokio::spawn(track_key_count(std::sync::Arc::clone(&m), store.clone()));
        store
            .apply_secret(&secret, crate::config::KeyOrder::CertNotBefore)
            .expect("fixture loads");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !m.render().contains("sealed_secrets_controller_keys 1") {
            assert!(std::time::Instant::now() < deadline, "{}", m.render());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        store.remove_secret("ns", "k");
        while !m.render().contains("sealed_secrets_controller_keys 0") {
            assert!(std::time::Instant::now() < deadline, "{}", m.render());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.abort();
    }

    #[test]
    fn conditions_are_dropped_on_delete() {
        let m = Metrics::new("r");
        m.set_condition("ns", "a", "Synced", "", 1);
        m.set_condition("ns", "a", "Ready", "", 1);
        m.set_condition("ns", "b", "Synced", "", 0);
        m.remove_conditions("ns", "a");
        let text = m.render();
        assert!(!text.contains("name=\"a\""), "{text}");
        assert!(text.contains("name=\"b\""), "{text}");
    }

    #[test]
    fn a_changed_instance_label_replaces_the_series() {
        let m = Metrics::new("r");
        m.set_condition("ns", "a", "Synced", "old", 1);
        m.set_condition("ns", "a", "Synced", "new", -1);
        let text = m.render();
        assert!(!text.contains("instance=\"old\""), "{text}");
        assert!(text.contains("instance=\"new\"} -1"), "{text}");
    }
}
