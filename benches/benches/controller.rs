//! The controller at scale (SPEC §8): first start, restart, peak memory, and how they grow.
//!
//! `cargo bench -p seal-benches --bench controller` (`SEAL_BENCH_SMOKE=1` for the CI size).
//!
//! The API double (crates/kube-double) runs in this process; the real `controller` binary of
//! the same profile runs as a child pointed at it through a temporary kubeconfig, so its peak
//! RSS (`VmHWM` in /proc/<pid>/status) is its own. Decryptions are read from its metrics
//! (`unseal_duration_seconds_count`: unseal calls; `items_opened_total`: items opened).
//!
//! Scenarios (each a fresh double):
//! - `scale`: 10,000 SealedSecrets × 5 items, RSA-4096, plus 50,000 unrelated Secrets. First
//!   start (everything new), then a restart after 0.5 % of the SealedSecrets changed their spec
//!   while no controller ran. Targets: restart decrypts ≤ 1 % of items and every status is
//!   current within 30 s; peak RSS ≤ 64 MiB.
//! - `growth`: 1k, 10k and 50k SealedSecrets × 1 item, RSA-2048, no unrelated Secrets: time and
//!   memory per object should stay flat (linear growth).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube_double::ApiDouble;
use seal_api::crypto::PublicKey;
use seal_benches::{loadavg, sealed, secret, size, smoke, verdict};
use serde_json::{Value, json};

const CONTROLLER_NS: &str = "kube-system";
const SS: &str = "bitnami.com/v1alpha1";
const NAMESPACES: usize = 100;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let bin = controller_binary();
    let which = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "all".to_owned());
    println!(
        "# controller bench: {} cores, load {}{}; controller binary {}",
        seal_benches::cores(),
        loadavg(),
        if smoke() { ", SMOKE size" } else { "" },
        bin.display()
    );
    if which == "all" || which == "scale" {
        let n = size("SS", 10_000, 50);
        let unrelated = size("UNRELATED", 50_000, 200);
        let bits = size("BITS", 4096, 2048);
        println!(
            "\n## 3–4. scale: {n} SealedSecrets × 5 items (RSA-{bits}), {unrelated} unrelated Secrets"
        );
        let r = rt.block_on(scenario(&bin, n, 5, bits, unrelated, (n / 200).max(1)));
        print_table(std::slice::from_ref(&r));
        let first_items = (n * 5) as f64;
        let restart_pct = r.restart.items as f64 * 100.0 / first_items;
        let peak = r.first.hwm_mib.max(r.restart.hwm_mib);
        println!(
            "restart: {:.2} % of items decrypted (target ≤ 1 %: {}), all status current after \
             {:.1} s (target < 30 s: {}); peak RSS {peak:.1} MiB (target ≤ 64 MiB: {})",
            restart_pct,
            verdict(restart_pct <= 1.0),
            r.restart.converged_s,
            verdict(r.restart.converged_s < 30.0),
            verdict(peak <= 64.0),
        );
        println!(
            "first start: {:.1} s to all status current, {:.0} items/s decrypted",
            r.first.converged_s,
            r.first.items as f64 / r.first.converged_s
        );
    }
    if which == "all" || which == "growth" {
        let sizes: Vec<usize> = match std::env::var("SEAL_BENCH_GROWTH") {
            Ok(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
            Err(_) if smoke() => vec![20, 100],
            Err(_) => vec![1_000, 10_000, 50_000],
        };
        println!("\n## 6. growth: SealedSecrets × 1 item (RSA-2048), no unrelated Secrets");
        let mut rows = Vec::new();
        for n in sizes {
            rows.push(rt.block_on(scenario(&bin, n, 1, 2048, 0, (n / 200).max(1))));
        }
        print_table(&rows);
        println!("| n | first start µs/object | restart µs/object | peak RSS KiB/object |");
        println!("|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {:.0} | {:.0} | {:.2} |",
                r.n,
                r.first.converged_s * 1e6 / r.n as f64,
                r.restart.converged_s * 1e6 / r.n as f64,
                r.first.hwm_mib.max(r.restart.hwm_mib) * 1024.0 / r.n as f64
            );
        }
    }
}

