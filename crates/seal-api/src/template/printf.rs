//! Go's `fmt.Sprintf`, `fmt.Sprint` and `fmt.Sprintln` over [`Value`]s.

use std::fmt::Write as _;

use super::value::{
    TooDeep, Value, format_float_e, format_float_f, format_float_g, go_quote, go_quote_ascii,
    go_quote_rune, is_go_print,
};

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
    sharp_v: bool,
    plus_v: bool,
}

/// Widths and precisions beyond this are refused rather than allocated.
const MAX_WIDTH: usize = 1 << 20;

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value]) -> Result<String, TooDeep> {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        print_arg(&mut out, a, 'v', Flags::default(), 0)?;
        prev_string = is_string;
    }
    Ok(out)
}

/// Go's `fmt.Sprintln`.
pub(super) fn sprintln(args: &[Value]) -> Result<String, TooDeep> {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_arg(&mut out, a, 'v', Flags::default(), 0)?;
    }
    out.push('\n');
    Ok(out)
}

/// Go's `fmt.Sprintf`.
pub(super) fn sprintf(format: &str, args: &[Value]) -> Result<String, TooDeep> {
    let mut out = String::new();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let b = format.as_bytes();
    let mut i = 0;
    let end = b.len();
    while i < end {
        let start = i;
        while i < end && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= end {
            break;
        }
        i += 1; // skip %
        let mut f = Flags::default();
        // Flags.
        while i < end {
            match b[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = !f.minus,
                b'+' => f.plus = true,
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b' ' => f.space = true,
                _ => break,
            }
            i += 1;
        }
        // Argument index [n].
        let mut good_arg_num = true;
        (arg_num, i, good_arg_num, reordered) =
            arg_number(arg_num, format, i, args.len(), good_arg_num, reordered);
        // Width.
        if i < end && b[i] == b'*' {
            i += 1;
            match args.get(arg_num) {
                Some(Value::Int(n) | Value::Int64(n)) => {
                    let mut n = *n;
                    if n < 0 {
                        f.minus = true;
                        f.zero = false;
                        n = -n;
                    }
                    if n as usize > MAX_WIDTH {
                        return Err(TooDeep);
                    }
                    f.width = Some(n as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            arg_num += 1;
        } else {
            let (w, ni) = parse_num(b, i);
            if let Some(w) = w {
                if w > MAX_WIDTH {
                    return Err(TooDeep);
                }
                f.width = Some(w);
            }
            i = ni;
        }
        // Precision.
        if i < end && b[i] == b'.' {
            i += 1;
            (arg_num, i, good_arg_num, reordered) =
                arg_number(arg_num, format, i, args.len(), good_arg_num, reordered);
            if i < end && b[i] == b'*' {
                i += 1;
                match args.get(arg_num) {
                    Some(Value::Int(n) | Value::Int64(n)) if *n >= 0 => {
                        if *n as usize > MAX_WIDTH {
                            return Err(TooDeep);
                        }
                        f.prec = Some(*n as usize);
                    }
                    Some(Value::Int(_) | Value::Int64(_)) => {}
                    _ => out.push_str("%!(BADPREC)"),
                }
                arg_num += 1;
            } else {
                let (p, ni) = parse_num(b, i);
                if p.is_some_and(|p| p > MAX_WIDTH) {
                    return Err(TooDeep);
                }
                f.prec = Some(p.unwrap_or(0));
                i = ni;
            }
        }
        if !reordered || good_arg_num {
            (arg_num, i, good_arg_num, reordered) =
                arg_number(arg_num, format, i, args.len(), good_arg_num, reordered);
        }
        if i >= end {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('%');
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !good_arg_num {
            let _ = write!(out, "%!{verb}(BADINDEX)");
            continue;
        }
        if arg_num >= args.len() {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        }
        if verb == 'v' {
            if f.sharp {
                f.sharp = false;
                f.sharp_v = true;
            }
            if f.plus {
                f.plus = false;
                f.plus_v = true;
            }
        }
        print_arg(&mut out, &args[arg_num], verb, f, 0)?;
        arg_num += 1;
        if out.len() > super::MAX_OUTPUT {
            return Err(TooDeep);
        }
    }
    if !reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            if a.is_nilish() {
                out.push_str("<nil>");
            } else {
                out.push_str(&a.type_name());
                out.push('=');
                print_arg(&mut out, a, 'v', Flags::default(), 0)?;
            }
        }
        out.push(')');
    }
    Ok(out)
}

fn parse_num(b: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        if n > 1_000_000_000 {
            return (Some(usize::MAX), i);
        }
        n = n * 10 + usize::from(b[i] - b'0');
        i += 1;
    }
    if i == start { (None, i) } else { (Some(n), i) }
}

/// Go's `argNumber`: handles an explicit `[n]` index.
fn arg_number(
    arg_num: usize,
    format: &str,
    i: usize,
    num_args: usize,
    good: bool,
    reordered: bool,
) -> (usize, usize, bool, bool) {
    let b = format.as_bytes();
    if i >= b.len() || b[i] != b'[' {
        return (arg_num, i, good, reordered);
    }
    for j in i + 1..b.len() {
        if b[j] == b']' {
            let (n, ni) = parse_num(b, i + 1);
            if ni != j {
                return (arg_num, j + 1, false, true);
            }
            return match n {
                Some(n) if n >= 1 && n <= num_args => (n - 1, j + 1, true, true),
                _ => (arg_num, j + 1, false, true),
            };
        }
    }
    (arg_num, i + 1, false, true)
}

fn pad(out: &mut String, s: &str, f: Flags) {
    let Some(width) = f.width else {
        out.push_str(s);
        return;
    };
    let n = s.chars().count();
    if n >= width {
        out.push_str(s);
        return;
    }
    let padc = if f.zero && !f.minus { '0' } else { ' ' };
    if f.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', width - n));
    } else {
        out.extend(std::iter::repeat_n(padc, width - n));
        out.push_str(s);
    }
}

