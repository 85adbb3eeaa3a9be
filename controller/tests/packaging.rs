//! Packaging checks (SPEC §8, §10): the plain manifests in `deploy/`, their `ha` component, the
//! Helm chart in `chart/`, the image and the krew manifest.
//!
//! There is no `helm` binary here, so the chart is rendered by [`Chart::render`], a small subset
//! of Helm's template language (`if`/`else`/`end`, `include`, pipelines, and the handful of
//! Sprig functions the templates use). It refuses anything else, so a template that grows past
//! it fails here rather than being checked half-way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Service};
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleBinding, RoleRef, Subject};
use serde_json::{Value, json};

const NS: &str = "kube-system";
const NAME: &str = "sealed-secrets-controller";

fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Every non-empty YAML document in `text`.
fn docs(text: &str, what: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("{what} is not YAML: {e}\n{text}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// Objects by (kind, name).
type Objects = BTreeMap<(String, String), Value>;

fn index(all: Vec<Value>) -> Objects {
    let mut out = Objects::new();
    for d in all {
        let key = (
            d["kind"].as_str().expect("kind").to_owned(),
            d["metadata"]["name"].as_str().expect("name").to_owned(),
        );
        assert!(out.insert(key.clone(), d).is_none(), "duplicate {key:?}");
    }
    out
}

fn get<'a>(objs: &'a Objects, kind: &str, name: &str) -> &'a Value {
    objs.get(&(kind.to_owned(), name.to_owned()))
        .unwrap_or_else(|| panic!("no {kind} {name}; have {:?}", objs.keys()))
}

fn typed<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"))
}

/// The plain manifests, as `kubectl kustomize controller/deploy` would list them.
fn plain() -> Objects {
    let k = &docs(&read("deploy/kustomization.yaml"), "kustomization.yaml")[0];
    let mut all = Vec::new();
    for r in k["resources"].as_array().expect("resources") {
        let r = r.as_str().expect("file name");
        all.extend(docs(&read(&format!("deploy/{r}")), r));
    }
    index(all)
}

fn ha() -> Objects {
    let k = &docs(
        &read("deploy/ha/kustomization.yaml"),
        "ha/kustomization.yaml",
    )[0];
    let mut all = Vec::new();
    for r in k["resources"].as_array().expect("resources") {
        let r = r.as_str().expect("file name");
        all.extend(docs(&read(&format!("deploy/ha/{r}")), r));
    }
    index(all)
}

// ---------------------------------------------------------------------------------------------
// RBAC

/// One permission: (apiGroup, resource, verb, resourceName or "*any*").
type Grant = (String, String, String, String);

fn grants(rules: &[PolicyRule]) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for r in rules {
        assert!(r.non_resource_urls.is_none(), "non-resource URLs: {r:?}");
        let groups = r.api_groups.clone().unwrap_or_default();
        let resources = r.resources.clone().unwrap_or_default();
        let names = match &r.resource_names {
            Some(n) if !n.is_empty() => n.clone(),
            _ => vec!["*any*".to_owned()],
        };
        for g in &groups {
            for res in &resources {
                for v in &r.verbs {
                    for n in &names {
                        for s in [g, res, v, n] {
                            assert!(!s.contains('*') || s == "*any*", "wildcard in {r:?}");
                        }
                        out.insert((g.clone(), res.clone(), v.clone(), n.clone()));
                    }
                }
            }
        }
    }
    out
}

fn expect(list: &[(&str, &str, &[&str], &[&str])]) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for (g, res, verbs, names) in list {
        let names: Vec<&str> = if names.is_empty() {
            vec!["*any*"]
        } else {
            names.to_vec()
        };
        for v in *verbs {
            for n in &names {
                out.insert((g.to_string(), res.to_string(), v.to_string(), n.to_string()));
            }
        }
    }
    out
}

/// ClusterRole `secrets-unsealer` (SPEC §8).
fn unsealer() -> BTreeSet<Grant> {
    expect(&[
        (
            "bitnami.com",
            "sealedsecrets",
            &["get", "list", "watch"],
            &[],
        ),
        ("bitnami.com", "sealedsecrets/status", &["update"], &[]),
        (
            "",
            "secrets",
            &["get", "list", "create", "update", "delete", "watch"],
            &[],
        ),
        ("", "events", &["create", "patch"], &[]),
        ("", "namespaces", &["get"], &[]),
    ])
}

/// Role `sealed-secrets-key-admin` (SPEC §8).
fn key_admin() -> BTreeSet<Grant> {
    expect(&[("", "secrets", &["create", "list"], &[])])
}

/// Role `<fullname>-service-proxier` (SPEC §10, with `services` list as BEYOND).
fn service_proxier(fullname: &str) -> BTreeSet<Grant> {
    let unnamed = format!("http:{fullname}:");
    let named = format!("http:{fullname}:http");
    expect(&[
        ("", "services", &["get"], &[fullname]),
        ("", "services", &["list"], &[]),
        (
            "",
            "services/proxy",
            &["create", "get"],
            &[unnamed.as_str(), named.as_str(), fullname],
        ),
    ])
}

