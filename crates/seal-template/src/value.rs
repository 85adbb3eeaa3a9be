//! Dynamic values: the small slice of Go's type system that templates see.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// A shared, mutable Go map (`set` and `unset` mutate in place, as in Go).
pub(super) type MapRef = Rc<RefCell<BTreeMap<String, Value>>>;

thread_local! {
    /// The one allocation every nil slice points at, so that nil-ness is
    /// pointer identity and costs no extra field.
    static NIL_LIST: Rc<Vec<Value>> = Rc::new(Vec::new());
    /// Likewise for nil maps. Never written to: writers check
    /// [`Value::is_nil_map`] first, and `render` verifies it stayed empty.
    static NIL_MAP: MapRef = Rc::new(RefCell::new(BTreeMap::new()));
}

/// True if the shared nil map is still empty, emptying it if not.
pub(super) fn nil_map_intact() -> bool {
    NIL_MAP.with(|m| match m.try_borrow_mut() {
        Ok(m) if m.is_empty() => true,
        Ok(mut m) => {
            m.clear();
            false
        }
        Err(_) => false,
    })
}

/// The element type of a Go slice or map, which decides `typeOf`,
/// `deepEqual` and which typed parameters accept the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Elem {
    /// `interface {}`
    Any,
    /// `string`
    Str,
    /// `int`
    Int,
    /// `[]interface {}`
    List,
}

impl Elem {
    fn name(self) -> &'static str {
        match self {
            Elem::Any => "interface {}",
            Elem::Str => "string",
            Elem::Int => "int",
            Elem::List => "[]interface {}",
        }
    }
}

/// A Go value as the interpreter sees it.
#[derive(Debug, Clone)]
pub(super) enum Value {
    /// An invalid `reflect.Value`: a missing map key, printed `<no value>`.
    Missing,
    /// A nil `interface {}`, printed `<nil>`.
    Nil,
    Bool(bool),
    /// Go `int`.
    Int(i64),
    /// Go `int64`.
    Int64(i64),
    /// Go `uint8`: what `index` yields on a string.
    Uint8(u8),
    Float(f64),
    Str(Rc<str>),
    /// A slice. `None` items never occur; nil slices print as `[]` too.
    List(Rc<Vec<Value>>, Elem),
    /// A `map[string]T`, iterated in sorted key order as Go's printer does.
    Map(MapRef, Elem),
    /// A Go struct or pointer with fields and methods: `time.Time`,
    /// `*semver.Version`, Sprig's `certificate`.
    Obj(Rc<Obj>),
}

/// The Go objects Sprig functions return.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Obj {
    Time(super::gotime::GoTime),
    /// `*semver.Version` (what `semver` returns).
    Version(super::semver::Version),
    /// `semver.Version`, by value (what its `Inc…` methods return): the
    /// pointer-receiver methods (`Original`, `LessThan`, …) are out of reach.
    VersionValue(super::semver::Version),
    /// `time.Duration`, printed by its `String()`.
    Duration(i64),
    /// `certificate{Cert, Key string}`.
    Cert {
        cert: Rc<str>,
        key: Rc<str>,
    },
}

impl Obj {
    fn type_name(&self) -> &'static str {
        match self {
            Obj::Time(_) => "time.Time",
            Obj::Version(_) => "*semver.Version",
            Obj::VersionValue(_) => "semver.Version",
            Obj::Duration(_) => "time.Duration",
            Obj::Cert { .. } => "sprig.certificate",
        }
    }

    /// What `fmt` prints for `%v` (`String()` where Go has one).
    pub(super) fn display(&self) -> String {
        match self {
            Obj::Time(t) => t.string(),
            Obj::Version(v) | Obj::VersionValue(v) => v.string(),
            Obj::Duration(d) => super::gotime::duration_string(*d),
            Obj::Cert { cert, key } => format!("{{{cert} {key}}}"),
        }
    }
}