/// The `controller` binary of this profile, built first (unless `SEAL_BENCH_CONTROLLER` names
/// one).
fn controller_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SEAL_BENCH_CONTROLLER") {
        return PathBuf::from(p);
    }
    let release = !cfg!(debug_assertions);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(seal_benches::workspace()).args([
        "build",
        "-q",
        "--locked",
        "-p",
        "seal-controller",
        "--bin",
        "controller",
    ]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("running cargo build");
    assert!(status.success(), "cargo build of the controller failed");
    seal_benches::target_dir()
        .join(if release { "release" } else { "debug" })
        .join("controller")
}

#[derive(Clone, Debug, Default)]
struct Phase {
    ready_s: f64,
    converged_s: f64,
    /// Unseal calls (objects decrypted).
    decrypts: u64,
    /// Items opened.
    items: u64,
    /// Secret and status writes seen by the double.
    secret_writes: usize,
    status_writes: usize,
    hwm_mib: f64,
}

#[derive(Clone, Debug)]
struct Outcome {
    n: usize,
    items: usize,
    unrelated: usize,
    changed: usize,
    seed_s: f64,
    first: Phase,
    restart: Phase,
}

fn print_table(rows: &[Outcome]) {
    println!(
        "| SealedSecrets × items | unrelated | phase | ready s | all current s | objects \
         decrypted | items decrypted | Secret writes | status writes | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        for (name, p) in [
            ("first start".to_owned(), &r.first),
            (format!("restart, {} changed", r.changed), &r.restart),
        ] {
            println!(
                "| {} × {} | {} | {name} | {:.2} | {:.2} | {} | {} ({:.2} %) | {} | {} | {:.1} |",
                r.n,
                r.items,
                r.unrelated,
                p.ready_s,
                p.converged_s,
                p.decrypts,
                p.items,
                p.items as f64 * 100.0 / (r.n * r.items) as f64,
                p.secret_writes,
                p.status_writes,
                p.hwm_mib
            );
        }
        println!("(seeding took {:.1} s)", r.seed_s);
    }
}

fn key_stem(bits: usize) -> &'static str {
    if bits == 4096 { "rsa4096" } else { "rsa2048" }
}

fn ss_name(i: usize) -> (String, String) {
    (format!("ns-{:03}", i % NAMESPACES), format!("ss-{i:06}"))
}

/// SealedSecrets `range` sealed on every core.
fn seal_many(range: std::ops::Range<usize>, items: usize, key: &PublicKey) -> Vec<Value> {
    let idx: Vec<usize> = range.collect();
    let threads = seal_benches::cores();
    let chunk = idx.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = idx
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&i| {
                            let (ns, name) = ss_name(i);
                            let ss = sealed(&secret(&ns, &name, items, 24), key, true);
                            serde_json::to_value(ss).expect("serialize")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("sealing thread"))
            .collect()
    })
}

async fn scenario(
    bin: &Path,
    n: usize,
    items: usize,
    bits: usize,
    unrelated: usize,
    changed: usize,
) -> Outcome {
    let api = ApiDouble::start().await;
    api.set_request_log(false);
    let stem = key_stem(bits);
    let t = Instant::now();
    api.insert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": "sealed-secrets-keybench",
            "namespace": CONTROLLER_NS,
            "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"},
        },
        "type": "kubernetes.io/tls",
        "stringData": {
            "tls.key": seal_benches::testdata(&format!("keys/{stem}.key")),
            "tls.crt": seal_benches::testdata(&format!("keys/{stem}.crt")),
        },
    }));
    let public = seal_benches::fixture_key(stem).public_key();
    for obj in seal_many(0..n, items, &public) {
        api.insert(obj);
    }
    for i in 0..unrelated {
        api.insert(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": format!("other-{i:06}"),
                "namespace": format!("ns-{:03}", i % 50),
                "labels": {"app": "unrelated"},
            },
            "type": "Opaque",
            "stringData": {"user": format!("user-{i}"), "password": "0123456789abcdef0123456789abcdef"},
        }));
    }
    let seed_s = t.elapsed().as_secs_f64();

    let dir = seal_benches::target_dir().join("seal-bench-controller");
    std::fs::create_dir_all(&dir).expect("creating the bench dir");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: {}\n\
             users:\n- name: bench\n  user: {{}}\ncontexts:\n- name: bench\n  context:\n    \
             cluster: double\n    user: bench\n    namespace: default\ncurrent-context: bench\n",
            api.url()
        ),
    )
    .expect("writing the kubeconfig");

    let first = run_phase(&api, bin, &kubeconfig, &dir, n, n as u64).await;

    // While no controller runs, `changed` SealedSecrets get a new spec (one item resealed).
    for i in 0..changed {
        let (ns, name) = ss_name(i * (n / changed.max(1)).max(1));
        let fresh = sealed(&secret(&ns, &name, 1, 25), &public, true);
        let value = fresh
            .spec
            .encrypted_data
            .get("item0")
            .cloned()
            .expect("item0");
        api.modify(SS, "sealedsecrets", Some(&ns), &name, |o| {
            o["spec"]["encryptedData"]["item0"] = value;
        })
        .expect("changing a SealedSecret");
    }
    let restart = run_phase(&api, bin, &kubeconfig, &dir, n, 0).await;
    Outcome {
        n,
        items,
        unrelated,
        changed,
        seed_s,
        first,
        restart,
    }
}

