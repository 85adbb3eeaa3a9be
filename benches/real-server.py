#!/usr/bin/env python3
"""Side by side on a real kube-apiserver: seal's controller and upstream's, same key, same data.

Measures, for each controller in the same run:
  first    first start with N new SealedSecrets x 5 items (RSA-4096): seconds until every Secret
           exists and every SealedSecret reports Synced, at default flags and at --kubeclient-qps=-1
  restart  a restart with everything synced: seconds until the process is idle again, CPU seconds
  migrate  seal's first start over M Secrets that upstream's controller made (upstream's own restart
           of the same set is the baseline): seconds until seal has recorded every object, Secret
           writes (must be 0)
For each: API requests by resource and verb (the API server's apiserver_request_total, LIST and
WATCH left out: the bench polls with LIST), CPU seconds and peak RSS of the controller process.

Environment (nothing here knows how the cluster was set up):
  SEAL_E2E_KUBECONFIG       kubeconfig with cluster-admin (the bench's own kubectl calls)
  SEAL_BENCH_SEAL_RUN       command that starts a controller binary in the background, given the
                            binary and its flags (e.g. a script that runs it in a network namespace)
  SEAL_BENCH_SEAL_BIN       seal's controller binary (default target/release/controller)
  SEAL_BENCH_UPSTREAM_RUN   command that starts upstream's controller, given its flags
  SEAL_BENCH_STOP           command that stops whichever controller runs
  SEAL_BENCH_PIDFILE        file holding the running controller's pid (for CPU and RSS)
  SEAL_BENCH_CONTROLLER_NS  the controllers' namespace (default kube-system)
  SEAL_BENCH_N, SEAL_BENCH_M  sizes (default 100 and 1000)
  SEAL_KUBECTL_SEAL         kubectl-seal binary used to seal the data (default target/release/kubectl-seal)

Usage: benches/real-server.py [first|restart|migrate ...]   (default: all three)
Both controllers must be able to read the key Secret this bench creates in the controllers'
namespace (label sealedsecrets.bitnami.com/sealed-secrets-key=active, testdata/keys/rsa4096).
"""

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KUBECONFIG = os.environ.get("SEAL_E2E_KUBECONFIG")
CTRL_NS = os.environ.get("SEAL_BENCH_CONTROLLER_NS", "kube-system")
N = int(os.environ.get("SEAL_BENCH_N", "100"))
M = int(os.environ.get("SEAL_BENCH_M", "1000"))
ITEMS = 5
TIMEOUT = 900


def need(var):
    v = os.environ.get(var)
    if not v:
        sys.exit(f"error: set {var} (see the header of {sys.argv[0]})")
    return v


def kubectl(*args, stdin=None, check=True):
    cmd = ["kubectl", "--kubeconfig", KUBECONFIG, *args]
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"error: {' '.join(cmd[:6])}…: {r.stderr.strip()}")
    return r.stdout


def sh(cmd):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"error: `{cmd}` failed: {r.stdout[-400:]}{r.stderr[-400:]}")


def request_counts():
    """apiserver_request_total by (resource/subresource, verb), LIST and WATCH left out."""
    out = {}
    for line in kubectl("get", "--raw", "/metrics").splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        res = labels.get("resource", "")
        if res not in ("secrets", "sealedsecrets", "events") or labels.get("verb") in ("LIST", "WATCH"):
            continue
        key = res + ("/" + labels["subresource"] if labels.get("subresource") else "")
        key += " " + labels.get("verb", "")
        out[key] = out.get(key, 0) + float(line.rsplit(" ", 1)[1])
    return out


def diff(after, before):
    d = {k: int(v - before.get(k, 0)) for k, v in after.items()}
    return {k: v for k, v in sorted(d.items()) if v}


def proc_stats():
    try:
        pid = open(need("SEAL_BENCH_PIDFILE")).read().strip()
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        hwm = 0.0
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
        return cpu, hwm
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0


def start(which, flags):
    if which == "seal":
        binary = os.environ.get("SEAL_BENCH_SEAL_BIN", f"{ROOT}/target/release/controller")
        cmd = f"{need('SEAL_BENCH_SEAL_RUN')} {shlex.quote(binary)}"
    else:
        cmd = need("SEAL_BENCH_UPSTREAM_RUN")
    sh(f"{cmd} {' '.join(shlex.quote(f) for f in flags)}")


def stop():
    sh(need("SEAL_BENCH_STOP"))


