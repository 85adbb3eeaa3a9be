#!/usr/bin/env python3
"""sealtool: an independent Python implementation of the Sealed Secrets value format.

It regenerates the fixtures under testdata/ and serves other test suites as an
independent sealer/opener. Dependencies: the standard library, `cryptography`
and `pyyaml` (see requirements.txt).

Sealed value (SPEC section 2):

    u16 big-endian len(R) || R || AES-256-GCM ciphertext || 16-byte tag

R is RSA-OAEP (SHA-256, MGF1-SHA-256, label = scope bytes) over a fresh random
32-byte AES key; the GCM nonce is 12 zero bytes (sound only because every
session key is fresh) and there is no AAD. Base64 is standard and padded.

Labels (SPEC section 3): strict -> "<namespace>/<name>", namespace-wide ->
"<namespace>", cluster-wide -> "" (an empty label equals no label).

THE KEYS UNDER testdata/keys ARE PUBLIC TEST FIXTURES. NEVER USE THEM FOR REAL.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import struct
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import ExtensionOID, NameOID

TESTDATA = Path(__file__).resolve().parent.parent
KEYS = TESTDATA / "keys"

SCOPES = ("strict", "namespace-wide", "cluster-wide")
ANN_NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
ANN_CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
ZERO_NONCE = b"\x00" * 12


class OpenError(Exception):
    """Raised when a sealed value cannot be opened."""


class TooShort(OpenError):
    def __init__(self) -> None:
        super().__init__("SealedSecret data is too short")


class DecryptError(OpenError):
    def __init__(self) -> None:
        super().__init__("no key could decrypt secret")


# ---------------------------------------------------------------- crypto core


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()),
        algorithm=hashes.SHA256(),
        label=label or None,
    )


def seal(public_key: rsa.RSAPublicKey, label: bytes, plaintext: bytes) -> bytes:
    """Seal plaintext to an RSA public key under an OAEP label; returns raw bytes."""
    session_key = os.urandom(32)
    rsa_block = public_key.encrypt(session_key, _oaep(label))
    # A zero nonce is safe only because the session key is fresh for every value.
    body = AESGCM(session_key).encrypt(ZERO_NONCE, plaintext, None)
    return struct.pack(">H", len(rsa_block)) + rsa_block + body


def open_raw(private_key: rsa.RSAPrivateKey, label: bytes, sealed: bytes) -> bytes:
    """Open raw sealed bytes; raises TooShort or DecryptError."""
    if len(sealed) < 2:
        raise TooShort()
    (rsa_len,) = struct.unpack(">H", sealed[:2])
    if len(sealed) < rsa_len + 2:
        raise TooShort()
    rsa_block, body = sealed[2 : 2 + rsa_len], sealed[2 + rsa_len :]
    try:
        session_key = private_key.decrypt(rsa_block, _oaep(label))
        return AESGCM(session_key).decrypt(ZERO_NONCE, body, None)
    except Exception as exc:  # any OAEP/GCM failure is one undistinguished error
        raise DecryptError() from exc


def open_any(private_keys, label: bytes, sealed: bytes) -> bytes:
    """Try every key in order, first success wins (no key ID in the format)."""
    if len(sealed) < 2:
        raise TooShort()
    (rsa_len,) = struct.unpack(">H", sealed[:2])
    if len(sealed) < rsa_len + 2:
        raise TooShort()
    for key in private_keys:
        try:
            return open_raw(key, label, sealed)
        except DecryptError:
            continue
    raise DecryptError()


def b64enc(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64dec_strict(text: str) -> bytes:
    """Standard padded base64 only: URL-safe or unpadded input is rejected."""
    text = text.strip()
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError(f"illegal base64 data: {exc}") from exc


def label_for(scope: str, namespace: str, name: str) -> bytes:
    if scope in ("", "strict"):
        return f"{namespace}/{name}".encode()
    if scope == "namespace-wide":
        return namespace.encode()
    if scope == "cluster-wide":
        return b""
    raise ValueError("must be one of: strict, namespace-wide, cluster-wide")


# ---------------------------------------------------------------- keys and certs


def load_private_key(path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA private key")
    return key


def load_public_key(path) -> rsa.RSAPublicKey:
    """First PEM CERTIFICATE in the file (or a bare public key / private key)."""
    data = Path(path).read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        cert = x509.load_pem_x509_certificates(data)[0]
        pub = cert.public_key()
    elif b"PRIVATE KEY-----" in data:
        pub = serialization.load_pem_private_key(data, password=None).public_key()
    else:
        pub = serialization.load_pem_public_key(data)
    if not isinstance(pub, rsa.RSAPublicKey):
        raise ValueError(f"{path}: certificate key is not RSA")
    return pub


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """Upstream key ID: "SHA256:" + unpadded std base64 of SHA-256(SSH wire key)."""
    openssh = public_key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    wire = base64.b64decode(openssh.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(wire).digest()).decode().rstrip("=")


def spki_sha256(public_key) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


# KeyUsage with ONLY encipherOnly, exactly as Go's x509.KeyUsageEncipherOnly is
# marshalled: BIT STRING, 0 unused bits, one byte 0x01 (bit 7). `cryptography`'s
# KeyUsage refuses encipher_only without key_agreement, so the extension is
# written as raw DER to match upstream byte-for-byte in meaning.
KU_ENCIPHER_ONLY_DER = bytes([0x03, 0x02, 0x00, 0x01])

VALID_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
VALID_TO = dt.datetime(2125, 1, 1, tzinfo=dt.timezone.utc)


def make_cert(key, cn: str | None, not_before=VALID_FROM, not_after=VALID_TO, upstream=True):
    """Self-signed cert. upstream=True: the upstream controller profile
    (critical KeyUsage encipherOnly, critical CA:TRUE, SubjectKeyIdentifier as Go adds for CAs)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]) if cn else x509.Name([])
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(os.urandom(16), "big") or 1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if upstream:
        b = b.add_extension(
            x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, KU_ENCIPHER_ONLY_DER),
            critical=True,
        )
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        b = b.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    else:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return b.sign(key, hashes.SHA256())


