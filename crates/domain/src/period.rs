//! A period of time as people in Japan type its ends — `2026-11-01`, `2026/11/1`,
//! `令和8年11月1日`, `2026-11-01T09:00`, `2026/11/1 9:00:30`, RFC 3339 with an offset — read as
//! Japan Standard Time (+09:00) unless an offset is given, and turned into a half-open range of
//! Unix milliseconds.
//!
//! What was typed covers a span: a date is that whole day (JST), a time without seconds that
//! minute, a time with seconds that second, a time with a fraction that millisecond. A period
//! starts at the beginning of its `from` and runs **through the end** of its `to`, so
//! `--from 2026-11-01 --to 2026-11-30` is all of November and `--to 2026-11-01T09:00` includes
//! 09:00:59.

use crate::wareki::{DateError, parse_date_ja};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Japan Standard Time; Japan has no daylight saving time.
const JST_SECONDS: i32 = 9 * 3600;

/// The span one typed moment covers: `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Why a typed moment could not be read. Codes are stable (`code()`); messages name no input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MomentError {
    /// The date part is not a date (its own code, `DATE0001`–`DATE0004`).
    #[error("{0}")]
    Date(DateError),
    /// The time of day or the offset is not readable, e.g. `25:00` or `9:5` (`DATE0005`).
    #[error("unreadable time of day (e.g. 09:00, 09:00:30, 09:00+09:00)")]
    Time,
}

