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
mod ui;

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
    if cli.version {
        return print_version();
    }
    let plan = Plan::from_cli(cli)?;
    plan.execute()
}

/// `--version`: kubeseal's line on stdout, which scripts and upstream's tests parse, naming the
/// kubeseal release whose flags, output and errors this one reproduces; seal's own name and
/// version on stderr, for people.
fn print_version() -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "kubeseal version: {}", seal_api::UPSTREAM_VERSION)
        .and_then(|()| out.flush())
        .map_err(|e| anyhow::Error::new(e).context("failed to write to standard output"))?;
    eprintln!(
        "(kubectl-seal {} from seal, a drop-in for kubeseal {})",
        env!("CARGO_PKG_VERSION"),
        seal_api::UPSTREAM_VERSION
    );
    Ok(())
}

/// The one line printed after `error: `: the chain of causes joined with `: `, each said once,
/// with line breaks folded and YAML source excerpts removed.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let msg = one_line(&cause.to_string());
        // Some errors print their source in their own message too: say it once.
        if msg.is_empty() || out.ends_with(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
    }
    out
}

/// One cause on one line. seal-api words its own YAML errors, but serde-saphyr errors from
/// dependencies (kube's kubeconfig parser) still carry a source excerpt after ` --> `: it can
/// quote a credential, so it is cut.
fn one_line(msg: &str) -> String {
    let mut msg = msg.replace("\r\n", "\n").replace(['\n', '\r'], "; ");
    if let Some(at) = msg.find(" --> <input>:") {
        msg.truncate(at);
    }
    msg.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_said_once_on_one_line() {
        let err = anyhow::anyhow!("client error (Connect)")
            .context("ServiceError: client error (Connect)")
            .context("cannot get service a/b");
        assert_eq!(
            error_line(&err),
            "cannot get service a/b: ServiceError: client error (Connect)"
        );
        let err = anyhow::anyhow!("one\ntwo\r\nthree");
        assert_eq!(error_line(&err), "one; two; three");
    }

    #[test]
    fn yaml_source_excerpts_are_dropped() {
        let err = anyhow::anyhow!(
            "error: line 3 column 9: mapping values are not allowed in this context --> <input>:3:9 | 2 | token: s3cr3t | ^ here"
        )
        .context("cannot read the kubeconfig");
        assert_eq!(
            error_line(&err),
            "cannot read the kubeconfig: error: line 3 column 9: mapping values are not allowed in this context"
        );
    }
}
