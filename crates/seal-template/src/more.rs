//! Sprig's date, random, key-material, encryption, semver, URL and
//! word-case functions, and the fields and methods of the objects they
//! return (`time.Time`, `*semver.Version`, `certificate`).
//!
//! Random values come from the operating system's CSPRNG, as Sprig's
//! `crypto/rand` ones do (Sprig's `shuffle` and `randInt` use `math/rand`;
//! ours are no weaker). Costly calls are bounded per render:
//! [`keys::MAX_KEYS`] key generations or imports, [`MAX_SCRYPT`]
//! `derivePassword` calls.

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine as _;
use hmac::Mac as _;
use rand::Rng as _;

use super::exec::{Exec, FnErr};
use super::funcs::{Func, T, b64_decode, f};
use super::gotime::{self, GoTime};
use super::keys;
use super::semver::{self, Version};
use super::value::{Elem, Obj, Value};
use super::{MAX_OUTPUT, gourl, text};

type FResult = Result<Value, FnErr>;

/// Most `derivePassword` calls per render (each runs scrypt with N=32768,
/// r=8: 32 MiB and tens of milliseconds).
pub(super) const MAX_SCRYPT: usize = 4;

fn s(v: &Value) -> Rc<str> {
    match v {
        Value::Str(s) => s.clone(),
        _ => Rc::from(""),
    }
}

fn i(v: &Value) -> i64 {
    v.as_int().unwrap_or(0)
}

fn time_of(v: &Value) -> GoTime {
    match v {
        Value::Obj(o) => match &**o {
            Obj::Time(t) => t.clone(),
            _ => GoTime::zero(),
        },
        _ => GoTime::zero(),
    }
}

fn time_value(t: GoTime) -> Value {
    Value::Obj(Rc::new(Obj::Time(t)))
}

/// Sprig's `date`-family type switch: a time, or Unix seconds as `int`,
/// `int64` or `int32`; anything else means now.
fn as_date(v: &Value, allow_int32: bool) -> GoTime {
    let _ = allow_int32;
    match v {
        Value::Obj(o) => match &**o {
            Obj::Time(t) => t.clone(),
            _ => GoTime::now(),
        },
        Value::Int(n) | Value::Int64(n) => GoTime::unix(*n, 0),
        _ => GoTime::now(),
    }
}

fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    let t = as_date(date, true);
    let loc = gotime::load_location(zone).unwrap_or(gotime::Loc::Utc);
    gotime::format(&t.in_loc(&loc), layout)
}

fn charge_key(x: &mut Exec<'_>) -> Result<(), FnErr> {
    x.key_calls += 1;
    if x.key_calls > keys::MAX_KEYS {
        return Err(format!(
            "more than {} key generations or imports in one template",
            keys::MAX_KEYS
        )
        .into());
    }
    Ok(())
}

/// Sprig's random strings (goutils' `CryptoRandom*`): `count` characters
/// from `set`.
fn random_string(count: i64, set: &[u8]) -> Result<String, FnErr> {
    if count <= 0 {
        return Ok(String::new());
    }
    let n = usize::try_from(count).unwrap_or(usize::MAX);
    if n > MAX_OUTPUT {
        return Err("result too large".into());
    }
    let mut rng = rand::rngs::OsRng;
    Ok((0..n)
        .map(|_| char::from(set[rng.gen_range(0..set.len())]))
        .collect())
}

const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";

fn ascii() -> Vec<u8> {
    (32u8..127).collect()
}

fn uuidv4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn cert_value(b: keys::Built) -> Value {
    Value::Obj(Rc::new(Obj::Cert {
        cert: Rc::from(b.cert),
        key: Rc::from(b.key),
    }))
}

/// Sprig's `getNetIPs`.
fn net_ips(v: &Value) -> Result<Vec<std::net::IpAddr>, String> {
    let Value::List(items, _) = v else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|ip| match ip {
            Value::Str(s) => s
                .parse::<std::net::IpAddr>()
                .map_err(|_| format!("error parsing ip: {s}")),
            other => Err(format!(
                "error parsing ip: {} is not a string",
                super::value::sprint(other).unwrap_or_default()
            )),
        })
        .collect()
}