/// The leader-election Lease (ours, SPEC §8 BEYOND); the controller's Lease name is fixed.
fn leases() -> BTreeSet<Grant> {
    expect(&[
        ("coordination.k8s.io", "leases", &["get", "update"], &[NAME]),
        ("coordination.k8s.io", "leases", &["create"], &[]),
    ])
}

fn rules_of(obj: &Value) -> BTreeSet<Grant> {
    grants(&typed::<Vec<PolicyRule>>(&obj["rules"]))
}

fn sa_subject(name: &str, ns: &str) -> Subject {
    Subject {
        api_group: None,
        kind: "ServiceAccount".into(),
        name: name.into(),
        namespace: Some(ns.into()),
    }
}

/// Checks a binding's roleRef names an existing role and its subjects are `subjects`.
fn check_binding(objs: &Objects, kind: &str, name: &str, role: (&str, &str), subjects: &[Subject]) {
    let b = get(objs, kind, name);
    let role_ref: RoleRef = typed(&b["roleRef"]);
    assert_eq!(
        (role_ref.kind.as_str(), role_ref.name.as_str()),
        role,
        "{kind} {name}"
    );
    assert_eq!(role_ref.api_group, "rbac.authorization.k8s.io");
    get(objs, role.0, role.1);
    let mut got: Vec<Subject> = typed(&b["subjects"]);
    for s in &mut got {
        if s.kind == "ServiceAccount" && s.api_group.as_deref() == Some("") {
            s.api_group = None;
        }
    }
    assert_eq!(got, subjects, "{kind} {name} subjects");
}

fn check_no_secret_patch(objs: &Objects) {
    for ((kind, name), obj) in objs {
        if kind == "Role" || kind == "ClusterRole" {
            for (g, res, verb, _) in rules_of(obj) {
                assert!(
                    !(g.is_empty() && res == "secrets" && verb == "patch"),
                    "{kind} {name} grants patch on secrets"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Plain manifests

#[test]
fn kustomization_lists_every_manifest_and_the_generated_crd() {
    let k = &docs(&read("deploy/kustomization.yaml"), "kustomization.yaml")[0];
    assert_eq!(k["namespace"], NS);
    let listed: BTreeSet<String> = k["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().expect("file").to_owned())
        .collect();
    let mut present = BTreeSet::new();
    for e in std::fs::read_dir(path("deploy")).expect("deploy/") {
        let name = e.expect("entry").file_name().into_string().expect("utf-8");
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            present.insert(name);
        }
    }
    assert!(listed.contains("crd.yaml"));
    assert_eq!(
        listed, present,
        "every manifest in deploy/ is listed, and only those"
    );
}

#[test]
fn plain_manifests_use_upstream_names_in_kube_system() {
    let objs = plain();
    let want: BTreeSet<(String, String)> = [
        ("CustomResourceDefinition", "sealedsecrets.bitnami.com"),
        ("ServiceAccount", NAME),
        ("ClusterRole", "secrets-unsealer"),
        ("ClusterRoleBinding", NAME),
        ("Role", "sealed-secrets-key-admin"),
        ("RoleBinding", NAME),
        ("Role", "sealed-secrets-service-proxier"),
        ("RoleBinding", "sealed-secrets-service-proxier"),
        ("Deployment", NAME),
        ("Service", NAME),
        ("Service", "sealed-secrets-controller-metrics"),
    ]
    .iter()
    .map(|(k, n)| (k.to_string(), n.to_string()))
    .collect();
    assert_eq!(objs.keys().cloned().collect::<BTreeSet<_>>(), want);
    for ((kind, name), obj) in &objs {
        let ns = &obj["metadata"]["namespace"];
        if kind.starts_with("Cluster") || kind == "CustomResourceDefinition" {
            assert!(ns.is_null(), "{kind} {name} is cluster-scoped");
        } else {
            assert_eq!(ns, NS, "{kind} {name}");
        }
        if kind != "CustomResourceDefinition" {
            let labels = &obj["metadata"]["labels"];
            assert_eq!(
                labels["app.kubernetes.io/name"], "sealed-secrets",
                "{kind} {name}"
            );
            assert_eq!(
                labels["app.kubernetes.io/part-of"], "sealed-secrets",
                "{kind} {name}"
            );
        }
    }
}

fn the_container(d: &Deployment) -> Container {
    let spec = d
        .spec
        .clone()
        .expect("spec")
        .template
        .spec
        .expect("pod spec");
    assert_eq!(spec.containers.len(), 1);
    spec.containers[0].clone()
}

/// Ports by name, probe paths, and the security settings SPEC §1 and §10 require.
fn check_controller_pod(d: &Deployment, container_name: &str) {
    let pod = d
        .spec
        .clone()
        .expect("spec")
        .template
        .spec
        .expect("pod spec");
    let c = the_container(d);
    assert_eq!(c.name, container_name);
    assert_eq!(c.command.as_deref(), Some(&["controller".to_owned()][..]));
    let ports: BTreeMap<String, i32> = c
        .ports
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name.expect("named port"), p.container_port))
        .collect();
    assert_eq!(
        ports,
        BTreeMap::from([("http".to_owned(), 8080), ("metrics".to_owned(), 8081)])
    );
    let probe_path = |p: Option<k8s_openapi::api::core::v1::Probe>| {
        let g = p.expect("probe").http_get.expect("httpGet");
        (
            g.path.expect("path"),
            serde_json::to_value(g.port).expect("port"),
        )
    };
    assert_eq!(
        probe_path(c.liveness_probe.clone()),
        ("/healthz".to_owned(), json!("http"))
    );
    assert_eq!(
        probe_path(c.readiness_probe.clone()),
        ("/readyz".to_owned(), json!("http"))
    );

    let psc = pod.security_context.expect("pod securityContext");
    assert_eq!(psc.fs_group, Some(65534));
    assert_eq!(psc.run_as_user, Some(1001));
    assert_eq!(psc.run_as_non_root, Some(true));
    let sc = c
        .security_context
        .clone()
        .expect("container securityContext");
    assert_eq!(sc.run_as_user, Some(1001));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.expect("capabilities").drop,
        Some(vec!["ALL".to_owned()])
    );
    assert_eq!(
        sc.seccomp_profile.expect("seccompProfile").type_,
        "RuntimeDefault"
    );

    let mounts = c.volume_mounts.clone().unwrap_or_default();
    let tmp = mounts
        .iter()
        .find(|m| m.mount_path == "/tmp")
        .expect("/tmp mount");
    let vols = pod.volumes.unwrap_or_default();
    let vol = vols
        .iter()
        .find(|v| v.name == tmp.name)
        .expect("tmp volume");
    assert!(vol.empty_dir.is_some(), "/tmp is an emptyDir");

    let res = c.resources.clone().expect("resources");
    for key in ["cpu", "memory"] {
        assert!(
            res.requests.as_ref().is_some_and(|r| r.contains_key(key)),
            "request {key}"
        );
        assert!(
            res.limits.as_ref().is_some_and(|r| r.contains_key(key)),
            "limit {key}"
        );
    }
    let env: BTreeMap<String, String> = c
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| Some((e.name, e.value_from?.field_ref?.field_path)))
        .collect();
    assert_eq!(
        env.get("POD_NAMESPACE").map(String::as_str),
        Some("metadata.namespace")
    );
}

fn pod_labels(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .clone()
        .expect("spec")
        .template
        .metadata
        .expect("metadata")
        .labels
        .expect("labels")
}

fn assert_selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) {
    assert!(!selector.is_empty());
    for (k, v) in selector {
        assert_eq!(
            labels.get(k),
            Some(v),
            "selector {k}={v} vs pod labels {labels:?}"
        );
    }
}