def _pem_pkcs1(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _pem_pkcs8(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data, mode=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    if mode is not None:
        os.chmod(path, mode)
    print(f"wrote {path.relative_to(TESTDATA.parent)}", file=sys.stderr)


def gen_keys() -> None:
    """Generate every key and certificate under testdata/keys (overwrites!)."""
    k2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    k4096 = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    k4096b = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    kec = ec.generate_private_key(ec.SECP256R1())
    for stem, key in (("rsa2048", k2048), ("rsa4096", k4096), ("rsa4096-b", k4096b)):
        _write(KEYS / f"{stem}.key", _pem_pkcs1(key), 0o600)
    _write(KEYS / "rsa2048.pk8.key", _pem_pkcs8(k2048), 0o600)
    _write(KEYS / "rsa4096.pk8.key", _pem_pkcs8(k4096), 0o600)
    _write(KEYS / "ec.key", _pem_pkcs8(kec), 0o600)
    _write(KEYS / "rsa4096.crt", _cert_pem(make_cert(k4096, None)))
    _write(KEYS / "rsa4096-b.crt", _cert_pem(make_cert(k4096b, None)))
    _write(KEYS / "rsa2048.crt", _cert_pem(make_cert(k2048, "sealed-secret")))
    _write(
        KEYS / "expired.crt",
        _cert_pem(
            make_cert(
                k2048,
                "sealed-secret",
                dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
                dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc),
            )
        ),
    )
    _write(KEYS / "ec.crt", _cert_pem(make_cert(kec, "sealed-secret-ec", upstream=False)))
    gen_key_ids()


def gen_key_ids() -> None:
    for stem in ("rsa2048", "rsa4096", "rsa4096-b"):
        pub = load_private_key(KEYS / f"{stem}.key").public_key()
        _write(KEYS / f"{stem}.keyid", key_id(pub) + "\n")
        _write(KEYS / f"{stem}.sha256", spki_sha256(pub) + "\n")


# ---------------------------------------------------------------- Go-compatible JSON


def _go_str(s: str) -> str:
    """Quote a string the way Go's encoding/json does (HTML-safe escaping)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif o < 0x20 or ch in "<>&" or o in (0x2028, 0x2029):
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(obj, indent: str | None = "  ", _level: int = 0) -> str:
    """Serialise like Go's json.MarshalIndent(obj, "", indent) (or json.Marshal if
    indent is None). dict order is kept: sort Go maps before calling."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, str):
        return _go_str(obj)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        if indent is None:
            return "{" + ",".join(_go_str(k) + ":" + go_json(v, None) for k, v in obj.items()) + "}"
        pad, pad_in = indent * _level, indent * (_level + 1)
        items = [pad_in + _go_str(k) + ": " + go_json(v, indent, _level + 1) for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if not obj:
            return "[]"
        if indent is None:
            return "[" + ",".join(go_json(v, None) for v in obj) + "]"
        pad, pad_in = indent * _level, indent * (_level + 1)
        return "[\n" + ",\n".join(pad_in + go_json(v, indent, _level + 1) for v in obj) + "\n" + pad + "]"
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def sorted_map(m) -> dict:
    return {k: m[k] for k in sorted(m)}


# ---------------------------------------------------------------- manifests


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that keeps timestamps as strings (as Kubernetes does)."""

    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return yaml, Loader


def read_documents(text: str) -> list:
    """Multi-document YAML or a JSON stream; empty documents are skipped; a v1
    List is unpacked into its items."""
    stripped = text.lstrip()
    docs = []
    if stripped.startswith("{") or stripped.startswith("["):
        dec = json.JSONDecoder()
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            obj, pos = dec.raw_decode(text, pos)
            docs.append(obj)
    else:
        yaml, Loader = _yaml_loader()
        docs = list(yaml.load_all(text, Loader=Loader))
    out = []
    for d in docs:
        if not d:
            continue
        if not isinstance(d, dict):
            raise ValueError("document is not an object")
        if d.get("kind") == "List" or (d.get("kind", "").endswith("List") and "items" in d):
            out.extend(i for i in d.get("items") or [] if i)
        else:
            out.append(d)
    return out


# ObjectMeta JSON field order (k8s.io/apimachinery metav1.ObjectMeta).
_META_ORDER = (
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
)
# Dropped from the template (SPEC section 5, incl. the managedFields FIX).
_META_STRIP = {
    "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "managedFields",
}
_LAST_APPLIED = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
)


def _template_meta(meta: dict, omit_null_timestamp: bool) -> dict:
    out = {}
    for field in _META_ORDER:
        if field == "creationTimestamp":
            if not omit_null_timestamp:
                out["creationTimestamp"] = None
            continue
        if field in _META_STRIP:
            continue
        v = meta.get(field)
        if v in (None, "", {}, []):
            continue
        if field in ("labels", "annotations"):
            v = sorted_map({k: str(x) for k, x in v.items()})
            if field == "annotations":
                for k in _LAST_APPLIED:
                    v.pop(k, None)
                if not v:
                    continue
        out[field] = v
    return out


def secret_scope(annotations) -> str:
    annotations = annotations or {}
    if annotations.get(ANN_CLUSTER_WIDE) == "true":
        return "cluster-wide"
    if annotations.get(ANN_NAMESPACE_WIDE) == "true":
        return "namespace-wide"
    return "strict"


def update_scope_annotations(annotations, scope: str) -> dict:
    annotations = dict(annotations or {})
    annotations.pop(ANN_NAMESPACE_WIDE, None)
    annotations.pop(ANN_CLUSTER_WIDE, None)
    if scope == "namespace-wide":
        annotations[ANN_NAMESPACE_WIDE] = "true"
    elif scope == "cluster-wide":
        annotations[ANN_CLUSTER_WIDE] = "true"
    return annotations


def seal_secret(
    public_key,
    secret: dict,
    scope: str | None = None,
    namespace: str | None = None,
    name: str | None = None,
    allow_empty_data: bool = False,
    omit_null_timestamp: bool = True,
) -> dict:
    """v1 Secret dict -> SealedSecret dict (key order as kubeseal's JSON output).

    scope=None keeps the input's scope annotations; an explicit scope clears both
    annotations then sets the chosen one (SPEC section 3 FIX)."""
    if secret.get("kind", "Secret") != "Secret":
        raise ValueError(f"input is a {secret.get('kind')}, not a Secret")
    meta = dict(secret.get("metadata") or {})
    data = secret.get("data") or {}
    string_data = secret.get("stringData") or {}
    if not data and not string_data and not allow_empty_data:
        raise ValueError(
            "secret.data is empty in input Secret, assuming this is an error and aborting. "
            "To work with empty data, --allow-empty-data can be used"
        )
    if name:
        meta["name"] = name
    if not meta.get("name"):
        raise ValueError("missing metadata.name in input Secret")
    if namespace and meta.get("namespace") and namespace != meta["namespace"]:
        raise ValueError(
            f'namespace mismatch: input secret is in namespace "{meta["namespace"]}" '
            f'but "{namespace}" was specified'
        )
    if scope is not None:
        if scope == "":
            scope = "strict"
        if scope not in SCOPES:
            raise ValueError("must be one of: strict, namespace-wide, cluster-wide")
        meta["annotations"] = update_scope_annotations(meta.get("annotations"), scope)
    eff_scope = secret_scope(meta.get("annotations"))
    if eff_scope != "cluster-wide" and not meta.get("namespace"):
        meta["namespace"] = namespace or "default"
    label = label_for(eff_scope, meta.get("namespace") or "", meta["name"])

    plain = {}
    for k, v in data.items():
        plain[k] = b64dec_strict(v or "")
    for k, v in string_data.items():
        plain[k] = (v or "").encode("utf-8")
    encrypted = {k: b64enc(seal(public_key, label, plain[k])) for k in sorted(plain)}

    top = {"name": meta["name"]}
    if meta.get("namespace"):
        top["namespace"] = meta["namespace"]
    if not omit_null_timestamp:
        top["creationTimestamp"] = None
    top_ann = update_scope_annotations({}, eff_scope)
    if top_ann:
        top["annotations"] = sorted_map(top_ann)

    template = {}
    tmeta = _template_meta(meta, omit_null_timestamp)
    template["metadata"] = tmeta
    if secret.get("type"):
        template["type"] = secret["type"]
    if "immutable" in secret and secret["immutable"] is not None:
        template["immutable"] = bool(secret["immutable"])
    return {
        "kind": "SealedSecret",
        "apiVersion": "bitnami.com/v1alpha1",
        "metadata": top,
        "spec": {"template": template, "encryptedData": encrypted},
    }


def v1_secret_json(secret: dict) -> bytes:
    """Compact JSON of a v1 Secret in Go field order, as the legacy v1 sealer encoded it."""
    meta = secret.get("metadata") or {}
    m = {}
    for field in _META_ORDER:
        if field == "creationTimestamp":
            m[field] = meta.get(field)
            continue
        v = meta.get(field)
        if v in (None, "", {}, []):
            continue
        m[field] = sorted_map(v) if field in ("labels", "annotations") else v
    obj = {"kind": "Secret", "apiVersion": "v1", "metadata": m}
    if secret.get("immutable") is not None:
        obj["immutable"] = secret["immutable"]
    if secret.get("data"):
        obj["data"] = sorted_map(secret["data"])
    if secret.get("type"):
        obj["type"] = secret["type"]
    return go_json(obj, None).encode()


def seal_secret_v1(public_key, secret: dict) -> dict:
    """Legacy v1 format: the whole JSON v1 Secret sealed as one blob in spec.data."""
    meta = secret.get("metadata") or {}
    scope = secret_scope(meta.get("annotations"))
    label = label_for(scope, meta.get("namespace") or "", meta["name"])
    blob = seal(public_key, label, v1_secret_json(secret))
    top = {"name": meta["name"], "namespace": meta.get("namespace"), "creationTimestamp": None}
    if not top["namespace"]:
        del top["namespace"]
    ann = update_scope_annotations({}, scope)
    if ann:
        top["annotations"] = ann
    return {
        "kind": "SealedSecret",
        "apiVersion": "bitnami.com/v1alpha1",
        "metadata": top,
        "spec": {
            "template": {"metadata": {"creationTimestamp": None}},
            "data": b64enc(blob),
            "encryptedData": None,
        },
    }


def _merge_errors(errors: dict) -> str:
    """{item: message} -> "msg (item1, item2)" groups, sorted, joined by newlines."""
    groups: dict = {}
    for item in sorted(errors):
        groups.setdefault(errors[item], []).append(item)
    return "\n".join(f"{msg} ({', '.join(items)})" for msg, items in sorted(groups.items()))


def open_sealed(private_keys, ss: dict) -> dict:
    """SealedSecret dict -> {item: plaintext bytes}. Scope and label come from the
    TOP-LEVEL metadata only. Raises OpenError naming the failing items."""
    if ss.get("kind") != "SealedSecret":
        raise OpenError(f"input is a {ss.get('kind')}, not a SealedSecret")
    meta = ss.get("metadata") or {}
    spec = ss.get("spec") or {}
    label = label_for(secret_scope(meta.get("annotations")), meta.get("namespace") or "", meta.get("name") or "")
    enc = spec.get("encryptedData") or {}
    if spec.get("data"):
        if enc:
            raise OpenError(
                "cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"
            )
        try:
            blob = b64dec_strict(spec["data"])
        except ValueError as exc:
            raise OpenError(f"{exc} (data)") from exc
        plaintext = open_any(private_keys, label, blob)
        inner = json.loads(plaintext)
        return {k: b64dec_strict(v) for k, v in (inner.get("data") or {}).items()}
    out, errors = {}, {}
    for item, value in enc.items():
        if not isinstance(value, str):
            errors[item] = "encryptedData value is not a string"
            continue
        try:
            out[item] = open_any(private_keys, label, b64dec_strict(value))
        except (OpenError, ValueError) as exc:
            errors[item] = str(exc)
    if errors:
        raise OpenError(_merge_errors(errors))
    return out


# ---------------------------------------------------------------- vectors


def write_vector(path: Path, fields: dict) -> None:
    lines = []
    for k in ("comment", "key", "scope", "label", "expect", "plaintext-b64", "ciphertext-b64"):
        if k in fields:
            v = fields[k]
            assert "\n" not in v, k
            lines.append(f"{k}: {v}".rstrip(" ") if v == "" else f"{k}: {v}")
    _write(path, "\n".join(lines) + "\n")


def read_vector(path) -> dict:
    fields = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        k, _, v = line.partition(":")
        fields[k.strip()] = v[1:] if v.startswith(" ") else v
    return fields


def gen_vectors() -> None:
    vdir = TESTDATA / "vectors"
    vdir.mkdir(parents=True, exist_ok=True)
    for old in vdir.glob("*.txt"):
        old.unlink()
    pub = {s: load_private_key(KEYS / f"{s}.key").public_key() for s in ("rsa2048", "rsa4096", "rsa4096-b")}
    k = pub["rsa4096"]
    strict = b"default/mysecret"

    def ok(case, comment, plaintext, label=strict, key="rsa4096", scope="strict"):
        ct = seal(pub[key], label, plaintext)
        assert b64enc(ct).startswith("Ag" if key != "rsa2048" else "AQ")
        write_vector(vdir / f"{case}.txt", {
            "comment": comment, "key": key, "scope": scope, "label": label.decode(),
            "expect": "ok", "plaintext-b64": b64enc(plaintext), "ciphertext-b64": b64enc(ct),
        })

    def bad(case, comment, ct, expect, label=strict, key="rsa4096", scope="strict"):
        write_vector(vdir / f"{case}.txt", {
            "comment": comment, "key": key, "scope": scope, "label": label.decode(),
            "expect": expect, "ciphertext-b64": b64enc(ct),
        })

    ok("strict_ascii", "strict scope, ASCII plaintext", b"s3cr3t-password")
    ok("strict_empty", "strict scope, empty plaintext (ciphertext is len||R||tag only)", b"")
    ok("strict_binary", "strict scope, every byte value 0x00..0xff", bytes(range(256)))
    ok("strict_large", "strict scope, 64 KiB plaintext", bytes((i * 7 + 3) % 256 for i in range(65536)))
    ok("strict_unicode", "strict scope, UTF-8 plaintext", "pässwörd ✓ 秘密 🔑".encode())
    ok("namespace_wide", "namespace-wide scope: label is the namespace", b"namespace-wide value",
       label=b"default", scope="namespace-wide")
    ok("cluster_wide", "cluster-wide scope: empty label (same as no label)", b"cluster-wide value",
       label=b"", scope="cluster-wide")
    ok("rsa2048_strict", "RSA-2048 key: len(R)=256, base64 starts AQ", b"sealed with a 2048-bit key",
       key="rsa2048")

    good = seal(k, strict, b"tamper me please")
    assert len(good) == 2 + 512 + 16 + 16
    bad("too_short_empty", "zero bytes", b"", "error:too-short")
    bad("too_short_one_byte", "one byte: not even a length prefix", b"\x02", "error:too-short")
    bad("too_short_truncated_rsa", "prefix says 512 but only 100 bytes in total", good[:100], "error:too-short")

    def flip(buf, i):
        b = bytearray(buf)
        b[i] ^= 0x01
        return bytes(b)

    bad("flipped_tag", "last byte of the GCM tag flipped", flip(good, len(good) - 1), "error:decrypt")
    bad("flipped_rsa_block", "a byte inside the RSA-OAEP block flipped", flip(good, 2 + 100), "error:decrypt")
    bad("flipped_body", "first AES-GCM ciphertext byte flipped", flip(good, 2 + 512), "error:decrypt")
    bad("flipped_prefix", "length prefix changed 512 -> 511 (still long enough, so not too-short)",
        b"\x01\xff" + good[2:], "error:decrypt")
    bad("wrong_label", 'sealed with label "default/a", opened with "default/b"',
        seal(k, b"default/a", b"label-bound"), "error:decrypt", label=b"default/b")
    bad("wrong_scope", "sealed namespace-wide (label default), opened strict (default/mysecret)",
        seal(k, b"default", b"scope-bound"), "error:decrypt")
    bad("wrong_key", "sealed to rsa4096-b, opened with rsa4096",
        seal(pub["rsa4096-b"], strict, b"other key"), "error:decrypt")
    bad("truncated_tag", "last byte of the tag removed", good[:-1], "error:decrypt")


# ---------------------------------------------------------------- input Secrets

_LAST_APPLIED_JSON = (
    '{"apiVersion":"v1","data":{"api-token":"dG9rZW4tMTIzNDU=","password":"czNjcjN0",'
    '"username":"YWRtaW4="},"kind":"Secret","metadata":{"annotations":{},"name":"mysecret",'
    '"namespace":"default"},"type":"Opaque"}'
)

OPAQUE_YAML = f"""\
# A Secret as read back from a cluster: server-set fields and the
# last-applied annotation must be stripped from the sealed template.
apiVersion: v1
kind: Secret
metadata:
  name: mysecret
  namespace: default
  labels:
    app.kubernetes.io/name: demo
    tier: backend
  annotations:
    example.com/owner: team-a
    kubectl.kubernetes.io/last-applied-configuration: |
      {_LAST_APPLIED_JSON}
    kubecfg.ksonnet.io/last-applied-configuration: '{{"kind":"Secret"}}'
  uid: 0d6f2c3e-8a4b-4f7e-9c1d-2b3a4c5d6e7f
  resourceVersion: "123456"
  generation: 1
  creationTimestamp: "2024-05-01T12:00:00Z"
  selfLink: /api/v1/namespaces/default/secrets/mysecret
  ownerReferences:
    - apiVersion: apps/v1
      kind: Deployment
      name: demo
      uid: 11111111-2222-3333-4444-555555555555
  managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:data:
          .: {{}}
          f:password: {{}}
      manager: kubectl-client-side-apply
      operation: Update
      time: "2024-05-01T12:00:00Z"
type: Opaque
data:
  username: YWRtaW4=
  password: czNjcjN0
  api-token: dG9rZW4tMTIzNDU=
"""

_DOCKERCONFIG = (
    '{"auths":{"registry.example.com":{"username":"robot","password":"hunter2",'
    '"auth":"cm9ib3Q6aHVudGVyMg=="}}}'
)

DOCKERCONFIG_YAML = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: regcred
  namespace: default
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: {b64enc(_DOCKERCONFIG.encode())}
"""

_NUL, _FF, _MIXED = b64enc(bytes([0])), b64enc(bytes([0xFF])), b64enc(b"a" + bytes([0]) + b"b" + bytes([0xFF, 0x63, 0x80, 0x0A]))
_ALL = b64enc(bytes(range(256)))

BINARY_YAML = f"""\
# Binary values: a NUL byte, a 0xff byte and every byte value.
apiVersion: v1
kind: Secret
metadata:
  name: binary
  namespace: default
type: Opaque
data:
  nul: {_NUL}
  ff: {_FF}
  mixed: {_MIXED}
  all-bytes: {_ALL}
"""

STRINGDATA_YAML = f"""\
# stringData values are sealed as UTF-8 and win over data for the same key.
apiVersion: v1
kind: Secret
metadata:
  name: stringdata
  namespace: default
type: Opaque
data:
  username: {b64enc(b"from-data")}
  shared: {b64enc(b"data-loses")}
stringData:
  shared: stringdata-wins
  greeting: "héllo wörld ✓"
"""

EMPTY_YAML = """\
# No data at all: sealing needs --allow-empty-data.
apiVersion: v1
kind: Secret
metadata:
  name: empty
  namespace: default
type: Opaque
"""

NO_NAMESPACE_YAML = """\
# No namespace: strict/namespace-wide take -n, the kubeconfig's or "default";
# cluster-wide keeps it empty.
apiVersion: v1
kind: Secret
metadata:
  name: no-namespace
type: Opaque
data:
  key: dmFsdWU=
"""

MULTI_YAML = """\
# Three Secrets and an empty document (which must be skipped).
apiVersion: v1
kind: Secret
metadata:
  name: first
  namespace: default
data:
  a: MQ==
---
apiVersion: v1
kind: Secret
metadata:
  name: second
  namespace: team-b
type: Opaque
stringData:
  b: two
---
---
apiVersion: v1
kind: Secret
metadata:
  name: third
  namespace: default
type: Opaque
data:
  c: Mw==
"""

LIST_YAML = """\
# A v1 List of two Secrets (kubectl get -o yaml style).
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
  - apiVersion: v1
    kind: Secret
    metadata:
      name: list-one
      namespace: default
    type: Opaque
    data:
      one: MQ==
  - apiVersion: v1
    kind: Secret
    metadata:
      name: list-two
      namespace: default
    type: Opaque
    data:
      two: Mg==
"""

IMMUTABLE_YAML = """\
apiVersion: v1
kind: Secret
metadata:
  name: frozen
  namespace: default
type: Opaque
immutable: true
data:
  key: ZnJvemVu
"""

FIVE_ITEMS_YAML = "".join(
    ["# Five items, for benchmarks.\napiVersion: v1\nkind: Secret\nmetadata:\n  name: five-items\n"
     "  namespace: bench\ntype: Opaque\ndata:\n"]
    + [f"  item-{i}: {b64enc((f'value-{i}-' + 'x' * 48).encode())}\n" for i in range(1, 6)]
)

NOT_A_SECRET_YAML = """\
# Not a Secret: sealing must refuse it.
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-secret
  namespace: default
data:
  key: value
"""

CREDENTIALS_YAML = """\
# Input for the template-data SealedSecrets (see sealed/template-*.json).
apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  namespace: default
type: Opaque
stringData:
  user: admin
  password: s3cr3t
"""

OPAQUE_JSON = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "json-secret",
        "namespace": "default",
        "labels": {"app": "json"},
        "annotations": {"example.com/format": "json"},
    },
    "type": "Opaque",
    "data": {"username": b64enc(b"jsonuser"), "password": b64enc(b"jsonpass")},
}