/// Sprig's `getAlternateDNSStrs`.
fn dns_names(v: &Value) -> Result<Vec<String>, String> {
    let Value::List(items, _) = v else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|d| match d {
            Value::Str(s) => Ok(s.to_string()),
            other => Err(format!(
                "error processing alternate dns name: {} is not a string",
                super::value::sprint(other).unwrap_or_default()
            )),
        })
        .collect()
}

fn days(v: &Value) -> i64 {
    i(v)
}

/// The certificate functions. `with_key` is the index of a PEM key
/// argument; `ca` the index of a CA argument.
fn make_cert(
    x: &mut Exec<'_>,
    a: &[Value],
    is_ca: bool,
    ips_dns: bool,
    ca: Option<usize>,
    with_key: Option<usize>,
) -> FResult {
    charge_key(x)?;
    let (ips, dns, days_at) = if ips_dns {
        (net_ips(&a[1])?, dns_names(&a[2])?, 3)
    } else {
        (Vec::new(), Vec::new(), 1)
    };
    let key = match with_key {
        Some(k) => keys::parse_pem(&s(&a[k])).map_err(|e| format!("parsing private key: {e}"))?,
        None => keys::rsa(2048)?,
    };
    let spec = keys::CertSpec {
        cn: &s(&a[0]),
        ips,
        dns,
        days: days(&a[days_at]),
        is_ca,
    };
    let built = match ca {
        None => keys::create(&spec, &key, None)?,
        Some(c) => {
            let (ca_cert, ca_key) = match &a[c] {
                Value::Obj(o) => match &**o {
                    Obj::Cert { cert, key } => (cert.clone(), key.clone()),
                    _ => (Rc::from(""), Rc::from("")),
                },
                _ => (Rc::from(""), Rc::from("")),
            };
            let (subject, kid) = keys::ca_parts(&ca_cert)?;
            charge_key(x)?;
            let signer_key =
                keys::parse_pem(&ca_key).map_err(|e| format!("error parsing private key: {e}"))?;
            let signer = keys::Signer {
                subject,
                key_id: kid,
                key: &signer_key,
            };
            keys::create(&spec, &key, Some(&signer))?
        }
    };
    Ok(cert_value(built))
}

const SEED: &str = "com.lyndir.masterpassword";

fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_chars(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// Sprig's `derivePassword`: the Master Password algorithm (scrypt of the
/// master password salted with the seed and user name, then HMAC-SHA256 of
/// the seed, site and counter picks a template and its characters).
fn derive_password(
    x: &mut Exec<'_>,
    counter: u32,
    kind: &str,
    password: &str,
    user: &str,
    site: &str,
) -> Result<String, FnErr> {
    let Some(tmpls) = templates(kind) else {
        return Ok(format!("cannot find password template {kind}"));
    };
    x.scrypt_calls += 1;
    if x.scrypt_calls > MAX_SCRYPT {
        return Err(format!("more than {MAX_SCRYPT} derivePassword calls in one template").into());
    }
    let len32 = |s: &str| u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes();
    let mut salt = SEED.as_bytes().to_vec();
    salt.extend_from_slice(&len32(user));
    salt.extend_from_slice(user.as_bytes());
    let params =
        scrypt::Params::new(15, 8, 2, 64).map_err(|e| format!("failed to derive password: {e}"))?;
    let mut key = zeroize::Zeroizing::new([0u8; 64]);
    scrypt::scrypt(password.as_bytes(), &salt, &params, &mut *key)
        .map_err(|e| format!("failed to derive password: {e}"))?;
    let mut msg = SEED.as_bytes().to_vec();
    msg.extend_from_slice(&len32(site));
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&*key)
        .map_err(|_| "failed to derive password")?;
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let tmpl = tmpls[usize::from(seed[0]) % tmpls.len()].as_bytes();
    Ok(tmpl
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let chars = template_chars(c);
            char::from(chars[usize::from(seed[k + 1]) % chars.len()])
        })
        .collect())
}

fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let p = password.as_bytes();
    let n = p.len().min(32);
    key[..n].copy_from_slice(&p[..n]);
    key
}

