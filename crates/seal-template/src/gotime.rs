//! Go's `time.Time`, `time.Duration` and their text forms, for Sprig's date
//! functions: reference-time layouts (`"2006-01-02 15:04:05"`) both ways,
//! `Duration.String`, `time.ParseDuration`, and `Time.String`.
//!
//! Times are UTC seconds plus nanoseconds and the zone (offset and
//! abbreviation) they are shown in. Go's `Local` is UTC here: the controller
//! runs without a configured zone, as upstream's image does. Named zones
//! come from the IANA database (through `jiff`: the system's zoneinfo, or
//! its bundled copy where there is none).

use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Nanoseconds in a second, minute, hour.
const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

/// Seconds from 0001-01-01 (Go's zero time) to 1970-01-01.
pub(super) const ZERO_UNIX: i64 = -62_135_596_800;

/// A zone a time is shown in.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Loc {
    /// `time.UTC`.
    Utc,
    /// `time.Local` (UTC here).
    Local,
    /// A fixed offset without a database entry (from a parsed numeric offset).
    Fixed,
    /// A zone of the IANA database.
    Named(Rc<str>),
}

/// A Go `time.Time`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nsec: u32,
    /// The zone's offset east of UTC at this instant, in seconds.
    pub offset: i32,
    /// The zone's abbreviation at this instant (`""` for a nameless fixed zone).
    pub abbr: Rc<str>,
    pub loc: Loc,
    /// The monotonic clock reading, in nanoseconds since the process's first
    /// reading, for times that came from `now` (Go prints it as `m=+…`).
    pub mono: Option<i64>,
}

fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl GoTime {
    /// Go's zero `time.Time{}`: 0001-01-01 00:00:00 UTC.
    pub(super) fn zero() -> GoTime {
        GoTime::utc(ZERO_UNIX, 0)
    }

    fn utc(secs: i64, nsec: u32) -> GoTime {
        GoTime {
            secs,
            nsec,
            offset: 0,
            abbr: Rc::from("UTC"),
            loc: Loc::Utc,
            mono: None,
        }
    }

    /// `time.Now()`, in `Local`.
    pub(super) fn now() -> GoTime {
        let start = process_start();
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mono = i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let mut t = GoTime::unix(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        );
        // Go's first monotonic reading is a little after process start.
        t.mono = Some(mono.max(1));
        t
    }

    /// `time.Unix(secs, nsec)`, in `Local`.
    pub(super) fn unix(secs: i64, nsec: u32) -> GoTime {
        let mut t = GoTime::utc(secs, nsec);
        t.loc = Loc::Local;
        t
    }

    /// `t.In(loc)`; drops the monotonic reading, as Go does.
    pub(super) fn in_loc(&self, loc: &Loc) -> GoTime {
        let mut t = GoTime::utc(self.secs, self.nsec);
        t.loc = loc.clone();
        if let Loc::Named(name) = loc
            && let Some((off, abbr)) = zone_at(name, self.secs)
        {
            t.offset = off;
            t.abbr = Rc::from(abbr);
        }
        t
    }

    /// `t.Unix()`.
    pub(super) fn unix_secs(&self) -> i64 {
        self.secs
    }

    /// `t.UnixNano()` (wrapping outside the int64 range, as Go's does).
    pub(super) fn unix_nano(&self) -> i64 {
        self.secs
            .wrapping_mul(SEC)
            .wrapping_add(i64::from(self.nsec))
    }

    /// `t.Add(d)`; the monotonic reading moves with it.
    pub(super) fn add(&self, d: i64) -> GoTime {
        let total = i128::from(self.secs) * i128::from(SEC) + i128::from(self.nsec) + i128::from(d);
        let secs = total.div_euclid(i128::from(SEC));
        let nsec = total.rem_euclid(i128::from(SEC));
        let mut t = self.clone();
        t.secs = i64::try_from(secs).unwrap_or(if d > 0 { i64::MAX } else { i64::MIN });
        t.nsec = u32::try_from(nsec).unwrap_or(0);
        if let Loc::Named(name) = &self.loc
            && let Some((off, abbr)) = zone_at(name, t.secs)
        {
            t.offset = off;
            t.abbr = Rc::from(abbr);
        }
        t.mono = self.mono.map(|m| m.saturating_add(d));
        t
    }

    /// `t.Sub(u)` as Go's saturating `Duration`.
    pub(super) fn sub(&self, u: &GoTime) -> i64 {
        if let (Some(a), Some(b)) = (self.mono, u.mono) {
            return a.saturating_sub(b);
        }
        let d = (i128::from(self.secs) - i128::from(u.secs)) * i128::from(SEC)
            + (i128::from(self.nsec) - i128::from(u.nsec));
        i64::try_from(d).unwrap_or(if d > 0 { i64::MAX } else { i64::MIN })
    }

    /// `time.Since(t)`.
    pub(super) fn since(&self) -> i64 {
        GoTime::now().sub(self)
    }

    /// The civil fields in the time's own zone.
    pub(super) fn civil(&self) -> Civil {
        Civil::from_unix(self.secs.saturating_add(i64::from(self.offset)))
    }

    /// `t.IsZero()`.
    pub(super) fn is_zero(&self) -> bool {
        self.secs == ZERO_UNIX && self.nsec == 0
    }

    /// `t.String()`.
    pub(super) fn string(&self) -> String {
        let mut s = format(self, "2006-01-02 15:04:05.999999999 -0700 MST");
        if let Some(m) = self.mono {
            let sign = if m < 0 { '-' } else { '+' };
            let m = m.unsigned_abs();
            s.push_str(&format!(
                " m={sign}{}.{:09}",
                m / SEC as u64,
                m % SEC as u64
            ));
        }
        s
    }

    /// `t.AddDate(years, months, days)`, normalised as Go's `time.Date`.
    pub(super) fn add_date(&self, years: i64, months: i64, days: i64) -> GoTime {
        let c = self.civil();
        let local = Civil::to_unix(
            c.year.saturating_add(years),
            c.month.saturating_add(months),
            c.day.saturating_add(days),
            c.hour,
            c.min,
            c.sec,
        );
        let mut t = self.clone();
        t.secs = local.saturating_sub(i64::from(self.offset));
        if let Loc::Named(name) = &self.loc
            && let Some((off, abbr)) = zone_at(name, t.secs)
        {
            t.secs = local.saturating_sub(i64::from(off));
            t.offset = off;
            t.abbr = Rc::from(abbr);
        }
        t.mono = None;
        t
    }
}