#[test]
fn plain_deployment_runs_controller_as_upstream_manifests_do() {
    let objs = plain();
    let d: Deployment = typed(get(&objs, "Deployment", NAME));
    check_controller_pod(&d, NAME);
    let spec = d.spec.clone().expect("spec");
    assert_eq!(spec.replicas, Some(1));
    let selector = spec.selector.match_labels.expect("matchLabels");
    // The selector is immutable: it must be upstream's for an in-place swap.
    assert_eq!(
        selector,
        BTreeMap::from([("name".to_owned(), NAME.to_owned())])
    );
    assert_selects(&selector, &pod_labels(&d));
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some(NAME));
    let args = the_container(&d).args.unwrap_or_default();
    assert!(
        !args.iter().any(|a| a.starts_with("--leader-elect")),
        "one replica, no election"
    );
}

#[test]
fn plain_services_select_the_pods_and_the_api_port_is_unnamed() {
    let objs = plain();
    let d: Deployment = typed(get(&objs, "Deployment", NAME));
    let labels = pod_labels(&d);

    let api: Service = typed(get(&objs, "Service", NAME));
    let spec = api.spec.expect("spec");
    assert_selects(&spec.selector.expect("selector"), &labels);
    let ports = spec.ports.expect("ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].port, 8080);
    assert_eq!(
        ports[0].name, None,
        "the plain Service port is unnamed (SPEC §10)"
    );
    assert_eq!(
        serde_json::to_value(&ports[0].target_port).expect("json"),
        json!("http")
    );
    assert!(
        !api.metadata
            .labels
            .expect("labels")
            .contains_key("app.kubernetes.io/component"),
        "discovery skips component=metrics only"
    );

    let metrics: Service = typed(get(&objs, "Service", "sealed-secrets-controller-metrics"));
    let mlabels = metrics.metadata.labels.expect("labels");
    assert_eq!(mlabels["app.kubernetes.io/component"], "metrics");
    let spec = metrics.spec.expect("spec");
    assert_selects(&spec.selector.expect("selector"), &labels);
    let ports = spec.ports.expect("ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(
        (ports[0].name.as_deref(), ports[0].port),
        (Some("metrics"), 8081)
    );
    assert_eq!(
        serde_json::to_value(&ports[0].target_port).expect("json"),
        json!("metrics")
    );
}

#[test]
fn plain_rbac_grants_exactly_upstreams_rules() {
    let objs = plain();
    assert_eq!(
        rules_of(get(&objs, "ClusterRole", "secrets-unsealer")),
        unsealer()
    );
    assert_eq!(
        rules_of(get(&objs, "Role", "sealed-secrets-key-admin")),
        key_admin()
    );
    assert_eq!(
        rules_of(get(&objs, "Role", "sealed-secrets-service-proxier")),
        service_proxier(NAME)
    );
    check_no_secret_patch(&objs);
    let sa = [sa_subject(NAME, NS)];
    check_binding(
        &objs,
        "ClusterRoleBinding",
        NAME,
        ("ClusterRole", "secrets-unsealer"),
        &sa,
    );
    check_binding(
        &objs,
        "RoleBinding",
        NAME,
        ("Role", "sealed-secrets-key-admin"),
        &sa,
    );
    let everyone = [Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "Group".into(),
        name: "system:authenticated".into(),
        namespace: None,
    }];
    check_binding(
        &objs,
        "RoleBinding",
        "sealed-secrets-service-proxier",
        ("Role", "sealed-secrets-service-proxier"),
        &everyone,
    );
}