fn encrypt_aes(password: &str, plaintext: &str) -> String {
    use aes::cipher::{BlockEncrypt as _, KeyInit as _};
    if plaintext.is_empty() {
        return String::new();
    }
    let cipher = aes::Aes256::new(&aes_key(password).into());
    let mut content = plaintext.as_bytes().to_vec();
    let pad = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(pad as u8, pad));
    let iv: [u8; 16] = rand::random();
    let mut out = iv.to_vec();
    let mut prev = iv;
    for chunk in content.chunks(16) {
        let mut block = [0u8; 16];
        for (k, b) in block.iter_mut().enumerate() {
            *b = chunk[k] ^ prev[k];
        }
        let mut ga = aes::Block::from(block);
        cipher.encrypt_block(&mut ga);
        prev.copy_from_slice(&ga);
        out.extend_from_slice(&ga);
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Sprig's `decryptAES`, including the panics Go's slicing raises on short
/// or badly padded input (text/template reports them as errors).
fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, String> {
    use aes::cipher::{BlockDecrypt as _, KeyInit as _};
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = b64_decode(crypt64.as_bytes())?;
    if crypt.len() < 16 {
        return Err(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt.len()
        ));
    }
    let (iv, body) = crypt.split_at(16);
    if body.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let cipher = aes::Aes256::new(&aes_key(password).into());
    let mut prev = [0u8; 16];
    prev.copy_from_slice(iv);
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(body.len()));
    for chunk in body.chunks(16) {
        let mut ga = aes::Block::clone_from_slice(chunk);
        cipher.decrypt_block(&mut ga);
        for k in 0..16 {
            plain.push(ga[k] ^ prev[k]);
        }
        prev.copy_from_slice(chunk);
    }
    let Some(&last) = plain.last() else {
        return Err("runtime error: index out of range [-1]".into());
    };
    let keep = plain.len() as i64 - i64::from(last);
    if keep < 0 {
        return Err(format!(
            "runtime error: slice bounds out of range [:{keep}]"
        ));
    }
    Ok(String::from_utf8_lossy(&plain[..keep as usize]).into_owned())
}

fn version_value(v: Version) -> Value {
    Value::Obj(Rc::new(Obj::Version(v)))
}

fn url_parse(x: &mut Exec<'_>, raw: &str) -> FResult {
    let u = gourl::parse(raw).map_err(|e| format!("unable to parse url: {e}"))?;
    let m: BTreeMap<String, Value> = [
        ("scheme", u.scheme.clone()),
        ("host", u.host.clone()),
        ("hostname", u.hostname()),
        ("path", u.path.clone()),
        ("query", u.raw_query.clone()),
        ("opaque", u.opaque.clone()),
        ("fragment", u.fragment.clone()),
        ("userinfo", u.userinfo()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::str(v)))
    .collect();
    Ok(Value::Map(x.new_map(m), Elem::Any))
}

fn url_join(d: &Value) -> Result<String, String> {
    let Value::Map(m, _) = d else {
        return Ok(String::new());
    };
    let m = m.try_borrow().map_err(|_| "map in use")?;
    let get = |k: &str| -> Result<String, String> {
        match m.get(k) {
            None => Ok(String::new()),
            Some(Value::Str(s)) => Ok(s.to_string()),
            Some(Value::Missing | Value::Nil) => {
                Err("runtime error: invalid memory address or nil pointer dereference".into())
            }
            Some(other) => Err(format!(
                "unable to parse {k} key, must be of type string, but {} found",
                other.kind_name()
            )),
        }
    };
    let (scheme, host, path, query, opaque, fragment) = (
        get("scheme")?,
        get("host")?,
        get("path")?,
        get("query")?,
        get("opaque")?,
        get("fragment")?,
    );
    let userinfo = get("userinfo")?;
    let user = if userinfo.is_empty() {
        None
    } else {
        let tmp = gourl::parse(&format!("proto://{userinfo}@host"))
            .map_err(|e| format!("unable to parse userinfo in dict: {e}"))?;
        tmp.user
    };
    Ok(gourl::Url::from_parts(&scheme, &host, &path, &query, &opaque, &fragment, user).string())
}

