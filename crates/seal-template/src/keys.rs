//! Sprig's key material: `genPrivateKey`, `genCA*`, `genSelfSignedCert*`,
//! `genSignedCert*` and `buildCustomCert`, producing what Go's `crypto/x509`
//! would: PEM blocks Go's encoders write (PKCS#1 `RSA PRIVATE KEY`, SEC 1
//! `EC PRIVATE KEY`, PKCS#8 `PRIVATE KEY` for Ed25519, OpenSSL's
//! `DSA PRIVATE KEY`) and v3 certificates with Go's profile and extension
//! order. RSA, ECDSA P-256 and Ed25519 come from aws-lc-rs; DSA (which
//! aws-lc-rs does not offer) from the `dsa` crate.

use base64::Engine as _;
use sha1::Digest as _;

/// Go's `pem.EncodeToMemory`.
pub(super) fn pem_encode(kind: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

/// Go's `pem.Decode`: the first block's type and bytes.
pub(super) fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let end_type = rest.find("-----")?;
    let kind = &rest[..end_type];
    if kind.contains('\n') {
        return None;
    }
    let body_start = &rest[end_type + 5..];
    let end_marker = format!("-----END {kind}-----");
    let body_end = body_start.find(&end_marker)?;
    let body: String = body_start[..body_end]
        .lines()
        .filter(|l| !l.contains(':'))
        .collect::<Vec<_>>()
        .concat();
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((kind.to_owned(), der))
}

// ---------- a small DER writer ----------

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(body);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes.
fn uint(mag: &[u8]) -> Vec<u8> {
    let mag: Vec<u8> = mag.iter().copied().skip_while(|&b| b == 0).collect();
    let mut body = Vec::with_capacity(mag.len() + 1);
    if mag.is_empty() || mag[0] & 0x80 != 0 {
        body.push(0);
    }
    body.extend_from_slice(&mag);
    tlv(0x02, &body)
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        tmp.reverse();
        body.extend(tmp);
    };
    push(arcs[0] * 40 + arcs[1]);
    for &a in &arcs[2..] {
        push(a);
    }
    tlv(0x06, &body)
}

fn bit_string(unused: u8, bytes: &[u8]) -> Vec<u8> {
    let mut body = vec![unused];
    body.extend_from_slice(bytes);
    tlv(0x03, &body)
}

fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(0x04, bytes)
}

/// Go's `x509` time encoding: UTCTime for 1950..2049, else GeneralizedTime.
fn der_time(t: &super::gotime::GoTime) -> Vec<u8> {
    let c = t.in_loc(&super::gotime::Loc::Utc).civil();
    if (1950..2050).contains(&c.year) {
        let s = format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            c.year % 100,
            c.month,
            c.day,
            c.hour,
            c.min,
            c.sec
        );
        tlv(0x17, s.as_bytes())
    } else {
        let s = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            c.year, c.month, c.day, c.hour, c.min, c.sec
        );
        tlv(0x18, s.as_bytes())
    }
}

/// A Name with only a CommonName (or empty), as Go's `pkix.Name` marshals it.
fn name_der(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return seq(&[]);
    }
    let printable = cn.bytes().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b' ' | b'\''
                    | b'('
                    | b')'
                    | b'+'
                    | b','
                    | b'-'
                    | b'.'
                    | b'/'
                    | b':'
                    | b'='
                    | b'?'
                    | b'*'
                    | b'&'
            )
    });
    let value = tlv(if printable { 0x13 } else { 0x0c }, cn.as_bytes());
    let atv = seq(&[&oid(&[2, 5, 4, 3]), &value]);
    seq(&[&tlv(0x31, &atv)])
}

fn extension(id: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        seq(&[&oid(id), &tlv(0x01, &[0xff]), &octets(value)])
    } else {
        seq(&[&oid(id), &octets(value)])
    }
}

/// Go's `KeyUsage` BIT STRING: bits reversed per byte, trailing zeros not counted.
fn key_usage(bits: u16) -> Vec<u8> {
    let a0 = (bits as u8).reverse_bits();
    let a1 = ((bits >> 8) as u8).reverse_bits();
    let bytes: Vec<u8> = if a1 != 0 { vec![a0, a1] } else { vec![a0] };
    let last = bytes[bytes.len() - 1];
    let unused = if last == 0 {
        0
    } else {
        last.trailing_zeros() as u8
    };
    bit_string(unused, &bytes)
}

