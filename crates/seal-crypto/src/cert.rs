//! X.509 certificates: parsing what the controller serves and building its self-signed ones.

use std::fmt;
use std::time::{Duration, SystemTime};

use der::asn1::{Any, BitString, GeneralizedTime, OctetString, SetOfVec, UtcTime};
use der::{DateTime, Decode as _, Encode as _, Tag, Tagged as _};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{TbsCertificate, Version};
use zeroize::Zeroizing;

use crate::backend::active;
use crate::keys::hex;
use crate::{Error, MlKemPublicKey, PrivateKey, PublicKey, Result, pem};

/// `sha256WithRSAEncryption` (RFC 8017 A.2.4).
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// `id-at-commonName` (RFC 5280).
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// `id-ce-keyUsage`.
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// `id-ce-basicConstraints`.
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// The non-critical extension that carries a key's ML-KEM-768 encapsulation key in its
/// certificate: its value is the DER `SubjectPublicKeyInfo` of the ML-KEM key
/// (`id-alg-ml-kem-768`, no parameters, the raw 1184-byte key), covered by the certificate's
/// RSA self-signature. A PEN-form arc, because Go's and our ASN.1 parsers cannot read the
/// 128-bit arcs of `2.25` UUID OIDs (see docs/pq.md).
pub const PQ_KEY_EXTENSION_OID: &str = "1.3.6.1.4.1.4267381.1.1";
const PQ_KEY_EXTENSION: ObjectIdentifier = ObjectIdentifier::new_unwrap(PQ_KEY_EXTENSION_OID);
/// `id-alg-ml-kem-768` (NIST CSOR, FIPS 203).
const ID_ALG_ML_KEM_768: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.4.2");

/// The key Secret data key that holds a key's ML-KEM-768 seed (64 raw bytes, `d ‖ z`), next
/// to upstream's `tls.key` and `tls.crt`. Upstream ignores it.
pub const MLKEM_SEED_DATA_KEY: &str = "mlkem768.seed";

/// What [`Certificate::self_signed`] puts in a certificate.
#[derive(Clone, Debug)]
pub struct CertParams {
    /// Subject and issuer common name. Empty means an empty DN, as upstream's default.
    pub common_name: String,
    /// Start of validity (upstream: now).
    pub not_before: SystemTime,
    /// Length of validity (upstream: `--key-ttl`, 10 years).
    pub validity: Duration,
}

/// A parsed X.509 certificate with an RSA key.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    cert: x509_cert::Certificate,
    public_key: PublicKey,
}

/// Certificates are equal when their DER encodings are.
impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("common_name", &self.common_name())
            .field("serial", &self.serial_hex())
            .field("not_before", &self.not_before())
            .field("not_after", &self.not_after())
            .field("public_key", &self.public_key)
            .finish()
    }
}

