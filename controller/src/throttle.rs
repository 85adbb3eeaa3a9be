//! The client-side limit on requests to the API server (`--kubeclient-qps`,
//! `--kubeclient-burst`), as client-go applies `rest.Config`'s `QPS` and `Burst`.
//!
//! A token bucket: it holds `burst` tokens, starts full and refills at `qps` per second; every
//! request takes a token before it is sent and waits (asynchronously) when there is none. A watch
//! takes one token when it starts. One bucket serves every clone of the client built with
//! [`client_with_limits`], as client-go shares one limiter per clientset. Upstream builds two
//! clientsets, core and SealedSecrets, each with the flags' limit; the controller builds a client
//! per API group the same way (and one for Events, one for the Lease), so the flags allow it what
//! they allow upstream.
//!
//! The flags mean what they mean for upstream, which copies them into its `rest.Config`
//! ([`ClientLimit::from_flags`]): a QPS of 0 falls back to client-go's defaults (5 per second,
//! burst 10 when the burst is also 0), a negative QPS turns the limit off, and a positive QPS
//! with a burst of 0 is refused at startup.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use seal_controller::throttle::{ClientLimit, client_with_limits};
//!
//! let limit = ClientLimit::from_flags(5.0, 10)?;
//! let client = client_with_limits(kube::Config::infer().await?, limit, None)?;
//! # drop(client);
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use crate::metrics::Metrics;

/// client-go's `rest.DefaultQPS`: the rate used when `--kubeclient-qps` is 0.
pub const DEFAULT_QPS: f32 = 5.0;

/// client-go's `rest.DefaultBurst`: the burst used when both flags are 0.
pub const DEFAULT_BURST: u32 = 10;

/// The longest interval between tokens (a century), so that instants never overflow: any QPS
/// below one per century is one per century.
const MAX_INTERVAL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Waits at least this long are logged (at debug level), as client-go logs long throttling.
const LONG_WAIT: Duration = Duration::from_secs(1);

/// How requests to the API server are limited.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClientLimit {
    /// Not at all (a negative or infinite QPS).
    Unlimited,
    /// By a token bucket of `burst` tokens refilled at `qps` per second.
    TokenBucket {
        /// Tokens added per second; finite and above 0.
        qps: f64,
        /// Tokens the bucket holds; at least 1.
        burst: u32,
    },
}

/// Why `--kubeclient-qps` and `--kubeclient-burst` cannot be used together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The QPS is NaN.
    #[error(
        "--kubeclient-qps is NaN: give the requests per second as a number (a negative one turns the limit off)"
    )]
    NotANumber,
    /// The QPS is positive and the burst 0; client-go refuses this too.
    #[error(
        "--kubeclient-burst is 0 while --kubeclient-qps is {qps}: give a burst of at least 1, or a negative --kubeclient-qps to turn the limit off"
    )]
    ZeroBurst {
        /// The QPS given.
        qps: f32,
    },
}

impl ClientLimit {
    /// The limit for the flag values, with client-go's rules: QPS 0 means 5 per second (and
    /// burst 0 then means 10), a negative or infinite QPS means no limit.
    ///
    /// # Errors
    ///
    /// A NaN QPS, or a positive QPS with a burst of 0 (which client-go's clientset refuses).
    pub fn from_flags(qps: f32, burst: u32) -> Result<Self, LimitError> {
        if qps.is_nan() {
            return Err(LimitError::NotANumber);
        }
        if qps < 0.0 {
            return Ok(ClientLimit::Unlimited);
        }
        let (qps, burst) = if qps == 0.0 {
            let burst = if burst == 0 { DEFAULT_BURST } else { burst };
            (DEFAULT_QPS, burst)
        } else if burst == 0 {
            return Err(LimitError::ZeroBurst { qps });
        } else {
            (qps, burst)
        };
        if qps.is_infinite() {
            return Ok(ClientLimit::Unlimited);
        }
        Ok(ClientLimit::TokenBucket {
            qps: f64::from(qps),
            burst,
        })
    }
}

