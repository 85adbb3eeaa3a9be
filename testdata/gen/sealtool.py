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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="sealtool.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("regen", help="regenerate fixtures under testdata/")
    r.add_argument("--keys", action="store_true", help="also regenerate keys/certs (changes them!)")
    args = ap.parse_args(argv)
    if args.cmd == "regen":
        if args.keys or not (KEYS / "rsa4096.key").exists():
            gen_keys()
    return 0


if __name__ == "__main__":
    sys.exit(main())
