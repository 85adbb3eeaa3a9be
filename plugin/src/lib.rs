//! kubectl-seal: a drop-in, wire-compatible replacement for Bitnami Sealed Secrets' `kubeseal`,
//! plus subcommands to edit, validate and re-encrypt sealed files.
//!
//! [`parse_args`] turns the command line into [`cli::Cli`], [`run`] validates it into a plan
//! (no I/O) and carries it out.
#![forbid(unsafe_code)]

pub mod cli;
mod cluster;
mod commands;
mod edit;
mod files;
mod keys;
mod modes;
mod plan;
mod time;

use std::ffi::OsString;
use std::path::Path;

use clap::{CommandFactory, FromArgMatches};

pub use plan::Plan;

/// Parses the command line; help, version and usage errors exit here as clap does. When invoked
/// as `kubeseal`, messages use that name.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> cli::Cli {
    let args: Vec<OsString> = args.into_iter().collect();
    let kubeseal = args
        .first()
        .and_then(|a| Path::new(a).file_stem())
        .is_some_and(|s| s == "kubeseal");
    let bin = if kubeseal { "kubeseal" } else { "kubectl-seal" };
    let mut cmd = cli::Cli::command().name(bin).bin_name(bin);
    let matches = cmd
        .try_get_matches_from_mut(args)
        .unwrap_or_else(|e| e.exit());
    cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cmd).exit())
}

/// Runs the parsed command line.
///
/// # Errors
///
/// Any failure, with context naming the file, object or flag involved.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let plan = Plan::from_cli(cli)?;
    plan.execute()
}
