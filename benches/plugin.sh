#!/usr/bin/env bash
# Whole-process benchmark of offline sealing:
#   kubectl-seal --cert testdata/keys/rsa4096.crt < testdata/secrets/five-items.yaml
# and of one --raw value (strict scope, --from-file).
# Reports median and p90 wall time and peak RSS over N runs of the release build, next to
# process-spawn baselines (`true`, `cat`) measured in the same run, so numbers from different
# machines compare as ratios.
#
#   benches/plugin.sh [N]        # default N=200; CI smoke: N=5
# Needs python3 (standard library only) for timing and per-process rusage (os.wait4).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-200}"
cargo build --release --locked -p kubectl-seal >&2
BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/kubectl-seal"
python3 - "$N" "$BIN" <<'PY'
import os, statistics, subprocess, sys, time

n, binary = int(sys.argv[1]), sys.argv[2]
stdin_path = "testdata/secrets/five-items.yaml"

def bench(argv):
    walls, rss = [], []
    devnull = os.open(os.devnull, os.O_WRONLY)
    for _ in range(n):
        fd = os.open(stdin_path, os.O_RDONLY)
        t0 = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, devnull, 1)])
        _, status = os.waitpid(pid, 0)
        walls.append((time.perf_counter() - t0) * 1000)
        os.close(fd)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.exit(f"{argv} exited {code}")
    walls.sort()
    return statistics.median(walls), walls[max(0, int(len(walls) * 0.9) - 1)], peak_rss(argv)


def peak_rss(argv):
    # Linux carries a process's RSS high-water mark across exec, so measure through the small
    # /usr/bin/time process rather than from this interpreter's children.
    if not os.path.exists("/usr/bin/time"):
        return float("nan")
    peaks = []
    for _ in range(5):
        with open(stdin_path, "rb") as f:
            p = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, stdin=f,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        peaks.append(int(p.stderr.decode().strip().splitlines()[-1]) / 1024)  # KiB -> MiB
    return max(peaks)

rows = [
    ("true (spawn baseline)", ["true"]),
    ("cat < five-items.yaml", ["cat"]),
    ("kubectl-seal --cert rsa4096.crt", [binary, "--cert", "testdata/keys/rsa4096.crt"]),
    # One value (a 51-byte file), strict scope: --raw prints just the base64.
    ("kubectl-seal --raw --cert rsa4096.crt (one value)",
     [binary, "--raw", "--cert", "testdata/keys/rsa4096.crt", "--namespace", "bench",
      "--name", "x", "--from-file", "testdata/keys/rsa2048.keyid"]),
]
results = {}
print(f"runs: {n}")
print(f"| command | median ms | p90 ms | peak RSS MiB |")
print(f"|---|---|---|---|")
for name, argv in rows:
    med, p90, rss = bench(argv)
    results[name] = med
    print(f"| {name} | {med:.2f} | {p90:.2f} | {rss:.1f} |")
base = results["true (spawn baseline)"]
for name in ("kubectl-seal --cert rsa4096.crt", "kubectl-seal --raw --cert rsa4096.crt (one value)"):
    seal = results[name]
    print(f"\n{name}: median / true median: {seal / base:.1f}x; target <= 10 ms median: {'met' if seal <= 10 else 'MISSED'}")
PY
