//! text/template's builtins and Sprig v3's generic functions.
//!
//! Each function declares Go's parameter types so that argument checking and
//! its error texts follow Go. Dates, randomness, key material, semver, URLs
//! and word case live in `more`.

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine as _;
use sha2::Digest as _;

use super::exec::{Exec, FnErr};
use super::printf;
use super::value::{Elem, Obj, Value, deep_equal, from_json, go_quote, sprint, to_json};
use super::{MAX_BCRYPT, MAX_OUTPUT};

/// A Go parameter type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum T {
    /// `interface {}`
    Any,
    /// `reflect.Value`: receives invalid values as they are.
    RV,
    Str,
    Int,
    Float,
    Bool,
    /// `map[string]interface {}`
    MapSI,
    /// `[]interface {}`
    ListAny,
    /// `uint32`
    Uint32,
    /// `time.Time`
    Time,
    /// Sprig's `certificate`
    Cert,
}

impl T {
    pub(super) fn name(self) -> &'static str {
        match self {
            T::Any => "interface {}",
            T::RV => "reflect.Value",
            T::Str => "string",
            T::Int => "int",
            T::Float => "float64",
            T::Bool => "bool",
            T::MapSI => "map[string]interface {}",
            T::ListAny => "[]interface {}",
            T::Uint32 => "uint32",
            T::Time => "time.Time",
            T::Cert => "sprig.certificate",
        }
    }
}