def _tls_yaml() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_cert(key, "tls.example.com", upstream=False)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return (
        "# A throwaway EC P-256 key and self-signed cert (public fixture, never real).\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls-secret\n  namespace: default\n"
        "type: kubernetes.io/tls\ndata:\n"
        f"  tls.crt: {b64enc(_cert_pem(cert))}\n  tls.key: {b64enc(key_pem)}\n"
    )


def gen_secrets(with_tls: bool) -> None:
    sdir = TESTDATA / "secrets"
    files = {
        "opaque.yaml": OPAQUE_YAML,
        "dockerconfigjson.yaml": DOCKERCONFIG_YAML,
        "binary.yaml": BINARY_YAML,
        "stringdata.yaml": STRINGDATA_YAML,
        "empty.yaml": EMPTY_YAML,
        "no-namespace.yaml": NO_NAMESPACE_YAML,
        "multi.yaml": MULTI_YAML,
        "list.yaml": LIST_YAML,
        "immutable.yaml": IMMUTABLE_YAML,
        "five-items.yaml": FIVE_ITEMS_YAML,
        "not-a-secret.yaml": NOT_A_SECRET_YAML,
        "credentials.yaml": CREDENTIALS_YAML,
        "opaque.json": json.dumps(OPAQUE_JSON, indent=2) + "\n",
    }
    for name, text in files.items():
        _write(sdir / name, text)
    if with_tls or not (sdir / "tls.yaml").exists():
        _write(sdir / "tls.yaml", _tls_yaml())


