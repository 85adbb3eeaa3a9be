//! Standard padded base64, with Go's error wording.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A base64 decoding failure, worded as Go's `encoding/base64`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("illegal base64 data at input byte {offset}")]
pub struct Base64Error {
    /// Offset of the first offending byte.
    pub offset: usize,
}

/// Encodes bytes as standard padded base64.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard padded base64. Like Go, CR and LF are ignored; URL-safe or unpadded input is
/// refused.
///
/// # Errors
///
/// [`Base64Error`] with the offset of the first bad byte.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let owned;
    let text = if text.contains(['\r', '\n']) {
        owned = text.replace(['\r', '\n'], "");
        owned.as_str()
    } else {
        text
    };
    STANDARD.decode(text).map_err(|e| {
        let offset = match e {
            base64::DecodeError::InvalidByte(offset, _)
            | base64::DecodeError::InvalidLastSymbol(offset, _) => offset,
            base64::DecodeError::InvalidLength(len) => len,
            base64::DecodeError::InvalidPadding => text.find('=').unwrap_or(text.len()),
        };
        Base64Error { offset }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_padded_round_trips_and_ignores_newlines() {
        assert_eq!(decode(&encode(b"hello")).as_deref(), Ok(&b"hello"[..]));
        assert_eq!(decode("aGVs\nbG8=").as_deref(), Ok(&b"hello"[..]));
    }

    #[test]
    fn url_safe_and_unpadded_are_refused() {
        assert_eq!(decode("a-_b"), Err(Base64Error { offset: 1 }));
        assert!(decode("aGVsbG8").is_err());
        assert_eq!(
            decode("aGVsbG8")
                .unwrap_err()
                .to_string()
                .split(' ')
                .take(4)
                .collect::<Vec<_>>(),
            ["illegal", "base64", "data", "at"]
        );
    }
}
