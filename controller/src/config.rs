//! The controller's flags (SPEC §8): upstream's names, defaults and Go value syntax.
//!
//! Every flag can also be set through `SEALED_SECRETS_<FLAG>` (uppercase, `_` for `-`); the
//! command line wins. Durations use Go's syntax (`720h30m`, `1.5h`, `300ms`; there is no `d`),
//! booleans Go's `strconv.ParseBool` forms (`--flag`, `--flag=false`, `--flag=0`, `--flag=F`).
//! A malformed value stops startup with an error naming the flag.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use clap::Parser;

/// Longest accepted `--key-prefix`: a generated name adds 5 characters and must fit in 253.
pub const MAX_KEY_PREFIX_LEN: usize = 245;

/// How key Secrets rank against each other (`--key-order-priority`): the newest is the
/// sealing key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyOrder {
    /// By the certificate's NotBefore (upstream's default).
    #[default]
    CertNotBefore,
    /// By the key Secret's `metadata.creationTimestamp`.
    SecretCreationTimestamp,
}

impl KeyOrder {
    /// The flag value, as upstream spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOrder::CertNotBefore => "CertNotBefore",
            KeyOrder::SecretCreationTimestamp => "SecretCreationTimestamp",
        }
    }
}

impl fmt::Display for KeyOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "CertNotBefore" => Ok(KeyOrder::CertNotBefore),
            "SecretCreationTimestamp" => Ok(KeyOrder::SecretCreationTimestamp),
            other => Err(format!(
                "invalid key order priority {other:?}: must be CertNotBefore or SecretCreationTimestamp"
            )),
        }
    }
}

/// The controller's command line; see SPEC §8 for each flag's meaning.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "controller",
    disable_version_flag = true,
    args_override_self = true,
    about = "Sealed Secrets controller (seal)"
)]
pub struct Config {
    /// Print version information and exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub version: bool,

    /// Prefix used to name keys (the key Secrets' generateName, and the legacy key Secret's name).
    #[arg(long, env = "SEALED_SECRETS_KEY_PREFIX", default_value = seal_api::DEFAULT_KEY_PREFIX, value_parser = parse_key_prefix)]
    pub key_prefix: String,

    /// Size of encryption key, in bits.
    #[arg(long, env = "SEALED_SECRETS_KEY_SIZE", default_value_t = 4096)]
    pub key_size: usize,

    /// Duration that certificate is valid for.
    #[arg(long, env = "SEALED_SECRETS_KEY_TTL", default_value = "87600h", value_parser = parse_duration)]
    pub key_ttl: Duration,

    /// Common name to be used as issuer/subject DN in generated certificate (empty: an empty DN).
    #[arg(long, env = "SEALED_SECRETS_MY_CN", default_value = "")]
    pub my_cn: String,

    /// Create a new key if the newest one's certificate predates this time (RFC1123Z, e.g.
    /// "Mon, 02 Jan 2006 15:04:05 -0700").
    #[arg(long, env = "SEALED_SECRETS_KEY_CUTOFF_TIME", default_value = "", value_parser = parse_cutoff_time)]
    pub key_cutoff_time: ::std::option::Option<SystemTime>,

    /// New key generation period (automatic rotation disabled if 0).
    #[arg(long, visible_alias = "rotate-period", env = "SEALED_SECRETS_KEY_RENEW_PERIOD", default_value = "720h", value_parser = parse_duration)]
    pub key_renew_period: Duration,

    /// Ordering of keys based on NotBefore certificate attribute or secret creation timestamp
    /// (CertNotBefore or SecretCreationTimestamp).
    #[arg(long, env = "SEALED_SECRETS_KEY_ORDER_PRIORITY", default_value = "CertNotBefore", value_parser = KeyOrder::from_str)]
    pub key_order_priority: KeyOrder,

    /// Accept the deprecated v1 `spec.data` field.
    #[arg(long, env = "SEALED_SECRETS_ACCEPT_DEPRECATED_V1_DATA", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub accept_deprecated_v1_data: bool,

    /// Scan all namespaces or only the current namespace.
    #[arg(long, env = "SEALED_SECRETS_ALL_NAMESPACES", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub all_namespaces: bool,

    /// Comma-separated list of additional namespaces to be scanned.
    #[arg(long, env = "SEALED_SECRETS_ADDITIONAL_NAMESPACES", default_value = "", value_parser = parse_list)]
    pub additional_namespaces: ::std::vec::Vec<String>,

