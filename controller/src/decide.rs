//! Pure decisions of the reconcile loop: no `Client`, no clock, no I/O.
//!
//! - [`plan_write`]: what to do with the existing Secret (SPEC §6 ownership table).
//! - [`Digest`], [`DigestKey`], [`spec_mac`], [`content_mac`]: the keyed digest that lets a
//!   synced object skip decryption and that detects drift (SPEC §8).
//! - [`next_status`]: the status conditions to write, or `None` when nothing changed.
//! - [`event_for`]: the event to emit, only on change.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use seal_api::crypto::PrivateKey;
use seal_api::{
    ANNOTATION_DIGEST, ANNOTATION_MANAGED, ANNOTATION_PATCH, Scope, SealedSecret,
    SealedSecretCondition, SealedSecretSpec, SealedSecretStatus, UnsealFailure,
};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The type the API server gives a Secret without one.
pub const DEFAULT_SECRET_TYPE: &str = "Opaque";

/// Condition read by Argo CD; always at index 0.
pub const SYNCED: &str = "Synced";
/// kstatus' readiness condition, mirroring `Synced`.
pub const READY: &str = "Ready";
/// Present (True) only while a retry is pending.
pub const RECONCILING: &str = "Reconciling";
/// Present (True) only when the controller gave up until the spec, the Secret or the keys change.
pub const STALLED: &str = "Stalled";
/// Our record of the Secret last written or verified ([`Digest`] in the message). Upstream's
/// CRD keeps it (standard condition fields only); kstatus, Argo CD and Flux ignore the type.
pub const UNSEALED: &str = "seal.dev/Unsealed";
/// The reason of the [`UNSEALED`] condition.
pub const UNSEALED_REASON: &str = "SecretDigest";

/// Event reason: the Secret was written or `Synced` turned True.
pub const EVENT_UNSEALED: &str = "Unsealed";
/// Event reason: the SealedSecret could not be unsealed.
pub const EVENT_UNSEAL_FAILED: &str = "ErrUnsealFailed";
/// Event reason: the Secret could not be written.
pub const EVENT_UPDATE_FAILED: &str = "ErrUpdateFailed";
/// Message of the `Unsealed` event.
pub const MESSAGE_UNSEALED: &str = "SealedSecret unsealed successfully";

/// Why `Ready` is what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadyReason {
    /// The Secret is in place.
    Unsealed,
    /// No key opened the items, or a template failed.
    UnsealFailed,
    /// A Secret of that name exists and is neither ours, `managed` nor `patch`.
    SecretConflict,
    /// The existing Secret is immutable and its data differs.
    ImmutableSecret,
    /// The API refused or failed the write.
    UpdateFailed,
}

impl ReadyReason {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadyReason::Unsealed => "Unsealed",
            ReadyReason::UnsealFailed => "UnsealFailed",
            ReadyReason::SecretConflict => "SecretConflict",
            ReadyReason::ImmutableSecret => "ImmutableSecret",
            ReadyReason::UpdateFailed => "UpdateFailed",
        }
    }
    /// The `unseal_errors_total` reason label.
    pub fn metric_label(self) -> &'static str {
        match self {
            ReadyReason::Unsealed => "",
            ReadyReason::UnsealFailed => "unseal",
            ReadyReason::SecretConflict => "unmanaged",
            ReadyReason::ImmutableSecret | ReadyReason::UpdateFailed => "update",
        }
    }
}

/// A failed reconcile, worded for status and events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// `Ready`'s reason.
    pub reason: ReadyReason,
    /// `Synced`'s message, upstream's text.
    pub synced_message: String,
    /// `Ready`'s message: upstream's text plus, for unseal failures, the likely mistake.
    pub ready_message: String,
    /// The event message.
    pub event_message: String,
    /// When no retry will follow: what the controller waits for (`Stalled`'s message); `None`
    /// while a retry is pending.
    pub stalled: Option<&'static str>,
}

impl Failure {
    /// Nothing opened (or a template failed). `hint` is [`scope_hint`]'s output, if any.
    pub fn unseal(message: &str, hint: Option<String>) -> Self {
        let with_hint = match &hint {
            Some(h) => format!("{message}; {h}"),
            None => message.to_owned(),
        };
        Failure {
            reason: ReadyReason::UnsealFailed,
            synced_message: message.to_owned(),
            ready_message: with_hint.clone(),
            event_message: format!("Failed to unseal: {with_hint}"),
            stalled: None,
        }
    }
    /// A Secret of that name is not ours to write.
    pub fn conflict(name: &str) -> Self {
        let msg = unmanaged_message(name);
        Failure {
            reason: ReadyReason::SecretConflict,
            synced_message: format!("failed update: {msg}"),
            ready_message: msg.clone(),
            event_message: msg,
            stalled: None,
        }
    }
    /// The existing Secret is immutable and would need a data change.
    pub fn immutable(namespace: &str, name: &str) -> Self {
        let msg = immutable_message(namespace, name);
        Failure {
            reason: ReadyReason::ImmutableSecret,
            synced_message: msg.clone(),
            ready_message: msg.clone(),
            event_message: msg,
            stalled: Some("waiting for the Secret to be deleted"),
        }
    }
    /// The API failed the write; retried.
    pub fn update(message: &str) -> Self {
        Failure {
            reason: ReadyReason::UpdateFailed,
            synced_message: message.to_owned(),
            ready_message: message.to_owned(),
            event_message: message.to_owned(),
            stalled: None,
        }
    }
    /// The SealedSecret passes the CRD schema but is not one we can read (for example non-string
    /// labels under `spec.template.metadata`); nothing is retried until the spec changes.
    pub fn invalid(detail: &str) -> Self {
        let msg = format!("invalid SealedSecret: {detail}");
        Failure {
            reason: ReadyReason::UnsealFailed,
            synced_message: msg.clone(),
            ready_message: msg.clone(),
            event_message: format!("Failed to unseal: {msg}"),
            stalled: Some("waiting for a spec change"),
        }
    }
    /// The API server refused the write for good (400 Bad Request, 422 Invalid: e.g. a template
    /// label that is not a valid label value); retried only when the spec changes.
    pub fn refused(message: &str) -> Self {
        Failure {
            stalled: Some("the API server refuses this Secret; waiting for a spec change"),
            ..Failure::update(message)
        }
    }
    /// The same failure, marked as given up after its retries.
    pub fn stalled(mut self) -> Self {
        self.stalled = Some(match self.reason {
            ReadyReason::SecretConflict => {
                "retries exhausted; waiting for the Secret to be deleted or annotated sealedsecrets.bitnami.com/managed: \"true\""
            }
            _ => "retries exhausted; waiting for a spec or key change",
        });
        self
    }
    /// The event type, reason and message.
    pub fn event(&self) -> EventSpec {
        EventSpec {
            warning: true,
            reason: match self.reason {
                ReadyReason::UnsealFailed => EVENT_UNSEAL_FAILED,
                _ => EVENT_UPDATE_FAILED,
            },
            message: self.event_message.clone(),
        }
    }
}

