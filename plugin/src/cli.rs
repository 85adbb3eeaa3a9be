//! Command-line flags: kubeseal's, with the same names and defaults, plus additive subcommands.
//!
//! Every flag can also be set through `SEALED_SECRETS_<FLAG>` (upper case, `_` for `-`); the
//! command line wins.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Default `--controller-name`.
pub const DEFAULT_CONTROLLER_NAME: &str = "sealed-secrets-controller";
/// Default `--controller-namespace`.
pub const DEFAULT_CONTROLLER_NAMESPACE: &str = "kube-system";

/// Seal Kubernetes Secrets into SealedSecrets that only the cluster's controller can open.
///
/// Reads Secrets (YAML or JSON) from stdin or -f and prints SealedSecrets. A drop-in
/// replacement for kubeseal: same flags, same output.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-seal",
    disable_version_flag = true,
    args_override_self = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Print version information and exit
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true, value_parser = parse_bool)]
    pub version: bool,

    /// kubeseal flags.
    #[command(flatten)]
    pub seal: SealFlags,

    /// Connection and certificate flags, shared with the subcommands.
    #[command(flatten)]
    pub conn: ConnFlags,

    /// Subcommands beyond kubeseal.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The kubeseal modes and their inputs.
#[derive(Debug, Args)]
pub struct SealFlags {
    /// Output format for sealed secret: json or yaml (any case) [default: json]
    #[arg(
        short = 'o',
        long = "format",
        env = "SEALED_SECRETS_FORMAT",
        value_name = "FORMAT"
    )]
    pub format: Option<String>,

    /// Secret file to use [default: stdin]
    #[arg(
        short = 'f',
        long,
        env = "SEALED_SECRETS_SECRET_FILE",
        value_name = "FILE"
    )]
    pub secret_file: Option<PathBuf>,

    /// Sealed secret file to write, atomically [default: stdout]; .yaml/.yml forces YAML
    #[arg(
        short = 'w',
        long,
        env = "SEALED_SECRETS_SEALED_SECRET_FILE",
        value_name = "FILE"
    )]
    pub sealed_secret_file: Option<PathBuf>,

    /// Write the certificate to stdout as fetched. Useful for later use with --cert
    #[arg(long, env = "SEALED_SECRETS_FETCH_CERT", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true, value_parser = parse_bool)]
    pub fetch_cert: bool,

    /// Allow a Secret without data or stringData
    #[arg(long, env = "SEALED_SECRETS_ALLOW_EMPTY_DATA", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true, value_parser = parse_bool)]
    pub allow_empty_data: bool,

    /// Seal post-quantum: every item in the hybrid RSA-OAEP + ML-KEM-768 format, to the ML-KEM
    /// key in the controller's certificate (docs/pq.md). The upstream controller cannot open it.
    /// With reencrypt and --re-encrypt: also upgrade classical items. Not with ui: the page seals
    /// classical items only
    #[arg(long, global = true, env = "SEALED_SECRETS_PQ", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true, value_parser = parse_bool)]
    pub pq: bool,

    /// Scope of the sealed secret: strict, namespace-wide, cluster-wide [default: strict]. An
    /// explicit --scope wins over the input's scope annotations
    #[arg(long, env = "SEALED_SECRETS_SCOPE", value_name = "SCOPE")]
    pub scope: Option<String>,

    /// Validate the given sealed secrets with the controller (/v1/verify)
    #[arg(long, env = "SEALED_SECRETS_VALIDATE", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true, value_parser = parse_bool)]
    pub validate: bool,

    /// Merge items from the secret into an existing sealed secret file, rewriting it atomically
    #[arg(long, env = "SEALED_SECRETS_MERGE_INTO", value_name = "FILE")]
    pub merge_into: Option<PathBuf>,

    /// Encrypt one raw value (from --from-file or stdin) instead of a whole Secret
    #[arg(long, env = "SEALED_SECRETS_RAW", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true, value_parser = parse_bool)]
    pub raw: bool,

    /// Name of the sealed secret (required with --raw and strict scope); renames the input
    /// otherwise
    #[arg(long, env = "SEALED_SECRETS_NAME", value_name = "NAME")]
    pub name: Option<String>,

    /// (only with --raw) The value to seal, from a file; `key=path` is accepted, the key ignored
    #[arg(
        long,
        env = "SEALED_SECRETS_FROM_FILE",
        value_name = "[KEY=]PATH",
        value_delimiter = ','
    )]
    pub from_file: Vec<String>,

    /// Re-encrypt the given sealed secrets with the controller's newest key (/v1/rotate)
    #[arg(long, alias = "rotate", env = "SEALED_SECRETS_RE_ENCRYPT", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true, value_parser = parse_bool)]
    pub re_encrypt: bool,

    /// Decrypt sealed secrets offline with the --recovery-private-key keys
    #[arg(long, env = "SEALED_SECRETS_RECOVERY_UNSEAL", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true, value_parser = parse_bool)]
    pub recovery_unseal: bool,

    /// Copy this input label to the SealedSecret's own metadata too (repeatable)
    #[arg(
        long,
        env = "SEALED_SECRETS_TOP_LEVEL_LABEL",
        value_name = "KEY",
        value_delimiter = ','
    )]
    pub top_level_label: Vec<String>,

    /// Copy this input annotation to the SealedSecret's own metadata too, e.g.
    /// argocd.argoproj.io/sync-wave (repeatable)
    #[arg(
        long,
        env = "SEALED_SECRETS_TOP_LEVEL_ANNOTATION",
        value_name = "KEY",
        value_delimiter = ','
    )]
    pub top_level_annotation: Vec<String>,
}