#[test]
fn ha_component_adds_only_the_lease_grant_and_leader_election() {
    let k = &docs(
        &read("deploy/ha/kustomization.yaml"),
        "ha/kustomization.yaml",
    )[0];
    assert_eq!(k["kind"], "Component");
    let mut objs = ha();
    objs.extend(plain());
    let role = "sealed-secrets-controller-leader-election";
    assert_eq!(rules_of(get(&objs, "Role", role)), leases());
    check_binding(
        &objs,
        "RoleBinding",
        role,
        ("Role", role),
        &[sa_subject(NAME, NS)],
    );
    check_no_secret_patch(&objs);

    let pdb = get(&objs, "PodDisruptionBudget", NAME);
    let d: Deployment = typed(get(&plain(), "Deployment", NAME));
    let selector: BTreeMap<String, String> = typed(&pdb["spec"]["selector"]["matchLabels"]);
    assert_selects(&selector, &pod_labels(&d));

    let patch = &docs(&read("deploy/ha/deployment-ha.yaml"), "deployment-ha.yaml")[0];
    assert_eq!(patch["metadata"]["name"], NAME);
    assert_eq!(patch["spec"]["replicas"], 2);
    let c = &patch["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["name"], NAME,
        "the patch merges into the controller container"
    );
    assert_eq!(c["args"], json!(["--leader-elect"]));
}

// ---------------------------------------------------------------------------------------------
// The chart

#[test]
fn chart_crd_is_the_generated_crd() {
    assert_eq!(
        read("chart/crds/sealedsecrets.bitnami.com.yaml"),
        read("deploy/crd.yaml"),
        "copy controller/deploy/crd.yaml to controller/chart/crds/ after regenerating it"
    );
    let crds: Vec<_> = std::fs::read_dir(path("chart/crds"))
        .expect("crds/")
        .collect();
    assert_eq!(crds.len(), 1);
}

/// Renders the chart's templates with its values.yaml merged with `overrides`, release
/// `sealed-secrets` in kube-system.
struct Chart {
    root: Value,
    helpers: BTreeMap<String, String>,
}

