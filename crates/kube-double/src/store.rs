//! The object store: resources, resource versions, watch history, garbage collection.
//!
//! Everything here runs under one lock and never awaits.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::error::{ApiError, FieldError};
use crate::kinds::ResourceKind;
use crate::patch::{json_patch, merge_patch};
use crate::selector::{FieldSelector, LabelSelector};
use crate::util::{Rng, ensure_object, meta_mut, meta_str, now_rfc3339};

/// `(namespace, name)`; the namespace is `""` for cluster-scoped objects.
pub(crate) type ObjKey = (String, String);

pub(crate) struct Resource {
    pub(crate) kind: Arc<ResourceKind>,
    pub(crate) objects: BTreeMap<ObjKey, Arc<Value>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed write, as kept in the watch history and sent to watchers.
pub(crate) struct Change {
    pub(crate) rv: u64,
    pub(crate) res: usize,
    pub(crate) ty: ChangeType,
    /// The object after the change (for deletions: the last state, at the deletion's version).
    pub(crate) obj: Arc<Value>,
    /// The object before the change, so selector watches can turn edits into ADDED/DELETED.
    pub(crate) prev: Option<Arc<Value>>,
}

#[derive(Clone)]
pub(crate) enum Msg {
    Change(Arc<Change>),
    /// End every open watch cleanly.
    Close,
    /// Break every open watch (the connection drops mid-stream).
    Abort,
}

/// Which part of an object a write may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Write {
    /// The main resource: on types with a status subresource, `status` is kept.
    Main,
    /// The `/status` subresource: only `status` is taken.
    Status,
    /// Direct access: everything is taken.
    Whole,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchType {
    Merge,
    Strategic,
    Json,
    Apply,
}

/// Label and field selectors together.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
}

impl Filter {
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

pub(crate) struct ListPage {
    pub(crate) items: Vec<Arc<Value>>,
    pub(crate) rv: u64,
    pub(crate) cont: Option<String>,
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchFrom {
    /// `resourceVersion` unset or `0`: synthetic ADDED events for the current state, then changes.
    State,
    /// After the given resource version, replayed from history.
    Rv(u64),
}

pub(crate) struct WatchStart {
    pub(crate) initial: Vec<Arc<Value>>,
    pub(crate) backlog: Vec<Arc<Change>>,
    pub(crate) rx: broadcast::Receiver<Msg>,
    pub(crate) start_rv: u64,
    pub(crate) expired: Option<ApiError>,
}

pub(crate) struct Store {
    resources: Vec<Resource>,
    by_path: HashMap<(String, String), usize>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    pub(crate) history_limit: usize,
    /// A watch from a version below this one has lost events: 410 Expired.
    compacted: u64,
    uids: HashMap<String, (usize, ObjKey)>,
    dependents: HashMap<String, BTreeSet<(usize, ObjKey)>>,
    pub(crate) tx: broadcast::Sender<Msg>,
    pub(crate) gc: bool,
    pub(crate) enforce_namespaces: bool,
    rng: Rng,
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const IMMUTABLE_MSG: &str = "field is immutable when `immutable` is set";

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_dns_subdomain(s: &str) -> bool {
    s.split('.').all(is_dns_label)
}

fn is_config_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
}

const SECRET_MAX: usize = 1024 * 1024;
const ANNOTATIONS_MAX: usize = 256 * 1024;
const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, the shape of label values and key name parts.
fn is_label_word(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Why a label or annotation key is not a qualified name (`[prefix/]name`), if it is not.
fn qualified_name_error(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            return Some("prefix part must be non-empty".into());
        }
        if p.len() > 253 || !is_dns_subdomain(p) {
            return Some(format!("prefix part {SUBDOMAIN_MSG}"));
        }
    }
    if name.is_empty() {
        return Some("name part must be non-empty".into());
    }
    if name.len() > 63 {
        return Some("name part must be no more than 63 characters".into());
    }
    (!is_label_word(name)).then(|| NAME_PART_MSG.to_owned())
}

/// The `metadata` rules every type shares: labels, annotations, owner references.
fn validate_meta(obj: &Value, errs: &mut Vec<FieldError>) {
    let meta = obj.get("metadata");
    let field = |f: &str| meta.and_then(|m| m.get(f));
    for (k, v) in field("labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(why) = qualified_name_error(k) {
            errs.push(FieldError::invalid("metadata.labels", &json!(k), &why));
        }
        match v.as_str() {
            Some(v) if v.len() > 63 => errs.push(FieldError::invalid(
                "metadata.labels",
                &json!(v),
                "must be no more than 63 characters",
            )),
            Some(v) if v.is_empty() || is_label_word(v) => {}
            _ => errs.push(FieldError::invalid("metadata.labels", v, LABEL_VALUE_MSG)),
        }
    }
    let mut size = 0;
    for (k, v) in field("annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(why) = qualified_name_error(&k.to_lowercase()) {
            errs.push(FieldError::invalid("metadata.annotations", &json!(k), &why));
        }
        size += k.len() + v.as_str().map_or(0, str::len);
    }
    if size > ANNOTATIONS_MAX {
        errs.push(FieldError::too_long(
            "metadata.annotations",
            ANNOTATIONS_MAX,
        ));
    }
    let refs = field("ownerReferences").and_then(Value::as_array);
    let mut controllers = Vec::new();
    for r in refs.into_iter().flatten() {
        for (f, what) in [
            ("apiVersion", "version"),
            ("kind", "kind"),
            ("name", "name"),
            ("uid", "uid"),
        ] {
            if r.get(f).and_then(Value::as_str).unwrap_or("").is_empty() {
                errs.push(FieldError::invalid(
                    &format!("metadata.ownerReferences.{f}"),
                    &json!(""),
                    &format!("{what} must not be empty"),
                ));
            }
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            controllers.push(format!(
                "{}/{}",
                r.get("kind").and_then(Value::as_str).unwrap_or(""),
                r.get("name").and_then(Value::as_str).unwrap_or("")
            ));
        }
    }
    if controllers.len() > 1 {
        errs.push(FieldError::invalid(
            "metadata.ownerReferences",
            &json!(controllers),
            &format!(
                "Only one reference can have Controller set to true. Found \"true\" in references for {}",
                controllers.join(" and ")
            ),
        ));
    }
}

