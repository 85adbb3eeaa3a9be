//! The reconcile loop: SealedSecret → Secret (SPEC §6, §8).
//!
//! - [`watch`](self) side: triggers. A SealedSecret is added, its `spec` (generation) changes,
//!   or its `reconcile.fluxcd.io/requestedAt` annotation changes; an owned or `managed` Secret
//!   is deleted or (with `--self-heal`) edited; the keys change. Status-only and metadata-only
//!   changes are ignored. The deletion of a Secret that is neither ours nor `managed` is no
//!   trigger while a retry is scheduled.
//! - Secrets are watched metadata-only: those a SealedSecret may write (a SealedSecret
//!   controller reference, `managed` or `patch`) are remembered by name with their
//!   resourceVersion and ownership, every other one as a 64-bit keyed hash and its
//!   resourceVersion. A full Secret is fetched only when its content is needed and not known.
//! - The status of each SealedSecret records the Secret written or verified for it (a keyed
//!   digest of spec and content, and the Secret's resourceVersion, in the `seal.dev/Unsealed`
//!   condition). An object whose Secret is still at the recorded resourceVersion, for this spec
//!   and keys, with `Synced` True at this generation, is done without any API call or
//!   decryption (no restart storm). The Secret carries nothing of ours.
//! - SealedSecrets are watched untyped and cached slim ([`crate::cache`]); their whole spec is
//!   kept until they are synced, within a memory budget.
//! - API refusals that cannot pass on retry (400, 422) stall until the spec changes; other
//!   failures, unseal failures and conflicts are retried with back-off.
//! - RSA work runs on a bounded pool (`--workers` blocking threads); many more reconciles than
//!   that are in flight, one at a time per object, since most of their time is API latency.
//!
//! [`reconcile`] is the per-object flow (`reconcile.rs`), [`run`] the watch and trigger wiring
//! (`watch.rs`), [`Context`] what they share (`context.rs`).

mod context;
mod reconcile;
mod watch;

pub use crate::cache::FLUX_REQUESTED_AT;
pub use context::{Context, Error, api_message};
pub use reconcile::{backoff, error_policy, reconcile};
pub use watch::{run, watched_namespaces};
