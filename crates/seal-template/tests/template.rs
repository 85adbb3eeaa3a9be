//! seal-template's integration tests: regressions for inputs found by the fuzz targets in
//! `crates/seal-crypto/fuzz/` (see its README), each named after what it was. Inputs are inline;
//! all must finish, quickly, with an answer or an error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use seal_template::render;

/// Renders `src` over a small map and returns how long it took; the result may be an error.
fn render_timed(src: &str) -> (Result<String, String>, Duration) {
    let data: BTreeMap<String, String> = [("user", "admin"), ("pass", "s3cr3t")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let started = Instant::now();
    let result = render("fuzz", src, &data).map_err(|e| e.to_string());
    (result, started.elapsed())
}

/// Unoptimised and on a busy shared machine, still far below the minutes these took.
const QUICK: Duration = Duration::from_secs(20);

/// template `timeout-54864ecdeb2bc82fbdacd380e6c22b62f22b6d2c`: `regexReplaceAll` in a
/// 40,000-iteration `range` compiled its pattern on every call, tens of microseconds a time,
/// each a single evaluation step: over 5 s optimised, and a longer pattern or loop (the step
/// budget allows 5,000,000) ran for hours. Now compiled patterns are cached per render and
/// each compilation is charged against the step budget (`funcs::cached_regex`).
#[test]
fn template_regex_compiled_in_a_long_range_is_bounded() {
    let src = "{{ range until 40000 }}{gexReplaceA\"- \"a(x*b\" \"-ab-axxb-z\" }}|{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-ab-axxb-\" \"$[2}\" }}d{{ printf \"% .2.0s\"   }}}}{{ end }}";
    let (result, took) = render_timed(src);
    assert!(took < QUICK, "took {took:?}");
    let out = result.expect("a constant pattern in a loop is fine");
    assert!(
        out.starts_with("{gexReplaceA\"- \"a(x*b\" \"-ab-axxb-z\" }}|-"),
        "{out}"
    );
}

/// The same with a fresh pattern on every iteration, which no cache helps: the compilations
/// use up the step budget and the render fails instead of running on.
#[test]
fn template_fresh_regex_per_iteration_hits_the_step_budget() {
    let src = "{{ range $i := until 1000000 }}{{ regexMatch (printf \"^(a|b)*%d[a-z]{2,40}$\" $i) \"abab\" }}{{ end }}";
    let (result, took) = render_timed(src);
    assert!(took < QUICK, "took {took:?}");
    let err = result.expect_err("over the step budget");
    assert!(err.contains("evaluation steps"), "{err}");
}

/// Long patterns cost more: each compilation is charged by its length.
#[test]
fn template_long_regex_patterns_are_charged_by_length() {
    let src = "{{ $p := repeat 60000 \"[a-z]\" }}{{ range $i := until 100000 }}{{ regexMatch (print $p $i) \"x\" }}{{ end }}";
    let (result, took) = render_timed(src);
    assert!(took < QUICK, "took {took:?}");
    let err = result.expect_err("over the step budget");
    assert!(err.contains("evaluation steps"), "{err}");
}
