//! Japanese calendar helpers: 和暦 (era) formatting and the fiscal year (年度, April to March).

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
}
