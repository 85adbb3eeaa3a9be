//! Flags become a validated plan before any I/O (SPEC §9 mode precedence).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use seal_api::{Format, Scope};

use crate::cli::{Cli, Command, ConnFlags, SealFlags};
use crate::cluster::ClusterOpts;

/// Where the sealing certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertSource {
    /// A local file (`--cert PATH` or `file://PATH`).
    File(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
    /// The controller, through the API server's service proxy.
    Controller,
}

impl CertSource {
    /// Parses `--cert`: `http(s)://` is a URL, `file://` a file, anything else (a drive letter
    /// included) a path.
    pub fn parse(cert: Option<&str>) -> CertSource {
        match cert.filter(|c| !c.is_empty()) {
            None => CertSource::Controller,
            Some(c) if c.starts_with("http://") || c.starts_with("https://") => {
                CertSource::Url(c.to_owned())
            }
            Some(c) => CertSource::File(PathBuf::from(c.strip_prefix("file://").unwrap_or(c))),
        }
    }
}

/// Where input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

/// What kubeseal mode (or subcommand) runs, with its own inputs.
#[derive(Debug)]
pub enum Mode {
    /// `--recovery-unseal`, or `unseal`.
    RecoveryUnseal { inputs: Vec<Input> },
    /// `--validate`.
    Validate,
    /// `--re-encrypt`.
    ReEncrypt,
    /// `--fetch-cert`.
    FetchCert,
    /// `--merge-into FILE`.
    MergeInto(PathBuf),
    /// `--raw`: the value from a file, or stdin.
    Raw(Option<PathBuf>),
    /// Seal Secrets (the default).
    Seal,
    /// `cert`.
    Cert { fingerprint: bool },
    /// `set FILE KEY`.
    Set {
        file: PathBuf,
        key: String,
        value: ValueSource,
    },
    /// `unset FILE KEY`.
    Unset { file: PathBuf, key: String },
    /// `validate FILE...`.
    ValidateFiles(Vec<PathBuf>),
    /// `reencrypt PATH...`.
    Reencrypt { paths: Vec<PathBuf>, dry_run: bool },
    /// `ui`: serve the sealing page.
    Ui { listen: String, open_browser: bool },
    /// `completion SHELL`.
    Completion(clap_complete::Shell),
}

