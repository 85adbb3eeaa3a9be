//! Masterminds/semver v3 (3.4), as Sprig's `semver` and `semverCompare`
//! use it: coercing version parsing, ordering, and constraint rules with
//! their error texts.

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

/// A `*semver.Version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
    pub original: String,
}

const SP: &str = r"[\t\n\f\r ]";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const LOOSE: &str = r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$";

struct Res {
    loose: Regex,
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn res() -> &'static Res {
    static R: OnceLock<Res> = OnceLock::new();
    R.get_or_init(|| {
        let re = |s: String| Regex::new(&s).expect("semver patterns are valid");
        Res {
            loose: re(LOOSE.to_owned()),
            constraint: re(format!(r"^{SP}*({OPS}){SP}*({CV}){SP}*$")),
            range: re(format!(r"{SP}*({CV}){SP}+-{SP}+({CV}){SP}*")),
            find: re(format!(r"({OPS}){SP}*({CV})")),
            valid: re(format!(
                r"^({SP}*({OPS}){SP}*({CV}){SP}*)((?:{SP}+|,{SP}*)({OPS}){SP}*({CV}){SP}*)*$"
            )),
        }
    })
}

const ALLOWED: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789";

fn parse_u64(s: &str) -> Result<u64, String> {
    s.parse::<u64>().map_err(|_| {
        format!(
            "error parsing version segment: strconv.ParseUint: parsing \"{s}\": value out of range"
        )
    })
}

fn validate_prerelease(p: &str) -> Result<(), String> {
    for part in p.split('.') {
        if part.is_empty() {
            return Err("invalid prerelease string".into());
        } else if part.bytes().all(|b| b.is_ascii_digit()) {
            if part.len() > 1 && part.starts_with('0') {
                return Err("version segment starts with 0".into());
            }
        } else if !part.chars().all(|c| ALLOWED.contains(c)) {
            return Err("invalid prerelease string".into());
        }
    }
    Ok(())
}

fn validate_metadata(m: &str) -> Result<(), String> {
    for part in m.split('.') {
        if part.is_empty() || !part.chars().all(|c| ALLOWED.contains(c)) {
            return Err("invalid metadata string".into());
        }
    }
    Ok(())
}

impl Version {
    /// `semver.NewVersion` (coercing, the v3.4 default).
    pub(super) fn parse(v: &str) -> Result<Version, String> {
        let m = res()
            .loose
            .captures(v)
            .ok_or_else(|| "invalid semantic version".to_owned())?;
        let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
        let sv = Version {
            major: parse_u64(g(1))?,
            minor: if g(2).is_empty() {
                0
            } else {
                parse_u64(&g(2)[1..])?
            },
            patch: if g(3).is_empty() {
                0
            } else {
                parse_u64(&g(3)[1..])?
            },
            pre: g(5).to_owned(),
            metadata: g(8).to_owned(),
            original: v.to_owned(),
        };
        if !sv.pre.is_empty() {
            validate_prerelease(&sv.pre)?;
        }
        if !sv.metadata.is_empty() {
            validate_metadata(&sv.metadata)?;
        }
        Ok(sv)
    }

    /// `String()`.
    pub(super) fn string(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    /// `IncMajor`, `IncMinor`, `IncPatch` (`kind` names the method).
    pub(super) fn inc(&self, kind: &str) -> Version {
        let mut n = self.clone();
        n.metadata.clear();
        match kind {
            "IncMajor" => {
                n.pre.clear();
                n.major += 1;
                n.minor = 0;
                n.patch = 0;
            }
            "IncMinor" => {
                n.pre.clear();
                n.minor += 1;
                n.patch = 0;
            }
            _ => {
                if self.pre.is_empty() {
                    n.patch += 1;
                }
                n.pre.clear();
            }
        }
        let v = if self.original.starts_with('v') {
            "v"
        } else {
            ""
        };
        n.original = format!("{v}{}", n.string());
        n
    }

    /// `Compare`: -1, 0 or 1 (metadata is ignored).
    pub(super) fn compare(&self, o: &Version) -> i64 {
        let c = (self.major, self.minor, self.patch).cmp(&(o.major, o.minor, o.patch));
        if c != Ordering::Equal {
            return if c == Ordering::Less { -1 } else { 1 };
        }
        match (self.pre.is_empty(), o.pre.is_empty()) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => -1,
            (false, false) => compare_prerelease(&self.pre, &o.pre),
        }
    }
}