    /// Label selector for SealedSecrets and Secrets the controller watches.
    #[arg(long, env = "SEALED_SECRETS_LABEL_SELECTOR", default_value = "")]
    pub label_selector: String,

    /// Number of allowed sustained requests per second for the verify endpoint (0: no limit).
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT", default_value_t = 2)]
    pub rate_limit: u32,

    /// Number of requests allowed to exceed the rate limit per second for the verify endpoint.
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT_BURST", default_value_t = 2)]
    pub rate_limit_burst: u32,

    /// Labels added to generated key Secrets, `k=v,k=v`.
    #[arg(long, env = "SEALED_SECRETS_PRIVATEKEY_LABELS", default_value = "", value_parser = parse_key_values)]
    pub privatekey_labels: ::std::collections::BTreeMap<String, String>,

    /// Annotations added to generated key Secrets, `k=v,k=v`.
    #[arg(long, env = "SEALED_SECRETS_PRIVATEKEY_ANNOTATIONS", default_value = "", value_parser = parse_key_values)]
    pub privatekey_annotations: ::std::collections::BTreeMap<String, String>,

    /// Write SealedSecret status.
    #[arg(long, env = "SEALED_SECRETS_UPDATE_STATUS", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub update_status: bool,

    /// Watch key Secrets and reload keys on change (ours defaults to true; upstream false).
    #[arg(long, env = "SEALED_SECRETS_WATCH_FOR_SECRETS", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub watch_for_secrets: bool,

    /// Do not recreate a deleted Secret owned by a SealedSecret.
    #[arg(long, env = "SEALED_SECRETS_SKIP_RECREATE", default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub skip_recreate: bool,

    /// Delete the Secret explicitly when its SealedSecret is deleted.
    #[arg(long, env = "SEALED_SECRETS_OLD_GC_BEHAVIOR", default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub old_gc_behavior: bool,

    /// Max unseal retries.
    #[arg(long, env = "SEALED_SECRETS_MAX_UNSEAL_RETRIES", default_value_t = 5)]
    pub max_unseal_retries: u32,

    /// Log level (DEBUG, INFO, WARN, ERROR; any case).
    #[arg(long, env = "SEALED_SECRETS_LOG_LEVEL", default_value = "INFO", value_parser = parse_log_level)]
    pub log_level: String,

    /// Log format (text or json).
    #[arg(long, env = "SEALED_SECRETS_LOG_FORMAT", default_value = "text", value_parser = parse_log_format)]
    pub log_format: String,

    /// Send info-level logs to stdout (and the rest to stderr).
    #[arg(long, env = "SEALED_SECRETS_LOG_INFO_STDOUT", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub log_info_stdout: bool,

    /// Kubernetes client queries per second.
    #[arg(long, env = "SEALED_SECRETS_KUBECLIENT_QPS", default_value_t = 5.0)]
    pub kubeclient_qps: f32,

    /// Kubernetes client burst.
    #[arg(long, env = "SEALED_SECRETS_KUBECLIENT_BURST", default_value_t = 10)]
    pub kubeclient_burst: u32,

    /// HTTP listen address (Go syntax: `:8080` is every interface).
    #[arg(long, env = "SEALED_SECRETS_LISTEN_ADDR", default_value = ":8080", value_parser = parse_listen_addr_flag)]
    pub listen_addr: String,

    /// Metrics listen address (Go syntax).
    #[arg(long, env = "SEALED_SECRETS_LISTEN_METRICS_ADDR", default_value = ":8081", value_parser = parse_listen_addr_flag)]
    pub listen_metrics_addr: String,

    /// HTTP request read timeout.
    #[arg(long, env = "SEALED_SECRETS_READ_TIMEOUT", default_value = "2m", value_parser = parse_duration)]
    pub read_timeout: Duration,

    /// HTTP response write timeout.
    #[arg(long, env = "SEALED_SECRETS_WRITE_TIMEOUT", default_value = "2m", value_parser = parse_duration)]
    pub write_timeout: Duration,

    /// Elect a leader through a Lease, so several replicas can run (only the leader reconciles
    /// and renews keys; every replica serves the HTTP API).
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT", default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub leader_elect: bool,