/// Upstream's text for a Secret the controller may not touch.
pub fn unmanaged_message(name: &str) -> String {
    format!("Resource {name:?} already exists and is not managed by SealedSecret")
}

/// Upstream's text for an immutable target Secret.
pub fn immutable_message(namespace: &str, name: &str) -> String {
    format!(
        "Error updating {namespace}/{name}: the target Secret is immutable. Once a Secret is marked as immutable, it is not possible to revert this change nor to mutate the contents of the data field. You can only delete and recreate the Secret."
    )
}

/// Stands in for an error detail that may quote decrypted data.
pub const WITHHELD: &str = "(details withheld: they may quote decrypted data)";

/// What seal-api says when a sealed v1 `data` blob opens but is not a Secret.
const V1_NOT_A_SECRET: &str = "sealed v1 data is not a Secret";

/// The message of a failed unseal as status, events, logs and `/v1/verify` may show it.
///
/// Two details can quote plaintext, and are withheld:
/// - a template *execution* error, `template: <name>:<line>:<col>: executing "<name>" at
///   <<node>>: <detail>`, whose detail can be a rendered value (`{{ fail .password }}` makes
///   the password the error); the position and node (template source) stay;
/// - a v1 `data` blob that opens but is not a Secret: the JSON parser's error quotes what it
///   read (`invalid type: string "…"`), and any item's ciphertext can be passed off as such a
///   blob under the same scope.
///
/// Key, scope and template parse errors name only items and template source and are kept.
pub fn unseal_error_message(err: &seal_api::Error) -> String {
    match err {
        seal_api::Error::Unseal(f) => redacted_failure(f).message(),
        seal_api::Error::Template(msg) => redact_template_error(msg),
        other => other.to_string(),
    }
}

/// `failure` with item messages that may quote plaintext cut short (see
/// [`unseal_error_message`]).
pub fn redacted_failure(failure: &UnsealFailure) -> UnsealFailure {
    let mut f = failure.clone();
    for msg in f.items.values_mut() {
        if msg.starts_with(V1_NOT_A_SECRET) {
            *msg = format!("{V1_NOT_A_SECRET}: {WITHHELD}");
        }
    }
    f
}

fn redact_template_error(msg: &str) -> String {
    let Some(at) = msg.find(": executing \"") else {
        return msg.to_owned();
    };
    // Keep `… at <node>`; the node is template source. Without one, keep only the position.
    let cut = msg[at..].find(">: ").map_or(at, |i| at + i + 1);
    format!("{}: {WITHHELD}", &msg[..cut])
}

/// Names the likely mistake when nothing opened under the declared scope but something opens
/// under `likely`.
pub fn scope_hint(ss: &SealedSecret, failure: &UnsealFailure) -> Option<String> {
    let likely = failure.likely_scope?;
    let declared = Scope::from_annotations(ss.metadata.annotations.as_ref());
    Some(format!(
        "likely mistake: the values were sealed with --scope {likely} but the SealedSecret declares scope {declared}; fix the scope annotation or reseal"
    ))
}

/// What the reconcile ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The Secret is in place.
    Synced,
    /// It is not.
    Failed(Failure),
}

/// An event to emit on the SealedSecret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// `Warning` rather than `Normal`.
    pub warning: bool,
    /// `Unsealed`, `ErrUnsealFailed`, `ErrUpdateFailed`.
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

fn condition<'a>(
    status: Option<&'a SealedSecretStatus>,
    type_: &str,
) -> Option<&'a SealedSecretCondition> {
    status.and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
}

/// The event to emit, if any: on Secret create or change, when `Synced` turns True, and when a
/// failure starts or its message changes. Never on a resync that changes nothing.
pub fn event_for(
    prev: Option<&SealedSecretStatus>,
    outcome: &Outcome,
    secret_written: bool,
) -> Option<EventSpec> {
    let synced = condition(prev, SYNCED);
    match outcome {
        Outcome::Synced => {
            let was_true = synced.is_some_and(|c| c.status == "True");
            (secret_written || !was_true).then(|| EventSpec {
                warning: false,
                reason: EVENT_UNSEALED,
                message: MESSAGE_UNSEALED.to_owned(),
            })
        }
        Outcome::Failed(f) => {
            let same = synced.is_some_and(|c| {
                c.status == "False" && c.message.as_deref() == Some(f.synced_message.as_str())
            }) && condition(prev, READY)
                .is_none_or(|c| c.message.as_deref() == Some(f.ready_message.as_str()));
            (!same).then(|| f.event())
        }
    }
}

fn cond(
    type_: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<String>,
) -> SealedSecretCondition {
    SealedSecretCondition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        last_update_time: None,
        last_transition_time: None,
        reason: reason.map(str::to_owned),
        message,
    }
}

/// The status after `outcome`, or `None` when nothing but timestamps would change.
///
/// `Synced` stays at index 0 in upstream's shape (message only when False, no reason); `Ready`
/// mirrors it with a reason; `Reconciling` and `Stalled` appear only while True; then
/// [`UNSEALED`] with `digest` (the record of the Secret as written or verified), or the previous
/// one when `digest` is `None`; conditions of other types are kept after ours.
/// `lastTransitionTime` moves only when a status flips; `lastUpdateTime` moves on every change
/// of that condition and, as upstream's, on every new generation.
pub fn next_status(
    prev: Option<&SealedSecretStatus>,
    generation: Option<i64>,
    outcome: &Outcome,
    digest: Option<&Digest>,
    now: &Time,
) -> Option<SealedSecretStatus> {
    let mut wanted = Vec::with_capacity(4);
    match outcome {
        Outcome::Synced => {
            wanted.push(cond(SYNCED, true, None, None));
            wanted.push(cond(
                READY,
                true,
                Some(ReadyReason::Unsealed.as_str()),
                None,
            ));
        }
        Outcome::Failed(f) => {
            wanted.push(cond(SYNCED, false, None, Some(f.synced_message.clone())));
            wanted.push(cond(
                READY,
                false,
                Some(f.reason.as_str()),
                Some(f.ready_message.clone()),
            ));
            if let Some(waiting) = f.stalled {
                wanted.push(cond(
                    STALLED,
                    true,
                    Some(f.reason.as_str()),
                    Some(waiting.to_owned()),
                ));
            } else {
                wanted.push(cond(
                    RECONCILING,
                    true,
                    Some("RetryingAfterError"),
                    Some(f.ready_message.clone()),
                ));
            }
        }
    }
    if let Some(d) = digest {
        wanted.push(cond(
            UNSEALED,
            true,
            Some(UNSEALED_REASON),
            Some(d.to_message()),
        ));
    }
    let mut ours = vec![SYNCED, READY, RECONCILING, STALLED];
    if digest.is_some() {
        ours.push(UNSEALED);
    }
    let new_generation = prev.and_then(|p| p.observed_generation) != generation;
    let mut changed = new_generation;
    let mut conditions = Vec::with_capacity(wanted.len() + 1);
    for mut c in wanted {
        let old = condition(prev, &c.type_);
        let same = old.is_some_and(|o| {
            o.status == c.status && o.reason == c.reason && o.message == c.message
        });
        match old {
            Some(o) if same && new_generation => {
                c = o.clone();
                c.last_update_time = Some(now.clone());
            }
            Some(o) if same => c = o.clone(),
            Some(o) if o.status == c.status => {
                changed = true;
                c.last_update_time = Some(now.clone());
                c.last_transition_time = o.last_transition_time.clone();
            }
            _ => {
                changed = true;
                c.last_update_time = Some(now.clone());
                c.last_transition_time = Some(now.clone());
            }
        }
        conditions.push(c);
    }
    // A Reconciling/Stalled that is no longer wanted disappears.
    for old in prev.map(|p| p.conditions.as_slice()).unwrap_or_default() {
        if ours.contains(&old.type_.as_str()) {
            if !conditions.iter().any(|c| c.type_ == old.type_) {
                changed = true;
            }
        } else {
            conditions.push(old.clone());
        }
    }
    // Order matters too: Synced must be first.
    if prev
        .and_then(|p| p.conditions.first())
        .is_some_and(|c| c.type_ != SYNCED)
    {
        changed = true;
    }
    changed.then_some(SealedSecretStatus {
        observed_generation: generation,
        conditions,
    })
}