/// The functions this module defines.
pub(super) fn lookup(name: &str) -> Option<Func> {
    use T::*;
    match name {
        // --- dates ---
        "now" => f(&[], None, |_, _| Ok(time_value(GoTime::now()))),
        "date" => f(&[Str, Any], None, |_, a| {
            Ok(Value::str(date_in_zone(&s(&a[0]), &a[1], "Local")))
        }),
        "dateInZone" | "date_in_zone" => f(&[Str, Any, Str], None, |_, a| {
            Ok(Value::str(date_in_zone(&s(&a[0]), &a[1], &s(&a[2]))))
        }),
        "htmlDate" => f(&[Any], None, |_, a| {
            Ok(Value::str(date_in_zone("2006-01-02", &a[0], "Local")))
        }),
        "htmlDateInZone" => f(&[Any, Str], None, |_, a| {
            Ok(Value::str(date_in_zone("2006-01-02", &a[0], &s(&a[1]))))
        }),
        "dateModify" | "date_modify" => f(&[Str, Time], None, |_, a| {
            let t = time_of(&a[1]);
            Ok(time_value(match gotime::parse_duration(&s(&a[0])) {
                Ok(d) => t.add(d),
                Err(_) => t,
            }))
        }),
        "mustDateModify" | "must_date_modify" => f(&[Str, Time], None, |_, a| {
            let d = gotime::parse_duration(&s(&a[0]))?;
            Ok(time_value(time_of(&a[1]).add(d)))
        }),
        "ago" => f(&[Any], None, |_, a| {
            let t = match &a[0] {
                Value::Obj(o) => match &**o {
                    Obj::Time(t) => t.clone(),
                    _ => GoTime::now(),
                },
                Value::Int(n) | Value::Int64(n) => GoTime::unix(*n, 0),
                _ => GoTime::now(),
            };
            let d = gotime::duration_round(t.since(), gotime::SECOND);
            Ok(Value::str(gotime::duration_string(d)))
        }),
        "duration" => f(&[Any], None, |_, a| {
            // Sprig reads a string or an int64 only; an `int` is 0.
            let n = match &a[0] {
                Value::Str(s) => s.parse::<i64>().unwrap_or(0),
                Value::Int64(n) => *n,
                _ => 0,
            };
            Ok(Value::str(gotime::duration_string(
                n.wrapping_mul(gotime::SECOND),
            )))
        }),
        "durationRound" => f(&[Any], None, |_, a| {
            let d = match &a[0] {
                Value::Str(s) => gotime::parse_duration(s).unwrap_or(0),
                Value::Int64(n) => *n,
                Value::Obj(o) => match &**o {
                    Obj::Time(t) => t.since(),
                    _ => 0,
                },
                _ => 0,
            };
            Ok(Value::str(duration_round_text(d)))
        }),
        "toDate" => f(&[Str, Str], None, |_, a| {
            Ok(time_value(
                gotime::parse(&s(&a[0]), &s(&a[1])).unwrap_or_else(|_| GoTime::zero()),
            ))
        }),
        "mustToDate" => f(&[Str, Str], None, |_, a| {
            Ok(time_value(gotime::parse(&s(&a[0]), &s(&a[1]))?))
        }),
        "unixEpoch" => f(&[Time], None, |_, a| {
            Ok(Value::str(time_of(&a[0]).unix_secs().to_string()))
        }),

        // --- randomness ---
        "randAlphaNum" => f(&[Int], None, |_, a| {
            Ok(Value::str(random_string(i(&a[0]), ALNUM)?))
        }),
        "randAlpha" => f(&[Int], None, |_, a| {
            Ok(Value::str(random_string(i(&a[0]), ALPHA)?))
        }),
        "randNumeric" => f(&[Int], None, |_, a| {
            Ok(Value::str(random_string(i(&a[0]), DIGITS)?))
        }),
        "randAscii" => f(&[Int], None, |_, a| {
            Ok(Value::str(random_string(i(&a[0]), &ascii())?))
        }),
        "randBytes" => f(&[Int], None, |_, a| {
            let n = i(&a[0]);
            if n < 0 {
                return Err("runtime error: makeslice: len out of range".into());
            }
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > MAX_OUTPUT / 2 {
                return Err("result too large".into());
            }
            let mut buf = zeroize::Zeroizing::new(vec![0u8; n]);
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut buf);
            Ok(Value::str(
                base64::engine::general_purpose::STANDARD.encode(&*buf),
            ))
        }),
        "randInt" => f(&[Int, Int], None, |_, a| {
            let (min, max) = (i(&a[0]), i(&a[1]));
            let span = max.wrapping_sub(min);
            if span <= 0 {
                return Err("invalid argument to Intn".into());
            }
            Ok(Value::Int(
                rand::rngs::OsRng.gen_range(0..span).wrapping_add(min),
            ))
        }),
        "shuffle" => f(&[Str], None, |_, a| {
            use rand::seq::SliceRandom as _;
            let mut chars: Vec<char> = s(&a[0]).chars().collect();
            chars.shuffle(&mut rand::rngs::OsRng);
            Ok(Value::str(chars.into_iter().collect::<String>()))
        }),
        "uuidv4" => f(&[], None, |_, _| Ok(Value::str(uuidv4()))),

        // --- key material ---
        "genPrivateKey" => f(&[Str], None, |x, a| {
            let kind = s(&a[0]);
            charge_key(x)?;
            Ok(Value::str(match keys::generate(&kind)? {
                None => format!("Unknown type {kind}"),
                Some(k) => keys::to_pem(&k)?,
            }))
        }),
        "genCA" => f(&[Str, Int], None, |x, a| {
            make_cert(x, &a, true, false, None, None)
        }),
        "genCAWithKey" => f(&[Str, Int, Str], None, |x, a| {
            make_cert(x, &a, true, false, None, Some(2))
        }),
        "genSelfSignedCert" => f(&[Str, ListAny, ListAny, Int], None, |x, a| {
            make_cert(x, &a, false, true, None, None)
        }),
        "genSelfSignedCertWithKey" => f(&[Str, ListAny, ListAny, Int, Str], None, |x, a| {
            make_cert(x, &a, false, true, None, Some(4))
        }),
        "genSignedCert" => f(&[Str, ListAny, ListAny, Int, Cert], None, |x, a| {
            make_cert(x, &a, false, true, Some(4), None)
        }),
        "genSignedCertWithKey" => f(&[Str, ListAny, ListAny, Int, Cert, Str], None, |x, a| {
            make_cert(x, &a, false, true, Some(4), Some(5))
        }),
        "buildCustomCert" => f(&[Str, Str], None, |x, a| {
            let b64 = base64::engine::general_purpose::STANDARD;
            let cert = b64
                .decode(s(&a[0]).as_bytes())
                .map_err(|_| "unable to decode base64 certificate")?;
            let key = zeroize::Zeroizing::new(
                b64.decode(s(&a[1]).as_bytes())
                    .map_err(|_| "unable to decode base64 private key")?,
            );
            keys::check_cert(&cert)?;
            charge_key(x)?;
            keys::parse_pem(&String::from_utf8_lossy(&key))
                .map_err(|e| format!("error parsing private key: {e}"))?;
            Ok(cert_value(keys::Built {
                cert: String::from_utf8_lossy(&cert).into_owned(),
                key: String::from_utf8_lossy(&key).into_owned(),
            }))
        }),
        "derivePassword" => f(&[Uint32, Str, Str, Str, Str], None, |x, a| {
            let counter = u32::try_from(i(&a[0])).unwrap_or(0);
            Ok(Value::str(derive_password(
                x,
                counter,
                &s(&a[1]),
                &s(&a[2]),
                &s(&a[3]),
                &s(&a[4]),
            )?))
        }),
        "encryptAES" => f(&[Str, Str], None, |_, a| {
            Ok(Value::str(encrypt_aes(&s(&a[0]), &s(&a[1]))))
        }),
        "decryptAES" => f(&[Str, Str], None, |_, a| {
            Ok(Value::str(decrypt_aes(&s(&a[0]), &s(&a[1]))?))
        }),

        // --- semver, URLs, words ---
        "semver" => f(&[Str], None, |_, a| {
            Ok(version_value(Version::parse(&s(&a[0]))?))
        }),
        "semverCompare" => f(&[Str, Str], None, |_, a| {
            let v = Version::parse(&s(&a[1]))?;
            Ok(Value::Bool(semver::check(&s(&a[0]), &v)?))
        }),
        "urlParse" => f(&[Str], None, |x, a| url_parse(x, &s(&a[0]))),
        "urlJoin" => f(&[MapSI], None, |_, a| Ok(Value::str(url_join(&a[0])?))),
        "snakecase" => f(&[Str], None, |_, a| {
            Ok(Value::str(text::lower_case_words(&s(&a[0]), '_')))
        }),
        "kebabcase" => f(&[Str], None, |_, a| {
            Ok(Value::str(text::lower_case_words(&s(&a[0]), '-')))
        }),
        "camelcase" => f(&[Str], None, |_, a| {
            Ok(Value::str(text::pascal_case(&s(&a[0]))))
        }),
        "wrap" => f(&[Int, Str], None, |_, a| {
            Ok(Value::str(text::wrap_custom(
                &s(&a[1]),
                i(&a[0]),
                "",
                false,
            )))
        }),
        "wrapWith" => f(&[Int, Str, Str], None, |_, a| {
            Ok(Value::str(text::wrap_custom(
                &s(&a[2]),
                i(&a[0]),
                &s(&a[1]),
                true,
            )))
        }),
        _ => None,
    }
}