const KU_DIGITAL_SIGNATURE: u16 = 1;
const KU_KEY_ENCIPHERMENT: u16 = 1 << 2;
const KU_CERT_SIGN: u16 = 1 << 5;

/// How many keys one render may generate or import for signing. Each RSA
/// generation costs up to about a second of CPU (4096 bits) and DSA's
/// parameter search more, so this keeps a hostile template to seconds.
pub(super) const MAX_KEYS: usize = 8;

/// What a certificate function built: Sprig's `certificate{Cert, Key}`.
pub(super) struct Built {
    pub cert: String,
    pub key: String,
}

#[cfg(feature = "aws-lc")]
mod imp {
    use super::*;
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
        ECDSA_P521_SHA512_ASN1_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair,
        KeyPair as _, RSA_PKCS1_SHA256,
    };

    /// The curves Go's x509 reads, each with the algorithm Go signs with and its OID arc.
    const CURVES: [(&EcdsaSigningAlgorithm, u64); 3] = [
        (&ECDSA_P256_SHA256_ASN1_SIGNING, 2),
        (&ECDSA_P384_SHA384_ASN1_SIGNING, 3),
        (&ECDSA_P521_SHA512_ASN1_SIGNING, 4),
    ];

    /// A private key of one of the types Sprig handles.
    pub(in super::super) enum Key {
        Rsa(RsaKeyPair),
        /// The key and the last arc of its signature OID (ecdsa-with-SHA256/384/512).
        Ec(EcdsaKeyPair, u64),
        Ed(Ed25519KeyPair),
        Dsa(Box<dsa::SigningKey>),
    }

    fn failed(what: &str) -> String {
        format!("failed to generate private key: {what}")
    }

    /// Generates an RSA key of `bits` bits (Sprig: 2048 for certificates,
    /// 4096 for `genPrivateKey`).
    pub(in super::super) fn rsa(bits: usize) -> Result<Key, String> {
        let size = if bits == 4096 {
            KeySize::Rsa4096
        } else {
            KeySize::Rsa2048
        };
        RsaKeyPair::generate(size)
            .map(Key::Rsa)
            .map_err(|_| "error generating rsa key: key generation failed".to_owned())
    }

    /// `genPrivateKey`'s switch; `Ok(None)` for an unknown type.
    pub(in super::super) fn generate(kind: &str) -> Result<Option<Key>, String> {
        Ok(Some(match kind {
            "" | "rsa" => rsa(4096).map_err(|_| failed("rsa"))?,
            "ecdsa" => Key::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                    .map_err(|_| failed("ecdsa"))?,
                2,
            ),
            "ed25519" => Key::Ed(Ed25519KeyPair::generate().map_err(|_| failed("ed25519"))?),
            "dsa" => {
                let mut rng = rand::rngs::OsRng;
                let params = dsa::Components::generate(&mut rng, dsa::KeySize::DSA_2048_256);
                Key::Dsa(Box::new(dsa::SigningKey::generate(&mut rng, params)))
            }
            _ => return Ok(None),
        }))
    }

    /// Go's `pemBlockForKey` + `pem.EncodeToMemory`.
    pub(in super::super) fn to_pem(key: &Key) -> Result<String, String> {
        let bad = |_| "failed to encode private key".to_owned();
        Ok(match key {
            Key::Rsa(k) => {
                let pkcs8: Pkcs8V1Der<'_> = k.as_der().map_err(bad)?;
                pem_encode(
                    "RSA PRIVATE KEY",
                    &pkcs8_inner(pkcs8.as_ref()).ok_or("bad key")?,
                )
            }
            Key::Ec(k, _) => {
                let der = k.private_key().as_der().map_err(bad)?;
                pem_encode("EC PRIVATE KEY", der.as_ref())
            }
            Key::Ed(k) => {
                let doc: Pkcs8V1Der<'_> = k.as_der().map_err(bad)?;
                pem_encode("PRIVATE KEY", doc.as_ref())
            }
            Key::Dsa(k) => {
                let vk = k.verifying_key();
                let c = vk.components();
                let der = seq(&[
                    &uint(&[0]),
                    &uint(&c.p().to_bytes_be()),
                    &uint(&c.q().to_bytes_be()),
                    &uint(&c.g().to_bytes_be()),
                    &uint(&vk.y().to_bytes_be()),
                    &uint(&k.x().to_bytes_be()),
                ]);
                pem_encode("DSA PRIVATE KEY", &der)
            }
        })
    }

    /// The PKCS#1 body inside an RSA PKCS#8 `PrivateKeyInfo`.
    fn pkcs8_inner(der: &[u8]) -> Option<Vec<u8>> {
        use der::{Decode as _, asn1::OctetString};
        #[derive(der::Sequence)]
        struct Info {
            _version: u8,
            _alg: der::asn1::Any,
            key: OctetString,
        }
        let info = Info::from_der(der).ok()?;
        Some(info.key.as_bytes().to_vec())
    }

    /// Go's `parsePrivateKeyPEM`.
    pub(in super::super) fn parse_pem(text: &str) -> Result<Key, String> {
        let (kind, der) = pem_decode(text).ok_or("no PEM data in input")?;
        if kind == "PRIVATE KEY" {
            if let Ok(k) = RsaKeyPair::from_pkcs8(&der) {
                return Ok(Key::Rsa(k));
            }
            for (alg, arc) in CURVES {
                if let Ok(k) = EcdsaKeyPair::from_pkcs8(alg, &der) {
                    return Ok(Key::Ec(k, arc));
                }
            }
            if let Ok(k) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der) {
                return Ok(Key::Ed(k));
            }
            return Err("decoding PEM as PKCS#8: x509: failed to parse private key".into());
        }
        let Some(prefix) = kind.strip_suffix(" PRIVATE KEY") else {
            return Err(format!("no private key data in PEM block of type {kind}"));
        };
        match prefix {
            "RSA" => RsaKeyPair::from_der(&der).map(Key::Rsa).map_err(|_| {
                "parsing RSA private key from PEM: x509: failed to parse private key".into()
            }),
            "EC" => CURVES
                .iter()
                .find_map(|&(alg, arc)| {
                    EcdsaKeyPair::from_private_key_der(alg, &der)
                        .ok()
                        .map(|k| Key::Ec(k, arc))
                })
                .ok_or_else(|| {
                    "parsing EC private key from PEM: x509: failed to parse EC private key".into()
                }),
            "DSA" => parse_dsa(&der).ok_or_else(|| {
                "parsing DSA private key from PEM: asn1: structure error".to_owned()
            }),
            _ => Err(format!("invalid private key type {kind}")),
        }
    }

    fn parse_dsa(der: &[u8]) -> Option<Key> {
        use der::{Decode as _, asn1::UintRef};
        #[derive(der::Sequence)]
        struct Dsa<'a> {
            _version: u8,
            p: UintRef<'a>,
            q: UintRef<'a>,
            g: UintRef<'a>,
            y: UintRef<'a>,
            x: UintRef<'a>,
        }
        let k = Dsa::from_der(der).ok()?;
        let n = |u: UintRef<'_>| dsa::BigUint::from_bytes_be(u.as_bytes());
        let comps = dsa::Components::from_components(n(k.p), n(k.q), n(k.g)).ok()?;
        let vk = dsa::VerifyingKey::from_components(comps, n(k.y)).ok()?;
        let sk = dsa::SigningKey::from_components(vk, n(k.x)).ok()?;
        Some(Key::Dsa(Box::new(sk)))
    }

    /// The SubjectPublicKeyInfo DER.
    pub(in super::super) fn spki(key: &Key) -> Result<Vec<u8>, String> {
        let bad = |_| "error retrieving public key from signee key".to_owned();
        match key {
            Key::Rsa(k) => {
                let d: PublicKeyX509Der<'_> = k.public_key().as_der().map_err(bad)?;
                Ok(d.as_ref().to_vec())
            }
            Key::Ec(k, _) => {
                let d: PublicKeyX509Der<'_> = k.public_key().as_der().map_err(bad)?;
                Ok(d.as_ref().to_vec())
            }
            Key::Ed(k) => {
                let d: PublicKeyX509Der<'_> = k.public_key().as_der().map_err(bad)?;
                Ok(d.as_ref().to_vec())
            }
            Key::Dsa(_) => Err(
                "error creating certificate: x509: unsupported public key type: *dsa.PublicKey"
                    .into(),
            ),
        }
    }

    /// Signs `tbs` with Go's default algorithm for the key: the
    /// AlgorithmIdentifier DER and the signature.
    pub(in super::super) fn sign(key: &Key, tbs: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
        let bad = |_| "error creating certificate: signing failed".to_owned();
        match key {
            Key::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), tbs, &mut sig)
                    .map_err(bad)?;
                Ok((seq(&[&oid(&[1, 2, 840, 113_549, 1, 1, 11]), &[0x05, 0x00]]), sig))
            }
            Key::Ec(k, arc) => {
                let sig = k.sign(&SystemRandom::new(), tbs).map_err(bad)?;
                Ok((seq(&[&oid(&[1, 2, 840, 10045, 4, 3, *arc])]), sig.as_ref().to_vec()))
            }
            Key::Ed(k) => Ok((seq(&[&oid(&[1, 3, 101, 112])]), k.sign(tbs).as_ref().to_vec())),
            Key::Dsa(_) => Err(
                "error creating certificate: x509: certificate private key does not implement crypto.Signer"
                    .into(),
            ),
        }
    }
}