/// Lists can nest arbitrarily deep (`$l = list $l` in a loop), and the
/// compiler's recursive drop would overflow the stack on them; this drop
/// walks nested lists with an explicit stack. (Maps cannot recurse here:
/// `render` empties every map it created before anything is dropped.)
impl Drop for Value {
    fn drop(&mut self) {
        let Value::List(l, _) = self else {
            return;
        };
        if Rc::strong_count(l) != 1 {
            return;
        }
        let mut pending = vec![std::mem::replace(l, Rc::new(Vec::new()))];
        while let Some(rc) = pending.pop() {
            let Ok(mut items) = Rc::try_unwrap(rc) else {
                continue;
            };
            for mut item in items.drain(..) {
                if let Value::List(inner, _) = &mut item
                    && Rc::strong_count(inner) == 1
                {
                    pending.push(std::mem::replace(inner, Rc::new(Vec::new())));
                }
            }
        }
    }
}

impl Value {
    pub(super) fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    pub(super) fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items), Elem::Any)
    }

    /// A nil slice: prints as `[]` but encodes to JSON as `null`.
    pub(super) fn nil_list(elem: Elem) -> Value {
        NIL_LIST.with(|n| Value::List(n.clone(), elem))
    }

    /// A nil `map[string]T`: reads as empty, prints `map[]`, encodes `null`.
    pub(super) fn nil_map(elem: Elem) -> Value {
        NIL_MAP.with(|m| Value::Map(m.clone(), elem))
    }

    /// True for a nil map made by [`Value::nil_map`].
    pub(super) fn is_nil_map(&self) -> bool {
        match self {
            Value::Map(m, _) => NIL_MAP.with(|n| Rc::ptr_eq(m, n)),
            _ => false,
        }
    }

    /// True for a nil slice made by [`Value::nil_list`].
    pub(super) fn is_nil_list(&self) -> bool {
        match self {
            Value::List(l, _) => NIL_LIST.with(|n| Rc::ptr_eq(l, n)),
            _ => false,
        }
    }

    pub(super) fn str_list(items: Vec<String>) -> Value {
        Value::List(
            Rc::new(items.into_iter().map(Value::str).collect()),
            Elem::Str,
        )
    }

    /// Go's `%T`.
    pub(super) fn type_name(&self) -> String {
        match self {
            Value::Missing | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Int64(_) => "int64".into(),
            Value::Uint8(_) => "uint8".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_, e) => format!("[]{}", e.name()),
            Value::Map(_, e) => format!("map[string]{}", e.name()),
            Value::Obj(o) => o.type_name().into(),
        }
    }

    /// `reflect.Kind.String()`.
    pub(super) fn kind_name(&self) -> &'static str {
        match self {
            Value::Missing | Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint8(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(..) => "slice",
            Value::Map(..) => "map",
            Value::Obj(o) => match **o {
                Obj::Version(_) => "ptr",
                Obj::Duration(_) => "int64",
                _ => "struct",
            },
        }
    }

    /// text/template's `isTrue`.
    pub(super) fn truth(&self) -> bool {
        match self {
            Value::Missing | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Uint8(b) => *b != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l, _) => !l.is_empty(),
            Value::Map(m, _) => !m.borrow().is_empty(),
            Value::Obj(_) => true,
        }
    }

    /// Sprig's `empty`.
    pub(super) fn is_empty(&self) -> bool {
        !self.truth()
    }

    /// The value of any integer kind.
    pub(super) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) | Value::Int64(n) => Some(*n),
            Value::Uint8(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    pub(super) fn is_nilish(&self) -> bool {
        matches!(self, Value::Missing | Value::Nil)
    }

    /// Approximate heap bytes this value owns directly (for the memory budget).
    pub(super) fn shallow_size(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::List(l, _) => 32 + l.len() * std::mem::size_of::<Value>(),
            Value::Map(m, _) => 64 + m.try_borrow().map_or(0, |m| m.len() * 64),
            Value::Obj(o) => match &**o {
                Obj::Cert { cert, key } => 64 + cert.len() + key.len(),
                _ => 64,
            },
            _ => 0,
        }
    }
}

