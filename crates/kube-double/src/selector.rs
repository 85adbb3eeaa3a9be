//! Label and field selectors, as the API server parses them.

use serde_json::Value;

use crate::error::ApiError;
use crate::kinds::ResourceKind;
use crate::util::{field_value, meta_str};

#[derive(Clone, Debug, PartialEq)]
enum LabelOp {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

/// A parsed `labelSelector`; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LabelSelector(Vec<(String, LabelOp)>);

impl LabelSelector {
    /// Parses `a=b,c!=d,e,!f,g in (h,i),j notin (k),l>1`.
    pub(crate) fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for term in split_top_level(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(term).map_err(|why| {
                ApiError::bad_request(format!(
                    "unable to parse requirement: {why}: found '{term}' in label selector"
                ))
            })?);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let labels = obj.get("metadata").and_then(|m| m.get("labels"));
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|(key, op)| {
            let v = label(key);
            match op {
                LabelOp::Eq(x) => v == Some(x.as_str()),
                LabelOp::NotEq(x) => v != Some(x.as_str()),
                LabelOp::In(xs) => v.is_some_and(|v| xs.iter().any(|x| x == v)),
                LabelOp::NotIn(xs) => v.is_none_or(|v| xs.iter().all(|x| x != v)),
                LabelOp::Exists => v.is_some(),
                LabelOp::NotExists => v.is_none(),
                LabelOp::Gt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > *n),
                LabelOp::Lt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v < *n),
            }
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_requirement(term: &str) -> Result<(String, LabelOp), String> {
    let key_ok = |k: &str| -> Result<String, String> {
        let k = k.trim();
        if valid_key(k) {
            Ok(k.to_owned())
        } else {
            Err(format!("invalid label key \"{k}\""))
        }
    };
    let value_ok = |v: &str| -> Result<String, String> {
        let v = v.trim();
        if valid_value(v) {
            Ok(v.to_owned())
        } else {
            Err(format!("invalid label value: \"{v}\""))
        }
    };
    if let Some(open) = term.find('(') {
        let close = term
            .rfind(')')
            .filter(|c| *c == term.len() - 1)
            .ok_or("expected ')'")?;
        let mut head = term[..open].split_whitespace();
        let (key, op) = match (head.next(), head.next(), head.next()) {
            (Some(k), Some(op), None) => (k, op),
            _ => return Err("expected '<key> in (...)' or '<key> notin (...)'".into()),
        };
        let values = term[open + 1..close]
            .split(',')
            .map(value_ok)
            .collect::<Result<Vec<_>, _>>()?;
        let values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return Err("for 'in', 'notin' operators, values set can't be empty".into());
        }
        return match op {
            "in" => Ok((key_ok(key)?, LabelOp::In(values))),
            "notin" => Ok((key_ok(key)?, LabelOp::NotIn(values))),
            other => Err(format!("unknown operator \"{other}\"")),
        };
    }
    if let Some(key) = term.strip_prefix('!') {
        return Ok((key_ok(key)?, LabelOp::NotExists));
    }
    for (sym, mk) in [
        ("!=", LabelOp::NotEq as fn(String) -> LabelOp),
        ("==", LabelOp::Eq),
        ("=", LabelOp::Eq),
    ] {
        if let Some((k, v)) = term.split_once(sym) {
            return Ok((key_ok(k)?, mk(value_ok(v)?)));
        }
    }
    for (sym, gt) in [(">", true), ("<", false)] {
        if let Some((k, v)) = term.split_once(sym) {
            let n: i64 = v.trim().parse().map_err(|_| {
                format!("for 'Gt', 'Lt' operators, the value must be an integer: \"{v}\"")
            })?;
            return Ok((key_ok(k)?, if gt { LabelOp::Gt(n) } else { LabelOp::Lt(n) }));
        }
    }
    Ok((key_ok(term)?, LabelOp::Exists))
}

/// A parsed `fieldSelector`: `path=value`, `path==value`, `path!=value`, comma-separated.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses a field selector, refusing labels the resource does not support.
    pub(crate) fn parse(s: &str, kind: &ResourceKind) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for term in s.split(',') {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let (key, eq, value) = if let Some((k, v)) = term.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                )));
            };
            let key = key.trim();
            let supported = key == "metadata.name"
                || (key == "metadata.namespace" && kind.namespaced)
                || kind.field_labels.iter().any(|f| f == key);
            if !supported {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {key}"
                )));
            }
            reqs.push((key.to_owned(), eq, value.trim().to_owned()));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether the object satisfies every requirement.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(key, eq, want)| {
            let got = match key.as_str() {
                "metadata.name" => meta_str(obj, "name").to_owned(),
                "metadata.namespace" => meta_str(obj, "namespace").to_owned(),
                path => field_value(obj, path),
            };
            (got == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "n", "namespace": "ns", "labels": labels}, "type": "Opaque"})
    }

    #[test]
    fn label_selectors_follow_the_api_server() {
        let o = obj(json!({"app": "web", "tier": "front", "n": "5"}));
        let m = |s: &str| LabelSelector::parse(s).expect("parses").matches(&o);
        assert!(m(""));
        assert!(m("app=web"));
        assert!(m("app==web"));
        assert!(!m("app!=web"));
        assert!(m("missing!=x"));
        assert!(m("app"));
        assert!(!m("!app"));
        assert!(m("!missing"));
        assert!(m("app in (web, db)"));
        assert!(!m("app notin (web,db)"));
        assert!(m("missing notin (web)"));
        assert!(!m("missing in (web)"));
        assert!(m("app=web,tier in (front)"));
        assert!(!m("app=web,tier in (back)"));
        assert!(m("n>4"));
        assert!(!m("n<4"));
        assert!(LabelSelector::parse("app in ()").is_err());
        assert!(LabelSelector::parse("a b=c").is_err());
    }

    #[test]
    fn field_selectors_refuse_unknown_labels() {
        let kind = ResourceKind::builtin("", "v1", "Secret", "secrets").field_label("type");
        let o = obj(json!({}));
        let m = |s: &str| FieldSelector::parse(s, &kind).expect("parses").matches(&o);
        assert!(m("metadata.name=n"));
        assert!(m("metadata.namespace==ns,type=Opaque"));
        assert!(!m("metadata.name!=n"));
        let e = FieldSelector::parse("spec.x=1", &kind).expect_err("unsupported");
        assert_eq!(e.code, 400);
        assert_eq!(e.message, "field label not supported: spec.x");
    }
}
