//! The crate's one error type.

use std::time::SystemTime;

/// A boxed underlying cause, kept in `#[source]` so `Display` never repeats it.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate.
///
/// Malformed public input (short data, bad PEM, bad certificates) gets its own variant.
/// Every failure to open a sealed value, whatever its cause (wrong key, wrong label, a flipped
/// bit in the RSA block or the AES-GCM body), is the single unit variant [`Error::Decrypt`] with
/// no source, so that no error can serve as a padding or decryption oracle.
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// A sealed value is shorter than its length prefix says (or shorter than the prefix itself).
    #[error("SealedSecret data is too short")]
    TooShort,

    /// No key could open a sealed value. Deliberately opaque.
    #[error("no key could decrypt secret")]
    Decrypt,

    /// The input holds no usable PEM block of the expected type.
    #[error("failed to read PEM {expected}: {problem}")]
    BadPem {
        /// The PEM block type that was looked for, e.g. `"CERTIFICATE"`.
        expected: &'static str,
        /// What was wrong, e.g. `"no such block"`.
        problem: &'static str,
    },

    /// A key (or a certificate's key) is not an RSA key.
    #[error("the key is not an RSA key")]
    NotRsa,

    /// An RSA key could not be parsed or used.
    #[error("invalid RSA key: {context}")]
    BadKey {
        /// What was being done or what was wrong.
        context: &'static str,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// An ML-KEM-768 key (a seed, or an encapsulation key) could not be parsed or used.
    #[error("invalid ML-KEM-768 key: {context}")]
    BadMlKemKey {
        /// What was wrong.
        context: &'static str,
    },

    /// An X.509 certificate could not be parsed or built.
    #[error("invalid certificate: {context}")]
    BadCertificate {
        /// What was being done or what was wrong.
        context: &'static str,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// The certificate's NotAfter is in the past.
    #[error(
        "failed to encrypt using an expired certificate on {}",
        crate::cert::go_date(.not_after)
    )]
    Expired {
        /// The certificate's NotAfter.
        not_after: SystemTime,
    },

    /// Key generation was asked for a size the backend does not support.
    #[error("unsupported RSA key size {bits} bits (use 2048, 3072, 4096 or 8192)")]
    UnsupportedKeySize {
        /// The requested size in bits.
        bits: usize,
    },

    /// The backend failed to generate an RSA key.
    #[error("failed to generate an RSA key")]
    KeyGeneration,

    /// The backend failed to encrypt the session key (e.g. the RSA key is too small for OAEP).
    #[error("failed to encrypt the session key")]
    Encrypt,

    /// The backend failed to sign a certificate.
    #[error("failed to sign the certificate")]
    Sign,
}

/// The crate's `Result`, with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn bad_key(context: &'static str) -> Self {
        Error::BadKey {
            context,
            source: None,
        }
    }

    pub(crate) fn bad_key_from(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::BadKey {
            context,
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn bad_cert(context: &'static str) -> Self {
        Error::BadCertificate {
            context,
            source: None,
        }
    }

    pub(crate) fn bad_cert_from(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::BadCertificate {
            context,
            source: Some(Box::new(source)),
        }
    }
}