fn compare_prerelease(v: &str, o: &str) -> i64 {
    let s: Vec<&str> = v.split('.').collect();
    let t: Vec<&str> = o.split('.').collect();
    for i in 0..s.len().max(t.len()) {
        let d = compare_pre_part(
            s.get(i).copied().unwrap_or(""),
            t.get(i).copied().unwrap_or(""),
        );
        if d != 0 {
            return d;
        }
    }
    0
}

fn compare_pre_part(s: &str, o: &str) -> i64 {
    if s == o {
        return 0;
    }
    if s.is_empty() {
        return -1;
    }
    if o.is_empty() {
        return 1;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                1
            } else {
                -1
            }
        }
        (_, Err(_)) => -1,
        (Err(_), _) => 1,
        (Ok(si), Ok(oi)) => {
            if si > oi {
                1
            } else {
                -1
            }
        }
    }
}

struct Constraint {
    con: Version,
    op: String,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    if c.is_empty() {
        return Ok(Constraint {
            con: Version::parse("0.0.0")?,
            op: String::new(),
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let m = res()
        .constraint
        .captures(c)
        .ok_or_else(|| format!("improper constraint: {c}"))?;
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    let ver = if is_x(g(3)) || g(3).is_empty() {
        dirty = true;
        format!("0.0.0{}", g(6))
    } else if is_x(g(4).trim_start_matches('.')) || g(4).is_empty() {
        minor_dirty = true;
        dirty = true;
        format!("{}.0.0{}", g(3), g(6))
    } else if is_x(g(5).trim_start_matches('.')) || g(5).is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{}{}.0{}", g(3), g(4), g(6))
    } else {
        g(2).to_owned()
    };
    let con = Version::parse(&ver).map_err(|_| "constraint parser error".to_owned())?;
    Ok(Constraint {
        con,
        op: g(1).to_owned(),
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

/// Go's `strings.Replace(o, old, new, 1)`.
fn replace_once(o: &str, old: &str, new: &str) -> String {
    match o.find(old) {
        Some(i) => format!("{}{}{}", &o[..i], new, &o[i + old.len()..]),
        None => o.to_owned(),
    }
}

/// `semver.NewConstraint(c)` then `Check(v)`; `Ok(false)` where it does not hold.
pub(super) fn check(constraint: &str, v: &Version) -> Result<bool, String> {
    let r = res();
    let mut c = constraint.to_owned();
    let ranges: Vec<(String, String, String)> = r
        .range
        .captures_iter(constraint)
        .map(|m| {
            let g = |i: usize| m.get(i).map_or("", |x| x.as_str()).to_owned();
            (g(0), g(1), g(11))
        })
        .collect();
    for (whole, a, b) in ranges {
        c = replace_once(&c, &whole, &format!(">= {a}, <= {b} "));
    }
    let mut ors = Vec::new();
    for part in c.split("||") {
        if !r.valid.is_match(part) {
            return Err(format!("improper constraint: {part}"));
        }
        let mut found: Vec<&str> = r.find.find_iter(part).map(|m| m.as_str()).collect();
        if found.is_empty() {
            found.push(part);
        }
        let mut group = Vec::new();
        let mut has_pre = false;
        for s in found {
            let pc = parse_constraint(s)?;
            has_pre |= !pc.con.pre.is_empty();
            group.push(pc);
        }
        ors.push((group, has_pre));
    }
    Ok(ors
        .iter()
        .any(|(group, pre)| group.iter().all(|c| holds(c, v, *pre))))
}

fn holds(c: &Constraint, v: &Version, include_pre: bool) -> bool {
    if !v.pre.is_empty() && !include_pre {
        return false;
    }
    let (con, cmp) = (&c.con, v.compare(&c.con));
    match c.op.as_str() {
        "" | "=" => {
            if c.dirty {
                tilde(c, v)
            } else {
                cmp == 0
            }
        }
        "!=" => {
            if c.dirty {
                if con.major != v.major {
                    return true;
                }
                if con.minor != v.minor && !c.minor_dirty {
                    return true;
                } else if c.minor_dirty {
                    return false;
                } else if con.patch != v.patch && !c.patch_dirty {
                    return true;
                } else if c.patch_dirty {
                    if !v.pre.is_empty() || !con.pre.is_empty() {
                        return compare_prerelease(&v.pre, &con.pre) != 0;
                    }
                    return false;
                }
            }
            cmp != 0
        }
        ">" => {
            if !c.dirty {
                return cmp == 1;
            }
            if v.major > con.major {
                true
            } else if v.major < con.major || c.minor_dirty {
                false
            } else if c.patch_dirty {
                v.minor > con.minor
            } else {
                cmp == 1
            }
        }
        "<" => cmp < 0,
        ">=" | "=>" => cmp >= 0,
        "<=" | "=<" => {
            if !c.dirty {
                return cmp <= 0;
            }
            !(v.major > con.major
                || (v.major == con.major && v.minor > con.minor && !c.minor_dirty))
        }
        "~" | "~>" => tilde(c, v),
        "^" => {
            if cmp < 0 {
                return false;
            }
            if con.major > 0 || c.minor_dirty {
                return v.major == con.major;
            }
            if v.major > 0 {
                return false;
            }
            if con.minor > 0 || c.patch_dirty {
                return v.minor == con.minor;
            }
            if v.minor > 0 {
                return false;
            }
            con.patch == v.patch
        }
        _ => false,
    }
}

fn tilde(c: &Constraint, v: &Version) -> bool {
    let con = &c.con;
    if v.compare(con) < 0 {
        return false;
    }
    if con.major == 0 && con.minor == 0 && con.patch == 0 && !c.minor_dirty && !c.patch_dirty {
        return true;
    }
    if v.major != con.major {
        return false;
    }
    v.minor == con.minor || c.minor_dirty
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        check(c, &Version::parse(v).expect("version parses")).expect("constraint parses")
    }

    #[test]
    fn versions_coerce_and_print() {
        let v = Version::parse("v1.2").expect("parses");
        assert_eq!(
            (v.string(), v.original.as_str()),
            ("1.2.0".to_owned(), "v1.2")
        );
        assert_eq!(
            Version::parse("1.2.3-beta.1+b5").expect("parses").string(),
            "1.2.3-beta.1+b5"
        );
        assert_eq!(
            Version::parse("x").expect_err("bad"),
            "invalid semantic version"
        );
        assert_eq!(
            Version::parse("1.0.0-01").expect_err("bad"),
            "version segment starts with 0"
        );
    }

    #[test]
    fn constraints_follow_masterminds_rules() {
        assert!(ok(">= 1.2.3", "1.2.3"));
        assert!(!ok(">= 1.2.3", "1.2.3-beta"));
        assert!(ok(">= 1.2.3-0", "1.2.3-beta"));
        assert!(ok("~1.2", "1.2.9"));
        assert!(!ok("~1.2", "1.3.0"));
        assert!(ok("^0.2.3", "0.2.9"));
        assert!(!ok("^0.2.3", "0.3.0"));
        assert!(ok("1.2 - 1.4.5", "1.4.5"));
        assert!(!ok("1.2 - 1.4.5", "1.4.6"));
        assert!(ok("<1.0 || >=2.0, <3", "2.5.0"));
        assert!(ok("1.x", "1.9.9"));
        assert!(ok("!=1.2.x", "1.3.0"));
        assert!(!ok("!=1.2.x", "1.2.7"));
        assert_eq!(
            check("~> foo", &Version::parse("1.0.0").expect("parses")).expect_err("bad"),
            "improper constraint: ~> foo"
        );
    }
}
