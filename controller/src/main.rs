//! seal-controller: unseals SealedSecrets into Secrets.
use clap::Parser;

/// Unseal SealedSecrets into Secrets and own the sealing keys.
#[derive(Parser)]
#[command(name = "controller", version)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
}