type FResult = Result<Value, FnErr>;
type Imp = fn(&mut Exec<'_>, Vec<Value>) -> FResult;

/// A callable function: Go's signature and our implementation.
pub(super) struct Func {
    pub params: &'static [T],
    pub variadic: Option<T>,
    pub imp: Imp,
}

/// True if `name` is a function a template may call (Go checks at parse time).
pub(super) fn is_defined(name: &str) -> bool {
    lookup(name).is_some()
}

pub(super) fn f(params: &'static [T], variadic: Option<T>, imp: Imp) -> Option<Func> {
    Some(Func {
        params,
        variadic,
        imp,
    })
}

/// Finds a function by name. Sprig's definitions shadow the builtins
/// (only `slice` is in both). `env`, `expandenv` and `getHostByName` are
/// deliberately absent.
pub(super) fn lookup(name: &str) -> Option<Func> {
    use T::*;
    match name {
        // --- text/template builtins ---
        "and" | "or" => f(&[RV], Some(RV), |_, _| Ok(Value::Missing)),
        "not" => f(&[RV], None, |_, a| Ok(Value::Bool(!a[0].truth()))),
        "len" => f(&[RV], None, builtin_len),
        "index" => f(&[RV], Some(RV), builtin_index),
        "print" => f(&[], Some(Any), |_, a| Ok(Value::str(printf::sprint(&a)?))),
        "println" => f(&[], Some(Any), |_, a| Ok(Value::str(printf::sprintln(&a)?))),
        "printf" => f(&[Str], Some(Any), |_, a| {
            Ok(Value::str(printf::sprintf(&s(&a[0]), &a[1..])?))
        }),
        "eq" => f(&[RV], Some(RV), builtin_eq),
        "ne" => f(&[RV, RV], None, |_, a| {
            Ok(Value::Bool(!eq(&a[0], &a[1..])?))
        }),
        "lt" => f(&[RV, RV], None, |_, a| Ok(Value::Bool(lt(&a[0], &a[1])?))),
        "le" => f(&[RV, RV], None, |_, a| Ok(Value::Bool(le(&a[0], &a[1])?))),
        "gt" => f(&[RV, RV], None, |_, a| Ok(Value::Bool(!le(&a[0], &a[1])?))),
        "ge" => f(&[RV, RV], None, |_, a| Ok(Value::Bool(!lt(&a[0], &a[1])?))),
        "html" => f(&[], Some(Any), |_, a| {
            Ok(Value::str(html_escape(&eval_args(&a)?)))
        }),
        "js" => f(&[], Some(Any), |_, a| {
            Ok(Value::str(js_escape(&eval_args(&a)?)))
        }),
        "urlquery" => f(&[], Some(Any), |_, a| {
            Ok(Value::str(query_escape(&eval_args(&a)?)))
        }),
        "call" => f(&[RV], Some(RV), |_, a| {
            Err(match &a[0] {
                Value::Missing | Value::Nil => "call of nil".into(),
                v => format!("non-function of type {}", v.type_name()).into(),
            })
        }),

        // --- Sprig: strings ---
        "hello" => f(&[], None, |_, _| Ok(Value::str("Hello!"))),
        "abbrev" => f(&[Int, Str], None, |_, a| {
            Ok(Value::str(abbrev(i(&a[0]), &s(&a[1]))))
        }),
        "abbrevboth" => f(&[Int, Int, Str], None, |_, a| {
            Ok(Value::str(abbrevboth(i(&a[0]), i(&a[1]), &s(&a[2]))))
        }),
        "trunc" => f(&[Int, Str], None, |_, a| {
            Ok(Value::str(trunc(i(&a[0]), &s(&a[1]))))
        }),
        "trim" => f(&[Str], None, |_, a| Ok(Value::str(s(&a[0]).trim()))),
        "upper" => f(&[Str], None, |_, a| {
            Ok(Value::str(map_case(&s(&a[0]), true)))
        }),
        "lower" => f(&[Str], None, |_, a| {
            Ok(Value::str(map_case(&s(&a[0]), false)))
        }),
        "title" => f(&[Str], None, |_, a| Ok(Value::str(title(&s(&a[0]))))),
        "untitle" => f(&[Str], None, |_, a| Ok(Value::str(untitle(&s(&a[0]))))),
        "substr" => f(&[Int, Int, Str], None, |_, a| {
            Ok(Value::str(substr(i(&a[0]), i(&a[1]), &s(&a[2]))?))
        }),
        "repeat" => f(&[Int, Str], None, |_, a| {
            Ok(Value::str(repeat(i(&a[0]), &s(&a[1]))?))
        }),
        "trimall" | "trimAll" => f(&[Str, Str], None, |_, a| {
            let cut = s(&a[0]);
            Ok(Value::str(s(&a[1]).trim_matches(|c| cut.contains(c))))
        }),
        "trimSuffix" => f(&[Str, Str], None, |_, a| {
            let (suf, x) = (s(&a[0]), s(&a[1]));
            Ok(Value::str(x.strip_suffix(&*suf).unwrap_or(&x)))
        }),
        "trimPrefix" => f(&[Str, Str], None, |_, a| {
            let (pre, x) = (s(&a[0]), s(&a[1]));
            Ok(Value::str(x.strip_prefix(&*pre).unwrap_or(&x)))
        }),
        "nospace" => f(&[Str], None, |_, a| Ok(Value::str(nospace(&s(&a[0]))))),
        "initials" => f(&[Str], None, |_, a| Ok(Value::str(initials(&s(&a[0]))))),
        "swapcase" => f(&[Str], None, |_, a| Ok(Value::str(swapcase(&s(&a[0]))))),
        "contains" => f(&[Str, Str], None, |_, a| {
            Ok(Value::Bool(s(&a[1]).contains(&*s(&a[0]))))
        }),
        "hasPrefix" => f(&[Str, Str], None, |_, a| {
            Ok(Value::Bool(s(&a[1]).starts_with(&*s(&a[0]))))
        }),
        "hasSuffix" => f(&[Str, Str], None, |_, a| {
            Ok(Value::Bool(s(&a[1]).ends_with(&*s(&a[0]))))
        }),
        "quote" => f(&[], Some(Any), |_, a| {
            let parts: Result<Vec<String>, _> = a
                .iter()
                .filter(|v| !v.is_nilish())
                .map(|v| strval(v).map(|x| go_quote(&x)))
                .collect();
            Ok(Value::str(parts?.join(" ")))
        }),
        "squote" => f(&[], Some(Any), |_, a| {
            let parts: Result<Vec<String>, _> = a
                .iter()
                .filter(|v| !v.is_nilish())
                .map(|v| sprint(v).map(|x| format!("'{x}'")))
                .collect();
            Ok(Value::str(parts?.join(" ")))
        }),
        "cat" => f(&[], Some(Any), |_, a| {
            let parts: Result<Vec<String>, _> =
                a.iter().filter(|v| !v.is_nilish()).map(sprint).collect();
            Ok(Value::str(parts?.join(" ")))
        }),
        "indent" => f(&[Int, Str], None, |_, a| {
            Ok(Value::str(indent(i(&a[0]), &s(&a[1]))?))
        }),
        "nindent" => f(&[Int, Str], None, |_, a| {
            Ok(Value::str(format!("\n{}", indent(i(&a[0]), &s(&a[1]))?)))
        }),
        "replace" => f(&[Str, Str, Str], None, |_, a| {
            let (old, new, src) = (s(&a[0]), s(&a[1]), s(&a[2]));
            let grows = new
                .len()
                .saturating_sub(old.len())
                .saturating_mul(src.len() + 1);
            if src.len().saturating_add(grows) > MAX_OUTPUT {
                let n = if old.is_empty() {
                    src.chars().count() + 1
                } else {
                    src.matches(&*old).count()
                };
                if src.len() + n.saturating_mul(new.len()) > MAX_OUTPUT {
                    return Err("result too large".into());
                }
            }
            Ok(Value::str(src.replace(&*old, &new)))
        }),
        "plural" => f(&[Str, Str, Int], None, |_, a| {
            Ok(if i(&a[2]) == 1 {
                a[0].clone()
            } else {
                a[1].clone()
            })
        }),
        "sha1sum" => f(&[Str], None, |_, a| {
            Ok(Value::str(hex(&sha1::Sha1::digest(s(&a[0]).as_bytes()))))
        }),
        "sha256sum" => f(&[Str], None, |_, a| {
            Ok(Value::str(hex(&sha2::Sha256::digest(s(&a[0]).as_bytes()))))
        }),
        // New in Sprig 3.3, which upstream vendors.
        "sha512sum" => f(&[Str], None, |_, a| {
            Ok(Value::str(hex(&sha2::Sha512::digest(s(&a[0]).as_bytes()))))
        }),
        "adler32sum" => f(&[Str], None, |_, a| {
            Ok(Value::str(adler32(s(&a[0]).as_bytes()).to_string()))
        }),
        "toString" => f(&[Any], None, |_, a| Ok(Value::str(strval(&a[0])?))),
        "atoi" => f(&[Str], None, |_, a| Ok(Value::Int(atoi(&s(&a[0]))))),
        "int64" => f(&[Any], None, |_, a| Ok(Value::Int64(to_int64(&a[0])))),
        "int" => f(&[Any], None, |_, a| Ok(Value::Int(to_int64(&a[0])))),
        "float64" => f(&[Any], None, |_, a| Ok(Value::Float(to_float64(&a[0])))),
        "seq" => f(&[], Some(Int), seq),
        "toDecimal" => f(&[Any], None, |_, a| {
            let txt = sprint(&a[0])?;
            Ok(Value::Int64(parse_radix_i64(&txt, 8).unwrap_or(0)))
        }),
        "split" => f(&[Str, Str], None, |x, a| {
            let parts = go_split(&s(&a[1]), &s(&a[0]), -1);
            Ok(split_map(x, parts))
        }),
        "splitn" => f(&[Str, Int, Str], None, |x, a| {
            let parts = go_split(&s(&a[2]), &s(&a[0]), i(&a[1]));
            Ok(split_map(x, parts))
        }),
        "splitList" => f(&[Str, Str], None, |_, a| {
            Ok(Value::str_list(go_split(&s(&a[1]), &s(&a[0]), -1)))
        }),
        "toStrings" => f(&[Any], None, |_, a| Ok(Value::str_list(strslice(&a[0])?))),
        "until" => f(&[Int], None, |_, a| {
            let c = i(&a[0]);
            int_list(until_step(0, c, if c < 0 { -1 } else { 1 })?)
        }),
        "untilStep" => f(&[Int, Int, Int], None, |_, a| {
            int_list(until_step(i(&a[0]), i(&a[1]), i(&a[2]))?)
        }),

        // --- Sprig: integer math ---
        "add1" => f(&[Any], None, |_, a| {
            Ok(Value::Int64(to_int64(&a[0]).wrapping_add(1)))
        }),
        "add" => f(&[], Some(Any), |_, a| {
            Ok(Value::Int64(
                a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_int64(v))),
            ))
        }),
        "sub" => f(&[Any, Any], None, |_, a| {
            Ok(Value::Int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
        }),
        "div" => f(&[Any, Any], None, |_, a| {
            let d = to_int64(&a[1]);
            if d == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::Int64(to_int64(&a[0]).wrapping_div(d)))
        }),
        "mod" => f(&[Any, Any], None, |_, a| {
            let d = to_int64(&a[1]);
            if d == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::Int64(to_int64(&a[0]).wrapping_rem(d)))
        }),
        "mul" => f(&[Any], Some(Any), |_, a| {
            Ok(Value::Int64(
                a[1..]
                    .iter()
                    .fold(to_int64(&a[0]), |acc, v| acc.wrapping_mul(to_int64(v))),
            ))
        }),
        "biggest" | "max" => f(&[Any], Some(Any), |_, a| {
            Ok(Value::Int64(
                a[1..].iter().map(to_int64).fold(to_int64(&a[0]), i64::max),
            ))
        }),
        "min" => f(&[Any], Some(Any), |_, a| {
            Ok(Value::Int64(
                a[1..].iter().map(to_int64).fold(to_int64(&a[0]), i64::min),
            ))
        }),
        "maxf" => f(&[Any], Some(Any), |_, a| {
            Ok(Value::Float(
                a[1..]
                    .iter()
                    .map(to_float64)
                    .fold(to_float64(&a[0]), go_max),
            ))
        }),
        "minf" => f(&[Any], Some(Any), |_, a| {
            Ok(Value::Float(
                a[1..]
                    .iter()
                    .map(to_float64)
                    .fold(to_float64(&a[0]), go_min),
            ))
        }),
        "ceil" => f(&[Any], None, |_, a| {
            Ok(Value::Float(to_float64(&a[0]).ceil()))
        }),
        "floor" => f(&[Any], None, |_, a| {
            Ok(Value::Float(to_float64(&a[0]).floor()))
        }),
        "round" => f(&[Any, Int], Some(Float), |_, a| {
            let round_on = match a.get(2) {
                Some(Value::Float(x)) => *x,
                _ => 0.5,
            };
            let val = to_float64(&a[0]);
            let pow = 10f64.powf(i(&a[1]) as f64);
            let digit = pow * val;
            let r = if digit.fract() >= round_on {
                digit.ceil()
            } else {
                digit.floor()
            };
            Ok(Value::Float(r / pow))
        }),

        // --- Sprig: float math (shopspring/decimal semantics) ---
        "add1f" => f(&[Any], None, |_, a| {
            dec_op(&a[0], &[Value::Int(1)], Dec::add)
        }),
        "addf" => f(&[], Some(Any), |_, a| {
            dec_op(&Value::Float(0.0), &a, Dec::add)
        }),
        "subf" => f(&[Any], Some(Any), |_, a| dec_op(&a[0], &a[1..], Dec::sub)),
        "mulf" => f(&[Any], Some(Any), |_, a| dec_op(&a[0], &a[1..], Dec::mul)),
        "divf" => f(&[Any], Some(Any), |_, a| dec_op(&a[0], &a[1..], Dec::div)),

        // --- Sprig: lists of strings ---
        "join" => f(&[Str, Any], None, |_, a| {
            Ok(Value::str(strslice(&a[1])?.join(&s(&a[0]))))
        }),
        "sortAlpha" => f(&[Any], None, |_, a| {
            let mut v = match &a[0] {
                Value::List(..) => strslice(&a[0])?,
                other => vec![strval(other)?],
            };
            v.sort();
            Ok(Value::str_list(v))
        }),

        // --- Sprig: defaults and JSON ---
        "default" => f(&[Any], Some(Any), |_, a| {
            Ok(match a.get(1) {
                Some(g) if !g.is_empty() => g.clone(),
                _ => a[0].clone(),
            })
        }),
        "empty" => f(&[Any], None, |_, a| Ok(Value::Bool(a[0].is_empty()))),
        "coalesce" => f(&[], Some(Any), |_, a| {
            Ok(a.iter()
                .find(|v| !v.is_empty())
                .cloned()
                .unwrap_or(Value::Nil))
        }),
        "all" => f(&[], Some(Any), |_, a| {
            Ok(Value::Bool(a.iter().all(|v| !v.is_empty())))
        }),
        "any" => f(&[], Some(Any), |_, a| {
            Ok(Value::Bool(a.iter().any(|v| !v.is_empty())))
        }),
        "compact" | "mustCompact" => f(&[Any], None, |_, a| {
            let l = list_items(&a[0], "compact on")?;
            Ok(Value::list(
                l.iter().filter(|v| !v.is_empty()).cloned().collect(),
            ))
        }),
        "fromJson" => f(&[Str], None, |x, a| {
            Ok(from_json(&s(&a[0]), &mut x.maps).unwrap_or(Value::Nil))
        }),
        "mustFromJson" => f(&[Str], None, |x, a| Ok(from_json(&s(&a[0]), &mut x.maps)?)),
        "toJson" => f(&[Any], None, |_, a| {
            Ok(Value::str(to_json(&a[0], None, true).unwrap_or_default()))
        }),
        "toPrettyJson" => f(&[Any], None, |_, a| {
            Ok(Value::str(
                to_json(&a[0], Some("  "), true).unwrap_or_default(),
            ))
        }),
        "toRawJson" | "mustToRawJson" => f(&[Any], None, |_, a| {
            Ok(Value::str(json_or_err(&a[0], None, false)?))
        }),
        "mustToJson" => f(&[Any], None, |_, a| {
            Ok(Value::str(json_or_err(&a[0], None, true)?))
        }),
        "mustToPrettyJson" => f(&[Any], None, |_, a| {
            Ok(Value::str(json_or_err(&a[0], Some("  "), true)?))
        }),
        "ternary" => f(&[Any, Any, Bool], None, |_, a| {
            Ok(if matches!(a[2], Value::Bool(true)) {
                a[0].clone()
            } else {
                a[1].clone()
            })
        }),
        "deepCopy" | "mustDeepCopy" => f(&[Any], None, |x, a| deep_copy(x, &a[0], 0)),

        // --- Sprig: reflection ---
        "typeOf" => f(&[Any], None, |_, a| Ok(Value::str(a[0].type_name()))),
        "typeIs" => f(&[Str, Any], None, |_, a| {
            Ok(Value::Bool(*s(&a[0]) == *a[1].type_name()))
        }),
        "typeIsLike" => f(&[Str, Any], None, |_, a| {
            let (t, target) = (a[1].type_name(), s(&a[0]));
            Ok(Value::Bool(*target == *t || format!("*{target}") == t))
        }),
        "kindOf" => f(&[Any], None, |_, a| Ok(Value::str(a[0].kind_name()))),
        "kindIs" => f(&[Str, Any], None, |_, a| {
            Ok(Value::Bool(*s(&a[0]) == *a[1].kind_name()))
        }),
        "deepEqual" => f(&[Any, Any], None, |_, a| {
            Ok(Value::Bool(deep_equal(&a[0], &a[1], 0)))
        }),

        // --- Sprig: paths (Linux filepath behaves as path) ---
        "base" | "osBase" => f(&[Str], None, |_, a| Ok(Value::str(path_base(&s(&a[0]))))),
        "dir" | "osDir" => f(&[Str], None, |_, a| Ok(Value::str(path_dir(&s(&a[0]))))),
        "clean" | "osClean" => f(&[Str], None, |_, a| Ok(Value::str(path_clean(&s(&a[0]))))),
        "ext" | "osExt" => f(&[Str], None, |_, a| Ok(Value::str(path_ext(&s(&a[0]))))),
        "isAbs" | "osIsAbs" => f(&[Str], None, |_, a| {
            Ok(Value::Bool(s(&a[0]).starts_with('/')))
        }),

        // --- Sprig: encodings ---
        "b64enc" => f(&[Str], None, |_, a| {
            Ok(Value::str(
                base64::engine::general_purpose::STANDARD.encode(s(&a[0]).as_bytes()),
            ))
        }),
        "b64dec" => f(&[Str], None, |_, a| {
            Ok(Value::str(match b64_decode(s(&a[0]).as_bytes()) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => e,
            }))
        }),
        "b32enc" => f(&[Str], None, |_, a| {
            Ok(Value::str(b32_encode(s(&a[0]).as_bytes())))
        }),
        "b32dec" => f(&[Str], None, |_, a| {
            Ok(Value::str(match b32_decode(s(&a[0]).as_bytes()) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => e,
            }))
        }),

        // --- Sprig: dictionaries ---
        "list" | "tuple" => f(&[], Some(Any), |_, a| Ok(Value::list(a))),
        "dict" => f(&[], Some(Any), |x, a| {
            let mut m = BTreeMap::new();
            let mut k = 0;
            while k < a.len() {
                let key = strval(&a[k])?;
                let v = a.get(k + 1).cloned().unwrap_or_else(|| Value::str(""));
                m.insert(key, v);
                k += 2;
            }
            Ok(Value::Map(x.new_map(m), Elem::Any))
        }),
        "get" => f(&[MapSI, Str], None, |_, a| {
            Ok(map_get(&a[0], &s(&a[1])).unwrap_or_else(|| Value::str("")))
        }),
        "set" => f(&[MapSI, Str, Any], None, |_, a| {
            let Value::Map(m, _) = &a[0] else {
                return Err("assignment to entry in nil map".into());
            };
            if a[0].is_nil_map() {
                return Err("assignment to entry in nil map".into());
            }
            let v = a[2].clone();
            m.try_borrow_mut()
                .map_err(|_| "concurrent map writes")?
                .insert(s(&a[1]).to_string(), v);
            Ok(a[0].clone())
        }),
        "unset" => f(&[MapSI, Str], None, |_, a| {
            if let Value::Map(m, _) = &a[0]
                && !a[0].is_nil_map()
            {
                m.try_borrow_mut()
                    .map_err(|_| "concurrent map writes")?
                    .remove(&*s(&a[1]));
            }
            Ok(a[0].clone())
        }),
        "hasKey" => f(&[MapSI, Str], None, |_, a| {
            Ok(Value::Bool(map_get(&a[0], &s(&a[1])).is_some()))
        }),
        "pluck" => f(&[Str], Some(MapSI), |_, a| {
            let key = s(&a[0]);
            Ok(Value::list(
                a[1..].iter().filter_map(|d| map_get(d, &key)).collect(),
            ))
        }),
        "keys" => f(&[], Some(MapSI), |_, a| {
            let mut out = Vec::new();
            for d in &a {
                if let Value::Map(m, _) = d {
                    out.extend(m.try_borrow().map_err(|_| "map busy")?.keys().cloned());
                }
            }
            Ok(Value::str_list(out))
        }),
        "values" => f(&[MapSI], None, |_, a| {
            Ok(Value::list(match &a[0] {
                Value::Map(m, _) => m
                    .try_borrow()
                    .map_err(|_| "map busy")?
                    .values()
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            }))
        }),
        "pick" => f(&[MapSI], Some(Str), |x, a| {
            let mut m = BTreeMap::new();
            for k in &a[1..] {
                let k = s(k);
                if let Some(v) = map_get(&a[0], &k) {
                    m.insert(k.to_string(), v);
                }
            }
            Ok(Value::Map(x.new_map(m), Elem::Any))
        }),
        "omit" => f(&[MapSI], Some(Str), |x, a| {
            let omit: Vec<Rc<str>> = a[1..].iter().map(s).collect();
            let mut m = BTreeMap::new();
            if let Value::Map(src, _) = &a[0] {
                for (k, v) in src.try_borrow().map_err(|_| "map busy")?.iter() {
                    if !omit.iter().any(|o| **o == **k) {
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(Value::Map(x.new_map(m), Elem::Any))
        }),
        "merge" | "mustMerge" => f(&[MapSI], Some(MapSI), |x, a| merge_maps(x, &a, false)),
        "mergeOverwrite" | "mustMergeOverwrite" => {
            f(&[MapSI], Some(MapSI), |x, a| merge_maps(x, &a, true))
        }
        "dig" => f(&[], Some(Any), dig),

        // --- Sprig: lists ---
        "append" | "push" | "mustAppend" | "mustPush" => f(&[Any, Any], None, |_, a| {
            let mut l = list_items(&a[0], "push on")?.to_vec();
            l.push(a[1].clone());
            Ok(Value::list(l))
        }),
        "prepend" | "mustPrepend" => f(&[Any, Any], None, |_, a| {
            let mut l = vec![a[1].clone()];
            l.extend(list_items(&a[0], "prepend on")?.iter().cloned());
            Ok(Value::list(l))
        }),
        "first" | "mustFirst" => f(&[Any], None, |_, a| {
            Ok(list_items(&a[0], "find first on")?
                .first()
                .cloned()
                .unwrap_or(Value::Nil))
        }),
        "last" | "mustLast" => f(&[Any], None, |_, a| {
            Ok(list_items(&a[0], "find last on")?
                .last()
                .cloned()
                .unwrap_or(Value::Nil))
        }),
        "rest" | "mustRest" => f(&[Any], None, |_, a| {
            let l = list_items(&a[0], "find rest on")?;
            if l.is_empty() {
                return Ok(Value::nil_list(Elem::Any));
            }
            Ok(Value::list(l.iter().skip(1).cloned().collect()))
        }),
        "initial" | "mustInitial" => f(&[Any], None, |_, a| {
            let l = list_items(&a[0], "find initial on")?;
            if l.is_empty() {
                return Ok(Value::nil_list(Elem::Any));
            }
            Ok(Value::list(l[..l.len() - 1].to_vec()))
        }),
        "reverse" | "mustReverse" => f(&[Any], None, |_, a| {
            let l = list_items(&a[0], "find reverse on")?;
            Ok(Value::list(l.iter().rev().cloned().collect()))
        }),
        "uniq" | "mustUniq" => f(&[Any], None, |_, a| {
            let l = list_items(&a[0], "find uniq on")?;
            let mut out: Vec<Value> = Vec::new();
            for v in l.iter() {
                if !out.iter().any(|o| deep_equal(o, v, 0)) {
                    out.push(v.clone());
                }
            }
            Ok(Value::list(out))
        }),
        "without" | "mustWithout" => f(&[Any], Some(Any), |_, a| {
            let l = list_items(&a[0], "find without on")?;
            Ok(Value::list(
                l.iter()
                    .filter(|v| !a[1..].iter().any(|o| deep_equal(o, v, 0)))
                    .cloned()
                    .collect(),
            ))
        }),
        "has" | "mustHas" => f(&[Any, Any], None, |_, a| {
            if a[1].is_nilish() {
                return Ok(Value::Bool(false));
            }
            let l = list_items(&a[1], "find has on")?;
            Ok(Value::Bool(l.iter().any(|v| deep_equal(&a[0], v, 0))))
        }),
        "slice" | "mustSlice" => f(&[Any], Some(Any), sprig_slice),
        "concat" => f(&[], Some(Any), |_, a| {
            let mut out = Vec::new();
            for l in &a {
                match l {
                    Value::List(items, _) => out.extend(items.iter().cloned()),
                    Value::Nil | Value::Missing => {
                        return Err(
                            "runtime error: invalid memory address or nil pointer dereference"
                                .into(),
                        );
                    }
                    other => {
                        return Err(
                            format!("Cannot concat type {} as list", other.kind_name()).into()
                        );
                    }
                }
            }
            if out.is_empty() {
                // Go's `var res []interface{}` stays nil when nothing is appended.
                return Ok(Value::nil_list(Elem::Any));
            }
            Ok(Value::list(out))
        }),
        "chunk" | "mustChunk" => f(&[Int, Any], None, |_, a| {
            chunk(i(&a[0]), list_items(&a[1], "chunk")?)
        }),

        // --- Sprig: crypto (deterministic subset) ---
        "bcrypt" => f(&[Str], None, |x, a| {
            Ok(Value::str(bcrypt_hash(x, &s(&a[0]))?))
        }),
        "htpasswd" => f(&[Str, Str], None, |x, a| {
            let user = s(&a[0]);
            if user.contains(':') {
                return Ok(Value::str(format!("invalid username: {user}")));
            }
            Ok(Value::str(format!("{user}:{}", bcrypt_hash(x, &s(&a[1]))?)))
        }),

        // --- Sprig: flow control and regular expressions ---
        "fail" => f(&[Str], None, |_, a| Err(s(&a[0]).to_string().into())),
        "regexMatch" => f(&[Str, Str], None, |x, a| {
            Ok(Value::Bool(
                cached_regex(x, &s(&a[0]))?
                    .map(|r| r.is_match(&s(&a[1])))
                    .unwrap_or(false),
            ))
        }),
        "mustRegexMatch" => f(&[Str, Str], None, |x, a| {
            Ok(Value::Bool(
                cached_regex(x, &s(&a[0]))??.is_match(&s(&a[1])),
            ))
        }),
        "regexFindAll" | "mustRegexFindAll" => f(&[Str, Str, Int], None, |x, a| {
            let re = go_regex(x, &s(&a[0]))?;
            let n = i(&a[2]);
            let hay = s(&a[1]);
            let it = re.find_iter(&hay).map(|m| m.as_str().to_string());
            let v: Vec<String> = if n < 0 {
                it.collect()
            } else {
                it.take(n as usize).collect()
            };
            if v.is_empty() {
                return Ok(Value::nil_list(Elem::Str));
            }
            Ok(Value::str_list(v))
        }),
        "regexFind" | "mustRegexFind" => f(&[Str, Str], None, |x, a| {
            let re = go_regex(x, &s(&a[0]))?;
            Ok(Value::str(re.find(&s(&a[1])).map_or("", |m| m.as_str())))
        }),
        "regexReplaceAll" | "mustRegexReplaceAll" => f(&[Str, Str, Str], None, |x, a| {
            let re = go_regex(x, &s(&a[0]))?;
            Ok(Value::str(
                re.replace_all(&s(&a[1]), &*s(&a[2])).into_owned(),
            ))
        }),
        "regexReplaceAllLiteral" | "mustRegexReplaceAllLiteral" => {
            f(&[Str, Str, Str], None, |x, a| {
                let re = go_regex(x, &s(&a[0]))?;
                Ok(Value::str(
                    re.replace_all(&s(&a[1]), regex::NoExpand(&s(&a[2])))
                        .into_owned(),
                ))
            })
        }
        "regexSplit" | "mustRegexSplit" => f(&[Str, Str, Int], None, |x, a| {
            let re = go_regex(x, &s(&a[0]))?;
            if i(&a[2]) == 0 {
                return Ok(Value::nil_list(Elem::Str));
            }
            Ok(Value::str_list(regex_split(
                &re,
                &s(&a[0]),
                &s(&a[1]),
                i(&a[2]),
            )))
        }),
        "regexQuoteMeta" => f(&[Str], None, |_, a| Ok(Value::str(quote_meta(&s(&a[0]))))),

        _ => super::more::lookup(name),
    }
}

// ---------- argument helpers ----------

fn s(v: &Value) -> Rc<str> {
    match v {
        Value::Str(s) => s.clone(),
        _ => Rc::from(""),
    }
}

fn i(v: &Value) -> i64 {
    v.as_int().unwrap_or(0)
}

/// Sprig's `strval`.
fn strval(v: &Value) -> Result<String, FnErr> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        other => Ok(sprint(other)?),
    }
}

