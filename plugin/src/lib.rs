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

/// The one line printed after `error: `: the chain of causes joined with `: `, each said once,
/// with line breaks folded and the YAML parser's source excerpts and developer hints removed.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let msg = tidy(&cause.to_string());
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

/// One cause on one line. serde-saphyr's messages (reaching us as text through seal-api) carry a
/// source excerpt after ` --> `, an `error: ` prefix and hints meant for programmers.
fn tidy(msg: &str) -> String {
    let mut msg = msg.replace("\r\n", "\n").replace(['\n', '\r'], "; ");
    if let Some(at) = msg.find(" --> <input>:") {
        msg.truncate(at);
    }
    msg = msg
        .replace("invalid YAML: error: ", "invalid YAML: ")
        .replace(
            ", set DuplicateKeyPolicy in Options if acceptable",
            " (a key may appear only once)",
        );
    if let Some(at) = msg.find("budget breached: ") {
        let what = msg[at + "budget breached: ".len()..].to_owned();
        msg.truncate(at);
        msg.push_str(&format!(
            "too large, too deeply nested or too many aliases ({what}); simplify the document"
        ));
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
    fn yaml_excerpts_and_programmer_hints_are_dropped() {
        let err = anyhow::anyhow!(
            "invalid YAML: error: line 8 column 3: duplicate mapping key: a, set DuplicateKeyPolicy in Options if acceptable --> <input>:8:3 | 6 | stringData: | ^ here"
        );
        assert_eq!(
            error_line(&err),
            "invalid YAML: line 8 column 3: duplicate mapping key: a (a key may appear only once)"
        );
        let err = anyhow::anyhow!(
            "invalid YAML: error: line 6 column 14: budget breached: Nodes {{ nodes: 250001 }} --> <input>:6:14 | 4 | a3: &a3"
        );
        assert_eq!(
            error_line(&err),
            "invalid YAML: line 6 column 14: too large, too deeply nested or too many aliases (Nodes { nodes: 250001 }); simplify the document"
        );
    }
}