/// Go's `reflect.DeepEqual` on our values.
pub(super) fn deep_equal(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > super::MAX_DEPTH {
        return false;
    }
    match (a, b) {
        (Value::Missing | Value::Nil, Value::Missing | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Uint8(x), Value::Uint8(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Obj(x), Value::Obj(y)) => x == y,
        (Value::List(x, ex), Value::List(y, ey)) => {
            ex == ey
                && a.is_nil_list() == b.is_nil_list()
                && x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| deep_equal(p, q, depth + 1))
        }
        (Value::Map(x, ex), Value::Map(y, ey)) => {
            if ex != ey || a.is_nil_map() != b.is_nil_map() {
                return false;
            }
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (Ok(x), Ok(y)) = (x.try_borrow(), y.try_borrow()) else {
                return false;
            };
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && deep_equal(v1, v2, depth + 1))
        }
        _ => false,
    }
}

/// Error raised when a value nests too deeply to print.
#[derive(Debug)]
pub(super) struct TooDeep;

/// Go's `fmt.Sprint` of one value (the `%v` verb without flags).
pub(super) fn sprint(v: &Value) -> Result<String, TooDeep> {
    let mut out = String::new();
    write_v(&mut out, v, 0)?;
    Ok(out)
}

pub(super) fn write_v(out: &mut String, v: &Value, depth: usize) -> Result<(), TooDeep> {
    if depth > super::MAX_DEPTH {
        return Err(TooDeep);
    }
    match v {
        Value::Missing => out.push_str("<no value>"),
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Uint8(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Float(f) => out.push_str(&format_float_g(*f, -1, false)),
        Value::Str(s) => out.push_str(s),
        Value::Obj(o) => out.push_str(&o.display()),
        Value::List(l, _) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                // Inside containers a nil interface prints as <nil>.
                if let Value::Missing = item {
                    out.push_str("<nil>");
                } else {
                    write_v(out, item, depth + 1)?;
                }
            }
            out.push(']');
        }
        Value::Map(m, _) => {
            let m = m.try_borrow().map_err(|_| TooDeep)?;
            out.push_str("map[");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if let Value::Missing = item {
                    out.push_str("<nil>");
                } else {
                    write_v(out, item, depth + 1)?;
                }
            }
            out.push(']');
        }
    }
    if out.len() > super::MAX_OUTPUT {
        return Err(TooDeep);
    }
    Ok(())
}

/// Decimal digits and exponent of a finite, non-zero float: `0.d1d2d3 × 10^dp`.
/// `prec < 0` asks for the shortest representation that round-trips.
fn float_digits(f: f64, prec: i32) -> (String, i32) {
    // A double's exact decimal expansion has at most 767 significant digits,
    // so digits past EXACT are zeros (Rust's formatter caps precision).
    const EXACT: usize = 1100;
    let s = if prec < 0 {
        format!("{:e}", f.abs())
    } else {
        format!("{:.*e}", (prec as usize).min(EXACT), f.abs())
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mut digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    if prec >= 0 && prec as usize > EXACT {
        digits.extend(std::iter::repeat_n('0', prec as usize - EXACT));
    }
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

/// strconv.FormatFloat(f, 'e', prec, 64); `prec < 0` is shortest.
pub(super) fn format_float_e(f: f64, prec: i32, upper: bool) -> String {
    if let Some(s) = special_float(f) {
        return s;
    }
    let neg = f.is_sign_negative();
    let (digits, dp) = if f == 0.0 {
        let n = if prec < 0 { 1 } else { prec as usize + 1 };
        ("0".repeat(n), 1)
    } else {
        float_digits(f, prec)
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let exp = dp - 1;
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let ea = exp.unsigned_abs();
    if ea < 10 {
        out.push('0');
    }
    let _ = write!(out, "{ea}");
    out
}

/// strconv.FormatFloat(f, 'f', prec, 64); `prec < 0` is shortest.
pub(super) fn format_float_f(f: f64, prec: i32) -> String {
    if let Some(s) = special_float(f) {
        return s;
    }
    if prec >= 0 {
        // Past 1100 decimals a double's expansion is all zeros.
        let p = prec as usize;
        let mut s = format!("{:.*}", p.min(1100), f);
        if p > 1100 {
            s.extend(std::iter::repeat_n('0', p - 1100));
        }
        return s;
    }
    // Shortest: Rust's Display is the shortest round-trip decimal, never exponent.
    let s = format!("{f}");
    if s == "-0" { "-0".into() } else { s }
}

fn special_float(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        })
    } else {
        None
    }
}

