//! Japanese calendar helpers: 和暦 (era) formatting and parsing, the date formats people type in
//! Japan, and the fiscal year (年度, April to March).

use time::{Date, Month};

/// Era boundaries (first day of each era), newest first.
const ERAS: [(&str, &str, i32, Month, u8); 3] = [
    ("令和", "R", 2019, Month::May, 1),
    ("平成", "H", 1989, Month::January, 8),
    ("昭和", "S", 1926, Month::December, 25),
];

/// Era name and year within the era; `None` before 昭和.
pub fn era_of(date: Date) -> Option<(&'static str, &'static str, i32)> {
    for (name, short, y, m, d) in ERAS {
        let start = Date::from_calendar_date(y, m, d).ok()?;
        if date >= start {
            return Some((name, short, date.year() - y + 1));
        }
    }
    None
}

/// `令和7年4月1日` (`令和元年` for the first year). Falls back to the Gregorian date before 昭和.
pub fn format_wareki(date: Date) -> String {
    match era_of(date) {
        Some((era, _, year)) => {
            let y = if year == 1 {
                "元".to_string()
            } else {
                year.to_string()
            };
            format!("{era}{y}年{}月{}日", u8::from(date.month()), date.day())
        }
        None => format!(
            "{}年{}月{}日",
            date.year(),
            u8::from(date.month()),
            date.day()
        ),
    }
}

/// The fiscal year (年度) a date falls in: April to March, named by the April year.
pub fn fiscal_year(date: Date) -> i32 {
    if u8::from(date.month()) >= 4 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// `令和7年度` for fiscal year 2025.
pub fn format_fiscal_year(fy: i32) -> String {
    match Date::from_calendar_date(fy, Month::April, 1)
        .ok()
        .and_then(era_of)
    {
        Some((era, _, year)) => format!("{era}{year}年度"),
        None => format!("{fy}年度"),
    }
}

/// Why a typed date could not be read. Each variant has a stable code (`code()`); the messages
/// name no input, only the parts of the date, so they are safe to log and show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not a format we read (`DATE0001`).
    #[error("unrecognised date format (e.g. 2025/4/1, 令和7年4月1日, R7.4.1)")]
    UnknownFormat,
    /// The format is right but the day does not exist, e.g. 2025-02-30 (`DATE0002`).
    #[error("no such date: {year}-{month:02}-{day:02}")]
    NoSuchDate { year: i32, month: u8, day: u8 },
    /// An era year that the era does not cover, e.g. 令和1年4月30日 or 平成31年5月1日 (`DATE0003`).
    #[error("outside the {era_en} era (which runs {span_en})")]
    OutsideEra {
        era: &'static str,
        era_en: &'static str,
        span_ja: &'static str,
        span_en: &'static str,
    },
    /// A year before 1900 or after 2199: almost always a typing mistake (`DATE0004`).
    #[error("year {year} is out of range (1900–2199)")]
    YearOutOfRange { year: i64 },
}

impl DateError {
    /// Stable code for the message catalog and the support desk.
    pub fn code(&self) -> &'static str {
        match self {
            DateError::UnknownFormat => "DATE0001",
            DateError::NoSuchDate { .. } => "DATE0002",
            DateError::OutsideEra { .. } => "DATE0003",
            DateError::YearOutOfRange { .. } => "DATE0004",
        }
    }

    /// A short Japanese explanation for an import report.
    pub fn message_ja(&self) -> String {
        match self {
            DateError::UnknownFormat => {
                "日付として読めません（例: 2025/4/1、令和7年4月1日、R7.4.1）".to_string()
            }
            DateError::NoSuchDate { year, month, day } => {
                format!("存在しない日付です（{year}年{month}月{day}日）")
            }
            DateError::OutsideEra { era, span_ja, .. } => {
                format!("{era}の期間外です（{era}は{span_ja}）")
            }
            DateError::YearOutOfRange { year } => {
                format!("年（{year}）が範囲外です（1900〜2199年）")
            }
        }
    }

    /// The same in English.
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// One era for parsing: names, first day, and the texts of its span.
struct Era {
    name: &'static str,
    name_en: &'static str,
    /// Latin initial (`R`, `H`, `S`) and the single-character ligature (`㋿`, `㍻`, `㍼`).
    initial: char,
    ligature: char,
    start: (i32, Month, u8),
    /// Last day, `None` for the current era.
    end: Option<(i32, Month, u8)>,
    span_ja: &'static str,
    span_en: &'static str,
}