impl Chart {
    fn new(overrides: Value) -> Self {
        let chart = &docs(&read("chart/Chart.yaml"), "Chart.yaml")[0];
        let mut values = docs(&read("chart/values.yaml"), "values.yaml").remove(0);
        merge(&mut values, overrides);
        let root = json!({
            "Values": values,
            "Release": {"Name": "sealed-secrets", "Namespace": NS, "Service": "Helm"},
            "Chart": {
                "Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"],
            },
        });
        Self {
            root,
            helpers: defines(&read("chart/templates/_helpers.tpl")),
        }
    }

    /// Every template rendered and parsed, by (kind, name).
    fn objects(&self) -> Objects {
        let mut all = Vec::new();
        for e in std::fs::read_dir(path("chart/templates")).expect("templates/") {
            let name = e.expect("entry").file_name().into_string().expect("utf-8");
            if name.ends_with(".yaml") {
                let out = self.render(&read(&format!("chart/templates/{name}")), &self.root);
                all.extend(docs(&out, &name));
            }
        }
        index(all)
    }

    fn render(&self, text: &str, dot: &Value) -> String {
        let mut out = String::new();
        // Per open block: (this branch is active, some branch was taken, the block is live).
        let mut blocks: Vec<(bool, bool, bool)> = Vec::new();
        let active = |b: &[(bool, bool, bool)]| b.last().is_none_or(|t| t.0);
        let mut rest = text;
        let mut trim_next = false;
        loop {
            let (lit, action) = match rest.find("{{") {
                Some(i) => (&rest[..i], Some(&rest[i + 2..])),
                None => (rest, None),
            };
            let lit = if trim_next { lit.trim_start() } else { lit };
            if active(&blocks) {
                out.push_str(lit);
            }
            let Some(after) = action else { break };
            let end = after.find("}}").expect("unclosed action");
            let mut body = &after[..end];
            rest = &after[end + 2..];
            if let Some(b) = body.strip_prefix("- ").or(body.strip_prefix("-\n")) {
                body = b;
                if active(&blocks) {
                    out.truncate(out.trim_end().len());
                }
            }
            trim_next = false;
            if let Some(b) = body.strip_suffix(" -").or(body.strip_suffix("\n-")) {
                body = b;
                trim_next = true;
            }
            let body = body.trim();
            let word = body.split_whitespace().next().unwrap_or("");
            let live = active(&blocks);
            match word {
                _ if body.starts_with("/*") => {}
                "if" => {
                    let on = live && truthy(&self.eval(&body[2..], dot));
                    blocks.push((on, on, live));
                }
                "else" => {
                    let top = blocks.last_mut().expect("else without if");
                    let cond = body["else".len()..].trim();
                    let on = if let Some(c) = cond.strip_prefix("if ") {
                        top.2 && !top.1 && truthy(&self.eval(c, dot))
                    } else {
                        assert!(cond.is_empty(), "unsupported: {body}");
                        top.2 && !top.1
                    };
                    top.0 = on;
                    top.1 |= on;
                }
                "end" => {
                    blocks.pop().expect("end without block");
                }
                "with" | "range" | "define" | "template" | "block" => {
                    panic!("unsupported in a resource template: {{{{ {body} }}}}")
                }
                _ if live => out.push_str(&to_text(&self.eval(body, dot))),
                _ => {}
            }
        }
        assert!(blocks.is_empty(), "unclosed block");
        out
    }

    fn eval(&self, pipeline: &str, dot: &Value) -> Value {
        let mut piped: Option<Value> = None;
        for cmd in split_top(pipeline, '|') {
            let toks = tokens(&cmd);
            assert!(!toks.is_empty(), "empty command in {pipeline:?}");
            let mut args: Vec<Value> = Vec::new();
            let name = toks[0].as_str();
            let is_fn = !(name.starts_with('.')
                || name.starts_with('"')
                || name.starts_with('(')
                || name.starts_with('$')
                || name.parse::<i64>().is_ok());
            let first_arg = usize::from(is_fn);
            for t in &toks[first_arg..] {
                args.push(self.arg(t, dot));
            }
            if let Some(p) = piped.take() {
                args.push(p);
            }
            piped = Some(if is_fn {
                self.call(name, args)
            } else {
                assert_eq!(args.len(), 1, "not a function: {cmd}");
                args.remove(0)
            });
        }
        piped.expect("a value")
    }

    fn arg(&self, tok: &str, dot: &Value) -> Value {
        if let Some(inner) = tok.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
            return self.eval(inner, dot);
        }
        if tok.starts_with('"') {
            return serde_json::from_str(tok).expect("string literal");
        }
        if let Ok(n) = tok.parse::<i64>() {
            return json!(n);
        }
        if tok == "." {
            return dot.clone();
        }
        if tok == "$" {
            return self.root.clone();
        }
        if let Some(path) = tok.strip_prefix('.') {
            let mut v = dot;
            for field in path.split('.') {
                v = v.get(field).unwrap_or(&Value::Null);
            }
            return v.clone();
        }
        match tok {
            "true" => json!(true),
            "false" => json!(false),
            _ => panic!("unsupported argument {tok:?}"),
        }
    }

    fn call(&self, name: &str, mut a: Vec<Value>) -> Value {
        let s = |v: &Value| to_text(v);
        let n = |v: &Value| {
            v.as_i64()
                .unwrap_or_else(|| s(v).parse().expect("a number"))
        };
        let argc = |want: usize, a: &[Value]| assert_eq!(a.len(), want, "{name} arguments");
        match name {
            "include" => {
                argc(2, &a);
                let helper = s(&a[0]);
                if helper == "sealed-secrets.keyValues" {
                    // The helper ranges over a map, which this renderer does not do; compute
                    // it here, and pin the helper's text in `chart_helpers_are_as_tested`.
                    let map = a[1].as_object().expect("a map");
                    let kv: String = map.iter().map(|(k, v)| format!("{k}={},", s(v))).collect();
                    return json!(kv);
                }
                let body = self
                    .helpers
                    .get(&helper)
                    .unwrap_or_else(|| panic!("no helper {helper}"));
                json!(self.render(body, &a[1]))
            }
            "default" => {
                argc(2, &a);
                if truthy(&a[1]) {
                    a.remove(1)
                } else {
                    a.remove(0)
                }
            }
            "quote" => json!(serde_json::to_string(&s(&a[0])).expect("quote")),
            "toString" => json!(s(&a[0])),
            "int" => json!(n(&a[0])),
            "trunc" => json!(s(&a[1]).chars().take(n(&a[0]) as usize).collect::<String>()),
            "trimSuffix" => {
                let (suf, v) = (s(&a[0]), s(&a[1]));
                json!(v.strip_suffix(suf.as_str()).unwrap_or(&v))
            }
            "replace" => json!(s(&a[2]).replace(&s(&a[0]), &s(&a[1]))),
            "join" => {
                let items: Vec<String> = a[1].as_array().expect("a list").iter().map(s).collect();
                json!(items.join(&s(&a[0])))
            }
            "printf" => {
                let mut out = s(&a[0]);
                for v in &a[1..] {
                    out = out.replacen("%s", &s(v), 1);
                }
                assert!(!out.contains('%'), "printf supports %s only");
                json!(out)
            }
            "nindent" | "indent" => {
                let pad = " ".repeat(n(&a[0]) as usize);
                let body: Vec<String> = s(&a[1]).lines().map(|l| format!("{pad}{l}")).collect();
                let nl = if name == "nindent" { "\n" } else { "" };
                json!(format!("{nl}{}", body.join("\n")))
            }
            "toYaml" => {
                let y = serde_saphyr::to_string(&a[0]).expect("toYaml");
                json!(y.trim_end())
            }
            "not" => json!(!truthy(&a[0])),
            "and" => json!(a.iter().all(truthy)),
            "or" => json!(a.iter().any(truthy)),
            "eq" => json!(a[0] == a[1]),
            "ne" => json!(a[0] != a[1]),
            "gt" => json!(n(&a[0]) > n(&a[1])),
            _ => panic!("unsupported function {name}"),
        }
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}