/// strconv.FormatFloat(f, 'g', prec, 64); `prec < 0` is shortest.
pub(super) fn format_float_g(f: f64, prec: i32, upper: bool) -> String {
    if let Some(s) = special_float(f) {
        return s;
    }
    let shortest = prec < 0;
    let mut p = prec;
    if p == 0 {
        p = 1;
    }
    let (digits, dp) = if f == 0.0 {
        ("0".to_string(), 1)
    } else if shortest {
        float_digits(f, -1)
    } else {
        let (d, dp) = float_digits(f, p - 1);
        // Trim trailing zeros as %g does.
        let t = d.trim_end_matches('0');
        (
            if t.is_empty() {
                "0".to_string()
            } else {
                t.to_string()
            },
            dp,
        )
    };
    let nd = digits.len() as i32;
    let mut eprec = if shortest { 6 } else { p };
    if !shortest && eprec > nd && nd >= dp {
        eprec = nd;
    }
    let exp = dp - 1;
    let neg = f.is_sign_negative();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push(if upper { 'E' } else { 'e' });
        out.push(if exp < 0 { '-' } else { '+' });
        let ea = exp.unsigned_abs();
        if ea < 10 {
            out.push('0');
        }
        let _ = write!(out, "{ea}");
        return out;
    }
    // %f with max(nd-dp, 0) decimals.
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..(-dp) {
            out.push('0');
        }
        out.push_str(&digits);
    } else if dp >= nd {
        out.push_str(&digits);
        for _ in 0..(dp - nd) {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

/// Go's `unicode.IsPrint`, approximated without Unicode tables: letters,
/// marks, numbers, punctuation, symbols and ASCII space.
pub(super) fn is_go_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Format characters (Cf), private use, surrogates, noncharacters.
    !matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xFDD0..=0xFDEF | 0xFFFE | 0xFFFF
        | 0xE0001 | 0xE0020..=0xE007F)
}

/// Go's `strconv.Quote`.
pub(super) fn go_quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// Go's `strconv.QuoteToASCII` (`%+q`).
pub(super) fn go_quote_ascii(s: &str) -> String {
    quote_with(s, '"', true)
}

/// Go's `strconv.QuoteRune`.
pub(super) fn go_quote_rune(c: char, ascii: bool) -> String {
    quote_with(&c.to_string(), '\'', ascii)
}

fn quote_with(s: &str, quote: char, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
            out.push(c);
            continue;
        }
        if ascii {
            if c.is_ascii() && is_go_print(c) {
                out.push(c);
                continue;
            }
        } else if is_go_print(c) {
            out.push(c);
            continue;
        }
        match c {
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
    out
}