/// Where the certificate and the controller are, and how to reach the cluster.
#[derive(Debug, Args)]
pub struct ConnFlags {
    /// Certificate file or URL (http://, https://, file://) to seal with. Overrides
    /// --controller-*
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_CERT",
        value_name = "FILE|URL"
    )]
    pub cert: Option<String>,

    /// Name of the sealed-secrets controller Service [default: sealed-secrets-controller]; when
    /// not set, sealed-secrets and a label search are tried too
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_CONTROLLER_NAME",
        value_name = "NAME"
    )]
    pub controller_name: Option<String>,

    /// Namespace of the sealed-secrets controller [default: kube-system]; when not set, every
    /// namespace is searched too
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_CONTROLLER_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    pub controller_namespace: Option<String>,

    /// Private key files for offline decryption: PEM keys (PKCS#1 or #8), key Secrets with
    /// tls.key, or v1 Lists of them. Repeat or separate with commas
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_RECOVERY_PRIVATE_KEY",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub recovery_private_key: Vec<PathBuf>,

    /// Path to a kubeconfig file
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_KUBECONFIG",
        value_name = "FILE"
    )]
    pub kubeconfig: Option<PathBuf>,

    /// The namespace scope for this request
    #[arg(short = 'n', long, global = true, env = "SEALED_SECRETS_NAMESPACE")]
    pub namespace: Option<String>,

    /// The name of the kubeconfig context to use
    #[arg(long, global = true, env = "SEALED_SECRETS_CONTEXT")]
    pub context: Option<String>,

    /// The name of the kubeconfig cluster to use
    #[arg(long, global = true, env = "SEALED_SECRETS_CLUSTER")]
    pub cluster: Option<String>,

    /// The name of the kubeconfig user to use
    #[arg(long, global = true, env = "SEALED_SECRETS_USER")]
    pub user: Option<String>,

    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, global = true, env = "SEALED_SECRETS_SERVER")]
    pub server: Option<String>,

    /// Bearer token for authentication to the API server
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Username to impersonate for the operation
    #[arg(
        long = "as",
        global = true,
        env = "SEALED_SECRETS_AS",
        value_name = "USER"
    )]
    pub as_user: Option<String>,

    /// Group to impersonate for the operation (repeatable)
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_AS_GROUP",
        value_name = "GROUP"
    )]
    pub as_group: Vec<String>,

    /// Path to a cert file for the certificate authority
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_CERTIFICATE_AUTHORITY",
        value_name = "FILE"
    )]
    pub certificate_authority: Option<String>,

    /// Path to a client certificate file for TLS
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_CLIENT_CERTIFICATE",
        value_name = "FILE"
    )]
    pub client_certificate: Option<String>,

    /// Path to a client key file for TLS
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_CLIENT_KEY",
        value_name = "FILE"
    )]
    pub client_key: Option<String>,

    /// Server name to use for server certificate validation
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_TLS_SERVER_NAME",
        value_name = "NAME"
    )]
    pub tls_server_name: Option<String>,

    /// Don't check the server's certificate. This makes HTTPS connections insecure
    #[arg(long, global = true, env = "SEALED_SECRETS_INSECURE_SKIP_TLS_VERIFY", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true, value_parser = parse_bool)]
    pub insecure_skip_tls_verify: bool,

    /// How long to wait for a single server request (e.g. 1s, 2m, 3h); 0 means the 10s default
    #[arg(
        long,
        global = true,
        env = "SEALED_SECRETS_REQUEST_TIMEOUT",
        value_name = "DURATION"
    )]
    pub request_timeout: Option<String>,
}

