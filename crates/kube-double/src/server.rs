//! The HTTP side: routing, handlers, watch streams.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};

use crate::error::ApiError;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{
    Change, ChangeType, Filter, Msg, ObjKey, PatchType, Store, WatchFrom, WatchStart, Write,
    partial,
};
use crate::util::{meta_str, parse_query, percent_decode};
use crate::{Fault, RequestRecord};

type Body = BoxBody<Bytes, io::Error>;

/// A chunk of a streamed body; an error aborts the connection.
type Chunk = Result<Bytes, io::Error>;

/// The bounded request log.
pub(crate) struct RequestLog {
    pub(crate) on: bool,
    pub(crate) limit: usize,
    pub(crate) records: VecDeque<RequestRecord>,
}

/// State shared by the handle and the server tasks.
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) log: Mutex<RequestLog>,
    pub(crate) bookmark_ms: AtomicU64,
    pub(crate) open_watches: AtomicUsize,
    pub(crate) tx: broadcast::Sender<Msg>,
    pub(crate) addr: SocketAddr,
}

/// Locks, carrying on after a panic elsewhere (a failed test thread must not hide the next failure).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn take_fault(&self, method: &Method, target: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let i = faults.iter().position(|f| {
            f.method.as_ref().is_none_or(|m| m == method) && target.contains(&f.path_contains)
        })?;
        let fault = faults[i].clone();
        if faults[i].times <= 1 {
            faults.remove(i);
        } else if faults[i].times != usize::MAX {
            faults[i].times -= 1;
        }
        Some(fault)
    }

    fn record(&self, rec: RequestRecord) {
        let mut log = lock(&self.log);
        if !log.on {
            return;
        }
        log.records.push_back(rec);
        while log.records.len() > log.limit {
            log.records.pop_front();
        }
    }
}

/// Accepts connections until `shutdown` fires or its sender is dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // Nagle plus delayed ACKs would add 40 ms to small requests.
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    // A client hanging up mid-request is not our problem.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

fn full(code: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_str(content_type)
            .unwrap_or(http::HeaderValue::from_static("application/json")),
    );
    resp
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    full(
        code,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status())
}

fn object_response(code: u16, obj: &Value, meta_only: bool) -> Response<Body> {
    if meta_only {
        json_response(code, &partial(obj))
    } else {
        json_response(code, obj)
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let target = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let mut disconnected = false;
    let resp = match shared.take_fault(&method, &target) {
        Some(fault) => {
            disconnected = fault.disconnect;
            if let Some(d) = fault.delay {
                tokio::time::sleep(d).await;
            }
            match fault.status {
                _ if fault.disconnect => {
                    // Headers, then a broken body: the client sees the connection drop.
                    let broken = futures::stream::once(async {
                        Err::<Frame<Bytes>, _>(io::Error::other("kube-double: injected disconnect"))
                    });
                    Response::new(StreamBody::new(broken).boxed())
                }
                Some(code) => {
                    let message = fault
                        .message
                        .clone()
                        .unwrap_or_else(|| format!("injected fault for {method} {path}"));
                    error_response(&ApiError::new(code, message))
                }
                None => dispatch(&shared, req, &path, &query).await,
            }
        }
        None => dispatch(&shared, req, &path, &query).await,
    };
    shared.record(RequestRecord {
        method,
        path,
        query,
        status: if disconnected {
            0
        } else {
            resp.status().as_u16()
        },
    });
    resp
}

/// The parsed request, minus the body.
struct Call<'a> {
    shared: &'a Arc<Shared>,
    method: Method,
    query: Vec<(String, String)>,
    meta_only: bool,
    content_type: String,
    body: Bytes,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn dry_run(&self) -> bool {
        self.param("dryRun").is_some_and(|v| v == "All")
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    }
}