/// Whether an API error is permanent for this spec: 400 Bad Request or 422 Invalid (the request
/// itself is wrong; sending it again cannot succeed). Everything else (409, 429, 5xx, 403,
/// timeouts) may pass on retry.
pub fn is_permanent(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 400 || s.code == 422)
}

/// `Synced`'s status (`True`, `False`, …) when `status` describes `generation` (the object's
/// current one); `None` for a new object, or one whose status is of an older spec.
fn synced_at(status: Option<&SealedSecretStatus>, generation: Option<i64>) -> Option<&str> {
    let status = status.filter(|s| s.observed_generation == generation)?;
    let first = status.conditions.first().filter(|c| c.type_ == SYNCED)?;
    Some(first.status.as_str())
}

/// True when `status` says `Synced` True for `generation` (the object's current one).
pub fn synced_at_generation(status: Option<&SealedSecretStatus>, generation: Option<i64>) -> bool {
    synced_at(status, generation) == Some("True")
}

/// True when `status` says `Synced` False for `generation`: the object was tried at its current
/// spec and failed. A new object, or one whose first reconcile is still running, has no such
/// status.
pub fn failed_at_generation(status: Option<&SealedSecretStatus>, generation: Option<i64>) -> bool {
    synced_at(status, generation) == Some("False")
}

/// How long a name freed by the deletion of a Secret that is not the SealedSecret's (foreign,
/// or one it only patches) stays with whoever deleted it before the SealedSecret creates its
/// own Secret there: one retry interval. A tool that deletes and recreates its Secret
/// (`kubectl replace --force`, `helm upgrade --force`, an operator) gets its name back.
pub const FREED_NAME_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// What is left of `grace` ([`FREED_NAME_GRACE`]) at `now` for a name freed at `freed_at`;
/// `None` once it is over.
pub fn freed_grace_left(
    grace: std::time::Duration,
    freed_at: std::time::Instant,
    now: std::time::Instant,
) -> Option<std::time::Duration> {
    grace
        .checked_sub(now.saturating_duration_since(freed_at))
        .filter(|d| !d.is_zero())
}

// ---------------------------------------------------------------------------------------------
// Ownership and the write plan

/// How the existing Secret relates to the SealedSecret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Controlled by this SealedSecret (owner reference with its uid and `controller: true`).
    Owned,
    /// Annotated `managed: "true"` (and not `patch`).
    Managed,
    /// Annotated `patch: "true"`; `managed` says whether owner references are replaced too.
    Patch {
        /// Also `managed` (or owned).
        managed: bool,
    },
    /// None of these: hands off.
    Unmanaged,
}

fn annotated(meta: &ObjectMeta, key: &str) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .is_some_and(|v| v == "true")
}

/// True when `meta` has a controller owner reference with this uid.
pub fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    !uid.is_empty()
        && meta
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.uid == uid && r.controller == Some(true))
}

/// Whether some SealedSecret controls the Secret (an owner reference of kind `SealedSecret` in
/// `bitnami.com` with `controller: true`), whichever it is.
pub fn is_controlled_by_a_sealed_secret(meta: &ObjectMeta) -> bool {
    meta.owner_references.as_ref().is_some_and(|refs| {
        refs.iter().any(|r| {
            r.controller == Some(true)
                && r.kind == "SealedSecret"
                && r.api_version.starts_with("bitnami.com/")
        })
    })
}

/// Upstream's ownership rules over the existing Secret's own metadata.
pub fn ownership(existing: &ObjectMeta, ss_uid: &str) -> Ownership {
    ownership_from(
        is_controlled_by(existing, ss_uid),
        annotated(existing, ANNOTATION_MANAGED),
        annotated(existing, ANNOTATION_PATCH),
    )
}

fn ownership_from(owned: bool, managed: bool, patch: bool) -> Ownership {
    if patch {
        Ownership::Patch { managed }
    } else if owned {
        Ownership::Owned
    } else if managed {
        Ownership::Managed
    } else {
        Ownership::Unmanaged
    }
}

/// What the metadata-only Secret watch keeps of a Secret that a SealedSecret may write: one with
/// a SealedSecret controller reference, or annotated `managed` or `patch`. Enough to decide
/// ownership and to tell whether it is still the Secret we wrote, without fetching it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretFacts {
    /// Its resourceVersion.
    pub resource_version: String,
    /// The uid of its controller owner reference, if any.
    pub controller_uid: Option<String>,
    /// Annotated `managed: "true"`.
    pub managed: bool,
    /// Annotated `patch: "true"`.
    pub patch: bool,
}

impl SecretFacts {
    /// The facts of a Secret a SealedSecret may write; `None` for any other Secret (which is
    /// [`Ownership::Unmanaged`] for every SealedSecret).
    pub fn of(meta: &ObjectMeta) -> Option<SecretFacts> {
        let controller = meta
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true));
        let managed = annotated(meta, ANNOTATION_MANAGED);
        let patch = annotated(meta, ANNOTATION_PATCH);
        let by_sealed = controller.is_some_and(|r| r.kind == "SealedSecret");
        (by_sealed || managed || patch).then(|| SecretFacts {
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            controller_uid: controller.map(|r| r.uid.clone()),
            managed,
            patch,
        })
    }

    /// [`ownership`] from these facts.
    pub fn ownership(&self, ss_uid: &str) -> Ownership {
        let owned = !ss_uid.is_empty() && self.controller_uid.as_deref() == Some(ss_uid);
        ownership_from(owned, self.managed, self.patch)
    }
}