/// Parses a boolean flag value as Go's `strconv.ParseBool` (and so pflag) does: `--raw`,
/// `--raw=true`, `--raw=false`, `--raw=1`, `--raw=F`; the same forms in `SEALED_SECRETS_<FLAG>`.
///
/// # Errors
///
/// A message quoting the value and listing the accepted forms.
pub fn parse_bool(input: &str) -> Result<bool, String> {
    match input {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(format!(
            "invalid boolean {other:?}: use true or false (or 1, t, T, TRUE, True, 0, f, F, FALSE, False)"
        )),
    }
}

/// Subcommands beyond kubeseal (additive: without one, kubectl-seal is kubeseal).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the sealing certificate (from --cert or the controller); fingerprint and expiry go
    /// to stderr
    Cert {
        /// Print only the key ID (SHA256:…) instead of the PEM
        #[arg(long)]
        fingerprint: bool,
    },
    /// Decrypt sealed secrets offline with --recovery-private-key (same as --recovery-unseal)
    Unseal {
        /// Sealed secret files to decrypt [default: stdin]
        files: Vec<PathBuf>,
        /// Output format: json or yaml [default: json]
        #[arg(short = 'o', long = "format", value_name = "FORMAT")]
        format: Option<String>,
    },
    /// Seal one item anew into a sealed secret file, leaving every other byte as it was
    Set {
        /// The sealed secret file to edit
        file: PathBuf,
        /// The item to set
        key: String,
        /// The value, literally
        #[arg(long, value_name = "VALUE", conflicts_with = "from_file")]
        from_literal: Option<String>,
        /// The value, from a file [default: stdin]
        #[arg(long, value_name = "PATH")]
        from_file: Option<PathBuf>,
    },
    /// Remove one item from a sealed secret file, leaving every other byte as it was
    Unset {
        /// The sealed secret file to edit
        file: PathBuf,
        /// The item to remove
        key: String,
    },
    /// Check sealed secret files: offline with --cert, else with the controller (/v1/verify)
    Validate {
        /// Files to check
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Re-seal every SealedSecret under the given files or directories with the newest key:
    /// via the controller, or offline with --recovery-private-key and --cert
    Reencrypt {
        /// Files or directories (*.yaml, *.yml, *.json, recursively)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Only report what would change
        #[arg(long)]
        dry_run: bool,
    },
    /// Serve the sealing page on this machine and open it in a browser: seal in the page, with
    /// --cert or the controller's certificate, nothing else fetched or sent
    Ui {
        /// Address to listen on; a port of 0 picks a free one. Keep it on loopback
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
        listen: String,
        /// Print the page's URL without opening a browser
        #[arg(long)]
        no_browser: bool,
    },
    /// Print a shell completion script
    Completion {
        /// The shell
        shell: clap_complete::Shell,
    },
}