#[cfg(not(feature = "aws-lc"))]
mod imp {
    /// Key material needs the default (aws-lc) build.
    pub(in super::super) enum Key {}

    const UNAVAILABLE: &str = "key generation needs seal's default (aws-lc) build";

    pub(in super::super) fn rsa(_bits: usize) -> Result<Key, String> {
        Err(UNAVAILABLE.into())
    }
    pub(in super::super) fn generate(_kind: &str) -> Result<Option<Key>, String> {
        Err(UNAVAILABLE.into())
    }
    pub(in super::super) fn to_pem(key: &Key) -> Result<String, String> {
        match *key {}
    }
    pub(in super::super) fn parse_pem(_text: &str) -> Result<Key, String> {
        Err(UNAVAILABLE.into())
    }
    pub(in super::super) fn spki(key: &Key) -> Result<Vec<u8>, String> {
        match *key {}
    }
    pub(in super::super) fn sign(key: &Key, _tbs: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
        match *key {}
    }
}

pub(super) use imp::{Key, generate, parse_pem, rsa, to_pem};

/// What a certificate is for.
pub(super) struct CertSpec<'a> {
    pub cn: &'a str,
    pub ips: Vec<std::net::IpAddr>,
    pub dns: Vec<String>,
    pub days: i64,
    pub is_ca: bool,
}