/// What to do with the Secret.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Create it.
    Create(Secret),
    /// Replace it (PUT, guarded by the existing resourceVersion).
    Replace(Secret),
    /// It already is as wanted.
    Unchanged,
    /// Not ours: no write.
    Conflict(Failure),
    /// Immutable and its data would change: no write.
    Immutable(Failure),
}

/// The Secret as the API server stores it when `desired` is written whole: an empty type is
/// `Opaque`. For an owned or `managed` Secret that is mutable, [`plan_write`] writes exactly this,
/// so its [`content_mac`] tells whether an existing Secret already holds it.
pub fn as_stored(mut desired: Secret) -> Secret {
    if desired.type_.as_deref().is_none_or(str::is_empty) {
        desired.type_ = Some(DEFAULT_SECRET_TYPE.to_owned());
    }
    desired.string_data = None;
    desired.metadata.resource_version = None;
    desired
}

/// Merges `desired` into `existing` per SPEC §6 and decides the write.
///
/// The digest annotation of earlier releases (`seal.dev/unsealed-digest`) is not compared: a
/// Secret that carries it is left as it is until it is written for another reason, and the
/// write drops it.
pub fn plan_write(existing: Option<&Secret>, desired: Secret, ss_uid: &str) -> Plan {
    // The API server defaults an empty type to Opaque; compare what it stores.
    let mut desired = as_stored(desired);
    let Some(existing) = existing else {
        return Plan::Create(desired);
    };
    let namespace = existing.metadata.namespace.clone().unwrap_or_default();
    let name = existing.metadata.name.clone().unwrap_or_default();
    let mut merged = existing.clone();
    match ownership(&existing.metadata, ss_uid) {
        Ownership::Unmanaged => return Plan::Conflict(Failure::conflict(&name)),
        Ownership::Owned | Ownership::Managed => {
            merged.data = desired.data.take();
            merged.metadata.labels = desired.metadata.labels.take();
            merged.metadata.annotations = desired.metadata.annotations.take();
            merged.metadata.owner_references = desired.metadata.owner_references.take();
        }
        Ownership::Patch { managed } => {
            let data = merged.data.get_or_insert_with(BTreeMap::new);
            data.extend(desired.data.take().into_iter().flatten());
            let labels = merged.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(desired.metadata.labels.take().into_iter().flatten());
            let ann = merged
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new);
            ann.extend(desired.metadata.annotations.take().into_iter().flatten());
            if managed {
                merged.metadata.owner_references = desired.metadata.owner_references.take();
            }
        }
    }
    merged.type_ = desired.type_.take();
    merged.string_data = None;
    // `immutable` can go false → true, never back.
    if existing.immutable != Some(true) && desired.immutable == Some(true) {
        merged.immutable = Some(true);
    }
    if normalized(&merged) == normalized(existing) {
        return Plan::Unchanged;
    }
    if existing.immutable == Some(true) && nonempty(&merged.data) != nonempty(&existing.data) {
        return Plan::Immutable(Failure::immutable(&namespace, &name));
    }
    if let Some(ann) = merged.metadata.annotations.as_mut() {
        ann.remove(ANNOTATION_DIGEST);
    }
    Plan::Replace(merged)
}

fn nonempty<T: Clone>(m: &Option<BTreeMap<String, T>>) -> BTreeMap<String, T> {
    m.clone().unwrap_or_default()
}

/// The fields the controller writes, with empty and absent maps equal.
#[allow(clippy::type_complexity)]
fn normalized(
    s: &Secret,
) -> (
    BTreeMap<String, k8s_openapi::ByteString>,
    Option<String>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    Vec<OwnerReference>,
    bool,
) {
    (
        nonempty(&s.data),
        Some(
            s.type_
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| DEFAULT_SECRET_TYPE.to_owned()),
        ),
        nonempty(&s.metadata.labels),
        nonempty(&s.metadata.annotations)
            .into_iter()
            .filter(|(k, _)| k != ANNOTATION_DIGEST)
            .collect(),
        s.metadata.owner_references.clone().unwrap_or_default(),
        s.immutable == Some(true),
    )
}

// ---------------------------------------------------------------------------------------------
// The keyed digest

/// HMAC key for digests, derived from one of the controller's private keys, so it is stable
/// across restarts and replicas, unknown to anyone without the key, and never a plain hash of
/// secret data.
pub struct DigestKey(Zeroizing<[u8; 32]>);

impl DigestKey {
    /// `SHA-256("seal.dev/unsealed-digest/v1\0" ‖ PKCS#1 PEM of the private key)`.
    pub fn derive(key: &PrivateKey) -> Self {
        let pem = key.to_pkcs1_pem();
        let mut h = Sha256::new();
        h.update(b"seal.dev/unsealed-digest/v1\0");
        h.update(pem.as_bytes());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&h.finalize());
        DigestKey(out)
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()).expect("HMAC takes any key length")
    }
}

fn put(mac: &mut Hmac<Sha256>, bytes: &[u8]) {
    mac.update(&(bytes.len() as u64).to_be_bytes());
    mac.update(bytes);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a SealedSecret's spec as JSON: what the cache keeps instead of the ciphertexts.
///
/// The spec holds ciphertext and templates, never plaintext, so a plain hash of it is safe to
/// keep in memory; it is never written anywhere. [`spec_mac`] binds it with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecHash(pub [u8; 32]);

impl SpecHash {
    /// The hash of `spec`.
    pub fn of(spec: &SealedSecretSpec) -> Self {
        let json = serde_json::to_vec(spec).expect("a SealedSecret spec serializes");
        SpecHash(Sha256::digest(&json).into())
    }
}

/// MAC over what the Secret is unsealed from: the SealedSecret's uid, namespace, name, scope
/// annotations and spec (through its [`SpecHash`]), and the IDs of the keys that opened it.
pub fn spec_mac(key: &DigestKey, meta: &ObjectMeta, spec: &SpecHash, key_ids: &[String]) -> String {
    let mut mac = key.mac();
    put(&mut mac, b"spec");
    for s in [&meta.uid, &meta.namespace, &meta.name] {
        put(&mut mac, s.as_deref().unwrap_or_default().as_bytes());
    }
    put(
        &mut mac,
        Scope::from_annotations(meta.annotations.as_ref())
            .as_str()
            .as_bytes(),
    );
    put(&mut mac, &spec.0);
    for id in key_ids {
        put(&mut mac, id.as_bytes());
    }
    hex(&mac.finalize().into_bytes())
}

/// MAC over what the controller wrote into the Secret: type, immutable, data, labels,
/// annotations (except the digest itself) and owner references.
pub fn content_mac(key: &DigestKey, secret: &Secret) -> String {
    let mut mac = key.mac();
    put(&mut mac, b"content");
    let type_ = secret.type_.as_deref().filter(|t| !t.is_empty());
    put(&mut mac, type_.unwrap_or(DEFAULT_SECRET_TYPE).as_bytes());
    put(&mut mac, &[u8::from(secret.immutable == Some(true))]);
    let mut map = |tag: &[u8], m: &mut dyn Iterator<Item = (&String, &[u8])>| {
        put(&mut mac, tag);
        for (k, v) in m {
            put(&mut mac, k.as_bytes());
            put(&mut mac, v);
        }
    };
    map(
        b"data",
        &mut secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k, v.0.as_slice())),
    );
    map(
        b"labels",
        &mut secret
            .metadata
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k, v.as_bytes())),
    );
    map(
        b"annotations",
        &mut secret
            .metadata
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| k.as_str() != ANNOTATION_DIGEST)
            .map(|(k, v)| (k, v.as_bytes())),
    );
    put(&mut mac, b"owners");
    for r in secret.metadata.owner_references.iter().flatten() {
        put(&mut mac, r.uid.as_bytes());
        put(&mut mac, &[u8::from(r.controller == Some(true))]);
    }
    hex(&mac.finalize().into_bytes())
}

