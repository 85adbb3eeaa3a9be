//! kubectl-seal: seal Kubernetes Secrets for the Sealed Secrets controller.
use clap::Parser;

/// Seal Kubernetes Secrets so they can be stored in Git.
#[derive(Parser)]
#[command(name = "kubectl-seal", version)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
}
