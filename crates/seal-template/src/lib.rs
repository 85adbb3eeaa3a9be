//! Go's `text/template` with Sprig's generic functions, in Rust.
//!
//! Bitnami Sealed Secrets renders each `spec.template.data` entry with
//! `template.New(key).Funcs(sprig.GenericFuncMap() - env, expandenv, getHostByName).Parse(value)`
//! and executes it with a `map[string]string` of the decrypted items as dot.
//! [`render`] reproduces that: the lexer, parser and evaluator follow Go's
//! `text/template` (1.19 error texts, plus range-over-int from 1.22 and
//! `{{else with}}` from 1.23), and the functions follow Sprig v3.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! let data = BTreeMap::from([
//!     ("user".to_owned(), "admin".to_owned()),
//!     ("pass".to_owned(), "s3cr3t".to_owned()),
//! ]);
//! let out = seal_template::render("dsn", "postgres://{{ .user }}:{{ .pass | urlquery }}@db", &data)?;
//! assert_eq!(out, "postgres://admin:s3cr3t@db");
//!
//! // Errors are worded as Go words them.
//! let err = seal_template::render("config", "{{ env \"HOME\" }}", &data).expect_err("env is not offered");
//! assert_eq!(err.to_string(), r#"template: config:1: function "env" not defined"#);
//! # Ok::<(), seal_template::Error>(())
//! ```
//!
//! Differences from Go, all deliberate or unavoidable:
//! - Hostile templates are bounded: source ≤ [`MAX_SOURCE`] bytes, output ≤
//!   [`MAX_OUTPUT`] bytes, template calls and parse nesting ≤ [`MAX_DEPTH`],
//!   nesting in progress ≤ [`MAX_NEST`] (so a render fits a small thread
//!   stack), at most [`MAX_STEPS`] evaluation steps, [`MAX_ALLOC`] bytes of
//!   intermediate values, [`MAX_BCRYPT`] bcrypt hashes, [`MAX_KEYS`] key
//!   generations or imports and [`MAX_SCRYPT`] `derivePassword` calls.
//!   Exceeding one is an error, never a hang or a crash. Go allows 100000
//!   template calls.
//! - Strings are UTF-8: bytes that `b64dec` or `\x` escapes produce outside
//!   UTF-8 become U+FFFD.
//! - Go's `Local` time zone is UTC (as in upstream's controller image);
//!   named zones come from the IANA database.
//! - Random values (`rand…`, `uuidv4`, `shuffle`, `randInt`, salts, IVs,
//!   serials, keys) come from the operating system's CSPRNG, where Sprig uses
//!   `math/rand` for `shuffle` and `randInt`.
//! - Built without the `aws-lc` feature, the key-material functions
//!   (`genPrivateKey`, `genCA…`, `genSelfSignedCert…`, `genSignedCert…`,
//!   `buildCustomCert`) fail with an error saying so.
//! - `keys` and `values` return sorted order where Go's is random.
//! - Plaintext copies left in variables and maps are zeroed when a render
//!   ends, as is partial output on failure; transient strings are not.
//!
//! `tests/golden/golden.jsonl` holds over a thousand cases recorded from Go
//! 1.19 with Sprig 3.2.3 by `tests/golden/oracle.go`, and
//! `tests/sprig_golden.json` what upstream's kubeseal (Sprig 3.3) renders for
//! `tests/sprig_cases.yaml`, a case per use of every function; the tests
//! replay both (`tests/README.md`).
#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

mod exec;
mod funcs;
mod gotime;
mod gourl;
mod keys;
mod lex;
mod more;
mod parse;
mod printf;
mod semver;
mod text;
mod value;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::rc::Rc;

use value::{Elem, Value};
use zeroize::Zeroize as _;

