//! Regression tests for inputs that once hung or crashed a parser, found by fuzzing and by
//! probing the shapes the fuzzers cannot reach (they run with inputs of a few KiB). See
//! `crates/seal-crypto/fuzz/README.md`.

use std::time::{Duration, Instant};

use crate::test_support::read;
use crate::{Certificate, Error, PrivateKey, PublicKey};

/// Parses `input` with every PEM entry point and returns how long that took.
fn parse_all(input: &str) -> Duration {
    let started = Instant::now();
    assert!(PrivateKey::from_pem(input).is_err());
    assert!(PublicKey::from_pem(input).is_err());
    assert!(Certificate::from_pem(input.as_bytes()).is_err());
    assert!(Certificate::all_from_pem(input.as_bytes()).is_err());
    started.elapsed()
}

/// A bound that a linear scan of 1 MiB meets by orders of magnitude even unoptimised, and a
/// quadratic one (minutes) does not.
const LINEAR: Duration = Duration::from_secs(10);

/// pem.rs `blocks`: every BEGIN line without its END searched the whole rest of the input for
/// `-----END <label>-----`, so 1 MiB of BEGIN lines took O(n²) (the same bug as Go's
/// CVE-2025-61723 in `encoding/pem`).
#[test]
fn pem_many_begin_lines_without_end_is_linear() {
    let input = "-----BEGIN CERTIFICATE-----\n".repeat((1 << 20) / 28);
    let took = parse_all(&input);
    assert!(took < LINEAR, "took {took:?}");
}

/// pem.rs `blocks`: the same with a distinct label on every line, so no per-label memo helps.
#[test]
fn pem_many_distinct_begin_lines_without_end_is_linear() {
    let input: String = (0..(1 << 20) / 24)
        .map(|i| format!("-----BEGIN {i:x}-----\n"))
        .collect();
    let took = parse_all(&input);
    assert!(took < LINEAR, "took {took:?}");
}

/// pem.rs `blocks`: BEGIN markers on one line with no newline made each one scan to the end
/// of the input for the end of its line.
#[test]
fn pem_begin_markers_without_newlines_are_linear() {
    let input = "-----BEGIN ".repeat((1 << 20) / 11);
    let took = parse_all(&input);
    assert!(took < LINEAR, "took {took:?}");
}

/// pem.rs `blocks`: BEGIN and unmatched END lines alternating.
#[test]
fn pem_alternating_begin_and_mismatched_end_is_linear() {
    let input = "-----BEGIN A-----\n-----END B-----\n".repeat((1 << 20) / 34);
    let took = parse_all(&input);
    assert!(took < LINEAR, "took {took:?}");
}

/// What those shapes must not break: a real key and certificate after a megabyte of junk
/// BEGIN lines are still found.
#[test]
fn pem_blocks_after_junk_begin_lines_are_found() {
    let junk = "-----BEGIN CERTIFICATE-----\n-----BEGIN RSA PRIVATE KEY-----\n".repeat(10_000);
    let input = format!("{junk}{}{junk}{}", read("rsa2048.key"), read("rsa2048.crt"));
    assert!(PrivateKey::from_pem(&input).is_ok());
    let cert = Certificate::from_pem(input.as_bytes()).expect("the certificate is found");
    assert_eq!(
        cert,
        Certificate::from_pem(read("rsa2048.crt").as_bytes()).expect("fixture")
    );
    assert!(matches!(
        PublicKey::from_pem(&input),
        Err(Error::BadPem { .. })
    ));
}