impl std::fmt::Display for ClientLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientLimit::Unlimited => f.write_str("unlimited"),
            ClientLimit::TokenBucket { qps, burst } => write!(f, "{qps}/s, burst {burst}"),
        }
    }
}

/// A token bucket kept as the instant it will be full again: each token taken pushes that
/// instant one interval (1/qps) later, and a token is available while it is at most `burst - 1`
/// intervals away. Exact integer time, and checking for a token never takes one, so a waiter
/// that gives up costs nothing.
#[derive(Debug)]
struct Bucket {
    interval: Duration,
    /// `interval × (burst − 1)`: how far ahead `full_at` may be with a token still left.
    slack: Duration,
    full_at: Mutex<Instant>,
}

impl Bucket {
    fn new(qps: f64, burst: u32, now: Instant) -> Self {
        let interval = Duration::try_from_secs_f64(qps.recip())
            .unwrap_or(MAX_INTERVAL)
            .min(MAX_INTERVAL);
        Bucket {
            interval,
            slack: interval.saturating_mul(burst.saturating_sub(1)),
            full_at: Mutex::new(now),
        }
    }

    /// Zero if a token is available at `now`, else how long until one is.
    fn time_to_token(&self, now: Instant) -> Duration {
        let full_at = *self.full_at.lock().unwrap_or_else(PoisonError::into_inner);
        full_at
            .saturating_duration_since(now)
            .saturating_sub(self.slack)
    }

    /// Takes a token at `now`; without one available, the next token comes later instead.
    fn take(&self, now: Instant) {
        let mut full_at = self.full_at.lock().unwrap_or_else(PoisonError::into_inner);
        let from = (*full_at).max(now);
        *full_at = from.checked_add(self.interval).unwrap_or(from);
    }
}

/// A [`Layer`] that makes every request wait for a token of one shared bucket.
#[derive(Clone, Debug)]
pub struct ThrottleLayer {
    bucket: Option<Arc<Bucket>>,
    metrics: Option<Arc<Metrics>>,
}

impl ThrottleLayer {
    /// A layer enforcing `limit`; every service it wraps shares one bucket, which starts full.
    pub fn new(limit: ClientLimit) -> Self {
        let bucket = match limit {
            ClientLimit::Unlimited => None,
            ClientLimit::TokenBucket { qps, burst } => {
                Some(Arc::new(Bucket::new(qps, burst, Instant::now())))
            }
        };
        ThrottleLayer {
            bucket,
            metrics: None,
        }
    }

    /// Records each request's wait in `kubeclient_rate_limiter_duration_seconds`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = Throttle<S>;

    fn layer(&self, inner: S) -> Throttle<S> {
        Throttle {
            inner,
            bucket: self.bucket.clone(),
            metrics: self.metrics.clone(),
            sleep: None,
            waited: Duration::ZERO,
        }
    }
}

/// The service of [`ThrottleLayer`]: not ready until the bucket has a token; `call` takes it.
///
/// kube's `Client` drives this from one buffer task, so requests get their tokens in order; a
/// request dropped while it waits never takes one.
pub struct Throttle<S> {
    inner: S,
    bucket: Option<Arc<Bucket>>,
    metrics: Option<Arc<Metrics>>,
    /// The current wait for a token, with its start.
    sleep: Option<(Pin<Box<Sleep>>, Instant)>,
    /// Time spent waiting since the last `call`.
    waited: Duration,
}

impl<S: Clone> Clone for Throttle<S> {
    fn clone(&self) -> Self {
        Throttle {
            inner: self.inner.clone(),
            bucket: self.bucket.clone(),
            metrics: self.metrics.clone(),
            sleep: None,
            waited: Duration::ZERO,
        }
    }
}