fn bad_verb(out: &mut String, v: &Value, verb: char, depth: usize) -> Result<(), TooDeep> {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if v.is_nilish() {
        out.push_str("<nil>");
    } else {
        out.push_str(&v.type_name());
        out.push('=');
        print_arg(out, v, 'v', Flags::default(), depth + 1)?;
    }
    out.push(')');
    Ok(())
}

fn print_arg(
    out: &mut String,
    v: &Value,
    verb: char,
    f: Flags,
    depth: usize,
) -> Result<(), TooDeep> {
    if depth > super::MAX_DEPTH || out.len() > super::MAX_OUTPUT {
        return Err(TooDeep);
    }
    if verb == 'T' {
        pad(out, &v.type_name(), f);
        return Ok(());
    }
    match v {
        Value::Missing | Value::Nil => match verb {
            'v' => pad(out, "<nil>", f),
            _ => bad_verb(out, v, verb, depth)?,
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, f),
            _ => bad_verb(out, v, verb, depth)?,
        },
        Value::Int(n) | Value::Int64(n) => fmt_integer(out, v, *n, verb, f, depth)?,
        Value::Float(x) => fmt_float(out, v, *x, verb, f, depth)?,
        Value::Str(s) => fmt_string(out, v, s, verb, f, depth)?,
        Value::List(items, _) => {
            if f.sharp_v {
                out.push_str(&v.type_name());
                out.push('{');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    print_arg(out, item, verb, f, depth + 1)?;
                }
                out.push('}');
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print_arg(out, item, verb, f, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(m, _) => {
            let m = m.try_borrow().map_err(|_| TooDeep)?;
            if f.sharp_v {
                out.push_str(&v.type_name());
                out.push('{');
                for (i, (k, item)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&go_quote(k));
                    out.push(':');
                    print_arg(out, item, verb, f, depth + 1)?;
                }
                out.push('}');
                return Ok(());
            }
            out.push_str("map[");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_string(out, &Value::str(k.as_str()), k, verb, f, depth + 1)?;
                out.push(':');
                print_arg(out, item, verb, f, depth + 1)?;
            }
            out.push(']');
        }
    }
    Ok(())
}

fn fmt_string(
    out: &mut String,
    v: &Value,
    s: &str,
    verb: char,
    f: Flags,
    depth: usize,
) -> Result<(), TooDeep> {
    match verb {
        'v' if f.sharp_v => pad(out, &go_quote(s), f),
        'v' | 's' => {
            let s = match f.prec {
                Some(p) => s.chars().take(p).collect::<String>(),
                None => s.to_string(),
            };
            pad(out, &s, f);
        }
        'x' | 'X' => {
            let bytes = s.as_bytes();
            let bytes = match f.prec {
                Some(p) if p < bytes.len() => &bytes[..p],
                _ => bytes,
            };
            let mut h = String::new();
            for (i, byte) in bytes.iter().enumerate() {
                if f.space && i > 0 {
                    h.push(' ');
                }
                if f.sharp && (f.space || i == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    let _ = write!(h, "{byte:02x}");
                } else {
                    let _ = write!(h, "{byte:02X}");
                }
            }
            pad(out, &h, f);
        }
        'q' => {
            if f.sharp
                && !s.contains('`')
                && s.chars()
                    .all(|c| c == '\t' || (is_go_print(c) && c != '\u{FEFF}'))
            {
                pad(out, &format!("`{s}`"), f);
            } else if f.plus {
                pad(out, &go_quote_ascii(s), f);
            } else {
                pad(out, &go_quote(s), f);
            }
        }
        _ => bad_verb(out, v, verb, depth)?,
    }
    Ok(())
}

