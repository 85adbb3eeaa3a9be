//! Reaching the controller through the API server's service proxy, with the user's kubeconfig
//! (SPEC §9), and fetching certificates from URLs. Every request is bounded by a timeout.

use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams};
use kube::config::{
    AuthInfo, Cluster, Context as KubeContext, KubeConfigOptions, Kubeconfig, NamedAuthInfo,
    NamedCluster, NamedContext,
};
use kube::{Client, Config};

use crate::cli::{DEFAULT_CONTROLLER_NAME, DEFAULT_CONTROLLER_NAMESPACE};

/// The chart's usual full name, tried after the CLI default.
const CHART_NAME: &str = "sealed-secrets";
/// Label selectors that find the controller's Service.
const SELECTORS: [&str; 2] = [
    "app.kubernetes.io/name=sealed-secrets,app.kubernetes.io/component!=metrics",
    "name=sealed-secrets-controller",
];

/// kubectl's connection flags and the controller's location.
#[derive(Clone, Debug, Default)]
pub struct ClusterOpts {
    pub kubeconfig: Option<PathBuf>,
    pub namespace: Option<String>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub server: Option<String>,
    pub token: Option<String>,
    pub as_user: Option<String>,
    pub as_groups: Vec<String>,
    pub certificate_authority: Option<String>,
    pub client_certificate: Option<String>,
    pub client_key: Option<String>,
    pub tls_server_name: Option<String>,
    pub insecure_skip_tls_verify: bool,
    pub timeout: Duration,
    pub controller_name: Option<String>,
    pub controller_namespace: Option<String>,
}

fn read_kubeconfig(path: Option<&PathBuf>) -> Result<Kubeconfig> {
    // A --kubeconfig that isn't there is said in Go's words, as kubeseal says it.
    if let Some(p) = path
        && let Err(e) = std::fs::metadata(p)
    {
        return Err(anyhow!(
            "cannot read the kubeconfig (stat {}: {})",
            p.display(),
            crate::files::go_error_text(&e)
        ));
    }
    // kube's message already names the file and the cause; its source would repeat it.
    match path {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    }
    .map_err(|e| anyhow!("cannot read the kubeconfig ({e})"))
}

impl ClusterOpts {
    /// The namespace of the kubeconfig's (or `--context`'s) context, read without building a
    /// client. A missing or unreadable kubeconfig simply has none.
    pub fn kubeconfig_namespace(&self) -> Option<String> {
        let kc = read_kubeconfig(self.kubeconfig.as_ref()).ok()?;
        let name = self.context.clone().or(kc.current_context.clone())?;
        kc.contexts
            .into_iter()
            .find(|c| c.name == name)?
            .context?
            .namespace
            .filter(|n| !n.is_empty())
    }

    /// `-n`, else the kubeconfig's namespace.
    pub fn effective_namespace(&self) -> Option<String> {
        self.namespace
            .clone()
            .or_else(|| self.kubeconfig_namespace())
    }