impl Certificate {
    /// Parses the first `CERTIFICATE` block of a PEM file, skipping any other blocks.
    ///
    /// # Errors
    ///
    /// [`Error::BadPem`] if there is no such block, [`Error::NotRsa`] if the certificate's key
    /// is not RSA, [`Error::BadCertificate`] if it does not parse.
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let block = pem::first(pem, &["CERTIFICATE"]).ok_or(NO_CERT_BLOCK)?;
        Self::from_der(&block.decode().ok_or(BAD_CERT_BASE64)?)
    }

    /// Parses every `CERTIFICATE` block of a PEM file, in order.
    ///
    /// # Errors
    ///
    /// As [`Certificate::from_pem`], for the first failing block.
    pub fn all_from_pem(pem: &[u8]) -> Result<Vec<Self>> {
        let certs = pem::blocks(pem)
            .filter(|b| b.label == "CERTIFICATE")
            .map(|b| Self::from_der(&b.decode().ok_or(BAD_CERT_BASE64)?))
            .collect::<Result<Vec<_>>>()?;
        if certs.is_empty() {
            return Err(NO_CERT_BLOCK);
        }
        Ok(certs)
    }

    /// Parses a DER certificate.
    ///
    /// # Errors
    ///
    /// [`Error::BadCertificate`] if it does not parse, [`Error::NotRsa`] if its key is not RSA.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| Error::bad_cert_from("not a DER X.509 certificate", e))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| Error::bad_cert_from("failed to re-encode its public key", e))?;
        let public_key = PublicKey::from_spki_der(&spki)?;
        Ok(Self {
            der: der.to_vec(),
            cert,
            public_key,
        })
    }

    /// The certificate as a `CERTIFICATE` PEM block (LF line endings, 64 columns).
    pub fn to_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.der)
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate's RSA public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Start of validity.
    pub fn not_before(&self) -> SystemTime {
        self.cert
            .tbs_certificate
            .validity
            .not_before
            .to_system_time()
    }

    /// End of validity.
    pub fn not_after(&self) -> SystemTime {
        self.cert
            .tbs_certificate
            .validity
            .not_after
            .to_system_time()
    }

    /// The subject's common name (the last one, as Go reads it), or `None` if it has none
    /// (upstream's default certificate has an empty subject).
    pub fn common_name(&self) -> Option<String> {
        self.cert
            .tbs_certificate
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .filter(|atv| atv.oid == COMMON_NAME)
            .filter_map(|atv| directory_string(&atv.value))
            .next_back()
    }

    /// The serial number as lowercase hex without leading zeros (like Go's `SerialNumber.Text(16)`).
    pub fn serial_hex(&self) -> String {
        let bytes = self.cert.tbs_certificate.serial_number.as_bytes();
        let hex = hex(bytes);
        let trimmed = hex.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        }
    }

    /// Checks that the certificate has not expired at `now`, as kubeseal does before sealing.
    ///
    /// # Errors
    ///
    /// [`Error::Expired`] when `now` is after NotAfter; it displays as upstream's
    /// `failed to encrypt using an expired certificate on January 1, 2021`.
    pub fn ensure_not_expired(&self, now: SystemTime) -> Result<()> {
        let not_after = self.not_after();
        if now > not_after {
            return Err(Error::Expired { not_after });
        }
        Ok(())
    }

    /// Builds and signs a self-signed certificate for `key`, with upstream's profile: v3, a
    /// random 128-bit positive serial, sha256WithRSAEncryption, Subject = Issuer =
    /// `CN=<common_name>` (the empty DN when `common_name` is empty), validity
    /// `[not_before, not_before + validity]`, and two critical extensions: KeyUsage with only
    /// encipherOnly, and BasicConstraints CA:TRUE.
    ///
    /// # Errors
    ///
    /// [`Error::BadCertificate`] if a field cannot be encoded (a time outside 1970–9999),
    /// [`Error::Sign`] if signing fails.
    pub fn self_signed(key: &PrivateKey, params: &CertParams) -> Result<Self> {
        let name = if params.common_name.is_empty() {
            RdnSequence(Vec::new())
        } else {
            common_name_dn(&params.common_name)?
        };
        let not_after = params
            .not_before
            .checked_add(params.validity)
            .ok_or_else(|| Error::bad_cert("the validity period overflows"))?;
        let algorithm = AlgorithmIdentifierOwned {
            oid: SHA256_WITH_RSA,
            parameters: Some(Any::null()),
        };
        let mut extensions = vec![
            extension(KEY_USAGE, &KeyUsage(KeyUsages::EncipherOnly.into()))?,
            extension(
                BASIC_CONSTRAINTS,
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: None,
                },
            )?,
        ];
        if let Some(pq) = key.mlkem_public_key() {
            let spki = SubjectPublicKeyInfoOwned {
                algorithm: AlgorithmIdentifierOwned {
                    oid: ID_ALG_ML_KEM_768,
                    parameters: None,
                },
                subject_public_key: BitString::from_bytes(pq.as_bytes())
                    .map_err(|e| Error::bad_cert_from("failed to encode the ML-KEM key", e))?,
            };
            let mut ext = extension(PQ_KEY_EXTENSION, &spki)?;
            ext.critical = false;
            extensions.push(ext);
        }
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: random_serial()?,
            signature: algorithm.clone(),
            issuer: name.clone(),
            validity: Validity {
                not_before: x509_time(params.not_before)?,
                not_after: x509_time(not_after)?,
            },
            subject: name,
            subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(key.public().spki_der())
                .map_err(|e| {
                Error::bad_cert_from("failed to encode the public key", e)
            })?,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        let tbs_der = tbs
            .to_der()
            .map_err(|e| Error::bad_cert_from("failed to encode the certificate", e))?;
        let signature = active::sign_pkcs1_sha256(key.pkcs1_der(), &tbs_der)?;
        let cert = x509_cert::Certificate {
            tbs_certificate: tbs,
            signature_algorithm: algorithm,
            signature: BitString::from_bytes(&signature)
                .map_err(|e| Error::bad_cert_from("failed to encode the signature", e))?,
        };
        let der = cert
            .to_der()
            .map_err(|e| Error::bad_cert_from("failed to encode the certificate", e))?;
        Self::from_der(&der)
    }

    /// The ML-KEM-768 encapsulation key from the certificate's [`PQ_KEY_EXTENSION_OID`]
    /// extension, after checking the RSA self-signature that covers it; `None` when the
    /// certificate has no such extension (an upstream or a classical-only key).
    ///
    /// # Errors
    ///
    /// [`Error::BadCertificate`] when the extension is present but the certificate is not
    /// validly self-signed with sha256WithRSAEncryption, or the extension is malformed.
    pub fn mlkem_public_key(&self) -> Result<Option<MlKemPublicKey>> {
        let tbs = &self.cert.tbs_certificate;
        let mut found = tbs
            .extensions
            .iter()
            .flatten()
            .filter(|ext| ext.extn_id == PQ_KEY_EXTENSION);
        let Some(ext) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(Error::bad_cert("it has two ML-KEM key extensions"));
        }
        if self.cert.signature_algorithm.oid != SHA256_WITH_RSA
            || tbs.signature.oid != SHA256_WITH_RSA
        {
            return Err(Error::bad_cert(
                "its ML-KEM key is not covered by a sha256WithRSAEncryption self-signature",
            ));
        }
        let tbs_der = tbs
            .to_der()
            .map_err(|e| Error::bad_cert_from("failed to re-encode the signed part", e))?;
        let signature = self
            .cert
            .signature
            .as_bytes()
            .ok_or_else(|| Error::bad_cert("the signature is not a whole number of bytes"))?;
        if !active::verify_pkcs1_sha256(&self.public_key, &tbs_der, signature) {
            return Err(Error::bad_cert(
                "its RSA self-signature does not verify, so its ML-KEM key cannot be trusted",
            ));
        }
        let spki = SubjectPublicKeyInfoOwned::from_der(ext.extn_value.as_bytes())
            .map_err(|e| Error::bad_cert_from("the ML-KEM key extension is malformed", e))?;
        if spki.algorithm.oid != ID_ALG_ML_KEM_768 || spki.algorithm.parameters.is_some() {
            return Err(Error::bad_cert(
                "the ML-KEM key extension does not hold an ML-KEM-768 key",
            ));
        }
        let bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::bad_cert("the ML-KEM key is not a whole number of bytes"))?;
        MlKemPublicKey::from_bytes(bytes)
            .map(Some)
            .map_err(|e| Error::bad_cert_from("the ML-KEM key in the certificate is invalid", e))
    }

    /// The signed part, for signature checks in tests.
    #[cfg(test)]
    pub(crate) fn tbs_der(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate
            .to_der()
            .expect("it was decoded from DER")
    }

    /// The raw signature, for signature checks in tests.
    #[cfg(test)]
    pub(crate) fn signature(&self) -> &[u8] {
        self.cert.signature.raw_bytes()
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &x509_cert::Certificate {
        &self.cert
    }
}