fn owner_uids(obj: &Value) -> impl Iterator<Item = &str> {
    obj.get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
}

fn finalizers(obj: &Value) -> Vec<&str> {
    obj.get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn is_deleting(obj: &Value) -> bool {
    !meta_str(obj, "deletionTimestamp").is_empty()
}

/// Whether anything outside `metadata` (and `status`, when it is a subresource) differs.
fn spec_changed(a: &Value, b: &Value, skip_status: bool) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a != b;
    };
    let keep = |k: &&String| k.as_str() != "metadata" && !(skip_status && k.as_str() == "status");
    a.keys().filter(keep).count() != b.keys().filter(keep).count()
        || a.iter()
            .filter(|(k, _)| keep(k))
            .any(|(k, v)| b.get(k) != Some(v))
}

impl Store {
    pub(crate) fn new(tx: broadcast::Sender<Msg>) -> Self {
        let mut store = Store {
            resources: Vec::new(),
            by_path: HashMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_limit: 100_000,
            compacted: 0,
            uids: HashMap::new(),
            dependents: HashMap::new(),
            tx,
            gc: true,
            enforce_namespaces: false,
            rng: Rng::from_entropy(),
        };
        for kind in ResourceKind::builtins() {
            store.register(kind);
        }
        let ns = store.namespaces();
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            store
                .create(ns, None, json!({"metadata": {"name": name}}), false, true)
                .expect("the initial namespaces are valid");
        }
        store
    }

    /// Adds a type, or replaces the definition of one with the same group and plural (keeping objects).
    pub(crate) fn register(&mut self, kind: ResourceKind) -> usize {
        let key = (kind.group.clone(), kind.plural.clone());
        if let Some(&i) = self.by_path.get(&key) {
            self.resources[i].kind = Arc::new(kind);
            return i;
        }
        self.resources.push(Resource {
            kind: Arc::new(kind),
            objects: BTreeMap::new(),
        });
        let i = self.resources.len() - 1;
        self.by_path.insert(key, i);
        i
    }

    pub(crate) fn kinds(&self) -> impl Iterator<Item = &Arc<ResourceKind>> {
        self.resources.iter().map(|r| &r.kind)
    }

    pub(crate) fn kind(&self, res: usize) -> &Arc<ResourceKind> {
        &self.resources[res].kind
    }

    fn namespaces(&self) -> usize {
        *self
            .by_path
            .get(&(String::new(), "namespaces".to_owned()))
            .expect("namespaces are built in")
    }

    /// The resource served at `/apis/{group}/{version}/{plural}`.
    pub(crate) fn by_path(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.by_path
            .get(&(group.to_owned(), plural.to_owned()))
            .copied()
            .filter(|&i| self.resources[i].kind.version == version)
    }

    /// The resource of `api_version` (`v1`, `bitnami.com/v1alpha1`) named by kind or plural.
    pub(crate) fn by_api(&self, api_version: &str, kind_or_plural: &str) -> Option<usize> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.resources.iter().position(|r| {
            r.kind.group == group
                && r.kind.version == version
                && (r.kind.kind == kind_or_plural || r.kind.plural == kind_or_plural)
        })
    }

    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn key(&self, res: usize, ns: Option<&str>, name: &str) -> ObjKey {
        if self.resources[res].kind.namespaced {
            (ns.unwrap_or("default").to_owned(), name.to_owned())
        } else {
            (String::new(), name.to_owned())
        }
    }

    pub(crate) fn get(&self, res: usize, key: &ObjKey) -> Option<Arc<Value>> {
        self.resources[res].objects.get(key).cloned()
    }

    pub(crate) fn len(&self, res: usize, ns: Option<&str>) -> usize {
        let objects = &self.resources[res].objects;
        match ns {
            Some(ns) if self.resources[res].kind.namespaced => objects
                .range((ns.to_owned(), String::new())..)
                .take_while(|(k, _)| k.0 == ns)
                .count(),
            _ => objects.len(),
        }
    }

    fn not_found(&self, res: usize, name: &str) -> ApiError {
        let k = &self.resources[res].kind;
        ApiError::not_found(&k.group, &k.plural, name)
    }

    // ----- writes -----

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // No receivers is fine.
        let _ = self.tx.send(Msg::Change(change));
    }

    fn index(&mut self, res: usize, key: &ObjKey, obj: &Value) {
        let uid = meta_str(obj, "uid");
        if !uid.is_empty() {
            self.uids.insert(uid.to_owned(), (res, key.clone()));
        }
        for owner in owner_uids(obj) {
            self.dependents
                .entry(owner.to_owned())
                .or_default()
                .insert((res, key.clone()));
        }
    }

    fn unindex(&mut self, res: usize, key: &ObjKey, obj: &Value) {
        let uid = meta_str(obj, "uid");
        if self
            .uids
            .get(uid)
            .is_some_and(|(r, k)| *r == res && k == key)
        {
            self.uids.remove(uid);
        }
        for owner in owner_uids(obj) {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(&(res, key.clone()));
                if set.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
    }

    /// Stores `obj` at a new resource version and tells the watchers.
    fn commit(
        &mut self,
        res: usize,
        key: ObjKey,
        mut obj: Value,
        prev: Option<Arc<Value>>,
    ) -> Arc<Value> {
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        let obj = Arc::new(obj);
        if let Some(p) = &prev {
            self.unindex(res, &key, p);
        }
        self.index(res, &key, &obj);
        self.resources[res].objects.insert(key, obj.clone());
        let ty = if prev.is_some() {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        self.record(Change {
            rv: self.rv,
            res,
            ty,
            obj: obj.clone(),
            prev,
        });
        obj
    }

    /// Removes an object now (no finalizer check), tells the watchers, and queues its uid for GC.
    fn remove_now(
        &mut self,
        res: usize,
        key: &ObjKey,
        last: Option<Value>,
        gc: &mut Vec<String>,
    ) -> Option<Arc<Value>> {
        let old = self.resources[res].objects.remove(key)?;
        self.unindex(res, key, &old);
        self.rv += 1;
        let mut last = last.unwrap_or_else(|| (*old).clone());
        meta_mut(&mut last).insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        let last = Arc::new(last);
        self.record(Change {
            rv: self.rv,
            res,
            ty: ChangeType::Deleted,
            obj: last.clone(),
            prev: Some(old),
        });
        let uid = meta_str(&last, "uid");
        if !uid.is_empty() {
            gc.push(uid.to_owned());
        }
        let kind = self.resources[res].kind.clone();
        if kind.group.is_empty() && kind.plural == "namespaces" {
            self.delete_namespace_contents(&key.1, gc);
        }
        Some(last)
    }

    fn delete_namespace_contents(&mut self, ns: &str, gc: &mut Vec<String>) {
        for res in 0..self.resources.len() {
            if !self.resources[res].kind.namespaced {
                continue;
            }
            let keys: Vec<ObjKey> = self.resources[res]
                .objects
                .range((ns.to_owned(), String::new())..)
                .take_while(|(k, _)| k.0 == ns)
                .map(|(k, _)| k.clone())
                .collect();
            for key in keys {
                self.delete_obj(res, &key, gc);
            }
        }
    }

    /// Deletes as the API server does: objects with finalizers only get a `deletionTimestamp`.
    /// Returns the object and whether it is gone.
    fn delete_obj(
        &mut self,
        res: usize,
        key: &ObjKey,
        gc: &mut Vec<String>,
    ) -> Option<(Arc<Value>, bool)> {
        let old = self.get(res, key)?;
        if finalizers(&old).is_empty() {
            return self.remove_now(res, key, None, gc).map(|o| (o, true));
        }
        if is_deleting(&old) {
            return Some((old, false));
        }
        let mut new = (*old).clone();
        let meta = meta_mut(&mut new);
        meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
        meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        // Graceful deletion bumps a tracked generation, so controllers notice.
        if let Some(g) = meta
            .get("generation")
            .and_then(Value::as_i64)
            .filter(|g| *g > 0)
        {
            meta.insert("generation".into(), json!(g + 1));
        }
        Some((self.commit(res, key.clone(), new, Some(old)), false))
    }

    /// Deletes dependents whose owners are all gone; drops dangling owner references from the rest.
    fn collect_garbage(&mut self, mut queue: Vec<String>) {
        if !self.gc {
            return;
        }
        while let Some(uid) = queue.pop() {
            let Some(deps) = self.dependents.get(&uid).cloned() else {
                continue;
            };
            for (res, key) in deps {
                let Some(obj) = self.get(res, &key) else {
                    continue;
                };
                let refs: Vec<Value> = obj
                    .get("metadata")
                    .and_then(|m| m.get("ownerReferences"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let live: Vec<Value> = refs
                    .iter()
                    .filter(|r| {
                        r.get("uid")
                            .and_then(Value::as_str)
                            .is_some_and(|u| self.uids.contains_key(u))
                    })
                    .cloned()
                    .collect();
                if live.is_empty() {
                    self.delete_obj(res, &key, &mut queue);
                } else if live.len() < refs.len() {
                    let mut new = (*obj).clone();
                    meta_mut(&mut new).insert("ownerReferences".into(), Value::Array(live));
                    self.commit(res, key, new, Some(obj));
                }
            }
        }
    }

    /// `propagationPolicy: Orphan`: dependents lose their reference to `uid` and stay.
    fn orphan_dependents(&mut self, uid: &str) {
        let Some(deps) = self.dependents.get(uid).cloned() else {
            return;
        };
        for (res, key) in deps {
            let Some(obj) = self.get(res, &key) else {
                continue;
            };
            let mut new = (*obj).clone();
            let meta = meta_mut(&mut new);
            if let Some(refs) = meta
                .get_mut("ownerReferences")
                .and_then(Value::as_array_mut)
            {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
                if refs.is_empty() {
                    meta.remove("ownerReferences");
                }
            }
            self.commit(res, key, new, Some(obj));
        }
    }

    fn check_type(kind: &ResourceKind, obj: &mut Value) -> Result<(), ApiError> {
        let Value::Object(map) = obj else {
            return Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: the body must be a JSON object",
                kind.kind, kind.version, kind.kind
            )));
        };
        let av = kind.api_version();
        match map.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => {
                map.insert("apiVersion".into(), json!(av));
            }
            Some(x) if x == av => {}
            Some(x) => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({x}) does not match the expected API version ({av})"
                )));
            }
        }
        match map.get("kind").and_then(Value::as_str) {
            None | Some("") => {
                map.insert("kind".into(), json!(kind.kind));
            }
            Some(x) if x == kind.kind => {}
            Some(x) => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({x}) does not match the expected kind ({})",
                    kind.kind
                )));
            }
        }
        Ok(())
    }

    /// Type-specific defaulting and decoding (Secret `stringData` → `data`, default `type`).
    fn normalize(kind: &ResourceKind, obj: &mut Value) -> Result<(), ApiError> {
        let is = |k: &str| kind.group.is_empty() && kind.kind == k;
        let map = ensure_object(obj);
        let cannot = |why: String| {
            ApiError::bad_request(format!(
                "{} in version \"v1\" cannot be handled as a {}: {why}",
                kind.kind, kind.kind
            ))
        };
        if is("Secret") {
            if let Some(sd) = map.remove("stringData") {
                let Value::Object(sd) = sd else {
                    return Err(cannot("stringData must be an object".into()));
                };
                let data = ensure_object(map.entry("data").or_insert_with(|| json!({})));
                for (k, v) in sd {
                    let s = v
                        .as_str()
                        .ok_or_else(|| cannot(format!("stringData[{k}] must be a string")))?;
                    data.insert(k, json!(B64.encode(s)));
                }
            }
            if let Some(data) = map.get("data").and_then(Value::as_object) {
                for (k, v) in data {
                    let s = v
                        .as_str()
                        .ok_or_else(|| cannot(format!("data[{k}] must be a string")))?;
                    B64.decode(s)
                        .map_err(|e| cannot(format!("illegal base64 data in data[{k}]: {e}")))?;
                }
            }
            if map
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                map.insert("type".into(), json!("Opaque"));
            }
        }
        Ok(())
    }

    fn validate(
        kind: &ResourceKind,
        name: &str,
        obj: &Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        let mut errs = Vec::new();
        validate_meta(obj, &mut errs);
        let is = |k: &str| kind.group.is_empty() && kind.kind == k;
        if is("Secret") {
            let size: usize = obj
                .get("data")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(_, v)| v.as_str())
                .map(|v| B64.decode(v).map(|d| d.len()).unwrap_or(0))
                .sum();
            if size > SECRET_MAX {
                errs.push(FieldError::too_long("data", SECRET_MAX));
            }
        }
        if is("Secret") || is("ConfigMap") {
            for field in ["data", "binaryData"] {
                for k in obj
                    .get(field)
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|m| m.keys())
                {
                    if !is_config_key(k) {
                        errs.push(FieldError::invalid(
                            &format!("{field}[{k}]"),
                            &json!(k),
                            CONFIG_KEY_MSG,
                        ));
                    }
                }
            }
        }
        if let Some(old) = old {
            if is("Secret") && old.get("type") != obj.get("type") {
                errs.push(FieldError::invalid(
                    "type",
                    obj.get("type").unwrap_or(&Value::Null),
                    "field is immutable",
                ));
            }
            let immutable = |o: &Value| o.get("immutable").and_then(Value::as_bool) == Some(true);
            if (is("Secret") || is("ConfigMap")) && immutable(old) {
                if !immutable(obj) {
                    errs.push(FieldError::forbidden("immutable", IMMUTABLE_MSG));
                }
                let fields: &[&str] = if is("Secret") {
                    &["data"]
                } else {
                    &["data", "binaryData"]
                };
                for f in fields {
                    if old.get(*f) != obj.get(*f) {
                        errs.push(FieldError::forbidden(f, IMMUTABLE_MSG));
                    }
                }
            }
            if is_deleting(old) {
                let before = finalizers(old);
                let added: Vec<String> = finalizers(obj)
                    .into_iter()
                    .filter(|f| !before.contains(f))
                    .map(|f| format!("{f:?}"))
                    .collect();
                if !added.is_empty() {
                    errs.push(FieldError::forbidden(
                        "metadata.finalizers",
                        &format!(
                            "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                            added.join(", ")
                        ),
                    ));
                }
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(&kind.group, &kind.kind, name, &errs))
        }
    }

    /// POST: creates an object. `url_ns` is the namespace of the URL (None for direct access,
    /// which takes the object's namespace or `default`). `direct` also tolerates a set resourceVersion.
    pub(crate) fn create(
        &mut self,
        res: usize,
        url_ns: Option<&str>,
        mut obj: Value,
        dry_run: bool,
        direct: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let kind = self.resources[res].kind.clone();
        Self::check_type(&kind, &mut obj)?;
        let meta = meta_mut(&mut obj);
        let ns = if kind.namespaced {
            let body_ns = meta
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let ns = match url_ns {
                Some(u) if !body_ns.is_empty() && body_ns != u => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                Some(u) => u.to_owned(),
                None if body_ns.is_empty() => "default".to_owned(),
                None => body_ns,
            };
            meta.insert("namespace".into(), json!(ns));
            ns
        } else {
            meta.remove("namespace");
            String::new()
        };
        if !direct
            && !meta
                .get("resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        {
            return Err(ApiError::internal(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        meta.remove("resourceVersion");
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if name.is_empty() {
            let prefix = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    &kind.group,
                    &kind.kind,
                    "",
                    &[FieldError::required(
                        "metadata.name",
                        "name or generateName is required",
                    )],
                ));
            }
            // Upstream truncates the prefix so the name fits 63 characters... for some types;
            // 253 is the general limit.
            let prefix = prefix.to_owned();
            loop {
                name = format!("{prefix}{}", self.rng.name_suffix());
                if !self.resources[res]
                    .objects
                    .contains_key(&(ns.clone(), name.clone()))
                {
                    break;
                }
            }
            meta_mut(&mut obj).insert("name".into(), json!(name));
        }
        let is_ns = kind.group.is_empty() && kind.plural == "namespaces";
        let (ok, limit, msg) = if is_ns {
            (is_dns_label(&name), 63, LABEL_MSG)
        } else {
            (is_dns_subdomain(&name), 253, SUBDOMAIN_MSG)
        };
        if name.len() > limit {
            let msg = format!("must be no more than {limit} characters");
            return Err(ApiError::invalid(
                &kind.group,
                &kind.kind,
                &name,
                &[FieldError::invalid("metadata.name", &json!(name), &msg)],
            ));
        }
        if !ok {
            return Err(ApiError::invalid(
                &kind.group,
                &kind.kind,
                &name,
                &[FieldError::invalid("metadata.name", &json!(name), msg)],
            ));
        }
        let key = (ns.clone(), name.clone());
        if self.resources[res].objects.contains_key(&key) {
            return Err(ApiError::already_exists(&kind.group, &kind.plural, &name));
        }
        if kind.namespaced && self.enforce_namespaces {
            let nsres = self.namespaces();
            if !self.resources[nsres]
                .objects
                .contains_key(&(String::new(), ns.clone()))
            {
                return Err(ApiError::not_found("", "namespaces", &ns));
            }
        }
        let uid = self.rng.uid();
        let meta = meta_mut(&mut obj);
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        for f in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "managedFields",
        ] {
            meta.remove(f);
        }
        if kind.custom {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        if kind.has_status && !direct {
            ensure_object(&mut obj).remove("status");
        }
        if is_ns {
            let map = ensure_object(&mut obj);
            map.entry("spec")
                .or_insert_with(|| json!({"finalizers": ["kubernetes"]}));
            map.entry("status")
                .or_insert_with(|| json!({"phase": "Active"}));
        }
        Self::normalize(&kind, &mut obj)?;
        Self::validate(&kind, &name, &obj, None)?;
        if dry_run {
            return Ok(Arc::new(obj));
        }
        Ok(self.commit(res, key, obj, None))
    }

    /// PUT: replaces an object (or its status), with the API server's precondition and
    /// ownership rules. An unchanged object is not written again.
    pub(crate) fn replace(
        &mut self,
        res: usize,
        key: &ObjKey,
        mut body: Value,
        mode: Write,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let kind = self.resources[res].kind.clone();
        let old = self
            .get(res, key)
            .ok_or_else(|| self.not_found(res, &key.1))?;
        Self::check_type(&kind, &mut body)?;
        let meta = meta_mut(&mut body);
        let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
        if name != key.1 {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({})",
                key.1
            )));
        }
        if kind.namespaced {
            match meta.get("namespace").and_then(Value::as_str).unwrap_or("") {
                "" => {
                    meta.insert("namespace".into(), json!(key.0));
                }
                ns if ns == key.0 => {}
                _ => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
            }
        } else {
            meta.remove("namespace");
        }
        let old_rv = meta_str(&old, "resourceVersion").to_owned();
        match meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
        {
            "" if kind.custom => {
                return Err(ApiError::invalid(
                    &kind.group,
                    &kind.kind,
                    &key.1,
                    &[FieldError {
                        field: "metadata.resourceVersion".into(),
                        reason: "FieldValueInvalid",
                        detail: "Invalid value: 0x0: must be specified for an update".into(),
                    }],
                ));
            }
            "" => {}
            rv if rv == old_rv => {}
            _ => return Err(ApiError::modified(&kind.group, &kind.plural, &key.1)),
        }
        let mut new = match mode {
            Write::Whole => body,
            Write::Main => {
                if kind.has_status {
                    let map = ensure_object(&mut body);
                    match old.get("status") {
                        Some(s) => map.insert("status".into(), s.clone()),
                        None => map.remove("status"),
                    };
                }
                body
            }
            Write::Status => {
                let mut n = (*old).clone();
                let map = ensure_object(&mut n);
                match ensure_object(&mut body).remove("status") {
                    Some(s) => map.insert("status".into(), s),
                    None => map.remove("status"),
                };
                n
            }
        };
        let meta = meta_mut(&mut new);
        let old_meta = old.get("metadata").and_then(Value::as_object);
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.and_then(|m| m.get(f)) {
                Some(v) => meta.insert(f.into(), v.clone()),
                None => meta.remove(f),
            };
        }
        meta.remove("selfLink");
        meta.remove("managedFields");
        meta.insert("resourceVersion".into(), json!(old_rv));
        Self::normalize(&kind, &mut new)?;
        Self::validate(&kind, &key.1, &new, Some(&old))?;
        if kind.custom && spec_changed(&old, &new, kind.has_status) {
            let g = meta_mut(&mut new)
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        if new == *old {
            return Ok(old);
        }
        if dry_run {
            return Ok(Arc::new(new));
        }
        if is_deleting(&new) && finalizers(&new).is_empty() {
            let mut gc = Vec::new();
            let gone = self
                .remove_now(res, key, Some(new), &mut gc)
                .expect("the object exists under the lock");
            self.collect_garbage(gc);
            return Ok(gone);
        }
        Ok(self.commit(res, key.clone(), new, Some(old)))
    }

    /// PUT to the main resource: replaces, or creates on types that allow it.
    /// Returns the object and whether it was created.
    pub(crate) fn put(
        &mut self,
        res: usize,
        key: &ObjKey,
        body: Value,
        mode: Write,
        dry_run: bool,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        let kind = self.resources[res].kind.clone();
        if mode == Write::Status || !kind.create_on_update || self.get(res, key).is_some() {
            return self
                .replace(res, key, body, mode, dry_run)
                .map(|o| (o, false));
        }
        let name = meta_str(&body, "name");
        if name != key.1 {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({})",
                key.1
            )));
        }
        let ns = kind.namespaced.then_some(key.0.as_str());
        self.create(res, ns, body, dry_run, true).map(|o| (o, true))
    }

    /// PATCH. Returns the object and whether it was created (server-side apply of a new object).
    pub(crate) fn patch(
        &mut self,
        res: usize,
        key: &ObjKey,
        ptype: PatchType,
        patch: &Value,
        mode: Write,
        dry_run: bool,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        let Some(old) = self.get(res, key) else {
            if ptype == PatchType::Apply && mode == Write::Main {
                let mut body = patch.clone();
                let meta = meta_mut(&mut body);
                match meta.get("name").and_then(Value::as_str).unwrap_or("") {
                    "" => {
                        meta.insert("name".into(), json!(key.1));
                    }
                    n if n == key.1 => {}
                    n => {
                        return Err(ApiError::bad_request(format!(
                            "the name of the object ({n}) does not match the name on the URL ({})",
                            key.1
                        )));
                    }
                }
                let ns = self.resources[res]
                    .kind
                    .namespaced
                    .then_some(key.0.as_str());
                return self
                    .create(res, ns, body, dry_run, false)
                    .map(|o| (o, true));
            }
            return Err(self.not_found(res, &key.1));
        };
        let mut new = (*old).clone();
        match ptype {
            PatchType::Merge | PatchType::Strategic | PatchType::Apply => {
                merge_patch(&mut new, patch)
            }
            PatchType::Json => json_patch(&mut new, patch).map_err(|e| ApiError::new(422, e))?,
        }
        self.replace(res, key, new, mode, dry_run)
            .map(|o| (o, false))
    }

    /// DELETE. Returns the object (its last state) and whether it is gone (not held by finalizers).
    pub(crate) fn delete(
        &mut self,
        res: usize,
        key: &ObjKey,
        preconditions: Option<&Value>,
        orphan: bool,
        dry_run: bool,
    ) -> Result<(Arc<Value>, bool), ApiError> {
        let old = self
            .get(res, key)
            .ok_or_else(|| self.not_found(res, &key.1))?;
        if let Some(p) = preconditions {
            let kind = &self.resources[res].kind;
            for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
                if let Some(want) = p.get(field).and_then(Value::as_str) {
                    let have = meta_str(&old, field);
                    if want != have {
                        return Err(ApiError::conflict(
                            &kind.group,
                            &kind.plural,
                            &key.1,
                            &format!(
                                "Precondition failed: {label} in precondition: {want}, {label} in object meta: {have}"
                            ),
                        ));
                    }
                }
            }
        }
        if dry_run {
            return Ok((old, true));
        }
        let mut gc = Vec::new();
        let out = self
            .delete_obj(res, key, &mut gc)
            .expect("the object exists under the lock");
        if orphan && out.1 {
            let uid = meta_str(&out.0, "uid").to_owned();
            gc.retain(|u| *u != uid);
            self.orphan_dependents(&uid);
        }
        self.collect_garbage(gc);
        Ok(out)
    }

    // ----- reads -----

    /// One page of a list. `cont` is a continue token from an earlier page.
    pub(crate) fn list(
        &self,
        res: usize,
        ns: Option<&str>,
        filter: &Filter,
        limit: Option<usize>,
        cont: Option<&str>,
    ) -> Result<ListPage, ApiError> {
        let (rv, after) = match cont {
            Some(token) => {
                let (rv, key) = decode_continue(token)?;
                if rv < self.compacted {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    ));
                }
                (rv, Some(key))
            }
            None => (self.rv, None),
        };
        let ns = ns.filter(|_| self.resources[res].kind.namespaced);
        let start = match (after, ns) {
            (Some(k), _) => Bound::Excluded(k),
            (None, Some(ns)) => Bound::Included((ns.to_owned(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let mut items = Vec::new();
        let mut more = false;
        for (k, v) in self.resources[res].objects.range((start, Bound::Unbounded)) {
            if ns.is_some_and(|ns| k.0 != ns) {
                break;
            }
            if !filter.matches(v) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                more = true;
                break;
            }
            items.push(v.clone());
        }
        let cont = if more {
            items.last().map(|last| {
                encode_continue(rv, meta_str(last, "namespace"), meta_str(last, "name"))
            })
        } else {
            None
        };
        Ok(ListPage { items, rv, cont })
    }

    /// Starts a watch: the initial state or the history to replay, and a live subscription with
    /// no gap between them (both taken under the lock).
    pub(crate) fn watch(
        &self,
        res: usize,
        ns: Option<&str>,
        filter: &Filter,
        from: WatchFrom,
    ) -> WatchStart {
        let rx = self.tx.subscribe();
        let mut start = WatchStart {
            initial: Vec::new(),
            backlog: Vec::new(),
            rx,
            start_rv: self.rv,
            expired: None,
        };
        match from {
            WatchFrom::State => {
                let page = self
                    .list(res, ns, filter, None, None)
                    .expect("a list without a continue token cannot fail");
                start.initial = page.items;
            }
            WatchFrom::Rv(rv) if rv < self.compacted => {
                start.expired = Some(ApiError::expired(format!(
                    "too old resource version: {rv} ({})",
                    self.compacted
                )));
            }
            WatchFrom::Rv(rv) => {
                let first = self.history.partition_point(|c| c.rv <= rv);
                start.backlog = self
                    .history
                    .range(first..)
                    .filter(|c| c.res == res)
                    .cloned()
                    .collect();
                start.start_rv = start.start_rv.max(rv);
            }
        }
        start
    }

    /// Forgets the watch history: watches from any earlier version get 410 Expired.
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    let start = if ns.is_empty() {
        format!("{name}\u{0}")
    } else {
        format!("{ns}/{name}\u{0}")
    };
    B64.encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).to_string())
}