/// Starts the controller, waits until every SealedSecret's status is current, reads its
/// metrics and peak RSS, and stops it.
async fn run_phase(
    api: &ApiDouble,
    bin: &Path,
    kubeconfig: &Path,
    dir: &Path,
    n: usize,
    min_decrypts: u64,
) -> Phase {
    api.clear_requests();
    api.set_request_log_limit(1_000_000);
    api.set_request_log(true);
    let (http, metrics) = (free_port(), free_port());
    let log = std::fs::File::create(dir.join("controller.log")).expect("log file");
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args([
            &format!("--listen-addr=127.0.0.1:{http}"),
            &format!("--listen-metrics-addr=127.0.0.1:{metrics}"),
            "--key-renew-period=0",
            "--log-level=warn",
            // The client rate limit (default 5/s, burst 10, as upstream) is a user setting; it
            // would be all this measures. benches/README.md gives its cost separately.
            "--kubeclient-qps=-1",
        ])
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAMESPACE", CONTROLLER_NS)
        .stdout(Stdio::from(log.try_clone().expect("log fd")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("starting the controller");
    let deadline = Duration::from_secs(if smoke() { 120 } else { 900 });
    let mut ready_s = None;
    let mut phase = Phase::default();
    loop {
        let elapsed = started.elapsed();
        assert!(
            elapsed < deadline,
            "the controller did not converge in {deadline:?}; see {}",
            dir.join("controller.log").display()
        );
        if let Some(status) = child.try_wait().expect("polling the child") {
            panic!(
                "the controller exited: {status}; see {}",
                dir.join("controller.log").display()
            );
        }
        if ready_s.is_none() && http_get(http, "/readyz").is_some_and(|(code, _)| code == 200) {
            ready_s = Some(elapsed.as_secs_f64());
        }
        // Listing every object is not free: on a first start, look only once every object
        // has been decrypted.
        if ready_s.is_some() && scrape(metrics).0 >= min_decrypts && all_current(api) == n {
            phase.converged_s = started.elapsed().as_secs_f64();
            break;
        }
        tokio::time::sleep(Duration::from_millis(if n > 5_000 { 500 } else { 100 })).await;
    }
    phase.ready_s = ready_s.unwrap_or_default();
    (phase.decrypts, phase.items) = scrape(metrics);
    phase.hwm_mib = vm_hwm_kib(child.id()) as f64 / 1024.0;
    stop(&mut child);
    api.set_request_log(false);
    for r in api.requests() {
        if r.is_write() && !r.is_watch() {
            if r.path.ends_with("/status") {
                phase.status_writes += 1;
            } else if r.targets("secrets") {
                phase.secret_writes += 1;
            }
        }
    }
    phase
}

/// How many SealedSecrets say `Synced` True at their generation.
fn all_current(api: &ApiDouble) -> usize {
    api.list(SS, "sealedsecrets", None)
        .iter()
        .filter(|o| {
            let st = &o["status"];
            st["observedGeneration"] == o["metadata"]["generation"]
                && st["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Synced" && c["status"] == "True")
                })
        })
        .count()
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A plain HTTP GET on localhost: status code and body.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((code, body))
}

/// (unseal calls, items opened) from the controller's metrics.
fn scrape(port: u16) -> (u64, u64) {
    let Some((200, body)) = http_get(port, "/metrics") else {
        return (0, 0);
    };
    let (mut decrypts, mut items) = (0, 0);
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let v: f64 = value.parse().unwrap_or(0.0);
        if name.ends_with("_unseal_duration_seconds_count") {
            decrypts += v as u64;
        } else if name.contains("_items_opened_total") {
            items += v as u64;
        }
    }
    (decrypts, items)
}

/// The child's peak resident set (`VmHWM`), KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