    /// Number of SealedSecrets reconciled in parallel (default: the number of CPUs, at least 2).
    #[arg(long, env = "SEALED_SECRETS_WORKERS", default_value_t = default_workers(), value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: u16,

    /// Restore an owned Secret edited by someone else (drift self-heal).
    #[arg(long, env = "SEALED_SECRETS_SELF_HEAL", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub self_heal: bool,

    /// Do not serve the sealing page (`/ui/`, and `/` redirecting to it) on --listen-addr.
    #[arg(long, env = "SEALED_SECRETS_DISABLE_UI", default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pub disable_ui: bool,
}

impl Config {
    /// What `--version` prints on stdout: upstream's line, which scripts and upstream's tests
    /// parse, naming the upstream release this controller stands in for.
    pub fn version_line() -> String {
        format!("controller version: {}", seal_api::UPSTREAM_VERSION)
    }

    /// The `tracing` filter directive for `--log-level` (`debug`, `info`, `warn` or `error`).
    pub fn log_filter(&self) -> &'static str {
        match self.log_level.to_ascii_lowercase().as_str() {
            "debug" => "debug",
            "warn" | "warning" => "warn",
            "error" => "error",
            _ => "info",
        }
    }

    /// True for `--log-format=json`.
    pub fn log_json(&self) -> bool {
        self.log_format.eq_ignore_ascii_case("json")
    }

    /// The namespaces to watch besides (or instead of) all: `--additional-namespaces`, without
    /// duplicates, in the given order.
    pub fn additional_namespaces(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for ns in &self.additional_namespaces {
            if !out.contains(ns) {
                out.push(ns.clone());
            }
        }
        out
    }
}

fn default_workers() -> u16 {
    let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    u16::try_from(cpus.max(2)).unwrap_or(u16::MAX)
}

/// Parses a Go duration (`time.ParseDuration`): a sequence of decimal numbers with an optional
/// fraction and a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), like `1h30m` or `1.5h`;
/// `0` alone needs no unit. Negative durations are refused (no flag takes one).
///
/// # Errors
///
/// A message quoting the value, in Go's words where Go has them.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {input:?}");
    let mut s = input;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0; // nanoseconds
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, rest) = s.split_at(int_len);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(r) => {
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                r.split_at(n)
            }
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let (unit, rest) = rest.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {input:?}")),
            other => {
                return Err(format!(
                    "time: unknown unit {other:?} in duration {input:?} (use ns, us, ms, s, m or h)"
                ));
            }
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut nanos = whole.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Go keeps the fraction's precision up to the unit's nanoseconds.
            let digits = &frac_part[..frac_part.len().min(30)];
            let frac: u128 = digits.parse().map_err(|_| invalid())?;
            let denom = 10u128
                .checked_pow(digits.len() as u32)
                .ok_or_else(invalid)?;
            nanos = nanos
                .checked_add(frac.checked_mul(scale).ok_or_else(invalid)? / denom)
                .ok_or_else(invalid)?;
        }
        total = total.checked_add(nanos).ok_or_else(invalid)?;
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
        s = rest;
    }
    if negative && total != 0 {
        return Err(format!("negative duration {input:?} is not allowed"));
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| invalid())?;
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| invalid())?;
    Ok(Duration::new(secs, nanos))
}

/// Parses a Go boolean (`strconv.ParseBool`): `1 t T TRUE true True 0 f F FALSE false False`.
///
/// # Errors
///
/// A message quoting the value.
pub fn parse_bool(input: &str) -> Result<bool, String> {
    match input {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(format!(
            "invalid boolean {other:?}: use true or false (or 1, t, T, TRUE, True, 0, f, F, FALSE, False)"
        )),
    }
}

/// Parses a `k=v,k=v` list (`--privatekey-labels`, `--privatekey-annotations`). Blank entries
/// are skipped; spaces around keys and values are trimmed.
///
/// # Errors
///
/// An entry without `=` or with an empty key.
pub fn parse_key_values(input: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for entry in input.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((k, v)) = entry.split_once('=') else {
            return Err(format!(
                "invalid entry {entry:?}: expected key=value (a comma-separated list of key=value pairs)"
            ));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("invalid entry {entry:?}: the key is empty"));
        }
        out.insert(k.to_owned(), v.trim().to_owned());
    }
    Ok(out)
}