# ---------------------------------------------------------------- SealedSecrets

# spec.template.data fixtures and the Secret data the controller must produce.
TEMPLATE_INDEX = {"auth": '{{ index . "user" }}:{{ index . "password" }}'}
TEMPLATE_SPRIG = {
    "basic-auth": '{{ printf "%s:%s" .user .password | b64enc }}',
    "config.json": "{{ toJson . }}",
    "user": "{{ .user | upper }}",
}


def _expected_template(values: dict, templates: dict) -> dict:
    """Hand-computed rendering of the two template fixtures (Go text/template + sprig)."""
    out = dict(values)
    rendered = {
        '{{ index . "user" }}:{{ index . "password" }}': f"{values['user']}:{values['password']}",
        '{{ printf "%s:%s" .user .password | b64enc }}':
            b64enc(f"{values['user']}:{values['password']}".encode()),
        "{{ toJson . }}": go_json(sorted_map(values), None),
        "{{ .user | upper }}": values["user"].upper(),
    }
    for item, tpl in templates.items():
        out[item] = rendered[tpl]
    return out


def _write_json(path: Path, obj, go: bool = True) -> None:
    _write(path, (go_json(obj) if go else json.dumps(obj, indent=2, sort_keys=True)) + "\n")


def _expected(items: dict) -> dict:
    return {k: b64enc(v if isinstance(v, bytes) else v.encode()) for k, v in sorted(items.items())}


