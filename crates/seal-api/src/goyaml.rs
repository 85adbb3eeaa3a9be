//! YAML as kubeseal writes it: Kubernetes' serializer turns the object into JSON, then
//! `sigs.k8s.io/yaml` reads that JSON with go-yaml v2 and writes it out again. So the bytes follow
//! go-yaml v2's emitter: block style, two-space indent, sequences in a mapping not indented, keys
//! in go-yaml's order (digit runs compared as numbers, non-letters before letters), each string
//! in the first style that keeps it a string (plain, then single-quoted, then double-quoted,
//! multi-line strings as literal blocks), and plain or quoted text folded at spaces once a line
//! passes 80 columns.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Column past which go-yaml folds a line at the next space.
const BEST_WIDTH: usize = 80;
/// Indent per level.
const INDENT: usize = 2;
/// Longest key go-yaml writes as a simple `key: value` (longer ones use `? key`).
const MAX_SIMPLE_KEY: usize = 128;

/// Writes `v` as one YAML document (no `---`).
pub(crate) fn write_document(out: &mut String, v: &Value) {
    let mut e = Emitter {
        out,
        column: 0,
        whitespace: true,
        indention: true,
    };
    match v {
        Value::Object(m) if !m.is_empty() => e.mapping(m, 0),
        Value::Array(a) if !a.is_empty() => e.sequence(a, 0),
        scalar => e.scalar(scalar, INDENT, true),
    }
    e.write_indent(0);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Emitter<'a> {
    out: &'a mut String,
    /// Characters (not bytes) on the current line.
    column: usize,
    /// The last thing written was whitespace (or nothing on this line yet).
    whitespace: bool,
    /// Only indentation is on the current line so far.
    indention: bool,
}