/// The record of a Secret as the controller wrote or verified it, kept in the SealedSecret's
/// status as the message of the [`UNSEALED`] condition:
/// `v2;<key ids, comma-separated>;<spec mac>;<content mac>;<Secret resourceVersion>`.
///
/// The first key ID names the [`DigestKey`]; all are the keys that opened the object last
/// (tried first next time). Key IDs are public; the MACs reveal nothing without the private
/// key. A Secret still at the recorded resourceVersion is exactly the one recorded (any write
/// moves it), so a restart needs neither the Secret nor a decryption.
///
/// Earlier releases kept `v1;<key ids>;<spec mac>;<content mac>` in the Secret's
/// `seal.dev/unsealed-digest` annotation; [`Digest::of_legacy`] still reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    /// Keys that opened the object, sorted; the first keys the MACs.
    pub key_ids: Vec<String>,
    /// [`spec_mac`].
    pub spec: String,
    /// [`content_mac`].
    pub content: String,
    /// The Secret's resourceVersion when it was written or verified; `None` from a legacy
    /// annotation.
    pub secret_rv: Option<String>,
}

impl Digest {
    /// Parses a condition message (`v2`) or a legacy annotation value (`v1`); `None` if it is
    /// not ours or malformed.
    pub fn parse(value: &str) -> Option<Digest> {
        let mut parts = value.split(';');
        let version = parts.next()?;
        if version != "v1" && version != "v2" {
            return None;
        }
        let key_ids: Vec<String> = parts.next()?.split(',').map(str::to_owned).collect();
        let spec = parts.next()?.to_owned();
        let content = parts.next()?.to_owned();
        let secret_rv = match version {
            "v2" => Some(parts.next()?.to_owned()).filter(|rv| !rv.is_empty()),
            _ => None,
        };
        let ok = parts.next().is_none()
            && !key_ids.is_empty()
            && !key_ids[0].is_empty()
            && (version == "v1" || secret_rv.is_some());
        ok.then_some(Digest {
            key_ids,
            spec,
            content,
            secret_rv,
        })
    }

    /// The legacy digest annotation on a Secret written by an earlier release, if any.
    pub fn of_legacy(meta: &ObjectMeta) -> Option<Digest> {
        Digest::parse(meta.annotations.as_ref()?.get(ANNOTATION_DIGEST)?)
    }

    /// The record in `status` (the [`UNSEALED`] condition), if any.
    pub fn of_status(status: Option<&SealedSecretStatus>) -> Option<Digest> {
        let c = condition(status, UNSEALED)?;
        (c.status == "True")
            .then_some(())
            .and_then(|()| Digest::parse(c.message.as_deref()?))
            .filter(|d| d.secret_rv.is_some())
    }

    /// The condition message.
    pub fn to_message(&self) -> String {
        format!(
            "v2;{};{};{};{}",
            self.key_ids.join(","),
            self.spec,
            self.content,
            self.secret_rv.as_deref().unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use seal_api::crypto::PrivateKey;

    const UID: &str = "ss-uid";

    #[test]
    fn unseal_errors_that_may_quote_plaintext_are_redacted() {
        let exec = seal_api::Error::Template(
            "template: auth:1:3: executing \"auth\" at <fail .password>: hunter2".into(),
        );
        assert_eq!(
            unseal_error_message(&exec),
            format!("template: auth:1:3: executing \"auth\" at <fail .password>: {WITHHELD}")
        );
        let odd = seal_api::Error::Template("template: a:1:3: executing \"a\" hunter2".into());
        assert_eq!(
            unseal_error_message(&odd),
            format!("template: a:1:3: {WITHHELD}")
        );
        let parse = seal_api::Error::Template("template: a:1: function \"env\" not defined".into());
        assert_eq!(
            unseal_error_message(&parse),
            "template: a:1: function \"env\" not defined"
        );
        let v1 = seal_api::Error::Unseal(UnsealFailure {
            items: [
                (
                    "data".to_owned(),
                    "sealed v1 data is not a Secret: invalid type: string \"hunter2\"".to_owned(),
                ),
                ("x".to_owned(), "no key could decrypt secret".to_owned()),
            ]
            .into(),
            likely_scope: None,
        });
        assert_eq!(
            unseal_error_message(&v1),
            format!(
                "no key could decrypt secret (x)\nsealed v1 data is not a Secret: {WITHHELD} (data)"
            )
        );
    }

    fn mk_ss(generation: i64) -> SealedSecret {
        let mut ss = SealedSecret::new("db", Default::default());
        ss.metadata.namespace = Some("apps".into());
        ss.metadata.uid = Some(UID.into());
        ss.metadata.generation = Some(generation);
        ss.spec
            .encrypted_data
            .insert("password".into(), serde_json::json!("AgB..."));
        ss
    }

    fn mk_secret(data: &[(&str, &str)], annotations: &[(&str, &str)], owned: bool) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some("apps".into()),
                resource_version: Some("7".into()),
                annotations: (!annotations.is_empty()).then(|| {
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect()
                }),
                owner_references: owned.then(|| vec![seal_api::owner_reference(&mk_ss(1))]),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            type_: Some("Opaque".into()),
            ..Secret::default()
        }
    }

    fn mk_desired(data: &[(&str, &str)]) -> Secret {
        let mut s = mk_secret(data, &[], true);
        s.metadata.resource_version = None;
        s.metadata.labels = Some([("tier".to_owned(), "backend".to_owned())].into());
        s
    }

    fn data_of(s: &Secret) -> BTreeMap<String, Vec<u8>> {
        s.data
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect()
    }