/// Sprig's `strslice`.
fn strslice(v: &Value) -> Result<Vec<String>, FnErr> {
    match v {
        Value::List(items, _) => items
            .iter()
            .filter(|x| !x.is_nilish())
            .map(strval)
            .collect(),
        Value::Nil | Value::Missing => Ok(Vec::new()),
        other => Ok(vec![strval(other)?]),
    }
}

fn list_items<'v>(v: &'v Value, what: &str) -> Result<&'v [Value], FnErr> {
    match v {
        Value::List(items, _) => Ok(items),
        Value::Nil | Value::Missing => {
            Err("runtime error: invalid memory address or nil pointer dereference".into())
        }
        other => Err(format!("Cannot {what} type {}", other.kind_name()).into()),
    }
}

fn map_get(m: &Value, key: &str) -> Option<Value> {
    match m {
        Value::Map(m, _) => m.try_borrow().ok()?.get(key).cloned(),
        _ => None,
    }
}

fn int_list(v: Vec<i64>) -> FResult {
    Ok(Value::List(
        Rc::new(v.into_iter().map(Value::Int).collect()),
        Elem::Int,
    ))
}

fn split_map(x: &mut Exec<'_>, parts: Vec<String>) -> Value {
    let m: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(k, p)| (format!("_{k}"), Value::str(p)))
        .collect();
    Value::Map(x.new_map(m), Elem::Str)
}