fn fmt_integer(
    out: &mut String,
    v: &Value,
    n: i64,
    verb: char,
    f: Flags,
    depth: usize,
) -> Result<(), TooDeep> {
    let (base, upper) = match verb {
        'v' | 'd' => (10, false),
        'b' => (2, false),
        'o' | 'O' => (8, false),
        'x' => (16, false),
        'X' => (16, true),
        'c' => {
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            pad(out, &c.to_string(), f);
            return Ok(());
        }
        'q' => {
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            if f.sharp && c != '`' && is_go_print(c) {
                pad(out, &format!("`{c}`"), f);
            } else {
                pad(out, &go_quote_rune(c, f.plus), f);
            }
            return Ok(());
        }
        'U' => {
            let mut s = format!("U+{:04X}", n);
            if let Some(c) = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .filter(|c| f.sharp && is_go_print(*c))
            {
                let _ = write!(s, " '{c}'");
            }
            pad(out, &s, f);
            return Ok(());
        }
        _ => {
            return bad_verb(out, v, verb, depth);
        }
    };
    let neg = n < 0;
    let u = n.unsigned_abs();
    let mut digits = match base {
        2 => format!("{u:b}"),
        8 => format!("{u:o}"),
        16 if upper => format!("{u:X}"),
        16 => format!("{u:x}"),
        _ => u.to_string(),
    };
    // Precision is the minimum number of digits; zero padding turns into it.
    let mut prec = f.prec;
    if let Some(w) = f.width.filter(|_| prec.is_none() && f.zero && !f.minus) {
        let mut p = w;
        if neg || f.plus || f.space {
            p = p.saturating_sub(1);
        }
        prec = Some(p);
    }
    if let Some(p) = prec {
        if p == 0 && u == 0 && f.prec.is_some() {
            let mut f2 = f;
            f2.zero = false;
            pad(out, "", f2);
            return Ok(());
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    if f.sharp {
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
    if neg {
        digits.insert(0, '-');
    } else if f.plus {
        digits.insert(0, '+');
    } else if f.space {
        digits.insert(0, ' ');
    }
    let mut f2 = f;
    if f.prec.is_some() || f.zero {
        // Go pads with spaces once precision handled the zeros.
        f2.zero = false;
    }
    pad(out, &digits, f2);
    Ok(())
}

fn fmt_float(
    out: &mut String,
    v: &Value,
    x: f64,
    verb: char,
    f: Flags,
    depth: usize,
) -> Result<(), TooDeep> {
    let prec = f.prec.map(|p| p as i32);
    let mut s = match verb {
        'v' => format_float_g(x, prec.unwrap_or(-1), false),
        'g' => format_float_g(x, prec.unwrap_or(-1), false),
        'G' => format_float_g(x, prec.unwrap_or(-1), true),
        'e' => format_float_e(x, prec.unwrap_or(6), false),
        'E' => format_float_e(x, prec.unwrap_or(6), true),
        'f' | 'F' => format_float_f(x, prec.unwrap_or(6)),
        _ => return bad_verb(out, v, verb, depth),
    };
    if x.is_infinite() || x.is_nan() {
        let mut f2 = f;
        f2.zero = false;
        if x.is_nan() && !f.plus && !f.space {
            s = "NaN".into();
        } else if x.is_nan() {
            s = if f.plus { "+NaN".into() } else { " NaN".into() };
        } else if x > 0.0 && !f.plus {
            s = if f.space { " Inf".into() } else { "Inf".into() };
        }
        pad(out, &s, f2);
        return Ok(());
    }
    if f.plus && !s.starts_with('-') {
        s.insert(0, '+');
    } else if f.space && !s.starts_with('-') {
        s.insert(0, ' ');
    }
    if f.zero && !f.minus {
        if let Some(w) = f.width {
            let n = s.chars().count();
            if n < w {
                let sign = if s.starts_with(['-', '+', ' ']) { 1 } else { 0 };
                let zeros = "0".repeat(w - n);
                s.insert_str(sign, &zeros);
            }
        }
        out.push_str(&s);
        return Ok(());
    }
    pad(out, &s, f);
    Ok(())
}