/// Splits on `sep` outside quotes and parentheses.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0, false);
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            _ => {}
        }
        if c == sep && depth == 0 && !quoted {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out.into_iter().map(|c| c.trim().to_owned()).collect()
}

fn tokens(cmd: &str) -> Vec<String> {
    split_top(cmd, ' ')
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect()
}

/// `{{ define "name" }}` bodies, with their trim markers applied at the edges.
fn defines(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{- define \"") {
        let after = &rest[i + "{{- define \"".len()..];
        let name_end = after.find('"').expect("define name");
        let name = after[..name_end].to_owned();
        let open_end = after.find("}}").expect("define action") + 2;
        let trim_start = after[..open_end].ends_with("-}}");
        let body_all = &after[open_end..];
        // Find the matching end, counting nested blocks.
        let (mut depth, mut pos) = (0usize, 0usize);
        let body_end = loop {
            let j = pos + body_all[pos..].find("{{").expect("unclosed define");
            let k = j + body_all[j..].find("}}").expect("unclosed action");
            let act = body_all[j + 2..k].trim_matches(|c: char| c == '-' || c.is_whitespace());
            let word = act.split_whitespace().next().unwrap_or("");
            match word {
                "if" | "range" | "with" => depth += 1,
                "end" if depth == 0 => break j,
                "end" => depth -= 1,
                _ => {}
            }
            pos = k + 2;
        };
        let mut body = &body_all[..body_end];
        if trim_start {
            body = body.trim_start();
        }
        if body_all[body_end..].starts_with("{{-") {
            body = body.trim_end();
        }
        out.insert(name, body.to_owned());
        rest = &body_all[body_end..];
    }
    out
}

#[test]
fn chart_helpers_are_as_tested() {
    let h = defines(&read("chart/templates/_helpers.tpl"));
    assert_eq!(
        h["sealed-secrets.keyValues"], "{{- range $k, $v := . }}{{ $k }}={{ $v }},{{ end -}}",
        "the renderer computes this helper itself; change both together"
    );
    let chart = Chart::new(json!({}));
    let fullname = |c: &Chart| c.render("{{ include \"sealed-secrets.fullname\" . }}", &c.root);
    assert_eq!(fullname(&chart), NAME, "SPEC §10 FIX: the CLI default");
    let upstream = Chart::new(json!({"fullnameOverride": "sealed-secrets"}));
    assert_eq!(fullname(&upstream), "sealed-secrets");
    assert_eq!(
        docs(&read("chart/Chart.yaml"), "Chart.yaml")[0]["name"],
        "sealed-secrets"
    );
}

