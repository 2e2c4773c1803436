//! Dates, datetimes and working-day calendars (SPEC §2.5, §3, §7).
//!
//! Datetimes without an offset are in China Standard Time (+08:00); `date_of` and rendering use
//! China Standard Time too.

use chrono::{
    DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveTime, Offset, TimeZone, Utc,
};

/// China Standard Time, +08:00.
fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The value of a run of ASCII digits, or None when `b` is empty or holds anything else.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// Exactly `n` ASCII digits.
fn fixed_digits(b: &[u8], n: usize) -> Option<u32> {
    if b.len() == n {
        digits(b)
    } else {
        None
    }
}

/// One or two ASCII digits.
fn short_digits(b: &[u8]) -> Option<u32> {
    if (1..=2).contains(&b.len()) {
        digits(b)
    } else {
        None
    }
}

fn ymd(y: u32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// Strictly `YYYY-MM-DD`, a real date.
pub fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    ymd(
        fixed_digits(b.get(0..4)?, 4)?,
        fixed_digits(b.get(5..7)?, 2)?,
        fixed_digits(b.get(8..10)?, 2)?,
    )
}

/// `YYYY<sep>M<sep>D` with a one-character ASCII separator and 1- or 2-digit month and day.
fn parse_separated(s: &str, sep: char) -> Option<NaiveDate> {
    let mut parts = s.split(sep);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    ymd(
        fixed_digits(y.as_bytes(), 4)?,
        short_digits(m.as_bytes())?,
        short_digits(d.as_bytes())?,
    )
}

/// `YYYY年M月D日` with 1- or 2-digit month and day.
fn parse_chinese(s: &str) -> Option<NaiveDate> {
    let (y, rest) = s.split_once('年')?;
    let (m, rest) = rest.split_once('月')?;
    let d = rest.strip_suffix('日')?;
    ymd(
        fixed_digits(y.as_bytes(), 4)?,
        short_digits(m.as_bytes())?,
        short_digits(d.as_bytes())?,
    )
}

/// A date as input data may write it: `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.M.D`, `YYYY年M月D日`
/// (1- or 2-digit month and day in the last three), or a datetime (per [`parse_datetime`]), of
/// which the date is taken as written, whatever its offset. Not trimmed; must be a real date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if let Some(d) = parse_iso_date(s) {
        return Some(d);
    }
    if s.contains('年') {
        return parse_chinese(s);
    }
    if s.contains('/') {
        return parse_separated(s, '/');
    }
    if s.len() <= 10 && s.contains('.') {
        return parse_separated(s, '.');
    }
    if s.len() > 10 && parse_datetime(s).is_some() {
        return parse_iso_date(s.get(..10)?);
    }
    None
}

/// A datetime `YYYY-MM-DD(T| )HH:MM[:SS[.frac]]` with an optional `Z` or `±HH:MM` (`t` and `z`
/// may be lower case, as RFC 3339 allows). Without an offset the time is China Standard Time;
/// `-00:00` is UTC. Fractions beyond nanoseconds are truncated; leap seconds (`:60`) are refused.
pub fn parse_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    let b = s.as_bytes();
    let date = parse_iso_date(s.get(..10)?)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let hour = fixed_digits(b.get(11..13)?, 2)?;
    let minute = fixed_digits(b.get(14..16)?, 2)?;
    let mut rest = b.get(16..)?;
    let mut second = 0;
    let mut nano = 0;
    if let Some(r) = rest.strip_prefix(b":") {
        second = fixed_digits(r.get(..2)?, 2)?;
        rest = r.get(2..)?;
        if let Some(r) = rest.strip_prefix(b".") {
            let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            let (frac, r) = r.split_at(n);
            nano = frac
                .iter()
                .chain(std::iter::repeat(&b'0'))
                .take(9)
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
            rest = r;
        }
    }
    if second > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nano)?;
    let offset = match rest {
        [] => cst(),
        [b'Z' | b'z'] => Utc.fix(),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = fixed_digits(&[*h1, *h2], 2)?;
            let om = fixed_digits(&[*m1, *m2], 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i32::try_from(oh * 3600 + om * 60).ok()?;
            FixedOffset::east_opt(if *sign == b'-' { -secs } else { secs })?
        }
        _ => return None,
    };
    offset.from_local_datetime(&date.and_time(time)).single()
}