/// The signer: the issuer's subject DER, subject key ID and key; `None`
/// for self-signed.
pub(super) struct Signer<'a> {
    pub subject: Vec<u8>,
    pub key_id: Option<Vec<u8>>,
    pub key: &'a Key,
}

/// Go's `x509.CreateCertificate` with Sprig's template, PEM-encoded, and
/// the signee key's PEM.
pub(super) fn create(
    spec: &CertSpec<'_>,
    key: &Key,
    signer: Option<&Signer<'_>>,
) -> Result<Built, String> {
    // Go checks that the signing key can sign before looking at the public key.
    imp::sign(signer.map_or(key, |s| s.key), b"")?;
    let spki = imp::spki(key)?;
    let subject = name_der(spec.cn);
    let (issuer, signing_key, parent_kid) = match signer {
        Some(s) => (s.subject.clone(), s.key, s.key_id.clone()),
        None => (subject.clone(), key, None),
    };
    let serial: [u8; 16] = rand::random();
    let now = super::gotime::GoTime::now();
    let not_after = now.add(
        spec.days
            .saturating_mul(24 * 3600)
            .saturating_mul(super::gotime::SECOND),
    );
    // The public key bits, for the subject key identifier.
    let key_bits = spki_bits(&spki).ok_or("error creating certificate: bad public key")?;
    let mut exts: Vec<Vec<u8>> = Vec::new();
    let mut ku = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
    if spec.is_ca {
        ku |= KU_CERT_SIGN;
    }
    exts.push(extension(&[2, 5, 29, 15], true, &key_usage(ku)));
    exts.push(extension(
        &[2, 5, 29, 37],
        false,
        &seq(&[
            &oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1]),
            &oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2]),
        ]),
    ));
    let bc = if spec.is_ca {
        seq(&[&tlv(0x01, &[0xff])])
    } else {
        seq(&[])
    };
    exts.push(extension(&[2, 5, 29, 19], true, &bc));
    if spec.is_ca {
        let kid = sha1::Sha1::digest(&key_bits);
        exts.push(extension(&[2, 5, 29, 14], false, &octets(&kid)));
    }
    if let Some(kid) = parent_kid.filter(|_| issuer != subject) {
        exts.push(extension(&[2, 5, 29, 35], false, &seq(&[&tlv(0x80, &kid)])));
    }
    if !spec.dns.is_empty() || !spec.ips.is_empty() {
        let mut names = Vec::new();
        for d in &spec.dns {
            names.extend(tlv(0x82, d.as_bytes()));
        }
        for ip in &spec.ips {
            let bytes = match ip {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or_else(|| v6.octets().to_vec(), |v4| v4.octets().to_vec()),
            };
            names.extend(tlv(0x87, &bytes));
        }
        exts.push(extension(
            &[2, 5, 29, 17],
            spec.cn.is_empty(),
            &tlv(0x30, &names),
        ));
    }
    let (alg, _) = imp::sign(signing_key, b"")?;
    let tbs = seq(&[
        &tlv(0xa0, &uint(&[2])),
        &uint(&serial),
        &alg,
        &issuer,
        &seq(&[&der_time(&now), &der_time(&not_after)]),
        &subject,
        &spki,
        &tlv(
            0xa3,
            &seq(&exts.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        ),
    ]);
    let (alg, sig) = imp::sign(signing_key, &tbs)?;
    let cert = seq(&[&tbs, &alg, &bit_string(0, &sig)]);
    Ok(Built {
        cert: pem_encode("CERTIFICATE", &cert),
        key: to_pem(key)?,
    })
}

