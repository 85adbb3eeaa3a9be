#!/usr/bin/env python3
"""Writes the committed seed corpora under seeds/<target>/ from testdata/ and the template
golden table. Run from anywhere: python3 crates/seal-crypto/fuzz/make_seeds.py

Sealed seeds for `manifest` are made with testdata/gen/sealtool.py (the independent Python
implementation) and the 2048-bit fixture certificate, so the fuzz target's key can open them
and reach template rendering. The template seeds are then minimised with `cargo fuzz cmin`
(see README.md): this script writes every candidate, cmin keeps the useful ones under their
SHA-1 names, and `make_seeds.py --no-golden` then restores the named seeds.
"""
import base64
import json
import pathlib
import subprocess
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parents[2]
TD = ROOT / "testdata"
SEEDS = FUZZ / "seeds"


def put(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def vectors():
    for f in sorted((TD / "vectors").glob("*.txt")):
        fields = {}
        for line in f.read_text().splitlines():
            k, _, v = line.partition(": ")
            fields[k] = v
        label = fields.get("label", "").encode()
        ct = base64.b64decode(fields.get("ciphertext-b64", ""))
        if len(label) < 64:
            put("open", f.stem, bytes([len(label)]) + label + ct)


def pems():
    keys = TD / "keys"
    for f in ["rsa2048.key", "rsa2048.pk8.key", "rsa2048.crt", "rsa4096.crt", "ec.key", "ec.crt",
              "expired.crt"]:
        put("pem", f, (keys / f).read_bytes())
    der = subprocess.run(["openssl", "x509", "-in", keys / "rsa2048.crt", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    put("pem", "rsa2048.crt.der", der)
    pub = subprocess.run(["openssl", "rsa", "-in", keys / "rsa2048.key", "-pubout"],
                         check=True, capture_output=True).stdout
    put("pem", "rsa2048.pub", pub)
    rsapub = subprocess.run(["openssl", "rsa", "-in", keys / "rsa2048.key", "-RSAPublicKey_out"],
                            check=True, capture_output=True).stdout
    put("pem", "rsa2048.rsapub", rsapub)
    put("pem", "key-then-cert", (keys / "rsa2048.key").read_bytes() + (keys / "rsa2048.crt").read_bytes())


def seal(secret_yaml, *args):
    out = subprocess.run(
        [sys.executable, TD / "gen" / "sealtool.py", "seal-secret", "--cert", TD / "keys" / "rsa2048.crt", *args],
        input=secret_yaml.encode(), check=True, capture_output=True).stdout
    return json.loads(out)


def manifests():
    for f in sorted((TD / "secrets").iterdir()):
        put("manifest", "secret-" + f.name, f.read_bytes())
    for f in sorted((TD / "sealed").glob("*.json")):
        if not f.name.endswith(".expected.json"):
            put("manifest", "sealed-" + f.name, f.read_bytes())
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\nstringData: {user: admin, password: hunter2, json: '{\"a\":[1,2]}'}\n"
    ss = seal(secret)
    ss["spec"]["template"]["data"] = {
        "url": "postgres://{{ .user }}:{{ .password | urlquery }}@db",
        "cfg": "{{ .json | fromJson | toYaml }}",
        "both": "{{ range $k, $v := . }}{{ $k }}={{ $v | b64enc }};{{ end }}",
    }
    put("manifest", "rsa2048-template.json", json.dumps(ss, indent=2))
    for scope in ["namespace-wide", "cluster-wide"]:
        put("manifest", f"rsa2048-{scope}.json", json.dumps(seal(secret, "--scope", scope)))
    # Hostile shapes the parser must refuse or bound.
    put("manifest", "alias-bomb.yaml",
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)))
    put("manifest", "deep-flow.yaml", "[" * 3000 + "]" * 3000)
    put("manifest", "deep-json.json", "[" * 3000 + "]" * 3000)
    put("manifest", "deep-block.yaml", "".join("  " * i + "- \n" for i in range(300)))
    put("manifest", "list.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "List", "items": [ss]}]}))


def templates():
    lines = (ROOT / "crates/seal-template/tests/golden/golden.jsonl").read_text().splitlines()
    seen = set()
    for row in lines[1:] if GOLDEN else []:
        src = json.loads(row)["src"]
        if src not in seen:
            seen.add(src)
            put("template", f"golden-{len(seen):04}", src)
    hostile = {
        "repeat": '{{ repeat 1000000000 "x" }}',
        "printf-width": '{{ printf "%999999999d" 1 }}',
        "printf-prec": '{{ printf "%.999999999f" 1.0 }}',
        "define-recursion": '{{ define "a" }}{{ template "a" . }}{{ end }}{{ template "a" . }}',
        "mutual-recursion": '{{ define "a" }}{{ template "b" . }}{{ end }}{{ define "b" }}{{ template "a" . }}{{ end }}{{ template "a" }}',
        "range-int": '{{ range 1000000000 }}x{{ end }}',
        "range-nested": '{{ range until 10000 }}{{ range until 10000 }}{{ . }}{{ end }}{{ end }}',
        "paren-nesting": "{{ " + "(" * 500 + "1" + ")" * 500 + " }}",
        "if-nesting": "{{ if 1 }}" * 300 + "{{ end }}" * 300,
        "list-grow": '{{ $l := list }}{{ range until 100000 }}{{ $l = append $l $l }}{{ end }}',
        "dict-self": '{{ $d := dict }}{{ $_ := set $d "a" $d }}{{ toJson $d }}',
        "trunc-neg": '{{ trunc -5 "abc" }}{{ substr 5 1 "abc" }}{{ abbrev 2 "abcdef" }}',
        "indent": '{{ indent 999999999 "a" }}',
        "x-item": '{{ .x | b64dec | fromJson | toPrettyJson }}\x00eyJhIjpbMSwyLDNdfQ==',
    }
    for k, v in hostile.items():
        put("template", "hostile-" + k, v)


# `--no-golden`: skip the golden table (after `cargo fuzz cmin`, which renames what it keeps).
GOLDEN = "--no-golden" not in sys.argv
vectors()
pems()
manifests()
templates()
