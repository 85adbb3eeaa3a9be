//! Reading and writing manifests: multi-document YAML, JSON streams, and kubeseal's output shapes.

use std::fmt::Write as _;

use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Error, Result, SealedSecret};

/// Output format of a manifest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Pretty JSON, two-space indent, kubeseal's key order.
    #[default]
    Json,
    /// YAML with sorted keys, each document preceded by `---`.
    Yaml,
}

impl Format {
    /// Guesses a document's format from its first non-blank byte: `{` or `[` is JSON.
    pub fn sniff(input: &[u8]) -> Format {
        match input.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => Format::Json,
            _ => Format::Yaml,
        }
    }
}

/// Largest manifest input accepted, so a runaway pipe cannot exhaust memory.
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;

/// Parses a multi-document YAML stream or a stream of concatenated JSON values into documents.
/// Empty and `null` documents are skipped.
///
/// # Errors
///
/// [`Error::Manifest`] when the input is too large, not UTF-8, or not YAML/JSON.
pub fn read_documents(input: &[u8]) -> Result<Vec<Value>> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(Error::manifest(format!(
            "input is {} bytes, more than the {MAX_INPUT_BYTES} accepted",
            input.len()
        )));
    }
    let text = std::str::from_utf8(input).map_err(|e| {
        Error::manifest(format!(
            "input is not valid UTF-8 (invalid byte at offset {}); Ensure the input is valid and UTF-8 encoded",
            e.valid_up_to()
        ))
    })?;
    let docs: Vec<Value> = match Format::sniff(input) {
        Format::Json => serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::manifest(format!("invalid JSON: {e}")))?,
        // YAML 1.2 booleans: a namespace called `n` or an item called `on` stays a string.
        // No snippets in errors: they quote the input around the error, which may be plaintext.
        Format::Yaml => serde_saphyr::from_multiple_with_options::<Value>(
            text,
            serde_saphyr::options! { strict_booleans: true, with_snippet: false },
        )
        .map_err(|e| Error::manifest(format!("invalid YAML: {}", yaml_message(&e.to_string()))))?,
    };
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// serde-saphyr's error, for people: on one line, the place first (`line L column C: what`
/// rather than `what at line L, column C`), and its hints for programmers reworded.
fn yaml_message(s: &str) -> String {
    let mut msg = one_line(s);
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if let Some((what, place)) = msg.rsplit_once(" at line ")
        && let Some((line, column)) = place.split_once(", column ")
        && digits(line)
        && digits(column)
    {
        msg = format!("line {line} column {column}: {what}");
    }
    msg = msg.replace(
        ", set DuplicateKeyPolicy in Options if acceptable",
        " (a key may appear only once)",
    );
    if let Some(at) = msg.find("budget breached: ") {
        let what = msg[at + "budget breached: ".len()..].to_owned();
        msg.truncate(at);
        msg.push_str(&format!(
            "too large, too deeply nested or too many aliases ({what}); simplify the document"
        ));
    }
    msg
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Flattens `v1` `List` documents into their items.
fn flatten_lists(docs: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        if doc.get("kind").and_then(Value::as_str) == Some("List") {
            if let Some(Value::Array(items)) = doc.get("items") {
                out.extend(flatten_lists(items.clone()));
            }
        } else {
            out.push(doc);
        }
    }
    out
}

fn check_kind(doc: &Value, index: usize, want_kind: &str, want_api: &str) -> Result<()> {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind == want_kind && (api.is_empty() || api == want_api) {
        return Ok(());
    }
    let what = if kind.is_empty() {
        "an object without a kind".to_owned()
    } else {
        format!("a {api} {kind}")
    };
    Err(Error::manifest(format!(
        "document {} is {what}, not a {want_api} {want_kind}; pass only {want_kind} objects",
        index + 1
    )))
}