/// The BIT STRING contents of a SubjectPublicKeyInfo.
fn spki_bits(spki: &[u8]) -> Option<Vec<u8>> {
    use der::Decode as _;
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki).ok()?;
    Some(info.subject_public_key.raw_bytes().to_vec())
}

/// What `genSignedCert` reads from the CA: its subject and subject key ID.
pub(super) fn ca_parts(cert_pem: &str) -> Result<(Vec<u8>, Option<Vec<u8>>), String> {
    use der::{Decode as _, Encode as _};
    let (_, der) = pem_decode(cert_pem).ok_or("unable to decode certificate")?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|_| {
        "error parsing certificate: decodedSignerCert.Bytes: x509: malformed certificate".to_owned()
    })?;
    let subject = cert.tbs_certificate.subject.to_der().map_err(|_| {
        "error parsing certificate: decodedSignerCert.Bytes: x509: malformed certificate".to_owned()
    })?;
    let ski_oid = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.14");
    let kid = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ski_oid)
        .and_then(|e| der::asn1::OctetString::from_der(e.extn_value.as_bytes()).ok())
        .map(|o| o.as_bytes().to_vec());
    Ok((subject, kid))
}

/// Checks that `pem` holds a parseable certificate (`buildCustomCert`).
pub(super) fn check_cert(cert_pem: &[u8]) -> Result<(), String> {
    use der::Decode as _;
    let text = String::from_utf8_lossy(cert_pem);
    let (_, der) = pem_decode(&text).ok_or("unable to decode certificate")?;
    x509_cert::Certificate::from_der(&der)
        .map(|_| ())
        .map_err(|_| {
            "error parsing certificate: decodedCert.Bytes: x509: malformed certificate".to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_bits_are_encoded_as_go_does() {
        assert_eq!(
            key_usage(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT),
            [3, 2, 5, 0xa0]
        );
        assert_eq!(
            key_usage(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_CERT_SIGN),
            [3, 2, 2, 0xa4]
        );
    }

    #[test]
    fn pem_round_trips() {
        let pem = pem_encode("TEST", &[1u8; 100]);
        assert!(pem.starts_with("-----BEGIN TEST-----\n"));
        assert_eq!(pem.lines().nth(1).map(str::len), Some(64));
        assert_eq!(pem_decode(&pem), Some(("TEST".into(), vec![1u8; 100])));
    }
}