#[test]
fn chart_renders_the_plain_manifests_static_parts() {
    let c = Chart::new(json!({}));
    let objs = c.objects();
    let p = plain();

    // RBAC: the same rules as the plain manifests and the ha component.
    assert_eq!(
        rules_of(get(&objs, "ClusterRole", "secrets-unsealer")),
        rules_of(get(&p, "ClusterRole", "secrets-unsealer"))
    );
    assert_eq!(
        rules_of(get(&objs, "Role", "sealed-secrets-controller-key-admin")),
        rules_of(get(&p, "Role", "sealed-secrets-key-admin"))
    );
    assert_eq!(
        rules_of(get(
            &objs,
            "Role",
            "sealed-secrets-controller-service-proxier"
        )),
        rules_of(get(&p, "Role", "sealed-secrets-service-proxier"))
    );
    assert_eq!(
        rules_of(get(
            &objs,
            "Role",
            "sealed-secrets-controller-leader-election"
        )),
        rules_of(get(
            &ha(),
            "Role",
            "sealed-secrets-controller-leader-election"
        ))
    );
    check_no_secret_patch(&objs);
    let sa = [sa_subject(NAME, NS)];
    check_binding(
        &objs,
        "ClusterRoleBinding",
        NAME,
        ("ClusterRole", "secrets-unsealer"),
        &sa,
    );
    for suffix in ["key-admin", "leader-election"] {
        let n = format!("{NAME}-{suffix}");
        check_binding(&objs, "RoleBinding", &n, ("Role", &n), &sa);
    }
    let proxier: RoleBinding = typed(get(
        &objs,
        "RoleBinding",
        &format!("{NAME}-service-proxier"),
    ));
    assert_eq!(
        proxier.subjects.expect("subjects")[0].name,
        "system:authenticated"
    );

    // The pod: same ports, probes, security and volumes; container `controller` (SPEC §10).
    let d: Deployment = typed(get(&objs, "Deployment", NAME));
    let pd: Deployment = typed(get(&p, "Deployment", NAME));
    check_controller_pod(&d, "controller");
    let (cc, pc) = (the_container(&d), the_container(&pd));
    assert_eq!(cc.ports, pc.ports);
    assert_eq!(cc.liveness_probe, pc.liveness_probe);
    assert_eq!(cc.readiness_probe, pc.readiness_probe);
    assert_eq!(cc.security_context, pc.security_context);
    assert_eq!(cc.resources, pc.resources);
    assert_eq!(cc.volume_mounts, pc.volume_mounts);
    assert_eq!(cc.env, pc.env);
    let (cs, ps) = (
        d.spec.clone().expect("spec").template.spec.expect("pod"),
        pd.spec.clone().expect("spec").template.spec.expect("pod"),
    );
    assert_eq!(cs.security_context, ps.security_context);
    assert_eq!(cs.volumes, ps.volumes);
    assert_eq!(cs.service_account_name.as_deref(), Some(NAME));
    get(&objs, "ServiceAccount", NAME);
    let args = cc.args.unwrap_or_default();
    assert!(
        args.windows(2)
            .any(|w| w == ["--key-prefix", "sealed-secrets-key"]),
        "{args:?}"
    );
    assert!(
        args.contains(&"--leader-elect".to_owned()),
        "the chart elects (SPEC §8)"
    );

    // Labels and selectors.
    let labels = pod_labels(&d);
    let selector = d
        .spec
        .clone()
        .expect("spec")
        .selector
        .match_labels
        .expect("matchLabels");
    assert_selects(&selector, &labels);
    assert_eq!(selector["app.kubernetes.io/name"], "sealed-secrets");
    assert_eq!(selector["app.kubernetes.io/instance"], "sealed-secrets");
    for ((kind, name), obj) in &objs {
        let l = &obj["metadata"]["labels"];
        assert_eq!(
            l["app.kubernetes.io/name"], "sealed-secrets",
            "{kind} {name}"
        );
        assert_eq!(
            l["app.kubernetes.io/instance"], "sealed-secrets",
            "{kind} {name}"
        );
        assert_eq!(
            l["app.kubernetes.io/part-of"], "sealed-secrets",
            "{kind} {name}"
        );
        if !kind.starts_with("Cluster") {
            assert_eq!(
                obj["metadata"]["namespace"], NS,
                "{kind} {name}: the release's"
            );
        }
    }

    // Services: `http` 8080, and `<fullname>-metrics` with the metrics component label.
    let api: Service = typed(get(&objs, "Service", NAME));
    let spec = api.spec.expect("spec");
    assert_selects(&spec.selector.expect("selector"), &labels);
    let port = &spec.ports.expect("ports")[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("http"), 8080));
    let metrics = get(&objs, "Service", &format!("{NAME}-metrics"));
    assert_eq!(
        metrics["metadata"]["labels"]["app.kubernetes.io/component"],
        "metrics"
    );
    assert_eq!(metrics["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(metrics["spec"]["ports"][0]["port"], 8081);
}

#[test]
fn chart_defaults_create_no_optional_objects() {
    let kinds: BTreeSet<String> = Chart::new(json!({}))
        .objects()
        .into_keys()
        .map(|k| k.0)
        .collect();
    for optional in ["PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"] {
        assert!(!kinds.contains(optional), "{optional} is opt-in");
    }
}

#[test]
fn chart_options_render_and_map_to_controller_flags() {
    let c = Chart::new(json!({
        "fullnameOverride": "sealed-secrets",
        "replicaCount": 2,
        "leaderElection": false,
        "keyrenewperiod": 0,
        "keyCutoffTime": "Mon, 02 Jan 2006 15:04:05 -0700",
        "privateKeyLabels": {"team": "a", "env": "prod"},
        "additionalNamespaces": ["a", "b"],
        "updateStatus": false,
        "skipRecreate": true,
        "keyttl": "87600h",
        "keysize": 2048,
        "myCN": "seal",
        "privateKeyAnnotations": {"a": "b"},
        "rateLimit": 5,
        "rateLimitBurst": 10,
        "workers": 4,
        "logLevel": "DEBUG",
        "logFormat": "json",
        "selfHeal": false,
        "extraArgs": ["--label-selector=x=y"],
        "pdb": {"create": true},
        "networkPolicy": {"enabled": true, "egress": {"kubeapiCidr": "10.0.0.1/32"}},
        "metrics": {"serviceMonitor": {"enabled": true, "interval": "30s"}},
        "serviceAccount": {"annotations": {"a": "b"}},
    }));
    let objs = c.objects();
    let d: Deployment = typed(get(&objs, "Deployment", "sealed-secrets"));
    assert_eq!(d.spec.clone().expect("spec").replicas, Some(2));
    let args = the_container(&d).args.unwrap_or_default();
    for want in [
        "--leader-elect",
        "--key-renew-period",
        "0",
        "--key-cutoff-time",
        "env=prod,team=a",
        "a,b",
        "--update-status=false",
        "--self-heal=false",
        "--label-selector=x=y",
        "--skip-recreate",
        "2048",
        "seal",
        "a=b",
        "DEBUG",
        "json",
    ] {
        assert!(args.contains(&want.to_owned()), "{want} in {args:?}");
    }
    // The rendered command line is one the controller accepts, meaning what the values say.
    let argv = std::iter::once("controller".to_owned()).chain(args.iter().cloned());
    let cfg = <seal_controller::config::Config as clap::Parser>::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("the chart's args do not parse: {e}\n{args:?}"));
    assert!(cfg.leader_elect && cfg.skip_recreate && !cfg.update_status && !cfg.self_heal);
    assert_eq!(
        (
            cfg.key_size,
            cfg.workers,
            cfg.rate_limit,
            cfg.rate_limit_burst
        ),
        (2048, 4, 5, 10)
    );
    assert_eq!(cfg.key_renew_period, std::time::Duration::ZERO);
    assert!(cfg.key_cutoff_time.is_some());
    assert_eq!(cfg.privatekey_labels.len(), 2);
    assert_eq!(cfg.additional_namespaces, ["a", "b"]);
    assert_eq!(cfg.label_selector, "x=y");
    // Replicas > 1 force election, and so the Lease grant.
    get(&objs, "Role", "sealed-secrets-leader-election");
    let proxier = rules_of(get(&objs, "Role", "sealed-secrets-service-proxier"));
    assert_eq!(proxier, service_proxier("sealed-secrets"));
    for kind in ["PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"] {
        get(&objs, kind, "sealed-secrets");
    }
    let sm = get(&objs, "ServiceMonitor", "sealed-secrets");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"],
        "metrics"
    );

    // Every flag the chart or the manifests pass is one the controller knows.
    let known: BTreeSet<String> =
        <seal_controller::config::Config as clap::CommandFactory>::command()
            .get_arguments()
            .flat_map(|a| {
                let mut names: Vec<String> = a.get_long().into_iter().map(str::to_owned).collect();
                names.extend(
                    a.get_all_aliases()
                        .unwrap_or_default()
                        .into_iter()
                        .map(str::to_owned),
                );
                names
            })
            .collect();
    let plain_d: Deployment = typed(get(&plain(), "Deployment", NAME));
    let mut all_args = args.clone();
    all_args.extend(the_container(&plain_d).args.unwrap_or_default());
    all_args.extend(["--leader-elect".to_owned()]);
    for a in all_args.iter().filter_map(|a| a.strip_prefix("--")) {
        let flag = a.split('=').next().expect("flag");
        assert!(known.contains(flag), "--{flag} is not a controller flag");
    }
    // And without election, no Lease grant.
    let single = Chart::new(json!({"leaderElection": false})).objects();
    assert!(!single.contains_key(&("Role".into(), format!("{NAME}-leader-election"))));
    let d: Deployment = typed(get(&single, "Deployment", NAME));
    assert!(
        !the_container(&d)
            .args
            .unwrap_or_default()
            .contains(&"--leader-elect".to_owned())
    );
}