/// The offset and abbreviation of IANA zone `name` at Unix second `secs`.
fn zone_at(name: &str, secs: i64) -> Option<(i32, String)> {
    let tz = jiff::tz::TimeZone::get(name).ok()?;
    let ts = jiff::Timestamp::from_second(secs.clamp(
        jiff::Timestamp::MIN.as_second(),
        jiff::Timestamp::MAX.as_second(),
    ))
    .ok()?;
    let info = tz.to_offset_info(ts);
    Some((info.offset().seconds(), info.abbreviation().to_string()))
}

/// `time.LoadLocation(name)`, or `None` where Go returns an error.
pub(super) fn load_location(name: &str) -> Option<Loc> {
    match name {
        "" | "UTC" => Some(Loc::Utc),
        "Local" => Some(Loc::Local),
        _ => {
            // Go refuses names that could escape the zoneinfo directory.
            if name.contains("..") || name.starts_with('/') || name.contains('\\') {
                return None;
            }
            jiff::tz::TimeZone::get(name).ok()?;
            Some(Loc::Named(Rc::from(name)))
        }
    }
}

/// Broken-down civil time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Civil {
    pub year: i64,
    /// 1..=12
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub min: i64,
    pub sec: i64,
    /// 0 = Sunday
    pub weekday: i64,
    /// 1..=366
    pub yday: i64,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Civil {
    fn from_unix(local: i64) -> Civil {
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            min: rem / 60 % 60,
            sec: rem % 60,
            weekday: (days + 4).rem_euclid(7),
            yday: days - days_from_civil(year, 1, 1) + 1,
        }
    }

    /// Local seconds of a date whose fields may be out of range (Go normalises).
    fn to_unix(year: i64, month: i64, day: i64, hour: i64, min: i64, sec: i64) -> i64 {
        // Far outside any real date the result saturates instead of overflowing.
        let clamp = |v: i64| v.clamp(-(1 << 40), 1 << 40);
        let m0 = clamp(month) - 1;
        let year = clamp(year) + m0.div_euclid(12);
        let month = m0.rem_euclid(12) + 1;
        let days = days_from_civil(year, month, 1) + clamp(day) - 1;
        days.saturating_mul(86_400)
            .saturating_add(hour * 3600 + min * 60 + sec)
    }
}

const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
/// `time.Weekday(d).String()`.
pub(super) fn weekday_name(d: i64) -> &'static str {
    LONG_DAYS[d.rem_euclid(7) as usize]
}

pub(super) const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A layout element (Go's `std*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    /// Numeric zone: `z` tells `Z` for UTC, `colon` and `secs` the shape,
    /// `short` hours only.
    NumTZ {
        z: bool,
        colon: bool,
        secs: bool,
        short: bool,
    },
    /// Fractional seconds: `nines` trims trailing zeros, `n` digits, `sep` is `.` or `,`.
    Frac {
        nines: bool,
        n: usize,
        sep: u8,
    },
}

fn starts_lower(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_lowercase)
}