async fn dispatch(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    path: &str,
    query: &str,
) -> Response<Body> {
    let method = req.method().clone();
    let header_str = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let accept = header_str(header::ACCEPT);
    let meta_only = accept.contains("as=PartialObjectMetadata");
    // Aggregated discovery is asked for first in the Accept list; plain JSON is the fallback.
    let aggregated = accept.starts_with("application/json;g=apidiscovery.k8s.io;v=v2");
    let content_type = header_str(header::CONTENT_TYPE);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_response(&ApiError::bad_request(format!("reading the body: {e}"))),
    };
    let call = Call {
        shared,
        method,
        query: parse_query(query),
        meta_only,
        content_type,
        body,
    };
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let get_only = |f: &dyn Fn() -> Value| {
        if call.method == Method::GET {
            json_response(200, &f())
        } else {
            error_response(&method_not_allowed(&call.method))
        }
    };
    match segs.as_slice() {
        ["version"] => get_only(&|| {
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-double",
                   "gitCommit": "", "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                   "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"})
        }),
        ["api"] if aggregated => get_only(&|| aggregated_discovery(&shared.store(), true)),
        ["apis"] if aggregated => get_only(&|| aggregated_discovery(&shared.store(), false)),
        ["api"] => get_only(&|| {
            json!({"kind": "APIVersions", "versions": ["v1"],
                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": shared.addr.to_string()}]})
        }),
        ["apis"] => get_only(&|| group_list(&shared.store())),
        ["api", "v1"] => get_only(&|| resource_list(&shared.store(), "", "v1")),
        ["apis", group] => {
            let g = group_list(&shared.store());
            match g["groups"]
                .as_array()
                .and_then(|gs| gs.iter().find(|x| x["name"] == *group))
            {
                Some(found) => get_only(&|| {
                    let mut v = found.clone();
                    v["kind"] = json!("APIGroup");
                    v["apiVersion"] = json!("v1");
                    v
                }),
                None => error_response(&no_such_path()),
            }
        }
        ["apis", group, version] => {
            let known = shared
                .store()
                .kinds()
                .any(|k| k.group == *group && k.version == *version);
            if known {
                get_only(&|| resource_list(&shared.store(), group, version))
            } else {
                error_response(&no_such_path())
            }
        }
        ["api", "v1", rest @ ..] => resource(&call, "", "v1", rest).await,
        ["apis", group, version, rest @ ..] => resource(&call, group, version, rest).await,
        _ => error_response(&no_such_path()),
    }
}

fn no_such_path() -> ApiError {
    ApiError::new(404, "the server could not find the requested resource")
        .with_details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}))
}

fn method_not_allowed(m: &Method) -> ApiError {
    ApiError::new(
        405,
        format!("the server does not allow this method on the requested resource ({m})"),
    )
}

