//! Regression tests for inputs found by the fuzz targets in `crates/seal-crypto/fuzz/` (see its
//! README), each named after what it was. Inputs are inline; all must finish, quickly, with an
//! answer or an error.

use std::time::{Duration, Instant};

/// Unoptimised and on a busy shared machine, still far below the minutes these took.
const QUICK: Duration = Duration::from_secs(20);

// Manifests: hostile shapes that must be refused (or read) in bounded time and memory. These
// pass as they are (serde-saphyr's alias and depth budgets, serde_json's recursion limit);
// they pin that down.

fn alias_bomb(levels: u8) -> String {
    let mut doc = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..levels {
        let (this, prev) = (char::from(b'a' + level), char::from(b'a' + level - 1));
        let refs = vec![format!("*{prev}"); 10].join(", ");
        doc.push_str(&format!("{this}: &{this} [{refs}]\n"));
    }
    doc
}

#[test]
fn manifest_yaml_alias_bomb_is_refused() {
    let started = Instant::now();
    // 10^10 strings if expanded.
    let err = crate::read_documents(alias_bomb(10).as_bytes()).expect_err("refused");
    assert!(err.to_string().contains("invalid YAML"), "{err}");
    assert!(crate::read_secrets(alias_bomb(10).as_bytes()).is_err());
    assert!(crate::read_sealed_secrets(alias_bomb(10).as_bytes()).is_err());
    assert!(started.elapsed() < QUICK);
}

#[test]
fn manifest_deep_nesting_is_refused_without_overflowing_the_stack() {
    for doc in [
        "[".repeat(1 << 20),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("a: {}", "[".repeat(1 << 20)),
        format!("a: {}{}", "{b: ".repeat(100_000), "}".repeat(100_000)),
        "- ".repeat(200_000),
    ] {
        // serde-saphyr stops at depth 64 and serde_json at 128, however deep the input: an
        // optimised build needs under 256 KiB of stack for that; unoptimised frames are far
        // bigger, hence 4 MiB here (tokio workers have 2 MiB, and run optimised code).
        let handle = std::thread::Builder::new()
            .stack_size(4 << 20)
            .spawn(move || crate::read_documents(doc.as_bytes()).is_err())
            .expect("thread");
        assert!(handle.join().expect("no stack overflow"), "refused");
    }
}

#[test]
fn manifest_huge_base64_value_is_read_in_linear_time() {
    // 48 MiB of data as a 64 MiB-class input: decoded once, no quadratic copy.
    let value = "QUFB".repeat(12 << 20);
    let input = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: big, namespace: ns}}\ndata:\n  big: {value}\n"
    );
    assert!(input.len() <= crate::MAX_INPUT_BYTES);
    let started = Instant::now();
    let secrets = crate::read_secrets(input.as_bytes()).expect("reads");
    assert_eq!(
        secrets[0].data.as_ref().expect("data")["big"].0.len(),
        36 << 20
    );
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
    // One byte over the limit is refused before parsing.
    let over = vec![b' '; crate::MAX_INPUT_BYTES + 1];
    assert!(crate::read_documents(&over).is_err());
}