/// Largest rendered output, in bytes.
pub const MAX_OUTPUT: usize = 16 << 20;
/// Deepest nesting of templates, parenthesised pipelines and printed values.
pub const MAX_DEPTH: usize = 100;
/// Most nested walks and pipelines in progress at once, across template
/// calls; it keeps the interpreter's native stack small (a render fits in a
/// 1 MiB thread stack even unoptimised).
pub const MAX_NEST: usize = 200;
/// Most evaluation steps (actions, commands, range iterations) per render.
pub const MAX_STEPS: u64 = 5_000_000;
/// Most bytes of intermediate values created per render.
pub const MAX_ALLOC: usize = 64 << 20;
/// Most bcrypt hashes (`htpasswd`, `bcrypt`) per render.
pub const MAX_BCRYPT: usize = 16;
/// Longest accepted template source, in bytes.
pub const MAX_SOURCE: usize = 1 << 20;
/// Most keys generated or imported per render (`genPrivateKey`, `genCA…`,
/// `genSelfSignedCert…`, `genSignedCert…`, `buildCustomCert`): an RSA-4096
/// key costs up to about a second of CPU, DSA parameters more.
pub const MAX_KEYS: usize = keys::MAX_KEYS;
/// Most `derivePassword` calls per render (scrypt with N=32768, r=8: 32 MiB each).
pub const MAX_SCRYPT: usize = more::MAX_SCRYPT;

/// A template that failed to parse or execute. `Display` is the text Go's
/// `text/template` gives for the same failure, which users match on.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The source did not parse, or calls a function that is not defined:
    /// `template: <name>:<line>: <detail>`.
    #[error("{0}")]
    Parse(String),
    /// Execution failed, or exceeded a resource bound:
    /// `template: <name>:<line>:<col>: executing "<name>" at <<node>>: <detail>`.
    #[error("{0}")]
    Exec(String),
    /// The source is longer than [`MAX_SOURCE`].
    #[error("template: {name}: template source exceeds {} MiB", MAX_SOURCE >> 20)]
    SourceTooLong {
        /// The template's name.
        name: String,
    },
    /// The interpreter broke one of its own invariants; the render was abandoned.
    #[error("template: {name}: internal error{detail}")]
    Internal {
        /// The template's name.
        name: String,
        /// What broke, with a leading separator, or empty.
        detail: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders one template entry. `name` is the entry name (used in error messages), `src` the template text, `data` the dot.
///
/// # Errors
///
/// Parse errors read `template: <name>:<line>: <detail>`; execution errors
/// read `template: <name>:<line>:<col>: executing "<name>" at <<node>>: <detail>`,
/// as Go's `text/template` words them. Exceeding a resource bound is an
/// execution error too.
pub fn render(name: &str, src: &str, data: &BTreeMap<String, String>) -> Result<String> {
    if src.len() > MAX_SOURCE {
        return Err(Error::SourceTooLong {
            name: name.to_owned(),
        });
    }
    // Belt and braces: the interpreter is written not to panic, but a panic
    // must never take the controller down with it.
    let result = std::panic::catch_unwind(|| render_inner(name, src, data));
    match result {
        Ok(r) => r,
        Err(_) => Err(Error::Internal {
            name: name.to_owned(),
            detail: " while rendering".to_owned(),
        }),
    }
}

/// Zeroes a string value this is the last owner of.
fn scrub(v: &mut Value) {
    if let Value::Str(s) = v
        && let Some(s) = Rc::get_mut(s)
    {
        s.zeroize();
    }
}

fn render_inner(name: &str, src: &str, data: &BTreeMap<String, String>) -> Result<String> {
    let set = parse::parse(name, src, &funcs::is_defined).map_err(Error::Parse)?;
    let dot: BTreeMap<String, Value> = data
        .iter()
        .map(|(k, v)| (k.clone(), Value::str(v.as_str())))
        .collect();
    let mut ex = exec::Exec::new(name, src, &set);
    let dot_map = ex.new_map(dot);
    let result = ex.run(Value::Map(dot_map, Elem::Str));
    // Best-effort scrubbing of plaintext copies: variables and map entries
    // (which include the decrypted items). Transient strings made while
    // evaluating are not tracked.
    for (_, mut v) in std::mem::take(&mut ex.vars) {
        scrub(&mut v);
    }
    // Break any reference cycles built with `set`/`append` before dropping.
    for m in std::mem::take(&mut ex.maps) {
        if let Ok(mut m) = m.try_borrow_mut() {
            for (_, mut v) in std::mem::take(&mut *m) {
                scrub(&mut v);
            }
        }
        drop::<Rc<_>>(m);
    }
    if result.is_err() {
        ex.out.zeroize();
    }
    if !value::nil_map_intact() {
        return Err(Error::Internal {
            name: name.to_owned(),
            detail: ": shared nil map was written".to_owned(),
        });
    }
    result
        .map(|()| std::mem::take(&mut ex.out))
        .map_err(Error::Exec)
}