// ---------- builtins ----------

fn builtin_len(_: &mut Exec<'_>, a: Vec<Value>) -> FResult {
    match &a[0] {
        Value::Missing => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Value::Nil => Err("len of nil pointer".into()),
        Value::Str(s) => Ok(Value::Int(s.len() as i64)),
        Value::List(l, _) => Ok(Value::Int(l.len() as i64)),
        Value::Map(m, _) => Ok(Value::Int(m.try_borrow().map_or(0, |m| m.len()) as i64)),
        other => Err(format!("len of type {}", other.type_name()).into()),
    }
}

fn builtin_index(_: &mut Exec<'_>, a: Vec<Value>) -> FResult {
    let mut item = a[0].clone();
    if item.is_nilish() {
        return Err("index of untyped nil".into());
    }
    for idx in &a[1..] {
        item = match &item {
            Value::Nil => return Err("index of nil pointer".into()),
            Value::List(l, elem) => {
                let x = index_arg(idx, l.len())?;
                let _ = elem;
                match l.get(x) {
                    Some(v) => v.clone(),
                    None => return Err("reflect: slice index out of range".into()),
                }
            }
            Value::Str(s) => {
                let x = index_arg(idx, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Value::Uint8(*b),
                    None => return Err("reflect: string index out of range".into()),
                }
            }
            Value::Map(m, elem) => {
                let key = match idx {
                    Value::Str(k) => k.clone(),
                    Value::Missing | Value::Nil => {
                        return Err("value is nil; should be of type string".into());
                    }
                    other => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        )
                        .into());
                    }
                };
                let found = m.try_borrow().ok().and_then(|m| m.get(&*key).cloned());
                match found {
                    Some(v) => v,
                    None => match elem {
                        Elem::Str => Value::str(""),
                        Elem::Int => Value::Int(0),
                        Elem::List => Value::List(Rc::new(Vec::new()), Elem::Any),
                        Elem::Any => Value::Nil,
                    },
                }
            }
            // Go indirects a pointer before it gives up.
            other => {
                let t = other.type_name();
                let t = t.strip_prefix('*').unwrap_or(&t);
                return Err(format!("can't index item of type {t}").into());
            }
        };
    }
    Ok(item)
}

fn index_arg(idx: &Value, cap: usize) -> Result<usize, FnErr> {
    let x = match idx {
        Value::Int(_) | Value::Int64(_) | Value::Uint8(_) => idx.as_int().unwrap_or(0),
        Value::Missing | Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!("cannot index slice/array with type {}", other.type_name()).into());
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}").into());
    }
    Ok(x as usize)
}

/// Go's comparison kinds.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) | Value::Uint8(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Invalid,
    }
}