def sealed_manifests(ns, count):
    secrets = []
    for i in range(count):
        data = {f"item{j}": base64.b64encode(f"value-{i}-{j}".encode()).decode() for j in range(ITEMS)}
        secrets.append(json.dumps({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": f"s{i:05d}", "namespace": ns, "labels": {"bench": "real-server"}},
            "data": data,
        }))
    seal = os.environ.get("SEAL_KUBECTL_SEAL", f"{ROOT}/target/release/kubectl-seal")
    r = subprocess.run([seal, "--cert", f"{ROOT}/testdata/keys/rsa4096.crt", "-o", "yaml"],
                       input="\n".join(secrets), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"error: kubectl-seal: {r.stderr.strip()}")
    return r.stdout


def ensure_key():
    key = open(f"{ROOT}/testdata/keys/rsa4096.key").read()
    crt = open(f"{ROOT}/testdata/keys/rsa4096.crt").read()
    manifest = json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "sealed-secrets-keybench", "namespace": CTRL_NS,
                     "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "stringData": {"tls.key": key, "tls.crt": crt},
    })
    kubectl("apply", "-f", "-", stdin=manifest)


def fresh_ns(tag, count):
    ns = f"bench-{tag}-{int(time.time()) % 100000}"
    kubectl("create", "namespace", ns)
    kubectl("apply", "-f", "-", stdin=sealed_manifests(ns, count))
    return ns


def statuses(ns):
    items = json.loads(kubectl("get", "sealedsecrets", "-n", ns, "-o", "json"))["items"]
    return items


def wait(what, ok, timeout=TIMEOUT):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if ok():
            return time.monotonic() - t0
        time.sleep(0.5)
    sys.exit(f"error: timed out waiting for {what}")


def all_synced(ns, count, record=False):
    def ok():
        secrets = len(kubectl("get", "secrets", "-n", ns, "-o", "name").split())
        if secrets < count:
            return False
        for s in statuses(ns):
            conds = (s.get("status") or {}).get("conditions") or []
            if not any(c["type"] == "Synced" and c["status"] == "True" for c in conds):
                return False
            if record and not any(c["type"] == "seal.dev/Unsealed" for c in conds):
                return False
        return True
    return ok


def idle():
    """The controller's CPU time stopped moving (two 1-second samples alike, after 3 s)."""
    state = {"t0": time.monotonic(), "last": None, "same": 0}

    def ok():
        cpu, _ = proc_stats()
        if state["last"] is not None and cpu - state["last"] < 0.02:
            state["same"] += 1
        else:
            state["same"] = 0
        state["last"] = cpu
        time.sleep(0.5)
        return time.monotonic() - state["t0"] > 3 and state["same"] >= 2
    return ok


def run(which, flags, until, label):
    before = request_counts()
    t0 = time.monotonic()
    start(which, flags)
    wait(label, until)
    secs = time.monotonic() - t0
    cpu, hwm = proc_stats()
    reqs = diff(request_counts(), before)
    stop()
    row = {"controller": which, "case": label, "flags": " ".join(flags) or "defaults",
           "seconds": round(secs, 1), "cpu_s": round(cpu, 2), "peak_rss_mib": round(hwm, 1),
           "requests": reqs}
    print(json.dumps(row), flush=True)
    return row


def main():
    global KUBECONFIG
    KUBECONFIG = need("SEAL_E2E_KUBECONFIG")
    phases = sys.argv[1:] or ["first", "restart", "migrate"]
    ensure_key()
    stop()
    rows = []
    if "first" in phases or "restart" in phases:
        for flags in ([], ["--kubeclient-qps=-1"]):
            for which in ("upstream", "seal"):
                ns = fresh_ns(which[:2], N)
                rows.append(run(which, flags, all_synced(ns, N), f"first start, {N} x {ITEMS}"))
                if "restart" in phases and not flags:
                    rows.append(run(which, flags, idle(), f"restart, {N} synced"))
                # Gone before the next run: a namespace still being deleted holds objects the
                # next controller would work on (and count) too.
                kubectl("delete", "namespace", ns, "--wait=true", "--timeout=600s")
    if "migrate" in phases:
        ns = fresh_ns("mig", M)
        # Upstream makes the Secrets (limit off, to keep the run short), then restarts as baseline.
        rows.append(run("upstream", ["--kubeclient-qps=-1"], all_synced(ns, M), f"upstream makes {M} x {ITEMS}"))
        rows.append(run("upstream", [], idle(), f"upstream restart over its {M}"))
        rows.append(run("seal", [], all_synced(ns, M, record=True), f"seal first start over upstream's {M}"))
        kubectl("delete", "namespace", ns, "--wait=false")
    print("\n| controller | case | flags | s | CPU s | peak RSS MiB | requests (not LIST/WATCH) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        reqs = ", ".join(f"{k} {v}" for k, v in r["requests"].items()) or "none"
        print(f"| {r['controller']} | {r['case']} | {r['flags']} | {r['seconds']} | {r['cpu_s']} "
              f"| {r['peak_rss_mib']} | {reqs} |")


if __name__ == "__main__":
    main()
