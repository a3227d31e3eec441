//! Timestamps as log sources write them → Unix ms UTC: RFC 3339 (syslog 5424, EVTX, JSON
//! forwarders), the same with a space or without a zone (NXLog `EventTime`), and the BSD
//! `Mmm dd hh:mm:ss` of RFC 3164.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// Japan Standard Time, +09:00 (Japan has no daylight saving time).
pub const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// A small cursor over ASCII text.
struct Cursor<'a> {
    s: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.first().copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let (first, rest) = self.s.split_first()?;
        self.s = rest;
        Some(*first)
    }
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.bump()? == b).then_some(())
    }
    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v: u32 = 0;
        for _ in 0..n {
            let d = self.bump()?;
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(d - b'0');
        }
        Some(v)
    }
    /// A fraction after the dot, as nanoseconds (digits past the ninth are ignored).
    fn fraction(&mut self) -> Option<u32> {
        let mut nanos: u32 = 0;
        let mut count = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            self.bump();
            if count < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            count += 1;
        }
        if count == 0 {
            return None;
        }
        for _ in count..9 {
            nanos *= 10;
        }
        Some(nanos)
    }
}

/// Unix milliseconds of a local date and time at `offset`.
pub(crate) fn unix_ms(date: Date, time: Time, offset: UtcOffset) -> Option<i64> {
    let nanos = PrimitiveDateTime::new(date, time)
        .assume_offset(offset)
        .unix_timestamp_nanos();
    i64::try_from(nanos.div_euclid(1_000_000)).ok()
}

fn offset_from(sign: u8, h: u32, m: u32) -> Option<UtcOffset> {
    let secs = i32::try_from(h * 3600 + m * 60).ok()?;
    let secs = if sign == b'-' { -secs } else { secs };
    UtcOffset::from_whole_seconds(secs).ok()
}

/// `YYYY-MM-DD[T ]hh:mm:ss[.frac][Z|±hh:mm|±hhmm]` → Unix ms. Without a zone the time is taken
/// at `default_offset`, or refused when that is `None` (RFC 3339 and RFC 5424 require a zone).
pub(crate) fn parse_iso(text: &str, default_offset: Option<UtcOffset>) -> Option<i64> {
    let mut c = Cursor { s: text.as_bytes() };
    let year = c.digits(4)?;
    c.eat(b'-')?;
    let month = c.digits(2)?;
    c.eat(b'-')?;
    let day = c.digits(2)?;
    match c.bump()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = c.digits(2)?;
    c.eat(b':')?;
    let minute = c.digits(2)?;
    c.eat(b':')?;
    let second = c.digits(2)?;
    let nanos = if c.peek() == Some(b'.') {
        c.bump();
        c.fraction()?
    } else {
        0
    };
    let offset = match c.bump() {
        None => default_offset?,
        Some(b'Z' | b'z') => UtcOffset::UTC,
        Some(sign @ (b'+' | b'-')) => {
            let h = c.digits(2)?;
            let m = match c.peek() {
                Some(b':') => {
                    c.bump();
                    c.digits(2)?
                }
                Some(_) => c.digits(2)?,
                None => 0,
            };
            offset_from(sign, h, m)?
        }
        Some(_) => return None,
    };
    if c.peek().is_some() {
        return None;
    }
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    unix_ms(date, time, offset)
}

/// A BSD timestamp without its year: month, day and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BsdStamp {
    pub month: Month,
    pub day: u8,
    pub time: Time,
    /// A year written after the day (`Mmm dd yyyy hh:mm:ss`, some network devices).
    pub year: Option<i32>,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Reads `Mmm dd hh:mm:ss` (day space-padded or not, optional `.frac`, optional year after the
/// day) from the start of `text`; returns the stamp and the rest of the text after it.
pub(crate) fn parse_bsd(text: &str) -> Option<(BsdStamp, &str)> {
    let name = text.get(..3)?;
    let index = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))?;
    let month = Month::try_from(u8::try_from(index + 1).ok()?).ok()?;
    let mut c = Cursor {
        s: text.get(3..)?.as_bytes(),
    };
    c.eat(b' ')?;
    if c.peek() == Some(b' ') {
        c.bump();
    }
    let day = if c.s.get(1).is_some_and(u8::is_ascii_digit) {
        c.digits(2)?
    } else {
        c.digits(1)?
    };
    c.eat(b' ')?;
    let year = if c.s.get(4) == Some(&b' ') && c.s.get(2) != Some(&b':') {
        let y = c.digits(4)?;
        c.eat(b' ')?;
        Some(i32::try_from(y).ok()?)
    } else {
        None
    };
    let hour = c.digits(2)?;
    c.eat(b':')?;
    let minute = c.digits(2)?;
    c.eat(b':')?;
    let second = c.digits(2)?;
    let nanos = if c.peek() == Some(b'.') {
        c.bump();
        c.fraction()?
    } else {
        0
    };
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let used = text.len() - c.s.len();
    let rest = text.get(used..)?;
    Some((
        BsdStamp {
            month,
            day: u8::try_from(day).ok()?,
            time,
            year,
        },
        rest,
    ))
}

/// How far ahead of the receive time a BSD stamp may be and still count as this year's: a
/// sender's clock may run a little fast, but a log is never months ahead.
const BSD_FUTURE_MS: i64 = 7 * 24 * 3_600_000;