const PARSE_ERAS: [Era; 3] = [
    Era {
        name: "令和",
        name_en: "Reiwa",
        initial: 'R',
        ligature: '㋿',
        start: (2019, Month::May, 1),
        end: None,
        span_ja: "2019年5月1日から",
        span_en: "from 2019-05-01",
    },
    Era {
        name: "平成",
        name_en: "Heisei",
        initial: 'H',
        ligature: '㍻',
        start: (1989, Month::January, 8),
        end: Some((2019, Month::April, 30)),
        span_ja: "1989年1月8日〜2019年4月30日",
        span_en: "1989-01-08 to 2019-04-30",
    },
    Era {
        name: "昭和",
        name_en: "Showa",
        initial: 'S',
        ligature: '㍼',
        start: (1926, Month::December, 25),
        end: Some((1989, Month::January, 7)),
        span_ja: "1926年12月25日〜1989年1月7日",
        span_en: "1926-12-25 to 1989-01-07",
    },
];

impl Era {
    fn error(&self) -> DateError {
        DateError::OutsideEra {
            era: self.name,
            era_en: self.name_en,
            span_ja: self.span_ja,
            span_en: self.span_en,
        }
    }

    /// Whether the days `first..=last` overlap this era.
    fn overlaps(&self, first: Date, last: Date) -> bool {
        let (y, m, d) = self.start;
        let starts_before_end = match self.end {
            Some((y, m, d)) => Date::from_calendar_date(y, m, d).is_ok_and(|end| first <= end),
            None => true,
        };
        Date::from_calendar_date(y, m, d).is_ok_and(|start| last >= start) && starts_before_end
    }
}

/// A piece of a typed date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A run of digits: value and number of digits.
    Num(u64, usize),
    /// `元` (the first year of an era).
    Gan,
    /// Index into `PARSE_ERAS`.
    Era(usize),
    Nen,
    Tsuki,
    Hi,
    /// `/`, `-` or `.`.
    Sep(char),
    Colon,
    Space,
}

/// Folds full-width forms to ASCII (digits, Latin letters, `／－．：` and the ideographic space)
/// and the dash look-alikes people type to `-`.
fn fold(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2212}' | '\u{30FC}' => '-',
        '\u{3002}' | '\u{FF61}' => '.',
        _ => c,
    }
}

fn tokenize(s: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = s.trim().chars().map(fold).peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            '0'..='9' => {
                let mut value = u64::from(c.to_digit(10)?);
                let mut len = 1;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    chars.next();
                    len += 1;
                    if len > 8 {
                        return None;
                    }
                    value = value * 10 + u64::from(d);
                }
                Token::Num(value, len)
            }
            '元' => Token::Gan,
            '年' => Token::Nen,
            '月' => Token::Tsuki,
            '日' => Token::Hi,
            '/' | '-' | '.' => Token::Sep(c),
            ':' => Token::Colon,
            c if c.is_whitespace() => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                Token::Space
            }
            c => {
                let upper = c.to_ascii_uppercase();
                let by_char = PARSE_ERAS
                    .iter()
                    .position(|e| e.initial == upper || e.ligature == c);
                let index = match by_char {
                    Some(i) => i,
                    None => {
                        let second = chars.next()?;
                        let pair: String = [c, second].iter().collect();
                        PARSE_ERAS.iter().position(|e| e.name == pair)?
                    }
                };
                Token::Era(index)
            }
        };
        out.push(token);
    }
    // Spaces only matter before a time of day (`2025/4/1 0:00`); elsewhere they are dropped.
    let kept = out
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            **t != Token::Space
                || matches!(
                    (out.get(i + 1), out.get(i + 2)),
                    (Some(Token::Num(..)), Some(Token::Colon))
                )
        })
        .map(|(_, t)| *t)
        .collect();
    Some(kept)
}