fn decode_continue(token: &str) -> Result<(u64, ObjKey), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = B64.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    let start = start.strip_suffix('\u{0}').unwrap_or(start);
    let key = match start.split_once('/') {
        Some((ns, name)) => (ns.to_owned(), name.to_owned()),
        None => (String::new(), start.to_owned()),
    };
    Ok((rv, key))
}

/// The metadata-only form of an object (`PartialObjectMetadata`).
pub(crate) fn partial(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| Value::Object(Map::new())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, usize, usize) {
        let (tx, _) = broadcast::channel(16);
        let s = Store::new(tx);
        let secrets = s.by_api("v1", "Secret").expect("built in");
        let ss = s
            .by_api("bitnami.com/v1alpha1", "sealedsecrets")
            .expect("built in");
        (s, secrets, ss)
    }

    fn key(ns: &str, name: &str) -> ObjKey {
        (ns.to_owned(), name.to_owned())
    }

    #[test]
    fn continue_tokens_roundtrip() {
        let t = encode_continue(7, "ns", "a");
        assert_eq!(decode_continue(&t).expect("valid"), (7, key("ns", "a")));
        let t = encode_continue(9, "", "a");
        assert_eq!(decode_continue(&t).expect("valid"), (9, key("", "a")));
        assert_eq!(decode_continue("garbage!").expect_err("invalid").code, 400);
    }

    #[test]
    fn status_subresource_is_isolated() {
        let (mut s, _, ss) = store();
        let created = s
            .create(
                ss,
                Some("ns"),
                json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "status": {"y": 1}}),
                false,
                false,
            )
            .expect("created");
        assert!(created.get("status").is_none(), "create drops status");
        assert_eq!(created["metadata"]["generation"], 1);
        let mut body = (*created).clone();
        body["status"] = json!({"y": 2});
        let same = s
            .replace(ss, &key("ns", "a"), body, Write::Main, false)
            .expect("replaced");
        assert!(
            Arc::ptr_eq(&same, &created),
            "a status-only change through the main resource is a no-op"
        );
        let mut body = (*created).clone();
        body["status"] = json!({"y": 3});
        body["spec"] = json!({"x": 5});
        let st = s
            .replace(ss, &key("ns", "a"), body, Write::Status, false)
            .expect("status");
        assert_eq!(st["status"]["y"], 3);
        assert_eq!(st["spec"]["x"], 1);
        assert_eq!(st["metadata"]["generation"], 1);
    }

    #[test]
    fn gc_drops_dangling_owner_references_but_keeps_co_owned_objects() {
        let (mut s, secrets, ss) = store();
        let a = s
            .create(
                ss,
                Some("ns"),
                json!({"metadata": {"name": "a"}}),
                false,
                false,
            )
            .expect("a");
        let b = s
            .create(
                ss,
                Some("ns"),
                json!({"metadata": {"name": "b"}}),
                false,
                false,
            )
            .expect("b");
        let owner = |o: &Value| json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]});
        s.create(
            secrets,
            Some("ns"),
            json!({"metadata": {"name": "both", "ownerReferences": [owner(&a), owner(&b)]}}),
            false,
            false,
        )
        .expect("both");
        s.create(
            secrets,
            Some("ns"),
            json!({"metadata": {"name": "only-a", "ownerReferences": [owner(&a)]}}),
            false,
            false,
        )
        .expect("only-a");
        s.delete(ss, &key("ns", "a"), None, false, false)
            .expect("deleted");
        assert!(s.get(secrets, &key("ns", "only-a")).is_none());
        let both = s.get(secrets, &key("ns", "both")).expect("kept");
        assert_eq!(
            both["metadata"]["ownerReferences"].as_array().map(Vec::len),
            Some(1)
        );
        s.delete(ss, &key("ns", "b"), None, false, false)
            .expect("deleted");
        assert!(s.get(secrets, &key("ns", "both")).is_none());
    }

    #[test]
    fn finalizers_hold_deletion_until_removed() {
        let (mut s, _, ss) = store();
        s.create(
            ss,
            Some("ns"),
            json!({"metadata": {"name": "a", "finalizers": ["x/y"]}}),
            false,
            false,
        )
        .expect("created");
        let (obj, gone) = s
            .delete(ss, &key("ns", "a"), None, false, false)
            .expect("deleting");
        assert!(!gone);
        assert!(is_deleting(&obj));
        assert_eq!(obj["metadata"]["generation"], 2);
        let mut body = (*obj).clone();
        body["metadata"]["finalizers"] = json!(["x/y", "new"]);
        assert_eq!(
            s.replace(ss, &key("ns", "a"), body, Write::Main, false)
                .expect_err("forbidden")
                .code,
            422
        );
        let mut body = (*obj).clone();
        body["metadata"]["finalizers"] = json!([]);
        s.replace(ss, &key("ns", "a"), body, Write::Main, false)
            .expect("finalized");
        assert!(s.get(ss, &key("ns", "a")).is_none());
    }

    #[test]
    fn history_overflow_expires_old_watches() {
        let (mut s, secrets, _) = store();
        s.history_limit = 3;
        let before = s.rv();
        for i in 0..5 {
            s.create(
                secrets,
                Some("ns"),
                json!({"metadata": {"name": format!("s{i}")}}),
                false,
                false,
            )
            .expect("created");
        }
        let w = s.watch(secrets, None, &Filter::default(), WatchFrom::Rv(before));
        assert!(w.expired.is_some());
        let w = s.watch(secrets, None, &Filter::default(), WatchFrom::Rv(s.rv() - 2));
        assert!(w.expired.is_none());
        assert_eq!(w.backlog.len(), 2);
    }
}
