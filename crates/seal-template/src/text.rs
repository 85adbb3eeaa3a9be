//! Sprig's word-case and wrapping helpers: huandu/xstrings 1.5
//! (`snakecase`, `kebabcase`, `camelcase` = `ToPascalCase`, `shuffle`) and
//! Masterminds/goutils (`wrap`, `wrapWith`).

use std::sync::OnceLock;

use regex::Regex;

fn class(re: &'static OnceLock<Regex>, pat: &str, c: char) -> bool {
    let re = re.get_or_init(|| Regex::new(pat).expect("class pattern is valid"));
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf))
}

/// Go's `unicode.IsUpper` (category Lu).
fn is_upper(c: char) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    if c.is_ascii() {
        return c.is_ascii_uppercase();
    }
    class(&R, r"^\p{Lu}$", c)
}

/// Go's `unicode.IsPunct` (category P).
fn is_punct(c: char) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    class(&R, r"^\p{P}$", c)
}

/// Go's `unicode.IsNumber` (category N).
fn is_number(c: char) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    class(&R, r"^\p{N}$", c)
}

/// Go's `unicode.IsLetter` (category L).
fn is_letter(c: char) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    class(&R, r"^\p{L}$", c)
}

/// xstrings' `isAlphabet`: a letter, but not a CJK ideograph.
fn is_alphabet(c: char) -> bool {
    if !is_letter(c) {
        return false;
    }
    !matches!(c, '\u{4E00}'..='\u{9FCC}' | '\u{3400}'..='\u{4D85}' | '\u{20000}'..='\u{2B81D}')
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// Go's `unicode.ToUpper`/`ToLower`: one-to-one mappings only.
fn simple(c: char, upper: bool) -> char {
    let mut m: Vec<char> = if upper {
        c.to_uppercase().collect()
    } else {
        c.to_lowercase().collect()
    };
    if m.len() == 1 {
        m.pop().unwrap_or(c)
    } else {
        c
    }
}

/// xstrings' `ToPascalCase` (Sprig's `camelcase`).
pub(super) fn pascal_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let mut first_upper = false;
    let mut r0 = '\0';
    let mut got = false;
    for c in chars.by_ref() {
        got = true;
        if !is_connector(c) {
            first_upper = is_upper(c);
            r0 = simple(c, true);
            break;
        }
        out.push(c);
        r0 = c;
    }
    if chars.peek().is_none() {
        // Go writes the last rune read once more, even a connector.
        if got {
            out.push(r0);
        }
        return out;
    }
    for c in chars {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = simple(r0, true);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = simple(r0, false);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// xstrings' `nextWord` (input is valid UTF-8, so no invalid runes).
fn next_word(s: &str) -> (Word, &str, &str) {
    let mut it = s.char_indices().peekable();
    let Some((_, r)) = it.next() else {
        return (Word::Invalid, "", "");
    };
    let mut end = r.len_utf8();
    let take_while = |end: &mut usize, pred: &dyn Fn(char) -> bool| {
        for c in s[*end..].chars() {
            if !pred(c) {
                break;
            }
            *end += c.len_utf8();
        }
    };
    let wt = if is_connector(r) {
        take_while(&mut end, &is_connector);
        Word::Connector
    } else if is_punct(r) {
        take_while(&mut end, &is_punct);
        Word::Punct
    } else if is_upper(r) {
        if let Some(c) = s[end..].chars().next() {
            if is_upper(c) {
                let mut prev = c.len_utf8();
                end += prev;
                let mut stopped_on: Option<char> = None;
                for c2 in s[end..].chars() {
                    if !is_upper(c2) {
                        stopped_on = Some(c2);
                        break;
                    }
                    prev = c2.len_utf8();
                    end += prev;
                }
                // "HTTPStatus" splits into "HTTP" and "Status".
                if let Some(c2) = stopped_on
                    && is_alphabet(c2)
                {
                    end -= prev;
                }
            } else if is_alphabet(c) {
                take_while(&mut end, &|c| is_alphabet(c) && !is_upper(c));
            }
        }
        Word::Upper
    } else if is_alphabet(r) {
        take_while(&mut end, &|c| is_alphabet(c) && !is_upper(c));
        Word::Alphabet
    } else if is_number(r) {
        take_while(&mut end, &is_number);
        Word::Number
    } else {
        take_while(&mut end, &|c| {
            !(is_connector(c) || is_alphabet(c) || is_number(c) || is_punct(c))
        });
        Word::Other
    };
    (wt, &s[..end], &s[end..])
}

fn to_lower(out: &mut String, wt: Word, s: &str, connector: char) {
    if wt != Word::Upper && wt != Word::Connector {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if is_upper(c) {
            out.push(simple(c, false));
        } else {
            out.push(c);
        }
    }
}

/// xstrings' `ToSnakeCase` (`_`) and `ToKebabCase` (`-`).
pub(super) fn lower_case_words(s: &str, connector: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(s.len() + 8);
    let (mut wt, mut word, mut rem) = next_word(s);
    while !rem.is_empty() {
        if wt != Word::Connector {
            to_lower(&mut out, wt, word, connector);
        }
        let prev = wt;
        let last = word;
        (wt, word, rem) = next_word(rem);
        match prev {
            Word::Number => {
                while wt == Word::Alphabet || wt == Word::Number {
                    to_lower(&mut out, wt, word, connector);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Word::Invalid && wt != Word::Punct && wt != Word::Connector {
                    out.push(connector);
                }
            }
            Word::Connector => to_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if rem.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, rem) = next_word(rem);
                // A number followed by something other than letters stays
                // with the previous word: "Bld4Floor" → "bld4_floor".
                if wt != Word::Alphabet {
                    to_lower(&mut out, Word::Number, last, connector);
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                // Lower-case letters after a number: "HTTP2xx" → "http_2xx".
                out.push(connector);
                to_lower(&mut out, Word::Number, last, connector);
                while wt == Word::Alphabet || wt == Word::Number {
                    to_lower(&mut out, wt, word, connector);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Word::Invalid && wt != Word::Connector && wt != Word::Punct {
                    out.push(connector);
                }
            }
        }
    }
    to_lower(&mut out, wt, word, connector);
    out
}

/// goutils' `WrapCustom(str, wrapLength, newLineStr, wrapLongWords)`.
/// Works on bytes as Go does; a cut inside a UTF-8 sequence becomes U+FFFD.
pub(super) fn wrap_custom(s: &str, width: i64, newline: &str, long_words: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let newline = if newline.is_empty() { "\n" } else { newline };
    let width = usize::try_from(width.max(1)).unwrap_or(usize::MAX);
    let b = s.as_bytes();
    let len = b.len();
    let mut offset = 0usize;
    let mut out: Vec<u8> = Vec::with_capacity(len + len / width.max(1) * newline.len());
    let last_space = |from: usize, to: usize| b[from..to].iter().rposition(|&c| c == b' ');
    while len - offset > width {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (width + offset + 1).min(len);
        match last_space(offset, end) {
            Some(i) => {
                let at = offset + i;
                out.extend_from_slice(&b[offset..at]);
                out.extend_from_slice(newline.as_bytes());
                offset = at + 1;
            }
            None if long_words => {
                let end = width + offset;
                out.extend_from_slice(&b[offset..end]);
                out.extend_from_slice(newline.as_bytes());
                offset += width;
            }
            None => {
                let end = width + offset;
                match b[end..].iter().position(|&c| c == b' ') {
                    None => {
                        out.extend_from_slice(&b[offset..]);
                        offset = len;
                    }
                    Some(i) => {
                        let at = end + i;
                        out.extend_from_slice(&b[offset..at]);
                        out.extend_from_slice(newline.as_bytes());
                        offset = at + 1;
                    }
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_and_kebab_case_follow_xstrings_examples() {
        for (input, want) in [
            ("FirstName", "first_name"),
            ("HTTPServer", "http_server"),
            ("NoHTTPS", "no_https"),
            ("GO_PATH", "go_path"),
            ("GO PATH", "go_path"),
            ("GO-PATH", "go_path"),
            ("http2xx", "http_2xx"),
            ("HTTP20xOK", "http_20x_ok"),
            ("Duration2m3s", "duration_2m3s"),
            ("Bld4Floor3rd", "bld4_floor_3rd"),
        ] {
            assert_eq!(lower_case_words(input, '_'), want, "{input}");
            assert_eq!(
                lower_case_words(input, '-'),
                want.replace('_', "-"),
                "{input}"
            );
        }
    }

    #[test]
    fn pascal_case_follows_xstrings_examples() {
        for (input, want) in [
            ("some_words", "SomeWords"),
            ("http_server", "HttpServer"),
            ("no_https", "NoHttps"),
            ("_complex__case_", "_Complex_Case_"),
            ("some words", "SomeWords"),
            ("GOLANG_IS_GREAT", "GolangIsGreat"),
            ("a", "A"),
            ("_", "__"),
            ("", ""),
        ] {
            assert_eq!(pascal_case(input), want, "{input}");
        }
    }

    #[test]
    fn wrap_breaks_at_spaces_and_optionally_inside_words() {
        assert_eq!(
            wrap_custom("the quick brown fox", 10, "", false),
            "the quick\nbrown fox"
        );
        assert_eq!(wrap_custom("abcdefghij kl", 4, "", false), "abcdefghij\nkl");
        assert_eq!(
            wrap_custom("abcdefghij kl", 4, "<br>", true),
            "abcd<br>efgh<br>ij<br>kl"
        );
    }
}
