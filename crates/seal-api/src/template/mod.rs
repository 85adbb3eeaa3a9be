//! Go `text/template` with Sprig's generic functions, for `spec.template.data`.
//!
//! Upstream renders each `template.data` entry with
//! `template.New(key).Funcs(sprig.GenericFuncMap() - env, expandenv, getHostByName).Parse(value)`
//! and executes it with a `map[string]string` of the decrypted items as dot.
//! This module reproduces that: the lexer, parser and evaluator are ports of
//! Go's `text/template` (1.19 error texts, plus range-over-int from 1.22 and
//! `{{else with}}` from 1.23), and the functions follow Sprig v3.
//!
//! Differences from Go, all deliberate or unavoidable:
//! - Hostile templates are bounded: source ≤ [`MAX_SOURCE`] bytes, output ≤
//!   [`MAX_OUTPUT`] bytes, template calls and parse nesting ≤ [`MAX_DEPTH`],
//!   nesting in progress ≤ [`MAX_NEST`] (so a render fits a small thread
//!   stack), at most [`MAX_STEPS`] evaluation steps, [`MAX_ALLOC`] bytes of
//!   intermediate values and [`MAX_BCRYPT`] bcrypt hashes. Exceeding one is
//!   an error, never a hang or a crash. Go allows 100000 template calls.
//! - Strings are UTF-8: bytes that `b64dec` or `\x` escapes produce outside
//!   UTF-8 become U+FFFD.
//! - Sprig functions that depend on time, randomness or key generation
//!   (`now`, `randAlphaNum`, `uuidv4`, `genCA`, ...) and a few unported ones
//!   (`semver`, `urlParse`, `wrap`, `snakecase`, ...) parse but fail when called.
//! - `htpasswd` and `bcrypt` use a random salt (as Sprig does), so only the
//!   `$2a$10$` shape and verification are reproducible.
//! - `keys` and `values` return sorted order where Go's is random.
//! - Plaintext copies left in variables and maps are zeroed when a render
//!   ends, as is partial output on failure; transient strings are not.
//!
//! `golden/golden.jsonl` holds over a thousand cases recorded from Go
//! 1.19 with Sprig 3.2.3 by `golden/oracle.go`; the tests replay them.

mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
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

/// A template that failed to parse or execute, worded as Go words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Go's error text, e.g. `template: config:1: function "env" not defined`.
    pub message: String,
}

/// Renders one template entry. `name` is the entry name (used in error messages), `src` the template text, `data` the dot.
///
/// # Errors
///
/// Parse errors read `template: <name>:<line>: <detail>`; execution errors
/// read `template: <name>:<line>:<col>: executing "<name>" at <<node>>: <detail>`,
/// as Go's `text/template` words them. Exceeding a resource bound is an
/// execution error too.
pub fn render(
    name: &str,
    src: &str,
    data: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    let err = |message: String| TemplateError { message };
    if src.len() > MAX_SOURCE {
        return Err(err(format!(
            "template: {name}: template source exceeds {} MiB",
            MAX_SOURCE >> 20
        )));
    }
    // Belt and braces: the interpreter is written not to panic, but a panic
    // must never take the controller down with it.
    let result = std::panic::catch_unwind(|| render_inner(name, src, data));
    match result {
        Ok(r) => r.map_err(err),
        Err(_) => Err(err(format!(
            "template: {name}: internal error while rendering"
        ))),
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

fn render_inner(name: &str, src: &str, data: &BTreeMap<String, String>) -> Result<String, String> {
    let set = parse::parse(name, src, &funcs::is_defined)?;
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
        return Err(format!(
            "template: {name}: internal error: shared nil map was written"
        ));
    }
    result.map(|()| std::mem::take(&mut ex.out))
}