const NO_CERT_BLOCK: Error = Error::BadPem {
    expected: "CERTIFICATE",
    problem: "no such block",
};
const BAD_CERT_BASE64: Error = Error::BadPem {
    expected: "CERTIFICATE",
    problem: "invalid base64",
};

/// The key Secret's data: `tls.key` (PKCS#1 PEM, secret) and `tls.crt` (certificate PEM), as
/// upstream writes them (SPEC §7).
pub fn key_secret_data(key: &PrivateKey, cert: &Certificate) -> (Zeroizing<String>, String) {
    (key.to_pkcs1_pem(), cert.to_pem())
}

/// A 128-bit random positive serial, like Go's `rand.Int(rand.Reader, 1<<128)` (but never 0).
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    while bytes == [0u8; 16] {
        active::fill_random(&mut bytes);
    }
    // `SerialNumber::new` strips leading zeros and adds a 0x00 before a set high bit.
    SerialNumber::new(&bytes).map_err(|e| Error::bad_cert_from("failed to encode the serial", e))
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
fn x509_time(time: SystemTime) -> Result<Time> {
    let date = DateTime::from_system_time(time)
        .map_err(|e| Error::bad_cert_from("a validity time is outside 1970-9999", e))?;
    if date.year() < 2050 {
        UtcTime::from_date_time(date)
            .map(Time::UtcTime)
            .map_err(|e| Error::bad_cert_from("failed to encode a validity time", e))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(date)))
    }
}