/// `d` plus `n` months, the day clamped to the end of the month (2024-01-31 + 1 → 2024-02-29);
/// None on overflow.
pub fn add_months(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    let months = Months::new(u32::try_from(n.unsigned_abs()).ok()?);
    if n >= 0 {
        d.checked_add_months(months)
    } else {
        d.checked_sub_months(months)
    }
}

/// `d` plus `n` years, the day clamped to the end of the month (2024-02-29 + 1 → 2025-02-28);
/// None on overflow.
pub fn add_years(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    add_months(d, n.checked_mul(12)?)
}

/// The ISO weekday: 1 Monday … 7 Sunday.
pub fn weekday(d: NaiveDate) -> i64 {
    i64::from(d.weekday().number_from_monday())
}

/// The date of a datetime in China Standard Time.
pub fn date_of(dt: &DateTime<FixedOffset>) -> NaiveDate {
    dt.with_timezone(&cst()).date_naive()
}

/// RFC 3339 in +08:00; a fraction of a second in groups of three digits, none when it is zero
/// (`2026-01-05T10:00:00+08:00`, `2026-01-05T10:00:00.500+08:00`).
pub fn render_datetime(dt: &DateTime<FixedOffset>) -> String {
    use chrono::Timelike;
    let local = dt.with_timezone(&cst()).naive_local();
    let year = local.year();
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    };
    let nano = local.nanosecond() % 1_000_000_000;
    // chrono's `SecondsFormat::AutoSi` (what its `to_rfc3339` writes): milli-, micro- or
    // nanoseconds, whichever shows every non-zero digit; nothing for whole seconds
    let frac = if nano == 0 {
        String::new()
    } else if nano % 1_000_000 == 0 {
        format!(".{:03}", nano / 1_000_000)
    } else if nano % 1_000 == 0 {
        format!(".{:06}", nano / 1_000)
    } else {
        format!(".{nano:09}")
    };
    format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}+08:00",
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
    )
}

/// A day as a number: days since 0001-01-01 (day 1, a Monday) in the proleptic Gregorian calendar.
fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

fn from_day_number(n: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n).ok()?)
}

/// Whether day number `n` falls Monday to Friday.
fn is_weekday_number(n: i64) -> bool {
    (n - 1).rem_euclid(7) < 5
}

/// The number of Mondays to Fridays from an arbitrary fixed origin up to and including day `n`
/// (a non-decreasing function whose differences count weekdays in a range).
fn weekdays_upto(n: i64) -> i64 {
    let t = n - 1; // 0 is a Monday
    t.div_euclid(7) * 5 + (t.rem_euclid(7) + 1).min(5)
}

/// A working-day calendar: Monday to Friday, less holidays, plus worked weekend days
/// (`workdays` wins over `holidays`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Calendar {
    /// Day numbers of weekend days that are worked, sorted, distinct.
    extra: Vec<i64>,
    /// Day numbers of Monday-to-Friday holidays that are not worked, sorted, distinct.
    removed: Vec<i64>,
}

impl Calendar {
    /// A calendar from its holidays and its worked days; a day in both is worked.
    pub fn new(
        holidays: impl IntoIterator<Item = NaiveDate>,
        workdays: impl IntoIterator<Item = NaiveDate>,
    ) -> Calendar {
        let mut worked: Vec<i64> = workdays.into_iter().map(day_number).collect();
        worked.sort_unstable();
        worked.dedup();
        let mut removed: Vec<i64> = holidays
            .into_iter()
            .map(day_number)
            .filter(|&n| is_weekday_number(n) && worked.binary_search(&n).is_err())
            .collect();
        removed.sort_unstable();
        removed.dedup();
        let extra = worked
            .into_iter()
            .filter(|&n| !is_weekday_number(n))
            .collect();
        Calendar { extra, removed }
    }

    /// Monday to Friday, no holidays.
    pub fn empty() -> Calendar {
        Calendar::default()
    }