/// A date's year as typed: Gregorian, or an era and the year within it.
#[derive(Debug, Clone, Copy)]
enum Year {
    Gregorian(u64),
    Era(usize, u64),
}

/// Year, month and optional day as typed, before any range checks.
#[derive(Debug, Clone, Copy)]
struct Parts {
    year: Year,
    month: u64,
    day: Option<u64>,
}

/// Reads the year: `2025` (four digits), `令和7`, `R7`, `令和元`.
fn year(tokens: &[Token]) -> Option<(Year, &[Token])> {
    match tokens {
        [Token::Num(y, 4), rest @ ..] => Some((Year::Gregorian(*y), rest)),
        [Token::Era(e), Token::Num(y, 1..=2), rest @ ..] => Some((Year::Era(*e, *y), rest)),
        [Token::Era(e), Token::Gan, rest @ ..] => Some((Year::Era(*e, 1), rest)),
        _ => None,
    }
}

/// Skips a trailing time of day (`0:00`, `12:34:56`), as spreadsheets write after a date.
fn time_of_day(tokens: &[Token]) -> Option<()> {
    match tokens {
        [] => Some(()),
        [
            Token::Space,
            Token::Num(h, 1..=2),
            Token::Colon,
            Token::Num(m, 2),
            rest @ ..,
        ] if *h < 24 && *m < 60 => match rest {
            [] => Some(()),
            [Token::Colon, Token::Num(s, 2)] if *s < 60 => Some(()),
            _ => None,
        },
        _ => None,
    }
}

fn parts(s: &str, want_day: bool) -> Option<Parts> {
    let tokens = tokenize(s)?;
    // 20250401 and 202504
    match tokens.as_slice() {
        [Token::Num(n, 8)] if want_day => {
            return Some(Parts {
                year: Year::Gregorian(n / 10_000),
                month: n / 100 % 100,
                day: Some(n % 100),
            });
        }
        [Token::Num(n, 6)] if !want_day => {
            return Some(Parts {
                year: Year::Gregorian(n / 100),
                month: n % 100,
                day: None,
            });
        }
        _ => {}
    }
    let (year, rest) = year(&tokens)?;
    let (month, day, rest) = match rest {
        // 2025年4月1日, 令和7年4月1日 (日 may be left off), 2025年4月
        [Token::Nen, Token::Num(m, 1..=2), Token::Tsuki, rest @ ..] => match rest {
            [Token::Num(d, 1..=2), Token::Hi, rest @ ..] | [Token::Num(d, 1..=2), rest @ ..] => {
                (*m, Some(*d), rest)
            }
            rest => (*m, None, rest),
        },
        // 2025/4/1, 2025-04-01, 2025.4.1, R7.4.1, and without the day: 2025/4, R3.4
        [Token::Sep(a), Token::Num(m, 1..=2), rest @ ..] => match rest {
            [Token::Sep(b), Token::Num(d, 1..=2), rest @ ..] if a == b => (*m, Some(*d), rest),
            rest => (*m, None, rest),
        },
        _ => return None,
    };
    time_of_day(rest)?;
    Some(Parts { year, month, day })
}

/// The Gregorian year of a typed year, and the era it was given in, if any.
fn gregorian_year(year: Year) -> Result<(i32, Option<&'static Era>), DateError> {
    let (y, era) = match year {
        Year::Gregorian(y) => (y, None),
        Year::Era(e, y) => {
            let era = PARSE_ERAS.get(e).ok_or(DateError::UnknownFormat)?;
            if y == 0 {
                return Err(era.error());
            }
            (u64::try_from(era.start.0).unwrap_or(0) + y - 1, Some(era))
        }
    };
    match i32::try_from(y) {
        Ok(y) if (1900..=2199).contains(&y) => Ok((y, era)),
        _ => Err(DateError::YearOutOfRange {
            year: i64::try_from(y).unwrap_or(i64::MAX),
        }),
    }
}

fn month_of(m: u64) -> Option<Month> {
    u8::try_from(m).ok().and_then(|m| Month::try_from(m).ok())
}

