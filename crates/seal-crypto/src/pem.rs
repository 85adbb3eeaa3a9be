//! PEM reading and writing, as Go's `encoding/pem` does it.
//!
//! Reading scans for every `-----BEGIN <type>-----` … `-----END <type>-----` block, in linear
//! time, and skips anything in between, so multi-block files (a key followed by its
//! certificate, a bundle) work. Writing produces LF line endings and 64-column standard
//! base64, byte for byte what `pem.Encode` writes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// One PEM block, not yet decoded.
pub(crate) struct Block<'a> {
    /// The type after `BEGIN`, e.g. `"RSA PRIVATE KEY"`.
    pub(crate) label: &'a str,
    /// Whether an RFC 1421 header says the block is encrypted (`Proc-Type: 4,ENCRYPTED`).
    pub(crate) encrypted: bool,
    /// The base64 text (headers removed), whitespace included.
    body: &'a [u8],
}

impl Block<'_> {
    /// Decodes the base64 body. The result may be secret, so it is zeroized on drop, and so
    /// is the whitespace-free copy of the text made on the way.
    pub(crate) fn decode(&self) -> Option<Zeroizing<Vec<u8>>> {
        let mut text = Zeroizing::new(Vec::with_capacity(self.body.len()));
        text.extend(
            self.body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace()),
        );
        let mut out = Zeroizing::new(Vec::with_capacity(text.len() / 4 * 3 + 3));
        STANDARD.decode_vec(&*text, &mut out).ok()?;
        Some(out)
    }
}

/// Every PEM block in `input`, in order.
///
/// Like Go's `encoding/pem` since CVE-2025-61723, this finds the first `-----END ` and then the
/// last `-----BEGIN ` before it, so every byte is scanned a bounded number of times however
/// many BEGIN lines lack an END: linear time. A block is that BEGIN line, its `-----`-ended
/// label, and an END line with the same label; anything else up to that END is skipped.
pub(crate) fn blocks(input: &[u8]) -> impl Iterator<Item = Block<'_>> {
    let mut rest = input;
    std::iter::from_fn(move || {
        loop {
            let end = find(rest, END)?;
            let (before_end, from_end) = rest.split_at(end);
            let after_end = &from_end[END.len()..];
            // Whatever happens, the next search starts after this END.
            rest = after_end;
            let Some(start) = rfind(before_end, BEGIN) else {
                continue;
            };
            let after = &before_end[start + BEGIN.len()..];
            // The BEGIN line must end before the END marker.
            let Some(line_end) = after.iter().position(|&b| b == b'\n') else {
                continue;
            };
            let line = trim_end(&after[..line_end]);
            let Some(label) = line.strip_suffix(DASHES) else {
                continue;
            };
            let Ok(label) = std::str::from_utf8(label) else {
                continue;
            };
            let Some(tail) = after_end
                .strip_prefix(label.as_bytes())
                .and_then(|t| t.strip_prefix(DASHES))
            else {
                continue;
            };
            rest = tail;
            let (encrypted, body) = split_headers(&after[line_end..]);
            return Some(Block {
                label,
                encrypted,
                body,
            });
        }
    })
}

/// The first block whose label is one of `labels`.
pub(crate) fn first<'a>(input: &'a [u8], labels: &[&str]) -> Option<Block<'a>> {
    blocks(input).find(|b| labels.contains(&b.label))
}

/// Splits RFC 1421 headers (`Name: value` lines up to a blank line) off a block body.
fn split_headers(body: &[u8]) -> (bool, &[u8]) {
    let mut encrypted = false;
    let mut rest = body;
    // Skip the newline that ended the BEGIN line.
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'\r' || b == b'\n' {
            rest = tail;
        } else {
            break;
        }
    }
    let mut cursor = rest;
    let mut saw_header = false;
    loop {
        let line_end = cursor
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(cursor.len());
        let line = trim_end(&cursor[..line_end]);
        if line.contains(&b':') {
            saw_header = true;
            if line.starts_with(b"Proc-Type:") && find(line, b"ENCRYPTED").is_some() {
                encrypted = true;
            }
            cursor = &cursor[(line_end + 1).min(cursor.len())..];
        } else if saw_header && line.is_empty() {
            cursor = &cursor[(line_end + 1).min(cursor.len())..];
            return (encrypted, cursor);
        } else {
            return (encrypted, if saw_header { cursor } else { rest });
        }
    }
}