    /// The kubeconfig with the command-line overrides applied, and the names to pick.
    fn kubeconfig_with_overrides(&self) -> Result<(Kubeconfig, KubeConfigOptions)> {
        const SYNTHETIC: &str = "kubectl-seal";
        let mut kc = match read_kubeconfig(self.kubeconfig.as_ref()) {
            Ok(kc) => kc,
            Err(_) if self.server.is_some() && self.kubeconfig.is_none() => Kubeconfig::default(),
            Err(e) => {
                bail!("{e}; set --kubeconfig or KUBECONFIG, or use --cert to seal offline");
            }
        };
        let mut ctx_name = self.context.clone().or(kc.current_context.clone());
        if ctx_name
            .as_ref()
            .is_none_or(|n| !kc.contexts.iter().any(|c| &c.name == n))
        {
            if let Some(n) = &self.context {
                bail!("context {n:?} not found in the kubeconfig");
            }
            if self.server.is_none() {
                bail!("the kubeconfig has no current context; set --context or --server");
            }
            kc.contexts.push(NamedContext {
                name: SYNTHETIC.to_owned(),
                context: Some(KubeContext {
                    cluster: SYNTHETIC.to_owned(),
                    ..KubeContext::default()
                }),
                other: Default::default(),
            });
            ctx_name = Some(SYNTHETIC.to_owned());
        }
        let ctx_name = ctx_name.expect("set above");
        let ctx = kc
            .contexts
            .iter()
            .find(|c| c.name == ctx_name)
            .and_then(|c| c.context.clone())
            .unwrap_or_default();
        let cluster_name = self.cluster.clone().unwrap_or_else(|| ctx.cluster.clone());
        let user_name = self
            .user
            .clone()
            .or(ctx.user.clone())
            .unwrap_or_else(|| SYNTHETIC.to_owned());

        if !kc.clusters.iter().any(|c| c.name == cluster_name) {
            if self.server.is_none() {
                bail!("cluster {cluster_name:?} not found in the kubeconfig");
            }
            kc.clusters.push(NamedCluster {
                name: cluster_name.clone(),
                cluster: Some(Cluster::default()),
                other: Default::default(),
            });
        }
        let cluster = kc
            .clusters
            .iter_mut()
            .find(|c| c.name == cluster_name)
            .expect("inserted above")
            .cluster
            .get_or_insert_with(Cluster::default);
        if let Some(s) = &self.server {
            cluster.server = Some(s.clone());
        }
        if let Some(ca) = &self.certificate_authority {
            cluster.certificate_authority = Some(ca.clone());
            cluster.certificate_authority_data = None;
        }
        if self.insecure_skip_tls_verify {
            cluster.insecure_skip_tls_verify = Some(true);
        }
        if let Some(n) = &self.tls_server_name {
            cluster.tls_server_name = Some(n.clone());
        }

        if !kc.auth_infos.iter().any(|a| a.name == user_name) {
            kc.auth_infos.push(NamedAuthInfo {
                name: user_name.clone(),
                auth_info: Some(AuthInfo::default()),
                other: Default::default(),
            });
        }
        let auth = kc
            .auth_infos
            .iter_mut()
            .find(|a| a.name == user_name)
            .expect("inserted above")
            .auth_info
            .get_or_insert_with(AuthInfo::default);
        if let Some(t) = &self.token {
            auth.token = Some(secrecy::SecretString::from(t.clone()));
            auth.token_file = None;
        }
        if let Some(c) = &self.client_certificate {
            auth.client_certificate = Some(c.clone());
            auth.client_certificate_data = None;
        }
        if let Some(k) = &self.client_key {
            auth.client_key = Some(k.clone());
            auth.client_key_data = None;
        }
        if let Some(u) = &self.as_user {
            auth.impersonate = Some(u.clone());
        }
        if !self.as_groups.is_empty() {
            auth.impersonate_groups = Some(self.as_groups.clone());
        }
        let opts = KubeConfigOptions {
            context: Some(ctx_name),
            cluster: Some(cluster_name),
            user: Some(user_name),
        };
        Ok((kc, opts))
    }

    /// Connects to the API server; nothing is sent yet.
    pub fn connect(&self) -> Result<Connection> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")?;
        let (kc, opts) = self.kubeconfig_with_overrides()?;
        let timeout = self.timeout;
        let client = rt.block_on(async {
            let mut config = bounded(timeout, "loading the kubeconfig", "the API server", async {
                Config::from_custom_kubeconfig(kc, &opts)
                    .await
                    .context("invalid kubeconfig")
            })
            .await?;
            set_timeouts(&mut config, timeout);
            Client::try_from(config).context("failed to create the Kubernetes client")
        })?;
        Ok(Connection {
            rt,
            client,
            timeout,
            opts: self.clone(),
        })
    }
}

fn set_timeouts(config: &mut Config, timeout: Duration) {
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config.default_retry = false;
}

