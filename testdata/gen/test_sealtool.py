"""Self-test for sealtool.py: round trips per scope, every vector's expectation,
every sealed fixture against its expected data, and the CLI.

Run: python3 -m pytest testdata/gen -q   (or: python3 -m unittest discover -s testdata/gen)
"""

import base64
import json
import struct
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sealtool  # noqa: E402

TD = sealtool.TESTDATA
TOOL = str(Path(sealtool.__file__))


def key(stem):
    return sealtool.load_private_key(TD / "keys" / f"{stem}.key")


def run(args, stdin=b""):
    return subprocess.run([sys.executable, TOOL, *args], input=stdin, capture_output=True)


class RoundTrip(unittest.TestCase):
    def test_each_scope(self):
        k = key("rsa4096")
        pub = sealtool.load_public_key(TD / "keys" / "rsa4096.crt")
        for scope, label in (("strict", b"ns/name"), ("namespace-wide", b"ns"), ("cluster-wide", b"")):
            with self.subTest(scope=scope):
                self.assertEqual(sealtool.label_for(scope, "ns", "name"), label)
                ct = sealtool.seal(pub, label, b"hello " + label)
                self.assertEqual(struct.unpack(">H", ct[:2])[0], 512)
                self.assertTrue(sealtool.b64enc(ct).startswith("Ag"))
                self.assertEqual(sealtool.open_raw(k, label, ct), b"hello " + label)
                with self.assertRaises(sealtool.DecryptError):
                    sealtool.open_raw(k, label + b"x", ct)

    def test_pkcs8_and_rsa2048(self):
        k8 = sealtool.load_private_key(TD / "keys" / "rsa2048.pk8.key")
        ct = sealtool.seal(sealtool.load_public_key(TD / "keys" / "rsa2048.crt"), b"a/b", b"x")
        self.assertTrue(sealtool.b64enc(ct).startswith("AQ"))
        self.assertEqual(sealtool.open_raw(k8, b"a/b", ct), b"x")

    def test_strict_base64(self):
        for bad in ("AgA", "Ag-_", "Ag_A"):
            with self.assertRaises(ValueError):
                sealtool.b64dec_strict(bad)


class Vectors(unittest.TestCase):
    def test_vectors(self):
        files = sorted((TD / "vectors").glob("*.txt"))
        self.assertGreaterEqual(len(files), 19)
        for f in files:
            with self.subTest(vector=f.stem):
                v = sealtool.read_vector(f)
                ct = base64.b64decode(v["ciphertext-b64"], validate=True)
                label = v["label"].encode()
                expect = v["expect"]
                if expect == "ok":
                    pt = sealtool.open_raw(key(v["key"]), label, ct)
                    self.assertEqual(pt, base64.b64decode(v["plaintext-b64"]))
                    self.assertTrue(v["ciphertext-b64"].startswith("AQ" if v["key"] == "rsa2048" else "Ag"))
                else:
                    exc = {"error:decrypt": sealtool.DecryptError, "error:too-short": sealtool.TooShort}[expect]
                    with self.assertRaises(exc):
                        sealtool.open_raw(key(v["key"]), label, ct)


class SealedFixtures(unittest.TestCase):
    def test_expected(self):
        keys = [key("rsa4096-b"), key("rsa4096")]
        for exp in sorted((TD / "sealed").glob("*.expected.json")):
            name = exp.name[: -len(".expected.json")]
            with self.subTest(fixture=name):
                ss = json.loads((TD / "sealed" / f"{name}.json").read_text())
                got = sealtool.open_sealed(keys, ss)
                want = json.loads(exp.read_text())
                templated = set((ss["spec"].get("template") or {}).get("data") or {})
                for item, value in got.items():
                    if item not in templated:
                        self.assertEqual(sealtool.b64enc(value), want[item], item)
                self.assertEqual(set(want), set(got) | templated)

    def test_wrong_scope_fails(self):
        ss = json.loads((TD / "sealed" / "wrong-scope.json").read_text())
        want = (TD / "sealed" / "wrong-scope.expected-error.txt").read_text().strip()
        with self.assertRaises(sealtool.OpenError) as cm:
            sealtool.open_sealed([key("rsa4096")], ss)
        self.assertEqual(str(cm.exception), want)

    def test_multikey_needs_key_b(self):
        ss = json.loads((TD / "sealed" / "multikey-b.json").read_text())
        with self.assertRaises(sealtool.OpenError):
            sealtool.open_sealed([key("rsa4096")], ss)

    def test_template_stripped(self):
        ss = json.loads((TD / "sealed" / "opaque.strict.json").read_text())
        meta = ss["spec"]["template"]["metadata"]
        self.assertEqual(list(ss), ["kind", "apiVersion", "metadata", "spec"])
        self.assertEqual(list(ss["spec"]), ["template", "encryptedData"])
        # The committed fixtures have kubeseal < 0.36's "creationTimestamp": null; kubeseal 0.36
        # (and seal-secret by default) leaves it out. Readers accept both.
        top = {k: v for k, v in ss["metadata"].items() if k != "creationTimestamp"}
        self.assertEqual(top, {"name": "mysecret", "namespace": "default"})
        self.assertIsNone(ss["metadata"].get("creationTimestamp"))
        for gone in ("uid", "resourceVersion", "generation", "selfLink", "ownerReferences", "managedFields"):
            self.assertNotIn(gone, meta)
        self.assertIsNone(meta.get("creationTimestamp"))
        self.assertEqual(meta["annotations"], {"example.com/owner": "team-a"})

    def test_scope_annotations(self):
        for scope, ann in (("namespace-wide", sealtool.ANN_NAMESPACE_WIDE), ("cluster-wide", sealtool.ANN_CLUSTER_WIDE)):
            ss = json.loads((TD / "sealed" / f"opaque.{scope}.json").read_text())
            self.assertEqual(ss["metadata"]["annotations"], {ann: "true"})
            self.assertEqual(ss["spec"]["template"]["metadata"]["annotations"][ann], "true")