/// Go's `strconv.Unquote` for `"..."`, `` `...` `` and `'...'` literals.
/// Byte escapes that do not form valid UTF-8 become U+FFFD.
pub(super) fn go_unquote(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 {
        return Err("invalid syntax".into());
    }
    let q = bytes[0];
    if q != bytes[bytes.len() - 1] {
        return Err("invalid syntax".into());
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if inner.contains('`') {
                return Err("invalid syntax".into());
            }
            Ok(inner.replace('\r', ""))
        }
        b'"' | b'\'' => {
            let mut out: Vec<u8> = Vec::new();
            let mut rest = inner;
            let mut count = 0;
            while !rest.is_empty() {
                let (c, tail) = unquote_char(rest, q as char)?;
                match c {
                    Unquoted::Char(c) => {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    Unquoted::Byte(b) => out.push(b),
                }
                count += 1;
                rest = tail;
            }
            if q == b'\'' && count != 1 {
                return Err("invalid syntax".into());
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        _ => Err("invalid syntax".into()),
    }
}

/// One decoded element of a quoted literal.
pub(super) enum Unquoted {
    Char(char),
    /// A `\x` or octal escape: one raw byte.
    Byte(u8),
}

/// Go's `strconv.UnquoteChar`: the first element of `s` and the rest.
pub(super) fn unquote_char(s: &str, quote: char) -> Result<(Unquoted, &str), String> {
    let syntax = || "invalid syntax".to_string();
    let mut chars = s.chars();
    let c = chars.next().ok_or_else(syntax)?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(syntax());
    }
    if c != '\\' {
        return Ok((Unquoted::Char(c), chars.as_str()));
    }
    let e = chars.next().ok_or_else(syntax)?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' => {
            if e != quote {
                return Err(syntax());
            }
            Some(e)
        }
        _ => None,
    };
    if let Some(c) = simple {
        return Ok((Unquoted::Char(c), rest));
    }
    match e {
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            if rest.len() < n
                || !rest.is_char_boundary(n)
                || !rest[..n].bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(syntax());
            }
            let v = u32::from_str_radix(&rest[..n], 16).map_err(|_| syntax())?;
            if e == 'x' {
                if quote == '\'' {
                    let c = char::from_u32(v).ok_or_else(syntax)?;
                    return Ok((Unquoted::Char(c), &rest[n..]));
                }
                return Ok((Unquoted::Byte(v as u8), &rest[n..]));
            }
            let c = char::from_u32(v).ok_or_else(syntax)?;
            Ok((Unquoted::Char(c), &rest[n..]))
        }
        '0'..='7' => {
            if rest.len() < 2 || !rest.is_char_boundary(2) {
                return Err(syntax());
            }
            let digits = format!("{e}{}", &rest[..2]);
            if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(syntax());
            }
            let v = u32::from_str_radix(&digits, 8).map_err(|_| syntax())?;
            if v > 255 {
                return Err(syntax());
            }
            if quote == '\'' {
                let c = char::from_u32(v).ok_or_else(syntax)?;
                return Ok((Unquoted::Char(c), &rest[2..]));
            }
            Ok((Unquoted::Byte(v as u8), &rest[2..]))
        }
        _ => Err(syntax()),
    }
}

/// Go's `encoding/json` encoding. `None` where Go reports an error
/// (NaN, infinities, nesting too deep).
pub(super) fn to_json(v: &Value, indent: Option<&str>, escape_html: bool) -> Option<String> {
    let mut out = String::new();
    json_write(&mut out, v, indent, escape_html, 0)?;
    Some(out)
}

