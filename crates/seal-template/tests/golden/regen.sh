#!/usr/bin/env bash
# Re-records golden.jsonl from Go. Needs Debian's golang-go and
# golang-github-masterminds-sprig-dev (apt-get install), python3, cargo.
# Hand-written cases are in cases.py, generated ones come from fuzz*.py with
# fixed seeds; a generated case is kept only where we already agree with Go
# (the rest are printed by `differential_run`, see tests.rs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/oracle" && cp "$here/oracle.go" "$work/oracle/main.go"
(cd "$work/oracle" && GOPATH=/usr/share/gocode GO111MODULE=off go build -o oracle .)
python3 "$here/cases.py" "$work/in.jsonl"
python3 "$here/fuzz.py" 101 250 > "$work/f1.jsonl"
python3 "$here/fuzz2.py" 102 250 > "$work/f2.jsonl"
python3 "$here/fuzz3.py" 103 250 > "$work/f3.jsonl"
cat "$work"/f[123].jsonl | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l); r["note"] = "generated"; print(json.dumps(r, ensure_ascii=False))' > "$work/gen.jsonl"
"$work/oracle/oracle" < "$work/in.jsonl" > "$work/raw.jsonl"
"$work/oracle/oracle" < "$work/gen.jsonl" > "$work/genraw.jsonl"
(cd "$here/../../../.." && SEAL_TEMPLATE_DIFF="$work/genraw.jsonl" \
  cargo test -q -p seal-template --lib tests::differential_run -- --ignored >/dev/null)
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
go = [json.loads(l) for l in open(w + "/genraw.jsonl")]
rs = [json.loads(l) for l in open(w + "/genraw.jsonl.rust")]
with open(w + "/raw.jsonl", "a") as f:
    for a, b in zip(go, rs):
        want = (None, a["err"]) if a.get("err") is not None else (a.get("out"), None)
        if want == (b.get("out"), b.get("err")) and len(json.dumps(a)) < 1500:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
PY
python3 "$here/annotate.py" "$work/raw.jsonl" "$here/golden.jsonl"
wc -l "$here/golden.jsonl"