def _secret_plain(secret: dict) -> dict:
    plain = {k: b64dec_strict(v) for k, v in (secret.get("data") or {}).items()}
    plain.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})
    return plain


def gen_sealed() -> None:
    sdir, odir = TESTDATA / "secrets", TESTDATA / "sealed"
    odir.mkdir(parents=True, exist_ok=True)
    for old in odir.glob("*"):
        old.unlink()
    cert = load_public_key(KEYS / "rsa4096.crt")
    cert_b = load_public_key(KEYS / "rsa4096-b.crt")

    def load(name):
        return read_documents((sdir / name).read_text(encoding="utf-8"))[0]

    def emit(out_name, ss, expected_items):
        _write(odir / f"{out_name}.json", go_json(ss) + "\n")
        if expected_items is not None:
            _write_json(odir / f"{out_name}.expected.json", _expected(expected_items), go=False)

    opaque = load("opaque.yaml")
    for scope in SCOPES:
        emit(f"opaque.{scope}", seal_secret(cert, opaque, scope=scope), _secret_plain(opaque))
    for name in ("dockerconfigjson", "binary", "stringdata", "immutable", "tls"):
        sec = load(f"{name}.yaml")
        emit(name, seal_secret(cert, sec), _secret_plain(sec))
    emit("opaque-json", seal_secret(cert, load("opaque.json")), _secret_plain(load("opaque.json")))

    creds = load("credentials.yaml")
    values = {k: v.decode() for k, v in _secret_plain(creds).items()}
    for out_name, tpls in (("template-data", TEMPLATE_INDEX), ("template-sprig", TEMPLATE_SPRIG)):
        ss = seal_secret(cert, creds)
        ss["spec"]["template"]["data"] = sorted_map(tpls)
        emit(out_name, ss, _expected_template(values, tpls))

    legacy = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "legacy", "namespace": "default"},
        "type": "Opaque",
        "data": {"username": b64enc(b"old-admin"), "password": b64enc(b"old-password")},
    }
    emit("legacy-v1-data", seal_secret_v1(cert, legacy), _secret_plain(legacy))

    emit("multikey-b", seal_secret(cert_b, opaque), _secret_plain(opaque))

    wrong = seal_secret(cert, opaque, scope="strict")
    wrong["metadata"]["annotations"] = {ANN_CLUSTER_WIDE: "true"}
    emit("wrong-scope", wrong, None)
    items = ", ".join(sorted(wrong["spec"]["encryptedData"]))
    _write(odir / "wrong-scope.expected-error.txt", f"no key could decrypt secret ({items})\n")