/// Reads a date as people type it in Japan: `2025-04-01`, `2025/4/1`, `2025.4.1`, `20250401`,
/// `2025年4月1日`, `令和7年4月1日`, `令和元年5月1日`, `R7.4.1`, `R7/4/1`, `H31.4.30`, `S64.1.7`,
/// `㋿7.4.1`, in full-width forms too (`２０２５／４／１`), optionally followed by a time of day
/// (`2025/4/1 0:00`, as spreadsheets write it), which is ignored.
///
/// Era dates are checked against the era: `令和1年4月30日` and `平成31年5月1日` are refused.
/// Two-digit Western years (`25/4/1`) are refused as ambiguous.
pub fn parse_date_ja(s: &str) -> Result<Date, DateError> {
    let p = parts(s, true).ok_or(DateError::UnknownFormat)?;
    let day = p.day.ok_or(DateError::UnknownFormat)?;
    let (year, era) = gregorian_year(p.year)?;
    let no_such = DateError::NoSuchDate {
        year,
        month: u8::try_from(p.month).unwrap_or(u8::MAX),
        day: u8::try_from(day).unwrap_or(u8::MAX),
    };
    let month = month_of(p.month).ok_or(no_such)?;
    let date = u8::try_from(day)
        .ok()
        .and_then(|d| Date::from_calendar_date(year, month, d).ok())
        .ok_or(no_such)?;
    match era {
        Some(era) if !era.overlaps(date, date) => Err(era.error()),
        _ => Ok(date),
    }
}