impl Emitter<'_> {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn indicator(
        &mut self,
        text: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in text.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    /// A block mapping whose keys sit at `indent`.
    fn mapping(&mut self, m: &Map<String, Value>, indent: usize) {
        let mut entries: Vec<(&String, &Value)> = m.iter().collect();
        entries.sort_by(|a, b| key_order(a.0, b.0));
        for (k, v) in entries {
            self.write_indent(indent);
            if k.len() <= MAX_SIMPLE_KEY && !analyze(k).multiline {
                self.string(k, indent + INDENT, false);
                self.indicator(":", false, false, false);
            } else {
                self.indicator("?", true, false, true);
                self.string(k, indent + INDENT, true);
                self.write_indent(indent);
                self.indicator(":", true, false, true);
            }
            self.value(v, indent, true);
        }
    }

    /// A block sequence whose `-` sit at `indent`.
    fn sequence(&mut self, a: &[Value], indent: usize) {
        for v in a {
            self.write_indent(indent);
            self.indicator("-", true, false, true);
            self.value(v, indent, false);
        }
    }

    /// A node after `key:` (`in_mapping`) or `-`, where the parent sits at `indent`.
    fn value(&mut self, v: &Value, indent: usize, in_mapping: bool) {
        match v {
            Value::Object(m) if !m.is_empty() => self.mapping(m, indent + INDENT),
            // In a mapping, a sequence is not indented further.
            Value::Array(a) if !a.is_empty() => {
                let inner = if in_mapping && !self.indention {
                    indent
                } else {
                    indent + INDENT
                };
                self.sequence(a, inner);
            }
            scalar => self.scalar(scalar, indent + INDENT, true),
        }
    }

    fn scalar(&mut self, v: &Value, indent: usize, allow_breaks: bool) {
        match v {
            Value::Null => self.plain("null", allow_breaks, indent),
            Value::Bool(b) => self.plain(if *b { "true" } else { "false" }, allow_breaks, indent),
            Value::Number(n) => self.plain(&number(n), allow_breaks, indent),
            Value::String(s) => self.string(s, indent, allow_breaks),
            Value::Object(_) => self.indicator("{}", true, false, false),
            Value::Array(_) => self.indicator("[]", true, false, false),
        }
    }

    /// A string; `allow_breaks` is false for a simple key.
    fn string(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let simple_key = !allow_breaks;
        let a = analyze(s);
        let mut style = if s.contains('\n') {
            Style::Literal
        } else if resolves_to_string(s) {
            Style::Plain
        } else {
            Style::Double
        };
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            style = Style::Double;
        }
        match style {
            Style::Plain => self.plain(s, allow_breaks, indent),
            Style::Single => self.single_quoted(s, allow_breaks, indent),
            Style::Double => self.double_quoted(s, allow_breaks, indent),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn plain(&mut self, s: &str, allow_breaks: bool, indent: usize) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn single_quoted(&mut self, s: &str, allow_breaks: bool, indent: usize) {
        self.indicator("'", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.indicator("'", false, false, false);
    }

    fn double_quoted(&mut self, s: &str, allow_breaks: bool, indent: usize) {
        self.indicator("\"", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{7}' => self.put('a'),
                    '\u{8}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{b}' => self.put('v'),
                    '\u{c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{a0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let v = u32::from(c);
                        let mut hex = String::new();
                        if v <= 0xff {
                            let _ = write!(hex, "x{v:02X}");
                        } else if v <= 0xffff {
                            let _ = write!(hex, "u{v:04X}");
                        } else {
                            let _ = write!(hex, "U{v:08X}");
                        }
                        for h in hex.chars() {
                            self.put(h);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                {
                    self.write_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.indicator("\"", false, false, false);
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.indicator("|", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.indicator(&INDENT.to_string(), false, false, false);
        }
        let chomp = match chars.as_slice() {
            [] => Some("-"),
            [.., last] if !is_break(*last) => Some("-"),
            [_] => Some("+"),
            [.., before, _] if is_break(*before) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                if c == '\n' {
                    self.put_break();
                } else {
                    self.out.push(c);
                    self.column = 0;
                }
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// A JSON number as go-yaml writes the int or float that go-yaml reads from it.
fn number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    // Go's strconv.FormatFloat(f, 'g', -1, 64): the shortest digits, with an exponent below
    // 1e-4 and from 1e6 on.
    let exp = if f == 0.0 {
        0
    } else {
        f.abs().log10().floor() as i32
    };
    if (-4..6).contains(&exp) {
        let s = format!("{f}");
        s.strip_suffix(".0").map_or(s.clone(), str::to_owned)
    } else {
        let s = format!("{f:e}");
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
        format!("{mantissa}e{sign}{digits:0>2}")
    }
}

/// Whether the character is printable for go-yaml (anything else is escaped in double quotes).
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// go-yaml's scalar analysis: which styles can write `s` so that it reads back unchanged.
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| is_blank(n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i == last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= i == last;
            space_break |= previous_space;
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank(c) || is_break(c) || c == '\0';
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// Whether go-yaml v2 reads `s`, written plain, back as the same string (and not as null, a
/// boolean, a number, a timestamp or a base-60 float), so it may be written plain.
fn resolves_to_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let hinted = matches!(
        first,
        '+' | '-' | '0'
            ..='9' | '.' | 'y' | 'Y' | 'n' | 'N' | 't' | 'T' | 'f' | 'F' | 'o' | 'O' | '~'
    );
    if hinted && SPECIAL.contains(&s) {
        return false;
    }
    if is_base60_float(s) {
        return false;
    }
    match first {
        '.' => s.parse::<f64>().is_err(),
        '+' | '-' | '0'..='9' => {
            if is_timestamp(s) {
                return false;
            }
            let plain = s.replace('_', "");
            !(go_parse_int(&plain) || yaml_style_float(&plain))
        }
        _ => true,
    }
}

/// `strconv.ParseInt(s, 0, 64)` or `ParseUint` succeeds: an optional sign, then decimal, `0x`
/// hex, `0o` or leading-`0` octal, or `0b` binary.
fn go_parse_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (o, 8)
    } else if let Some(b) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (b, 2)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    !digits.is_empty() && u64::from_str_radix(digits, radix).is_ok()
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// go-yaml's base-60 float: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) || !s.contains(':') {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) && i - start < 2 {
            i += 1;
        }
        let group = &b[start..i];
        let ok = match group {
            [d] => d.is_ascii_digit(),
            [a, _] => (b'0'..=b'5').contains(a),
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml reads a plain scalar as a timestamp when it starts with four digits and `-`, and
/// parses as `2006-1-2`, `2006-1-2 15:4:5.999999999` or `2006-1-2T15:4:5.999999999Z07:00`
/// (`t` too).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    // Date: year-month-day with 1 or 2 digit month and day.
    let rest = &s[5..];
    let num = |t: &str, max: usize| -> Option<(u32, usize)> {
        let n = t.bytes().take_while(u8::is_ascii_digit).count().min(max);
        if n == 0 {
            return None;
        }
        t[..n].parse().ok().map(|v| (v, n))
    };
    let Some((month, n)) = num(rest, 2) else {
        return false;
    };
    let rest = &rest[n..];
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let Some((day, n)) = num(rest, 2) else {
        return false;
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    let rest = &rest[n..];
    if rest.is_empty() {
        return true;
    }
    let (sep, rest) = rest.split_at(1);
    let zone_allowed = match sep {
        "T" | "t" => true,
        " " => false,
        _ => return false,
    };
    // Time: hour:minute:second with 1 or 2 digits each, an optional fraction.
    let mut rest = rest;
    for (i, max) in [(0, 23), (1, 59), (2, 59)] {
        if i > 0 {
            let Some(r) = rest.strip_prefix(':') else {
                return false;
            };
            rest = r;
        }
        let Some((v, n)) = num(rest, 2) else {
            return false;
        };
        if v > max {
            return false;
        }
        rest = &rest[n..];
    }
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    if !zone_allowed {
        return rest.is_empty();
    }
    match rest {
        "Z" => true,
        _ => {
            let b = rest.as_bytes();
            b.len() == 6
                && matches!(b[0], b'+' | b'-')
                && b[1..3].iter().all(u8::is_ascii_digit)
                && b[3] == b':'
                && b[4..].iter().all(u8::is_ascii_digit)
        }
    }
}

/// go-yaml's key order: compared rune by rune; where they differ, two letters compare as
/// characters, a non-letter sorts before a letter, and runs of digits compare as numbers.
fn key_order(a: &str, b: &str) -> Ordering {
    if a == b {
        Ordering::Equal
    } else if key_less(a, b) {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let letter = |c: char| c.is_alphabetic();
    let digit = |c: char| c.is_ascii_digit();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (letter(ar[i]), letter(br[i]));
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && digit(ar[j - 1]) {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && digit(ar[ai]) {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(u32::from(ar[ai]) - u32::from('0')));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && digit(br[bi]) {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(u32::from(br[bi]) - u32::from('0')));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(v: &Value) -> String {
        let mut out = String::new();
        write_document(&mut out, v);
        out
    }

    #[test]
    fn strings_take_go_yamls_first_safe_style() {
        let cases: &[(&str, &str)] = &[
            ("Opaque", "Opaque"),
            ("AgBy+/=", "AgBy+/="),
            ("true", "\"true\""),
            ("yes", "\"yes\""),
            ("", "\"\""),
            ("1", "\"1\""),
            ("0777", "\"0777\""),
            ("08", "\"08\""),
            ("1e3", "\"1e3\""),
            ("12:30", "\"12:30\""),
            ("2024-01-01", "\"2024-01-01\""),
            ("2024-01-01T10:00:00Z", "\"2024-01-01T10:00:00Z\""),
            ("2024-1", "2024-1"),
            (
                "{{ .user }}:{{ .password }}",
                "'{{ .user }}:{{ .password }}'",
            ),
            ("a: b", "'a: b'"),
            ("- a", "'- a'"),
            ("-x", "-x"),
            ("it's", "it's"),
            ("'q", "'''q'"),
            ("#x", "'#x'"),
            ("a #c", "'a #c'"),
            (" lead", "' lead'"),
            ("tab\there", "\"tab\\there\""),
            ("<<", "<<"),
            ("=", "="),
            ("caf\u{e9}", "caf\u{e9}"),
            ("\u{1f600}", "\"\\U0001F600\""),
            ("del\u{7f}", "\"del\\x7F\""),
            ("line\n", "|\n  line"),
            ("a\nb", "|-\n  a\n  b"),
            ("a\n\n", "|+\n  a\n"),
            (" a\nb", "|2-\n   a\n  b"),
            ("trailing \nx", "\"trailing \\nx\""),
        ];
        for (input, want) in cases {
            let got = yaml(&json!({"k": input}));
            let want = format!("k: {want}\n");
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn long_text_folds_at_the_first_space_past_80_columns() {
        let words = "word ".repeat(30);
        let text = words.trim_end();
        let got = yaml(&json!({"annotation": text}));
        let mut lines = got.lines();
        let first = lines.next().expect("a line");
        assert!(first.len() > 80 && first.len() <= 86, "{first}");
        assert!(lines.all(|l| l.starts_with("  word")), "{got}");
        // A value without spaces is never folded.
        let b64 = "A".repeat(700);
        assert_eq!(yaml(&json!({"x": b64})), format!("x: {b64}\n"));
        // Keys never fold.
        let quoted = yaml(&json!({"x": format!("{{{{ {text} }}}}")}));
        assert!(quoted.starts_with("x: '{{ word"), "{quoted}");
        assert!(quoted.lines().count() > 1, "{quoted}");
    }

    #[test]
    fn keys_sort_as_go_yaml_sorts_them() {
        let mut keys = vec![
            "b", "a10", "a2", "a_b", "aB", "A", "1", "10", "9", "a.b", "ab", "x-1",
        ];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(
            keys,
            [
                "1", "9", "10", "A", "a.b", "a_b", "a2", "a10", "aB", "ab", "b", "x-1"
            ]
        );
    }

    #[test]
    fn nesting_is_block_style_with_indentless_sequences() {
        let doc = json!({"a": {"b": [1, {"c": "d", "e": []}, ["x", "z"]], "f": {}}, "g": null});
        assert_eq!(
            yaml(&doc),
            "a:\n  b:\n  - 1\n  - c: d\n    e: []\n  - - x\n    - z\n  f: {}\ng: null\n"
        );
    }

    #[test]
    fn numbers_print_as_go_prints_them() {
        assert_eq!(yaml(&json!({"x": 30})), "x: 30\n");
        assert_eq!(yaml(&json!({"x": 1.5})), "x: 1.5\n");
        assert_eq!(yaml(&json!({"x": -7})), "x: -7\n");
        assert_eq!(yaml(&json!({"x": 1e20})), "x: 1e+20\n");
        assert_eq!(yaml(&json!({"x": 123456.5})), "x: 123456.5\n");
    }
}