fn trim_end(line: &[u8]) -> &[u8] {
    let mut line = line;
    while let Some((&last, head)) = line.split_last() {
        if last == b'\r' || last == b' ' || last == b'\t' {
            line = head;
        } else {
            break;
        }
    }
    line
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Encodes `der` as a PEM block of type `label`, as Go's `pem.Encode` does.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(label, der.len()));
    write(&mut out, label, der, &mut String::new());
    out
}

/// Like [`encode`] for secret contents: every buffer that holds the encoding is zeroized.
pub(crate) fn encode_secret(label: &str, der: &[u8]) -> Zeroizing<String> {
    // Sized up front so neither buffer reallocates and leaves a copy behind.
    let mut out = Zeroizing::new(String::with_capacity(encoded_len(label, der.len())));
    let mut b64 = Zeroizing::new(String::with_capacity(der.len().div_ceil(3) * 4));
    write(&mut out, label, der, &mut b64);
    out
}

fn encoded_len(label: &str, der_len: usize) -> usize {
    let b64 = der_len.div_ceil(3) * 4;
    let lines = b64.div_ceil(64);
    // "-----BEGIN " + label + "-----\n" and "-----END " + label + "-----\n".
    2 * label.len() + 32 + b64 + lines
}

fn write(out: &mut String, label: &str, der: &[u8], b64: &mut String) {
    STANDARD.encode_string(der, b64);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        // base64 text is ASCII, so any byte index is a char boundary.
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_wraps_at_64_columns_with_lf() {
        let pem = encode("TEST", &[0u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN TEST-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 136 - 128);
        assert_eq!(lines[4], "-----END TEST-----");
        assert!(!pem.contains('\r'));
        assert!(pem.ends_with("-----\n"));
        assert_eq!(pem.len(), encoded_len("TEST", 100));
        assert_eq!(*encode_secret("TEST", &[0u8; 100]), pem);
    }

    #[test]
    fn blocks_are_found_among_junk_and_crlf() {
        let a = encode("A", b"hello");
        let b = encode("B", b"world");
        let input = format!("junk\r\n{}\nmore junk\n{}", a.replace('\n', "\r\n"), b);
        let found: Vec<_> = blocks(input.as_bytes()).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].label, "A");
        assert_eq!(
            found[0].decode().as_deref().map(Vec::as_slice),
            Some(&b"hello"[..])
        );
        assert_eq!(found[1].label, "B");
        assert_eq!(
            first(input.as_bytes(), &["B"])
                .and_then(|b| b.decode())
                .as_deref()
                .map(Vec::as_slice),
            Some(&b"world"[..])
        );
        assert!(first(input.as_bytes(), &["C"]).is_none());
    }

    #[test]
    fn headers_are_skipped_and_encryption_is_noticed() {
        let input = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n";
        let block = first(input.as_bytes(), &["RSA PRIVATE KEY"]).expect("a block");
        assert!(block.encrypted);
        assert_eq!(
            block.decode().as_deref().map(Vec::as_slice),
            Some(&b"hello"[..])
        );
    }

    #[test]
    fn bad_base64_does_not_decode() {
        let input = "-----BEGIN X-----\n!!!!\n-----END X-----\n";
        assert!(
            first(input.as_bytes(), &["X"])
                .expect("a block")
                .decode()
                .is_none()
        );
    }

    #[test]
    fn mismatched_end_is_not_a_block() {
        let input = "-----BEGIN X-----\naGVsbG8=\n-----END Y-----\n";
        assert!(blocks(input.as_bytes()).next().is_none());
    }
}