fn builtin_eq(_: &mut Exec<'_>, a: Vec<Value>) -> FResult {
    Ok(Value::Bool(eq(&a[0], &a[1..])?))
}

fn eq(a1: &Value, rest: &[Value]) -> Result<bool, FnErr> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a1);
    for a in rest {
        let k2 = basic_kind(a);
        let truth = if k1 != k2 {
            if !a1.is_nilish() && !a.is_nilish() {
                return Err("incompatible types for comparison".into());
            }
            false
        } else {
            match (a1, a) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                (x, y) if x.as_int().is_some() && y.as_int().is_some() => x.as_int() == y.as_int(),
                // Comparable Go objects of one type: `==` on the struct, or on the pointer.
                (Value::Obj(x), Value::Obj(y)) if a1.type_name() == a.type_name() => {
                    match (&**x, &**y) {
                        (Obj::Version(_), Obj::Version(_)) => Rc::ptr_eq(x, y),
                        (p, q) => p == q,
                    }
                }
                _ => {
                    let is_nil = |v: &Value| v.is_nilish() || v.is_nil_list() || v.is_nil_map();
                    if a1.kind_name() != a.kind_name() && !a1.is_nilish() && !a.is_nilish() {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            printf::sprintf("%s", std::slice::from_ref(a1))?,
                            a1.type_name(),
                            a.type_name(),
                            sprint(a)?
                        )
                        .into());
                    }
                    if is_nil(a1) || is_nil(a) {
                        is_nil(a1) == is_nil(a)
                    } else {
                        let shown = printf::sprintf("%s", std::slice::from_ref(a))?;
                        return Err(
                            format!("non-comparable type {shown}: {}", a.type_name()).into()
                        );
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a1: &Value, a2: &Value) -> Result<bool, FnErr> {
    let k1 = basic_kind(a1);
    let k2 = basic_kind(a2);
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a1, a2) {
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        (x, y) if x.as_int().is_some() && y.as_int().is_some() => x.as_int() < y.as_int(),
        _ => return Err("invalid type for comparison".into()),
    })
}

fn le(a1: &Value, a2: &Value) -> Result<bool, FnErr> {
    if lt(a1, a2)? {
        return Ok(true);
    }
    eq(a1, std::slice::from_ref(a2))
}

/// text/template's `evalArgs` for html, js and urlquery.
fn eval_args(a: &[Value]) -> Result<String, FnErr> {
    if let [Value::Str(s)] = a {
        return Ok(s.to_string());
    }
    // printableValue turns a nil argument into "<no value>".
    let args: Vec<Value> = a
        .iter()
        .map(|v| {
            if v.is_nilish() {
                Value::str("<no value>")
            } else {
                v.clone()
            }
        })
        .collect();
    Ok(printf::sprint(&args)?)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if c.is_ascii() || super::value::is_go_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ---------- strings ----------

/// Byte-range slice that never panics: out-of-boundary cuts are made lossy.
fn byte_slice(s: &str, a: usize, b: usize) -> String {
    let bytes = s.as_bytes();
    let (a, b) = (a.min(bytes.len()), b.min(bytes.len()));
    if a >= b {
        return String::new();
    }
    String::from_utf8_lossy(&bytes[a..b]).into_owned()
}

fn abbrev(width: i64, s: &str) -> String {
    if width < 4 {
        return s.to_string();
    }
    abbreviate_full(s, 0, width).unwrap_or_default()
}

fn abbrevboth(left: i64, right: i64, s: &str) -> String {
    if right < 4 || left > 0 && right < 7 {
        return s.to_string();
    }
    abbreviate_full(s, left, right).unwrap_or_default()
}

/// goutils' `AbbreviateFull` (byte based, as in Go).
fn abbreviate_full(s: &str, offset: i64, max_width: i64) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    if max_width < 4 {
        return None;
    }
    let len = s.len() as i64;
    if len <= max_width {
        return Some(s.to_string());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    if offset <= 4 {
        return Some(byte_slice(s, 0, (max_width - 3) as usize) + "...");
    }
    if max_width < 7 {
        return None;
    }
    if offset + max_width - 3 < len {
        let rest = byte_slice(s, offset as usize, s.len());
        return Some(format!(
            "...{}",
            abbreviate_full(&rest, 0, max_width - 3).unwrap_or_default()
        ));
    }
    Some(format!(
        "...{}",
        byte_slice(s, (len - (max_width - 3)) as usize, s.len())
    ))
}

fn trunc(c: i64, s: &str) -> String {
    let len = s.len() as i64;
    if c < 0 && len + c > 0 {
        return byte_slice(s, (len + c) as usize, s.len());
    }
    if c >= 0 && len > c {
        return byte_slice(s, 0, c as usize);
    }
    s.to_string()
}

fn substr(start: i64, end: i64, s: &str) -> Result<String, FnErr> {
    let len = s.len() as i64;
    let oob =
        |a: String| -> FnErr { format!("runtime error: slice bounds out of range {a}").into() };
    if start < 0 {
        if end < 0 {
            return Err(oob(format!("[:{end}]")));
        }
        if end > len {
            return Err(oob(format!("[:{end}] with length {len}")));
        }
        return Ok(byte_slice(s, 0, end as usize));
    }
    if end < 0 || end > len {
        if start > len {
            return Err(oob(format!("[{start}:{len}]")));
        }
        return Ok(byte_slice(s, start as usize, s.len()));
    }
    if start > end {
        return Err(oob(format!("[{start}:{end}]")));
    }
    Ok(byte_slice(s, start as usize, end as usize))
}

fn repeat(count: i64, s: &str) -> Result<String, FnErr> {
    if count < 0 {
        return Err("strings: negative Repeat count".into());
    }
    if (count as u64).saturating_mul(s.len() as u64) > MAX_OUTPUT as u64 {
        return Err("result too large".into());
    }
    Ok(s.repeat(count as usize))
}

fn indent(spaces: i64, v: &str) -> Result<String, FnErr> {
    if spaces < 0 {
        return Err("strings: negative Repeat count".into());
    }
    let lines = v.matches('\n').count() as u64 + 1;
    if (spaces as u64)
        .saturating_mul(lines)
        .saturating_add(v.len() as u64)
        > MAX_OUTPUT as u64
    {
        return Err("result too large".into());
    }
    let pad = " ".repeat(spaces as usize);
    Ok(format!("{pad}{}", v.replace('\n', &format!("\n{pad}"))))
}

/// Go's `unicode.ToTitle`: the upper case, except for the four digraphs
/// that have a distinct title case.
fn to_title(c: char) -> char {
    match c {
        'Ǆ' | 'ǅ' | 'ǆ' => 'ǅ',
        'Ǉ' | 'ǈ' | 'ǉ' => 'ǈ',
        'Ǌ' | 'ǋ' | 'ǌ' => 'ǋ',
        'Ǳ' | 'ǲ' | 'ǳ' => 'ǲ',
        c => simple_case(c, true),
    }
}

/// Go's simple (one rune to one rune) case mapping.
fn simple_case(c: char, upper: bool) -> char {
    let mut it: Box<dyn Iterator<Item = char>> = if upper {
        Box::new(c.to_uppercase())
    } else {
        Box::new(c.to_lowercase())
    };
    let first = it.next().unwrap_or(c);
    if it.next().is_some() {
        // A special (multi-rune) mapping: Go keeps the rune, except for
        // lowercasing where the first rune is the simple mapping.
        if upper { c } else { first }
    } else {
        first
    }
}

fn map_case(s: &str, upper: bool) -> String {
    s.chars().map(|c| simple_case(c, upper)).collect()
}

/// Go's deprecated `strings.Title`.
fn title(s: &str) -> String {
    let is_sep = |r: char| -> bool {
        if r.is_ascii() {
            return !(r.is_ascii_alphanumeric() || r == '_');
        }
        if r.is_alphabetic() || r.is_numeric() {
            return false;
        }
        r.is_whitespace()
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_sep(prev) { to_title(c) } else { c };
            prev = c;
            out
        })
        .collect()
}

fn untitle(s: &str) -> String {
    let mut next = true;
    s.chars()
        .map(|c| {
            if c.is_whitespace() {
                next = true;
                c
            } else if next {
                next = false;
                simple_case(c, false)
            } else {
                c
            }
        })
        .collect()
}

fn is_space_byte_rune(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xA0)
}

/// goutils' `DeleteWhiteSpace`, which works on bytes (mangling non-ASCII
/// text when it removes anything, exactly as Go does).
fn nospace(s: &str) -> String {
    if !s.bytes().any(is_space_byte_rune) {
        return s.to_string();
    }
    s.bytes()
        .filter(|b| !is_space_byte_rune(*b))
        .map(char::from)
        .collect()
}

/// goutils' `Initials` (byte based).
fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut gap = true;
    for b in s.bytes() {
        if is_space_byte_rune(b) {
            gap = true;
        } else if gap {
            out.push(char::from(b));
            gap = false;
        }
    }
    out
}