/// The Unix ms of a BSD stamp at `offset`. Without a year, the year is the latest (of the
/// receive year at `offset`, the one before and the one after) that puts the stamp no more than
/// a week after `received_ms`: a message stamped 31 Dec 23:59 that arrives on 1 Jan belongs to
/// the old year, one stamped 1 Jan 00:00 by a clock running ahead on 31 Dec to the new one,
/// and one stamped in February that arrives in October to the same year.
pub(crate) fn bsd_unix_ms(stamp: BsdStamp, received_ms: i64, offset: UtcOffset) -> Option<i64> {
    let at = |year: i32| {
        let date = Date::from_calendar_date(year, stamp.month, stamp.day).ok()?;
        unix_ms(date, stamp.time, offset)
    };
    if let Some(year) = stamp.year {
        return at(year);
    }
    let local_ms = received_ms.checked_add(i64::from(offset.whole_seconds()) * 1000)?;
    let year = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(local_ms).checked_mul(1_000_000)?,
    )
    .ok()?
    .year();
    let latest = received_ms.checked_add(BSD_FUTURE_MS)?;
    [year + 1, year, year - 1]
        .into_iter()
        .filter_map(at)
        .find(|t| *t <= latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms() {
        assert_eq!(parse_iso("1970-01-01T00:00:00Z", None), Some(0));
        assert_eq!(parse_iso("1970-01-01T00:00:00.5Z", None), Some(500));
        assert_eq!(parse_iso("1970-01-01T09:00:00+09:00", None), Some(0));
        assert_eq!(parse_iso("1970-01-01T09:00:00+0900", None), Some(0));
        assert_eq!(parse_iso("1970-01-01 09:00:00", Some(JST)), Some(0));
        assert_eq!(parse_iso("1970-01-01 09:00:00", None), None);
        // Seven fractional digits, as Windows writes them.
        assert_eq!(
            parse_iso("2019-03-19T23:34:25.6178456Z", None),
            Some(1_553_038_465_617)
        );
        // Before 1970 rounds down.
        assert_eq!(parse_iso("1969-12-31T23:59:59.9995Z", None), Some(-1));
        for bad in [
            "",
            "2024-02-30T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00Zx",
            "2024-01-01T00:00:00+99:00",
            "2024-01-01T00:00:00.Z",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_iso(bad, None), None, "{bad}");
        }
    }

    #[test]
    fn bsd_forms() {
        let (s, rest) = parse_bsd("Oct 11 22:14:15 host").unwrap();
        assert_eq!((s.month, s.day, s.year), (Month::October, 11, None));
        assert_eq!(rest, " host");
        let (s, _) = parse_bsd("Feb  5 01:02:03").unwrap();
        assert_eq!(s.day, 5);
        let (s, _) = parse_bsd("Feb 5 01:02:03.250").unwrap();
        assert_eq!(s.time.millisecond(), 250);
        let (s, rest) = parse_bsd("Mar  1 2024 00:00:00: x").unwrap();
        assert_eq!(s.year, Some(2024));
        assert_eq!(rest, ": x");
        assert!(parse_bsd("Foo 11 22:14:15").is_none());
        assert!(parse_bsd("Oct 11 22:14").is_none());
        assert!(parse_bsd("Oc").is_none());
    }

    #[test]
    fn bsd_year_follows_the_receive_time_across_new_year() {
        let ms = |s: &str| parse_iso(s, None).unwrap();
        let stamp = |text: &str| parse_bsd(text).unwrap().0;
        // Stamped on New Year's Eve, received just after midnight JST.
        assert_eq!(
            bsd_unix_ms(
                stamp("Dec 31 23:59:58"),
                ms("2025-01-01T00:00:01+09:00"),
                JST
            ),
            Some(ms("2024-12-31T23:59:58+09:00"))
        );
        // A sender's clock ahead: stamped 1 Jan, received on 31 Dec.
        assert_eq!(
            bsd_unix_ms(
                stamp("Jan  1 00:00:02"),
                ms("2024-12-31T23:59:59+09:00"),
                JST
            ),
            Some(ms("2025-01-01T00:00:02+09:00"))
        );
        // The receive time is read in the sender's zone: 2024-12-31T16:00Z is already 2025 in JST.
        assert_eq!(
            bsd_unix_ms(stamp("Jan  1 01:00:00"), ms("2024-12-31T16:00:00Z"), JST),
            Some(ms("2025-01-01T01:00:00+09:00"))
        );
        // 29 February exists only in leap years.
        assert_eq!(
            bsd_unix_ms(stamp("Feb 29 12:00:00"), ms("2024-03-01T00:00:00Z"), JST),
            Some(ms("2024-02-29T12:00:00+09:00"))
        );
        assert_eq!(
            bsd_unix_ms(stamp("Feb 29 12:00:00"), ms("2026-03-01T00:00:00Z"), JST),
            None
        );
        assert_eq!(bsd_unix_ms(stamp("Feb 29 12:00:00"), i64::MAX, JST), None);
        // Months ago is this year, not next year.
        assert_eq!(
            bsd_unix_ms(stamp("Feb  5 17:32:18"), ms("2003-10-12T00:00:00Z"), JST),
            Some(ms("2003-02-05T17:32:18+09:00"))
        );
    }
}