/// Go's `nextStdChunk`: the literal prefix, the element, and the rest.
fn next_chunk(layout: &[u8]) -> (&[u8], Option<(Std, &'static str)>, &[u8]) {
    let at = |i: usize, s: &str| layout.get(i..i + s.len()) == Some(s.as_bytes());
    for i in 0..layout.len() {
        let c = layout[i];
        let hit = |n: usize, std: Std, text: &'static str| -> Option<(usize, Std, &'static str)> {
            Some((n, std, text))
        };
        let found: Option<(usize, Std, &'static str)> = match c {
            b'J' if at(i, "Jan") => {
                if at(i, "January") {
                    hit(7, Std::LongMonth, "January")
                } else if !starts_lower(&layout[i + 3..]) {
                    hit(3, Std::Month, "Jan")
                } else {
                    None
                }
            }
            b'M' if at(i, "Mon") => {
                if at(i, "Monday") {
                    hit(6, Std::LongWeekDay, "Monday")
                } else if !starts_lower(&layout[i + 3..]) {
                    hit(3, Std::WeekDay, "Mon")
                } else {
                    None
                }
            }
            b'M' if at(i, "MST") => hit(3, Std::TZ, "MST"),
            b'0' if layout.get(i + 1).is_some_and(|d| (b'1'..=b'6').contains(d)) => {
                match layout[i + 1] {
                    b'1' => hit(2, Std::ZeroMonth, "01"),
                    b'2' => hit(2, Std::ZeroDay, "02"),
                    b'3' => hit(2, Std::ZeroHour12, "03"),
                    b'4' => hit(2, Std::ZeroMinute, "04"),
                    b'5' => hit(2, Std::ZeroSecond, "05"),
                    _ => hit(2, Std::Year, "06"),
                }
            }
            b'0' if at(i, "002") => hit(3, Std::ZeroYearDay, "002"),
            b'1' if at(i, "15") => hit(2, Std::Hour, "15"),
            b'1' => hit(1, Std::NumMonth, "1"),
            b'2' if at(i, "2006") => hit(4, Std::LongYear, "2006"),
            b'2' => hit(1, Std::Day, "2"),
            b'_' if layout.get(i + 1) == Some(&b'2') => {
                if at(i + 1, "2006") {
                    // `_2006` is a literal `_` and a long year.
                    return (
                        &layout[..i + 1],
                        Some((Std::LongYear, "2006")),
                        &layout[i + 5..],
                    );
                }
                hit(2, Std::UnderDay, "_2")
            }
            b'_' if at(i, "__2") => hit(3, Std::UnderYearDay, "__2"),
            b'3' => hit(1, Std::Hour12, "3"),
            b'4' => hit(1, Std::Minute, "4"),
            b'5' => hit(1, Std::Second, "5"),
            b'P' if at(i, "PM") => hit(2, Std::PM, "PM"),
            b'p' if at(i, "pm") => hit(2, Std::Pm, "pm"),
            b'-' | b'Z' => {
                let z = c == b'Z';
                let shapes: [(&'static str, &'static str, bool, bool, bool); 5] = if z {
                    [
                        ("Z070000", "Z070000", false, true, false),
                        ("Z07:00:00", "Z07:00:00", true, true, false),
                        ("Z0700", "Z0700", false, false, false),
                        ("Z07:00", "Z07:00", true, false, false),
                        ("Z07", "Z07", false, false, true),
                    ]
                } else {
                    [
                        ("-070000", "-070000", false, true, false),
                        ("-07:00:00", "-07:00:00", true, true, false),
                        ("-0700", "-0700", false, false, false),
                        ("-07:00", "-07:00", true, false, false),
                        ("-07", "-07", false, false, true),
                    ]
                };
                shapes
                    .iter()
                    .find(|s| at(i, s.0))
                    .map(|&(p, text, colon, secs, short)| {
                        (
                            p.len(),
                            Std::NumTZ {
                                z,
                                colon,
                                secs,
                                short,
                            },
                            text,
                        )
                    })
            }
            b'.' | b',' if layout.get(i + 1).is_some_and(|d| *d == b'0' || *d == b'9') => {
                let ch = layout[i + 1];
                let mut j = i + 1;
                while j < layout.len() && layout[j] == ch {
                    j += 1;
                }
                if layout.get(j).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    let std = Std::Frac {
                        nines: ch == b'9',
                        n: j - (i + 1),
                        sep: c,
                    };
                    return (&layout[..i], Some((std, "")), &layout[j..]);
                }
            }
            _ => None,
        };
        if let Some((n, std, text)) = found {
            return (&layout[..i], Some((std, text)), &layout[i + n..]);
        }
    }
    (layout, None, &[])
}

