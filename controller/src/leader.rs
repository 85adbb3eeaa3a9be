//! `--leader-elect`: a `coordination.k8s.io/v1` Lease named `sealed-secrets-controller` in the
//! controller namespace decides which replica reconciles and renews keys. Every replica serves
//! HTTP.
//!
//! Like client-go: every `retry` (2 s) the replica tries to acquire or renew with a
//! resourceVersion-guarded create/replace; the leader steps down when it could not renew for
//! `renew_deadline` (10 s); another replica takes over once it has seen the same
//! `renewTime` unchanged for `lease_duration` (15 s) by its own clock (no clock-skew trust).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::LeaderFlag;

/// The Lease's name.
pub const LEASE_NAME: &str = "sealed-secrets-controller";

/// Lease timings.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long a lease is valid after its last renewal.
    pub lease_duration: Duration,
    /// The leader gives up after failing to renew for this long.
    pub renew_deadline: Duration,
    /// Interval between attempts.
    pub retry: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry: Duration::from_secs(2),
        }
    }
}

/// A flag that is always true: no election (`--leader-elect=false`).
pub fn always_leader() -> (watch::Sender<bool>, LeaderFlag) {
    watch::channel(true)
}

/// This replica's identity: the pod (host) name plus a per-process suffix.
pub fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "seal-controller".to_owned());
    let nanos = jiff::Timestamp::now().as_nanosecond();
    format!(
        "{host}_{:x}",
        (nanos as u64) ^ u64::from(std::process::id())
    )
}

fn micro_now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

/// What one attempt concluded.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Leading,
    Following,
    Failed,
}

struct Elector {
    api: Api<Lease>,
    identity: String,
    timing: Timing,
    /// (holder, renewTime) last seen on someone else's lease, and when we first saw it.
    observed: Option<(Option<String>, Option<MicroTime>, Instant)>,
}

impl Elector {
    async fn attempt(&mut self) -> Attempt {
        let lease = match self.api.get_opt(LEASE_NAME).await {
            Ok(l) => l,
            Err(error) => {
                tracing::warn!(%error, "cannot read the leader Lease");
                return Attempt::Failed;
            }
        };
        let secs = i32::try_from(self.timing.lease_duration.as_secs()).unwrap_or(15);
        let Some(mut lease) = lease else {
            let now = micro_now();
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(LEASE_NAME.to_owned()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Attempt::Leading,
                Err(error) => {
                    tracing::debug!(%error, "cannot create the leader Lease");
                    Attempt::Failed
                }
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        if holder.as_deref() == Some(self.identity.as_str()) {
            spec.renew_time = Some(micro_now());
            spec.lease_duration_seconds = Some(secs);
            return match self
                .api
                .replace(LEASE_NAME, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => Attempt::Leading,
                Err(error) => {
                    tracing::debug!(%error, "cannot renew the leader Lease");
                    Attempt::Failed
                }
            };
        }
        // Someone else's (or a released) lease: take over once it has not moved for its
        // duration, by our clock.
        let seen = (holder.clone(), spec.renew_time.clone());
        let expired = match &self.observed {
            _ if holder.is_none() => true,
            Some((h, r, at)) if (h, r) == (&seen.0, &seen.1) => {
                let dur = spec
                    .lease_duration_seconds
                    .and_then(|s| u64::try_from(s).ok())
                    .map_or(self.timing.lease_duration, Duration::from_secs);
                at.elapsed() >= dur
            }
            _ => {
                self.observed = Some((seen.0, seen.1, Instant::now()));
                false
            }
        };
        if !expired {
            return Attempt::Following;
        }
        let now = micro_now();
        spec.holder_identity = Some(self.identity.clone());
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(secs);
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        match self
            .api
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                tracing::info!(previous = ?holder, "took over the expired leader Lease");
                Attempt::Leading
            }
            Err(error) => {
                tracing::debug!(%error, "lost the race for the leader Lease");
                Attempt::Following
            }
        }
    }

    /// Gives the lease up so another replica need not wait for it to expire.
    async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(LEASE_NAME).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(micro_now());
        if let Err(error) = self
            .api
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            tracing::debug!(%error, "cannot release the leader Lease");
        }
    }
}

/// Runs the election until `shutdown` resolves, publishing leadership on `tx`; releases the
/// lease on the way out.
pub async fn run(
    client: Client,
    namespace: String,
    identity: String,
    timing: Timing,
    tx: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut elector = Elector {
        api: Api::namespaced(client, &namespace),
        identity,
        timing,
        observed: None,
    };
    tracing::info!(identity = %elector.identity, %namespace, lease = LEASE_NAME, "leader election started");
    tokio::pin!(shutdown);
    let mut last_renew: Option<Instant> = None;
    loop {
        // An attempt must not outlive the renew deadline: a leader whose API calls hang (a
        // partition, a stuck connection) would otherwise keep reconciling long after another
        // replica took the Lease over. Timing out counts as a failed attempt.
        let budget = last_renew.map_or(elector.timing.renew_deadline, |t| {
            elector.timing.renew_deadline.saturating_sub(t.elapsed())
        });
        let attempt = tokio::time::timeout(budget, elector.attempt())
            .await
            .unwrap_or_else(|_| {
                tracing::warn!(?budget, "leader Lease request timed out");
                Attempt::Failed
            });
        let leading = match attempt {
            Attempt::Leading => {
                last_renew = Some(Instant::now());
                true
            }
            Attempt::Following => {
                last_renew = None;
                false
            }
            Attempt::Failed => {
                last_renew.is_some_and(|t| t.elapsed() < elector.timing.renew_deadline)
            }
        };
        if !leading {
            last_renew = None;
        }
        if *tx.borrow() != leading {
            tracing::info!(leading, "leadership changed");
            tx.send_replace(leading);
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(elector.timing.retry) => {}
        }
    }
    tx.send_replace(false);
    elector.release().await;
}
