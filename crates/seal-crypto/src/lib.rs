//! Sealed-value format, RSA keys and certificates.
