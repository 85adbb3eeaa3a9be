//! Go's `fmt.Sprintf`, `fmt.Sprint` and `fmt.Sprintln` over [`Value`]s: a
//! port of `fmt/print.go` and `fmt/format.go` for the types templates see.

use std::fmt::Write as _;

use super::value::{
    TooDeep, Value, format_float_e, format_float_f, format_float_g, go_quote, go_quote_ascii,
    go_quote_rune, is_go_print,
};

/// Widths and precisions beyond this are refused rather than allocated.
const MAX_WIDTH: usize = 1 << 20;

#[derive(Default, Clone, Copy)]
struct Fmt {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: usize,
    prec: usize,
}

struct Printer {
    buf: String,
    f: Fmt,
}

type Res = Result<(), TooDeep>;

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value]) -> Result<String, TooDeep> {
    let mut p = Printer {
        buf: String::new(),
        f: Fmt::default(),
    };
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v')?;
        prev_string = is_string;
    }
    Ok(p.buf)
}

/// Go's `fmt.Sprintln`.
pub(super) fn sprintln(args: &[Value]) -> Result<String, TooDeep> {
    let mut p = Printer {
        buf: String::new(),
        f: Fmt::default(),
    };
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v')?;
    }
    p.buf.push('\n');
    Ok(p.buf)
}

/// Go's `fmt.Sprintf`.
pub(super) fn sprintf(format: &str, args: &[Value]) -> Result<String, TooDeep> {
    let mut p = Printer {
        buf: String::new(),
        f: Fmt::default(),
    };
    p.do_printf(format, args)?;
    Ok(p.buf)
}

/// Go's `parsenum`: digits at `start..end`, `None` if there are none.
fn parse_num(s: &[u8], start: usize, end: usize) -> (Option<usize>, usize) {
    let mut i = start;
    let mut num: usize = 0;
    let mut found = false;
    while i < end && s[i].is_ascii_digit() {
        if num > 1_000_000 {
            return (None, end); // Go's tooLarge: treated as absent.
        }
        num = num * 10 + usize::from(s[i] - b'0');
        found = true;
        i += 1;
    }
    (found.then_some(num), i)
}

/// Go's `intFromArg`: an integer argument for `*`.
fn int_from_arg(a: &[Value], arg_num: usize) -> (i64, bool, usize) {
    match a.get(arg_num) {
        Some(v) => match v.as_int() {
            Some(n) if n.unsigned_abs() <= 1_000_000 => (n, true, arg_num + 1),
            _ => (0, false, arg_num + 1),
        },
        None => (0, false, arg_num),
    }
}

impl Printer {
    fn check(&self) -> Res {
        if self.buf.len() > super::MAX_OUTPUT {
            Err(TooDeep)
        } else {
            Ok(())
        }
    }