/// Reads v1 Secrets from YAML or JSON: several documents, and `List`s of Secrets.
///
/// Each `data` value must be standard base64; a bad one is reported by item name.
///
/// # Errors
///
/// [`Error::NoSecrets`] when there is no document, [`Error::Manifest`] for anything unreadable
/// or not a Secret.
pub fn read_secrets(input: &[u8]) -> Result<Vec<Secret>> {
    let docs = flatten_lists(read_documents(input)?);
    if docs.is_empty() {
        return Err(Error::NoSecrets);
    }
    docs.into_iter()
        .enumerate()
        .map(|(i, doc)| {
            check_kind(&doc, i, "Secret", "v1")?;
            if let Some(Value::Object(data)) = doc.get("data") {
                for (name, value) in data {
                    match value {
                        Value::String(s) => {
                            crate::b64::decode(s).map_err(|e| {
                                Error::manifest(format!("secret data item {name:?} is not valid base64: {e}"))
                            })?;
                        }
                        Value::Null => {}
                        _ => {
                            return Err(Error::manifest(format!(
                                "secret data item {name:?} is not a string; data values are base64 strings"
                            )));
                        }
                    }
                }
            }
            if let Some(Value::Object(data)) = doc.get("stringData")
                && let Some((name, _)) = data.iter().find(|(_, v)| !(v.is_string() || v.is_null()))
            {
                return Err(Error::manifest(format!(
                    "secret stringData item {name:?} is not a string; quote it"
                )));
            }
            serde_json::from_value::<Secret>(doc)
                .map_err(|e| Error::manifest(format!("document {} is not a valid Secret: {e}", i + 1)))
        })
        .collect()
}

/// Reads SealedSecrets from YAML or JSON: several documents, and `List`s.
///
/// # Errors
///
/// [`Error::Manifest`] for anything unreadable or not a SealedSecret.
pub fn read_sealed_secrets(input: &[u8]) -> Result<Vec<SealedSecret>> {
    let docs = flatten_lists(read_documents(input)?);
    docs.into_iter()
        .enumerate()
        .map(|(i, doc)| {
            check_kind(&doc, i, "SealedSecret", "bitnami.com/v1alpha1")?;
            serde_json::from_value::<SealedSecret>(doc).map_err(|e| {
                Error::manifest(format!(
                    "document {} is not a valid SealedSecret: {e}",
                    i + 1
                ))
            })
        })
        .collect()
}

/// Serializes any object to a JSON value.
///
/// # Errors
///
/// [`Error::Manifest`] when the object cannot be represented as JSON (not expected for API types).
pub fn to_value<T: Serialize>(obj: &T) -> Result<Value> {
    serde_json::to_value(obj).map_err(|e| Error::manifest(format!("cannot serialize: {e}")))
}

/// Renders a SealedSecret exactly as kubeseal prints it in `format`.
///
/// # Errors
///
/// As [`to_value`].
pub fn sealed_secret_to_string(ss: &SealedSecret, format: Format) -> Result<String> {
    let mut doc = to_value(ss)?;
    if let Value::Object(m) = &mut doc {
        m.remove("status");
    }
    Ok(write_document(&doc, format))
}

/// Renders one document in `format`: JSON pretty-printed with Go's key order for Kubernetes
/// objects and a trailing newline, or YAML with sorted keys after a `---` line.
///
/// A `SealedSecret` or `Secret` is first given the shape Go's `encoding/json` gives the typed
/// object (see [`go_shape`]), so the bytes match kubeseal's.
pub fn write_document(doc: &Value, format: Format) -> String {
    let shaped;
    let doc = match doc.get("kind").and_then(Value::as_str) {
        Some("SealedSecret" | "Secret") => {
            shaped = go_shape(doc.clone());
            &shaped
        }
        _ => doc,
    };
    let mut out = String::new();
    match format {
        Format::Json => {
            write_json(&mut out, doc, Ctx::Root, 0);
            out.push('\n');
        }
        Format::Yaml => {
            out.push_str("---\n");
            write_yaml_document(&mut out, doc);
        }
    }
    out
}