/// Where `set` reads the value.
#[derive(Debug)]
pub enum ValueSource {
    /// `--from-literal`.
    Literal(String),
    /// `--from-file`.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// A validated command line.
#[derive(Debug)]
pub struct Plan {
    /// The mode to run.
    pub mode: Mode,
    /// `-f`.
    pub input: Input,
    /// `-w`.
    pub output: Option<PathBuf>,
    /// `-o`, when given.
    pub format: Option<Format>,
    /// `--scope`, when given.
    pub scope: Option<Scope>,
    /// `--name`.
    pub name: Option<String>,
    /// `--allow-empty-data`.
    pub allow_empty_data: bool,
    /// `--pq`: seal in the hybrid post-quantum format (and upgrade when re-encrypting).
    pub pq: bool,
    /// `--top-level-label`.
    pub top_level_labels: Vec<String>,
    /// `--top-level-annotation`.
    pub top_level_annotations: Vec<String>,
    /// `--cert`.
    pub cert: CertSource,
    /// `--recovery-private-key`.
    pub recovery_keys: Vec<PathBuf>,
    /// Cluster access.
    pub cluster: ClusterOpts,
}

/// The request timeout when none is given: nothing waits forever.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses `-o`: json or yaml, any case.
pub fn parse_format(s: &str) -> Result<Format> {
    match s.to_ascii_lowercase().as_str() {
        "json" => Ok(Format::Json),
        "yaml" => Ok(Format::Yaml),
        _ => bail!("unsupported output format: {s}"),
    }
}

/// Parses a kubectl duration: a bare number of seconds, or a Go duration such as `1s`, `2m`,
/// `1h30m`, `500ms`. Zero means the default.
pub fn parse_timeout(s: &str) -> Result<Duration> {
    let bad =
        || format!("invalid --request-timeout {s:?}: use a number with a unit, e.g. 1s, 2m or 3h");
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(if secs == 0 {
            DEFAULT_TIMEOUT
        } else {
            Duration::from_secs(secs)
        });
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        bail!(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .with_context(bad)?;
        let (num, tail) = rest.split_at(digits);
        let num: f64 = num.parse().ok().with_context(bad)?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let secs = match unit {
            "ns" => num / 1e9,
            "us" | "µs" => num / 1e6,
            "ms" => num / 1e3,
            "s" => num,
            "m" => num * 60.0,
            "h" => num * 3600.0,
            _ => bail!(bad()),
        };
        total += Duration::from_secs_f64(secs);
        rest = tail;
    }
    Ok(if total.is_zero() {
        DEFAULT_TIMEOUT
    } else {
        total
    })
}

impl Plan {
    /// Validates the command line into a plan, without any I/O.
    ///
    /// # Errors
    ///
    /// Bad flag values and combinations, with kubeseal's messages where SPEC §9 quotes them.
    pub fn from_cli(cli: Cli) -> Result<Plan> {
        let Cli {
            version: _,
            seal,
            conn,
            command,
        } = cli;
        let SealFlags {
            format,
            secret_file,
            sealed_secret_file,
            fetch_cert,
            allow_empty_data,
            pq,
            scope,
            validate,
            merge_into,
            raw,
            name,
            from_file,
            re_encrypt,
            recovery_unseal,
            top_level_label,
            top_level_annotation,
        } = seal;

        if !from_file.is_empty() && !raw {
            bail!("--from-file requires --raw");
        }
        if raw && from_file.len() > 1 {
            bail!("must provide only one --from-file when encrypting a single item with --raw");
        }
        let mut format = format.as_deref().map(parse_format).transpose()?;
        let scope = scope
            .as_deref()
            .map(str::parse::<Scope>)
            .transpose()
            .map_err(anyhow::Error::new)?;
        let cluster = cluster_opts(&conn)?;
        let cert = CertSource::parse(conn.cert.as_deref());
        let input = secret_file.map_or(Input::Stdin, Input::File);

        let mode = match command {
            Some(Command::Cert { fingerprint }) => Mode::Cert { fingerprint },
            Some(Command::Unseal {
                files,
                format: sub_format,
            }) => {
                if let Some(f) = sub_format.as_deref() {
                    format = Some(parse_format(f)?);
                }
                let inputs = if files.is_empty() {
                    vec![input.clone()]
                } else {
                    files.into_iter().map(Input::File).collect()
                };
                Mode::RecoveryUnseal { inputs }
            }
            Some(Command::Set {
                file,
                key,
                from_literal,
                from_file,
            }) => Mode::Set {
                file,
                key,
                value: match (from_literal, from_file) {
                    (Some(v), _) => ValueSource::Literal(v),
                    (None, Some(p)) => ValueSource::File(p),
                    (None, None) => ValueSource::Stdin,
                },
            },
            Some(Command::Unset { file, key }) => Mode::Unset { file, key },
            Some(Command::Validate { files }) => Mode::ValidateFiles(files),
            Some(Command::Reencrypt { paths, dry_run }) => Mode::Reencrypt { paths, dry_run },
            Some(Command::Ui { .. }) if pq => bail!(
                "--pq: the sealing page seals classical items only (browsers have no ML-KEM-768 yet); seal post-quantum with kubectl seal --pq, or unset SEALED_SECRETS_PQ for ui"
            ),
            Some(Command::Ui { listen, no_browser }) => Mode::Ui {
                listen,
                open_browser: !no_browser,
            },
            Some(Command::Completion { shell }) => Mode::Completion(shell),
            None if recovery_unseal => Mode::RecoveryUnseal {
                inputs: vec![input.clone()],
            },
            None if validate => Mode::Validate,
            None if re_encrypt => Mode::ReEncrypt,
            None if fetch_cert => Mode::FetchCert,
            None => match merge_into {
                Some(path) => Mode::MergeInto(path),
                None if raw => Mode::Raw(from_file.first().map(|f| {
                    // `name=path`: the name is ignored.
                    PathBuf::from(f.split_once('=').map_or(f.as_str(), |(_, p)| p))
                })),
                None => Mode::Seal,
            },
        };
        Ok(Plan {
            mode,
            input,
            output: sealed_secret_file,
            format,
            scope,
            name: name.filter(|n| !n.is_empty()),
            allow_empty_data,
            pq,
            top_level_labels: top_level_label,
            top_level_annotations: top_level_annotation,
            cert,
            recovery_keys: conn.recovery_private_key,
            cluster,
        })
    }