/// Parses a comma-separated list, dropping blanks.
///
/// # Errors
///
/// Never; the signature suits clap.
pub fn parse_list(input: &str) -> Result<Vec<String>, String> {
    Ok(input
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Parses `--key-cutoff-time` (RFC1123Z); empty means none.
///
/// # Errors
///
/// A message with the expected layout.
pub fn parse_cutoff_time(input: &str) -> Result<Option<SystemTime>, String> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    jiff::Timestamp::strptime("%a, %d %b %Y %H:%M:%S %z", input)
        .map(|t| Some(SystemTime::from(t)))
        .map_err(|e| {
            format!(
                "invalid time {input:?}: expected RFC1123Z, like \"Mon, 02 Jan 2006 15:04:05 -0700\" ({e})"
            )
        })
}

/// Validates `--key-prefix`: lowercase letters, digits and `-`, at most 245 characters.
///
/// # Errors
///
/// A message naming the rule broken.
pub fn parse_key_prefix(input: &str) -> Result<String, String> {
    if input.is_empty() {
        return Err("the key prefix must not be empty".to_owned());
    }
    if input.len() > MAX_KEY_PREFIX_LEN {
        return Err(format!(
            "the key prefix is {} characters long, more than {MAX_KEY_PREFIX_LEN}",
            input.len()
        ));
    }
    if let Some(c) = input
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "invalid key prefix {input:?}: {c:?} is not allowed (use a-z, 0-9 and -)"
        ));
    }
    Ok(input.to_owned())
}

fn parse_log_level(input: &str) -> Result<String, String> {
    match input.to_ascii_lowercase().as_str() {
        "debug" | "info" | "warn" | "warning" | "error" => Ok(input.to_owned()),
        _ => Err(format!(
            "invalid log level {input:?}: use DEBUG, INFO, WARN or ERROR"
        )),
    }
}

fn parse_log_format(input: &str) -> Result<String, String> {
    match input.to_ascii_lowercase().as_str() {
        "text" | "json" => Ok(input.to_ascii_lowercase()),
        _ => Err(format!("invalid log format {input:?}: use text or json")),
    }
}

fn parse_listen_addr_flag(input: &str) -> Result<String, String> {
    listen_socket_addr(input)?;
    Ok(input.to_owned())
}