/// Reads a year and month (導入年月 and the like): `2021/4`, `2021-04`, `2021.4`, `202104`,
/// `2021年4月`, `R3.4`, `R3/4`, `令和3年4月`, `令和元年5月`, and returns the first day of that
/// month. A full date (`2021/4/1`, as a spreadsheet date cell gives) is accepted too and yields
/// the first day of its month. An era month must overlap the era: `令和元年4月` is refused,
/// `平成31年4月` is fine.
pub fn parse_year_month_ja(s: &str) -> Result<Date, DateError> {
    if let Some(p) = parts(s, false) {
        let (year, era) = gregorian_year(p.year)?;
        let month = month_of(p.month).ok_or(DateError::NoSuchDate {
            year,
            month: u8::try_from(p.month).unwrap_or(u8::MAX),
            day: 1,
        })?;
        let first =
            Date::from_calendar_date(year, month, 1).map_err(|_| DateError::UnknownFormat)?;
        if let Some(day) = p.day {
            // A full date: check it exists (and lies in its era), then keep its month.
            let d = u8::try_from(day)
                .ok()
                .and_then(|d| Date::from_calendar_date(year, month, d).ok());
            let Some(d) = d else {
                return Err(DateError::NoSuchDate {
                    year,
                    month: u8::from(month),
                    day: u8::try_from(day).unwrap_or(u8::MAX),
                });
            };
            return match era {
                Some(era) if !era.overlaps(d, d) => Err(era.error()),
                _ => Ok(first),
            };
        }
        let last = first
            .replace_day(month.length(year))
            .map_err(|_| DateError::UnknownFormat)?;
        return match era {
            Some(era) if !era.overlaps(first, last) => Err(era.error()),
            _ => Ok(first),
        };
    }
    parse_date_ja(s).and_then(|d| d.replace_day(1).map_err(|_| DateError::UnknownFormat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn formats_eras() {
        assert_eq!(format_wareki(date!(2025 - 04 - 01)), "令和7年4月1日");
        assert_eq!(format_wareki(date!(2019 - 05 - 01)), "令和元年5月1日");
        assert_eq!(format_wareki(date!(2019 - 04 - 30)), "平成31年4月30日");
        assert_eq!(format_wareki(date!(1989 - 01 - 07)), "昭和64年1月7日");
    }

    #[test]
    fn fiscal_years() {
        assert_eq!(fiscal_year(date!(2026 - 03 - 31)), 2025);
        assert_eq!(fiscal_year(date!(2026 - 04 - 01)), 2026);
        assert_eq!(format_fiscal_year(2025), "令和7年度");
        assert_eq!(format_fiscal_year(2027), "令和9年度");
    }

    #[test]
    fn parses_dates_people_type() {
        let ok: &[(&str, Date)] = &[
            ("2025-04-01", date!(2025 - 04 - 01)),
            ("2025/4/1", date!(2025 - 04 - 01)),
            ("2025/04/01", date!(2025 - 04 - 01)),
            ("2025.4.1", date!(2025 - 04 - 01)),
            ("20250401", date!(2025 - 04 - 01)),
            ("2025年4月1日", date!(2025 - 04 - 01)),
            ("2025年04月01日", date!(2025 - 04 - 01)),
            ("2025 年 4 月 1 日", date!(2025 - 04 - 01)),
            ("  2025/4/1\t", date!(2025 - 04 - 01)),
            ("２０２５／４／１", date!(2025 - 04 - 01)),
            ("２０２５年４月１日", date!(2025 - 04 - 01)),
            ("２０２５－０４－０１", date!(2025 - 04 - 01)),
            ("2025/4/1 0:00", date!(2025 - 04 - 01)),
            ("2025/4/1 13:45:10", date!(2025 - 04 - 01)),
            ("令和7年4月1日", date!(2025 - 04 - 01)),
            ("令和７年４月１日", date!(2025 - 04 - 01)),
            ("令和 7年 4月 1日", date!(2025 - 04 - 01)),
            ("令和元年5月1日", date!(2019 - 05 - 01)),
            ("令和1年5月1日", date!(2019 - 05 - 01)),
            ("R7.4.1", date!(2025 - 04 - 01)),
            ("R7/4/1", date!(2025 - 04 - 01)),
            ("R07.04.01", date!(2025 - 04 - 01)),
            ("r7.4.1", date!(2025 - 04 - 01)),
            ("Ｒ７．４．１", date!(2025 - 04 - 01)),
            ("R7年4月1日", date!(2025 - 04 - 01)),
            ("㋿7.4.1", date!(2025 - 04 - 01)),
            ("H31.4.30", date!(2019 - 04 - 30)),
            ("h31.4.30", date!(2019 - 04 - 30)),
            ("平成31年4月30日", date!(2019 - 04 - 30)),
            ("平成元年1月8日", date!(1989 - 01 - 08)),
            ("H1.1.8", date!(1989 - 01 - 08)),
            ("S64.1.7", date!(1989 - 01 - 07)),
            ("昭和64年1月7日", date!(1989 - 01 - 07)),
            ("昭和元年12月25日", date!(1926 - 12 - 25)),
            ("2024/2/29", date!(2024 - 02 - 29)),
        ];
        for (input, want) in ok {
            assert_eq!(parse_date_ja(input), Ok(*want), "{input}");
        }
    }

    #[test]
    fn refuses_bad_dates_with_a_code() {
        let bad: &[(&str, &str)] = &[
            ("", "DATE0001"),
            ("   ", "DATE0001"),
            ("abc", "DATE0001"),
            ("25/4/1", "DATE0001"),
            ("2025/4", "DATE0001"),
            ("2025/4/1/", "DATE0001"),
            ("2025/4-1", "DATE0001"),
            ("2025年4月1日頃", "DATE0001"),
            ("2025-04-01T00:00", "DATE0001"),
            ("2025/4/1 25:00", "DATE0001"),
            ("R7", "DATE0001"),
            ("令7年4月1日", "DATE0001"),
            ("大正15年1月1日", "DATE0001"),
            ("X7.4.1", "DATE0001"),
            ("1234567890123", "DATE0001"),
            ("2025/02/30", "DATE0002"),
            ("2025/2/29", "DATE0002"),
            ("2025/13/1", "DATE0002"),
            ("2025/0/1", "DATE0002"),
            ("2025/4/0", "DATE0002"),
            ("20250230", "DATE0002"),
            ("令和7年2月30日", "DATE0002"),
            ("令和1年4月30日", "DATE0003"),
            ("令和元年4月30日", "DATE0003"),
            ("R0.5.1", "DATE0003"),
            ("平成31年5月1日", "DATE0003"),
            ("H32.1.1", "DATE0003"),
            ("平成元年1月7日", "DATE0003"),
            ("S64.1.8", "DATE0003"),
            ("昭和元年12月24日", "DATE0003"),
            ("0025/4/1", "DATE0004"),
            ("2200/1/1", "DATE0004"),
            ("1899/12/31", "DATE0004"),
        ];
        for (input, code) in bad {
            let got = parse_date_ja(input);
            assert_eq!(got.map_err(|e| e.code()), Err(*code), "{input}");
        }
    }

    #[test]
    fn parses_year_months() {
        let ok: &[(&str, Date)] = &[
            ("2021/4", date!(2021 - 04 - 01)),
            ("2021/04", date!(2021 - 04 - 01)),
            ("2021-04", date!(2021 - 04 - 01)),
            ("2021.4", date!(2021 - 04 - 01)),
            ("202104", date!(2021 - 04 - 01)),
            ("2021年4月", date!(2021 - 04 - 01)),
            ("２０２１年４月", date!(2021 - 04 - 01)),
            ("R3.4", date!(2021 - 04 - 01)),
            ("R3/4", date!(2021 - 04 - 01)),
            ("令和3年4月", date!(2021 - 04 - 01)),
            ("令和元年5月", date!(2019 - 05 - 01)),
            ("平成31年4月", date!(2019 - 04 - 01)),
            ("平成元年1月", date!(1989 - 01 - 01)),
            ("S64.1", date!(1989 - 01 - 01)),
            // Full dates, as a spreadsheet date cell gives them: the first of their month.
            ("2021-04-15", date!(2021 - 04 - 01)),
            ("2021/4/1 0:00", date!(2021 - 04 - 01)),
            ("20210415", date!(2021 - 04 - 01)),
            ("令和3年4月15日", date!(2021 - 04 - 01)),
        ];
        for (input, want) in ok {
            assert_eq!(parse_year_month_ja(input), Ok(*want), "{input}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "DATE0001"),
            ("2021", "DATE0001"),
            ("21/4", "DATE0001"),
            ("2021/4/", "DATE0001"),
            ("2021/13", "DATE0002"),
            ("2021/0", "DATE0002"),
            ("2021/2/30", "DATE0002"),
            ("令和元年4月", "DATE0003"),
            ("令和元年4月30日", "DATE0003"),
            ("平成31年5月", "DATE0003"),
            ("1899/12", "DATE0004"),
        ];
        for (input, code) in bad {
            let got = parse_year_month_ja(input);
            assert_eq!(got.map_err(|e| e.code()), Err(*code), "{input}");
        }
    }

    #[test]
    fn date_errors_explain_themselves() {
        let e = parse_date_ja("令和1年4月30日").unwrap_err();
        assert_eq!(e.message_ja(), "令和の期間外です（令和は2019年5月1日から）");
        assert_eq!(
            e.message_en(),
            "outside the Reiwa era (which runs from 2019-05-01)"
        );
        let e = parse_date_ja("2025/2/30").unwrap_err();
        assert_eq!(e.message_ja(), "存在しない日付です（2025年2月30日）");
        assert_eq!(e.message_en(), "no such date: 2025-02-30");
        assert!(
            DateError::UnknownFormat
                .message_ja()
                .contains("令和7年4月1日")
        );
        assert!(
            parse_date_ja("1800/1/1")
                .unwrap_err()
                .message_ja()
                .contains("1800")
        );
    }

    #[test]
    fn formatted_dates_parse_back() {
        let mut d = date!(1927 - 01 - 01);
        while d < date!(2030 - 12 - 31) {
            assert_eq!(parse_date_ja(&format_wareki(d)), Ok(d), "{d}");
            d = d.saturating_add(time::Duration::days(13));
        }
        for d in [
            date!(2019 - 04 - 30),
            date!(2019 - 05 - 01),
            date!(1989 - 01 - 07),
            date!(1989 - 01 - 08),
        ] {
            assert_eq!(parse_date_ja(&format_wareki(d)), Ok(d), "{d}");
        }
    }
}