# ---------------------------------------------------------------- CLI


def _die(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 1


def _cmd_seal(args) -> int:
    pub = load_public_key(args.cert)
    sys.stdout.write(b64enc(seal(pub, args.label.encode(), sys.stdin.buffer.read())))
    return 0


def _cmd_open(args) -> int:
    key = load_private_key(args.key)
    try:
        raw = b64dec_strict(sys.stdin.read())
        plaintext = open_raw(key, args.label.encode(), raw)
    except (OpenError, ValueError) as exc:
        return _die(str(exc))
    sys.stdout.buffer.write(plaintext)
    return 0


def _cmd_seal_secret(args) -> int:
    pub = load_public_key(args.cert)
    try:
        docs = read_documents(sys.stdin.read())
        if not docs:
            return _die("no secrets found. Ensure the input is valid and UTF-8 encoded")
        out = []
        for doc in docs:
            ss = seal_secret(pub, doc, scope=args.scope, namespace=args.namespace, name=args.name,
                             allow_empty_data=args.allow_empty_data,
                             omit_null_timestamp=not args.null_timestamp)
            out.append(go_json(ss) + "\n")
    except ValueError as exc:
        return _die(str(exc))
    sys.stdout.write("".join(out))
    return 0


def _cmd_open_sealed(args) -> int:
    keys = [load_private_key(k) for k in args.key]
    try:
        docs = read_documents(sys.stdin.read())
        if len(docs) != 1:
            return _die(f"expected one SealedSecret document, found {len(docs)}")
        items = open_sealed(keys, docs[0])
    except (OpenError, ValueError) as exc:
        return _die(str(exc))
    sys.stdout.write(json.dumps(_expected(items), indent=2, sort_keys=True) + "\n")
    return 0


def _cmd_regen(args) -> int:
    fresh_keys = args.keys or not (KEYS / "rsa4096.key").exists()
    if fresh_keys:
        gen_keys()
    else:
        gen_key_ids()
    gen_vectors()
    gen_secrets(with_tls=fresh_keys)
    gen_sealed()
    return 0


def _cmd_keyid(args) -> int:
    pub = load_public_key(args.file)
    print(key_id(pub))
    return 0


EPILOG = """\
commands:
  regen [--keys]        rewrite testdata/{vectors,secrets,sealed} (and keys/*.keyid,
                        *.sha256); keys and tls.yaml are regenerated only with --keys
                        or when missing, because they must stay stable once committed.
  seal                  stdin bytes -> stdout standard base64, no newline
  open                  stdin base64 -> stdout plaintext bytes; exit 1 with
                        "error: <msg>" on stderr on failure
  seal-secret           v1 Secret(s) (YAML/JSON, multi-doc, v1 List) on stdin ->
                        SealedSecret JSON exactly as kubeseal prints it (2-space
                        indent, trailing newline, one object per document)
  open-sealed           one SealedSecret (YAML/JSON) on stdin -> JSON {item:
                        base64(plaintext)}; scope from the TOP-LEVEL annotations;
                        each --key is tried in order; v1 spec.data supported
  keyid                 print the upstream key ID (SHA256:<b64>) of a cert or key

examples:
  printf hi | python3 testdata/gen/sealtool.py seal --cert testdata/keys/rsa4096.crt --label default/x
  python3 testdata/gen/sealtool.py seal-secret --cert testdata/keys/rsa4096.crt < testdata/secrets/opaque.yaml
  python3 testdata/gen/sealtool.py open-sealed --key testdata/keys/rsa4096.key < testdata/sealed/opaque.strict.json
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="sealtool.py", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    p = sub.add_parser("regen", help="regenerate the fixtures under testdata/")
    p.add_argument("--keys", action="store_true",
                   help="also regenerate keys, certs and secrets/tls.yaml (changes them: avoid)")
    p.set_defaults(func=_cmd_regen)

    p = sub.add_parser("seal", help="seal stdin bytes to a cert; print base64 (no newline)")
    p.add_argument("--cert", required=True, help="PEM certificate (first one used), public or private key")
    p.add_argument("--label", required=True, help='OAEP label, e.g. "ns/name", "ns" or "" (cluster-wide)')
    p.set_defaults(func=_cmd_seal)

    p = sub.add_parser("open", help="open a base64 sealed value from stdin; print the plaintext")
    p.add_argument("--key", required=True, help="PEM RSA private key (PKCS#1 or PKCS#8)")
    p.add_argument("--label", required=True, help="OAEP label used when sealing")
    p.set_defaults(func=_cmd_open)

    p = sub.add_parser("seal-secret", help="seal v1 Secret(s) from stdin into SealedSecret JSON")
    p.add_argument("--cert", required=True, help="PEM certificate of the sealing key")
    p.add_argument("--scope", choices=SCOPES, default=None,
                   help="sealing scope; if given it replaces any scope annotation of the input "
                        "(default: the input's annotation, else strict)")
    p.add_argument("-n", "--namespace", default=None,
                   help='namespace for inputs without one (default "default"; not used for cluster-wide)')
    p.add_argument("--name", default=None, help="override metadata.name")
    p.add_argument("--allow-empty-data", action="store_true", help="allow Secrets without data/stringData")
    p.add_argument("--null-timestamp", action="store_true",
                   help='write "creationTimestamp": null as kubeseal before 0.36 did (default: '
                        'omit it, as kubeseal 0.36 does)')
    p.set_defaults(func=_cmd_seal_secret)

    p = sub.add_parser("open-sealed", help="open a SealedSecret from stdin; print {item: base64}")
    p.add_argument("--key", required=True, action="append", help="PEM RSA private key; repeat to try several")
    p.set_defaults(func=_cmd_open_sealed)

    p = sub.add_parser("keyid", help="print the upstream key ID of a certificate or key")
    p.add_argument("file")
    p.set_defaults(func=_cmd_keyid)

    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