    /// Go's `argNumber`: returns (argNum, i, found) and may clear `good`.
    fn arg_number(
        &self,
        arg_num: usize,
        format: &[u8],
        i: usize,
        num_args: usize,
        good: &mut bool,
        reordered: &mut bool,
    ) -> (usize, usize, bool) {
        if format.len() <= i || format[i] != b'[' {
            return (arg_num, i, false);
        }
        *reordered = true;
        let f = &format[i..];
        // parseArgNumber
        let (index, wid, ok) = 'parse: {
            if f.len() < 3 {
                break 'parse (0usize, 1usize, false);
            }
            for j in 1..f.len() {
                if f[j] == b']' {
                    let (n, newi) = parse_num(f, 1, j);
                    match n {
                        Some(n) if newi == j => break 'parse (n.wrapping_sub(1), j + 1, n >= 1),
                        _ => break 'parse (0, j + 1, false),
                    }
                }
            }
            (0, 1, false)
        };
        if ok && index < num_args {
            return (index, i + wid, true);
        }
        *good = false;
        (arg_num, i + wid, ok)
    }

    fn do_printf(&mut self, format: &str, a: &[Value]) -> Res {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut after_index;
        let mut reordered = false;
        let mut i = 0;
        'format_loop: while i < end {
            let mut good = true;
            let lasti = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Fmt::default();
            while i < end {
                let c = fb[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        if c.is_ascii_lowercase() && arg_num < a.len() {
                            if c == b'v' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            self.print_arg(&a[arg_num], char::from(c))?;
                            arg_num += 1;
                            i += 1;
                            continue 'format_loop;
                        }
                        break;
                    }
                }
                i += 1;
            }
            (arg_num, i, after_index) =
                self.arg_number(arg_num, fb, i, a.len(), &mut good, &mut reordered);
            if i < end && fb[i] == b'*' {
                i += 1;
                let (w, ok, n) = int_from_arg(a, arg_num);
                arg_num = n;
                self.f.wid_present = ok;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                if w < 0 {
                    self.f.minus = true;
                    self.f.zero = false;
                }
                self.f.wid = w.unsigned_abs() as usize;
                after_index = false;
            } else {
                let (w, ni) = parse_num(fb, i, end);
                i = ni;
                self.f.wid_present = w.is_some();
                self.f.wid = w.unwrap_or(0);
                if after_index && self.f.wid_present {
                    good = false;
                }
            }
            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    good = false;
                }
                (arg_num, i, after_index) =
                    self.arg_number(arg_num, fb, i, a.len(), &mut good, &mut reordered);
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (p, ok, n) = int_from_arg(a, arg_num);
                    arg_num = n;
                    self.f.prec_present = ok && p >= 0;
                    self.f.prec = if p < 0 { 0 } else { p as usize };
                    if !self.f.prec_present {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, ni) = parse_num(fb, i, end);
                    i = ni;
                    self.f.prec_present = true;
                    self.f.prec = p.unwrap_or(0);
                }
            }
            if self.f.wid > MAX_WIDTH || self.f.prec > MAX_WIDTH {
                return Err(TooDeep);
            }
            if !after_index {
                (arg_num, i, _) =
                    self.arg_number(arg_num, fb, i, a.len(), &mut good, &mut reordered);
            }
            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('%');
            i += verb.len_utf8();
            if verb == '%' {
                self.buf.push('%');
            } else if !good {
                let _ = write!(self.buf, "%!{verb}(BADINDEX)");
            } else if arg_num >= a.len() {
                let _ = write!(self.buf, "%!{verb}(MISSING)");
            } else {
                if verb == 'v' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                self.print_arg(&a[arg_num], verb)?;
                arg_num += 1;
            }
            self.check()?;
        }
        if !reordered && arg_num < a.len() {
            self.f = Fmt::default();
            self.buf.push_str("%!(EXTRA ");
            for (k, arg) in a[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.buf.push_str(", ");
                }
                if arg.is_nilish() {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(&arg.type_name());
                    self.buf.push('=');
                    self.print_arg(arg, 'v')?;
                }
            }
            self.buf.push(')');
        }
        Ok(())
    }

    // ----- format.go -----

    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(s.chars().count());
        if !self.f.minus {
            self.write_padding(width);
            self.buf.push_str(s);
        } else {
            self.buf.push_str(s);
            self.write_padding(width);
        }
    }

    fn fmt_boolean(&mut self, v: bool) {
        self.pad(if v { "true" } else { "false" });
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut s = String::new();
        let prec = if self.f.prec_present && self.f.prec > 4 {
            self.f.prec
        } else {
            4
        };
        let hex = format!("{u:X}");
        s.push_str("U+");
        for _ in hex.len()..prec {
            s.push('0');
        }
        s.push_str(&hex);
        if self.f.sharp
            && let Some(c) = u32::try_from(u)
                .ok()
                .and_then(char::from_u32)
                .filter(|c| is_go_print(*c))
        {
            let _ = write!(s, " '{c}'");
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_integer(&mut self, v: i64, is_signed: bool, base: u32, verb: char, upper: bool) {
        let negative = is_signed && v < 0;
        let u = if negative { v.unsigned_abs() } else { v as u64 };
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut digits = match base {
            2 => format!("{u:b}"),
            8 => format!("{u:o}"),
            16 if upper => format!("{u:X}"),
            16 => format!("{u:x}"),
            _ => u.to_string(),
        };
        if digits.len() < prec {
            digits.insert_str(0, &"0".repeat(prec - digits.len()));
        }
        if self.f.sharp {
            match base {
                2 => digits.insert_str(0, "0b"),
                8 if !digits.starts_with('0') => digits.insert(0, '0'),
                16 => digits.insert_str(0, if upper { "0X" } else { "0x" }),
                _ => {}
            }
        }
        if verb == 'O' {
            digits.insert_str(0, "0o");
        }
        if negative {
            digits.insert(0, '-');
        } else if self.f.plus {
            digits.insert(0, '+');
        } else if self.f.space {
            digits.insert(0, ' ');
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&digits);
        self.f.zero = old;
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present {
            match s.char_indices().nth(self.f.prec) {
                Some((i, _)) => &s[..i],
                None => s,
            }
        } else {
            s
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s).to_string();
        self.pad(&s);
    }

    fn fmt_sx(&mut self, s: &str, upper: bool) {
        let b = s.as_bytes();
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        let x = if upper { "0X" } else { "0x" };
        if self.f.sharp {
            self.buf.push_str(x);
        }
        for (i, c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push_str(x);
                }
            }
            if upper {
                let _ = write!(self.buf, "{c:02X}");
            } else {
                let _ = write!(self.buf, "{c:02x}");
            }
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s).to_string();
        if self.f.sharp && can_backquote(&s) {
            self.pad(&format!("`{s}`"));
            return;
        }
        let q = if self.f.plus {
            go_quote_ascii(&s)
        } else {
            go_quote(&s)
        };
        self.pad(&q);
    }

    fn fmt_c(&mut self, c: u64) {
        let r = u32::try_from(c)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}');
        self.pad(&r.to_string());
    }

    fn fmt_qc(&mut self, c: u64) {
        let r = u32::try_from(c)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}');
        let q = go_quote_rune(r, self.f.plus);
        self.pad(&q);
    }

    fn fmt_float(&mut self, v: f64, verb: char, default_prec: i32) {
        let prec = if self.f.prec_present {
            self.f.prec as i32
        } else {
            default_prec
        };
        let body = match verb {
            'e' | 'E' => format_float_e(v, prec, verb == 'E'),
            'f' => format_float_f(v, prec),
            'g' | 'G' => format_float_g(v, prec, verb == 'G'),
            'b' => format_float_b(v),
            _ => format_float_x(v, prec, verb == 'X'),
        };
        // Go's num always carries a sign in num[0].
        let mut num = if body.starts_with('-') || body.starts_with('+') {
            body
        } else {
            format!("+{body}")
        };
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        let second = num.as_bytes().get(1).copied();
        if second == Some(b'I') || second == Some(b'N') {
            let old = self.f.zero;
            self.f.zero = false;
            if second == Some(b'N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&num);
            self.f.zero = old;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i32 = match verb {
                'v' | 'g' | 'G' | 'x' => {
                    if prec == -1 {
                        6
                    } else {
                        prec
                    }
                }
                _ => 0,
            };
            let mut tail = String::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let bytes: Vec<u8> = num.bytes().collect();
            let mut cut = bytes.len();
            for (i, &c) in bytes.iter().enumerate().skip(1) {
                match c {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail = num[i..].to_string();
                        cut = i;
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail = num[i..].to_string();
                        cut = i;
                        break;
                    }
                    _ => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
            }
            num.truncate(cut);
            if !has_point {
                if num.len() == 2 && num.as_bytes()[1] == b'0' {
                    digits -= 1;
                }
                num.push('.');
            }
            while digits > 0 {
                num.push('0');
                digits -= 1;
            }
            num.push_str(&tail);
        }
        if self.f.plus || !num.starts_with('+') {
            let n = num.chars().count();
            if self.f.zero && self.f.wid_present && self.f.wid > n {
                let (sign, rest) = num.split_at(1);
                self.buf.push_str(sign);
                self.write_padding(self.f.wid - n);
                self.buf.push_str(rest);
                return;
            }
            self.pad(&num);
            return;
        }
        let rest = num[1..].to_string();
        self.pad(&rest);
    }

    // ----- print.go -----

    fn bad_verb(&mut self, v: &Value, verb: char, depth: usize) -> Res {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if v.is_nilish() {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(&v.type_name());
            self.buf.push('=');
            self.print_value(v, 'v', depth)?;
        }
        self.buf.push(')');
        Ok(())
    }

    fn print_arg(&mut self, v: &Value, verb: char) -> Res {
        if v.is_nilish() {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(v, verb, 0)?,
            }
            return Ok(());
        }
        if verb == 'T' {
            let t = v.type_name();
            self.fmt_s(&t);
            return Ok(());
        }
        self.print_value(v, verb, 0)
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) -> Res {
        if depth > super::MAX_DEPTH {
            return Err(TooDeep);
        }
        self.check()?;
        match v {
            Value::Missing | Value::Nil => {
                if self.f.sharp_v && depth > 0 {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.fmt_boolean(*b),
                _ => self.bad_verb(v, verb, depth)?,
            },
            Value::Int(n) | Value::Int64(n) => self.print_integer(v, *n, true, verb, depth)?,
            Value::Uint8(b) => self.print_integer(v, i64::from(*b), false, verb, depth)?,
            Value::Float(x) => match verb {
                'v' => self.fmt_float(*x, 'g', -1),
                'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(*x, verb, -1),
                'f' | 'e' | 'E' => self.fmt_float(*x, verb, 6),
                'F' => self.fmt_float(*x, 'f', 6),
                _ => self.bad_verb(v, verb, depth)?,
            },
            Value::Str(s) => match verb {
                'v' if self.f.sharp_v => self.fmt_q(s),
                'v' | 's' => self.fmt_s(s),
                'x' => self.fmt_sx(s, false),
                'X' => self.fmt_sx(s, true),
                'q' => self.fmt_q(s),
                _ => self.bad_verb(v, verb, depth)?,
            },
            Value::Obj(o) => {
                // Go calls String() for the string verbs; our objects all
                // print through it (or as `{Cert Key}`).
                let s = o.display();
                match verb {
                    'v' if self.f.sharp_v => self.fmt_q(&s),
                    'v' | 's' => self.fmt_s(&s),
                    'x' => self.fmt_sx(&s, false),
                    'X' => self.fmt_sx(&s, true),
                    'q' => self.fmt_q(&s),
                    _ => self.bad_verb(v, verb, depth)?,
                }
            }
            Value::List(items, _) => {
                if self.f.sharp_v {
                    self.buf.push_str(&v.type_name());
                    if v.is_nil_list() {
                        self.buf.push_str("(nil)");
                        return Ok(());
                    }
                    self.buf.push('{');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_value(item, verb, depth + 1)?;
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.print_value(item, verb, depth + 1)?;
                    }
                    self.buf.push(']');
                }
            }
            Value::Map(m, _) => {
                let entries: Vec<(String, Value)> = m
                    .try_borrow()
                    .map_err(|_| TooDeep)?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if self.f.sharp_v {
                    self.buf.push_str(&v.type_name());
                    if v.is_nil_map() {
                        self.buf.push_str("(nil)");
                        return Ok(());
                    }
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                for (i, (k, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.buf.push_str(", ");
                        } else {
                            self.buf.push(' ');
                        }
                    }
                    self.print_value(&Value::str(k.as_str()), verb, depth + 1)?;
                    self.buf.push(':');
                    self.print_value(item, verb, depth + 1)?;
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
        }
        Ok(())
    }

    fn print_integer(&mut self, v: &Value, n: i64, signed: bool, verb: char, depth: usize) -> Res {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let old = self.f.sharp;
                self.f.sharp = true;
                self.fmt_integer(n, false, 16, 'v', false);
                self.f.sharp = old;
            }
            'v' | 'd' => self.fmt_integer(n, signed, 10, verb, false),
            'b' => self.fmt_integer(n, signed, 2, verb, false),
            'o' | 'O' => self.fmt_integer(n, signed, 8, verb, false),
            'x' => self.fmt_integer(n, signed, 16, verb, false),
            'X' => self.fmt_integer(n, signed, 16, verb, true),
            'c' => self.fmt_c(n as u64),
            'q' => self.fmt_qc(n as u64),
            'U' => self.fmt_unicode(n as u64),
            _ => self.bad_verb(v, verb, depth)?,
        }
        Ok(())
    }
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c == '\t' || (c != '`' && c != '\u{FEFF}' && is_go_print(c) && !c.is_control()))
}

/// strconv's `%b` for float64: `mantissa p exponent`.
fn format_float_b(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    let mut exp = ((bits >> 52) & 0x7FF) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp += -1023 - 52;
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let _ = write!(s, "{mant}p");
    if exp >= 0 {
        s.push('+');
    }
    let _ = write!(s, "{exp}");
    s
}

/// strconv's `%x`/`%X` for float64: hexadecimal mantissa and binary exponent.
fn format_float_x(v: f64, prec: i32, upper: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    let mut exp = ((bits >> 52) & 0x7FF) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push('0');
    s.push(if upper { 'X' } else { 'x' });
    s.push(char::from(b'0' + ((mant >> 60) & 1) as u8));
    mant <<= 4;
    if prec < 0 && mant != 0 {
        s.push('.');
        while mant != 0 {
            s.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    } else if prec > 0 {
        s.push('.');
        for _ in 0..prec {
            s.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    }
    s.push(if upper { 'P' } else { 'p' });
    s.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        s.push('0');
    }
    let _ = write!(s, "{e}");
    s
}