// ---------------------------------------------------------------------------------------------
// Image, krew, docs

#[test]
fn dockerfile_ships_controller_as_uid_1001() {
    let d = read("Dockerfile");
    for want in [
        "FROM rust:1.95-bookworm AS builder",
        "cargo build --release --locked -p seal-controller --bin controller",
        "/usr/local/bin/controller",
        "\nUSER 1001\n",
        "ENTRYPOINT [\"controller\"]",
    ] {
        assert!(d.contains(want), "Dockerfile lacks {want:?}");
    }
}

#[test]
fn krew_manifest_covers_four_platforms() {
    let k = &docs(&read("../plugin/.krew.yaml"), "plugin/.krew.yaml")[0];
    assert_eq!(k["kind"], "Plugin");
    assert_eq!(k["metadata"]["name"], "seal");
    let version = k["spec"]["version"].as_str().expect("version");
    let mut seen = BTreeSet::new();
    for p in k["spec"]["platforms"].as_array().expect("platforms") {
        let sel = &p["selector"]["matchLabels"];
        seen.insert(format!("{}/{}", to_text(&sel["os"]), to_text(&sel["arch"])));
        assert_eq!(p["bin"], "kubectl-seal");
        let uri = p["uri"].as_str().expect("uri");
        assert!(
            uri.starts_with("https://") && uri.ends_with(".tar.gz"),
            "{uri}"
        );
        assert!(uri.contains(version), "{uri} is for {version}");
        let sha = p["sha256"].as_str().expect("sha256");
        assert!(
            sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{sha}"
        );
    }
    let want: BTreeSet<String> = ["linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"]
        .map(String::from)
        .into();
    assert_eq!(seen, want);
}

/// `controller --version` prints upstream's line on stdout, which upstream's integration suite
/// and scripts parse (`^controller version: v[0-9]+\.[0-9]+\.[0-9]+`); seal's own version goes
/// to stderr.
#[test]
fn version_prints_upstreams_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_controller"))
        .args(["--version", "--key-prefix=ignored", "--key-prefix=twice"])
        .output()
        .expect("run controller --version");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("controller version: {}\n", seal_api::UPSTREAM_VERSION)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("seal-controller"));
}

/// docs/reference.md's flag table lists every controller flag with its default.
#[test]
fn reference_doc_lists_every_controller_flag() {
    let doc = read("../docs/reference.md");
    let cmd = <seal_controller::config::Config as clap::CommandFactory>::command();
    for a in cmd.get_arguments() {
        let Some(long) = a.get_long() else { continue };
        if long == "help" || long == "version" {
            continue;
        }
        assert!(
            doc.contains(&format!("`--{long}`")),
            "docs/reference.md does not document --{long}"
        );
    }
}
