//! A stand-in for the API server: Service GET and list (label and field selectors), and the
//! service-proxy paths of the controller (cert.pem, verify, rotate). Records every request.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};

use super::{TempDir, testdata};

/// One Service the fake cluster has.
#[derive(Clone, Debug)]
pub struct Svc {
    namespace: String,
    name: String,
    labels: Vec<(String, String)>,
    ports: Vec<(Option<String>, i32)>,
}

impl Svc {
    pub fn new(
        ns: &str,
        name: &str,
        labels: &[(&str, &str)],
        ports: &[(Option<&str>, i32)],
    ) -> Self {
        Self {
            namespace: ns.to_owned(),
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ports: ports
                .iter()
                .map(|(n, p)| (n.map(str::to_owned), *p))
                .collect(),
        }
    }

    fn to_json(&self) -> Value {
        let labels: serde_json::Map<String, Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let ports: Vec<Value> = self
            .ports
            .iter()
            .map(|(n, p)| match n {
                Some(n) => json!({"name": n, "port": p}),
                None => json!({"port": p}),
            })
            .collect();
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": labels},
            "spec": {"ports": ports}})
    }

    fn matches(&self, selector: &str) -> bool {
        selector.split(',').filter(|s| !s.is_empty()).all(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                !self.labels.iter().any(|(lk, lv)| lk == k && lv == v)
            } else if let Some((k, v)) = term.split_once('=') {
                let v = v.trim_start_matches('=');
                self.labels.iter().any(|(lk, lv)| lk == k && lv == v)
            } else {
                self.labels.iter().any(|(lk, _)| lk == term)
            }
        })
    }
}

/// What a request looked like.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub accept: Option<String>,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    services: Vec<Svc>,
    status: Option<u16>,
    delay: Option<Duration>,
    forbid_all_namespaces: bool,
    requests: Vec<Recorded>,
}

/// A running fake API server and a kubeconfig pointing at it.
pub struct FakeApi {
    pub base_url: String,
    pub kubeconfig: PathBuf,
    state: Arc<Mutex<State>>,
    _dir: TempDir,
    _rt: tokio::runtime::Runtime,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap()
}

fn status_json(code: u16, reason: &str) -> Response<Full<Bytes>> {
    respond(
        code,
        "application/json",
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": reason, "reason": reason, "code": code})
        .to_string(),
    )
}

fn list(items: Vec<Value>) -> Response<Full<Bytes>> {
    respond(
        200,
        "application/json",
        json!({"apiVersion": "v1", "kind": "ServiceList", "metadata": {"resourceVersion": "1"}, "items": items})
            .to_string(),
    )
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (accept, authorization) = (header("accept"), header("authorization"));
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let delay = {
        let mut s = state.lock().unwrap();
        s.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            accept,
            authorization,
            body: body_json.clone(),
        });
        s.delay
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let s = state.lock().unwrap();
    let cert = std::fs::read(testdata("keys/rsa4096.crt")).unwrap();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let resp = match parts.as_slice() {
        ["v1", "cert.pem"] => respond(200, "application/x-pem-file", cert),
        ["api", "v1", "services"] => {
            if s.forbid_all_namespaces {
                status_json(403, "Forbidden")
            } else {
                let labels = query_param(&query, "labelSelector").unwrap_or_default();
                let fields = query_param(&query, "fieldSelector").unwrap_or_default();
                let name = fields.strip_prefix("metadata.name=").map(str::to_owned);
                list(
                    s.services
                        .iter()
                        .filter(|svc| {
                            svc.matches(&labels) && name.as_ref().is_none_or(|n| *n == svc.name)
                        })
                        .map(Svc::to_json)
                        .collect(),
                )
            }
        }
        ["api", "v1", "namespaces", ns, "services"] => {
            let labels = query_param(&query, "labelSelector").unwrap_or_default();
            list(
                s.services
                    .iter()
                    .filter(|svc| svc.namespace == *ns && svc.matches(&labels))
                    .map(Svc::to_json)
                    .collect(),
            )
        }
        ["api", "v1", "namespaces", ns, "services", name] => {
            match s
                .services
                .iter()
                .find(|svc| svc.namespace == *ns && svc.name == *name)
            {
                Some(svc) => respond(200, "application/json", svc.to_json().to_string()),
                None => status_json(404, "NotFound"),
            }
        }
        [
            "api",
            "v1",
            "namespaces",
            ns,
            "services",
            target,
            "proxy",
            "v1",
            endpoint,
        ] => {
            let mut t = target.splitn(3, ':');
            let (scheme, name, port) = (
                t.next().unwrap_or(""),
                t.next().unwrap_or(""),
                t.next().unwrap_or(""),
            );
            let svc = s
                .services
                .iter()
                .find(|svc| svc.namespace == *ns && svc.name == name);
            let port_ok = svc.is_some_and(|svc| {
                svc.ports
                    .iter()
                    .any(|(n, _)| n.as_deref().unwrap_or("") == port)
            });
            if scheme != "http" || !port_ok {
                status_json(404, "NotFound")
            } else if let Some(code) = s.status.filter(|_| *endpoint != "cert.pem") {
                respond(code, "text/plain", format!("status {code}"))
            } else {
                match *endpoint {
                    "cert.pem" => respond(200, "application/x-pem-file", cert),
                    "verify" => respond(200, "text/plain", ""),
                    "rotate" => {
                        let mut doc = body_json;
                        doc["metadata"]["annotations"]["rotated"] = json!("yes");
                        doc["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
                        doc["metadata"]["generation"] = json!(3);
                        respond(200, "application/json", doc.to_string())
                    }
                    _ => status_json(404, "NotFound"),
                }
            }
        }
        _ => status_json(404, "NotFound"),
    };
    Ok(resp)
}

impl FakeApi {
    /// The controller where upstream's manifests put it: Service
    /// `kube-system/sealed-secrets-controller`, unnamed port 8080.
    pub fn with_default_controller() -> Self {
        Self::start(vec![Svc::new(
            "kube-system",
            "sealed-secrets-controller",
            &[],
            &[(None, 8080)],
        )])
    }

    pub fn start(services: Vec<Svc>) -> Self {
        let state = Arc::new(Mutex::new(State {
            services,
            ..State::default()
        }));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let st = state.clone();
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                });
            }
        });
        let base_url = format!("http://{addr}");
        let dir = TempDir::new();
        let kubeconfig = dir.write(
            "kubeconfig",
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: {base_url}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\nusers:\n- name: fake\n  user:\n    token: kubeconfig-token\n"
            ),
        );
        Self {
            base_url,
            kubeconfig,
            state,
            _dir: dir,
            _rt: rt,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Answer verify and rotate with this status.
    pub fn set_status(&self, code: u16) {
        self.state.lock().unwrap().status = Some(code);
    }

    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = Some(d);
    }

    pub fn set_forbid_all_namespaces(&self, forbid: bool) {
        self.state.lock().unwrap().forbid_all_namespaces = forbid;
    }
}