/// Runs `fut` for at most `timeout`; `peer` names what did not answer.
async fn bounded<T>(
    timeout: Duration,
    what: &str,
    peer: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(anyhow!(
            "{what}: timed out after {}; is {peer} reachable? (--request-timeout sets the limit)",
            humantime(timeout)
        )),
    }
}

/// What to do when the API server can't be reached.
const API_HINT: &str =
    "check the kubeconfig's server (or --server) is reachable, or seal offline with --cert";

/// A kube error as one message: an API answer keeps its status text; a transport failure (refused,
/// reset, TLS) gives its innermost cause, which the outer layers only repeat, and `hint`.
fn kube_error(err: kube::Error, what: &str, hint: &str) -> anyhow::Error {
    if matches!(err, kube::Error::Api(_)) {
        return anyhow::Error::new(err).context(what.to_owned());
    }
    let mut cause: &dyn std::error::Error = &err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    anyhow!("{what}: {cause}; {hint}")
}

fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A client for the API server.
pub struct Connection {
    rt: tokio::runtime::Runtime,
    client: Client,
    timeout: Duration,
    opts: ClusterOpts,
}

/// The controller's Service, as the proxy path needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerService {
    pub namespace: String,
    pub name: String,
    pub port: String,
}

impl ControllerService {
    fn proxy_path(&self, endpoint: &str) -> String {
        format!(
            "/api/v1/namespaces/{}/services/http:{}:{}/proxy/v1/{endpoint}",
            self.namespace, self.name, self.port
        )
    }
}

/// The port the proxy should use: named `http`, else 8080, else the first; by name (empty if
/// unnamed).
fn pick_port(svc: &Service) -> String {
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .cloned()
        .unwrap_or_default();
    let chosen = ports
        .iter()
        .find(|p| p.name.as_deref() == Some("http"))
        .or_else(|| ports.iter().find(|p| p.port == 8080))
        .or_else(|| ports.first());
    chosen.and_then(|p| p.name.clone()).unwrap_or_default()
}

fn is_metrics(svc: &Service) -> bool {
    let labels = svc.metadata.labels.as_ref();
    labels
        .and_then(|l| l.get("app.kubernetes.io/component"))
        .is_some_and(|c| c == "metrics")
        || svc
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.ends_with("-metrics"))
}

fn api_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// An HTTP answer from the controller.
pub struct Reply {
    pub status: http::StatusCode,
    pub body: Vec<u8>,
}

impl Connection {
    fn block_on<T>(&self, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.rt
            .block_on(bounded(self.timeout, what, "the API server", fut))
    }

