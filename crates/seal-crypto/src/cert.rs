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
use crate::{Error, PrivateKey, PublicKey, Result, pem};

/// `sha256WithRSAEncryption` (RFC 8017 A.2.4).
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// `id-at-commonName` (RFC 5280).
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// `id-ce-keyUsage`.
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// `id-ce-basicConstraints`.
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

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
        self.cert.tbs_certificate.validity.not_before.to_system_time()
    }

    /// End of validity.
    pub fn not_after(&self) -> SystemTime {
        self.cert.tbs_certificate.validity.not_after.to_system_time()
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
                .map_err(|e| Error::bad_cert_from("failed to encode the public key", e))?,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(vec![
                extension(KEY_USAGE, &KeyUsage(KeyUsages::EncipherOnly.into()))?,
                extension(
                    BASIC_CONSTRAINTS,
                    &BasicConstraints {
                        ca: true,
                        path_len_constraint: None,
                    },
                )?,
            ]),
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

    /// The signed part, for signature checks in tests.
    #[cfg(test)]
    pub(crate) fn tbs_der(&self) -> Vec<u8> {
        self.cert.tbs_certificate.to_der().expect("it was decoded from DER")
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
    let printable = cn.bytes().all(|b| {
        b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
    });
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
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString
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