fn group_list(store: &Store) -> Value {
    let mut groups: Vec<(String, String)> = store
        .kinds()
        .filter(|k| !k.group.is_empty())
        .map(|k| (k.group.clone(), k.version.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList` for `/api` (`core`) or `/apis`.
fn aggregated_discovery(store: &Store, core: bool) -> Value {
    let mut groups: Vec<(String, String)> = store
        .kinds()
        .filter(|k| k.group.is_empty() == core)
        .map(|k| (k.group.clone(), k.version.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    let items: Vec<Value> = groups
        .iter()
        .map(|(g, v)| {
            let resources: Vec<Value> = store
                .kinds()
                .filter(|k| &k.group == g && &k.version == v)
                .map(|k| {
                    let response_kind = json!({"group": k.group, "version": k.version, "kind": k.kind});
                    let subresources: Vec<Value> = if k.has_status {
                        vec![json!({"subresource": "status", "responseKind": response_kind,
                                    "verbs": ["get", "patch", "update"]})]
                    } else {
                        Vec::new()
                    };
                    json!({
                        "resource": k.plural, "responseKind": response_kind,
                        "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": k.kind.to_lowercase(),
                        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                        "subresources": subresources,
                    })
                })
                .collect();
            let meta = if g.is_empty() { json!({}) } else { json!({"name": g}) };
            json!({"metadata": meta, "versions": [{"version": v, "resources": resources, "freshness": "Current"}]})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

fn resource_list(store: &Store, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for k in store
        .kinds()
        .filter(|k| k.group == group && k.version == version)
    {
        resources.push(json!({
            "name": k.plural, "singularName": k.kind.to_lowercase(), "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        }));
        if k.has_status {
            resources.push(json!({
                "name": format!("{}/status", k.plural), "singularName": "", "namespaced": k.namespaced,
                "kind": k.kind, "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

async fn resource(call: &Call<'_>, group: &str, version: &str, rest: &[&str]) -> Response<Body> {
    match resource_inner(call, group, version, rest).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    }
}

async fn resource_inner(
    call: &Call<'_>,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    let namespace_sub =
        rest.len() == 3 && rest[0] == "namespaces" && matches!(rest[2], "status" | "finalize");
    let (ns, rest) = if rest.len() >= 3 && rest[0] == "namespaces" && !namespace_sub {
        (Some(rest[1]), &rest[2..])
    } else {
        (None, rest)
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, s] => (*p, Some(*n), Some(*s)),
        _ => return Err(no_such_path()),
    };
    let (res, kind) = {
        let store = call.shared.store();
        let res = store
            .by_path(group, version, plural)
            .ok_or_else(no_such_path)?;
        (res, store.kind(res).clone())
    };
    if ns.is_some() && !kind.namespaced {
        return Err(no_such_path());
    }
    let m = &call.method;
    let Some(name) = name else {
        return match *m {
            Method::GET if call.param("watch").is_some_and(|w| w == "true" || w == "1") => {
                watch(call, res, ns)
            }
            Method::GET => list(call, res, ns),
            Method::POST if kind.namespaced && ns.is_none() => Err(method_not_allowed(m)),
            Method::POST => {
                let body = call.json_body()?;
                let obj = call
                    .shared
                    .store()
                    .create(res, ns, body, call.dry_run(), false)?;
                Ok(object_response(201, &obj, call.meta_only))
            }
            Method::DELETE => delete_collection(call, res, ns),
            _ => Err(method_not_allowed(m)),
        };
    };
    if kind.namespaced && ns.is_none() {
        return Err(no_such_path());
    }
    let mode = match sub {
        None => Write::Main,
        Some("status") if kind.has_status => Write::Status,
        Some(_) => return Err(no_such_path()),
    };
    let key: ObjKey = (ns.unwrap_or("").to_owned(), name.to_owned());
    match *m {
        Method::GET => {
            let obj = call.shared.store().get(res, &key);
            let obj = obj.ok_or_else(|| ApiError::not_found(&kind.group, &kind.plural, name))?;
            Ok(object_response(200, &obj, call.meta_only))
        }
        Method::PUT => {
            let body = call.json_body()?;
            let (obj, created) = call
                .shared
                .store()
                .put(res, &key, body, mode, call.dry_run())?;
            Ok(object_response(
                if created { 201 } else { 200 },
                &obj,
                call.meta_only,
            ))
        }
        Method::PATCH => {
            let ct = call.content_type.split(';').next().unwrap_or("").trim();
            let ptype = match ct {
                "application/merge-patch+json" => PatchType::Merge,
                "application/strategic-merge-patch+json" => PatchType::Strategic,
                "application/json-patch+json" => PatchType::Json,
                "application/apply-patch+yaml" | "application/apply-patch+cbor" => PatchType::Apply,
                _ => {
                    return Err(ApiError::new(
                        415,
                        format!(
                            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {ct:?})"
                        ),
                    ));
                }
            };
            let patch = call.json_body().map_err(|e| {
                if ptype == PatchType::Apply {
                    ApiError::new(
                        415,
                        "kube-double reads apply patches only as JSON, not YAML",
                    )
                } else {
                    e
                }
            })?;
            let (obj, created) =
                call.shared
                    .store()
                    .patch(res, &key, ptype, &patch, mode, call.dry_run())?;
            Ok(object_response(
                if created { 201 } else { 200 },
                &obj,
                call.meta_only,
            ))
        }
        Method::DELETE if mode == Write::Main => {
            let opts: Value = if call.body.is_empty() {
                Value::Null
            } else {
                call.json_body()?
            };
            let dry_run = call.dry_run()
                || opts
                    .get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|v| v == "All"));
            // kube sends it in the body; kubectl may put it in the query.
            let orphan = opts.get("propagationPolicy").and_then(Value::as_str) == Some("Orphan")
                || call.param("propagationPolicy") == Some("Orphan")
                || opts.get("orphanDependents").and_then(Value::as_bool) == Some(true);
            let (obj, gone) = call.shared.store().delete(
                res,
                &key,
                opts.get("preconditions"),
                orphan,
                dry_run,
            )?;
            if gone && !kind.custom {
                let mut details =
                    json!({"name": name, "kind": kind.plural, "uid": meta_str(&obj, "uid")});
                if !kind.group.is_empty() {
                    details["group"] = json!(kind.group);
                }
                Ok(json_response(
                    200,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
                ))
            } else {
                Ok(object_response(200, &obj, call.meta_only))
            }
        }
        _ => Err(method_not_allowed(m)),
    }
}

fn filter(call: &Call<'_>, res: usize) -> Result<Filter, ApiError> {
    let kind = call.shared.store().kind(res).clone();
    Ok(Filter {
        labels: LabelSelector::parse(call.param("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(call.param("fieldSelector").unwrap_or(""), &kind)?,
    })
}

/// Serializes a list without copying the objects.
fn list_body(
    call: &Call<'_>,
    res: usize,
    items: &[Arc<Value>],
    rv: u64,
    cont: Option<&str>,
) -> Vec<u8> {
    let kind = call.shared.store().kind(res).clone();
    let (api_version, list_kind) = if call.meta_only {
        (
            "meta.k8s.io/v1".to_owned(),
            "PartialObjectMetadataList".to_owned(),
        )
    } else {
        (kind.api_version(), format!("{}List", kind.kind))
    };
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    let mut buf = Vec::with_capacity(64 + items.len() * 512);
    buf.extend_from_slice(
        format!(
            r#"{{"kind":"{list_kind}","apiVersion":"{api_version}","metadata":{meta},"items":["#
        )
        .as_bytes(),
    );
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let written = if call.meta_only {
            serde_json::to_writer(&mut buf, &partial(item))
        } else {
            serde_json::to_writer(&mut buf, &**item)
        };
        written.expect("a JSON value serializes into a Vec");
    }
    buf.extend_from_slice(b"]}");
    buf
}

fn list(call: &Call<'_>, res: usize, ns: Option<&str>) -> Result<Response<Body>, ApiError> {
    let filter = filter(call, res)?;
    let limit = match call.param("limit") {
        None | Some("") => None,
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?,
        )
        .filter(|l| *l > 0),
    };
    let cont = call.param("continue").filter(|c| !c.is_empty());
    let page = call.shared.store().list(res, ns, &filter, limit, cont)?;
    let body = list_body(call, res, &page.items, page.rv, page.cont.as_deref());
    Ok(full(200, "application/json", body))
}

fn delete_collection(
    call: &Call<'_>,
    res: usize,
    ns: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let filter = filter(call, res)?;
    let dry_run = call.dry_run();
    let (deleted, rv) = {
        let mut store = call.shared.store();
        let page = store.list(res, ns, &filter, None, None)?;
        let mut deleted = Vec::with_capacity(page.items.len());
        for obj in page.items {
            let key: ObjKey = (
                meta_str(&obj, "namespace").to_owned(),
                meta_str(&obj, "name").to_owned(),
            );
            if let Ok((o, _)) = store.delete(res, &key, None, false, dry_run) {
                deleted.push(o);
            }
        }
        (deleted, store.rv())
    };
    Ok(full(
        200,
        "application/json",
        list_body(call, res, &deleted, rv, None),
    ))
}

/// How one watch renders changes.
struct WatchView {
    res: usize,
    ns: Option<String>,
    filter: Filter,
    meta_only: bool,
    api_version: String,
    kind: String,
}

impl WatchView {
    fn matches(&self, obj: &Value) -> bool {
        self.ns
            .as_ref()
            .is_none_or(|ns| meta_str(obj, "namespace") == ns)
            && self.filter.matches(obj)
    }

    fn line(&self, ty: &str, obj: &Value) -> Bytes {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(br#"{"type":""#);
        buf.extend_from_slice(ty.as_bytes());
        buf.extend_from_slice(br#"","object":"#);
        let written = if self.meta_only {
            serde_json::to_writer(&mut buf, &partial(obj))
        } else {
            serde_json::to_writer(&mut buf, obj)
        };
        written.expect("a JSON value serializes into a Vec");
        buf.extend_from_slice(b"}\n");
        buf.into()
    }

    /// The event this watch sees for a change, if any: a selector watch sees an object that
    /// stops matching as DELETED and one that starts matching as ADDED.
    fn render(&self, ch: &Change) -> Option<Bytes> {
        if ch.res != self.res {
            return None;
        }
        let now = self.matches(&ch.obj);
        let before = ch.prev.as_deref().is_some_and(|p| self.matches(p));
        let ty = match ch.ty {
            ChangeType::Added if now => "ADDED",
            ChangeType::Deleted if now => "DELETED",
            ChangeType::Modified if now && before => "MODIFIED",
            ChangeType::Modified if now => "ADDED",
            ChangeType::Modified if before => "DELETED",
            _ => return None,
        };
        Some(self.line(ty, &ch.obj))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let (api_version, kind) = if self.meta_only {
            ("meta.k8s.io/v1", "PartialObjectMetadata")
        } else {
            (self.api_version.as_str(), self.kind.as_str())
        };
        let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": kind, "apiVersion": api_version, "metadata": meta});
        let mut buf = serde_json::to_vec(&json!({"type": "BOOKMARK", "object": obj}))
            .expect("a JSON value serializes into a Vec");
        buf.push(b'\n');
        buf.into()
    }
}

struct WatchOpts {
    bookmarks: bool,
    initial_end_marker: bool,
    timeout: Duration,
    bookmark_every: Duration,
}

fn watch(call: &Call<'_>, res: usize, ns: Option<&str>) -> Result<Response<Body>, ApiError> {
    let filter = filter(call, res)?;
    let send_initial = call.param("sendInitialEvents") == Some("true");
    let from = match call.param("resourceVersion") {
        None | Some("" | "0") => WatchFrom::State,
        Some(_) if send_initial => WatchFrom::State,
        Some(rv) => WatchFrom::Rv(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let timeout = match call.param("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t}")))?,
        ),
        None => Duration::from_secs(1800),
    };
    let bookmarks = call.param("allowWatchBookmarks") == Some("true");
    let (start, kind) = {
        let store = call.shared.store();
        (store.watch(res, ns, &filter, from), store.kind(res).clone())
    };
    let view = WatchView {
        res,
        ns: ns.map(str::to_owned),
        filter,
        meta_only: call.meta_only,
        api_version: kind.api_version(),
        kind: kind.kind.clone(),
    };
    let opts = WatchOpts {
        bookmarks,
        initial_end_marker: send_initial && bookmarks,
        timeout,
        bookmark_every: Duration::from_millis(
            call.shared.bookmark_ms.load(Ordering::Relaxed).max(1),
        ),
    };
    let (tx, rx) = mpsc::channel::<Chunk>(256);
    let shared = call.shared.clone();
    shared.open_watches.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        run_watch(start, view, opts, tx).await;
        shared.open_watches.fetch_sub(1, Ordering::SeqCst);
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk.map(Frame::data), rx))
    });
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

async fn run_watch(start: WatchStart, view: WatchView, opts: WatchOpts, tx: mpsc::Sender<Chunk>) {
    let WatchStart {
        initial,
        backlog,
        mut rx,
        start_rv,
        expired,
    } = start;
    if let Some(e) = expired {
        let mut buf = serde_json::to_vec(&json!({"type": "ERROR", "object": e.to_status()}))
            .expect("a JSON value serializes into a Vec");
        buf.push(b'\n');
        let _ = tx.send(Ok(buf.into())).await;
        return;
    }
    for obj in &initial {
        if tx.send(Ok(view.line("ADDED", obj))).await.is_err() {
            return;
        }
    }
    drop(initial);
    if opts.initial_end_marker && tx.send(Ok(view.bookmark(start_rv, true))).await.is_err() {
        return;
    }
    let mut last_rv = start_rv;
    for ch in &backlog {
        last_rv = last_rv.max(ch.rv);
        if let Some(line) = view.render(ch)
            && tx.send(Ok(line)).await.is_err()
        {
            return;
        }
    }
    drop(backlog);
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + opts.bookmark_every,
        opts.bookmark_every,
    );
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = tx.closed() => return,
            msg = rx.recv() => match msg {
                Ok(Msg::Change(ch)) => {
                    if ch.rv <= last_rv {
                        continue;
                    }
                    last_rv = ch.rv;
                    if let Some(line) = view.render(&ch)
                        && tx.send(Ok(line)).await.is_err()
                        {
                            return;
                        }
                }
                // Closed on purpose, lagged behind (the API server drops slow watchers too; the
                // client resumes from its last version), or shutting down.
                Ok(Msg::Close) | Err(_) => return,
                Ok(Msg::Abort) => {
                    let _ = tx.send(Err(io::Error::other("kube-double: watch broken on purpose"))).await;
                    return;
                }
            },
            () = tokio::time::sleep_until(deadline) => return,
            _ = ticks.tick(), if opts.bookmarks => {
                if tx.send(Ok(view.bookmark(last_rv, false))).await.is_err() {
                    return;
                }
            }
        }
    }
}