    /// Finds the controller's Service (SPEC §9 FIX/BEYOND discovery).
    pub fn locate(&self) -> Result<ControllerService> {
        let o = &self.opts;
        let ns = o
            .controller_namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_CONTROLLER_NAMESPACE.to_owned());
        let names: Vec<String> = match &o.controller_name {
            Some(n) => vec![n.clone()],
            None => vec![DEFAULT_CONTROLLER_NAME.to_owned(), CHART_NAME.to_owned()],
        };
        let mut tried: Vec<String> = Vec::new();
        for name in &names {
            if let Some(svc) = self.get_service(&ns, name)? {
                return Ok(ControllerService {
                    namespace: ns,
                    name: name.clone(),
                    port: pick_port(&svc),
                });
            }
            tried.push(name.clone());
        }
        let all_namespaces = o.controller_namespace.is_none();
        let mut found: Vec<ControllerService> = Vec::new();
        if o.controller_name.is_none() {
            found = self.label_search(Some(&ns))?;
            tried.push("label search".to_owned());
        }
        if found.is_empty() && all_namespaces {
            found = self.search_all_namespaces(o.controller_name.as_deref())?;
            tried.push(if o.controller_name.is_some() {
                "all namespaces".to_owned()
            } else {
                "label search in all namespaces".to_owned()
            });
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => {
                let fix = match (&o.controller_name, &o.controller_namespace) {
                    (Some(_), Some(_)) => {
                        "check --controller-name/--controller-namespace or use --cert"
                    }
                    _ => "set --controller-name/--controller-namespace or use --cert",
                };
                bail!(
                    "cannot find the sealed-secrets controller in {ns} (tried {}); {fix}",
                    tried.join(", ")
                )
            }
            _ => {
                let mut list = String::new();
                for (i, s) in found.iter().enumerate() {
                    let _ = write!(
                        list,
                        "{}{}/{}",
                        if i > 0 { ", " } else { "" },
                        s.namespace,
                        s.name
                    );
                }
                bail!(
                    "found several sealed-secrets controllers ({list}); pick one with --controller-name and --controller-namespace"
                )
            }
        }
    }

    fn get_service(&self, ns: &str, name: &str) -> Result<Option<Service>> {
        let api: Api<Service> = Api::namespaced(self.client.clone(), ns);
        self.block_on(&format!("getting service {ns}/{name}"), async {
            match api.get(name).await {
                Ok(svc) => Ok(Some(svc)),
                Err(e) if matches!(api_code(&e), Some(404 | 403)) => Ok(None),
                Err(e) => Err(kube_error(
                    e,
                    &format!("cannot get service {ns}/{name}"),
                    API_HINT,
                )),
            }
        })
    }

    fn label_search(&self, ns: Option<&str>) -> Result<Vec<ControllerService>> {
        let api: Api<Service> = match ns {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let mut out: Vec<ControllerService> = Vec::new();
        for selector in SELECTORS {
            let list = self.block_on("searching for the controller's service", async {
                match api.list(&ListParams::default().labels(selector)).await {
                    Ok(l) => Ok(l.items),
                    Err(e) if matches!(api_code(&e), Some(403 | 404)) => Ok(Vec::new()),
                    Err(e) => Err(kube_error(e, "cannot list services", API_HINT)),
                }
            })?;
            for svc in list.iter().filter(|s| !is_metrics(s)) {
                let found = ControllerService {
                    namespace: svc.metadata.namespace.clone().unwrap_or_default(),
                    name: svc.metadata.name.clone().unwrap_or_default(),
                    port: pick_port(svc),
                };
                if !out.contains(&found) {
                    out.push(found);
                }
            }
        }
        Ok(out)
    }

    fn search_all_namespaces(&self, name: Option<&str>) -> Result<Vec<ControllerService>> {
        let Some(name) = name else {
            return self.label_search(None);
        };
        let api: Api<Service> = Api::all(self.client.clone());
        let field = format!("metadata.name={name}");
        let list = self.block_on("searching for the controller's service", async {
            match api.list(&ListParams::default().fields(&field)).await {
                Ok(l) => Ok(l.items),
                Err(e) if matches!(api_code(&e), Some(403 | 404)) => Ok(Vec::new()),
                Err(e) => Err(kube_error(e, "cannot list services", API_HINT)),
            }
        })?;
        Ok(list
            .iter()
            .map(|svc| ControllerService {
                namespace: svc.metadata.namespace.clone().unwrap_or_default(),
                name: svc.metadata.name.clone().unwrap_or_default(),
                port: pick_port(svc),
            })
            .collect())
    }

    /// Sends one request through the service proxy.
    pub fn proxy(
        &self,
        svc: &ControllerService,
        method: http::Method,
        endpoint: &str,
        body: Vec<u8>,
    ) -> Result<Reply> {
        let path = svc.proxy_path(endpoint);
        let mut req = http::Request::builder().method(method).uri(&path);
        req = if endpoint == "cert.pem" {
            req.header(http::header::ACCEPT, "application/x-pem-file, */*")
        } else {
            req.header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::ACCEPT, "application/json, */*")
        };
        let req = req.body(body).context("failed to build the request")?;
        let what = format!("requesting {path}");
        self.block_on(&what, async {
            let res = self
                .client
                .send(req.map(kube::client::Body::from))
                .await
                .map_err(|e| kube_error(e, &format!("request to {path} failed"), API_HINT))?;
            let status = res.status();
            let body = collect(res.into_body()).await?;
            Ok(Reply { status, body })
        })
    }
}