    #[test]
    fn an_absent_secret_is_created_with_the_templates_annotations_only() {
        let mut desired = mk_desired(&[("a", "1")]);
        desired.metadata.annotations = Some([("team".to_owned(), "a".to_owned())].into());
        let Plan::Create(s) = plan_write(None, desired, UID) else {
            panic!("expected create");
        };
        assert_eq!(
            s.metadata.annotations.expect("annotations"),
            BTreeMap::from([("team".to_owned(), "a".to_owned())])
        );
        assert_eq!(s.type_.as_deref(), Some("Opaque"));
    }

    #[test]
    fn an_owned_secret_is_replaced() {
        let existing = mk_secret(&[("a", "old"), ("stale", "x")], &[("other", "y")], true);
        let Plan::Replace(s) = plan_write(Some(&existing), mk_desired(&[("a", "1")]), UID) else {
            panic!("expected replace");
        };
        assert_eq!(data_of(&s), [("a".to_owned(), b"1".to_vec())].into());
        let ann = s.metadata.annotations.unwrap_or_default();
        assert!(!ann.contains_key("other"), "annotations replaced");
        assert_eq!(
            s.metadata.resource_version.as_deref(),
            Some("7"),
            "guarded PUT"
        );
    }

    #[test]
    fn a_managed_secret_is_replaced_including_owners() {
        let existing = mk_secret(&[("a", "old")], &[(ANNOTATION_MANAGED, "true")], false);
        let Plan::Replace(s) = plan_write(Some(&existing), mk_desired(&[("a", "1")]), UID) else {
            panic!("expected replace");
        };
        assert_eq!(s.metadata.owner_references.expect("owners")[0].uid, UID);
    }

    #[test]
    fn a_patch_secret_is_merged_and_keeps_owners_unless_managed() {
        let existing = mk_secret(
            &[("other", "kept"), ("a", "old")],
            &[(ANNOTATION_PATCH, "true")],
            false,
        );
        let Plan::Replace(s) = plan_write(Some(&existing), mk_desired(&[("a", "1")]), UID) else {
            panic!("expected replace");
        };
        assert_eq!(
            data_of(&s),
            [
                ("a".to_owned(), b"1".to_vec()),
                ("other".to_owned(), b"kept".to_vec())
            ]
            .into()
        );
        assert!(s.metadata.owner_references.is_none());
        assert_eq!(
            s.metadata.annotations.expect("ann")[ANNOTATION_PATCH],
            "true"
        );

        let existing = mk_secret(
            &[("a", "old")],
            &[(ANNOTATION_PATCH, "true"), (ANNOTATION_MANAGED, "true")],
            false,
        );
        let Plan::Replace(s) = plan_write(Some(&existing), mk_desired(&[("a", "1")]), UID) else {
            panic!("expected replace");
        };
        assert_eq!(s.metadata.owner_references.expect("owners")[0].uid, UID);
    }

    #[test]
    fn a_foreign_secret_is_a_conflict_with_upstreams_words() {
        let existing = mk_secret(&[("a", "theirs")], &[], false);
        let Plan::Conflict(f) = plan_write(Some(&existing), mk_desired(&[("a", "1")]), UID) else {
            panic!("expected conflict");
        };
        assert_eq!(
            f.synced_message,
            "failed update: Resource \"db\" already exists and is not managed by SealedSecret"
        );
        assert_eq!(f.event().reason, EVENT_UPDATE_FAILED);
        // Retried (the Secret may be deleted or annotated); stalled once retries run out.
        assert!(f.stalled.is_none());
        assert!(f.stalled().stalled.is_some_and(|m| m.contains("managed")));
        // Another SealedSecret's controller reference does not make it ours.
        let mut other = mk_secret(&[("a", "x")], &[], true);
        other.metadata.owner_references.as_mut().expect("owners")[0].uid = "other".into();
        assert_eq!(ownership(&other.metadata, UID), Ownership::Unmanaged);
    }

    #[test]
    fn a_freed_name_is_left_to_its_owner_for_one_retry_interval() {
        let at = std::time::Instant::now();
        let ms = std::time::Duration::from_millis;
        assert_eq!(
            freed_grace_left(FREED_NAME_GRACE, at, at),
            Some(FREED_NAME_GRACE)
        );
        assert_eq!(
            freed_grace_left(FREED_NAME_GRACE, at, at + ms(300)),
            Some(ms(700))
        );
        assert_eq!(
            freed_grace_left(FREED_NAME_GRACE, at, at + FREED_NAME_GRACE),
            None
        );
        assert_eq!(freed_grace_left(FREED_NAME_GRACE, at, at + ms(5000)), None);
        // A clock reading from before the deletion (another thread's) is the whole grace.
        assert_eq!(
            freed_grace_left(FREED_NAME_GRACE, at + ms(10), at),
            Some(FREED_NAME_GRACE)
        );
    }

    #[test]
    fn a_failure_at_the_current_generation_is_told_from_a_new_object() {
        let status = |generation: i64, synced: &str| SealedSecretStatus {
            observed_generation: Some(generation),
            conditions: vec![seal_api::SealedSecretCondition {
                type_: SYNCED.into(),
                status: synced.into(),
                ..Default::default()
            }],
        };
        assert!(failed_at_generation(Some(&status(2, "False")), Some(2)));
        assert!(
            !failed_at_generation(Some(&status(1, "False")), Some(2)),
            "an older spec"
        );
        assert!(!failed_at_generation(Some(&status(2, "True")), Some(2)));
        assert!(!failed_at_generation(None, Some(1)), "never reconciled");
    }

    #[test]
    fn an_unchanged_secret_is_not_written() {
        let mut existing = mk_desired(&[("a", "1")]);
        existing.metadata.resource_version = Some("7".into());
        existing
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(ANNOTATION_DIGEST.into(), "d".into());
        // An earlier release's digest annotation alone is no reason to write.
        assert_eq!(
            plan_write(Some(&existing), mk_desired(&[("a", "1")]), UID),
            Plan::Unchanged
        );
        // A write for another reason drops it, for a patch Secret too.
        let Plan::Replace(s) = plan_write(Some(&existing), mk_desired(&[("a", "2")]), UID) else {
            panic!("expected replace");
        };
        assert!(s.metadata.annotations.unwrap_or_default().is_empty());
        let mut patch = existing.clone();
        patch
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(ANNOTATION_PATCH.into(), "true".into());
        let Plan::Replace(s) = plan_write(Some(&patch), mk_desired(&[("a", "2")]), UID) else {
            panic!("expected replace");
        };
        let ann = s.metadata.annotations.expect("annotations");
        assert!(ann.contains_key(ANNOTATION_PATCH) && !ann.contains_key(ANNOTATION_DIGEST));
    }