/// What Go's `encoding/json` writes for a typed `SealedSecret` or v1 `Secret` (apimachinery
/// 0.35, kubeseal 0.36): `omitempty` fields that are empty are left out (in `metadata`, among
/// others, empty strings, maps and lists, a zero `generation`, and the zero `creationTimestamp`
/// that older releases printed as `null`); struct fields are always there, so a SealedSecret
/// always has `metadata`, `spec.template` and `spec.template.metadata`, and a Secret `metadata`.
pub fn go_shape(mut doc: Value) -> Value {
    let kind = doc.get("kind").and_then(Value::as_str).map(str::to_owned);
    let Value::Object(root) = &mut doc else {
        return doc;
    };
    shape_meta(
        root.entry("metadata")
            .or_insert_with(|| Value::Object(Map::new())),
    );
    match kind.as_deref() {
        Some("SealedSecret") => {
            let spec = root
                .entry("spec")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(spec) = spec {
                let template = spec
                    .entry("template")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(t) = template {
                    shape_meta(
                        t.entry("metadata")
                            .or_insert_with(|| Value::Object(Map::new())),
                    );
                    t.retain(|k, v| k == "metadata" || !go_empty(v));
                }
                spec.retain(|k, v| k == "template" || k == "encryptedData" || !go_empty(v));
            }
            root.retain(|k, v| !(k == "status" && go_empty(v)));
        }
        Some("Secret") => {
            root.retain(|k, v| {
                !(matches!(k.as_str(), "immutable" | "data" | "stringData" | "type") && go_empty(v))
            });
        }
        _ => {}
    }
    doc
}

/// Leaves out ObjectMeta's empty fields; every one is `omitempty` (or `omitzero`) in Go.
fn shape_meta(meta: &mut Value) {
    if let Value::Object(m) = meta {
        m.retain(|k, v| !(go_empty(v) || (k == "generation" && v.as_i64() == Some(0))));
    } else if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
}

/// What `omitempty` leaves out of the fields shaped here: null (a nil pointer, map or slice), "",
/// {} and []. A `false` or `0` behind a pointer (`immutable`) stays.
fn go_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Renders one value as YAML (sorted keys, no leading `---`).
pub fn to_yaml_string(doc: &Value) -> String {
    let mut out = String::new();
    write_yaml_document(&mut out, doc);
    out
}

// ---------------------------------------------------------------------------------------------
// JSON in Go's field order, with Go's HTML-safe escaping.

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Root,
    Meta,
    Spec,
    Template,
    OwnerRefs,
    OwnerRef,
    Other,
}

const GO_OBJECT_META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

fn key_order(ctx: Ctx, root_kind: Option<&str>) -> &'static [&'static str] {
    match (ctx, root_kind) {
        (Ctx::Root, Some("Secret")) => &[
            "kind",
            "apiVersion",
            "metadata",
            "immutable",
            "data",
            "stringData",
            "type",
        ],
        (Ctx::Root, _) => &["kind", "apiVersion", "metadata", "spec", "status"],
        (Ctx::Meta, _) => GO_OBJECT_META,
        (Ctx::Spec, _) => &["template", "data", "encryptedData"],
        (Ctx::Template, _) => &["metadata", "type", "immutable", "data"],
        (Ctx::OwnerRef, _) => &[
            "apiVersion",
            "kind",
            "name",
            "uid",
            "controller",
            "blockOwnerDeletion",
        ],
        (Ctx::OwnerRefs | Ctx::Other, _) => &[],
    }
}

fn child_ctx(ctx: Ctx, key: &str) -> Ctx {
    match (ctx, key) {
        (Ctx::Root | Ctx::Template, "metadata") => Ctx::Meta,
        (Ctx::Root, "spec") => Ctx::Spec,
        (Ctx::Spec, "template") => Ctx::Template,
        (Ctx::Meta, "ownerReferences") => Ctx::OwnerRefs,
        _ => Ctx::Other,
    }
}

fn ordered_entries<'a>(m: &'a Map<String, Value>, order: &[&str]) -> Vec<(&'a String, &'a Value)> {
    let mut entries: Vec<_> = m.iter().collect();
    entries.sort_by_key(|(k, _)| {
        let rank = order.iter().position(|o| o == k).unwrap_or(order.len());
        (rank, (*k).clone())
    });
    entries
}