class Keys(unittest.TestCase):
    def test_key_ids(self):
        for stem in ("rsa2048", "rsa4096", "rsa4096-b"):
            pub = key(stem).public_key()
            self.assertEqual((TD / "keys" / f"{stem}.keyid").read_text().strip(), sealtool.key_id(pub))
            self.assertEqual((TD / "keys" / f"{stem}.sha256").read_text().strip(), sealtool.spki_sha256(pub))
            self.assertEqual(
                sealtool.load_public_key(TD / "keys" / f"{stem}.crt").public_numbers(), pub.public_numbers()
            )
        pk8 = sealtool.load_private_key(TD / "keys" / "rsa4096.pk8.key")
        self.assertEqual(pk8.private_numbers(), key("rsa4096").private_numbers())
        self.assertTrue((TD / "keys" / "rsa4096.key").read_text().startswith("-----BEGIN RSA PRIVATE KEY-----"))
        self.assertTrue((TD / "keys" / "rsa4096.pk8.key").read_text().startswith("-----BEGIN PRIVATE KEY-----"))

    def test_upstream_cert_profile(self):
        from cryptography import x509

        cert = x509.load_pem_x509_certificate((TD / "keys" / "rsa4096.crt").read_bytes())
        self.assertEqual(cert.subject.rdns, [])
        self.assertEqual(cert.issuer.rdns, [])
        # KeyUsage is written raw (encipherOnly alone, as Go does); check its DER.
        der = cert.tbs_certificate_bytes
        ku = bytes.fromhex("0603551d0f") + bytes.fromhex("0101ff") + bytes.fromhex("0404") + sealtool.KU_ENCIPHER_ONLY_DER
        self.assertIn(ku, der)
        self.assertIn(bytes.fromhex("0603551d130101ff040530030101ff"), der)


class Cli(unittest.TestCase):
    def test_seal_open(self):
        r = run(["seal", "--cert", str(TD / "keys/rsa4096.crt"), "--label", "ns/x"], b"\x00abc\xff")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(r.stdout.endswith(b"\n"))
        o = run(["open", "--key", str(TD / "keys/rsa4096.key"), "--label", "ns/x"], r.stdout)
        self.assertEqual((o.returncode, o.stdout), (0, b"\x00abc\xff"))
        o = run(["open", "--key", str(TD / "keys/rsa4096.key"), "--label", "ns/y"], r.stdout)
        self.assertEqual(o.returncode, 1)
        self.assertIn(b"no key could decrypt secret", o.stderr)

    def test_seal_secret_roundtrip(self):
        for scope in sealtool.SCOPES:
            with self.subTest(scope=scope):
                r = run(["seal-secret", "--cert", str(TD / "keys/rsa4096.crt"), "--scope", scope],
                        (TD / "secrets/stringdata.yaml").read_bytes())
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout.endswith(b"}\n"))
                o = run(["open-sealed", "--key", str(TD / "keys/rsa4096.key")], r.stdout)
                self.assertEqual(o.returncode, 0, o.stderr)
                got = json.loads(o.stdout)
                self.assertEqual(base64.b64decode(got["shared"]), b"stringdata-wins")
                self.assertEqual(base64.b64decode(got["greeting"]), "héllo wörld ✓".encode())

    def test_seal_secret_streams(self):
        cert = str(TD / "keys/rsa4096.crt")
        r = run(["seal-secret", "--cert", cert], (TD / "secrets/multi.yaml").read_bytes())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(sealtool.read_documents(r.stdout.decode())), 3)
        r = run(["seal-secret", "--cert", cert], (TD / "secrets/list.yaml").read_bytes())
        self.assertEqual(len(sealtool.read_documents(r.stdout.decode())), 2)
        r = run(["seal-secret", "--cert", cert], (TD / "secrets/not-a-secret.yaml").read_bytes())
        self.assertEqual(r.returncode, 1)
        r = run(["seal-secret", "--cert", cert], (TD / "secrets/empty.yaml").read_bytes())
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"--allow-empty-data", r.stderr)
        r = run(["seal-secret", "--cert", cert, "--scope", "cluster-wide"], (TD / "secrets/no-namespace.yaml").read_bytes())
        self.assertNotIn("namespace", json.loads(r.stdout)["metadata"])

    def test_go_json_escaping(self):
        self.assertEqual(sealtool.go_json({"a": "<&>\u2028\x01é"}, None), '{"a":"\\u003c\\u0026\\u003e\\u2028\\u0001é"}')


if __name__ == "__main__":
    unittest.main()