    /// The output format: `.yaml`/`.yml` for `-w` forces YAML, else `-o`, else JSON.
    pub fn output_format(&self) -> Format {
        let yaml_file = self.output.as_ref().is_some_and(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
        });
        if yaml_file {
            Format::Yaml
        } else {
            self.format.unwrap_or_default()
        }
    }
}

fn cluster_opts(conn: &ConnFlags) -> Result<ClusterOpts> {
    let timeout = conn
        .request_timeout
        .as_deref()
        .map(parse_timeout)
        .transpose()?
        .unwrap_or(DEFAULT_TIMEOUT);
    Ok(ClusterOpts {
        kubeconfig: conn.kubeconfig.clone(),
        namespace: conn.namespace.clone().filter(|n| !n.is_empty()),
        context: conn.context.clone(),
        cluster: conn.cluster.clone(),
        user: conn.user.clone(),
        server: conn.server.clone(),
        token: conn.token.clone(),
        as_user: conn.as_user.clone(),
        as_groups: conn.as_group.clone(),
        certificate_authority: conn.certificate_authority.clone(),
        client_certificate: conn.client_certificate.clone(),
        client_key: conn.client_key.clone(),
        tls_server_name: conn.tls_server_name.clone(),
        insecure_skip_tls_verify: conn.insecure_skip_tls_verify,
        timeout,
        controller_name: conn.controller_name.clone().filter(|n| !n.is_empty()),
        controller_namespace: conn.controller_namespace.clone().filter(|n| !n.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_in_any_case_and_others_are_named() {
        assert_eq!(parse_format("YAML").ok(), Some(Format::Yaml));
        assert_eq!(parse_format("Json").ok(), Some(Format::Json));
        let err = parse_format("xml").expect_err("xml");
        assert_eq!(err.to_string(), "unsupported output format: xml");
    }

    #[test]
    fn timeouts_parse_like_kubectl() {
        assert_eq!(parse_timeout("1s").ok(), Some(Duration::from_secs(1)));
        assert_eq!(parse_timeout("5").ok(), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("1m30s").ok(), Some(Duration::from_secs(90)));
        assert_eq!(
            parse_timeout("250ms").ok(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_timeout("0").ok(), Some(DEFAULT_TIMEOUT));
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("1x").is_err());
    }

    #[test]
    fn cert_sources_follow_the_scheme() {
        assert_eq!(CertSource::parse(None), CertSource::Controller);
        assert_eq!(CertSource::parse(Some("")), CertSource::Controller);
        assert_eq!(
            CertSource::parse(Some("https://x/cert.pem")),
            CertSource::Url("https://x/cert.pem".into())
        );
        assert_eq!(
            CertSource::parse(Some("file:///tmp/c.pem")),
            CertSource::File("/tmp/c.pem".into())
        );
        assert_eq!(
            CertSource::parse(Some(r"C:\certs\c.pem")),
            CertSource::File(r"C:\certs\c.pem".into())
        );
    }
}
