//! core/v1 Events on SealedSecrets, component `sealed-secrets`.
//!
//! Upstream's RBAC grants `events` create/patch in the core group only, so these are
//! `v1/Event` objects written directly, not `events.k8s.io` (which kube-runtime's `Recorder`
//! writes). Which event to emit, and when, is decided in [`crate::decide::event_for`].
//!
//! Events are sent in the background, as client-go's event broadcaster sends them: a reconcile
//! queues its event and goes on; a queue of [`QUEUE`] events drops what does not fit. The
//! controller gives the recorder a client of its own, so events spend their own request budget
//! and not the one Secret and status writes wait on.

use futures::StreamExt;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use seal_api::SealedSecret;

use crate::decide::EventSpec;

/// The event source component, as upstream.
pub const COMPONENT: &str = "sealed-secrets";

/// Reason of the Warning event on a malformed key Secret.
pub const EVENT_BAD_KEY: &str = "ErrInvalidKey";

/// Events queued and not yet sent, at most; client-go's broadcaster queues as many.
pub const QUEUE: usize = 1000;

/// Events sent at once.
const IN_FLIGHT: usize = 8;

/// Writes core/v1 Events about SealedSecrets.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    instance: String,
    queue: tokio::sync::mpsc::Sender<Event>,
}

impl Recorder {
    /// A recorder reporting as `instance` (the pod name, or the host name), sending through
    /// `client` from a task of its own (so it needs a Tokio runtime).
    pub fn new(client: Client, instance: impl Into<String>) -> Self {
        let (queue, rx) = tokio::sync::mpsc::channel::<Event>(QUEUE);
        let sender = client.clone();
        let queued = futures::stream::unfold(rx, |mut rx| async move {
            let ev = rx.recv().await?;
            Some((ev, rx))
        });
        tokio::spawn(queued.for_each_concurrent(IN_FLIGHT, move |ev| {
            let client = sender.clone();
            async move { send(&client, &ev).await }
        }));
        Self {
            client,
            instance: instance.into(),
            queue,
        }
    }

    /// The Event object for `spec` about `ss`, at `now`.
    pub fn build(&self, ss: &SealedSecret, spec: &EventSpec, now: jiff::Timestamp) -> Event {
        let name = ss.name_any();
        let nanos = now.as_nanosecond();
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{nanos:x}")),
                namespace: ss.namespace(),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("bitnami.com/v1alpha1".to_owned()),
                kind: Some("SealedSecret".to_owned()),
                name: Some(name),
                namespace: ss.namespace(),
                uid: ss.uid(),
                resource_version: ss.resource_version(),
                field_path: None,
            },
            type_: Some(if spec.warning { "Warning" } else { "Normal" }.to_owned()),
            reason: Some(spec.reason.to_owned()),
            message: Some(spec.message.clone()),
            source: Some(EventSource {
                component: Some(COMPONENT.to_owned()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            reporting_component: Some(COMPONENT.to_owned()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        }
    }

    /// Emits a Warning event on a key Secret that cannot be loaded (SPEC §7).
    pub async fn publish_bad_key(
        &self,
        secret: &k8s_openapi::api::core::v1::Secret,
        message: String,
    ) {
        let now = jiff::Timestamp::now();
        let name = secret.name_any();
        let ns = secret.namespace().unwrap_or_default();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(ns.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Secret".to_owned()),
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                uid: secret.uid(),
                resource_version: secret.resource_version(),
                field_path: None,
            },
            type_: Some("Warning".to_owned()),
            reason: Some(EVENT_BAD_KEY.to_owned()),
            message: Some(message),
            source: Some(EventSource {
                component: Some(COMPONENT.to_owned()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            reporting_component: Some(COMPONENT.to_owned()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        if let Err(error) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(namespace = %ns, name = %name, %error, "cannot record event");
        }
    }

    /// Queues the event. A failure is logged, never returned: events are best effort.
    pub fn publish(&self, ss: &SealedSecret, spec: &EventSpec) {
        let event = self.build(ss, spec, jiff::Timestamp::now());
        if self.queue.try_send(event).is_err() {
            tracing::debug!(namespace = %ss.namespace().unwrap_or_default(), name = %ss.name_any(), reason = spec.reason, "event queue full; dropping the event");
        }
    }
}

async fn send(client: &Client, event: &Event) {
    let ns = event.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), &ns);
    if let Err(error) = api.create(&PostParams::default(), event).await {
        let name = event.involved_object.name.as_deref().unwrap_or_default();
        tracing::warn!(namespace = %ns, name, reason = event.reason.as_deref().unwrap_or_default(), %error, "cannot record event");
    }
}
