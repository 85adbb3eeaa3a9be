//! `controller`: unseals SealedSecrets into Secrets (a drop-in for the Sealed Secrets controller).
use std::process::ExitCode;

use clap::Parser;
use seal_controller::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let cfg = Config::parse();
    if cfg.version {
        println!("{}", Config::version_line());
        eprintln!(
            "(seal-controller {} from seal, a drop-in for the Sealed Secrets controller {})",
            env!("CARGO_PKG_VERSION"),
            seal_api::UPSTREAM_VERSION
        );
        return ExitCode::SUCCESS;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cfg.log_filter()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if cfg.log_json() {
        builder.json().init();
    } else {
        builder.init();
    }
    match seal_controller::run(cfg).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