    #[test]
    fn the_metadata_facts_decide_ownership_as_the_whole_secret_does() {
        let owned = mk_secret(&[("a", "1")], &[], true);
        let facts = SecretFacts::of(&owned.metadata).expect("a SealedSecret's");
        assert_eq!(facts.resource_version, "7");
        assert_eq!(facts.ownership(UID), Ownership::Owned);
        assert_eq!(facts.ownership("other"), Ownership::Unmanaged);
        let managed = mk_secret(&[], &[(ANNOTATION_MANAGED, "true")], false);
        let f = SecretFacts::of(&managed.metadata).expect("managed");
        assert_eq!(f.ownership(UID), ownership(&managed.metadata, UID));
        let patch = mk_secret(&[], &[(ANNOTATION_PATCH, "true")], true);
        let f = SecretFacts::of(&patch.metadata).expect("patch");
        assert_eq!(f.ownership(UID), ownership(&patch.metadata, UID));
        // A Secret no SealedSecret may write has no facts (it is Unmanaged for all).
        assert_eq!(SecretFacts::of(&mk_secret(&[], &[], false).metadata), None);
        let mut by_deployment = mk_secret(&[], &[], true);
        by_deployment
            .metadata
            .owner_references
            .as_mut()
            .expect("owners")[0]
            .kind = "Deployment".into();
        assert_eq!(SecretFacts::of(&by_deployment.metadata), None);
    }

    #[test]
    fn an_immutable_secret_whose_data_differs_is_detected_before_writing() {
        let mut existing = mk_secret(&[("a", "old")], &[], true);
        existing.immutable = Some(true);
        let Plan::Immutable(f) = plan_write(Some(&existing), mk_desired(&[("a", "1")]), UID) else {
            panic!("expected immutable");
        };
        assert!(f.synced_message.starts_with(
            "Error updating apps/db: the target Secret is immutable. Once a Secret is marked as immutable"
        ));
        assert_eq!(f.reason, ReadyReason::ImmutableSecret);
        // Same data, other metadata: allowed.
        let mut existing = mk_secret(&[("a", "1")], &[], true);
        existing.immutable = Some(true);
        assert!(matches!(
            plan_write(Some(&existing), mk_desired(&[("a", "1")]), UID),
            Plan::Replace(_)
        ));
    }

    #[test]
    fn template_immutable_false_to_true_applies_and_never_back() {
        let existing = mk_secret(&[("a", "1")], &[], true);
        let mut desired = mk_desired(&[("a", "1")]);
        desired.immutable = Some(true);
        let Plan::Replace(s) = plan_write(Some(&existing), desired, UID) else {
            panic!("expected replace");
        };
        assert_eq!(s.immutable, Some(true));
    }