/// Resolves a Go listen address: `:8080` and `0.0.0.0:8080` listen on every IPv4 interface,
/// `[::]:8080` on IPv6, `127.0.0.1:8080` on one; `localhost` means 127.0.0.1.
///
/// # Errors
///
/// A message quoting an address that is not `host:port`.
pub fn listen_socket_addr(input: &str) -> Result<SocketAddr, String> {
    let bad = || format!("invalid listen address {input:?}: expected [host]:port, like :8080");
    let (host, port) = input.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = match host {
        "" | "0.0.0.0" => std::net::Ipv4Addr::UNSPECIFIED.into(),
        "localhost" => std::net::Ipv4Addr::LOCALHOST.into(),
        h => h.parse().map_err(|_| bad())?,
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("controller").chain(args.iter().copied()))
    }

    #[test_case("720h", 720 * 3600, 0)]
    #[test_case("720h30m", 720 * 3600 + 1800, 0)]
    #[test_case("1.5h", 5400, 0)]
    #[test_case("300ms", 0, 300_000_000)]
    #[test_case("2m", 120, 0)]
    #[test_case("1h2m3s4ms5us6ns", 3723, 4_005_006)]
    #[test_case("10µs", 0, 10_000; "micro sign")]
    #[test_case("10μs", 0, 10_000; "greek mu")]
    #[test_case("0", 0, 0)]
    #[test_case("0s", 0, 0)]
    #[test_case("+5s", 5, 0)]
    #[test_case(".5s", 0, 500_000_000)]
    #[test_case("87600h", 87600 * 3600, 0)]
    fn durations_parse_as_go_does(input: &str, secs: u64, nanos: u32) {
        assert_eq!(parse_duration(input), Ok(Duration::new(secs, nanos)));
    }

    #[test_case(""; "empty")]
    #[test_case("1d"; "no d unit")]
    #[test_case("10"; "missing unit")]
    #[test_case("h"; "no number")]
    #[test_case("-5s"; "negative")]
    #[test_case("1.h.5"; "garbage")]
    #[test_case("99999999999999h"; "overflow")]
    fn bad_durations_are_errors(input: &str) {
        assert!(parse_duration(input).is_err(), "{input:?}");
    }

    #[test]
    fn unknown_unit_is_named() {
        let err = parse_duration("30d").expect_err("d is no unit");
        assert!(err.contains("unknown unit \"d\""), "{err}");
    }

    #[test_case("1", true)]
    #[test_case("t", true)]
    #[test_case("T", true)]
    #[test_case("TRUE", true)]
    #[test_case("True", true)]
    #[test_case("true", true)]
    #[test_case("0", false)]
    #[test_case("f", false)]
    #[test_case("F", false)]
    #[test_case("FALSE", false)]
    #[test_case("False", false)]
    #[test_case("false", false)]
    fn booleans_parse_as_go_does(input: &str, want: bool) {
        assert_eq!(parse_bool(input), Ok(want));
    }

    #[test_case("yes")]
    #[test_case("tRuE")]
    #[test_case("")]
    fn bad_booleans_are_errors(input: &str) {
        assert!(parse_bool(input).is_err());
    }

    #[test]
    fn defaults_match_spec() {
        let cfg = parse(&[]).expect("defaults parse");
        assert_eq!(cfg.key_prefix, "sealed-secrets-key");
        assert_eq!(cfg.key_size, 4096);
        assert_eq!(cfg.key_ttl, Duration::from_secs(87600 * 3600));
        assert_eq!(cfg.my_cn, "");
        assert_eq!(cfg.key_cutoff_time, None);
        assert_eq!(cfg.key_renew_period, Duration::from_secs(720 * 3600));
        assert_eq!(cfg.key_order_priority, KeyOrder::CertNotBefore);
        assert!(cfg.accept_deprecated_v1_data);
        assert!(cfg.all_namespaces);
        assert!(cfg.additional_namespaces.is_empty());
        assert_eq!(cfg.label_selector, "");
        assert_eq!((cfg.rate_limit, cfg.rate_limit_burst), (2, 2));
        assert!(cfg.privatekey_labels.is_empty());
        assert!(cfg.privatekey_annotations.is_empty());
        assert!(cfg.update_status);
        assert!(cfg.watch_for_secrets);
        assert!(!cfg.skip_recreate);
        assert!(!cfg.old_gc_behavior);
        assert_eq!(cfg.max_unseal_retries, 5);
        assert_eq!(cfg.log_level, "INFO");
        assert_eq!(cfg.log_filter(), "info");
        assert_eq!(cfg.log_format, "text");
        assert!(cfg.log_info_stdout);
        assert!((cfg.kubeclient_qps - 5.0).abs() < f32::EPSILON);
        assert_eq!(cfg.kubeclient_burst, 10);
        assert_eq!(cfg.listen_addr, ":8080");
        assert_eq!(cfg.listen_metrics_addr, ":8081");
        assert_eq!(cfg.read_timeout, Duration::from_secs(120));
        assert_eq!(cfg.write_timeout, Duration::from_secs(120));
        assert!(!cfg.leader_elect);
        assert!(cfg.workers >= 2);
        assert!(cfg.self_heal);
    }

    #[test]
    fn booleans_take_go_flag_forms() {
        let cfg = parse(&[
            "--update-status=false",
            "--skip-recreate",
            "--old-gc-behavior=1",
            "--watch-for-secrets=F",
            "--leader-elect=True",
            "--self-heal=0",
        ])
        .expect("parses");
        assert!(!cfg.update_status);
        assert!(cfg.skip_recreate);
        assert!(cfg.old_gc_behavior);
        assert!(!cfg.watch_for_secrets);
        assert!(cfg.leader_elect);
        assert!(!cfg.self_heal);
        assert!(parse(&["--update-status=nope"]).is_err());
    }

    /// pflag semantics: a flag given twice takes the last value, as scripts and wrappers
    /// that append flags rely on; booleans too, in every Go form.
    #[test]
    fn repeated_flags_take_the_last_value() {
        let cfg = parse(&[
            "--key-prefix=first",
            "--key-prefix",
            "second",
            "--key-renew-period=1h",
            "--rotate-period=2h",
            "--update-status=false",
            "--update-status",
            "--self-heal",
            "--self-heal=false",
            "--additional-namespaces=a,b",
            "--additional-namespaces=c",
            "--privatekey-labels=x=1",
            "--privatekey-labels=y=2",
            "--listen-addr=:1",
            "--listen-addr=127.0.0.1:2",
            "--kubeclient-qps=1",
            "--kubeclient-qps=7.5",
            "--log-level=debug",
            "--log-level=error",
        ])
        .expect("repeated flags parse");
        assert_eq!(cfg.key_prefix, "second");
        assert_eq!(cfg.key_renew_period, Duration::from_secs(7200));
        assert!(cfg.update_status);
        assert!(!cfg.self_heal);
        assert_eq!(cfg.additional_namespaces, ["c"]);
        assert_eq!(
            cfg.privatekey_labels,
            BTreeMap::from([("y".to_owned(), "2".to_owned())])
        );
        assert_eq!(cfg.listen_addr, "127.0.0.1:2");
        assert!((cfg.kubeclient_qps - 7.5).abs() < f32::EPSILON);
        assert_eq!(cfg.log_filter(), "error");
        // A bad value is still an error, wherever it stands.
        assert!(parse(&["--key-size=x", "--key-size=2048"]).is_err());
    }

    #[test]
    fn version_is_upstreams_line() {
        assert!(!parse(&[]).expect("defaults").version);
        assert!(parse(&["--version"]).expect("parses").version);
        assert!(
            !parse(&["--version", "--version=false"])
                .expect("parses")
                .version
        );
        let line = Config::version_line();
        let rest = line
            .strip_prefix("controller version: v")
            .expect("upstream's prefix");
        let parts: Vec<&str> = rest.split('.').collect();
        assert_eq!(parts.len(), 3, "{line}");
        assert!(
            parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
            "{line}"
        );
    }

    #[test]
    fn rotate_period_is_an_alias() {
        let cfg = parse(&["--rotate-period=1h"]).expect("parses");
        assert_eq!(cfg.key_renew_period, Duration::from_secs(3600));
        let cfg = parse(&["--key-renew-period", "0"]).expect("parses");
        assert_eq!(cfg.key_renew_period, Duration::ZERO);
    }

    #[test]
    fn key_value_lists_parse() {
        let cfg = parse(&[
            "--privatekey-labels=team=a, env=prod",
            "--privatekey-annotations",
            "x/y=1,empty=",
        ])
        .expect("parses");
        assert_eq!(
            cfg.privatekey_labels,
            BTreeMap::from([
                ("env".to_owned(), "prod".to_owned()),
                ("team".to_owned(), "a".to_owned())
            ])
        );
        assert_eq!(cfg.privatekey_annotations["x/y"], "1");
        assert_eq!(cfg.privatekey_annotations["empty"], "");
    }

    #[test]
    fn key_value_list_without_equals_is_a_clear_error() {
        let err = parse(&["--privatekey-labels=a=b,oops"]).expect_err("bad list");
        let msg = err.to_string();
        assert!(msg.contains("--privatekey-labels"), "{msg}");
        assert!(msg.contains("\"oops\": expected key=value"), "{msg}");
        assert!(parse_key_values("=v").is_err());
    }

    #[test]
    fn additional_namespaces_split_on_commas() {
        let cfg = parse(&["--additional-namespaces=a, b,,a"]).expect("parses");
        assert_eq!(cfg.additional_namespaces, ["a", "b", "a"]);
        assert_eq!(cfg.additional_namespaces(), ["a", "b"]);
    }

    #[test]
    fn cutoff_time_is_rfc1123z() {
        let cfg = parse(&["--key-cutoff-time=Mon, 02 Jan 2006 15:04:05 -0700"]).expect("parses");
        let want = SystemTime::UNIX_EPOCH + Duration::from_secs(1_136_239_445);
        assert_eq!(cfg.key_cutoff_time, Some(want));
        let err = parse(&["--key-cutoff-time=2006-01-02"]).expect_err("not RFC1123Z");
        assert!(err.to_string().contains("RFC1123Z"), "{err}");
    }

    #[test]
    fn key_order_priority_is_checked() {
        let cfg = parse(&["--key-order-priority=SecretCreationTimestamp"]).expect("parses");
        assert_eq!(cfg.key_order_priority, KeyOrder::SecretCreationTimestamp);
        let err = parse(&["--key-order-priority=Newest"]).expect_err("bad value");
        assert!(
            err.to_string()
                .contains("must be CertNotBefore or SecretCreationTimestamp"),
            "{err}"
        );
    }

    #[test_case("UPPER")]
    #[test_case("with_underscore")]
    #[test_case("")]
    fn bad_key_prefixes_are_refused(prefix: &str) {
        assert!(parse(&["--key-prefix", prefix]).is_err());
    }

    #[test]
    fn key_prefix_length_is_bounded() {
        assert!(parse_key_prefix(&"a".repeat(245)).is_ok());
        assert!(parse_key_prefix(&"a".repeat(246)).is_err());
    }

    #[test]
    fn listen_addresses_use_go_syntax() {
        assert_eq!(
            listen_socket_addr(":8080"),
            Ok("0.0.0.0:8080".parse().expect("addr"))
        );
        assert_eq!(
            listen_socket_addr("127.0.0.1:9"),
            Ok("127.0.0.1:9".parse().expect("addr"))
        );
        assert_eq!(
            listen_socket_addr("[::]:8081"),
            Ok("[::]:8081".parse().expect("addr"))
        );
        assert!(parse(&["--listen-addr=8080"]).is_err());
    }

    #[test]
    fn log_flags_are_checked() {
        let cfg = parse(&["--log-level=debug", "--log-format=JSON"]).expect("parses");
        assert_eq!(cfg.log_filter(), "debug");
        assert!(cfg.log_json());
        assert!(parse(&["--log-level=loud"]).is_err());
        assert!(parse(&["--log-format=xml"]).is_err());
    }

    /// Every flag reads `SEALED_SECRETS_<FLAG>`, and its long name is the field name.
    #[test]
    fn every_flag_has_its_env_var() {
        let cmd = <Config as clap::CommandFactory>::command();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let want = format!("SEALED_SECRETS_{}", id.to_ascii_uppercase());
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(want.as_str()),
                "flag {id}"
            );
            let long = arg.get_long().expect("every flag is long");
            assert_eq!(long.replace('-', "_"), id);
        }
    }

    /// Runs in a child process with the environment set by
    /// [`env_sets_flags_and_the_command_line_wins`] (this crate forbids the `unsafe` that
    /// `std::env::set_var` needs); a no-op otherwise.
    #[test]
    fn env_probe_child() {
        if std::env::var_os("SEAL_CONFIG_ENV_PROBE").is_none() {
            return;
        }
        let cfg = parse(&["--key-size=2048"]).expect("env values parse");
        assert_eq!(cfg.key_size, 2048, "the command line wins");
        assert_eq!(cfg.key_prefix, "from-env");
        assert!(!cfg.update_status);
        assert_eq!(cfg.key_renew_period, Duration::from_secs(90 * 60));
        assert_eq!(cfg.privatekey_labels["a"], "b");
        assert_eq!(cfg.additional_namespaces, ["x", "y"]);
        let from_env_only = Config::try_parse_from(["controller"]).expect("env values parse");
        assert_eq!(from_env_only.key_size, 3072);
    }

    #[test]
    fn env_sets_flags_and_the_command_line_wins() {
        let exe = std::env::current_exe().expect("test binary path");
        let out = std::process::Command::new(exe)
            .args(["--exact", "config::tests::env_probe_child", "--nocapture"])
            .env("SEAL_CONFIG_ENV_PROBE", "1")
            .env("SEALED_SECRETS_KEY_SIZE", "3072")
            .env("SEALED_SECRETS_KEY_PREFIX", "from-env")
            .env("SEALED_SECRETS_UPDATE_STATUS", "false")
            .env("SEALED_SECRETS_KEY_RENEW_PERIOD", "1h30m")
            .env("SEALED_SECRETS_PRIVATEKEY_LABELS", "a=b")
            .env("SEALED_SECRETS_ADDITIONAL_NAMESPACES", "x,y")
            .output()
            .expect("run the probe");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("1 passed"), "the probe ran: {stdout}");
    }

    #[test]
    fn bad_env_value_is_a_startup_error() {
        if std::env::var_os("SEAL_CONFIG_ENV_PROBE_BAD").is_some() {
            let err = Config::try_parse_from(["controller"]).expect_err("bad env list");
            assert!(err.to_string().contains("expected key=value"), "{err}");
            return;
        }
        let exe = std::env::current_exe().expect("test binary path");
        let out = std::process::Command::new(exe)
            .args(["--exact", "config::tests::bad_env_value_is_a_startup_error"])
            .env("SEAL_CONFIG_ENV_PROBE_BAD", "1")
            .env("SEALED_SECRETS_PRIVATEKEY_ANNOTATIONS", "novalue")
            .output()
            .expect("run the probe");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