/// `CN=<cn>`, as PrintableString when it fits that alphabet and UTF8String otherwise, as Go does.
fn common_name_dn(cn: &str) -> Result<Name> {
    let printable = cn
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    let tag = if printable {
        Tag::PrintableString
    } else {
        Tag::Utf8String
    };
    let value = Any::new(tag, cn.as_bytes())
        .map_err(|e| Error::bad_cert_from("failed to encode the common name", e))?;
    let rdn = SetOfVec::try_from(vec![AttributeTypeAndValue {
        oid: COMMON_NAME,
        value,
    }])
    .map_err(|e| Error::bad_cert_from("failed to encode the common name", e))?;
    Ok(RdnSequence(vec![RelativeDistinguishedName(rdn)]))
}

fn extension(oid: ObjectIdentifier, value: &impl der::Encode) -> Result<Extension> {
    let der = value
        .to_der()
        .map_err(|e| Error::bad_cert_from("failed to encode an extension", e))?;
    Ok(Extension {
        extn_id: oid,
        critical: true,
        extn_value: OctetString::new(der)
            .map_err(|e| Error::bad_cert_from("failed to encode an extension", e))?,
    })
}

/// A DirectoryString's text, for the string types names use in practice.
fn directory_string(value: &Any) -> Option<String> {
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::TeletexString
        | Tag::VisibleString => String::from_utf8(value.value().to_vec()).ok(),
        Tag::BmpString => {
            let units: Vec<u16> = value
                .value()
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Go's `t.UTC().Format("January 2, 2006")`.
pub(crate) fn go_date(time: &SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match DateTime::from_system_time(*time) {
        Ok(date) => format!(
            "{} {}, {}",
            MONTHS[usize::from(date.month() - 1)],
            date.day(),
            date.year()
        ),
        Err(_) => format!("{time:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::test_support::{cert, key, read};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// 2025-01-01T00:00:00Z.
    const JAN_1_2025: u64 = 1_735_689_600;

    #[test]
    fn fixture_certificates_parse_with_empty_or_named_subjects() {
        let empty = cert("rsa4096");
        assert_eq!(empty.common_name(), None);
        assert!(empty.inner().tbs_certificate.subject.0.is_empty());
        assert_eq!(empty.not_before(), at(JAN_1_2025));
        assert_eq!(*empty.public_key(), key("rsa4096").public_key());
        let named = cert("rsa2048");
        assert_eq!(named.common_name().as_deref(), Some("sealed-secret"));
        assert_eq!(*named.public_key(), key("rsa2048").public_key());
        assert_ne!(empty.serial_hex(), named.serial_hex());
        assert!(format!("{named:?}").contains("sealed-secret"));
    }

    #[test]
    fn expired_certificates_say_when_as_upstream_does() {
        let expired = cert("expired");
        let err = expired
            .ensure_not_expired(SystemTime::now())
            .expect_err("expired");
        assert!(matches!(err, Error::Expired { .. }));
        assert_eq!(
            err.to_string(),
            "failed to encrypt using an expired certificate on January 1, 2021"
        );
        // 2020-06-01 was inside its validity.
        assert!(expired.ensure_not_expired(at(1_590_969_600)).is_ok());
        assert!(
            cert("rsa4096")
                .ensure_not_expired(SystemTime::now())
                .is_ok()
        );
    }

    #[test]
    fn go_dates_have_no_padding() {
        assert_eq!(go_date(&at(JAN_1_2025)), "January 1, 2025");
        // 2021-12-25T23:59:59Z.
        assert_eq!(go_date(&at(1_640_476_799)), "December 25, 2021");
    }

    #[test]
    fn non_rsa_certificates_are_refused() {
        assert!(matches!(
            Certificate::from_pem(read("ec.crt").as_bytes()),
            Err(Error::NotRsa)
        ));
    }

    #[test]
    fn input_without_a_certificate_is_bad_pem() {
        for input in [String::new(), "junk".to_owned(), read("rsa2048.key")] {
            assert!(matches!(
                Certificate::from_pem(input.as_bytes()),
                Err(Error::BadPem { .. })
            ));
            assert!(matches!(
                Certificate::all_from_pem(input.as_bytes()),
                Err(Error::BadPem { .. })
            ));
        }
        assert!(matches!(
            Certificate::from_der(b"\x30\x03\x02\x01\x00"),
            Err(Error::BadCertificate { .. })
        ));
    }

    #[test]
    fn the_first_certificate_is_taken_and_others_skipped() {
        let bundle = format!(
            "{}{}{}",
            read("rsa2048.key"),
            read("rsa4096.crt"),
            read("rsa2048.crt")
        );
        let first = Certificate::from_pem(bundle.as_bytes()).expect("parses");
        assert_eq!(first.public_key().bits(), 4096);
        let all = Certificate::all_from_pem(bundle.as_bytes()).expect("parses");
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].public_key().bits(), 2048);
    }

    fn hybrid_cert() -> (PrivateKey, Certificate) {
        let key = key("rsa2048").with_mlkem_seed(&[3u8; 64]).expect("seed");
        let params = CertParams {
            common_name: String::new(),
            not_before: UNIX_EPOCH + Duration::from_secs(1_750_000_000),
            validity: Duration::from_secs(3600),
        };
        let cert = Certificate::self_signed(&key, &params).expect("signs");
        (key, cert)
    }

    #[test]
    fn a_hybrid_key_certificate_carries_its_mlkem_key_in_a_non_critical_extension() {
        let (key, cert) = hybrid_cert();
        check_upstream_profile(&cert);
        verify(&cert);
        let (critical, value) = extension_value(&cert, PQ_KEY_EXTENSION);
        assert!(!critical, "upstream kubeseal must be able to ignore it");
        let spki = SubjectPublicKeyInfoOwned::from_der(value).expect("an SPKI");
        assert_eq!(spki.algorithm.oid, ID_ALG_ML_KEM_768);
        let pq = cert.mlkem_public_key().expect("verifies").expect("present");
        assert_eq!(Some(&pq), key.mlkem_public_key());
        let again = Certificate::from_pem(cert.to_pem().as_bytes()).expect("parses");
        assert_eq!(again.mlkem_public_key().expect("verifies"), Some(pq));
    }

    #[cfg(all(feature = "aws-lc", feature = "pure-rust"))]
    #[test]
    fn both_backends_verify_the_self_signature_and_refuse_a_bad_one() {
        use crate::backend::{aws, rust};
        let (_, cert) = hybrid_cert();
        let (tbs, sig) = (cert.tbs_der(), cert.signature().to_vec());
        let mut bad = sig.clone();
        bad[10] ^= 1;
        for verify in [aws::verify_pkcs1_sha256, rust::verify_pkcs1_sha256] {
            assert!(verify(cert.public_key(), &tbs, &sig));
            assert!(!verify(cert.public_key(), &tbs, &bad));
            assert!(!verify(cert.public_key(), b"other", &sig));
        }
    }

    #[test]
    fn classical_certificates_have_no_mlkem_key() {
        for stem in ["rsa2048", "rsa4096", "rsa4096-b"] {
            assert_eq!(cert(stem).mlkem_public_key().expect("no extension"), None);
        }
    }

    #[test]
    fn an_mlkem_key_not_covered_by_a_valid_self_signature_is_refused() {
        let (_, cert) = hybrid_cert();
        let der = cert.der().to_vec();
        // Flip one byte inside the ML-KEM key: the certificate still parses, the signature fails.
        let (_, value) = extension_value(&cert, PQ_KEY_EXTENSION);
        let at = der
            .windows(value.len())
            .position(|w| w == value)
            .expect("the extension value is in the DER")
            + value.len()
            - 10;
        let mut tampered = der.clone();
        tampered[at] ^= 0x01;
        let tampered = Certificate::from_der(&tampered).expect("still parses");
        let err = tampered.mlkem_public_key().expect_err("refused");
        assert!(err.to_string().contains("self-signature"), "{err}");
        // Signed by another key: the same.
        let mut resigned = cert.inner().clone();
        let other = key("rsa4096");
        let tbs = resigned.tbs_certificate.to_der().expect("encodes");
        let signature = active::sign_pkcs1_sha256(other.pkcs1_der(), &tbs).expect("signs");
        resigned.signature = BitString::from_bytes(&signature).expect("bits");
        let resigned = Certificate::from_der(&resigned.to_der().expect("encodes")).expect("parses");
        assert!(resigned.mlkem_public_key().is_err());
    }

    #[test]
    fn pem_round_trips_byte_for_byte() {
        for stem in ["rsa2048", "rsa4096", "rsa4096-b", "expired"] {
            let original = read(&format!("{stem}.crt"));
            let parsed = Certificate::from_pem(original.as_bytes()).expect("parses");
            assert_eq!(parsed.to_pem(), original);
            assert_eq!(
                Certificate::from_der(parsed.der()).expect("parses").der(),
                parsed.der()
            );
        }
    }

    fn extension_value(cert: &Certificate, oid: ObjectIdentifier) -> (bool, &[u8]) {
        let ext = cert
            .inner()
            .tbs_certificate
            .extensions
            .as_ref()
            .and_then(|exts| exts.iter().find(|e| e.extn_id == oid))
            .expect("extension present");
        (ext.critical, ext.extn_value.as_bytes())
    }

    fn check_upstream_profile(cert: &Certificate) {
        let tbs = &cert.inner().tbs_certificate;
        assert_eq!(tbs.version, Version::V3);
        assert_eq!(tbs.subject, tbs.issuer);
        assert_eq!(tbs.signature.oid, SHA256_WITH_RSA);
        assert_eq!(cert.inner().signature_algorithm.oid, SHA256_WITH_RSA);
        let (critical, key_usage) = extension_value(cert, KEY_USAGE);
        assert!(critical);
        assert_eq!(key_usage, [0x03, 0x02, 0x00, 0x01], "encipherOnly alone");
        let (critical, basic) = extension_value(cert, BASIC_CONSTRAINTS);
        assert!(critical);
        assert_eq!(basic, [0x30, 0x03, 0x01, 0x01, 0xff], "CA:TRUE");
    }

    #[test]
    fn fixture_certificates_have_the_upstream_profile() {
        check_upstream_profile(&cert("rsa4096"));
        check_upstream_profile(&cert("rsa2048"));
    }

    fn verify(cert: &Certificate) {
        let tbs = cert.tbs_der();
        let spki = SubjectPublicKeyInfoOwned::from_der(cert.public_key().spki_der()).expect("DER");
        let pkcs1_public = spki.subject_public_key.raw_bytes();
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pkcs1_public)
                .verify(&tbs, cert.signature())
                .expect("aws-lc-rs verifies the signature");
        }
        #[cfg(feature = "pure-rust")]
        {
            use rsa::pkcs1::DecodeRsaPublicKey as _;
            use rsa::signature::Verifier as _;
            let public = rsa::RsaPublicKey::from_pkcs1_der(pkcs1_public).expect("rsa loads it");
            let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
            let signature =
                rsa::pkcs1v15::Signature::try_from(cert.signature()).expect("a signature");
            verifier
                .verify(&tbs, &signature)
                .expect("rsa verifies the signature");
        }
    }

    #[test]
    fn fixture_signatures_verify() {
        verify(&cert("rsa2048"));
        verify(&cert("rsa4096"));
    }

    #[test]
    fn self_signed_certificates_have_the_upstream_profile_and_verify() {
        let key = key("rsa2048");
        for common_name in ["", "sealed-secret", "Ünïcode"] {
            let params = CertParams {
                common_name: common_name.to_owned(),
                not_before: at(JAN_1_2025) + Duration::from_millis(1500),
                validity: Duration::from_secs(87_600 * 3600),
            };
            let made = Certificate::self_signed(&key, &params).expect("builds");
            check_upstream_profile(&made);
            verify(&made);
            assert_eq!(*made.public_key(), key.public_key());
            assert_eq!(made.not_before(), at(JAN_1_2025 + 1));
            assert_eq!(made.not_after(), at(JAN_1_2025 + 1 + 87_600 * 3600));
            let tbs = &made.inner().tbs_certificate;
            assert!(matches!(tbs.validity.not_before, Time::UtcTime(_)));
            // 2034 is before 2050: UTCTime too.
            assert!(matches!(tbs.validity.not_after, Time::UtcTime(_)));
            if common_name.is_empty() {
                assert_eq!(made.common_name(), None);
                assert_eq!(tbs.subject.to_der().expect("DER"), [0x30, 0x00]);
            } else {
                assert_eq!(made.common_name().as_deref(), Some(common_name));
            }
            let serial = tbs.serial_number.as_bytes();
            assert!(serial.len() <= 17 && !serial.is_empty());
            assert!(made.serial_hex().len() <= 32);
            let reparsed = Certificate::from_pem(made.to_pem().as_bytes()).expect("parses");
            assert_eq!(reparsed, made);
            let (tls_key, tls_crt) = key_secret_data(&key, &made);
            assert_eq!(*tls_key, read("rsa2048.key"));
            assert_eq!(tls_crt, made.to_pem());
        }
    }

    #[test]
    fn validity_switches_to_generalized_time_in_2050() {
        // 2049-12-31T00:00:00Z, valid for two days.
        let params = CertParams {
            common_name: String::new(),
            not_before: at(2_524_521_600),
            validity: Duration::from_secs(2 * 86_400),
        };
        let made = Certificate::self_signed(&key("rsa2048"), &params).expect("builds");
        let validity = made.inner().tbs_certificate.validity;
        assert!(matches!(validity.not_before, Time::UtcTime(_)));
        assert!(matches!(validity.not_after, Time::GeneralTime(_)));
        assert_eq!(go_date(&made.not_after()), "January 2, 2050");
    }

    #[test]
    fn printable_common_names_are_printable_strings() {
        let dn = common_name_dn("sealed-secret").expect("encodes");
        let value = &dn.0[0].0.get(0).expect("one attribute").value;
        assert_eq!(value.tag(), Tag::PrintableString);
        let dn = common_name_dn("a_b").expect("encodes");
        assert_eq!(
            dn.0[0].0.get(0).expect("one attribute").value.tag(),
            Tag::Utf8String
        );
    }
}