    /// Whether `d` is a working day.
    pub fn is_workday(&self, d: NaiveDate) -> bool {
        self.is_workday_number(day_number(d))
    }

    fn is_workday_number(&self, n: i64) -> bool {
        if self.extra.binary_search(&n).is_ok() {
            true
        } else if self.removed.binary_search(&n).is_ok() {
            false
        } else {
            is_weekday_number(n)
        }
    }

    /// The number of working days from a fixed origin up to and including day `n`:
    /// non-decreasing, and it steps up by one exactly on working days.
    fn workdays_upto(&self, n: i64) -> i64 {
        let extra = self.extra.partition_point(|&e| e <= n);
        let removed = self.removed.partition_point(|&r| r <= n);
        weekdays_upto(n) + i64::try_from(extra).unwrap_or(i64::MAX)
            - i64::try_from(removed).unwrap_or(i64::MAX)
    }

    /// The `n`-th working day after `d` (`n` = 0 gives `d`; a negative `n` counts back); None
    /// when the result is not a representable date. Runs in O(log) time whatever `n`.
    pub fn add_workdays(&self, d: NaiveDate, n: i64) -> Option<NaiveDate> {
        if n == 0 {
            return Some(d);
        }
        let start = day_number(d);
        let first = day_number(NaiveDate::MIN);
        let last = day_number(NaiveDate::MAX);
        let holidays = i64::try_from(self.removed.len()).unwrap_or(i64::MAX);
        // In L days there are at least floor(L / 7) * 5 - holidays working days, so this reach
        // always covers |n| working days.
        let reach = i64::try_from(n.unsigned_abs())
            .unwrap_or(i64::MAX)
            .saturating_add(holidays)
            .saturating_mul(2)
            .saturating_add(14);
        if n > 0 {
            // The smallest x > start with W(x) >= W(start) + n.
            let target = self.workdays_upto(start).checked_add(n)?;
            let mut lo = start.checked_add(1)?;
            let mut hi = start.saturating_add(reach).min(last);
            if lo > hi || self.workdays_upto(hi) < target {
                return None;
            }
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if self.workdays_upto(mid) >= target {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            from_day_number(lo)
        } else {
            // The largest y < start with W(y) <= W(start - 1) - |n|; the answer is y + 1.
            let m = n.checked_neg().unwrap_or(i64::MAX);
            let target = self.workdays_upto(start - 1).checked_sub(m)?;
            let mut lo = start.saturating_sub(reach).max(first - 1);
            let mut hi = start - 1;
            if self.workdays_upto(lo) > target {
                return None;
            }
            while lo < hi {
                let mid = lo + (hi - lo + 1) / 2;
                if self.workdays_upto(mid) <= target {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            from_day_number(lo + 1)
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_iso_date(s).unwrap_or_else(|| panic!("bad test date {s}"))
    }

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso_date("2024-02-29"), Some(d("2024-02-29")));
        assert_eq!(
            parse_iso_date("0001-01-01"),
            NaiveDate::from_ymd_opt(1, 1, 1)
        );
        assert_eq!(
            parse_iso_date("9999-12-31"),
            NaiveDate::from_ymd_opt(9999, 12, 31)
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-01",
            "2024-01-00",
            "2024-04-31",
            "2024-1-5",
            "2024/01/05",
            " 2024-01-05",
            "2024-01-05 ",
            "2024-01-05T00:00:00",
            "24-01-05",
            "+2024-01-05",
            "２０２４-01-05",
            "",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn input_dates() {
        let jan5 = d("2026-01-05");
        for s in [
            "2026-01-05",
            "2026/1/5",
            "2026/01/05",
            "2026/1/05",
            "2026.1.5",
            "2026.01.05",
            "2026年1月5日",
            "2026年01月05日",
            "2026-01-05T10:00:00+08:00",
            "2026-01-05T23:30:00-05:00",
            "2026-01-05T00:30:00Z",
            "2026-01-05 10:00",
            "2026-01-05 10:00:00",
            "2026-01-05T10:00:00.123456",
        ] {
            assert_eq!(parse_date(s), Some(jan5), "{s}");
        }
        assert_eq!(parse_date("2024/2/29"), Some(d("2024-02-29")));
        assert_eq!(parse_date("2023年12月5日"), Some(d("2023-12-05")));
        for bad in [
            "2023/2/29",
            "2026/13/1",
            "2026/1/123",
            "2026/1/",
            "2026//5",
            "2026/1/5/1",
            "26/1/5",
            "2026-1-5",
            "2026.1.5.",
            "2026年1月5",
            "2026年1月5日 ",
            "2026年1月32日",
            "2026年01月5日x",
            "2026/1.5",
            "2026-01-05T",
            "2026-01-05 10",
            "2026-01-05 25:00",
            "2026-01-05x10:00",
            "2026-01-05 10:00 ",
            " 2026-01-05",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    fn dt(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn datetimes() {
        assert_eq!(
            parse_datetime("2026-01-05T10:00:00+08:00"),
            Some(dt("2026-01-05T10:00:00+08:00"))
        );
        assert_eq!(
            parse_datetime("2026-01-05 10:00"),
            Some(dt("2026-01-05T10:00:00+08:00"))
        );
        assert_eq!(
            parse_datetime("2026-01-05T02:00:00Z"),
            Some(dt("2026-01-05T10:00:00+08:00"))
        );
        assert_eq!(
            parse_datetime("2026-01-05t02:00:00z"),
            Some(dt("2026-01-05T10:00:00+08:00"))
        );
        let utc = parse_datetime("2026-01-05T02:00:00-00:00").unwrap();
        assert_eq!(utc.offset().local_minus_utc(), 0);
        assert_eq!(utc, dt("2026-01-05T10:00:00+08:00"));
        assert_eq!(
            parse_datetime("2026-01-05T10:00:00.5+08:00"),
            Some(dt("2026-01-05T10:00:00.5+08:00"))
        );
        let many = parse_datetime("2026-01-05T10:00:00.1234567891234").unwrap();
        assert_eq!(chrono::Timelike::nanosecond(&many), 123_456_789);
        assert_eq!(
            parse_datetime("2026-01-05T10:00-05:30"),
            Some(dt("2026-01-05T10:00:00-05:30"))
        );
        for bad in [
            "2026-01-05",
            "2026-01-05T10",
            "2026-01-05T10:0",
            "2026-01-05T1:00",
            "2026-01-05T24:00",
            "2026-01-05T23:60",
            "2026-01-05T23:59:60",
            "2026-01-05T10:00:00.",
            "2026-01-05T10:00.5",
            "2026-01-05T10:00:00+0800",
            "2026-01-05T10:00:00+08",
            "2026-01-05T10:00:00+24:00",
            "2026-01-05T10:00:00+08:60",
            "2026-01-05T10:00:00 +08:00",
            "2026-01-05T10:00:00ZZ",
            "2026-01-05_10:00",
            "2026-02-30T10:00",
            " 2026-01-05T10:00",
            "2026-01-05T10:00:0",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn date_of_and_render() {
        let a = parse_datetime("2026-01-05T20:00:00-05:00").unwrap();
        assert_eq!(date_of(&a), d("2026-01-06"));
        assert_eq!(render_datetime(&a), "2026-01-06T09:00:00+08:00");
        let b = parse_datetime("2026-01-05T10:00:00").unwrap();
        assert_eq!(date_of(&b), d("2026-01-05"));
        assert_eq!(render_datetime(&b), "2026-01-05T10:00:00+08:00");
        let c = parse_datetime("2026-01-05T10:00:00.5+08:00").unwrap();
        assert_eq!(render_datetime(&c), "2026-01-05T10:00:00.500+08:00");
        for (input, shown) in [
            ("2026-01-05T10:00:00.120", "2026-01-05T10:00:00.120+08:00"),
            (
                "2026-01-05T10:00:00.1234",
                "2026-01-05T10:00:00.123400+08:00",
            ),
            (
                "2026-01-05T10:00:00.000001",
                "2026-01-05T10:00:00.000001+08:00",
            ),
            (
                "2026-01-05T10:00:00.0000001",
                "2026-01-05T10:00:00.000000100+08:00",
            ),
            ("2026-01-05T02:00:00.000Z", "2026-01-05T10:00:00+08:00"),
        ] {
            let d = parse_datetime(input).unwrap();
            assert_eq!(render_datetime(&d), shown, "{input}");
        }
        let e = parse_datetime("2026-01-05T10:00:00.000120Z").unwrap();
        assert_eq!(render_datetime(&e), "2026-01-05T18:00:00.000120+08:00");
        let f = parse_datetime("2026-01-05T10:00:00.000Z").unwrap();
        assert_eq!(render_datetime(&f), "2026-01-05T18:00:00+08:00");
        let g = parse_datetime("2026-01-05T10:00:00.000000001+08:00").unwrap();
        assert_eq!(render_datetime(&g), "2026-01-05T10:00:00.000000001+08:00");
        let h = parse_datetime("0005-01-01T00:00").unwrap();
        assert_eq!(render_datetime(&h), "0005-01-01T00:00:00+08:00");
        let i = parse_datetime("2026-01-05T15:59:59Z").unwrap();
        assert_eq!(date_of(&i), d("2026-01-05"));
        let j = parse_datetime("2026-01-05T16:00:00Z").unwrap();
        assert_eq!(date_of(&j), d("2026-01-06"));
        // Round trip through the renderer.
        for s in [
            "2026-01-05T10:00:00+08:00",
            "2026-01-05T10:00:00.500+08:00",
            "1999-12-31T23:59:59.999+08:00",
        ] {
            assert_eq!(render_datetime(&parse_datetime(s).unwrap()), s);
        }
    }

    #[test]
    fn month_and_year_arithmetic() {
        assert_eq!(add_months(d("2024-01-31"), 1), Some(d("2024-02-29")));
        assert_eq!(add_months(d("2023-01-31"), 1), Some(d("2023-02-28")));
        assert_eq!(add_months(d("2024-03-31"), -1), Some(d("2024-02-29")));
        assert_eq!(add_months(d("2024-05-31"), 1), Some(d("2024-06-30")));
        assert_eq!(add_months(d("2024-02-29"), 1), Some(d("2024-03-29")));
        assert_eq!(add_months(d("2023-12-05"), 1), Some(d("2024-01-05")));
        assert_eq!(add_months(d("2024-01-15"), -13), Some(d("2022-12-15")));
        assert_eq!(add_months(d("2024-01-15"), 0), Some(d("2024-01-15")));
        assert_eq!(add_months(d("2024-01-15"), 24), Some(d("2026-01-15")));
        assert_eq!(add_years(d("2024-02-29"), 1), Some(d("2025-02-28")));
        assert_eq!(add_years(d("2024-02-29"), 4), Some(d("2028-02-29")));
        assert_eq!(add_years(d("2024-02-29"), -1), Some(d("2023-02-28")));
        assert_eq!(add_years(d("2024-01-31"), 1), Some(d("2025-01-31")));
        assert_eq!(add_months(d("2024-01-31"), i64::MAX), None);
        assert_eq!(add_months(d("2024-01-31"), i64::MIN), None);
        assert_eq!(add_months(d("2024-01-31"), i64::from(u32::MAX)), None);
        assert_eq!(add_years(d("2024-01-31"), i64::MAX / 2), None);
        assert_eq!(add_years(d("2024-01-31"), 1_000_000), None);
        assert_eq!(add_months(NaiveDate::MAX, 1), None);
        assert_eq!(add_months(NaiveDate::MIN, -1), None);
    }

    #[test]
    fn weekdays() {
        assert_eq!(weekday(d("2024-01-31")), 3);
        assert_eq!(weekday(d("2024-02-29")), 4);
        assert_eq!(weekday(d("2023-12-05")), 2);
        assert_eq!(weekday(d("2024-02-05")), 1);
        assert_eq!(weekday(d("2024-02-04")), 7);
    }

    #[test]
    fn weekday_counting_matches_brute_force() {
        let base = day_number(d("2023-12-20"));
        for n in base - 30..base + 30 {
            let date = from_day_number(n).unwrap();
            assert_eq!(is_weekday_number(n), weekday(date) <= 5, "{date}");
            let expected = i64::from(weekday(date) <= 5);
            assert_eq!(weekdays_upto(n) - weekdays_upto(n - 1), expected, "{date}");
        }
        // Works below the origin too.
        for n in -20..20 {
            assert!(weekdays_upto(n) - weekdays_upto(n - 1) == i64::from(is_weekday_number(n)));
        }
    }

    fn spring_festival_2024() -> Calendar {
        let holidays = [
            "2024-02-10",
            "2024-02-11",
            "2024-02-12",
            "2024-02-13",
            "2024-02-14",
            "2024-02-15",
            "2024-02-16",
            "2024-02-17",
        ]
        .map(d);
        let workdays = ["2024-02-04", "2024-02-18"].map(d);
        Calendar::new(holidays, workdays)
    }

    #[test]
    fn conformance_workdays() {
        let cal = spring_festival_2024();
        assert_eq!(cal.add_workdays(d("2024-02-08"), 3), Some(d("2024-02-19")));
        assert_eq!(cal.add_workdays(d("2024-02-02"), 3), Some(d("2024-02-06")));
        assert!(cal.is_workday(d("2024-02-08")));
        assert!(cal.is_workday(d("2024-02-02")));
        assert!(cal.is_workday(d("2024-02-18")));
        assert!(cal.is_workday(d("2024-02-04")));
        assert!(!cal.is_workday(d("2024-02-12")));
        assert!(!cal.is_workday(d("2024-02-10")));
        assert!(!cal.is_workday(d("2024-02-03")));
    }

    #[test]
    fn workdays_backwards_and_zero() {
        let cal = spring_festival_2024();
        assert_eq!(cal.add_workdays(d("2024-02-19"), -3), Some(d("2024-02-08")));
        assert_eq!(cal.add_workdays(d("2024-02-06"), -3), Some(d("2024-02-02")));
        assert_eq!(cal.add_workdays(d("2024-02-19"), -1), Some(d("2024-02-18")));
        assert_eq!(cal.add_workdays(d("2024-02-18"), -1), Some(d("2024-02-09")));
        // n = 0 gives d, even on a day off.
        assert_eq!(cal.add_workdays(d("2024-02-12"), 0), Some(d("2024-02-12")));
        // Starting on a day off.
        assert_eq!(cal.add_workdays(d("2024-02-12"), 1), Some(d("2024-02-18")));
        assert_eq!(cal.add_workdays(d("2024-02-12"), -1), Some(d("2024-02-09")));
        assert_eq!(cal.add_workdays(d("2024-02-10"), 1), Some(d("2024-02-18")));
    }

    #[test]
    fn empty_calendar() {
        let cal = Calendar::empty();
        // 2024-02-02 is a Friday.
        assert_eq!(cal.add_workdays(d("2024-02-02"), 1), Some(d("2024-02-05")));
        assert_eq!(cal.add_workdays(d("2024-02-03"), 1), Some(d("2024-02-05")));
        assert_eq!(cal.add_workdays(d("2024-02-04"), 1), Some(d("2024-02-05")));
        assert_eq!(cal.add_workdays(d("2024-02-05"), 5), Some(d("2024-02-12")));
        assert_eq!(cal.add_workdays(d("2024-02-05"), -1), Some(d("2024-02-02")));
        assert_eq!(cal.add_workdays(d("2024-02-04"), -1), Some(d("2024-02-02")));
        assert_eq!(
            cal.add_workdays(d("2024-02-05"), 260),
            Some(d("2025-02-03"))
        );
        assert!(!cal.is_workday(d("2024-02-04")));
        assert!(cal.is_workday(d("2024-02-05")));
    }

    /// The obvious day-by-day definition, for comparison.
    fn brute(cal: &Calendar, start: NaiveDate, n: i64) -> Option<NaiveDate> {
        let mut cur = start;
        let mut left = n.abs();
        while left > 0 {
            cur = if n > 0 {
                cur.succ_opt()?
            } else {
                cur.pred_opt()?
            };
            if cal.is_workday(cur) {
                left -= 1;
            }
        }
        Some(cur)
    }

    #[test]
    fn workdays_match_brute_force() {
        // Holidays on weekdays and weekends, a worked Saturday that is also a holiday, runs of
        // holidays longer than a week.
        let holidays: Vec<NaiveDate> = [
            "2024-01-01",
            "2024-02-10",
            "2024-02-12",
            "2024-02-13",
            "2024-02-14",
            "2024-02-15",
            "2024-02-16",
            "2024-04-04",
            "2024-04-05",
            "2024-04-06",
            "2024-05-01",
            "2024-05-02",
            "2024-05-03",
            "2024-05-11",
            "2024-10-01",
            "2024-10-02",
            "2024-10-03",
            "2024-10-04",
            "2024-10-07",
            "2024-10-08",
            "2024-10-09",
            "2024-10-10",
            "2024-10-11",
            "2024-10-14",
        ]
        .into_iter()
        .map(d)
        .collect();
        let workdays: Vec<NaiveDate> = ["2024-02-04", "2024-02-18", "2024-04-07", "2024-05-11"]
            .into_iter()
            .map(d)
            .collect();
        let cal = Calendar::new(holidays, workdays);
        assert!(cal.is_workday(d("2024-05-11")), "workdays wins");
        let mut start = d("2023-12-01");
        while start < d("2025-01-31") {
            for n in -60..=60 {
                assert_eq!(
                    cal.add_workdays(start, n),
                    brute(&cal, start, n),
                    "{start} {n}"
                );
            }
            start = start + chrono::Days::new(3);
        }
    }

    #[test]
    fn workdays_large_and_overflow() {
        let cal = spring_festival_2024();
        let far = cal.add_workdays(d("2024-01-01"), 1_000_000).unwrap();
        assert_eq!(brute(&cal, d("2024-01-01"), 1_000_000), Some(far));
        let back = cal.add_workdays(far, -1_000_000).unwrap();
        assert_eq!(back, d("2024-01-01"));
        assert_eq!(cal.add_workdays(d("2024-01-01"), i64::MAX), None);
        assert_eq!(cal.add_workdays(d("2024-01-01"), i64::MIN), None);
        assert_eq!(cal.add_workdays(d("2024-01-01"), 10_000_000_000), None);
        assert_eq!(cal.add_workdays(NaiveDate::MAX, 1), None);
        assert_eq!(cal.add_workdays(NaiveDate::MIN, -1), None);
        // The last working day before the end of the calendar range is still reachable.
        let last = NaiveDate::MAX;
        let mut last_work = last;
        while !cal.is_workday(last_work) {
            last_work = last_work.pred_opt().unwrap();
        }
        let before = cal.add_workdays(last_work, -1).unwrap();
        assert_eq!(cal.add_workdays(before, 1), Some(last_work));
        assert_eq!(cal.add_workdays(last_work, 1), None);
        let first = NaiveDate::MIN;
        let mut first_work = first;
        while !cal.is_workday(first_work) {
            first_work = first_work.succ_opt().unwrap();
        }
        let after = cal.add_workdays(first_work, 1).unwrap();
        assert_eq!(cal.add_workdays(after, -1), Some(first_work));
        assert_eq!(cal.add_workdays(first_work, -1), None);
    }

    #[test]
    fn calendar_all_holidays() {
        // A long run of holidays pushes far ahead, still found.
        let start = d("2024-01-01");
        let holidays: Vec<NaiveDate> = (0..400).map(|i| start + chrono::Days::new(i)).collect();
        let cal = Calendar::new(holidays, []);
        assert_eq!(
            cal.add_workdays(d("2023-12-29"), 1),
            brute(&cal, d("2023-12-29"), 1)
        );
        assert_eq!(cal.add_workdays(d("2023-12-29"), 1), Some(d("2025-02-04")));
        assert_eq!(cal.add_workdays(d("2025-02-04"), -1), Some(d("2023-12-29")));
    }

    #[test]
    fn calendar_is_shareable() {
        fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
        check::<Calendar>();
    }
}