fn json_newline(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn json_write(
    out: &mut String,
    v: &Value,
    indent: Option<&str>,
    html: bool,
    depth: usize,
) -> Option<()> {
    if depth > super::MAX_DEPTH || out.len() > super::MAX_OUTPUT {
        return None;
    }
    match v {
        Value::Missing | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Uint8(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::Str(s) => json_string(out, s, html),
        Value::Obj(o) => match &**o {
            Obj::Time(t) => json_string(
                out,
                &super::gotime::format(t, "2006-01-02T15:04:05.999999999Z07:00"),
                html,
            ),
            Obj::Version(v) | Obj::VersionValue(v) => json_string(out, &v.string(), html),
            Obj::Duration(d) => {
                let _ = write!(out, "{d}");
            }
            Obj::Cert { cert, key } => {
                let m: BTreeMap<String, Value> = [
                    ("Cert".to_owned(), Value::Str(cert.clone())),
                    ("Key".to_owned(), Value::Str(key.clone())),
                ]
                .into_iter()
                .collect();
                let map = Value::Map(Rc::new(RefCell::new(m)), Elem::Str);
                json_write(out, &map, indent, html, depth)?;
            }
        },
        Value::List(..) if v.is_nil_list() => out.push_str("null"),
        Value::Map(..) if v.is_nil_map() => out.push_str("null"),
        Value::List(l, _) => {
            if l.is_empty() {
                out.push_str("[]");
                return Some(());
            }
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_newline(out, indent, depth + 1);
                json_write(out, item, indent, html, depth + 1)?;
            }
            json_newline(out, indent, depth);
            out.push(']');
        }
        Value::Map(m, _) => {
            let m = m.try_borrow().ok()?;
            if m.is_empty() {
                out.push_str("{}");
                return Some(());
            }
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_newline(out, indent, depth + 1);
                json_string(out, k, html);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                json_write(out, item, indent, html, depth + 1)?;
            }
            json_newline(out, indent, depth);
            out.push('}');
        }
    }
    Some(())
}

fn json_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut s = format_float_e(f, -1, false);
        // Go cleans e-09 to e-9.
        let n = s.len();
        let b = s.as_bytes();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
        return Some(s);
    }
    Some(format_float_f(f, -1))
}

fn json_string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go 1.22 and later write \b and \f in short form.
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Unmarshal` into `interface{}`: numbers become float64.
pub(super) fn from_json(s: &str, maps: &mut Vec<MapRef>) -> Result<Value, String> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| json_error_text(&e, s))?;
    let mut budget = 0usize;
    Ok(convert_json(v, maps, &mut budget))
}

/// Words a serde_json syntax error as Go's encoding/json does.
fn json_error_text(e: &serde_json::Error, src: &str) -> String {
    use serde_json::error::Category;
    if e.classify() == Category::Eof {
        return "unexpected end of JSON input".into();
    }
    // Locate the offending character from serde's 1-based line and column.
    let line_start: usize = src
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let offset = line_start + e.column().saturating_sub(1);
    let c = src.get(offset..).and_then(|r| r.chars().next());
    let Some(c) = c else {
        return "unexpected end of JSON input".into();
    };
    // Go's quoteChar works on the offending byte.
    let shown = match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        c if c.is_ascii() => {
            let q = go_quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
        c => {
            let mut buf = [0u8; 4];
            format!("'\\x{:02x}'", c.encode_utf8(&mut buf).as_bytes()[0])
        }
    };
    let msg = e.to_string();
    let context = if msg.starts_with("trailing characters") {
        "after top-level value"
    } else if msg.starts_with("expected `,` or `}`") {
        "after object key:value pair"
    } else if msg.starts_with("expected `:`") {
        "after object key"
    } else if msg.starts_with("expected `,` or `]`") {
        "after array element"
    } else if msg.starts_with("key must be a string") {
        "looking for beginning of object key string"
    } else if msg.starts_with("invalid escape") {
        "in string escape code"
    } else if msg.starts_with("control character") {
        "in string literal"
    } else {
        "looking for beginning of value"
    };
    format!("invalid character {shown} {context}")
}

fn convert_json(v: serde_json::Value, maps: &mut Vec<MapRef>, budget: &mut usize) -> Value {
    *budget += 1;
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(a) => Value::list(
            a.into_iter()
                .map(|x| convert_json(x, maps, budget))
                .collect(),
        ),
        serde_json::Value::Object(o) => {
            let m: BTreeMap<String, Value> = o
                .into_iter()
                .map(|(k, x)| (k, convert_json(x, maps, budget)))
                .collect();
            let r = Rc::new(RefCell::new(m));
            maps.push(r.clone());
            Value::Map(r, Elem::Any)
        }
    }
}