impl<S> std::fmt::Debug for Throttle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<http::Request<B>> for Throttle<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        if let Some(bucket) = &self.bucket {
            loop {
                if let Some((sleep, started)) = &mut self.sleep {
                    ready!(sleep.as_mut().poll(cx));
                    self.waited += sleep.deadline().saturating_duration_since(*started);
                    self.sleep = None;
                }
                let now = Instant::now();
                let wait = bucket.time_to_token(now);
                if wait.is_zero() {
                    break;
                }
                let deadline = now.checked_add(wait).unwrap_or(now);
                self.sleep = Some((Box::pin(tokio::time::sleep_until(deadline)), now));
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> S::Future {
        if let Some(bucket) = &self.bucket {
            bucket.take(Instant::now());
            let waited = std::mem::take(&mut self.waited);
            if let Some(metrics) = &self.metrics {
                metrics.observe_client_rate_limiter_wait(waited);
            }
            if waited >= LONG_WAIT {
                tracing::debug!(
                    method = %req.method(),
                    path = req.uri().path(),
                    waited_ms = waited.as_millis(),
                    "waited for the client rate limit (--kubeclient-qps, --kubeclient-burst)"
                );
            }
        }
        self.inner.call(req)
    }
}

/// A client for `config` whose requests (watches included) pass `limit`, one bucket for every
/// clone; with `metrics`, waits are recorded in `kubeclient_rate_limiter_duration_seconds`.
///
/// # Errors
///
/// What [`kube::Client::try_from`] refuses: TLS, proxy or authentication settings it cannot use.
///
/// # Panics
///
/// Outside a tokio runtime (kube's client spawns its buffer task).
pub fn client_with_limits(
    config: kube::Config,
    limit: ClientLimit,
    metrics: Option<Arc<Metrics>>,
) -> kube::Result<kube::Client> {
    let mut layer = ThrottleLayer::new(limit);
    if let Some(metrics) = metrics {
        layer = layer.with_metrics(metrics);
    }
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&layer)
        .build())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use test_case::test_case;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test_case(5.0, 10 => Ok(ClientLimit::TokenBucket { qps: 5.0, burst: 10 }); "the defaults")]
    #[test_case(20.0, 1 => Ok(ClientLimit::TokenBucket { qps: 20.0, burst: 1 }); "as given")]
    #[test_case(0.5, 3 => Ok(ClientLimit::TokenBucket { qps: 0.5, burst: 3 }); "below one per second")]
    #[test_case(0.0, 0 => Ok(ClientLimit::TokenBucket { qps: 5.0, burst: 10 }); "zero means client-go's defaults")]
    #[test_case(0.0, 3 => Ok(ClientLimit::TokenBucket { qps: 5.0, burst: 3 }); "zero qps keeps a given burst")]
    #[test_case(-0.0, 0 => Ok(ClientLimit::TokenBucket { qps: 5.0, burst: 10 }); "negative zero is zero")]
    #[test_case(-1.0, 10 => Ok(ClientLimit::Unlimited); "minus one disables")]
    #[test_case(-0.5, 0 => Ok(ClientLimit::Unlimited); "any negative disables, whatever the burst")]
    #[test_case(f32::NEG_INFINITY, 0 => Ok(ClientLimit::Unlimited); "minus infinity disables")]
    #[test_case(f32::INFINITY, 1 => Ok(ClientLimit::Unlimited); "infinity is no limit")]
    #[test_case(5.0, 0 => Err(LimitError::ZeroBurst { qps: 5.0 }); "positive qps needs a burst")]
    #[test_case(f32::INFINITY, 0 => Err(LimitError::ZeroBurst { qps: f32::INFINITY }); "even an infinite one")]
    #[test_case(f32::NAN, 10 => Err(LimitError::NotANumber); "nan")]
    fn flags_follow_client_go(qps: f32, burst: u32) -> Result<ClientLimit, LimitError> {
        ClientLimit::from_flags(qps, burst)
    }

    #[test]
    fn flag_errors_name_the_flags_and_the_way_out() {
        let msg = LimitError::ZeroBurst { qps: 5.0 }.to_string();
        assert!(msg.contains("--kubeclient-burst is 0"), "{msg}");
        assert!(msg.contains("negative --kubeclient-qps"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    /// The instants at which `n` back-to-back requests get their tokens, from `t0`.
    fn schedule(bucket: &Bucket, t0: Instant, n: usize) -> Vec<Duration> {
        let mut now = t0;
        (0..n)
            .map(|_| {
                now += bucket.time_to_token(now);
                bucket.take(now);
                now - t0
            })
            .collect()
    }

    #[test]
    fn a_full_burst_passes_at_once_and_the_next_waits_one_interval() {
        let t0 = Instant::now();
        let bucket = Bucket::new(5.0, 10, t0);
        for _ in 0..10 {
            assert_eq!(bucket.time_to_token(t0), Duration::ZERO);
            bucket.take(t0);
        }
        assert_eq!(bucket.time_to_token(t0), ms(200));
        assert_eq!(bucket.time_to_token(t0 + ms(150)), ms(50));
        assert_eq!(bucket.time_to_token(t0 + ms(200)), Duration::ZERO);
    }

    #[test]
    fn back_to_back_requests_go_out_at_qps_after_the_burst() {
        let t0 = Instant::now();
        let bucket = Bucket::new(5.0, 2, t0);
        let got = schedule(&bucket, t0, 6);
        let want = [0, 0, 200, 400, 600, 800].map(ms);
        assert_eq!(got, want);
    }

    #[test]
    fn an_idle_bucket_refills_to_burst_and_no_further() {
        let t0 = Instant::now();
        let bucket = Bucket::new(20.0, 3, t0);
        schedule(&bucket, t0, 3);
        // One interval later one token is back; an hour later only `burst` are.
        assert_eq!(bucket.time_to_token(t0 + ms(50)), Duration::ZERO);
        let later = t0 + Duration::from_secs(3600);
        let got = schedule(&bucket, later, 5);
        assert_eq!(got, [0, 0, 0, 50, 100].map(ms));
    }

    #[test]
    fn looking_for_a_token_does_not_take_one() {
        let t0 = Instant::now();
        let bucket = Bucket::new(10.0, 1, t0);
        bucket.take(t0);
        for _ in 0..100 {
            assert_eq!(bucket.time_to_token(t0 + ms(30)), ms(70));
        }
        assert_eq!(bucket.time_to_token(t0 + ms(100)), Duration::ZERO);
    }

    #[test]
    fn a_token_taken_without_waiting_delays_the_next() {
        let t0 = Instant::now();
        let bucket = Bucket::new(10.0, 1, t0);
        bucket.take(t0);
        bucket.take(t0);
        assert_eq!(bucket.time_to_token(t0), ms(200));
    }

    #[test]
    fn fractional_rates_stay_exact_over_many_tokens() {
        let t0 = Instant::now();
        let bucket = Bucket::new(3.0, 1, t0);
        let got = schedule(&bucket, t0, 301);
        // 1/3 s to the nanosecond: 300 intervals are 100 s minus 100 ns.
        assert_eq!(
            got[300],
            Duration::from_secs(100) - Duration::from_nanos(100)
        );
    }

    #[test]
    fn absurd_rates_do_not_panic() {
        let t0 = Instant::now();
        let slow = Bucket::new(1e-30, u32::MAX, t0);
        slow.take(t0);
        assert_eq!(slow.time_to_token(t0), Duration::ZERO);
        let slow = Bucket::new(1e-30, 1, t0);
        slow.take(t0);
        slow.take(t0);
        assert!(slow.time_to_token(t0) > Duration::from_secs(1_000_000_000));
        let fast = Bucket::new(1e30, 1, t0);
        assert_eq!(schedule(&fast, t0, 3), [Duration::ZERO; 3]);
    }

    /// A kube client over an in-memory API answering `{}` to everything, counting requests.
    fn fake_client(layer: &ThrottleLayer) -> (kube::Client, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let svc = tower::service_fn(move |_req: http::Request<kube::client::Body>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                Ok::<_, std::convert::Infallible>(http::Response::new(kube::client::Body::from(
                    b"{}".to_vec(),
                )))
            }
        });
        let client = kube::client::ClientBuilder::new(svc, "default")
            .with_layer(layer)
            .build();
        (client, calls)
    }

    async fn get(client: &kube::Client) {
        let req = http::Request::get("/version")
            .body(Vec::new())
            .expect("a valid request");
        client
            .request_text(req)
            .await
            .expect("the fake answers everything");
    }

    #[tokio::test]
    async fn a_kube_client_is_throttled_after_its_burst() {
        // 20/s with burst 2: 6 requests need at least 4 intervals of 50 ms. Only a lower bound
        // is asserted; a loaded machine can only make this slower.
        let limit = ClientLimit::from_flags(20.0, 2).expect("valid flags");
        let metrics = Arc::new(Metrics::new("test"));
        let layer = ThrottleLayer::new(limit).with_metrics(metrics.clone());
        let (client, calls) = fake_client(&layer);
        let start = std::time::Instant::now();
        futures::future::join_all((0..6).map(|_| get(&client))).await;
        assert!(start.elapsed() >= ms(200), "{:?}", start.elapsed());
        assert_eq!(calls.load(Ordering::SeqCst), 6);
        let text = metrics.render();
        assert!(
            text.contains(
                "sealed_secrets_controller_kubeclient_rate_limiter_duration_seconds_count 6"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_request_dropped_while_waiting_is_not_sent_and_takes_no_token() {
        // 2/s with burst 1: after the first request the bucket is empty for 500 ms.
        let limit = ClientLimit::from_flags(2.0, 1).expect("valid flags");
        let metrics = Arc::new(Metrics::new("test"));
        let layer = ThrottleLayer::new(limit).with_metrics(metrics.clone());
        let (client, calls) = fake_client(&layer);
        let start = std::time::Instant::now();
        get(&client).await;
        let gave_up = tokio::time::timeout(ms(50), get(&client)).await;
        assert!(gave_up.is_err(), "sent after {:?}", start.elapsed());
        get(&client).await;
        assert!(start.elapsed() >= ms(500), "{:?}", start.elapsed());
        // Each call takes one token and observes one wait: two, not three.
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let text = metrics.render();
        assert!(
            text.contains(
                "sealed_secrets_controller_kubeclient_rate_limiter_duration_seconds_count 2"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn an_unlimited_layer_has_no_bucket() {
        let layer = ThrottleLayer::new(ClientLimit::from_flags(-1.0, 0).expect("valid flags"));
        assert!(layer.bucket.is_none());
        let (client, calls) = fake_client(&layer);
        futures::future::join_all((0..50).map(|_| get(&client))).await;
        assert_eq!(calls.load(Ordering::SeqCst), 50);
    }

    #[tokio::test]
    async fn requests_to_the_api_double_are_throttled() {
        let api = kube_double::ApiDouble::start().await;
        let limit = ClientLimit::from_flags(20.0, 1).expect("valid flags");
        let client = client_with_limits(api.config(), limit, None).expect("a plain-HTTP config");
        let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
            kube::Api::namespaced(client, "default");
        api.clear_requests();
        let start = std::time::Instant::now();
        for _ in 0..6 {
            secrets
                .list(&kube::api::ListParams::default())
                .await
                .expect("the double lists Secrets");
        }
        // Burst 1 at 20/s: five intervals of 50 ms at least.
        assert!(start.elapsed() >= ms(250), "{:?}", start.elapsed());
        assert_eq!(api.requests().len(), 6);
    }
}