fn push_int(out: &mut String, x: i64, width: usize) {
    if x < 0 {
        out.push('-');
    }
    let s = x.unsigned_abs().to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

/// `t.Format(layout)`.
pub(super) fn format(t: &GoTime, layout: &str) -> String {
    let c = t.civil();
    let mut out = String::with_capacity(layout.len() + 10);
    let mut rest = layout.as_bytes();
    while !rest.is_empty() {
        let (prefix, std, tail) = next_chunk(rest);
        out.push_str(&String::from_utf8_lossy(prefix));
        rest = tail;
        let Some((std, _)) = std else { break };
        match std {
            Std::Year => push_int(&mut out, c.year.rem_euclid(100), 2),
            Std::LongYear => push_int(&mut out, c.year, 4),
            Std::Month => out.push_str(&LONG_MONTHS[(c.month - 1) as usize][..3]),
            Std::LongMonth => out.push_str(LONG_MONTHS[(c.month - 1) as usize]),
            Std::NumMonth => push_int(&mut out, c.month, 0),
            Std::ZeroMonth => push_int(&mut out, c.month, 2),
            Std::WeekDay => out.push_str(&LONG_DAYS[c.weekday as usize][..3]),
            Std::LongWeekDay => out.push_str(LONG_DAYS[c.weekday as usize]),
            Std::Day => push_int(&mut out, c.day, 0),
            Std::UnderDay => {
                if c.day < 10 {
                    out.push(' ');
                }
                push_int(&mut out, c.day, 0);
            }
            Std::ZeroDay => push_int(&mut out, c.day, 2),
            Std::UnderYearDay => {
                if c.yday < 100 {
                    out.push(' ');
                    if c.yday < 10 {
                        out.push(' ');
                    }
                }
                push_int(&mut out, c.yday, 0);
            }
            Std::ZeroYearDay => push_int(&mut out, c.yday, 3),
            Std::Hour => push_int(&mut out, c.hour, 2),
            Std::Hour12 => push_int(&mut out, if c.hour % 12 == 0 { 12 } else { c.hour % 12 }, 0),
            Std::ZeroHour12 => {
                push_int(&mut out, if c.hour % 12 == 0 { 12 } else { c.hour % 12 }, 2);
            }
            Std::Minute => push_int(&mut out, c.min, 0),
            Std::ZeroMinute => push_int(&mut out, c.min, 2),
            Std::Second => push_int(&mut out, c.sec, 0),
            Std::ZeroSecond => push_int(&mut out, c.sec, 2),
            Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::NumTZ {
                z,
                colon,
                secs,
                short,
            } => {
                if z && t.offset == 0 {
                    out.push('Z');
                    continue;
                }
                let mut zone = i64::from(t.offset) / 60;
                let mut abs = i64::from(t.offset);
                if zone < 0 {
                    out.push('-');
                    zone = -zone;
                    abs = -abs;
                } else {
                    out.push('+');
                }
                push_int(&mut out, zone / 60, 2);
                if colon {
                    out.push(':');
                }
                if !short {
                    push_int(&mut out, zone % 60, 2);
                }
                if secs {
                    if colon {
                        out.push(':');
                    }
                    push_int(&mut out, abs % 60, 2);
                }
            }
            Std::TZ => {
                if !t.abbr.is_empty() {
                    out.push_str(&t.abbr);
                } else {
                    let mut zone = i64::from(t.offset) / 60;
                    if zone < 0 {
                        out.push('-');
                        zone = -zone;
                    } else {
                        out.push('+');
                    }
                    push_int(&mut out, zone / 60, 2);
                    push_int(&mut out, zone % 60, 2);
                }
            }
            Std::Frac { nines, n, sep } => {
                let digits = format!("{:09}", t.nsec);
                let mut n = n.min(9);
                if nines {
                    while n > 0 && digits.as_bytes()[n - 1] == b'0' {
                        n -= 1;
                    }
                    if n == 0 {
                        continue;
                    }
                }
                out.push(char::from(sep));
                out.push_str(&digits[..n]);
            }
        }
    }
    out
}

/// Go's `time.ParseError` text.
fn parse_error(value: &str, layout: &str, value_elem: &str, layout_elem: &str) -> String {
    format!(
        "parsing time {} as {}: cannot parse {} as {}",
        go_quote_time(value),
        go_quote_time(layout),
        go_quote_time(value_elem),
        go_quote_time(layout_elem)
    )
}

/// The `quote` of Go's time package: `"` plus the text, escaping only `"`, `\`
/// and non-printable bytes.
fn go_quote_time(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c == '\u{FFFD}' || (c as u32) < 0x20 || c == '\u{7f}' => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn getnum(v: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    let d0 = v.first().filter(|c| c.is_ascii_digit())?;
    let is1 = v.get(1).filter(|c| c.is_ascii_digit()).is_none();
    if is1 {
        if fixed {
            return None;
        }
        return Some((i64::from(d0 - b'0'), &v[1..]));
    }
    Some((i64::from(d0 - b'0') * 10 + i64::from(v[1] - b'0'), &v[2..]))
}

fn getnum3(v: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    let mut n = 0i64;
    let mut i = 0;
    while i < 3 && v.get(i).is_some_and(u8::is_ascii_digit) {
        n = n * 10 + i64::from(v[i] - b'0');
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return None;
    }
    Some((n, &v[i..]))
}

fn lookup_name<'v>(names: &[&str], v: &'v [u8], len3: bool) -> Option<(usize, &'v [u8])> {
    for (i, name) in names.iter().enumerate() {
        let name = if len3 { &name[..3] } else { name };
        if v.len() >= name.len() && v[..name.len()].eq_ignore_ascii_case(name.as_bytes()) {
            return Some((i, &v[name.len()..]));
        }
    }
    None
}

/// `time.ParseInLocation(layout, value, Local)`.
///
/// # Errors
///
/// Go's `ParseError` text.
pub(super) fn parse(layout: &str, value: &str) -> Result<GoTime, String> {
    let (alayout, avalue) = (layout, value);
    let mut lay = layout.as_bytes();
    let mut v = value.as_bytes();
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let mut pm_set = false;
    let mut am_set = false;
    let mut z_offset: Option<i64> = None;
    let mut z_name: Option<String> = None;
    let mut z_utc = false;
    let elem_err =
        |v: &[u8], elem: &str| parse_error(avalue, alayout, &String::from_utf8_lossy(v), elem);
    loop {
        let (prefix, std, tail) = next_chunk(lay);
        let std_text = std.map_or("", |s| s.1);
        // The literal prefix must match.
        let mut pv = v;
        let mut pp = prefix;
        // Go skips leading spaces in both before comparing.
        while !pp.is_empty() {
            if pp[0] == b' ' {
                if !pv.is_empty() && pv[0] != b' ' {
                    return Err(elem_err(v, &String::from_utf8_lossy(prefix)));
                }
                while pp.first() == Some(&b' ') {
                    pp = &pp[1..];
                }
                while pv.first() == Some(&b' ') {
                    pv = &pv[1..];
                }
                continue;
            }
            if pv.is_empty() || pv[0] != pp[0] {
                return Err(elem_err(v, &String::from_utf8_lossy(prefix)));
            }
            pp = &pp[1..];
            pv = &pv[1..];
        }
        v = pv;
        let Some((std, _)) = std else {
            if !v.is_empty() {
                return Err(format!(
                    "parsing time {}: extra text: {}",
                    go_quote_time(avalue),
                    go_quote_time(&String::from_utf8_lossy(v))
                ));
            }
            break;
        };
        lay = tail;
        let hold = v;
        let bad = |v: &[u8]| elem_err(v, std_text);
        let range = |what: &str| {
            format!(
                "parsing time {}: {what} out of range",
                go_quote_time(avalue)
            )
        };
        match std {
            Std::Year => {
                if v.len() < 2 || !v[..2].iter().all(u8::is_ascii_digit) {
                    return Err(bad(hold));
                }
                let y = i64::from(v[0] - b'0') * 10 + i64::from(v[1] - b'0');
                year = if y >= 69 { y + 1900 } else { y + 2000 };
                v = &v[2..];
            }
            Std::LongYear => {
                if v.len() < 4 || !v[..4].iter().all(u8::is_ascii_digit) {
                    return Err(bad(hold));
                }
                year = std::str::from_utf8(&v[..4])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                v = &v[4..];
            }
            Std::Month | Std::LongMonth => {
                let (m, r) =
                    lookup_name(&LONG_MONTHS, v, std == Std::Month).ok_or_else(|| bad(hold))?;
                month = m as i64 + 1;
                v = r;
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (m, r) = getnum(v, std == Std::ZeroMonth).ok_or_else(|| bad(hold))?;
                if !(1..=12).contains(&m) {
                    return Err(range("month"));
                }
                month = m;
                v = r;
            }
            Std::WeekDay | Std::LongWeekDay => {
                let (_, r) =
                    lookup_name(&LONG_DAYS, v, std == Std::WeekDay).ok_or_else(|| bad(hold))?;
                v = r;
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && v.first() == Some(&b' ') {
                    v = &v[1..];
                }
                let (d, r) = getnum(v, std == Std::ZeroDay).ok_or_else(|| bad(hold))?;
                day = d;
                v = r;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                for _ in 0..2 {
                    if std == Std::UnderYearDay && v.first() == Some(&b' ') {
                        v = &v[1..];
                    }
                }
                let (d, r) = getnum3(v, std == Std::ZeroYearDay).ok_or_else(|| bad(hold))?;
                yday = d;
                v = r;
            }
            Std::Hour => {
                let (h, r) = getnum(v, false).ok_or_else(|| bad(hold))?;
                if !(0..24).contains(&h) {
                    return Err(range("hour"));
                }
                hour = h;
                v = r;
            }
            Std::Hour12 | Std::ZeroHour12 => {
                let (h, r) = getnum(v, std == Std::ZeroHour12).ok_or_else(|| bad(hold))?;
                if !(0..=12).contains(&h) {
                    return Err(range("hour"));
                }
                hour = h;
                v = r;
            }
            Std::Minute | Std::ZeroMinute => {
                let (m, r) = getnum(v, std == Std::ZeroMinute).ok_or_else(|| bad(hold))?;
                if !(0..60).contains(&m) {
                    return Err(range("minute"));
                }
                min = m;
                v = r;
            }
            Std::Second | Std::ZeroSecond => {
                let (s, r) = getnum(v, std == Std::ZeroSecond).ok_or_else(|| bad(hold))?;
                if !(0..60).contains(&s) {
                    return Err(range("second"));
                }
                sec = s;
                v = r;
                // A fractional second after seconds is accepted even if the
                // layout has none.
                if v.len() >= 2 && (v[0] == b'.' || v[0] == b',') && v[1].is_ascii_digit() {
                    let (_, next, _) = next_chunk(lay);
                    let next_is_frac = matches!(next, Some((Std::Frac { .. }, _)));
                    if !next_is_frac {
                        let mut n = 1;
                        while n < v.len() && v[n].is_ascii_digit() {
                            n += 1;
                        }
                        nsec = frac_nanos(&v[1..n]);
                        v = &v[n..];
                    }
                }
            }
            Std::PM | Std::Pm => {
                if v.len() < 2 {
                    return Err(bad(hold));
                }
                let p = &v[..2];
                let want_upper = std == Std::PM;
                match (p, want_upper) {
                    (b"PM", true) | (b"pm", false) => pm_set = true,
                    (b"AM", true) | (b"am", false) => am_set = true,
                    _ => return Err(bad(hold)),
                }
                v = &v[2..];
            }
            Std::NumTZ {
                z,
                colon,
                secs,
                short,
            } => {
                if z && v.first() == Some(&b'Z') {
                    v = &v[1..];
                    z_utc = true;
                    continue;
                }
                let need = 3
                    + if short { 0 } else { 2 + usize::from(colon) }
                    + if secs { 2 + usize::from(colon) } else { 0 };
                if v.len() < need {
                    return Err(bad(hold));
                }
                let sign = v[0];
                if sign != b'+' && sign != b'-' {
                    return Err(bad(hold));
                }
                let digits = |s: &[u8]| -> Option<i64> {
                    if s.len() == 2 && s.iter().all(u8::is_ascii_digit) {
                        Some(i64::from(s[0] - b'0') * 10 + i64::from(s[1] - b'0'))
                    } else {
                        None
                    }
                };
                let h = digits(&v[1..3]).ok_or_else(|| bad(hold))?;
                let mut i = 3;
                let mut m = 0;
                let mut s = 0;
                if !short {
                    if colon {
                        if v[i] != b':' {
                            return Err(bad(hold));
                        }
                        i += 1;
                    }
                    m = digits(&v[i..i + 2]).ok_or_else(|| bad(hold))?;
                    i += 2;
                }
                if secs {
                    if colon {
                        if v[i] != b':' {
                            return Err(bad(hold));
                        }
                        i += 1;
                    }
                    s = digits(&v[i..i + 2]).ok_or_else(|| bad(hold))?;
                    i += 2;
                }
                let mut off = (h * 60 + m) * 60 + s;
                if sign == b'-' {
                    off = -off;
                }
                z_offset = Some(off);
                v = &v[i..];
            }
            Std::TZ => {
                if v.len() >= 3 && &v[..3] == b"UTC" {
                    z_name = Some("UTC".into());
                    v = &v[3..];
                } else {
                    let n = tz_name_len(v).ok_or_else(|| bad(hold))?;
                    z_name = Some(String::from_utf8_lossy(&v[..n]).into_owned());
                    v = &v[n..];
                }
            }
            Std::Frac { n, nines, .. } => {
                let nd = if nines { 0 } else { n };
                if v.is_empty() || (v[0] != b'.' && v[0] != b',') {
                    if nines {
                        continue;
                    }
                    return Err(bad(hold));
                }
                let mut k = 1;
                while k < v.len() && v[k].is_ascii_digit() {
                    k += 1;
                }
                if !nines && k - 1 != nd {
                    return Err(bad(hold));
                }
                nsec = frac_nanos(&v[1..k]);
                v = &v[k..];
            }
        }
    }
    if pm_set && hour < 12 {
        hour += 12;
    } else if am_set && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let (mut m, mut d);
        if is_leap(year) {
            if yday > 366 {
                return Err(format!(
                    "parsing time {}: day-of-year out of range",
                    go_quote_time(avalue)
                ));
            }
        } else if yday > 365 {
            return Err(format!(
                "parsing time {}: day-of-year out of range",
                go_quote_time(avalue)
            ));
        }
        if yday == 0 {
            return Err(format!(
                "parsing time {}: day-of-year out of range",
                go_quote_time(avalue)
            ));
        }
        d = yday;
        m = 1;
        while d > days_in(m, year) {
            d -= days_in(m, year);
            m += 1;
        }
        if month >= 0 && month != m || day >= 0 && day != d {
            return Err(format!(
                "parsing time {}: day-of-year does not match {}",
                go_quote_time(avalue),
                if month >= 0 && month != m {
                    "month"
                } else {
                    "day"
                }
            ));
        }
        month = m;
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > days_in(month, year) {
        return Err(format!(
            "parsing time {}: day out of range",
            go_quote_time(avalue)
        ));
    }
    let local = Civil::to_unix(year, month, day, hour, min, sec);
    let mut t = GoTime::utc(local, u32::try_from(nsec).unwrap_or(0));
    if z_utc {
        return Ok(t);
    }
    t.loc = Loc::Local;
    let name = z_name.unwrap_or_default();
    if let Some(off) = z_offset {
        t.secs = local - off;
        // Local is UTC: a zero offset (named UTC or not named) is Local
        // itself; anything else is a fixed zone recording the offset.
        if off != 0 || !(name.is_empty() || name == "UTC") {
            t.loc = Loc::Fixed;
            t.offset = i32::try_from(off).unwrap_or(0);
            t.abbr = Rc::from(name.as_str());
        }
        return Ok(t);
    }
    if !name.is_empty() && name != "UTC" {
        // An abbreviation Local does not know: a fake zone of that name,
        // offset zero unless it is GMT+n.
        t.loc = Loc::Fixed;
        if let Some(h) = name.strip_prefix("GMT").and_then(|h| h.parse::<i32>().ok()) {
            t.offset = h * 3600;
        }
        t.abbr = Rc::from(name.as_str());
    }
    Ok(t)
}

/// Go's `parseTimeZone` length rule, simplified: 3 to 5 upper-case letters,
/// or `GMT` with an offset.
fn tz_name_len(v: &[u8]) -> Option<usize> {
    if v.len() < 3 {
        return None;
    }
    if v.len() >= 4 && (&v[..4] == b"ChST" || &v[..4] == b"MeST") {
        return Some(4);
    }
    if &v[..3] == b"GMT" {
        let mut n = 3;
        if v.len() > 3 && (v[3] == b'+' || v[3] == b'-') {
            n = 4;
            while n < v.len() && v[n].is_ascii_digit() {
                n += 1;
            }
            if n == 4 {
                return Some(3);
            }
        }
        return Some(n);
    }
    if v[0] == b'+' || v[0] == b'-' {
        let mut n = 1;
        while n < v.len() && v[n].is_ascii_digit() {
            n += 1;
        }
        return (n == 3 || n == 5).then_some(n);
    }
    let mut n = 0;
    while n < v.len() && v[n].is_ascii_uppercase() {
        n += 1;
    }
    match n {
        0..=2 => None,
        3 => Some(3),
        4 if v[3] == b'T' => Some(4),
        4 => None,
        5 if v[4] == b'T' => Some(5),
        _ => None,
    }
}

fn frac_nanos(digits: &[u8]) -> i64 {
    let mut ns = 0i64;
    for i in 0..9 {
        ns = ns * 10 + digits.get(i).map_or(0, |d| i64::from(d - b'0'));
    }
    ns
}

/// `time.Duration(d).String()`.
pub(super) fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < SEC as u64 {
        // Sub-second: one unit, with fractional digits.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac_string(u, div));
        out.push_str(unit);
    } else {
        let secs_part = u % (60 * SEC as u64);
        let mins = u / (60 * SEC as u64);
        if mins > 0 {
            let h = mins / 60;
            let m = mins % 60;
            if h > 0 {
                out.push_str(&format!("{h}h"));
            }
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_string(secs_part, SEC as u64));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `v / div` with the remainder as decimals, trailing zeros trimmed.
fn frac_string(v: u64, div: u64) -> String {
    let whole = v / div;
    let rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let mut frac = format!("{rem:0width$}");
    while frac.ends_with('0') {
        frac.pop();
    }
    format!("{whole}.{frac}")
}

/// `time.ParseDuration(s)`.
///
/// # Errors
///
/// Go's error text, e.g. `time: invalid duration "x"`.
pub(super) fn parse_duration(s: &str) -> Result<i64, String> {
    let orig = s;
    let quoted = || format!("\"{orig}\"");
    let invalid = || format!("time: invalid duration {}", quoted());
    let mut s = s.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let mut i = 0;
        let mut v: u64 = 0;
        let mut overflow = false;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > (1u64 << 63) / 10 {
                overflow = true;
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(s[i] - b'0'));
            if v > 1u64 << 63 {
                overflow = true;
            }
            i += 1;
        }
        if overflow {
            return Err(invalid());
        }
        let pre = i != 0;
        s = &s[i..];
        // Fraction.
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut j = 0;
            let mut of = false;
            while j < s.len() && s[j].is_ascii_digit() {
                if !of {
                    if f > (1u64 << 63) / 10 {
                        of = true;
                    } else {
                        let y = f * 10 + u64::from(s[j] - b'0');
                        if y > 1u64 << 63 {
                            of = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                j += 1;
            }
            post = j != 0;
            s = &s[j..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit.
        let mut k = 0;
        while k < s.len() && s[k] != b'.' && !s[k].is_ascii_digit() {
            k += 1;
        }
        if k == 0 {
            return Err(format!("time: missing unit in duration {}", quoted()));
        }
        let unit = &s[..k];
        s = &s[k..];
        let mult: u64 = match unit {
            b"ns" => 1,
            b"us" => 1_000,
            [0xC2, 0xB5, b's'] => 1_000,
            [0xCE, 0xBC, b's'] => 1_000,
            b"ms" => 1_000_000,
            b"s" => SEC as u64,
            b"m" => MIN as u64,
            b"h" => HOUR as u64,
            _ => {
                return Err(format!(
                    "time: unknown unit \"{}\" in duration {}",
                    String::from_utf8_lossy(unit),
                    quoted()
                ));
            }
        };
        if v > (1u64 << 63) / mult {
            return Err(invalid());
        }
        v *= mult;
        if f > 0 {
            v += (f as f64 * (mult as f64 / scale)) as u64;
            if v > 1u64 << 63 {
                return Err(invalid());
            }
        }
        total = total.wrapping_add(v);
        if total > 1u64 << 63 {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((total as i64).wrapping_neg());
    }
    if total > (1u64 << 63) - 1 {
        return Err(invalid());
    }
    Ok(total as i64)
}

/// `d.Round(m)` for positive `m`, saturating as Go's.
pub(super) fn duration_round(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    let mut r = d % m;
    if d < 0 {
        r = -r;
        if r + r < m {
            return d + r;
        }
        if let Some(d1) = (d - m).checked_add(r) {
            return d1;
        }
        return i64::MIN;
    }
    if r + r < m {
        return d - r;
    }
    if let Some(d1) = (d + m).checked_sub(r) {
        return d1;
    }
    i64::MAX
}

/// One second, as a `Duration`.
pub(super) const SECOND: i64 = SEC;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64, nsec: u32) -> GoTime {
        GoTime::unix(secs, nsec)
    }

    #[test]
    fn formats_the_reference_time_in_go_layouts() {
        // 2006-01-02T15:04:05.123456789Z
        let r = t(1_136_214_245, 123_456_789);
        assert_eq!(format(&r, "2006-01-02 15:04:05"), "2006-01-02 15:04:05");
        assert_eq!(
            format(&r, "Mon Jan _2 3:4:5 PM 06 MST"),
            "Mon Jan  2 3:4:5 PM 06 UTC"
        );
        assert_eq!(
            format(&r, "Monday January 2 002 __2"),
            "Monday January 2 002   2"
        );
        assert_eq!(
            format(&r, ".000 .999 ,00 .9 .999999999"),
            ".123 .123 ,12 .1 .123456789"
        );
        assert_eq!(format(&r, "Z07:00 -0700 -07"), "Z +0000 +00");
        // "Jan"/"Mon" followed by a lower-case letter are literal text.
        assert_eq!(format(&r, "Janx Monx"), "Janx Monx");
        assert_eq!(r.string(), "2006-01-02 15:04:05.123456789 +0000 UTC");
        assert_eq!(GoTime::zero().string(), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn named_zones_come_from_the_database() {
        let loc = load_location("America/New_York").expect("zone exists");
        let r = t(1_136_214_245, 0).in_loc(&loc);
        assert_eq!(
            format(&r, "2006-01-02 15:04:05 -0700 MST"),
            "2006-01-02 10:04:05 -0500 EST"
        );
        assert!(load_location("Nowhere/Else").is_none());
    }

    #[test]
    fn parses_what_it_formats() {
        let p = parse("2006-01-02", "2024-02-29").expect("parses");
        assert_eq!(p.string(), "2024-02-29 00:00:00 +0000 UTC");
        let p = parse("2006-01-02T15:04:05Z07:00", "2024-02-29T10:00:00+02:00").expect("parses");
        assert_eq!(p.secs, 1_709_193_600);
        assert_eq!(p.string(), "2024-02-29 10:00:00 +0200 +0200");
        assert_eq!(
            parse("2006-01-02", "x").expect_err("bad"),
            "parsing time \"x\" as \"2006-01-02\": cannot parse \"x\" as \"2006\""
        );
        assert_eq!(
            parse("2006-01-02", "2023-02-29").expect_err("bad"),
            "parsing time \"2023-02-29\": day out of range"
        );
    }

    #[test]
    fn durations_print_and_parse_as_go() {
        assert_eq!(duration_string(0), "0s");
        assert_eq!(duration_string(90 * SEC), "1m30s");
        assert_eq!(duration_string(3 * HOUR + 1), "3h0m0.000000001s");
        assert_eq!(duration_string(1_500), "1.5µs");
        assert_eq!(duration_string(-2 * MIN), "-2m0s");
        assert_eq!(duration_string(i64::MIN), "-2562047h47m16.854775808s");
        assert_eq!(
            parse_duration("1h15m30.5s"),
            Ok(HOUR + 15 * MIN + 30 * SEC + SEC / 2)
        );
        assert_eq!(parse_duration("-1.5h"), Ok(-(HOUR + 30 * MIN)));
        assert_eq!(
            parse_duration("x").expect_err("bad"),
            "time: invalid duration \"x\""
        );
        assert_eq!(
            parse_duration("1").expect_err("bad"),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            parse_duration("1y").expect_err("bad"),
            "time: unknown unit \"y\" in duration \"1y\""
        );
    }
}
