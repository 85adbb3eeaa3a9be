//! Sealing scopes: which OAEP label binds a value to its namespace and name (SPEC §3).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::{ANNOTATION_CLUSTER_WIDE, ANNOTATION_NAMESPACE_WIDE, Error};

/// How tightly a sealed value is bound to where it may be unsealed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Bound to namespace and name (the default).
    #[default]
    Strict,
    /// Bound to the namespace; the Secret may be renamed.
    NamespaceWide,
    /// Unsealable under any namespace and name.
    ClusterWide,
}

impl Scope {
    /// All scopes, strictest first.
    pub const ALL: [Scope; 3] = [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide];

    /// The OAEP label binding a value to this scope: `<namespace>/<name>`, `<namespace>` or empty.
    pub fn label(self, namespace: &str, name: &str) -> Vec<u8> {
        match self {
            Scope::Strict => format!("{namespace}/{name}").into_bytes(),
            Scope::NamespaceWide => namespace.as_bytes().to_vec(),
            Scope::ClusterWide => Vec::new(),
        }
    }

    /// The scope that top-level annotations declare. A value other than exactly `"true"` does
    /// not count; when both annotations are set, cluster-wide wins.
    pub fn from_annotations(annotations: Option<&BTreeMap<String, String>>) -> Scope {
        let is_true = |key: &str| {
            annotations
                .and_then(|a| a.get(key))
                .is_some_and(|v| v == "true")
        };
        if is_true(ANNOTATION_CLUSTER_WIDE) {
            Scope::ClusterWide
        } else if is_true(ANNOTATION_NAMESPACE_WIDE) {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    /// Makes `annotations` declare exactly this scope: both scope annotations are removed, then
    /// the one for this scope (if any) is set to `"true"`.
    pub fn apply_to(self, annotations: &mut BTreeMap<String, String>) {
        annotations.remove(ANNOTATION_CLUSTER_WIDE);
        annotations.remove(ANNOTATION_NAMESPACE_WIDE);
        if let Some(key) = self.annotation() {
            annotations.insert(key.to_owned(), "true".to_owned());
        }
    }

    /// The annotation that declares this scope, if any.
    pub fn annotation(self) -> Option<&'static str> {
        match self {
            Scope::Strict => None,
            Scope::NamespaceWide => Some(ANNOTATION_NAMESPACE_WIDE),
            Scope::ClusterWide => Some(ANNOTATION_CLUSTER_WIDE),
        }
    }

    /// The scope's name as `--scope` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;

    /// Parses a `--scope` value; the empty string means strict.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "" | "strict" => Ok(Scope::Strict),
            "namespace-wide" => Ok(Scope::NamespaceWide),
            "cluster-wide" => Ok(Scope::ClusterWide),
            other => Err(Error::InvalidScope(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn labels_follow_the_scope() {
        assert_eq!(Scope::Strict.label("ns", "name"), b"ns/name");
        assert_eq!(Scope::NamespaceWide.label("ns", "name"), b"ns");
        assert_eq!(Scope::ClusterWide.label("ns", "name"), b"");
    }

    #[test]
    fn cluster_wide_wins_over_namespace_wide() {
        let a = ann(&[
            (ANNOTATION_NAMESPACE_WIDE, "true"),
            (ANNOTATION_CLUSTER_WIDE, "true"),
        ]);
        assert_eq!(Scope::from_annotations(Some(&a)), Scope::ClusterWide);
    }

    #[test]
    fn only_exactly_true_counts() {
        for v in ["True", "yes", "1", "", " true"] {
            let a = ann(&[(ANNOTATION_CLUSTER_WIDE, v), (ANNOTATION_NAMESPACE_WIDE, v)]);
            assert_eq!(
                Scope::from_annotations(Some(&a)),
                Scope::Strict,
                "value {v:?}"
            );
        }
        assert_eq!(Scope::from_annotations(None), Scope::Strict);
    }

    #[test]
    fn the_announced_scope_annotation_is_ignored() {
        let a = ann(&[("sealedsecrets.bitnami.com/scope", "cluster-wide")]);
        assert_eq!(Scope::from_annotations(Some(&a)), Scope::Strict);
    }

    #[test]
    fn parsing_accepts_empty_as_strict_and_names_the_choices() {
        assert_eq!("".parse::<Scope>().ok(), Some(Scope::Strict));
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>().ok(), Some(s));
        }
        let err = "global".parse::<Scope>().expect_err("unknown scope");
        assert_eq!(
            err.to_string(),
            "must be one of: strict, namespace-wide, cluster-wide"
        );
    }

    #[test]
    fn apply_clears_the_other_annotation() {
        let mut a = ann(&[(ANNOTATION_CLUSTER_WIDE, "true"), ("keep", "me")]);
        Scope::NamespaceWide.apply_to(&mut a);
        assert_eq!(
            a,
            ann(&[(ANNOTATION_NAMESPACE_WIDE, "true"), ("keep", "me")])
        );
        Scope::Strict.apply_to(&mut a);
        assert_eq!(a, ann(&[("keep", "me")]));
    }
}