fn swapcase(s: &str) -> String {
    let mut ws = true;
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                ws = false;
                simple_case(c, false)
            } else if c.is_lowercase() {
                let out = if ws {
                    to_title(c)
                } else {
                    simple_case(c, true)
                };
                ws = false;
                out
            } else {
                ws = c.is_whitespace();
                c
            }
        })
        .collect()
}

/// Go's `strings.SplitN` (`n < 0` for all).
fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let limit = if n < 0 || n as usize > chars.len() {
            chars.len()
        } else {
            n as usize
        };
        let mut out: Vec<String> = chars[..limit.saturating_sub(1)]
            .iter()
            .map(|c| c.to_string())
            .collect();
        if limit > 0 {
            out.push(chars[limit - 1..].iter().collect());
        }
        return out;
    }
    if n < 0 {
        s.split(sep).map(str::to_string).collect()
    } else {
        s.splitn(n as usize, sep).map(str::to_string).collect()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// `strconv.Atoi` with errors ignored, as Sprig's `atoi` does: 0 on a
/// syntax error, the clamped value on overflow.
fn atoi(s: &str) -> i64 {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = (v * 10 + i128::from(b - b'0')).min(i128::from(u64::MAX) + 1);
    }
    let v = if neg { -v } else { v };
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn parse_radix_i64(s: &str, radix: u32) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let v = u64::from_str_radix(digits, radix).ok()?;
    let v = if neg { -(i128::from(v)) } else { i128::from(v) };
    i64::try_from(v).ok()
}