fn write_json(out: &mut String, v: &Value, ctx: Ctx, indent: usize) {
    match v {
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Object(m) => {
            let root_kind = if ctx == Ctx::Root {
                m.get("kind").and_then(Value::as_str)
            } else {
                None
            };
            out.push_str("{\n");
            let entries = ordered_entries(m, key_order(ctx, root_kind));
            for (i, (k, val)) in entries.iter().enumerate() {
                push_indent(out, indent + 1);
                write_json_string(out, k);
                out.push_str(": ");
                write_json(out, val, child_ctx(ctx, k), indent + 1);
                if i + 1 < entries.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            push_indent(out, indent);
            out.push('}');
        }
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Array(a) => {
            out.push_str("[\n");
            for (i, val) in a.iter().enumerate() {
                push_indent(out, indent + 1);
                let item_ctx = if ctx == Ctx::OwnerRefs {
                    Ctx::OwnerRef
                } else {
                    Ctx::Other
                };
                write_json(out, val, item_ctx, indent + 1);
                if i + 1 < a.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            push_indent(out, indent);
            out.push(']');
        }
        Value::String(s) => write_json_string(out, s),
        other => out.push_str(&other.to_string()),
    }
}

fn push_indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// Writes a JSON string as Go's encoding/json does: `<`, `>`, `&`, U+2028 and U+2029 escaped.
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_yaml_document(out: &mut String, v: &Value) {
    crate::goyaml::write_document(out, v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn yaml_errors_name_the_place_without_quoting_the_document() {
        // A stringData value is plaintext: the message must not echo the input around the error.
        let inputs: [&[u8]; 3] = [
            b"apiVersion: v1\nkind: Secret\nstringData:\n  password: hunter2-plaintext\n    bad: [\n",
            b"kind: Secret\nstringData: {password: hunter2-plaintext, password: again}\n",
            b"kind: Secret\nstringData:\n  password: \"hunter2-plaintext\n",
        ];
        for input in inputs {
            let err = read_documents(input).expect_err("malformed").to_string();
            assert!(err.contains("invalid YAML"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");
            assert!(err.contains("line"), "names the place: {err}");
        }
    }

    #[test]
    fn yaml_errors_are_worded_for_people() {
        let err = |input: &[u8]| read_documents(input).expect_err("malformed").to_string();
        let dup = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b\nstringData:\n  a: x\n  a: y\n";
        assert!(
            err(dup).ends_with(
                "invalid YAML: line 8 column 3: duplicate mapping key: a (a key may appear only once)"
            ),
            "{}",
            err(dup)
        );
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let msg = err(bomb.as_bytes());
        assert!(
            msg.contains("too large, too deeply nested or too many aliases (")
                && msg.ends_with("); simplify the document")
                && !msg.contains("budget breached"),
            "{msg}"
        );
    }

    #[test]
    fn yaml_and_json_streams_are_read() {
        let yaml = b"---\napiVersion: v1\nkind: Secret\nmetadata: {name: a}\n---\n---\nkind: Secret\napiVersion: v1\nmetadata:\n  name: b\n";
        let docs = read_documents(yaml).expect("yaml");
        assert_eq!(docs.len(), 2);
        let json = br#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"a"}} {"kind":"Secret","apiVersion":"v1","metadata":{"name":"b"}}"#;
        let secrets = read_secrets(json).expect("json");
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[1].metadata.name.as_deref(), Some("b"));
    }

    #[test]
    fn lists_are_unpacked_and_other_kinds_refused() {
        let list = br#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"}},{"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"}}]}"#;
        assert_eq!(read_secrets(list).expect("list").len(), 2);
        let cm = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
        let err = read_secrets(cm).expect_err("configmap").to_string();
        assert_eq!(
            err,
            "document 1 is a v1 ConfigMap, not a v1 Secret; pass only Secret objects"
        );
    }

    #[test]
    fn empty_input_has_no_secrets() {
        for input in [&b""[..], b"\n---\n", b"   "] {
            let err = read_secrets(input).expect_err("empty");
            assert_eq!(
                err.to_string(),
                "no secrets found. Ensure the input is valid and UTF-8 encoded"
            );
        }
    }

    #[test]
    fn bad_base64_names_the_item() {
        let doc = b"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata:\n  good: aGk=\n  bad: '!!!'\n";
        let err = read_secrets(doc).expect_err("bad data").to_string();
        assert!(
            err.starts_with("secret data item \"bad\" is not valid base64"),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_is_reported() {
        let err = read_documents(b"kind: \xff\xfe")
            .expect_err("binary")
            .to_string();
        assert!(err.contains("not valid UTF-8"), "{err}");
    }

    #[test]
    fn duplicate_yaml_keys_are_refused() {
        let doc = b"apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nmetadata: {name: b}\n";
        assert!(read_documents(doc).is_err());
    }

    #[test]
    fn json_is_in_go_order_with_html_escapes() {
        let doc = json!({
            "spec": {"encryptedData": {"b": "x", "a": "y"}, "template": {"type": "Opaque", "metadata": {"namespace": "n", "name": "s", "creationTimestamp": null}}},
            "metadata": {"namespace": "n", "name": "s", "annotations": {"x": "<&>"}},
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
        });
        let expected = r#"{
  "kind": "SealedSecret",
  "apiVersion": "bitnami.com/v1alpha1",
  "metadata": {
    "name": "s",
    "namespace": "n",
    "annotations": {
      "x": "\u003c\u0026\u003e"
    }
  },
  "spec": {
    "template": {
      "metadata": {
        "name": "s",
        "namespace": "n"
      },
      "type": "Opaque"
    },
    "encryptedData": {
      "a": "y",
      "b": "x"
    }
  }
}
"#;
        assert_eq!(write_document(&doc, Format::Json), expected);
    }

    #[test]
    fn objects_get_the_shape_go_gives_them() {
        // Empty omitempty fields go, the zero creationTimestamp older kubeseal printed as null
        // included; struct fields stay even when empty.
        let ss = json!({
            "kind": "SealedSecret", "apiVersion": "bitnami.com/v1alpha1",
            "metadata": {"name": "s", "namespace": "", "creationTimestamp": null, "generation": 0, "labels": {}, "finalizers": []},
            "spec": {"encryptedData": {}, "data": ""},
            "status": null,
        });
        assert_eq!(
            go_shape(ss),
            json!({
                "kind": "SealedSecret", "apiVersion": "bitnami.com/v1alpha1",
                "metadata": {"name": "s"},
                "spec": {"template": {"metadata": {}}, "encryptedData": {}},
            })
        );
        let secret = json!({
            "kind": "Secret", "apiVersion": "v1",
            "metadata": {"name": "s", "ownerReferences": [{"uid": "", "name": "s", "kind": "SealedSecret", "apiVersion": "bitnami.com/v1alpha1", "controller": true}]},
            "data": {"empty": null}, "stringData": {}, "type": "", "immutable": false,
        });
        let shaped = go_shape(secret.clone());
        assert_eq!(
            shaped,
            json!({
                "kind": "Secret", "apiVersion": "v1",
                "metadata": secret["metadata"],
                "data": {"empty": null}, "immutable": false,
            })
        );
        // Owner references in Go's field order, uid printed even when empty.
        let text = write_document(&secret, Format::Json);
        assert!(
            text.contains("\"ownerReferences\": [\n      {\n        \"apiVersion\": \"bitnami.com/v1alpha1\",\n        \"kind\": \"SealedSecret\",\n        \"name\": \"s\",\n        \"uid\": \"\",\n        \"controller\": true\n      }\n    ]"),
            "{text}"
        );
        assert!(
            text.ends_with("  \"immutable\": false,\n  \"data\": {\n    \"empty\": null\n  }\n}\n"),
            "{text}"
        );
    }

    #[test]
    fn yaml_is_sorted_block_style() {
        let doc = json!({"kind": "Thing", "metadata": {"name": "s", "creationTimestamp": null, "labels": {}}, "list": ["a", {"k": "v", "j": 1}], "v": "true"});
        let expected = "---\nkind: Thing\nlist:\n- a\n- j: 1\n  k: v\nmetadata:\n  creationTimestamp: null\n  labels: {}\n  name: s\nv: \"true\"\n";
        assert_eq!(write_document(&doc, Format::Yaml), expected);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|i| json!(i)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z0-9 .:#-]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn yaml_output_reads_back_identically(m in prop::collection::btree_map("[a-zA-Z0-9 .:#-]{1,8}", arb_json(), 1..4)) {
            let doc = Value::Object(m.into_iter().collect());
            let text = write_document(&doc, Format::Yaml);
            let back = read_documents(text.as_bytes()).expect("reads back");
            prop_assert_eq!(back, vec![doc]);
        }

        #[test]
        fn json_output_reads_back_identically(m in prop::collection::btree_map("[a-zA-Z0-9 .:#-]{1,8}", arb_json(), 1..4)) {
            let doc = Value::Object(m.into_iter().collect());
            let text = write_document(&doc, Format::Json);
            let back: Value = serde_json::from_str(&text).expect("reads back");
            prop_assert_eq!(back, doc);
        }
    }
}