/// Sprig's `durationRound` text: the largest whole unit.
fn duration_round_text(d: i64) -> String {
    let u = d.unsigned_abs();
    let hour = 3_600_000_000_000u64;
    let units: [(u64, &str); 6] = [
        (hour * 24 * 365, "y"),
        (hour * 24 * 30, "mo"),
        (hour * 24, "d"),
        (hour, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}

fn time_arg(v: &Value) -> Result<GoTime, String> {
    match v {
        Value::Obj(o) => match &**o {
            Obj::Time(t) => Ok(t.clone()),
            _ => Err("wrong type for value; expected time.Time".into()),
        },
        _ => Err("wrong type for value; expected time.Time".into()),
    }
}

/// How many arguments method `name` of `o` takes, if it is a method (fields take none too).
pub(super) fn arity(o: &Obj, name: &str) -> Option<usize> {
    match (o, name) {
        (Obj::Time(_), "Format" | "Add" | "Sub" | "Before" | "After" | "Equal") => Some(1),
        (Obj::Time(_), "AddDate") => Some(3),
        (
            Obj::Version(_),
            "LessThan" | "LessThanEqual" | "GreaterThan" | "GreaterThanEqual" | "Equal" | "Compare",
        ) => Some(1),
        (
            Obj::Time(_),
            "Unix" | "UnixNano" | "UnixMilli" | "Year" | "Month" | "Day" | "Hour" | "Minute"
            | "Second" | "Nanosecond" | "YearDay" | "Weekday" | "IsZero" | "UTC" | "Local"
            | "String",
        ) => Some(0),
        (
            Obj::Version(_) | Obj::VersionValue(_),
            "Major" | "Minor" | "Patch" | "Prerelease" | "Metadata" | "String" | "IncMajor"
            | "IncMinor" | "IncPatch",
        ) => Some(0),
        (Obj::Version(_), "Original") => Some(0),
        _ => None,
    }
}

/// A field or method of an object: `Ok(None)` if it has none of that name.
/// `args` are the evaluated arguments.
pub(super) fn member(o: &Obj, name: &str, args: &[Value]) -> Result<Option<Value>, String> {
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            ))
        }
    };
    let int = |n: i64| Ok(Some(Value::Int(n)));
    match o {
        Obj::Cert { cert, key } => match name {
            "Cert" => Ok(Some(Value::Str(cert.clone()))),
            "Key" => Ok(Some(Value::Str(key.clone()))),
            _ => Ok(None),
        },
        Obj::Duration(_) => Ok(None),
        Obj::Version(v) | Obj::VersionValue(v) => {
            let by_value = matches!(o, Obj::VersionValue(_));
            if by_value
                && matches!(
                    name,
                    "Original"
                        | "LessThan"
                        | "LessThanEqual"
                        | "GreaterThan"
                        | "GreaterThanEqual"
                        | "Equal"
                        | "Compare"
                )
            {
                return Ok(None);
            }
            let other = |k: usize| -> Result<Version, String> {
                match args.get(k) {
                    Some(Value::Obj(o)) => match &**o {
                        Obj::Version(w) => Ok(w.clone()),
                        _ => Err("wrong type for value; expected *semver.Version".into()),
                    },
                    _ => Err("wrong type for value; expected *semver.Version".into()),
                }
            };
            match name {
                "LessThan" | "LessThanEqual" | "GreaterThan" | "GreaterThanEqual" | "Equal"
                | "Compare" => {
                    want(1)?;
                    let c = v.compare(&other(0)?);
                    return Ok(Some(match name {
                        "LessThan" => Value::Bool(c < 0),
                        "LessThanEqual" => Value::Bool(c <= 0),
                        "GreaterThan" => Value::Bool(c > 0),
                        "GreaterThanEqual" => Value::Bool(c >= 0),
                        "Equal" => Value::Bool(c == 0),
                        _ => Value::Int(c),
                    }));
                }
                _ => {}
            }
            let n = match name {
                "Major" | "Minor" | "Patch" | "Prerelease" | "Metadata" | "Original" | "String"
                | "IncMajor" | "IncMinor" | "IncPatch" => {
                    want(0)?;
                    name
                }
                _ => return Ok(None),
            };
            Ok(Some(match n {
                "Major" => Value::Int64(v.major as i64),
                "Minor" => Value::Int64(v.minor as i64),
                "Patch" => Value::Int64(v.patch as i64),
                "Prerelease" => Value::str(v.pre.as_str()),
                "Metadata" => Value::str(v.metadata.as_str()),
                "Original" => Value::str(v.original.as_str()),
                "IncMajor" | "IncMinor" | "IncPatch" => {
                    Value::Obj(Rc::new(Obj::VersionValue(v.inc(n))))
                }
                _ => Value::str(v.string()),
            }))
        }
        Obj::Time(t) => {
            let c = t.civil();
            match name {
                "Format" => {
                    want(1)?;
                    let layout = match &args[0] {
                        Value::Str(s) => s.clone(),
                        _ => return Err("wrong type for value; expected string".into()),
                    };
                    Ok(Some(Value::str(gotime::format(t, &layout))))
                }
                "Add" => {
                    want(1)?;
                    Ok(Some(time_value(t.add(i(&args[0])))))
                }
                "Sub" => {
                    want(1)?;
                    let u = time_arg(&args[0])?;
                    Ok(Some(Value::Obj(Rc::new(Obj::Duration(t.sub(&u))))))
                }
                "Before" | "After" | "Equal" => {
                    want(1)?;
                    let u = time_arg(&args[0])?;
                    let (a, b) = ((t.secs, t.nsec), (u.secs, u.nsec));
                    Ok(Some(Value::Bool(match name {
                        "Before" => a < b,
                        "After" => a > b,
                        _ => a == b,
                    })))
                }
                "In" => Ok(None),
                "AddDate" => {
                    want(3)?;
                    let n: Vec<i64> = args.iter().map(i).collect();
                    Ok(Some(time_value(t.add_date(n[0], n[1], n[2]))))
                }
                _ => {
                    want(0)?;
                    match name {
                        "Unix" => Ok(Some(Value::Int64(t.unix_secs()))),
                        "UnixNano" => Ok(Some(Value::Int64(t.unix_nano()))),
                        "UnixMilli" => Ok(Some(Value::Int64(
                            t.unix_secs().wrapping_mul(1000) + i64::from(t.nsec / 1_000_000),
                        ))),
                        "Year" => int(c.year),
                        "Month" => Ok(Some(Value::str(
                            gotime::LONG_MONTHS[(c.month - 1) as usize],
                        ))),
                        "Day" => int(c.day),
                        "Hour" => int(c.hour),
                        "Minute" => int(c.min),
                        "Second" => int(c.sec),
                        "Nanosecond" => int(i64::from(t.nsec)),
                        "YearDay" => int(c.yday),
                        "Weekday" => Ok(Some(Value::str(gotime::weekday_name(c.weekday)))),
                        "IsZero" => Ok(Some(Value::Bool(t.is_zero()))),
                        "UTC" => Ok(Some(time_value(t.in_loc(&gotime::Loc::Utc)))),
                        "Local" => Ok(Some(time_value(t.in_loc(&gotime::Loc::Local)))),
                        "String" => Ok(Some(Value::str(t.string()))),
                        _ => Ok(None),
                    }
                }
            }
        }
    }
}