/// spf13/cast's `ToInt64`: strings parse with base prefixes, floats
/// truncate, anything unconvertible is 0.
fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(_) | Value::Int64(_) | Value::Uint8(_) => v.as_int().unwrap_or(0),
        Value::Float(f) => {
            if f.is_nan() {
                i64::MIN
            } else {
                *f as i64
            }
        }
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            let t = trim_zero_decimal(s);
            super::parse::parse_go_int_pub(t).unwrap_or(0)
        }
        _ => 0,
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for k in (1..=b.len()).rev() {
        match b[k - 1] {
            b'.' => {
                if found_zero {
                    return &s[..k - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// spf13/cast's `ToFloat64`.
fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(_) | Value::Int64(_) | Value::Uint8(_) => v.as_int().unwrap_or(0) as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => parse_float_str(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// `strconv.ParseFloat(s, 64)`, including "inf" and "nan" spellings.
fn parse_float_str(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let (sign, body) = match lower.as_bytes().first() {
        Some(b'-') => (-1.0, &lower[1..]),
        Some(b'+') => (1.0, &lower[1..]),
        _ => (1.0, lower.as_str()),
    };
    match body {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" if sign > 0.0 && !lower.starts_with('+') => return Some(f64::NAN),
        _ => {}
    }
    super::parse::parse_go_float(s)
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Longest list `until`, `untilStep` and `seq` may build.
const MAX_LIST: usize = 1 << 20;

fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FnErr> {
    let mut v = Vec::new();
    let mut x = start;
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        while x > stop {
            v.push(x);
            if v.len() > MAX_LIST {
                return Err("list too long".into());
            }
            x = match x.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    while x < stop {
        v.push(x);
        if v.len() > MAX_LIST {
            return Err("list too long".into());
        }
        x = match x.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(v)
}

fn seq(_: &mut Exec<'_>, a: Vec<Value>) -> FResult {
    let p: Vec<i64> = a.iter().map(i).collect();
    let join = |v: Vec<i64>| Value::str(v.iter().map(i64::to_string).collect::<Vec<_>>().join(" "));
    Ok(match p.as_slice() {
        [end] => {
            let inc = if *end < 1 { -1 } else { 1 };
            join(until_step(1, end.saturating_add(inc), inc)?)
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if *step > 0 {
                    return Ok(Value::str(""));
                }
            }
            join(until_step(*start, end.saturating_add(inc), *step)?)
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            join(until_step(*start, end.saturating_add(step), step)?)
        }
        _ => Value::str(""),
    })
}

// ---------- decimal arithmetic (shopspring/decimal subset) ----------

/// `mant × 10^exp`.
#[derive(Clone, Copy)]
struct Dec {
    mant: i128,
    exp: i32,
}

impl Dec {
    fn from_f64(f: f64) -> Result<Dec, FnErr> {
        if !f.is_finite() {
            return Err(format!(
                "Cannot create a Decimal from {}",
                super::value::format_float_g(f, -1, false)
            )
            .into());
        }
        if f == 0.0 {
            return Ok(Dec { mant: 0, exp: 0 });
        }
        let e = format!("{f:e}");
        let (m, x) = e.split_once('e').unwrap_or((&e, "0"));
        let neg = m.starts_with('-');
        let digits: String = m.chars().filter(char::is_ascii_digit).collect();
        let mant: i128 = digits.parse().unwrap_or(0);
        let exp: i32 = x.parse::<i32>().unwrap_or(0) - (digits.len() as i32 - 1);
        Ok(Dec {
            mant: if neg { -mant } else { mant },
            exp,
        })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.mant, self.exp)
            .parse()
            .unwrap_or(f64::NAN)
    }

    fn align(a: Dec, b: Dec) -> Option<(i128, i128, i32)> {
        let exp = a.exp.min(b.exp);
        let sa = a
            .mant
            .checked_mul(10i128.checked_pow((a.exp - exp) as u32)?)?;
        let sb = b
            .mant
            .checked_mul(10i128.checked_pow((b.exp - exp) as u32)?)?;
        Some((sa, sb, exp))
    }

    fn add(a: Dec, b: Dec) -> Result<Dec, FnErr> {
        Ok(
            match Dec::align(a, b).and_then(|(x, y, e)| {
                Some(Dec {
                    mant: x.checked_add(y)?,
                    exp: e,
                })
            }) {
                Some(d) => d,
                None => Dec::from_f64(a.to_f64() + b.to_f64())?,
            },
        )
    }

    fn sub(a: Dec, b: Dec) -> Result<Dec, FnErr> {
        Dec::add(
            a,
            Dec {
                mant: -b.mant,
                exp: b.exp,
            },
        )
    }

    fn mul(a: Dec, b: Dec) -> Result<Dec, FnErr> {
        Ok(match a.mant.checked_mul(b.mant) {
            Some(m) => Dec {
                mant: m,
                exp: a.exp + b.exp,
            },
            None => Dec::from_f64(a.to_f64() * b.to_f64())?,
        })
    }

    /// `DivRound(b, 16)`: half away from zero at 16 decimal places.
    fn div(a: Dec, b: Dec) -> Result<Dec, FnErr> {
        if b.mant == 0 {
            return Err("decimal division by 0".into());
        }
        let k = a.exp - b.exp + 16;
        let exact = (|| {
            let (num, den) = if k >= 0 {
                (a.mant.checked_mul(10i128.checked_pow(k as u32)?)?, b.mant)
            } else {
                (
                    a.mant,
                    b.mant.checked_mul(10i128.checked_pow((-k) as u32)?)?,
                )
            };
            let q = num / den;
            let r = num % den;
            let q = if r.unsigned_abs() * 2 >= den.unsigned_abs() {
                if (num < 0) != (den < 0) { q - 1 } else { q + 1 }
            } else {
                q
            };
            Some(Dec { mant: q, exp: -16 })
        })();
        match exact {
            Some(d) => Ok(d),
            None => Dec::from_f64(a.to_f64() / b.to_f64()),
        }
    }
}

fn dec_op(first: &Value, rest: &[Value], op: fn(Dec, Dec) -> Result<Dec, FnErr>) -> FResult {
    let mut acc = Dec::from_f64(to_float64(first))?;
    for x in rest {
        acc = op(acc, Dec::from_f64(to_float64(x))?)?;
    }
    Ok(Value::Float(acc.to_f64()))
}

// ---------- JSON and copies ----------

fn json_or_err(v: &Value, indent: Option<&str>, html: bool) -> Result<String, FnErr> {
    to_json(v, indent, html).ok_or_else(|| json_failure(v).into())
}

/// The text of Go's json.Marshal error for a value we could not encode.
fn json_failure(v: &Value) -> String {
    fn find(v: &Value, depth: usize) -> Option<f64> {
        if depth > super::MAX_DEPTH {
            return None;
        }
        match v {
            Value::Float(f) if !f.is_finite() => Some(*f),
            Value::List(l, _) => l.iter().find_map(|x| find(x, depth + 1)),
            Value::Map(m, _) => m
                .try_borrow()
                .ok()?
                .values()
                .find_map(|x| find(x, depth + 1)),
            _ => None,
        }
    }
    match find(v, 0) {
        Some(f) => format!(
            "json: unsupported value: {}",
            super::value::format_float_g(f, -1, false)
        ),
        None => "json: unsupported value: encountered a cycle or nesting too deep".into(),
    }
}

fn deep_copy(x: &mut Exec<'_>, v: &Value, depth: usize) -> Result<Value, FnErr> {
    if depth == 0 && v.is_nilish() {
        return Err("reflect: call of reflect.Value.Type on zero Value".into());
    }
    if depth > super::MAX_DEPTH {
        return Err("value too deeply nested".into());
    }
    if v.is_nil_map() || v.is_nil_list() {
        return Ok(v.clone());
    }
    Ok(match v {
        Value::List(items, e) => Value::List(
            Rc::new(
                items
                    .iter()
                    .map(|i| deep_copy(x, i, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            *e,
        ),
        Value::Map(m, e) => {
            let entries: Vec<(String, Value)> = m
                .try_borrow()
                .map_err(|_| "map busy")?
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                out.insert(k, deep_copy(x, &v, depth + 1)?);
            }
            Value::Map(x.new_map(out), *e)
        }
        other => other.clone(),
    })
}

/// mergo's `Merge` (`overwrite` false) and `MergeWithOverwrite`.
fn merge_maps(x: &mut Exec<'_>, a: &[Value], overwrite: bool) -> FResult {
    // mergo allocates a map for a nil destination.
    let first = if a[0].is_nil_map() {
        Value::Map(x.new_map(BTreeMap::new()), Elem::Any)
    } else {
        a[0].clone()
    };
    let Value::Map(dst, _) = &first else {
        return Ok(Value::str(""));
    };
    for src in &a[1..] {
        if let Value::Map(src, _) = src {
            if Rc::ptr_eq(dst, src) {
                continue;
            }
            merge_into(dst, src, overwrite, 0)?;
        }
    }
    Ok(first.clone())
}

fn merge_into(
    dst: &super::value::MapRef,
    src: &super::value::MapRef,
    overwrite: bool,
    depth: usize,
) -> Result<(), FnErr> {
    if depth > super::MAX_DEPTH {
        return Err("maps nested too deeply to merge".into());
    }
    let entries: Vec<(String, Value)> = src
        .try_borrow()
        .map_err(|_| "map busy")?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, sv) in entries {
        let dv = dst.try_borrow().map_err(|_| "map busy")?.get(&k).cloned();
        match &dv {
            None => {
                dst.try_borrow_mut().map_err(|_| "map busy")?.insert(k, sv);
            }
            Some(d @ Value::Map(_, Elem::Any)) if d.is_nil_map() => {
                dst.try_borrow_mut().map_err(|_| "map busy")?.insert(k, sv);
            }
            Some(Value::Map(dm, Elem::Any)) if matches!(sv, Value::Map(_, Elem::Any)) => {
                if let Value::Map(sm, _) = &sv
                    && !Rc::ptr_eq(dm, sm)
                {
                    merge_into(dm, sm, overwrite, depth + 1)?;
                }
            }
            Some(d) => {
                if (overwrite && !sv.is_empty()) || d.is_empty() {
                    dst.try_borrow_mut().map_err(|_| "map busy")?.insert(k, sv);
                }
            }
        }
    }
    Ok(())
}

fn dig(_: &mut Exec<'_>, a: Vec<Value>) -> FResult {
    if a.len() < 3 {
        return Err("dig needs at least three arguments".into());
    }
    let mut dict = a[a.len() - 1].clone();
    let def = a[a.len() - 2].clone();
    let keys = &a[..a.len() - 2];
    if !matches!(dict, Value::Map(_, Elem::Any)) {
        return Err(format!(
            "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
            conv_name(&dict)
        )
        .into());
    }
    for (n, k) in keys.iter().enumerate() {
        let Value::Str(k) = k else {
            return Err(format!(
                "interface conversion: interface {{}} is {}, not string",
                conv_name(k)
            )
            .into());
        };
        let Some(step) = map_get(&dict, k) else {
            return Ok(def);
        };
        if n == keys.len() - 1 {
            return Ok(step);
        }
        if !matches!(step, Value::Map(_, Elem::Any)) {
            return Err(format!(
                "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                conv_name(&step)
            )
            .into());
        }
        dict = step;
    }
    Ok(def)
}

/// Sprig's `chunk`, float arithmetic and all, so odd sizes fail as in Go.
fn chunk(size: i64, l: &[Value]) -> FResult {
    let bad = || FnErr::from("runtime error: makeslice: len out of range");
    let (lf, sf) = (l.len() as f64, size as f64);
    let cs = ((lf - 1.0) / sf).floor() + 1.0;
    if !cs.is_finite() || cs < 0.0 || cs > l.len() as f64 + 1.0 {
        return Err(bad());
    }
    let cs = cs as usize;
    let mut out = Vec::with_capacity(cs);
    for k in 0..cs {
        let mut clen = size;
        if k == cs - 1 {
            clen = (lf % sf).floor() as i64;
            if clen == 0 {
                clen = size;
            }
        }
        if clen < 0 {
            return Err(bad());
        }
        let mut c = Vec::with_capacity(clen as usize);
        for j in 0..clen {
            let ix = (k as i64).saturating_mul(size).saturating_add(j);
            match usize::try_from(ix).ok().and_then(|ix| l.get(ix)) {
                Some(v) => c.push(v.clone()),
                None => return Err("reflect: slice index out of range".into()),
            }
        }
        out.push(Value::list(c));
    }
    Ok(Value::List(Rc::new(out), Elem::List))
}

fn conv_name(v: &Value) -> String {
    if v.is_nilish() {
        "nil".into()
    } else {
        v.type_name()
    }
}

fn sprig_slice(_: &mut Exec<'_>, a: Vec<Value>) -> FResult {
    let Value::List(items, elem) = &a[0] else {
        if a[0].is_nilish() {
            return Err("runtime error: invalid memory address or nil pointer dereference".into());
        }
        return Err(format!(
            "list should be type of slice or array but {}",
            a[0].kind_name()
        )
        .into());
    };
    let l = items.len();
    if l == 0 {
        return Ok(Value::Nil);
    }
    let start = a.get(1).map_or(0, to_int64);
    let end = if a.len() < 3 {
        l as i64
    } else {
        to_int64(&a[2])
    };
    if start < 0 || end < start || end as u64 > l as u64 {
        return Err("reflect.Value.Slice: slice index out of bounds".into());
    }
    Ok(Value::List(
        Rc::new(items[start as usize..end as usize].to_vec()),
        *elem,
    ))
}

// ---------- crypto ----------

fn bcrypt_hash(x: &mut Exec<'_>, password: &str) -> Result<String, FnErr> {
    x.bcrypt_calls += 1;
    if x.bcrypt_calls > MAX_BCRYPT {
        return Err(format!("more than {MAX_BCRYPT} bcrypt hashes in one template").into());
    }
    if password.len() > 72 {
        return Ok(
            "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes".into(),
        );
    }
    match bcrypt::hash_with_result(password, 10) {
        Ok(parts) => Ok(parts.format_for_version(bcrypt::Version::TwoA)),
        Err(e) => Ok(format!("failed to encrypt string with bcrypt: {e}")),
    }
}

// ---------- base64 / base32 (Go's decoders and error offsets) ----------

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn b32_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'2'..=b'7' => Some(c - b'2' + 26),
        _ => None,
    }
}

/// Go's `base64.StdEncoding.DecodeString`; errors read
/// "illegal base64 data at input byte N".
pub(super) fn b64_decode(src: &[u8]) -> Result<Vec<u8>, String> {
    go_decode(src, 4, 6, b64_value, "base64")
}

/// Go's `base32.StdEncoding.DecodeString` (newlines stripped first).
fn b32_decode(src: &[u8]) -> Result<Vec<u8>, String> {
    let src: Vec<u8> = src
        .iter()
        .copied()
        .filter(|b| *b != b'\n' && *b != b'\r')
        .collect();
    let err = |n: usize| format!("illegal base32 data at input byte {n}");
    let olen = src.len();
    let mut rest = &src[..];
    let mut out = Vec::new();
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            if rest.is_empty() {
                return Err(err(olen - j));
            }
            let c = rest[0];
            rest = &rest[1..];
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(err(olen));
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(err(olen - rest.len() + k - 1));
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(err(olen - rest.len() - 1));
                }
                break;
            }
            match b32_value(c) {
                Some(v) => dbuf[j] = v,
                None => return Err(err(olen - rest.len() - 1)),
            }
            j += 1;
        }
        out.extend_from_slice(&decode_bits(&dbuf[..dlen], 5));
    }
    Ok(out)
}

/// The quantum decoder shared by Go's base64 and base32 (padded, lenient
/// about CR and LF).
fn go_decode(
    src: &[u8],
    quantum: usize,
    bits: u32,
    val: fn(u8) -> Option<u8>,
    what: &str,
) -> Result<Vec<u8>, String> {
    let err = |n: usize| format!("illegal {what} data at input byte {n}");
    let mut out = Vec::new();
    let mut si = 0;
    while si < src.len() {
        let mut dbuf = [0u8; 8];
        let mut dlen = quantum;
        let mut j = 0;
        let mut end = false;
        while j < quantum {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(err(si - j));
            }
            let c = src[si];
            si += 1;
            if let Some(v) = val(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(err(si - 1));
            }
            // Padding: the rest of the quantum must be '='.
            if j < 2 {
                return Err(err(si - 1));
            }
            if quantum == 8 && !matches!(j, 2 | 4 | 5 | 7) {
                return Err(err(si - 1));
            }
            let mut pads = quantum - j - 1;
            while pads > 0 {
                while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                    si += 1;
                }
                if si == src.len() {
                    return Err(err(src.len()));
                }
                if src[si] != b'=' {
                    return Err(err(si.saturating_sub(1)));
                }
                si += 1;
                pads -= 1;
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                // Trailing garbage after padding.
                let n = decode_bits(&dbuf[..j], bits);
                out.extend_from_slice(&n);
                return Err(err(si));
            }
            dlen = j;
            end = true;
            break;
        }
        let bytes = decode_bits(&dbuf[..dlen], bits);
        out.extend_from_slice(&bytes);
        if end {
            return Ok(out);
        }
    }
    Ok(out)
}

