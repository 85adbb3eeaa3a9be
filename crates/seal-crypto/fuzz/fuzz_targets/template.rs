//! `seal_api::render_template` with a fuzz-chosen source over a small data map.
//!
//! Input: the template source, then optionally a NUL byte and the value of item `x`. The map
//! also holds a few fixed items (a password, JSON, base64, a multi-line string, a number) so
//! `.json | fromJson`, `b64dec`, `atoi` and friends have something to chew on.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (src, x) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(src) = std::str::from_utf8(src) else {
        return;
    };
    let map: BTreeMap<String, String> = [
        ("user", "admin"),
        ("pass", "s3cr3t"),
        ("json", r#"{"k":[1,2.5,"s"],"m":{"z":null},"b":true}"#),
        ("b64", "aGVsbG8="),
        ("multi", "line1\nline2"),
        ("num", "42"),
        ("csv", "a,b,c"),
        ("empty", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain(std::iter::once((
        "x".to_owned(),
        String::from_utf8_lossy(x).into_owned(),
    )))
    .collect();
    if let Ok(out) = seal_api::render_template("fuzz", src, &map) {
        assert!(out.len() <= 16 << 20, "output over the documented bound");
    }
});