async fn collect(body: kube::client::Body) -> Result<Vec<u8>> {
    use http_body_util::BodyExt as _;
    let bytes = body
        .collect()
        .await
        .context("failed to read the response")?
        .to_bytes();
    Ok(bytes.to_vec())
}

/// Fetches a certificate from an `http(s)://` URL, through the proxy from the environment
/// (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
pub fn fetch_url(url: &str, timeout: Duration) -> Result<Vec<u8>> {
    let uri: http::Uri = url.parse().with_context(|| format!("invalid URL {url}"))?;
    let scheme = uri.scheme_str().unwrap_or("https");
    let authority = uri
        .authority()
        .with_context(|| format!("invalid URL {url}: no host"))?;
    let base: http::Uri = format!("{scheme}://{authority}")
        .parse()
        .with_context(|| format!("invalid URL {url}"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let mut config = Config::new(base);
    set_timeouts(&mut config, timeout);
    config.proxy_url = env_proxy(scheme, authority.host())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    rt.block_on(bounded(
        timeout,
        &format!("fetching {url}"),
        "the server",
        async {
            let client = Client::try_from(config).context("failed to create an HTTP client")?;
            let req = http::Request::get(path)
                .header(http::header::ACCEPT, "application/x-pem-file, */*")
                .body(kube::client::Body::empty())
                .context("failed to build the request")?;
            let res = client.send(req).await.map_err(|e| {
                kube_error(
                    e,
                    &format!("cannot fetch certificate from {url}"),
                    "check the URL, or pass the certificate as a file with --cert",
                )
            })?;
            let status = res.status();
            let body = collect(res.into_body()).await?;
            if !status.is_success() {
                bail!("cannot fetch certificate from {url}: HTTP {status}");
            }
            Ok(body)
        },
    ))
}

fn env_proxy(scheme: &str, host: &str) -> Result<Option<http::Uri>> {
    let get = |k: &str| {
        std::env::var(k)
            .ok()
            .or_else(|| std::env::var(k.to_ascii_lowercase()).ok())
            .filter(|v| !v.is_empty())
    };
    if let Some(no) = get("NO_PROXY") {
        let skip = no.split(',').map(str::trim).any(|n| {
            n == "*"
                || (!n.is_empty()
                    && (host == n.trim_start_matches('.')
                        || host.ends_with(&format!(".{}", n.trim_start_matches('.')))))
        });
        if skip {
            return Ok(None);
        }
    }
    let proxy = if scheme == "https" {
        get("HTTPS_PROXY")
    } else {
        get("HTTP_PROXY")
    };
    proxy
        .map(|p| p.parse().with_context(|| format!("invalid proxy URL {p}")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};

    fn svc(ports: &[(Option<&str>, i32)]) -> Service {
        Service {
            spec: Some(ServiceSpec {
                ports: Some(
                    ports
                        .iter()
                        .map(|(name, port)| ServicePort {
                            name: name.map(str::to_owned),
                            port: *port,
                            ..ServicePort::default()
                        })
                        .collect(),
                ),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }
    }

    #[test]
    fn the_port_named_http_wins_then_8080_then_the_first() {
        assert_eq!(
            pick_port(&svc(&[(Some("metrics"), 8081), (Some("http"), 80)])),
            "http"
        );
        assert_eq!(
            pick_port(&svc(&[(Some("metrics"), 8081), (Some("web"), 8080)])),
            "web"
        );
        assert_eq!(pick_port(&svc(&[(None, 8080)])), "");
        assert_eq!(pick_port(&svc(&[(Some("a"), 1), (Some("b"), 2)])), "a");
        assert_eq!(pick_port(&svc(&[])), "");
    }

    #[test]
    fn proxy_paths_use_the_port_name() {
        let s = ControllerService {
            namespace: "kube-system".into(),
            name: "sealed-secrets-controller".into(),
            port: String::new(),
        };
        assert_eq!(
            s.proxy_path("cert.pem"),
            "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:/proxy/v1/cert.pem"
        );
    }
}