    fn key() -> DigestKey {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/keys/rsa2048.key"
        ))
        .expect("fixture key");
        DigestKey::derive(&PrivateKey::from_pem(&pem).expect("key"))
    }

    #[test]
    fn the_digest_follows_spec_uid_and_keys_and_detects_drift() {
        let k = key();
        let ids = vec!["SHA256:a".to_owned()];
        let ss = mk_ss(1);
        let mac = |ss: &SealedSecret, k: &DigestKey, ids: &[String]| {
            spec_mac(k, &ss.metadata, &SpecHash::of(&ss.spec), ids)
        };
        let base = mac(&ss, &k, &ids);
        assert_eq!(base, mac(&ss, &key(), &ids), "stable across restarts");
        let mut other = ss.clone();
        other.metadata.uid = Some("new".into());
        assert_ne!(base, mac(&other, &k, &ids));
        let mut other = ss.clone();
        other
            .spec
            .encrypted_data
            .insert("x".into(), serde_json::json!("AgB"));
        assert_ne!(base, mac(&other, &k, &ids));
        assert_ne!(base, mac(&ss, &k, &["SHA256:b".to_owned()]));
        let mut other = ss.clone();
        other.metadata.annotations = Some(
            [(
                seal_api::ANNOTATION_CLUSTER_WIDE.to_owned(),
                "true".to_owned(),
            )]
            .into(),
        );
        assert_ne!(base, mac(&other, &k, &ids), "the scope is bound");
        // Metadata-only changes (labels) do not move it.
        let mut other = ss.clone();
        other.metadata.labels = Some([("x".to_owned(), "y".to_owned())].into());
        assert_eq!(base, mac(&other, &k, &ids));

        let s = mk_desired(&[("a", "1")]);
        let c = content_mac(&k, &s);
        let mut edited = s.clone();
        edited
            .data
            .as_mut()
            .expect("data")
            .insert("a".into(), ByteString(b"2".to_vec()));
        assert_ne!(c, content_mac(&k, &edited), "data drift");
        let mut annotated = s.clone();
        annotated
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(ANNOTATION_DIGEST.into(), "whatever".into());
        assert_eq!(c, content_mac(&k, &annotated), "the digest excludes itself");
        let mut untyped = s.clone();
        untyped.type_ = None;
        assert_eq!(c, content_mac(&k, &untyped), "no type is Opaque");
        // Not a plain hash of the data: another key gives another MAC.
        let other_pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/keys/rsa4096.key"
        ))
        .expect("fixture key");
        let k2 = DigestKey::derive(&PrivateKey::from_pem(&other_pem).expect("key"));
        assert_ne!(c, content_mac(&k2, &s));
    }

    #[test]
    fn the_digest_annotation_roundtrips_and_rejects_garbage() {
        let d = Digest {
            key_ids: vec!["SHA256:a+b/c=".into(), "SHA256:d".into()],
            spec: "00ff".into(),
            content: "11ee".into(),
            secret_rv: Some("12345".into()),
        };
        assert_eq!(Digest::parse(&d.to_message()), Some(d.clone()));
        // An earlier release's annotation: no resourceVersion.
        assert_eq!(
            Digest::parse("v1;SHA256:a;00ff;11ee"),
            Some(Digest {
                key_ids: vec!["SHA256:a".into()],
                spec: "00ff".into(),
                content: "11ee".into(),
                secret_rv: None,
            })
        );
        for bad in [
            "",
            "v2;a;b;c",
            "v2;a;b;c;",
            "v3;a;b;c;d",
            "v1;a;b",
            "v1;;b;c",
            "v1;a;b;c;d",
        ] {
            assert_eq!(Digest::parse(bad), None, "{bad}");
        }
        // In the status: the condition, True, with a resourceVersion.
        let st = next_status(
            None,
            Some(1),
            &Outcome::Synced,
            Some(&d),
            &t("2024-01-01T00:00:00Z"),
        )
        .expect("written");
        assert_eq!(Digest::of_status(Some(&st)), Some(d));
        let mut off = st.clone();
        off.conditions[2].status = "False".into();
        assert_eq!(Digest::of_status(Some(&off)), None);
    }

    fn t(s: &str) -> Time {
        Time(s.parse().expect("timestamp"))
    }

    #[test]
    fn synced_is_first_and_ready_mirrors_it() {
        let st = next_status(
            None,
            Some(1),
            &Outcome::Synced,
            None,
            &t("2024-01-01T00:00:00Z"),
        )
        .expect("first write");
        assert_eq!(st.observed_generation, Some(1));
        let types: Vec<_> = st.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [SYNCED, READY]);
        assert_eq!(st.conditions[0].status, "True");
        assert_eq!(st.conditions[0].message, None);
        assert_eq!(st.conditions[1].reason.as_deref(), Some("Unsealed"));
        // Nothing changed: no write.
        assert_eq!(
            next_status(
                Some(&st),
                Some(1),
                &Outcome::Synced,
                None,
                &t("2024-01-02T00:00:00Z")
            ),
            None
        );
        // A new generation alone is a write: as upstream's, lastUpdateTime moves and
        // lastTransitionTime stays.
        let t1 = t("2024-01-02T00:00:00Z");
        let st2 =
            next_status(Some(&st), Some(2), &Outcome::Synced, None, &t1).expect("generation moved");
        assert_eq!(st2.observed_generation, Some(2));
        for (new, old) in st2.conditions.iter().zip(&st.conditions) {
            assert_eq!(new.last_update_time, Some(t1.clone()), "{}", new.type_);
            assert_eq!(new.last_transition_time, old.last_transition_time);
            assert_eq!((&new.status, &new.message), (&old.status, &old.message));
        }
        // Our record comes after Synced, Ready (and Reconciling/Stalled); another condition's
        // type is kept after ours.
        let d = Digest {
            key_ids: vec!["SHA256:a".into()],
            spec: "00".into(),
            content: "11".into(),
            secret_rv: Some("5".into()),
        };
        let mut foreign = st2.clone();
        foreign.conditions.push(cond("Other", true, None, None));
        let st3 = next_status(Some(&foreign), Some(2), &Outcome::Synced, Some(&d), &t1)
            .expect("record added");
        let types: Vec<_> = st3.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [SYNCED, READY, UNSEALED, "Other"]);
        // No new record: the old one stays, even through a failure.
        let f = Failure::unseal("no key could decrypt secret (a)", None);
        let st4 = next_status(Some(&st3), Some(3), &Outcome::Failed(f), None, &t1).expect("failed");
        assert_eq!(Digest::of_status(Some(&st4)), Some(d));
        assert_eq!(st4.conditions[0].type_, SYNCED);
    }

    #[test]
    fn failures_flip_transition_times_and_message_changes_are_written() {
        let t0 = t("2024-01-01T00:00:00Z");
        let t1 = t("2024-01-02T00:00:00Z");
        let t2 = t("2024-01-03T00:00:00Z");
        let ok = next_status(None, Some(1), &Outcome::Synced, None, &t0).expect("ok");
        let f = Failure::unseal("no key could decrypt secret (a)", None);
        let failed =
            next_status(Some(&ok), Some(1), &Outcome::Failed(f.clone()), None, &t1).expect("flip");
        assert_eq!(failed.conditions[0].status, "False");
        assert_eq!(failed.conditions[0].last_transition_time, Some(t1.clone()));
        assert_eq!(
            failed.conditions[0].message.as_deref(),
            Some("no key could decrypt secret (a)")
        );
        let rec = failed
            .conditions
            .iter()
            .find(|c| c.type_ == RECONCILING)
            .expect("Reconciling");
        assert_eq!(rec.status, "True");
        assert!(failed.conditions.iter().all(|c| c.type_ != STALLED));
        // Same failure again: nothing to write.
        assert_eq!(
            next_status(
                Some(&failed),
                Some(1),
                &Outcome::Failed(f.clone()),
                None,
                &t2
            ),
            None
        );
        // Another message: written, transition time kept.
        let g = Failure::unseal("no key could decrypt secret (a, b)", None);
        let again =
            next_status(Some(&failed), Some(1), &Outcome::Failed(g), None, &t2).expect("message");
        assert_eq!(again.conditions[0].last_transition_time, Some(t1.clone()));
        assert_eq!(again.conditions[0].last_update_time, Some(t2.clone()));
        // Stalled replaces Reconciling.
        let stalled = next_status(
            Some(&failed),
            Some(1),
            &Outcome::Failed(f.stalled()),
            None,
            &t2,
        )
        .expect("stall");
        let types: Vec<_> = stalled
            .conditions
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(types, [SYNCED, READY, STALLED]);
        // Back to Synced: Stalled disappears.
        let healed =
            next_status(Some(&stalled), Some(1), &Outcome::Synced, None, &t2).expect("heal");
        let types: Vec<_> = healed.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [SYNCED, READY]);
    }

    #[test]
    fn events_fire_only_on_change() {
        let t0 = t("2024-01-01T00:00:00Z");
        // First success, or a Secret write: Unsealed.
        assert_eq!(
            event_for(None, &Outcome::Synced, false)
                .expect("first")
                .reason,
            EVENT_UNSEALED
        );
        let ok = next_status(None, Some(1), &Outcome::Synced, None, &t0).expect("ok");
        assert_eq!(
            event_for(Some(&ok), &Outcome::Synced, false),
            None,
            "resync"
        );
        assert!(
            event_for(Some(&ok), &Outcome::Synced, true).is_some(),
            "Secret changed"
        );
        // A failure: once per message.
        let f = Failure::unseal("boom", None);
        let ev = event_for(Some(&ok), &Outcome::Failed(f.clone()), false).expect("starts");
        assert!(ev.warning);
        assert_eq!(
            (ev.reason, ev.message.as_str()),
            (EVENT_UNSEAL_FAILED, "Failed to unseal: boom")
        );
        let failed =
            next_status(Some(&ok), Some(1), &Outcome::Failed(f.clone()), None, &t0).expect("f");
        assert_eq!(
            event_for(Some(&failed), &Outcome::Failed(f), false),
            None,
            "retry"
        );
        assert!(
            event_for(
                Some(&failed),
                &Outcome::Failed(Failure::unseal("bang", None)),
                false
            )
            .is_some()
        );
        // Recovery: Synced turns True.
        assert!(event_for(Some(&failed), &Outcome::Synced, false).is_some());
    }

    #[test]
    fn a_scope_mistake_is_named_in_ready_and_the_event() {
        let mut ss = mk_ss(1);
        ss.metadata.annotations = Some(
            [(
                seal_api::ANNOTATION_CLUSTER_WIDE.to_owned(),
                "true".to_owned(),
            )]
            .into(),
        );
        let failure = UnsealFailure {
            items: [("a".to_owned(), seal_api::NO_KEY_COULD_DECRYPT.to_owned())].into(),
            likely_scope: Some(Scope::Strict),
        };
        let f = Failure::unseal(&failure.message(), scope_hint(&ss, &failure));
        assert_eq!(
            f.synced_message, "no key could decrypt secret (a)",
            "Synced keeps upstream text"
        );
        assert!(
            f.ready_message.contains("--scope strict") && f.ready_message.contains("cluster-wide")
        );
        assert!(
            f.event_message
                .starts_with("Failed to unseal: no key could decrypt secret (a); likely mistake")
        );
    }
}