impl MomentError {
    pub fn code(&self) -> &'static str {
        match self {
            MomentError::Date(e) => e.code(),
            MomentError::Time => "DATE0005",
        }
    }

    /// A short Japanese explanation.
    pub fn message_ja(&self) -> String {
        match self {
            MomentError::Date(e) => e.message_ja(),
            MomentError::Time => {
                "時刻として読めません（例: 09:00、09:00:30、09:00+09:00）".to_string()
            }
        }
    }

    /// The same in English.
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A period with open or closed ends: records at `from_ms <= t < until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

impl Period {
    /// Whether `t_ms` lies in the period.
    pub fn contains(&self, t_ms: i64) -> bool {
        self.from_ms.is_none_or(|f| f <= t_ms) && self.until_ms.is_none_or(|u| t_ms < u)
    }
}

/// Which end of a period was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("from: {0}")]
    From(MomentError),
    #[error("to: {0}")]
    To(MomentError),
    /// `from` is after `to`.
    #[error("from is after to")]
    Reversed,
}

/// Reads a period from its two ends; an empty or absent end is open.
pub fn parse_period(from: Option<&str>, to: Option<&str>) -> Result<Period, PeriodError> {
    fn given(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    let from = given(from)
        .map(parse_moment)
        .transpose()
        .map_err(PeriodError::From)?;
    let to = given(to)
        .map(parse_moment)
        .transpose()
        .map_err(PeriodError::To)?;
    let period = Period {
        from_ms: from.map(|m| m.start_ms),
        until_ms: to.map(|m| m.end_ms),
    };
    if let (Some(f), Some(u)) = (period.from_ms, period.until_ms)
        && f >= u
    {
        return Err(PeriodError::Reversed);
    }
    Ok(period)
}

/// Reads one moment: a date (see [`parse_date_ja`]) optionally followed by `T` or a space and a
/// time of day `H:MM`, `HH:MM:SS` or `HH:MM:SS.fff`, optionally followed by `Z` or an offset
/// (`+09:00`, `+0900`). Full-width digits and colons are accepted.
pub fn parse_moment(s: &str) -> Result<Moment, MomentError> {
    let s = s.trim();
    let has_time = s.contains([':', '：']);
    if !has_time {
        let date = parse_date_ja(s).map_err(MomentError::Date)?;
        let start = midnight_ms(date, jst());
        return Ok(Moment {
            start_ms: start,
            end_ms: start + 86_400_000,
        });
    }
    // The time is what follows the last `T` or space after which a time of day reads.
    let split = s
        .char_indices()
        .filter(|(_, c)| matches!(c, 'T' | 't' | 'Ｔ' | ' ' | '\u{3000}'))
        .map(|(i, c)| (i, i + c.len_utf8()))
        .filter_map(|(at, rest)| Some((at, read_time(s.get(rest..)?)?)))
        .next_back();
    let Some((at, (time, span_ms, offset))) = split else {
        return Err(MomentError::Time);
    };
    let date = parse_date_ja(s.get(..at).unwrap_or_default()).map_err(MomentError::Date)?;
    let start = PrimitiveDateTime::new(date, time)
        .assume_offset(offset.unwrap_or_else(jst))
        .unix_timestamp_nanos()
        / 1_000_000;
    let start = i64::try_from(start).map_err(|_| MomentError::Time)?;
    Ok(Moment {
        start_ms: start,
        end_ms: start + span_ms,
    })
}

fn jst() -> UtcOffset {
    UtcOffset::from_whole_seconds(JST_SECONDS).unwrap_or(UtcOffset::UTC)
}

fn midnight_ms(date: Date, offset: UtcOffset) -> i64 {
    let t: OffsetDateTime = date.midnight().assume_offset(offset);
    t.unix_timestamp() * 1000
}

/// Full-width digits, colon, plus, minus and dot as ASCII.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '：' => ':',
            '＋' => '+',
            '－' | '−' => '-',
            '．' => '.',
            other => other,
        })
        .collect()
}

fn number(s: &str, min_len: usize, max_len: usize, max: u32) -> Option<u32> {
    if s.len() < min_len || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|v| *v <= max)
}

/// `(time, span in ms, offset)` of a time of day, or `None`.
fn read_time(s: &str) -> Option<(Time, i64, Option<UtcOffset>)> {
    let s = ascii(s.trim());
    let (clock, offset) = if let Some(c) = s.strip_suffix(['Z', 'z']) {
        (c.to_string(), Some(UtcOffset::UTC))
    } else if let Some(i) = s.rfind(['+', '-']) {
        let (c, o) = s.split_at(i);
        (c.to_string(), Some(read_offset(o)?))
    } else {
        (s, None)
    };
    let mut parts = clock.split(':');
    let h = number(parts.next()?, 1, 2, 23)?;
    let m = number(parts.next()?, 2, 2, 59)?;
    let (sec, frac) = match parts.next() {
        None => (None, None),
        Some(p) => match p.split_once('.') {
            Some((s, f)) => (Some(s), Some(f)),
            None => (Some(p), None),
        },
    };
    if parts.next().is_some() {
        return None;
    }
    let sec = match sec {
        Some(s) => Some(number(s, 2, 2, 59)?),
        None => None,
    };
    let milli = match frac {
        None => None,
        Some(f) => {
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let three: String = f.chars().chain("00".chars()).take(3).collect();
            Some(three.parse::<u16>().ok()?)
        }
    };
    let span = match (sec, milli) {
        (None, _) => 60_000,
        (Some(_), None) => 1000,
        (Some(_), Some(_)) => 1,
    };
    let time = Time::from_hms_milli(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(sec.unwrap_or(0)).ok()?,
        milli.unwrap_or(0),
    )
    .ok()?;
    Some((time, span, offset))
}

/// `+09:00`, `+0900`, `+09`, `-05:30`.
fn read_offset(o: &str) -> Option<UtcOffset> {
    let (sign, rest) = match o.strip_prefix('+') {
        Some(r) => (1i32, r),
        None => (-1i32, o.strip_prefix('-')?),
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "00"),
    };
    let h = number(h, 2, 2, 23)?;
    let m = number(m, 2, 2, 59)?;
    let secs = i32::try_from(h * 3600 + m * 60).ok()? * sign;
    UtcOffset::from_whole_seconds(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-01 00:00 JST.
    const NOV1: i64 = 1_793_458_800_000;

    fn m(s: &str) -> Moment {
        parse_moment(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_date_is_the_whole_day_in_japan() {
        for s in [
            "2026-11-01",
            "2026/11/1",
            "2026.11.01",
            "20261101",
            "2026年11月1日",
            "令和8年11月1日",
            "R8.11.1",
            "２０２６／１１／０１",
            " 2026-11-01 ",
        ] {
            assert_eq!(
                m(s),
                Moment {
                    start_ms: NOV1,
                    end_ms: NOV1 + 86_400_000
                },
                "{s}"
            );
        }
    }

    #[test]
    fn a_time_covers_its_minute_second_or_millisecond() {
        let nine = NOV1 + 9 * 3_600_000;
        for s in [
            "2026-11-01T09:00",
            "2026-11-01 09:00",
            "2026-11-01 9:00",
            "2026/11/1 9:00",
            "令和8年11月1日 9:00",
            "2026-11-01T09:00+09:00",
            "2026-11-01T00:00Z",
            "２０２６／１１／０１　０９：００",
        ] {
            assert_eq!(m(s).start_ms, nine, "{s}");
            assert_eq!(m(s).end_ms - m(s).start_ms, 60_000, "{s}");
        }
        assert_eq!(
            m("2026-11-01T09:00:30"),
            Moment {
                start_ms: nine + 30_000,
                end_ms: nine + 31_000
            }
        );
        // RFC 3339 with a fraction and another offset.
        assert_eq!(
            m("2026-11-01T00:00:00.250Z"),
            Moment {
                start_ms: nine + 250,
                end_ms: nine + 251
            }
        );
        assert_eq!(
            m("2026-10-31T19:30:00-05:30").start_ms,
            NOV1 + 10 * 3_600_000
        );
        assert_eq!(m("2026-11-01T09:00:00+0900").start_ms, nine);
    }

    #[test]
    fn bad_moments_are_refused_with_a_code() {
        for (s, code) in [
            ("", "DATE0001"),
            ("yesterday", "DATE0001"),
            ("5", "DATE0001"),
            ("2026-02-30", "DATE0002"),
            ("令和1年4月30日", "DATE0003"),
            ("2026-11-01T25:00", "DATE0005"),
            ("2026-11-01T09:60", "DATE0005"),
            ("2026-11-01T9:5", "DATE0005"),
            ("2026-11-01 09:00:00+25:00", "DATE0005"),
            ("09:00", "DATE0005"),
            ("2026-02-30T09:00", "DATE0002"),
        ] {
            let e = parse_moment(s).expect_err(s);
            assert_eq!(e.code(), code, "{s}: {e}");
            assert!(!e.message_ja().is_empty());
        }
    }

    #[test]
    fn a_period_runs_through_the_end_of_its_to() {
        let p = parse_period(Some("2026-11-01"), Some("2026-11-30")).unwrap();
        assert_eq!(p.from_ms, Some(NOV1));
        assert_eq!(p.until_ms, Some(NOV1 + 30 * 86_400_000));
        assert!(p.contains(NOV1) && p.contains(NOV1 + 30 * 86_400_000 - 1));
        assert!(!p.contains(NOV1 - 1) && !p.contains(NOV1 + 30 * 86_400_000));
        // One day, one minute: both ends the same is fine.
        let p = parse_period(Some("2026-11-01"), Some("2026-11-01")).unwrap();
        assert_eq!(p.until_ms, Some(NOV1 + 86_400_000));
        let p = parse_period(Some("2026-11-01T09:00"), Some("2026-11-01T09:00")).unwrap();
        assert_eq!(p.until_ms.zip(p.from_ms).map(|(u, f)| u - f), Some(60_000));
        // Open ends.
        assert_eq!(parse_period(None, Some("")).unwrap(), Period::default());
        assert!(Period::default().contains(i64::MIN));
        // Errors name their end.
        assert_eq!(
            parse_period(Some("2026-12-01"), Some("2026-11-30")),
            Err(PeriodError::Reversed)
        );
        assert!(matches!(
            parse_period(Some("x"), Some("2026-11-30")),
            Err(PeriodError::From(_))
        ));
        assert!(matches!(
            parse_period(Some("2026-11-01"), Some("2026-11-31")),
            Err(PeriodError::To(_))
        ));
    }
}