fn decode_bits(vals: &[u8], bits: u32) -> Vec<u8> {
    let mut acc: u64 = 0;
    let mut nbits = 0u32;
    let mut out = Vec::new();
    for &v in vals {
        acc = (acc << bits) | u64::from(v);
        nbits += bits;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
    }
    out
}

fn b32_encode(src: &[u8]) -> String {
    const ALPHA: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in src.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let n = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for k in 0..8 {
            if k < n {
                out.push(char::from(ALPHA[((v >> (35 - 5 * k)) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------- regular expressions ----------

/// Compiles a Go (RE2) regular expression. Go's `\d`, `\w`, `\s` and `\b`
/// are ASCII-only, so they are rewritten before handing the pattern to the
/// `regex` crate, whose classes are Unicode-aware.
fn go_regex(x: &mut Exec<'_>, pattern: &str) -> Result<Rc<regex::Regex>, FnErr> {
    cached_regex(x, pattern)?
        .map_err(|e| format!("regexp: Compile({}): {e}", regex_quote(pattern)).into())
}

/// Most compiled patterns one render keeps.
const REGEX_CACHE: usize = 64;
/// Evaluation steps a regex compilation costs, plus one per byte of pattern.
const REGEX_COMPILE_STEPS: u64 = 1000;

/// [`compile_regex`] through the render's cache. A compilation costs far more than an
/// evaluation step (tens of microseconds to milliseconds), so each one is charged against
/// `MAX_STEPS` by its length: a loop compiling patterns (the same one, or fresh ones) cannot
/// run for minutes on a few thousand steps. Found by the `template` fuzz target.
fn cached_regex(
    x: &mut Exec<'_>,
    pattern: &str,
) -> Result<Result<Rc<regex::Regex>, String>, FnErr> {
    if let Some(re) = x.regexes.get(pattern) {
        return Ok(Ok(Rc::clone(re)));
    }
    let len = u64::try_from(pattern.len()).unwrap_or(u64::MAX);
    x.charge_steps(REGEX_COMPILE_STEPS.saturating_add(len))?;
    let re = compile_regex(pattern).map(Rc::new);
    if let Ok(re) = &re
        && x.regexes.len() < REGEX_CACHE
    {
        x.regexes.insert(pattern.to_owned(), Rc::clone(re));
    }
    Ok(re)
}

/// Compiles like Go's `regexp.Compile`; the error reads like Go's
/// `*syntax.Error` ("error parsing regexp: missing closing ]: `[`").
fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.len() > 64 * 1024 {
        return Err("error parsing regexp: expression too large".into());
    }
    let translated = translate_regex(pattern);
    regex::RegexBuilder::new(&translated)
        .size_limit(10 << 20)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            let detail = msg
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .map_or(msg.as_str(), |l| l.trim_start_matches("error: "));
            let go = if detail.contains("unclosed character class") {
                let frag = pattern.rfind('[').map_or(pattern, |i| &pattern[i..]);
                format!("missing closing ]: `{frag}`")
            } else if detail.contains("unclosed group") {
                format!("missing closing ): `{pattern}`")
            } else if detail.contains("unopened group") {
                format!("unexpected ): `{pattern}`")
            } else if detail.contains("repetition operator missing expression") {
                format!("missing argument to repetition operator: `{pattern}`")
            } else if detail.contains("escape sequence") {
                format!("invalid escape sequence: `{pattern}`")
            } else if detail.contains("exceeds size limit") {
                "expression too large".to_string()
            } else {
                format!("{detail}: `{pattern}`")
            };
            format!("error parsing regexp: {go}")
        })
}

/// regexp's `quote`: backquoted when possible.
fn regex_quote(s: &str) -> String {
    if !s.contains('`')
        && s.chars()
            .all(|c| c == '\t' || (super::value::is_go_print(c) && c != '\u{FEFF}'))
    {
        format!("`{s}`")
    } else {
        go_quote(s)
    }
}

fn translate_regex(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 16);
    let mut in_class = false;
    let mut class_start = false;
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(e) = chars.next() else {
                out.push('\\');
                break;
            };
            let rep: Option<&str> = if in_class {
                match e {
                    'd' => Some("0-9"),
                    'D' => Some("[^0-9]"),
                    'w' => Some("0-9A-Za-z_"),
                    'W' => Some("[^0-9A-Za-z_]"),
                    's' => Some("\\t\\n\\f\\r "),
                    'S' => Some("[^\\t\\n\\f\\r ]"),
                    _ => None,
                }
            } else {
                match e {
                    'd' => Some("[0-9]"),
                    'D' => Some("[^0-9]"),
                    'w' => Some("[0-9A-Za-z_]"),
                    'W' => Some("[^0-9A-Za-z_]"),
                    's' => Some("[\\t\\n\\f\\r ]"),
                    'S' => Some("[^\\t\\n\\f\\r ]"),
                    'b' => Some("(?-u:\\b)"),
                    'B' => Some("(?-u:\\B)"),
                    _ => None,
                }
            };
            match rep {
                Some(r) => out.push_str(r),
                None => {
                    out.push('\\');
                    out.push(e);
                }
            }
            class_start = false;
            continue;
        }
        if in_class {
            if c == ']' && !class_start {
                in_class = false;
            } else if c == '[' && chars.peek() == Some(&':') {
                // POSIX class [:name:] — copy through to its closing ":]".
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
                class_start = false;
                continue;
            } else if c == '[' {
                // Go treats a nested '[' as a literal.
                out.push_str("\\[");
                class_start = false;
                continue;
            } else if matches!(c, '&' | '~' | '-') && chars.peek() == Some(&c) {
                // Rust reads "&&", "~~" and "--" as class set operations.
                out.push('\\');
            }
            if c == '^' && class_start {
                out.push(c);
                continue;
            }
            class_start = false;
            out.push(c);
            continue;
        }
        if c == '[' {
            in_class = true;
            class_start = true;
        }
        if c == '{' && !is_repeat(chars.clone().collect::<String>().as_str()) {
            // RE2 reads a '{' that starts no valid repetition literally.
            out.push_str("\\{");
            continue;
        }
        out.push(c);
    }
    out
}

/// True if `rest` (the text after a '{') completes `{n}`, `{n,}` or `{n,m}`.
fn is_repeat(rest: &str) -> bool {
    let Some(end) = rest.find('}') else {
        return false;
    };
    let body = &rest[..end];
    let (min, max) = body.split_once(',').unwrap_or((body, "0"));
    !min.is_empty()
        && min.bytes().all(|b| b.is_ascii_digit())
        && max.bytes().all(|b| b.is_ascii_digit())
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Go's `Regexp.Split`.
fn regex_split(re: &regex::Regex, expr: &str, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !expr.is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    let matches: Vec<(usize, usize)> = re.find_iter(s).map(|m| (m.start(), m.end())).collect();
    let matches = if n > 0 {
        &matches[..matches.len().min(n as usize)]
    } else {
        &matches[..]
    };
    for &(ms, me) in matches {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = ms;
        if me != 0 {
            out.push(s[beg..end].to_string());
        }
        beg = me;
    }
    if end != s.len() {
        out.push(s[beg..].to_string());
    }
    out
}

// ---------- paths ----------

fn path_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let p = path.as_bytes();
    let rooted = p[0] == b'/';
    let n = p.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        if p[r] == b'/' || (p[r] == b'.' && (r + 1 == n || p[r + 1] == b'/')) {
            r += 1;
        } else if p[r] == b'.' && p.get(r + 1) == Some(&b'.') && (r + 2 == n || p[r + 2] == b'/') {
            r += 2;
            if out.len() > dotdot {
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && p[r] != b'/' {
                out.push(p[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return ".".into();
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn path_base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let p = path.trim_end_matches('/');
    let p = match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    };
    if p.is_empty() { "/".into() } else { p.into() }
}

fn path_dir(path: &str) -> String {
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    path_clean(dir)
}

fn path_ext(path: &str) -> String {
    for (idx, b) in path.bytes().enumerate().rev() {
        if b == b'/' {
            break;
        }
        if b == b'.' {
            return path[idx..].to_string();
        }
    }
    String::new()
}
