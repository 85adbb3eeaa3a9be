//! kubectl-seal: seal Kubernetes Secrets for the Sealed Secrets controller (also runs as `kubeseal`).
use std::io::ErrorKind;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = kubectl_seal::parse_args(std::env::args_os());
    match kubectl_seal::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let broken_pipe = err.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", kubectl_seal::error_line(&err));
            ExitCode::FAILURE
        }
    }
}
